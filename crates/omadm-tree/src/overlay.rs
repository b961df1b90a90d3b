//! The write buffer of a transaction: changes are kept here, read through, and handed to the
//! store as one [`Batch`] on commit (DM Protocol 1.2 §6.6.6 Atomic: all or nothing). An undo
//! journal gives cheap savepoints so that one failed command inside an Atomic leaves no trace
//! before the whole Atomic is rolled back.
//!
//! Changes sit in layers. Puts, deletes and subtree tombstones go to the top layer. A rename
//! (a subtree move) starts a new layer that only records the move: reads below the new name are
//! redirected to the old one in the layers underneath, so a rename costs the same whatever the
//! size of the subtree, and the store re-keys the subtree itself on commit
//! ([`BatchOp::MoveSubtree`]) without the records passing through the engine.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::StoreError;
use crate::record::{NodeRecord, Scope};
use crate::store::{in_subtree, subtree_end, Batch, BatchOp, Index, Store};

type Entry = (String, NodeRecord);

enum Undo {
    /// The top layer's entry for this key before the change (`None` = there was none).
    Entry(Box<(String, Option<Option<NodeRecord>>)>),
    /// A subtree tombstone was pushed on the top layer.
    Tomb,
    /// A layer was pushed.
    Layer,
}

/// Where a read is answered ([`Overlay::lookup`]).
enum Lookup<'a> {
    Layer(Option<&'a NodeRecord>),
    Store(Cow<'a, str>),
}

/// A subtree re-keyed from `from` to `to` (replacing whatever `to` held).
struct Move {
    from: String,
    to: String,
}

/// One layer of changes over the layers below it (the first layer lies over the store).
#[derive(Default)]
struct Layer {
    /// Subtrees moved between the view below and this layer; disjoint.
    moves: Vec<Move>,
    /// Puts (`Some`) and single deletes (`None`).
    entries: BTreeMap<String, Option<NodeRecord>>,
    /// Subtrees deleted in this layer, before its entries.
    tombs: Vec<String>,
}

impl Layer {
    fn tombstoned(&self, key: &str) -> bool {
        self.tombs.iter().any(|t| in_subtree(key, t))
    }
}

/// Pending changes over a store.
pub(crate) struct Overlay {
    /// Never empty; the last layer takes the writes.
    layers: Vec<Layer>,
    journal: Vec<Undo>,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay { layers: vec![Layer::default()], journal: Vec::new() }
    }
}

/// A position in the journal to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Savepoint(usize);

fn owned(b: Bound<&str>, prefix: &str) -> Bound<String> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_string()),
        Bound::Excluded(k) => Bound::Excluded(k.to_string()),
        Bound::Unbounded => Bound::Included(prefix.to_string()),
    }
}

fn bound_key(b: &Bound<String>) -> &str {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => k,
        Bound::Unbounded => "",
    }
}

/// The prefix to scan in `from`'s subtree for the keys of `to`'s subtree that start with
/// `prefix`, or `None` when none of them can.
fn map_prefix(prefix: &str, to: &str, from: &str) -> Option<String> {
    if to.starts_with(prefix) {
        Some(from.to_string())
    } else if prefix.starts_with(to) && prefix[to.len()..].starts_with('\0') {
        Some(format!("{from}{}", &prefix[to.len()..]))
    } else {
        None
    }
}

impl Overlay {
    fn top(&mut self) -> &mut Layer {
        if self.layers.is_empty() {
            self.layers.push(Layer::default());
        }
        let last = self.layers.len() - 1;
        &mut self.layers[last]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.layers.iter().all(|l| l.moves.is_empty() && l.entries.is_empty() && l.tombs.is_empty())
    }

