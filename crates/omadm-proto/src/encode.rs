//! Typed model → sink: the one place that writes SyncML DM elements, in DTD order.
//!
//! The XML and WBXML writers implement [`Sink`]; this walk is shared, so both encodings always
//! carry the same elements.

use crate::decode::{item_media_type, nests_in_wbxml};
use crate::element::Element;
use crate::error::Result;
use crate::message::*;
use crate::meta::{Format, Meta};
use crate::tags::{metinf_tag, syncml_tag, Tag};

/// A writer of elements in one syntax.
pub(crate) trait Sink {
    /// Opens an element that has content.
    fn start(&mut self, tag: Tag) -> Result<()>;
    /// Writes an element without content.
    fn empty(&mut self, tag: Tag) -> Result<()>;
    /// Writes character data.
    fn text(&mut self, text: &str) -> Result<()>;
    /// Writes the character data of an Item's Data (XML may wrap it in CDATA).
    fn data_text(&mut self, text: &str) -> Result<()> {
        self.text(text)
    }
    /// Writes an element holding only (non-empty) character data, the most common element.
    /// Inlined, so that where the tag is a constant the sink's calls see it as one.
    #[inline(always)]
    fn leaf(&mut self, tag: Tag, text: &str) -> Result<()> {
        self.start(tag)?;
        self.text(text)?;
        self.end()
    }
    /// Writes a leaf whose text is not empty and holds nothing XML escapes (digits, the spelling
    /// of a known value): XML skips looking for bytes to escape.
    #[inline(always)]
    fn plain_leaf(&mut self, tag: Tag, text: &str) -> Result<()> {
        self.leaf(tag, text)
    }
    /// Writes binary data.
    fn binary(&mut self, bytes: &[u8]) -> Result<()>;
    /// Closes the innermost open element.
    fn end(&mut self) -> Result<()>;
    /// Closes the innermost open element, which is `tag`: XML writes its end tag as a constant.
    #[inline(always)]
    fn end_of(&mut self, tag: Tag) -> Result<()> {
        let _ = tag;
        self.end()
    }
    /// Writes an embedded document as the content of a Data element (WBXML: a nested document).
    fn document(&mut self, doc: &Element) -> Result<()>;
    /// Writes a generic element inline, in the SyncML vocabulary: a command DM does not use, or a
    /// document in Data whose type does not call for nesting.
    fn element(&mut self, el: &Element) -> Result<()>;
    /// True if embedded documents' `+xml` Types are written as `+wbxml` (WBXML does so).
    fn rewrites_document_types(&self) -> bool;
}

/// The decimal digits of a number, written on the stack: status and alert codes and Meta sizes
/// are leaves of most messages, and formatting them through `to_string` allocates.
struct Decimal {
    digits: [u8; 20],
    start: usize,
}

/// "00" to "99", the two digits of each number below 100 in turn.
static DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

impl Decimal {
    fn new(mut n: u64) -> Decimal {
        let mut digits = [b'0'; 20]; // u64::MAX has 20 digits
        let mut start = digits.len();
        // Two digits a division: a status code takes two steps, not three.
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            start -= 1;
            digits[start] = b'0' + n as u8;
        }
        Decimal { digits, start }
    }

    fn as_str(&self) -> &str {
        // SAFETY: `digits` holds only ASCII digits (`new` writes nothing else), which are UTF-8;
        // checking them (`str::from_utf8`, an out-of-line call) cost more than the formatting.
        unsafe { std::str::from_utf8_unchecked(&self.digits[self.start..]) }
    }
}

// Inlined, so that each call's tag is a constant where the sink writes it.
#[inline(always)]
fn leaf<S: Sink>(s: &mut S, tag: Tag, text: &str) -> Result<()> {
    if text.is_empty() {
        s.empty(tag)
    } else {
        s.leaf(tag, text)
    }
}

#[inline(always)]
fn opt_leaf<S: Sink>(s: &mut S, tag: Tag, text: Option<&str>) -> Result<()> {
    match text {
        Some(t) => leaf(s, tag, t),
        None => Ok(()),
    }
}

/// A number's leaf: its digits need no escaping.
#[inline(always)]
fn number_leaf<S: Sink>(s: &mut S, tag: Tag, n: u64) -> Result<()> {
    s.plain_leaf(tag, Decimal::new(n).as_str())
}

/// The leaf of an enumerated value's spelling, which needs no escaping when the value is a
/// `known` one (not kept as sent).
#[inline(always)]
fn spelling_leaf<S: Sink>(s: &mut S, tag: Tag, text: &str, known: bool) -> Result<()> {
    if known {
        s.plain_leaf(tag, text)
    } else {
        leaf(s, tag, text)
    }
}

