//! The `x-syncml-hmac` transport header of `syncml:auth-MAC` (DM Security 1.2 §5.5, digest §4;
//! the SHA-256 variant per [`crate::dm13`]).
//!
//! `mac = B64(H(B64(H(name ":" secret)) ":" nonce ":" B64(H(body))))` over the **exact** bytes of the
//! message body as sent (XML or WBXML), so the header must be computed after encoding and checked
//! before decoding. The header is the same on HTTP, WSP and OBEX.

use std::fmt::Write as _;

use crate::algorithm::{b64_decode, b64_encode, ct_eq, HashAlgorithm};
use crate::cred::AccountCredentials;
use crate::dm13::{Dm13Profile, HMAC_SHA256_TOKEN_ALIASES};
use crate::error::AuthError;
use crate::nonce::Nonce;
use crate::scheme::AuthScheme;

/// The transport header name (HTTP header names are case-insensitive).
pub const HMAC_HEADER_NAME: &str = "x-syncml-hmac";

/// A parsed or computed `x-syncml-hmac` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacHeader {
    /// The hash (`algorithm=`, MD5 when absent).
    pub algorithm: HashAlgorithm,
    /// `username=`: the SyncHdr Source LocName of the sender.
    pub username: String,
    /// `mac=`: the base64 MAC text.
    pub mac: String,
}

impl HmacHeader {
    /// Computes the header for a message body the sender is about to send.
    pub fn compute(algorithm: HashAlgorithm, account: &AccountCredentials, nonce: &Nonce, body: &[u8]) -> HmacHeader {
        let mac = algorithm.chain(account.name.as_bytes(), account.secret.as_bytes(), nonce.as_bytes(), Some(body));
        HmacHeader { algorithm, username: account.name.clone(), mac: b64_encode(&mac) }
    }

    /// Verifies the header against the account, the nonce the verifier issued and the exact body
    /// bytes received. The username must equal the account name; the MAC is compared in constant time.
    pub fn verify(&self, account: &AccountCredentials, nonce: &Nonce, body: &[u8]) -> Result<(), AuthError> {
        if self.username != account.name {
            return Err(AuthError::HmacUsernameMismatch { expected: account.name.clone(), got: self.username.clone() });
        }
        let presented = b64_decode(&self.mac).ok_or(AuthError::BadBase64 { what: "HMAC" })?;
        let expected =
            self.algorithm.chain(account.name.as_bytes(), account.secret.as_bytes(), nonce.as_bytes(), Some(body));
        if ct_eq(&presented, &expected) {
            Ok(())
        } else {
            Err(AuthError::CredentialMismatch { scheme: AuthScheme::Mac })
        }
    }

    /// The header value with the canonical algorithm tokens (`MD5`, and SHA-256 per [`crate::dm13`]).
    pub fn to_value(&self) -> String {
        self.to_value_in(&Dm13Profile::default())
    }

    /// The header value, spelling SHA-256 as the profile says.
    pub fn to_value_in(&self, profile: &Dm13Profile) -> String {
        let token = match self.algorithm {
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Sha256 => profile.hmac_sha256_token.as_str(),
        };
        let mut out = format!("algorithm={token}, username=\"");
        for c in self.username.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "\", mac={}", self.mac);
        out
    }

    /// Parses a header value: comma-separated `name=value` parameters, names case-insensitive,
    /// values plain or double-quoted (with `\` escapes). `username` and `mac` are mandatory,
    /// `algorithm` defaults to MD5; unknown parameters are ignored, repeated ones refused.
    pub fn parse(value: &str) -> Result<HmacHeader, AuthError> {
        if value.trim().is_empty() {
            return Err(AuthError::HmacEmpty);
        }
        let mut algorithm = None;
        let mut username = None;
        let mut mac = None;
        for (name, val) in parse_params(value)? {
            let slot = match name.to_ascii_lowercase().as_str() {
                "algorithm" => &mut algorithm,
                "username" => &mut username,
                "mac" => &mut mac,
                _ => continue,
            };
            if slot.is_some() {
                return Err(AuthError::HmacDuplicateParameter(name));
            }
            *slot = Some(val);
        }
        let algorithm = match algorithm {
            None => HashAlgorithm::Md5,
            Some(a) => parse_algorithm(&a)?,
        };
        Ok(HmacHeader {
            algorithm,
            username: username.ok_or(AuthError::HmacMissingParameter("username"))?,
            mac: mac.ok_or(AuthError::HmacMissingParameter("mac"))?,
        })
    }
}

/// Maps an `algorithm=` token to a hash: `MD5`, or a SHA-256 spelling from [`crate::dm13`].
fn parse_algorithm(token: &str) -> Result<HashAlgorithm, AuthError> {
    let lower = token.trim().to_ascii_lowercase();
    if lower == "md5" {
        Ok(HashAlgorithm::Md5)
    } else if HMAC_SHA256_TOKEN_ALIASES.contains(&lower.as_str()) {
        Ok(HashAlgorithm::Sha256)
    } else {
        Err(AuthError::HmacUnknownAlgorithm(token.to_owned()))
    }
}

