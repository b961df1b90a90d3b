//! WAP client-provisioning documents (`wap-provisioningdoc`; WAP-183 ProvCont, OMA ProvCont 1.1),
//! the carrier of the DM bootstrap **WAP profile** (DM Bootstrap 1.2 §5.3; digest §8 "CP/WAP
//! profile"), in XML and in WBXML (public id 0x0B, attribute code pages 0 and 1).
//!
//! The document model is generic (characteristics holding parms and characteristics); [`W7Account`]
//! is the typed view of the `APPLICATION` characteristic with `APPID=w7` that a DM client turns
//! into a DMAcc account, and that a DM server writes to bootstrap one.
//!
//! Decoding is bounded (depth [`MAX_DEPTH`], no entity expansion, every length checked against the
//! input) and never panics; encoding is exact: XML with the PROV 1.0 DOCTYPE, WBXML 1.3 with the
//! tokens libwbxml uses, choosing a literal string where no token matches.

mod tables;
mod wbxml;
mod xml;

use crate::error::ProvisioningError;

/// The WBXML public identifier of PROV 1.0 (WAP-183 §6).
pub const PROV_PUBLIC_ID: u32 = 0x0B;
/// The formal public identifier of PROV 1.0, also accepted through the WBXML string table.
pub const PROV_FPI: &str = "-//WAPFORUM//DTD PROV 1.0//EN";
/// The media type of a provisioning document in XML (WAP-183 §5).
pub const MEDIA_TYPE_XML: &str = "text/vnd.wap.connectivity-xml";
/// The media type of a provisioning document in WBXML (WAP-183 §5), the form pushed to devices.
pub const MEDIA_TYPE_WBXML: &str = "application/vnd.wap.connectivity-wbxml";
/// The deepest characteristic nesting accepted when decoding (real documents use three levels:
/// APPLICATION / APPADDR / PORT); deeper input is refused rather than recursed into.
pub const MAX_DEPTH: usize = 16;

/// Whether `c` may appear in an XML 1.0 document (XML 1.0 §2.2 `Char`). Decoders refuse other
/// characters (e.g. a NUL from a WBXML ENTITY), which neither encoding could write back.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that no XML document can hold, if any.
pub(crate) fn first_non_xml_char(text: &str) -> Option<char> {
    text.chars().find(|&c| !is_xml_char(c))
}

/// A `wap-provisioningdoc`: its version and its top-level characteristics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningDoc {
    /// The `version` attribute (`1.0` in every known document).
    pub version: String,
    /// The top-level characteristics, in document order.
    pub characteristics: Vec<Characteristic>,
}

impl Default for ProvisioningDoc {
    fn default() -> Self {
        ProvisioningDoc { version: "1.0".to_string(), characteristics: Vec::new() }
    }
}

/// A `characteristic`: a typed group of parameters, possibly nested (e.g. `APPLICATION` holding
/// `APPADDR` holding `PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Characteristic {
    /// The `type` attribute, e.g. `APPLICATION`, `APPADDR`, `APPAUTH`, `PORT`, `NAPDEF`.
    pub kind: String,
    /// The `parm` children, in document order.
    pub parms: Vec<Parm>,
    /// The nested `characteristic` children, in document order.
    pub children: Vec<Characteristic>,
}

impl Characteristic {
    /// An empty characteristic of the given type.
    pub fn new(kind: impl Into<String>) -> Characteristic {
        Characteristic { kind: kind.into(), parms: Vec::new(), children: Vec::new() }
    }

    /// Adds a `name="…" value="…"` parm (builder style).
    pub fn with_parm(mut self, name: impl Into<String>, value: impl Into<String>) -> Characteristic {
        self.parms.push(Parm { name: name.into(), value: Some(value.into()) });
        self
    }

    /// Adds a nested characteristic (builder style).
    pub fn with_child(mut self, child: Characteristic) -> Characteristic {
        self.children.push(child);
        self
    }

    /// The value of the first parm with this name (case-sensitive, as WAP-183 names are).
    pub fn parm(&self, name: &str) -> Option<&str> {
        self.parms.iter().find(|p| p.name == name).and_then(|p| p.value.as_deref())
    }

    /// Whether a parm with this name is present, with or without a value (e.g. `INIT`).
    pub fn has_parm(&self, name: &str) -> bool {
        self.parms.iter().any(|p| p.name == name)
    }

