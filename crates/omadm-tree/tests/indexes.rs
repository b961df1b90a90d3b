//! Delete and remove_server look up permanent nodes and ACLs in indexes kept beside the nodes
//! instead of walking subtrees: these tests show the indexes follow every change (Add, ACL
//! Replace, rename, Delete, rollback, Atomic) and that a store written without them is indexed
//! when opened.

use omadm_proto::Format;
use omadm_tree::*;

fn t(s: &str) -> TargetUri {
    TargetUri::parse(s).unwrap()
}
fn u(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}
fn sid(s: &str) -> ServerId {
    ServerId::new(s).unwrap()
}
fn code<T>(r: TreeResult<T>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().code(),
    }
}
fn permanent_leaf() -> NodeRecord {
    let mut r = NodeRecord::leaf(Format::Chr, "text/plain", b"fixed".to_vec());
    r.scope = Scope::Permanent;
    r
}

#[test]
fn permanent_nodes_below_block_delete_wherever_they_move() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let dev = Caller::device();
    tree.run(|tx| {
        tx.add(&dev, &t("./A/B/C/Free"), Content::chr("x"))?;
        tx.put_node(&u("./A/B/C/Fixed"), permanent_leaf())
    })
    .unwrap();
    let mut tx = tree.begin();
    assert_eq!(code(tx.delete(&dev, &t("./A"))), 405);
    assert_eq!(code(tx.delete(&dev, &t("./A/B/C"))), 405);
    assert_eq!(code(tx.delete(&dev, &t("./A/B/C/Free"))), 200);
    // Renamed, the permanent node still blocks a Delete of its new ancestors; not the old name.
    tx.replace(&dev, &t("./A/B?prop=Name"), Content::chr("R")).unwrap();
    assert_eq!(code(tx.delete(&dev, &t("./A/R"))), 405);
    assert_eq!(code(tx.delete(&dev, &t("./A/B"))), 404);
    tx.commit().unwrap();
    assert_eq!(code(tree.run(|tx| tx.delete(&dev, &t("./A")))), 405);
    // A sibling subtree without permanent nodes deletes, and a permanent node added inside the
    // same transaction blocks at once.
    let mut tx = tree.begin();
    tx.add(&dev, &t("./A/S/T"), Content::chr("y")).unwrap();
    tx.put_node(&u("./A/S/P"), permanent_leaf()).unwrap();
    assert_eq!(code(tx.delete(&dev, &t("./A/S"))), 405);
    tx.rollback();
    tree.run(|tx| tx.add(&dev, &t("./A/S/T"), Content::chr("y"))).unwrap();
    assert_eq!(code(tree.run(|tx| tx.delete(&dev, &t("./A/S")))), 200);
    // A permanent node turned dynamic (device code rewriting it) no longer blocks.
    let mut dynamic = permanent_leaf();
    dynamic.scope = Scope::Dynamic;
    tree.run(|tx| tx.put_node(&u("./A/R/C/Fixed"), dynamic)).unwrap();
    assert_eq!(code(tree.run(|tx| tx.delete(&dev, &t("./A")))), 200);
    assert!(tree.begin().node(&u("./A")).unwrap().is_none());
}

#[test]
fn remove_server_finds_acls_wherever_they_went() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let dev = Caller::device();
    let acl = |tx: &mut Txn<'_, MemStore>, node: &str, acl: &str| {
        tx.replace(&dev, &t(&format!("{node}?prop=ACL")), Content::chr(acl)).map(|_| ())
    };
    tree.run(|tx| {
        for n in ["./M/a", "./M/b/c", "./M/d", "./N"] {
            tx.add(&dev, &t(n), Content::interior(None))?;
        }
        acl(tx, "./M/a", "Get=gone+kept")?;
        acl(tx, "./M/b/c", "Replace=gone")?;
        acl(tx, "./M/d", "Get=gone")?;
        acl(tx, "./N", "Get=kept")
    })
    .unwrap();
    let mut tx = tree.begin();
    // Moved, replaced without the server, deleted: only what still names it counts.
    tx.replace(&dev, &t("./M/b?prop=Name"), Content::chr("moved")).unwrap();
    acl(&mut tx, "./M/d", "Get=kept").unwrap();
    tx.add(&dev, &t("./M/e"), Content::interior(None)).unwrap();
    acl(&mut tx, "./M/e", "Delete=gone").unwrap();
    tx.delete(&dev, &t("./M/e")).unwrap();
    assert_eq!(tx.remove_server(&sid("gone")).unwrap(), 2);
    assert_eq!(tx.node(&u("./M/a")).unwrap().unwrap().acl.to_string(), "Get=kept");
    assert!(tx.node(&u("./M/moved/c")).unwrap().unwrap().acl.is_empty());
    assert_eq!(tx.remove_server(&sid("gone")).unwrap(), 0, "nothing left to remove");
    tx.rollback();
    // The rollback restored the ACLs, and the index with them.
    assert_eq!(tree.run(|tx| tx.remove_server(&sid("gone"))).unwrap(), 3);
    assert_eq!(tree.run(|tx| tx.remove_server(&sid("kept"))).unwrap(), 2, "./M/a and ./N");
}

