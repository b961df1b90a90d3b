//! PROV 1.0 WBXML token tables (WAP-183 §7 and OMA ProvCont 1.1 §7; the same assignments libwbxml
//! uses): tag tokens, attribute-start tokens (a name, optionally with a value prefix) and
//! attribute-value tokens, each on code page 0 or 1.

/// Tag token of `wap-provisioningdoc` (pages 0 and 1).
pub(super) const TAG_DOC: u8 = 0x05;
/// Tag token of `characteristic` (pages 0 and 1).
pub(super) const TAG_CHARACTERISTIC: u8 = 0x06;
/// Tag token of `parm` (pages 0 and 1).
pub(super) const TAG_PARM: u8 = 0x07;

/// An attribute-start token: `(page, token, attribute name, value prefix)`.
pub(super) type AttrStart = (u8, u8, &'static str, Option<&'static str>);

/// Every attribute-start token of PROV 1.0 (page 0) and the OMA additions (page 1).
pub(super) const ATTR_STARTS: &[AttrStart] = &[
    (0, 0x45, "version", None),
    (0, 0x46, "version", Some("1.0")),
    (0, 0x50, "type", None),
    (0, 0x51, "type", Some("PXLOGICAL")),
    (0, 0x52, "type", Some("PXPHYSICAL")),
    (0, 0x53, "type", Some("PORT")),
    (0, 0x54, "type", Some("VALIDITY")),
    (0, 0x55, "type", Some("NAPDEF")),
    (0, 0x56, "type", Some("BOOTSTRAP")),
    (0, 0x57, "type", Some("VENDORCONFIG")),
    (0, 0x58, "type", Some("CLIENTIDENTITY")),
    (0, 0x59, "type", Some("PXAUTHINFO")),
    (0, 0x5a, "type", Some("NAPAUTHINFO")),
    (0, 0x5b, "type", Some("ACCESS")),
    (1, 0x50, "type", None),
    (1, 0x53, "type", Some("PORT")),
    (1, 0x58, "type", Some("CLIENTIDENTITY")),
    (1, 0x55, "type", Some("APPLICATION")),
    (1, 0x56, "type", Some("APPADDR")),
    (1, 0x57, "type", Some("APPAUTH")),
    (1, 0x59, "type", Some("RESOURCE")),
    (0, 0x05, "name", None),
    (0, 0x06, "value", None),
    (0, 0x07, "name", Some("NAME")),
    (0, 0x08, "name", Some("NAP-ADDRESS")),
    (0, 0x09, "name", Some("NAP-ADDRTYPE")),
    (0, 0x0a, "name", Some("CALLTYPE")),
    (0, 0x0b, "name", Some("VALIDUNTIL")),
    (0, 0x0c, "name", Some("AUTHTYPE")),
    (0, 0x0d, "name", Some("AUTHNAME")),
    (0, 0x0e, "name", Some("AUTHSECRET")),
    (0, 0x0f, "name", Some("LINGER")),
    (0, 0x10, "name", Some("BEARER")),
    (0, 0x11, "name", Some("NAPID")),
    (0, 0x12, "name", Some("COUNTRY")),
    (0, 0x13, "name", Some("NETWORK")),
    (0, 0x14, "name", Some("INTERNET")),
    (0, 0x15, "name", Some("PROXY-ID")),
    (0, 0x16, "name", Some("PROXY-PROVIDER-ID")),
    (0, 0x17, "name", Some("DOMAIN")),
    (0, 0x18, "name", Some("PROVURL")),
    (0, 0x19, "name", Some("PXAUTH-TYPE")),
    (0, 0x1a, "name", Some("PXAUTH-ID")),
    (0, 0x1b, "name", Some("PXAUTH-PW")),
    (0, 0x1c, "name", Some("STARTPAGE")),
    (0, 0x1d, "name", Some("BASAUTH-ID")),
    (0, 0x1e, "name", Some("BASAUTH-PW")),
    (0, 0x1f, "name", Some("PUSHENABLED")),
    (0, 0x20, "name", Some("PXADDR")),
    (0, 0x21, "name", Some("PXADDRTYPE")),
    (0, 0x22, "name", Some("TO-NAPID")),
    (0, 0x23, "name", Some("PORTNBR")),
    (0, 0x24, "name", Some("SERVICE")),
    (0, 0x25, "name", Some("LINKSPEED")),
    (0, 0x26, "name", Some("DNLINKSPEED")),
    (0, 0x27, "name", Some("LOCAL-ADDR")),
    (0, 0x28, "name", Some("LOCAL-ADDRTYPE")),
    (0, 0x29, "name", Some("CONTEXT-ALLOW")),
    (0, 0x2a, "name", Some("TRUST")),
    (0, 0x2b, "name", Some("MASTER")),
    (0, 0x2c, "name", Some("SID")),
    (0, 0x2d, "name", Some("SOC")),
    (0, 0x2e, "name", Some("WSP-VERSION")),
    (0, 0x2f, "name", Some("PHYSICAL-PROXY-ID")),
    (0, 0x30, "name", Some("CLIENT-ID")),
    (0, 0x31, "name", Some("DELIVERY-ERR-SDU")),
    (0, 0x32, "name", Some("DELIVERY-ORDER")),
    (0, 0x33, "name", Some("TRAFFIC-CLASS")),
    (0, 0x34, "name", Some("MAX-SDU-SIZE")),
    (0, 0x35, "name", Some("MAX-BITRATE-UPLINK")),
    (0, 0x36, "name", Some("MAX-BITRATE-DNLINK")),
    (0, 0x37, "name", Some("RESIDUAL-BER")),
    (0, 0x38, "name", Some("SDU-ERROR-RATIO")),
    (0, 0x39, "name", Some("TRAFFIC-HANDL-PRIO")),
    (0, 0x3a, "name", Some("TRANSFER-DELAY")),
    (0, 0x3b, "name", Some("GUARANTEED-BITRATE-UPLINK")),
    (0, 0x3c, "name", Some("GUARANTEED-BITRATE-DNLINK")),
    (0, 0x3d, "name", Some("PXADDR-FQDN")),
    (0, 0x3e, "name", Some("PROXY-PW")),
    (0, 0x3f, "name", Some("PPGAUTH-TYPE")),
    (0, 0x47, "name", Some("PULLENABLED")),
    (0, 0x48, "name", Some("DNS-ADDR")),
    (0, 0x49, "name", Some("MAX-NUM-RETRY")),
    (0, 0x4a, "name", Some("FIRST-RETRY-TIMEOUT")),
    (0, 0x4b, "name", Some("REREG-THRESHOLD")),
    (0, 0x4c, "name", Some("T-BIT")),
    (0, 0x4e, "name", Some("AUTH-ENTITY")),
    (0, 0x4f, "name", Some("SPI")),
    (1, 0x05, "name", None),
    (1, 0x06, "value", None),
    (1, 0x07, "name", Some("NAME")),
    (1, 0x14, "name", Some("INTERNET")),
    (1, 0x1c, "name", Some("STARTPAGE")),
    (1, 0x22, "name", Some("TO-NAPID")),
    (1, 0x23, "name", Some("PORTNBR")),
    (1, 0x24, "name", Some("SERVICE")),
    (1, 0x2e, "name", Some("AACCEPT")),
    (1, 0x2f, "name", Some("AAUTHDATA")),
    (1, 0x30, "name", Some("AAUTHLEVEL")),
    (1, 0x31, "name", Some("AAUTHNAME")),
    (1, 0x32, "name", Some("AAUTHSECRET")),
    (1, 0x33, "name", Some("AAUTHTYPE")),
    (1, 0x34, "name", Some("ADDR")),
    (1, 0x35, "name", Some("ADDRTYPE")),
    (1, 0x36, "name", Some("APPID")),
    (1, 0x37, "name", Some("APROTOCOL")),
    (1, 0x38, "name", Some("PROVIDER-ID")),
    (1, 0x39, "name", Some("TO-PROXY")),
    (1, 0x3a, "name", Some("URI")),
    (1, 0x3b, "name", Some("RULE")),
];