    /// The nested characteristics of this type.
    pub fn children_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Characteristic> + 'a {
        self.children.iter().filter(move |c| c.kind == kind)
    }
}

/// A `parm`: a name and an optional value (WAP-183 allows valueless parms such as `INIT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parm {
    /// The `name` attribute.
    pub name: String,
    /// The `value` attribute, when present.
    pub value: Option<String>,
}

impl ProvisioningDoc {
    /// Decodes a document in either encoding: XML when the first non-blank byte is `<` (or a
    /// UTF-8 BOM), WBXML otherwise.
    pub fn decode(bytes: &[u8]) -> Result<ProvisioningDoc, ProvisioningError> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => {
                let text =
                    std::str::from_utf8(body).map_err(|e| ProvisioningError::NotUtf8 { offset: e.valid_up_to() })?;
                ProvisioningDoc::from_xml(text)
            }
            _ => ProvisioningDoc::from_wbxml(bytes),
        }
    }

    /// Decodes the XML form.
    pub fn from_xml(text: &str) -> Result<ProvisioningDoc, ProvisioningError> {
        xml::decode(text)
    }

    /// Encodes the XML form, with the XML declaration and the PROV 1.0 DOCTYPE.
    pub fn to_xml(&self) -> String {
        xml::encode(self)
    }

    /// Decodes the WBXML form (WBXML 1.0-1.3, public id 0x0B, 0x01 or the PROV FPI in the string
    /// table; UTF-8 or unspecified charset).
    pub fn from_wbxml(bytes: &[u8]) -> Result<ProvisioningDoc, ProvisioningError> {
        wbxml::decode(bytes)
    }

    /// Encodes the WBXML 1.3 form (public id 0x0B, UTF-8, no string table).
    pub fn to_wbxml(&self) -> Vec<u8> {
        wbxml::encode(self)
    }

    /// Every `APPLICATION` characteristic whose `APPID` is `w7` (the DM account), read as
    /// [`W7Account`]s in document order; an ill-formed one is an error naming it.
    pub fn w7_accounts(&self) -> Result<Vec<W7Account>, ProvisioningError> {
        self.characteristics
            .iter()
            .filter(|c| c.kind == "APPLICATION" && c.parm("APPID") == Some(W7Account::APP_ID))
            .map(W7Account::from_characteristic)
            .collect()
    }
}

/// One `APPADDR` of a w7 application: where the DM server is reached (maps to DMAcc `AppAddr/<x>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAddr {
    /// `ADDR`: the server URI, e.g. `https://dm.example.com/dm`.
    pub addr: String,
    /// `ADDRTYPE`, e.g. `URI`, `IPV4`, `E164` (absent means URI).
    pub addr_type: Option<String>,
    /// `PORT/PORTNBR` values.
    pub ports: Vec<String>,
}

/// One `APPAUTH` of a w7 application (maps to DMAcc `AppAuth/<x>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppAuth {
    /// `AAUTHLEVEL` as written in the document: `APPSRV`, `CLIENT` or `OBEX`.
    pub level: Option<String>,
    /// `AAUTHTYPE`, e.g. `DIGEST`, `BASIC`, `HMAC`.
    pub auth_type: Option<String>,
    /// `AAUTHNAME`.
    pub name: Option<String>,
    /// `AAUTHSECRET`.
    pub secret: Option<String>,
    /// `AAUTHDATA` (a nonce, base64 in DMAcc).
    pub data: Option<String>,
}

impl AppAuth {
    /// The DMAcc `AAuthLevel` value for this entry's CP level (digest §8: APPSRV→CLCRED,
    /// CLIENT→SRVCRED, OBEX→OBEX); `None` for an absent or unknown level.
    pub fn dmacc_level(&self) -> Option<&'static str> {
        match self.level.as_deref()? {
            "APPSRV" => Some("CLCRED"),
            "CLIENT" => Some("SRVCRED"),
            "OBEX" => Some("OBEX"),
            _ => None,
        }
    }
}

