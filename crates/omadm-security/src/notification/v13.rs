//! The DM 1.3 notification layout — **our reading**, decided in [`crate::dm13`]
//! ([`crate::dm13::NotificationLayout::Tlv`]), because the normative text was not readable.
//!
//! Confirmed (dm13-digest §1): a fixed header that counts the options, then TLV options with 4-bit
//! option numbers in ascending order (Server-ID 1, Targeted-MO 2, Requested-MO 3, Preferred-Bearer 4,
//! Connect-Reason 5, Vendor-Info 6, sizes up to 4095), then the digest; big-endian.
//! Our reading of the rest:
//!
//! ```text
//! version(10)=13 | ui-mode(2) | initiator(1) | future(27)=0 | session-id(16) | option-count(8)
//! option* = number(4) | length(12) | value(length)
//! digest  = 16 bytes (MD5) or 32 bytes (SHA-256), the rest of the message
//! digest  = H(B64(H(name ":" secret)) ":" nonce ":" B64(H(header ‖ options)))
//! ```
//!
//! Why: the 1.2 header start is kept bit for bit (so version/ui-mode/initiator/session-id read the
//! same way), the 1.2 `idlen` byte becomes the option count because Server-ID moved into an option,
//! a 4-bit number plus a 12-bit length is the only 16-bit split that fits both facts, and the 1.2
//! digest formula is kept with the trigger now being everything before the digest.

use super::{
    read_header, write_header, Initiator, Notification, NotificationKey, ParsedNotification, SessionId, UiMode,
};
use crate::algorithm::HashAlgorithm;
use crate::dm13::NOTIFICATION_13_VERSION;
use crate::error::NotificationError;

/// Bytes of the fixed header.
const HEADER_LEN: usize = 8;
/// Largest option value (12-bit length).
const MAX_OPTION_LEN: usize = 0xfff;
/// Largest Server-ID option value.
const MAX_SERVER_ID_LEN: usize = 256;

const OPT_SERVER_ID: u8 = 1;
const OPT_TARGETED_MO: u8 = 2;
const OPT_REQUESTED_MO: u8 = 3;
const OPT_PREFERRED_BEARER: u8 = 4;
const OPT_CONNECT_REASON: u8 = 5;
const OPT_VENDOR_INFO: u8 = 6;

/// An option this crate does not interpret (numbers 0 and 7–15), kept for forward compatibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownOption {
    number: u8,
    value: Vec<u8>,
}

impl UnknownOption {
    /// An unknown option; `number` must be 0 or 7–15 and the value at most 4095 bytes.
    pub fn new(number: u8, value: Vec<u8>) -> Result<UnknownOption, NotificationError> {
        if number > 15 || (OPT_SERVER_ID..=OPT_VENDOR_INFO).contains(&number) {
            return Err(NotificationError::BadUnknownOptionNumber(number));
        }
        if value.len() > MAX_OPTION_LEN {
            return Err(NotificationError::BadOption { name: "unknown", reason: "longer than 4095 bytes" });
        }
        Ok(UnknownOption { number, value })
    }

    /// The option number.
    pub const fn number(&self) -> u8 {
        self.number
    }

    /// The value bytes.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// A DM 1.3 notification (layout per the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification13 {
    /// The 10-bit version field (13).
    pub version: u16,
    /// How to involve the user.
    pub ui_mode: UiMode,
    /// Who asked for the session.
    pub initiator: Initiator,
    /// The session id.
    pub session_id: SessionId,
    /// Option 1, Server-ID (exactly one, 1–256 bytes).
    pub server_id: String,
    /// Option 2, Targeted-MO (0..n, 1–2 byte unsigned): the MOs the session is about.
    pub targeted_mos: Vec<u16>,
    /// Option 3, Requested-MO (0..n, 1–2 byte unsigned): MOs whose data Package 1 should report.
    pub requested_mos: Vec<u16>,
    /// Option 4, Preferred-Bearer (0..n, 1 byte): bearer codes to connect over.
    pub preferred_bearers: Vec<u8>,
    /// Option 5, Connect-Reason (0..1, 1–4095 bytes of text).
    pub connect_reason: Option<String>,
    /// Option 6, Vendor-Info (0..1, 1–4095 bytes).
    pub vendor_info: Option<Vec<u8>>,
    /// Options with numbers 0 and 7–15.
    pub unknown_options: Vec<UnknownOption>,
}

