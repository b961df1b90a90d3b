//! Authentication in both directions for every scheme: the client proves itself (CLCRED) to a
//! scripted server that uses omadm-security's Verifier, and checks the server (SRVCRED) with its
//! own; 401/407 challenges, 212, retries of Package 1, and NextNonce stored back into DMAcc.

mod common;

use common::decode;
use common::*;
use omadm_client::ui::NoUi;
use omadm_client::{Account, Action, Incoming, Outcome, Outgoing};
use omadm_proto::*;
use omadm_security::{
    AccountCredentials, AuthScheme, Credential, HashAlgorithm, HmacHeader, Nonce, NonceLedger, OsNonceSource,
    Presented, Verdict, Verifier,
};
use omadm_tree::{MemStore, Tree};

fn presented_check(v: &mut Verifier<'_>, out: &Outgoing) -> Verdict {
    let m = decode(out);
    let cred = m.header.cred.as_ref().map(|c| {
        let meta = c.meta.as_ref();
        Credential::from_meta(
            meta.and_then(|m| m.media_type.as_deref()),
            meta.and_then(|m| m.format.as_ref().map(|f| f.as_str())),
            &c.data,
        )
        .unwrap()
    });
    let presented = match (&cred, &out.hmac) {
        (Some(c), _) => Presented::Cred(c),
        (None, Some(h)) => Presented::Hmac { header: h, body: &out.body },
        (None, None) => Presented::Nothing,
    };
    v.check(presented).unwrap()
}

fn hdr_from(verdict: &Verdict, msg_ref: &str) -> Command {
    let Command::Status(mut st) = hdr_status(msg_ref, verdict.status.code()) else { unreachable!() };
    st.chal = verdict.challenge.as_ref().map(|c| Chal {
        meta: Meta {
            format: Some(Format::B64),
            media_type: Some(c.meta_type().to_string()),
            next_nonce: c.next_nonce_text(),
            ..Meta::default()
        },
    });
    Command::Status(st)
}

fn stored_nonce(tree: &mut Tree<MemStore>, level: &str) -> Vec<u8> {
    let tx = tree.begin();
    for a in ["1", "2"] {
        let l = tx.node(&omadm_tree::Uri::parse(&format!("./DMAcc/omadm/AppAuth/{a}/AAuthLevel")).unwrap()).unwrap();
        if l.is_some_and(|r| r.value == level.as_bytes()) {
            let d = tx.node(&omadm_tree::Uri::parse(&format!("./DMAcc/omadm/AppAuth/{a}/AAuthData")).unwrap());
            return d.unwrap().unwrap().value;
        }
    }
    panic!("no {level}")
}

#[test]
fn client_credentials_for_every_scheme_with_challenge_retry_and_nonce_stored() {
    for scheme in [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Sha256, AuthScheme::Mac] {
        let (mut tree, mut s, out) = started(scheme.clone(), None);
        let mut source = OsNonceSource;
        let start_nonce = Nonce::from_bytes(b"server-picked-1".to_vec());
        let mut v = Verifier::new(
            AccountCredentials::new(DEV_ID, "client-secret"),
            scheme.clone(),
            NonceLedger::new(start_nonce),
            &mut source,
        );
        let mut srv = FakeServer::new("42");
        let first = presented_check(&mut v, &out);
        let mut out = out;
        let mut ok = first.clone();
        if scheme.uses_nonce() {
            // The client had no nonce yet: refused with a fresh challenge, and it resends Package 1.
            assert_eq!(first.status.code(), 401, "{scheme}");
            let body = srv.xml(vec![hdr_from(&first, "1")], true);
            let Action::Send(retry) = reply(&mut s, &mut tree, &mut NoUi, &body) else { panic!() };
            let m = decode(&retry);
            assert_eq!(m.header.session_id, "42", "the retry keeps the SessionID");
            assert!(m
                .body
                .commands
                .iter()
                .any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::ClientInitiatedMgmt))));
            assert!(m.body.commands.iter().any(|c| matches!(c, Command::Replace(_))), "Package 1 again");
            out = retry;
            ok = presented_check(&mut v, &out);
        }
        assert!(ok.accepted(), "{scheme}: {:?}", ok.failure);
        let msg_ref = decode(&out).header.msg_id;
        let body = srv.xml(vec![hdr_from(&ok, &msg_ref), get("3", "./DevInfo/Man")], true);
        let Action::Send(out) = reply(&mut s, &mut tree, &mut NoUi, &body) else { panic!() };
        let m = decode(&out);
        assert_eq!(status_of(&m, "3"), vec![200]);
        let last = if scheme == AuthScheme::Mac {
            assert!(out.hmac.is_some(), "HMAC on every message");
            let verdict = presented_check(&mut v, &out);
            assert!(verdict.accepted());
            hdr_from(&verdict, &m.header.msg_id)
        } else {
            assert!(m.header.cred.is_none(), "{scheme}: no credentials after 212");
            hdr_status(&m.header.msg_id, 200)
        };
        let body = srv.xml(vec![last], true);
        assert_eq!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::Completed));
        if scheme.uses_nonce() {
            assert_eq!(
                stored_nonce(&mut tree, "CLCRED"),
                v.ledger().current().as_bytes(),
                "{scheme}: NextNonce stored"
            );
            let acc = Account::load(&mut tree, "omadm").unwrap();
            assert_eq!(acc.client.nonce.as_bytes(), v.ledger().current().as_bytes());
        }
    }
}

