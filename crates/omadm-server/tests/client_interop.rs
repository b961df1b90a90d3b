//! Our server engine against our client engine (omadm-client), both sans-IO, message by message:
//! the two sides of the protocol as each helper read the spec must agree. Registration, Add,
//! Replace, Get, Atomic, Exec, a UI confirm, large objects both ways in 4 KB messages, a generic
//! alert, in XML and WBXML, for every authentication scheme.

use omadm_client::{Account, Action, AuthConfig, GenericAlert, Incoming, ScriptedUi, Session, SessionConfig};
use omadm_proto::Encoding;
use omadm_security::{AuthScheme, OsNonceSource};
use omadm_server::engine::{Change, Engine, EngineConfig, Exchange, SessionLookup, SessionState};
use omadm_server::model::{AccountAuth, AuthKind, Device, Event, Job, JobCommand, JobState, Operation, UiAlert};
use omadm_tree::objects::{install, standard_config, DeviceDescription};
use omadm_tree::{MemStore, ServerId, Tree, UriLimits};

const DEV: &str = "IMEI:493005100592800";
const URL: &str = "http://127.0.0.1:8080/dm";

fn tree() -> Tree<MemStore> {
    let mut tree = Tree::open(MemStore::new(), standard_config()).expect("tree");
    let description = DeviceDescription {
        dev_id: DEV.into(),
        man: "omadm".into(),
        model: "sim".into(),
        dm_version: "1.2".into(),
        lang: "en".into(),
        dev_type: "simulator".into(),
        oem: "omadm".into(),
        fw_version: "1.0".into(),
        sw_version: "1.0".into(),
        hw_version: "1.0".into(),
        large_objects: true,
        uri_limits: UriLimits { max_depth: 10, max_tot_len: 255, max_seg_len: 64 },
    };
    install(&mut tree, &description).expect("install");
    tree
}

/// The server side: the engine and what the store would hold.
struct Server {
    engine: Engine,
    device: Device,
    jobs: Vec<Job>,
    session: Option<SessionState>,
    events: Vec<Event>,
    now: i64,
}

impl Server {
    fn handle(&mut self, body: &[u8], hmac: Option<&str>, url: &str) -> (Vec<u8>, Option<String>) {
        let (message, encoding) =
            omadm_proto::decode(body, &omadm_proto::Limits::DEFAULT).expect("client message decodes");
        let session = match (url.contains("session="), &self.session) {
            (false, _) => SessionLookup::New,
            (true, Some(s)) if url.ends_with(&s.token) => SessionLookup::Found(Box::new(s.clone())),
            (true, _) => SessionLookup::Missing,
        };
        self.now += 10;
        let exchange = Exchange {
            message: &message,
            body,
            encoding,
            hmac,
            session,
            device: Some(self.device.clone()),
            jobs: self
                .jobs
                .iter()
                .filter(|j| matches!(j.state, JobState::Queued | JobState::Running))
                .cloned()
                .collect(),
            now_ms: self.now,
            new_token: format!("tok{}", self.now),
        };
        let outcome = self.engine.handle(exchange, &mut OsNonceSource).expect("server answers");
        for change in outcome.changes {
            match change {
                Change::ClientNonces { current, spent, .. } => {
                    self.device.client.nonce = current;
                    self.device.client.spent = spent;
                }
                Change::ServerNonce { nonce, .. } => self.device.server.nonce = nonce,
                Change::DevInfo { values, .. } => self.device.devinfo = values,
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
                Change::SessionCompleted { at_ms, .. } => self.device.last_session_ms = Some(at_ms),
                Change::DeviceEnrolled(_) | Change::Tree { .. } => {}
            }
        }
        (outcome.body, outcome.hmac)
    }
}

fn server(kind: AuthKind, server_auth: Option<AuthKind>, jobs: Vec<Job>) -> Server {
    Server {
        engine: Engine::new(EngineConfig::new(URL)),
        device: Device {
            dev_id: DEV.into(),
            server_id: "omadm".into(),
            client: AccountAuth {
                kind,
                user: DEV.into(),
                secret: "client-secret".into(),
                nonce: "c2VydmVyLXNpZGU=".into(),
                spent: Vec::new(),
            },
            server: AccountAuth {
                kind: server_auth.unwrap_or(AuthKind::Md5),
                user: "omadm".into(),
                secret: if server_auth.is_some() { "server-secret".into() } else { String::new() },
                nonce: String::new(),
                spent: Vec::new(),
            },
            devinfo: Default::default(),
            created_ms: 0,
            last_session_ms: None,
        },
        jobs,
        session: None,
        events: Vec::new(),
        now: 1_000,
    }
}