/// The typed view of a w7 `APPLICATION` characteristic: a DM account to install under `./DMAcc`
/// (digest §8 "CP/WAP profile"). Parameters this view does not name are kept in `other_parms`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct W7Account {
    /// `PROVIDER-ID` → DMAcc `ServerID` (required).
    pub server_id: String,
    /// `NAME` → DMAcc `Name`.
    pub name: Option<String>,
    /// `TO-PROXY` values → DMAcc `PrefConRef` / `ToConRef`.
    pub to_proxy: Vec<String>,
    /// `TO-NAPID` values → DMAcc `PrefConRef` / `ToConRef`.
    pub to_napid: Vec<String>,
    /// `APPADDR` characteristics, and the short form: an `ADDR` parm directly in APPLICATION.
    pub addresses: Vec<AppAddr>,
    /// `APPAUTH` characteristics.
    pub auths: Vec<AppAuth>,
    /// `INIT`: the device is to connect to the server at once.
    pub init: bool,
    /// Other parms of the APPLICATION (e.g. vendor extensions), kept in order.
    pub other_parms: Vec<Parm>,
}

impl W7Account {
    /// The `APPID` of the DM application.
    pub const APP_ID: &'static str = "w7";

    /// Reads an `APPLICATION` characteristic; it must carry `APPID=w7` and a `PROVIDER-ID`.
    pub fn from_characteristic(app: &Characteristic) -> Result<W7Account, ProvisioningError> {
        if app.kind != "APPLICATION" || app.parm("APPID") != Some(Self::APP_ID) {
            return Err(ProvisioningError::NotW7 { kind: app.kind.clone() });
        }
        let mut account = W7Account::default();
        let mut short_addr: Option<AppAddr> = None;
        for parm in &app.parms {
            let value = parm.value.clone();
            match parm.name.as_str() {
                "APPID" => {}
                "PROVIDER-ID" => account.server_id = value.unwrap_or_default(),
                "NAME" => account.name = value,
                "TO-PROXY" => account.to_proxy.extend(value),
                "TO-NAPID" => account.to_napid.extend(value),
                "INIT" => account.init = true,
                "ADDR" => {
                    short_addr = value.map(|addr| AppAddr { addr, addr_type: None, ports: Vec::new() });
                }
                _ => account.other_parms.push(parm.clone()),
            }
        }
        if account.server_id.is_empty() {
            return Err(ProvisioningError::MissingParm { characteristic: "APPLICATION", parm: "PROVIDER-ID" });
        }
        account.addresses.extend(short_addr);
        for addr in app.children_of("APPADDR") {
            let Some(a) = addr.parm("ADDR") else {
                return Err(ProvisioningError::MissingParm { characteristic: "APPADDR", parm: "ADDR" });
            };
            account.addresses.push(AppAddr {
                addr: a.to_string(),
                addr_type: addr.parm("ADDRTYPE").map(str::to_string),
                ports: addr.children_of("PORT").filter_map(|p| p.parm("PORTNBR")).map(str::to_string).collect(),
            });
        }
        for auth in app.children_of("APPAUTH") {
            let text = |n: &str| auth.parm(n).map(str::to_string);
            account.auths.push(AppAuth {
                level: text("AAUTHLEVEL"),
                auth_type: text("AAUTHTYPE"),
                name: text("AAUTHNAME"),
                secret: text("AAUTHSECRET"),
                data: text("AAUTHDATA"),
            });
        }
        Ok(account)
    }

    /// Writes the `APPLICATION` characteristic (long forms: every address as an `APPADDR`).
    pub fn to_characteristic(&self) -> Characteristic {
        let mut app = Characteristic::new("APPLICATION")
            .with_parm("APPID", Self::APP_ID)
            .with_parm("PROVIDER-ID", self.server_id.clone());
        if let Some(name) = &self.name {
            app = app.with_parm("NAME", name.clone());
        }
        for p in &self.to_proxy {
            app = app.with_parm("TO-PROXY", p.clone());
        }
        for n in &self.to_napid {
            app = app.with_parm("TO-NAPID", n.clone());
        }
        if self.init {
            app.parms.push(Parm { name: "INIT".to_string(), value: None });
        }
        app.parms.extend(self.other_parms.iter().cloned());
        for a in &self.addresses {
            let mut addr = Characteristic::new("APPADDR").with_parm("ADDR", a.addr.clone());
            if let Some(t) = &a.addr_type {
                addr = addr.with_parm("ADDRTYPE", t.clone());
            }
            for port in &a.ports {
                addr = addr.with_child(Characteristic::new("PORT").with_parm("PORTNBR", port.clone()));
            }
            app = app.with_child(addr);
        }
        for auth in &self.auths {
            let mut c = Characteristic::new("APPAUTH");
            for (name, value) in [
                ("AAUTHLEVEL", &auth.level),
                ("AAUTHTYPE", &auth.auth_type),
                ("AAUTHNAME", &auth.name),
                ("AAUTHSECRET", &auth.secret),
                ("AAUTHDATA", &auth.data),
            ] {
                if let Some(v) = value {
                    c = c.with_parm(name, v.clone());
                }
            }
            app = app.with_child(c);
        }
        app
    }