#[test]
fn a_407_challenge_switches_the_scheme_and_resends_package1() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, None);
    let mut srv = FakeServer::new("42");
    let Command::Status(mut st) = hdr_status("1", 407) else { unreachable!() };
    st.chal = Some(Chal {
        meta: Meta {
            format: Some(Format::B64),
            media_type: Some("syncml:auth-md5".into()),
            next_nonce: Some(Nonce::from_bytes(b"12345".to_vec()).to_next_nonce()),
            ..Meta::default()
        },
    });
    let body = srv.xml(vec![Command::Status(st)], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    let cred = m.header.cred.unwrap();
    assert_eq!(cred.meta.unwrap().media_type.as_deref(), Some("syncml:auth-md5"));
    let expected = Credential::compute(
        &AuthScheme::Md5,
        &AccountCredentials::new(DEV_ID, "client-secret"),
        &Nonce::from_bytes(b"12345".to_vec()),
    )
    .unwrap();
    assert_eq!(cred.data, expected.data);
}

#[test]
fn refused_for_good_is_an_error() {
    let (mut tree, mut s, _) = started(AuthScheme::Md5, None);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 401)], true);
    assert!(
        s.handle_reply(Incoming::body(&body), &mut tree, &mut NoUi).is_err(),
        "401 without a Chal ends the session"
    );
}

/// The server's credential for the scheme, made with `nonce`, on a message body.
fn server_proof(scheme: &AuthScheme, secret: &str, nonce: &Nonce) -> Option<Cred> {
    if *scheme == AuthScheme::Mac {
        return None;
    }
    let c = Credential::compute(scheme, &AccountCredentials::new("omadm", secret), nonce).unwrap();
    Some(Cred {
        meta: Some(Meta { format: Some(Format::B64), media_type: Some(c.scheme.as_str().into()), ..Meta::default() }),
        data: c.data,
    })
}

fn chal_nonce(m: &SyncMl) -> Nonce {
    let st = status_cmd(m, "0");
    Nonce::from_next_nonce(st.chal.as_ref().and_then(|c| c.meta.next_nonce.as_deref()).unwrap_or(""))
}

#[test]
fn server_credentials_for_every_scheme_missing_wrong_then_right() {
    for scheme in [AuthScheme::Basic, AuthScheme::Md5, AuthScheme::Sha256, AuthScheme::Mac] {
        let (mut tree, mut s, _) = started(AuthScheme::Basic, Some(scheme.clone()));
        let mut srv = FakeServer::new("42");
        // 1. No server credentials: 407 with a Chal, and the Get is not executed.
        let body = srv.xml(vec![hdr_status("1", 212), get("3", "./DevInfo/Man")], true);
        let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
        assert_eq!(status_of(&m, "0"), vec![407], "{scheme}");
        assert_eq!(status_of(&m, "3"), vec![407], "{scheme}: not executed");
        assert!(results(&m).is_empty());
        let nonce = chal_nonce(&m);
        // 2. A wrong server credential: 401 with a fresh nonce.
        let (body, hmac) = signed(&mut srv, &scheme, "wrong-secret", &nonce, &m.header.msg_id);
        let m = sent(
            s.handle_reply(Incoming { body: &body, content_type: None, hmac: hmac.as_deref() }, &mut tree, &mut NoUi)
                .unwrap(),
        );
        assert_eq!(status_of(&m, "0"), vec![401], "{scheme}: wrong server credential");
        assert_eq!(status_of(&m, "3"), vec![401]);
        let nonce2 = chal_nonce(&m);
        if scheme.uses_nonce() {
            assert_ne!(nonce2, nonce, "{scheme}: a fresh nonce after a failure");
        }
        // 3. The right one: accepted, the Get runs.
        let (body, hmac) = signed(&mut srv, &scheme, "server-secret", &nonce2, &m.header.msg_id);
        let m = sent(
            s.handle_reply(Incoming { body: &body, content_type: None, hmac: hmac.as_deref() }, &mut tree, &mut NoUi)
                .unwrap(),
        );
        let expected = if matches!(scheme, AuthScheme::Mac) { 200 } else { 212 };
        assert_eq!(status_of(&m, "0"), vec![expected], "{scheme}");
        assert_eq!(status_of(&m, "3"), vec![200], "{scheme}");
        let next = chal_nonce(&m);
        let body = srv.xml(vec![hdr_status(&m.header.msg_id, 200)], true);
        let hmac = (scheme == AuthScheme::Mac).then(|| {
            HmacHeader::compute(HashAlgorithm::Md5, &AccountCredentials::new("omadm", "server-secret"), &next, &body)
                .to_value()
        });
        let end =
            s.handle_reply(Incoming { body: &body, content_type: None, hmac: hmac.as_deref() }, &mut tree, &mut NoUi);
        assert_eq!(end.unwrap(), Action::Finished(Outcome::Completed), "{scheme}");
        if scheme.uses_nonce() {
            let stored = stored_nonce(&mut tree, "SRVCRED");
            assert!(!stored.is_empty(), "{scheme}: the nonce for the server's next session is stored");
        }
    }
}

