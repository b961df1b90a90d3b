//! Package #0, the server's trigger to start a session (DM Notification 1.2 §6, digest §5; the 1.3
//! layout per [`crate::dm13`], dm13-digest §1).
//!
//! Both layouts are built and parsed here as pure functions over bytes. The digest is checked
//! against the **received** bytes, never a re-encoding, so parsing may be tolerant while
//! verification stays exact.

mod replay;
mod v12;
mod v13;

use std::fmt;

pub use replay::ReplayGuard;
pub use v12::GeneralNotification;
pub use v13::{Notification13, UnknownOption};

use crate::algorithm::{ct_eq, HashAlgorithm};
use crate::cred::Secret;
use crate::dm13::{Dm13Profile, NotificationLayout};
use crate::error::NotificationError;
use crate::nonce::{Nonce, RESET_NONCE_SPELLINGS};

/// Media type of the DM 1.2 notification (WSP content-type code [`WSP_CODE_12`]).
pub const CONTENT_TYPE_12: &str = "application/vnd.syncml.notification";
/// WSP well-known content-type code of [`CONTENT_TYPE_12`].
pub const WSP_CODE_12: u8 = 0x44;
/// Media type of the DM 1.3 notification (WSP content-type code [`WSP_CODE_13`]).
pub const CONTENT_TYPE_13: &str = "application/vnd.syncml.dm.notification";
/// WSP well-known content-type code of [`CONTENT_TYPE_13`].
pub const WSP_CODE_13: u8 = 0x58;

/// The session id of a notification: 16 bits, written in Package 1's SessionID as upper-case hex
/// without leading zeros (DM Notification 1.2 §6.2; `0x00AB` → `AB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(pub u16);

impl SessionId {
    /// The numeric value.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// Reads a Package 1 SessionID (hex, case-insensitive); `None` if it is not 1–4 hex digits.
    pub fn from_session_id_text(text: &str) -> Option<SessionId> {
        let t = text.trim();
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(t, 16).ok().map(SessionId)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", self.0)
    }
}

impl From<u16> for SessionId {
    fn from(v: u16) -> SessionId {
        SessionId(v)
    }
}

/// The ui-mode field (2 bits): how the client should involve the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UiMode {
    /// 0: not specified.
    NotSpecified,
    /// 1: background, no user interaction.
    Background,
    /// 2: informative: tell the user.
    Informative,
    /// 3: user interaction: ask the user first.
    UserInteraction,
}

impl UiMode {
    /// The 2-bit field value.
    pub const fn bits(self) -> u8 {
        match self {
            UiMode::NotSpecified => 0,
            UiMode::Background => 1,
            UiMode::Informative => 2,
            UiMode::UserInteraction => 3,
        }
    }

    /// The mode of a field value (only the low 2 bits are read, so every value maps).
    pub const fn from_bits(bits: u8) -> UiMode {
        match bits & 3 {
            0 => UiMode::NotSpecified,
            1 => UiMode::Background,
            2 => UiMode::Informative,
            _ => UiMode::UserInteraction,
        }
    }
}

impl fmt::Display for UiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UiMode::NotSpecified => "not specified",
            UiMode::Background => "background",
            UiMode::Informative => "informative",
            UiMode::UserInteraction => "user interaction",
        })
    }
}

/// The initiator field (1 bit): who asked for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// 0: the user (at the server side).
    User,
    /// 1: the server.
    Server,
}

impl Initiator {
    /// The field value.
    pub const fn bit(self) -> u8 {
        match self {
            Initiator::User => 0,
            Initiator::Server => 1,
        }
    }

    /// The initiator of a field value (only the low bit is read).
    pub const fn from_bit(bit: u8) -> Initiator {
        if bit & 1 == 0 {
            Initiator::User
        } else {
            Initiator::Server
        }
    }
}

impl fmt::Display for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Initiator::User => "user",
            Initiator::Server => "server",
        })
    }
}

/// The two notification formats, told apart by their content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationFormat {
    /// DM 1.2 general notification, `application/vnd.syncml.notification` (0x44).
    Dm12,
    /// DM 1.3 notification, `application/vnd.syncml.dm.notification` (0x58).
    Dm13,
}

