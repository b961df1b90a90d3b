//! Model → WBXML bytes.

use super::{global, DDF_FPI};
use crate::element::{Element, Node};
use crate::encode::{self, Sink};
use crate::error::{Error, ErrorKind, Result};
use crate::message::{SyncMl, VerDtd};
use crate::tags::{Page, Tag};
use std::collections::HashMap;

/// The WBXML version byte written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WbxmlVersion {
    /// WBXML 1.1 (0x01).
    V1_1,
    /// WBXML 1.2 (0x02), what the SyncML reference toolkit writes.
    #[default]
    V1_2,
    /// WBXML 1.3 (0x03), what libwbxml writes.
    V1_3,
}

impl WbxmlVersion {
    fn byte(self) -> u8 {
        match self {
            WbxmlVersion::V1_1 => 0x01,
            WbxmlVersion::V1_2 => 0x02,
            WbxmlVersion::V1_3 => 0x03,
        }
    }
}

/// Options of the WBXML encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WbxmlOptions {
    /// The version byte.
    pub version: WbxmlVersion,
    /// Put strings that occur more than once (and pay for it) in the string table and refer to
    /// them with STR_T. Without it every string is inline (STR_I); the table then holds only what
    /// must be there (an FPI, literal tag names).
    pub string_table: bool,
}

impl Default for WbxmlOptions {
    fn default() -> Self {
        WbxmlOptions { version: WbxmlVersion::default(), string_table: true }
    }
}

/// Where encoded bytes go: a buffer, or a counter for [`encoded_len`].
trait Out {
    fn put(&mut self, bytes: &[u8]);
    fn byte(&mut self, b: u8) {
        self.put(&[b]);
    }
}

impl Out for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
}

struct Counter(usize);

impl Out for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

fn mb_u32<O: Out>(out: &mut O, value: u32) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut v = value;
    loop {
        i -= 1;
        buf[i] = (v & 0x7F) as u8 | if i == buf.len() - 1 { 0 } else { 0x80 };
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    out.put(&buf[i..]);
}

fn mb_len(value: u32) -> usize {
    let mut n = 1;
    let mut v = value >> 7;
    while v != 0 {
        n += 1;
        v >>= 7;
    }
    n
}

/// The string table of one document and the offsets of its strings.
#[derive(Default)]
struct StringTable {
    bytes: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl StringTable {
    fn add(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.offsets.get(s) {
            return off;
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(s.to_string(), off);
        off
    }

    fn get(&self, s: &str) -> Option<u32> {
        if self.offsets.is_empty() {
            return None;
        }
        self.offsets.get(s).copied()
    }
}

/// First pass: collects the names that need LITERAL and, when repeated strings go in the table,
/// counts the strings a document writes.
struct Collector {
    count_strings: bool,
    counts: HashMap<String, (u32, u32)>,
    literals: Vec<String>,
    next_order: u32,
}

impl Collector {
    fn new(count_strings: bool) -> Self {
        Collector { count_strings, counts: HashMap::new(), literals: Vec::new(), next_order: 0 }
    }

    fn count(&mut self, s: &str) {
        if !self.count_strings || s.len() < 3 {
            return;
        }
        if let Some(entry) = self.counts.get_mut(s) {
            entry.0 += 1;
        } else {
            self.counts.insert(s.to_string(), (1, self.next_order));
            self.next_order += 1;
        }
    }

    fn element(&mut self, el: &Element, inherited: Page) {
        let page = element_page(el, inherited);
        if page.token(&el.name).is_none() && !self.literals.contains(&el.name) {
            self.literals.push(el.name.clone());
        }
        let nests_documents = page == Page::SyncMl && el.name == "Data";
        for child in &el.children {
            match child {
                Node::Element(_) if nests_documents => {}
                Node::Element(e) => self.element(e, page),
                Node::Text(t) => self.count(t),
                Node::Opaque(_) => {}
            }
        }
    }

    /// Builds the table: literal names always; counted strings that occur more than once, when a
    /// table entry saves bytes over writing the string inline each time.
    fn into_table(self, first: Option<&str>) -> StringTable {
        let mut table = StringTable::default();
        if let Some(f) = first {
            table.add(f);
        }
        for name in &self.literals {
            table.add(name);
        }
        if self.count_strings {
            let mut candidates: Vec<(&String, u32, u32)> =
                self.counts.iter().filter(|(_, (n, _))| *n >= 2).map(|(s, (n, order))| (s, *n, *order)).collect();
            candidates.sort_by_key(|c| c.2);
            for (s, n, _) in candidates {
                let offset = table.bytes.len() as u32;
                let inline_cost = n as usize * (s.len() + 2);
                let table_cost = s.len() + 1 + n as usize * (1 + mb_len(offset));
                if table_cost < inline_cost {
                    table.add(s);
                }
            }
        }
        table
    }
}

/// The code page of a generic element: the one its namespace selects, else its parent's.
fn element_page(el: &Element, inherited: Page) -> Page {
    el.namespace.as_deref().and_then(Page::from_namespace).unwrap_or(inherited)
}

impl Sink for Collector {
    fn start(&mut self, _tag: Tag) -> Result<()> {
        Ok(())
    }
    fn empty(&mut self, _tag: Tag) -> Result<()> {
        Ok(())
    }
    fn text(&mut self, text: &str) -> Result<()> {
        self.count(text);
        Ok(())
    }
    fn binary(&mut self, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }
    fn end(&mut self) -> Result<()> {
        Ok(())
    }
    fn document(&mut self, _doc: &Element) -> Result<()> {
        Ok(())
    }
    fn element(&mut self, el: &Element) -> Result<()> {
        Collector::element(self, el, Page::SyncMl);
        Ok(())
    }
    fn rewrites_document_types(&self) -> bool {
        true
    }
}

/// Second pass: writes the body.
struct Writer<'t, O> {
    out: O,
    page: Page,
    table: &'t StringTable,
    options: &'t WbxmlOptions,
}

impl<O: Out> Writer<'_, O> {
    fn switch(&mut self, page: Page) {
        if page != self.page {
            self.out.byte(global::SWITCH_PAGE);
            self.out.byte(page as u8);
            self.page = page;
        }
    }

