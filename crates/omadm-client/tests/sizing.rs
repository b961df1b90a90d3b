//! Message sizing and large objects: MaxMsgSize boundaries, continuation with Alert 1222, MoreData
//! chunks out and in (213, 424, 1225), MaxObjSize both ways, and a structural Get split over
//! several messages.

mod common;

use common::decode;
use common::*;
use omadm_client::ui::NoUi;
use omadm_client::{Action, Incoming, Session, SessionConfig};
use omadm_proto::*;
use omadm_security::AuthScheme;
use omadm_tree::{MemStore, NodeRecord, Tree, Uri};

fn put_leaf(tree: &mut Tree<MemStore>, uri: &str, value: Vec<u8>) {
    let mut rec = NodeRecord::leaf(Format::Chr, "text/plain", value);
    rec.acl = omadm_tree::Acl::parse("Get=*&Replace=*").unwrap();
    tree.run(|tx| tx.put_node(&Uri::parse(uri).unwrap(), rec)).unwrap();
}

fn session_with(max_obj: u64) -> (Tree<MemStore>, Session) {
    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, None);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.session_id = "42".into();
    cfg.max_obj_size = max_obj;
    let (s, _) = Session::start(cfg, &mut tree).unwrap();
    (tree, s)
}

fn gets() -> Vec<Command> {
    let mut cmds = vec![hdr_status("1", 212)];
    for (i, leaf) in ["DevId", "Man", "Mod", "DmV", "Lang"].iter().enumerate() {
        cmds.push(get(&(i + 3).to_string(), &format!("./DevInfo/{leaf}")));
    }
    cmds
}

/// The client's whole reply to `gets()` when the server accepts `limit` bytes per message.
fn reply_with_limit(limit: Option<u64>) -> Vec<(usize, SyncMl)> {
    exchange(limit, gets()).expect("the client answers every Get")
}

#[test]
fn a_reply_exactly_at_max_msg_size_goes_whole_and_one_byte_over_is_split() {
    let whole = reply_with_limit(None);
    assert_eq!(whole.len(), 1);
    let size = whole[0].0;
    let at = reply_with_limit(Some(size as u64));
    assert_eq!(at.len(), 1, "exactly at the limit: one message");
    assert_eq!(at[0].0, size);
    assert!(at[0].1.body.is_final);
    let under = reply_with_limit(Some(size as u64 - 1));
    assert!(under.len() >= 2, "one byte less: split");
    assert!(under.iter().all(|(n, _)| *n < size), "every message fits");
    assert!(!under[0].1.body.is_final, "no Final before the package is complete");
    assert!(under.last().unwrap().1.body.is_final);
    let all: Vec<_> = under.iter().flat_map(|(_, m)| statuses(m)).filter(|(c, _, _)| c == "Get").collect();
    assert_eq!(all.len(), 5, "every Get answered once");
    let results: usize = under.iter().map(|(_, m)| results(m).len()).sum();
    assert_eq!(results, 5);
}

/// The answers to the Gets of `gets()` (their Statuses and Results) in the order they went out,
/// over all the messages of a reply.
fn answer_order(reply: &[(usize, SyncMl)]) -> Vec<String> {
    let commands = reply.iter().flat_map(|(_, m)| m.body.commands.iter());
    commands
        .filter_map(|c| match c {
            Command::Status(s) if s.cmd == CommandName::Get => Some(format!("Status {}", s.cmd_ref)),
            Command::Results(r) => Some(format!("Results {}", r.cmd_ref)),
            _ => None,
        })
        .collect()
}

/// When the message holding every pending command is too large, the commands go back to the
/// pending list in their order before the message is filled one command at a time. One byte
/// under the whole reply's size, the answers must still go out in the whole reply's order; put
/// back in another order (reversed), they would not. The same put-back loop serves the case
/// eb69a35 fixed (the whole message cannot be encoded), which no test from outside the crate can
/// provoke: XML encoding cannot fail, and a WBXML failure repeats on every retry.
#[test]
fn commands_put_back_from_a_message_too_large_keep_their_order() {
    let whole = reply_with_limit(None);
    let expected = answer_order(&whole);
    assert_eq!(expected.len(), 10, "a Status and a Results for each of the five Gets: {expected:?}");
    assert_eq!(expected[..2], ["Status 3".to_string(), "Results 3".to_string()]);
    let split = reply_with_limit(Some(whole[0].0 as u64 - 1));
    assert!(split.len() >= 2, "one byte less: split");
    assert_eq!(answer_order(&split), expected);
}