impl NotificationFormat {
    /// The format of a textual media type (case-insensitive, parameters ignored).
    pub fn from_content_type(text: &str) -> Option<NotificationFormat> {
        let media = text.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case(CONTENT_TYPE_12) {
            Some(NotificationFormat::Dm12)
        } else if media.eq_ignore_ascii_case(CONTENT_TYPE_13) {
            Some(NotificationFormat::Dm13)
        } else {
            None
        }
    }

    /// The format of a WSP well-known content-type code.
    pub const fn from_wsp_code(code: u32) -> Option<NotificationFormat> {
        match code {
            0x44 => Some(NotificationFormat::Dm12),
            0x58 => Some(NotificationFormat::Dm13),
            _ => None,
        }
    }

    /// The media type.
    pub const fn content_type(self) -> &'static str {
        match self {
            NotificationFormat::Dm12 => CONTENT_TYPE_12,
            NotificationFormat::Dm13 => CONTENT_TYPE_13,
        }
    }

    /// The WSP well-known content-type code.
    pub const fn wsp_code(self) -> u8 {
        match self {
            NotificationFormat::Dm12 => WSP_CODE_12,
            NotificationFormat::Dm13 => WSP_CODE_13,
        }
    }

    /// The layout to parse a notification of this content type with (0x58 per the profile).
    pub fn layout(self, profile: &Dm13Profile) -> NotificationLayout {
        match self {
            NotificationFormat::Dm12 => NotificationLayout::General12,
            NotificationFormat::Dm13 => profile.noti13_layout,
        }
    }
}

/// The key material of a notification digest: the name hashed (the ServerID, or the credential's
/// `AAuthName`), the secret, the nonce (raw bytes) and the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationKey {
    /// The name hashed with the secret.
    pub name: String,
    /// The secret.
    pub secret: Secret,
    /// The nonce, as raw bytes (an empty nonce is legal).
    pub nonce: Nonce,
    /// The hash: MD5 for 1.2; MD5 or SHA-256 for 1.3 ([`crate::dm13::NOTIFICATION_13_DEFAULT_HASH`]).
    pub algorithm: HashAlgorithm,
}

impl NotificationKey {
    /// An MD5 key, as DM 1.2 uses: the SRVCRED name, secret and nonce.
    pub fn md5(name: impl Into<String>, secret: impl Into<Secret>, nonce: Nonce) -> NotificationKey {
        NotificationKey { name: name.into(), secret: secret.into(), nonce, algorithm: HashAlgorithm::Md5 }
    }

    /// The digest of `trigger` under this key with `nonce`:
    /// `H(B64(H(name ":" secret)) ":" nonce ":" B64(H(trigger)))`.
    fn digest_with(&self, nonce: &[u8], trigger: &[u8]) -> Vec<u8> {
        self.algorithm.chain(self.name.as_bytes(), self.secret.as_bytes(), nonce, Some(trigger))
    }

    /// The digest of `trigger` with the key's own nonce.
    pub fn digest(&self, trigger: &[u8]) -> Vec<u8> {
        self.digest_with(self.nonce.as_bytes(), trigger)
    }
}

/// The keys a client holds for one server: the server credentials (SRVCRED, which key 1.2
/// notifications) and, in DM 1.3, optional separate notification credentials (our reading in
/// [`crate::dm13::Dm13Profile::notification_key_fallback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationKeys {
    /// The SRVCRED key.
    pub server: NotificationKey,
    /// The separate 1.3 notification credentials, if the account has them.
    pub notification: Option<NotificationKey>,
}

impl NotificationKeys {
    /// The key that verifies a notification of `layout`: SRVCRED for the 1.2 layout; for the 1.3
    /// layout the notification credentials, or SRVCRED when there are none and the profile allows it.
    pub fn key_for(
        &self,
        notification: &Notification,
        profile: &Dm13Profile,
    ) -> Result<&NotificationKey, NotificationError> {
        match notification {
            Notification::Dm12(_) => Ok(&self.server),
            Notification::Dm13(n) => match &self.notification {
                Some(k) => Ok(k),
                None if profile.notification_key_fallback => Ok(&self.server),
                None => Err(NotificationError::NoNotificationCredentials(n.server_id.clone())),
            },
        }
    }
}

/// Which nonce made a notification verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceMatch {
    /// The stored nonce: the normal case.
    Stored,
    /// One of the reset-nonce spellings: the server lost our nonce. Accept, then challenge the
    /// server with a fresh nonce in Package 2/3 (digest §5).
    Reset,
}