    fn tag(&mut self, page: Page, name: &str, content: bool) -> Result<()> {
        let content_bit = if content { 0x40 } else { 0 };
        match page.token(name) {
            Some(token) => {
                self.switch(page);
                self.out.byte(token | content_bit);
            }
            None => {
                let offset = self.table.get(name).ok_or_else(|| {
                    Error::new(ErrorKind::Encode(format!("element <{name}> has no token and no table entry")))
                })?;
                // The page still matters for a LITERAL name: a change of page against the parent
                // is what carries the element's namespace.
                self.switch(page);
                self.out.byte(global::LITERAL | content_bit);
                mb_u32(&mut self.out, offset);
            }
        }
        Ok(())
    }

    fn string(&mut self, text: &str) -> Result<()> {
        if let Some(offset) = self.table.get(text) {
            self.out.byte(global::STR_T);
            mb_u32(&mut self.out, offset);
            return Ok(());
        }
        if text.as_bytes().contains(&0) {
            return Err(Error::new(ErrorKind::Encode("text contains a NUL character".into())));
        }
        self.out.byte(global::STR_I);
        self.out.put(text.as_bytes());
        self.out.byte(0);
        Ok(())
    }

    fn opaque(&mut self, bytes: &[u8]) -> Result<()> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| Error::new(ErrorKind::Encode("opaque data longer than 4 GiB".into())))?;
        self.out.byte(global::OPAQUE);
        mb_u32(&mut self.out, len);
        self.out.put(bytes);
        Ok(())
    }

    fn generic(&mut self, el: &Element, inherited: Page) -> Result<()> {
        self.generic_in(el, inherited, false)
    }

    /// Writes a generic element. `document_item` is set inside an Item whose Data holds a
    /// document: its Type is then written in the `+wbxml` form, as for typed Items.
    fn generic_in(&mut self, el: &Element, inherited: Page, document_item: bool) -> Result<()> {
        let page = element_page(el, inherited);
        let content = !el.children.is_empty();
        self.tag(page, &el.name, content)?;
        // A document inside a SyncML Data element travels as a nested document, as in Items.
        let nests_documents = page == Page::SyncMl && el.name == "Data";
        let document_item = document_item || (page == Page::SyncMl && el.name == "Item" && item_holds_document(el));
        let is_type = page == Page::MetInf && el.name == "Type";
        if content {
            for child in &el.children {
                match child {
                    Node::Element(e) if nests_documents => self.opaque(&encode_document(e, self.options)?)?,
                    Node::Element(e) => self.generic_in(e, page, document_item)?,
                    Node::Text(t) if is_type && document_item && crate::decode::nests_in_wbxml(t.trim()) => {
                        match crate::decode::swap_type_suffix(t, "+xml", "+wbxml") {
                            Some(wire) => self.string(&wire)?,
                            None => self.string(t)?,
                        }
                    }
                    Node::Text(t) => self.string(t)?,
                    Node::Opaque(b) => self.opaque(b)?,
                }
            }
            self.out.byte(global::END);
        }
        Ok(())
    }
}