fn big_value(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn large_results_go_out_in_chunks_that_each_fit() {
    for n in [100usize, 999, 1500, 4000, 12_345] {
        let (mut tree, mut s) = session_with(1 << 20);
        let value = big_value(n);
        put_leaf(&mut tree, "./Vendor/Big", value.clone());
        let mut srv = FakeServer::new("42");
        srv.max_msg_size = Some(1500);
        let body = srv.xml(vec![hdr_status("1", 212), get("3", "./Vendor/Big")], true);
        let mut action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
        let mut got = Vec::new();
        let mut chunks = 0;
        let mut declared = None;
        while let Action::Send(o) = action {
            assert!(chunks < 100, "runaway chunking");
            assert!(o.body.len() <= 1500, "n={n}: message of {} bytes", o.body.len());
            let m = decode(&o);
            let r = results(&m);
            if r.is_empty() {
                // The object starts in the next message.
                assert!(!m.body.is_final);
                let body = srv.xml(vec![hdr_status(&m.header.msg_id, 200), alert("3", 1222, &[])], false);
                action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
                continue;
            }
            let item = &r[0].items[0];
            if chunks == 0 {
                declared = item.meta.as_ref().and_then(|m| m.size);
            } else {
                assert_eq!(item.meta.as_ref().and_then(|m| m.size), None, "Size on the first chunk only");
            }
            got.extend_from_slice(item.data.as_ref().unwrap().as_bytes().unwrap());
            chunks += 1;
            if !item.more_data {
                assert!(
                    m.body.is_final,
                    "n={n} chunks={chunks} {:?}",
                    m.body.commands.iter().map(|c| c.name().to_string()).collect::<Vec<_>>()
                );
                break;
            }
            assert!(!m.body.is_final);
            let chunk_cmd = r[0].cmd_id.clone();
            let Command::Status(mut ack) = hdr_status(&m.header.msg_id, 213) else { unreachable!() };
            ack.cmd_ref = chunk_cmd;
            ack.cmd = CommandName::Results;
            ack.cmd_id = "2".into();
            let body =
                srv.xml(vec![hdr_status(&m.header.msg_id, 200), Command::Status(ack), alert("3", 1222, &[])], false);
            action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
        }
        assert_eq!(got, value, "n={n}");
        if n > 1500 {
            assert!(chunks > 1);
            assert_eq!(declared, Some(n as u64));
        }
    }
}

#[test]
fn a_value_above_the_servers_max_obj_size_is_refused_413() {
    let (mut tree, mut s) = session_with(1 << 20);
    put_leaf(&mut tree, "./Vendor/Big", big_value(2001));
    let mut srv = FakeServer::new("42");
    srv.max_obj_size = Some(2000);
    let body = srv.xml(vec![hdr_status("1", 212), get("3", "./Vendor/Big")], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![413]);
    assert!(results(&m).is_empty());
}

fn chunk(id: &str, target: &str, data: &[u8], size: Option<u64>, more: bool) -> Command {
    Command::Replace(item_cmd(
        id,
        vec![Item {
            target: Some(Location::new(target)),
            meta: Some(Meta { size, ..Meta::default() }),
            data: Some(Data::Text(String::from_utf8(data.to_vec()).unwrap())),
            more_data: more,
            ..Item::default()
        }],
    ))
}

/// Sends `value` in chunks of `step` bytes declaring `declared` as Size; returns the last reply.
fn send_chunked(max_obj: u64, value: &[u8], step: usize, declared: u64) -> (Tree<MemStore>, Vec<SyncMl>) {
    let (mut tree, mut s) = session_with(max_obj);
    put_leaf(&mut tree, "./Vendor/Obj", b"old".to_vec());
    let mut srv = FakeServer::new("42");
    let pieces: Vec<&[u8]> = value.chunks(step).collect();
    let mut replies = Vec::new();
    let mut msg_ref = "1".to_string();
    for (i, p) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let size = (i == 0).then_some(declared);
        let body =
            srv.xml(vec![hdr_status(&msg_ref, 212), chunk(&(i + 3).to_string(), "./Vendor/Obj", p, size, !last)], last);
        let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
        msg_ref = m.header.msg_id.clone();
        let refused = statuses(&m).iter().any(|(c, _, code)| c == "Replace" && *code >= 400);
        replies.push(m);
        if refused {
            break;
        }
    }
    (tree, replies)
}

