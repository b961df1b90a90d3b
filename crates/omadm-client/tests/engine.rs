//! The session engine against a scripted server: Package 1, every command and status path, UI
//! alerts, Atomic/Sequence, asynchronous Exec, abort, continuation and large objects.

mod common;

use common::decode;
use common::*;
use omadm_client::ui::NoUi;
use omadm_client::{Action, GenericAlert, Incoming, Outcome, ScriptedUi, Session, SessionConfig, Trigger};
use omadm_proto::*;
use omadm_security::{AuthScheme, Nonce, SessionId, UiMode};
use omadm_tree::{ExecHandler, TreeResult, Uri};

#[test]
fn package1_has_alert_1201_devinfo_replace_and_final() {
    let (_, _, out) = started(AuthScheme::Basic, None);
    assert_eq!(out.url, SERVER_URL);
    let m = decode(&out);
    assert_eq!(m.header.session_id, "42");
    assert_eq!(m.header.msg_id, "1");
    assert_eq!(m.header.source.loc_uri, DEV_ID);
    assert_eq!(m.header.target.loc_uri, SERVER_URL);
    assert!(m.header.cred.is_some(), "basic credentials go in the first message");
    assert!(m.body.is_final);
    let Command::Alert(a) = &m.body.commands[0] else { panic!("{:?}", m.body.commands[0]) };
    assert_eq!(a.code, Some(AlertCode::ClientInitiatedMgmt));
    let Command::Replace(r) = &m.body.commands[1] else { panic!() };
    let sources: Vec<_> = r.items.iter().map(|i| i.source.as_ref().unwrap().loc_uri.clone()).collect();
    for leaf in ["./DevInfo/DevId", "./DevInfo/Man", "./DevInfo/Mod", "./DevInfo/DmV", "./DevInfo/Lang"] {
        assert!(sources.iter().any(|s| s == leaf), "{leaf} missing from {sources:?}");
    }
    let devid = r.items.iter().find(|i| i.source.as_ref().unwrap().loc_uri == "./DevInfo/DevId").unwrap();
    assert_eq!(devid.data, Some(Data::from(DEV_ID)));
}

#[test]
fn server_initiated_package1_uses_1200_the_notification_session_id_and_generic_alerts() {
    let mut tree = device();
    let mut acc = account(AuthScheme::Md5, None);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.trigger = Trigger::ServerInitiated { session_id: SessionId(0xAB), ui_mode: UiMode::Informative };
    cfg.alerts.push(GenericAlert {
        code: AlertCode::GenericAlert,
        correlator: None,
        source: Some("./FwUpdate".into()),
        meta_type: "org.openmobilealliance.dm.firmwareupdate.devicerequest".into(),
        format: Format::Chr,
        mark: Some("critical".into()),
        data: "0".into(),
    });
    let (_, out) = Session::start(cfg, &mut tree).unwrap();
    let m = decode(&out);
    assert_eq!(m.header.session_id, "AB");
    let Command::Alert(a) = &m.body.commands[0] else { panic!() };
    assert_eq!(a.code, Some(AlertCode::ServerInitiatedMgmt));
    let Command::Alert(g) = &m.body.commands[2] else { panic!("{:?}", m.body.commands) };
    assert_eq!(g.code, Some(AlertCode::GenericAlert));
    let meta = g.items[0].meta.as_ref().unwrap();
    assert_eq!(meta.mark.as_deref(), Some("critical"));
    assert!(m.body.is_final);
}

