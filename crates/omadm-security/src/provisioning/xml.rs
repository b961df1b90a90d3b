//! The XML form of a provisioning document (WAP-183 §6 DTD: `wap-provisioningdoc` holds
//! `characteristic`s, which hold `parm`s and `characteristic`s; no character data).

use std::fmt::Write as _;

use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};

use super::{Characteristic, Parm, ProvisioningDoc, MAX_DEPTH, PROV_FPI};
use crate::error::ProvisioningError;

/// The system identifier written in the DOCTYPE (WAP-183 §6).
const PROV_DTD_URL: &str = "http://www.wapforum.org/DTD/prov.dtd";

/// Writes the document with an XML declaration and the PROV 1.0 DOCTYPE, two-space indented.
pub(super) fn encode(doc: &ProvisioningDoc) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<!DOCTYPE wap-provisioningdoc PUBLIC \"{PROV_FPI}\" \"{PROV_DTD_URL}\">");
    let _ = write!(out, "<wap-provisioningdoc version=\"{}\"", escape(doc.version.as_str()));
    if doc.characteristics.is_empty() {
        out.push_str("/>\n");
        return out;
    }
    out.push_str(">\n");
    for c in &doc.characteristics {
        write_characteristic(&mut out, c, 1);
    }
    out.push_str("</wap-provisioningdoc>\n");
    out
}

fn write_characteristic(out: &mut String, c: &Characteristic, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = write!(out, "{indent}<characteristic type=\"{}\"", escape(c.kind.as_str()));
    if c.parms.is_empty() && c.children.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    for p in &c.parms {
        let _ = write!(out, "{indent}  <parm name=\"{}\"", escape(p.name.as_str()));
        if let Some(v) = &p.value {
            let _ = write!(out, " value=\"{}\"", escape(v.as_str()));
        }
        out.push_str("/>\n");
    }
    for child in &c.children {
        write_characteristic(out, child, depth + 1);
    }
    let _ = writeln!(out, "{indent}</characteristic>");
}

/// Where the reader is: the element names of the document grammar.
enum Open {
    Doc,
    Characteristic(Characteristic),
    Parm,
}

/// Reads the XML form. A DOCTYPE is skipped, never expanded; only the predefined entities and
/// character references are understood.
pub(super) fn decode(text: &str) -> Result<ProvisioningDoc, ProvisioningError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut doc: Option<ProvisioningDoc> = None;
    let mut stack: Vec<Open> = Vec::new();
    let mut finished = false;
    loop {
        let offset = reader.buffer_position() as usize;
        let error = |what: String| ProvisioningError::Xml { offset, what };
        let event = reader.read_event().map_err(|e| error(e.to_string()))?;
        let (start, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                match stack.pop() {
                    Some(Open::Characteristic(c)) => match stack.last_mut() {
                        Some(Open::Characteristic(parent)) => parent.children.push(c),
                        _ => doc
                            .as_mut()
                            .expect("a characteristic is always inside the document")
                            .characteristics
                            .push(c),
                    },
                    Some(Open::Doc) => finished = true,
                    Some(Open::Parm) | None => {}
                }
                continue;
            }
            Event::Text(t) => {
                if t.iter().any(|b| !b.is_ascii_whitespace()) {
                    return Err(error("character data in a provisioning document".into()));
                }
                continue;
            }
            Event::CData(_) => return Err(error("character data in a provisioning document".into())),
            Event::Eof => break,
            _ => continue, // declaration, DOCTYPE, comments, processing instructions
        };
        if finished {
            return Err(error("content after the end of wap-provisioningdoc".into()));
        }
        let name = start.name();
        let attrs = attributes(&start).map_err(error)?;
        let attr = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let opened = match (name.as_ref(), stack.last_mut()) {
            (b"wap-provisioningdoc", None) if doc.is_none() => {
                doc = Some(ProvisioningDoc {
                    version: attr("version").unwrap_or_else(|| "1.0".into()),
                    ..Default::default()
                });
                Open::Doc
            }
            (b"characteristic", Some(Open::Doc | Open::Characteristic(_))) => {
                if stack.len() > MAX_DEPTH {
                    return Err(ProvisioningError::TooDeep);
                }
                let kind = attr("type").ok_or(ProvisioningError::MissingAttribute("characteristic", "type"))?;
                Open::Characteristic(Characteristic::new(kind))
            }
            (b"parm", Some(Open::Characteristic(parent))) => {
                let name = attr("name").ok_or(ProvisioningError::MissingAttribute("parm", "name"))?;
                parent.parms.push(Parm { name, value: attr("value") });
                Open::Parm
            }
            (other, _) => {
                return Err(error(format!("unexpected element `{}` here", String::from_utf8_lossy(other))));
            }
        };
        if empty {
            match opened {
                Open::Characteristic(c) => match stack.last_mut() {
                    Some(Open::Characteristic(parent)) => parent.children.push(c),
                    _ => doc.as_mut().expect("checked above").characteristics.push(c),
                },
                Open::Doc => finished = true,
                Open::Parm => {}
            }
        } else {
            stack.push(opened);
        }
    }
    match (doc, finished) {
        (Some(doc), true) => Ok(doc),
        _ => Err(ProvisioningError::Xml { offset: text.len(), what: "the document is incomplete".into() }),
    }
}