/// A parsed notification of either layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The DM 1.2 general layout (also used by peers under other version numbers).
    Dm12(GeneralNotification),
    /// The DM 1.3 TLV layout.
    Dm13(Notification13),
}

impl Notification {
    /// Parses `bytes` with `layout` (see [`NotificationFormat::layout`] for the content-type mapping).
    pub fn parse(bytes: &[u8], layout: NotificationLayout) -> Result<ParsedNotification, NotificationError> {
        match layout {
            NotificationLayout::General12 => GeneralNotification::parse(bytes),
            NotificationLayout::Tlv => Notification13::parse(bytes),
            NotificationLayout::Either if v13::looks_like_tlv(bytes) => Notification13::parse(bytes),
            NotificationLayout::Either => GeneralNotification::parse(bytes),
        }
    }

    /// Builds the bytes of the notification, signed with `key`.
    pub fn build(&self, key: &NotificationKey) -> Result<Vec<u8>, NotificationError> {
        match self {
            Notification::Dm12(n) => n.build(key),
            Notification::Dm13(n) => n.build(key),
        }
    }

    /// The content type the notification is sent with.
    pub const fn format(&self) -> NotificationFormat {
        match self {
            Notification::Dm12(_) => NotificationFormat::Dm12,
            Notification::Dm13(_) => NotificationFormat::Dm13,
        }
    }

    /// The version field (11 = 1.1 as DM 1.2 sends, 12, 13).
    pub const fn version(&self) -> u16 {
        match self {
            Notification::Dm12(n) => n.version,
            Notification::Dm13(n) => n.version,
        }
    }

    /// The ui-mode.
    pub const fn ui_mode(&self) -> UiMode {
        match self {
            Notification::Dm12(n) => n.ui_mode,
            Notification::Dm13(n) => n.ui_mode,
        }
    }

    /// The initiator.
    pub const fn initiator(&self) -> Initiator {
        match self {
            Notification::Dm12(n) => n.initiator,
            Notification::Dm13(n) => n.initiator,
        }
    }

    /// The session id.
    pub const fn session_id(&self) -> SessionId {
        match self {
            Notification::Dm12(n) => n.session_id,
            Notification::Dm13(n) => n.session_id,
        }
    }

    /// The server id.
    pub fn server_id(&self) -> &str {
        match self {
            Notification::Dm12(n) => &n.server_id,
            Notification::Dm13(n) => &n.server_id,
        }
    }

    /// The vendor-specific data (1.2) or Vendor-Info option (1.3); empty when absent.
    pub fn vendor_data(&self) -> &[u8] {
        match self {
            Notification::Dm12(n) => &n.vendor_data,
            Notification::Dm13(n) => n.vendor_info.as_deref().unwrap_or_default(),
        }
    }
}

/// A notification together with its digest and the exact bytes the digest covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedNotification {
    /// The decoded fields.
    pub notification: Notification,
    digest: Vec<u8>,
    signed: Vec<u8>,
}

impl ParsedNotification {
    /// The digest as received.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The bytes the digest covers (the 1.2 trigger, or the 1.3 header and options), as received.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// Verifies the digest with the key's own nonce, in constant time.
    pub fn verify(&self, key: &NotificationKey) -> Result<(), NotificationError> {
        self.check_algorithm(key)?;
        if ct_eq(&self.digest, &key.digest(&self.signed)) {
            Ok(())
        } else {
            Err(NotificationError::DigestMismatch)
        }
    }

    /// Verifies with the stored nonce and, failing that, with each reset-nonce spelling (digest §5:
    /// a server that lost the client's nonce signs with 0x00000000 and then re-challenges).
    pub fn verify_with_resync(&self, key: &NotificationKey) -> Result<NonceMatch, NotificationError> {
        match self.verify(key) {
            Ok(()) => return Ok(NonceMatch::Stored),
            Err(NotificationError::DigestMismatch) => {}
            Err(other) => return Err(other),
        }
        let mut any = false;
        for spelling in RESET_NONCE_SPELLINGS {
            // Every spelling is tried so the time taken does not say which one matched.
            any |= ct_eq(&self.digest, &key.digest_with(spelling, &self.signed));
        }
        if any {
            Ok(NonceMatch::Reset)
        } else {
            Err(NotificationError::DigestMismatch)
        }
    }

