//! The hash functions of the SyncML DM credential formulas and the one "digest chain" they share.
//!
//! DM Security 1.2 §5 (digest §4) builds every keyed value the same way:
//! `H( B64(H(name ":" secret)) ":" nonce [":" B64(H(body))] )`. MD5 is the 1.2 hash; SHA-256 is the
//! DM 1.3 reading (see [`crate::dm13`]). Keeping the chain in one function means the MD5 Cred, the
//! HMAC header and the Package #0 digest cannot drift apart.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// A hash function usable in the DM credential formulas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// MD5 (128-bit): `syncml:auth-md5`, HMAC `algorithm=MD5`, the Package #0 digest (DM 1.2).
    Md5,
    /// SHA-256 (256-bit): the DM 1.3 variants (our reading, [`crate::dm13`]).
    Sha256,
}

impl HashAlgorithm {
    /// Length in bytes of this hash's output (16 for MD5, 32 for SHA-256).
    pub const fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Md5 => 16,
            HashAlgorithm::Sha256 => 32,
        }
    }

    /// The algorithm whose output is `len` bytes long, if any.
    pub const fn from_output_len(len: usize) -> Option<Self> {
        match len {
            16 => Some(HashAlgorithm::Md5),
            32 => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }

    /// Hashes the concatenation of `parts`.
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            HashAlgorithm::Md5 => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
            HashAlgorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
        }
    }

    /// `B64(H(parts))`, the base64 text of a hash, as the formulas embed it.
    pub fn hash_b64(self, parts: &[&[u8]]) -> String {
        STANDARD.encode(self.hash(parts))
    }

    /// The digest chain of DM Security (digest §4/§5) as raw hash bytes:
    /// `H( B64(H(name ":" secret)) ":" nonce [":" B64(H(body))] )`.
    ///
    /// `body` is `None` for the MD5/SHA-256 Cred and `Some(bytes)` for the HMAC header (the message
    /// body) and for Package #0 (the trigger).
    pub fn chain(self, name: &[u8], secret: &[u8], nonce: &[u8], body: Option<&[u8]>) -> Vec<u8> {
        let inner = self.hash_b64(&[name, b":", secret]);
        match body {
            None => self.hash(&[inner.as_bytes(), b":", nonce]),
            Some(body) => {
                let body_hash = self.hash_b64(&[body]);
                self.hash(&[inner.as_bytes(), b":", nonce, b":", body_hash.as_bytes()])
            }
        }
    }
}

impl std::fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Sha256 => "SHA-256",
        })
    }
}

/// Compares two byte strings in time independent of their contents (the length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Standard base64 encoding with padding, the only form DM writes.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Base64 decoding that tolerates what peers send: surrounding or embedded ASCII white space
/// (line-wrapped Data) and missing padding. Returns `None` when the text is not base64.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let trimmed = compact.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lengths_match_hashes() {
        for alg in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
            assert_eq!(alg.hash(&[b"x"]).len(), alg.output_len());
            assert_eq!(HashAlgorithm::from_output_len(alg.output_len()), Some(alg));
        }
        assert_eq!(HashAlgorithm::from_output_len(20), None);
    }

    #[test]
    fn display_names() {
        assert_eq!(HashAlgorithm::Md5.to_string(), "MD5");
        assert_eq!(HashAlgorithm::Sha256.to_string(), "SHA-256");
    }

    #[test]
    fn hash_of_parts_is_hash_of_concatenation() {
        let a = HashAlgorithm::Sha256.hash(&[b"ab", b"", b"c"]);
        assert_eq!(a, HashAlgorithm::Sha256.hash(&[b"abc"]));
    }

    #[test]
    fn ct_eq_compares_contents_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn b64_decode_is_tolerant_but_not_lax() {
        assert_eq!(b64_decode("AAAA AA==\n").as_deref(), Some(&[0u8, 0, 0, 0][..]));
        assert_eq!(b64_decode("AAAAAA").as_deref(), Some(&[0u8, 0, 0, 0][..]));
        assert_eq!(b64_decode("not base64!"), None);
    }
}