#[test]
fn get_of_maxdepth_gives_200_then_results_and_the_session_completes() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212), get("3", "./DevDetail/URI/MaxDepth")], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(m.header.msg_id, "2");
    assert_eq!(m.header.cred, None, "no credentials after 212");
    assert_eq!(statuses(&m)[0], ("SyncHdr".into(), "0".into(), 200));
    assert_eq!(status_of(&m, "3"), vec![200]);
    // Results right after their Status
    let pos_status = m.body.commands.iter().position(|c| matches!(c, Command::Status(s) if s.cmd_ref == "3")).unwrap();
    let Command::Results(r) = &m.body.commands[pos_status + 1] else { panic!("{:?}", m.body.commands) };
    assert_eq!(r.cmd_ref, "3");
    assert_eq!(r.items[0].source.as_ref().unwrap().loc_uri, "./DevDetail/URI/MaxDepth");
    assert_eq!(r.items[0].data, Some(Data::from("10")));
    assert!(m.body.is_final);
    let body = srv.xml(vec![hdr_status("2", 200)], true);
    assert_eq!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::Completed));
    assert!(s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).is_err(), "nothing after the end");
}

#[test]
fn add_replace_delete_copy_and_their_refusals() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let mut other = account(AuthScheme::Basic, None);
    other.server_id = omadm_tree::ServerId::new("other").unwrap();
    other.install(&mut tree, "other").unwrap();
    let copy = Command::Copy(item_cmd(
        "9",
        vec![Item {
            target: Some(Location::new("./Vendor/Copy")),
            source: Some(Location::new("./Vendor/Leaf")),
            ..Item::default()
        }],
    ));
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            add("3", "./Vendor/Leaf", "one"),
            add("4", "./Vendor/Leaf", "again"),
            replace("5", "./Vendor/Leaf", "two"),
            get("6", "./Nowhere"),
            delete("7", "./DevInfo"),
            replace("8", "./DMAcc/other/AAuthPref", "BASIC-stolen"),
            copy,
            replace("10", "./Vendor/Missing", "x"),
            delete("11", "./Vendor/Copy"),
        ],
        true,
    );
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![200]);
    assert_eq!(status_of(&m, "4"), vec![418]);
    assert_eq!(status_of(&m, "5"), vec![200]);
    assert_eq!(status_of(&m, "6"), vec![404]);
    assert_eq!(status_of(&m, "7"), vec![405]);
    assert_eq!(status_of(&m, "8"), vec![425]);
    assert_eq!(status_of(&m, "9"), vec![200]);
    assert_eq!(status_of(&m, "10"), vec![404]);
    assert_eq!(status_of(&m, "11"), vec![200]);
    assert_eq!(status_cmd(&m, "5").target_refs, vec!["./Vendor/Leaf".to_string()]);
    let mut tx = tree.begin();
    let v = tx.node(&Uri::parse("./Vendor/Leaf").unwrap()).unwrap().unwrap();
    assert_eq!(v.value, b"two");
    assert!(tx.node(&Uri::parse("./Vendor/Copy").unwrap()).unwrap().is_none());
    let pref = tx.node(&Uri::parse("./DMAcc/other/AAuthPref").unwrap()).unwrap().unwrap();
    assert_eq!(pref.value, b"BASIC", "the refused Replace changed nothing");
    let _ = &mut tx;
}

struct AsyncJob;
impl ExecHandler for AsyncJob {
    fn exec(&mut self, _uri: &Uri, _data: &[u8], correlator: Option<&str>) -> TreeResult<StatusCode> {
        Ok(if correlator.is_some() { StatusCode::AcceptedForProcessing } else { StatusCode::Ok })
    }
}

