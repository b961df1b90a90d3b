//! Events → typed model: the one place that knows how SyncML DM elements map onto structs.
//!
//! Recursive descent over an [`EventSource`]. Children are accepted in any order (peers differ,
//! e.g. in Status and Item); unknown elements are skipped; required elements are checked once
//! the parent ends. Nesting depth is bounded by [`Limits::max_depth`] on every path, including
//! skipped elements, so hostile input cannot exhaust the stack: the sources refuse an element
//! nested deeper (or mark it, [`Event::TooDeep`]), and the builder's path of open elements is
//! the sources' stack of them (see [`EventSource::path_name`]).

use crate::codes::{AlertCode, StatusCode};
use crate::element::{Element, Node};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventSource};
use crate::limits::Limits;
use crate::message::*;
use crate::meta::{Anchor, Format, Mem, Meta};
use std::borrow::Cow;
use std::str::FromStr;

/// Builds typed values from an event source.
pub(crate) struct Builder<S> {
    src: S,
    /// How many elements are open on the builder's path: started, and not yet finished (an
    /// element is finished after its end, when its parent has checked it). Errors name the
    /// elements of the path through [`EventSource::path_name`]: keeping their names here, pushed
    /// and popped for every element, cost 0.6–1.3 K instructions a conversion.
    depth: usize,
    limits: Limits,
    /// How many Atomic/Sequence commands are open.
    containers: usize,
}

/// What `children` found: an element start (already pushed on the path), or the parent's end.
enum Child<'a> {
    Start(Cow<'a, str>),
    Done,
}

impl<'a, S: EventSource<'a>> Builder<S> {
    pub(crate) fn new(src: S, limits: &Limits) -> Self {
        Builder { src, depth: 0, limits: *limits, containers: 0 }
    }

