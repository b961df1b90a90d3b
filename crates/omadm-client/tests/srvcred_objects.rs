//! Large objects under way when a server message fails SRVCRED: DM Security (digest §4 "On
//! failure") has such a message answered with Statuses only, the challenge with them, and nothing
//! in it acted on, so neither the object being received nor the one being sent is touched.

mod common;

use common::*;
use omadm_client::ui::NoUi;
use omadm_client::{Incoming, Session, SessionConfig};
use omadm_proto::*;
use omadm_security::{AccountCredentials, AuthScheme, HashAlgorithm, HmacHeader, Nonce};
use omadm_tree::{MemStore, NodeRecord, Tree, Uri};

fn put_leaf(tree: &mut Tree<MemStore>, uri: &str, value: Vec<u8>) {
    let mut rec = NodeRecord::leaf(Format::Chr, "text/plain", value);
    rec.acl = omadm_tree::Acl::parse("Get=*&Replace=*").unwrap();
    tree.run(|tx| tx.put_node(&Uri::parse(uri).unwrap(), rec)).unwrap();
}

/// A session whose server must sign every message with HMAC; returns it after the first server
/// message (unsigned, so challenged), with the nonce to sign the next one with.
fn hmac_session() -> (Tree<MemStore>, Session, FakeServer, SyncMl) {
    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, Some(AuthScheme::Mac));
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.session_id = "42".into();
    let (mut s, _) = Session::start(cfg, &mut tree).unwrap();
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212)], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "0"), vec![407]);
    (tree, s, srv, m)
}

fn next_nonce(m: &SyncMl) -> Nonce {
    let st = status_cmd(m, "0");
    Nonce::from_next_nonce(st.chal.as_ref().and_then(|c| c.meta.next_nonce.as_deref()).unwrap_or(""))
}

/// Sends `commands` signed with `secret` over the nonce of our last message `last`.
fn send_signed(
    s: &mut Session,
    tree: &mut Tree<MemStore>,
    srv: &mut FakeServer,
    last: &SyncMl,
    secret: &str,
    mut commands: Vec<Command>,
    is_final: bool,
) -> SyncMl {
    commands.insert(0, hdr_status(&last.header.msg_id, 200));
    let body = srv.xml(commands, is_final);
    let hmac =
        HmacHeader::compute(HashAlgorithm::Md5, &AccountCredentials::new("omadm", secret), &next_nonce(last), &body)
            .to_value();
    sent(s.handle_reply(Incoming { body: &body, content_type: None, hmac: Some(&hmac) }, tree, &mut NoUi).unwrap())
}

fn chunk(id: &str, data: &str, size: Option<u64>, more: bool) -> Command {
    Command::Replace(item_cmd(
        id,
        vec![Item {
            target: Some(Location::new("./Vendor/Obj")),
            meta: Some(Meta { size, ..Meta::default() }),
            data: Some(Data::Text(data.into())),
            more_data: more,
            ..Item::default()
        }],
    ))
}

fn has_alert(m: &SyncMl) -> bool {
    m.body.commands.iter().any(|c| matches!(c, Command::Alert(_)))
}

/// An unauthenticated Final does not end the object being received (no 1225, nothing dropped):
/// the next authenticated chunk completes it.
#[test]
fn an_unauthenticated_final_leaves_an_incoming_object_whole() {
    let (mut tree, mut s, mut srv, m) = hmac_session();
    put_leaf(&mut tree, "./Vendor/Obj", b"old".to_vec());
    let m =
        send_signed(&mut s, &mut tree, &mut srv, &m, "server-secret", vec![chunk("3", "abcde", Some(10), true)], false);
    assert_eq!(status_of(&m, "0"), vec![200]);
    assert_eq!(status_of(&m, "3"), vec![213]);

    let m = send_signed(&mut s, &mut tree, &mut srv, &m, "wrong-secret", vec![], true);
    assert_eq!(status_of(&m, "0"), vec![401], "the server is challenged");
    assert!(!has_alert(&m), "Statuses only: no 1225 for the object, no 1222: {:?}", statuses(&m));

    let m = send_signed(&mut s, &mut tree, &mut srv, &m, "server-secret", vec![chunk("4", "fghij", None, false)], true);
    assert_eq!(status_of(&m, "0"), vec![200]);
    assert_eq!(status_of(&m, "4"), vec![200], "the object survived the unauthenticated message");
    let stored = tree.begin().node(&Uri::parse("./Vendor/Obj").unwrap()).unwrap().unwrap().value;
    assert_eq!(stored, b"abcdefghij");
}

/// An unauthenticated message gets no chunk of a value being sent; the value goes on, whole and
/// in order, once the server is authenticated again.
#[test]
fn an_unauthenticated_message_gets_no_chunk_of_ours() {
    let (mut tree, mut s, mut srv, m) = hmac_session();
    let value: String = (0..4000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    put_leaf(&mut tree, "./Vendor/Big", value.clone().into_bytes());
    srv.max_msg_size = Some(1500);
    let mut m = send_signed(&mut s, &mut tree, &mut srv, &m, "server-secret", vec![get("3", "./Vendor/Big")], true);
    let mut got = String::new();
    let mut challenged = false;
    for round in 0.. {
        assert!(round < 20, "runaway chunking");
        let r = results(&m);
        if r.is_empty() {
            // The value starts in the next message.
            m = send_signed(&mut s, &mut tree, &mut srv, &m, "server-secret", vec![alert("9", 1222, &[])], false);
            continue;
        }
        let item = &r[0].items[0];
        got.push_str(std::str::from_utf8(item.data.as_ref().unwrap().as_bytes().unwrap()).unwrap());
        if !item.more_data {
            break;
        }
        let Command::Status(mut ack) = hdr_status(&m.header.msg_id, 213) else { unreachable!() };
        ack.cmd_ref = r[0].cmd_id.clone();
        ack.cmd = CommandName::Results;
        let answer = vec![Command::Status(ack), alert("9", 1222, &[])];
        if !challenged {
            challenged = true;
            let bad = send_signed(&mut s, &mut tree, &mut srv, &m, "wrong-secret", answer.clone(), false);
            assert_eq!(status_of(&bad, "0"), vec![401]);
            assert_eq!(status_of(&bad, "9"), vec![401]);
            assert!(results(&bad).is_empty(), "no chunk to an unauthenticated server");
            assert!(!has_alert(&bad), "Statuses only");
            m = send_signed(&mut s, &mut tree, &mut srv, &bad, "server-secret", answer, false);
        } else {
            m = send_signed(&mut s, &mut tree, &mut srv, &m, "server-secret", answer, false);
        }
    }
    assert!(challenged);
    assert_eq!(got, value);
}
