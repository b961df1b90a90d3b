//! The WBXML form of a provisioning document (WAP-192 WBXML 1.3 with the PROV tables).
//!
//! Tags and attributes have separate code-page states (WAP-192 §5.8.1); attribute values are the
//! concatenation of the start token's prefix, value tokens, inline and table strings and entities.

use super::tables::{self, TAG_CHARACTERISTIC, TAG_DOC, TAG_PARM};
use super::{Characteristic, Parm, ProvisioningDoc, MAX_DEPTH, PROV_FPI, PROV_PUBLIC_ID};
use crate::error::ProvisioningError;

const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const LITERAL: u8 = 0x04;
const STR_T: u8 = 0x83;
const OPAQUE: u8 = 0xC3;
const HAS_ATTRIBUTES: u8 = 0x80;
const HAS_CONTENT: u8 = 0x40;
const CHARSET_UTF8: u32 = 0x6A;
const PUBLIC_ID_UNKNOWN: u32 = 0x01;

/// Writes the document as WBXML 1.3, public id 0x0B, UTF-8, an empty string table.
pub(super) fn encode(doc: &ProvisioningDoc) -> Vec<u8> {
    let mut w = Writer { out: vec![0x03, PROV_PUBLIC_ID as u8, CHARSET_UTF8 as u8, 0x00], attr_page: 0 };
    let content = if doc.characteristics.is_empty() { 0 } else { HAS_CONTENT };
    w.out.push(TAG_DOC | HAS_ATTRIBUTES | content);
    w.attribute("version", &doc.version);
    w.out.push(END);
    for c in &doc.characteristics {
        w.characteristic(c);
    }
    if content != 0 {
        w.out.push(END);
    }
    w.out
}

struct Writer {
    out: Vec<u8>,
    attr_page: u8,
}

impl Writer {
    fn characteristic(&mut self, c: &Characteristic) {
        let has_content = !(c.parms.is_empty() && c.children.is_empty());
        self.out.push(TAG_CHARACTERISTIC | HAS_ATTRIBUTES | if has_content { HAS_CONTENT } else { 0 });
        self.attribute("type", &c.kind);
        self.out.push(END);
        for p in &c.parms {
            self.parm(p);
        }
        for child in &c.children {
            self.characteristic(child);
        }
        if has_content {
            self.out.push(END);
        }
    }

    fn parm(&mut self, p: &Parm) {
        self.out.push(TAG_PARM | HAS_ATTRIBUTES);
        self.attribute("name", &p.name);
        if let Some(v) = &p.value {
            self.attribute("value", v);
        }
        self.out.push(END);
    }

    fn switch_attr_page(&mut self, page: u8) {
        if self.attr_page != page {
            self.out.extend([SWITCH_PAGE, page]);
            self.attr_page = page;
        }
    }

    /// One attribute: a start token carrying the whole value where one exists (current page
    /// first), else the bare start token followed by a whole-value token or an inline string.
    fn attribute(&mut self, name: &str, value: &str) {
        let other = 1 - self.attr_page;
        for page in [self.attr_page, other] {
            if let Some(token) = tables::start_with_value(page, name, value) {
                self.switch_attr_page(page);
                self.out.push(token);
                return;
            }
        }
        let page = if tables::bare_start(self.attr_page, name).is_some() { self.attr_page } else { other };
        self.switch_attr_page(page);
        // every attribute name of the model has a bare token on both pages but `version` (page 0)
        let token = tables::bare_start(page, name).expect("PROV attribute names all have a bare start token");
        self.out.push(token);
        if value.is_empty() {
            return;
        }
        match tables::value_token(page, value) {
            Some(v) => self.out.push(v),
            None => {
                self.out.push(STR_I);
                self.out.extend_from_slice(value.as_bytes());
                self.out.push(0);
            }
        }
    }
}

/// Reads a WBXML provisioning document.
pub(super) fn decode(bytes: &[u8]) -> Result<ProvisioningDoc, ProvisioningError> {
    let mut r = Reader { bytes, pos: 0, strings: &[], tag_page: 0, attr_page: 0 };
    r.header()?;
    let (tag, attrs) = r.tag()?;
    if tag.token != TAG_DOC {
        return Err(r.error("the root element is not wap-provisioningdoc"));
    }
    let mut doc = ProvisioningDoc::default();
    for (name, value) in attrs {
        match name.as_str() {
            "version" => doc.version = value,
            _ => return Err(r.error(format!("unexpected attribute `{name}` on wap-provisioningdoc"))),
        }
    }
    if tag.content {
        while let Some(child) = r.child(0)? {
            doc.characteristics
                .push(child.into_characteristic().ok_or_else(|| r.error("a parm outside a characteristic"))?);
        }
    }
    if r.pos != bytes.len() {
        return Err(r.error("bytes after the end of the document"));
    }
    Ok(doc)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    strings: &'a [u8],
    tag_page: u8,
    attr_page: u8,
}