impl Notification13 {
    /// A notification with version 13 and only the Server-ID option.
    pub fn new(server_id: impl Into<String>, session_id: SessionId, ui_mode: UiMode, initiator: Initiator) -> Self {
        Notification13 {
            version: NOTIFICATION_13_VERSION,
            ui_mode,
            initiator,
            session_id,
            server_id: server_id.into(),
            targeted_mos: Vec::new(),
            requested_mos: Vec::new(),
            preferred_bearers: Vec::new(),
            connect_reason: None,
            vendor_info: None,
            unknown_options: Vec::new(),
        }
    }

    /// The bytes the digest covers: header and options, options in ascending number order.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, NotificationError> {
        let mut options: Vec<(u8, Vec<u8>)> = Vec::new();
        let id = self.server_id.as_bytes();
        if id.is_empty() || id.len() > MAX_SERVER_ID_LEN {
            return Err(NotificationError::ServerIdLength(id.len(), MAX_SERVER_ID_LEN));
        }
        options.push((OPT_SERVER_ID, id.to_vec()));
        options.extend(self.targeted_mos.iter().map(|&m| (OPT_TARGETED_MO, uint_bytes(m))));
        options.extend(self.requested_mos.iter().map(|&m| (OPT_REQUESTED_MO, uint_bytes(m))));
        options.extend(self.preferred_bearers.iter().map(|&b| (OPT_PREFERRED_BEARER, vec![b])));
        if let Some(r) = &self.connect_reason {
            check_text_len("Connect-Reason", r.len())?;
            options.push((OPT_CONNECT_REASON, r.as_bytes().to_vec()));
        }
        if let Some(v) = &self.vendor_info {
            check_text_len("Vendor-Info", v.len())?;
            options.push((OPT_VENDOR_INFO, v.clone()));
        }
        for u in &self.unknown_options {
            options.push((u.number, u.value.clone()));
        }
        // Stable: options of the same number keep their order.
        options.sort_by_key(|(n, _)| *n);
        let count = u8::try_from(options.len()).map_err(|_| NotificationError::TooManyOptions(options.len()))?;
        let mut out = Vec::new();
        write_header(&mut out, self.version, self.ui_mode, self.initiator, self.session_id)?;
        out.push(count);
        for (number, value) in options {
            // Lengths were checked above (all ≤ 4095), numbers are ≤ 15.
            let head = (u16::from(number) << 12) | (value.len() as u16 & 0x0fff);
            out.extend_from_slice(&head.to_be_bytes());
            out.extend_from_slice(&value);
        }
        Ok(out)
    }

    /// Builds the notification signed with `key` (MD5 or SHA-256 digest last).
    pub fn build(&self, key: &NotificationKey) -> Result<Vec<u8>, NotificationError> {
        let mut out = self.signed_bytes()?;
        let digest = key.digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    /// Parses the 1.3 layout. The version must be 13; the digest algorithm is read from the digest
    /// length and checked against the key on verification.
    pub fn parse(bytes: &[u8]) -> Result<ParsedNotification, NotificationError> {
        let header: &[u8; 7] = bytes.get(..7).and_then(|h| h.try_into().ok()).ok_or(NotificationError::Truncated {
            part: "header",
            needed: HEADER_LEN,
            available: bytes.len(),
        })?;
        let count = *bytes.get(7).ok_or(NotificationError::Truncated {
            part: "header",
            needed: HEADER_LEN,
            available: bytes.len(),
        })?;
        let (version, ui_mode, initiator, _future, session_id) = read_header(header);
        if version != NOTIFICATION_13_VERSION {
            return Err(NotificationError::UnsupportedVersion(version));
        }
        let mut n = Notification13::new(String::new(), session_id, ui_mode, initiator);
        n.version = version;
        let mut server_id = None;
        let mut pos = HEADER_LEN;
        let mut previous = 0u8;
        for index in 0..usize::from(count) {
            let head = bytes.get(pos..pos + 2).ok_or(NotificationError::Truncated {
                part: "option header",
                needed: pos + 2,
                available: bytes.len(),
            })?;
            let head = u16::from_be_bytes([head[0], head[1]]);
            let number = (head >> 12) as u8;
            let length = usize::from(head & 0x0fff);
            let value = bytes.get(pos + 2..pos + 2 + length).ok_or(NotificationError::OptionPastEnd {
                index,
                number,
                length,
            })?;
            if number < previous {
                return Err(NotificationError::OptionOrder { number, previous });
            }
            previous = number;
            pos += 2 + length;
            match number {
                OPT_SERVER_ID => {
                    if server_id.is_some() {
                        return Err(bad("Server-ID", "repeated"));
                    }
                    if length > MAX_SERVER_ID_LEN || length == 0 {
                        return Err(NotificationError::ServerIdLength(length, MAX_SERVER_ID_LEN));
                    }
                    let s = std::str::from_utf8(value).map_err(|_| NotificationError::ServerIdNotUtf8)?;
                    server_id = Some(s.to_owned());
                }
                OPT_TARGETED_MO => n.targeted_mos.push(read_uint("Targeted-MO", value)?),
                OPT_REQUESTED_MO => n.requested_mos.push(read_uint("Requested-MO", value)?),
                OPT_PREFERRED_BEARER => match value {
                    [b] => n.preferred_bearers.push(*b),
                    _ => return Err(bad("Preferred-Bearer", "not 1 byte")),
                },
                OPT_CONNECT_REASON => {
                    if n.connect_reason.is_some() {
                        return Err(bad("Connect-Reason", "repeated"));
                    }
                    check_text_len("Connect-Reason", length)?;
                    let s = std::str::from_utf8(value).map_err(|_| bad("Connect-Reason", "not UTF-8"))?;
                    n.connect_reason = Some(s.to_owned());
                }
                OPT_VENDOR_INFO => {
                    if n.vendor_info.is_some() {
                        return Err(bad("Vendor-Info", "repeated"));
                    }
                    check_text_len("Vendor-Info", length)?;
                    n.vendor_info = Some(value.to_vec());
                }
                other => n.unknown_options.push(UnknownOption { number: other, value: value.to_vec() }),
            }
        }
        n.server_id = server_id.ok_or(NotificationError::MissingServerId)?;
        let digest = bytes.get(pos..).unwrap_or_default();
        if HashAlgorithm::from_output_len(digest.len()).is_none() {
            return Err(NotificationError::BadDigestLength(digest.len()));
        }
        Ok(ParsedNotification {
            notification: Notification::Dm13(n),
            digest: digest.to_vec(),
            signed: bytes.get(..pos).unwrap_or_default().to_vec(),
        })
    }
}

