//! `Cred` and `Chal`: computing and verifying the SyncHdr credentials (DM Security 1.2 §5, digest §4;
//! the SHA-256 scheme per [`crate::dm13`]).

use std::fmt;

use crate::algorithm::{b64_decode, b64_encode, ct_eq};
use crate::error::AuthError;
use crate::nonce::Nonce;
use crate::scheme::AuthScheme;

/// The only `Meta Format` the DM credential schemes use.
pub const CRED_FORMAT: &str = "b64";

/// A shared secret (`AAuthSecret`). Its `Debug` form never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret holding these bytes (DMAcc secrets are text; any bytes are accepted).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// The secret's bytes, as hashed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.as_bytes().to_vec())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One direction of a DM account: the name and secret one side proves and the other checks
/// (DMAcc `AppAuth/<x>` with AAuthLevel CLCRED or SRVCRED: `AAuthName`, `AAuthSecret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCredentials {
    /// `AAuthName`: the user name (for MD5/HMAC also the SyncHdr Source LocName).
    pub name: String,
    /// `AAuthSecret`.
    pub secret: Secret,
}

impl AccountCredentials {
    /// Credentials from a name and a secret.
    pub fn new(name: impl Into<String>, secret: impl Into<Secret>) -> AccountCredentials {
        AccountCredentials { name: name.into(), secret: secret.into() }
    }
}

/// A SyncHdr `Cred`: the scheme from its `Meta Type` and its `Data` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The scheme (`Meta Type`).
    pub scheme: AuthScheme,
    /// The `Data` text (base64).
    pub data: String,
}

impl Credential {
    /// Computes the `Cred` a prover sends for `scheme` (client: CLCRED with the server's nonce;
    /// server: SRVCRED with the client's nonce). Basic ignores the nonce.
    pub fn compute(scheme: &AuthScheme, account: &AccountCredentials, nonce: &Nonce) -> Result<Credential, AuthError> {
        let data = match scheme {
            AuthScheme::Basic => {
                let mut plain = account.name.as_bytes().to_vec();
                plain.push(b':');
                plain.extend_from_slice(account.secret.as_bytes());
                b64_encode(&plain)
            }
            AuthScheme::Md5 | AuthScheme::Sha256 => b64_encode(&digest_of(scheme, account, nonce)?),
            AuthScheme::Mac => return Err(AuthError::MacInCred),
            AuthScheme::Unknown(s) => return Err(AuthError::UnsupportedScheme(s.clone())),
        };
        Ok(Credential { scheme: scheme.clone(), data })
    }

    /// Reads a received `Cred` from its `Meta Type`, `Meta Format` and `Data` (parse at the edge).
    ///
    /// An absent Type means basic; an absent Format means b64. Any other Format is refused.
    pub fn from_meta(meta_type: Option<&str>, format: Option<&str>, data: &str) -> Result<Credential, AuthError> {
        if let Some(f) = format {
            if !f.trim().eq_ignore_ascii_case(CRED_FORMAT) {
                return Err(AuthError::UnsupportedFormat(f.to_owned()));
            }
        }
        let scheme = meta_type.map_or_else(AuthScheme::default_for_cred, AuthScheme::parse);
        Ok(Credential { scheme, data: data.trim().to_owned() })
    }

    /// The `Meta Format` to send with this credential.
    pub const fn format(&self) -> &'static str {
        CRED_FORMAT
    }

    /// The user name inside a basic credential, so that a server can find the account before it
    /// verifies (digest schemes name the user in the SyncHdr Source LocName instead).
    pub fn basic_name(&self) -> Result<String, AuthError> {
        split_basic(&self.data).map(|(name, _)| name)
    }

    /// Verifies the credential against the account and the nonce the verifier issued, comparing
    /// in constant time. Errors say precisely why (wrong secret, bad encoding, wrong scheme).
    pub fn verify(&self, account: &AccountCredentials, nonce: &Nonce) -> Result<(), AuthError> {
        match &self.scheme {
            AuthScheme::Basic => {
                // Compared whole: a name may itself hold a `:` (DevIds such as `IMEI:...` are the
                // usual client user names), so splitting at the first `:` would misread it.
                split_basic(&self.data)?;
                let plain = b64_decode(&self.data).ok_or(AuthError::BadBase64 { what: "credential" })?;
                let mut expected = account.name.as_bytes().to_vec();
                expected.push(b':');
                expected.extend_from_slice(account.secret.as_bytes());
                if ct_eq(&plain, &expected) {
                    Ok(())
                } else {
                    Err(AuthError::CredentialMismatch { scheme: AuthScheme::Basic })
                }
            }
            AuthScheme::Md5 | AuthScheme::Sha256 => {
                let presented = b64_decode(&self.data).ok_or(AuthError::BadBase64 { what: "credential" })?;
                if ct_eq(&presented, &digest_of(&self.scheme, account, nonce)?) {
                    Ok(())
                } else {
                    Err(AuthError::CredentialMismatch { scheme: self.scheme.clone() })
                }
            }
            AuthScheme::Mac => Err(AuthError::MacInCred),
            AuthScheme::Unknown(s) => Err(AuthError::UnsupportedScheme(s.clone())),
        }
    }
}

/// The raw digest of a digest scheme: `H(B64(H(name ":" secret)) ":" nonce)`.
fn digest_of(scheme: &AuthScheme, account: &AccountCredentials, nonce: &Nonce) -> Result<Vec<u8>, AuthError> {
    let alg = scheme.digest_algorithm().ok_or_else(|| AuthError::UnsupportedScheme(scheme.to_string()))?;
    Ok(alg.chain(account.name.as_bytes(), account.secret.as_bytes(), nonce.as_bytes(), None))
}

