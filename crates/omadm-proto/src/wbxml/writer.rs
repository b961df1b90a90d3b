//! Model → WBXML bytes.

use super::{global, DDF_FPI};
use crate::bytes::same_bytes;
use crate::element::{Element, Node};
use crate::encode::{self, Sink};
use crate::error::{Error, ErrorKind, Result};
use crate::message::{SyncMl, VerDtd};
use crate::tags::{Page, Tag};

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

/// True if `bytes` holds a NUL, which a WBXML string cannot. Looked for eight bytes at a time,
/// inline: most strings are a few bytes long, too short to pay for a call to `memchr`.
#[inline(always)]
fn has_nul(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = match <[u8; 8]>::try_from(chunk) {
            Ok(word) => u64::from_le_bytes(word),
            Err(_) => return chunk.contains(&0),
        };
        if word.wrapping_sub(ONES) & !word & HIGH_BITS != 0 {
            return true;
        }
    }
    // (`contains` would call `memchr` again, for at most seven bytes.)
    #[allow(clippy::manual_contains)]
    chunks.remainder().iter().any(|&b| b == 0)
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

/// A set of strings kept back to back in one buffer, in insertion order, and found through an
/// open-addressing index with a cheap multiplicative hash. The string-table pass looks up every
/// string a message writes: with SipHash and a `String` allocated per key that was most of the
/// encoder's time.
#[derive(Default)]
struct StrSet {
    /// The strings, back to back.
    bytes: String,
    /// Where each string starts and ends in `bytes`, in insertion order.
    spans: Vec<(u32, u32)>,
    /// 1 + index into `spans`, or 0 for a free slot; the length is 0 or a power of two, at least
    /// twice the number of strings.
    slots: Vec<u32>,
}

/// How far [`StrSet::insert`] probes before giving up on a string. Real messages never come near
/// it; strings crafted to collide cannot make the pass quadratic.
const MAX_PROBES: usize = 64;

impl StrSet {
    /// An empty set sized for a typical message's strings, so that counting them rarely grows it.
    fn for_message() -> Self {
        StrSet::with_capacity(64, 1000)
    }

    /// An empty set with room for `strings` strings of `bytes` bytes in all (none allocated for
    /// none).
    fn with_capacity(strings: usize, bytes: usize) -> Self {
        if strings == 0 {
            return StrSet::default();
        }
        let slots = (2 * strings).next_power_of_two().max(64);
        StrSet { bytes: String::with_capacity(bytes), spans: Vec::with_capacity(strings), slots: vec![0; slots] }
    }

    /// An FxHash-style hash: eight bytes at a time, rotate, xor, multiply.
    fn hash(bytes: &[u8]) -> usize {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        if !chunks.remainder().is_empty() {
            h = (h.rotate_left(5) ^ Self::tail_word(bytes)).wrapping_mul(K);
        }
        // The high bits are the well-mixed ones.
        (h >> 32) as usize
    }