// Inlined, so that the tag is a constant where the sink writes it.
#[inline(always)]
fn flag<S: Sink>(s: &mut S, tag: Tag, on: bool) -> Result<()> {
    if on {
        s.empty(tag)?;
    }
    Ok(())
}

/// Writes a whole message.
pub(crate) fn message<S: Sink>(s: &mut S, msg: &SyncMl) -> Result<()> {
    s.start(syncml_tag!("SyncML"))?;
    header(s, &msg.header)?;
    s.start(syncml_tag!("SyncBody"))?;
    for cmd in &msg.body.commands {
        command(s, cmd)?;
    }
    flag(s, syncml_tag!("Final"), msg.body.is_final)?;
    s.end_of(syncml_tag!("SyncBody"))?;
    s.end_of(syncml_tag!("SyncML"))
}

fn header<S: Sink>(s: &mut S, h: &SyncHdr) -> Result<()> {
    s.start(syncml_tag!("SyncHdr"))?;
    spelling_leaf(s, syncml_tag!("VerDTD"), h.ver_dtd.as_str(), !matches!(h.ver_dtd, VerDtd::Other(_)))?;
    spelling_leaf(s, syncml_tag!("VerProto"), h.ver_proto.as_str(), !matches!(h.ver_proto, VerProto::Other(_)))?;
    leaf(s, syncml_tag!("SessionID"), &h.session_id)?;
    leaf(s, syncml_tag!("MsgID"), &h.msg_id)?;
    location(s, syncml_tag!("Target"), &h.target)?;
    location(s, syncml_tag!("Source"), &h.source)?;
    opt_leaf(s, syncml_tag!("RespURI"), h.resp_uri.as_deref())?;
    flag(s, syncml_tag!("NoResp"), h.no_resp)?;
    if let Some(c) = &h.cred {
        cred(s, c)?;
    }
    if let Some(m) = &h.meta {
        meta(s, m, false)?;
    }
    s.end_of(syncml_tag!("SyncHdr"))
}

// Inlined, so that the tag (Target or Source) is a constant where the sink writes it.
#[inline(always)]
fn location<S: Sink>(s: &mut S, tag: Tag, loc: &Location) -> Result<()> {
    s.start(tag)?;
    leaf(s, syncml_tag!("LocURI"), &loc.loc_uri)?;
    opt_leaf(s, syncml_tag!("LocName"), loc.loc_name.as_deref())?;
    s.end_of(tag)
}

// Inlined, so that the tag (SourceParent or TargetParent) is a constant where the sink writes
// it, and the usual absent one costs a test.
#[inline(always)]
fn parent_location<S: Sink>(s: &mut S, tag: Tag, uri: Option<&str>) -> Result<()> {
    if let Some(uri) = uri {
        s.start(tag)?;
        leaf(s, syncml_tag!("LocURI"), uri)?;
        s.end_of(tag)?;
    }
    Ok(())
}

fn cred<S: Sink>(s: &mut S, c: &Cred) -> Result<()> {
    s.start(syncml_tag!("Cred"))?;
    if let Some(m) = &c.meta {
        meta(s, m, false)?;
    }
    leaf(s, syncml_tag!("Data"), &c.data)?;
    s.end_of(syncml_tag!("Cred"))
}

/// Writes a Meta element; `document_data` says the Data it describes is a nested document (see
/// [`nests_document`]), whose `+xml` Type a WBXML sink writes as `+wbxml`.
fn meta<S: Sink>(s: &mut S, m: &Meta, document_data: bool) -> Result<()> {
    s.start(syncml_tag!("Meta"))?;
    metinf(s, m, document_data)?;
    s.end_of(syncml_tag!("Meta"))
}

