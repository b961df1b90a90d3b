//! WBXML bytes → events (WAP-192 WBXML 1.1–1.3; 1.0 headers are accepted too).
//!
//! Every length and index is checked against the input before use, so truncated input, bad
//! `mb_u_int32`s, out-of-range string-table references and huge length prefixes end in an error,
//! never a panic or an allocation larger than the input.
//!
//! Text (STR_I, STR_T, ENTITY) must hold XML characters only ([`crate::element::is_xml_char`]),
//! so that every decoded message can be written as XML: a control byte other than tab, LF and CR,
//! U+FFFE or U+FFFF is refused where the string is read. OPAQUE data may hold any byte.

use super::{global, PublicId};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventSource};
use crate::limits::Limits;
use crate::tags::Page;
use std::borrow::Cow;

/// The parsed WBXML header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// Version byte (0x00 = 1.0 … 0x03 = 1.3).
    pub(crate) version: u8,
    /// The document type.
    pub(crate) public_id: PublicId,
    /// IANA MIBenum of the charset.
    pub(crate) charset: u32,
    /// The string table.
    pub(crate) string_table: &'a [u8],
}

/// Text decoding for the charsets DM peers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// UTF-8 (0x6A), US-ASCII (3) or unknown (0): validated as UTF-8.
    Utf8,
    /// ISO-8859-1 (4): each byte is one code point.
    Latin1,
}

/// Pull source of events over a WBXML byte slice.
pub(crate) struct WbxmlSource<'a> {
    input: &'a [u8],
    pos: usize,
    header: Header<'a>,
    charset: Charset,
    /// The whole input as text, when it is all UTF-8 (checked once, up front; true of most DM
    /// messages, whose tokens are ASCII bytes): strings are then sliced from it without
    /// validating each one again.
    utf8_input: Option<&'a str>,
    page: u8,
    /// The elements started last at each depth: `open[..depth]` are the open elements, innermost
    /// last (their pages imply namespaces); past them, those that ended last at the deeper depths
    /// (and an element without content whose end is pending), which error paths may still name
    /// ([`EventSource::path_name`]). Never shorter than `depth`; entries are overwritten, not
    /// popped.
    open: Vec<Opened>,
    /// How many elements are open.
    depth: usize,
    /// The string-table bytes of the name of each LITERAL element in `open`, at its index (see
    /// [`Opened::token`]); other entries are stale.
    literal_names: Vec<&'a [u8]>,
    limits: Limits,
    /// The end of an element without content (a tag token without the content bit), returned
    /// after its start.
    pending_end: bool,
    /// The root element has ended.
    root_closed: bool,
    /// Bytes of text read through string-table references so far (see [`Self::table_ref`]).
    table_text: usize,
}

/// An element started at some depth (see [`WbxmlSource::open`]).
#[derive(Clone, Copy)]
struct Opened {
    /// The code page it is on.
    page: u8,
    /// Its tag token without the content and attribute bits, which with the page names it; or
    /// LITERAL for a name from the string table.
    token: u8,
}

/// Reads an `mb_u_int32` at `*pos` (at most 5 bytes, value ≤ u32::MAX). The usual one, a single
/// byte below 0x80 (the header's public id, charset and table length, most lengths and
/// references), inline; longer ones out of line.
#[inline(always)]
pub(crate) fn read_mb_u32(input: &[u8], pos: &mut usize) -> std::result::Result<u32, ErrorKind> {
    match input.get(*pos) {
        Some(&b) if b < 0x80 => {
            *pos += 1;
            Ok(u32::from(b))
        }
        _ => read_long_mb_u32(input, pos),
    }
}

/// [`read_mb_u32`] of any length.
#[inline(never)]
fn read_long_mb_u32(input: &[u8], pos: &mut usize) -> std::result::Result<u32, ErrorKind> {
    let mut value: u64 = 0;
    for i in 0..5 {
        let b = *input.get(*pos).ok_or(ErrorKind::UnexpectedEof)?;
        *pos += 1;
        value = (value << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            return u32::try_from(value).map_err(|_| ErrorKind::Wbxml("mb_u_int32 exceeds 32 bits".into()));
        }
        if i == 4 {
            break;
        }
    }
    Err(ErrorKind::Wbxml("mb_u_int32 longer than 5 bytes".into()))
}

