//! Model → XML text.

use crate::element::{Element, Node};
use crate::encode::{self, Sink};
use crate::error::Result;
use crate::message::{SyncMl, VerDtd};
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
    /// `</name>`.
    end_tag: &'static str,
    page: Page,
    has_children: bool,
}

/// The XML writer; `PRETTY` is [`XmlOptions::pretty`], a constant so that compact output (what
/// DM sessions send) carries no indentation tests or child marks per element.
struct XmlSink<'o, const PRETTY: bool> {
    out: String,
    stack: Vec<Open>,
    /// The root's start tag with its namespace, `<SyncML xmlns="SYNCML:SYNCML1.2">`: written out
    /// ahead for the known versions, so that no message escapes its namespace.
    root_start_tag: Cow<'static, str>,
    options: &'o XmlOptions,
}

impl<const PRETTY: bool> XmlSink<'_, PRETTY> {
    fn newline(&mut self, depth: usize) {
        if PRETTY {
            self.out.push('\n');
            for _ in 0..depth {
                self.out.push_str("  ");
            }
        }
    }

    /// Writes the start tag of `tag`, as `<name/>` if `empty`, with the namespace attribute
    /// that the root and a change of code page need.
    fn open_tag(&mut self, tag: Tag, empty: bool) {
        let Some(parent) = self.stack.last_mut() else {
            // The root: the message's SyncML element.
            self.out.push_str(&self.root_start_tag);
            return;
        };
        if PRETTY {
            parent.has_children = true;
        }
        let page_attribute = if parent.page != tag.page { namespace_attribute(tag.page) } else { None };
        let depth = self.stack.len();
        self.newline(depth);
        if page_attribute.is_none() && !empty {
            self.out.push_str(tag.start_tag);
            return;
        }
        self.out.push('<');
        self.out.push_str(tag.name);
        if let Some(attribute) = page_attribute {
            self.out.push_str(attribute);
        }
        self.out.push_str(if empty { "/>" } else { ">" });
    }

    /// Writes the start tag of the usual element (not the root, on its parent's page, not
    /// indented) and says so; does nothing otherwise. Inlined where the tag is a constant.
    #[inline(always)]
    fn usual_start_tag(&mut self, tag: Tag) -> bool {
        if PRETTY {
            return false;
        }
        match self.stack.last() {
            Some(parent) if parent.page == tag.page => {
                self.out.push_str(tag.start_tag);
                true
            }
            _ => false,
        }
    }

    /// Any leaf: start tag (with the namespace attribute a change of page needs, indented when
    /// pretty), escaped text, end tag.
    fn any_leaf(&mut self, tag: Tag, text: &str) {
        self.open_tag(tag, false);
        escape_into(&mut self.out, text, false);
        self.out.push_str(tag.end_tag);
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

impl<const PRETTY: bool> Sink for XmlSink<'_, PRETTY> {
    #[inline(always)]
    fn start(&mut self, tag: Tag) -> Result<()> {
        if !self.usual_start_tag(tag) {
            self.open_tag(tag, false);
        }
        self.stack.push(Open { end_tag: tag.end_tag, page: tag.page, has_children: false });
        Ok(())
    }

    #[inline(always)]
    fn empty(&mut self, tag: Tag) -> Result<()> {
        if PRETTY || self.stack.last().is_none_or(|parent| parent.page != tag.page) {
            self.open_tag(tag, true);
            return Ok(());
        }
        self.out.push_str(tag.empty_tag);
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<()> {
        escape_into(&mut self.out, text, false);
        Ok(())
    }

    /// Start tag, text and end tag in one go, without the open-element stack. The usual leaf (not
    /// indented, with nothing to escape) is written inline, in one
    /// reservation: inlined where the tag is a constant, its tag strings are copied as constants.
    #[inline(always)]
    fn leaf(&mut self, tag: Tag, text: &str) -> Result<()> {
        if !PRETTY {
            if let Some(parent) = self.stack.last() {
                if first_to_escape(text.as_bytes(), ESCAPE_IN_TEXT).is_none() {
                    let on_page = parent.page == tag.page;
                    push_usual_leaf(&mut self.out, tag, on_page, text);
                    return Ok(());
                }
            }
        }
        self.any_leaf(tag, text);
        Ok(())
    }

    /// [`Sink::leaf`] without the look for bytes to escape.
    #[inline(always)]
    fn plain_leaf(&mut self, tag: Tag, text: &str) -> Result<()> {
        if !PRETTY {
            if let Some(parent) = self.stack.last() {
                let on_page = parent.page == tag.page;
                push_usual_leaf(&mut self.out, tag, on_page, text);
                return Ok(());
            }
        }
        self.any_leaf(tag, text);
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

    #[inline(always)]
    fn end(&mut self) -> Result<()> {
        if let Some(open) = self.stack.pop() {
            if PRETTY && open.has_children {
                let depth = self.stack.len();
                self.newline(depth);
            }
            self.out.push_str(open.end_tag);
        }
        Ok(())
    }

    #[inline(always)]
    fn end_of(&mut self, tag: Tag) -> Result<()> {
        if PRETTY {
            return self.end();
        }
        self.stack.pop();
        self.out.push_str(tag.end_tag);
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

/// The ` xmlns="…"` attribute that marks an element of `page` inside an element of another page,
/// written out ahead (the page namespaces hold nothing to escape).
fn namespace_attribute(page: Page) -> Option<&'static str> {
    match page {
        Page::SyncMl => None,
        Page::MetInf => Some(" xmlns=\"syncml:metinf\""),
        Page::Ddf => Some(" xmlns=\"syncml:dmddf1.2\""),
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

/// Appends a leaf whose text needs no escaping, inside an element of the same page (`on_page`)
/// or of another. Two calls, not one with the start tag chosen: each copies a constant tag where
/// inlined, not a `memcpy` of a length chosen at run time.
#[inline(always)]
fn push_usual_leaf(out: &mut String, tag: Tag, on_page: bool, text: &str) {
    if on_page {
        push_leaf(out, tag.start_tag, text, tag.end_tag);
    } else {
        push_leaf(out, tag.start_tag_on_page, text, tag.end_tag);
    }
}

/// Appends `start_tag`, `text` and `end_tag` (a leaf's) after one capacity check, not one per
/// piece. Inlined where the tags are constants, they are copied as constants.
#[inline(always)]
fn push_leaf(out: &mut String, start_tag: &str, text: &str, end_tag: &str) {
    // Tags are short, so the sum cannot wrap (`text` is at most `isize::MAX` bytes); the test
    // folds away where the tags are constants.
    assert!(start_tag.len() <= MAX_TAG_LEN && end_tag.len() <= MAX_TAG_LEN);
    let total = start_tag.len() + text.len() + end_tag.len();
    out.reserve(total);
    let len = out.len();
    // SAFETY: `reserve` left room for `total` more bytes (a sum that did not wrap): the three
    // copies fill exactly the bytes `len..len + total` of the buffer, from strings that cannot
    // overlap it (`out` is borrowed mutably), before the length covers them; they are whole
    // `str`s, so the text stays UTF-8.
    unsafe {
        let bytes = out.as_mut_vec();
        let end = bytes.as_mut_ptr().add(len);
        std::ptr::copy_nonoverlapping(start_tag.as_ptr(), end, start_tag.len());
        let end = end.add(start_tag.len());
        std::ptr::copy_nonoverlapping(text.as_ptr(), end, text.len());
        let end = end.add(text.len());
        std::ptr::copy_nonoverlapping(end_tag.as_ptr(), end, end_tag.len());
        bytes.set_len(len + total);
    }
}

/// The longest tag [`push_leaf`] takes; SyncML DM's longest, a start tag with the MetInf
/// namespace (`<MaxMsgSize xmlns="syncml:metinf">`), is 34 bytes.
const MAX_TAG_LEN: usize = 256;

/// Escapes text for XML character data or (with `attribute`) a double-quoted attribute value.
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    // Most values need no escaping: find the first byte that does before copying anything.
    let mask = if attribute { ESCAPE_IN_TEXT | ESCAPE_IN_ATTRIBUTE } else { ESCAPE_IN_TEXT };
    let Some(first) = first_to_escape(text.as_bytes(), mask) else {
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

/// The index of the first byte of `bytes` that [`ESCAPES`] marks with a bit of `mask`: none
/// without a look at each byte when [`may_need_escaping`] clears the whole string, as it does
/// for most values.
#[inline(always)]
fn first_to_escape(bytes: &[u8], mask: u8) -> Option<usize> {
    if !may_need_escaping(bytes) {
        return None;
    }
    bytes.iter().position(|b| ESCAPES[usize::from(*b)] & mask != 0)
}

/// False if no byte of `bytes` is one that [`escape_into`] may replace (`<`, `>`, `&`, `"`, CR;
/// exact for that set, which is a superset of what text escapes). A string under eight bytes
/// (most values: "1", "200", a CmdID) is looked at byte by byte; one of up to 16 bytes as two
/// overlapping words, inline; a longer one eight bytes at a time ([`may_need_escaping_long`]).
#[inline(always)]
fn may_need_escaping(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n < 8 {
        return bytes.iter().any(|b| ESCAPES[usize::from(*b)] != 0);
    }
    if n <= 16 {
        return escape_candidates(u64_at(bytes, 0)) | escape_candidates(u64_at(bytes, n - 8)) != 0;
    }
    may_need_escaping_long(bytes)
}

/// [`may_need_escaping`] for strings over 16 bytes: every eight bytes, the last eight
/// overlapping, without a branch per word.
fn may_need_escaping_long(bytes: &[u8]) -> bool {
    let chunks = bytes.chunks_exact(8);
    let mut candidates = escape_candidates(u64_at(bytes, bytes.len() - 8));
    for chunk in chunks {
        candidates |= escape_candidates(u64_at(chunk, 0));
    }
    candidates != 0
}

/// The eight bytes of `bytes` from `at`, which the caller keeps in bounds.
#[inline(always)]
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(word)
}

/// Nonzero if any of the eight bytes in `word` is one that [`escape_into`] may replace: `<` or
/// `>`, `&` or `"`, or CR (a zero byte counts as none of them).
#[inline(always)]
fn escape_candidates(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // The high bit of a byte set (at least) in the lowest zero byte of `x`: nonzero if some byte
    // of `x` is zero, exact for "any", which is all this asks.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    // `<` (0x3C) and `>` (0x3E) differ only in bit 1, `"` (0x22) and `&` (0x26) only in bit 2.
    (zero_bytes((word | (ONES * 0x02)) ^ (ONES * 0x3E))
        | zero_bytes((word | (ONES * 0x04)) ^ (ONES * 0x26))
        | zero_bytes(word ^ (ONES * u64::from(b'\r'))))
        & HIGH_BITS
}

/// The start tag of a message's SyncML element, with the namespace of its DTD version.
fn root_start_tag(ver_dtd: &VerDtd) -> Cow<'static, str> {
    match ver_dtd {
        VerDtd::V1_0 => "<SyncML xmlns=\"SYNCML:SYNCML1.0\">".into(),
        VerDtd::V1_1 => "<SyncML xmlns=\"SYNCML:SYNCML1.1\">".into(),
        VerDtd::V1_2 => "<SyncML xmlns=\"SYNCML:SYNCML1.2\">".into(),
        VerDtd::Other(_) => {
            let mut tag = String::from("<SyncML xmlns=\"");
            escape_into(&mut tag, &ver_dtd.namespace_cow(), true);
            tag.push_str("\">");
            tag.into()
        }
    }
}

/// Encodes a message as XML bytes.
pub(crate) fn encode(message: &SyncMl, options: &XmlOptions) -> Vec<u8> {
    if options.pretty {
        encode_with::<true>(message, options)
    } else {
        encode_with::<false>(message, options)
    }
}

/// [`encode`] with `options.pretty` as a constant.
fn encode_with<const PRETTY: bool>(message: &SyncMl, options: &XmlOptions) -> Vec<u8> {
    let mut sink = XmlSink::<PRETTY> {
        // Room for a typical DM message (1–2 KB of XML) without growing.
        out: String::with_capacity(2048),
        stack: Vec::with_capacity(16),
        root_start_tag: root_start_tag(&message.header.ver_dtd),
        options,
    };
    if options.declaration {
        sink.out.push_str(DECLARATION);
        sink.newline(0);
    }
    // The XML sink cannot fail: every value has an XML form.
    let _ = encode::message(&mut sink, message);
    if PRETTY {
        sink.out.push('\n');
    }
    sink.out.into_bytes()
}

/// Writes a generic element as a standalone XML document.
pub(crate) fn encode_element(element: &Element, options: &XmlOptions) -> Vec<u8> {
    if options.pretty {
        encode_element_with::<true>(element, options)
    } else {
        encode_element_with::<false>(element, options)
    }
}

/// [`encode_element`] with `options.pretty` as a constant.
fn encode_element_with<const PRETTY: bool>(element: &Element, options: &XmlOptions) -> Vec<u8> {
    let mut sink =
        XmlSink::<PRETTY> { out: String::new(), stack: Vec::new(), root_start_tag: Cow::Borrowed(""), options };
    if options.declaration {
        sink.out.push_str(DECLARATION);
        sink.newline(0);
    }
    sink.write_element(element, 0, None);
    if PRETTY {
        sink.out.push('\n');
    }
    sink.out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_start_tags_spell_the_dtd_namespaces() {
        for ver_dtd in [VerDtd::V1_0, VerDtd::V1_1, VerDtd::V1_2, VerDtd::Other("2.0&".into())] {
            let mut escaped = String::new();
            escape_into(&mut escaped, &ver_dtd.namespace_cow(), true);
            assert_eq!(root_start_tag(&ver_dtd), format!("<SyncML xmlns=\"{escaped}\">"), "{ver_dtd:?}");
        }
    }

    #[test]
    fn namespace_attributes_spell_the_page_namespaces() {
        for page in [Page::SyncMl, Page::MetInf, Page::Ddf] {
            let expected = page.namespace().map(|ns| {
                let mut escaped = String::new();
                escape_into(&mut escaped, ns, true);
                format!(" xmlns=\"{escaped}\"")
            });
            assert_eq!(namespace_attribute(page).map(str::to_owned), expected, "{page:?}");
        }
    }

    #[test]
    fn start_tags_on_another_page_declare_the_page_namespace() {
        use crate::tags::{metinf_tag, syncml_tag};
        for tag in [syncml_tag!("Data"), syncml_tag!("Item"), metinf_tag!("Format"), metinf_tag!("MaxMsgSize")] {
            let expected = format!("<{}{}>", tag.name, namespace_attribute(tag.page).unwrap_or(""));
            assert_eq!(tag.start_tag_on_page, expected);
        }
    }

    #[test]
    fn may_need_escaping_finds_what_a_byte_scan_finds() {
        let any = |bytes: &[u8]| bytes.iter().any(|b| ESCAPES[usize::from(*b)] != 0);
        for len in 0..40 {
            let plain: Vec<u8> = (0..len).map(|i| b"./Vendor/MSFT/Node/Leaf=01234"[i % 29]).collect();
            assert!(!may_need_escaping(&plain), "{len} plain bytes");
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = plain.clone();
                    bytes[at] = b;
                    assert_eq!(may_need_escaping(&bytes), any(&bytes), "byte {b:#04x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn first_to_escape_finds_what_a_byte_scan_finds() {
        let samples =
            ["", "plain", "./Vendor/MSFT/Node/Leaf", "a&b", "0123456789abcdef<", "0123456<", "01234567>", "\"", "x\ry"];
        for sample in samples {
            for mask in [ESCAPE_IN_TEXT, ESCAPE_IN_TEXT | ESCAPE_IN_ATTRIBUTE] {
                for start in 0..sample.len() {
                    let bytes = &sample.as_bytes()[start..];
                    let expected = bytes.iter().position(|b| ESCAPES[usize::from(*b)] & mask != 0);
                    assert_eq!(first_to_escape(bytes, mask), expected, "{sample:?}[{start}..], mask {mask}");
                }
            }
        }
    }
}
