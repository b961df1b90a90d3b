//! Every DM 1.3 security and notification decision whose normative text we could not read, in one
//! place (spec README "Where the 1.3 text is unconfirmed"; dm13-digest §1, §3, §6, §11, §12).
//!
//! Each constant or type below says what is confirmed, what is our reading and why. The defaults
//! are our reading; [`Dm13Profile`] lets a deployment switch to a peer's reading without touching
//! the code that uses it. DM 1.2 behaviour never depends on anything here. The same decisions are
//! listed in `docs/dm13-decisions.md` under "Security and notification".

use crate::algorithm::HashAlgorithm;

/// `Meta Type` we send for the SHA-256 digest credential.
///
/// Confirmed: no OMA text; a deployed DM server (ASUS, VerProto DM/1.2) uses exactly
/// `syncml:auth-SHA256`, Format b64, with the MD5 formula carried over to SHA-256 (dm13-digest §3).
/// Our reading: that spelling is the one peers will recognise, so it is the one we send. We accept
/// the other SHA-256 spellings listed in [`SHA256_CRED_TYPE_ALIASES`].
pub const SHA256_CRED_TYPE: &str = "syncml:auth-SHA256";

/// SHA-256 spellings after the `syncml:auth-` prefix that we accept, compared case-insensitively
/// (dm13-digest §11 warns that vendor SHA-2 strings vary). Anything else stays an unknown scheme.
pub const SHA256_CRED_TYPE_ALIASES: &[&str] = &["sha256", "sha-256", "sha_256", "sha2-256", "sha2_256"];

/// The DMAcc `AAuthType` / `AAuthPref` value written for the SHA-256 digest credential.
///
/// DMAcc 1.2 names `BASIC`, `DIGEST` (MD5) and `HMAC`; the 1.3 value for SHA-256 is unconfirmed
/// (dm13-digest §12). Our reading: `DIGEST-SHA256`, the 1.2 `DIGEST` name with the hash appended,
/// so that a 1.2 reader never mistakes it for MD5. [`SHA256_AAUTH_TYPE_ALIASES`] are accepted too.
pub const SHA256_AAUTH_TYPE: &str = "DIGEST-SHA256";

/// The DMAcc `AAuthType` / `AAuthPref` value written for HMAC with SHA-256 (`x-syncml-hmac`
/// `algorithm=` SHA-256). DMAcc 1.2's `HMAC` means MD5; a 1.3 value is unconfirmed (dm13-digest §12).
/// Our reading: `HMAC-SHA256`, as [`SHA256_AAUTH_TYPE`] appends the hash to the 1.2 name.
pub const HMAC_SHA256_AAUTH_TYPE: &str = "HMAC-SHA256";

/// Other `AAuthType` spellings read as SHA-256 (compared case-insensitively).
pub const SHA256_AAUTH_TYPE_ALIASES: &[&str] = &["SHA256", "SHA-256", "DIGEST-SHA-256", "HTTP-DIGEST-SHA256"];

/// `algorithm=` token we send in `x-syncml-hmac` for the SHA-256 variant.
///
/// Confirmed: 1.2 defines only `MD5` (absent = MD5); a 1.3 SHA-256 token is unconfirmed
/// (dm13-digest §3). Our reading: `SHA-256`, the IANA hash name used by HTTP digest
/// authentication, which is where `x-syncml-hmac` took its `algorithm=` syntax from. We accept the
/// spellings in [`HMAC_SHA256_TOKEN_ALIASES`] and reject any other value.
pub const HMAC_SHA256_TOKEN: &str = "SHA-256";

/// SHA-256 `algorithm=` values we accept in `x-syncml-hmac`, compared case-insensitively.
pub const HMAC_SHA256_TOKEN_ALIASES: &[&str] = &["sha-256", "sha256", "sha_256", "sha2-256"];

/// Value of the 10-bit version field of the 1.3 notification we build (`0000001101` = 13).
///
/// Confirmed: 1.2 sends 11 and the field is "version × 10". Our reading: 1.3 keeps the field and
/// writes 13 (dm13-digest §1 lists this as the likely value).
pub const NOTIFICATION_13_VERSION: u16 = 13;