fn attributes(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, String> {
    start
        .attributes()
        .map(|a| {
            let a = a.map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
            if let Some(c) = super::first_non_xml_char(&value) {
                return Err(format!("character U+{:04X} cannot appear in a document", c as u32));
            }
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS_STYLE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE wap-provisioningdoc PUBLIC "-//WAPFORUM//DTD PROV 1.0//EN" "http://www.wapforum.org/DTD/prov.dtd">
<wap-provisioningdoc version="1.1">
  <!-- a comment -->
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w7"/>
    <parm name="PROVIDER-ID" value="com.example.dm"/>
    <parm name="ADDR" value="https://dm.example.com/omadm?x=1&amp;y=2"/>
    <parm name="INIT"/>
    <characteristic type="APPAUTH">
      <parm name="AAUTHLEVEL" value="CLIENT"/>
      <parm name="AAUTHTYPE" value="DIGEST"></parm>
    </characteristic>
  </characteristic>
</wap-provisioningdoc>"#;

    #[test]
    fn reads_a_typical_document() {
        let doc = decode(WINDOWS_STYLE).unwrap();
        assert_eq!(doc.version, "1.1");
        let acc = &doc.w7_accounts().unwrap()[0];
        assert_eq!(acc.server_id, "com.example.dm");
        assert_eq!(acc.addresses[0].addr, "https://dm.example.com/omadm?x=1&y=2");
        assert!(acc.init);
        assert_eq!(acc.auths[0].auth_type.as_deref(), Some("DIGEST"));
        assert_eq!(decode(&encode(&doc)).unwrap(), doc);
    }

    #[test]
    fn refuses_what_the_dtd_does_not_allow() {
        for bad in [
            "",
            "<wap-provisioningdoc>",
            "<other/>",
            "<wap-provisioningdoc><parm name='x'/></wap-provisioningdoc>",
            "<wap-provisioningdoc><characteristic/></wap-provisioningdoc>",
            "<wap-provisioningdoc><characteristic type='A'>text</characteristic></wap-provisioningdoc>",
            "<wap-provisioningdoc/><wap-provisioningdoc/>",
            "<wap-provisioningdoc><characteristic type='A'><parm value='v'/></characteristic></wap-provisioningdoc>",
            "<!DOCTYPE d [<!ENTITY a 'aaaa'>]><wap-provisioningdoc version='&a;'/>",
            "<wap-provisioningdoc version='&#1;'/>",
        ] {
            assert!(decode(bad).is_err(), "accepted {bad:?}");
        }
        let deep = format!(
            "<wap-provisioningdoc>{}{}</wap-provisioningdoc>",
            "<characteristic type='A'>".repeat(100),
            "</characteristic>".repeat(100)
        );
        assert!(matches!(decode(&deep), Err(ProvisioningError::TooDeep)));
    }
}