fn signed(
    srv: &mut FakeServer,
    scheme: &AuthScheme,
    secret: &str,
    nonce: &Nonce,
    msg_ref: &str,
) -> (Vec<u8>, Option<String>) {
    srv.cred = server_proof(scheme, secret, nonce);
    let body = srv.xml(vec![hdr_status(msg_ref, 212), get("3", "./DevInfo/Man")], true);
    srv.cred = None;
    let hmac = (*scheme == AuthScheme::Mac).then(|| {
        HmacHeader::compute(HashAlgorithm::Md5, &AccountCredentials::new("omadm", secret), nonce, &body).to_value()
    });
    (body, hmac)
}

#[test]
fn a_server_that_keeps_failing_ends_the_session() {
    let (mut tree, mut s, _) = started(AuthScheme::Basic, Some(AuthScheme::Md5));
    let mut srv = FakeServer::new("42");
    let mut msg_ref = "1".to_string();
    let mut nonce = Nonce::from_bytes(vec![]);
    for round in 0..2 {
        let (body, _) = signed(&mut srv, &AuthScheme::Md5, "wrong", &nonce, &msg_ref);
        let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
        assert_eq!(status_of(&m, "0"), vec![401], "round {round}");
        msg_ref = m.header.msg_id.clone();
        nonce = chal_nonce(&m);
    }
    let body = srv.xml(vec![hdr_status(&msg_ref, 200)], true);
    assert_eq!(reply(&mut s, &mut tree, &mut NoUi, &body), Action::Finished(Outcome::ServerNotAuthenticated));
}

#[test]
fn hmac_with_sha256_signs_with_sha256_and_is_stored_as_hmac_sha256() {
    use omadm_security::{HashAlgorithm, HmacHeader};
    let mut tree = device();
    let mut acc = account(AuthScheme::Mac, None);
    acc.client = acc.client.with_hmac_algorithm(HashAlgorithm::Sha256);
    acc.install(&mut tree, "omadm").unwrap();
    let mut text = |u: &str| {
        String::from_utf8(tree.begin().node(&omadm_tree::Uri::parse(u).unwrap()).unwrap().unwrap().value).unwrap()
    };
    assert_eq!(text("./DMAcc/omadm/AAuthPref"), "HMAC-SHA256");
    assert_eq!(text("./DMAcc/omadm/AppAuth/1/AAuthType"), "HMAC-SHA256");
    let loaded = omadm_client::Account::load(&mut tree, "omadm").unwrap();
    assert_eq!((loaded.client.scheme.clone(), loaded.client.hmac_algorithm), (AuthScheme::Mac, HashAlgorithm::Sha256));

    let mut cfg = omadm_client::SessionConfig::new(DEV_ID, loaded);
    cfg.session_id = "42".into();
    let (_, out) = omadm_client::Session::start(cfg, &mut tree).unwrap();
    let header = HmacHeader::parse(out.hmac.as_deref().expect("an x-syncml-hmac header")).unwrap();
    assert_eq!(header.algorithm, HashAlgorithm::Sha256, "{:?}", out.hmac);
}

/// A session whose account requires the server's Basic credentials, with a FUMO 1226 result in
/// Package 1; returns the 1226's CmdID.
fn with_generic_alert(tree: &mut Tree<MemStore>) -> (omadm_client::Session, String) {
    let mut acc = account(AuthScheme::Basic, Some(AuthScheme::Basic));
    acc.install(tree, "omadm").unwrap();
    let mut cfg = omadm_client::SessionConfig::new(DEV_ID, acc);
    cfg.session_id = "42".into();
    cfg.alerts.push(omadm_client::GenericAlert {
        code: AlertCode::GenericAlert,
        correlator: Some("fumo-1".into()),
        source: Some("./FwUpdate/x".into()),
        meta_type: "org.openmobilealliance.dm.firmwareupdate.update".into(),
        format: Format::Int,
        mark: None,
        data: "200".into(),
    });
    let (s, out) = omadm_client::Session::start(cfg, tree).unwrap();
    let id = decode(&out)
        .body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Alert(a) if a.code == Some(AlertCode::GenericAlert) => Some(a.cmd_id.clone()),
            _ => None,
        })
        .expect("the 1226 goes in Package 1");
    (s, id)
}