#[test]
fn exec_with_correlator_answers_202_then_a_1226_carries_the_correlator() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    tree.run(|tx| {
        tx.put_node(
            &Uri::parse("./Vendor/Job").unwrap(),
            omadm_tree::NodeRecord::leaf(Format::Chr, "text/plain", vec![]),
        )
    })
    .unwrap();
    let mut acl_fix = tree.begin();
    let mut rec = acl_fix.node(&Uri::parse("./Vendor/Job").unwrap()).unwrap().unwrap();
    rec.acl = omadm_tree::Acl::parse("Exec=omadm&Get=*").unwrap();
    acl_fix.put_node(&Uri::parse("./Vendor/Job").unwrap(), rec).unwrap();
    acl_fix.commit().unwrap();
    tree.set_exec_handler(Uri::parse("./Vendor/Job").unwrap(), Box::new(AsyncJob));
    let mut srv = FakeServer::new("42");
    let exec = Command::Exec(Exec {
        cmd_id: "3".into(),
        correlator: Some("corr-7".into()),
        items: vec![item("./Vendor/Job", Some("go"))],
        ..Exec::default()
    });
    let body = srv.xml(vec![hdr_status("1", 212), exec], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![202]);
    assert_eq!(s.pending_async(), ["corr-7".to_string()]);
    s.queue_alert(GenericAlert {
        code: AlertCode::GenericAlert,
        correlator: Some("corr-7".into()),
        source: Some("./Vendor/Job".into()),
        meta_type: "com.example.job".into(),
        format: Format::Int,
        mark: None,
        data: "200".into(),
    });
    assert!(s.pending_async().is_empty());
    let body = srv.xml(vec![hdr_status("2", 200)], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    let alert = m.body.commands.iter().find_map(|c| match c {
        Command::Alert(a) => Some(a.clone()),
        _ => None,
    });
    let alert = alert.expect("the 1226 goes out");
    assert_eq!(alert.code, Some(AlertCode::GenericAlert));
    assert_eq!(alert.correlator.as_deref(), Some("corr-7"));
    assert!(m.body.is_final);
    assert!(s.delivered_alerts().is_empty(), "not delivered before the server's Status");
    let body =
        srv.xml(vec![hdr_status(&m.header.msg_id, 200), alert_status(&m.header.msg_id, &alert.cmd_id, 200)], true);
    assert!(matches!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::Completed)));
    let delivered: Vec<_> = s.delivered_alerts().iter().map(|a| a.correlator.as_deref()).collect();
    assert_eq!(delivered, [Some("corr-7")]);
}

fn alert_status(msg_ref: &str, cmd_ref: &str, code: u16) -> Command {
    Command::Status(Status::new("9", Some(msg_ref.into()), cmd_ref, CommandName::Alert, StatusCode::from_code(code)))
}

fn generic(correlator: &str) -> GenericAlert {
    GenericAlert {
        code: AlertCode::GenericAlert,
        correlator: Some(correlator.into()),
        source: Some("./Vendor/Job".into()),
        meta_type: "com.example.job".into(),
        format: Format::Chr,
        mark: None,
        data: "200".into(),
    }
}

#[test]
fn only_generic_alerts_the_server_answered_2xx_count_as_delivered_even_after_a_challenge() {
    let mut tree = device();
    let mut acc = account(AuthScheme::Md5, None);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.alerts = vec![generic("accepted"), generic("refused"), generic("unanswered")];
    let (mut s, out) = Session::start(cfg, &mut tree).unwrap();
    let first = decode(&out);
    let ids = |m: &SyncMl| -> Vec<String> {
        m.body
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::Alert(a) if a.code == Some(AlertCode::GenericAlert) => Some(a.cmd_id.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(ids(&first).len(), 3);
    // A challenge: the server refuses the header and answers nothing else; Package 1 goes again.
    let mut srv = FakeServer::new(&first.header.session_id);
    let Command::Status(mut chal) = hdr_status(&first.header.msg_id, 401) else { unreachable!() };
    chal.chal = Some(Chal {
        meta: Meta {
            format: Some(Format::B64),
            media_type: Some("syncml:auth-md5".into()),
            next_nonce: Some(Nonce::from_bytes(b"n1".to_vec()).to_next_nonce()),
            ..Meta::default()
        },
    });
    let chal = Command::Status(chal);
    let body = srv.xml(vec![chal], true);
    let again = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    let again_ids = ids(&again);
    assert_eq!(again_ids.len(), 3, "the alerts go again with Package 1");
    let m = &again.header.msg_id;
    let body = srv
        .xml(vec![hdr_status(m, 212), alert_status(m, &again_ids[0], 200), alert_status(m, &again_ids[1], 500)], true);
    assert!(matches!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::Completed)));
    let delivered: Vec<_> = s.delivered_alerts().iter().map(|a| a.correlator.as_deref()).collect();
    assert_eq!(delivered, [Some("accepted")], "a 500 or no Status at all is not a delivery");
}

