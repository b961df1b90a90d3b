//! `omadm notify build` and `omadm notify parse`: Package #0 (the server's notification) as hex.
//!
//! `build` prints the notification a server would push; `parse` prints every field of one and
//! whether its digest verifies with the given server credentials, exiting non-zero when it does not.
//! Both layouts are supported: DM 1.2 and our reading of DM 1.3 (see `omadm_security::dm13`).

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use omadm_security::notification::{GeneralNotification, NonceMatch, Notification13, NotificationKey};
use omadm_security::{
    HashAlgorithm, Initiator, Nonce, Notification, NotificationLayout, ParsedNotification, SessionId, UiMode,
};
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `omadm notify`.
#[derive(Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    command: NotifyCommand,
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Build a Package #0 and print it in hex.
    Build(BuildArgs),
    /// Parse a Package #0 (hex or file), print its fields and check its digest.
    Parse(ParseArgs),
}

/// The DM version whose notification layout to build.
#[derive(Clone, Copy, ValueEnum)]
enum DmVersion {
    /// DM 1.2 general notification (version field 11).
    #[value(name = "1.2")]
    V12,
    /// DM 1.3 notification (version field 13, TLV options).
    #[value(name = "1.3")]
    V13,
}

/// The layout to parse with.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Detect: the 1.3 layout when the bytes start with version 13, else 1.2.
    Auto,
    /// DM 1.2 general notification.
    #[value(name = "1.2")]
    V12,
    /// DM 1.3 notification.
    #[value(name = "1.3")]
    V13,
}

/// The digest hash (1.3 only; 1.2 is always MD5).
#[derive(Clone, Copy, ValueEnum)]
enum Hash {
    Md5,
    Sha256,
}

impl From<Hash> for HashAlgorithm {
    fn from(h: Hash) -> Self {
        match h {
            Hash::Md5 => HashAlgorithm::Md5,
            Hash::Sha256 => HashAlgorithm::Sha256,
        }
    }
}

/// The server credentials that key the digest.
#[derive(Args)]
struct KeyArgs {
    /// The server id (DMAcc ServerID), also the name hashed into the digest.
    #[arg(long)]
    server_id: String,
    /// The server password (SRVCRED AAuthSecret, or the 1.3 notification secret).
    #[arg(long)]
    password: String,
    /// The nonce as text, hashed as its raw bytes (default: empty).
    #[arg(long, conflicts_with = "nonce_b64")]
    nonce: Option<String>,
    /// The nonce as base64 (as NextNonce carries it), hashed as the decoded bytes.
    #[arg(long)]
    nonce_b64: Option<String>,
}

impl KeyArgs {
    fn key(&self, algorithm: HashAlgorithm) -> Result<NotificationKey> {
        let nonce = match (&self.nonce, &self.nonce_b64) {
            (_, Some(b64)) => Nonce::from_bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .with_context(|| format!("--nonce-b64 {b64:?} is not base64"))?,
            ),
            (Some(text), None) => Nonce::from_bytes(text.as_bytes().to_vec()),
            (None, None) => Nonce::default(),
        };
        Ok(NotificationKey {
            algorithm,
            ..NotificationKey::md5(self.server_id.as_str(), self.password.as_str(), nonce)
        })
    }
}

/// Arguments of `omadm notify build`.
#[derive(Args)]
struct BuildArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The session id, decimal or 0x-prefixed hex (0 to 65535).
    #[arg(long, value_parser = parse_session_id)]
    session_id: u16,
    /// 0 not specified, 1 background, 2 informative, 3 user interaction.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
    ui_mode: u8,
    /// 0 user, 1 server.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    initiator: u8,
    /// The DM version of the layout.
    #[arg(long, value_enum, default_value = "1.2")]
    version: DmVersion,
    /// Vendor-specific data in hex (1.2: after the server id; 1.3: the Vendor-Info option).
    #[arg(long, value_parser = parse_hex_arg)]
    vendor_data: Option<HexBytes>,
    /// The digest hash of a 1.3 notification.
    #[arg(long, value_enum, default_value = "md5")]
    hash: Hash,
}

/// Arguments of `omadm notify parse`.
#[derive(Args)]
struct ParseArgs {
    /// The notification in hex, or a file holding it (binary or hex).
    input: String,
    #[command(flatten)]
    key: KeyArgs,
    /// The layout to parse with.
    #[arg(long, value_enum, default_value = "auto")]
    format: Format,
    /// The digest hash to require (default: the one the digest length shows).
    #[arg(long, value_enum)]
    hash: Option<Hash>,
}

/// Runs `omadm notify`.
pub fn run(args: NotifyArgs) -> Result<ExitCode> {
    match args.command {
        NotifyCommand::Build(a) => build(a),
        NotifyCommand::Parse(a) => parse(a),
    }
}

