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

fn mb_u32(out: &mut Vec<u8>, value: u32) {
    // Most values written (the charset, table lengths and offsets) take one byte.
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
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
    out.extend_from_slice(&buf[i..]);
}

/// True if `bytes` holds a NUL, which a WBXML string cannot. Looked for eight bytes at a time,
/// inline: most strings are a few bytes long, too short to pay for a call to `memchr`. The last
/// bytes are read as a word that overlaps the ones before, not one at a time.
#[inline(always)]
fn has_nul(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH_BITS != 0;
    let n = bytes.len();
    if n < 8 {
        // Two loads that overlap in the middle cover every byte.
        return match n {
            4.. => {
                let (low, high) = (u32::from_le_bytes(load(bytes, 0)), u32::from_le_bytes(load(bytes, n - 4)));
                zero_byte(u64::from(low) | u64::from(high) << 32)
            }
            2.. => {
                let (low, high) = (u16::from_le_bytes(load(bytes, 0)), u16::from_le_bytes(load(bytes, n - 2)));
                zero_byte(u64::from(low) | u64::from(high) << 16 | 0xFFFF_FFFF_0000_0000)
            }
            1 => bytes[0] == 0,
            _ => false,
        };
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if zero_byte(u64::from_le_bytes(load(chunk, 0))) {
            return true;
        }
    }
    !chunks.remainder().is_empty() && zero_byte(u64::from_le_bytes(load(bytes, n - 8)))
}

/// The `N` bytes of `bytes` from `at` (callers stay within `bytes`; zeros otherwise).
#[inline(always)]
fn load<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok()).unwrap_or([0; N])
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

/// A set of strings, each a span of a buffer that its user keeps and passes in (the body the
/// writer wrote them in), in insertion order, found through an open-addressing index with a
/// cheap multiplicative hash. The writer adds every string of 3 bytes or more that a message
/// writes: with SipHash and a `String` allocated per key that was most of the encoder's time; the
/// strings are not copied again, as the body holds them. Each string carries how often it was added and,
/// once the string table holds it, its offset there.
#[derive(Default)]
struct StrSet {
    /// The strings, in insertion order.
    entries: Vec<Entry>,
    /// 1 + index into `entries`, or 0 for a free slot; the length is 0 or a power of two, at
    /// least twice the number of strings.
    slots: Vec<u32>,
    /// How many strings were added more than once, and their bytes with a NUL each: what a
    /// string table of them all would take, known without going over the entries.
    repeated: usize,
    repeated_bytes: usize,
}

/// A string of a [`StrSet`].
struct Entry {
    /// Where the string starts and ends in the buffer.
    start: u32,
    end: u32,
    /// How often it was added.
    count: u32,
    /// Its offset in the string table, once the table holds it.
    offset: Option<u32>,
}

/// How far [`StrSet::add`] probes before giving up on a string. Real messages never come near
/// it; strings crafted to collide cannot make the pass quadratic.
const MAX_PROBES: usize = 64;

impl StrSet {
    /// An empty set sized for a typical message's strings, so that counting them rarely grows it
    /// (48 entries: under 1 KiB, the largest of mimalloc's small blocks, which its fast path
    /// serves).
    fn for_message() -> Self {
        StrSet::with_capacity(48)
    }

    /// An empty set with room for `strings` strings (none allocated for none).
    fn with_capacity(strings: usize) -> Self {
        if strings == 0 {
            return StrSet::default();
        }
        let slots = (2 * strings).next_power_of_two().max(64);
        StrSet { entries: Vec::with_capacity(strings), slots: vec![0; slots], ..StrSet::default() }
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
        let n = bytes.len();
        let rest = n % 8;
        if n >= 8 {
            // The last eight bytes, shifted down past those the chunks took.
            return u64::from_le_bytes(load(bytes, n - 8)) >> (8 * (8 - rest));
        }
        // Two loads that overlap in the middle; the bytes they share are the same in both.
        match n {
            4.. => {
                let (low, high) = (u32::from_le_bytes(load(bytes, 0)), u32::from_le_bytes(load(bytes, n - 4)));
                u64::from(low) | u64::from(high) << (8 * (n - 4))
            }
            2.. => {
                let (low, high) = (u16::from_le_bytes(load(bytes, 0)), u16::from_le_bytes(load(bytes, n - 2)));
                u64::from(low) | u64::from(high) << (8 * (n - 2))
            }
            _ => bytes.first().map_or(0, |&b| u64::from(b)),
        }
    }

