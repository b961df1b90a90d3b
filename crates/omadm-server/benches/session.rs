//! The server session engine on a whole session in memory, without HTTP or storage: an MD5
//! Package 1 (Alert 1201, five DevInfo leaves), Package 2 with three Gets and one Replace queued,
//! the client's Statuses and Results, and the closing Package 4. Decoding the client messages and
//! encoding the replies are included; the rows are per session, in XML and in WBXML.
//!
//! `cargo bench -p omadm-server --bench session`. docs/performance.md has the figures.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use omadm_proto::*;
use omadm_security::nonce::NonceError;
use omadm_security::{AccountCredentials, AuthScheme, Credential, Nonce, NonceSource};
use omadm_server::engine::{Change, Engine, EngineConfig, Exchange, SessionLookup, SessionState};
use omadm_server::model::{AccountAuth, AuthKind, Device, Job, JobCommand, JobState, Operation};
use std::time::Duration;

fn main() {
    divan::Divan::default().min_time(Duration::from_millis(200)).config_with_args().main();
}

const DEV: &str = "IMEI:490154203237518";
const URL: &str = "http://127.0.0.1:8080/dm";

/// A fixed nonce source: the engine's work, not the OS random generator, is measured.
struct Fixed;

impl NonceSource for Fixed {
    fn next_nonce(&mut self) -> Result<Nonce, NonceError> {
        Ok(Nonce::from_bytes(vec![7; 16]))
    }
}

fn device() -> Device {
    let auth = |user: &str, secret: &str| AccountAuth {
        kind: AuthKind::Md5,
        user: user.into(),
        secret: secret.into(),
        nonce: Nonce::from_bytes(vec![1; 16]).to_next_nonce(),
        spent: Vec::new(),
    };
    Device {
        dev_id: DEV.into(),
        server_id: "omadm".into(),
        client: auth(DEV, "devsecret"),
        server: auth("omadm", ""),
        devinfo: Default::default(),
        created_ms: 0,
        last_session_ms: None,
    }
}

fn jobs() -> Vec<Job> {
    let mut commands: Vec<JobCommand> = ["./DevDetail/FwV", "./DevDetail/SwV", "./DevInfo/Lang"]
        .iter()
        .map(|u| JobCommand::new(Operation::Get, Some(u.to_string())))
        .collect();
    let mut replace = JobCommand::new(Operation::Replace, Some("./Vendor/Color".into()));
    replace.data = Some("blue".into());
    commands.push(replace);
    vec![Job { id: 1, dev_id: DEV.into(), state: JobState::Queued, commands, created_ms: 0, updated_ms: 0 }]
}

fn header(msg: u32, cred: Option<Cred>) -> SyncHdr {
    SyncHdr {
        ver_dtd: VerDtd::V1_2,
        ver_proto: VerProto::Dm1_2,
        session_id: "1A".into(),
        msg_id: msg.to_string(),
        target: Location::new(URL),
        source: Location { loc_uri: DEV.into(), loc_name: Some(DEV.into()) },
        resp_uri: None,
        no_resp: false,
        cred,
        meta: Some(Meta { max_msg_size: Some(16384), ..Meta::default() }),
    }
}

fn encode(message: &SyncMl, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Xml => xml::encode(message, &xml::XmlOptions::default()),
        Encoding::Wbxml => wbxml::encode(message, &wbxml::WbxmlOptions::default()).expect("encode"),
    }
}

fn package1(encoding: Encoding) -> Vec<u8> {
    let cred = Credential::compute(
        &AuthScheme::Md5,
        &AccountCredentials::new(DEV, "devsecret"),
        &Nonce::from_bytes(vec![1; 16]),
    )
    .expect("cred");
    let cred = Cred {
        meta: Some(Meta { format: Some(Format::B64), media_type: Some("syncml:auth-md5".into()), ..Meta::default() }),
        data: cred.data,
    };
    let alert = Command::Alert(Alert {
        cmd_id: "1".into(),
        no_resp: false,
        cred: None,
        code: Some(AlertCode::ClientInitiatedMgmt),
        correlator: None,
        items: Vec::new(),
    });
    let devinfo = Command::Replace(ItemCommand {
        cmd_id: "2".into(),
        items: [("DevId", DEV), ("Man", "omadm"), ("Mod", "bench"), ("DmV", "1.2"), ("Lang", "en")]
            .iter()
            .map(|(leaf, value)| Item {
                source: Some(Location::new(format!("./DevInfo/{leaf}"))),
                data: Some(Data::Text(value.to_string())),
                ..Item::default()
            })
            .collect(),
        ..ItemCommand::default()
    });
    encode(
        &SyncMl { header: header(1, Some(cred)), body: SyncBody { commands: vec![alert, devinfo], is_final: true } },
        encoding,
    )
}