/// Splits `a=b, c="d"` into name/value pairs.
fn parse_params(value: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut out = Vec::new();
    let mut chars = value.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace() || *c == ',').is_some() {}
        let Some(&(start, _)) = chars.peek() else { break };
        // Name: up to '='.
        let mut name_end = None;
        for (i, c) in chars.by_ref() {
            if c == '=' {
                name_end = Some(i);
                break;
            }
            if c == ',' {
                break;
            }
        }
        let Some(name_end) = name_end else {
            let bad: String = value[start..].split(',').next().unwrap_or_default().to_owned();
            return Err(AuthError::HmacMalformedParameter(bad.trim().to_owned()));
        };
        let name = value[start..name_end].trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(AuthError::HmacMalformedParameter(value[start..=name_end].trim().to_owned()));
        }
        while chars.next_if(|(_, c)| *c == ' ' || *c == '\t').is_some() {}
        let mut val = String::new();
        if chars.next_if(|(_, c)| *c == '"').is_some() {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, escaped)) => val.push(escaped),
                        None => break,
                    },
                    other => val.push(other),
                }
            }
            if !closed {
                return Err(AuthError::HmacUnterminatedQuote);
            }
            while chars.next_if(|(_, c)| *c == ' ' || *c == '\t').is_some() {}
            if chars.next_if(|(_, c)| *c != ',').is_some() {
                return Err(AuthError::HmacMalformedParameter(name.to_owned()));
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| *c != ',') {
                val.push(c);
            }
            val = val.trim().to_owned();
        }
        out.push((name.to_owned(), val));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bruce() -> AccountCredentials {
        AccountCredentials::new("Bruce2", "OhBehave")
    }

    #[test]
    fn build_then_parse_then_verify() {
        let n = Nonce::from_bytes(b"Nonce".to_vec());
        for alg in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
            let h = HmacHeader::compute(alg, &bruce(), &n, b"<SyncML/>");
            let parsed = HmacHeader::parse(&h.to_value()).expect("parse");
            assert_eq!(parsed, h);
            assert_eq!(parsed.verify(&bruce(), &n, b"<SyncML/>"), Ok(()));
            assert_eq!(
                parsed.verify(&bruce(), &n, b"<SyncML />"),
                Err(AuthError::CredentialMismatch { scheme: AuthScheme::Mac })
            );
        }
    }

    #[test]
    fn rendering_is_canonical() {
        let h = HmacHeader { algorithm: HashAlgorithm::Md5, username: "a\"b".into(), mac: "AA==".into() };
        assert_eq!(h.to_value(), r#"algorithm=MD5, username="a\"b", mac=AA=="#);
        let s = HmacHeader { algorithm: HashAlgorithm::Sha256, ..h };
        assert!(s.to_value().starts_with("algorithm=SHA-256, "));
        let p = Dm13Profile { hmac_sha256_token: "SHA256".into(), ..Dm13Profile::default() };
        assert!(s.to_value_in(&p).starts_with("algorithm=SHA256, "));
    }

    #[test]
    fn parse_is_liberal_where_safe() {
        let h = HmacHeader::parse("Username=bob,MAC=QUJD , extra=\"x,y\"").expect("parse");
        assert_eq!(h.algorithm, HashAlgorithm::Md5);
        assert_eq!(h.username, "bob");
        assert_eq!(h.mac, "QUJD");
        let s = HmacHeader::parse("algorithm=sha256, username=bob, mac=QUJD").expect("parse");
        assert_eq!(s.algorithm, HashAlgorithm::Sha256);
        let q = HmacHeader::parse("algorithm=\"MD5\", username=\"bob\", mac=\"QUJD\"").expect("parse");
        assert_eq!(q.mac, "QUJD");
    }

    #[test]
    fn malformed_headers_are_refused_precisely() {
        assert_eq!(HmacHeader::parse("  "), Err(AuthError::HmacEmpty));
        assert_eq!(HmacHeader::parse("algorithm=MD5, username=\"bob, mac=QUJD"), Err(AuthError::HmacUnterminatedQuote));
        assert_eq!(HmacHeader::parse("username=bob, mac"), Err(AuthError::HmacMalformedParameter("mac".into())));
        assert_eq!(
            HmacHeader::parse("username=bob, username=eve, mac=QUJD"),
            Err(AuthError::HmacDuplicateParameter("username".into()))
        );
        assert_eq!(HmacHeader::parse("mac=QUJD"), Err(AuthError::HmacMissingParameter("username")));
        assert_eq!(HmacHeader::parse("username=bob"), Err(AuthError::HmacMissingParameter("mac")));
        assert_eq!(
            HmacHeader::parse("algorithm=SHA-1, username=bob, mac=QUJD"),
            Err(AuthError::HmacUnknownAlgorithm("SHA-1".into()))
        );
        assert_eq!(
            HmacHeader::parse("username=\"bob\"x, mac=QUJD"),
            Err(AuthError::HmacMalformedParameter("username".into()))
        );
        assert_eq!(
            HmacHeader::parse("user name=bob, mac=QUJD"),
            Err(AuthError::HmacMalformedParameter("user name=".into()))
        );
    }

    #[test]
    fn verify_refuses_other_user_and_bad_base64() {
        let n = Nonce::default();
        let mut h = HmacHeader::compute(HashAlgorithm::Md5, &bruce(), &n, b"x");
        h.username = "eve".into();
        assert!(matches!(h.verify(&bruce(), &n, b"x"), Err(AuthError::HmacUsernameMismatch { .. })));
        let bad = HmacHeader { algorithm: HashAlgorithm::Md5, username: "Bruce2".into(), mac: "!!".into() };
        assert_eq!(bad.verify(&bruce(), &n, b"x"), Err(AuthError::BadBase64 { what: "HMAC" }));
    }
}