fn stored(tree: &mut Tree<MemStore>) -> Vec<u8> {
    tree.begin().node(&Uri::parse("./Vendor/Obj").unwrap()).unwrap().unwrap().value
}

#[test]
fn incoming_large_objects_of_several_sizes_213_per_chunk_then_200() {
    for n in [1usize, 10, 333, 1000, 5000] {
        let value = big_value(n);
        let (mut tree, replies) = send_chunked(5000, &value, 300, n as u64);
        for m in &replies[..replies.len() - 1] {
            let codes: Vec<u16> =
                statuses(m).into_iter().filter(|(c, _, _)| c == "Replace").map(|(_, _, c)| c).collect();
            assert_eq!(codes, vec![213], "n={n}");
            assert!(!m.body.is_final);
            assert!(
                matches!(m.body.commands.last(), Some(Command::Alert(a)) if a.code == Some(AlertCode::NextMessage))
            );
        }
        let last = replies.last().unwrap();
        let codes: Vec<u16> =
            statuses(last).into_iter().filter(|(c, _, _)| c == "Replace").map(|(_, _, c)| c).collect();
        assert_eq!(codes, vec![200], "n={n}");
        assert_eq!(stored(&mut tree), value, "n={n}");
    }
}

#[test]
fn incoming_object_one_byte_over_max_obj_size_is_refused_and_the_old_value_kept() {
    let value = big_value(1001);
    let (mut tree, replies) = send_chunked(1000, &value, 300, 1001);
    assert_eq!(status_of(&replies[0], "3"), vec![413]);
    assert_eq!(stored(&mut tree), b"old");
    let (mut tree, replies) = send_chunked(1000, &big_value(1000), 300, 1000);
    assert_eq!(status_of(replies.last().unwrap(), "6"), vec![200]);
    assert_eq!(stored(&mut tree).len(), 1000);
}

#[test]
fn a_size_mismatch_is_424_and_nothing_is_stored() {
    let (mut tree, replies) = send_chunked(5000, &big_value(900), 300, 1000);
    assert_eq!(status_of(replies.last().unwrap(), "5"), vec![424]);
    assert_eq!(stored(&mut tree), b"old");
    let (mut tree, replies) = send_chunked(5000, &big_value(900), 300, 800);
    assert!(statuses(replies.last().unwrap()).iter().any(|(_, _, c)| *c == 424));
    assert_eq!(stored(&mut tree), b"old");
}

#[test]
fn another_command_before_the_last_chunk_interrupts_with_1225() {
    let (mut tree, mut s) = session_with(5000);
    put_leaf(&mut tree, "./Vendor/Obj", b"old".to_vec());
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212), chunk("3", "./Vendor/Obj", b"abc", Some(10), true)], false);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![213]);
    let body = srv.xml(vec![hdr_status(&m.header.msg_id, 200), get("4", "./DevInfo/Man")], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    let alert = m.body.commands.iter().find_map(|c| match c {
        Command::Alert(a) if a.code == Some(AlertCode::NoEndOfData) => Some(a.clone()),
        _ => None,
    });
    let alert = alert.expect("1225");
    assert_eq!(alert.items[0].target.as_ref().unwrap().loc_uri, "./Vendor/Obj");
    assert_eq!(status_of(&m, "4"), vec![200]);
    assert_eq!(stored(&mut tree), b"old");
}