    /// String `index`, in `buf`.
    fn string<'b>(&self, buf: &'b [u8], index: usize) -> &'b [u8] {
        let entry = &self.entries[index];
        &buf[entry.start as usize..entry.end as usize]
    }

    /// The index of `s`, if present (its strings in `buf`).
    fn get(&self, buf: &[u8], s: &[u8]) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = Self::hash(s) & mask;
        loop {
            match self.slots[slot] {
                0 => return None,
                i if same_bytes(self.string(buf, i as usize - 1), s) => return Some(i as usize - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Adds an occurrence of the string `buf[start..end]` and tells its index: the span is
    /// inserted if the set has no equal string. `None` (nothing added) if its probe sequence is
    /// too long (see [`MAX_PROBES`]) or the span passes 4 GiB.
    fn add(&mut self, buf: &[u8], start: usize, end: usize) -> Option<usize> {
        if 2 * (self.entries.len() + 1) > self.slots.len() {
            self.grow(buf);
        }
        let s = buf.get(start..end)?;
        let mask = self.slots.len() - 1;
        let mut slot = Self::hash(s) & mask;
        for _ in 0..MAX_PROBES {
            match self.slots[slot] {
                0 => {
                    let (start, end) = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
                    self.entries.push(Entry { start, end, count: 1, offset: None });
                    self.slots[slot] = self.entries.len() as u32;
                    return Some(self.entries.len() - 1);
                }
                i if same_bytes(self.string(buf, i as usize - 1), s) => {
                    let entry = &mut self.entries[i as usize - 1];
                    entry.count += 1;
                    if entry.count == 2 {
                        self.repeated += 1;
                        self.repeated_bytes += s.len() + 1;
                    }
                    return Some(i as usize - 1);
                }
                _ => slot = (slot + 1) & mask,
            }
        }
        None
    }

    fn grow(&mut self, buf: &[u8]) {
        let len = (self.slots.len() * 2).max(64);
        self.slots = vec![0; len];
        let mask = len - 1;
        for index in 0..self.entries.len() {
            let mut slot = Self::hash(self.string(buf, index)) & mask;
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
    /// Every string the collector indexed: the counted strings, then the FPI and literal names.
    /// The table holds some of them.
    strings: StrSet,
    /// The table offset of each literal name, in the collector's order of literals.
    literal_offsets: Vec<u32>,
    /// Bit `n % 64` is set if the table holds a string of `n` bytes: most strings looked up are
    /// not in the table, and most of those are told so without hashing them.
    lengths: u64,
}

impl StringTable {
    fn length_bit(len: usize) -> u64 {
        1 << (len % 64)
    }

    /// The offset of `s` in the table, if the table holds it (`buf` holds the set's strings).
    fn get(&self, buf: &[u8], s: &[u8]) -> Option<u32> {
        if self.lengths & Self::length_bit(s.len()) == 0 {
            return None;
        }
        let index = self.strings.get(buf, s)?;
        self.offset(index)
    }

    /// The offset of string `index` of `strings` in the table, if the table holds it.
    fn offset(&self, index: usize) -> Option<u32> {
        self.strings.entries.get(index)?.offset
    }

    /// Puts string `index` of `strings` (in `buf`) in the table, once, and tells its offset.
    fn put(&mut self, buf: &[u8], index: usize) -> u32 {
        let entry = &mut self.strings.entries[index];
        if let Some(offset) = entry.offset {
            return offset;
        }
        let offset = self.bytes.len() as u32;
        entry.offset = Some(offset);
        let s = &buf[entry.start as usize..entry.end as usize];
        self.lengths |= Self::length_bit(s.len());
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        offset
    }
}

/// Puts a string the table must hold (the FPI, a literal name) in it and tells its offset. It is
/// indexed in the set as a span of `buf`, the buffer of the set's strings, after which it is
/// appended.
fn put_required(table: &mut StringTable, buf: &mut Vec<u8>, required: &str) -> Result<u32> {
    if required.as_bytes().contains(&0) {
        return Err(Error::new(ErrorKind::Encode(format!("element name {required:?} contains a NUL character"))));
    }
    let start = buf.len();
    buf.extend_from_slice(required.as_bytes());
    let index = table
        .strings
        .add(buf, start, buf.len())
        .ok_or_else(|| Error::new(ErrorKind::Encode(format!("cannot index the string table entry {required:?}"))))?;
    Ok(table.put(buf, index))
}

/// What a document's string table is built from: the names that need LITERAL and, when repeated
/// strings go in the table, how often each string of 3 bytes or more occurs, in a set over the
/// buffer that holds them (the writer's body).
struct Collector {
    count_strings: bool,
    /// Every counted string, in first-seen order, and how often it occurs.
    strings: StrSet,
    literals: Vec<String>,
}

impl Collector {
    fn new(count_strings: bool) -> Self {
        let strings = if count_strings { StrSet::for_message() } else { StrSet::default() };
        Collector { count_strings, strings, literals: Vec::new() }
    }

    /// Counts the string `buf[start..end]`, which holds no NUL (a table entry ends at the first
    /// NUL), and tells its index in the set; `None` if it is not counted (too short to pay for a
    /// table entry, repeated strings not shared, or not indexed).
    fn count(&mut self, buf: &[u8], start: usize, end: usize) -> Option<usize> {
        if !self.count_strings || end - start < 3 {
            return None;
        }
        self.strings.add(buf, start, end) // `None`: not indexed, stays inline
    }

    /// The index of literal name `name` among the document's, in first-seen order.
    fn literal(&mut self, name: &str) -> usize {
        match self.literals.iter().position(|l| l == name) {
            Some(k) => k,
            None => {
                self.literals.push(name.to_owned());
                self.literals.len() - 1
            }
        }
    }

    /// Builds the table: the FPI (`first`) and literal names always; counted strings that occur
    /// more than once, when a table entry saves bytes over writing the string inline each time.
    /// `buf` holds the counted strings; the FPI and literal names are appended to it.
    fn into_table(self, buf: &mut Vec<u8>, first: Option<&str>) -> Result<StringTable> {
        // The table is built over the set of counted strings, which already indexes every
        // string it may hold; its buffer is allocated once, with room for all of them.
        let required = first.into_iter().chain(self.literals.iter().map(String::as_str));
        let (required, required_bytes) = required.fold((0, 0), |(n, b), s| (n + 1, b + s.len() + 1));
        let entries = required + self.strings.repeated;
        let size = required_bytes + self.strings.repeated_bytes;
        let counted = self.strings.entries.len();
        let mut table = StringTable { strings: self.strings, ..StringTable::default() };
        if entries == 0 {
            return Ok(table);
        }
        table.bytes.reserve_exact(size);
        // The FPI and literal names must be in the table; literal names are few and plain.
        if let Some(fpi) = first {
            put_required(&mut table, buf, fpi)?;
        }
        table.literal_offsets.reserve_exact(self.literals.len());
        for literal in &self.literals {
            let offset = put_required(&mut table, buf, literal)?;
            table.literal_offsets.push(offset);
        }
        // (A counted string that is also a required one has its offset already: `put` keeps it.)
        for index in 0..counted {
            let Entry { start, end, count: n, .. } = table.strings.entries[index];
            if n < 2 {
                continue;
            }
            let len = (end - start) as usize;
            let offset = table.bytes.len() as u32;
            let inline_cost = n as usize * (len + 2);
            let table_cost = len + 1 + n as usize * (1 + mb_len(offset));
            if table_cost < inline_cost {
                table.put(buf, index);
            }
        }
        Ok(table)
    }
}

/// The code page of a generic element: the one its namespace selects, else its parent's.
fn element_page(el: &Element, inherited: Page) -> Page {
    el.namespace.as_deref().and_then(Page::from_namespace).unwrap_or(inherited)
}

/// Walks a whole document for its string table only, writing nothing: how the table's errors
/// are found when writing failed first (see [`table_error_first`]). The strings it counts are
/// kept back to back in `bytes`.
struct TableOnly {
    collector: Collector,
    bytes: Vec<u8>,
}

impl TableOnly {
    fn count(&mut self, s: &str) {
        if has_nul(s.as_bytes()) {
            return;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(s.as_bytes());
        self.collector.count(&self.bytes, start, self.bytes.len());
    }

    /// As [`Writer::generic_in`] walks a generic element.
    fn element(&mut self, el: &Element, inherited: Page) {
        let page = element_page(el, inherited);
        if page.token(&el.name).is_none() {
            self.collector.literal(&el.name);
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
}

impl Sink for TableOnly {
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
        TableOnly::element(self, el, Page::SyncMl);
        Ok(())
    }
    fn rewrites_document_types(&self) -> bool {
        true
    }
}

/// A place in the body that the string table may change.
struct Mark {
    /// Where in the body: the STR_I of a string, just after a LITERAL token, or the first byte
    /// of a hidden string.
    at: usize,
    what: Marked,
}

/// What a [`Mark`] marks. Its numbers are 32-bit, so that a mark takes 16 bytes and a message's
/// marks fit in one of the allocator's small blocks; strings of 4 GiB or more are never marked,
/// as the table (32-bit offsets) cannot hold them.
enum Marked {
    /// A counted string, string `0` of the collector's set, written inline (STR_I, it, 0).
    Counted(u32),
    /// Another string of `0` bytes written inline: the table may still hold it (as a literal
    /// name, or counted elsewhere), which only looking it up tells.
    Other(u32),
    /// The name of a LITERAL tag, literal `0` of the collector, whose offset goes at the mark.
    Literal(u32),
    /// `0` bytes kept in the body only for the set to index (a string counted but not written),
    /// left out of the document.
    Hidden(u32),
}

/// What the finished document has instead of a mark's `replaced` bytes of the body: a token and
/// a table offset, either, or nothing.
struct Change {
    token: Option<u8>,
    offset: Option<u32>,
    replaced: usize,
}

/// Writes a document in one pass: the body with every string inline, while collecting what the
/// string table is built from and marking where each string and literal name went. [`finish`]
/// then builds the table and, if the table holds anything, the document is copied once after
/// its header, referring to the table (STR_T, LITERAL offsets) exactly where a second pass over
/// the model would have. Walking the model once and hashing each string once is what this saves.
///
/// [`finish`]: Writer::finish
struct Writer<'o> {
    /// The header, written for an empty table, then the body.
    out: Vec<u8>,
    header_len: usize,
    public_id: PublicIdForm,
    page: Page,
    options: &'o WbxmlOptions,
    collector: Collector,
    marks: Vec<Mark>,
    /// Some mark is [`Marked::Hidden`].
    hides: bool,
}

impl<'o> Writer<'o> {
    fn new(mut out: Vec<u8>, options: &'o WbxmlOptions, public_id: PublicIdForm) -> Self {
        header(&mut out, options.version, public_id, &[]);
        Writer {
            header_len: out.len(),
            out,
            public_id,
            page: Page::SyncMl,
            options,
            collector: Collector::new(options.string_table),
            marks: Vec::with_capacity(64),
            hides: false,
        }
    }

    fn switch(&mut self, page: Page) {
        if page != self.page {
            self.out.push(global::SWITCH_PAGE);
            self.out.push(page as u8);
            self.page = page;
        }
    }

    fn tag(&mut self, page: Page, name: &str, content: bool) {
        let content_bit = if content { 0x40 } else { 0 };
        match page.token(name) {
            Some(token) => {
                self.switch(page);
                self.out.push(token | content_bit);
            }
            None => {
                let literal = self.collector.literal(name);
                // The page still matters for a LITERAL name: a change of page against the parent
                // is what carries the element's namespace.
                self.switch(page);
                self.out.push(global::LITERAL | content_bit);
                self.marks.push(Mark { at: self.out.len(), what: Marked::Literal(literal as u32) });
            }
        }
    }

    fn string(&mut self, text: &str) -> Result<()> {
        if has_nul(text.as_bytes()) {
            return Err(nul_in_text());
        }
        let at = self.inline(text);
        let what = match self.collector.count(&self.out, at + 1, at + 1 + text.len()) {
            // (The set's indices are 32-bit, as its slots are.)
            Some(index) => Marked::Counted(index as u32),
            None => match u32::try_from(text.len()) {
                Ok(len) => Marked::Other(len),
                Err(_) => return Ok(()),
            },
        };
        self.marks.push(Mark { at, what });
        Ok(())
    }

    /// Writes `text` inline (STR_I, it, 0) and tells where.
    fn inline(&mut self, text: &str) -> usize {
        let at = self.out.len();
        self.out.push(global::STR_I);
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(0);
        at
    }

    /// Writes `wire`, a Type the writer rewrote from the model's `model` (`+xml` as `+wbxml`).
    /// The table counts `model`, as the table always did, and holds `wire` only if it is there
    /// for another reason; `model`'s bytes stay in the body for the set, hidden.
    fn rewritten_string(&mut self, model: &str, wire: &str) -> Result<()> {
        // `wire` holds a NUL exactly when `model` does.
        if has_nul(model.as_bytes()) {
            return Err(nul_in_text());
        }
        if let Ok(len) = u32::try_from(model.len()) {
            let at = self.out.len();
            self.out.extend_from_slice(model.as_bytes());
            self.marks.push(Mark { at, what: Marked::Hidden(len) });
            self.hides = true;
            self.collector.count(&self.out, at, self.out.len());
        }
        let at = self.inline(wire);
        if let Ok(len) = u32::try_from(wire.len()) {
            self.marks.push(Mark { at, what: Marked::Other(len) });
        }
        Ok(())
    }

    fn opaque(&mut self, bytes: &[u8]) -> Result<()> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| Error::new(ErrorKind::Encode("opaque data longer than 4 GiB".into())))?;
        self.out.push(global::OPAQUE);
        mb_u32(&mut self.out, len);
        self.out.extend_from_slice(bytes);
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
        self.tag(page, &el.name, content);
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
                            Some(wire) => self.rewritten_string(t, &wire)?,
                            None => self.string(t)?,
                        }
                    }
                    Node::Text(t) => self.string(t)?,
                    Node::Opaque(b) => self.opaque(b)?,
                }
            }
            self.out.push(global::END);
        }
        Ok(())
    }

    /// Builds the string table of what was written (`first`: the FPI it must hold, if any).
    fn finish(mut self, first: Option<&str>) -> Result<Written> {
        let body_end = self.out.len();
        let table = self.collector.into_table(&mut self.out, first)?;
        Ok(Written {
            body: self.out,
            body_end,
            header_len: self.header_len,
            public_id: self.public_id,
            version: self.options.version,
            marks: self.marks,
            hides: self.hides,
            table,
        })
    }
}