    fn check_algorithm(&self, key: &NotificationKey) -> Result<(), NotificationError> {
        if self.digest.len() == key.algorithm.output_len() {
            Ok(())
        } else {
            Err(NotificationError::DigestAlgorithmMismatch { expected: key.algorithm, got: self.digest.len() })
        }
    }
}

/// Reads bit fields of the shared 7-byte header start
/// `version(10) ui-mode(2) initiator(1) future(27) session-id(16)`.
fn read_header(b: &[u8; 7]) -> (u16, UiMode, Initiator, u32, SessionId) {
    let word = u64::from_be_bytes([0, 0, 0, b[0], b[1], b[2], b[3], b[4]]);
    let version = ((word >> 30) & 0x3ff) as u16;
    let ui = UiMode::from_bits(((word >> 28) & 3) as u8);
    let init = Initiator::from_bit(((word >> 27) & 1) as u8);
    let future = (word & 0x07ff_ffff) as u32;
    (version, ui, init, future, SessionId(u16::from_be_bytes([b[5], b[6]])))
}

/// Writes the shared 7-byte header start (future bits zero).
fn write_header(
    out: &mut Vec<u8>,
    version: u16,
    ui: UiMode,
    init: Initiator,
    session: SessionId,
) -> Result<(), NotificationError> {
    if version > 0x3ff {
        return Err(NotificationError::FieldOverflow { field: "version", value: u64::from(version), bits: 10 });
    }
    let word = (u64::from(version) << 30) | (u64::from(ui.bits()) << 28) | (u64::from(init.bit()) << 27);
    out.extend_from_slice(&word.to_be_bytes()[3..]);
    out.extend_from_slice(&session.0.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_display_is_upper_hex_without_leading_zeros() {
        assert_eq!(SessionId(0x1234).to_string(), "1234");
        assert_eq!(SessionId(0xabcd).to_string(), "ABCD");
        assert_eq!(SessionId(1).to_string(), "1");
        assert_eq!(SessionId(0x00ab).to_string(), "AB");
        assert_eq!(SessionId(0).to_string(), "0");
        assert_eq!(SessionId::from_session_id_text("abcd"), Some(SessionId(0xabcd)));
        assert_eq!(SessionId::from_session_id_text("12345"), None);
        assert_eq!(SessionId::from_session_id_text("+1"), None);
    }

    #[test]
    fn header_bits_follow_the_spec_example() {
        // DM Notification 1.2 example: version 11, ui 1, initiator 0, session 0x1234.
        let b = [0x02, 0xD0, 0x00, 0x00, 0x00, 0x12, 0x34];
        let (v, ui, init, future, sid) = read_header(&b);
        assert_eq!((v, ui, init, future, sid), (11, UiMode::Background, Initiator::User, 0, SessionId(0x1234)));
        let mut out = Vec::new();
        write_header(&mut out, v, ui, init, sid).expect("fits");
        assert_eq!(out, b);
        assert!(write_header(&mut out, 1024, ui, init, sid).is_err());
    }

    #[test]
    fn content_types_map_both_ways() {
        assert_eq!(
            NotificationFormat::from_content_type("Application/vnd.syncml.notification; x=1"),
            Some(NotificationFormat::Dm12)
        );
        assert_eq!(NotificationFormat::from_content_type(CONTENT_TYPE_13), Some(NotificationFormat::Dm13));
        assert_eq!(NotificationFormat::from_content_type("text/plain"), None);
        assert_eq!(NotificationFormat::from_wsp_code(0x44), Some(NotificationFormat::Dm12));
        assert_eq!(NotificationFormat::from_wsp_code(0x58), Some(NotificationFormat::Dm13));
        assert_eq!(NotificationFormat::Dm13.wsp_code(), 0x58);
        let p = Dm13Profile::default();
        assert_eq!(NotificationFormat::Dm12.layout(&p), NotificationLayout::General12);
        assert_eq!(NotificationFormat::Dm13.layout(&p), NotificationLayout::Tlv);
    }

    #[test]
    fn ui_mode_and_initiator_bits_round_trip() {
        for b in 0..4 {
            assert_eq!(UiMode::from_bits(b).bits(), b);
        }
        assert_eq!(Initiator::from_bit(1), Initiator::Server);
        assert_eq!(Initiator::User.bit(), 0);
    }
}