    /// A whole provisioning document holding this account alone.
    pub fn to_document(&self) -> ProvisioningDoc {
        ProvisioningDoc { characteristics: vec![self.to_characteristic()], ..ProvisioningDoc::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_account() -> W7Account {
        W7Account {
            server_id: "omadm".into(),
            name: Some("Example DM & Co".into()),
            to_proxy: vec![],
            to_napid: vec!["INTERNET".into()],
            addresses: vec![AppAddr {
                addr: "https://dm.example.com:8443/dm?a=1&b=<2>".into(),
                addr_type: Some("URI".into()),
                ports: vec!["8443".into()],
            }],
            auths: vec![
                AppAuth {
                    level: Some("APPSRV".into()),
                    auth_type: Some("DIGEST".into()),
                    name: Some("IMEI:490154203237518".into()),
                    secret: Some("client-secret".into()),
                    data: Some("bm9uY2U=".into()),
                },
                AppAuth {
                    level: Some("CLIENT".into()),
                    auth_type: Some("DIGEST".into()),
                    name: Some("omadm".into()),
                    secret: Some("server \"secret\"".into()),
                    data: None,
                },
            ],
            init: true,
            other_parms: vec![Parm { name: "X-VENDOR".into(), value: Some("é ü 日本".into()) }],
        }
    }

    #[test]
    fn w7_account_round_trips_through_both_encodings() {
        let account = sample_account();
        let doc = account.to_document();
        let from_xml = ProvisioningDoc::decode(doc.to_xml().as_bytes()).unwrap();
        assert_eq!(from_xml, doc);
        let from_wbxml = ProvisioningDoc::decode(&doc.to_wbxml()).unwrap();
        assert_eq!(from_wbxml, doc);
        assert_eq!(from_wbxml.w7_accounts().unwrap(), vec![account]);
    }

    #[test]
    fn short_addr_form_and_levels_map_to_dmacc() {
        let app = Characteristic::new("APPLICATION")
            .with_parm("APPID", "w7")
            .with_parm("PROVIDER-ID", "srv")
            .with_parm("ADDR", "http://dm.example/")
            .with_child(Characteristic::new("APPAUTH").with_parm("AAUTHLEVEL", "CLIENT"));
        let acc = W7Account::from_characteristic(&app).unwrap();
        assert_eq!(acc.addresses[0].addr, "http://dm.example/");
        assert_eq!(acc.auths[0].dmacc_level(), Some("SRVCRED"));
        assert!(!acc.init);
    }

    #[test]
    fn accounts_without_provider_id_or_addr_are_refused() {
        let app = Characteristic::new("APPLICATION").with_parm("APPID", "w7");
        assert!(matches!(W7Account::from_characteristic(&app), Err(ProvisioningError::MissingParm { .. })));
        let app = Characteristic::new("APPLICATION")
            .with_parm("APPID", "w7")
            .with_parm("PROVIDER-ID", "s")
            .with_child(Characteristic::new("APPADDR"));
        assert!(matches!(
            W7Account::from_characteristic(&app),
            Err(ProvisioningError::MissingParm { parm: "ADDR", .. })
        ));
        let napdef = Characteristic::new("NAPDEF");
        assert!(matches!(W7Account::from_characteristic(&napdef), Err(ProvisioningError::NotW7 { .. })));
    }

    #[test]
    fn other_applications_are_not_w7_accounts() {
        let doc = ProvisioningDoc {
            characteristics: vec![
                Characteristic::new("APPLICATION").with_parm("APPID", "w2").with_parm("NAME", "browser"),
                sample_account().to_characteristic(),
            ],
            ..ProvisioningDoc::default()
        };
        assert_eq!(doc.w7_accounts().unwrap().len(), 1);
    }
}