fn account(scheme: AuthScheme, server: Option<AuthScheme>) -> Account {
    Account {
        server_id: ServerId::new("omadm").expect("id"),
        server_uri: URL.into(),
        client: AuthConfig::new(scheme, DEV, "client-secret"),
        server: server.map(|s| AuthConfig::new(s, "omadm", "server-secret")),
        node: None,
    }
}

fn cmd(op: Operation, target: &str, data: Option<&str>) -> JobCommand {
    JobCommand { data: data.map(str::to_string), ..JobCommand::new(op, Some(target.into())) }
}

/// Runs sessions until the client finishes one; returns the number of messages it sent.
fn run_session(server: &mut Server, tree: &mut Tree<MemStore>, config: SessionConfig, ui: &mut ScriptedUi) -> usize {
    let (mut session, mut out) = Session::start(config, tree).expect("session starts");
    let mut sent = 0;
    loop {
        sent += 1;
        assert!(sent < 2000, "the session does not end");
        let (reply, hmac) = server.handle(&out.body, out.hmac.as_deref(), &out.url);
        let incoming = Incoming { body: &reply, content_type: Some(out.encoding.media_type()), hmac: hmac.as_deref() };
        match session.handle_reply(incoming, tree, ui).expect("the client takes the reply") {
            Action::Send(next) => {
                if out.encoding == Encoding::Wbxml {
                    assert_eq!(next.encoding, Encoding::Wbxml);
                }
                out = next;
            }
            Action::Finished(outcome) => {
                assert_eq!(outcome, omadm_client::Outcome::Completed);
                return sent;
            }
        }
    }
}

#[test]
fn client_and_server_run_jobs_for_every_scheme_and_encoding() {
    for (kind, scheme) in [
        (AuthKind::Basic, AuthScheme::Basic),
        (AuthKind::Md5, AuthScheme::Md5),
        (AuthKind::Sha256, AuthScheme::Sha256),
        (AuthKind::Hmac, AuthScheme::Mac),
    ] {
        for encoding in [Encoding::Xml, Encoding::Wbxml] {
            let atomic = JobCommand {
                commands: vec![cmd(Operation::Replace, "./Vendor/Color", Some("green"))],
                ..JobCommand::new(Operation::Atomic, None)
            };
            let confirm = JobCommand {
                alert: Some(UiAlert { code: 1101, text: "Go on?".into(), options: String::new(), choices: Vec::new() }),
                ..JobCommand::new(Operation::Alert, None)
            };
            let job = Job {
                id: 1,
                dev_id: DEV.into(),
                state: JobState::Queued,
                commands: vec![
                    JobCommand { format: Some("node".into()), ..cmd(Operation::Add, "./Vendor", None) },
                    cmd(Operation::Add, "./Vendor/Color", Some("blue")),
                    cmd(Operation::Get, "./DevInfo/Man", None),
                    atomic,
                    cmd(Operation::Get, "./Vendor/Color", None),
                    confirm,
                ],
                created_ms: 0,
                updated_ms: 0,
            };
            let mut srv = server(kind, None, vec![job]);
            let mut tree = tree();
            let mut config = SessionConfig::new(DEV, account(scheme.clone(), None));
            config.encoding = encoding;
            config.alerts.push(GenericAlert {
                code: omadm_proto::AlertCode::GenericAlert,
                source: Some("./Vendor".into()),
                meta_type: "org.example.test".into(),
                format: omadm_proto::Format::Chr,
                mark: Some("warning".into()),
                data: "hello".into(),
                correlator: None,
            });
            let mut ui = ScriptedUi::new(["yes"]);
            run_session(&mut srv, &mut tree, config, &mut ui);
            let job = &srv.jobs[0];
            let label = format!("{kind:?} {encoding:?}");
            assert_eq!(job.state, JobState::Completed, "{label}: {job:#?}");
            assert_eq!(job.commands[2].results[0].data, "omadm", "{label}");
            assert_eq!(job.commands[3].commands[0].status, Some(200), "{label}");
            assert_eq!(job.commands[4].results[0].data, "green", "{label}");
            assert_eq!(job.commands[5].status, Some(200), "{label}: the user said yes");
            assert_eq!(srv.device.devinfo.get("Mod").map(String::as_str), Some("sim"), "{label}");
            assert_eq!(srv.events.len(), 1, "{label}");
            assert_eq!(srv.events[0].data, "hello");
            assert!(srv.session.is_none(), "{label}: the session ended");
        }
    }
}