/// An attribute-value token: `(page, token, text)`.
pub(super) type AttrValue = (u8, u8, &'static str);

/// Every attribute-value token. The page-1 AAUTHTYPE pieces are at 0x90-0x93 (ProvCont 1.1); the
/// older 0x80-0x83 assignment collides with the global EXT_T/STR_T tokens and is not used.
pub(super) const ATTR_VALUES: &[AttrValue] = &[
    (0, 0x85, "IPV4"),
    (0, 0x86, "IPV6"),
    (0, 0x87, "E164"),
    (0, 0x88, "ALPHA"),
    (0, 0x89, "APN"),
    (0, 0x8a, "SCODE"),
    (0, 0x8b, "TETRA-ITSI"),
    (0, 0x8c, "MAN"),
    (1, 0x86, "IPV6"),
    (1, 0x87, "E164"),
    (1, 0x88, "ALPHA"),
    (1, 0x8d, "APPSRV"),
    (1, 0x8e, "OBEX"),
    (0, 0x90, "ANALOG-MODEM"),
    (0, 0x91, "V.120"),
    (0, 0x92, "V.110"),
    (0, 0x93, "X.31"),
    (0, 0x94, "BIT-TRANSPARENT"),
    (0, 0x95, "DIRECT-ASYNCHRONOUS-DATA-SERVICE"),
    (0, 0x9a, "PAP"),
    (0, 0x9b, "CHAP"),
    (0, 0x9c, "HTTP-BASIC"),
    (0, 0x9d, "HTTP-DIGEST"),
    (0, 0x9e, "WTLS-SS"),
    (0, 0x9f, "MD5"),
    (0, 0xa2, "GSM-USSD"),
    (0, 0xa3, "GSM-SMS"),
    (0, 0xa4, "ANSI-136-GUTS"),
    (0, 0xa5, "IS-95-CDMA-SMS"),
    (0, 0xa6, "IS-95-CDMA-CSD"),
    (0, 0xa7, "IS-95-CDMA-PACKET"),
    (0, 0xa8, "ANSI-136-CSD"),
    (0, 0xa9, "ANSI-136-GPRS"),
    (0, 0xaa, "GSM-CSD"),
    (0, 0xab, "GSM-GPRS"),
    (0, 0xac, "AMPS-CDPD"),
    (0, 0xad, "PDC-CSD"),
    (0, 0xae, "PDC-PACKET"),
    (0, 0xaf, "IDEN-SMS"),
    (0, 0xb0, "IDEN-CSD"),
    (0, 0xb1, "IDEN-PACKET"),
    (0, 0xb2, "FLEX/REFLEX"),
    (0, 0xb3, "PHS-SMS"),
    (0, 0xb4, "PHS-CSD"),
    (0, 0xb5, "TRETRA-SDS"),
    (0, 0xb6, "TRETRA-PACKET"),
    (0, 0xb7, "ANSI-136-GHOST"),
    (0, 0xb8, "MOBITEX-MPAK"),
    (0, 0xb9, "CDMA2000-1X-SIMPLE-IP"),
    (0, 0xba, "CDMA2000-1X-MOBILE-IP"),
    (0, 0xc5, "AUTOBAUDING"),
    (0, 0xca, "CL-WSP"),
    (0, 0xcb, "CO-WSP"),
    (0, 0xcc, "CL-SEC-WSP"),
    (0, 0xcd, "CO-SEC-WSP"),
    (0, 0xce, "CL-SEC-WTA"),
    (0, 0xcf, "CO-SEC-WTA"),
    (0, 0xd0, "OTA-HTTP-TO"),
    (0, 0xd1, "OTA-HTTP-TLS-TO"),
    (0, 0xd2, "OTA-HTTP-PO"),
    (0, 0xd3, "OTA-HTTP-TLS-PO"),
    (1, 0x90, ","),
    (1, 0x91, "HTTP-"),
    (1, 0x92, "BASIC"),
    (1, 0x93, "DIGEST"),
    (0, 0xe0, "AAA"),
    (0, 0xe1, "HA"),
];

/// The attribute-start token on `page` for `name` whose value starts exactly with a known prefix
/// equal to the whole `value`, if one exists.
pub(super) fn start_with_value(page: u8, name: &str, value: &str) -> Option<u8> {
    ATTR_STARTS.iter().find(|(p, _, n, v)| *p == page && *n == name && *v == Some(value)).map(|&(_, t, _, _)| t)
}

/// The bare attribute-start token on `page` for `name` (no value prefix).
pub(super) fn bare_start(page: u8, name: &str) -> Option<u8> {
    ATTR_STARTS.iter().find(|(p, _, n, v)| *p == page && *n == name && v.is_none()).map(|&(_, t, _, _)| t)
}

/// The whole-value token on `page` for `text`, if one exists.
pub(super) fn value_token(page: u8, text: &str) -> Option<u8> {
    ATTR_VALUES.iter().find(|(p, _, v)| *p == page && *v == text).map(|&(_, t, _)| t)
}

/// What an attribute-start token means on `page`.
pub(super) fn lookup_start(page: u8, token: u8) -> Option<(&'static str, Option<&'static str>)> {
    ATTR_STARTS.iter().find(|(p, t, _, _)| *p == page && *t == token).map(|&(_, _, n, v)| (n, v))
}

/// What an attribute-value token means on `page`.
pub(super) fn lookup_value(page: u8, token: u8) -> Option<&'static str> {
    ATTR_VALUES.iter().find(|(p, t, _)| *p == page && *t == token).map(|&(_, _, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_per_page() {
        for (i, a) in ATTR_STARTS.iter().enumerate() {
            assert!((0x05..0x80).contains(&a.1) && !(0x40..=0x44).contains(&a.1), "{a:?} is not a start token");
            assert!(ATTR_STARTS[i + 1..].iter().all(|b| (b.0, b.1) != (a.0, a.1)), "duplicate {a:?}");
        }
        for (i, a) in ATTR_VALUES.iter().enumerate() {
            assert!(a.1 >= 0x85 && !(0xC0..=0xC4).contains(&a.1), "{a:?} collides with a global token");
            assert!(ATTR_VALUES[i + 1..].iter().all(|b| (b.0, b.1) != (a.0, a.1)), "duplicate {a:?}");
        }
    }
}
