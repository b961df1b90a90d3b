//! `omadm decode` and `omadm encode`: the message inspector.
//!
//! Input is recognized, not declared: XML, WBXML, or either of them written as hex or base64 text
//! (as logs and bug reports carry them). A document that is not a SyncML message (a DDF or TNDS
//! file) is shown as a generic document.

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::{Args, ValueEnum};
use omadm_proto::{wbxml, xml, Encoding, ErrorKind, Limits};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `omadm decode`.
#[derive(Args)]
pub struct DecodeArgs {
    /// Print the decoded message as JSON instead of XML.
    #[arg(long)]
    json: bool,
    /// The message file, or `-` for standard input.
    input: PathBuf,
}

/// Output encodings of `omadm encode`.
#[derive(Clone, Copy, ValueEnum)]
enum Target {
    Wbxml,
    Xml,
}

/// Arguments of `omadm encode`.
#[derive(Args)]
pub struct EncodeArgs {
    /// The encoding to write.
    #[arg(long)]
    to: Target,
    /// WBXML: write every string inline instead of sharing repeated ones in the string table.
    #[arg(long)]
    no_string_table: bool,
    /// The message file, or `-` for standard input.
    input: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Turns the input into message bytes: as given if it is XML or WBXML, else decoded from hex or
/// base64 text.
fn message_bytes(raw: Vec<u8>) -> Result<(Vec<u8>, &'static str)> {
    if let Some(enc) = Encoding::sniff(&raw) {
        return Ok((raw, if enc == Encoding::Xml { "XML" } else { "WBXML" }));
    }
    let text: String = std::str::from_utf8(&raw)
        .context("input is neither XML, WBXML, hex nor base64")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let hex = text.strip_prefix("0x").unwrap_or(&text);
    if !hex.is_empty() && hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .context("decoding hex")?;
        if Encoding::sniff(&bytes).is_some() {
            return Ok((bytes, "hex"));
        }
    }
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
        if Encoding::sniff(&bytes).is_some() {
            return Ok((bytes, "base64"));
        }
    }
    bail!("input is neither XML, WBXML, hex nor base64 of either")
}

/// Runs `omadm decode`.
pub fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let (bytes, _form) = message_bytes(read_input(&args.input)?)?;
    let limits = Limits::default();
    let out = match omadm_proto::decode(&bytes, &limits) {
        Ok((msg, _)) if args.json => serde_json::to_vec_pretty(&msg)?,
        Ok((msg, _)) => xml::encode(&msg, &xml::XmlOptions::pretty()),
        Err(err) if matches!(&err.kind, ErrorKind::Invalid(m) if m.starts_with("root element")) => {
            let doc = match Encoding::sniff(&bytes) {
                Some(Encoding::Wbxml) => wbxml::decode_document(&bytes, &limits),
                _ => xml::parse_element(&bytes, &limits),
            }
            .with_context(|| format!("decoding {}", args.input.display()))?;
            if args.json {
                serde_json::to_vec_pretty(&doc)?
            } else {
                xml::write_element(&doc, &xml::XmlOptions::pretty())
            }
        }
        Err(err) => return Err(err).with_context(|| format!("decoding {}", args.input.display())),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    if args.json {
        stdout.write_all(b"\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `omadm encode`.
pub fn encode(args: EncodeArgs) -> Result<ExitCode> {
    let (bytes, _form) = message_bytes(read_input(&args.input)?)?;
    let (msg, _) = omadm_proto::decode(&bytes, &Limits::default())
        .with_context(|| format!("decoding {}", args.input.display()))?;
    let out = match args.to {
        Target::Xml => xml::encode(&msg, &xml::XmlOptions::default()),
        Target::Wbxml => {
            let options = wbxml::WbxmlOptions { string_table: !args.no_string_table, ..Default::default() };
            wbxml::encode(&msg, &options).context("encoding WBXML")?
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, &out).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&out)?,
    }
    Ok(ExitCode::SUCCESS)
}
