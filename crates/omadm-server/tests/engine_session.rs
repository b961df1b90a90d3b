//! The session engine driven by scripted client messages built with omadm-proto and the security
//! crate's Prover: authentication in every scheme, Package 1, jobs, large objects both ways,
//! abort, duplicates, out-of-order messages, timeouts, events and server credentials.

use omadm_proto::*;
use omadm_security::nonce::NonceError;
use omadm_security::{AuthScheme, Challenge, Nonce, NonceSource, Prover};
use omadm_server::engine::{Change, Engine, EngineConfig, Enrolment, Exchange, Outcome, SessionLookup, SessionState};
use omadm_server::model::{AccountAuth, AuthKind, Device, Event, Job, JobCommand, JobState, Operation, UiAlert};

const URL: &str = "http://127.0.0.1:8080/dm";
const DEV: &str = "IMEI:490154203237518";

/// Deterministic nonces 1, 2, 3, ... (16 bytes each).
struct Counter(u8);

impl NonceSource for Counter {
    fn next_nonce(&mut self) -> Result<Nonce, NonceError> {
        self.0 = self.0.wrapping_add(1);
        Ok(Nonce::from_bytes(vec![self.0; 16]))
    }
}

fn nonce(b: u8) -> Nonce {
    Nonce::from_bytes(vec![b; 16])
}

fn device(kind: AuthKind) -> Device {
    Device {
        dev_id: DEV.into(),
        server_id: "omadm".into(),
        client: AccountAuth {
            kind,
            user: DEV.into(),
            secret: "devsecret".into(),
            nonce: nonce(1).to_next_nonce(),
            spent: Vec::new(),
        },
        server: AccountAuth {
            kind: AuthKind::Md5,
            user: "omadm".into(),
            secret: String::new(),
            nonce: String::new(),
            spent: Vec::new(),
        },
        devinfo: Default::default(),
        created_ms: 0,
        last_session_ms: None,
    }
}

fn job(id: i64, commands: Vec<JobCommand>) -> Job {
    Job { id, dev_id: DEV.into(), state: JobState::Queued, commands, created_ms: 0, updated_ms: 0 }
}

fn get(uri: &str) -> JobCommand {
    JobCommand::new(Operation::Get, Some(uri.into()))
}

fn replace(uri: &str, value: &str) -> JobCommand {
    JobCommand { data: Some(value.into()), ..JobCommand::new(Operation::Replace, Some(uri.into())) }
}

/// The server side of a test: the engine plus an in-memory copy of what a store would hold.
struct Harness {
    engine: Engine,
    nonces: Counter,
    device: Option<Device>,
    jobs: Vec<Job>,
    session: Option<SessionState>,
    events: Vec<Event>,
    now: i64,
    all_changes: Vec<Change>,
}

impl Harness {
    fn new(device: Option<Device>, jobs: Vec<Job>) -> Harness {
        Harness::with_config(EngineConfig::new(URL), device, jobs)
    }

    fn with_config(config: EngineConfig, device: Option<Device>, jobs: Vec<Job>) -> Harness {
        Harness {
            engine: Engine::new(config),
            nonces: Counter(100),
            device,
            jobs,
            session: None,
            events: Vec::new(),
            now: 1_000_000,
            all_changes: Vec::new(),
        }
    }

    /// Sends one message (as bytes in `encoding`); `use_session` says whether it goes to RespURI.
    fn send_bytes(&mut self, body: &[u8], hmac: Option<&str>, use_session: bool) -> (Outcome, SyncMl) {
        let (message, encoding) = decode(body, &Limits::DEFAULT).expect("client message decodes");
        let session = match (&self.session, use_session) {
            (_, false) => SessionLookup::New,
            (Some(s), true) => SessionLookup::Found(Box::new(s.clone())),
            (None, true) => SessionLookup::Missing,
        };
        let pending = self.jobs.iter().filter(|j| matches!(j.state, JobState::Queued | JobState::Running)).cloned();
        let ex = Exchange {
            message: &message,
            body,
            encoding,
            hmac,
            session,
            device: self.device.clone(),
            jobs: pending.collect(),
            now_ms: self.now,
            new_token: "token1".into(),
        };
        let outcome = self.engine.handle(ex, &mut self.nonces).expect("engine answers");
        for change in &outcome.changes {
            self.apply(change.clone());
        }
        self.all_changes.extend(outcome.changes.clone());
        let (reply, reply_encoding) = decode(&outcome.body, &Limits::DEFAULT).expect("reply decodes");
        assert_eq!(reply_encoding, encoding, "the reply uses the request's encoding");
        (outcome, reply)
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::DeviceEnrolled(d) => self.device = Some(d),
            Change::ClientNonces { current, spent, .. } => {
                let d = self.device.as_mut().expect("device");
                d.client.nonce = current;
                d.client.spent = spent;
            }
            Change::ServerNonce { nonce, .. } => self.device.as_mut().expect("device").server.nonce = nonce,
            Change::DevInfo { values, .. } => self.device.as_mut().expect("device").devinfo.extend(values),
            Change::Tree { .. } => {}
            Change::Event(e) => self.events.push(e),
            Change::Job(j) => {
                let slot = self.jobs.iter_mut().find(|x| x.id == j.id).expect("job");
                *slot = j;
            }
            Change::JobState { id, state, updated_ms } => {
                let slot = self.jobs.iter_mut().find(|x| x.id == id).expect("job");
                slot.state = state;
                slot.updated_ms = updated_ms;
            }
            Change::SaveSession(s) => self.session = Some(s),
            Change::EndSession { .. } => self.session = None,
            Change::SessionCompleted { at_ms, .. } => {
                self.device.as_mut().expect("device").last_session_ms = Some(at_ms)
            }
        }
    }
}

/// A scripted device: builds its messages by hand, authenticating with the security crate's Prover.
struct Client {
    prover: Prover,
    msg: u32,
    max_msg_size: u64,
    /// The MaxObjSize the device declares, if any.
    max_obj_size: Option<u64>,
    encoding: Encoding,
}

impl Client {
    fn new(scheme: AuthScheme, secret: &str, stored_nonce: Nonce) -> Client {
        let account = omadm_security::AccountCredentials::new(DEV, secret);
        Client {
            prover: Prover::new(account, scheme, stored_nonce),
            msg: 0,
            max_msg_size: 16384,
            max_obj_size: None,
            encoding: Encoding::Xml,
        }
    }

    fn header(&mut self) -> SyncHdr {
        self.msg += 1;
        let cred = self.prover.credential().expect("cred").map(|c| Cred {
            meta: Some(Meta {
                format: Some(Format::B64),
                media_type: Some(c.scheme.as_str().to_string()),
                ..Meta::default()
            }),
            data: c.data,
        });
        SyncHdr {
            ver_dtd: VerDtd::V1_2,
            ver_proto: VerProto::Dm1_2,
            session_id: "1A2B".into(),
            msg_id: self.msg.to_string(),
            target: Location::new(URL),
            source: Location { loc_uri: DEV.into(), loc_name: Some(DEV.into()) },
            resp_uri: None,
            no_resp: false,
            cred,
            meta: Some(Meta {
                max_msg_size: Some(self.max_msg_size),
                max_obj_size: self.max_obj_size,
                ..Meta::default()
            }),
        }
    }

    fn encode(&self, message: &SyncMl) -> Vec<u8> {
        match self.encoding {
            Encoding::Xml => xml::encode(message, &xml::XmlOptions::default()),
            Encoding::Wbxml => wbxml::encode(message, &wbxml::WbxmlOptions::default()).expect("encode"),
        }
    }

