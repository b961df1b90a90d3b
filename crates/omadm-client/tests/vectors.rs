//! The real server packages among the shared vectors (WBXML and XML, DM 1.1 and 1.2) fed to the
//! engine: every command gets its Status, and Gets their Results.

mod common;

use common::decode;
use common::*;
use omadm_client::{Action, Incoming, ScriptedUi, Session, SessionConfig};
use omadm_proto::*;
use omadm_security::AuthScheme;

/// Feeds one vector and returns every message the client answers with (continuations included).
fn run_vector(rel: &str) -> (SyncMl, Vec<SyncMl>) {
    let bytes = std::fs::read(vectors_dir().join(rel)).unwrap();
    let (server_msg, _) = omadm_proto::decode(&bytes, &Limits::default()).unwrap();
    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, None);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.session_id = server_msg.header.session_id.clone();
    let (mut s, _) = Session::start(cfg, &mut tree).unwrap();
    let mut ui = ScriptedUi::default();
    let mut replies = Vec::new();
    let mut action = s.handle_reply(Incoming::body(&bytes), &mut tree, &mut ui).unwrap();
    let mut srv = FakeServer::new(&server_msg.header.session_id);
    srv.msg_id = 1;
    while let Action::Send(out) = action {
        let m = decode(&out);
        let max = server_msg.header.meta.as_ref().and_then(|m| m.max_msg_size).unwrap_or(u64::MAX);
        assert!(out.body.len() as u64 <= max, "{rel}: {} bytes over the server's {max}", out.body.len());
        let done = m.body.is_final;
        let msg_id = m.header.msg_id.clone();
        replies.push(m);
        if done || replies.len() > 20 {
            break;
        }
        let more = Command::Alert(Alert {
            cmd_id: "2".into(),
            no_resp: false,
            cred: None,
            code: Some(AlertCode::NextMessage),
            correlator: None,
            items: vec![],
        });
        let body = srv.xml(vec![hdr_status(&msg_id, 200), more], false);
        action = s.handle_reply(Incoming::body(&body), &mut tree, &mut ui).unwrap();
    }
    (server_msg, replies)
}

fn commands_needing_status(cmds: &[Command], out: &mut Vec<String>) {
    for c in cmds {
        match c {
            Command::Status(_) | Command::Results(_) => {}
            Command::Atomic(k) | Command::Sequence(k) => {
                out.push(k.cmd_id.clone());
                commands_needing_status(&k.commands, out);
            }
            other => out.push(other.cmd_id().to_string()),
        }
    }
}

#[test]
fn every_server_package_gets_a_status_for_each_command() {
    let mut files = Vec::new();
    for dir in ["aosp-dm11", "aosp-dm12"] {
        for e in std::fs::read_dir(vectors_dir().join(dir)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".xml") || name.ends_with(".wbxml") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 25, "{files:?}");
    for f in files {
        let (server_msg, replies) = run_vector(&f);
        assert!(!replies.is_empty(), "{f}: no reply");
        assert!(replies.last().unwrap().body.is_final, "{f}: the reply package ends with Final");
        let mut wanted = Vec::new();
        commands_needing_status(&server_msg.body.commands, &mut wanted);
        let got: Vec<String> = replies.iter().flat_map(|m| statuses(m).into_iter().map(|(_, r, _)| r)).collect();
        for id in wanted {
            assert!(got.contains(&id), "{f}: no Status for CmdID {id}; got {got:?}");
        }
        assert_eq!(statuses(&replies[0])[0].0, "SyncHdr", "{f}: the header Status comes first");
    }
}

#[test]
fn get_of_maxdepth_in_the_wbxml_vectors_gives_200_and_a_results_item() {
    for f in ["aosp-dm12/testget.wbxml", "aosp-dm11/testget.wbxml"] {
        let (server_msg, replies) = run_vector(f);
        let get_id = server_msg
            .body
            .commands
            .iter()
            .find_map(|c| match c {
                Command::Get(g) => Some(g.cmd_id.clone()),
                _ => None,
            })
            .unwrap();
        let reply = &replies[0];
        assert_eq!(status_of(reply, &get_id), vec![200], "{f}");
        let r = results(reply);
        assert_eq!(r[0].cmd_ref, get_id);
        assert_eq!(r[0].items[0].source.as_ref().unwrap().loc_uri, "./DevDetail/URI/MaxDepth");
        assert_eq!(r[0].items[0].data, Some(Data::from("10")));
    }
}

#[test]
fn the_ui_vectors_are_answered_by_the_ui() {
    let (server_msg, replies) = run_vector("aosp-dm12/testalertsinglechoice.xml");
    let Command::Alert(a) = server_msg.body.commands.iter().find(|c| matches!(c, Command::Alert(_))).unwrap() else {
        unreachable!()
    };
    let st = status_cmd(&replies[0], &a.cmd_id);
    assert_eq!(st.code, StatusCode::Ok);
    assert_eq!(st.items.len(), 1, "one chosen index");
}