/// Package 3: the answers to a Package 2.
fn package3(p2: &SyncMl, encoding: Encoding) -> Vec<u8> {
    let status = |cmd_ref: &str, cmd: CommandName, code: StatusCode| {
        Command::Status(Status::new("1", Some(p2.header.msg_id.clone()), cmd_ref, cmd, code))
    };
    let mut commands = vec![status("0", CommandName::SyncHdr, StatusCode::Ok)];
    for cmd in p2.body.commands.iter().filter(|c| !matches!(c, Command::Status(_))) {
        commands.push(status(cmd.cmd_id(), cmd.name(), StatusCode::Ok));
        if let Command::Get(get) = cmd {
            let uri = get.items[0].target.as_ref().expect("target").loc_uri.clone();
            commands.push(Command::Results(Results {
                cmd_id: "2".into(),
                msg_ref: Some(p2.header.msg_id.clone()),
                cmd_ref: get.cmd_id.clone(),
                items: vec![Item {
                    source: Some(Location::new(uri)),
                    data: Some(Data::Text("1.0.7".into())),
                    ..Item::default()
                }],
                ..Results::default()
            }));
        }
    }
    encode(&SyncMl { header: header(2, None), body: SyncBody { commands, is_final: true } }, encoding)
}

/// Package 1 in, Package 2 out: the reply and the session state to continue with.
fn first_half(engine: &Engine, p1: &[u8]) -> (Vec<u8>, SessionState) {
    let (m1, encoding) = decode(p1, &Limits::DEFAULT).expect("decode");
    let exchange = Exchange {
        message: &m1,
        body: p1,
        encoding,
        hmac: None,
        session: SessionLookup::New,
        device: Some(device()),
        jobs: jobs(),
        now_ms: 1,
        new_token: "0123456789abcdef0123456789abcdef".into(),
    };
    let outcome = engine.handle(exchange, &mut Fixed).expect("package 2");
    let state = outcome.changes.into_iter().find_map(|c| match c {
        Change::SaveSession(s) => Some(s),
        _ => None,
    });
    (outcome.body, state.expect("the session goes on"))
}

/// Package 3 in, Package 4 out: the reply and whether the session ended.
fn second_half(engine: &Engine, state: SessionState, p3: &[u8]) -> (Vec<u8>, bool) {
    let mut running = jobs();
    running[0].state = JobState::Running;
    let (m3, encoding) = decode(p3, &Limits::DEFAULT).expect("decode");
    let exchange = Exchange {
        message: &m3,
        body: p3,
        encoding,
        hmac: None,
        session: SessionLookup::Found(Box::new(state)),
        device: Some(device()),
        jobs: running,
        now_ms: 2,
        new_token: String::new(),
    };
    let outcome = engine.handle(exchange, &mut Fixed).expect("package 4");
    let ended = outcome.changes.iter().any(|c| matches!(c, Change::EndSession { .. }));
    (outcome.body, ended)
}

#[divan::bench(args = [Encoding::Xml, Encoding::Wbxml])]
fn full_session(bencher: Bencher, encoding: Encoding) {
    let engine = Engine::new(EngineConfig::new(URL));
    let p1 = package1(encoding);
    let (p2, state) = first_half(&engine, &p1);
    let p2 = decode(&p2, &Limits::DEFAULT).expect("decode").0;
    assert_eq!(p2.body.commands.iter().filter(|c| !matches!(c, Command::Status(_))).count(), 4);
    let p3 = package3(&p2, encoding);
    assert!(second_half(&engine, state, &p3).1, "the session ends after Package 4");
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        let (reply, state) = first_half(&engine, black_box(&p1));
        black_box(reply);
        black_box(second_half(&engine, state, black_box(&p3)))
    });
}
