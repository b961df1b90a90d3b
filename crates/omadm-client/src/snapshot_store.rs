//! A small durable store for devices: the whole tree in memory (a [`MemStore`]), written to one
//! file as a snapshot after every committed batch (temporary file, fsync, rename), so a crash
//! leaves either the old or the new tree, never half of one.
//!
//! It suits the trees devices keep (a few hundred nodes) at a fraction of a database's memory;
//! `omadm_tree::RedbStore` remains the store for large trees. File layout: the magic
//! `OMADMSNAP1`, then per node `u32 key length, key, u32 record length, record` (big-endian, the
//! record in `NodeRecord::encode` form), then a `u32` count of the nodes.

use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use omadm_tree::store::Batch;
use omadm_tree::{MemStore, NodeRecord, Store, StoreError};

const MAGIC: &[u8] = b"OMADMSNAP1";

/// A [`Store`] kept in memory and saved whole to a file on every commit.
#[derive(Debug)]
pub struct SnapshotStore {
    path: PathBuf,
    nodes: MemStore,
}

fn corrupt(path: &Path, what: &str) -> StoreError {
    StoreError(format!("{}: not a valid tree snapshot ({what})", path.display()))
}

impl SnapshotStore {
    /// Opens the snapshot at `path`, or starts an empty tree when the file does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<SnapshotStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut nodes = MemStore::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let ops = decode(&bytes).ok_or_else(|| corrupt(&path, "truncated or damaged"))?;
                nodes.apply(Batch { ops })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError(format!("{}: {e}", path.display()))),
        }
        Ok(SnapshotStore { path, nodes })
    }

    fn save(&self, nodes: &MemStore) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError(format!("{}: {e}", self.path.display()));
        let mut out = MAGIC.to_vec();
        let mut count = 0u32;
        let mut lower: Option<String> = None;
        loop {
            let bound = lower.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let page = nodes.scan(bound, "", 256)?;
            for (k, r) in &page {
                let rec = r.encode();
                out.extend_from_slice(&(k.len() as u32).to_be_bytes());
                out.extend_from_slice(k.as_bytes());
                out.extend_from_slice(&(rec.len() as u32).to_be_bytes());
                out.extend_from_slice(&rec);
                count += 1;
            }
            match page.last() {
                Some((k, _)) if page.len() == 256 => lower = Some(k.clone()),
                _ => break,
            }
        }
        out.extend_from_slice(&count.to_be_bytes());
        let tmp = self.path.with_extension("snap-tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&out).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> Option<Vec<omadm_tree::store::BatchOp>> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let (body, count) = rest.split_at(rest.len().checked_sub(4)?);
    let count = u32::from_be_bytes(count.try_into().ok()?) as usize;
    rest = body;
    let mut take = |n: usize| -> Option<&[u8]> {
        if rest.len() < n {
            return None;
        }
        let (a, b) = rest.split_at(n);
        rest = b;
        Some(a)
    };
    let mut ops = Vec::new();
    while ops.len() < count {
        let klen = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let key = String::from_utf8(take(klen)?.to_vec()).ok()?;
        let rlen = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let rec = NodeRecord::decode(take(rlen)?).ok()?;
        ops.push(omadm_tree::store::BatchOp::Put(key, rec));
    }
    (rest.is_empty()).then_some(ops)
}

impl Store for SnapshotStore {
    fn get(&self, key: &str) -> Result<Option<NodeRecord>, StoreError> {
        self.nodes.get(key)
    }

    fn scan(&self, lower: Bound<&str>, prefix: &str, limit: usize) -> Result<Vec<(String, NodeRecord)>, StoreError> {
        self.nodes.scan(lower, prefix, limit)
    }

    /// Applies the batch to a copy, saves the copy, and only then makes it current: a failed
    /// save leaves memory and file as they were.
    fn apply(&mut self, batch: Batch) -> Result<(), StoreError> {
        let mut next = self.nodes.clone();
        next.apply(batch)?;
        self.save(&next)?;
        self.nodes = next;
        Ok(())
    }
}