    /// Package 1: Alert 1201 and DevInfo.
    fn package1(&mut self, extra: Vec<Command>) -> (Vec<u8>, Option<String>) {
        let mut commands = vec![
            Command::Alert(Alert {
                cmd_id: "1".into(),
                no_resp: false,
                cred: None,
                code: Some(AlertCode::ClientInitiatedMgmt),
                correlator: None,
                items: Vec::new(),
            }),
            Command::Replace(ItemCommand {
                cmd_id: "2".into(),
                items: ["DevId", "Man", "Mod", "DmV", "Lang"]
                    .iter()
                    .zip([DEV, "omadm", "test", "1.2", "en"])
                    .map(|(leaf, value)| Item {
                        source: Some(Location::new(format!("./DevInfo/{leaf}"))),
                        data: Some(Data::Text(value.into())),
                        ..Item::default()
                    })
                    .collect(),
                ..ItemCommand::default()
            }),
        ];
        commands.extend(extra);
        self.message(commands, true)
    }

    fn message(&mut self, commands: Vec<Command>, is_final: bool) -> (Vec<u8>, Option<String>) {
        let message = SyncMl { header: self.header(), body: SyncBody { commands, is_final } };
        let body = self.encode(&message);
        let hmac = self.prover.hmac_header(&body).map(|h| h.to_value());
        (body, hmac)
    }

    /// Reads the server's header Status the way a client does.
    fn take_header_status(&mut self, reply: &SyncMl) -> u16 {
        let st = header_status(reply);
        let chal =
            st.chal.as_ref().map(|c| Challenge::from_meta(c.meta.media_type.as_deref(), c.meta.next_nonce.as_deref()));
        self.prover.on_status(st.code.code(), chal.as_ref()).expect("prover accepts the status");
        st.code.code()
    }
}

fn header_status(reply: &SyncMl) -> &Status {
    match &reply.body.commands[0] {
        Command::Status(st) if st.cmd == CommandName::SyncHdr => st,
        other => panic!("first command is not the header Status: {other:?}"),
    }
}

fn status_of(reply: &SyncMl, cmd_ref: &str) -> StatusCode {
    reply
        .body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Status(st) if st.cmd_ref == cmd_ref && st.cmd != CommandName::SyncHdr => Some(st.code),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Status for command {cmd_ref}"))
}

/// The management commands (not Status/Alert 1222) of a reply.
fn management(reply: &SyncMl) -> Vec<&Command> {
    reply.body.commands.iter().filter(|c| !matches!(c, Command::Status(_))).collect()
}

fn ok_status(reply: &SyncMl, cmd: &Command, code: StatusCode) -> Command {
    Command::Status(Status::new("1", Some(reply.header.msg_id.clone()), cmd.cmd_id(), cmd.name(), code))
}

fn header_ok(reply: &SyncMl) -> Command {
    Command::Status(Status::new("1", Some(reply.header.msg_id.clone()), "0", CommandName::SyncHdr, StatusCode::Ok))
}

fn results(reply: &SyncMl, get: &Command, uri: &str, value: &str) -> Command {
    Command::Results(Results {
        cmd_id: "9".into(),
        msg_ref: Some(reply.header.msg_id.clone()),
        cmd_ref: get.cmd_id().into(),
        items: vec![Item { source: Some(Location::new(uri)), data: Some(Data::Text(value.into())), ..Item::default() }],
        ..Results::default()
    })
}

#[test]
fn md5_session_runs_a_get_and_a_replace_and_ends() {
    let jobs = vec![job(7, vec![get("./DevDetail/FwV"), replace("./Vendor/Color", "blue")])];
    let mut h = Harness::new(Some(device(AuthKind::Md5)), jobs);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    assert_eq!(c.take_header_status(&p2), 212);
    assert_eq!(
        header_status(&p2).chal.as_ref().and_then(|c| c.meta.next_nonce.clone()),
        Some(nonce(101).to_next_nonce())
    );
    assert_eq!(p2.header.resp_uri.as_deref(), Some("http://127.0.0.1:8080/dm?session=token1"));
    assert_eq!(status_of(&p2, "1"), StatusCode::Ok);
    assert_eq!(status_of(&p2, "2"), StatusCode::Ok);
    assert!(p2.body.is_final);
    let cmds = management(&p2);
    assert_eq!(cmds.len(), 2);
    assert!(matches!(cmds[0], Command::Get(_)));
    assert!(matches!(cmds[1], Command::Replace(_)));
    let device = h.device.clone().expect("device");
    assert_eq!(device.devinfo.get("Man").map(String::as_str), Some("omadm"));
    assert_eq!(device.client.nonce, nonce(101).to_next_nonce(), "the next session's nonce is stored");
    assert_eq!(h.jobs[0].state, JobState::Running);

    let (p3, _) = c.message(
        vec![
            header_ok(&p2),
            ok_status(&p2, cmds[0], StatusCode::Ok),
            results(&p2, cmds[0], "./DevDetail/FwV", "1.0.7"),
            ok_status(&p2, cmds[1], StatusCode::Ok),
        ],
        true,
    );
    let (_, p4) = h.send_bytes(&p3, None, true);
    assert!(management(&p4).is_empty(), "nothing left to send");
    assert!(p4.body.is_final);
    assert_eq!(p4.header.resp_uri, None);
    assert!(h.session.is_none(), "the session ended");
    let job = &h.jobs[0];
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.commands[0].status, Some(200));
    assert_eq!(job.commands[0].results[0].data, "1.0.7");
    assert_eq!(job.commands[0].results[0].uri, "./DevDetail/FwV");
    assert_eq!(job.commands[1].status, Some(200));
    assert_eq!(h.device.as_ref().and_then(|d| d.last_session_ms), Some(h.now));
}

#[test]
fn missing_credentials_are_challenged_then_accepted() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    // A first message without Cred: 407 with the stored nonce.
    let message = SyncMl {
        header: SyncHdr { cred: None, ..c.header() },
        body: SyncBody { commands: Vec::new(), is_final: true },
    };
    let (_, reply) = h.send_bytes(&c.encode(&message), None, false);
    let st = header_status(&reply);
    assert_eq!(st.code, StatusCode::MissingCredentials);
    assert_eq!(st.chal.as_ref().and_then(|c| c.meta.next_nonce.clone()), Some(nonce(1).to_next_nonce()));
    c.take_header_status(&reply);
    let (p1, _) = c.package1(Vec::new());
    let (_, reply) = h.send_bytes(&p1, None, true);
    assert_eq!(header_status(&reply).code, StatusCode::AuthenticationAccepted);
    assert!(h.session.is_none(), "no jobs: the session ends after Package 2");
}

#[test]
fn wrong_password_is_rechallenged_then_the_session_ends_and_nothing_is_stored() {
    let original = device(AuthKind::Md5);
    let mut h = Harness::new(Some(original.clone()), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Md5, "guess", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, reply) = h.send_bytes(&p1, None, false);
    let st = header_status(&reply);
    assert_eq!(st.code, StatusCode::InvalidCredentials);
    assert_eq!(st.chal.as_ref().and_then(|c| c.meta.next_nonce.clone()), Some(nonce(101).to_next_nonce()));
    assert_eq!(status_of(&reply, "1"), StatusCode::InvalidCredentials);
    assert!(management(&reply).is_empty(), "no commands to an unauthenticated client");
    assert_eq!(h.device.as_ref(), Some(&original), "the device record is unchanged");
    c.take_header_status(&reply);
    let (p1b, _) = c.package1(Vec::new());
    let (_, reply) = h.send_bytes(&p1b, None, true);
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials);
    assert!(header_status(&reply).chal.is_none(), "second failure ends the session");
    assert!(h.session.is_none());
    assert_eq!(h.device.as_ref(), Some(&original));
    assert_eq!(h.jobs[0].state, JobState::Queued);
}