    /// Where `key` is answered: by a layer (a put, or `None` for a delete, a tombstone or a
    /// subtree moved away) or by the store, under the key it had before the layers' moves.
    fn lookup<'a>(&'a self, key: &'a str) -> Lookup<'a> {
        let mut key = Cow::Borrowed(key);
        for layer in self.layers.iter().rev() {
            if let Some(e) = layer.entries.get(key.as_ref()) {
                return Lookup::Layer(e.as_ref());
            }
            if layer.tombstoned(&key) {
                return Lookup::Layer(None);
            }
            for m in &layer.moves {
                if in_subtree(&key, &m.to) {
                    key = Cow::Owned(format!("{}{}", m.from, &key[m.to.len()..]));
                    break;
                }
                if in_subtree(&key, &m.from) {
                    return Lookup::Layer(None);
                }
            }
        }
        Lookup::Store(key)
    }

    /// Reads `key` through the overlay.
    pub(crate) fn get<S: Store + ?Sized>(&self, store: &S, key: &str) -> Result<Option<NodeRecord>, StoreError> {
        match self.lookup(key) {
            Lookup::Layer(r) => Ok(r.cloned()),
            Lookup::Store(key) => store.get(&key),
        }
    }

    /// Calls `f` with the node at `key` as read through the overlay, without copying it where
    /// the layer or the store can lend it ([`Store::visit`]); says whether there was one.
    pub(crate) fn visit<S: Store + ?Sized>(
        &self,
        store: &S,
        key: &str,
        f: &mut dyn FnMut(&NodeRecord),
    ) -> Result<bool, StoreError> {
        match self.lookup(key) {
            Lookup::Layer(Some(r)) => {
                f(r);
                Ok(true)
            }
            Lookup::Layer(None) => Ok(false),
            Lookup::Store(key) => store.visit(&key, f),
        }
    }

    /// Scans through the overlay: up to `limit` live keys starting with `prefix`, above `lower`.
    pub(crate) fn scan<S: Store + ?Sized>(
        &self,
        store: &S,
        lower: Bound<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.scan_view(store, self.layers.len(), lower, prefix, limit.max(1))
    }

    /// The first live key starting with `prefix` above `lower`: [`Overlay::scan`] of one entry,
    /// asked of the store without its record ([`Store::next_key`]) while no layer holds a change.
    pub(crate) fn next_key<S: Store + ?Sized>(
        &self,
        store: &S,
        lower: Bound<&str>,
        prefix: &str,
    ) -> Result<Option<String>, StoreError> {
        if self.is_empty() {
            return store.next_key(lower, prefix);
        }
        Ok(self.scan(store, lower, prefix, 1)?.pop().map(|(k, _)| k))
    }

    /// Scans the view made of the store and the first `n` layers.
    fn scan_view<S: Store + ?Sized>(
        &self,
        store: &S,
        n: usize,
        lower: Bound<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        match n {
            0 => store.scan(lower, prefix, limit),
            n => self.scan_layer(store, n - 1, lower, prefix, limit),
        }
    }

    /// Scans layer `i` over the view beneath it: that view's entries (moved, when the layer
    /// starts with moves), minus deleted ones, plus this layer's puts.
    fn scan_layer<S: Store + ?Sized>(
        &self,
        store: &S,
        i: usize,
        lower: Bound<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let layer = &self.layers[i];
        if layer.moves.is_empty() && layer.entries.is_empty() && layer.tombs.is_empty() {
            // Nothing to merge (a transaction that has written nothing yet): the view beneath
            // as it is, not copied once more through the merge below.
            return self.scan_view(store, i, lower, prefix, limit);
        }
        let mut out: Vec<Entry> = Vec::new();
        let mut cursor = owned(lower, prefix);
        loop {
            let base = if layer.moves.is_empty() {
                self.scan_view(store, i, bound_ref(&cursor), prefix, limit)?
            } else {
                self.scan_moved(store, i, bound_ref(&cursor), prefix, limit)?
            };
            let exhausted = base.len() < limit;
            let upper: Bound<String> = match (exhausted, base.last()) {
                (false, Some((k, _))) => Bound::Included(k.clone()),
                _ => Bound::Unbounded,
            };
            let pending = layer
                .entries
                .range::<String, _>((cursor.clone(), upper.clone()))
                .take_while(|(k, _)| k.starts_with(prefix));
            let mut merged: BTreeMap<&str, &NodeRecord> = BTreeMap::new();
            for (k, v) in &base {
                if !layer.entries.contains_key(k) && !layer.tombstoned(k) {
                    merged.insert(k, v);
                }
            }
            for (k, v) in pending {
                if let Some(v) = v {
                    merged.insert(k, v);
                }
            }
            out.extend(merged.into_iter().map(|(k, v)| (k.to_string(), v.clone())));
            if out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
            match upper {
                Bound::Included(k) if !exhausted => cursor = Bound::Excluded(k),
                _ => return Ok(out),
            }
        }
    }