fn metinf<S: Sink>(s: &mut S, m: &Meta, document_data: bool) -> Result<()> {
    if let Some(f) = &m.format {
        spelling_leaf(s, metinf_tag!("Format"), f.as_str(), !matches!(f, Format::Other(_)))?;
    }
    if let Some(ty) = &m.media_type {
        match ty.strip_suffix("+xml") {
            Some(base) if document_data && s.rewrites_document_types() => {
                leaf(s, metinf_tag!("Type"), &format!("{base}+wbxml"))?
            }
            _ => leaf(s, metinf_tag!("Type"), ty)?,
        }
    }
    opt_leaf(s, metinf_tag!("Mark"), m.mark.as_deref())?;
    if let Some(size) = m.size {
        number_leaf(s, metinf_tag!("Size"), size)?;
    }
    if let Some(a) = &m.anchor {
        s.start(metinf_tag!("Anchor"))?;
        opt_leaf(s, metinf_tag!("Last"), a.last.as_deref())?;
        opt_leaf(s, metinf_tag!("Next"), a.next.as_deref())?;
        s.end_of(metinf_tag!("Anchor"))?;
    }
    opt_leaf(s, metinf_tag!("Version"), m.version.as_deref())?;
    opt_leaf(s, metinf_tag!("NextNonce"), m.next_nonce.as_deref())?;
    if let Some(n) = m.max_msg_size {
        number_leaf(s, metinf_tag!("MaxMsgSize"), n)?;
    }
    if let Some(n) = m.max_obj_size {
        number_leaf(s, metinf_tag!("MaxObjSize"), n)?;
    }
    for emi in &m.emi {
        leaf(s, metinf_tag!("EMI"), emi)?;
    }
    if let Some(mem) = &m.mem {
        s.start(metinf_tag!("Mem"))?;
        flag(s, metinf_tag!("SharedMem"), mem.shared_mem)?;
        if let Some(n) = mem.free_mem {
            number_leaf(s, metinf_tag!("FreeMem"), n)?;
        }
        if let Some(n) = mem.free_id {
            number_leaf(s, metinf_tag!("FreeID"), n)?;
        }
        s.end_of(metinf_tag!("Mem"))?;
    }
    flag(s, metinf_tag!("FieldLevel"), m.field_level)
}

fn command<S: Sink>(s: &mut S, cmd: &Command) -> Result<()> {
    match cmd {
        Command::Add(c) => item_command(s, syncml_tag!("Add"), c),
        Command::Copy(c) => item_command(s, syncml_tag!("Copy"), c),
        Command::Delete(c) => item_command(s, syncml_tag!("Delete"), c),
        Command::Get(c) => item_command(s, syncml_tag!("Get"), c),
        Command::Replace(c) => item_command(s, syncml_tag!("Replace"), c),
        Command::Alert(a) => alert(s, a),
        Command::Atomic(c) => container(s, syncml_tag!("Atomic"), c),
        Command::Sequence(c) => container(s, syncml_tag!("Sequence"), c),
        Command::Exec(e) => exec(s, e),
        Command::Results(r) => results(s, r),
        Command::Status(st) => status(s, st),
        Command::Unsupported(u) => s.element(&u.element),
    }
}

/// True if an Item's Data is a document that WBXML carries nested in opaque data (see
/// [`nests_in_wbxml`]); a document of another type is written inline.
fn nests_document(item: &Item, command_meta: Option<&Meta>) -> bool {
    matches!(item.data, Some(Data::Document(_))) && item_media_type(item, command_meta).is_some_and(nests_in_wbxml)
}

/// True if some item without its own Type holds a nested document: the command's Type is then
/// the document's, and WBXML writes it in its `+wbxml` form.
fn items_inherit_document(items: &[Item], command_meta: &Meta) -> bool {
    items
        .iter()
        .any(|i| i.meta.as_ref().is_none_or(|m| m.media_type.is_none()) && nests_document(i, Some(command_meta)))
}

// Inlined, so that the command's tag is a constant where the sink writes it.
#[inline(always)]
fn item_command<S: Sink>(s: &mut S, tag: Tag, c: &ItemCommand) -> Result<()> {
    s.start(tag)?;
    leaf(s, syncml_tag!("CmdID"), &c.cmd_id)?;
    flag(s, syncml_tag!("NoResp"), c.no_resp)?;
    if let Some(cr) = &c.cred {
        cred(s, cr)?;
    }
    if let Some(m) = &c.meta {
        meta(s, m, items_inherit_document(&c.items, m))?;
    }
    for it in &c.items {
        item(s, it, c.meta.as_ref())?;
    }
    s.end_of(tag)
}

fn alert<S: Sink>(s: &mut S, a: &Alert) -> Result<()> {
    s.start(syncml_tag!("Alert"))?;
    leaf(s, syncml_tag!("CmdID"), &a.cmd_id)?;
    flag(s, syncml_tag!("NoResp"), a.no_resp)?;
    if let Some(cr) = &a.cred {
        cred(s, cr)?;
    }
    if let Some(code) = a.code {
        number_leaf(s, syncml_tag!("Data"), code.code().into())?;
    }
    opt_leaf(s, syncml_tag!("Correlator"), a.correlator.as_deref())?;
    for it in &a.items {
        item(s, it, None)?;
    }
    s.end_of(syncml_tag!("Alert"))
}

fn exec<S: Sink>(s: &mut S, e: &Exec) -> Result<()> {
    s.start(syncml_tag!("Exec"))?;
    leaf(s, syncml_tag!("CmdID"), &e.cmd_id)?;
    flag(s, syncml_tag!("NoResp"), e.no_resp)?;
    if let Some(cr) = &e.cred {
        cred(s, cr)?;
    }
    if let Some(m) = &e.meta {
        meta(s, m, items_inherit_document(&e.items, m))?;
    }
    opt_leaf(s, syncml_tag!("Correlator"), e.correlator.as_deref())?;
    for it in &e.items {
        item(s, it, e.meta.as_ref())?;
    }
    s.end_of(syncml_tag!("Exec"))
}

