//! The tree engine: every DM command a client executes, for a given server, inside a
//! transaction (DM Protocol 1.2 §6.5–6.6, DM TND 1.2 §6–8).
//!
//! [`Tree`] owns a [`Store`], the mounted DDFs, plugins and Exec handlers. [`Tree::begin`] opens a
//! [`Txn`]; every command runs in one and either all of a transaction commits or none of it does.
//! Plain commands commit one by one; an Atomic runs all its commands in one transaction. Each
//! command is itself all-or-nothing inside the transaction (a failed TNDS Add leaves nothing).
//!
//! Check order for every command: URI (400/414) → node existence (404) → DDF AccessType and
//! structure (405) → ACL (425) → permanence (405) → conflicts (418) → format/type (415/400).

use std::collections::VecDeque;
use std::ops::Bound;

use omadm_proto::{Element, Format, StatusCode};

use crate::acl::{Acl, AclCommand, ServerId};
use crate::ddf::{self, CaseSense, Ddf, DdfCommand, DdfError, DdfMatch, DdfNode, MountedDdf};
use crate::dm13::{Dm13Policy, DmVersion, InheritedAclReply};
use crate::error::{refuse, TreeError, TreeResult};
use crate::overlay::Overlay;
use crate::plugin::{ExecHandler, Plugin};
use crate::record::{format_tstamp, NodeRecord, Scope};
use crate::store::{descendant_prefix, subtree_end, Batch, BatchOp, Index, Store, INDEX_VERSION_KEY};
use crate::tnds::{TndsEncoding, TndsStream};
use crate::uri::{FieldSet, ListKind, Property, Query, TargetUri, Uri, UriLimits};
use crate::value::{self, decode_b64, Content};

/// How many records a scan fetches at a time; bounds the memory of streaming queries.
const SCAN_BATCH: usize = 256;

/// The answer to an MO sent to the Inbox whose identifier the device does not know (or that
/// carries none). StdObj 1.2 §5.4 names no code; the MO identifier is the node's Type, so we
/// answer "unsupported media type" (see docs/dm13-decisions.md, "Tree and description").
pub const INBOX_UNKNOWN_MO: StatusCode = StatusCode::UnsupportedMediaType;

/// Seconds since the Unix epoch from the system clock (the default TStamp source).
pub fn system_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// Create missing interior parents on Add (TND 1.2 §6.5.1 lets a device do so). Default on.
    pub implicit_parents: bool,
    /// Source of TStamp values; `None` disables the TStamp property.
    pub clock: Option<fn() -> u64>,
    /// The ACL the root gets when the tree is created (default `Add=*&Get=*`).
    pub root_acl: Acl,
    /// The Inbox node (StdObj 1.2 §5.4): Get on it or below is 405, Adds are placed by MO id.
    pub inbox: Option<Uri>,
    /// Where an MO arriving through the Inbox is placed: MO identifier → parent node.
    pub mo_homes: Vec<(String, Uri)>,
    /// Unconfirmed DM 1.3 behaviours.
    pub dm13: Dm13Policy,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            implicit_parents: true,
            clock: Some(system_clock),
            root_acl: Acl::default_root(),
            inbox: Uri::parse("./Inbox").ok(),
            mo_homes: Vec::new(),
            dm13: Dm13Policy::default(),
        }
    }
}

/// Who issues a command: a DM server (ACL-checked) or the device itself (not ACL-checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    server: Option<ServerId>,
    version: DmVersion,
}

impl Caller {
    /// A DM server in a session that negotiated `version`.
    pub fn server(id: ServerId, version: DmVersion) -> Caller {
        Caller { server: Some(id), version }
    }

    /// The device's own code (bootstrap, DevInfo upkeep): ACLs do not apply, the DDF still does.
    pub fn device() -> Caller {
        Caller { server: None, version: DmVersion::V1_3 }
    }

    /// The server, if the caller is one.
    pub fn server_id(&self) -> Option<&ServerId> {
        self.server.as_ref()
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> DmVersion {
        self.version
    }
}

/// A leaf value or an interior node's child list, as a Get answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeValue {
    /// 200, or 217 for an inherited ACL under DM 1.3.
    pub status: StatusCode,
    /// Meta Format of the Results item.
    pub format: Format,
    /// Meta Type of the Results item.
    pub mime: String,
    /// The data.
    pub data: Vec<u8>,
}

/// What a Get returns.
pub enum GetResult<'a, 't, S: Store> {
    /// A node value, a child list (Format `node`) or a property (Format `chr`).
    Value(NodeValue),
    /// `?list=Struct|StructData`: one item per node, streamed.
    List(StructIter<'a, 't, S>),
    /// `?list=TNDS`: the subtree as a TNDS document, streamed as it is read.
    Tnds(TndsList<'a, 't, S>),
}

/// The answer to `?list=TNDS` (TND 1.2 §8.4, TNDS 1.2): the subtree's nodes, not yet serialized.
/// [`TndsList::into_stream`] writes the document chunk by chunk in bounded memory (for a large
/// object); [`TndsList::into_element`] builds it in memory (for small subtrees).
pub struct TndsList<'a, 't, S: Store> {
    items: StructIter<'a, 't, S>,
}

impl<'a, 't, S: Store> TndsList<'a, 't, S> {
    /// The properties each node carries.
    pub fn fields(&self) -> FieldSet {
        self.items.fields()
    }

    /// The document as XML or WBXML bytes, produced as they are read.
    pub fn into_stream(self, encoding: TndsEncoding) -> TndsStream<StructIter<'a, 't, S>> {
        let fields = self.items.fields();
        TndsStream::new(self.items, fields, encoding)
    }

    /// The whole document as a `MgmtTree` element.
    pub fn into_element(self) -> TreeResult<Element> {
        let fields = self.items.fields();
        crate::tnds::build(self.items, fields)
    }
}

/// One node of a structural query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedNode {
    /// The node.
    pub uri: Uri,
    /// Its record; `value` is empty unless the query asked for values.
    pub record: NodeRecord,
}

/// Where a URI's node lives.
enum Loc {
    Stored(NodeRecord),
    Plugin { idx: usize, rel: Vec<String>, rec: NodeRecord },
    Missing,
}

impl Loc {
    fn into_record(self) -> Option<NodeRecord> {
        match self {
            Loc::Stored(r) | Loc::Plugin { rec: r, .. } => Some(r),
            Loc::Missing => None,
        }
    }

    fn record(&self) -> Option<&NodeRecord> {
        match self {
            Loc::Stored(r) | Loc::Plugin { rec: r, .. } => Some(r),
            Loc::Missing => None,
        }
    }
}

/// A management tree over a store.
pub struct Tree<S: Store> {
    store: S,
    config: TreeConfig,
    ddfs: Vec<MountedDdf>,
    plugins: Vec<(Uri, Box<dyn Plugin>)>,
    exec_handlers: Vec<(Uri, Box<dyn ExecHandler>)>,
    limits: UriLimits,
    /// Where MO roots added under the Inbox went: Inbox path → placed path, so that later Adds
    /// below `./Inbox/<name>` land below the placed node (StdObj 1.2 §5.4).
    inbox_placements: Vec<(Uri, Uri)>,
}

/// Indexes a store written before the [`Index`]es existed: one pass over every node, one
/// transaction per scan batch, the version key last (an interrupted pass starts again).
fn build_indexes<S: Store>(store: &mut S) -> TreeResult<()> {
    let mut lower: Option<String> = None;
    loop {
        let b = lower.as_deref().map_or(Bound::Included(""), Bound::Excluded);
        let page = store.scan(b, "", SCAN_BATCH)?;
        let page: Vec<_> = page.into_iter().take_while(|(k, _)| k.is_empty() || k.starts_with('\0')).collect();
        let Some((last, _)) = page.last() else { break };
        lower = Some(last.clone());
        let mut ops = Vec::new();
        for (k, r) in page {
            if r.scope == Scope::Permanent {
                ops.push(BatchOp::Put(Index::Permanent.key(&k), NodeRecord::interior("")));
            }
            if !r.acl.is_empty() {
                let mut entry = NodeRecord::interior("");
                entry.acl = r.acl;
                ops.push(BatchOp::Put(Index::Acl.key(&k), entry));
            }
        }
        store.apply(Batch { ops })?;
    }
    store.apply(Batch { ops: vec![BatchOp::Put(INDEX_VERSION_KEY.to_string(), NodeRecord::interior(""))] })?;
    Ok(())
}

/// The node holding the URI limits (StdObj 1.2 §5.3).
fn limits_uri() -> Uri {
    Uri::from_segments(["DevDetail", "URI"]).unwrap_or_default()
}

