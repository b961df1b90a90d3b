//! XML → events: a small pull tokenizer over the input as UTF-8 text (no DOM, no copies of names).
//!
//! It reads the subset of XML 1.0 that DM peers send: elements with attributes (only the default
//! namespace `xmlns` is kept), character data with references, CDATA sections, comments,
//! processing instructions and the XML declaration (skipped), and a DOCTYPE with or without an
//! internal subset (skipped, never expanded). End tags must match their start tags. The whole
//! input must be UTF-8 (checked once, up front); names and text are slices of it.
//!
//! Entity handling: the five predefined entities and character references are resolved; any other
//! named reference is refused (DTD-defined entities are never expanded, so "billion laughs" and
//! external entities cannot act). Text (character data, CDATA sections) must hold XML characters
//! only ([`crate::element::is_xml_char`]): a control character other than tab, LF and CR, U+FFFE
//! or U+FFFF, raw or as a character reference, is refused.
//!
//! **Recovery:** a `&` that does not start a well-formed reference (`&name;` or `&#…;`) is taken
//! as a literal `&`. Real DM servers send UI alert options such as `MAXDT=15&DR=1` unescaped;
//! rejecting them would make those alerts unanswerable.

use crate::bytes::same_bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventSource};
use crate::limits::Limits;
use std::borrow::Cow;

/// Pull source of events over an XML byte slice.
pub(crate) struct XmlSource<'a> {
    /// The whole input as text.
    text: &'a str,
    /// Where reading has reached, a byte offset into `text`.
    pos: usize,
    /// Qualified names of the elements started last at each depth: `names[..depth]` are the open
    /// elements, innermost last (for matching end tags); past them, those that ended last at the
    /// deeper depths (and an empty element whose end is pending), which error paths may still
    /// name ([`EventSource::path_name`]). Never shorter than `depth`; entries are overwritten,
    /// not popped.
    names: Vec<&'a str>,
    /// How many elements are open.
    depth: usize,
    /// The namespace the last start tag declared ([`EventSource::start_namespace`]).
    namespace: Option<Cow<'a, str>>,
    /// The end of an empty element (`<a/>`), returned after its start.
    pending_end: bool,
    limits: Limits,
}

impl<'a> XmlSource<'a> {
    /// Starts reading `input`, after checking its size against the limits and that it is UTF-8.
    pub(crate) fn new(input: &'a [u8], limits: &Limits) -> Result<Self> {
        limits.check_message_size(input.len())?;
        let text = crate::event::input_text(input)
            .map_err(|e| Error::new(ErrorKind::Xml(format!("invalid UTF-8: {e}"))).at(e.valid_up_to()))?;
        // A byte-order mark is no part of the document.
        let pos = if text.starts_with('\u{FEFF}') { '\u{FEFF}'.len_utf8() } else { 0 };
        Ok(XmlSource { text, pos, names: vec![""; 16], depth: 0, namespace: None, pending_end: false, limits: *limits })
    }

