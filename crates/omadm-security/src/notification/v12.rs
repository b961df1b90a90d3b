//! The DM 1.2 general notification layout (DM Notification 1.2 §6.2, digest §5):
//! `digest(128) | version(10) ui-mode(2) initiator(1) future(27) session-id(16) | idlen(8) |
//! server-id | vendor-specific`, big-endian, digest = MD5 over every byte after the digest.

use super::{
    read_header, write_header, Initiator, Notification, NotificationKey, ParsedNotification, SessionId, UiMode,
};
use crate::algorithm::HashAlgorithm;
use crate::error::NotificationError;

/// Digest length of the 1.2 layout (MD5).
const DIGEST_LEN: usize = 16;
/// Bytes of the fixed part: digest, 7 header bytes, idlen.
const FIXED_LEN: usize = DIGEST_LEN + 7 + 1;

/// The version field a DM 1.2 server writes (`0000001011` = 1.1, the notification version).
pub const VERSION_12: u16 = 11;

/// The version field values accepted in this layout: 11 (what the 1.2 spec requires), and 12 and 13,
/// which peers also send in it.
pub const ACCEPTED_VERSIONS: std::ops::RangeInclusive<u16> = 11..=13;

/// A DM 1.2 general notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneralNotification {
    /// The 10-bit version field (11 when built for DM 1.2).
    pub version: u16,
    /// How to involve the user.
    pub ui_mode: UiMode,
    /// Who asked for the session.
    pub initiator: Initiator,
    /// The session id (Package 1 SessionID).
    pub session_id: SessionId,
    /// The server id (DMAcc ServerID), 1 to 255 bytes of UTF-8.
    pub server_id: String,
    /// The vendor-specific bytes after the server id (may be empty).
    pub vendor_data: Vec<u8>,
}

impl GeneralNotification {
    /// A notification with version 11 and no vendor data.
    pub fn new(server_id: impl Into<String>, session_id: SessionId, ui_mode: UiMode, initiator: Initiator) -> Self {
        GeneralNotification {
            version: VERSION_12,
            ui_mode,
            initiator,
            session_id,
            server_id: server_id.into(),
            vendor_data: Vec::new(),
        }
    }