impl<S: Store> Tree<S> {
    /// Opens a tree over `store`, creating the root (permanent, with the configured ACL) if absent.
    pub fn open(mut store: S, config: TreeConfig) -> TreeResult<Tree<S>> {
        if store.get("")?.is_none() {
            let mut root = NodeRecord::interior("");
            root.acl = config.root_acl.clone();
            root.scope = Scope::Permanent;
            let mut overlay = Overlay::default();
            overlay.put_node(&store, String::new(), root)?;
            overlay.set(INDEX_VERSION_KEY.to_string(), Some(NodeRecord::interior("")));
            store.apply(overlay.into_batch())?;
        }
        if store.get(INDEX_VERSION_KEY)?.is_none() {
            build_indexes(&mut store)?;
        }
        let mut tree = Tree {
            store,
            config,
            ddfs: Vec::new(),
            plugins: Vec::new(),
            exec_handlers: Vec::new(),
            limits: UriLimits::default(),
            inbox_placements: Vec::new(),
        };
        tree.reload_limits()?;
        Ok(tree)
    }

    /// The store, e.g. to inspect it in tests.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The engine settings.
    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// The URI limits currently in force (read from DevDetail/URI).
    pub fn uri_limits(&self) -> UriLimits {
        self.limits
    }

    fn reload_limits(&mut self) -> TreeResult<()> {
        let base = limits_uri();
        let read = |name: &str| -> TreeResult<usize> {
            let uri = base.child(name)?;
            Ok(self
                .store
                .get(&uri.key())?
                .and_then(|r| std::str::from_utf8(&r.value).ok().and_then(|s| s.trim().parse::<usize>().ok()))
                .unwrap_or(0))
        };
        self.limits = UriLimits {
            max_depth: read("MaxDepth")?,
            max_tot_len: read("MaxTotLen")?,
            max_seg_len: read("MaxSegLen")?,
        };
        Ok(())
    }

    /// Binds a DDF to the tree: its top-level nodes sit at their Path, or under `base` when they
    /// have none. From then on every command under them is checked against the description.
    pub fn mount_ddf(&mut self, ddf: &Ddf, base: &Uri) -> Result<(), DdfError> {
        for (node, at) in ddf.nodes.iter().zip(ddf.top_level_uris(base)) {
            self.ddfs.push(MountedDdf { at: at?, node: node.clone() });
        }
        Ok(())
    }

    /// Routes every command on `at` and below to `plugin`.
    pub fn mount_plugin(&mut self, at: Uri, plugin: Box<dyn Plugin>) {
        self.plugins.retain(|(u, _)| *u != at);
        self.plugins.push((at, plugin));
    }

    /// Binds an Exec action to a stored node.
    pub fn set_exec_handler(&mut self, at: Uri, handler: Box<dyn ExecHandler>) {
        self.exec_handlers.retain(|(u, _)| *u != at);
        self.exec_handlers.push((at, handler));
    }

    /// Opens a transaction. Dropping it without [`Txn::commit`] rolls it back.
    pub fn begin(&mut self) -> Txn<'_, S> {
        Txn { tree: self, overlay: Overlay::default(), touched: Vec::new(), placed: Vec::new(), done: false }
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back otherwise.
    pub fn run<R>(&mut self, f: impl FnOnce(&mut Txn<'_, S>) -> TreeResult<R>) -> TreeResult<R> {
        let mut tx = self.begin();
        let r = f(&mut tx)?;
        tx.commit()?;
        Ok(r)
    }
}

/// A transaction over a [`Tree`]: reads see its own writes; [`Txn::commit`] makes them durable
/// in one store transaction; [`Txn::rollback`] (or drop) discards values, properties, ACLs,
/// created and deleted nodes alike.
pub struct Txn<'t, S: Store> {
    tree: &'t mut Tree<S>,
    overlay: Overlay,
    touched: Vec<usize>,
    /// Inbox placements made by this transaction, kept by the tree on commit.
    placed: Vec<(Uri, Uri)>,
    done: bool,
}

impl<S: Store> Drop for Txn<'_, S> {
    fn drop(&mut self) {
        if !self.done {
            for &i in &self.touched {
                if let Some((_, p)) = self.tree.plugins.get_mut(i) {
                    p.rollback();
                }
            }
        }
    }
}

impl<'t, S: Store> Txn<'t, S> {
    // ----- transaction control -------------------------------------------------------------