/// Parses the header of a WBXML document.
pub(crate) fn read_header<'a>(input: &'a [u8], pos: &mut usize) -> std::result::Result<Header<'a>, Error> {
    let at = |p: usize| move |k: ErrorKind| Error::new(k).at(p);
    let version = *input.first().ok_or_else(|| Error::new(ErrorKind::UnexpectedEof).at(0))?;
    if version > 0x03 {
        return Err(Error::new(ErrorKind::Wbxml(format!("unsupported WBXML version byte 0x{version:02X}"))).at(0));
    }
    *pos = 1;
    let raw_id = read_mb_u32(input, pos).map_err(at(*pos))?;
    let table_index = if raw_id == 0 { Some(read_mb_u32(input, pos).map_err(at(*pos))?) } else { None };
    let charset = if version == 0 { 0 } else { read_mb_u32(input, pos).map_err(at(*pos))? };
    let table_len = read_mb_u32(input, pos).map_err(at(*pos))? as usize;
    let table_end = pos.checked_add(table_len).filter(|end| *end <= input.len()).ok_or_else(|| {
        Error::new(ErrorKind::Wbxml(format!("string table of {table_len} bytes runs past the end"))).at(*pos)
    })?;
    let string_table = &input[*pos..table_end];
    *pos = table_end;
    let public_id = match table_index {
        None => PublicId::from_number(raw_id),
        Some(index) => {
            let fpi = table_string(string_table, index as usize).map_err(at(*pos))?;
            PublicId::from_fpi_bytes(fpi)
        }
    };
    Ok(Header { version, public_id, charset, string_table })
}

/// The bytes of the string-table entry at `index`: up to its NUL, or to the end of the table for
/// a last string without one (accepted: real DM 1.2 messages size the table to the FPI alone).
fn table_entry(table: &[u8], index: usize) -> std::result::Result<&[u8], ErrorKind> {
    table.get(index..).filter(|r| !r.is_empty()).ok_or_else(|| {
        ErrorKind::Wbxml(format!("string table index {index} is out of range (table has {} bytes)", table.len()))
    })
}

/// The zero-terminated string at `index` of a string table, not checked as text (the FPI).
fn table_string(table: &[u8], index: usize) -> std::result::Result<&[u8], ErrorKind> {
    let rest = table_entry(table, index)?;
    Ok(&rest[..first_nul(rest).unwrap_or(rest.len())])
}

/// Where the first NUL of `bytes` is, looked for eight bytes at a time (the FPI of most DM 1.2
/// messages is a 29-byte string of the table; byte by byte, finding its end cost 130
/// instructions, and `memchr` is not much cheaper for so few bytes).
fn first_nul(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let word = u64::from_le_bytes(word);
        // A borrow can mark a byte above a NUL, never one below it: the lowest mark is a NUL.
        let marked = word.wrapping_sub(ONES) & !word & HIGH_BITS;
        if marked != 0 {
            return Some(at + marked.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == 0).map(|i| at + i)
}

/// Where a WBXML string that starts at `bytes[0]` ends: `Ok(Some(i))` if its NUL is at `i`,
/// `Ok(None)` if the bytes end first; `Err(i)` if the character at `i`, before the NUL, is not an
/// XML character ([`crate::element::is_xml_char`]): a control byte other than tab, LF and CR, or
/// (in UTF-8, `utf8`) U+FFFE or U+FFFF. Eight bytes are looked at a time for a byte below 0x20
/// (the NUL among them) or above 0x7F (U+FFFE and U+FFFF are EF BF BE and EF BF BF); only such a
/// byte is looked at closely, so ASCII text costs what looking for the NUL alone did.
#[inline(always)]
fn scan_string(bytes: &[u8], utf8: bool) -> std::result::Result<Option<usize>, usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let word = u64::from_le_bytes(word);
        // A byte's high bit is set in `word - 0x20…` if it is below 0x20, and in `word` if it is
        // above 0x7F. A borrow can set it in bytes above one below 0x20, never below: the lowest
        // marked byte is a true one.
        let marked = (word.wrapping_sub(ONES * 0x20) | word) & HIGH_BITS;
        if marked == 0 {
            at += 8;
            continue;
        }
        let bit = marked.trailing_zeros();
        let first = at + bit as usize / 8;
        // Most often the NUL (read from the word: bit 7 of byte n is bit 8n + 7).
        if (word >> (bit & !7)) as u8 == 0 {
            return Ok(Some(first));
        }
        match string_byte(bytes, first, utf8) {
            StringByte::Nul => return Ok(Some(first)),
            StringByte::NotXml => return Err(first),
            StringByte::Text => at = first + 1,
        }
    }
    while at < bytes.len() {
        match string_byte(bytes, at, utf8) {
            StringByte::Nul => return Ok(Some(at)),
            StringByte::NotXml => return Err(at),
            StringByte::Text => at += 1,
        }
    }
    Ok(None)
}