#[test]
fn a_replayed_nonce_is_refused() {
    let mut dev = device(AuthKind::Md5);
    dev.client.nonce = nonce(2).to_next_nonce();
    dev.client.spent = vec![nonce(1).to_next_nonce()];
    let mut h = Harness::new(Some(dev.clone()), Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (outcome, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials);
    assert!(!outcome.changes.iter().any(|c| matches!(c, Change::ClientNonces { .. })));
    assert_eq!(h.device, Some(dev));
}

#[test]
fn unknown_devices_are_refused_unless_enrolment_is_on() {
    let mut h = Harness::new(None, Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "enrol", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (outcome, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials);
    assert!(header_status(&reply).chal.is_none());
    assert!(outcome.changes.is_empty(), "nothing stored for an unknown device");

    let mut config = EngineConfig::new(URL);
    config.enrolment = Some(Enrolment { kind: AuthKind::Basic, secret: "enrol".into() });
    let mut h = Harness::with_config(config, None, Vec::new());
    let mut c = Client::new(AuthScheme::Basic, "enrol", Nonce::default());
    let (p1, _) = c.package1(Vec::new());
    let (_, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(header_status(&reply).code, StatusCode::AuthenticationAccepted);
    let enrolled = h.device.expect("enrolled");
    assert_eq!(enrolled.client.user, DEV);
    assert_eq!(enrolled.devinfo.get("Mod").map(String::as_str), Some("test"));
}

#[test]
fn every_scheme_authenticates() {
    for (kind, scheme) in [
        (AuthKind::Basic, AuthScheme::Basic),
        (AuthKind::Md5, AuthScheme::Md5),
        (AuthKind::Sha256, AuthScheme::Sha256),
        (AuthKind::Hmac, AuthScheme::Mac),
    ] {
        let mut h = Harness::new(Some(device(kind)), vec![job(1, vec![get("./DevInfo/Mod")])]);
        let mut c = Client::new(scheme.clone(), "devsecret", nonce(1));
        c.encoding = Encoding::Wbxml;
        let (p1, hmac) = c.package1(Vec::new());
        let (_, p2) = h.send_bytes(&p1, hmac.as_deref(), false);
        let expected = if kind == AuthKind::Hmac { 200 } else { 212 };
        assert_eq!(c.take_header_status(&p2), expected, "{kind:?}");
        let cmds = management(&p2);
        let (p3, hmac) = c.message(
            vec![header_ok(&p2), ok_status(&p2, cmds[0], StatusCode::Ok), results(&p2, cmds[0], "./DevInfo/Mod", "m")],
            true,
        );
        let (_, p4) = h.send_bytes(&p3, hmac.as_deref(), true);
        assert!(header_status(&p4).code.is_success(), "{kind:?}: {:?}", header_status(&p4).code);
        assert_eq!(h.jobs[0].state, JobState::Completed, "{kind:?}");
    }
}

#[test]
fn hmac_messages_without_a_valid_mac_are_refused() {
    let mut h = Harness::new(Some(device(AuthKind::Hmac)), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Mac, "devsecret", nonce(1));
    let (p1, hmac) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, hmac.as_deref(), false);
    c.take_header_status(&p2);
    // The next message with a MAC over other bytes.
    let (p3, _) = c.message(vec![header_ok(&p2)], true);
    let forged = c.prover.hmac_header(b"something else").expect("hmac").to_value();
    let (_, p4) = h.send_bytes(&p3, Some(&forged), true);
    assert_eq!(header_status(&p4).code, StatusCode::InvalidCredentials);
    assert_eq!(h.jobs[0].commands[0].status, None);
}

/// A client Alert of `code` without items (CmdID 2): 1222, 1223, 1225.
fn client_alert(code: AlertCode) -> Command {
    Command::Alert(Alert {
        cmd_id: "2".into(),
        no_resp: false,
        cred: None,
        code: Some(code),
        correlator: None,
        items: Vec::new(),
    })
}

/// The client's Alert 1222: it wants the server's next message of the package.
fn next_message_alert() -> Command {
    client_alert(AlertCode::NextMessage)
}

#[test]
fn a_large_object_goes_out_in_chunks_within_max_msg_size() {
    let value: String = (0..1_000_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![replace("./Vendor/Blob", &value)])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.max_msg_size = 4096;
    let (p1, _) = c.package1(Vec::new());
    let (out, mut reply) = h.send_bytes(&p1, None, false);
    assert!(out.body.len() <= 4096);
    let mut received = String::new();
    let mut chunks = 0;
    loop {
        let cmds = management(&reply);
        assert_eq!(cmds.len(), 1);
        let Command::Replace(rep) = cmds[0] else { panic!("expected a Replace chunk") };
        let item = &rep.items[0];
        if chunks == 0 {
            assert_eq!(item.meta.as_ref().and_then(|m| m.size), Some(1_000_000), "Meta Size on the first chunk");
        } else {
            assert_eq!(item.meta.as_ref().and_then(|m| m.size), None);
        }
        received.push_str(item.data.as_ref().and_then(Data::as_text).expect("text"));
        chunks += 1;
        if !item.more_data {
            assert!(reply.body.is_final, "the last chunk's message is Final");
            let (p, _) = c.message(vec![header_ok(&reply), ok_status(&reply, cmds[0], StatusCode::Ok)], true);
            let (_, end) = h.send_bytes(&p, None, true);
            assert!(management(&end).is_empty());
            break;
        }
        assert!(!reply.body.is_final, "no Final while chunks follow");
        let alert = next_message_alert();
        let (p, _) = c.message(
            vec![header_ok(&reply), ok_status(&reply, cmds[0], StatusCode::ChunkedItemAccepted), alert],
            false,
        );
        let (out, next) = h.send_bytes(&p, None, true);
        assert!(out.body.len() <= 4096, "chunk message of {} bytes", out.body.len());
        reply = next;
    }
    assert!(chunks > 20, "{chunks} chunks");
    assert_eq!(received, value);
    assert_eq!(h.jobs[0].state, JobState::Completed);
}

/// A session whose first job is a Replace of a large object with a 700-character target, and
/// `others` after it: the first chunk goes out at MaxMsgSize 4096, then the client lowers its
/// MaxMsgSize to 512 (the least the server honours), where no chunk of that target fits, and asks
/// for the next message. Returns the harness, the client and the answer to that message. WBXML,
/// so that the reply and a Get fit in 512 bytes.
fn give_up_mid_way(others: Vec<Job>) -> (Harness, Client, Outcome, SyncMl) {
    let uri = format!("./Vendor/{}", "n".repeat(700));
    let mut jobs = vec![job(1, vec![replace(&uri, &"x".repeat(10_000))])];
    jobs.extend(others);
    let mut h = Harness::new(Some(device(AuthKind::Md5)), jobs);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.encoding = Encoding::Wbxml;
    c.max_msg_size = 4096;
    let (p1, _) = c.package1(Vec::new());
    let (_, first) = h.send_bytes(&p1, None, false);
    let cmds = management(&first);
    assert!(matches!(cmds[..], [Command::Replace(_)]), "the first chunk: {cmds:?}");
    assert!(!first.body.is_final, "more chunks follow");
    c.max_msg_size = 512;
    let (p, _) = c.message(
        vec![header_ok(&first), ok_status(&first, cmds[0], StatusCode::ChunkedItemAccepted), next_message_alert()],
        false,
    );
    let (outcome, reply) = h.send_bytes(&p, None, true);
    assert_eq!(stored_job(&outcome.changes, 1).map(|j| j.commands[0].status), Some(Some(413)));
    (h, c, outcome, reply)
}

/// A client that lowers its MaxMsgSize in the middle of a large object so far that the next
/// chunk cannot go out: the object ends with a stored 413, and the next pending command (a Get of
/// another job) goes out in that same message instead of an empty one.
#[test]
fn a_large_object_given_up_mid_way_lets_the_next_command_go() {
    let (_, _, _, next) = give_up_mid_way(vec![job(2, vec![get("./DevInfo/Mod")])]);
    let sent = management(&next);
    assert!(matches!(sent[..], [Command::Get(_)]), "the Get instead of an empty message: {sent:?}");
    assert!(next.body.is_final);
}

/// The same give-up with nothing else pending: the session stays open for the client, which
/// holds part of the object and answers the Final message (Alert 1225 and its Statuses); that
/// answer ends the session, rather than meeting a deleted session (404).
#[test]
fn a_large_object_given_up_mid_way_keeps_the_session_for_the_clients_answer() {
    let (mut h, mut c, outcome, given_up) = give_up_mid_way(Vec::new());
    assert!(management(&given_up).is_empty(), "nothing left to send");
    assert!(given_up.body.is_final);
    assert!(!outcome.changes.iter().any(|c| matches!(c, Change::EndSession { .. })), "the session stays open");
    let (p, _) = c.message(vec![header_ok(&given_up), client_alert(AlertCode::NoEndOfData)], true);
    let (outcome, end) = h.send_bytes(&p, None, true);
    assert_eq!(header_status(&end).code, StatusCode::Ok, "the session was still there");
    assert!(outcome.changes.iter().any(|c| matches!(c, Change::EndSession { .. })), "and this answer ends it");
}

/// The client's message carrying chunk `i` of a large object of Results for the Get `get` of
/// `p2` (CmdID 5, ./Vendor/Log): the header's Status, the Get's 200 with the first chunk, and
/// the chunk, with Meta Size `size` on the first one and MoreData unless `last`.
fn results_chunk(
    reply: &SyncMl,
    p2: &SyncMl,
    get: &Command,
    i: usize,
    part: &str,
    size: Option<u64>,
    last: bool,
) -> Vec<Command> {
    let mut commands = vec![header_ok(reply)];
    if i == 0 {
        commands.push(ok_status(p2, get, StatusCode::Ok));
    }
    commands.push(Command::Results(Results {
        cmd_id: "5".into(),
        msg_ref: Some(p2.header.msg_id.clone()),
        cmd_ref: get.cmd_id().into(),
        items: vec![Item {
            source: Some(Location::new("./Vendor/Log")),
            meta: (i == 0).then(|| Meta { size, ..Meta::default() }),
            data: Some(Data::Text(part.into())),
            more_data: !last,
            ..Item::default()
        }],
        ..Results::default()
    }));
    commands
}

/// A large object from the client over the server's MaxObjSize (sent in our header) is refused
/// with 413, whether its first chunk declares a larger Size or its chunks add up to more, and
/// what came of it is dropped rather than kept growing in the session; a chunk of it that still
/// follows is dropped too (Results get no Status unless they are chunks being taken).
#[test]
fn a_large_object_over_max_obj_size_is_refused_and_dropped() {
    use StatusCode::{ChunkedItemAccepted as Taken, RequestEntityTooLarge as TooLarge};
    for (declared, expected) in
        [(None, [Some(Taken), Some(TooLarge), None]), (Some(1000), [Some(TooLarge), None, None])]
    {
        let mut config = EngineConfig::new(URL);
        config.max_object_size = 20;
        let mut h = Harness::with_config(config, Some(device(AuthKind::Md5)), vec![job(1, vec![get("./Vendor/Log")])]);
        let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
        let (p1, _) = c.package1(Vec::new());
        let (_, p2) = h.send_bytes(&p1, None, false);
        assert_eq!(p2.header.meta.as_ref().and_then(|m| m.max_obj_size), Some(20), "our MaxObjSize");
        let get_cmd = management(&p2)[0].clone();
        let mut reply = p2.clone();
        for (i, (part, expect)) in ["first part-", "second part-", "third part-"].into_iter().zip(expected).enumerate()
        {
            let (p, _) = c.message(results_chunk(&reply, &p2, &get_cmd, i, part, declared, false), false);
            let (_, r) = h.send_bytes(&p, None, true);
            let code = r.body.commands.iter().find_map(|c| match c {
                Command::Status(s) if s.cmd_ref == "5" => Some(s.code),
                _ => None,
            });
            assert_eq!(code, expect, "{declared:?}, chunk {i}");
            let buffered = h.session.as_ref().and_then(|s| s.chunk_in.as_ref()).map(|c| c.data.len());
            assert_eq!(buffered, (expect == Some(Taken)).then_some(part.len()), "{declared:?}, chunk {i}: kept");
            reply = r;
        }
        // The Get's job ends failed with the 413, neither completed without the object nor running.
        assert_eq!(h.jobs[0].commands[0].status, Some(413), "{declared:?}");
        assert_eq!(h.jobs[0].state, JobState::Failed, "{declared:?}");
    }
}

#[test]
fn a_large_object_comes_in_chunks_and_is_reassembled() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./Vendor/Log")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    let get_cmd = cmds[0].clone();
    let parts = ["first part-", "second part-", "third"];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut reply = p2.clone();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let (p, _) = c.message(results_chunk(&reply, &p2, &get_cmd, i, part, Some(total as u64), last), last);
        let (_, r) = h.send_bytes(&p, None, true);
        if !last {
            assert_eq!(status_of(&r, "5"), StatusCode::ChunkedItemAccepted);
            assert!(r
                .body
                .commands
                .iter()
                .any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::NextMessage))));
            assert!(!r.body.is_final);
        }
        reply = r;
    }
    assert_eq!(h.jobs[0].commands[0].results[0].data, parts.concat());
    assert_eq!(h.jobs[0].state, JobState::Completed);
}