/// Which Package #0 layout to parse, and in particular where a notification that arrives with the
/// 1.3 content type (`application/vnd.syncml.dm.notification`, WSP 0x58) is parsed.
///
/// Confirmed (dm13-digest §1): 1.3 uses the 0x58 type with a fixed header, counted TLV options
/// (4-bit option numbers, sizes up to 4095) and the digest last. Also confirmed: IANA registered the
/// same 0x58 type in 2009 with the 1.2 MD5-digest text, so some peers may send the 1.2 layout under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotificationLayout {
    /// Our reading of the 1.3 layout ([`crate::notification::Notification13`]):
    /// `version(10) ui-mode(2) initiator(1) future(27) session-id(16) option-count(8)`, then
    /// options `number(4) length(12) value`, then the digest (16 bytes MD5 or 32 bytes SHA-256).
    #[default]
    Tlv,
    /// The DM 1.2 general layout, for peers that reuse it under the 0x58 type.
    General12,
    /// Try [`NotificationLayout::Tlv`] when the first bits read version 13 with zero future bits,
    /// and fall back to [`NotificationLayout::General12`] otherwise (for a notification whose content
    /// type is unknown, e.g. read from a file).
    Either,
}

/// The hash of a 1.3 notification digest when the notification credentials do not say.
///
/// Confirmed: 1.2 uses MD5; 1.3's digest algorithm, length and input are unconfirmed
/// (dm13-digest §1). Our reading: the 1.2 formula unchanged, MD5 by default, SHA-256 when both
/// sides configure it in the notification credentials. The parser recognises the two by the digest
/// length (16 or 32 bytes) and the verifier insists on the algorithm the credentials name.
pub const NOTIFICATION_13_DEFAULT_HASH: HashAlgorithm = HashAlgorithm::Md5;

/// The settings a deployment may need to change to match a 1.3 peer's reading.
///
/// [`Dm13Profile::default`] is our reading; every field documents the alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dm13Profile {
    /// The `Meta Type` written for SHA-256 credentials and challenges (default [`SHA256_CRED_TYPE`]).
    pub sha256_cred_type: String,
    /// The `algorithm=` token written for SHA-256 in `x-syncml-hmac` (default [`HMAC_SHA256_TOKEN`]).
    pub hmac_sha256_token: String,
    /// How a notification with the 1.3 content type is parsed (default [`NotificationLayout::Tlv`]).
    pub noti13_layout: NotificationLayout,
    /// Whether a 1.3 notification may be verified with the server credentials (SRVCRED) when the
    /// account has no separate notification credentials.
    ///
    /// Confirmed: 1.2 keys Package #0 with SRVCRED; separate notification credentials in 1.3 are
    /// unconfirmed (dm13-digest §3; DM 2.0 has them as `Auth/Noti`). Our reading: an account MAY
    /// hold notification credentials; when it does they are the only key for 1.3 notifications, and
    /// when it does not, SRVCRED is used as in 1.2 (default `true`). Set `false` to require them.
    pub notification_key_fallback: bool,
}

impl Default for Dm13Profile {
    fn default() -> Self {
        Dm13Profile {
            sha256_cred_type: SHA256_CRED_TYPE.to_owned(),
            hmac_sha256_token: HMAC_SHA256_TOKEN.to_owned(),
            noti13_layout: NotificationLayout::Tlv,
            notification_key_fallback: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_lower_case_so_comparisons_can_be_case_insensitive() {
        for a in SHA256_CRED_TYPE_ALIASES.iter().chain(HMAC_SHA256_TOKEN_ALIASES) {
            assert_eq!(*a, a.to_ascii_lowercase());
        }
    }

    #[test]
    fn the_canonical_spellings_are_among_the_accepted_ones() {
        let cred = SHA256_CRED_TYPE.to_ascii_lowercase();
        assert!(SHA256_CRED_TYPE_ALIASES.iter().any(|a| cred.ends_with(a)));
        assert!(HMAC_SHA256_TOKEN_ALIASES.contains(&HMAC_SHA256_TOKEN.to_ascii_lowercase().as_str()));
    }
}
