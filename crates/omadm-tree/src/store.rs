//! The storage seam: the engine keeps nodes in any ordered key–value store behind [`Store`].
//!
//! Keys are opaque strings compared bytewise; the engine builds them so that key order is
//! depth-first pre-order and a subtree is one contiguous range (see [`crate::Uri`]). A backend
//! only has to get, scan a range in order, and apply a [`Batch`] atomically and durably. Two
//! backends ship: [`MemStore`] here and [`crate::RedbStore`].

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::StoreError;
use crate::record::NodeRecord;

/// One change in a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Insert or overwrite a node.
    Put(String, NodeRecord),
    /// Remove one node.
    Delete(String),
    /// Remove a node and every key below it (`key` followed by a NUL byte and anything).
    DeleteSubtree(String),
    /// Re-key the subtree at `from` (the key and every key below it) to `to`, replacing whatever
    /// the subtree at `to` held, leaving nothing at `from`: a rename (TND 1.2 §7.7.5), done by
    /// the store without the records passing through the engine.
    MoveSubtree {
        /// The subtree's root key now.
        from: String,
        /// Its root key afterwards.
        to: String,
    },
}

/// The key `key` of the subtree at `from` gets when the subtree moves to `to`.
pub(crate) fn moved_key(key: &str, from: &str, to: &str) -> String {
    format!("{to}{}", &key[from.len().min(key.len())..])
}

/// The changes of one committed transaction, applied in order, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The changes, in order.
    pub ops: Vec<BatchOp>,
}

/// An ordered, transactional node store.
pub trait Store {
    /// The node stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<NodeRecord>, StoreError>;

    /// Calls `f` with the node stored under `key`, if any, and says whether there was one. The
    /// default reads it with [`Store::get`]; a store that holds its records in memory lends them
    /// instead of copying one out for a caller that only looks at a part of it (an ACL check).
    fn visit(&self, key: &str, f: &mut dyn FnMut(&NodeRecord)) -> Result<bool, StoreError> {
        Ok(match self.get(key)? {
            Some(r) => {
                f(&r);
                true
            }
            None => false,
        })
    }

    /// Up to `limit` nodes whose keys start with `prefix` and lie above `lower`, in key order.
    fn scan(&self, lower: Bound<&str>, prefix: &str, limit: usize) -> Result<Vec<(String, NodeRecord)>, StoreError>;

    /// The first key starting with `prefix` above `lower`, if any: [`Store::scan`] of one entry
    /// without its record (listing a node's children needs only names). The default scans.
    fn next_key(&self, lower: Bound<&str>, prefix: &str) -> Result<Option<String>, StoreError> {
        Ok(self.scan(lower, prefix, 1)?.pop().map(|(k, _)| k))
    }

    /// Applies a batch atomically; when it returns `Ok` the change must survive a crash.
    fn apply(&mut self, batch: Batch) -> Result<(), StoreError>;
}

/// Secondary key spaces, kept beside the nodes in the same store and written in the same
/// transactions, so that the commands that would otherwise read a whole subtree or the whole
/// tree look up only what they need. Node keys are empty (the root) or start with NUL, so a key
/// starting with one of these markers is never a node, and `marker + node key` keeps the node
/// order: a subtree of the index is one contiguous range, like the subtree of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Index {
    /// Nodes with Scope permanent: Delete checks a subtree for them with one lookup.
    Permanent,
    /// Nodes with an ACL of their own, the ACL in the entry: remove_server visits only these.
    Acl,
}

impl Index {
    fn marker(self) -> char {
        match self {
            Index::Permanent => '\u{2}',
            Index::Acl => '\u{3}',
        }
    }

    /// The index key of a node.
    pub(crate) fn key(self, node_key: &str) -> String {
        let mut k = String::with_capacity(node_key.len() + 1);
        k.push(self.marker());
        k.push_str(node_key);
        k
    }

    /// The node key of an index key of this index.
    pub(crate) fn node_key(self, index_key: &str) -> Option<&str> {
        index_key.strip_prefix(self.marker())
    }
}

/// Present once the indexes cover every node; absent in stores written before they existed,
/// which are indexed when opened.
pub(crate) const INDEX_VERSION_KEY: &str = "\u{4}index-version-1";