    /// The last `bytes.len() % 8` bytes of `bytes` (not none) as a little-endian word padded with
    /// zeros, read with at most two overlapping loads: copying them into a zeroed word took a call
    /// to `memcpy` for every string hashed.
    #[inline(always)]
    fn tail_word(bytes: &[u8]) -> u64 {
        fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
            bytes.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok()).unwrap_or([0; N])
        }
        let n = bytes.len();
        let rest = n % 8;
        if n >= 8 {
            // The last eight bytes, shifted down past those the chunks took.
            return u64::from_le_bytes(word(bytes, n - 8)) >> (8 * (8 - rest));
        }
        // Two loads that overlap in the middle; the bytes they share are the same in both.
        match n {
            4.. => {
                let (low, high) = (u32::from_le_bytes(word(bytes, 0)), u32::from_le_bytes(word(bytes, n - 4)));
                u64::from(low) | u64::from(high) << (8 * (n - 4))
            }
            2.. => {
                let (low, high) = (u16::from_le_bytes(word(bytes, 0)), u16::from_le_bytes(word(bytes, n - 2)));
                u64::from(low) | u64::from(high) << (8 * (n - 2))
            }
            _ => bytes.first().map_or(0, |&b| u64::from(b)),
        }
    }

    fn string(&self, index: usize) -> &str {
        let (start, end) = self.spans[index];
        &self.bytes[start as usize..end as usize]
    }

    /// The index of `s`, if present.
    fn get(&self, s: &str) -> Option<usize> {
        if self.spans.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = Self::hash(s.as_bytes()) & mask;
        loop {
            match self.slots[slot] {
                0 => return None,
                i if same_bytes(self.string(i as usize - 1).as_bytes(), s.as_bytes()) => return Some(i as usize - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// The index of `s`, inserting it if absent (`true` when inserted); `None` if its probe
    /// sequence is too long (see [`MAX_PROBES`]) or the buffer would pass 4 GiB.
    fn insert(&mut self, s: &str) -> Option<(usize, bool)> {
        if 2 * (self.spans.len() + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = Self::hash(s.as_bytes()) & mask;
        for _ in 0..MAX_PROBES {
            match self.slots[slot] {
                0 => {
                    let start = u32::try_from(self.bytes.len()).ok()?;
                    let end = u32::try_from(self.bytes.len() + s.len()).ok()?;
                    self.bytes.push_str(s);
                    self.spans.push((start, end));
                    self.slots[slot] = self.spans.len() as u32;
                    return Some((self.spans.len() - 1, true));
                }
                i if same_bytes(self.string(i as usize - 1).as_bytes(), s.as_bytes()) => {
                    return Some((i as usize - 1, false))
                }
                _ => slot = (slot + 1) & mask,
            }
        }
        None
    }

    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(64);
        self.slots = vec![0; len];
        let mask = len - 1;
        for index in 0..self.spans.len() {
            let mut slot = Self::hash(self.string(index).as_bytes()) & mask;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = index as u32 + 1;
        }
    }
}

/// The string table of one document and the offsets of its strings.
#[derive(Default)]
struct StringTable {
    bytes: Vec<u8>,
    /// Every string the first pass indexed: the counted strings, then the FPI and literal names.
    /// The table holds some of them.
    strings: StrSet,
    /// The table offset of each string of `strings` that the table holds, by index (shorter than
    /// `strings` when the last ones are not in the table).
    offsets: Vec<Option<u32>>,
    /// Bit `n % 64` is set if the table holds a string of `n` bytes: most strings a message
    /// writes are not in the table, and most of those are told so without hashing them.
    lengths: u64,
    /// Some string of the body holds a NUL (which WBXML cannot carry in a string): the writer
    /// then looks for one in each, to refuse it. The first pass looked at every string.
    strings_hold_nul: bool,
}

impl StringTable {
    fn length_bit(s: &str) -> u64 {
        1 << (s.len() % 64)
    }

    #[inline(always)]
    fn get(&self, s: &str) -> Option<u32> {
        if self.lengths & Self::length_bit(s) == 0 {
            return None;
        }
        self.find(s)
    }

    fn find(&self, s: &str) -> Option<u32> {
        let index = self.strings.get(s)?;
        self.offsets.get(index).copied().flatten()
    }
}

/// Puts string `index` of a table's set, `s`, in the table (once) and tells its offset.
fn put_in_table(bytes: &mut Vec<u8>, offsets: &mut Vec<Option<u32>>, lengths: &mut u64, index: usize, s: &str) -> u32 {
    if let Some(&Some(offset)) = offsets.get(index) {
        return offset;
    }
    let offset = bytes.len() as u32;
    if offsets.len() <= index {
        offsets.resize(index + 1, None);
    }
    offsets[index] = Some(offset);
    *lengths |= StringTable::length_bit(s);
    bytes.extend_from_slice(s.as_bytes());
    bytes.push(0);
    offset
}

/// First pass: collects the names that need LITERAL and, when repeated strings go in the table,
/// counts the strings a document writes.
struct Collector {
    count_strings: bool,
    /// Every counted string, in first-seen order, and how often it occurs.
    strings: StrSet,
    counts: Vec<u32>,
    literals: Vec<String>,
    /// Some string holds a NUL.
    strings_hold_nul: bool,
}

impl Collector {
    fn new(count_strings: bool) -> Self {
        let (strings, counts) =
            if count_strings { (StrSet::for_message(), Vec::with_capacity(64)) } else { Default::default() };
        Collector { count_strings, strings, counts, literals: Vec::new(), strings_hold_nul: false }
    }

    fn count(&mut self, s: &str) {
        // A string with a NUL cannot be a table entry (entries end at the first NUL); written
        // inline it is refused.
        let nul = has_nul(s.as_bytes());
        self.strings_hold_nul |= nul;
        if !self.count_strings || s.len() < 3 || nul {
            return;
        }
        match self.strings.insert(s) {
            Some((_, true)) => self.counts.push(1),
            Some((index, false)) => self.counts[index] += 1,
            None => {} // not indexed: stays inline
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
    fn into_table(self, first: Option<&str>) -> Result<StringTable> {
        // The table is built over the set of counted strings, which already indexes every
        // string it may hold; its buffer is allocated once, with room for all of them.
        let required = first.into_iter().chain(self.literals.iter().map(String::as_str));
        let (mut entries, mut size) = required.fold((0, 0), |(n, b), s| (n + 1, b + s.len() + 1));
        for (index, _) in self.counts.iter().enumerate().filter(|(_, &n)| n >= 2) {
            entries += 1;
            size += self.strings.string(index).len() + 1;
        }
        let mut table =
            StringTable { strings: self.strings, strings_hold_nul: self.strings_hold_nul, ..StringTable::default() };
        if entries == 0 {
            return Ok(table);
        }
        let StringTable { bytes, strings, offsets, lengths, .. } = &mut table;
        bytes.reserve_exact(size);
        // The FPI and literal names must be in the table; literal names are few and plain.
        for required in first.into_iter().chain(self.literals.iter().map(String::as_str)) {
            if required.as_bytes().contains(&0) {
                return Err(Error::new(ErrorKind::Encode(format!(
                    "element name {required:?} contains a NUL character"
                ))));
            }
            let (index, _) = strings.insert(required).ok_or_else(|| {
                Error::new(ErrorKind::Encode(format!("cannot index the string table entry {required:?}")))
            })?;
            put_in_table(bytes, offsets, lengths, index, strings.string(index));
        }
        for (index, &n) in self.counts.iter().enumerate() {
            if n < 2 {
                continue;
            }
            let s = strings.string(index);
            let offset = bytes.len() as u32;
            let inline_cost = n as usize * (s.len() + 2);
            let table_cost = s.len() + 1 + n as usize * (1 + mb_len(offset));
            if table_cost < inline_cost {
                put_in_table(bytes, offsets, lengths, index, s);
            }
        }
        Ok(table)
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
        if self.table.strings_hold_nul && has_nul(text.as_bytes()) {
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
    let table = collector.into_table(None)?;
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
    let table = collector.into_table(is_ddf.then_some(DDF_FPI))?;
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
    fn string_set_keeps_order_and_finds_every_string() {
        let mut set = StrSet::default();
        let words: Vec<String> = (0..1000).map(|i| format!("./Node/{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(set.insert(w), Some((i, true)));
        }
        for (i, w) in words.iter().enumerate() {
            assert_eq!(set.insert(w), Some((i, false)));
            assert_eq!(set.get(w), Some(i));
            assert_eq!(set.string(i), w);
        }
        assert_eq!(set.get("./Node/1000"), None);
        assert_eq!(set.get(""), None);
        assert_eq!(StrSet::default().get("x"), None);
    }

    #[test]
    fn string_table_holds_repeated_strings_in_first_seen_order() {
        let mut collector = Collector::new(true);
        for s in ["./DevInfo/Lang", "ab", "./DevDetail", "./DevInfo/Lang", "ab", "./DevDetail", "./DevDetail", "ab"] {
            collector.count(s);
        }
        collector.literals.push("Vendor".into());
        let table = collector.into_table(Some(DDF_FPI)).unwrap();
        let expected = format!("{DDF_FPI}\0Vendor\0./DevInfo/Lang\0./DevDetail\0");
        assert_eq!(table.bytes, expected.as_bytes());
        assert_eq!(table.get("./DevDetail"), Some(expected.find("./DevDetail").unwrap() as u32));
        assert_eq!(table.get("ab"), None, "too short to pay for a table entry");
    }

    #[test]
    fn text_with_a_nul_is_refused_whatever_its_length_and_the_table() {
        let xml = b"<SyncML><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>\
<MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source></SyncHdr>\
<SyncBody><Final/></SyncBody></SyncML>";
        let message = crate::xml::decode(xml, &crate::limits::Limits::default()).unwrap();
        for session in ["\0", "a\0", "abc\0def", "a long session id\0 that would be a table entry"] {
            let mut message = message.clone();
            message.header.session_id = session.into();
            message.header.msg_id = session.into();
            for string_table in [true, false] {
                let options = WbxmlOptions { string_table, ..WbxmlOptions::default() };
                let err = encode(&message, &options).unwrap_err();
                assert!(err.to_string().contains("NUL"), "{session:?}, table {string_table}: {err}");
                assert!(encoded_len(&message, &options).is_err());
            }
        }
        assert!(encode(&message, &WbxmlOptions::default()).is_ok());
    }

    #[test]
    fn tail_word_is_the_last_bytes_padded_with_zeros() {
        let text = b"abcdefghijklmnopqrstuvwxyz";
        for len in 1..=text.len() {
            let bytes = &text[..len];
            let rest = &bytes[len - len % 8..];
            if rest.is_empty() {
                continue;
            }
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            assert_eq!(StrSet::tail_word(bytes), u64::from_le_bytes(word), "{len}");
        }
    }

    #[test]
    fn has_nul_finds_a_nul_anywhere() {
        for len in 0..20 {
            assert!(!has_nul(&vec![0x80; len]));
            for at in 0..len {
                let mut bytes = vec![0x01u8; len];
                bytes[at] = 0;
                assert!(has_nul(&bytes), "len {len}, NUL at {at}");
            }
        }
    }

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