#[test]
fn a_store_written_without_indexes_is_indexed_when_opened() {
    // Nodes as a store written before the indexes existed holds them: no index entries.
    let mut store = MemStore::new();
    let mut root = NodeRecord::interior("");
    root.acl = Acl::default_root();
    root.scope = Scope::Permanent;
    let mut with_acl = NodeRecord::interior("");
    with_acl.acl = Acl::parse("Get=old").unwrap();
    let ops = vec![
        BatchOp::Put(String::new(), root),
        BatchOp::Put(u("./Old").key(), with_acl),
        BatchOp::Put(u("./Old/Fixed").key(), permanent_leaf()),
    ];
    store.apply(Batch { ops }).unwrap();
    let mut tree = Tree::open(store, TreeConfig::default()).unwrap();
    let dev = Caller::device();
    assert_eq!(code(tree.run(|tx| tx.delete(&dev, &t("./Old")))), 405);
    assert_eq!(tree.run(|tx| tx.remove_server(&sid("old"))).unwrap(), 1);
}

/// A rename in the redb store: the subtree, its ACLs and its permanent nodes are found under the
/// new name after reopening, and nothing is left under the old one.
#[test]
fn a_renamed_subtree_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree.redb");
    let dev = Caller::device();
    {
        let mut tree = Tree::open(RedbStore::open(&path).unwrap(), TreeConfig::default()).unwrap();
        tree.run(|tx| {
            for i in 0..300 {
                tx.add(&dev, &t(&format!("./Acc/old/n{i}")), Content::chr(i.to_string()))?;
            }
            tx.put_node(&u("./Acc/old/Fixed"), permanent_leaf())?;
            tx.replace(&dev, &t("./Acc/old/n7?prop=ACL"), Content::chr("Get=gone"))
        })
        .unwrap();
        let mut tx = tree.begin();
        tx.replace(&dev, &t("./Acc/old?prop=Name"), Content::chr("new")).unwrap();
        // Read back within the transaction, before the store has seen the move.
        assert_eq!(tx.children(&u("./Acc")).unwrap(), ["new"]);
        assert_eq!(tx.children(&u("./Acc/new")).unwrap().len(), 301);
        tx.add(&dev, &t("./Acc/new/added"), Content::chr("a")).unwrap();
        tx.commit().unwrap();
    }
    let mut tree = Tree::open(RedbStore::open(&path).unwrap(), TreeConfig::default()).unwrap();
    let tx = tree.begin();
    assert_eq!(tx.node(&u("./Acc/new/n299")).unwrap().unwrap().value, b"299");
    assert_eq!(tx.node(&u("./Acc/new/added")).unwrap().unwrap().value, b"a");
    assert!(tx.node(&u("./Acc/old")).unwrap().is_none());
    let GetResult::List(items) = tx.get(&dev, &t("./Acc?list=Struct")).unwrap() else { panic!() };
    assert_eq!(items.count(), 1 + 1 + 300 + 1 + 1);
    drop(tx);
    assert_eq!(code(tree.run(|tx| tx.delete(&dev, &t("./Acc/new")))), 405);
    assert_eq!(tree.run(|tx| tx.remove_server(&sid("gone"))).unwrap(), 1);
}
