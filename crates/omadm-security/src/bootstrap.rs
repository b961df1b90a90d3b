//! Bootstrap message authentication (OMA Provisioning Bootstrap, used by DM Bootstrap 1.2 §5 and
//! unchanged in 1.3 as far as known; digest §8, dm13-digest §9).
//!
//! The MAC is HMAC-SHA1 over the exact WBXML bytes of the bootstrap document, sent as upper-case hex
//! in the Content-Type parameters `SEC=<method>;MAC=<hex>`. The key depends on the method:
//!
//! | SEC | key |
//! |---|---|
//! | NETWPIN (0) | the IMSI in GSM 11.11 semi-octet form |
//! | USERPIN (1) | the user PIN |
//! | USERNETWPIN (2) | IMSI semi-octets followed by the user PIN (see [`UserNetwPinKey`]) |
//! | USERPINMAC (3) | no MAC parameter: the PIN the user types is key digits ‖ MAC digits |

use hmac::{Hmac, Mac as _};
use sha1::Sha1;

use crate::algorithm::ct_eq;
use crate::error::BootstrapError;

/// The `SEC` parameter: how a bootstrap message is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecMethod {
    /// 0: keyed by the network (IMSI).
    NetwPin,
    /// 1: keyed by a PIN given to the user out of band.
    UserPin,
    /// 2: keyed by the IMSI and the user PIN.
    UserNetwPin,
    /// 3: the user PIN carries the MAC itself.
    UserPinMac,
}

impl SecMethod {
    /// The WSP `SEC` parameter value.
    pub const fn code(self) -> u8 {
        match self {
            SecMethod::NetwPin => 0,
            SecMethod::UserPin => 1,
            SecMethod::UserNetwPin => 2,
            SecMethod::UserPinMac => 3,
        }
    }

    /// The textual `SEC` value.
    pub const fn name(self) -> &'static str {
        match self {
            SecMethod::NetwPin => "NETWPIN",
            SecMethod::UserPin => "USERPIN",
            SecMethod::UserNetwPin => "USERNETWPIN",
            SecMethod::UserPinMac => "USERPINMAC",
        }
    }

    /// Parses a `SEC` value: its number (0–3) or its name, case-insensitively.
    pub fn parse(text: &str) -> Result<SecMethod, BootstrapError> {
        let t = text.trim();
        [SecMethod::NetwPin, SecMethod::UserPin, SecMethod::UserNetwPin, SecMethod::UserPinMac]
            .into_iter()
            .find(|m| t.eq_ignore_ascii_case(m.name()) || t == m.code().to_string())
            .ok_or_else(|| BootstrapError::UnknownMethod(t.to_owned()))
    }
}

/// An IMSI: 1 to 15 decimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Imsi(String);

impl Imsi {
    /// Checks and wraps an IMSI.
    pub fn new(digits: &str) -> Result<Imsi, BootstrapError> {
        let d = digits.trim();
        if d.is_empty() || d.len() > 15 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BootstrapError::BadImsi);
        }
        Ok(Imsi(d.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GSM 11.11 (EF-IMSI) semi-octet form used as key: a parity nibble (9 for an odd number
    /// of digits, 1 for even), the digits, an `F` filler for even counts, and each byte's two
    /// nibbles swapped. A 15-digit IMSI gives 8 bytes.
    pub fn semi_octets(&self) -> Vec<u8> {
        let mut nibbles: Vec<u8> = Vec::with_capacity(16);
        nibbles.push(if self.0.len() % 2 == 1 { 9 } else { 1 });
        nibbles.extend(self.0.bytes().map(|b| b - b'0'));
        if nibbles.len() % 2 == 1 {
            nibbles.push(0xf);
        }
        nibbles.chunks(2).map(|p| (p.get(1).copied().unwrap_or(0xf) << 4) | p[0]).collect()
    }
}

/// How the USERNETWPIN key joins the IMSI and the PIN.
///
/// Deployed code (a handset provisioning client and the Funambol server, digest §8) appends the
/// PIN to the IMSI semi-octets with nothing between them; the digest reads the DM Security text as
/// separating them with `:`. The first is the default because it is what devices check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserNetwPinKey {
    /// `semi_octets(IMSI) ‖ PIN`.
    #[default]
    Concatenated,
    /// `semi_octets(IMSI) ‖ ":" ‖ PIN`.
    ColonSeparated,
}

/// What a bootstrap MAC is keyed with.
#[derive(Debug, Clone, Copy, Default)]
pub struct BootstrapKey<'a> {
    /// The IMSI (NETWPIN, USERNETWPIN).
    pub imsi: Option<&'a Imsi>,
    /// The user PIN (USERPIN, USERNETWPIN).
    pub pin: Option<&'a str>,
    /// The USERNETWPIN key form.
    pub user_netw_pin: UserNetwPinKey,
}