#[test]
fn abort_duplicate_out_of_order_and_timeout() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./A"), get("./B")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (first, p2) = h.send_bytes(&p1, None, false);
    // The same message again (its reply was lost): the same reply, nothing changed.
    let saved = h.session.clone();
    let (again, _) = h.send_bytes(&p1, None, true);
    assert_eq!(again.body, first.body);
    assert!(again.changes.is_empty());
    assert_eq!(h.session, saved);
    // A message from the future: 400, the session unchanged.
    c.msg += 3;
    let (skipped, _) = c.message(vec![header_ok(&p2)], true);
    let (_, r) = h.send_bytes(&skipped, None, true);
    assert_eq!(header_status(&r).code, StatusCode::BadRequest);
    assert_eq!(h.session, saved);
    c.msg -= 4;
    // 1223: Statuses only, session over, the job's commands wait for the next session.
    let (p3, _) = c.message(vec![header_ok(&p2), client_alert(AlertCode::SessionAbort)], true);
    let (_, r) = h.send_bytes(&p3, None, true);
    assert_eq!(status_of(&r, "2"), StatusCode::Ok);
    assert!(management(&r).is_empty());
    assert!(h.session.is_none());
    assert!(h.jobs[0].commands.iter().all(|c| c.status.is_none()));
    // That token is now unknown: 404.
    let (p, _) = c.message(vec![], true);
    let (outcome, r) = h.send_bytes(&p, None, true);
    assert_eq!(header_status(&r).code, StatusCode::NotFound);
    assert!(outcome.changes.is_empty());

    // A session idle past the timeout: 408 and deleted.
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    h.now += 10 * 60 * 1000;
    let (p3, _) = c.message(vec![header_ok(&p2)], true);
    let (_, r) = h.send_bytes(&p3, None, true);
    assert_eq!(header_status(&r).code, StatusCode::RequestTimeout);
    assert!(h.session.is_none());
}