    /// Commits in two phases (see [`crate::plugin`]): every touched plugin prepares, then the store
    /// applies the batch durably, then the plugins commit. A failed prepare or store write rolls
    /// back everything: no stored change, every touched plugin rolled back.
    pub fn commit(mut self) -> TreeResult<()> {
        let touched = std::mem::take(&mut self.touched);
        self.done = true;
        let abort = |tree: &mut Tree<S>| {
            for &i in &touched {
                if let Some((_, p)) = tree.plugins.get_mut(i) {
                    p.rollback();
                }
            }
        };
        for &i in &touched {
            if let Some((_, p)) = self.tree.plugins.get_mut(i) {
                if let Err(e) = p.prepare() {
                    abort(self.tree);
                    return Err(e);
                }
            }
        }
        let overlay = std::mem::take(&mut self.overlay);
        if !overlay.is_empty() {
            let reload = overlay.touches(&limits_uri().key());
            if let Err(e) = self.tree.store.apply(overlay.into_batch()) {
                abort(self.tree);
                return Err(e.into());
            }
            if reload {
                self.tree.reload_limits()?;
            }
        }
        let placed = std::mem::take(&mut self.placed);
        for (inbox_path, home) in placed {
            self.tree.inbox_placements.retain(|(p, _)| *p != inbox_path);
            self.tree.inbox_placements.push((inbox_path, home));
        }
        let mut first_error = None;
        for &i in &touched {
            if let Some((_, p)) = self.tree.plugins.get_mut(i) {
                if let Err(e) = p.commit() {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Discards every change of the transaction.
    pub fn rollback(self) {
        drop(self)
    }

    /// Runs `f`; if it fails, undoes whatever it wrote (one command is all-or-nothing).
    fn atomically<R>(&mut self, f: impl FnOnce(&mut Self) -> TreeResult<R>) -> TreeResult<R> {
        let sp = self.overlay.savepoint();
        let placed = self.placed.len();
        let r = f(self);
        if r.is_err() {
            self.overlay.rollback_to(sp);
            self.placed.truncate(placed);
        }
        r
    }

    // ----- reading -------------------------------------------------------------------------

    fn stored(&self, uri: &Uri) -> TreeResult<Option<NodeRecord>> {
        Ok(self.overlay.get(&self.tree.store, &uri.key())?)
    }

    fn plugin_at(&self, uri: &Uri) -> Option<(usize, Vec<String>)> {
        self.tree
            .plugins
            .iter()
            .enumerate()
            .filter(|(_, (at, _))| at.contains(uri))
            .max_by_key(|(_, (at, _))| at.depth())
            .map(|(i, (at, _))| (i, at.relative(uri).unwrap_or(&[]).to_vec()))
    }

    fn locate(&self, uri: &Uri) -> TreeResult<Loc> {
        if let Some((idx, rel)) = self.plugin_at(uri) {
            return Ok(match self.tree.plugins[idx].1.node(&rel)? {
                Some(rec) => Loc::Plugin { idx, rel, rec },
                None => Loc::Missing,
            });
        }
        Ok(match self.stored(uri)? {
            Some(r) => Loc::Stored(r),
            None => Loc::Missing,
        })
    }

    /// Calls `f` with the record at `uri` (a plugin's, or the stored one borrowed where the
    /// store can lend it); says whether there is one.
    fn visit(&self, uri: &Uri, f: &mut dyn FnMut(&NodeRecord)) -> TreeResult<bool> {
        if let Some((idx, rel)) = self.plugin_at(uri) {
            return Ok(match self.tree.plugins[idx].1.node(&rel)? {
                Some(rec) => {
                    f(&rec);
                    true
                }
                None => false,
            });
        }
        Ok(self.overlay.visit(&self.tree.store, &uri.key(), f)?)
    }

    fn exists(&self, uri: &Uri) -> TreeResult<bool> {
        self.visit(uri, &mut |_| {})
    }

    fn put(&mut self, uri: &Uri, rec: NodeRecord) -> TreeResult<()> {
        Ok(self.overlay.put_node(&self.tree.store, uri.key(), rec)?)
    }

    fn now(&self) -> Option<u64> {
        self.tree.config.clock.map(|c| c())
    }

    /// The child names of a node, in key order (plugin mounts directly below included).
    pub fn children(&self, uri: &Uri) -> TreeResult<Vec<String>> {
        if let Some((idx, rel)) = self.plugin_at(uri) {
            return self.tree.plugins[idx].1.children(&rel);
        }
        let prefix = descendant_prefix(&uri.key());
        let mut names = Vec::new();
        let mut lower: Option<String> = None;
        loop {
            let b = match &lower {
                Some(k) => Bound::Included(k.as_str()),
                None => Bound::Unbounded,
            };
            let Some(k) = self.overlay.next_key(&self.tree.store, b, &prefix)? else { break };
            names.push(k[prefix.len()..].to_string());
            lower = Some(subtree_end(&k));
        }
        for (at, _) in &self.tree.plugins {
            if at.parent().as_ref() == Some(uri) {
                if let Some(n) = at.name() {
                    if !names.iter().any(|m| m == n) {
                        names.push(n.to_string());
                    }
                }
            }
        }
        Ok(names)
    }

    /// The ACL in force at `uri` and whether it is inherited (TND 1.2 §7.7.1.2).
    pub fn effective_acl(&self, uri: &Uri) -> TreeResult<(Acl, bool)> {
        self.with_effective_acl(uri, |acl, inherited| (acl.clone(), inherited))
    }

    /// `f` applied to the ACL in force at `uri` and whether it is inherited, the ACL borrowed
    /// from the node that holds it ([`Txn::effective_acl`] without copying it).
    fn with_effective_acl<R>(&self, uri: &Uri, mut f: impl FnMut(&Acl, bool) -> R) -> TreeResult<R> {
        if self.tree.plugins.is_empty() {
            // No plugin can answer for a node: walk the stored keys, an ancestor's key being its
            // descendant's cut at a NUL, instead of building each ancestor's URI.
            let mut key = uri.key();
            let mut inherited = false;
            loop {
                let mut answer = None;
                self.overlay.visit(&self.tree.store, &key, &mut |r| {
                    if !r.acl.is_empty() {
                        answer = Some(f(&r.acl, inherited));
                    }
                })?;
                if let Some(a) = answer {
                    return Ok(a);
                }
                inherited = true;
                match key.rfind('\0') {
                    Some(at) => key.truncate(at),
                    None => return Ok(f(&self.tree.config.root_acl, true)),
                }
            }
        }
        let mut cur = Some(uri.clone());
        let mut inherited = false;
        while let Some(u) = cur {
            let mut answer = None;
            self.visit(&u, &mut |r| {
                if !r.acl.is_empty() {
                    answer = Some(f(&r.acl, inherited));
                }
            })?;
            if let Some(a) = answer {
                return Ok(a);
            }
            inherited = true;
            cur = u.parent();
        }
        Ok(f(&self.tree.config.root_acl, true))
    }

    fn allowed(&self, caller: &Caller, uri: &Uri, cmd: AclCommand) -> TreeResult<bool> {
        match &caller.server {
            None => Ok(true),
            Some(s) => self.with_effective_acl(uri, |acl, _| acl.allows(cmd, s)),
        }
    }

    fn require(&self, caller: &Caller, uri: &Uri, cmd: AclCommand) -> TreeResult<()> {
        if self.allowed(caller, uri, cmd)? {
            Ok(())
        } else {
            refuse(StatusCode::PermissionDenied, format!("ACL of {uri} does not grant {}", cmd.as_str()))
        }
    }

    fn ddf(&self, uri: &Uri) -> DdfMatch<'_> {
        ddf::lookup(&self.tree.ddfs, uri)
    }

    /// Checks the DDF AccessType of `uri` for `cmd`; returns the description if there is one.
    /// AccessType binds servers; the device's own code may do anything the structure allows.
    fn require_access(&self, caller: &Caller, uri: &Uri, cmd: DdfCommand) -> TreeResult<Option<&DdfNode>> {
        match self.ddf(uri) {
            DdfMatch::Free => Ok(None),
            DdfMatch::Undescribed if cmd == DdfCommand::Add => {
                refuse(StatusCode::CommandNotAllowed, format!("the DDF does not describe {uri}"))
            }
            DdfMatch::Undescribed => Ok(None),
            DdfMatch::Def(d) if caller.server.is_none() || d.access().allows(cmd) => Ok(Some(d)),
            DdfMatch::Def(_) => {
                refuse(StatusCode::CommandNotAllowed, format!("the DDF AccessType of {uri} has no {}", cmd.as_str()))
            }
        }
    }

    fn in_inbox(&self, uri: &Uri) -> bool {
        self.tree.config.inbox.as_ref().is_some_and(|i| i.contains(uri))
    }

    /// Resolves what the caller wrote to the stored node: DM 1.3 MO-identifier URIs, then
    /// case-insensitive names under CIS nodes; checks the URI limits (414).
    pub fn resolve(&self, caller: &Caller, uri: &Uri) -> TreeResult<Uri> {
        let mut uri = uri.clone();
        if let Some(mo) = self.tree.config.dm13.mo_id_prefix(caller.version, uri.segments().first().map(String::as_str))
        {
            let Some(root) = self.find_mo(mo)? else {
                return refuse(StatusCode::NotFound, format!("no MO {mo} in the tree"));
            };
            let rest = Uri::from_segments(uri.segments()[1..].iter().cloned())?;
            uri = root.join(&rest);
        }
        uri.check_limits(&self.tree.limits)?;
        if self.exists(&uri)? {
            return Ok(uri);
        }
        let mut cur = Uri::root();
        for seg in uri.segments() {
            let exact = cur.child(seg)?;
            let cis = matches!(self.ddf(&cur), DdfMatch::Def(d) if d.df.as_ref().is_some_and(|p| p.case_sense == CaseSense::Cis));
            cur = if cis && !self.exists(&exact)? {
                match self.children(&cur)?.into_iter().find(|n| n.eq_ignore_ascii_case(seg)) {
                    Some(n) => cur.child(&n)?,
                    None => exact,
                }
            } else {
                exact
            };
        }
        Ok(cur)
    }

    /// The root of the first MO (in pre-order, at most three levels deep) whose Type is `mo_id`.
    fn find_mo(&self, mo_id: &str) -> TreeResult<Option<Uri>> {
        let mut level = vec![Uri::root()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for u in level {
                for n in self.children(&u)? {
                    let c = u.child(&n)?;
                    if let Some(r) = self.locate(&c)?.record() {
                        if r.is_interior() {
                            if r.mime == mo_id {
                                return Ok(Some(c));
                            }
                            next.push(c);
                        }
                    }
                }
            }
            level = next;
        }
        Ok(None)
    }

    // ----- Get -----------------------------------------------------------------------------

    /// Get (DM Protocol 1.2 §6.6.8): a leaf's value, an interior node's child list, a property
    /// (`?prop=`), or a structural query (`?list=`).
    pub fn get<'a>(&'a self, caller: &Caller, target: &TargetUri) -> TreeResult<GetResult<'a, 't, S>> {
        let uri = self.resolve(caller, &target.uri)?;
        match target.query {
            None => self.get_node(caller, &uri).map(GetResult::Value),
            Some(Query::Prop(p)) => self.get_prop(caller, &uri, p).map(GetResult::Value),
            Some(Query::List { kind: ListKind::Tnds, fields }) => self.tnds(caller, &uri, fields).map(GetResult::Tnds),
            Some(Query::List { kind, fields }) => self.list(caller, &uri, kind, fields).map(GetResult::List),
        }
    }

    fn get_node(&self, caller: &Caller, uri: &Uri) -> TreeResult<NodeValue> {
        let loc = self.locate(uri)?;
        let Some(rec) = loc.record() else {
            return refuse(StatusCode::NotFound, format!("{uri} does not exist"));
        };
        if self.in_inbox(uri) {
            return refuse(StatusCode::CommandNotAllowed, "Get is not allowed on the Inbox");
        }
        self.require_access(caller, uri, DdfCommand::Get)?;
        self.require(caller, uri, AclCommand::Get)?;
        if rec.is_interior() {
            let data = self.children(uri)?.join("/").into_bytes();
            Ok(NodeValue { status: StatusCode::Ok, format: Format::Node, mime: rec.mime.clone(), data })
        } else {
            Ok(NodeValue {
                status: StatusCode::Ok,
                format: rec.format.clone(),
                mime: rec.mime.clone(),
                data: rec.value.clone(),
            })
        }
    }

    fn get_prop(&self, caller: &Caller, uri: &Uri, p: Property) -> TreeResult<NodeValue> {
        let loc = self.locate(uri)?;
        let Some(rec) = loc.record() else {
            return refuse(StatusCode::NotFound, format!("{uri} does not exist"));
        };
        if self.in_inbox(uri) {
            return refuse(StatusCode::CommandNotAllowed, "Get is not allowed on the Inbox");
        }
        self.require(caller, uri, AclCommand::Get)?;
        let mut status = StatusCode::Ok;
        let text = match p {
            Property::Acl if rec.acl.is_empty() => match self.tree.config.dm13.inherited_acl(caller.version) {
                InheritedAclReply::EmptyOk => String::new(),
                InheritedAclReply::Inherited217 => {
                    status = StatusCode::OkWithInheritedAcl;
                    self.effective_acl(uri)?.0.to_string()
                }
            },
            Property::Acl => rec.acl.to_string(),
            Property::Format => rec.format.as_str().to_string(),
            Property::Name => uri.name().unwrap_or(".").to_string(),
            Property::Size if rec.is_interior() => {
                return refuse(StatusCode::OptionalFeatureNotSupported, "interior nodes have no Size")
            }
            Property::Size => value::size_of(&rec.format, &rec.value).to_string(),
            Property::Title => rec.title.clone().unwrap_or_default(),
            Property::TStamp => match rec.tstamp {
                Some(t) => format_tstamp(t),
                None => return refuse(StatusCode::OptionalFeatureNotSupported, "no TStamp is kept for this node"),
            },
            Property::Type => rec.mime.clone(),
            Property::VerNo => rec.verno.to_string(),
            Property::CaseSense => match self.ddf(uri) {
                DdfMatch::Def(d) if d.df.as_ref().is_some_and(|p| p.case_sense == CaseSense::Cis) => "CIS".into(),
                _ => "CS".into(),
            },
        };
        Ok(NodeValue { status, format: Format::Chr, mime: "text/plain".into(), data: text.into_bytes() })
    }

    /// A streaming structural query (`?list=Struct|StructData`, TND 1.2 §8.4): one item per node
    /// of the subtree in pre-order, skipping nodes the caller may not Get (by ACL or by DDF
    /// AccessType, as a plain Get is refused); memory stays bounded by the scan batch and the
    /// tree depth, whatever the subtree's size.
    pub fn list<'a>(
        &'a self,
        caller: &Caller,
        uri: &Uri,
        kind: ListKind,
        fields: FieldSet,
    ) -> TreeResult<StructIter<'a, 't, S>> {
        if !self.exists(uri)? {
            return refuse(StatusCode::NotFound, format!("{uri} does not exist"));
        }
        if self.in_inbox(uri) {
            return refuse(StatusCode::CommandNotAllowed, "Get is not allowed on the Inbox");
        }
        self.require_access(caller, uri, DdfCommand::Get)?;
        self.require(caller, uri, AclCommand::Get)?;
        let fields = if kind == ListKind::StructData { fields.with_value() } else { fields };
        let base_acl = match uri.parent() {
            Some(p) => self.effective_acl(&p)?.0,
            None => self.tree.config.root_acl.clone(),
        };
        let mut mounts: Vec<Uri> = self
            .tree
            .plugins
            .iter()
            .map(|(at, _)| at.clone())
            .filter(|at| uri.contains(at) || at.contains(uri))
            .collect();
        mounts.sort_by_key(Uri::key);
        Ok(StructIter {
            txn: self,
            caller: caller.clone(),
            root: uri.clone(),
            fields,
            cursor: None,
            buf: VecDeque::new(),
            plugin_buf: VecDeque::new(),
            mounts: mounts.into(),
            acl_stack: Vec::new(),
            base_acl,
            store_done: false,
            started: false,
        })
    }

    fn tnds<'a>(&'a self, caller: &Caller, uri: &Uri, fields: FieldSet) -> TreeResult<TndsList<'a, 't, S>> {
        Ok(TndsList { items: self.list(caller, uri, ListKind::Tnds, fields)? })
    }