    /// The qualified name of the innermost open element.
    #[inline(always)]
    fn innermost(&self) -> Option<&'a str> {
        // `depth - 1` wraps to past the end when no element is open.
        self.names.get(self.depth.wrapping_sub(1)).copied()
    }

    /// Records `qname` as the element started last at the current depth (growing `names` by one
    /// when that depth is new).
    fn set_name(&mut self, qname: &'a str) {
        match self.names.get_mut(self.depth) {
            Some(slot) => *slot = qname,
            None => self.names.push(qname),
        }
    }

    // Errors are the rare path: kept out of line so that the hot readers stay small.
    #[cold]
    #[inline(never)]
    fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind).at(self.pos)
    }

    fn malformed(&self, what: impl Into<String>) -> Error {
        self.error(ErrorKind::Xml(what.into()))
    }

    /// Refuses `text[from..to]` (`place` says what it is) if it holds a character XML does not
    /// allow, with the offset of that character. Called on text whose scan saw a byte that may
    /// start one ([`TEXT_SUSPECT`]), and on the rarer CDATA sections. (A namespace is checked
    /// where a generic element keeps it, by the builder.)
    #[cold]
    #[inline(never)]
    fn check_chars(&self, from: usize, to: usize, place: &str) -> Result<()> {
        match crate::element::find_non_xml_char(&self.text[from..to]) {
            None => Ok(()),
            Some((at, c)) => {
                Err(Error::new(ErrorKind::Xml(crate::element::non_xml_char_message(c, place))).at(from + at))
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn text_too_long(&self, len: usize) -> Error {
        self.error(ErrorKind::Limit(format!(
            "text of {len} bytes exceeds the maximum of {}",
            self.limits.max_string_len
        )))
    }

    fn push_text(&self, acc: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) -> Result<()> {
        let len = acc.as_ref().map_or(0, |s| s.len()) + piece.len();
        if len > self.limits.max_string_len {
            return Err(self.text_too_long(len));
        }
        match acc {
            None => *acc = Some(piece),
            Some(s) => s.to_mut().push_str(&piece),
        }
        Ok(())
    }

    /// The byte at `pos + ahead`, if the input has it.
    #[inline(always)]
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    /// Moves past the next occurrence of `end`, returning the text before it; an error if the
    /// input ends first (an unclosed comment, CDATA section or processing instruction). `end` is
    /// short (a quote, `?>`, `-->`, `]]>`): its first byte is looked for and the rest compared,
    /// which costs far less than a general substring search set up for each call.
    fn until(&mut self, end: &str, what: &str) -> Result<&'a str> {
        let text = self.text;
        let bytes = text.as_bytes();
        let end_bytes = end.as_bytes();
        let mut from = self.pos;
        while let Some(at) = find_byte(bytes, from, end_bytes[0]) {
            if bytes[at..].starts_with(end_bytes) {
                let body = &text[self.pos..at];
                self.pos = at + end.len();
                return Ok(body);
            }
            from = at + 1;
        }
        Err(self.malformed(format!("unclosed {what}")))
    }

    /// Skips `<!DOCTYPE …>`, including an internal subset in brackets and quoted literals.
    fn skip_doctype(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        let (mut depth, mut quote) = (0usize, None);
        let mut i = self.pos;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            match (quote, b) {
                (Some(q), _) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(b),
                (None, b'[') => depth += 1,
                (None, b']') => depth = depth.saturating_sub(1),
                (None, b'>') if depth == 0 => {
                    self.pos = i;
                    return Ok(());
                }
                _ => {}
            }
        }
        self.pos = bytes.len();
        Err(self.malformed("unclosed DOCTYPE"))
    }

    /// Reads a name at `pos` (up to whitespace, `/`, `>` or `=`), which must not be empty.
    fn name(&mut self) -> Result<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let len = bytes[start..]
            .iter()
            .position(|&b| NAME_BYTE[usize::from(b)] & ENDS_NAME != 0)
            .unwrap_or(bytes.len() - start);
        self.pos += len;
        if self.pos >= bytes.len() {
            return Err(self.error(ErrorKind::UnexpectedEof));
        }
        if len == 0 {
            return Err(self.malformed("a tag or attribute without a name"));
        }
        Ok(&self.text[start..self.pos])
    }

    /// Reads an element's qualified name at `pos`, returning it and its local part (after any
    /// prefix), which must be an XML name ([`crate::element::is_xml_name`]). ASCII names are
    /// checked by table while they are scanned; any other is checked again character by character.
    fn element_name(&mut self) -> Result<(&'a str, &'a str)> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        // The usual name first: ASCII name characters without a prefix, one table test a byte.
        if bytes.get(start).is_some_and(|&b| NAME_BYTE[usize::from(b)] & STARTS_NAME != 0) {
            let end = name_end(bytes, start + 1);
            if bytes.get(end).is_some_and(|&b| NAME_BYTE[usize::from(b)] & ENDS_NAME != 0) {
                self.pos = end;
                let name = &self.text[start..end];
                return Ok((name, name));
            }
        }
        let (mut local, mut need, mut valid) = (start, STARTS_NAME, true);
        let mut end = start;
        loop {
            let Some(&b) = bytes.get(end) else {
                self.pos = end;
                return Err(self.error(ErrorKind::UnexpectedEof));
            };
            let class = NAME_BYTE[usize::from(b)];
            if class & ENDS_NAME != 0 {
                break;
            }
            if b == b':' {
                (local, need, valid) = (end + 1, STARTS_NAME, true);
            } else {
                valid &= class & need != 0;
                need = CONTINUES_NAME;
            }
            end += 1;
        }
        self.pos = end;
        if end == start {
            return Err(self.malformed("a tag or attribute without a name"));
        }
        let name = &self.text[local..end];
        // `need` is still STARTS_NAME when the local part is empty.
        let checked = valid && need == CONTINUES_NAME;
        if !checked && !crate::element::is_xml_name(name) {
            return Err(self.malformed(format!("element name {name:?} is not an XML name")));
        }
        Ok((&self.text[start..end], name))
    }

    fn skip_space(&mut self) {
        while self.peek(0).is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// Reads a start tag at `pos` (just after its `<`).
    fn start_tag(&mut self) -> Result<Event<'a>> {
        let (qname, name) = self.element_name()?;
        let mut namespace = None;
        loop {
            self.skip_space();
            match self.peek(0) {
                Some(b'>') => {
                    self.pos += 1;
                    break;
                }
                Some(b'/') => {
                    if self.peek(1) != Some(b'>') {
                        return Err(self.malformed("`/` not followed by `>` in a tag"));
                    }
                    self.pos += 2;
                    self.pending_end = true;
                    break;
                }
                Some(_) => {
                    let key = self.name()?;
                    self.skip_space();
                    if self.peek(0) != Some(b'=') {
                        return Err(self.malformed(format!("attribute {key:?} has no value")));
                    }
                    self.pos += 1;
                    self.skip_space();
                    let quote = match self.peek(0) {
                        Some(q @ (b'"' | b'\'')) => q,
                        Some(_) => return Err(self.malformed(format!("value of attribute {key:?} is not quoted"))),
                        None => return Err(self.error(ErrorKind::UnexpectedEof)),
                    };
                    self.pos += 1;
                    // The value up to the closing quote, noting in the same pass whether it
                    // holds a reference to resolve.
                    let start = self.pos;
                    let mut has_reference = false;
                    let Some(len) = self.text.as_bytes()[start..].iter().position(|&b| {
                        has_reference |= b == b'&';
                        b == quote
                    }) else {
                        return Err(self.malformed("unclosed attribute value"));
                    };
                    self.pos = start + len + 1;
                    if key == "xmlns" {
                        let value = &self.text[start..start + len];
                        namespace = Some(if has_reference {
                            unescape(Cow::Borrowed(value)).map_err(|k| self.error(k))?
                        } else {
                            Cow::Borrowed(value)
                        });
                    }
                }
                None => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
        if self.depth >= self.limits.max_depth {
            return Err(self.error(ErrorKind::Limit(format!("element nesting deeper than {}", self.limits.max_depth))));
        }
        self.set_name(qname);
        if !self.pending_end {
            self.depth += 1;
        }
        self.namespace = namespace;
        Ok(Event::Start { name: Cow::Borrowed(name) })
    }

    /// Reads an end tag at `pos` (just after its `</`).
    #[inline(always)]
    fn end_tag(&mut self) -> Result<Event<'a>> {
        // The usual case first: the name of the innermost open element, then `>`.
        if let Some(open) = self.innermost() {
            let after = self.pos + open.len();
            if self.text.as_bytes().get(self.pos..after).is_some_and(|name| same_bytes(name, open.as_bytes()))
                && self.text.as_bytes().get(after) == Some(&b'>')
            {
                self.depth -= 1;
                self.pos = after + 1;
                return Ok(Event::End);
            }
        }
        self.any_end_tag()
    }

    /// [`Self::end_tag`] after the usual case: a name with a prefix or space before `>`, or an
    /// error.
    fn any_end_tag(&mut self) -> Result<Event<'a>> {
        let qname = self.name()?;
        self.skip_space();
        if self.peek(0) != Some(b'>') {
            return Err(self.malformed(format!("end tag </{qname}> is not closed by `>`")));
        }
        match self.innermost() {
            Some(open) if open == qname => {}
            Some(open) => return Err(self.malformed(format!("end tag </{qname}> does not match <{open}>"))),
            None => return Err(self.malformed(format!("end tag </{qname}> without a start tag"))),
        }
        self.depth -= 1;
        self.pos += 1;
        Ok(Event::End)
    }

    /// Reads the next event. Character data up to the next tag comes as one event, its pieces
    /// (text, references, CDATA, with comments between them) joined.
    ///
    /// Whitespace-only text right before a start tag is dropped here, unread: no consumer of
    /// events keeps it (the builder skips text between child elements, generic elements drop
    /// whitespace-only text, and text followed by an element is no leaf value), and indentation
    /// is most of the text of a pretty-printed message. Whitespace before an end tag is kept: it
    /// is the value of an element such as `<Data> </Data>`.
    fn read(&mut self) -> Result<Event<'a>> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut acc: Option<Cow<'a, str>> = None;
        loop {
            let Some(&first) = bytes.get(self.pos) else {
                if let Some(t) = acc {
                    return Ok(Event::Text(t));
                }
                if self.depth != 0 {
                    return Err(self.error(ErrorKind::UnexpectedEof));
                }
                return Ok(Event::Eof);
            };
            if first != b'<' {
                let start = self.pos;
                let past_space = skip_spaces(bytes, start);
                let before_start_tag = bytes.get(past_space) == Some(&b'<')
                    && bytes.get(past_space + 1).is_some_and(|b| !b"/!?".contains(b));
                if acc.is_none() && before_start_tag {
                    self.pos = past_space;
                    continue;
                }
                let (end, found) = scan_text(bytes, past_space);
                if found & TEXT_SUSPECT != 0 {
                    self.check_chars(past_space, end, "text")?;
                }
                let raw = &text[start..end];
                let piece = if found & TEXT_REFERENCE != 0 {
                    unescape(Cow::Borrowed(raw)).map_err(|k| self.error(k))?
                } else {
                    Cow::Borrowed(raw)
                };
                self.push_text(&mut acc, piece)?;
                self.pos = end;
                continue;
            }
            match self.peek(1) {
                Some(b'!') => {
                    let rest = &text[self.pos..];
                    if rest.starts_with("<!--") {
                        self.pos += 4;
                        self.until("-->", "comment")?;
                    } else if rest.starts_with("<![CDATA[") {
                        self.pos += 9;
                        let body_at = self.pos;
                        let body = self.until("]]>", "CDATA section")?;
                        self.check_chars(body_at, body_at + body.len(), "a CDATA section")?;
                        self.push_text(&mut acc, Cow::Borrowed(body))?;
                    } else if rest.get(..9).is_some_and(|d| d.eq_ignore_ascii_case("<!DOCTYPE")) {
                        self.pos += 9;
                        self.skip_doctype()?;
                    } else {
                        return Err(self.malformed("`<!` starts no comment, CDATA section or DOCTYPE"));
                    }
                }
                Some(b'?') => {
                    self.pos += 2;
                    self.until("?>", "processing instruction")?;
                }
                _ if acc.is_some() => return Ok(Event::Text(acc.unwrap_or_default())),
                Some(b'/') => {
                    self.pos += 2;
                    return self.end_tag();
                }
                Some(_) => {
                    // The root's start tag, after the XML declaration, by the short path when it
                    // can (it declares its namespace alone).
                    if self.depth == 0 {
                        if let Some(event) = self.usual_event() {
                            return Ok(event);
                        }
                    }
                    self.pos += 1;
                    return self.start_tag();
                }
                None => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
    }
}