#[test]
fn generic_alerts_become_events() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let alert = Command::Alert(Alert {
        cmd_id: "3".into(),
        no_resp: false,
        cred: None,
        code: Some(AlertCode::GenericAlert),
        correlator: Some("abc".into()),
        items: vec![Item {
            source: Some(Location::new("./FUMO/1")),
            meta: Some(Meta {
                media_type: Some("org.openmobilealliance.dm.firmwareupdate.download".into()),
                format: Some(Format::Int),
                mark: Some("critical".into()),
                ..Meta::default()
            }),
            data: Some(Data::Text("200".into())),
            ..Item::default()
        }],
    });
    let (p1, _) = c.package1(vec![alert]);
    let (_, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(status_of(&reply, "3"), StatusCode::Ok);
    let e = &h.events[0];
    assert_eq!((e.code, e.data.as_str(), e.mark.as_deref()), (1226, "200", Some("critical")));
    assert_eq!(e.media_type.as_deref(), Some("org.openmobilealliance.dm.firmwareupdate.download"));
    assert_eq!((e.source.as_deref(), e.correlator.as_deref()), (Some("./FUMO/1"), Some("abc")));
}

#[test]
fn atomic_and_ui_alerts_map_every_status_back() {
    let atomic = JobCommand {
        commands: vec![replace("./A", "1"), replace("./B", "2")],
        ..JobCommand::new(Operation::Atomic, None)
    };
    let confirm = JobCommand {
        alert: Some(UiAlert {
            code: 1101,
            text: "Update now?".into(),
            options: "MAXDT=30".into(),
            choices: Vec::new(),
        }),
        ..JobCommand::new(Operation::Alert, None)
    };
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![atomic, confirm])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    let Command::Atomic(container) = cmds[0] else { panic!("Atomic first") };
    let Command::Alert(alert) = cmds[1] else { panic!("Alert second") };
    assert_eq!(alert.code, Some(AlertCode::Confirm));
    assert_eq!(alert.items[1].data.as_ref().and_then(Data::as_text), Some("Update now?"));
    let mut statuses = vec![header_ok(&p2), ok_status(&p2, cmds[0], StatusCode::Ok)];
    statuses.extend(container.commands.iter().map(|inner| ok_status(&p2, inner, StatusCode::Ok)));
    statuses.push(ok_status(&p2, cmds[1], StatusCode::NotModified));
    let (p3, _) = c.message(statuses, true);
    h.send_bytes(&p3, None, true);
    let job = &h.jobs[0];
    assert_eq!(job.commands[0].status, Some(200));
    assert_eq!(job.commands[0].commands.iter().map(|c| c.status).collect::<Vec<_>>(), vec![Some(200), Some(200)]);
    assert_eq!(job.commands[1].status, Some(304), "the user said no");
    assert_eq!(job.state, JobState::Failed, "a 304 is not a success");
}

/// An MD5 device whose server account (SRVCRED) we must prove ourselves to: secret `srvsecret`,
/// the nonce `nonce(50)`.
fn device_proving_itself() -> Device {
    let mut dev = device(AuthKind::Md5);
    dev.server.secret = "srvsecret".into();
    dev.server.nonce = nonce(50).to_next_nonce();
    dev
}

#[test]
fn server_credentials_are_sent_until_the_client_accepts_them() {
    let mut h = Harness::new(Some(device_proving_itself()), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cred = p2.header.cred.as_ref().expect("server Cred in Package 2");
    let account = omadm_security::AccountCredentials::new("omadm", "srvsecret");
    let expected = omadm_security::Credential::compute(&AuthScheme::Md5, &account, &nonce(50)).expect("cred");
    assert_eq!(cred.data, expected.data);
    // The client accepts with 212 and gives the next nonce.
    let mut accept = header_ok(&p2);
    if let Command::Status(st) = &mut accept {
        st.code = StatusCode::AuthenticationAccepted;
        st.chal = Some(Chal {
            meta: Meta {
                media_type: Some("syncml:auth-md5".into()),
                format: Some(Format::B64),
                next_nonce: Some(nonce(60).to_next_nonce()),
                ..Meta::default()
            },
        });
    }
    let cmds = management(&p2);
    let (p3, _) = c.message(vec![accept, ok_status(&p2, cmds[0], StatusCode::NotFound)], true);
    let (_, p4) = h.send_bytes(&p3, None, true);
    assert!(p4.header.cred.is_none());
    assert_eq!(h.device.as_ref().map(|d| d.server.nonce.clone()), Some(nonce(60).to_next_nonce()));
    assert_eq!(h.jobs[0].state, JobState::Failed);
    assert_eq!(h.jobs[0].commands[0].status, Some(404));
}

/// We prove ourselves to an authenticated device only: the reply that challenges a device whose
/// credentials failed carries no Cred of ours, which the device would count as a failed attempt
/// of ours (its nonce for us may be one we no longer share until it challenges us).
#[test]
fn a_device_that_failed_to_authenticate_gets_no_server_credentials() {
    let mut h = Harness::new(Some(device_proving_itself()), vec![job(1, vec![get("./A")])]);
    let mut wrong = Client::new(AuthScheme::Md5, "not-the-secret", nonce(1));
    let (p1, _) = wrong.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    assert_eq!(header_status(&p2).code, StatusCode::InvalidCredentials);
    assert!(p2.header.cred.is_none(), "no server Cred to an unauthenticated device");
}

#[test]
fn client_messages_from_the_shared_vectors_get_an_answer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/aosp-dm12");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("shared vectors missing at {}", dir.display());
    };
    let mut answered = 0;
    for entry in entries {
        let path = entry.expect("entry").path();
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let Ok((message, _)) = decode(&bytes, &Limits::DEFAULT) else { continue };
        // Any message decodes to an answer: unknown devices get 401, never a panic.
        let mut h = Harness::new(None, Vec::new());
        let body = bytes.clone();
        let (_, reply) = h.send_bytes(&body, None, false);
        assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials, "{}", path.display());
        assert_eq!(reply.header.session_id, message.header.session_id);
        answered += 1;
    }
    assert!(answered > 5);
}

