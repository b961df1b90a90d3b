//! Property test: random operation sequences (in random transactions, some rolled back) keep the
//! tree equal to a simple reference model.

use std::collections::BTreeMap;

use omadm_tree::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    AddLeaf(Vec<u8>, u8),
    AddNode(Vec<u8>),
    Replace(Vec<u8>, u8),
    Delete(Vec<u8>),
    Rename(Vec<u8>, u8),
    Commit,
    Rollback,
}

const NAMES: [&str; 3] = ["a", "b", "c"];

fn path(p: &[u8]) -> String {
    let mut s = String::from(".");
    for i in p {
        s.push('/');
        s.push_str(NAMES[*i as usize % 3]);
    }
    s
}

fn op() -> impl Strategy<Value = Op> {
    let p = prop::collection::vec(0u8..3, 1..4);
    prop_oneof![
        3 => (p.clone(), any::<u8>()).prop_map(|(p, v)| Op::AddLeaf(p, v)),
        2 => p.clone().prop_map(Op::AddNode),
        2 => (p.clone(), any::<u8>()).prop_map(|(p, v)| Op::Replace(p, v)),
        2 => p.clone().prop_map(Op::Delete),
        1 => (p, 0u8..3).prop_map(|(p, n)| Op::Rename(p, n)),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
    ]
}

/// The reference: path → Some(value) for leaves, None for interior nodes.
type Model = BTreeMap<String, Option<String>>;

fn parent(p: &str) -> String {
    p.rsplit_once('/').map_or(".".to_string(), |(a, _)| a.to_string())
}

fn model_apply(m: &mut Model, op: &Op) -> bool {
    match op {
        Op::AddLeaf(p, _) | Op::AddNode(p) => {
            let key = path(p);
            if m.contains_key(&key) {
                return false;
            }
            // implicit parents: every missing ancestor becomes interior; an existing leaf blocks
            let mut anc = parent(&key);
            let mut missing = Vec::new();
            while anc != "." && !m.contains_key(&anc) {
                missing.push(anc.clone());
                anc = parent(&anc);
            }
            if anc != "." && m[&anc].is_some() {
                return false;
            }
            for a in missing {
                m.insert(a, None);
            }
            let value = match op {
                Op::AddLeaf(_, v) => Some(v.to_string()),
                _ => None,
            };
            m.insert(key, value);
            true
        }
        Op::Replace(p, v) => match m.get_mut(&path(p)) {
            Some(Some(old)) => {
                *old = v.to_string();
                true
            }
            _ => false,
        },
        Op::Delete(p) => {
            let key = path(p);
            if !m.contains_key(&key) {
                return false;
            }
            let sub = format!("{key}/");
            m.retain(|k, _| *k != key && !k.starts_with(&sub));
            true
        }
        Op::Rename(p, n) => {
            let key = path(p);
            let new = format!("{}/{}", parent(&key), NAMES[*n as usize]);
            if !m.contains_key(&key) {
                return false;
            }
            if new == key {
                return true;
            }
            if m.contains_key(&new) {
                return false;
            }
            let sub = format!("{key}/");
            let moved: Vec<(String, Option<String>)> = m
                .iter()
                .filter(|(k, _)| **k == key || k.starts_with(&sub))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            m.retain(|k, _| *k != key && !k.starts_with(&sub));
            for (k, v) in moved {
                m.insert(format!("{new}{}", &k[key.len()..]), v);
            }
            true
        }
        _ => true,
    }
}

fn tree_apply(tx: &mut Txn<'_, MemStore>, op: &Op) -> bool {
    let dev = Caller::device();
    let t = |p: &[u8]| TargetUri::parse(&path(p)).unwrap();
    let r = match op {
        Op::AddLeaf(p, v) => tx.add(&dev, &t(p), Content::chr(v.to_string())),
        Op::AddNode(p) => tx.add(&dev, &t(p), Content::interior(None)),
        Op::Replace(p, v) => tx.replace(&dev, &t(p), Content::chr(v.to_string())),
        Op::Delete(p) => tx.delete(&dev, &t(p)),
        Op::Rename(p, n) => tx.replace(
            &dev,
            &TargetUri::parse(&format!("{}?prop=Name", path(p))).unwrap(),
            Content::chr(NAMES[*n as usize]),
        ),
        Op::Commit | Op::Rollback => Ok(omadm_proto::StatusCode::Ok),
    };
    r.is_ok()
}

fn snapshot(tx: &Txn<'_, MemStore>) -> Model {
    let GetResult::List(items) = tx.get(&Caller::device(), &TargetUri::parse(".?list=StructData").unwrap()).unwrap()
    else {
        panic!()
    };
    items
        .map(Result::unwrap)
        .filter(|n| !n.uri.is_root())
        .map(|n| {
            let v = (!n.record.is_interior()).then(|| String::from_utf8(n.record.value).unwrap());
            (n.uri.to_string(), v)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_operations_match_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
        let mut committed = Model::new();
        let mut working = committed.clone();
        let mut tx = tree.begin();
        for op in &ops {
            match op {
                Op::Commit => {
                    tx.commit().unwrap();
                    committed = working.clone();
                    tx = tree.begin();
                }
                Op::Rollback => {
                    tx.rollback();
                    working = committed.clone();
                    tx = tree.begin();
                }
                _ => {
                    let want = model_apply(&mut working, op);
                    let got = tree_apply(&mut tx, op);
                    prop_assert_eq!(got, want, "{:?}", op);
                    prop_assert_eq!(snapshot(&tx), working.clone());
                }
            }
        }
        tx.commit().unwrap();
        let tx = tree.begin();
        prop_assert_eq!(snapshot(&tx), working);
    }
}