impl BootstrapKey<'_> {
    /// The HMAC key for `method` (not USERPINMAC, whose key is inside the PIN).
    fn key_bytes(&self, method: SecMethod) -> Result<Vec<u8>, BootstrapError> {
        let name = method.name();
        let imsi = || self.imsi.map(Imsi::semi_octets).ok_or(BootstrapError::MissingImsi(name));
        let pin = || self.pin.map(|p| p.as_bytes().to_vec()).ok_or(BootstrapError::MissingPin(name));
        match method {
            SecMethod::NetwPin => imsi(),
            SecMethod::UserPin => pin(),
            SecMethod::UserNetwPin => {
                let mut key = imsi()?;
                if self.user_netw_pin == UserNetwPinKey::ColonSeparated {
                    key.push(b':');
                }
                key.extend(pin()?);
                Ok(key)
            }
            SecMethod::UserPinMac => Err(BootstrapError::BadUserPinMac),
        }
    }
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha1>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Computes the `MAC` parameter (upper-case hex HMAC-SHA1) for NETWPIN, USERPIN or USERNETWPIN.
/// For USERPINMAC use [`user_pin_mac`].
pub fn compute_mac(method: SecMethod, key: &BootstrapKey<'_>, wbxml: &[u8]) -> Result<String, BootstrapError> {
    let k = key.key_bytes(method)?;
    Ok(hmac_sha1(&k, wbxml).iter().map(|b| format!("{b:02X}")).collect())
}

/// Verifies a received `MAC` parameter (hex, either case) in constant time.
pub fn verify_mac(
    method: SecMethod,
    key: &BootstrapKey<'_>,
    wbxml: &[u8],
    mac_hex: &str,
) -> Result<(), BootstrapError> {
    let presented = decode_hex(mac_hex.trim()).ok_or(BootstrapError::BadMacHex)?;
    let expected = hmac_sha1(&key.key_bytes(method)?, wbxml);
    if ct_eq(&presented, &expected) {
        Ok(())
    } else {
        Err(BootstrapError::MacMismatch(method.name()))
    }
}

/// The USERPINMAC PIN for key digits `key_pin`: the key digits followed by as many MAC digits, each
/// being an HMAC-SHA1(key, WBXML) byte modulo 10 (the server shows this PIN to the user).
pub fn user_pin_mac(key_pin: &str, wbxml: &[u8]) -> Result<String, BootstrapError> {
    if key_pin.is_empty() || key_pin.len() > 20 || !key_pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BootstrapError::BadUserPinMac);
    }
    let mac = hmac_sha1(key_pin.as_bytes(), wbxml);
    let digits: String = mac.iter().take(key_pin.len()).map(|b| char::from(b'0' + b % 10)).collect();
    Ok(format!("{key_pin}{digits}"))
}