    /// Scans the view beneath layer `i` with that layer's moves applied: outside the moved
    /// subtrees the view as it is (the sources left out); inside each destination, the source's
    /// entries re-keyed.
    fn scan_moved<S: Store + ?Sized>(
        &self,
        store: &S,
        i: usize,
        lower: Bound<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let moves = &self.layers[i].moves;
        let mut by_dest: Vec<&Move> = moves.iter().collect();
        by_dest.sort_by(|a, b| a.to.cmp(&b.to));
        let mut out: Vec<Entry> = Vec::new();
        let mut cursor = owned(lower, prefix);
        while out.len() < limit {
            let at = bound_key(&cursor).to_string();
            let next = by_dest.iter().find(|m| subtree_end(&m.to).as_str() > at.as_str());
            // Outside the destinations, up to the next one.
            if next.is_none_or(|m| at.as_str() < m.to.as_str()) {
                let upper = next.map(|m| m.to.as_str());
                loop {
                    let want = limit - out.len();
                    let page = self.scan_view(store, i, bound_ref(&cursor), prefix, want)?;
                    let exhausted = page.len() < want;
                    let mut stop = exhausted;
                    for (k, r) in page {
                        if upper.is_some_and(|u| k.as_str() >= u) {
                            stop = true;
                            break;
                        }
                        if let Some(m) = moves.iter().find(|m| in_subtree(&k, &m.from) || in_subtree(&k, &m.to)) {
                            let root = if in_subtree(&k, &m.from) { &m.from } else { &m.to };
                            cursor = Bound::Included(subtree_end(root));
                            stop = false;
                            break;
                        }
                        cursor = Bound::Excluded(k.clone());
                        out.push((k, r));
                    }
                    if stop || out.len() >= limit {
                        break;
                    }
                }
                match next {
                    Some(m) if out.len() < limit => cursor = Bound::Included(m.to.clone()),
                    _ => return Ok(out),
                }
                continue;
            }
            // Inside the destination `m`: the source's entries, re-keyed.
            let Some(m) = next else { return Ok(out) };
            if let Some(source_prefix) = map_prefix(prefix, &m.to, &m.from) {
                let from_lower = match &cursor {
                    Bound::Included(k) if k.as_str() >= m.to.as_str() => {
                        Bound::Included(format!("{}{}", m.from, &k[m.to.len()..]))
                    }
                    Bound::Excluded(k) if k.as_str() >= m.to.as_str() => {
                        Bound::Excluded(format!("{}{}", m.from, &k[m.to.len()..]))
                    }
                    _ => Bound::Included(m.from.clone()),
                };
                let want = limit - out.len();
                let page = self.scan_view(store, i, bound_ref(&from_lower), &source_prefix, want)?;
                let full = page.len() == want;
                let mut left_subtree = false;
                for (k, r) in page {
                    if !in_subtree(&k, &m.from) {
                        left_subtree = true;
                        break;
                    }
                    out.push((format!("{}{}", m.to, &k[m.from.len()..]), r));
                }
                if full && !left_subtree {
                    return Ok(out);
                }
            }
            cursor = Bound::Included(subtree_end(&m.to));
        }
        Ok(out)
    }