fn container<S: Sink>(s: &mut S, tag: Tag, c: &Container) -> Result<()> {
    s.start(tag)?;
    leaf(s, syncml_tag!("CmdID"), &c.cmd_id)?;
    flag(s, syncml_tag!("NoResp"), c.no_resp)?;
    if let Some(m) = &c.meta {
        meta(s, m, false)?;
    }
    for cmd in &c.commands {
        command(s, cmd)?;
    }
    s.end_of(tag)
}

fn results<S: Sink>(s: &mut S, r: &Results) -> Result<()> {
    s.start(syncml_tag!("Results"))?;
    leaf(s, syncml_tag!("CmdID"), &r.cmd_id)?;
    opt_leaf(s, syncml_tag!("MsgRef"), r.msg_ref.as_deref())?;
    leaf(s, syncml_tag!("CmdRef"), &r.cmd_ref)?;
    if let Some(m) = &r.meta {
        meta(s, m, items_inherit_document(&r.items, m))?;
    }
    opt_leaf(s, syncml_tag!("TargetRef"), r.target_ref.as_deref())?;
    opt_leaf(s, syncml_tag!("SourceRef"), r.source_ref.as_deref())?;
    for it in &r.items {
        item(s, it, r.meta.as_ref())?;
    }
    s.end_of(syncml_tag!("Results"))
}

fn status<S: Sink>(s: &mut S, st: &Status) -> Result<()> {
    s.start(syncml_tag!("Status"))?;
    leaf(s, syncml_tag!("CmdID"), &st.cmd_id)?;
    opt_leaf(s, syncml_tag!("MsgRef"), st.msg_ref.as_deref())?;
    leaf(s, syncml_tag!("CmdRef"), &st.cmd_ref)?;
    spelling_leaf(s, syncml_tag!("Cmd"), st.cmd.as_str(), !matches!(st.cmd, CommandName::Other(_)))?;
    for r in &st.target_refs {
        leaf(s, syncml_tag!("TargetRef"), r)?;
    }
    for r in &st.source_refs {
        leaf(s, syncml_tag!("SourceRef"), r)?;
    }
    if let Some(c) = &st.cred {
        cred(s, c)?;
    }
    if let Some(ch) = &st.chal {
        s.start(syncml_tag!("Chal"))?;
        meta(s, &ch.meta, false)?;
        s.end_of(syncml_tag!("Chal"))?;
    }
    number_leaf(s, syncml_tag!("Data"), st.code.code().into())?;
    for it in &st.items {
        item(s, it, None)?;
    }
    s.end_of(syncml_tag!("Status"))
}

/// Writes an Item; `command_meta` is its command's Meta, whose Type applies when the item has none.
fn item<S: Sink>(s: &mut S, it: &Item, command_meta: Option<&Meta>) -> Result<()> {
    s.start(syncml_tag!("Item"))?;
    if let Some(t) = &it.target {
        location(s, syncml_tag!("Target"), t)?;
    }
    if let Some(src) = &it.source {
        location(s, syncml_tag!("Source"), src)?;
    }
    parent_location(s, syncml_tag!("SourceParent"), it.source_parent.as_deref())?;
    parent_location(s, syncml_tag!("TargetParent"), it.target_parent.as_deref())?;
    let nested = nests_document(it, command_meta);
    if let Some(m) = &it.meta {
        meta(s, m, nested)?;
    }
    match &it.data {
        None => {}
        Some(Data::Text(t)) if t.is_empty() => s.empty(syncml_tag!("Data"))?,
        Some(Data::Text(t)) => {
            s.start(syncml_tag!("Data"))?;
            s.data_text(t)?;
            s.end_of(syncml_tag!("Data"))?;
        }
        Some(Data::Binary(b)) => {
            s.start(syncml_tag!("Data"))?;
            s.binary(b)?;
            s.end_of(syncml_tag!("Data"))?;
        }
        Some(Data::Document(doc)) => {
            s.start(syncml_tag!("Data"))?;
            if nested {
                s.document(doc)?;
            } else {
                s.element(doc)?;
            }
            s.end_of(syncml_tag!("Data"))?;
        }
    }
    flag(s, syncml_tag!("MoreData"), it.more_data)?;
    s.end_of(syncml_tag!("Item"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_digits() {
        for n in [0, 7, 10, 42, 99, 100, 101, 200, 999, 1226, 10_000, 65_535, u64::from(u32::MAX) + 1, u64::MAX] {
            assert_eq!(super::Decimal::new(n).as_str(), n.to_string());
        }
    }
}
