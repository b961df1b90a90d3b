//! XML → events, on top of quick-xml's streaming reader (no DOM).
//!
//! Entity handling: the five predefined entities and character references are resolved; any other
//! named reference is refused (DTD-defined entities are never expanded, so "billion laughs" and
//! external entities cannot act). **Recovery:** a `&` that does not start a well-formed reference
//! (`&name;` or `&#…;`) is taken as a literal `&`. Real DM servers send UI alert options such as
//! `MAXDT=15&DR=1` unescaped; rejecting them would make those alerts unanswerable.

use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventSource};
use crate::limits::Limits;
use quick_xml::events::Event as QEvent;
use std::borrow::Cow;

/// Pull source of events over an XML byte slice.
pub(crate) struct XmlSource<'a> {
    input: &'a [u8],
    /// The input as text, when all of it is UTF-8 (checked once, up front): names and text are
    /// then sliced from it without validating each piece again.
    text: Option<&'a str>,
    reader: quick_xml::Reader<&'a [u8]>,
    /// Events read ahead, in reverse order (the next one is last).
    pending: Vec<Event<'a>>,
    depth: usize,
    limits: Limits,
}

impl<'a> XmlSource<'a> {
    /// Starts reading `input`, after checking its size against the limits.
    pub(crate) fn new(input: &'a [u8], limits: &Limits) -> Result<Self> {
        limits.check_message_size(input.len())?;
        let mut reader = quick_xml::Reader::from_reader(input);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        config.allow_dangling_amp = true;
        let text = std::str::from_utf8(input).ok();
        Ok(XmlSource { input, text, reader, pending: Vec::with_capacity(4), depth: 0, limits: *limits })
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind).at(self.reader.buffer_position() as usize)
    }

    /// The same bytes as a slice of the input, if `bytes` lies inside it. quick-xml's slice reader
    /// borrows names and attribute values from the input; this recovers the input's lifetime for
    /// them, so names need no allocation.
    fn in_input(&self, bytes: &[u8]) -> Option<&'a [u8]> {
        let start = (bytes.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
        let slice = self.input.get(start..start.checked_add(bytes.len())?)?;
        (slice.as_ptr() == bytes.as_ptr()).then_some(slice)
    }

    /// Bytes of the input as UTF-8 text: sliced from [`Self::text`] when they lie in the input,
    /// else validated (an invalid sequence is an error at its piece).
    fn utf8(&self, bytes: Cow<'a, [u8]>) -> Result<Cow<'a, str>> {
        if let (Cow::Borrowed(b), Some(text)) = (&bytes, self.text) {
            let start = (b.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
            if let Some(s) = start.checked_add(b.len()).and_then(|end| text.get(start..end)) {
                if s.as_ptr() == b.as_ptr() {
                    return Ok(Cow::Borrowed(s));
                }
            }
        }
        utf8(bytes).map_err(|k| self.error(k))
    }

    fn push_text(&self, acc: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) -> Result<()> {
        let len = acc.as_ref().map_or(0, |s| s.len()) + piece.len();
        if len > self.limits.max_string_len {
            return Err(self.error(ErrorKind::Limit(format!(
                "text of {len} bytes exceeds the maximum of {}",
                self.limits.max_string_len
            ))));
        }
        match acc {
            None => *acc = Some(piece),
            Some(s) => s.to_mut().push_str(&piece),
        }
        Ok(())
    }

    fn start(&mut self, e: quick_xml::events::BytesStart<'a>) -> Result<Event<'a>> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.error(ErrorKind::Limit(format!("element nesting deeper than {}", self.limits.max_depth))));
        }
        let mut namespace = None;
        // Most elements have no attributes: skip setting up the attribute scan for them.
        if !e.attributes_raw().trim_ascii().is_empty() {
            for attr in e.attributes().with_checks(false) {
                let attr = attr.map_err(|err| self.error(ErrorKind::Xml(err.to_string())))?;
                if attr.key.as_ref() == b"xmlns" {
                    let raw = match self.in_input(&attr.value) {
                        Some(b) => Cow::Borrowed(b),
                        None => Cow::Owned(attr.value.to_vec()),
                    };
                    namespace = Some(unescape(self.utf8(raw)?).map_err(|k| self.error(k))?);
                }
            }
        }
        let qname = e.name();
        let name = match self.in_input(qname.as_ref()) {
            Some(b) => Cow::Borrowed(b),
            None => Cow::Owned(qname.as_ref().to_vec()),
        };
        let name = self.utf8(name)?;
        let name = match name {
            Cow::Borrowed(s) => Cow::Borrowed(local_name(s)),
            Cow::Owned(s) => Cow::Owned(local_name(&s).to_string()),
        };
        if !crate::element::is_xml_name(&name) {
            return Err(self.error(ErrorKind::Xml(format!("element name {name:?} is not an XML name"))));
        }
        Ok(Event::Start { name, namespace })
    }

    /// Reads the next event(s) into `pending`.
    fn read(&mut self) -> Result<()> {
        let mut text: Option<Cow<'a, str>> = None;
        loop {
            let ev = self.reader.read_event().map_err(|err| self.error(ErrorKind::Xml(err.to_string())))?;
            match ev {
                QEvent::Text(t) => {
                    let piece = unescape(self.utf8(t.into_inner())?).map_err(|k| self.error(k))?;
                    self.push_text(&mut text, piece)?;
                    continue;
                }
                QEvent::CData(t) => {
                    let piece = self.utf8(t.into_inner())?;
                    self.push_text(&mut text, piece)?;
                    continue;
                }
                QEvent::GeneralRef(r) => {
                    let name = self.utf8(r.into_inner())?;
                    let piece = if is_reference_name(&name) {
                        resolve_reference(&name).map_err(|k| self.error(k))?.to_string()
                    } else {
                        format!("&{name};") // not a reference: a bare `&` (see module doc)
                    };
                    self.push_text(&mut text, Cow::Owned(piece))?;
                    continue;
                }
                QEvent::Comment(_) | QEvent::Decl(_) | QEvent::PI(_) | QEvent::DocType(_) => continue,
                QEvent::Start(e) => {
                    let start = self.start(e)?;
                    self.pending.push(start);
                }
                QEvent::Empty(e) => {
                    let start = self.start(e)?;
                    self.depth -= 1;
                    self.pending.push(Event::End);
                    self.pending.push(start);
                }
                QEvent::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    self.pending.push(Event::End);
                }
                QEvent::Eof => {
                    if self.depth > 0 {
                        return Err(self.error(ErrorKind::UnexpectedEof));
                    }
                    self.pending.push(Event::Eof);
                }
            }
            if let Some(t) = text {
                self.pending.push(Event::Text(t));
            }
            return Ok(());
        }
    }
}