    /// Writes (`Some`) or deletes (`None`) one key.
    pub(crate) fn set(&mut self, key: String, value: Option<NodeRecord>) {
        let prev = self.top().entries.insert(key.clone(), value);
        self.journal.push(Undo::Entry(Box::new((key, prev))));
    }

    /// Writes a node and keeps the [`Index`]es in step with it.
    pub(crate) fn put_node<S: Store + ?Sized>(
        &mut self,
        store: &S,
        key: String,
        rec: NodeRecord,
    ) -> Result<(), StoreError> {
        let old = self.get(store, &key)?;
        let was_permanent = old.as_ref().is_some_and(|r| r.scope == Scope::Permanent);
        match (rec.scope == Scope::Permanent, was_permanent) {
            (true, false) => self.set(Index::Permanent.key(&key), Some(NodeRecord::interior(""))),
            (false, true) => self.set(Index::Permanent.key(&key), None),
            _ => {}
        }
        let old_acl = old.as_ref().map(|r| &r.acl).filter(|a| !a.is_empty());
        if !rec.acl.is_empty() && old_acl != Some(&rec.acl) {
            let mut entry = NodeRecord::interior("");
            entry.acl = rec.acl.clone();
            self.set(Index::Acl.key(&key), Some(entry));
        } else if rec.acl.is_empty() && old_acl.is_some() {
            self.set(Index::Acl.key(&key), None);
        }
        self.set(key, Some(rec));
        Ok(())
    }

    /// Deletes a node, everything below it, and their [`Index`] entries.
    pub(crate) fn delete_node_subtree(&mut self, key: &str) {
        self.delete_subtree(key);
        self.delete_subtree(&Index::Permanent.key(key));
        self.delete_subtree(&Index::Acl.key(key));
    }

    /// Moves a node and everything below it (with their [`Index`] entries) to `to`, which must
    /// not exist: one new layer, whatever the size of the subtree.
    pub(crate) fn move_node_subtree(&mut self, from: &str, to: &str) {
        let moves = [None, Some(Index::Permanent), Some(Index::Acl)]
            .into_iter()
            .map(|index| match index {
                None => Move { from: from.to_string(), to: to.to_string() },
                Some(i) => Move { from: i.key(from), to: i.key(to) },
            })
            .collect();
        self.layers.push(Layer { moves, ..Layer::default() });
        self.journal.push(Undo::Layer);
    }

    /// Deletes `key` and everything below it.
    pub(crate) fn delete_subtree(&mut self, key: &str) {
        let top = self.top();
        let doomed: Vec<String> = top
            .entries
            .range::<str, _>((Bound::Included(key), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(key))
            .filter(|(k, _)| in_subtree(k, key))
            .map(|(k, _)| k.clone())
            .collect();
        let mut undo = Vec::with_capacity(doomed.len() + 1);
        for k in doomed {
            let prev = top.entries.remove(&k);
            undo.push(Undo::Entry(Box::new((k, prev))));
        }
        top.tombs.push(key.to_string());
        undo.push(Undo::Tomb);
        self.journal.extend(undo);
    }

    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint(self.journal.len())
    }

    /// Undoes every change made after the savepoint.
    pub(crate) fn rollback_to(&mut self, sp: Savepoint) {
        while self.journal.len() > sp.0 {
            match self.journal.pop() {
                Some(Undo::Entry(e)) => {
                    let (k, prev) = *e;
                    match prev {
                        Some(prev) => {
                            self.top().entries.insert(k, prev);
                        }
                        None => {
                            self.top().entries.remove(&k);
                        }
                    }
                }
                Some(Undo::Tomb) => {
                    self.top().tombs.pop();
                }
                Some(Undo::Layer) => {
                    self.layers.pop();
                }
                None => break,
            }
        }
    }