/// True if a generic `Item` element has a `Data` child holding an element (a document).
pub(crate) fn item_holds_document(item: &Element) -> bool {
    item.elements().any(|d| d.name == "Data" && d.elements().next().is_some())
}

impl<O: Out> Sink for Writer<'_, O> {
    fn start(&mut self, tag: Tag) -> Result<()> {
        self.switch(tag.page);
        self.out.byte(tag.token | 0x40);
        Ok(())
    }

    fn empty(&mut self, tag: Tag) -> Result<()> {
        self.switch(tag.page);
        self.out.byte(tag.token);
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<()> {
        self.string(text)
    }

    fn binary(&mut self, bytes: &[u8]) -> Result<()> {
        self.opaque(bytes)
    }

    fn end(&mut self) -> Result<()> {
        self.out.byte(global::END);
        Ok(())
    }

    fn document(&mut self, doc: &Element) -> Result<()> {
        let nested = encode_document(doc, self.options)?;
        self.opaque(&nested)
    }

    fn element(&mut self, el: &Element) -> Result<()> {
        self.generic(el, Page::SyncMl)
    }

    fn rewrites_document_types(&self) -> bool {
        true
    }
}

fn syncml_public_id(ver: &VerDtd) -> u32 {
    match ver {
        VerDtd::V1_0 => 0x0FD1,
        VerDtd::V1_1 => 0x0FD3,
        VerDtd::V1_2 | VerDtd::Other(_) => 0x1201,
    }
}

fn header<O: Out>(out: &mut O, options: &WbxmlOptions, public_id: PublicIdForm, table: &StringTable) {
    out.byte(options.version.byte());
    match public_id {
        PublicIdForm::Number(n) => mb_u32(out, n),
        PublicIdForm::TableIndex(i) => {
            out.byte(0);
            mb_u32(out, i);
        }
    }
    mb_u32(out, 0x6A); // UTF-8
    mb_u32(out, table.bytes.len() as u32);
    out.put(&table.bytes);
}

enum PublicIdForm {
    Number(u32),
    TableIndex(u32),
}

fn write_message<O: Out>(out: O, message: &SyncMl, options: &WbxmlOptions) -> Result<O> {
    // Literal names need the table even when repeated strings stay inline.
    let mut collector = Collector::new(options.string_table);
    encode::message(&mut collector, message)?;
    let table = collector.into_table(None);
    let mut writer = Writer { out, page: Page::SyncMl, table: &table, options };
    header(&mut writer.out, options, PublicIdForm::Number(syncml_public_id(&message.header.ver_dtd)), &table);
    encode::message(&mut writer, message)?;
    Ok(writer.out)
}

pub(crate) fn encode(message: &SyncMl, options: &WbxmlOptions) -> Result<Vec<u8>> {
    write_message(Vec::with_capacity(512), message, options)
}

pub(crate) fn encoded_len(message: &SyncMl, options: &WbxmlOptions) -> Result<usize> {
    Ok(write_message(Counter(0), message, options)?.0)
}

pub(crate) fn encode_document(element: &Element, options: &WbxmlOptions) -> Result<Vec<u8>> {
    let is_ddf = element.is_ddf();
    let root_page = if is_ddf { Page::Ddf } else { Page::SyncMl };
    // Both passes must see the same pages: a name is a LITERAL exactly when its page has no token
    // for it (e.g. `Data` inside a TNDS `MgmtTree`, which is on the DDF page).
    let mut collector = Collector::new(options.string_table);
    collector.element(element, root_page);
    let table = collector.into_table(is_ddf.then_some(DDF_FPI));
    let public_id = if is_ddf { PublicIdForm::TableIndex(0) } else { PublicIdForm::Number(0x01) };
    let mut writer = Writer { out: Vec::with_capacity(256), page: Page::SyncMl, table: &table, options };
    header(&mut writer.out, options, public_id, &table);
    writer.generic(element, root_page)?;
    Ok(writer.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_u_int32_encoding() {
        for (v, bytes) in
            [(0u32, &[0x00][..]), (0x7F, &[0x7F]), (0xA0, &[0x81, 0x20]), (u32::MAX, &[0x8F, 0xFF, 0xFF, 0xFF, 0x7F])]
        {
            let mut out = Vec::new();
            mb_u32(&mut out, v);
            assert_eq!(out, bytes);
            assert_eq!(mb_len(v), bytes.len());
        }
    }
}