/// What the byte at `bytes[at]` is in a string (see [`scan_string`]).
enum StringByte {
    /// The NUL that ends it.
    Nul,
    /// Part of the text.
    Text,
    /// The start of a character XML does not allow.
    NotXml,
}

#[inline(always)]
fn string_byte(bytes: &[u8], at: usize, utf8: bool) -> StringByte {
    match bytes[at] {
        0 => StringByte::Nul,
        b'\t' | b'\n' | b'\r' => StringByte::Text,
        0x01..=0x1F => StringByte::NotXml,
        // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
        0xEF if utf8 && bytes.get(at + 1) == Some(&0xBF) && matches!(bytes.get(at + 2), Some(0xBE | 0xBF)) => {
            StringByte::NotXml
        }
        _ => StringByte::Text,
    }
}

/// The character XML does not allow that starts at `bytes[0]` (see [`scan_string`]).
fn non_xml_char_at(bytes: &[u8]) -> char {
    match bytes {
        [0xEF, 0xBF, 0xBE, ..] => '\u{FFFE}',
        [0xEF, 0xBF, 0xBF, ..] => '\u{FFFF}',
        [b, ..] => char::from(*b),
        [] => '\0',
    }
}

impl<'a> WbxmlSource<'a> {
    /// Reads the header of `input` and prepares to read its body.
    pub(crate) fn new(input: &'a [u8], limits: &Limits) -> Result<Self> {
        limits.check_message_size(input.len())?;
        let mut pos = 0;
        let header = read_header(input, &mut pos)?;
        let charset = match header.charset {
            0 | 3 | 0x6A => Charset::Utf8,
            4 => Charset::Latin1,
            other => return Err(Error::new(ErrorKind::Wbxml(format!("unsupported charset MIBenum {other}"))).at(pos)),
        };
        if header.public_id == PublicId::DevInf {
            return Err(Error::new(ErrorKind::Wbxml("DevInf WBXML documents are not supported".into())).at(1));
        }
        let utf8_input = if charset == Charset::Utf8 { crate::event::input_text(input).ok() } else { None };
        Ok(WbxmlSource {
            input,
            pos,
            header,
            charset,
            utf8_input,
            page: 0,
            open: vec![Opened { page: 0, token: 0 }; 16],
            depth: 0,
            literal_names: Vec::new(),
            limits: *limits,
            pending_end: false,
            root_closed: false,
            table_text: 0,
        })
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind).at(self.pos)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.input.get(self.pos).ok_or_else(|| self.error(ErrorKind::UnexpectedEof))?;
        self.pos += 1;
        Ok(b)
    }

    fn mb_u32(&mut self) -> Result<u32> {
        let mut pos = self.pos;
        let v = read_mb_u32(self.input, &mut pos).map_err(|k| self.error(k))?;
        self.pos = pos;
        Ok(v)
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.limits.max_string_len {
            return Err(self.error(ErrorKind::Limit(format!(
                "string of {len} bytes exceeds the maximum of {}",
                self.limits.max_string_len
            ))));
        }
        Ok(())
    }

    /// Text of a string of the input (inline or in the string table) in the document's charset.
    fn decode_text(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>> {
        if let Some(text) = self.utf8_input {
            // A slice of valid UTF-8 that starts and ends on character boundaries is valid.
            let start = (bytes.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
            if let Some((s, _)) = text.split_at_checked(start).and_then(|(_, rest)| rest.split_at_checked(bytes.len()))
            {
                return Ok(Cow::Borrowed(s));
            }
        }
        match self.charset {
            Charset::Utf8 => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|e| self.error(ErrorKind::Wbxml(format!("invalid UTF-8 in string: {e}")))),
            Charset::Latin1 => Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())),
        }
    }

    /// The error for a character XML does not allow, at `bytes[0]` (`bytes` a slice of the input
    /// or of the string table) in the text of `place`.
    #[cold]
    #[inline(never)]
    fn non_xml_char(&self, bytes: &[u8], place: &str) -> Error {
        let message = crate::element::non_xml_char_message(non_xml_char_at(bytes), place);
        let input = self.input.as_ptr_range();
        // The offset of the character itself: in an inline string, or in the string table (a
        // slice of the input too, in the header); bytes from anywhere else at the reader's place.
        let offset =
            if input.contains(&bytes.as_ptr()) { bytes.as_ptr() as usize - input.start as usize } else { self.pos };
        Error::new(ErrorKind::Wbxml(message)).at(offset)
    }

    /// An inline string (STR_I) used as text: bytes up to the next NUL, XML characters only (see
    /// [`scan_string`]).
    fn inline_string(&mut self) -> Result<&'a [u8]> {
        let rest = &self.input[self.pos..];
        let end = match scan_string(rest, self.charset == Charset::Utf8) {
            Ok(Some(end)) => end,
            Ok(None) => return Err(self.error(ErrorKind::Wbxml("inline string is not terminated".into()))),
            Err(at) => return Err(self.non_xml_char(&rest[at..], "an inline string")),
        };
        self.check_len(end)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    /// An inline string that is not text (attribute values and extensions, which are skipped):
    /// bytes up to the next NUL.
    fn skip_inline_string(&mut self) -> Result<()> {
        let rest = &self.input[self.pos..];
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| self.error(ErrorKind::Wbxml("inline string is not terminated".into())))?;
        self.check_len(end)?;
        self.pos += end + 1;
        Ok(())
    }

    /// A string-table reference (STR_T). Each reference is a few bytes that may stand for a long
    /// string, so the text they add up to is bounded by the maximum message size: past it, the
    /// message would not fit that limit written out in full, and repeating one big entry must
    /// not turn a small input into gigabytes of text.
    fn table_ref(&mut self) -> Result<&'a [u8]> {
        let index = self.mb_u32()? as usize;
        let entry = table_entry(self.header.string_table, index).map_err(|k| self.error(k))?;
        let s = match scan_string(entry, self.charset == Charset::Utf8) {
            Ok(end) => &entry[..end.unwrap_or(entry.len())],
            Err(at) => return Err(self.non_xml_char(&entry[at..], &format!("string-table entry {index}"))),
        };
        self.check_len(s.len())?;
        self.table_text = self.table_text.saturating_add(s.len());
        if self.table_text > self.limits.max_message_size {
            return Err(self.error(ErrorKind::Limit(format!(
                "string-table references expand to more than the maximum message size of {} bytes",
                self.limits.max_message_size
            ))));
        }
        Ok(s)
    }

    /// Reads the pieces of character data at the current position (STR_I, STR_T, ENTITY), joined;
    /// `None` if the next token is not character data. (Text split by a SWITCH_PAGE or PI comes
    /// as two events; the builder joins them.)
    fn text(&mut self) -> Result<Option<Cow<'a, str>>> {
        let mut acc: Option<Cow<'a, str>> = None;
        while let Some(&token) = self.input.get(self.pos) {
            let piece: Cow<'a, str> = match token {
                global::STR_I => {
                    self.pos += 1;
                    let bytes = self.inline_string()?;
                    self.decode_text(bytes)?
                }
                global::STR_T => {
                    self.pos += 1;
                    let bytes = self.table_ref()?;
                    self.decode_text(bytes)?
                }
                global::ENTITY => {
                    self.pos += 1;
                    let code = self.mb_u32()?;
                    let ch = char::from_u32(code)
                        .ok_or_else(|| self.error(ErrorKind::Wbxml(format!("ENTITY {code} is not a character"))))?;
                    if !crate::element::is_xml_char(ch) {
                        let message = crate::element::non_xml_char_message(ch, &format!("ENTITY {code}"));
                        return Err(self.error(ErrorKind::Wbxml(message)));
                    }
                    Cow::Owned(ch.to_string())
                }
                _ => break,
            };
            match &mut acc {
                None => acc = Some(piece),
                Some(s) => {
                    self.check_len(s.len() + piece.len())?;
                    s.to_mut().push_str(&piece);
                }
            }
        }
        Ok(acc)
    }

    /// Skips the attribute list of a tag (SyncML DM uses none; they are read and dropped).
    fn skip_attributes(&mut self) -> Result<()> {
        loop {
            match self.byte()? {
                global::END => return Ok(()),
                global::SWITCH_PAGE => {
                    self.byte()?;
                }
                global::STR_I => self.skip_inline_string()?,
                global::STR_T | global::LITERAL | global::ENTITY => {
                    self.mb_u32()?;
                }
                global::OPAQUE => {
                    let len = self.mb_u32()? as usize;
                    self.skip_bytes(len)?;
                }
                global::EXT_I_0..=global::EXT_I_2 => self.skip_inline_string()?,
                global::EXT_T_0..=global::EXT_T_2 => {
                    self.mb_u32()?;
                }
                _ => {} // attribute start or value token
            }
        }
    }

    fn skip_bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        self.check_len(len)?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.input.len())
            .ok_or_else(|| self.error(ErrorKind::Wbxml(format!("length {len} runs past the end of the input"))))?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn read(&mut self) -> Result<Event<'a>> {
        loop {
            if self.pos >= self.input.len() {
                if self.depth != 0 || !self.root_closed {
                    return Err(self.error(ErrorKind::UnexpectedEof));
                }
                return Ok(Event::Eof);
            }
            if self.root_closed {
                return Err(self.error(ErrorKind::Wbxml("content after the root element".into())));
            }
            if matches!(self.input[self.pos], global::STR_I | global::STR_T | global::ENTITY) {
                if let Some(text) = self.text()? {
                    return Ok(Event::Text(text));
                }
            }
            let token = self.byte()?;
            match token {
                global::SWITCH_PAGE => {
                    self.page = self.byte()?;
                }
                global::END => {
                    if self.depth == 0 {
                        return Err(self.error(ErrorKind::Wbxml("END without an open element".into())));
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.finished_root();
                    }
                    return Ok(Event::End);
                }
                global::OPAQUE => {
                    let len = self.mb_u32()? as usize;
                    let bytes = self.skip_bytes(len)?;
                    return Ok(Event::Opaque(bytes));
                }
                global::PI => {
                    self.skip_attributes()?;
                }
                global::EXT_I_0..=global::EXT_I_2
                | global::EXT_T_0..=global::EXT_T_2
                | global::EXT_0..=global::EXT_2 => {
                    return Err(
                        self.error(ErrorKind::Wbxml(format!("extension token 0x{token:02X} is not used by SyncML")))
                    );
                }
                _ => return self.tag(token),
            }
        }
    }

    /// The usual next event, read without [`Self::read`]'s general path: the END of an element
    /// that is not the root, or the start of an element inside the root, with content and
    /// without attributes, named by a token of the current code page (whatever its parent's:
    /// the namespace a change of page implies is worked out when asked, see
    /// [`EventSource::start_namespace`]), within the depth limit; either after a SWITCH_PAGE,
    /// which is taken here. `None`, having consumed nothing but such a SWITCH_PAGE, for anything
    /// else.
    #[inline(always)]
    fn usual_event(&mut self) -> Option<Event<'a>> {
        let mut token = *self.input.get(self.pos)?;
        if self.depth == 0 {
            return None;
        }
        if token == global::SWITCH_PAGE {
            // Taken here as `read` would take it, the page byte being there: the tag after it is
            // then read by either path.
            let [page, next] = *self.input.get(self.pos + 1..self.pos + 3)? else { return None };
            self.page = page;
            self.pos += 2;
            token = next;
        }
        if token == global::END {
            if self.depth < 2 {
                return None;
            }
            self.pos += 1;
            self.depth -= 1;
            return Some(Event::End);
        }
        // Content bit set, attribute bit clear, and a tag token: not a global token or LITERAL.
        if token & 0xC0 != 0x40 || token & 0x3F < crate::tags::FIRST_TOKEN {
            return None;
        }
        // Also left to `read` when `open` has no entry at this depth yet: it grows there, and
        // this path stores into an entry it has.
        if self.depth >= self.limits.max_depth || self.depth >= self.open.len() {
            return None;
        }
        let name = crate::tags::token_name(self.page, token)?;
        self.pos += 1;
        self.open[self.depth] = Opened { page: self.page, token: token & 0x3F };
        self.depth += 1;
        Some(Event::Start { name: Cow::Borrowed(name) })
    }

    fn finished_root(&mut self) {
        self.root_closed = true;
        // Trailing bytes after the root are tolerated only if they are padding zeros.
        if self.input[self.pos..].iter().all(|b| *b == 0) {
            self.pos = self.input.len();
        }
    }

    fn tag(&mut self, token: u8) -> Result<Event<'a>> {
        let has_content = token & 0x40 != 0;
        let has_attributes = token & 0x80 != 0;
        // Also for a LITERAL: the page decides the element's namespace, which an unknown page
        // cannot give (nor could an encoder write it back).
        let page = Page::from_number(self.page)
            .ok_or_else(|| self.error(ErrorKind::Wbxml(format!("unknown code page {}", self.page))))?;
        let mut literal = None;
        let name: Cow<'a, str> = if token & 0x3F == global::LITERAL {
            let bytes = self.table_ref()?;
            let name = self.decode_text(bytes)?;
            // XML must be able to write every decoded name back (WBXML itself would carry any).
            if !crate::element::is_xml_name(&name) {
                return Err(self.error(ErrorKind::Wbxml(format!("LITERAL element name {name:?} is not an XML name"))));
            }
            literal = Some(bytes);
            name
        } else {
            let name = page.name(token & 0x3F).ok_or_else(|| {
                self.error(ErrorKind::Wbxml(format!(
                    "unknown tag token 0x{:02X} on code page {}",
                    token & 0x3F,
                    self.page
                )))
            })?;
            Cow::Borrowed(name)
        };
        if has_attributes {
            self.skip_attributes()?;
        }
        // One without content is marked, not refused (see `Event::TooDeep`).
        let too_deep = self.depth >= self.limits.max_depth;
        if has_content && too_deep {
            return Err(self.error(ErrorKind::Limit(format!("element nesting deeper than {}", self.limits.max_depth))));
        }
        let opened = Opened { page: self.page, token: token & 0x3F };
        match self.open.get_mut(self.depth) {
            Some(slot) => *slot = opened,
            None => self.open.push(opened),
        }
        if let Some(bytes) = literal {
            self.literal_names.resize(self.literal_names.len().max(self.depth + 1), &[]);
            self.literal_names[self.depth] = bytes;
        }
        if has_content {
            self.depth += 1;
        } else {
            self.pending_end = true;
            if self.depth == 0 {
                self.finished_root();
            }
        }
        Ok(if too_deep { Event::TooDeep } else { Event::Start { name } })
    }
}