    /// The batch to commit: layer by layer, its moves, then its tombstones (later puts were kept
    /// out of them), then its entries.
    pub(crate) fn into_batch(self) -> Batch {
        let mut ops = Vec::new();
        for layer in self.layers {
            ops.extend(layer.moves.into_iter().map(|m| BatchOp::MoveSubtree { from: m.from, to: m.to }));
            ops.extend(layer.tombs.into_iter().map(BatchOp::DeleteSubtree));
            ops.extend(layer.entries.into_iter().map(|(k, v)| match v {
                Some(r) => BatchOp::Put(k, r),
                None => BatchOp::Delete(k),
            }));
        }
        Batch { ops }
    }

    /// True when a pending change touches `key` or its subtree.
    pub(crate) fn touches(&self, key: &str) -> bool {
        let related = |t: &str| in_subtree(key, t) || in_subtree(t, key);
        self.layers.iter().any(|l| {
            l.moves.iter().any(|m| related(&m.from) || related(&m.to))
                || l.tombs.iter().any(|t| related(t))
                || l.entries.keys().any(|k| in_subtree(k, key))
        })
    }
}

fn bound_ref(b: &Bound<String>) -> Bound<&str> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_str()),
        Bound::Excluded(k) => Bound::Excluded(k.as_str()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use omadm_proto::Format;

    fn rec(v: &str) -> NodeRecord {
        NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec())
    }

    fn keys(v: Vec<(String, NodeRecord)>) -> Vec<String> {
        v.into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn merged_scan_and_savepoints() {
        let mut store = MemStore::new();
        let ops =
            ["\0a", "\0a\0x", "\0a\0y", "\0b", "\0c"].iter().map(|k| BatchOp::Put(k.to_string(), rec(k))).collect();
        store.apply(Batch { ops }).unwrap();
        let mut o = Overlay::default();
        o.set("\0a\0w".into(), Some(rec("w")));
        let sp = o.savepoint();
        o.delete_subtree("\0a");
        o.set("\0a".into(), Some(rec("new a")));
        o.set("\0bb".into(), Some(rec("bb")));
        o.set("\0c".into(), None);
        for limit in [1, 2, 3, 100] {
            let mut all = Vec::new();
            let mut lower: Option<String> = None;
            loop {
                let b = match &lower {
                    Some(k) => Bound::Excluded(k.as_str()),
                    None => Bound::Unbounded,
                };
                let page = o.scan(&store, b, "", limit).unwrap();
                if page.is_empty() {
                    break;
                }
                lower = page.last().map(|(k, _)| k.clone());
                all.extend(keys(page));
            }
            assert_eq!(all, ["\0a", "\0b", "\0bb"], "limit {limit}");
        }
        assert_eq!(o.get(&store, "\0a\0x").unwrap(), None);
        o.rollback_to(sp);
        assert_eq!(
            keys(o.scan(&store, Bound::Unbounded, "", 100).unwrap()),
            ["\0a", "\0a\0w", "\0a\0x", "\0a\0y", "\0b", "\0c"]
        );
        o.set("\0a\0x".into(), None);
        let batch = o.into_batch();
        store.apply(batch).unwrap();
        assert_eq!(keys(store.scan(Bound::Unbounded, "", 100).unwrap()), ["\0a", "\0a\0w", "\0a\0y", "\0b", "\0c"]);
    }

    /// What an operation does to a plain map of the whole key space.
    fn model_apply(m: &mut BTreeMap<String, String>, op: &Op) {
        match op {
            Op::Set(k, v) => {
                m.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                m.remove(k);
            }
            Op::DeleteSubtree(k) => m.retain(|key, _| !in_subtree(key, k)),
            Op::Move(from, to) => {
                m.retain(|key, _| !in_subtree(key, to));
                let moved: Vec<(String, String)> =
                    m.iter().filter(|(k, _)| in_subtree(k, from)).map(|(k, v)| (k.clone(), v.clone())).collect();
                m.retain(|key, _| !in_subtree(key, from));
                for (k, v) in moved {
                    m.insert(format!("{to}{}", &k[from.len()..]), v);
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(String, String),
        Delete(String),
        DeleteSubtree(String),
        Move(String, String),
    }

    fn key_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..4)
            .prop_map(|segs| segs.iter().map(|s| format!("\0{s}")).collect())
    }

    fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (key_strategy(), 0u8..10).prop_map(|(k, v)| Op::Set(k, v.to_string())),
            1 => key_strategy().prop_map(Op::Delete),
            1 => key_strategy().prop_map(Op::DeleteSubtree),
            2 => (key_strategy(), key_strategy()).prop_map(|(a, b)| Op::Move(a, b)),
        ]
    }

    fn scan_all(o: &Overlay, store: &MemStore, prefix: &str, limit: usize) -> Vec<(String, String)> {
        let mut all = Vec::new();
        let mut lower: Option<String> = None;
        loop {
            let b = lower.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let page = o.scan(store, b, prefix, limit).unwrap();
            assert!(page.len() <= limit);
            let Some((last, _)) = page.last() else { break };
            lower = Some(last.clone());
            all.extend(page.into_iter().map(|(k, r)| (k, String::from_utf8(r.value).unwrap())));
        }
        all
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Random sets, deletes, subtree deletes and moves (a move between related subtrees
        /// excluded, as rename never makes one), some undone to a savepoint, read through the
        /// overlay (get and paged scans of every prefix) and committed to a store, always match a
        /// plain map.
        #[test]
        fn layered_moves_match_a_plain_map(
            base in proptest::collection::vec((key_strategy(), 0u8..10), 0..12),
            ops in proptest::collection::vec(op_strategy(), 1..25),
            undo_at in 0usize..25,
        ) {
            let mut store = MemStore::new();
            let mut model = BTreeMap::new();
            let puts = base.iter().map(|(k, v)| BatchOp::Put(k.clone(), rec(&v.to_string()))).collect();
            store.apply(Batch { ops: puts }).unwrap();
            for (k, v) in &base {
                model.insert(k.clone(), v.to_string());
            }
            let mut o = Overlay::default();
            let mut saved: Option<(Savepoint, BTreeMap<String, String>)> = None;
            for (n, op) in ops.iter().enumerate() {
                if n == undo_at {
                    saved = Some((o.savepoint(), model.clone()));
                }
                match op {
                    Op::Move(a, b) if in_subtree(a, b) || in_subtree(b, a) => continue,
                    Op::Set(k, v) => o.set(k.clone(), Some(rec(v))),
                    Op::Delete(k) => o.set(k.clone(), None),
                    Op::DeleteSubtree(k) => o.delete_subtree(k),
                    Op::Move(a, b) => {
                        o.layers.push(Layer { moves: vec![Move { from: a.clone(), to: b.clone() }], ..Layer::default() });
                        o.journal.push(Undo::Layer);
                    }
                }
                model_apply(&mut model, op);
            }
            if let Some((sp, m)) = saved {
                if undo_at % 2 == 0 {
                    o.rollback_to(sp);
                    model = m;
                }
            }
            let want: Vec<(String, String)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for limit in [1, 2, 5, 100] {
                proptest::prop_assert_eq!(&scan_all(&o, &store, "", limit), &want, "limit {}", limit);
            }
            for prefix in ["\0a\0", "\0b", "\0c\0d\0", "\0d\0a"] {
                let want_p: Vec<(String, String)> = want.iter().filter(|(k, _)| k.starts_with(prefix)).cloned().collect();
                proptest::prop_assert_eq!(&scan_all(&o, &store, prefix, 2), &want_p, "prefix {:?}", prefix);
            }
            for (k, _) in &base {
                let got = o.get(&store, k).unwrap().map(|r| String::from_utf8(r.value).unwrap());
                proptest::prop_assert_eq!(got.as_ref(), model.get(k));
            }
            store.apply(o.into_batch()).unwrap();
            proptest::prop_assert_eq!(scan_all(&Overlay::default(), &store, "", 100), want);
        }
    }
}
