//! Model → XML text.

use crate::element::{Element, Node};
use crate::encode::{self, Sink};
use crate::error::Result;
use crate::message::SyncMl;
use crate::tags::{Page, Tag};
use base64::Engine as _;
use std::borrow::Cow;

/// Options of the XML encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlOptions {
    /// Write the `<?xml version="1.0" encoding="UTF-8"?>` declaration.
    pub declaration: bool,
    /// Indent nested elements (never inside text), for people to read.
    pub pretty: bool,
    /// Wrap non-empty Item Data text in CDATA instead of escaping it. Off by default: some
    /// clients reject CDATA.
    pub cdata: bool,
}

impl Default for XmlOptions {
    fn default() -> Self {
        XmlOptions { declaration: true, pretty: false, cdata: false }
    }
}

impl XmlOptions {
    /// Options for readable output: declaration and indentation.
    pub fn pretty() -> Self {
        XmlOptions { pretty: true, ..XmlOptions::default() }
    }
}

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

struct Open {
    name: &'static str,
    page: Page,
    has_children: bool,
}

struct XmlSink<'o> {
    out: String,
    stack: Vec<Open>,
    root_namespace: Cow<'static, str>,
    options: &'o XmlOptions,
}

impl XmlSink<'_> {
    fn newline(&mut self, depth: usize) {
        if self.options.pretty {
            self.out.push('\n');
            for _ in 0..depth {
                self.out.push_str("  ");
            }
        }
    }

    fn open_tag(&mut self, tag: Tag) {
        if let Some(parent) = self.stack.last_mut() {
            parent.has_children = true;
            let depth = self.stack.len();
            self.newline(depth);
        }
        self.out.push('<');
        self.out.push_str(tag.name);
        let namespace = match self.stack.last() {
            None => Some(&*self.root_namespace),
            Some(parent) if parent.page != tag.page => tag.page.namespace(),
            Some(_) => None,
        };
        if let Some(ns) = namespace {
            self.out.push_str(" xmlns=\"");
            escape_into(&mut self.out, ns, true);
            self.out.push('"');
        }
    }

    fn write_element(&mut self, el: &Element, depth: usize, inherited_ns: Option<&str>) {
        self.out.push('<');
        self.out.push_str(&el.name);
        if let Some(ns) = el.namespace.as_deref().filter(|ns| Some(*ns) != inherited_ns) {
            self.out.push_str(" xmlns=\"");
            escape_into(&mut self.out, ns, true);
            self.out.push('"');
        }
        if el.children.is_empty() {
            self.out.push_str("/>");
            return;
        }
        self.out.push('>');
        let ns = el.namespace.as_deref().or(inherited_ns);
        let only_elements = el.children.iter().all(|c| matches!(c, Node::Element(_)));
        for child in &el.children {
            match child {
                Node::Element(e) => {
                    if only_elements {
                        self.newline(depth + 1);
                    }
                    self.write_element(e, depth + 1, ns);
                }
                Node::Text(t) => escape_into(&mut self.out, t, false),
                Node::Opaque(b) => self.out.push_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            }
        }
        if only_elements {
            self.newline(depth);
        }
        self.out.push_str("</");
        self.out.push_str(&el.name);
        self.out.push('>');
    }
}