/// Decodes a basic credential into its name and secret (split at the first `:`).
fn split_basic(data: &str) -> Result<(String, Vec<u8>), AuthError> {
    let plain = b64_decode(data).ok_or(AuthError::BadBase64 { what: "credential" })?;
    let colon = plain.iter().position(|&b| b == b':').ok_or(AuthError::MalformedBasic)?;
    let (name, rest) = plain.split_at(colon);
    let name = String::from_utf8(name.to_vec()).map_err(|_| AuthError::MalformedBasic)?;
    Ok((name, rest.get(1..).unwrap_or_default().to_vec()))
}

/// A `Chal`: the scheme the verifier wants and, for the nonce schemes, the `NextNonce`.
///
/// Sent with 401/407 to ask for (new) credentials, and with 212/200 to hand over the nonce for the
/// next session or message (digest §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme asked for (`Meta Type`).
    pub scheme: AuthScheme,
    /// The nonce to use next (`Meta NextNonce`), for MD5, SHA-256 and MAC.
    pub next_nonce: Option<Nonce>,
}

impl Challenge {
    /// Reads a received `Chal` from its `Meta Type`, `Format` and `NextNonce` text.
    ///
    /// An absent Type means basic. The Format only describes the NextNonce encoding, which is
    /// always base64 in practice, so it is accepted whatever it says.
    pub fn from_meta(meta_type: Option<&str>, next_nonce: Option<&str>) -> Challenge {
        Challenge {
            scheme: meta_type.map_or_else(AuthScheme::default_for_cred, AuthScheme::parse),
            next_nonce: next_nonce.map(Nonce::from_next_nonce),
        }
    }

    /// The `Meta Type` to send.
    pub fn meta_type(&self) -> &str {
        self.scheme.as_str()
    }

    /// The `Meta Format` to send.
    pub const fn format(&self) -> &'static str {
        CRED_FORMAT
    }

    /// The `Meta NextNonce` text to send, if any.
    pub fn next_nonce_text(&self) -> Option<String> {
        self.next_nonce.as_ref().map(Nonce::to_next_nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bruce() -> AccountCredentials {
        AccountCredentials::new("Bruce2", "OhBehave")
    }

    #[test]
    fn basic_round_trip_and_name() {
        let c = Credential::compute(&AuthScheme::Basic, &bruce(), &Nonce::default()).expect("basic");
        assert_eq!(c.data, "QnJ1Y2UyOk9oQmVoYXZl");
        assert_eq!(c.basic_name().as_deref(), Ok("Bruce2"));
        assert_eq!(c.verify(&bruce(), &Nonce::default()), Ok(()));
    }

    #[test]
    fn basic_secret_may_contain_colons() {
        let acct = AccountCredentials::new("u", "a:b");
        let c = Credential::compute(&AuthScheme::Basic, &acct, &Nonce::default()).expect("basic");
        assert_eq!(c.verify(&acct, &Nonce::default()), Ok(()));
    }

    #[test]
    fn basic_errors_are_precise() {
        let wrong = Credential { scheme: AuthScheme::Basic, data: "QnJ1Y2UyOldyb25n".into() };
        assert_eq!(
            wrong.verify(&bruce(), &Nonce::default()),
            Err(AuthError::CredentialMismatch { scheme: AuthScheme::Basic })
        );
        let no_colon = Credential { scheme: AuthScheme::Basic, data: b64_encode(b"nocolon") };
        assert_eq!(no_colon.verify(&bruce(), &Nonce::default()), Err(AuthError::MalformedBasic));
        let junk = Credential { scheme: AuthScheme::Basic, data: "***".into() };
        assert_eq!(junk.verify(&bruce(), &Nonce::default()), Err(AuthError::BadBase64 { what: "credential" }));
    }

    #[test]
    fn from_meta_defaults_and_refusals() {
        let c = Credential::from_meta(None, None, " QnJ1Y2UyOk9oQmVoYXZl\n").expect("cred");
        assert_eq!(c.scheme, AuthScheme::Basic);
        assert_eq!(c.data, "QnJ1Y2UyOk9oQmVoYXZl");
        assert_eq!(
            Credential::from_meta(Some("syncml:auth-md5"), Some("chr"), "x"),
            Err(AuthError::UnsupportedFormat("chr".into()))
        );
    }

    #[test]
    fn mac_and_unknown_schemes_are_not_creds() {
        let n = Nonce::default();
        assert_eq!(Credential::compute(&AuthScheme::Mac, &bruce(), &n), Err(AuthError::MacInCred));
        let x509 = AuthScheme::parse("syncml:auth-X509");
        assert_eq!(
            Credential::compute(&x509, &bruce(), &n),
            Err(AuthError::UnsupportedScheme("syncml:auth-X509".into()))
        );
    }

    #[test]
    fn challenge_from_meta() {
        let c = Challenge::from_meta(Some("syncml:auth-md5"), Some("MTIzNDU="));
        assert_eq!(c.scheme, AuthScheme::Md5);
        assert_eq!(c.next_nonce.as_ref().map(Nonce::as_bytes), Some(&b"12345"[..]));
        assert_eq!(c.next_nonce_text().as_deref(), Some("MTIzNDU="));
        assert_eq!(c.meta_type(), "syncml:auth-md5");
        assert_eq!(c.format(), "b64");
        assert_eq!(Challenge::from_meta(None, None).scheme, AuthScheme::Basic);
    }
}