impl<'a> XmlSource<'a> {
    /// The usual next event, read without [`Self::read`]'s general path: a start tag without
    /// attributes (or with an `xmlns` alone, see [`Self::usual_start_with_namespace`]) whose name
    /// is ASCII name characters without a prefix (after indentation, which `read` drops there
    /// too), or the end tag of the innermost open element. `None`, having consumed nothing, for
    /// anything else.
    #[inline(always)]
    fn usual_event(&mut self) -> Option<Event<'a>> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos;
        if bytes.get(at) != Some(&b'<') {
            // Whitespace before a start tag is skipped unread (see `read`); any other text is
            // left to it.
            at = skip_spaces(bytes, at);
            if bytes.get(at) != Some(&b'<') || bytes.get(at + 1).is_none_or(|b| b"/!?".contains(b)) {
                return None;
            }
        }
        let first = *bytes.get(at + 1)?;
        if first == b'/' {
            let open = self.innermost()?;
            let name_at = at + 2;
            let after = name_at + open.len();
            if !bytes.get(name_at..after).is_some_and(|name| same_bytes(name, open.as_bytes()))
                || bytes.get(after) != Some(&b'>')
            {
                return None;
            }
            self.depth -= 1;
            self.pos = after + 1;
            return Some(Event::End);
        }
        // Also left to `read` when `names` has no entry at this depth yet: it grows there, and
        // this path stores into an entry it has.
        if NAME_BYTE[usize::from(first)] & STARTS_NAME == 0
            || self.depth >= self.limits.max_depth
            || self.depth >= self.names.len()
        {
            return None;
        }
        let start = at + 1;
        let end = name_end(bytes, start + 1);
        match bytes.get(end) {
            Some(b'>') => {}
            Some(b' ') => return self.usual_start_with_namespace(start, end),
            Some(b'/') => return self.usual_empty_element(start, end),
            _ => return None,
        }
        let name = slice(self.text, start, end);
        self.names[self.depth] = name;
        self.depth += 1;
        self.pos = end + 1;
        self.namespace = None;
        Some(Event::Start { name: Cow::Borrowed(name) })
    }

    /// [`Self::usual_event`] for an element without content, `<name/>` (`name` being
    /// `text[start..end]`), such as `<Final/>`: its start now, its end next. `None`, having
    /// consumed nothing, if `/` is not followed by `>`.
    #[inline(never)]
    fn usual_empty_element(&mut self, start: usize, end: usize) -> Option<Event<'a>> {
        if self.text.as_bytes().get(end + 1) != Some(&b'>') {
            return None;
        }
        let name = slice(self.text, start, end);
        // Recorded at the depth it would open, which it does not: error paths may name it until
        // its end is read (see `names`).
        self.names[self.depth] = name;
        self.pending_end = true;
        self.pos = end + 2;
        self.namespace = None;
        Some(Event::Start { name: Cow::Borrowed(name) })
    }

    /// [`Self::usual_event`] for a start tag whose name (`text[start..end]`) is followed by the
    /// one attribute inner DM elements carry, ` xmlns="…"` without references (MetInf elements),
    /// then `>`. `None`, having consumed nothing, for anything else.
    #[inline(never)]
    fn usual_start_with_namespace(&mut self, start: usize, end: usize) -> Option<Event<'a>> {
        let bytes = self.text.as_bytes();
        let value_at = end + 8;
        if !bytes.get(end..value_at).is_some_and(|attribute| same_bytes(attribute, b" xmlns=\"")) {
            return None;
        }
        // Most often MetInf's namespace, compared as two words; else found byte by byte.
        const METINF: &[u8] = b"syncml:metinf\">";
        let close = if bytes.get(value_at..value_at + METINF.len()).is_some_and(|value| same_bytes(value, METINF)) {
            value_at + METINF.len() - 2
        } else {
            let close = value_at + bytes.get(value_at..)?.iter().position(|&b| b == b'"' || b == b'&')?;
            if bytes[close] != b'"' || bytes.get(close + 1) != Some(&b'>') {
                return None;
            }
            close
        };
        let name = slice(self.text, start, end);
        self.names[self.depth] = name;
        self.depth += 1;
        self.pos = close + 2;
        self.namespace = Some(Cow::Borrowed(slice(self.text, value_at, close)));
        Some(Event::Start { name: Cow::Borrowed(name) })
    }
}