/// Whether the bytes start like a 1.3 notification: version 13 and zero future bits (a 1.2
/// notification starts with a digest, which matches this with probability 2^-37).
pub(super) fn looks_like_tlv(bytes: &[u8]) -> bool {
    match bytes.get(..7).and_then(|h| <&[u8; 7]>::try_from(h).ok()) {
        Some(h) => {
            let (version, _, _, future, _) = read_header(h);
            version == NOTIFICATION_13_VERSION && future == 0
        }
        None => false,
    }
}

fn bad(name: &'static str, reason: &'static str) -> NotificationError {
    NotificationError::BadOption { name, reason }
}

fn check_text_len(name: &'static str, len: usize) -> Result<(), NotificationError> {
    if len == 0 || len > MAX_OPTION_LEN {
        Err(bad(name, "not 1 to 4095 bytes"))
    } else {
        Ok(())
    }
}

/// A 1–2 byte unsigned option value, written in as few bytes as it needs.
fn uint_bytes(v: u16) -> Vec<u8> {
    match u8::try_from(v) {
        Ok(b) => vec![b],
        Err(_) => v.to_be_bytes().to_vec(),
    }
}

fn read_uint(name: &'static str, value: &[u8]) -> Result<u16, NotificationError> {
    match value {
        [b] => Ok(u16::from(*b)),
        [hi, lo] => Ok(u16::from_be_bytes([*hi, *lo])),
        _ => Err(bad(name, "not 1 or 2 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nonce::Nonce;

    fn key(alg: HashAlgorithm) -> NotificationKey {
        NotificationKey { algorithm: alg, ..NotificationKey::md5("funambol", "srvpwd", Nonce::default()) }
    }

    fn full() -> Notification13 {
        let mut n = Notification13::new("funambol", SessionId(0x1234), UiMode::UserInteraction, Initiator::Server);
        n.targeted_mos = vec![5, 300];
        n.requested_mos = vec![1];
        n.preferred_bearers = vec![2];
        n.connect_reason = Some("firmware".into());
        n.vendor_info = Some(vec![0xde, 0xad]);
        n.unknown_options =
            vec![UnknownOption::new(0, vec![]).expect("ok"), UnknownOption::new(9, vec![7]).expect("ok")];
        n
    }

    #[test]
    fn layout_of_a_minimal_notification() {
        let n = Notification13::new("srv", SessionId(0x1234), UiMode::Background, Initiator::Server);
        let s = n.signed_bytes().expect("bytes");
        assert_eq!(s, [0x03, 0x58, 0, 0, 0, 0x12, 0x34, 1, 0x10, 0x03, b's', b'r', b'v']);
    }

    #[test]
    fn build_parse_verify_both_hashes() {
        for alg in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
            let bytes = full().build(&key(alg)).expect("build");
            let p = Notification13::parse(&bytes).expect("parse");
            assert_eq!(p.notification, Notification::Dm13(full()));
            assert_eq!(p.digest().len(), alg.output_len());
            assert_eq!(p.verify(&key(alg)), Ok(()));
            let other = if alg == HashAlgorithm::Md5 { HashAlgorithm::Sha256 } else { HashAlgorithm::Md5 };
            assert!(matches!(p.verify(&key(other)), Err(NotificationError::DigestAlgorithmMismatch { .. })));
        }
    }

    #[test]
    fn structural_errors_are_precise() {
        let good = Notification13::new("srv", SessionId(1), UiMode::Background, Initiator::Server)
            .build(&key(HashAlgorithm::Md5))
            .expect("build");
        assert!(matches!(Notification13::parse(&good[..5]), Err(NotificationError::Truncated { part: "header", .. })));
        assert_eq!(
            Notification13::parse(&good[..12]).map(|_| ()),
            Err(NotificationError::OptionPastEnd { index: 0, number: 1, length: 3 })
        );
        assert_eq!(
            Notification13::parse(&good[..good.len() - 1]).map(|_| ()),
            Err(NotificationError::BadDigestLength(15))
        );
        let mut no_opts = good[..8].to_vec();
        no_opts[7] = 0;
        no_opts.extend_from_slice(&[0; 16]);
        assert_eq!(Notification13::parse(&no_opts).map(|_| ()), Err(NotificationError::MissingServerId));
        let mut disorder = good[..8].to_vec();
        disorder[7] = 2;
        disorder.extend_from_slice(&[0x20, 0x01, 5, 0x10, 0x01, b's']);
        disorder.extend_from_slice(&[0; 16]);
        assert_eq!(
            Notification13::parse(&disorder).map(|_| ()),
            Err(NotificationError::OptionOrder { number: 1, previous: 2 })
        );
        let mut v14 = good.clone();
        v14[1] = 0x98; // version 14
        assert_eq!(Notification13::parse(&v14).map(|_| ()), Err(NotificationError::UnsupportedVersion(14)));
    }

    #[test]
    fn unknown_option_numbers_are_checked() {
        assert_eq!(UnknownOption::new(3, vec![]), Err(NotificationError::BadUnknownOptionNumber(3)));
        assert_eq!(UnknownOption::new(16, vec![]), Err(NotificationError::BadUnknownOptionNumber(16)));
        assert!(UnknownOption::new(15, vec![0; 4095]).is_ok());
        assert!(UnknownOption::new(15, vec![0; 4096]).is_err());
    }

    #[test]
    fn detection_of_the_tlv_layout() {
        let b = full().build(&key(HashAlgorithm::Md5)).expect("build");
        assert!(looks_like_tlv(&b));
        assert!(!looks_like_tlv(&b[..6]));
        let mut twelve = b.clone();
        twelve[1] = 0xd8; // version 11
        assert!(!looks_like_tlv(&twelve));
    }
}