    // ----- Add -----------------------------------------------------------------------------

    /// Add (DM Protocol 1.2 §6.6.1): creates a leaf or an interior node (Format `node`), with
    /// missing interior parents when configured. Needs Add on the parent; 418 if it exists.
    pub fn add(&mut self, caller: &Caller, target: &TargetUri, content: Content) -> TreeResult<StatusCode> {
        if target.query.is_some() {
            return refuse(StatusCode::CommandNotAllowed, "Add does not take a property or list query");
        }
        let uri = self.resolve(caller, &target.uri)?;
        self.atomically(|tx| {
            let uri = tx.place_in_inbox(&uri, content.mime.as_deref())?;
            tx.add_at(caller, &uri, content, true)
        })
    }

    /// Where an Add below the Inbox lands (StdObj 1.2 §5.4): `./Inbox/<name>` is an MO root,
    /// moved to the home its MO identifier has in [`TreeConfig::mo_homes`] (remembered, so that
    /// later Adds below `./Inbox/<name>` follow it); a deeper path follows the placement of its
    /// nearest placed ancestor. Other URIs are returned unchanged.
    fn place_in_inbox(&mut self, uri: &Uri, mo_id: Option<&str>) -> TreeResult<Uri> {
        let Some(inbox) = &self.tree.config.inbox else { return Ok(uri.clone()) };
        let Some(rel) = inbox.relative(uri).filter(|r| !r.is_empty()) else { return Ok(uri.clone()) };
        if rel.len() == 1 {
            let placed = self.mo_home(mo_id)?.child(&rel[0])?;
            self.placed.push((uri.clone(), placed.clone()));
            return Ok(placed);
        }
        let placements = self.placed.iter().rev().chain(self.tree.inbox_placements.iter().rev());
        let nearest = placements.filter(|(at, _)| at.contains(uri)).max_by_key(|(at, _)| at.depth());
        match nearest {
            Some((at, home)) => Ok(home.join(&Uri::from_segments(at.relative(uri).unwrap_or(&[]).iter().cloned())?)),
            None => refuse(StatusCode::NotFound, format!("no MO was placed from {}", inbox.child(&rel[0])?)),
        }
    }

    /// The node under which MOs with this identifier are placed; an identifier the device does
    /// not know is refused with [`INBOX_UNKNOWN_MO`].
    fn mo_home(&self, mo_id: Option<&str>) -> TreeResult<Uri> {
        let home = mo_id.and_then(|id| self.tree.config.mo_homes.iter().find(|(m, _)| m == id)).map(|(_, h)| h.clone());
        match home {
            Some(h) => Ok(h),
            None => refuse(INBOX_UNKNOWN_MO, format!("the Inbox does not know MO {:?}", mo_id.unwrap_or(""))),
        }
    }

    fn add_at(&mut self, caller: &Caller, uri: &Uri, content: Content, check_acl: bool) -> TreeResult<StatusCode> {
        let Some(parent) = uri.parent() else {
            return refuse(StatusCode::AlreadyExists, "the root always exists");
        };
        if let Some((idx, rel)) = self.plugin_at(uri) {
            if rel.is_empty() {
                return refuse(StatusCode::AlreadyExists, format!("{uri} is a plugin mount"));
            }
            if check_acl {
                self.require(caller, &parent, AclCommand::Add)?;
            }
            self.tree.plugins[idx].1.add(&rel, &content)?;
            if !self.touched.contains(&idx) {
                self.touched.push(idx);
            }
            return Ok(StatusCode::Ok);
        }
        // Find the nearest existing ancestor; collect the interior nodes to create on the way.
        let mut missing = Vec::new();
        let mut anchor = parent.clone();
        let anchor_rec = loop {
            match self.locate(&anchor)? {
                Loc::Missing => {
                    missing.push(anchor.clone());
                    match anchor.parent() {
                        Some(p) => anchor = p,
                        None => return refuse(StatusCode::NotFound, "the root is missing"),
                    }
                }
                loc => break loc,
            }
        };
        if !missing.is_empty() && !self.tree.config.implicit_parents {
            return refuse(StatusCode::NotFound, format!("parent {parent} does not exist"));
        }
        if anchor_rec.record().is_some_and(|r| !r.is_interior()) {
            return refuse(StatusCode::CommandNotAllowed, format!("{anchor} is a leaf and cannot have children"));
        }
        if matches!(anchor_rec, Loc::Plugin { .. }) && !missing.is_empty() {
            return refuse(StatusCode::NotFound, format!("parent {parent} does not exist"));
        }
        missing.reverse();
        // DDF: every node to create must be described (or free) and allow Add.
        for p in &missing {
            if let Some(d) = self.require_access(caller, p, DdfCommand::Add)? {
                if !d.is_interior() {
                    return refuse(StatusCode::CommandNotAllowed, format!("the DDF describes {p} as a leaf"));
                }
            }
        }
        let def = self.require_access(caller, uri, DdfCommand::Add)?.cloned();
        if check_acl {
            self.require(caller, &anchor, AclCommand::Add)?;
        }
        if self.exists(uri)? {
            return refuse(StatusCode::AlreadyExists, format!("{uri} already exists"));
        }
        for p in missing.iter().chain(std::iter::once(uri)) {
            self.check_occurrence_for_add(p)?;
        }
        let mut rec = self.record_from_content(uri, def.as_ref(), content)?;
        // The topmost created node gets the creator's ACL when the creator could not otherwise
        // manage it (no Replace on the existing parent, TND 1.2 §7.7.1.4).
        let creator_acl = match &caller.server {
            Some(s) if check_acl && !self.allowed(caller, &anchor, AclCommand::Replace)? => Some(Acl::for_creator(s)),
            _ => None,
        };
        let now = self.now();
        for (i, p) in missing.iter().enumerate() {
            let pdef = match self.ddf(p) {
                DdfMatch::Def(d) => Some(d.clone()),
                _ => None,
            };
            let mut r =
                NodeRecord::interior(pdef.as_ref().and_then(|d| d.df.as_ref()).map_or("", |d| match &d.df_type {
                    ddf::DfType::DdfName(n) => n.as_str(),
                    ddf::DfType::Mime(_) => "",
                }));
            if i == 0 {
                if let Some(a) = &creator_acl {
                    r.acl = a.clone();
                }
            }
            r.touch(now);
            self.put(p, r)?;
        }
        if missing.is_empty() {
            if let Some(a) = creator_acl {
                rec.acl = a;
            }
        }
        rec.touch(now);
        self.put(uri, rec)?;
        Ok(StatusCode::Ok)
    }