impl<'a> EventSource<'a> for XmlSource<'a> {
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
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let (end, found) = scan_text(bytes, start);
        if bytes.get(end + 1) != Some(&b'/') {
            return Ok(None); // a tag, comment, CDATA section, ... or the end of the input
        }
        if found & TEXT_SUSPECT != 0 {
            self.check_chars(start, end, "text")?;
        }
        let raw = slice(self.text, start, end);
        let text = if found & TEXT_REFERENCE != 0 {
            unescape(Cow::Borrowed(raw)).map_err(|k| self.error(k))?
        } else {
            Cow::Borrowed(raw)
        };
        if text.len() > self.limits.max_string_len {
            return Err(self.text_too_long(text.len()));
        }
        self.pos = end + 2;
        self.end_tag()?;
        Ok(Some(text))
    }

    fn offset(&self) -> usize {
        self.pos
    }

    fn start_namespace(&self) -> Option<Cow<'a, str>> {
        self.namespace.clone()
    }

    fn path_name(&self, depth: usize) -> Option<Cow<'_, str>> {
        // Events name elements without their prefix: the part after the last colon.
        let qname = self.names.get(depth)?;
        qname.rsplit(':').next().map(Cow::Borrowed)
    }
}

/// [`NAME_BYTE`] bit: the byte ends a name in a tag: XML whitespace, `/`, `>`, `=`, or `<` (which
/// cannot be in a name, and must not be swallowed by one).
const ENDS_NAME: u8 = 1;
/// [`NAME_BYTE`] bit: the byte may start an XML name (an ASCII letter or `_`).
const STARTS_NAME: u8 = 2;
/// [`NAME_BYTE`] bit: the byte may continue an XML name (also digits, `-` and `.`).
const CONTINUES_NAME: u8 = 4;