#[test]
fn a_structural_get_of_a_big_tree_is_split_over_messages() {
    let (mut tree, mut s) = session_with(1 << 20);
    tree.run(|tx| {
        for i in 0..300 {
            tx.put_node(
                &Uri::parse(&format!("./Vendor/Big/N{i:03}")).unwrap(),
                NodeRecord::leaf(Format::Chr, "text/plain", b"v".to_vec()),
            )?;
        }
        Ok(())
    })
    .unwrap();
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(2000);
    let body = srv.xml(vec![hdr_status("1", 212), get("3", "./Vendor/Big?list=Struct")], true);
    let mut action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
    let mut uris = Vec::new();
    let mut messages = 0;
    while let Action::Send(o) = action {
        assert!(messages < 200, "runaway continuation");
        assert!(o.body.len() <= 2000);
        messages += 1;
        let m = decode(&o);
        for r in results(&m) {
            assert_eq!(r.cmd_ref, "3");
            uris.extend(r.items.iter().map(|i| i.source.as_ref().unwrap().loc_uri.clone()));
        }
        if m.body.is_final {
            break;
        }
        let body = srv.xml(vec![hdr_status(&m.header.msg_id, 200), alert("2", 1222, &[])], false);
        action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
    }
    assert!(messages > 3, "{messages}");
    assert_eq!(uris.len(), 301, "the root and its 300 children, each once");
    assert_eq!(uris[0], "./Vendor/Big");
    assert!(uris.contains(&"./Vendor/Big/N299".to_string()));
}

#[test]
fn a_tnds_get_of_a_big_tree_streams_out_as_a_large_object() {
    let (mut tree, mut s) = session_with(1 << 20);
    tree.run(|tx| {
        for i in 0..200 {
            let mut rec = NodeRecord::leaf(Format::Chr, "text/plain", format!("value-{i}").into_bytes());
            rec.acl = omadm_tree::Acl::parse("Get=*").unwrap();
            tx.put_node(&Uri::parse(&format!("./Vendor/Big/N{i:03}")).unwrap(), rec)?;
        }
        Ok(())
    })
    .unwrap();
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(2000);
    let body = srv.xml(vec![hdr_status("1", 212), get("3", "./Vendor/Big?list=TNDS+Value")], true);
    let mut action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
    let mut doc = Vec::new();
    let mut declared = None;
    let mut chunks = 0;
    while let Action::Send(o) = action {
        assert!(chunks < 200, "runaway chunking");
        assert!(o.body.len() <= 2000);
        let m = decode(&o);
        if chunks == 0 {
            assert_eq!(status_of(&m, "3"), vec![200]);
        }
        let r = results(&m);
        let more = match r.first() {
            Some(r) => {
                let item = &r.items[0];
                if declared.is_none() {
                    declared = item.meta.as_ref().and_then(|m| m.size);
                }
                doc.extend_from_slice(item.data.as_ref().unwrap().as_bytes().unwrap());
                chunks += 1;
                item.more_data
            }
            None => true,
        };
        if !more {
            assert!(m.body.is_final);
            break;
        }
        let body = srv.xml(vec![hdr_status(&m.header.msg_id, 200), alert("3", 1222, &[])], false);
        action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
    }
    assert!(chunks > 3, "{chunks} chunks");
    assert_eq!(declared, Some(doc.len() as u64), "Meta Size on the first chunk = the whole document");
    let el = omadm_proto::xml::parse_element(&doc, &Limits::default()).expect("the chunks make one TNDS document");
    assert_eq!(el.name, "MgmtTree");
    let text = String::from_utf8(doc).unwrap();
    assert!(text.contains("value-199") && text.contains("N000"));
}

/// A tree of 5,000 leaves under `./Vendor/Big` (100 interior nodes of 50 leaves each).
fn big_tree() -> (Tree<MemStore>, Session) {
    big_tree_of(5_000, "Get=*")
}