struct Tag {
    token: u8,
    content: bool,
}

enum Child {
    Characteristic(Characteristic),
    Parm(Parm),
}

impl Child {
    fn into_characteristic(self) -> Option<Characteristic> {
        match self {
            Child::Characteristic(c) => Some(c),
            Child::Parm(_) => None,
        }
    }
}

impl<'a> Reader<'a> {
    fn error(&self, what: impl Into<String>) -> ProvisioningError {
        ProvisioningError::Wbxml { offset: self.pos, what: what.into() }
    }

    fn byte(&mut self) -> Result<u8, ProvisioningError> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| self.error("unexpected end of input"))?;
        self.pos += 1;
        Ok(b)
    }

    fn mb_u32(&mut self) -> Result<u32, ProvisioningError> {
        let mut value: u32 = 0;
        for _ in 0..5 {
            let b = self.byte()?;
            value = value.checked_mul(128).ok_or_else(|| self.error("mb_u_int32 overflows"))? | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("mb_u_int32 longer than 5 bytes"))
    }

    fn header(&mut self) -> Result<(), ProvisioningError> {
        let version = self.byte()?;
        if version > 0x03 {
            return Err(self.error(format!("unsupported WBXML version byte {version:#04x}")));
        }
        let public_id = self.mb_u32()?;
        let fpi_index = if public_id == 0 { Some(self.mb_u32()? as usize) } else { None };
        let charset = self.mb_u32()?;
        if charset != CHARSET_UTF8 && charset != 0 {
            return Err(ProvisioningError::UnsupportedCharset(charset));
        }
        let table_len = self.mb_u32()? as usize;
        let table_end = self.pos.checked_add(table_len).filter(|&e| e <= self.bytes.len());
        let Some(table_end) = table_end else {
            return Err(self.error("string table longer than the input"));
        };
        self.strings = &self.bytes[self.pos..table_end];
        self.pos = table_end;
        match fpi_index {
            Some(i) if self.table_string(i)? != PROV_FPI => {
                Err(ProvisioningError::NotProvisioning(self.table_string(i)?.to_string()))
            }
            None if public_id != PROV_PUBLIC_ID && public_id != PUBLIC_ID_UNKNOWN => {
                Err(ProvisioningError::NotProvisioning(format!("public id {public_id:#x}")))
            }
            _ => Ok(()),
        }
    }

    fn table_string(&self, index: usize) -> Result<&'a str, ProvisioningError> {
        let strings = self.strings;
        let rest =
            strings.get(index..).ok_or_else(|| self.error(format!("string table index {index} out of range")))?;
        let len = rest.iter().position(|&b| b == 0).ok_or_else(|| self.error("unterminated string table entry"))?;
        std::str::from_utf8(&rest[..len]).map_err(|_| self.error("string table entry is not UTF-8"))
    }

    fn inline_string(&mut self) -> Result<&'a str, ProvisioningError> {
        let bytes = self.bytes;
        let rest = &bytes[self.pos..];
        let len = rest.iter().position(|&b| b == 0).ok_or_else(|| self.error("unterminated inline string"))?;
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| self.error("inline string is not UTF-8"))?;
        self.pos += len + 1;
        Ok(text)
    }

    /// Reads one tag token (after any SWITCH_PAGE) and its attributes.
    fn tag(&mut self) -> Result<(Tag, Vec<(String, String)>), ProvisioningError> {
        let mut token = self.byte()?;
        while token == SWITCH_PAGE {
            self.tag_page = self.byte()?;
            token = self.byte()?;
        }
        let base = token & 0x3F;
        let base = if base == LITERAL {
            let index = self.mb_u32()? as usize;
            let name = self.table_string(index)?;
            match name {
                "wap-provisioningdoc" => TAG_DOC,
                "characteristic" => TAG_CHARACTERISTIC,
                "parm" => TAG_PARM,
                other => return Err(self.error(format!("unknown element `{other}`"))),
            }
        } else if self.tag_page <= 1 && (TAG_DOC..=TAG_PARM).contains(&base) {
            base
        } else {
            return Err(self.error(format!("unknown tag token {token:#04x} on page {}", self.tag_page)));
        };
        let attrs = if token & HAS_ATTRIBUTES != 0 { self.attributes()? } else { Vec::new() };
        Ok((Tag { token: base, content: token & HAS_CONTENT != 0 }, attrs))
    }

    fn attributes(&mut self) -> Result<Vec<(String, String)>, ProvisioningError> {
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let b = self.byte()?;
            match b {
                END => {
                    let bad =
                        attrs.iter().find_map(|(n, v)| super::first_non_xml_char(n).or(super::first_non_xml_char(v)));
                    return match bad {
                        Some(c) => Err(self.error(format!("character U+{:04X} cannot appear in a document", c as u32))),
                        None => Ok(attrs),
                    };
                }
                SWITCH_PAGE => self.attr_page = self.byte()?,
                LITERAL => {
                    let index = self.mb_u32()? as usize;
                    let name = self.table_string(index)?;
                    attrs.push((name.to_string(), String::new()));
                }
                STR_I | STR_T | ENTITY | OPAQUE => {
                    let piece = match b {
                        STR_I => self.inline_string()?.to_string(),
                        STR_T => {
                            let index = self.mb_u32()? as usize;
                            self.table_string(index)?.to_string()
                        }
                        ENTITY => {
                            let code = self.mb_u32()?;
                            char::from_u32(code).ok_or_else(|| self.error(format!("bad entity {code}")))?.to_string()
                        }
                        _ => {
                            let len = self.mb_u32()? as usize;
                            let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len());
                            let end = end.ok_or_else(|| self.error("opaque data longer than the input"))?;
                            let text = std::str::from_utf8(&self.bytes[self.pos..end])
                                .map_err(|_| self.error("opaque attribute value is not UTF-8"))?;
                            self.pos = end;
                            text.to_string()
                        }
                    };
                    let (_, value) = attrs.last_mut().ok_or_else(|| self.error("a value before any attribute"))?;
                    value.push_str(&piece);
                }
                b if b < 0x80 => {
                    let (name, prefix) = tables::lookup_start(self.attr_page, b).ok_or_else(|| {
                        self.error(format!("unknown attribute-start token {b:#04x} on page {}", self.attr_page))
                    })?;
                    attrs.push((name.to_string(), prefix.unwrap_or_default().to_string()));
                }
                b => {
                    let text = tables::lookup_value(self.attr_page, b).ok_or_else(|| {
                        self.error(format!("unknown attribute-value token {b:#04x} on page {}", self.attr_page))
                    })?;
                    let (_, value) = attrs.last_mut().ok_or_else(|| self.error("a value before any attribute"))?;
                    value.push_str(text);
                }
            }
        }
    }

    /// Reads the next child element of the current element, or `None` at its END.
    fn child(&mut self, depth: usize) -> Result<Option<Child>, ProvisioningError> {
        loop {
            match self.bytes.get(self.pos) {
                Some(&END) => {
                    self.pos += 1;
                    return Ok(None);
                }
                Some(&STR_I) => {
                    // character data has no place in a provisioning document; tolerate blanks
                    self.pos += 1;
                    if !self.inline_string()?.trim().is_empty() {
                        return Err(self.error("character data in a provisioning document"));
                    }
                }
                Some(_) => break,
                None => return Err(self.error("unexpected end of input")),
            }
        }
        if depth >= MAX_DEPTH {
            return Err(ProvisioningError::TooDeep);
        }
        let at = self.pos;
        let (tag, attrs) = self.tag()?;
        let attr = |name: &str| attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        if let Some((unknown, _)) = attrs.iter().find(|(n, _)| !["type", "name", "value"].contains(&n.as_str())) {
            return Err(self.error(format!("unexpected attribute `{unknown}`")));
        }
        match tag.token {
            TAG_CHARACTERISTIC => {
                let kind = attr("type").ok_or(ProvisioningError::MissingAttribute("characteristic", "type"))?;
                let mut c = Characteristic::new(kind);
                if tag.content {
                    while let Some(child) = self.child(depth + 1)? {
                        match child {
                            Child::Characteristic(ch) => c.children.push(ch),
                            Child::Parm(p) => c.parms.push(p),
                        }
                    }
                }
                Ok(Some(Child::Characteristic(c)))
            }
            TAG_PARM => {
                let name = attr("name").ok_or(ProvisioningError::MissingAttribute("parm", "name"))?;
                if tag.content && self.child(depth + 1)?.is_some() {
                    return Err(self.error("a parm has no children"));
                }
                Ok(Some(Child::Parm(Parm { name, value: attr("value") })))
            }
            _ => Err(ProvisioningError::Wbxml { offset: at, what: "a nested wap-provisioningdoc".into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled document: APPLICATION (page 1 type token) with APPID (page 1 name token)
    /// and a page-0 NAME parm whose value is an inline string, then PORT back on page 0.
    #[test]
    fn decodes_hand_assembled_tokens() {
        let bytes = [
            0x03, 0x0B, 0x6A, 0x00, // header
            0xC5, 0x46, 0x01, // <wap-provisioningdoc version="1.0">
            0xC6, 0x00, 0x01, 0x55, 0x01, // <characteristic type="APPLICATION"> (attr page 1)
            0x87, 0x36, 0x06, 0x03, b'w', b'7', 0x00, 0x01, // <parm name="APPID" value="w7"/>
            0x87, 0x00, 0x00, 0x07, 0x06, 0x03, b'D', b'M', 0x00, 0x01, // NAME on page 0
            0x86, 0x53, 0x01, // <characteristic type="PORT"/> (page 0, empty)
            0x01, // </characteristic>
            0x01, // </wap-provisioningdoc>
        ];
        let doc = decode(&bytes).unwrap();
        let app = &doc.characteristics[0];
        assert_eq!(app.kind, "APPLICATION");
        assert_eq!(app.parm("APPID"), Some("w7"));
        assert_eq!(app.parm("NAME"), Some("DM"));
        assert_eq!(app.children[0].kind, "PORT");
    }

    #[test]
    fn encoder_uses_whole_value_tokens() {
        let doc = ProvisioningDoc {
            characteristics: vec![Characteristic::new("APPADDR").with_parm("ADDRTYPE", "IPV6")],
            ..ProvisioningDoc::default()
        };
        let bytes = encode(&doc);
        // APPADDR is only on page 1: switch, type token 0x56, then ADDRTYPE (1/0x35) value IPV6 (1/0x86)
        assert!(bytes.windows(4).any(|w| w == [0x00, 0x01, 0x56, 0x01]), "{bytes:02x?}");
        assert!(bytes.windows(4).any(|w| w == [0x35, 0x06, 0x86, 0x01]), "{bytes:02x?}");
        assert_eq!(decode(&bytes).unwrap(), doc);
    }

    #[test]
    fn string_table_fpi_and_literal_names_are_accepted() {
        let fpi = PROV_FPI.as_bytes();
        let mut bytes = vec![0x03, 0x00, 0x00, 0x6A, (fpi.len() + 1 + 5) as u8];
        bytes.extend_from_slice(fpi);
        bytes.push(0);
        bytes.extend_from_slice(b"parm\0");
        let parm_index = (fpi.len() + 1) as u8;
        bytes.extend([0xC5, 0x46, 0x01, 0xC6, 0x55, 0x01, 0x84, parm_index, 0x05, 0x03, b'X', 0, 0x01, 0x01, 0x01]);
        let doc = decode(&bytes).unwrap();
        assert_eq!(doc.characteristics[0].kind, "NAPDEF");
        assert_eq!(doc.characteristics[0].parms[0].name, "X");
    }

    #[test]
    fn characters_xml_cannot_hold_are_refused() {
        // version="\0" through ENTITY 0 (fuzz finding: it re-encoded as a broken inline string)
        let bytes = [0x03, 0x0B, 0x6A, 0x00, 0x85, 0x45, 0x02, 0x00, 0x01];
        assert!(matches!(decode(&bytes), Err(ProvisioningError::Wbxml { .. })));
        let bytes = [0x03, 0x0B, 0x6A, 0x00, 0x85, 0x45, 0x03, 0x01, 0x00, 0x01];
        assert!(decode(&bytes).is_err(), "U+0001 in an inline string");
    }

    #[test]
    fn hostile_inputs_are_errors_not_panics() {
        let good = encode(&super::super::tests::sample_account().to_document());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
        // deep nesting
        let mut deep = vec![0x03, 0x0B, 0x6A, 0x00, 0xC5, 0x46, 0x01];
        for _ in 0..10_000 {
            deep.extend([0xC6, 0x55, 0x01]);
        }
        assert!(matches!(decode(&deep), Err(ProvisioningError::TooDeep)));
        // another document type, a huge string table, an overflowing mb_u_int32
        assert!(matches!(decode(&[0x03, 0xA4, 0x01, 0x6A, 0x00]), Err(ProvisioningError::NotProvisioning(_))));
        assert!(decode(&[0x03, 0x0B, 0x6A, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F]).is_err());
        assert!(decode(&[0x03, 0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).is_err());
        // every single-byte mutation decodes or fails cleanly
        for i in 0..good.len() {
            for b in [0x00, 0x01, 0x03, 0x04, 0x43, 0x83, 0xC3, 0xFF] {
                let mut m = good.clone();
                m[i] = b;
                let _ = decode(&m);
            }
        }
    }
}