/// The class of each byte in a tag's names; 0 for bytes that are none of the above (the colon,
/// other punctuation, and every non-ASCII byte).
static NAME_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>' | b'=' | b'<') {
            ENDS_NAME
        } else if c.is_ascii_alphabetic() || c == b'_' {
            STARTS_NAME | CONTINUES_NAME
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            CONTINUES_NAME
        } else {
            0
        };
        b += 1;
    }
    table
};

/// The end of the run of ASCII name characters ([`CONTINUES_NAME`]) from `from`. Element names
/// are mostly letters: those are counted eight at a time, the rest byte by byte.
#[inline(always)]
fn name_end(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut end = from;
    while let Some(Ok(word)) = bytes.get(end..end + 8).map(<[u8; 8]>::try_from) {
        let word = u64::from_le_bytes(word);
        // A byte is an ASCII letter if, lower-cased (| 0x20), it is at least `a` (adding 0x1F
        // sets its high bit) and below `{` (adding 0x05 does not), its own high bit clear. No
        // sum carries into the byte above unless the byte is not ASCII, which is then the first
        // non-letter anyway.
        let lower = word | (ONES * 0x20);
        let letters = lower.wrapping_add(ONES * 0x1F) & !lower.wrapping_add(ONES * 0x05) & !word & HIGH_BITS;
        let others = !letters & HIGH_BITS;
        if others != 0 {
            end += others.trailing_zeros() as usize / 8;
            break;
        }
        end += 8;
    }
    while bytes.get(end).is_some_and(|&b| NAME_BYTE[usize::from(b)] & CONTINUES_NAME != 0) {
        end += 1;
    }
    end
}