#[test]
fn atomic_all_or_nothing_507_216_and_get_inside_is_500() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let atomic = |id: &str, cmds: Vec<Command>| {
        Command::Atomic(Container { cmd_id: id.into(), no_resp: false, meta: None, commands: cmds })
    };
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            atomic("3", vec![add("4", "./A/One", "1"), add("5", "./A/Two", "2")]),
            atomic("6", vec![add("7", "./B/One", "1"), add("8", "./A/One", "dup"), add("9", "./B/Three", "3")]),
            atomic("10", vec![add("11", "./C/One", "1"), get("12", "./A/One")]),
        ],
        true,
    );
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![200]);
    assert_eq!(status_of(&m, "4"), vec![200]);
    assert_eq!(status_of(&m, "6"), vec![507]);
    assert_eq!(status_of(&m, "7"), vec![216]);
    assert_eq!(status_of(&m, "8"), vec![418]);
    assert_eq!(status_of(&m, "9"), vec![215]);
    assert_eq!(status_of(&m, "10"), vec![507]);
    assert_eq!(status_of(&m, "11"), vec![216]);
    assert_eq!(status_of(&m, "12"), vec![500]);
    assert!(results(&m).is_empty(), "no Results from inside an Atomic");
    let tx = tree.begin();
    assert!(tx.node(&Uri::parse("./A/Two").unwrap()).unwrap().is_some());
    assert!(tx.node(&Uri::parse("./B/One").unwrap()).unwrap().is_none(), "rolled back");
    assert!(tx.node(&Uri::parse("./C/One").unwrap()).unwrap().is_none(), "rolled back");
}

#[test]
fn atomic_rolled_back_after_a_shown_alert_reports_516_for_it() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            Command::Atomic(Container {
                cmd_id: "3".into(),
                no_resp: false,
                meta: None,
                commands: vec![alert("4", 1100, &["", "Installing"]), add("5", "./DevInfo", "x")],
            }),
        ],
        true,
    );
    let mut ui = ScriptedUi::new(["ok"]);
    let m = sent(reply(&mut s, &mut tree, &mut ui, &body));
    assert_eq!(status_of(&m, "3"), vec![507]);
    assert_eq!(status_of(&m, "4"), vec![516]);
    assert_eq!(status_of(&m, "5"), vec![405]);
    assert_eq!(ui.seen.len(), 1);
}

#[test]
fn confirm_no_in_atomic_rolls_back_and_in_sequence_skips_the_rest() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            Command::Atomic(Container {
                cmd_id: "3".into(),
                no_resp: false,
                meta: None,
                commands: vec![
                    add("4", "./X/One", "1"),
                    alert("5", 1101, &["DR=1", "Apply?"]),
                    add("6", "./X/Two", "2"),
                ],
            }),
            Command::Sequence(Container {
                cmd_id: "7".into(),
                no_resp: false,
                meta: None,
                commands: vec![
                    add("8", "./Y/One", "1"),
                    alert("9", 1101, &["", "Go on?"]),
                    add("10", "./Y/Two", "2"),
                    get("11", "./Y/One"),
                ],
            }),
            alert("12", 1101, &["", "Sure?"]),
        ],
        true,
    );
    let mut ui = ScriptedUi::new(["no", "no", "cancel"]);
    let m = sent(reply(&mut s, &mut tree, &mut ui, &body));
    assert_eq!(status_of(&m, "3"), vec![507]);
    assert_eq!(status_of(&m, "4"), vec![216]);
    assert_eq!(status_of(&m, "5"), vec![304]);
    assert_eq!(status_of(&m, "6"), vec![215]);
    assert_eq!(status_of(&m, "7"), vec![200]);
    assert_eq!(status_of(&m, "8"), vec![200]);
    assert_eq!(status_of(&m, "9"), vec![304]);
    assert_eq!(status_of(&m, "10"), vec![215]);
    assert_eq!(status_of(&m, "11"), vec![215]);
    assert_eq!(status_of(&m, "12"), vec![214]);
    let tx = tree.begin();
    assert!(tx.node(&Uri::parse("./X/One").unwrap()).unwrap().is_none());
    assert!(tx.node(&Uri::parse("./Y/One").unwrap()).unwrap().is_some());
    assert!(tx.node(&Uri::parse("./Y/Two").unwrap()).unwrap().is_none());
}