/// A tree of `leaves` leaves `value-N` under `./Vendor/Big`, 50 to an interior node, with `acl`.
fn big_tree_of(leaves: usize, acl: &str) -> (Tree<MemStore>, Session) {
    let (mut tree, s) = session_with(1 << 20);
    tree.run(|tx| {
        for i in 0..leaves {
            let mut rec = NodeRecord::leaf(Format::Chr, "text/plain", format!("value-{i}").into_bytes());
            rec.acl = omadm_tree::Acl::parse(acl).unwrap();
            tx.put_node(&Uri::parse(&format!("./Vendor/Big/G{:02}/N{i:04}", i / 50)).unwrap(), rec)?;
        }
        Ok(())
    })
    .unwrap();
    (tree, s)
}

/// Answers every client message with a header Status and 1222 until its package ends; returns
/// every message the client sent (asserting each fits `limit`).
fn drain(s: &mut Session, tree: &mut Tree<MemStore>, srv: &mut FakeServer, get: Command, limit: usize) -> Vec<SyncMl> {
    let body = srv.xml(vec![hdr_status("1", 212), get], true);
    let mut action = s.handle_reply(Incoming::body(&body), tree, &mut NoUi).unwrap();
    let mut sent = Vec::new();
    while let Action::Send(o) = action {
        assert!(sent.len() < 2_000, "runaway continuation");
        assert!(o.body.len() <= limit, "message {} is {} bytes, over {limit}", sent.len() + 1, o.body.len());
        let m = decode(&o);
        let done = m.body.is_final;
        let id = m.header.msg_id.clone();
        sent.push(m);
        if done {
            break;
        }
        let body = srv.xml(vec![hdr_status(&id, 200), alert("2", 1222, &[])], false);
        action = s.handle_reply(Incoming::body(&body), tree, &mut NoUi).unwrap();
    }
    sent
}

#[test]
fn a_5000_node_tree_goes_out_as_struct_results_in_messages_that_each_fit() {
    const LIMIT: usize = 4096;
    // ?list=Struct: one Results item per node, spread over messages (not a large object).
    let (mut tree, mut s) = big_tree();
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(LIMIT as u64);
    let sent = drain(&mut s, &mut tree, &mut srv, get("3", "./Vendor/Big?list=Struct"), LIMIT);
    let mut uris = Vec::new();
    for m in &sent {
        for r in results(m) {
            assert_eq!(r.cmd_ref, "3");
            assert!(r.items.iter().all(|i| !i.more_data), "Struct items are never chunked");
            uris.extend(r.items.iter().map(|i| i.source.as_ref().unwrap().loc_uri.clone()));
        }
    }
    assert_eq!(uris.len(), 5_101, "the root, 100 groups and 5,000 leaves, each once");
    let unique: std::collections::BTreeSet<_> = uris.iter().collect();
    assert_eq!(unique.len(), uris.len());
    assert!(sent.len() > 20, "{} messages", sent.len());
}

#[test]
fn a_5000_node_tree_goes_out_as_one_tnds_large_object_in_messages_that_each_fit() {
    const LIMIT: usize = 4096;
    // ?list=TNDS+Value: one document, a MoreData large object with Meta Size on its first chunk.
    let (mut tree, mut s) = big_tree();
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(LIMIT as u64);
    let sent = drain(&mut s, &mut tree, &mut srv, get("3", "./Vendor/Big?list=TNDS+Value"), LIMIT);
    let mut doc = Vec::new();
    let mut declared = None;
    let chunks: Vec<Item> = sent.iter().flat_map(results).flat_map(|r| r.items).collect();
    for (i, item) in chunks.iter().enumerate() {
        if i == 0 {
            declared = item.meta.as_ref().and_then(|m| m.size);
        }
        assert_eq!(item.more_data, i + 1 < chunks.len(), "MoreData on every chunk but the last");
        doc.extend_from_slice(item.data.as_ref().unwrap().as_bytes().unwrap());
    }
    assert!(chunks.len() > 20, "{} chunks", chunks.len());
    assert_eq!(declared, Some(doc.len() as u64), "Meta Size = the whole document");
    let el = omadm_proto::xml::parse_element(&doc, &Limits::default()).expect("one TNDS document");
    assert_eq!(el.name, "MgmtTree");
    let text = String::from_utf8(doc).unwrap();
    assert_eq!(text.matches("<NodeName>N").count(), 5_000);
    assert!(text.contains("value-4999"));
}