/// Where the first `needle` at or after `from` is, looked for eight bytes at a time (the XML
/// declaration's `?>` is 30-odd bytes on: byte by byte, finding it cost ~200 instructions).
fn find_byte(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    while let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let x = u64::from_le_bytes(word) ^ (ONES * u64::from(needle));
        // A borrow can mark a byte above a zero byte, never one below it: the lowest is true.
        let marked = x.wrapping_sub(ONES) & !x & HIGH_BITS;
        if marked != 0 {
            return Some(at + marked.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes.get(at..)?.iter().position(|&b| b == needle).map(|i| at + i)
}

/// `text[start..end]`, for bounds next to ASCII bytes (a name between `<` and `>`, text up to
/// `<`): taken by two inlined `split_at_checked`, one boundary test each, where indexing by a
/// range may be left by LLVM as a call of `str::get` (~20 instructions, for every element).
/// Empty if a bound is not one (which callers rule out).
#[inline(always)]
fn slice(text: &str, start: usize, end: usize) -> &str {
    text.split_at_checked(end).and_then(|(head, _)| head.split_at_checked(start)).map_or("", |(_, s)| s)
}

/// True for the XML whitespace characters (XML 1.0 §2.3 `S`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The first position at or after `from` that holds no XML whitespace. Runs of eight spaces (the
/// indentation of pretty-printed messages) are skipped a word at a time.
fn skip_spaces(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    loop {
        match bytes.get(at..at + 8) {
            Some(b"        ") => at += 8,
            _ => match bytes.get(at) {
                Some(&b) if is_space(b) => at += 1,
                _ => return at,
            },
        }
    }
}

/// [`TEXT_BYTE`] bit: the byte ends character data (`<`).
const TEXT_END: u8 = 1;
/// [`TEXT_BYTE`] bit: the byte starts a reference (`&`): the text needs unescaping.
const TEXT_REFERENCE: u8 = 2;
/// [`TEXT_BYTE`] bit: the byte may start a character XML does not allow: a control byte other
/// than tab, LF and CR, or 0xEF, the first byte of U+FFFE and U+FFFF (and of the other characters
/// from U+F000 on, which the exact check then lets through).
const TEXT_SUSPECT: u8 = 4;

/// The class of each byte in character data; 0 for the bytes that need no attention.
static TEXT_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        if !matches!(b as u8, b'\t' | b'\n' | b'\r') {
            table[b] = TEXT_SUSPECT;
        }
        b += 1;
    }
    table[0xEF] = TEXT_SUSPECT;
    table[b'<' as usize] = TEXT_END;
    table[b'&' as usize] = TEXT_REFERENCE;
    table
};

