//! Nonces: generation, the wire form of `NextNonce`, and the reset nonce (digest §4, §5).
//!
//! A nonce is raw bytes. On the wire (`Meta NextNonce`) it is base64 text and the formulas hash the
//! **decoded** bytes; a stored nonce lives in DMAcc `AppAuth/<x>/AAuthData` (Format bin).

use std::fmt;

use thiserror::Error;

use crate::algorithm::{b64_decode, b64_encode};

/// Size of the nonces we generate: 16 bytes = 128 bits, the minimum DM Security asks for.
pub const NONCE_LEN: usize = 16;

/// The three spellings of the reset nonce `0x00000000` seen in peers (digest §5): four zero bytes
/// (the base64-decoded `AAAAAA==`), the ASCII text `0x00000000` (libdmclient) and the undecoded
/// ASCII text `AAAAAA==` (a client that hashes the base64 text as is).
pub const RESET_NONCE_SPELLINGS: [&[u8]; 3] = [&[0, 0, 0, 0], b"0x00000000", b"AAAAAA=="];

/// Failure to obtain random bytes from the operating system.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("the operating system random number generator failed: {0}")]
pub struct NonceError(pub String);

/// A nonce: the raw bytes hashed into a credential or digest.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Nonce(Vec<u8>);

impl Nonce {
    /// A nonce holding exactly these bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Nonce {
        Nonce(bytes.into())
    }

    /// The nonce a `NextNonce` element carries: the base64-decoded bytes of its text.
    ///
    /// Text that is not base64 is taken as its raw bytes, as deployed clients do (digest §4: MOT
    /// falls back to the raw string); the nonce is not secret, so this tolerance costs nothing.
    pub fn from_next_nonce(text: &str) -> Nonce {
        match b64_decode(text) {
            Some(bytes) => Nonce(bytes),
            None => Nonce(text.as_bytes().to_vec()),
        }
    }

    /// The text to put in `NextNonce`: the standard base64 of the bytes.
    pub fn to_next_nonce(&self) -> String {
        b64_encode(&self.0)
    }

    /// The raw bytes, as hashed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The reset nonce in its canonical form (four zero bytes).
    pub fn reset() -> Nonce {
        Nonce(vec![0; 4])
    }

    /// Whether these bytes are one of the [`RESET_NONCE_SPELLINGS`].
    pub fn is_reset(&self) -> bool {
        RESET_NONCE_SPELLINGS.contains(&self.0.as_slice())
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.to_next_nonce())
    }
}

/// A source of fresh nonces, so that state machines can be driven deterministically in tests.
pub trait NonceSource {
    /// Returns a new unpredictable nonce of at least 128 bits.
    fn next_nonce(&mut self) -> Result<Nonce, NonceError>;
}

/// The operating system's CSPRNG (via `getrandom`): the source to use in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsNonceSource;

impl NonceSource for OsNonceSource {
    fn next_nonce(&mut self) -> Result<Nonce, NonceError> {
        generate()
    }
}

/// Generates a fresh [`NONCE_LEN`]-byte nonce from the operating system's CSPRNG.
pub fn generate() -> Result<Nonce, NonceError> {
    let mut bytes = vec![0u8; NONCE_LEN];
    getrandom::fill(&mut bytes).map_err(|e| NonceError(e.to_string()))?;
    Ok(Nonce(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_nonces_are_128_bits_and_differ() {
        let a = generate().expect("rng");
        let b = generate().expect("rng");
        assert_eq!(a.as_bytes().len(), 16);
        assert_ne!(a, b);
        assert!(!a.is_reset());
    }

    #[test]
    fn next_nonce_is_decoded_from_base64() {
        assert_eq!(Nonce::from_next_nonce("MTIzNDU=").as_bytes(), b"12345");
        assert_eq!(Nonce::from_next_nonce("MTIzNDU=").to_next_nonce(), "MTIzNDU=");
    }

    #[test]
    fn non_base64_next_nonce_is_taken_raw() {
        assert_eq!(Nonce::from_next_nonce("0x00000000!").as_bytes(), b"0x00000000!");
    }

    #[test]
    fn reset_nonce_in_all_three_spellings() {
        assert!(Nonce::reset().is_reset());
        assert!(Nonce::from_next_nonce("AAAAAA==").is_reset());
        assert!(Nonce::from_bytes(b"0x00000000".to_vec()).is_reset());
        assert!(Nonce::from_bytes(b"AAAAAA==".to_vec()).is_reset());
        assert!(!Nonce::from_bytes(vec![0, 0, 0]).is_reset());
    }
}