impl Sink for XmlSink<'_> {
    fn start(&mut self, tag: Tag) -> Result<()> {
        self.open_tag(tag);
        self.out.push('>');
        self.stack.push(Open { name: tag.name, page: tag.page, has_children: false });
        Ok(())
    }

    fn empty(&mut self, tag: Tag) -> Result<()> {
        self.open_tag(tag);
        self.out.push_str("/>");
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<()> {
        escape_into(&mut self.out, text, false);
        Ok(())
    }

    /// Start tag, text and end tag in one go, without the open-element stack.
    fn leaf(&mut self, tag: Tag, text: &str) -> Result<()> {
        self.open_tag(tag);
        self.out.push('>');
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(tag.name);
        self.out.push('>');
        Ok(())
    }

    fn data_text(&mut self, text: &str) -> Result<()> {
        if self.options.cdata {
            // "]]>" cannot stand inside a CDATA section: split it across two sections.
            self.out.push_str("<![CDATA[");
            self.out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
            self.out.push_str("]]>");
        } else {
            escape_into(&mut self.out, text, false);
        }
        Ok(())
    }

    /// XML has no binary form. Binary Data that is printable UTF-8 text is written as that text
    /// (WBXML peers such as the SyncML toolkit put every value in OPAQUE); anything else as base64,
    /// which DM requires to be marked with Meta Format `b64` in XML.
    fn binary(&mut self, bytes: &[u8]) -> Result<()> {
        match crate::xml::printable_text(bytes) {
            Some(text) => self.data_text(text),
            None => {
                self.out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
                Ok(())
            }
        }
    }

    fn end(&mut self) -> Result<()> {
        if let Some(open) = self.stack.pop() {
            if open.has_children {
                let depth = self.stack.len();
                self.newline(depth);
            }
            self.out.push_str("</");
            self.out.push_str(open.name);
            self.out.push('>');
        }
        Ok(())
    }

    fn document(&mut self, doc: &Element) -> Result<()> {
        let depth = self.stack.len();
        if let Some(parent) = self.stack.last_mut() {
            parent.has_children = true;
        }
        self.newline(depth);
        self.write_element(doc, depth, None);
        Ok(())
    }

    fn element(&mut self, el: &Element) -> Result<()> {
        if let Some(parent) = self.stack.last_mut() {
            parent.has_children = true;
        }
        let depth = self.stack.len();
        self.newline(depth);
        self.write_element(el, depth, None);
        Ok(())
    }

    fn rewrites_document_types(&self) -> bool {
        false
    }
}

/// [`ESCAPES`] bit: the byte is escaped in character data and attribute values.
const ESCAPE_IN_TEXT: u8 = 1;
/// [`ESCAPES`] bit: the byte is escaped in (double-quoted) attribute values only.
const ESCAPE_IN_ATTRIBUTE: u8 = 2;

/// For each byte, whether [`escape_into`] replaces it: one table lookup per byte of text.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'&' as usize] = ESCAPE_IN_TEXT;
    table[b'<' as usize] = ESCAPE_IN_TEXT;
    table[b'>' as usize] = ESCAPE_IN_TEXT;
    table[b'\r' as usize] = ESCAPE_IN_TEXT;
    table[b'"' as usize] = ESCAPE_IN_ATTRIBUTE;
    table
};

/// Escapes text for XML character data or (with `attribute`) a double-quoted attribute value.
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    // Most values need no escaping: find the first byte that does before copying anything.
    let mask = if attribute { ESCAPE_IN_TEXT | ESCAPE_IN_ATTRIBUTE } else { ESCAPE_IN_TEXT };
    let Some(first) = text.as_bytes().iter().position(|&b| ESCAPES[usize::from(b)] & mask != 0) else {
        out.push_str(text);
        return;
    };
    let mut last = 0;
    for (i, b) in text.bytes().enumerate().skip(first) {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if attribute => "&quot;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&text[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&text[last..]);
}

/// Encodes a message as XML bytes.
pub(crate) fn encode(message: &SyncMl, options: &XmlOptions) -> Vec<u8> {
    let mut sink = XmlSink {
        // Room for a typical DM message (1–2 KB of XML) without growing.
        out: String::with_capacity(2048),
        stack: Vec::with_capacity(16),
        root_namespace: message.header.ver_dtd.namespace_cow(),
        options,
    };
    if options.declaration {
        sink.out.push_str(DECLARATION);
        sink.newline(0);
    }
    // The XML sink cannot fail: every value has an XML form.
    let _ = encode::message(&mut sink, message);
    if options.pretty {
        sink.out.push('\n');
    }
    sink.out.into_bytes()
}

/// Writes a generic element as a standalone XML document.
pub(crate) fn encode_element(element: &Element, options: &XmlOptions) -> Vec<u8> {
    let mut sink = XmlSink { out: String::new(), stack: Vec::new(), root_namespace: Cow::Borrowed(""), options };
    if options.declaration {
        sink.out.push_str(DECLARATION);
        sink.newline(0);
    }
    sink.write_element(element, 0, None);
    if options.pretty {
        sink.out.push('\n');
    }
    sink.out.into_bytes()
}