/// Verifies a USERPINMAC PIN the user typed: its first half keys the HMAC, its second half must be
/// the MAC digits.
pub fn verify_user_pin_mac(entered: &str, wbxml: &[u8]) -> Result<(), BootstrapError> {
    let e = entered.trim();
    if e.len() < 2 || e.len() % 2 != 0 || !e.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BootstrapError::BadUserPinMac);
    }
    let (key, _) = e.split_at(e.len() / 2);
    let expected = user_pin_mac(key, wbxml)?;
    if ct_eq(expected.as_bytes(), e.as_bytes()) {
        Ok(())
    } else {
        Err(BootstrapError::MacMismatch(SecMethod::UserPinMac.name()))
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).ok().and_then(|s| u8::from_str_radix(s, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semi_octets_for_odd_and_even_imsis() {
        let odd = Imsi::new("234150123456789").expect("imsi");
        assert_eq!(odd.semi_octets(), [0x29, 0x43, 0x51, 0x10, 0x32, 0x54, 0x76, 0x98]);
        let even = Imsi::new("23415012345678").expect("imsi");
        assert_eq!(even.semi_octets(), [0x21, 0x43, 0x51, 0x10, 0x32, 0x54, 0x76, 0xf8]);
    }

    #[test]
    fn imsi_must_be_digits() {
        assert_eq!(Imsi::new("12a"), Err(BootstrapError::BadImsi));
        assert_eq!(Imsi::new(""), Err(BootstrapError::BadImsi));
        assert_eq!(Imsi::new("1234567890123456"), Err(BootstrapError::BadImsi));
    }

    #[test]
    fn sec_method_names_and_codes() {
        assert_eq!(SecMethod::parse("usernetwpin"), Ok(SecMethod::UserNetwPin));
        assert_eq!(SecMethod::parse("3"), Ok(SecMethod::UserPinMac));
        assert_eq!(SecMethod::parse("4"), Err(BootstrapError::UnknownMethod("4".into())));
        assert_eq!(SecMethod::NetwPin.code(), 0);
    }

    #[test]
    fn missing_key_material_is_reported() {
        let key = BootstrapKey::default();
        assert_eq!(compute_mac(SecMethod::NetwPin, &key, b"x"), Err(BootstrapError::MissingImsi("NETWPIN")));
        assert_eq!(compute_mac(SecMethod::UserPin, &key, b"x"), Err(BootstrapError::MissingPin("USERPIN")));
        assert_eq!(compute_mac(SecMethod::UserPinMac, &key, b"x"), Err(BootstrapError::BadUserPinMac));
    }

    #[test]
    fn mac_round_trip_and_refusals() {
        let imsi = Imsi::new("234150123456789").expect("imsi");
        for form in [UserNetwPinKey::Concatenated, UserNetwPinKey::ColonSeparated] {
            let key = BootstrapKey { imsi: Some(&imsi), pin: Some("1234"), user_netw_pin: form };
            for m in [SecMethod::NetwPin, SecMethod::UserPin, SecMethod::UserNetwPin] {
                let mac = compute_mac(m, &key, b"doc").expect("mac");
                assert_eq!(mac.len(), 40);
                assert_eq!(verify_mac(m, &key, b"doc", &mac.to_lowercase()), Ok(()));
                assert_eq!(verify_mac(m, &key, b"doc2", &mac), Err(BootstrapError::MacMismatch(m.name())));
            }
            assert_eq!(verify_mac(SecMethod::UserPin, &key, b"doc", "zz"), Err(BootstrapError::BadMacHex));
        }
    }

    #[test]
    fn user_pin_mac_round_trip() {
        let pin = user_pin_mac("1234", b"doc").expect("pin");
        assert_eq!(pin.len(), 8);
        assert_eq!(verify_user_pin_mac(&pin, b"doc"), Ok(()));
        assert_eq!(verify_user_pin_mac(&pin, b"doc!"), Err(BootstrapError::MacMismatch("USERPINMAC")));
        assert_eq!(verify_user_pin_mac("123", b"doc"), Err(BootstrapError::BadUserPinMac));
        assert_eq!(user_pin_mac("12a4", b"doc"), Err(BootstrapError::BadUserPinMac));
    }
}
