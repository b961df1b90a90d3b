//! On SQLite, a message's nonce and completion changes of one device are written by one UPDATE
//! (`store/sqlite.rs`, `DeviceUpdate`): every combination of them leaves the device row as the
//! changes applied one by one would, and a list that also enrolls the device keeps its order.

use omadm_server::engine::Change;
use omadm_server::model::{AccountAuth, AuthKind, Device};
use omadm_server::store::{SqlStore, Store, StoreError};

fn device(dev_id: &str) -> Device {
    let auth = |user: &str, nonce: &str| AccountAuth {
        kind: AuthKind::Md5,
        user: user.into(),
        secret: "s3cret".into(),
        nonce: nonce.into(),
        spent: Vec::new(),
    };
    Device {
        dev_id: dev_id.into(),
        server_id: "omadm".into(),
        client: auth(dev_id, "AQID"),
        server: auth("omadm", "BAUG"),
        devinfo: Default::default(),
        created_ms: 5,
        last_session_ms: None,
    }
}

#[tokio::test]
async fn every_combination_of_nonce_and_completion_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqlStore::open(&format!("sqlite://{}", dir.path().join("omadm.db").display())).await.expect("open");
    for mask in 1u8..8 {
        let dev_id = format!("IMEI:{mask}");
        store.apply(vec![Change::DeviceEnrolled(device(&dev_id))]).await.expect("enrol");
        let mut changes = Vec::new();
        if mask & 1 != 0 {
            changes.push(Change::ClientNonces {
                dev_id: dev_id.clone(),
                previous: "AQID".into(),
                current: "Bw==".into(),
                spent: vec!["AQID".into()],
            });
        }
        if mask & 2 != 0 {
            // Not adjacent to the others, as in a real Package 3.
            changes.push(Change::ServerNonce { dev_id: dev_id.clone(), nonce: "first".into() });
            changes.push(Change::EndSession { token: "none".into() });
            changes.push(Change::ServerNonce { dev_id: dev_id.clone(), nonce: "CA==".into() });
        }
        if mask & 4 != 0 {
            changes.push(Change::SessionCompleted { dev_id: dev_id.clone(), at_ms: 40 + i64::from(mask) });
        }
        store.apply(changes).await.expect("apply");
        let d = store.device(&dev_id).await.expect("read").expect("present");
        let client = if mask & 1 != 0 { ("Bw==", vec!["AQID".to_string()]) } else { ("AQID", Vec::new()) };
        assert_eq!((d.client.nonce.as_str(), d.client.spent.clone()), client, "mask {mask}");
        assert_eq!(d.server.nonce, if mask & 2 != 0 { "CA==" } else { "BAUG" }, "mask {mask}");
        assert_eq!(d.last_session_ms, (mask & 4 != 0).then(|| 40 + i64::from(mask)), "mask {mask}");
    }
}

#[tokio::test]
async fn an_enrolment_in_the_same_list_keeps_the_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqlStore::open(&format!("sqlite://{}", dir.path().join("omadm.db").display())).await.expect("open");
    store
        .apply(vec![
            Change::DeviceEnrolled(device("IMEI:9")),
            Change::ServerNonce { dev_id: "IMEI:9".into(), nonce: "CA==".into() },
            Change::SessionCompleted { dev_id: "IMEI:9".into(), at_ms: 77 },
        ])
        .await
        .expect("apply");
    let d = store.device("IMEI:9").await.expect("read").expect("present");
    assert_eq!(d.server.nonce, "CA==");
    assert_eq!(d.last_session_ms, Some(77));
    // An update before the enrolment finds no row yet, applied one by one as listed; merged with
    // the later one at its place, after the INSERT, it would overwrite the enrolled nonce.
    store
        .apply(vec![
            Change::ServerNonce { dev_id: "IMEI:10".into(), nonce: "CA==".into() },
            Change::DeviceEnrolled(device("IMEI:10")),
            Change::SessionCompleted { dev_id: "IMEI:10".into(), at_ms: 78 },
        ])
        .await
        .expect("apply");
    let d = store.device("IMEI:10").await.expect("read").expect("present");
    assert_eq!(d.server.nonce, "BAUG", "the nonce update listed before the enrolment changes nothing");
    assert_eq!(d.last_session_ms, Some(78));
}

/// The merged device UPDATE keeps the client-nonce check: with a nonce the row no longer holds,
/// every combination that carries the client nonces fails as `Stale` and changes nothing.
#[tokio::test]
async fn a_stale_client_nonce_fails_every_merged_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqlStore::open(&format!("sqlite://{}", dir.path().join("omadm.db").display())).await.expect("open");
    for mask in [3u8, 5, 7] {
        let dev_id = format!("IMEI:{mask}");
        store.apply(vec![Change::DeviceEnrolled(device(&dev_id))]).await.expect("enrol");
        let mut changes = vec![Change::ClientNonces {
            dev_id: dev_id.clone(),
            previous: "bm90IGl0".into(),
            current: "Bw==".into(),
            spent: vec!["AQID".into()],
        }];
        if mask & 2 != 0 {
            changes.push(Change::ServerNonce { dev_id: dev_id.clone(), nonce: "CA==".into() });
        }
        if mask & 4 != 0 {
            changes.push(Change::SessionCompleted { dev_id: dev_id.clone(), at_ms: 40 });
        }
        assert!(matches!(store.apply(changes).await, Err(StoreError::Stale(_))), "mask {mask}");
        let d = store.device(&dev_id).await.expect("read").expect("present");
        assert_eq!((d.client.nonce.as_str(), d.server.nonce.as_str(), d.last_session_ms), ("AQID", "BAUG", None));
    }
}