/// DM Security (digest §4 "On failure"): a server message that fails authentication is answered
/// with Statuses only (and the challenge); nothing in it is acted on. Its Status to our 1226 does
/// not deliver the alert, it does not end the session, and its MaxMsgSize and MaxObjSize are not
/// adopted. Its RespURI is: the challenge exchange goes on in the server's session.
#[test]
fn an_unauthenticated_server_message_acts_on_nothing() {
    let mut tree = device();
    let (mut s, alert_id) = with_generic_alert(&mut tree);
    let mut srv = FakeServer::new("42");
    let ack = Command::Status(Status::new("2", Some("1".into()), &alert_id, CommandName::Alert, StatusCode::Ok));
    let body = srv.xml(vec![hdr_status("1", 212), ack], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "0"), vec![407], "the server is challenged");
    assert!(status_cmd(&m, "0").chal.is_some());
    assert!(s.delivered_alerts().is_empty(), "an unauthenticated Status delivers no alert");

    // Its header: a RespURI elsewhere and sizes that would change what we send.
    let mut tree = device();
    let (mut s, _) = with_generic_alert(&mut tree);
    let mut srv = FakeServer::new("42");
    srv.resp_uri = Some("http://elsewhere.invalid/dm".into());
    srv.max_obj_size = Some(4);
    srv.max_msg_size = Some(100_000);
    let body = srv.xml(vec![hdr_status("1", 212)], true);
    let out = match reply(&mut s, &mut tree, &mut NoUi, &body) {
        Action::Send(out) => out,
        other => panic!("the challenge must be sent, got {other:?}"),
    };
    assert_eq!(out.url, "http://elsewhere.invalid/dm", "the challenge goes to the server's session URL");
    let m = decode(&out);
    assert_eq!(status_of(&m, "0"), vec![407]);
    // Now authenticated, without a header Meta: our MaxObjSize-free answer to a Get.
    srv.resp_uri = None;
    srv.max_obj_size = None;
    srv.max_msg_size = None;
    srv.cred = server_proof(&AuthScheme::Basic, "server-secret", &Nonce::from_bytes(vec![]));
    let body = srv.xml(vec![hdr_status(&m.header.msg_id, 212), get("3", "./DevInfo/Man")], true);
    let out = match reply(&mut s, &mut tree, &mut NoUi, &body) {
        Action::Send(out) => out,
        other => panic!("{other:?}"),
    };
    assert_eq!(out.url, "http://elsewhere.invalid/dm", "the session goes on where the server moved it");
    let m = decode(&out);
    assert_eq!(status_of(&m, "0"), vec![212]);
    assert_eq!(status_of(&m, "3"), vec![200], "no MaxObjSize from an unauthenticated server");
}

/// The same with a header MaxMsgSize: one too small for our answers from an unauthenticated
/// server does not cut them.
#[test]
fn an_unauthenticated_servers_max_msg_size_is_not_adopted() {
    let mut tree = device();
    let (mut s, _) = with_generic_alert(&mut tree);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212)], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    srv.max_msg_size = Some(400);
    let body = srv.xml(vec![hdr_status(&m.header.msg_id, 212)], true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "0"), vec![407]);
    srv.max_msg_size = None;
    srv.cred = server_proof(&AuthScheme::Basic, "server-secret", &Nonce::from_bytes(vec![]));
    let gets: Vec<Command> = std::iter::once(hdr_status(&m.header.msg_id, 212))
        .chain((3..9).map(|i| get(&i.to_string(), "./DevInfo/DevId")))
        .collect();
    let body = srv.xml(gets, true);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert!(m.body.is_final, "the answers go whole in one message");
    assert_eq!(results(&m).len(), 6);
}

/// A client must not Final before the server's package is Finaled (digest §10): the challenge to
/// an unauthenticated server message that continues its package asks for the rest with 1222.
#[test]
fn the_challenge_to_a_message_of_an_unfinished_package_asks_for_the_rest() {
    let mut tree = device();
    let (mut s, _) = with_generic_alert(&mut tree);
    let mut srv = FakeServer::new("42");
    let body = srv.xml(vec![hdr_status("1", 212)], false);
    let m = sent(reply(&mut s, &mut tree, &mut NoUi, &body));
    assert_eq!(status_of(&m, "0"), vec![407], "the server is challenged");
    assert!(!m.body.is_final, "no Final before the server's package is done");
    assert!(m.body.commands.iter().any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::NextMessage))));
}