#[test]
fn ui_alerts_with_options_are_parsed_and_answered() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            alert("3", 1100, &["MINDT=5&MAXDT=30", "Hello"]),
            alert("4", 1102, &["MAXLEN=8&IT=N&ET=P&DR=1234", "PIN?"]),
            alert("5", 1103, &["DR=2", "Pick one", "red", "green", "blue"]),
            alert("6", 1104, &["DR=1-2", "Pick some", "a", "b", "c"]),
            alert("7", 1101, &["", "Timeout?"]),
            alert("8", 1101, &["", "Background?"]),
            alert("9", 1103, &["", "Pick", "x", "y"]),
        ],
        true,
    );
    let mut ui = ScriptedUi::new(["ok", "text:5678", "default", "choose:1,3", "timeout", "nodisplay", "choose:7"]);
    let m = sent(reply(&mut s, &mut tree, &mut ui, &body));
    assert_eq!(ui.seen[0].options.min_display_secs, Some(5));
    assert_eq!(ui.seen[0].options.max_display_secs, Some(30));
    assert_eq!(ui.seen[1].options.max_len, Some(8));
    assert_eq!(ui.seen[1].options.input_type, omadm_client::ui::InputType::Numeric);
    assert_eq!(ui.seen[1].options.echo_type, omadm_client::ui::EchoType::Password);
    assert_eq!(ui.seen[2].choices, vec!["red", "green", "blue"]);
    assert_eq!(status_of(&m, "3"), vec![200]);
    let text = status_cmd(&m, "4");
    assert_eq!((text.code.code(), text.items[0].data.clone()), (200, Some(Data::from("5678"))));
    let single = status_cmd(&m, "5");
    assert_eq!(single.items.iter().map(|i| i.data.clone().unwrap()).collect::<Vec<_>>(), vec![Data::from("2")]);
    let multi = status_cmd(&m, "6");
    assert_eq!(
        multi.items.iter().map(|i| i.data.clone().unwrap()).collect::<Vec<_>>(),
        vec![Data::from("1"), Data::from("3")]
    );
    assert_eq!(status_of(&m, "7"), vec![408]);
    assert_eq!(status_of(&m, "8"), vec![416]);
    assert!(status_cmd(&m, "9").items.is_empty(), "an out-of-range choice is not reported");
}

/// A server's default answer (DR) is the server's text: a range reaching far past the choices is
/// clamped to them, not expanded (a range up to `u64::MAX` overflowed the vector's capacity and
/// panicked; `1-4000000000` tried to allocate some 32 GB).
#[test]
fn a_default_choice_range_far_past_the_choices_is_clamped_to_them() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(
        vec![
            hdr_status("1", 212),
            alert("3", 1104, &["DR=1-18446744073709551615", "Pick some", "a", "b", "c"]),
            alert("4", 1104, &["DR=2-4000000000", "Pick some", "a", "b", "c"]),
            alert("5", 1104, &["DR=3,1-2,2-3,99999999999999999999,0-1", "Pick some", "a", "b", "c"]),
            alert("6", 1103, &["DR=18446744073709551615", "Pick one", "a", "b"]),
        ],
        true,
    );
    let mut ui = ScriptedUi::new(Vec::<String>::new());
    let m = sent(reply(&mut s, &mut tree, &mut ui, &body));
    let chosen = |cmd_ref: &str| -> Vec<Data> {
        let st = status_cmd(&m, cmd_ref);
        assert_eq!(st.code.code(), 200, "{cmd_ref}");
        st.items.iter().map(|i| i.data.clone().unwrap()).collect()
    };
    assert_eq!(chosen("3"), vec![Data::from("1"), Data::from("2"), Data::from("3")]);
    assert_eq!(chosen("4"), vec![Data::from("2"), Data::from("3")]);
    assert_eq!(chosen("5"), vec![Data::from("3"), Data::from("1"), Data::from("2")], "each choice once");
    assert!(chosen("6").is_empty(), "a default that is no choice is not reported");
}

