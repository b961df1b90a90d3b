//! Events → typed model: the one place that knows how SyncML DM elements map onto structs.
//!
//! Recursive descent over an [`EventSource`]. Children are accepted in any order (peers differ,
//! e.g. in Status and Item); unknown elements are skipped; required elements are checked once
//! the parent ends. Nesting depth is bounded by [`Limits::max_depth`] on every path, including
//! skipped elements, so hostile input cannot exhaust the stack.

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
pub(crate) struct Builder<'a, S> {
    src: S,
    /// Names of the open elements, for error paths.
    path: Vec<Cow<'a, str>>,
    limits: Limits,
    /// How many Atomic/Sequence commands are open.
    containers: usize,
}

/// What `children` found: an element start (already pushed on the path), or the parent's end.
enum Child<'a> {
    Start(Cow<'a, str>, Option<Cow<'a, str>>),
    Done,
}

impl<'a, S: EventSource<'a>> Builder<'a, S> {
    pub(crate) fn new(src: S, limits: &Limits) -> Self {
        Builder { src, path: Vec::with_capacity(16), limits: *limits, containers: 0 }
    }

    fn error(&self, kind: ErrorKind) -> Error {
        let mut path = String::new();
        for name in &self.path {
            path.push('/');
            path.push_str(name);
        }
        Error { kind, offset: Some(self.src.offset()), path }
    }

    /// Attaches this builder's position to an error that has none.
    fn locate(&self, mut err: Error) -> Error {
        if err.path.is_empty() && err.offset.is_none() {
            let located = self.error(err.kind);
            err = located;
        }
        err
    }

    #[inline(always)]
    fn next(&mut self) -> Result<Event<'a>> {
        self.src.next_event().map_err(|e| self.locate(e))
    }

    /// The next child element of the current element, skipping text between elements.
    fn child(&mut self) -> Result<Child<'a>> {
        loop {
            match self.next()? {
                Event::Start { name, namespace } => {
                    if self.path.len() >= self.limits.max_depth {
                        return Err(self.error(ErrorKind::Limit(format!(
                            "element nesting deeper than {}",
                            self.limits.max_depth
                        ))));
                    }
                    self.path.push(name.clone());
                    return Ok(Child::Start(name, namespace));
                }
                Event::End => return Ok(Child::Done),
                Event::Text(_) | Event::Opaque(_) => continue,
                Event::Eof => return Err(self.error(ErrorKind::UnexpectedEof)),
            }
        }
    }

    /// Marks the current child element as fully consumed.
    fn done(&mut self) {
        self.path.pop();
    }

    /// Skips the rest of the current element, including nested elements.
    fn skip(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Event::Start { .. } => {
                    depth += 1;
                    if self.path.len() + depth > self.limits.max_depth {
                        return Err(self.error(ErrorKind::Limit(format!(
                            "element nesting deeper than {}",
                            self.limits.max_depth
                        ))));
                    }
                }
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
                Event::Opaque(b) => Cow::Borrowed(
                    std::str::from_utf8(b)
                        .map_err(|_| self.error(ErrorKind::Invalid("binary data where text was expected".into())))?,
                ),
                Event::End => break,
                Event::Start { name, .. } => {
                    return Err(self.error(ErrorKind::Invalid(format!("unexpected element <{name}> in text"))))
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
    fn trimmed_text(&mut self) -> Result<Cow<'a, str>> {
        Ok(match self.text()? {
            Cow::Borrowed(s) => Cow::Borrowed(trim(s)),
            Cow::Owned(s) if trim(&s).len() == s.len() => Cow::Owned(s),
            Cow::Owned(s) => Cow::Owned(trim(&s).to_string()),
        })
    }

    /// Reads text content with surrounding whitespace removed (for identifiers and numbers).
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
            Child::Start(name, _) if name == "SyncML" => {}
            Child::Start(name, _) => {
                return Err(self.error(ErrorKind::Invalid(format!("root element is <{name}>, not <SyncML>"))))
            }
            Child::Done => return Err(self.error(ErrorKind::Invalid("no root element".into()))),
        }
        let mut header = None;
        let mut body = None;
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "SyncHdr" => header = Some(self.header()?),
                "SyncBody" => body = Some(self.body()?),
                _ => self.skip()?,
            }
        }
        let header = header.ok_or_else(|| self.missing("SyncHdr"))?;
        let body = body.ok_or_else(|| self.missing("SyncBody"))?;
        self.done();
        self.expect_eof()?;
        Ok(SyncMl { header, body })
    }

    /// Decodes a standalone document into a generic element.
    pub(crate) fn document(mut self) -> Result<Element> {
        let root = match self.child()? {
            Child::Start(name, ns) => self.element(name, ns)?,
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
    fn element(&mut self, name: Cow<'a, str>, namespace: Option<Cow<'a, str>>) -> Result<Element> {
        self.element_in(name, namespace, false)
    }

    /// Reads a generic element; inside MetInf (`in_metinf`, or its own namespace says so) text is
    /// trimmed, as the typed Meta decoder trims it: MetInf values carry no meaningful whitespace.
    fn element_in(&mut self, name: Cow<'a, str>, namespace: Option<Cow<'a, str>>, in_metinf: bool) -> Result<Element> {
        let in_metinf =
            in_metinf || namespace.as_deref().is_some_and(|ns| ns.eq_ignore_ascii_case(crate::tags::METINF_NAMESPACE));
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
                Event::Start { name, namespace } => {
                    if self.path.len() >= self.limits.max_depth {
                        return Err(self.error(ErrorKind::Limit(format!(
                            "element nesting deeper than {}",
                            self.limits.max_depth
                        ))));
                    }
                    self.path.push(name.clone());
                    let child = self.element_in(name, namespace, in_metinf)?;
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

    fn header(&mut self) -> Result<SyncHdr> {
        let (mut ver_dtd, mut ver_proto, mut session_id, mut msg_id) = (None, None, None, None);
        let (mut target, mut source) = (None, None);
        let mut hdr_rest = (None, false, None, None);
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "VerDTD" => ver_dtd = Some(VerDtd::parse(&self.trimmed_text()?)),
                "VerProto" => ver_proto = Some(VerProto::parse(&self.trimmed_text()?)),
                "SessionID" => session_id = Some(self.trimmed()?),
                "MsgID" => msg_id = Some(self.trimmed()?),
                "Target" => target = Some(self.location()?),
                "Source" => source = Some(self.location()?),
                "RespURI" => hdr_rest.0 = Some(self.trimmed()?),
                "NoResp" => hdr_rest.1 = self.flag()?,
                "Cred" => hdr_rest.2 = Some(self.cred()?),
                "Meta" => hdr_rest.3 = Some(self.meta()?),
                _ => self.skip()?,
            }
        }
        let hdr = SyncHdr {
            ver_dtd: ver_dtd.ok_or_else(|| self.missing("VerDTD"))?,
            ver_proto: ver_proto.ok_or_else(|| self.missing("VerProto"))?,
            session_id: session_id.ok_or_else(|| self.missing("SessionID"))?,
            msg_id: msg_id.ok_or_else(|| self.missing("MsgID"))?,
            target: target.ok_or_else(|| self.missing("Target"))?,
            source: source.ok_or_else(|| self.missing("Source"))?,
            resp_uri: hdr_rest.0,
            no_resp: hdr_rest.1,
            cred: hdr_rest.2,
            meta: hdr_rest.3,
        };
        self.done();
        Ok(hdr)
    }

    /// An empty marker element such as `<NoResp/>` or `<Final/>`: present means true.
    fn flag(&mut self) -> Result<bool> {
        self.skip()?;
        Ok(true)
    }

    fn location(&mut self) -> Result<Location> {
        let (mut loc_uri, mut loc_name) = (None, None);
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "LocURI" => loc_uri = Some(self.trimmed()?),
                "LocName" => loc_name = Some(self.trimmed()?),
                _ => self.skip()?,
            }
        }
        let loc = Location { loc_uri: loc_uri.ok_or_else(|| self.missing("LocURI"))?, loc_name };
        self.done();
        Ok(loc)
    }

    /// SourceParent / TargetParent: a LocURI.
    fn parent_uri(&mut self) -> Result<String> {
        Ok(self.location()?.loc_uri)
    }

    fn cred(&mut self) -> Result<Cred> {
        let (mut meta, mut data) = (None, None);
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "Meta" => meta = Some(self.meta()?),
                "Data" => data = Some(self.trimmed()?),
                _ => self.skip()?,
            }
        }
        let cred = Cred { meta, data: data.ok_or_else(|| self.missing("Data"))? };
        self.done();
        Ok(cred)
    }

    fn meta(&mut self) -> Result<Meta> {
        let mut meta = Meta::default();
        self.meta_fields(&mut meta)?;
        Ok(meta)
    }

    /// Reads MetInf children into `meta`; a nested `<MetInf>` wrapper is flattened into it.
    fn meta_fields(&mut self, meta: &mut Meta) -> Result<()> {
        while let Child::Start(name, _) = self.child()? {
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
                "MetInf" if self.path.iter().rev().nth(1).is_none_or(|p| p != "MetInf") => self.meta_fields(meta)?,
                _ => self.skip()?,
            }
        }
        self.done();
        Ok(())
    }

    fn anchor(&mut self) -> Result<Anchor> {
        let mut anchor = Anchor::default();
        while let Child::Start(name, _) = self.child()? {
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
        while let Child::Start(name, _) = self.child()? {
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

    fn body(&mut self) -> Result<SyncBody> {
        let mut body = SyncBody::default();
        while let Child::Start(name, ns) = self.child()? {
            if name == "Final" {
                body.is_final = self.flag()?;
            } else {
                body.commands.push(self.command(name, ns)?);
            }
        }
        self.done();
        Ok(body)
    }

    fn command(&mut self, name: Cow<'a, str>, ns: Option<Cow<'a, str>>) -> Result<Command> {
        Ok(match &*name {
            "Add" => Command::Add(self.item_command()?),
            "Copy" => Command::Copy(self.item_command()?),
            "Delete" => Command::Delete(self.item_command()?),
            "Get" => Command::Get(self.item_command()?),
            "Replace" => Command::Replace(self.item_command()?),
            "Alert" => Command::Alert(self.alert()?),
            "Atomic" => Command::Atomic(self.container()?),
            "Sequence" => Command::Sequence(self.container()?),
            "Exec" => Command::Exec(self.exec()?),
            "Results" => Command::Results(self.results()?),
            "Status" => Command::Status(self.status()?),
            _ => {
                let element = self.element(name, ns)?;
                let cmd_id = element.child("CmdID").map(|c| c.text().trim().to_string()).unwrap_or_default();
                Command::Unsupported(UnsupportedCommand { name: element.name.clone(), cmd_id, element })
            }
        })
    }

    fn item_command(&mut self) -> Result<ItemCommand> {
        let mut cmd = ItemCommand::default();
        let mut cmd_id = None;
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "CmdID" => cmd_id = Some(self.trimmed()?),
                "NoResp" => cmd.no_resp = self.flag()?,
                "Cred" => cmd.cred = Some(self.cred()?),
                "Meta" => cmd.meta = Some(self.meta()?),
                "Item" => cmd.items.push(self.item(cmd.meta.as_ref())?),
                _ => self.skip()?,
            }
        }
        cmd.cmd_id = cmd_id.ok_or_else(|| self.missing("CmdID"))?;
        normalize_command_type(cmd.meta.as_mut(), &cmd.items);
        self.done();
        Ok(cmd)
    }

    fn alert(&mut self) -> Result<Alert> {
        let mut alert = Alert {
            cmd_id: String::new(),
            no_resp: false,
            cred: None,
            code: None,
            correlator: None,
            items: Vec::new(),
        };
        let mut cmd_id = None;
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "CmdID" => cmd_id = Some(self.trimmed()?),
                "NoResp" => alert.no_resp = self.flag()?,
                "Cred" => alert.cred = Some(self.cred()?),
                "Data" => alert.code = Some(AlertCode::from_code(self.number("Data")?)),
                "Correlator" => alert.correlator = Some(self.trimmed()?),
                "Item" => alert.items.push(self.item(None)?),
                _ => self.skip()?,
            }
        }
        alert.cmd_id = cmd_id.ok_or_else(|| self.missing("CmdID"))?;
        self.done();
        Ok(alert)
    }

    fn exec(&mut self) -> Result<Exec> {
        let mut exec = Exec::default();
        let mut cmd_id = None;
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "CmdID" => cmd_id = Some(self.trimmed()?),
                "NoResp" => exec.no_resp = self.flag()?,
                "Cred" => exec.cred = Some(self.cred()?),
                "Meta" => exec.meta = Some(self.meta()?),
                "Correlator" => exec.correlator = Some(self.trimmed()?),
                "Item" => exec.items.push(self.item(exec.meta.as_ref())?),
                _ => self.skip()?,
            }
        }
        exec.cmd_id = cmd_id.ok_or_else(|| self.missing("CmdID"))?;
        normalize_command_type(exec.meta.as_mut(), &exec.items);
        self.done();
        Ok(exec)
    }

    fn container(&mut self) -> Result<Container> {
        if self.containers >= self.limits.max_command_nesting {
            return Err(self.error(ErrorKind::Limit(format!(
                "Atomic/Sequence nested deeper than {}",
                self.limits.max_command_nesting
            ))));
        }
        self.containers += 1;
        let c = self.container_body();
        self.containers -= 1;
        c
    }

    fn container_body(&mut self) -> Result<Container> {
        let mut c = Container::default();
        let mut cmd_id = None;
        while let Child::Start(name, ns) = self.child()? {
            match &*name {
                "CmdID" => cmd_id = Some(self.trimmed()?),
                "NoResp" => c.no_resp = self.flag()?,
                "Meta" => c.meta = Some(self.meta()?),
                _ => c.commands.push(self.command(name, ns)?),
            }
        }
        c.cmd_id = cmd_id.ok_or_else(|| self.missing("CmdID"))?;
        self.done();
        Ok(c)
    }

    fn results(&mut self) -> Result<Results> {
        let mut r = Results::default();
        let (mut cmd_id, mut cmd_ref) = (None, None);
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "CmdID" => cmd_id = Some(self.trimmed()?),
                "MsgRef" => r.msg_ref = Some(self.trimmed()?),
                "CmdRef" => cmd_ref = Some(self.trimmed()?),
                "Meta" => r.meta = Some(self.meta()?),
                "TargetRef" => r.target_ref = Some(self.trimmed()?),
                "SourceRef" => r.source_ref = Some(self.trimmed()?),
                "Item" => r.items.push(self.item(r.meta.as_ref())?),
                _ => self.skip()?,
            }
        }
        r.cmd_id = cmd_id.ok_or_else(|| self.missing("CmdID"))?;
        r.cmd_ref = cmd_ref.ok_or_else(|| self.missing("CmdRef"))?;
        normalize_command_type(r.meta.as_mut(), &r.items);
        self.done();
        Ok(r)
    }

    fn status(&mut self) -> Result<Status> {
        let (mut cmd_id, mut msg_ref, mut cmd_ref, mut cmd, mut code) = (None, None, None, None, None);
        let (mut target_refs, mut source_refs, mut items) = (Vec::new(), Vec::new(), Vec::new());
        let (mut cred, mut chal) = (None, None);
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "CmdID" => cmd_id = Some(self.trimmed()?),
                "MsgRef" => msg_ref = Some(self.trimmed()?),
                "CmdRef" => cmd_ref = Some(self.trimmed()?),
                "Cmd" => cmd = Some(CommandName::parse(&self.trimmed_text()?)),
                "TargetRef" => target_refs.push(self.trimmed()?),
                "SourceRef" => source_refs.push(self.trimmed()?),
                "Cred" => cred = Some(self.cred()?),
                "Chal" => chal = Some(self.chal()?),
                "Data" => code = Some(StatusCode::from_code(self.number("Data")?)),
                "Item" => items.push(self.item(None)?),
                _ => self.skip()?,
            }
        }
        let status = Status {
            cmd_id: cmd_id.ok_or_else(|| self.missing("CmdID"))?,
            msg_ref,
            cmd_ref: cmd_ref.ok_or_else(|| self.missing("CmdRef"))?,
            cmd: cmd.ok_or_else(|| self.missing("Cmd"))?,
            target_refs,
            source_refs,
            cred,
            chal,
            code: code.ok_or_else(|| self.missing("Data"))?,
            items,
        };
        self.done();
        Ok(status)
    }

    fn chal(&mut self) -> Result<Chal> {
        let mut meta = Meta::default();
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "Meta" => self.meta_fields(&mut meta)?,
                _ => self.skip()?,
            }
        }
        self.done();
        Ok(Chal { meta })
    }

    fn item(&mut self, command_meta: Option<&Meta>) -> Result<Item> {
        let mut item = Item::default();
        while let Child::Start(name, _) = self.child()? {
            match &*name {
                "Target" => item.target = Some(self.location()?),
                "Source" => item.source = Some(self.location()?),
                "SourceParent" => item.source_parent = Some(self.parent_uri()?),
                "TargetParent" => item.target_parent = Some(self.parent_uri()?),
                "Meta" => item.meta = Some(self.meta()?),
                "MoreData" => item.more_data = self.flag()?,
                "Data" => {
                    let media_type = item_media_type(&item, command_meta).map(str::to_owned);
                    item.data = Some(self.data(media_type.as_deref())?);
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
        Ok(item)
    }

    /// Decodes opaque bytes as a nested WBXML document within the remaining depth, if they are one.
    fn nested_document(&self, bytes: &[u8]) -> Option<Element> {
        let remaining_depth = self.limits.max_depth.saturating_sub(self.path.len());
        let limits = Limits { max_depth: remaining_depth, ..self.limits };
        crate::wbxml::decode_document(bytes, &limits).ok()
    }

    /// Reads an Item's Data: text, binary, or an embedded document (XML child element, or a
    /// nested WBXML document in opaque data whose Type says `+wbxml`).
    fn data(&mut self, media_type: Option<&str>) -> Result<Data> {
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
                Event::Start { name, namespace } => {
                    if document.is_some() {
                        return Err(self.error(ErrorKind::Invalid("Data holds more than one embedded document".into())));
                    }
                    if self.path.len() >= self.limits.max_depth {
                        return Err(self.error(ErrorKind::Limit(format!(
                            "element nesting deeper than {}",
                            self.limits.max_depth
                        ))));
                    }
                    self.path.push(name.clone());
                    document = Some(self.element(name, namespace)?);
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
            if media_type.is_some_and(is_wbxml_document_type) {
                let remaining_depth = self.limits.max_depth.saturating_sub(self.path.len());
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

/// [`str::trim`], answered from the first and last bytes for the common value that has no
/// whitespace at either end (printable ASCII there cannot start or end any whitespace).
fn trim(s: &str) -> &str {
    let printable = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7F).contains(b));
    if printable(s.as_bytes().first()) && printable(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
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
