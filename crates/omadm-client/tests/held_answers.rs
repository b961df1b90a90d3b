//! The client's bound on the answers it holds for sending: each `?list=TNDS` Get holds its whole
//! document until it is sent, so a server message full of them is refused past the bound with 413
//! (digest §3, status codes) instead of holding a copy of the tree per Get.

mod common;

use common::*;
use omadm_client::ui::NoUi;
use omadm_client::{Session, SessionConfig};
use omadm_proto::*;
use omadm_security::AuthScheme;
use omadm_tree::{MemStore, NodeRecord, Tree, Uri};

/// A device with 200 leaves of 200 bytes under `./Vendor/Big`, and a session on it.
fn big_tree(config: impl FnOnce(&mut SessionConfig)) -> (Tree<MemStore>, Session) {
    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, None);
    acc.install(&mut tree, "omadm").unwrap();
    tree.run(|tx| {
        for i in 0..200 {
            let mut rec = NodeRecord::leaf(Format::Chr, "text/plain", vec![b'v'; 200]);
            rec.acl = omadm_tree::Acl::parse("Get=*").unwrap();
            tx.put_node(&Uri::parse(&format!("./Vendor/Big/N{i:03}")).unwrap(), rec)?;
        }
        Ok(())
    })
    .unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.session_id = "42".into();
    config(&mut cfg);
    let (s, _) = Session::start(cfg, &mut tree).unwrap();
    (tree, s)
}

fn tnds_gets(n: usize) -> Vec<Command> {
    std::iter::once(hdr_status("1", 212))
        .chain((0..n).map(|i| get(&(i + 3).to_string(), "./Vendor/Big?list=TNDS+ACL+Value")))
        .collect()
}

fn result_bytes(m: &SyncMl) -> usize {
    results(m).iter().flat_map(|r| &r.items).map(|i| i.data.as_ref().map_or(0, |d| d.as_bytes().unwrap().len())).sum()
}

/// The reviewer's case: hundreds of TNDS Gets in one message, no server MaxObjSize. With the
/// default bound only a few MiB of documents are held; the rest of the Gets get 413.
#[test]
fn many_tnds_gets_hold_a_bounded_number_of_documents() {
    let (mut tree, mut s) = big_tree(|_| {});
    let mut srv = FakeServer::new("42");
    let body = srv.xml(tnds_gets(300), true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    let codes: Vec<u16> = (0..300).flat_map(|i| status_of(&m, &(i + 3).to_string())).collect();
    assert_eq!(codes.len(), 300);
    assert!(codes.contains(&200) && codes.contains(&413), "some answered, the rest refused");
    assert!(codes.iter().all(|c| *c == 200 || *c == 413));
    let held = result_bytes(&m);
    assert!(held <= 8 << 20, "{held} bytes of answers held");
}

/// Past the configured bound a Get gets 413 and no Results; a smaller value still fits, and once
/// the held answers are sent the bound is free again.
#[test]
fn a_get_past_the_held_answers_bound_is_refused_413() {
    let (mut tree, mut s) = big_tree(|_| {});
    let mut srv = FakeServer::new("42");
    let body = srv.xml(tnds_gets(1), true);
    let doc = result_bytes(&sent(reply(&mut s, &mut tree, &mut NoUi, &body)));
    assert!(doc > 40_000, "{doc}");

    let (mut tree, mut s) = big_tree(|c| c.max_held_answers = doc * 5 / 2);
    let mut srv = FakeServer::new("42");
    let mut cmds = tnds_gets(3);
    cmds.push(get("6", "./DevInfo/Man"));
    let body = srv.xml(cmds, true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![200]);
    assert_eq!(status_of(&m, "4"), vec![200]);
    assert_eq!(status_of(&m, "5"), vec![413], "a third document is over the bound");
    assert_eq!(status_of(&m, "6"), vec![200], "a small value still fits");
    assert_eq!(results(&m).len(), 3);

    let body = srv.xml(vec![hdr_status(&m.header.msg_id, 200), get("7", "./Vendor/Big?list=TNDS+ACL+Value")], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "7"), vec![200], "sent answers are no longer held");
}