#[test]
fn under_hmac_the_server_signs_every_reply() {
    let mut dev = device(AuthKind::Md5);
    dev.server = AccountAuth {
        kind: AuthKind::Hmac,
        user: "omadm".into(),
        secret: "srvsecret".into(),
        nonce: nonce(70).to_next_nonce(),
        spent: Vec::new(),
    };
    let mut h = Harness::new(Some(dev), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (outcome, p2) = h.send_bytes(&p1, None, false);
    assert!(p2.header.cred.is_none(), "no Cred under HMAC");
    let header = omadm_security::HmacHeader::parse(outcome.hmac.as_deref().expect("x-syncml-hmac")).expect("parses");
    assert_eq!(header.username, "omadm");
    let account = omadm_security::AccountCredentials::new("omadm", "srvsecret");
    header.verify(&account, &nonce(70), &outcome.body).expect("the MAC covers the reply body");
    assert!(header.verify(&account, &nonce(71), &outcome.body).is_err());
}

#[test]
fn an_unchanged_devinfo_is_not_stored_again() {
    let mut dev = device(AuthKind::Md5);
    for (leaf, value) in [("DevId", DEV), ("Man", "omadm"), ("Mod", "test"), ("DmV", "1.2"), ("Lang", "en")] {
        dev.devinfo.insert(leaf.into(), value.into());
    }
    let mut h = Harness::new(Some(dev), Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (outcome, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(status_of(&reply, "2"), StatusCode::Ok);
    assert!(!outcome.changes.iter().any(|c| matches!(c, Change::DevInfo { .. } | Change::Tree { .. })));
}

#[test]
fn every_operation_goes_on_the_wire_as_its_command() {
    let add_node =
        JobCommand { format: Some("node".into()), ..JobCommand::new(Operation::Add, Some("./Vendor/New".into())) };
    let add_leaf = JobCommand {
        data: Some("42".into()),
        format: Some("int".into()),
        media_type: Some("text/plain".into()),
        ..JobCommand::new(Operation::Add, Some("./Vendor/New/Leaf".into()))
    };
    let copy =
        JobCommand { source: Some("./Vendor/A".into()), ..JobCommand::new(Operation::Copy, Some("./Vendor/B".into())) };
    let sequence = JobCommand {
        commands: vec![JobCommand::new(Operation::Delete, Some("./Vendor/Old".into())), get("./Vendor/B")],
        ..JobCommand::new(Operation::Sequence, None)
    };
    let choice = JobCommand {
        alert: Some(UiAlert {
            code: 1103,
            text: "Pick".into(),
            options: String::new(),
            choices: vec!["red".into(), "blue".into()],
        }),
        ..JobCommand::new(Operation::Alert, None)
    };
    let exec =
        JobCommand { data: Some("now".into()), ..JobCommand::new(Operation::Exec, Some("./FUMO/Update".into())) };
    let mut h =
        Harness::new(Some(device(AuthKind::Md5)), vec![job(5, vec![add_node, add_leaf, copy, sequence, choice, exec])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.encoding = Encoding::Wbxml;
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    assert_eq!(cmds.len(), 6);
    let Command::Add(a) = cmds[0] else { panic!("Add") };
    assert_eq!(a.items[0].meta.as_ref().and_then(|m| m.format.clone()), Some(Format::Node));
    let Command::Add(a) = cmds[1] else { panic!("Add") };
    assert_eq!(a.items[0].data.as_ref().and_then(Data::as_text), Some("42"));
    assert_eq!(a.items[0].meta.as_ref().and_then(|m| m.format.clone()), Some(Format::Int));
    let Command::Copy(cp) = cmds[2] else { panic!("Copy") };
    assert_eq!(cp.items[0].source.as_ref().map(|s| s.loc_uri.as_str()), Some("./Vendor/A"));
    assert_eq!(cp.items[0].target.as_ref().map(|s| s.loc_uri.as_str()), Some("./Vendor/B"));
    let Command::Sequence(seq) = cmds[3] else { panic!("Sequence") };
    assert!(matches!(seq.commands[0], Command::Delete(_)) && matches!(seq.commands[1], Command::Get(_)));
    let Command::Alert(alert) = cmds[4] else { panic!("Alert") };
    assert_eq!(alert.code, Some(AlertCode::SingleChoice));
    assert_eq!(alert.items.len(), 4, "options, text, two choices");
    let Command::Exec(exec) = cmds[5] else { panic!("Exec") };
    assert_eq!(exec.correlator.as_deref(), Some("5-5"));
    // CmdIDs are unique in the message, nested ones included.
    let mut ids: Vec<&str> = p2.body.commands.iter().map(Command::cmd_id).collect();
    ids.extend(seq.commands.iter().map(Command::cmd_id));
    let before = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), before);
    // The single-choice answer comes back as a Status item.
    let mut answers = vec![header_ok(&p2)];
    for cmd in &cmds {
        answers.push(ok_status(&p2, cmd, StatusCode::Ok));
    }
    for inner in &seq.commands {
        answers.push(ok_status(&p2, inner, StatusCode::Ok));
    }
    if let Some(Command::Status(st)) = answers.get_mut(5) {
        st.items = vec![Item { data: Some(Data::Text("2".into())), ..Item::default() }];
    }
    answers.push(results(&p2, &seq.commands[1], "./Vendor/B", "copied"));
    let (p3, _) = c.message(answers, true);
    h.send_bytes(&p3, None, true);
    let job = &h.jobs[0];
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    assert_eq!(job.commands[4].reply, vec!["2".to_string()]);
    assert_eq!(job.commands[3].commands[1].results[0].data, "copied");
}

#[test]
fn a_final_package_without_the_statuses_ends_the_session_and_the_commands_wait() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    assert_eq!(management(&p2).len(), 1);
    let (p3, _) = c.message(vec![header_ok(&p2)], true);
    let (_, p4) = h.send_bytes(&p3, None, true);
    assert!(p4.body.is_final && management(&p4).is_empty());
    assert!(h.session.is_none());
    assert_eq!(h.jobs[0].commands[0].status, None, "sent again next session");
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(101));
    let (p1, _) = c.package1(Vec::new());
    let (_, again) = h.send_bytes(&p1, None, false);
    assert!(matches!(management(&again)[..], [Command::Get(_)]));
}

#[test]
fn the_largest_msg_id_does_not_overflow() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./A")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.msg = u32::MAX - 1;
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    assert_eq!(header_status(&p2).code, StatusCode::AuthenticationAccepted);
    c.msg = 0;
    let (p3, _) = c.message(vec![header_ok(&p2)], true);
    let (_, r) = h.send_bytes(&p3, None, true);
    assert_eq!(header_status(&r).code, StatusCode::BadRequest);
}

#[test]
fn mutated_client_messages_never_panic_the_engine() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./A"), replace("./B", "x")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.encoding = Encoding::Wbxml;
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    let (p3, _) = c.message(
        vec![header_ok(&p2), ok_status(&p2, cmds[0], StatusCode::Ok), results(&p2, cmds[0], "./A", "v")],
        true,
    );
    let saved = h.session.clone();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut decoded = 0;
    for round in 0..6000 {
        let base = if round % 2 == 0 { &p1 } else { &p3 };
        let mut bytes = base.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = next() as u8;
        }
        let Ok((message, encoding)) = decode(&bytes, &Limits::DEFAULT) else { continue };
        decoded += 1;
        let session = match (&saved, round % 2) {
            (Some(s), 1) => SessionLookup::Found(Box::new(s.clone())),
            _ => SessionLookup::New,
        };
        let ex = Exchange {
            message: &message,
            body: &bytes,
            encoding,
            hmac: None,
            session,
            device: h.device.clone(),
            jobs: h.jobs.clone(),
            now_ms: h.now,
            new_token: "t".into(),
        };
        let outcome = h.engine.handle(ex, &mut h.nonces).expect("an answer, never an error");
        decode(&outcome.body, &Limits::DEFAULT).expect("the answer decodes");
    }
    assert!(decoded > 300, "{decoded} mutated messages decoded");
}

/// The job `id` as stored whole by `changes` (a `Change::Job`), if it is.
fn stored_job(changes: &[Change], id: i64) -> Option<&Job> {
    changes.iter().find_map(|c| match c {
        Change::Job(j) if j.id == id => Some(j),
        _ => None,
    })
}

/// 25f175a: a job already running (its commands sent in an earlier session, unanswered) whose
/// Replace is now larger than the device's MaxObjSize. The server answers that Replace locally
/// with 413 and sends the job's Get; the job stays running (the Get waits), yet the 413 must be
/// among this message's changes, or the Replace goes again in the next session.
#[test]
fn a_local_413_on_an_already_running_job_is_stored() {
    let mut running = job(1, vec![replace("./Vendor/Big", &"x".repeat(3000)), get("./Vendor/After")]);
    running.state = JobState::Running;
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![running]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.max_msg_size = 2048;
    c.max_obj_size = Some(1000);
    let (p1, _) = c.package1(Vec::new());
    let (outcome, p2) = h.send_bytes(&p1, None, false);
    assert!(matches!(management(&p2)[..], [Command::Get(_)]), "only the Get goes out");
    let stored = stored_job(&outcome.changes, 1).expect("the job with its 413 is stored");
    assert_eq!(stored.commands[0].status, Some(413));
    assert_eq!(stored.state, JobState::Running, "the Get still waits");
    // The session ends without the Get's Status. Next session the device takes any object size:
    // the Get goes again, the Replace (answered 413) does not.
    let (p3, _) = c.message(vec![header_ok(&p2)], true);
    h.send_bytes(&p3, None, true);
    assert!(h.session.is_none());
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(101));
    let (p1, _) = c.package1(Vec::new());
    let (_, again) = h.send_bytes(&p1, None, false);
    assert!(matches!(management(&again)[..], [Command::Get(_)]), "{:?}", management(&again));
}