impl<'a> EventSource<'a> for XmlSource<'a> {
    #[inline(always)]
    fn next_event(&mut self) -> Result<Event<'a>> {
        if self.pending.is_empty() {
            self.read()?;
        }
        Ok(self.pending.pop().unwrap_or(Event::Eof))
    }

    fn offset(&self) -> usize {
        self.reader.buffer_position() as usize
    }
}

/// The part of a qualified name after its prefix (`syncml:Data` → `Data`).
fn local_name(qname: &str) -> &str {
    match qname.bytes().rposition(|b| b == b':') {
        Some(colon) => &qname[colon + 1..],
        None => qname,
    }
}

fn utf8(bytes: Cow<'_, [u8]>) -> std::result::Result<Cow<'_, str>, ErrorKind> {
    match bytes {
        Cow::Borrowed(b) => {
            std::str::from_utf8(b).map(Cow::Borrowed).map_err(|e| ErrorKind::Xml(format!("invalid UTF-8: {e}")))
        }
        Cow::Owned(b) => {
            String::from_utf8(b).map(Cow::Owned).map_err(|e| ErrorKind::Xml(format!("invalid UTF-8: {e}")))
        }
    }
}

/// Resolves the name of a reference (`amp`, `#38`, `#x26`) to its character.
fn resolve_reference(name: &str) -> std::result::Result<char, ErrorKind> {
    let ch = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                return Err(ErrorKind::Xml(format!(
                    "reference to undeclared or unsupported entity &{name}; (DTD entities are not expanded)"
                )));
            };
            code.and_then(char::from_u32)
        }
    };
    ch.ok_or_else(|| ErrorKind::Xml(format!("invalid character reference &{name};")))
}