    /// Builds the record for a new node, checking format and type against the DDF.
    fn record_from_content(&self, uri: &Uri, def: Option<&DdfNode>, content: Content) -> TreeResult<NodeRecord> {
        let df = def.and_then(|d| d.df.as_ref());
        let (format, data) = self.checked_value(uri, df, content.format, content.data)?;
        if let (Some(df), Some(m)) = (df, &content.mime) {
            if let ddf::DfType::Mime(list) = &df.df_type {
                if format != Format::Node && !list.is_empty() && !list.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                    return refuse(StatusCode::UnsupportedMediaType, format!("{uri} does not accept type {m}"));
                }
            }
        }
        let mime = content.mime.unwrap_or_else(|| match df {
            Some(df) => df.df_type.primary().to_string(),
            None if format == Format::Node => String::new(),
            None => "text/plain".to_string(),
        });
        let mut rec =
            if format == Format::Node { NodeRecord::interior(mime) } else { NodeRecord::leaf(format, mime, data) };
        if let Some(df) = df {
            rec.scope = df.scope;
        }
        Ok(rec)
    }

    /// Checks a value against its format and the DDF format; a b64 value for a `bin` node is
    /// decoded (TND 1.2 §7.7.3).
    fn checked_value(
        &self,
        uri: &Uri,
        df: Option<&ddf::DfProperties>,
        format: Format,
        data: Vec<u8>,
    ) -> TreeResult<(Format, Vec<u8>)> {
        let (format, data) = match df {
            Some(df) if df.format == format => (format, data),
            Some(df) if df.format == Format::Bin && format == Format::B64 => match decode_b64(&data) {
                Some(raw) => (Format::Bin, raw),
                None => return refuse(StatusCode::BadRequest, "value is not valid b64"),
            },
            Some(df) => {
                return refuse(
                    StatusCode::UnsupportedMediaType,
                    format!("{uri} takes format {}, not {format}", df.format),
                )
            }
            None => (format, data),
        };
        value::validate(&format, &data)?;
        Ok((format, data))
    }

    /// How many existing siblings of `uri` share its description.
    fn instances(&self, uri: &Uri) -> TreeResult<u32> {
        let (Some(parent), DdfMatch::Def(def)) = (uri.parent(), self.ddf(uri)) else { return Ok(0) };
        let pdef = match self.ddf(&parent) {
            DdfMatch::Def(d) => d,
            _ => return Ok(0),
        };
        let mut n = 0u32;
        for name in self.children(&parent)? {
            if ddf::child_def(pdef, &name).is_some_and(|d| std::ptr::eq(d, def)) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn check_occurrence_for_add(&self, uri: &Uri) -> TreeResult<()> {
        let DdfMatch::Def(def) = self.ddf(uri) else { return Ok(()) };
        let Some(max) = def.df.as_ref().and_then(|d| d.occurrence.max()) else { return Ok(()) };
        if self.instances(uri)? >= max {
            return refuse(StatusCode::CommandNotAllowed, format!("the DDF allows at most {max} of {uri}"));
        }
        Ok(())
    }

    // ----- Replace -------------------------------------------------------------------------

    /// Replace (DM Protocol 1.2 §6.6.11): a leaf's value, or a property via `?prop=`
    /// (ACL, Name = rename, Title). Never creates (404).
    pub fn replace(&mut self, caller: &Caller, target: &TargetUri, content: Content) -> TreeResult<StatusCode> {
        let uri = self.resolve(caller, &target.uri)?;
        match target.query {
            Some(Query::List { .. }) => refuse(StatusCode::CommandNotAllowed, "Replace does not take a list query"),
            Some(Query::Prop(p)) => self.atomically(|tx| tx.replace_prop(caller, &uri, p, content)),
            None => self.atomically(|tx| tx.replace_value(caller, &uri, content)),
        }
    }

    fn replace_value(&mut self, caller: &Caller, uri: &Uri, content: Content) -> TreeResult<StatusCode> {
        match self.locate(uri)? {
            Loc::Missing => refuse(StatusCode::NotFound, format!("{uri} does not exist")),
            Loc::Plugin { idx, rel, .. } => {
                self.require_access(caller, uri, DdfCommand::Replace)?;
                self.require(caller, uri, AclCommand::Replace)?;
                self.tree.plugins[idx].1.replace(&rel, &content)?;
                if !self.touched.contains(&idx) {
                    self.touched.push(idx);
                }
                Ok(StatusCode::Ok)
            }
            Loc::Stored(mut rec) => {
                let def = self.require_access(caller, uri, DdfCommand::Replace)?.cloned();
                self.require(caller, uri, AclCommand::Replace)?;
                if rec.is_interior() {
                    return refuse(
                        StatusCode::CommandNotAllowed,
                        format!("{uri} is interior; its value cannot be replaced"),
                    );
                }
                if content.format == Format::Node {
                    return refuse(StatusCode::UnsupportedMediaType, format!("{uri} is a leaf"));
                }
                let df = def.as_ref().and_then(|d| d.df.as_ref());
                let (format, data) = self.checked_value(uri, df, content.format, content.data)?;
                if let (Some(df), Some(m)) = (df, &content.mime) {
                    if let ddf::DfType::Mime(list) = &df.df_type {
                        if !list.is_empty() && !list.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                            return refuse(StatusCode::UnsupportedMediaType, format!("{uri} does not accept type {m}"));
                        }
                    }
                }
                rec.format = format;
                rec.value = data;
                if let Some(m) = content.mime {
                    rec.mime = m;
                }
                rec.touch(self.now());
                self.put(uri, rec)?;
                Ok(StatusCode::Ok)
            }
        }
    }

    fn replace_prop(&mut self, caller: &Caller, uri: &Uri, p: Property, content: Content) -> TreeResult<StatusCode> {
        let loc = self.locate(uri)?;
        let Some(rec) = loc.record().cloned() else {
            return refuse(StatusCode::NotFound, format!("{uri} does not exist"));
        };
        let text = match String::from_utf8(content.data) {
            Ok(t) => t,
            Err(_) => return refuse(StatusCode::BadRequest, "property values are UTF-8 text"),
        };
        if matches!(loc, Loc::Plugin { .. }) {
            return refuse(StatusCode::CommandNotAllowed, "properties of plugin nodes are read-only");
        }
        let mut rec = rec;
        match p {
            Property::Acl => {
                self.set_acl(caller, uri, &mut rec, text.trim())?;
                self.put(uri, rec)?;
            }
            Property::Title => {
                self.set_title(caller, uri, &mut rec, text)?;
                self.put(uri, rec)?;
            }
            Property::Name => self.rename(caller, uri, rec, &text)?,
            other => return refuse(StatusCode::CommandNotAllowed, format!("property {} is read-only", other.as_str())),
        }
        Ok(StatusCode::Ok)
    }

    /// Sets `rec`'s ACL (the record of `uri`) as Replace `?prop=ACL` does (TND 1.2 §7.7.1,
    /// digest §6 ACL table): a leaf needs Replace on its parent, an interior node Replace on
    /// itself or its parent; the root's ACL cannot be emptied.
    fn set_acl(&self, caller: &Caller, uri: &Uri, rec: &mut NodeRecord, text: &str) -> TreeResult<()> {
        let acl = Acl::parse(text).map_err(|e| TreeError::refused(StatusCode::BadRequest, e.to_string()))?;
        let ok = match (rec.is_interior(), uri.parent()) {
            (false, Some(parent)) => self.allowed(caller, &parent, AclCommand::Replace)?,
            (true, Some(parent)) => {
                self.allowed(caller, uri, AclCommand::Replace)? || self.allowed(caller, &parent, AclCommand::Replace)?
            }
            (_, None) => self.allowed(caller, uri, AclCommand::Replace)?,
        };
        if !ok {
            return refuse(StatusCode::PermissionDenied, format!("no Replace right for the ACL of {uri}"));
        }
        if uri.is_root() && acl.is_empty() {
            return refuse(StatusCode::CommandNotAllowed, "the root ACL cannot be emptied");
        }
        rec.acl = acl;
        Ok(())
    }

    /// Sets `rec`'s Title (the record of `uri`) as Replace `?prop=Title` does (digest §6, Properties):
    /// Replace on the node, at most 255 bytes.
    fn set_title(&self, caller: &Caller, uri: &Uri, rec: &mut NodeRecord, title: String) -> TreeResult<()> {
        self.require(caller, uri, AclCommand::Replace)?;
        if title.len() > 255 {
            return refuse(StatusCode::RequestEntityTooLarge, "Title is limited to 255 bytes");
        }
        rec.title = Some(title);
        Ok(())
    }

    fn rename(&mut self, caller: &Caller, uri: &Uri, rec: NodeRecord, new_name: &str) -> TreeResult<()> {
        let Some(parent) = uri.parent() else {
            return refuse(StatusCode::CommandNotAllowed, "the root cannot be renamed");
        };
        if rec.scope == Scope::Permanent {
            return refuse(StatusCode::CommandNotAllowed, format!("{uri} is permanent"));
        }
        if let DdfMatch::Def(d) = self.ddf(uri) {
            if d.name.is_some() {
                return refuse(StatusCode::CommandNotAllowed, format!("the DDF fixes the name of {uri}"));
            }
        }
        self.require(caller, uri, AclCommand::Replace)?;
        let new_uri = parent.child(new_name)?;
        new_uri.check_limits(&self.tree.limits)?;
        if new_uri == *uri {
            return Ok(());
        }
        if self.exists(&new_uri)? {
            return refuse(StatusCode::AlreadyExists, format!("{new_uri} already exists"));
        }
        if self.tree.plugins.iter().any(|(at, _)| uri.contains(at)) {
            return refuse(StatusCode::CommandNotAllowed, "a subtree holding a plugin cannot be renamed");
        }
        self.check_renamed_subtree_length(uri, &new_uri)?;
        self.overlay.move_node_subtree(&uri.key(), &new_uri.key());
        Ok(())
    }

    /// A longer name lengthens every URI below the node: the longest of them must still fit
    /// MaxTotLen (TND 1.2 §6, DevDetail/URI/MaxTotLen), else the rename is refused with 414 and
    /// nothing moves. A shorter or equal name needs no walk.
    fn check_renamed_subtree_length(&self, uri: &Uri, new_uri: &Uri) -> TreeResult<()> {
        let max = self.tree.limits.max_tot_len;
        let (old_len, new_len) = (uri.total_len(), new_uri.total_len());
        if max == 0 || new_len <= old_len {
            return Ok(());
        }
        // A key is the segments each behind a NUL, so a descendant's URI length is its key's
        // length minus one (`.` has an empty key); renaming adds the same growth to each.
        let prefix = format!("{}\0", uri.key());
        let mut lower: Option<String> = None;
        loop {
            let b = lower.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let page = self.overlay.scan(&self.tree.store, b, &prefix, SCAN_BATCH)?;
            let Some((last, _)) = page.last() else { return Ok(()) };
            if let Some(longest) = page.iter().map(|(k, _)| k.len() - 1 + new_len - old_len).max() {
                if longest > max {
                    return refuse(
                        StatusCode::UriTooLong,
                        format!("renaming {uri} to {new_uri} makes a URI below it {longest} long > MaxTotLen {max}"),
                    );
                }
            }
            lower = Some(last.clone());
        }
    }

    // ----- Delete --------------------------------------------------------------------------

    /// Delete (DM Protocol 1.2 §6.6.5): removes a node and its subtree. The root, permanent
    /// nodes and subtrees holding one are refused with 405.
    pub fn delete(&mut self, caller: &Caller, target: &TargetUri) -> TreeResult<StatusCode> {
        if target.query.is_some() {
            return refuse(StatusCode::CommandNotAllowed, "Delete does not take a property or list query");
        }
        let uri = self.resolve(caller, &target.uri)?;
        self.atomically(|tx| tx.delete_at(caller, &uri))
    }

    fn delete_at(&mut self, caller: &Caller, uri: &Uri) -> TreeResult<StatusCode> {
        if uri.is_root() {
            return refuse(StatusCode::CommandNotAllowed, "the root cannot be deleted");
        }
        match self.locate(uri)? {
            Loc::Missing => refuse(StatusCode::NotFound, format!("{uri} does not exist")),
            Loc::Plugin { idx, rel, .. } => {
                self.require_access(caller, uri, DdfCommand::Delete)?;
                self.require(caller, uri, AclCommand::Delete)?;
                if rel.is_empty() {
                    return refuse(StatusCode::CommandNotAllowed, format!("{uri} is a plugin mount"));
                }
                self.tree.plugins[idx].1.delete(&rel)?;
                if !self.touched.contains(&idx) {
                    self.touched.push(idx);
                }
                Ok(StatusCode::Ok)
            }
            Loc::Stored(rec) => {
                self.require_access(caller, uri, DdfCommand::Delete)?;
                self.require(caller, uri, AclCommand::Delete)?;
                if rec.scope == Scope::Permanent {
                    return refuse(StatusCode::CommandNotAllowed, format!("{uri} is permanent"));
                }
                if self.tree.plugins.iter().any(|(at, _)| uri.contains(at)) {
                    return refuse(StatusCode::CommandNotAllowed, "a subtree holding a plugin cannot be deleted");
                }
                if let DdfMatch::Def(d) = self.ddf(uri) {
                    let min = d.df.as_ref().map_or(0, |p| p.occurrence.min());
                    if min > 0 && self.instances(uri)? <= min {
                        return refuse(
                            StatusCode::CommandNotAllowed,
                            format!("the DDF requires at least {min} of {uri}"),
                        );
                    }
                }
                // One lookup in the permanent-node index instead of a walk of the subtree.
                let key = uri.key();
                let below = Index::Permanent.key(&descendant_prefix(&key));
                if let Some((k, _)) = self.overlay.scan(&self.tree.store, Bound::Unbounded, &below, 1)?.pop() {
                    let node = Index::Permanent.node_key(&k).map(Uri::from_key).unwrap_or_default();
                    return refuse(StatusCode::CommandNotAllowed, format!("{node} below is permanent"));
                }
                self.overlay.delete_node_subtree(&key);
                Ok(StatusCode::Ok)
            }
        }
    }

    // ----- Copy ----------------------------------------------------------------------------

    /// Copy (DM Protocol 1.2 §6.6.4): copies a leaf's value to `target`, replacing or adding it.
    /// Needs Get on the source and Replace on the target (or Add on its parent); interior nodes
    /// are refused with 403.
    pub fn copy(&mut self, caller: &Caller, target: &TargetUri, source: &TargetUri) -> TreeResult<StatusCode> {
        if target.query.is_some() || source.query.is_some() {
            return refuse(StatusCode::CommandNotAllowed, "Copy does not take a property or list query");
        }
        let src = self.resolve(caller, &source.uri)?;
        let dst = self.resolve(caller, &target.uri)?;
        let Some(rec) = self.locate(&src)?.record().cloned() else {
            return refuse(StatusCode::NotFound, format!("{src} does not exist"));
        };
        self.require_access(caller, &src, DdfCommand::Copy)?;
        self.require(caller, &src, AclCommand::Get)?;
        if rec.is_interior() {
            return refuse(StatusCode::Forbidden, "only leaves can be copied");
        }
        let content = Content { format: rec.format.clone(), mime: Some(rec.mime.clone()), data: rec.value.clone() };
        self.atomically(|tx| match tx.locate(&dst)?.record() {
            Some(r) if r.is_interior() => refuse(StatusCode::Forbidden, "cannot copy onto an interior node"),
            Some(_) => tx.replace_value(caller, &dst, content),
            None => tx.add_at(caller, &dst, content, true),
        })
    }

    // ----- Exec ----------------------------------------------------------------------------

    /// Exec (DM Protocol 1.2 §6.6.7): runs the plugin or handler bound to the node.
    pub fn exec(
        &mut self,
        caller: &Caller,
        target: &TargetUri,
        data: &[u8],
        correlator: Option<&str>,
    ) -> TreeResult<StatusCode> {
        if target.query.is_some() {
            return refuse(StatusCode::CommandNotAllowed, "Exec does not take a property or list query");
        }
        let uri = self.resolve(caller, &target.uri)?;
        let loc = self.locate(&uri)?;
        if loc.record().is_none() {
            return refuse(StatusCode::NotFound, format!("{uri} does not exist"));
        }
        self.require_access(caller, &uri, DdfCommand::Exec)?;
        self.require(caller, &uri, AclCommand::Exec)?;
        if let Loc::Plugin { idx, rel, .. } = loc {
            let r = self.tree.plugins[idx].1.exec(&rel, data, correlator)?;
            if !self.touched.contains(&idx) {
                self.touched.push(idx);
            }
            return Ok(r);
        }
        match self.tree.exec_handlers.iter_mut().find(|(at, _)| *at == uri) {
            Some((_, h)) => h.exec(&uri, data, correlator),
            None => refuse(StatusCode::CommandNotAllowed, format!("{uri} is not executable")),
        }
    }

    // ----- TNDS ----------------------------------------------------------------------------

    /// Add with a TNDS document (TNDS 1.2 §6): creates the whole subtree below `target`
    /// (created if missing), or nothing. Inbox targets place each MO by its identifier.
    pub fn add_tnds(&mut self, caller: &Caller, target: &Uri, doc: &Element) -> TreeResult<StatusCode> {
        let tree = crate::tnds::parse(doc)?;
        let target = self.resolve(caller, target)?;
        let inbox = self.tree.config.inbox.as_ref().is_some_and(|i| *i == target);
        self.atomically(|tx| {
            if inbox {
                for node in &tree.nodes {
                    tx.add_tnds_to_inbox(caller, &target, node)?;
                }
                return Ok(StatusCode::Ok);
            }
            if !tx.exists(&target)? {
                tx.add_at(caller, &target, Content::interior(None), true)?;
            }
            for node in &tree.nodes {
                let base = crate::tnds::node_parent(&target, node)?;
                tx.add_tnds_node(caller, &base, node, true)?;
            }
            Ok(StatusCode::Ok)
        })
    }

    /// Places one node of a TNDS sent to the Inbox (StdObj 1.2 §5.4): a node with an MO
    /// identifier is an MO root, placed whole at its home (MOs nested inside it stay inside); an
    /// interior node without one only groups MOs, whose roots are placed one by one; anything
    /// else names no MO and is refused with [`INBOX_UNKNOWN_MO`].
    fn add_tnds_to_inbox(&mut self, caller: &Caller, at: &Uri, node: &DdfNode) -> TreeResult<()> {
        let Some(name) = node.name.as_deref() else {
            return refuse(StatusCode::BadRequest, "a TNDS node has an empty NodeName");
        };
        let inbox_path = at.child(name)?;
        match crate::tnds::mo_id(node) {
            Some(mo) => {
                let home = self.mo_home(Some(&mo))?;
                self.placed.push((inbox_path, home.child(name)?));
                self.add_tnds_node(caller, &home, node, true)
            }
            None if node.is_interior() && !node.children.is_empty() => {
                for c in &node.children {
                    self.add_tnds_to_inbox(caller, &inbox_path, c)?;
                }
                Ok(())
            }
            None => refuse(INBOX_UNKNOWN_MO, format!("{inbox_path} carries no MO identifier")),
        }
    }

    /// Adds one TNDS node and its children. `check_acl` is off below a node replaced as a whole,
    /// where the Replace right on that node covers the new subtree.
    fn add_tnds_node(&mut self, caller: &Caller, parent: &Uri, node: &DdfNode, check_acl: bool) -> TreeResult<()> {
        let Some(name) = node.name.as_deref() else {
            return refuse(StatusCode::BadRequest, "a TNDS node has an empty NodeName");
        };
        let uri = parent.child(name)?;
        uri.check_limits(&self.tree.limits)?;
        let content = crate::tnds::content_of(node)?;
        self.add_at(caller, &uri, content, check_acl)?;
        self.apply_rt(caller, &uri, node)?;
        for c in &node.children {
            // A nested Path is relative to the enclosing node, unless it repeats that node's
            // own absolute URI (as DDF-style documents do).
            let base = match c.path.as_deref().map(Uri::parse) {
                Some(Ok(p)) if p == uri => uri.clone(),
                _ => crate::tnds::node_parent(&uri, c)?,
            };
            self.add_tnds_node(caller, &base, c, check_acl)?;
        }
        Ok(())
    }

    /// Applies a TNDS node's writable run-time properties to a created or replaced node, each
    /// under the rules of its `?prop=` Replace and the caller's rights: Title (Replace on the
    /// node), then ACL (a leaf's needs Replace on the parent), so that a new ACL does not decide
    /// the Title check.
    fn apply_rt(&mut self, caller: &Caller, uri: &Uri, node: &DdfNode) -> TreeResult<()> {
        let Some(rt) = &node.rt else { return Ok(()) };
        if rt.acl.is_none() && rt.title.is_none() {
            return Ok(());
        }
        let Some(mut rec) = self.stored(uri)? else { return Ok(()) };
        if let Some(t) = &rt.title {
            self.set_title(caller, uri, &mut rec, t.clone())?;
        }
        if let Some(a) = &rt.acl {
            self.set_acl(caller, uri, &mut rec, a)?;
        }
        self.put(uri, rec)?;
        Ok(())
    }

    /// Replace with a TNDS document (TNDS 1.2 §6): each top-level node must exist; its subtree is
    /// swapped for the document's, all or nothing. Needs Replace on each replaced node and Delete
    /// on each of its old children (which may belong to other servers); the old children go with
    /// the swap as with a deleted parent, so their DDF AccessType is not consulted.
    pub fn replace_tnds(&mut self, caller: &Caller, target: &Uri, doc: &Element) -> TreeResult<StatusCode> {
        let tree = crate::tnds::parse(doc)?;
        let target = self.resolve(caller, target)?;
        self.atomically(|tx| {
            for node in &tree.nodes {
                let base = crate::tnds::node_parent(&target, node)?;
                let uri = base.child(node.name.as_deref().unwrap_or_default())?;
                let Some(old) = tx.stored(&uri)? else {
                    return refuse(StatusCode::NotFound, format!("{uri} does not exist"));
                };
                tx.require_access(caller, &uri, DdfCommand::Replace)?;
                tx.require(caller, &uri, AclCommand::Replace)?;
                let content = crate::tnds::content_of(node)?;
                if old.is_interior() != (content.format == Format::Node) {
                    return refuse(
                        StatusCode::UnsupportedMediaType,
                        format!("{uri} would change between leaf and interior"),
                    );
                }
                for child in tx.children(&uri)? {
                    let child = uri.child(&child)?;
                    tx.require(caller, &child, AclCommand::Delete)?;
                    tx.delete_at(&Caller::device(), &child)?;
                }
                let def = match tx.ddf(&uri) {
                    DdfMatch::Def(d) => Some(d.clone()),
                    _ => None,
                };
                let mut rec = tx.record_from_content(&uri, def.as_ref(), content)?;
                rec.acl = old.acl.clone();
                rec.scope = old.scope;
                rec.title = old.title.clone();
                rec.verno = old.verno;
                rec.touch(tx.now());
                tx.put(&uri, rec)?;
                tx.apply_rt(caller, &uri, node)?;
                for c in &node.children {
                    tx.add_tnds_node(caller, &uri, c, false)?;
                }
            }
            Ok(StatusCode::Ok)
        })
    }

    // ----- device-side maintenance ---------------------------------------------------------

    /// Removes a server id from every ACL in the tree (TND 1.2 §7.7.1.5), e.g. when its DMAcc
    /// account is deleted. Root entries left empty become `*`.
    pub fn remove_server(&mut self, server: &ServerId) -> TreeResult<usize> {
        // Only nodes with an ACL of their own can name the server: visit the ACL index.
        let mut changed = Vec::new();
        let prefix = Index::Acl.key("");
        let mut lower: Option<String> = None;
        loop {
            let b = lower.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let page = self.overlay.scan(&self.tree.store, b, &prefix, SCAN_BATCH)?;
            let Some((last, _)) = page.last() else { break };
            lower = Some(last.clone());
            for (k, entry) in page {
                if entry.acl.mentions(server) {
                    changed.extend(Index::Acl.node_key(&k).map(str::to_string));
                }
            }
        }
        let n = changed.len();
        for k in changed {
            if let Some(mut r) = self.overlay.get(&self.tree.store, &k)? {
                r.acl.remove_server(server, k.is_empty());
                self.overlay.put_node(&self.tree.store, k, r)?;
            }
        }
        Ok(n)
    }

    /// Writes a node directly, bypassing ACL and DDF checks: for the device building its own
    /// tree (standard objects, bootstrap). Missing parents are created as interior nodes.
    pub fn put_node(&mut self, uri: &Uri, record: NodeRecord) -> TreeResult<()> {
        let mut missing = Vec::new();
        let mut cur = uri.parent();
        while let Some(p) = cur {
            if self.stored(&p)?.is_some() {
                break;
            }
            missing.push(p.clone());
            cur = p.parent();
        }
        for p in missing.into_iter().rev() {
            self.put(&p, NodeRecord::interior(""))?;
        }
        self.put(uri, record)?;
        Ok(())
    }

    /// The stored record of a node (no ACL check): for the device's own code.
    pub fn node(&self, uri: &Uri) -> TreeResult<Option<NodeRecord>> {
        Ok(self.locate(uri)?.into_record())
    }

    /// Checks the subtree at `uri` against the mounted DDFs: nodes the DDF does not describe,
    /// formats that differ, too few or too many instances. Returns one line per violation.
    pub fn validate(&self, uri: &Uri) -> TreeResult<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![uri.clone()];
        while let Some(u) = stack.pop() {
            let Some(rec) = self.locate(&u)?.record().cloned() else { continue };
            match self.ddf(&u) {
                DdfMatch::Undescribed => out.push(format!("{u}: not described by the DDF")),
                DdfMatch::Def(d) => {
                    if let Some(df) = &d.df {
                        let ok = df.format == rec.format || (df.format == Format::Bin && rec.format == Format::B64);
                        if !ok {
                            out.push(format!("{u}: format {} but the DDF says {}", rec.format, df.format));
                        }
                    }
                    if rec.is_interior() {
                        let names = self.children(&u)?;
                        for c in &d.children {
                            let count = names
                                .iter()
                                .filter(|n| ddf::child_def(d, n).is_some_and(|x| std::ptr::eq(x, c)))
                                .count() as u32;
                            if let Some(df) = &c.df {
                                if count < df.occurrence.min() {
                                    out.push(format!("{u}: missing {}", c.name.as_deref().unwrap_or("<x>")));
                                }
                                if df.occurrence.max().is_some_and(|m| count > m) {
                                    out.push(format!("{u}: too many {}", c.name.as_deref().unwrap_or("<x>")));
                                }
                            }
                        }
                    }
                }
                DdfMatch::Free => {}
            }
            if rec.is_interior() {
                for n in self.children(&u)?.into_iter().rev() {
                    stack.push(u.child(&n)?);
                }
            }
        }
        Ok(out)
    }
}