/// Answers every client message with a header Status and 1222 until its package ends, from a
/// first server message of `commands`; the messages sent, or why not (the client's error, or a
/// continuation that does not end).
fn exchange(limit: Option<u64>, commands: Vec<Command>) -> Result<Vec<(usize, SyncMl)>, String> {
    let (mut tree, mut s) = session_with(1 << 20);
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = limit;
    let body = srv.xml(commands, true);
    let mut action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).map_err(|e| e.to_string())?;
    let mut sent = Vec::new();
    while let Action::Send(o) = action {
        if sent.len() == 200 {
            return Err("runaway continuation".into());
        }
        let m = decode(&o);
        let done = m.body.is_final;
        let id = m.header.msg_id.clone();
        sent.push((o.body.len(), m));
        if done {
            break;
        }
        let body = srv.xml(vec![hdr_status(&id, 200), alert("2", 1222, &[])], false);
        action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).map_err(|e| e.to_string())?;
    }
    Ok(sent)
}

/// A structural Get whose first item does not fit the room other answers left in a message
/// starts in the next message (as a value does): whenever the value Gets alone and the
/// structural Get alone can be answered within a MaxMsgSize, both together can.
#[test]
fn a_structural_get_after_other_answers_starts_in_the_next_message_when_it_does_not_fit() {
    let with = |extra: &[Command]| {
        let mut commands = vec![hdr_status("1", 212)];
        commands.extend_from_slice(extra);
        commands
    };
    let values: Vec<Command> = (3..9).map(|i| get(&i.to_string(), "./DevInfo/DevId")).collect();
    let structural = [get("9", "./DevDetail?list=StructData")];
    let both: Vec<Command> = values.iter().chain(&structural).cloned().collect();
    let struct_items = |sent: &[(usize, SyncMl)]| -> usize {
        sent.iter().flat_map(|(_, m)| results(m)).filter(|r| r.cmd_ref == "9").map(|r| r.items.len()).sum()
    };
    let expected = struct_items(&exchange(Some(1 << 20), with(&structural)).unwrap());
    assert!(expected > 5, "{expected} DevDetail nodes");
    let mut failed = Vec::new();
    let mut tried = 0;
    for limit in (800..2600).step_by(7) {
        if exchange(Some(limit), with(&values)).is_err() || exchange(Some(limit), with(&structural)).is_err() {
            continue;
        }
        tried += 1;
        match exchange(Some(limit), with(&both)) {
            Ok(sent) => {
                assert!(sent.iter().all(|(n, _)| *n as u64 <= limit), "{limit}: a message over the limit");
                assert_eq!(struct_items(&sent), expected, "{limit}: every DevDetail node once");
                let answered: usize =
                    sent.iter().map(|(_, m)| results(m).iter().filter(|r| r.cmd_ref != "9").count()).sum();
                assert_eq!(answered, 6, "{limit}: every value Get answered");
            }
            Err(e) => failed.push(format!("{limit}: {e}")),
        }
    }
    assert!(tried > 200, "{tried} limits tried");
    assert!(failed.is_empty(), "{} limits failed, e.g. {:?}", failed.len(), &failed[..failed.len().min(3)]);
}

