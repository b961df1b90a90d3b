//! Test helpers: a device tree, an account, and a scripted fake server built from omadm-proto types.
#![allow(dead_code)] // each test binary uses a different part of this module

use omadm_client::{Account, AuthConfig, Incoming, Outgoing, Session, SessionConfig};
use omadm_proto::*;
use omadm_security::AuthScheme;
use omadm_tree::objects::{install, standard_config, DeviceDescription};
use omadm_tree::{MemStore, ServerId, Tree, UriLimits};
use std::path::{Path, PathBuf};

pub const DEV_ID: &str = "IMEI:493005100592800";
pub const SERVER_URL: &str = "http://127.0.0.1:8080/dm";

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub fn description(dev_id: &str) -> DeviceDescription {
    DeviceDescription {
        dev_id: dev_id.into(),
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
    }
}

pub fn device() -> Tree<MemStore> {
    let mut tree = Tree::open(MemStore::new(), standard_config()).unwrap();
    install(&mut tree, &description(DEV_ID)).unwrap();
    tree
}

pub fn account(client: AuthScheme, server: Option<AuthScheme>) -> Account {
    Account {
        server_id: ServerId::new("omadm").unwrap(),
        server_uri: SERVER_URL.into(),
        client: AuthConfig::new(client, DEV_ID, "client-secret"),
        server: server.map(|s| AuthConfig::new(s, "omadm", "server-secret")),
        node: None,
    }
}

/// A device with an installed account and a session started on it.
pub fn started(client: AuthScheme, server: Option<AuthScheme>) -> (Tree<MemStore>, Session, Outgoing) {
    let mut tree = device();
    let mut acc = account(client, server);
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.session_id = "42".into();
    let (s, out) = Session::start(cfg, &mut tree).unwrap();
    (tree, s, out)
}

pub fn decode(out: &Outgoing) -> SyncMl {
    omadm_proto::decode(&out.body, &Limits::default()).unwrap().0
}

/// The scripted server side of one session.
pub struct FakeServer {
    pub session: String,
    pub msg_id: u32,
    pub max_msg_size: Option<u64>,
    pub max_obj_size: Option<u64>,
    pub cred: Option<Cred>,
    pub resp_uri: Option<String>,
    pub ver_proto: VerProto,
}

impl FakeServer {
    pub fn new(session: &str) -> FakeServer {
        FakeServer {
            session: session.into(),
            msg_id: 0,
            max_msg_size: None,
            max_obj_size: None,
            cred: None,
            resp_uri: None,
            ver_proto: VerProto::Dm1_2,
        }
    }

    pub fn message(&mut self, commands: Vec<Command>, is_final: bool) -> SyncMl {
        self.msg_id += 1;
        let meta = (self.max_msg_size.is_some() || self.max_obj_size.is_some()).then(|| Meta {
            max_msg_size: self.max_msg_size,
            max_obj_size: self.max_obj_size,
            ..Meta::default()
        });
        SyncMl {
            header: SyncHdr {
                ver_dtd: VerDtd::V1_2,
                ver_proto: self.ver_proto.clone(),
                session_id: self.session.clone(),
                msg_id: self.msg_id.to_string(),
                target: Location::new(DEV_ID),
                source: Location::new(SERVER_URL),
                resp_uri: self.resp_uri.clone(),
                no_resp: false,
                cred: self.cred.clone(),
                meta,
            },
            body: SyncBody { commands, is_final },
        }
    }

    pub fn xml(&mut self, commands: Vec<Command>, is_final: bool) -> Vec<u8> {
        omadm_proto::xml::encode(&self.message(commands, is_final), &Default::default())
    }
}

pub fn reply(
    s: &mut Session,
    tree: &mut Tree<MemStore>,
    ui: &mut dyn omadm_client::UserInteraction,
    body: &[u8],
) -> omadm_client::Action {
    s.handle_reply(Incoming::body(body), tree, ui).unwrap()
}

pub fn sent(action: omadm_client::Action) -> SyncMl {
    match action {
        omadm_client::Action::Send(out) => decode(&out),
        other => panic!("expected a message, got {other:?}"),
    }
}

pub fn hdr_status(msg_ref: &str, code: u16) -> Command {
    Command::Status(Status {
        cmd_id: "1".into(),
        msg_ref: Some(msg_ref.into()),
        cmd_ref: "0".into(),
        cmd: CommandName::SyncHdr,
        target_refs: vec![SERVER_URL.into()],
        source_refs: vec![DEV_ID.into()],
        cred: None,
        chal: None,
        code: StatusCode::from_code(code),
        items: vec![],
    })
}

pub fn item(target: &str, data: Option<&str>) -> Item {
    Item { target: Some(Location::new(target)), data: data.map(Data::from), ..Item::default() }
}

pub fn item_cmd(id: &str, items: Vec<Item>) -> ItemCommand {
    ItemCommand { cmd_id: id.into(), no_resp: false, cred: None, meta: None, items }
}

pub fn get(id: &str, target: &str) -> Command {
    Command::Get(item_cmd(id, vec![item(target, None)]))
}

pub fn add(id: &str, target: &str, data: &str) -> Command {
    Command::Add(item_cmd(id, vec![item(target, Some(data))]))
}

pub fn replace(id: &str, target: &str, data: &str) -> Command {
    Command::Replace(item_cmd(id, vec![item(target, Some(data))]))
}

pub fn delete(id: &str, target: &str) -> Command {
    Command::Delete(item_cmd(id, vec![item(target, None)]))
}

pub fn alert(id: &str, code: u16, texts: &[&str]) -> Command {
    Command::Alert(Alert {
        cmd_id: id.into(),
        no_resp: false,
        cred: None,
        code: Some(AlertCode::from_code(code)),
        correlator: None,
        items: texts.iter().map(|t| Item { data: Some(Data::from(*t)), ..Item::default() }).collect(),
    })
}

/// (Cmd, CmdRef, code) of every Status in a message.
pub fn statuses(msg: &SyncMl) -> Vec<(String, String, u16)> {
    msg.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) => Some((s.cmd.to_string(), s.cmd_ref.clone(), s.code.code())),
            _ => None,
        })
        .collect()
}

pub fn status_of(msg: &SyncMl, cmd_ref: &str) -> Vec<u16> {
    statuses(msg).into_iter().filter(|(_, r, _)| r == cmd_ref).map(|(_, _, c)| c).collect()
}

pub fn status_cmd(msg: &SyncMl, cmd_ref: &str) -> Status {
    msg.body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Status(s) if s.cmd_ref == cmd_ref => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Status for CmdRef {cmd_ref}"))
}

pub fn results(msg: &SyncMl) -> Vec<Results> {
    msg.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Results(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}