/// Scans character data from `from` to the next `<` (or the end of the input): where it ends,
/// and the [`TEXT_REFERENCE`] and [`TEXT_SUSPECT`] bits of the bytes before it (whether it needs
/// unescaping, and whether it may hold a character XML does not allow), found in the same pass.
///
/// Eight bytes are tested at a time for any byte that needs attention (`<`, `&`, a control
/// byte, a byte above 0x7F); only such a word is looked at byte by byte.
#[inline(always)]
fn scan_text(bytes: &[u8], from: usize) -> (usize, u8) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // Nonzero if some byte of `x` is zero (exact for "any", which is all this asks).
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH_BITS;
    let mut found = 0;
    let mut at = from;
    while let Some(Ok(word)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let word = u64::from_le_bytes(word);
        let marked = has_zero_byte(word ^ (ONES * u64::from(b'<')))
            | has_zero_byte(word ^ (ONES * u64::from(b'&')))
            | (word.wrapping_sub(ONES * 0x20) | word) & HIGH_BITS;
        if marked != 0 {
            for (i, &b) in word.to_le_bytes().iter().enumerate() {
                let class = TEXT_BYTE[usize::from(b)];
                if class & TEXT_END != 0 {
                    return (at + i, found);
                }
                found |= class;
            }
        }
        at += 8;
    }
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        let class = TEXT_BYTE[usize::from(b)];
        if class & TEXT_END != 0 {
            return (i, found);
        }
        found |= class;
    }
    (bytes.len(), found)
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
            match code.and_then(char::from_u32) {
                Some(c) if !crate::element::is_xml_char(c) => {
                    let place = format!("character reference &{name};");
                    return Err(ErrorKind::Xml(crate::element::non_xml_char_message(c, &place)));
                }
                other => other,
            }
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
///
/// The scan stops at the first character a reference body cannot hold, so a text of many bare
/// `&` without `;` costs linear time, not a search to the end of the text for every `&`.
fn reference_name(s: &str) -> Option<&str> {
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || matches!(c, '#' | '_' | ':' | '-' | '.')))
        .map_or(s.len(), |(i, _)| i);
    let name = &s[..end];
    (s[end..].starts_with(';') && is_reference_name(name)).then_some(name)
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
        Event::Start { name: Cow::Borrowed(name) }
    }

    #[test]
    fn bare_ampersand_is_literal_and_references_resolve() {
        let ev = events("<D>MAXDT=15&DR=1 &amp; &#65;&#x42; &lt;</D>").unwrap();
        assert_eq!(ev, vec![start("D"), Event::Text("MAXDT=15&DR=1 & AB <".into()), Event::End]);
    }

    #[test]
    fn many_bare_ampersands_are_read_in_linear_time() {
        // Each `&` once searched the rest of the text for a `;`: 1 MB of `&` took minutes. The
        // bound guards the complexity (linear: milliseconds), not a speed target.
        let body = "&".repeat(1 << 20);
        let xml = format!("<D>{body};</D>");
        let started = std::time::Instant::now();
        let events = events(&xml).expect("bare ampersands are kept");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
        assert!(matches!(&events[1], Event::Text(t) if t.len() == body.len() + 1));
        assert_eq!(reference_name("amp;rest"), Some("amp"));
        assert_eq!(reference_name("#x26;"), Some("#x26"));
        assert_eq!(reference_name("a b;"), None);
        assert_eq!(reference_name("&amp;"), None);
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
    fn whitespace_before_a_start_tag_is_dropped_and_before_an_end_tag_kept() {
        let ev = events("<a>\n  <b> </b>\n  <c/>x <d/> <!--c--> <e/>\t</a>").unwrap();
        assert_eq!(
            ev,
            vec![
                start("a"),
                start("b"),
                Event::Text(" ".into()),
                Event::End,
                start("c"),
                Event::End,
                Event::Text("x ".into()),
                start("d"),
                Event::End,
                Event::Text("  ".into()),
                start("e"),
                Event::End,
                Event::Text("\t".into()),
                Event::End
            ]
        );
    }

    #[test]
    fn scan_text_finds_the_end_and_what_the_text_holds() {
        // What a byte-by-byte scan finds, for every position of each special byte.
        let expected = |bytes: &[u8], from: usize| {
            let mut found = 0;
            for (i, &b) in bytes.iter().enumerate().skip(from) {
                if b == b'<' {
                    return (i, found);
                }
                found |= TEXT_BYTE[usize::from(b)];
            }
            (bytes.len(), found)
        };
        for len in 0..24 {
            for special in [&b"<"[..], b"&", b"\x01", b"\t", b"\xEF\xBF\xBF", b"\xC3\xA9", b"&<", b"<&"] {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes.splice(at..at, special.iter().copied());
                    for from in [0, at / 2, at] {
                        assert_eq!(scan_text(&bytes, from), expected(&bytes, from), "{bytes:02X?} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn name_end_is_where_a_byte_scan_stops() {
        let expected = |bytes: &[u8], from: usize| {
            (from..bytes.len()).find(|&i| NAME_BYTE[usize::from(bytes[i])] & CONTINUES_NAME == 0).unwrap_or(bytes.len())
        };
        let mut samples: Vec<Vec<u8>> =
            ["SyncML>", "MaxMsgSize xmlns", "LocURI>", "a", "", "Abcdefghijklmnopq/>", "x-1.y_z>"]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect();
        for b in 0..=255u8 {
            samples.push([b"abcdefgh".as_slice(), &[b], b"ijklmnop>"].concat());
            samples.push([&[b], b"bcdefghijk>".as_slice()].concat());
        }
        for bytes in &samples {
            for from in 0..bytes.len() {
                assert_eq!(name_end(bytes, from), expected(bytes, from), "{bytes:02X?} from {from}");
            }
        }
    }

    #[test]
    fn find_byte_finds_the_first_one() {
        for len in 0..24 {
            for at in 0..len {
                for filler in [b'a', 0x00, 0x3E, 0x40, 0xFF] {
                    let mut bytes = vec![filler; len];
                    bytes[at] = b'?';
                    if let Some(b) = bytes.get_mut(at + 2) {
                        *b = b'?';
                    }
                    for from in 0..=len {
                        let expected = bytes[from..].iter().position(|&b| b == b'?').map(|i| from + i);
                        assert_eq!(find_byte(&bytes, from, b'?'), expected, "{bytes:02X?} from {from}");
                    }
                }
            }
        }
        assert_eq!(find_byte(b"abc", 4, b'a'), None);
    }

    #[test]
    fn spaces_are_skipped_in_words_and_bytes() {
        let text = b"\n                   \t x";
        assert_eq!(skip_spaces(text, 0), 22);
        assert_eq!(skip_spaces(text, 22), 22);
        assert_eq!(skip_spaces(b"   ", 0), 3);
        assert_eq!(skip_spaces(b"", 0), 0);
    }

    #[test]
    fn namespaces_and_prefixes() {
        let xml = "<m:Type xmlns=\"syncml:metinf\"><b/><c xmlns=\"n\">x</c></m:Type>";
        let mut src = XmlSource::new(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(src.next_event().unwrap(), start("Type"));
        assert_eq!(src.start_namespace(), Some(Cow::Borrowed("syncml:metinf")));
        assert_eq!(src.next_event().unwrap(), start("b"));
        assert_eq!(src.start_namespace(), None);
        assert_eq!(src.next_event().unwrap(), Event::End);
        assert_eq!(src.next_event().unwrap(), start("c"));
        assert_eq!(src.start_namespace(), Some(Cow::Borrowed("n")));
    }

    #[test]
    fn names_xml_cannot_write_are_refused() {
        for xml in ["<a:/>", "<a:>x</a:>", "<1x/>", "<a><b:-c/></a>"] {
            let err = events(xml).unwrap_err();
            assert!(err.to_string().contains("is not an XML name"), "{xml}: {err}");
            assert!(err.offset.is_some(), "{xml}: {err}");
        }
        assert_eq!(events("<p:a/>").unwrap(), vec![start("a"), Event::End]);
        assert_eq!(events("<p:q:a_1/>").unwrap(), vec![start("a_1"), Event::End]);
        assert_eq!(events("<p:été></p:été>").unwrap(), vec![start("été"), Event::End]);
        assert!(events("<é:1/>").unwrap_err().to_string().contains("is not an XML name"));
    }

    #[test]
    fn prolog_comments_and_instructions_are_skipped() {
        let xml = "\u{FEFF}<?xml version=\"1.0\"?>\n<!DOCTYPE SyncML PUBLIC \"-//x//>\" [<!ENTITY a \"]>\">]>\n\
                   <!-- c > -->\n<a k='v' xmlns = 'ns&amp;1'>x<!--y-->z<?pi a?><![CDATA[&]]></a>";
        let ev = events(xml).unwrap();
        assert_eq!(ev, vec![Event::Text("\n\n\n".into()), start("a"), Event::Text("xz&".into()), Event::End]);
        let mut src = XmlSource::new(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(src.next_event().unwrap(), Event::Text("\n\n\n".into()));
        assert_eq!(src.next_event().unwrap(), start("a"));
        assert_eq!(src.start_namespace(), Some(Cow::Borrowed("ns&1")));
    }

    #[test]
    fn malformed_markup_is_refused_with_its_reason() {
        for (xml, reason) in [
            ("<a></b>", "does not match"),
            ("<a/></a>", "without a start tag"),
            ("<a b></a>", "has no value"),
            ("<a b=c></a>", "not quoted"),
            ("<a><!-- x</a>", "unclosed comment"),
            ("<a><![CDATA[x</a>", "unclosed CDATA"),
            ("<a><!x></a>", "starts no comment"),
            ("<a / ></a>", "not followed by `>`"),
            ("<!DOCTYPE a [ <a/>", "unclosed DOCTYPE"),
            ("<></>", "without a name"),
        ] {
            let err = events(xml).unwrap_err();
            assert!(err.to_string().contains(reason), "{xml}: {err}");
            assert!(err.offset.is_some(), "{xml}: {err}");
        }
        let Err(err) = XmlSource::new(b"<a>\xE9</a>", &Limits::default()) else { panic!("Latin-1 byte accepted") };
        assert!(err.to_string().contains("invalid UTF-8"), "{err}");
        assert_eq!(err.offset, Some(3));
    }

    #[test]
    fn leaf_text_reads_simple_leaves_and_leaves_the_rest_to_events() {
        let xml = "<a><b> x &amp; y </b><c/><d><e/></d><f>1<!--c-->2</f><g></h></a>";
        let mut src = XmlSource::new(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(src.next_event().unwrap(), start("a"));
        assert_eq!(src.next_event().unwrap(), start("b"));
        assert_eq!(src.leaf_text().unwrap(), Some(Cow::Owned(" x & y ".into())));
        assert_eq!(src.next_event().unwrap(), start("c"));
        assert_eq!(src.leaf_text().unwrap(), Some(Cow::Borrowed("")));
        assert_eq!(src.next_event().unwrap(), start("d"));
        assert_eq!(src.leaf_text().unwrap(), None);
        assert_eq!(src.next_event().unwrap(), start("e"));
        assert_eq!(src.next_event().unwrap(), Event::End);
        assert_eq!(src.next_event().unwrap(), Event::End);
        assert_eq!(src.next_event().unwrap(), start("f"));
        assert_eq!(src.leaf_text().unwrap(), None);
        assert_eq!(src.next_event().unwrap(), Event::Text("12".into()));
        assert_eq!(src.next_event().unwrap(), Event::End);
        assert_eq!(src.next_event().unwrap(), start("g"));
        assert!(src.leaf_text().unwrap_err().to_string().contains("does not match"));
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