#[test]
fn a_device_without_ui_answers_406_and_a_background_session_416() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212), alert("3", 1101, &["", "Reboot?"])], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "3"), vec![406]);

    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, None);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.trigger = Trigger::ServerInitiated { session_id: SessionId(7), ui_mode: UiMode::Background };
    let (mut s, _) = Session::start(cfg, &mut tree).unwrap();
    let mut srv = FakeServer::new("7");
    let body = srv.xml(vec![hdr_status("1", 212), alert("3", 1100, &["", "Hi"])], true);
    let mut ui = ScriptedUi::new(["ok"]);
    let m = sent(reply(&mut s, &mut tree, &mut ui, &body));
    assert_eq!(status_of(&m, "3"), vec![416]);
    assert!(ui.seen.is_empty(), "nothing shown in a background session");
}

#[test]
fn server_abort_1223_ends_without_an_answer_and_client_abort_is_acknowledged() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212), alert("3", 1223, &[])], true);
    assert_eq!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::AbortedByServer));

    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let out = s.abort(&mut tree).unwrap();
    let m = decode(&out);
    assert!(m.body.is_final);
    assert!(m.body.commands.iter().any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::SessionAbort))));
    let body = srv.xml(vec![hdr_status("2", 212)], true);
    assert_eq!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::AbortedByClient));
}

#[test]
fn a_server_message_without_final_gets_alert_1222_and_no_final() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212), get("3", "./DevInfo/Man")], false);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert!(!m.body.is_final, "never a Final before the server's package is complete");
    assert!(matches!(m.body.commands.last(), Some(Command::Alert(a)) if a.code == Some(AlertCode::NextMessage)));
    assert_eq!(status_of(&m, "3"), vec![200]);
    let body = srv.xml(vec![hdr_status("2", 200), get("3", "./DevInfo/Mod")], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert!(m.body.is_final);
    assert_eq!(results(&m)[0].items[0].data, Some(Data::from("sim")));
}

#[test]
fn wrong_session_id_and_garbage_are_errors_not_panics() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("99");
    let body = srv.xml(vec![hdr_status("1", 212)], true);
    assert!(s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).is_err());
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    assert!(s.handle_reply(Incoming::body(b"\x07garbage"), &mut tree, &mut NoUi).is_err());
    assert!(s.handle_reply(Incoming::body(b"<SyncML><SyncHdr>"), &mut tree, &mut NoUi).is_err());
}

#[test]
fn wbxml_sessions_send_wbxml_and_read_either() {
    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, None);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.encoding = Encoding::Wbxml;
    cfg.session_id = "5".into();
    let (mut s, out) = Session::start(cfg, &mut tree).unwrap();
    assert_eq!(Encoding::sniff(&out.body), Some(Encoding::Wbxml));
    let mut srv = FakeServer::new("5");
    let msg = srv.message(vec![hdr_status("1", 212), get("3", "./DevInfo/DevId")], true);
    let body = omadm_proto::wbxml::encode(&msg, &Default::default()).unwrap();
    let Action::Send(out) = reply(&mut s, &mut tree, &mut NoUi, &body) else { panic!() };
    assert_eq!(Encoding::sniff(&out.body), Some(Encoding::Wbxml));
    assert_eq!(status_of(&decode(&out), "3"), vec![200]);
}

#[test]
fn a_session_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Session>();
}