fn build(a: BuildArgs) -> Result<ExitCode> {
    let session = SessionId(a.session_id);
    let ui = UiMode::from_bits(a.ui_mode);
    let init = Initiator::from_bit(a.initiator);
    let notification = match a.version {
        DmVersion::V12 => {
            if matches!(a.hash, Hash::Sha256) {
                bail!("the DM 1.2 notification has an MD5 digest; --hash sha256 needs --version 1.3");
            }
            let mut n = GeneralNotification::new(a.key.server_id.as_str(), session, ui, init);
            n.vendor_data = a.vendor_data.map(|h| h.0).unwrap_or_default();
            Notification::Dm12(n)
        }
        DmVersion::V13 => {
            let mut n = Notification13::new(a.key.server_id.as_str(), session, ui, init);
            n.vendor_info = a.vendor_data.map(|h| h.0).filter(|v| !v.is_empty());
            Notification::Dm13(n)
        }
    };
    let bytes = notification.build(&a.key.key(a.hash.into())?).context("building the notification")?;
    println!("{}", to_hex(&bytes));
    Ok(ExitCode::SUCCESS)
}

fn parse(a: ParseArgs) -> Result<ExitCode> {
    let bytes = read_notification(&a.input)?;
    let layout = match a.format {
        Format::Auto => NotificationLayout::Either,
        Format::V12 => NotificationLayout::General12,
        Format::V13 => NotificationLayout::Tlv,
    };
    let parsed = Notification::parse(&bytes, layout).context("parsing the notification")?;
    print_fields(&parsed);
    if parsed.notification.server_id() != a.key.server_id {
        println!(
            "warning: the notification names server {:?}, not {:?}",
            parsed.notification.server_id(),
            a.key.server_id
        );
    }
    let algorithm = match a.hash {
        Some(h) => h.into(),
        None => HashAlgorithm::from_output_len(parsed.digest().len()).unwrap_or(HashAlgorithm::Md5),
    };
    match parsed.verify_with_resync(&a.key.key(algorithm)?) {
        Ok(NonceMatch::Stored) => {
            println!("verified: yes");
            Ok(ExitCode::SUCCESS)
        }
        Ok(NonceMatch::Reset) => {
            println!("verified: yes, with the reset nonce 0x00000000 (challenge the server for a new nonce)");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            println!("verified: no ({err})");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_fields(p: &ParsedNotification) {
    let n = &p.notification;
    let layout = match n {
        Notification::Dm12(_) => "DM 1.2 general notification",
        Notification::Dm13(_) => "DM 1.3 notification",
    };
    println!("format: {layout} ({})", n.format().content_type());
    let v = n.version();
    println!("version: {v} ({}.{})", v / 10, v % 10);
    println!("ui-mode: {} ({})", n.ui_mode().bits(), n.ui_mode());
    println!("initiator: {} ({})", n.initiator().bit(), n.initiator());
    println!("session-id: {} (decimal {})", n.session_id(), n.session_id().value());
    println!("server-id: {}", n.server_id());
    if n.vendor_data().is_empty() {
        println!("vendor-data: (none)");
    } else {
        println!("vendor-data: {}", to_hex(n.vendor_data()));
    }
    if let Notification::Dm13(n13) = n {
        let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        if !n13.targeted_mos.is_empty() {
            println!("targeted-mo: {}", list(&n13.targeted_mos));
        }
        if !n13.requested_mos.is_empty() {
            println!("requested-mo: {}", list(&n13.requested_mos));
        }
        if !n13.preferred_bearers.is_empty() {
            let bearers: Vec<u16> = n13.preferred_bearers.iter().map(|&b| u16::from(b)).collect();
            println!("preferred-bearer: {}", list(&bearers));
        }
        if let Some(r) = &n13.connect_reason {
            println!("connect-reason: {r}");
        }
        for u in &n13.unknown_options {
            println!("option {}: {}", u.number(), to_hex(u.value()));
        }
    }
    let hash = HashAlgorithm::from_output_len(p.digest().len()).map_or_else(|| "unknown".to_owned(), |h| h.to_string());
    println!("digest: {} ({hash})", to_hex(p.digest()));
}

/// Reads the notification: a file (binary, or hex text) if the argument names one, else hex.
fn read_notification(input: &str) -> Result<Vec<u8>> {
    let path = Path::new(input);
    if path.is_file() {
        let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(std::str::from_utf8(&raw).ok().and_then(|t| parse_hex(t).ok()).unwrap_or(raw));
    }
    parse_hex(input).map_err(|e| anyhow::anyhow!("{input:?} is neither a file nor hex: {e}"))
}

/// Bytes given in hex on the command line (a newtype, so that clap takes one value, not many).
#[derive(Clone)]
struct HexBytes(Vec<u8>);

fn parse_hex_arg(text: &str) -> std::result::Result<HexBytes, String> {
    parse_hex(text).map(HexBytes)
}

/// Hex with optional `0x` prefix and white space anywhere.
fn parse_hex(text: &str) -> std::result::Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = compact.strip_prefix("0x").unwrap_or(&compact);
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| digits.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok()).ok_or_else(|| "not hex".to_string()))
        .collect()
}

fn parse_session_id(text: &str) -> std::result::Result<u16, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u16::from_str_radix(h, 16),
        None => t.parse::<u16>(),
    };
    parsed.map_err(|_| format!("{t:?} is not a session id from 0 to 65535 (decimal or 0x hex)"))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_session_ids() {
        assert_eq!(parse_hex("0x0a ff"), Ok(vec![0x0a, 0xff]));
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é1").is_err());
        assert_eq!(parse_session_id("4660"), Ok(0x1234));
        assert_eq!(parse_session_id("0xABCD"), Ok(0xabcd));
        assert!(parse_session_id("65536").is_err());
        assert_eq!(to_hex(&[0, 0xab]), "00ab");
    }
}