/// next_chunk's give-up: a Replace that must go in chunks (larger than MaxMsgSize, no MaxObjSize)
/// whose target URI alone is too long for the device's MaxMsgSize, so not even an empty chunk
/// fits. It is answered locally with 413, and that 413 is stored with the job (Failed, its only
/// command refused), whether the job was queued or already running: otherwise the job stays
/// running and the Replace is tried again every session.
#[test]
fn a_large_object_given_up_with_413_is_stored() {
    let uri = format!("./Vendor/{}", "n".repeat(1000));
    for state in [JobState::Queued, JobState::Running] {
        let mut j = job(1, vec![replace(&uri, &"x".repeat(2000))]);
        j.state = state;
        let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![j]);
        let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
        c.max_msg_size = 512;
        let (p1, _) = c.package1(Vec::new());
        let (outcome, p2) = h.send_bytes(&p1, None, false);
        assert!(management(&p2).is_empty(), "{state:?}: nothing of the Replace goes out");
        let stored = stored_job(&outcome.changes, 1).unwrap_or_else(|| panic!("{state:?}: the job is stored whole"));
        assert_eq!(stored.commands[0].status, Some(413), "{state:?}");
        assert_eq!(stored.state, JobState::Failed, "{state:?}");
        assert_eq!(h.jobs[0].state, JobState::Failed, "{state:?}: the last change stored wins");
    }
}

/// A large object given up with 413 in Package 2 does not end the session: the pending commands
/// after it (here a Get of another job) still go out in the same message, which is then Final.
#[test]
fn commands_after_a_large_object_given_up_still_go_out() {
    let uri = format!("./Vendor/{}", "n".repeat(3000));
    let too_big = job(1, vec![replace(&uri, &"x".repeat(5000))]);
    let after = job(2, vec![get("./DevInfo/Mod")]);
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![too_big, after]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    // Room for the reply and a Get, not for the Replace's 3,000-character target.
    c.max_msg_size = 2000;
    let (p1, _) = c.package1(Vec::new());
    let (outcome, p2) = h.send_bytes(&p1, None, false);
    let sent = management(&p2);
    assert_eq!(sent.len(), 1, "only the Get goes out: {sent:?}");
    assert!(matches!(sent[0], Command::Get(_)), "{sent:?}");
    assert!(p2.body.is_final, "the Get's message is Final");
    assert_eq!(stored_job(&outcome.changes, 1).map(|j| j.commands[0].status), Some(Some(413)));
    assert!(
        !outcome.changes.iter().any(|c| matches!(c, Change::EndSession { .. })),
        "the session goes on for the Get's answer"
    );
}

/// A Confirm the user cancelled (214) or a command not executed (215, a "No" or a skip) is
/// answered with a 2xx code yet did not happen (digest §3): the job fails, it is not completed.
#[test]
fn a_cancelled_or_skipped_command_is_not_a_success() {
    let confirm = JobCommand {
        alert: Some(UiAlert { code: 1101, text: "Update now?".into(), options: String::new(), choices: Vec::new() }),
        ..JobCommand::new(Operation::Alert, None)
    };
    for (command, code) in
        [(confirm, StatusCode::OperationCancelled), (replace("./Vendor/Color", "blue"), StatusCode::NotExecuted)]
    {
        let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![command])]);
        let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
        let (p1, _) = c.package1(Vec::new());
        let (_, p2) = h.send_bytes(&p1, None, false);
        let cmds = management(&p2);
        let (p3, _) = c.message(vec![header_ok(&p2), ok_status(&p2, cmds[0], code)], true);
        h.send_bytes(&p3, None, true);
        assert_eq!(h.jobs[0].commands[0].status, Some(code.code()));
        assert_eq!(h.jobs[0].state, JobState::Failed, "{code:?} is not a success");
    }
}

/// An Atomic or Sequence larger than the device's MaxMsgSize cannot go out (a command, nested
/// ones included, fits in one message: digest §10). It is answered locally with 413, recorded on
/// its nested commands as well, so the job ends Failed instead of staying running for ever with
/// a container that is never sent again.
#[test]
fn a_container_too_large_for_the_device_fails_its_job() {
    for op in [Operation::Sequence, Operation::Atomic] {
        let container = JobCommand {
            commands: vec![replace("./Vendor/Big", &"x".repeat(20_000)), get("./Vendor/After")],
            ..JobCommand::new(op, None)
        };
        let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![container])]);
        let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
        c.max_msg_size = 4096;
        let (p1, _) = c.package1(Vec::new());
        let (_, p2) = h.send_bytes(&p1, None, false);
        assert!(management(&p2).is_empty(), "{op:?}: nothing goes out");
        let job = &h.jobs[0];
        assert_eq!(job.commands[0].status, Some(413), "{op:?}");
        let nested: Vec<_> = job.commands[0].commands.iter().map(|c| c.status).collect();
        assert_eq!(nested, vec![Some(413), Some(413)], "{op:?}: the nested commands count as not done");
        assert_eq!(job.state, JobState::Failed, "{op:?}");
    }
}

/// A chunk that is not the last is answered 213; anything else ends the large object (digest
/// §10): an error there (420 device full) is recorded for the Replace, whose job fails, no
/// further chunk goes out, and the next pending command (a Get of another job) goes instead.
#[test]
fn an_error_on_a_chunk_ends_the_large_object() {
    let big = job(1, vec![replace("./Vendor/Blob", &"x".repeat(20_000))]);
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![big, job(2, vec![get("./DevInfo/Mod")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    c.max_msg_size = 4096;
    let (p1, _) = c.package1(Vec::new());
    let (_, first) = h.send_bytes(&p1, None, false);
    let cmds = management(&first);
    assert!(matches!(cmds[..], [Command::Replace(ref r)] if r.items[0].more_data), "a first chunk: {cmds:?}");
    let (p, _) = c.message(
        vec![header_ok(&first), ok_status(&first, cmds[0], StatusCode::DeviceFull), next_message_alert()],
        false,
    );
    let (outcome, next) = h.send_bytes(&p, None, true);
    let sent = management(&next);
    assert!(matches!(sent[..], [Command::Get(_)]), "the Get, no further chunk: {sent:?}");
    assert!(next.body.is_final);
    assert_eq!(h.session.as_ref().and_then(|s| s.chunk_out.as_ref()), None, "the object is given up");
    assert_eq!(
        stored_job(&outcome.changes, 1).map(|j| (j.commands[0].status, j.state)),
        Some((Some(420), JobState::Failed))
    );
}

/// A client package may span messages, its Results after their Status (digest §10): a Get's
/// Status in one message and its Results in the next. The Get waits for its Results (its job
/// keeps running), which are then kept, and only then is the job completed. A Get answered with
/// an error and no Results ends at once.
#[test]
fn results_in_a_later_message_than_their_status_are_kept() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./DevDetail/FwV")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    let (p3, _) = c.message(vec![header_ok(&p2), ok_status(&p2, cmds[0], StatusCode::Ok)], false);
    let (_, r) = h.send_bytes(&p3, None, true);
    assert!(r.body.commands.iter().any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::NextMessage))));
    assert_eq!(h.jobs[0].state, JobState::Running, "the Results are still to come");
    let (p4, _) = c.message(vec![header_ok(&r), results(&p2, cmds[0], "./DevDetail/FwV", "1.0.7")], true);
    let (_, end) = h.send_bytes(&p4, None, true);
    assert!(end.body.is_final && management(&end).is_empty());
    assert!(h.session.is_none(), "the session ended");
    let done = &h.jobs[0];
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.commands[0].status, Some(200));
    assert_eq!(done.commands[0].results.iter().map(|r| r.data.as_str()).collect::<Vec<_>>(), ["1.0.7"]);

    // An error Status and no Results: the Get is answered, the job fails and the session ends.
    let mut h = Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./Nowhere")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    let (p3, _) = c.message(vec![header_ok(&p2), ok_status(&p2, cmds[0], StatusCode::NotFound)], true);
    h.send_bytes(&p3, None, true);
    assert!(h.session.is_none());
    assert_eq!((h.jobs[0].commands[0].status, h.jobs[0].state), (Some(404), JobState::Failed));
}

