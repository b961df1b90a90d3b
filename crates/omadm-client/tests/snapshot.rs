//! The snapshot store: a device tree survives a restart, and a damaged file is an error.

mod common;

use common::*;
use omadm_client::snapshot_store::SnapshotStore;
use omadm_client::Account;
use omadm_security::AuthScheme;
use omadm_tree::objects::{install, standard_config};
use omadm_tree::{Tree, Uri};

#[test]
fn a_device_tree_survives_a_restart_and_damage_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.snap");
    {
        let mut tree = Tree::open(SnapshotStore::open(&path).unwrap(), standard_config()).unwrap();
        install(&mut tree, &description(DEV_ID)).unwrap();
        let mut acc = account(AuthScheme::Md5, None);
        acc.install(&mut tree, "omadm").unwrap();
    }
    let mut tree = Tree::open(SnapshotStore::open(&path).unwrap(), standard_config()).unwrap();
    let devid = tree.begin().node(&Uri::parse("./DevInfo/DevId").unwrap()).unwrap().unwrap();
    assert_eq!(devid.value, DEV_ID.as_bytes());
    let acc = Account::load(&mut tree, "omadm").unwrap();
    assert_eq!(acc.server_uri, SERVER_URL);
    drop(tree);

    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 5, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert!(SnapshotStore::open(&path).is_err(), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    flipped[12] ^= 0xFF;
    std::fs::write(&path, &flipped).unwrap();
    let _ = SnapshotStore::open(&path); // damaged content: an error or a readable tree, never a panic
}
