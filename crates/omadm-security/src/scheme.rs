//! Authentication schemes: the `Meta Type` of `Cred` and `Chal` (DM Security 1.2 §5, digest §4).

use std::fmt;

use crate::algorithm::HashAlgorithm;
use crate::dm13::{
    Dm13Profile, HMAC_SHA256_AAUTH_TYPE, SHA256_AAUTH_TYPE, SHA256_AAUTH_TYPE_ALIASES, SHA256_CRED_TYPE,
    SHA256_CRED_TYPE_ALIASES,
};

/// The prefix every SyncML authentication type shares.
const PREFIX: &str = "syncml:auth-";

/// An authentication scheme as named by a `Cred`/`Chal` `Meta Type`.
///
/// Parsing is case-insensitive and never fails: a type we do not implement is kept verbatim in
/// [`AuthScheme::Unknown`] so that it can be reported (and answered with a challenge for a scheme we
/// do support) rather than guessed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthScheme {
    /// `syncml:auth-basic`: `B64(name ":" secret)`. The default when `Cred` has no Type.
    Basic,
    /// `syncml:auth-md5`: `B64(MD5(B64(MD5(name ":" secret)) ":" nonce))`.
    Md5,
    /// The DM 1.3 SHA-256 digest credential (sent as [`SHA256_CRED_TYPE`]): the MD5 formula with
    /// SHA-256. Which spellings are accepted is decided in [`crate::dm13`].
    Sha256,
    /// `syncml:auth-MAC`: no `Cred`; every message carries an `x-syncml-hmac` transport header
    /// ([`crate::mac::HmacHeader`]).
    Mac,
    /// Any other type, kept exactly as received (e.g. `syncml:auth-X509`).
    Unknown(String),
}

impl AuthScheme {
    /// Parses a `Meta Type` value. Surrounding white space is ignored; case is not significant.
    pub fn parse(text: &str) -> AuthScheme {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix(PREFIX) else {
            return AuthScheme::Unknown(trimmed.to_owned());
        };
        match rest {
            "basic" => AuthScheme::Basic,
            "md5" => AuthScheme::Md5,
            "mac" => AuthScheme::Mac,
            r if SHA256_CRED_TYPE_ALIASES.contains(&r) => AuthScheme::Sha256,
            _ => AuthScheme::Unknown(trimmed.to_owned()),
        }
    }

    /// The scheme of a `Cred` whose `Meta` has no `Type`: basic (SyncML RepPro 1.2 §5.1.3).
    pub const fn default_for_cred() -> AuthScheme {
        AuthScheme::Basic
    }

    /// The canonical `Meta Type` we send for this scheme (unknown types are echoed verbatim).
    pub fn as_str(&self) -> &str {
        match self {
            AuthScheme::Basic => "syncml:auth-basic",
            AuthScheme::Md5 => "syncml:auth-md5",
            AuthScheme::Sha256 => SHA256_CRED_TYPE,
            AuthScheme::Mac => "syncml:auth-MAC",
            AuthScheme::Unknown(s) => s,
        }
    }

    /// The `Meta Type` to send under a [`Dm13Profile`] (which may respell SHA-256 for a peer).
    pub fn meta_type_in<'a>(&'a self, profile: &'a Dm13Profile) -> &'a str {
        match self {
            AuthScheme::Sha256 => &profile.sha256_cred_type,
            other => other.as_str(),
        }
    }