/// Unescapes text, resolving references and keeping a bare `&` that starts none (see module doc).
fn unescape(text: Cow<'_, str>) -> std::result::Result<Cow<'_, str>, ErrorKind> {
    if !text.as_bytes().contains(&b'&') {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        match reference_name(after) {
            Some(name) => {
                out.push(resolve_reference(name)?);
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// If `s` starts with a well-formed reference body `name;` / `#digits;` / `#xhex;`, its name.
fn reference_name(s: &str) -> Option<&str> {
    let name = &s[..s.find(';')?];
    is_reference_name(name).then_some(name)
}

/// True if `name` is a well-formed entity name or character-reference body.
fn is_reference_name(name: &str) -> bool {
    if let Some(num) = name.strip_prefix('#') {
        let digits = num.strip_prefix('x').or_else(|| num.strip_prefix('X'));
        match digits {
            Some(h) => !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()),
        }
    } else {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(xml: &str) -> Result<Vec<Event<'_>>> {
        let mut src = XmlSource::new(xml.as_bytes(), &Limits::default())?;
        let mut out = Vec::new();
        loop {
            let ev = src.next_event()?;
            if ev == Event::Eof {
                return Ok(out);
            }
            out.push(ev);
        }
    }

    fn start(name: &str) -> Event<'_> {
        Event::Start { name: Cow::Borrowed(name), namespace: None }
    }

    #[test]
    fn bare_ampersand_is_literal_and_references_resolve() {
        let ev = events("<D>MAXDT=15&DR=1 &amp; &#65;&#x42; &lt;</D>").unwrap();
        assert_eq!(ev, vec![start("D"), Event::Text("MAXDT=15&DR=1 & AB <".into()), Event::End]);
    }

    #[test]
    fn undeclared_entities_are_refused() {
        let xml = "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]><D>&b;</D>";
        let err = events(xml).unwrap_err();
        assert!(err.to_string().contains("undeclared"), "{err}");
    }

    #[test]
    fn cdata_and_empty_elements() {
        let ev = events("<a><b/><c><![CDATA[<x>&]]></c></a>").unwrap();
        assert_eq!(
            ev,
            vec![start("a"), start("b"), Event::End, start("c"), Event::Text("<x>&".into()), Event::End, Event::End]
        );
    }

    #[test]
    fn namespaces_and_prefixes() {
        let ev = events("<m:Type xmlns=\"syncml:metinf\">x</m:Type>").unwrap();
        assert_eq!(
            ev[0],
            Event::Start { name: Cow::Borrowed("Type"), namespace: Some(Cow::Borrowed("syncml:metinf")) }
        );
    }

    #[test]
    fn names_xml_cannot_write_are_refused() {
        for xml in ["<a:/>", "<a:>x</a:>", "<1x/>", "<a><b:-c/></a>"] {
            let err = events(xml).unwrap_err();
            assert!(err.to_string().contains("is not an XML name"), "{xml}: {err}");
            assert!(err.offset.is_some(), "{xml}: {err}");
        }
        assert_eq!(events("<p:a/>").unwrap(), vec![start("a"), Event::End]);
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(matches!(events("<a><b>text").unwrap_err().kind, ErrorKind::UnexpectedEof | ErrorKind::Xml(_)));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let xml = "<a>".repeat(10_000);
        assert!(matches!(events(&xml).unwrap_err().kind, ErrorKind::Limit(_)));
    }
}