    /// The name of the element that holds the current one (the path's next-to-last).
    fn parent_name(&self) -> Option<Cow<'_, str>> {
        self.src.path_name(self.depth.checked_sub(2)?)
    }

    /// An error at the source's offset, with the path of the elements open on the builder's path.
    fn error(&self, kind: ErrorKind) -> Error {
        let mut path = String::new();
        for depth in 0..self.depth {
            path.push('/');
            path.push_str(self.src.path_name(depth).as_deref().unwrap_or(""));
        }
        Error { kind, offset: Some(self.src.offset()), path }
    }

    /// Attaches this builder's position to an error from the source: the path of open elements,
    /// and the offset the source has reached if the error has none of its own.
    fn locate(&self, err: Error) -> Error {
        if !err.path.is_empty() {
            return err;
        }
        let offset = err.offset;
        let mut located = self.error(err.kind);
        if offset.is_some() {
            located.offset = offset;
        }
        located
    }

    #[inline(always)]
    fn next(&mut self) -> Result<Event<'a>> {
        self.src.next_event().map_err(|e| self.locate(e))
    }

    /// The next child element of the current element, skipping text between elements.
    #[inline(always)]
    fn child(&mut self) -> Result<Child<'a>> {
        loop {
            match self.next()? {
                Event::Start { name } => {
                    self.depth += 1;
                    return Ok(Child::Start(name));
                }
                Event::TooDeep => return Err(self.too_deep()),
                Event::End => return Ok(Child::Done),
                Event::Text(_) | Event::Opaque(_) => continue,
                Event::Eof => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
    }

    /// The error for an element nested deeper than the limit ([`Event::TooDeep`]).
    #[cold]
    fn too_deep(&self) -> Error {
        self.error(ErrorKind::Limit(format!("element nesting deeper than {}", self.limits.max_depth)))
    }

    /// Marks the current child element as fully consumed.
    fn done(&mut self) {
        self.depth -= 1;
    }

    /// Skips the rest of the current element, including nested elements.
    fn skip(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Event::Start { .. } => {
                    depth += 1;
                }
                Event::TooDeep => return Err(self.too_deep()),
                Event::End if depth == 0 => break,
                Event::End => depth -= 1,
                Event::Text(_) | Event::Opaque(_) => {}
                Event::Eof => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
        self.done();
        Ok(())
    }

    /// Reads the text content of the current element (nested elements are an error), borrowed
    /// from the input where it can be. The common leaf, character data and its end tag, is read
    /// by the source in one step ([`EventSource::leaf_text`]); anything else through events.
    #[inline(always)]
    fn text(&mut self) -> Result<Cow<'a, str>> {
        match self.src.leaf_text() {
            Ok(Some(text)) => {
                self.done();
                Ok(text)
            }
            Ok(None) => self.text_events(),
            Err(e) => Err(self.locate(e)),
        }
    }

    /// [`Self::text`] through events: pieces of text and opaque data up to the end.
    fn text_events(&mut self) -> Result<Cow<'a, str>> {
        let mut out: Option<Cow<'a, str>> = None;
        loop {
            let piece = match self.next()? {
                Event::Text(t) => t,
                Event::Opaque(b) => {
                    let text = std::str::from_utf8(b)
                        .map_err(|_| self.error(ErrorKind::Invalid("binary data where text was expected".into())))?;
                    // Read as text, it must be text XML can carry.
                    if let Some((_, c)) = crate::element::find_non_xml_char(text) {
                        let message = crate::element::non_xml_char_message(c, "binary data where text was expected");
                        return Err(self.error(ErrorKind::Invalid(message)));
                    }
                    Cow::Borrowed(text)
                }
                Event::End => break,
                Event::Start { name } => {
                    return Err(self.error(ErrorKind::Invalid(format!("unexpected element <{name}> in text"))))
                }
                Event::TooDeep => {
                    // Not on the path: the child started at the path's depth.
                    let name = self.src.path_name(self.depth).unwrap_or_default();
                    return Err(self.error(ErrorKind::Invalid(format!("unexpected element <{name}> in text"))));
                }
                Event::Eof => return Err(self.error(ErrorKind::UnexpectedEof)),
            };
            match &mut out {
                None => out = Some(piece),
                Some(s) => s.to_mut().push_str(&piece),
            }
        }
        self.done();
        Ok(out.unwrap_or_default())
    }

    /// Reads text content with surrounding whitespace removed, without copying it when it is a
    /// slice of the input (for values that are parsed, not kept).
    #[inline(always)]
    fn trimmed_text(&mut self) -> Result<Cow<'a, str>> {
        Ok(match self.text()? {
            Cow::Borrowed(s) => Cow::Borrowed(trim(s)),
            Cow::Owned(s) if trim(&s).len() == s.len() => Cow::Owned(s),
            Cow::Owned(s) => Cow::Owned(trim(&s).to_string()),
        })
    }

    /// Reads text content with surrounding whitespace removed (for identifiers and numbers).
    /// Inlined: called for most leaves, out of line it cost a call, its saved registers and a
    /// `Result` written to memory each time.
    #[inline(always)]
    fn trimmed(&mut self) -> Result<String> {
        Ok(self.trimmed_text()?.into_owned())
    }

    fn number<T: FromStr>(&mut self, element: &'static str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let s = self.trimmed_text()?;
        s.parse::<T>().map_err(|e| {
            let value = s.chars().take(40).collect();
            // The element is already closed: name it in the path.
            let mut err = self.error(ErrorKind::BadValue { element, value, reason: e.to_string() });
            err.path.push('/');
            err.path.push_str(element);
            err
        })
    }

    fn missing(&self, name: &'static str) -> Error {
        self.error(ErrorKind::Missing(name))
    }

    // ---- document level -------------------------------------------------------------------

    /// Decodes a whole SyncML message.
    pub(crate) fn message(mut self) -> Result<SyncMl> {
        match self.child()? {
            Child::Start(name) if name == "SyncML" => {}
            Child::Start(name) => {
                return Err(self.error(ErrorKind::Invalid(format!("root element is <{name}>, not <SyncML>"))))
            }
            Child::Done => return Err(self.error(ErrorKind::Invalid("no root element".into()))),
        }
        // Header and body are filled where they will be returned, not moved there: the model's
        // structs are large and every move is a copy. A repeated SyncHdr or SyncBody replaces
        // the earlier one.
        let mut message = SyncMl { header: empty_header(), body: SyncBody::default() };
        let (mut has_header, mut has_body) = (false, false);
        while let Child::Start(name) = self.child()? {
            match &*name {
                "SyncHdr" => {
                    if has_header {
                        message.header = empty_header();
                    }
                    self.header(&mut message.header)?;
                    has_header = true;
                }
                "SyncBody" => {
                    if has_body {
                        message.body = SyncBody::default();
                    }
                    self.body(&mut message.body)?;
                    has_body = true;
                }
                _ => self.skip()?,
            }
        }
        if !has_header {
            return Err(self.missing("SyncHdr"));
        }
        if !has_body {
            return Err(self.missing("SyncBody"));
        }
        self.done();
        self.expect_eof()?;
        Ok(message)
    }

    /// Decodes a standalone document into a generic element.
    pub(crate) fn document(mut self) -> Result<Element> {
        let root = match self.child()? {
            Child::Start(name) => self.element(name)?,
            Child::Done => return Err(self.error(ErrorKind::Invalid("no root element".into()))),
        };
        self.expect_eof()?;
        Ok(root)
    }

    fn expect_eof(&mut self) -> Result<()> {
        loop {
            match self.next()? {
                Event::Eof => return Ok(()),
                Event::Text(t) if t.trim().is_empty() => {}
                _ => return Err(self.error(ErrorKind::Invalid("content after the root element".into()))),
            }
        }
    }

    /// Reads the current element (already started) as a generic element tree.
    fn element(&mut self, name: Cow<'a, str>) -> Result<Element> {
        self.element_in(name, false)
    }

    /// Reads a generic element; inside MetInf (`in_metinf`, or its own namespace says so) text is
    /// trimmed, as the typed Meta decoder trims it: MetInf values carry no meaningful whitespace.
    fn element_in(&mut self, name: Cow<'a, str>, in_metinf: bool) -> Result<Element> {
        let namespace = self.src.start_namespace();
        let in_metinf =
            in_metinf || namespace.as_deref().is_some_and(|ns| ns.eq_ignore_ascii_case(crate::tags::METINF_NAMESPACE));
        // A namespace is kept here only (typed elements ignore theirs): it must be XML text too.
        if let Some((_, c)) = namespace.as_deref().and_then(crate::element::find_non_xml_char) {
            return Err(self.error(ErrorKind::Invalid(crate::element::non_xml_char_message(c, "a namespace"))));
        }
        let mut el =
            Element { name: name.into_owned(), namespace: namespace.map(Cow::into_owned), children: Vec::new() };
        // Character data up to the next element, opaque or end: WBXML may split it into several
        // events (a SWITCH_PAGE or PI between strings); the model keeps it as one text node.
        let mut text: Option<Cow<'a, str>> = None;
        loop {
            let event = self.next()?;
            if !matches!(event, Event::Text(_)) {
                if let Some(t) = text.take() {
                    let kept = if in_metinf { t.trim() } else { &t };
                    if !kept.trim().is_empty() {
                        el.children.push(Node::Text(kept.to_string()));
                    }
                }
            }
            match event {
                Event::Text(t) => match &mut text {
                    None => text = Some(t),
                    Some(s) => s.to_mut().push_str(&t),
                },
                Event::TooDeep => return Err(self.too_deep()),
                Event::Start { name } => {
                    self.depth += 1;
                    let child = self.element_in(name, in_metinf)?;
                    el.children.push(Node::Element(child));
                }
                Event::Opaque(b) => {
                    let nested = (el.name == "Data").then(|| self.nested_document(b)).flatten();
                    el.children.push(nested.map_or_else(|| Node::Opaque(b.to_vec()), Node::Element));
                }
                Event::End => break,
                Event::Eof => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
        if el.name == "Item" && crate::wbxml::item_holds_document(&el) {
            normalize_generic_item_type(&mut el);
        }
        self.done();
        Ok(el)
    }

    // ---- header -----------------------------------------------------------------------------

    /// Reads a SyncHdr into `hdr` (an [`empty_header`]), checking that its required children
    /// were all present.
    fn header(&mut self, hdr: &mut SyncHdr) -> Result<()> {
        let mut present = Required::default();
        while let Child::Start(name) = self.child()? {
            match &*name {
                "VerDTD" => (hdr.ver_dtd, present.ver_dtd) = (VerDtd::parse(&self.trimmed_text()?), true),
                "VerProto" => (hdr.ver_proto, present.ver_proto) = (VerProto::parse(&self.trimmed_text()?), true),
                "SessionID" => (hdr.session_id, present.session_id) = (self.trimmed()?, true),
                "MsgID" => (hdr.msg_id, present.msg_id) = (self.trimmed()?, true),
                "Target" => {
                    hdr.target = Location::default();
                    self.location(&mut hdr.target)?;
                    present.target = true;
                }
                "Source" => {
                    hdr.source = Location::default();
                    self.location(&mut hdr.source)?;
                    present.source = true;
                }
                "RespURI" => hdr.resp_uri = Some(self.trimmed()?),
                "NoResp" => hdr.no_resp = self.flag()?,
                "Cred" => self.cred(hdr.cred.insert(Cred { meta: None, data: String::new() }))?,
                "Meta" => self.meta_fields(hdr.meta.insert(Meta::default()))?,
                _ => self.skip()?,
            }
        }
        let missing = [
            (present.ver_dtd, "VerDTD"),
            (present.ver_proto, "VerProto"),
            (present.session_id, "SessionID"),
            (present.msg_id, "MsgID"),
            (present.target, "Target"),
            (present.source, "Source"),
        ]
        .into_iter()
        .find(|(present, _)| !present);
        if let Some((_, name)) = missing {
            return Err(self.missing(name));
        }
        self.done();
        Ok(())
    }

    /// An empty marker element such as `<NoResp/>` or `<Final/>`: present means true.
    fn flag(&mut self) -> Result<bool> {
        self.skip()?;
        Ok(true)
    }

    /// Reads a Target or Source into `loc` (an empty one), where it is kept: returned, it was
    /// moved there through a `Result` as large as the builder's error.
    #[inline(always)]
    fn location(&mut self, loc: &mut Location) -> Result<()> {
        let mut has_loc_uri = false;
        while let Child::Start(name) = self.child()? {
            match &*name {
                "LocURI" => (loc.loc_uri, has_loc_uri) = (self.trimmed()?, true),
                "LocName" => loc.loc_name = Some(self.trimmed()?),
                _ => self.skip()?,
            }
        }
        if !has_loc_uri {
            return Err(self.missing("LocURI"));
        }
        self.done();
        Ok(())
    }

    /// SourceParent / TargetParent: a LocURI.
    fn parent_uri(&mut self) -> Result<String> {
        let mut loc = Location::default();
        self.location(&mut loc)?;
        Ok(loc.loc_uri)
    }

    /// Reads a Cred into `cred` (an empty one), where it is kept: built aside, it would be moved
    /// there with its Meta, a large struct.
    fn cred(&mut self, cred: &mut Cred) -> Result<()> {
        let mut has_data = false;
        while let Child::Start(name) = self.child()? {
            match &*name {
                "Meta" => self.meta_fields(cred.meta.insert(Meta::default()))?,
                "Data" => (cred.data, has_data) = (self.trimmed()?, true),
                _ => self.skip()?,
            }
        }
        if !has_data {
            return Err(self.missing("Data"));
        }
        self.done();
        Ok(())
    }

    /// Reads MetInf children into `meta`; a nested `<MetInf>` wrapper is flattened into it. A Meta
    /// is read into the place it is kept (`field.insert(Meta::default())`), not built and moved
    /// there: it is a large struct.
    fn meta_fields(&mut self, meta: &mut Meta) -> Result<()> {
        while let Child::Start(name) = self.child()? {
            match &*name {
                "Format" => meta.format = Some(Format::parse(&self.trimmed_text()?)),
                "Type" => meta.media_type = Some(self.trimmed()?),
                "Mark" => meta.mark = Some(self.trimmed()?),
                "Size" => meta.size = Some(self.number("Size")?),
                "Version" => meta.version = Some(self.trimmed()?),
                "NextNonce" => meta.next_nonce = Some(self.trimmed()?),
                "MaxMsgSize" => meta.max_msg_size = Some(self.number("MaxMsgSize")?),
                "MaxObjSize" => meta.max_obj_size = Some(self.number("MaxObjSize")?),
                "EMI" => meta.emi.push(self.trimmed()?),
                "FieldLevel" => meta.field_level = self.flag()?,
                "Anchor" => meta.anchor = Some(self.anchor()?),
                "Mem" => meta.mem = Some(self.mem()?),
                // One level of MetInf wrapper is flattened; deeper ones carry nothing DM reads.
                "MetInf" if self.parent_name().is_none_or(|p| p != "MetInf") => self.meta_fields(meta)?,
                _ => self.skip()?,
            }
        }
        self.done();
        Ok(())
    }

    fn anchor(&mut self) -> Result<Anchor> {
        let mut anchor = Anchor::default();
        while let Child::Start(name) = self.child()? {
            match &*name {
                "Last" => anchor.last = Some(self.trimmed()?),
                "Next" => anchor.next = Some(self.trimmed()?),
                _ => self.skip()?,
            }
        }
        self.done();
        Ok(anchor)
    }

    fn mem(&mut self) -> Result<Mem> {
        let mut mem = Mem::default();
        while let Child::Start(name) = self.child()? {
            match &*name {
                "SharedMem" => mem.shared_mem = self.flag()?,
                "FreeMem" => mem.free_mem = Some(self.number("FreeMem")?),
                "FreeID" => mem.free_id = Some(self.number("FreeID")?),
                _ => self.skip()?,
            }
        }
        self.done();
        Ok(mem)
    }

    // ---- body -------------------------------------------------------------------------------

    /// Reads a SyncBody into `body` (an empty one).
    fn body(&mut self, body: &mut SyncBody) -> Result<()> {
        while let Child::Start(name) = self.child()? {
            if name == "Final" {
                body.is_final = self.flag()?;
            } else {
                self.command(&mut body.commands, name)?;
            }
        }
        self.done();
        Ok(())
    }

    /// Reads the command that `name` starts and appends it to `commands`. A command is pushed
    /// empty and filled where it stays, instead of being built and then moved into the vector
    /// (a `Command` is several hundred bytes).
    fn command(&mut self, commands: &mut Vec<Command>, name: Cow<'a, str>) -> Result<()> {
        match &*name {
            "Add" => {
                push_in_place(commands, || Command::Add(ItemCommand::default()));
                self.item_command(commands)
            }
            "Copy" => {
                push_in_place(commands, || Command::Copy(ItemCommand::default()));
                self.item_command(commands)
            }
            "Delete" => {
                push_in_place(commands, || Command::Delete(ItemCommand::default()));
                self.item_command(commands)
            }
            "Get" => {
                push_in_place(commands, || Command::Get(ItemCommand::default()));
                self.item_command(commands)
            }
            "Replace" => {
                push_in_place(commands, || Command::Replace(ItemCommand::default()));
                self.item_command(commands)
            }
            "Alert" => {
                push_in_place(commands, || {
                    Command::Alert(Alert {
                        cmd_id: String::new(),
                        no_resp: false,
                        cred: None,
                        code: None,
                        correlator: None,
                        items: Vec::new(),
                    })
                });
                match commands.last_mut() {
                    Some(Command::Alert(alert)) => self.alert(alert),
                    _ => Ok(()),
                }
            }
            "Atomic" | "Sequence" => {
                let wrap = if name == "Atomic" { Command::Atomic } else { Command::Sequence };
                push_in_place(commands, || wrap(Container::default()));
                match commands.last_mut() {
                    Some(Command::Atomic(container) | Command::Sequence(container)) => self.container(container),
                    _ => Ok(()),
                }
            }
            "Exec" => {
                push_in_place(commands, || Command::Exec(Exec::default()));
                match commands.last_mut() {
                    Some(Command::Exec(exec)) => self.exec(exec),
                    _ => Ok(()),
                }
            }
            "Results" => {
                push_in_place(commands, || Command::Results(Results::default()));
                match commands.last_mut() {
                    Some(Command::Results(results)) => self.results(results),
                    _ => Ok(()),
                }
            }
            "Status" => {
                push_in_place(commands, || Command::Status(empty_status()));
                match commands.last_mut() {
                    Some(Command::Status(status)) => self.status(status),
                    _ => Ok(()),
                }
            }
            _ => {
                let element = self.element(name)?;
                let cmd_id = element.child("CmdID").map(|c| c.text().trim().to_string()).unwrap_or_default();
                commands.push(Command::Unsupported(UnsupportedCommand { name: element.name.clone(), cmd_id, element }));
                Ok(())
            }
        }
    }

    /// Reads the Add, Copy, Delete, Get or Replace just appended (empty) to `commands` there. The
    /// caller appends it with its variant spelled out, so that it is built in the vector: through
    /// a constructor passed as a function pointer it was built aside and copied twice.
    fn item_command(&mut self, commands: &mut [Command]) -> Result<()> {
        let Some(
            Command::Add(cmd) | Command::Copy(cmd) | Command::Delete(cmd) | Command::Get(cmd) | Command::Replace(cmd),
        ) = commands.last_mut()
        else {
            return Ok(());
        };
        let mut has_cmd_id = false;
        while let Child::Start(name) = self.child()? {
            match &*name {
                "CmdID" => (cmd.cmd_id, has_cmd_id) = (self.trimmed()?, true),
                "NoResp" => cmd.no_resp = self.flag()?,
                "Cred" => self.cred(cmd.cred.insert(Cred { meta: None, data: String::new() }))?,
                "Meta" => self.meta_fields(cmd.meta.insert(Meta::default()))?,
                "Item" => self.item(&mut cmd.items, cmd.meta.as_ref())?,
                _ => self.skip()?,
            }
        }
        if !has_cmd_id {
            return Err(self.missing("CmdID"));
        }
        normalize_command_type(cmd.meta.as_mut(), &cmd.items);
        self.done();
        Ok(())
    }

    /// Reads an Alert into `alert` (an empty one).
    fn alert(&mut self, alert: &mut Alert) -> Result<()> {
        let mut has_cmd_id = false;
        while let Child::Start(name) = self.child()? {
            match &*name {
                "CmdID" => (alert.cmd_id, has_cmd_id) = (self.trimmed()?, true),
                "NoResp" => alert.no_resp = self.flag()?,
                "Cred" => self.cred(alert.cred.insert(Cred { meta: None, data: String::new() }))?,
                "Data" => alert.code = Some(AlertCode::from_code(self.number("Data")?)),
                "Correlator" => alert.correlator = Some(self.trimmed()?),
                "Item" => self.item(&mut alert.items, None)?,
                _ => self.skip()?,
            }
        }
        if !has_cmd_id {
            return Err(self.missing("CmdID"));
        }
        self.done();
        Ok(())
    }

    /// Reads an Exec into `exec` (an empty one).
    fn exec(&mut self, exec: &mut Exec) -> Result<()> {
        let mut has_cmd_id = false;
        while let Child::Start(name) = self.child()? {
            match &*name {
                "CmdID" => (exec.cmd_id, has_cmd_id) = (self.trimmed()?, true),
                "NoResp" => exec.no_resp = self.flag()?,
                "Cred" => self.cred(exec.cred.insert(Cred { meta: None, data: String::new() }))?,
                "Meta" => self.meta_fields(exec.meta.insert(Meta::default()))?,
                "Correlator" => exec.correlator = Some(self.trimmed()?),
                "Item" => self.item(&mut exec.items, exec.meta.as_ref())?,
                _ => self.skip()?,
            }
        }
        if !has_cmd_id {
            return Err(self.missing("CmdID"));
        }
        normalize_command_type(exec.meta.as_mut(), &exec.items);
        self.done();
        Ok(())
    }

    /// Reads an Atomic or Sequence into `container` (an empty one), within the nesting limit.
    fn container(&mut self, container: &mut Container) -> Result<()> {
        if self.containers >= self.limits.max_command_nesting {
            return Err(self.error(ErrorKind::Limit(format!(
                "Atomic/Sequence nested deeper than {}",
                self.limits.max_command_nesting
            ))));
        }
        self.containers += 1;
        let read = self.container_body(container);
        self.containers -= 1;
        read
    }

    fn container_body(&mut self, c: &mut Container) -> Result<()> {
        let mut has_cmd_id = false;
        while let Child::Start(name) = self.child()? {
            match &*name {
                "CmdID" => (c.cmd_id, has_cmd_id) = (self.trimmed()?, true),
                "NoResp" => c.no_resp = self.flag()?,
                "Meta" => self.meta_fields(c.meta.insert(Meta::default()))?,
                _ => self.command(&mut c.commands, name)?,
            }
        }
        if !has_cmd_id {
            return Err(self.missing("CmdID"));
        }
        self.done();
        Ok(())
    }

    /// Reads a Results into `r` (an empty one).
    fn results(&mut self, r: &mut Results) -> Result<()> {
        let (mut has_cmd_id, mut has_cmd_ref) = (false, false);
        while let Child::Start(name) = self.child()? {
            match &*name {
                "CmdID" => (r.cmd_id, has_cmd_id) = (self.trimmed()?, true),
                "MsgRef" => r.msg_ref = Some(self.trimmed()?),
                "CmdRef" => (r.cmd_ref, has_cmd_ref) = (self.trimmed()?, true),
                "Meta" => self.meta_fields(r.meta.insert(Meta::default()))?,
                "TargetRef" => r.target_ref = Some(self.trimmed()?),
                "SourceRef" => r.source_ref = Some(self.trimmed()?),
                "Item" => self.item(&mut r.items, r.meta.as_ref())?,
                _ => self.skip()?,
            }
        }
        if !has_cmd_id {
            return Err(self.missing("CmdID"));
        }
        if !has_cmd_ref {
            return Err(self.missing("CmdRef"));
        }
        normalize_command_type(r.meta.as_mut(), &r.items);
        self.done();
        Ok(())
    }

    /// Reads a Status into `status` (an [`empty_status`]), checking that its required children
    /// were all present.
    fn status(&mut self, status: &mut Status) -> Result<()> {
        let (mut has_cmd_id, mut has_cmd_ref, mut has_cmd, mut has_code) = (false, false, false, false);
        while let Child::Start(name) = self.child()? {
            match &*name {
                "CmdID" => (status.cmd_id, has_cmd_id) = (self.trimmed()?, true),
                "MsgRef" => status.msg_ref = Some(self.trimmed()?),
                "CmdRef" => (status.cmd_ref, has_cmd_ref) = (self.trimmed()?, true),
                "Cmd" => (status.cmd, has_cmd) = (CommandName::parse(&self.trimmed_text()?), true),
                "TargetRef" => status.target_refs.push(self.trimmed()?),
                "SourceRef" => status.source_refs.push(self.trimmed()?),
                "Cred" => self.cred(status.cred.insert(Cred { meta: None, data: String::new() }))?,
                "Chal" => status.chal = Some(self.chal()?),
                "Data" => (status.code, has_code) = (StatusCode::from_code(self.number("Data")?), true),
                "Item" => self.item(&mut status.items, None)?,
                _ => self.skip()?,
            }
        }
        let missing = [(has_cmd_id, "CmdID"), (has_cmd_ref, "CmdRef"), (has_cmd, "Cmd"), (has_code, "Data")]
            .into_iter()
            .find(|(present, _)| !present);
        if let Some((_, name)) = missing {
            return Err(self.missing(name));
        }
        self.done();
        Ok(())
    }

    fn chal(&mut self) -> Result<Chal> {
        let mut meta = Meta::default();
        while let Child::Start(name) = self.child()? {
            match &*name {
                "Meta" => self.meta_fields(&mut meta)?,
                _ => self.skip()?,
            }
        }
        self.done();
        Ok(Chal { meta })
    }

    /// Reads an Item and appends it to `items`, filling it where it stays.
    fn item(&mut self, items: &mut Vec<Item>, command_meta: Option<&Meta>) -> Result<()> {
        push_in_place(items, Item::default);
        let Some(item) = items.last_mut() else { return Ok(()) };
        while let Child::Start(name) = self.child()? {
            match &*name {
                "Target" => self.location(item.target.insert(Location::default()))?,
                "Source" => self.location(item.source.insert(Location::default()))?,
                "SourceParent" => item.source_parent = Some(self.parent_uri()?),
                "TargetParent" => item.target_parent = Some(self.parent_uri()?),
                "Meta" => self.meta_fields(item.meta.insert(Meta::default()))?,
                "MoreData" => item.more_data = self.flag()?,
                "Data" => {
                    // Only whether the Type names a WBXML document matters to `data`: asked
                    // here, where the Type is borrowed, instead of copying the Type for it.
                    let wbxml_document = item_media_type(item, command_meta).is_some_and(is_wbxml_document_type);
                    item.data = Some(self.data(wbxml_document)?);
                }
                _ => self.skip()?,
            }
        }
        if matches!(item.data, Some(Data::Document(_))) {
            if let Some(meta) = item.meta.as_mut() {
                normalize_embedded_type(meta);
            }
        }
        self.done();
        Ok(())
    }

    /// Decodes opaque bytes as a nested WBXML document within the remaining depth, if they are one.
    fn nested_document(&self, bytes: &[u8]) -> Option<Element> {
        let remaining_depth = self.limits.max_depth.saturating_sub(self.depth);
        let limits = Limits { max_depth: remaining_depth, ..self.limits };
        crate::wbxml::decode_document(bytes, &limits).ok()
    }

    /// Reads an Item's Data: text, binary, or an embedded document (XML child element, or a
    /// nested WBXML document in opaque data when `wbxml_document`, the item's Type saying
    /// `+wbxml`).
    fn data(&mut self, wbxml_document: bool) -> Result<Data> {
        match self.src.leaf_text() {
            Ok(Some(text)) => {
                self.done();
                return Ok(Data::Text(text.into_owned()));
            }
            Ok(None) => {}
            Err(e) => return Err(self.locate(e)),
        }
        let mut text: Option<String> = None;
        let mut binary: Option<Vec<u8>> = None;
        let mut document: Option<Element> = None;
        loop {
            match self.next()? {
                Event::Text(t) => match &mut text {
                    None => text = Some(t.into_owned()),
                    Some(s) => s.push_str(&t),
                },
                Event::Opaque(b) => binary.get_or_insert_with(Vec::new).extend_from_slice(b),
                event @ (Event::Start { .. } | Event::TooDeep) => {
                    if document.is_some() {
                        return Err(self.error(ErrorKind::Invalid("Data holds more than one embedded document".into())));
                    }
                    let Event::Start { name } = event else { return Err(self.too_deep()) };
                    self.depth += 1;
                    document = Some(self.element(name)?);
                }
                Event::End => break,
                Event::Eof => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
        self.done();
        if let Some(doc) = document {
            return Ok(Data::Document(doc));
        }
        if let Some(bytes) = binary {
            if wbxml_document {
                let remaining_depth = self.limits.max_depth.saturating_sub(self.depth);
                let limits = Limits { max_depth: remaining_depth, ..self.limits };
                if let Ok(doc) = crate::wbxml::decode_document(&bytes, &limits) {
                    return Ok(Data::Document(doc));
                }
            }
            if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
                // Text and opaque pieces mixed: keep everything as bytes, text first as seen.
                let mut all = t.into_bytes();
                all.extend_from_slice(&bytes);
                return Ok(Data::Binary(all));
            }
            return Ok(Data::Binary(bytes));
        }
        Ok(Data::Text(text.unwrap_or_default()))
    }
}

/// Appends `make()` to `v`, written straight into the vector's buffer, where `push` would build
/// the value aside and copy it (a `Command` is 776 bytes, an `Item` 512).
#[inline(always)]
fn push_in_place<T>(v: &mut Vec<T>, make: impl FnMut() -> T) {
    v.resize_with(v.len() + 1, make);
}

/// [`str::trim`], answered from the first and last bytes for the common value that has no
/// whitespace at either end (printable ASCII there cannot start or end any whitespace). Also for
/// the model's parsers of wire spellings (`CommandName::parse`, `Format::parse`, ...), which the
/// decoder calls with text it has trimmed already.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let printable = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7F).contains(b));
    if printable(s.as_bytes().first()) && printable(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// Which of a SyncHdr's required children were seen.
#[derive(Default)]
struct Required {
    ver_dtd: bool,
    ver_proto: bool,
    session_id: bool,
    msg_id: bool,
    target: bool,
    source: bool,
}

/// A SyncHdr to be filled by the header decoder; its required fields are placeholders until then.
fn empty_header() -> SyncHdr {
    SyncHdr {
        ver_dtd: VerDtd::V1_2,
        ver_proto: VerProto::Dm1_2,
        session_id: String::new(),
        msg_id: String::new(),
        target: Location::default(),
        source: Location::default(),
        resp_uri: None,
        no_resp: false,
        cred: None,
        meta: None,
    }
}

/// A Status to be filled by the status decoder; its required fields are placeholders until then.
fn empty_status() -> Status {
    Status::new(String::new(), None, String::new(), CommandName::SyncHdr, StatusCode::Ok)
}

/// Media types whose `+wbxml` form carries a nested WBXML document (TNDS, DDF, DevInf).
pub(crate) const EMBEDDED_DOCUMENT_TYPES: [&str; 3] =
    ["application/vnd.syncml.dmtnds", "application/vnd.syncml.dmddf", "application/vnd.syncml-devinf"];

/// True for `<document type>+wbxml`, e.g. `application/vnd.syncml.dmtnds+wbxml`.
pub(crate) fn is_wbxml_document_type(media_type: &str) -> bool {
    media_type
        .strip_suffix("+wbxml")
        .is_some_and(|base| EMBEDDED_DOCUMENT_TYPES.iter().any(|t| base.eq_ignore_ascii_case(t)))
}

/// True if a document in Data of this media type travels in WBXML as a nested WBXML document in
/// opaque data, its Type's `+xml` written as `+wbxml` (TNDS, DDF, DevInf; as libwbxml does).
/// A document of any other type is written inline, as elements inside Data, so that it decodes
/// as a document again.
pub(crate) fn nests_in_wbxml(media_type: &str) -> bool {
    media_type
        .strip_suffix("+xml")
        .is_some_and(|base| EMBEDDED_DOCUMENT_TYPES.iter().any(|t| base.eq_ignore_ascii_case(t)))
}

/// The media type of an Item's Data: the Type of its own Meta, else that of its command's Meta
/// (SyncML RepPro 1.2 §5.1.11: an Item's Meta overrides its command's, field by field).
pub(crate) fn item_media_type<'m>(item: &'m Item, command_meta: Option<&'m Meta>) -> Option<&'m str> {
    item.meta.as_ref().and_then(|m| m.media_type.as_deref()).or_else(|| command_meta?.media_type.as_deref())
}

/// In the model an embedded document's Type is always the `+xml` form, whatever the encoding it
/// arrived in (WBXML encoders rewrite `+xml` to `+wbxml`, as libwbxml does); this undoes that.
fn normalize_embedded_type(meta: &mut Meta) {
    if let Some(t) = meta.media_type.as_mut() {
        if is_wbxml_document_type(t) {
            let base = &t[..t.len() - "+wbxml".len()];
            *t = format!("{base}+xml");
        }
    }
}

/// The generic-element counterpart of [`normalize_embedded_type`], for Items inside commands DM
/// does not use (kept as elements).
fn normalize_generic_item_type(item: &mut Element) {
    for meta in item.children.iter_mut() {
        let Node::Element(meta) = meta else { continue };
        if meta.name != "Meta" {
            continue;
        }
        for ty in meta.children.iter_mut() {
            let Node::Element(ty) = ty else { continue };
            if ty.name != "Type" {
                continue;
            }
            for text in ty.children.iter_mut() {
                if let Node::Text(t) = text {
                    if is_wbxml_document_type(t.trim()) {
                        if let Some(fixed) = swap_type_suffix(t, "+wbxml", "+xml") {
                            *t = fixed;
                        }
                    }
                }
            }
        }
    }
}

/// Replaces the `from` suffix of a media type with `to`, keeping any whitespace around it (as
/// generic elements keep text exactly); `None` if the type does not end with `from`.
pub(crate) fn swap_type_suffix(text: &str, from: &str, to: &str) -> Option<String> {
    let end = text.trim_end().len();
    let base = text[..end].strip_suffix(from)?;
    Some(format!("{base}{to}{}", &text[end..]))
}

/// A command-level Meta Type applies to items without their own; normalize it the same way when
/// an item that relies on it holds a document.
fn normalize_command_type(meta: Option<&mut Meta>, items: &[Item]) {
    if let Some(meta) = meta {
        if items.iter().any(|i| {
            matches!(i.data, Some(Data::Document(_))) && i.meta.as_ref().is_none_or(|m| m.media_type.is_none())
        }) {
            normalize_embedded_type(meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_matches_str_trim() {
        for s in ["", "a", " a", "a ", "\u{A0}a\u{A0}", "a\u{2003}", "\u{85}x", "é", " é ", "\t1\n", "x y"] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn embedded_types_normalize_to_xml() {
        let mut m = Meta { media_type: Some("application/vnd.syncml.dmtnds+wbxml".into()), ..Meta::default() };
        normalize_embedded_type(&mut m);
        assert_eq!(m.media_type.as_deref(), Some("application/vnd.syncml.dmtnds+xml"));
        let mut other = Meta { media_type: Some("text/plain".into()), ..Meta::default() };
        normalize_embedded_type(&mut other);
        assert_eq!(other.media_type.as_deref(), Some("text/plain"));
    }
}
