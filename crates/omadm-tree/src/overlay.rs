//! The write buffer of a transaction: changes are kept here, read through, and handed to the
//! store as one [`Batch`] on commit (DM Protocol 1.2 §6.6.6 Atomic: all or nothing). An undo
//! journal gives cheap savepoints so that one failed command inside an Atomic leaves no trace
//! before the whole Atomic is rolled back.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::StoreError;
use crate::record::NodeRecord;
use crate::record::Scope;
use crate::store::{in_subtree, Batch, BatchOp, Index, Store};

enum Undo {
    /// The overlay entry for this key before the change (`None` = there was none).
    Entry(String, Option<Option<NodeRecord>>),
    /// A subtree tombstone was pushed.
    Tomb,
}

/// Pending changes over a store: puts (`Some`), single deletes (`None`) and subtree tombstones.
#[derive(Default)]
pub(crate) struct Overlay {
    entries: BTreeMap<String, Option<NodeRecord>>,
    tombs: Vec<String>,
    journal: Vec<Undo>,
}

/// A position in the journal to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Savepoint(usize);

impl Overlay {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.tombs.is_empty()
    }

    fn tombstoned(&self, key: &str) -> bool {
        self.tombs.iter().any(|t| in_subtree(key, t))
    }

    /// Reads `key` through the overlay.
    pub(crate) fn get<S: Store + ?Sized>(&self, store: &S, key: &str) -> Result<Option<NodeRecord>, StoreError> {
        if let Some(e) = self.entries.get(key) {
            return Ok(e.clone());
        }
        if self.tombstoned(key) {
            return Ok(None);
        }
        store.get(key)
    }

    /// Scans through the overlay: the store's entries, minus deleted ones, plus pending puts.
    pub(crate) fn scan<S: Store + ?Sized>(
        &self,
        store: &S,
        lower: Bound<&str>,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, NodeRecord)>, StoreError> {
        let limit = limit.max(1);
        let mut out: Vec<(String, NodeRecord)> = Vec::new();
        let mut cursor: Bound<String> = match lower {
            Bound::Included(k) => Bound::Included(k.to_string()),
            Bound::Excluded(k) => Bound::Excluded(k.to_string()),
            Bound::Unbounded => Bound::Included(prefix.to_string()),
        };
        loop {
            let base = store.scan(bound_ref(&cursor), prefix, limit)?;
            let exhausted = base.len() < limit;
            let upper: Bound<String> = match (exhausted, base.last()) {
                (false, Some((k, _))) => Bound::Included(k.clone()),
                _ => Bound::Unbounded,
            };
            let pending = self
                .entries
                .range::<String, _>((cursor.clone(), upper.clone()))
                .take_while(|(k, _)| k.starts_with(prefix));
            let mut merged: BTreeMap<&str, &NodeRecord> = BTreeMap::new();
            for (k, v) in &base {
                if !self.entries.contains_key(k) && !self.tombstoned(k) {
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

    /// Writes (`Some`) or deletes (`None`) one key.
    pub(crate) fn set(&mut self, key: String, value: Option<NodeRecord>) {
        let prev = self.entries.insert(key.clone(), value);
        self.journal.push(Undo::Entry(key, prev));
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

    /// Deletes `key` and everything below it.
    pub(crate) fn delete_subtree(&mut self, key: &str) {
        let doomed: Vec<String> = self
            .entries
            .range::<str, _>((Bound::Included(key), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(key))
            .filter(|(k, _)| in_subtree(k, key))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            let prev = self.entries.remove(&k);
            self.journal.push(Undo::Entry(k, prev));
        }
        self.tombs.push(key.to_string());
        self.journal.push(Undo::Tomb);
    }

    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint(self.journal.len())
    }

    /// Undoes every change made after the savepoint.
    pub(crate) fn rollback_to(&mut self, sp: Savepoint) {
        while self.journal.len() > sp.0 {
            match self.journal.pop() {
                Some(Undo::Entry(k, Some(prev))) => {
                    self.entries.insert(k, prev);
                }
                Some(Undo::Entry(k, None)) => {
                    self.entries.remove(&k);
                }
                Some(Undo::Tomb) => {
                    self.tombs.pop();
                }
                None => break,
            }
        }
    }

    /// The batch to commit: tombstones first (later puts were kept out of them), then entries.
    pub(crate) fn into_batch(self) -> Batch {
        let mut ops: Vec<BatchOp> = self.tombs.into_iter().map(BatchOp::DeleteSubtree).collect();
        ops.extend(self.entries.into_iter().map(|(k, v)| match v {
            Some(r) => BatchOp::Put(k, r),
            None => BatchOp::Delete(k),
        }));
        Batch { ops }
    }

    /// True when a pending change touches `key` or its subtree.
    pub(crate) fn touches(&self, key: &str) -> bool {
        self.tombs.iter().any(|t| in_subtree(key, t) || in_subtree(t, key))
            || self.entries.keys().any(|k| in_subtree(k, key))
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
}