    /// The bytes after the digest (the "trigger" the digest covers).
    pub fn trigger(&self) -> Result<Vec<u8>, NotificationError> {
        let id = self.server_id.as_bytes();
        if id.is_empty() || id.len() > usize::from(u8::MAX) {
            return Err(NotificationError::ServerIdLength(id.len(), usize::from(u8::MAX)));
        }
        let mut out = Vec::with_capacity(8 + id.len() + self.vendor_data.len());
        write_header(&mut out, self.version, self.ui_mode, self.initiator, self.session_id)?;
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&self.vendor_data);
        Ok(out)
    }

    /// Builds the notification signed with an MD5 `key` (the layout holds a 16-byte digest).
    pub fn build(&self, key: &NotificationKey) -> Result<Vec<u8>, NotificationError> {
        if key.algorithm != HashAlgorithm::Md5 {
            return Err(NotificationError::DigestAlgorithmMismatch { expected: key.algorithm, got: DIGEST_LEN });
        }
        let trigger = self.trigger()?;
        let mut out = key.digest(&trigger);
        out.extend_from_slice(&trigger);
        Ok(out)
    }

    /// Parses the 1.2 layout. Versions 11–13 are accepted; the future bits are ignored.
    pub fn parse(bytes: &[u8]) -> Result<ParsedNotification, NotificationError> {
        let truncated = |part, needed| NotificationError::Truncated { part, needed, available: bytes.len() };
        let digest = bytes.get(..DIGEST_LEN).ok_or_else(|| truncated("digest", DIGEST_LEN))?;
        let header: &[u8; 7] = bytes
            .get(DIGEST_LEN..DIGEST_LEN + 7)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| truncated("header", DIGEST_LEN + 7))?;
        let id_len = usize::from(*bytes.get(FIXED_LEN - 1).ok_or_else(|| truncated("server-id length", FIXED_LEN))?);
        let (version, ui_mode, initiator, _future, session_id) = read_header(header);
        if !ACCEPTED_VERSIONS.contains(&version) {
            return Err(NotificationError::UnsupportedVersion(version));
        }
        let rest = bytes.get(FIXED_LEN..).unwrap_or_default();
        let id =
            rest.get(..id_len).ok_or(NotificationError::ServerIdPastEnd { length: id_len, available: rest.len() })?;
        if id.is_empty() {
            return Err(NotificationError::ServerIdLength(0, usize::from(u8::MAX)));
        }
        let server_id = std::str::from_utf8(id).map_err(|_| NotificationError::ServerIdNotUtf8)?.to_owned();
        let vendor_data = rest.get(id_len..).unwrap_or_default().to_vec();
        Ok(ParsedNotification {
            notification: Notification::Dm12(GeneralNotification {
                version,
                ui_mode,
                initiator,
                session_id,
                server_id,
                vendor_data,
            }),
            digest: digest.to_vec(),
            signed: bytes.get(DIGEST_LEN..).unwrap_or_default().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nonce::Nonce;

    fn key() -> NotificationKey {
        NotificationKey::md5("com.mgmtsrv.manage", "secret", Nonce::from_bytes(b"abc".to_vec()))
    }

    #[test]
    fn trigger_matches_the_spec_example_header() {
        let n = GeneralNotification::new("com.mgmtsrv.manage", SessionId(0x1234), UiMode::Background, Initiator::User);
        let t = n.trigger().expect("trigger");
        assert_eq!(&t[..8], &[0x02, 0xD0, 0x00, 0x00, 0x00, 0x12, 0x34, 18]);
        assert_eq!(&t[8..], b"com.mgmtsrv.manage");
    }

    #[test]
    fn build_parse_verify() {
        let mut n = GeneralNotification::new("srv", SessionId(7), UiMode::Informative, Initiator::Server);
        n.vendor_data = vec![1, 2, 3];
        let bytes = n.build(&key()).expect("build");
        let p = GeneralNotification::parse(&bytes).expect("parse");
        assert_eq!(p.notification, Notification::Dm12(n));
        assert_eq!(p.verify(&key()), Ok(()));
    }

    #[test]
    fn versions_12_and_13_are_tolerated_others_refused() {
        for (v, ok) in [(11, true), (12, true), (13, true), (10, false), (14, false)] {
            let mut n = GeneralNotification::new("s", SessionId(1), UiMode::Background, Initiator::Server);
            n.version = v;
            let bytes = n.build(&key()).expect("build");
            let r = GeneralNotification::parse(&bytes);
            if ok {
                assert_eq!(r.map(|p| p.notification.version()), Ok(v));
            } else {
                assert_eq!(r, Err(NotificationError::UnsupportedVersion(v)));
            }
        }
    }

    #[test]
    fn server_id_limits() {
        let long = GeneralNotification::new("x".repeat(256), SessionId(1), UiMode::Background, Initiator::Server);
        assert_eq!(long.build(&key()), Err(NotificationError::ServerIdLength(256, 255)));
        let empty = GeneralNotification::new("", SessionId(1), UiMode::Background, Initiator::Server);
        assert_eq!(empty.build(&key()), Err(NotificationError::ServerIdLength(0, 255)));
        let mut bytes = vec![0u8; 16];
        bytes.extend_from_slice(&[0x02, 0xD8, 0, 0, 0, 0, 1, 2, 0xff, 0xfe]);
        assert_eq!(GeneralNotification::parse(&bytes).map(|_| ()), Err(NotificationError::ServerIdNotUtf8));
    }

    #[test]
    fn sha256_key_cannot_sign_the_12_layout() {
        let n = GeneralNotification::new("s", SessionId(1), UiMode::Background, Initiator::Server);
        let k = NotificationKey { algorithm: HashAlgorithm::Sha256, ..key() };
        assert!(matches!(n.build(&k), Err(NotificationError::DigestAlgorithmMismatch { .. })));
    }
}