/// The stream of a structural query; see [`Txn::list`]. Items are `Result`s because the store
/// is read as the stream advances.
pub struct StructIter<'a, 't, S: Store> {
    txn: &'a Txn<'t, S>,
    caller: Caller,
    root: Uri,
    fields: FieldSet,
    cursor: Option<String>,
    buf: VecDeque<(String, NodeRecord)>,
    plugin_buf: VecDeque<(String, NodeRecord)>,
    mounts: VecDeque<Uri>,
    acl_stack: Vec<(usize, Acl)>,
    base_acl: Acl,
    store_done: bool,
    started: bool,
}

impl<S: Store> StructIter<'_, '_, S> {
    /// The fields each item reports.
    pub fn fields(&self) -> FieldSet {
        self.fields
    }

    /// Expands a plugin subtree (plugins are small, live subtrees) into the plugin buffer.
    fn expand_plugin(&mut self, at: &Uri) -> TreeResult<()> {
        let Some((idx, _)) = self.txn.plugin_at(at) else { return Ok(()) };
        let plugin = &self.txn.tree.plugins[idx];
        let mut out = Vec::new();
        let mut stack = vec![plugin.0.relative(at).unwrap_or(&[]).to_vec()];
        if !self.root.contains(at) {
            stack = vec![plugin.0.relative(&self.root).unwrap_or(&[]).to_vec()];
        }
        while let Some(rel) = stack.pop() {
            let Some(rec) = plugin.1.node(&rel)? else { continue };
            let uri = plugin.0.join(&Uri::from_segments(rel.iter().cloned())?);
            if rec.is_interior() {
                for c in plugin.1.children(&rel)?.into_iter().rev() {
                    let mut r = rel.clone();
                    r.push(c);
                    stack.push(r);
                }
            }
            out.push((uri.key(), rec));
        }
        self.plugin_buf.extend(out);
        Ok(())
    }

