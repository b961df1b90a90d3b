//! The durable device store on redb (see `docs/tree-store.md`): one table, key = node key,
//! value = encoded [`NodeRecord`]; every [`Batch`] is one redb write transaction committed with
//! immediate durability, so an acknowledged change survives a crash and a crash never leaves a
//! half-applied transaction.

use std::ops::Bound;
use std::path::Path;

use redb::{Database, Durability, ReadableTable, TableDefinition};

use crate::error::StoreError;
use crate::record::NodeRecord;
use crate::store::{moved_key, subtree_end, Batch, BatchOp, Store};

const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");

/// A crash-safe node store in one redb file.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens the database file at `path`, creating it if absent. A new file is made whole under
    /// a temporary name and then renamed into place, so a crash while creating it leaves no
    /// half-written database behind (a file redb could not open again).
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        let path = path.as_ref();
        if !path.exists() {
            create_whole(path)?;
        }
        let db = Database::create(path).map_err(StoreError::from_display)?;
        Ok(RedbStore { db })
    }
}

/// Removes the subtree at `key` (one range).
fn delete_subtree(table: &mut redb::Table<'_, &str, &[u8]>, key: &str) -> Result<(), StoreError> {
    let end = subtree_end(key);
    table
        .retain_in::<&str, _>((Bound::Included(key), Bound::Excluded(end.as_str())), |_, _| false)
        .map_err(StoreError::from_display)
}

/// Records re-keyed per step of a subtree move: bounds the memory a move of any size takes.
const MOVE_STEP: usize = 1024;

/// Re-keys the subtree at `from` to `to`, copying the encoded records as they are.
fn move_subtree(table: &mut redb::Table<'_, &str, &[u8]>, from: &str, to: &str) -> Result<(), StoreError> {
    let end = subtree_end(from);
    loop {
        let step: Vec<(String, Vec<u8>)> = table
            .range::<&str>((Bound::Included(from), Bound::Excluded(end.as_str())))
            .map_err(StoreError::from_display)?
            .take(MOVE_STEP)
            .map(|e| e.map(|(k, v)| (k.value().to_string(), v.value().to_vec())))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from_display)?;
        if step.is_empty() {
            return Ok(());
        }
        for (key, bytes) in step {
            table.remove(key.as_str()).map_err(StoreError::from_display)?;
            table.insert(moved_key(&key, from, to).as_str(), bytes.as_slice()).map_err(StoreError::from_display)?;
        }
    }
}

/// Creates an initialized database at `path` through a temporary file and a rename.
fn create_whole(path: &Path) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".creating");
    let tmp = std::path::PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::from_display(e)),
        _ => {}
    }
    {
        let db = Database::create(&tmp).map_err(StoreError::from_display)?;
        let mut tx = db.begin_write().map_err(StoreError::from_display)?;
        tx.set_durability(Durability::Immediate);
        tx.open_table(NODES).map_err(StoreError::from_display)?;
        tx.commit().map_err(StoreError::from_display)?;
    }
    std::fs::rename(&tmp, path).map_err(StoreError::from_display)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::from_display)?;
    }
    Ok(())
}

impl Store for RedbStore {
    fn get(&self, key: &str) -> Result<Option<NodeRecord>, StoreError> {
        let tx = self.db.begin_read().map_err(StoreError::from_display)?;
        let table = tx.open_table(NODES).map_err(StoreError::from_display)?;
        match table.get(key).map_err(StoreError::from_display)? {
            Some(v) => Ok(Some(NodeRecord::decode(v.value())?)),
            None => Ok(None),
        }
    }

    fn scan(&self, lower: Bound<&str>, prefix: &str, limit: usize) -> Result<Vec<(String, NodeRecord)>, StoreError> {
        let tx = self.db.begin_read().map_err(StoreError::from_display)?;
        let table = tx.open_table(NODES).map_err(StoreError::from_display)?;
        let lower = match lower {
            Bound::Unbounded => Bound::Included(prefix),
            b => b,
        };
        let range = table.range::<&str>((lower, Bound::Unbounded)).map_err(StoreError::from_display)?;
        let mut out = Vec::new();
        for entry in range {
            let (k, v) = entry.map_err(StoreError::from_display)?;
            let key = k.value();
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((key.to_string(), NodeRecord::decode(v.value())?));
        }
        Ok(out)
    }

    fn apply(&mut self, batch: Batch) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().map_err(StoreError::from_display)?;
        tx.set_durability(Durability::Immediate);
        {
            let mut table = tx.open_table(NODES).map_err(StoreError::from_display)?;
            for op in &batch.ops {
                match op {
                    BatchOp::Put(k, r) => {
                        table.insert(k.as_str(), r.encode().as_slice()).map_err(StoreError::from_display)?;
                    }
                    BatchOp::Delete(k) => {
                        table.remove(k.as_str()).map_err(StoreError::from_display)?;
                    }
                    BatchOp::DeleteSubtree(k) => delete_subtree(&mut table, k)?,
                    BatchOp::MoveSubtree { from, to } => {
                        delete_subtree(&mut table, to)?;
                        move_subtree(&mut table, from, to)?;
                    }
                }
            }
        }
        tx.commit().map_err(StoreError::from_display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omadm_proto::Format;

    #[test]
    fn stores_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tree.redb");
        {
            let mut s = RedbStore::open(&path).unwrap();
            let rec = |v: &str| NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec());
            let ops =
                ["\0a", "\0a\0b", "\0a\0b\0c", "\0a-x"].iter().map(|k| BatchOp::Put(k.to_string(), rec(k))).collect();
            s.apply(Batch { ops }).unwrap();
            s.apply(Batch { ops: vec![BatchOp::DeleteSubtree("\0a\0b".into()), BatchOp::Delete("\0a-x".into())] })
                .unwrap();
        }
        let mut s = RedbStore::open(&path).unwrap();
        let keys: Vec<String> = s.scan(Bound::Unbounded, "", 10).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["\0a"]);
        assert_eq!(s.get("\0a").unwrap().unwrap().value, b"\0a");
        // A move re-keys a subtree larger than one move step and replaces what the target held.
        let rec = |v: &str| NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec());
        let mut ops: Vec<BatchOp> =
            (0..2500).map(|i| BatchOp::Put(format!("\0m\0n{i:04}"), rec(&i.to_string()))).collect();
        ops.push(BatchOp::Put("\0m".into(), rec("m")));
        ops.push(BatchOp::Put("\0t\0old".into(), rec("old")));
        s.apply(Batch { ops }).unwrap();
        s.apply(Batch { ops: vec![BatchOp::MoveSubtree { from: "\0m".into(), to: "\0t".into() }] }).unwrap();
        let all = s.scan(Bound::Unbounded, "", 5000).unwrap();
        assert_eq!(all.len(), 1 + 1 + 2500);
        assert!(all.iter().all(|(k, _)| k == "\0a" || k.starts_with("\0t")));
        assert_eq!(s.get("\0t\0n2499").unwrap().unwrap().value, b"2499");
        assert_eq!(s.get("\0t").unwrap().unwrap().value, b"m");
        assert!(s.get("\0t\0old").unwrap().is_none());
    }
}