fn nul_in_text() -> Error {
    Error::new(ErrorKind::Encode("text contains a NUL character".into()))
}

/// True if a generic `Item` element has a `Data` child holding an element (a document).
pub(crate) fn item_holds_document(item: &Element) -> bool {
    item.elements().any(|d| d.name == "Data" && d.elements().next().is_some())
}

impl Sink for Writer<'_> {
    fn start(&mut self, tag: Tag) -> Result<()> {
        self.switch(tag.page);
        self.out.push(tag.token | 0x40);
        Ok(())
    }

    fn empty(&mut self, tag: Tag) -> Result<()> {
        self.switch(tag.page);
        self.out.push(tag.token);
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<()> {
        self.string(text)
    }

    fn binary(&mut self, bytes: &[u8]) -> Result<()> {
        self.opaque(bytes)
    }

    fn end(&mut self) -> Result<()> {
        self.out.push(global::END);
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

/// A document written with every string inline (after a header for an empty table), its string
/// table, and the marks that say where the table changes the body.
struct Written {
    /// The header and body, then the strings the table indexed after them (FPI, literal names).
    body: Vec<u8>,
    body_end: usize,
    header_len: usize,
    public_id: PublicIdForm,
    version: WbxmlVersion,
    marks: Vec<Mark>,
    hides: bool,
    table: StringTable,
}

impl Written {
    /// What the finished document has instead of the bytes at `mark`, if it changes them.
    fn change(&self, mark: &Mark) -> Option<Change> {
        let reference = |offset, replaced| Change { token: Some(global::STR_T), offset: Some(offset), replaced };
        match mark.what {
            Marked::Counted(index) => {
                let index = index as usize;
                let offset = self.table.offset(index)?;
                Some(reference(offset, self.table.strings.string(&self.body, index).len() + 2))
            }
            Marked::Other(len) => {
                let len = len as usize;
                let s = self.body.get(mark.at + 1..mark.at + 1 + len)?;
                Some(reference(self.table.get(&self.body, s)?, len + 2))
            }
            Marked::Literal(literal) => {
                let offset = *self.table.literal_offsets.get(literal as usize)?;
                Some(Change { token: None, offset: Some(offset), replaced: 0 })
            }
            Marked::Hidden(len) => Some(Change { token: None, offset: None, replaced: len as usize }),
        }
    }

    /// The document's bytes.
    fn into_bytes(mut self) -> Vec<u8> {
        if self.table.bytes.is_empty() && !self.hides {
            // Nothing refers to the table: the body and its header are final.
            self.body.truncate(self.body_end);
            return self.body;
        }
        let mut out = Vec::with_capacity(self.body_end + self.table.bytes.len() + 4);
        header(&mut out, self.version, self.public_id, &self.table.bytes);
        let mut from = self.header_len;
        for mark in &self.marks {
            if let Some(change) = self.change(mark) {
                out.extend_from_slice(&self.body[from..mark.at]);
                out.extend(change.token);
                if let Some(offset) = change.offset {
                    mb_u32(&mut out, offset);
                }
                from = mark.at + change.replaced;
            }
        }
        out.extend_from_slice(&self.body[from..self.body_end]);
        out
    }

    /// The length of [`Written::into_bytes`], without building it.
    fn len(&self) -> usize {
        // The header for an empty table ends with its length, 0, in one byte.
        let table_len = self.table.bytes.len();
        let mut len = self.body_end - 1 + mb_len(table_len as u32) + table_len;
        for mark in &self.marks {
            if let Some(change) = self.change(mark) {
                len += usize::from(change.token.is_some()) + change.offset.map_or(0, mb_len);
                len -= change.replaced;
            }
        }
        len
    }
}

/// The error of a document whose writing failed with `error`: its string table's error if it has
/// one (a literal name holding a NUL), which the table, built before the body, always came
/// first with; else `error`. `collect` walks the whole document for the table.
fn table_error_first(
    options: &WbxmlOptions,
    first: Option<&str>,
    collect: impl FnOnce(&mut TableOnly) -> Result<()>,
    error: Error,
) -> Error {
    let mut walk = TableOnly { collector: Collector::new(options.string_table), bytes: Vec::new() };
    let table = collect(&mut walk).and_then(|()| walk.collector.into_table(&mut walk.bytes, first));
    match table {
        Err(table_error) => table_error,
        Ok(_) => error,
    }
}

fn syncml_public_id(ver: &VerDtd) -> u32 {
    match ver {
        VerDtd::V1_0 => 0x0FD1,
        VerDtd::V1_1 => 0x0FD3,
        VerDtd::V1_2 | VerDtd::Other(_) => 0x1201,
    }
}

fn header(out: &mut Vec<u8>, version: WbxmlVersion, public_id: PublicIdForm, table: &[u8]) {
    out.push(version.byte());
    match public_id {
        PublicIdForm::Number(n) => mb_u32(out, n),
        PublicIdForm::TableIndex(i) => {
            out.push(0);
            mb_u32(out, i);
        }
    }
    mb_u32(out, 0x6A); // UTF-8
    mb_u32(out, table.len() as u32);
    out.extend_from_slice(table);
}

#[derive(Clone, Copy)]
enum PublicIdForm {
    Number(u32),
    TableIndex(u32),
}

fn write_message(message: &SyncMl, options: &WbxmlOptions) -> Result<Written> {
    let public_id = PublicIdForm::Number(syncml_public_id(&message.header.ver_dtd));
    // Room for a typical message with its strings inline (a Package 1 with DevInfo takes about
    // 700 bytes), so that it rarely grows, still in one of mimalloc's small blocks (up to 1 KiB).
    let mut writer = Writer::new(Vec::with_capacity(768), options, public_id);
    if let Err(error) = encode::message(&mut writer, message) {
        return Err(table_error_first(options, None, |walk| encode::message(walk, message), error));
    }
    writer.finish(None)
}

pub(crate) fn encode(message: &SyncMl, options: &WbxmlOptions) -> Result<Vec<u8>> {
    Ok(write_message(message, options)?.into_bytes())
}

pub(crate) fn encoded_len(message: &SyncMl, options: &WbxmlOptions) -> Result<usize> {
    Ok(write_message(message, options)?.len())
}

pub(crate) fn encode_document(element: &Element, options: &WbxmlOptions) -> Result<Vec<u8>> {
    let is_ddf = element.is_ddf();
    let root_page = if is_ddf { Page::Ddf } else { Page::SyncMl };
    let first = is_ddf.then_some(DDF_FPI);
    let public_id = if is_ddf { PublicIdForm::TableIndex(0) } else { PublicIdForm::Number(0x01) };
    let mut writer = Writer::new(Vec::with_capacity(256), options, public_id);
    // The root's page decides which names are LITERALs (e.g. `Data` inside a TNDS `MgmtTree`,
    // which is on the DDF page), for the writer and a table-only walk alike.
    if let Err(error) = writer.generic(element, root_page) {
        let collect = |walk: &mut TableOnly| {
            walk.element(element, root_page);
            Ok(())
        };
        return Err(table_error_first(options, first, collect, error));
    }
    Ok(writer.finish(first)?.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `s` to `buf` and tells its span.
    fn push(buf: &mut Vec<u8>, s: &str) -> (usize, usize) {
        buf.extend_from_slice(s.as_bytes());
        (buf.len() - s.len(), buf.len())
    }

    #[test]
    fn string_set_keeps_order_and_finds_every_string() {
        let mut set = StrSet::default();
        let mut buf = Vec::new();
        let words: Vec<String> = (0..1000).map(|i| format!("./Node/{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            let (start, end) = push(&mut buf, w);
            assert_eq!(set.add(&buf, start, end), Some(i));
        }
        for (i, w) in words.iter().enumerate() {
            let (start, end) = push(&mut buf, w);
            assert_eq!(set.add(&buf, start, end), Some(i));
            assert_eq!(set.entries[i].count, 2);
            assert_eq!(set.get(&buf, w.as_bytes()), Some(i));
            assert_eq!(set.string(&buf, i), w.as_bytes());
        }
        assert_eq!(set.get(&buf, b"./Node/1000"), None);
        assert_eq!(set.get(&buf, b""), None);
        assert_eq!(StrSet::default().get(&buf, b"x"), None);
    }

    #[test]
    fn string_table_holds_repeated_strings_in_first_seen_order() {
        let mut collector = Collector::new(true);
        let mut buf = Vec::new();
        for s in ["./DevInfo/Lang", "ab", "./DevDetail", "./DevInfo/Lang", "ab", "./DevDetail", "./DevDetail", "ab"] {
            let (start, end) = push(&mut buf, s);
            collector.count(&buf, start, end);
        }
        assert_eq!(collector.literal("Vendor"), 0);
        assert_eq!(collector.literal("Vendor"), 0);
        let table = collector.into_table(&mut buf, Some(DDF_FPI)).unwrap();
        let expected = format!("{DDF_FPI}\0Vendor\0./DevInfo/Lang\0./DevDetail\0");
        assert_eq!(table.bytes, expected.as_bytes());
        assert_eq!(table.literal_offsets, [DDF_FPI.len() as u32 + 1]);
        assert_eq!(table.get(&buf, b"./DevDetail"), Some(expected.find("./DevDetail").unwrap() as u32));
        assert_eq!(table.get(&buf, b"Vendor"), Some(DDF_FPI.len() as u32 + 1));
        assert_eq!(table.get(&buf, b"ab"), None, "too short to pay for a table entry");
    }

    fn small_message() -> SyncMl {
        let xml = b"<SyncML><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>\
<MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source></SyncHdr>\
<SyncBody><Final/></SyncBody></SyncML>";
        crate::xml::decode(xml, &crate::limits::Limits::default()).unwrap()
    }

    fn unsupported(element: Element) -> crate::message::Command {
        let name = element.name.clone();
        crate::message::Command::Unsupported(crate::message::UnsupportedCommand {
            name,
            cmd_id: String::new(),
            element,
        })
    }

    #[test]
    fn text_equal_to_a_literal_name_refers_to_its_table_entry() {
        let mut message = small_message();
        message.header.session_id = "Zz".into();
        message.body.commands.push(unsupported(Element::new("Zz").with_text("Zz")));
        for string_table in [true, false] {
            let options = WbxmlOptions { string_table, ..WbxmlOptions::default() };
            let bytes = encode(&message, &options).unwrap();
            assert_eq!(&bytes[..8], [0x02, 0xA4, 0x01, 0x6A, 0x03, b'Z', b'z', 0], "table {string_table}");
            let refs = bytes.windows(2).filter(|w| w == &[global::STR_T, 0]).count();
            assert_eq!(refs, 2, "SessionID and the text, table {string_table}");
            assert!(bytes.windows(2).any(|w| w == [global::LITERAL | 0x40, 0]));
            assert_eq!(encoded_len(&message, &options).unwrap(), bytes.len());
        }
    }

    #[test]
    fn a_literal_name_with_a_nul_is_reported_before_text_written_earlier() {
        let mut message = small_message();
        message.header.session_id = "a\0".into();
        message.body.commands.push(unsupported(Element::new("Sync").with_child(Element::new("Bad\0Name"))));
        for string_table in [true, false] {
            let options = WbxmlOptions { string_table, ..WbxmlOptions::default() };
            for err in [encode(&message, &options).unwrap_err(), encoded_len(&message, &options).unwrap_err()] {
                assert!(err.to_string().contains("element name"), "table {string_table}: {err}");
            }
        }
        message.body.commands.clear();
        assert!(encode(&message, &WbxmlOptions::default()).unwrap_err().to_string().contains("text contains a NUL"));
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
            for byte in [0x01, 0x80, 0xFF] {
                assert!(!has_nul(&vec![byte; len]), "len {len}, {byte:#x}");
            }
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