    fn refill(&mut self) -> TreeResult<()> {
        if self.store_done || !self.buf.is_empty() {
            return Ok(());
        }
        let root_key = self.root.key();
        if !self.started {
            self.started = true;
            if let Some(r) = self.txn.stored(&self.root)? {
                self.buf.push_back((root_key.clone(), r));
            }
            self.cursor = Some(root_key);
            return Ok(());
        }
        let prefix = descendant_prefix(&root_key);
        let lower = self.cursor.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let page = self.txn.overlay.scan(&self.txn.tree.store, lower, &prefix, SCAN_BATCH)?;
        if page.len() < SCAN_BATCH {
            self.store_done = true;
        }
        if let Some((k, _)) = page.last() {
            self.cursor = Some(k.clone());
        }
        self.buf.extend(page);
        Ok(())
    }

    /// The next node in key order from the store, the plugin buffer and pending mounts.
    fn next_raw(&mut self) -> TreeResult<Option<(String, NodeRecord)>> {
        loop {
            self.refill()?;
            let store_key = self.buf.front().map(|(k, _)| k.clone());
            let mount_key = self.mounts.front().map(Uri::key);
            if let Some(mk) = &mount_key {
                if store_key.as_ref().is_none_or(|sk| mk <= sk) && self.plugin_buf.is_empty() {
                    let m = self.mounts.pop_front().unwrap_or_default();
                    self.expand_plugin(&m)?;
                    continue;
                }
            }
            let plugin_key = self.plugin_buf.front().map(|(k, _)| k.clone());
            return Ok(match (store_key, plugin_key) {
                (Some(s), Some(p)) if p <= s => {
                    if p == s {
                        self.buf.pop_front();
                    }
                    self.plugin_buf.pop_front()
                }
                (Some(_), _) => self.buf.pop_front(),
                (None, Some(_)) => self.plugin_buf.pop_front(),
                (None, None) => None,
            });
        }
    }