/// A server MaxMsgSize too small for anything beyond a message's fixed part (header, header
/// Status, tail) is a clear size error that ends the session: no message over the limit is sent,
/// and no header-only message is sent again at each 1222, forever.
#[test]
fn a_max_msg_size_too_small_for_any_answer_is_an_error_not_an_endless_exchange() {
    let commands = vec![hdr_status("1", 212), get("3", "./DevInfo/DevId")];
    let whole = exchange(Some(1 << 20), commands.clone()).unwrap();
    let needed = whole[0].0 as u64;
    for limit in (100..needed).step_by(11) {
        match exchange(Some(limit), commands.clone()) {
            Ok(sent) => {
                for (n, _) in &sent {
                    assert!(*n as u64 <= limit, "{limit}: a message of {n} bytes");
                }
                let answered: usize = sent.iter().map(|(_, m)| results(m).len()).sum();
                assert_eq!(answered, 1, "{limit}: the Get answered once");
            }
            Err(e) => assert!(e.starts_with("message size:"), "{limit}: {e}"),
        }
    }
    // The session is over after such an error.
    let (mut tree, mut s) = session_with(1 << 20);
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(200);
    let body = srv.xml(commands.clone(), true);
    let err = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap_err();
    assert!(matches!(err, omadm_client::ClientError::Size(_)), "{err}");
    let body = srv.xml(vec![hdr_status("2", 200), alert("2", 1222, &[])], false);
    let again = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi);
    assert!(matches!(again, Err(omadm_client::ClientError::Protocol(_))), "{again:?}");
    // Nothing pending at all: the header Status and the 1222 asking for the rest of the server's
    // package are over the limit too.
    let (mut tree, mut s) = session_with(1 << 20);
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(200);
    let body = srv.xml(vec![hdr_status("1", 212)], false);
    let err = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap_err();
    assert!(matches!(err, omadm_client::ClientError::Size(_)), "{err}");
}

/// A `?list=TNDS` answer is the document as it was when the Get ran: a Replace later in the same
/// server package does not change what the later chunks carry (they were once re-read from the
/// tree, which spliced two documents or broke the declared Size).
#[test]
fn a_tnds_answer_is_the_document_of_its_get_even_when_a_later_replace_changes_the_tree() {
    const LIMIT: usize = 4096;
    let (mut tree, mut s) = big_tree_of(3_000, "Get=*&Replace=*");
    let mut srv = FakeServer::new("42");
    srv.max_msg_size = Some(LIMIT as u64);
    let changed = "changed-".repeat(40);
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            get("3", "./Vendor/Big?list=TNDS+Value"),
            replace("4", "./Vendor/Big/G00/N0000", &changed),
            replace("5", "./Vendor/Big/G59/N2999", &changed),
        ],
        true,
    );
    let mut action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
    let mut sent = Vec::new();
    while let Action::Send(o) = action {
        assert!(sent.len() < 2_000, "runaway continuation");
        assert!(o.body.len() <= LIMIT);
        let m = decode(&o);
        let done = m.body.is_final;
        let id = m.header.msg_id.clone();
        sent.push(m);
        if done {
            break;
        }
        let body = srv.xml(vec![hdr_status(&id, 200), alert("2", 1222, &[])], false);
        action = s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).unwrap();
    }
    assert_eq!(sent.iter().flat_map(|m| status_of(m, "4")).collect::<Vec<_>>(), vec![200]);
    assert_eq!(sent.iter().flat_map(|m| status_of(m, "5")).collect::<Vec<_>>(), vec![200]);
    let chunks: Vec<Item> = sent.iter().flat_map(results).flat_map(|r| r.items).collect();
    let declared = chunks[0].meta.as_ref().and_then(|m| m.size);
    let doc: Vec<u8> = chunks.iter().flat_map(|i| i.data.as_ref().unwrap().as_bytes().unwrap().to_vec()).collect();
    assert!(doc.len() > 64 * 1024, "a document beyond the old 64 KiB read-ahead: {} bytes", doc.len());
    assert_eq!(declared, Some(doc.len() as u64), "Meta Size = the whole document");
    omadm_proto::xml::parse_element(&doc, &Limits::default()).expect("one TNDS document");
    let text = String::from_utf8(doc).unwrap();
    assert!(!text.contains("changed-"), "the Replace after the Get is not in its answer");
    let at = text.find("value-0<").map(|i| &text[i.saturating_sub(80)..i + 20]);
    assert!(text.contains(">value-0<") && text.contains(">value-2999<"), "{at:?}");
}