#[test]
fn large_objects_both_ways_in_4_kb_messages() {
    let value: String = (0..1_000_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let job = Job {
        id: 1,
        dev_id: DEV.into(),
        state: JobState::Queued,
        commands: vec![
            JobCommand { format: Some("node".into()), ..cmd(Operation::Add, "./Vendor", None) },
            cmd(Operation::Add, "./Vendor/Blob", Some(&value)),
            cmd(Operation::Get, "./Vendor/Blob", None),
        ],
        created_ms: 0,
        updated_ms: 0,
    };
    for encoding in [Encoding::Xml, Encoding::Wbxml] {
        let mut srv = server(AuthKind::Md5, Some(AuthKind::Md5), vec![job.clone()]);
        let mut config = EngineConfig::new(URL);
        config.max_message_size = 4096;
        srv.engine = Engine::new(config);
        let mut tree = tree();
        let mut config = SessionConfig::new(DEV, account(AuthScheme::Md5, Some(AuthScheme::Md5)));
        config.encoding = encoding;
        config.max_msg_size = 4096;
        config.assumed_server_max_msg_size = Some(4096);
        config.max_obj_size = 2 * 1024 * 1024;
        let mut ui = ScriptedUi::new(Vec::<String>::new());
        let messages = run_session(&mut srv, &mut tree, config, &mut ui);
        let job = &srv.jobs[0];
        assert_eq!(
            job.state,
            JobState::Completed,
            "{encoding:?}: {:?}",
            job.commands.iter().map(|c| c.status).collect::<Vec<_>>()
        );
        assert_eq!(job.commands[2].results[0].data.len(), value.len());
        assert!(job.commands[2].results[0].data == value, "the value came back whole");
        assert!(messages > 400, "{messages} messages: chunked both ways");
    }
}

#[test]
fn a_structural_get_answered_over_several_messages_keeps_every_item() {
    let mut commands = vec![JobCommand { format: Some("node".into()), ..cmd(Operation::Add, "./Vendor", None) }];
    commands.extend((0..150).map(|i| cmd(Operation::Add, &format!("./Vendor/Leaf{i:03}"), Some("value"))));
    commands.push(cmd(Operation::Get, "./Vendor?list=Struct", None));
    let job = Job { id: 1, dev_id: DEV.into(), state: JobState::Queued, commands, created_ms: 0, updated_ms: 0 };
    for encoding in [Encoding::Xml, Encoding::Wbxml] {
        let mut srv = server(AuthKind::Md5, None, vec![job.clone()]);
        let mut config = EngineConfig::new(URL);
        config.max_message_size = 4096;
        srv.engine = Engine::new(config);
        let mut tree = tree();
        let mut config = SessionConfig::new(DEV, account(AuthScheme::Md5, None));
        config.encoding = encoding;
        config.max_msg_size = 4096;
        config.assumed_server_max_msg_size = Some(4096);
        let mut ui = ScriptedUi::new(Vec::<String>::new());
        run_session(&mut srv, &mut tree, config, &mut ui);
        let job = &srv.jobs[0];
        let get = job.commands.last().expect("the Get");
        assert_eq!(job.state, JobState::Completed, "{encoding:?}");
        assert_eq!(get.status, Some(200), "{encoding:?}");
        assert_eq!(get.results.len(), 151, "{encoding:?}: ./Vendor and its 150 leaves");
        assert!(srv.session.is_none(), "{encoding:?}: the session ended");
    }
}