    /// Whether the DDF AccessType of `uri` has no Get for a server caller: such a node (e.g. a
    /// DMAcc secret) is left out of the answer, as a plain Get of it is refused with 405.
    fn ddf_hides(&self, uri: &Uri) -> bool {
        self.caller.server.is_some()
            && matches!(self.txn.ddf(uri), DdfMatch::Def(d) if !d.access().allows(DdfCommand::Get))
    }

    fn visible(&mut self, depth: usize, acl: &Acl) -> bool {
        while self.acl_stack.last().is_some_and(|(d, _)| *d >= depth) {
            self.acl_stack.pop();
        }
        let effective = if !acl.is_empty() {
            self.acl_stack.push((depth, acl.clone()));
            acl
        } else {
            self.acl_stack.last().map_or(&self.base_acl, |(_, a)| a)
        };
        match &self.caller.server {
            None => true,
            Some(s) => effective.allows(AclCommand::Get, s),
        }
    }
}

impl<S: Store> Iterator for StructIter<'_, '_, S> {
    type Item = TreeResult<ListedNode>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, mut rec) = match self.next_raw() {
                Ok(Some(x)) => x,
                Ok(None) => return None,
                Err(e) => {
                    self.store_done = true;
                    self.buf.clear();
                    self.mounts.clear();
                    self.plugin_buf.clear();
                    return Some(Err(e));
                }
            };
            let uri = Uri::from_key(&key);
            if !self.visible(uri.depth(), &rec.acl.clone()) || self.ddf_hides(&uri) {
                continue;
            }
            if self.txn.in_inbox(&uri) {
                continue;
            }
            if !self.fields.has_value() {
                rec.value.clear();
            }
            return Some(Ok(ListedNode { uri, record: rec }));
        }
    }
}