impl<'a> EventSource<'a> for WbxmlSource<'a> {
    #[inline(always)]
    fn next_event(&mut self) -> Result<Event<'a>> {
        if self.pending_end {
            self.pending_end = false;
            return Ok(Event::End);
        }
        if let Some(event) = self.usual_event() {
            return Ok(event);
        }
        self.read()
    }

    #[inline(always)]
    fn leaf_text(&mut self) -> Result<Option<Cow<'a, str>>> {
        if self.pending_end {
            self.pending_end = false;
            return Ok(Some(Cow::Borrowed("")));
        }
        // The usual leaf: one inline string, then the end.
        if self.input.get(self.pos) == Some(&global::STR_I) {
            let body = &self.input[self.pos + 1..];
            // A string with a character XML does not allow is left to `text`, which refuses it.
            if let Ok(Some(nul)) = scan_string(body, self.charset == Charset::Utf8) {
                if body.get(nul + 1) == Some(&global::END) && nul <= self.limits.max_string_len && self.depth != 0 {
                    let start = self.pos + 1;
                    // In input checked as UTF-8, the string sits between two ASCII bytes (STR_I
                    // and its NUL): a slice on character boundaries, taken by two `split_at_checked`
                    // (one boundary test each, inlined) rather than `str::get` with a range (a
                    // call that tests both ends and the range).
                    let text = match self
                        .utf8_input
                        .and_then(|input| input.split_at_checked(start))
                        .and_then(|(_, rest)| rest.split_at_checked(nul))
                        .map(|(text, _)| text)
                    {
                        Some(text) => Cow::Borrowed(text),
                        None => {
                            self.pos = start;
                            self.decode_text(&body[..nul])?
                        }
                    };
                    self.pos = start + nul + 2;
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.finished_root();
                    }
                    return Ok(Some(text));
                }
            }
        }
        let start = self.pos;
        let text = self.text()?;
        if self.input.get(self.pos) == Some(&global::END) && self.depth != 0 {
            self.depth -= 1;
            self.pos += 1;
            if self.depth == 0 {
                self.finished_root();
            }
            return Ok(Some(text.unwrap_or_default()));
        }
        self.pos = start;
        Ok(None)
    }

    fn offset(&self) -> usize {
        self.pos
    }

    fn start_namespace(&self) -> Option<Cow<'a, str>> {
        // The element started last is the innermost open one, or, without content, the one past
        // it. A change of code page against its parent (the root's "parent" is page 0) implies
        // that page's namespace; back on the SyncML page inside another page, the SyncML one.
        let at = if self.pending_end { self.depth } else { self.depth.checked_sub(1)? };
        let page = self.open.get(at)?.page;
        let parent_page = at.checked_sub(1).map_or(Some(0), |parent| self.open.get(parent).map(|o| o.page))?;
        if parent_page == page {
            return None;
        }
        match Page::from_number(page)? {
            Page::SyncMl => Some(crate::tags::SYNCML_PAGE_NAMESPACE),
            page => page.namespace(),
        }
        .map(Cow::Borrowed)
    }

    fn path_name(&self, depth: usize) -> Option<Cow<'_, str>> {
        let opened = self.open.get(depth)?;
        if opened.token == global::LITERAL {
            // Decoded again as when it was read, which succeeded then.
            return self.decode_text(self.literal_names.get(depth)?).ok();
        }
        Page::from_number(opened.page)?.name(opened.token).map(Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_u_int32_reads_and_bounds() {
        let mut p = 0;
        assert_eq!(read_mb_u32(&[0x81, 0x20], &mut p), Ok(0xA0));
        assert_eq!(p, 2);
        let mut p = 0;
        assert_eq!(read_mb_u32(&[0x8F, 0xFF, 0xFF, 0xFF, 0x7F], &mut p), Ok(u32::MAX));
        let mut p = 0;
        assert!(read_mb_u32(&[0x9F, 0xFF, 0xFF, 0xFF, 0x7F], &mut p).is_err());
        let mut p = 0;
        assert!(read_mb_u32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &mut p).is_err());
        let mut p = 0;
        assert_eq!(read_mb_u32(&[0x80], &mut p), Err(ErrorKind::UnexpectedEof));
    }

    #[test]
    fn leaf_text_reads_simple_leaves_and_leaves_the_rest_to_events() {
        // SyncML 1.2, UTF-8, string table "t\0"; <SyncML><CmdID>a(STR_I) t(STR_T)</CmdID><Final/>
        // <Data>(OPAQUE "o")</Data></SyncML>
        let doc = [
            0x02, 0x9F, 0x53, 0x6A, 0x02, b't', 0, 0x6D, 0x4B, 0x03, b'a', 0, 0x83, 0x00, 0x01, 0x12, 0x4F, 0xC3, 0x01,
            b'o', 0x01, 0x01,
        ];
        let mut src = WbxmlSource::new(&doc, &Limits::default()).unwrap();
        let name = |ev: Event<'_>| match ev {
            Event::Start { name, .. } => name.into_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(name(src.next_event().unwrap()), "SyncML");
        assert_eq!(name(src.next_event().unwrap()), "CmdID");
        assert_eq!(src.leaf_text().unwrap(), Some(Cow::Owned("at".into())));
        assert_eq!(name(src.next_event().unwrap()), "Final");
        assert_eq!(src.leaf_text().unwrap(), Some(Cow::Borrowed("")));
        assert_eq!(name(src.next_event().unwrap()), "Data");
        assert_eq!(src.leaf_text().unwrap(), None);
        assert_eq!(src.next_event().unwrap(), Event::Opaque(b"o"));
        assert_eq!(src.next_event().unwrap(), Event::End);
        assert_eq!(src.next_event().unwrap(), Event::End);
        assert_eq!(src.next_event().unwrap(), Event::Eof);
    }

    #[test]
    fn elements_nested_too_deep_are_refused_or_marked() {
        // <SyncML><SyncHdr/><SyncBody></SyncBody></SyncML>, one level allowed: the element
        // without content is marked, the one with content refused.
        let doc = [0x02, 0x9F, 0x53, 0x6A, 0x00, 0x6D, 0x2C, 0x6B, 0x01, 0x01];
        let mut src = WbxmlSource::new(&doc, &Limits { max_depth: 1, ..Limits::default() }).unwrap();
        assert!(matches!(src.next_event().unwrap(), Event::Start { .. }));
        assert_eq!(src.next_event().unwrap(), Event::TooDeep);
        assert_eq!(src.path_name(1).as_deref(), Some("SyncHdr"));
        assert_eq!(src.next_event().unwrap(), Event::End);
        let err = src.next_event().unwrap_err();
        assert!(matches!(&err.kind, ErrorKind::Limit(m) if m == "element nesting deeper than 1"), "{err}");
    }

    #[test]
    fn scan_string_finds_the_nul_and_the_first_character_xml_does_not_allow() {
        // What a byte-by-byte scan finds: the NUL, or the first non-XML character before it.
        let expected = |bytes: &[u8]| -> std::result::Result<Option<usize>, usize> {
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    0 => return Ok(Some(i)),
                    b'\t' | b'\n' | b'\r' => {}
                    0x01..=0x1F => return Err(i),
                    0xEF if bytes[i + 1..].starts_with(&[0xBF, 0xBE]) || bytes[i + 1..].starts_with(&[0xBF, 0xBF]) => {
                        return Err(i)
                    }
                    _ => {}
                }
            }
            Ok(None)
        };
        for len in 0..20 {
            for special in
                [&[0u8][..], b"\x01", b"\x1F", b"\t", b"\r\n", b"\xEF\xBF\xBE", b"\xEF\xBF\xBF", b"\xEF\xBF\xBD"]
            {
                for at in 0..len {
                    let mut bytes = vec![0xFFu8; len];
                    bytes.splice(at..at, special.iter().copied());
                    // A byte just above a marked one is what a borrow could mistake for one.
                    if at + special.len() < bytes.len() {
                        bytes[at + special.len()] = 0x01;
                    }
                    for from in [0, at] {
                        let tail = &bytes[from..];
                        assert_eq!(scan_string(tail, true), expected(tail), "{tail:02X?}");
                    }
                }
            }
            assert_eq!(scan_string(&vec![b'a'; len], true), Ok(None));
        }
        assert_eq!(scan_string(b"\x01\x00\x00", true), Err(0));
        assert_eq!(scan_string(b"abcdefgh\x80\x00", true), Ok(Some(9)));
        assert_eq!(scan_string(b"a\tb\nc\rdefghij\x00", true), Ok(Some(13)));
        // In ISO-8859-1 0xEF is a letter (i with diaeresis), whatever follows it.
        assert_eq!(scan_string(b"\xEF\xBF\xBF\x00", false), Ok(Some(3)));
    }

    #[test]
    fn string_table_references_cannot_expand_past_the_message_size() {
        // A 100-byte table entry referenced by 50 elements: 5,000 bytes of text from a 310-byte
        // input, against a 2,000-byte message limit.
        let mut doc = vec![0x02, 0x9F, 0x53, 0x6A, 101];
        doc.extend_from_slice(&[b'x'; 100]);
        doc.push(0);
        doc.push(0x6D);
        for _ in 0..50 {
            doc.extend_from_slice(&[0x4B, 0x83, 0x00, 0x01]);
        }
        doc.push(0x01);
        let read_all = |limits: &Limits| -> Result<usize> {
            let mut src = WbxmlSource::new(&doc, limits)?;
            let mut text = 0;
            loop {
                match src.next_event()? {
                    Event::Eof => return Ok(text),
                    Event::Text(t) => text += t.len(),
                    _ => {}
                }
            }
        };
        let small = Limits { max_message_size: 2_000, ..Limits::default() };
        let err = read_all(&small).unwrap_err();
        assert!(matches!(&err.kind, ErrorKind::Limit(m) if m.contains("string-table references")), "{err}");
        assert_eq!(read_all(&Limits::default()).unwrap(), 5_000);
    }

    #[test]
    fn first_nul_finds_the_first_nul() {
        for len in 0..24 {
            for nul in 0..=len {
                for filler in [0x01u8, 0x80, 0xFF, b'a'] {
                    let mut bytes = vec![filler; len];
                    if nul < len {
                        bytes[nul] = 0;
                        // A second NUL after the first, and a byte a borrow could mark.
                        if let Some(b) = bytes.get_mut(nul + 1) {
                            *b = 0x01;
                        }
                        if let Some(b) = bytes.get_mut(nul + 3) {
                            *b = 0;
                        }
                    }
                    assert_eq!(first_nul(&bytes), bytes.iter().position(|&b| b == 0), "{bytes:02X?}");
                }
            }
        }
    }

    #[test]
    fn table_strings_are_checked() {
        assert_eq!(table_string(b"ab\0cd\0", 3), Ok(&b"cd"[..]));
        assert!(table_string(b"ab\0", 3).is_err());
        assert_eq!(table_string(b"ab", 0), Ok(&b"ab"[..]), "unterminated last string, as peers send");
    }
}