/// With enrolment on, an unknown device is registered only once its message authenticated with
/// the enrolment secret: a wrong secret stores no device (anyone could create records), while
/// the right one, even after a failure, enrols it, the record stored before its nonces.
#[test]
fn a_failed_enrolment_stores_no_device() {
    let mut config = EngineConfig::new(URL);
    config.enrolment = Some(Enrolment { kind: AuthKind::Md5, secret: "enrol".into() });
    let mut h = Harness::with_config(config, None, Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "guess", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (outcome, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials);
    assert!(!outcome.changes.iter().any(|c| matches!(c, Change::DeviceEnrolled(_))), "no device stored");
    assert!(h.device.is_none());

    // The right secret, answering the challenge: enrolled.
    let chal = header_status(&reply).chal.as_ref().and_then(|c| c.meta.next_nonce.clone()).expect("a challenge");
    let mut c = Client::new(AuthScheme::Md5, "enrol", Nonce::from_next_nonce(&chal));
    c.msg = 1;
    let (p2, _) = c.package1(Vec::new());
    let (outcome, reply) = h.send_bytes(&p2, None, true);
    assert_eq!(header_status(&reply).code, StatusCode::AuthenticationAccepted);
    let enrolled = outcome.changes.iter().position(|c| matches!(c, Change::DeviceEnrolled(_)));
    let nonces = outcome.changes.iter().position(|c| matches!(c, Change::ClientNonces { .. }));
    assert!(matches!((enrolled, nonces), (Some(e), Some(n)) if e < n), "{enrolled:?} before {nonces:?}");
    assert_eq!(h.device.as_ref().map(|d| d.client.secret.as_str()), Some("enrol"));
}

/// Chunks of a large object come back to back (digest §10): Results for another Get while one
/// is being received end that object unfinished. The server answers Alert 1225 naming it, the
/// Get it answered fails (424, incomplete), and the other Get's Results are its own, not a
/// chunk of the first; the session stays open for the Status of the 1225.
#[test]
fn results_of_another_command_interrupt_a_large_object() {
    let mut h =
        Harness::new(Some(device(AuthKind::Md5)), vec![job(1, vec![get("./Vendor/Log"), get("./Vendor/Other")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let cmds = management(&p2);
    let mut first = results_chunk(&p2, &p2, cmds[0], 0, "first part-", Some(100), false);
    first.insert(2, ok_status(&p2, cmds[1], StatusCode::Ok));
    let (p, _) = c.message(first, false);
    let (_, r) = h.send_bytes(&p, None, true);
    assert_eq!(status_of(&r, "5"), StatusCode::ChunkedItemAccepted);
    let (p, _) = c.message(vec![header_ok(&r), results(&p2, cmds[1], "./Vendor/Other", "other")], true);
    let (_, r) = h.send_bytes(&p, None, true);
    let alert = r.body.commands.iter().find_map(|c| match c {
        Command::Alert(a) if a.code == Some(AlertCode::NoEndOfData) => Some(a),
        _ => None,
    });
    let source = alert.and_then(|a| a.items.first()).and_then(|i| i.source.as_ref()).map(|s| s.loc_uri.as_str());
    assert_eq!(source, Some("./Vendor/Log"), "Alert 1225 names the unfinished object");
    let done = &h.jobs[0];
    assert_eq!((done.commands[0].status, done.commands[0].results.len()), (Some(424), 0));
    assert_eq!(done.commands[1].status, Some(200));
    assert_eq!(done.commands[1].results.iter().map(|r| r.data.as_str()).collect::<Vec<_>>(), ["other"]);
    assert_eq!(done.state, JobState::Failed);
    assert!(h.session.as_ref().is_some_and(|s| s.chunk_in.is_none()), "the session waits for the 1225's Status");
    let alert = Command::Alert(alert.cloned().expect("1225"));
    let (p, _) = c.message(vec![header_ok(&r), ok_status(&r, &alert, StatusCode::Ok)], true);
    h.send_bytes(&p, None, true);
    assert!(h.session.is_none(), "then it ends");
}

/// A Replace refused with 412 (an item naming no node) changes nothing, not even through its
/// DevInfo items before the bad one: a later Replace of the message that stores DevInfo does not
/// carry them along.
#[test]
fn a_refused_replace_stores_none_of_its_items() {
    let mut h = Harness::new(Some(device(AuthKind::Md5)), Vec::new());
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let leaf = |leaf: &str, value: &str| Item {
        source: Some(Location::new(format!("./DevInfo/{leaf}"))),
        data: Some(Data::Text(value.into())),
        ..Item::default()
    };
    let bad = Command::Replace(ItemCommand {
        cmd_id: "3".into(),
        items: vec![leaf("Man", "forged"), Item { data: Some(Data::Text("x".into())), ..Item::default() }],
        ..ItemCommand::default()
    });
    let good =
        Command::Replace(ItemCommand { cmd_id: "4".into(), items: vec![leaf("FwV", "2.0")], ..ItemCommand::default() });
    let (p1, _) = c.package1(vec![bad, good]);
    let (_, reply) = h.send_bytes(&p1, None, false);
    assert_eq!(status_of(&reply, "3"), StatusCode::IncompleteCommand);
    assert_eq!(status_of(&reply, "4"), StatusCode::Ok);
    let devinfo = &h.device.as_ref().expect("device").devinfo;
    assert_eq!(devinfo.get("Man").map(String::as_str), Some("omadm"), "the refused Replace's item is not stored");
    assert_eq!(devinfo.get("FwV").map(String::as_str), Some("2.0"));
}

/// A Get whose Status comes after its Results (digest §10 asks the other order, but a client
/// may not keep it) is answered by what it already has: Results refused (413 over MaxObjSize)
/// fail it, and its later 200 must not leave it waiting for Results that cannot come, which
/// ended the session without completing it.
#[test]
fn a_status_after_refused_results_does_not_leave_the_get_waiting() {
    let mut config = EngineConfig::new(URL);
    config.max_object_size = 20;
    let mut h = Harness::with_config(config, Some(device(AuthKind::Md5)), vec![job(1, vec![get("./Vendor/Log")])]);
    let mut c = Client::new(AuthScheme::Md5, "devsecret", nonce(1));
    let (p1, _) = c.package1(Vec::new());
    let (_, p2) = h.send_bytes(&p1, None, false);
    let get_cmd = management(&p2)[0].clone();
    let mut commands = results_chunk(&p2, &p2, &get_cmd, 0, "first part-", Some(1000), false);
    commands.swap(1, 2); // The Results, then the Get's Status.
    let (p3, _) = c.message(commands, true);
    let (outcome, r) = h.send_bytes(&p3, None, true);
    assert!(r.body.commands.iter().any(|c| matches!(c, Command::Status(s) if s.cmd_ref == "5"
        && s.code == StatusCode::RequestEntityTooLarge)));
    assert_eq!((h.jobs[0].commands[0].status, h.jobs[0].state), (Some(413), JobState::Failed));
    assert!(h.session.is_none(), "the session ended");
    assert!(
        outcome.changes.iter().any(|c| matches!(c, Change::SessionCompleted { .. })),
        "and completed: {:?}",
        outcome.changes
    );
}