    /// The hash of a digest scheme (MD5 or SHA-256); `None` for basic, MAC and unknown schemes.
    pub const fn digest_algorithm(&self) -> Option<HashAlgorithm> {
        match self {
            AuthScheme::Md5 => Some(HashAlgorithm::Md5),
            AuthScheme::Sha256 => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }

    /// Whether the scheme needs a nonce (`NextNonce` is mandatory in its `Chal`, digest §4).
    pub const fn uses_nonce(&self) -> bool {
        matches!(self, AuthScheme::Md5 | AuthScheme::Sha256 | AuthScheme::Mac)
    }

    /// Whether this scheme is weaker than `other` (digest §4; our ranking, `docs/dm13-decisions.md`):
    /// basic < MD5 digest < SHA-256 digest < HMAC. HMAC ranks above the digests because it covers
    /// every message body, not only the session start. Unknown schemes are not ranked (never weaker).
    pub fn is_weaker_than(&self, other: &AuthScheme) -> bool {
        matches!((self.rank(), other.rank()), (Some(a), Some(b)) if a < b)
    }

    /// The position of a supported scheme in the strength order of [`AuthScheme::is_weaker_than`].
    const fn rank(&self) -> Option<u8> {
        match self {
            AuthScheme::Basic => Some(0),
            AuthScheme::Md5 => Some(1),
            AuthScheme::Sha256 => Some(2),
            AuthScheme::Mac => Some(3),
            AuthScheme::Unknown(_) => None,
        }
    }

    /// Whether this crate can compute and verify the scheme.
    pub const fn is_supported(&self) -> bool {
        !matches!(self, AuthScheme::Unknown(_))
    }

    /// The value a DMAcc `AAuthType` or `AAuthPref` leaf holds for this scheme (DM StdObj 1.2
    /// §5.3: `BASIC`, `DIGEST`, `HMAC`; SHA-256 per [`SHA256_AAUTH_TYPE`]). Client and server
    /// both write accounts with it, so a bootstrapped device uses the scheme its server expects.
    pub fn dmacc_aauth_type(&self) -> &str {
        match self {
            AuthScheme::Basic => "BASIC",
            AuthScheme::Md5 => "DIGEST",
            AuthScheme::Sha256 => SHA256_AAUTH_TYPE,
            AuthScheme::Mac => "HMAC",
            AuthScheme::Unknown(s) => s,
        }
    }

    /// The DMAcc `AAuthType` for this scheme with the HMAC hash spelled out: `HMAC-SHA256`
    /// ([`HMAC_SHA256_AAUTH_TYPE`]) for SHA-256 HMAC, else [`AuthScheme::dmacc_aauth_type`].
    pub fn dmacc_aauth_type_with_hmac(&self, hmac: HashAlgorithm) -> &str {
        match (self, hmac) {
            (AuthScheme::Mac, HashAlgorithm::Sha256) => HMAC_SHA256_AAUTH_TYPE,
            _ => self.dmacc_aauth_type(),
        }
    }

    /// The HMAC hash a DMAcc `AAuthType` names: SHA-256 for `HMAC-SHA256` (and `HMAC-SHA-256`),
    /// MD5 otherwise (DMAcc 1.2's `HMAC`).
    pub fn dmacc_hmac_algorithm(text: &str) -> HashAlgorithm {
        match text.trim().to_ascii_uppercase().as_str() {
            HMAC_SHA256_AAUTH_TYPE | "HMAC-SHA-256" => HashAlgorithm::Sha256,
            _ => HashAlgorithm::Md5,
        }
    }

    /// The scheme a DMAcc `AAuthType` names, also in its Client Provisioning spellings
    /// (`HTTP-BASIC`, `HTTP-DIGEST`); `None` for types no DM credential scheme covers (e.g.
    /// `X509`, `TRANSPORT`).
    pub fn from_dmacc_aauth_type(text: &str) -> Option<AuthScheme> {
        let upper = text.trim().to_ascii_uppercase();
        match upper.as_str() {
            "BASIC" | "HTTP-BASIC" => Some(AuthScheme::Basic),
            "DIGEST" | "HTTP-DIGEST" | "MD5" => Some(AuthScheme::Md5),
            "HMAC" | "HMAC-MD5" | HMAC_SHA256_AAUTH_TYPE | "HMAC-SHA-256" => Some(AuthScheme::Mac),
            t if t == SHA256_AAUTH_TYPE || SHA256_AAUTH_TYPE_ALIASES.contains(&t) => Some(AuthScheme::Sha256),
            _ => None,
        }
    }
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuthScheme {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(AuthScheme::parse(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmacc_aauth_types_round_trip_and_accept_cp_spellings() {
        for scheme in [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Sha256, AuthScheme::Mac] {
            assert_eq!(AuthScheme::from_dmacc_aauth_type(scheme.dmacc_aauth_type()), Some(scheme));
        }
        assert_eq!(AuthScheme::from_dmacc_aauth_type("http-digest"), Some(AuthScheme::Md5));
        assert_eq!(AuthScheme::from_dmacc_aauth_type("HTTP-BASIC"), Some(AuthScheme::Basic));
        assert_eq!(AuthScheme::from_dmacc_aauth_type(" sha-256 "), Some(AuthScheme::Sha256));
        assert_eq!(AuthScheme::from_dmacc_aauth_type("X509"), None);
        assert_eq!(AuthScheme::from_dmacc_aauth_type("hmac-sha256"), Some(AuthScheme::Mac));
        assert_eq!(AuthScheme::dmacc_hmac_algorithm("hmac-sha256"), HashAlgorithm::Sha256);
        assert_eq!(AuthScheme::dmacc_hmac_algorithm("HMAC"), HashAlgorithm::Md5);
        assert_eq!(AuthScheme::Mac.dmacc_aauth_type_with_hmac(HashAlgorithm::Sha256), "HMAC-SHA256");
        assert_eq!(AuthScheme::Md5.dmacc_aauth_type_with_hmac(HashAlgorithm::Sha256), "DIGEST");
    }

    #[test]
    fn parses_the_12_types_case_insensitively() {
        assert_eq!(AuthScheme::parse("syncml:auth-basic"), AuthScheme::Basic);
        assert_eq!(AuthScheme::parse(" SyncML:Auth-MD5 "), AuthScheme::Md5);
        assert_eq!(AuthScheme::parse("syncml:auth-MAC"), AuthScheme::Mac);
        assert_eq!(AuthScheme::parse("syncml:auth-mac"), AuthScheme::Mac);
    }

    #[test]
    fn accepts_sha256_spellings_and_sends_one() {
        for s in [
            "syncml:auth-SHA256",
            "syncml:auth-sha256",
            "syncml:auth-SHA-256",
            "syncml:auth-sha_256",
            "syncml:auth-SHA2-256",
        ] {
            assert_eq!(AuthScheme::parse(s), AuthScheme::Sha256, "{s}");
        }
        assert_eq!(AuthScheme::Sha256.to_string(), "syncml:auth-SHA256");
    }

    #[test]
    fn unknown_types_are_kept_not_guessed() {
        let s = AuthScheme::parse("syncml:auth-SHA-512");
        assert_eq!(s, AuthScheme::Unknown("syncml:auth-SHA-512".into()));
        assert_eq!(s.as_str(), "syncml:auth-SHA-512");
        assert!(!s.is_supported());
        assert_eq!(AuthScheme::parse("md5"), AuthScheme::Unknown("md5".into()));
        assert_eq!(AuthScheme::parse("syncml:auth-X509").digest_algorithm(), None);
    }

    #[test]
    fn profile_can_respell_sha256_only() {
        let profile = Dm13Profile { sha256_cred_type: "syncml:auth-sha-256".into(), ..Dm13Profile::default() };
        assert_eq!(AuthScheme::Sha256.meta_type_in(&profile), "syncml:auth-sha-256");
        assert_eq!(AuthScheme::Md5.meta_type_in(&profile), "syncml:auth-md5");
    }

    #[test]
    fn strength_order_is_basic_md5_sha256_mac() {
        let order = [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Sha256, AuthScheme::Mac];
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                assert_eq!(a.is_weaker_than(b), i < j, "{a} vs {b}");
            }
        }
        let x509 = AuthScheme::parse("syncml:auth-X509");
        assert!(!x509.is_weaker_than(&AuthScheme::Basic) && !AuthScheme::Basic.is_weaker_than(&x509));
    }

    #[test]
    fn canonical_forms_parse_back() {
        for s in [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Sha256, AuthScheme::Mac] {
            assert_eq!(AuthScheme::parse(s.as_str()), s);
        }
    }
}