/// The key range just above every key of the subtree rooted at `key` (its NUL-separated
/// descendants): `key` + `\u{1}` sorts after `key\0...` and before any sibling.
pub(crate) fn subtree_end(key: &str) -> String {
    let mut k = String::with_capacity(key.len() + 1);
    k.push_str(key);
    k.push('\u{1}');
    k
}

/// The prefix shared by every descendant of `key`.
pub(crate) fn descendant_prefix(key: &str) -> String {
    let mut k = String::with_capacity(key.len() + 1);
    k.push_str(key);
    k.push('\0');
    k
}

/// True when `key` is `root` or below it.
pub(crate) fn in_subtree(key: &str, root: &str) -> bool {
    key.strip_prefix(root).is_some_and(|rest| rest.is_empty() || rest.starts_with('\0'))
}

/// A volatile store in a `BTreeMap`: for tests, servers' scratch trees and devices without flash.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    map: BTreeMap<String, NodeRecord>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl MemStore {
    /// Removes and returns the subtree at `key`.
    fn take_subtree(&mut self, key: &str) -> Vec<(String, NodeRecord)> {
        let doomed: Vec<String> = self
            .map
            .range::<str, _>((Bound::Included(key), Bound::Excluded(subtree_end(key).as_str())))
            .map(|(k, _)| k.clone())
            .collect();
        doomed.into_iter().filter_map(|k| self.map.remove(&k).map(|r| (k, r))).collect()
    }

    /// The entries from `lower`, or from `prefix` when unbounded, in key order (to the end of the
    /// map: callers stop at the first key outside `prefix`).
    fn entries_from<'a>(
        &'a self,
        lower: Bound<&'a str>,
        prefix: &'a str,
    ) -> std::collections::btree_map::Range<'a, String, NodeRecord> {
        let lower = match lower {
            Bound::Unbounded => Bound::Included(prefix),
            b => b,
        };
        self.map.range::<str, _>((lower, Bound::Unbounded))
    }
}

impl Store for MemStore {
    fn get(&self, key: &str) -> Result<Option<NodeRecord>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn visit(&self, key: &str, f: &mut dyn FnMut(&NodeRecord)) -> Result<bool, StoreError> {
        Ok(self.map.get(key).map(f).is_some())
    }

    fn scan(&self, lower: Bound<&str>, prefix: &str, limit: usize) -> Result<Vec<(String, NodeRecord)>, StoreError> {
        Ok(self
            .entries_from(lower, prefix)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn next_key(&self, lower: Bound<&str>, prefix: &str) -> Result<Option<String>, StoreError> {
        Ok(self.entries_from(lower, prefix).next().filter(|(k, _)| k.starts_with(prefix)).map(|(k, _)| k.clone()))
    }

    fn apply(&mut self, batch: Batch) -> Result<(), StoreError> {
        for op in batch.ops {
            match op {
                BatchOp::Put(k, v) => {
                    self.map.insert(k, v);
                }
                BatchOp::Delete(k) => {
                    self.map.remove(&k);
                }
                BatchOp::DeleteSubtree(k) => {
                    self.take_subtree(&k);
                }
                BatchOp::MoveSubtree { from, to } => {
                    self.take_subtree(&to);
                    for (key, rec) in self.take_subtree(&from) {
                        self.map.insert(moved_key(&key, &from, &to), rec);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omadm_proto::Format;

    fn rec(v: &str) -> NodeRecord {
        NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec())
    }

    #[test]
    fn subtree_ranges() {
        let mut s = MemStore::new();
        let ops = ["", "\0a", "\0a\0b", "\0a\0b\0c", "\0a-x", "\0b"]
            .iter()
            .map(|k| BatchOp::Put(k.to_string(), rec(k)))
            .collect();
        s.apply(Batch { ops }).unwrap();
        let got: Vec<String> = s.scan(Bound::Unbounded, "\0a\0", 10).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, ["\0a\0b", "\0a\0b\0c"]);
        s.apply(Batch { ops: vec![BatchOp::DeleteSubtree("\0a".into())] }).unwrap();
        let left: Vec<String> = s.scan(Bound::Unbounded, "", 10).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(left, ["", "\0a-x", "\0b"]);
        assert!(in_subtree("\0a\0b", "\0a") && in_subtree("\0a", "\0a") && !in_subtree("\0ab", "\0a"));
    }
}
