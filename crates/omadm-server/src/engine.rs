//! The sans-IO server session engine (DM Protocol 1.2 §8–9, DM Security 1.2 §5; digest §4, §10).
//!
//! One call of [`Engine::handle`] takes one decoded client message together with everything the
//! server knows that it concerns (the stored [`SessionState`], the [`Device`], its pending [`Job`]s,
//! the time and fresh nonces) and returns the encoded reply plus the list of [`Change`]s to persist.
//! No sockets, clocks, files or databases are touched here, so any server node can continue any
//! session from the stored state, and a session can be scripted message by message in tests.

use crate::model::{AccountAuth, Device, Event, Job, JobCommand, JobState, Operation, ResultItem, TreeValue};
use base64::Engine as _;
use omadm_proto::wbxml::WbxmlOptions;
use omadm_proto::xml::XmlOptions;
use omadm_proto::{
    Alert, AlertCode, Chal, Command, CommandName, Container, Cred, Data, Encoding, Exec, Format, Item, ItemCommand,
    Location, Meta, Status, StatusCode, SyncBody, SyncHdr, SyncMl, VerDtd, VerProto,
};
use omadm_security::{
    AuthScheme, Challenge, Credential, HmacHeader, NonceLedger, NonceSource, Presented, Prover, Verifier,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Errors the engine cannot turn into a SyncML answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The reply could not be encoded (a value WBXML cannot carry, for example).
    #[error("cannot encode the reply: {0}")]
    Encode(#[from] omadm_proto::Error),
    /// No fresh nonce could be generated.
    #[error("authentication: {0}")]
    Auth(#[from] omadm_security::AuthError),
}

/// Enrolment on first contact: an unknown DevId is registered with this account instead of being
/// refused with 401, and then authenticates like any other device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The scheme new devices must use.
    pub kind: crate::model::AuthKind,
    /// The shared enrolment secret.
    pub secret: String,
}

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The absolute URL of the DM endpoint; RespURI = this plus `?session=<token>`.
    pub dm_url: String,
    /// The ServerID given to enrolled devices.
    pub server_id: String,
    /// An open session expires after this long without a message (milliseconds).
    pub session_timeout_ms: i64,
    /// The largest message we accept (sent as our MaxMsgSize).
    pub max_message_size: usize,
    /// The message size assumed when the client sends no MaxMsgSize.
    pub default_client_max_msg_size: usize,
    /// Enrolment on first contact, off when `None`.
    pub enrolment: Option<Enrolment>,
    /// The largest object taken from a client in chunks (DM Protocol 1.2 §7.4; sent as our
    /// MaxObjSize): a larger one is answered 413 and its chunks so far are dropped, so a client
    /// cannot grow a session's buffer, stored with the session at every message, without end.
    pub max_object_size: u64,
}

impl EngineConfig {
    /// Defaults for a DM endpoint at `dm_url`: ServerID `omadm`, 5-minute sessions, 1 MiB messages,
    /// 64 KiB assumed for clients that do not say, no enrolment, 16 MiB objects.
    pub fn new(dm_url: impl Into<String>) -> EngineConfig {
        EngineConfig {
            dm_url: dm_url.into(),
            server_id: "omadm".into(),
            session_timeout_ms: 5 * 60 * 1000,
            max_message_size: 1 << 20,
            default_client_max_msg_size: 64 << 10,
            enrolment: None,
            max_object_size: 16 << 20,
        }
    }
}

/// Where a command of a job sits: the job and the index path (top level, then nested).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRef {
    /// The job id.
    pub job: i64,
    /// Index of the top-level command, then of the nested one (Atomic/Sequence).
    pub path: Vec<u16>,
}

/// A command sent and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outstanding {
    /// The server MsgID it went in.
    pub msg: u32,
    /// Its CmdID.
    pub cmd: u32,
    /// The job command; `None` for the server's own Alert 1225, and for a chunk that is not the
    /// last in sessions stored by a server from before [`Outstanding::more`].
    pub target: Option<CommandRef>,
    /// A chunk that is not the last: answered 213 while the object goes on, anything else ends
    /// the object with that status (DM Protocol 1.2 §7.4; digest §10).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// The success Status of a Get whose Results have not arrived yet: the entry stays until they
    /// do, in this message or a later one of the package (digest §10), and the Get is recorded
    /// answered with this status only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// What [`SessionRun::next_chunk`] did with the large object being sent.
enum ChunkStep {
    /// A chunk went into the reply; `last` when it ends the object.
    Sent { last: bool },
    /// Nothing went out: the object is answered locally with 413 (or was gone).
    GaveUp,
}

/// A large object being sent in chunks (DM Protocol 1.2 §7.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkOut {
    /// The command being chunked.
    pub command: CommandRef,
    /// Bytes of its data already sent.
    pub offset: usize,
}

/// A large object being received in chunks (Results of a Get).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkIn {
    /// The Get it answers.
    pub command: CommandRef,
    /// The node.
    pub uri: String,
    /// Meta Format of the first chunk.
    pub format: String,
    /// Meta Size of the first chunk.
    pub size: Option<u64>,
    /// What arrived so far (base64 in storage).
    #[serde(with = "b64_bytes")]
    pub data: Vec<u8>,
}

/// The last reply, resent as is when the client repeats its message (a lost HTTP response).
///
/// The stores keep it in columns of its own, as raw bytes (see [`SessionState::last_reply`]);
/// it is only deserialized, from the state JSON of sessions stored before those columns existed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredReply {
    /// The client MsgID it answered.
    pub client_msg: u32,
    /// The encoded reply (base64 in the old state JSON).
    #[serde(deserialize_with = "b64_bytes::deserialize")]
    pub body: Vec<u8>,
    /// The `x-syncml-hmac` header sent with it.
    pub hmac: Option<String>,
}

/// The state of one open session: small, serializable, stored between messages.
/// `Default` is the state before any message (no token, nothing exchanged, nobody
/// authenticated), the base a new session's fields are filled into.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// The token in RespURI that names this session.
    pub token: String,
    /// The SyncHdr SessionID.
    pub session_id: String,
    /// The device.
    pub dev_id: String,
    /// The client's `Target` (our URI as the client knows it), echoed as our `Source`.
    pub server_uri: String,
    /// `VerProto` of the client, echoed.
    pub ver_proto: String,
    /// WBXML or XML, as the client chose.
    pub wbxml: bool,
    /// The client's MaxMsgSize.
    pub max_msg_size: usize,
    /// The client's MaxObjSize, if it sent one.
    pub max_obj_size: Option<u64>,
    /// The last client MsgID processed.
    pub client_msg: u32,
    /// The last server MsgID sent.
    pub server_msg: u32,
    /// Time of the last message (Unix milliseconds).
    pub last_ms: i64,
    /// Whether the client is authenticated for the session (212 given).
    pub authenticated: bool,
    /// Authentication failures so far.
    pub auth_failures: u32,
    /// The nonce of a re-challenge (kept in the session only until the device authenticates).
    pub challenge_nonce: Option<String>,
    /// Whether the client accepted our credentials (212/200 to our SyncHdr).
    pub server_accepted: bool,
    /// The nonce the client challenged us with during this session.
    pub server_nonce: Option<String>,
    /// How many times the client refused our credentials.
    pub server_retries: u32,
    /// Commands sent and not answered.
    pub outstanding: Vec<Outstanding>,
    /// An object being sent in chunks.
    pub chunk_out: Option<ChunkOut>,
    /// An object being received in chunks.
    pub chunk_in: Option<ChunkIn>,
    /// The last reply, for duplicates.
    ///
    /// Not part of the serialized state: the stores write it to the session row's reply columns
    /// as raw bytes, since base64 in the JSON cost about 60 K instructions per session, encoded
    /// and decoded at every message. It is still read from the JSON (`default` when absent), so
    /// that a session stored before those columns existed keeps its reply; when the JSON has one,
    /// it wins over the columns (only a server from before them writes it there).
    #[serde(default, skip_serializing)]
    pub last_reply: Option<StoredReply>,
}

/// What the HTTP layer found for the session token of a request.
#[derive(Debug, Clone)]
pub enum SessionLookup {
    /// No token: a new session starts.
    New,
    /// The stored session.
    Found(Box<SessionState>),
    /// A token was given but no session is stored under it.
    Missing,
}

/// One client message with everything the engine needs about it.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The decoded message.
    pub message: &'a SyncMl,
    /// The exact body bytes (for `x-syncml-hmac`).
    pub body: &'a [u8],
    /// The encoding it came in (the reply uses the same).
    pub encoding: Encoding,
    /// The `x-syncml-hmac` header, if any.
    pub hmac: Option<&'a str>,
    /// The session.
    pub session: SessionLookup,
    /// The device named by the message's Source (or the session's).
    pub device: Option<Device>,
    /// The device's queued and running jobs, oldest first.
    pub jobs: Vec<Job>,
    /// Now (Unix milliseconds).
    pub now_ms: i64,
    /// A fresh unguessable token, used if a session starts.
    pub new_token: String,
}

/// What to persist after a message, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A device enrolled on first contact.
    DeviceEnrolled(Device),
    /// The client-direction nonce state after a successful authentication.
    ClientNonces {
        /// The device.
        dev_id: String,
        /// The client nonce the device's stored record held when the message was read: the store
        /// applies the change only while it still does, so that of two messages checked against
        /// the same nonce (a replay racing the original on another server process sharing the
        /// database) only the first is stored ([`crate::store::StoreError::Stale`] for the other).
        previous: String,
        /// The nonce the device must use next (base64).
        current: String,
        /// Spent nonces, oldest first (base64).
        spent: Vec<String>,
    },
    /// The nonce the (authenticated) device gave us for our next credentials.
    ServerNonce {
        /// The device.
        dev_id: String,
        /// Base64 nonce.
        nonce: String,
    },
    /// DevInfo changed in Package 1: the device's whole DevInfo after the change.
    DevInfo {
        /// The device.
        dev_id: String,
        /// Leaf name → value, every leaf known.
        values: BTreeMap<String, String>,
    },
    /// Tree values learnt.
    Tree {
        /// The device.
        dev_id: String,
        /// The values.
        values: Vec<TreeValue>,
    },
    /// A generic alert or client event.
    Event(Event),
    /// A job whose commands or state changed.
    Job(Job),
    /// A job whose state changed and nothing else (a queued job whose commands went out): its
    /// stored commands stay as they are. Rewriting them, about 520 bytes of JSON encoded for
    /// each job at each start, was a share of the store's writes.
    JobState {
        /// The job.
        id: i64,
        /// Its new state.
        state: JobState,
        /// When it changed.
        updated_ms: i64,
    },
    /// The session state to store under its token. Its `server_msg` is one more than the stored
    /// state's, the one the message was handled from: the store replaces the stored state only
    /// while that still holds, so that of two server processes sharing the database that handle
    /// the same message of a session at once (a retry sent to another node while the first was
    /// still working, or a replay) only one stores its outcome
    /// ([`crate::store::StoreError::Stale`] for the other). A session's first state is stored
    /// only if no session has its token; a later one is not stored for a session deleted
    /// meanwhile (ended by another process, or expired).
    SaveSession(SessionState),
    /// The session ended: delete its state.
    EndSession {
        /// Its token.
        token: String,
    },
    /// The device completed a session.
    SessionCompleted {
        /// The device.
        dev_id: String,
        /// When.
        at_ms: i64,
    },
}

/// The engine's answer to one message.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The encoded reply.
    pub body: Vec<u8>,
    /// The reply's encoding.
    pub encoding: Encoding,
    /// `x-syncml-hmac` for the reply, when we authenticate to the device by HMAC.
    pub hmac: Option<String>,
    /// What to persist.
    pub changes: Vec<Change>,
}

/// The server session engine.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
}

/// The reply being assembled.
struct Reply {
    commands: Vec<Command>,
    next_cmd: u32,
}

impl Reply {
    fn cmd_id(&mut self) -> String {
        let id = self.next_cmd;
        self.next_cmd += 1;
        id.to_string()
    }
}

impl Engine {
    /// An engine with these settings.
    pub fn new(config: EngineConfig) -> Engine {
        Engine { config }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Processes one client message and says what to answer and what to persist.
    pub fn handle(&self, ex: Exchange<'_>, nonces: &mut dyn NonceSource) -> Result<Outcome, EngineError> {
        let hdr = &ex.message.header;
        let msg_id: Option<u32> = hdr.msg_id.trim().parse().ok();
        let mut changes = Vec::new();
        let state = match &ex.session {
            SessionLookup::Missing => return self.refuse(&ex, StatusCode::NotFound, None),
            SessionLookup::Found(state) => {
                if state.session_id != hdr.session_id || state.dev_id != hdr.source.loc_uri {
                    return self.refuse(&ex, StatusCode::NotFound, None);
                }
                if ex.now_ms - state.last_ms > self.config.session_timeout_ms {
                    changes.push(Change::EndSession { token: state.token.clone() });
                    return self.refuse(&ex, StatusCode::RequestTimeout, Some(changes));
                }
                if let Some(last) = &state.last_reply {
                    if Some(last.client_msg) == msg_id {
                        // A repeated message: its reply was lost, send it again unchanged.
                        return Ok(Outcome {
                            body: last.body.clone(),
                            encoding: ex.encoding,
                            hmac: last.hmac.clone(),
                            changes: Vec::new(),
                        });
                    }
                }
                if msg_id != state.client_msg.checked_add(1) {
                    return self.refuse(&ex, StatusCode::BadRequest, None);
                }
                (**state).clone()
            }
            SessionLookup::New => {
                let Some(msg) = msg_id else { return self.refuse(&ex, StatusCode::BadRequest, None) };
                SessionState {
                    token: ex.new_token.clone(),
                    session_id: hdr.session_id.clone(),
                    dev_id: hdr.source.loc_uri.clone(),
                    server_uri: hdr.target.loc_uri.clone(),
                    ver_proto: hdr.ver_proto.as_str().to_string(),
                    wbxml: ex.encoding == Encoding::Wbxml,
                    max_msg_size: self.config.default_client_max_msg_size,
                    max_obj_size: None,
                    client_msg: msg.saturating_sub(1),
                    last_ms: ex.now_ms,
                    ..SessionState::default()
                }
            }
        };
        let mut device = ex.device.clone();
        let mut enrolling = false;
        if device.is_none() {
            if let Some(enrol) = &self.config.enrolment {
                // Stored only once this message authenticates against it (SessionRun::authenticate).
                device = Some(self.enrol(&state.dev_id, enrol, ex.now_ms, nonces)?);
                enrolling = true;
            }
        }
        let Some(device) = device else {
            // Unknown device, no enrolment: 401 without a challenge, nothing stored.
            return self.refuse(&ex, StatusCode::InvalidCredentials, None);
        };
        let jobs = ex.jobs.clone();
        SessionRun {
            engine: self,
            ex: &ex,
            state,
            device,
            enrolling,
            changes,
            jobs,
            chunk_refused: false,
            interrupted: Vec::new(),
            present_credentials: true,
        }
        .run(msg_id.unwrap_or(0), nonces)
    }

    fn enrol(
        &self,
        dev_id: &str,
        enrol: &Enrolment,
        now_ms: i64,
        nonces: &mut dyn NonceSource,
    ) -> Result<Device, EngineError> {
        let nonce = nonces.next_nonce().map_err(omadm_security::AuthError::from)?;
        Ok(Device {
            dev_id: dev_id.to_string(),
            server_id: self.config.server_id.clone(),
            client: AccountAuth {
                kind: enrol.kind,
                user: dev_id.to_string(),
                secret: enrol.secret.clone(),
                nonce: nonce.to_next_nonce(),
                spent: Vec::new(),
            },
            server: AccountAuth {
                kind: crate::model::AuthKind::Md5,
                user: self.config.server_id.clone(),
                secret: String::new(),
                nonce: String::new(),
                spent: Vec::new(),
            },
            devinfo: BTreeMap::new(),
            created_ms: now_ms,
            last_session_ms: None,
        })
    }

    /// A reply that refuses the whole message: the header Status `code`, the same code for every
    /// command, Final, no RespURI, and nothing stored (beyond `changes`).
    fn refuse(
        &self,
        ex: &Exchange<'_>,
        code: StatusCode,
        changes: Option<Vec<Change>>,
    ) -> Result<Outcome, EngineError> {
        let hdr = &ex.message.header;
        let mut reply = Reply { commands: Vec::new(), next_cmd: 1 };
        let header_status = header_status(&mut reply, hdr, code, None);
        reply.commands.push(Command::Status(header_status));
        for cmd in &ex.message.body.commands {
            if !matches!(cmd, Command::Status(_) | Command::Results(_)) {
                let st = status_for(&mut reply, &hdr.msg_id, cmd, code);
                reply.commands.push(Command::Status(st));
            }
        }
        let message = SyncMl {
            header: SyncHdr {
                ver_dtd: VerDtd::V1_2,
                ver_proto: hdr.ver_proto.clone(),
                session_id: hdr.session_id.clone(),
                msg_id: "1".into(),
                target: Location::new(hdr.source.loc_uri.clone()),
                source: Location::new(hdr.target.loc_uri.clone()),
                resp_uri: None,
                no_resp: false,
                cred: None,
                meta: None,
            },
            body: SyncBody { commands: reply.commands, is_final: true },
        };
        Ok(Outcome {
            body: encode(&message, ex.encoding)?,
            encoding: ex.encoding,
            hmac: None,
            changes: changes.unwrap_or_default(),
        })
    }
}

/// The processing of one message within a session.
struct SessionRun<'e, 'x> {
    engine: &'e Engine,
    ex: &'x Exchange<'x>,
    state: SessionState,
    device: Device,
    /// Whether `device` is a record made for enrolment on first contact, not stored yet: it is
    /// stored when the message authenticates, so that a failed attempt leaves nothing behind.
    enrolling: bool,
    changes: Vec<Change>,
    jobs: Vec<Job>,
    /// Whether the client refused a chunk of the object being sent in this message.
    chunk_refused: bool,
    /// The node URIs of large objects being received that this message cut short (Alert 1225).
    interrupted: Vec<String>,
    /// Whether the reply carries our credentials (SRVCRED, until the device accepted them). Not
    /// to a device that failed to authenticate: we prove ourselves to an authenticated device
    /// only. A reply that only challenges the device then holds no credentials the device could
    /// count as a failed attempt of ours: after its own challenge of us went to a session we had
    /// ended (a device whose nonce for us we no longer share), the device's failure budget is
    /// kept for the reply that carries the nonce it gave.
    present_credentials: bool,
}

impl SessionRun<'_, '_> {
    fn run(mut self, msg_id: u32, nonces: &mut dyn NonceSource) -> Result<Outcome, EngineError> {
        let message = self.ex.message;
        let hdr = &message.header;
        self.state.client_msg = msg_id;
        self.state.last_ms = self.ex.now_ms;
        if let Some(meta) = &hdr.meta {
            if let Some(max) = meta.max_msg_size {
                self.state.max_msg_size = usize::try_from(max).unwrap_or(usize::MAX).max(512);
            }
            if meta.max_obj_size.is_some() {
                self.state.max_obj_size = meta.max_obj_size;
            }
        }
        let mut reply = Reply { commands: Vec::new(), next_cmd: 1 };

        // 1. Authentication of the client (DM Security 1.2 §5.3).
        let (auth_code, chal, accepted, end) = self.authenticate(nonces)?;
        let header = header_status(&mut reply, hdr, auth_code, chal);
        reply.commands.push(Command::Status(header));
        if !accepted {
            self.present_credentials = false;
            // On failure: Status only, one per received command (digest §4).
            for cmd in &message.body.commands {
                if !matches!(cmd, Command::Status(_) | Command::Results(_)) {
                    let st = status_for(&mut reply, &hdr.msg_id, cmd, auth_code);
                    reply.commands.push(Command::Status(st));
                }
            }
            if end {
                self.changes.push(Change::EndSession { token: self.state.token.clone() });
                return self.finish(reply, true, false);
            }
            return self.finish(reply, true, true);
        }

        // 2. The client's commands.
        let mut aborted = false;
        let mut touched_jobs: Vec<i64> = Vec::new();
        for cmd in &message.body.commands {
            let code = match cmd {
                Command::Status(st) => {
                    self.on_status(st, &mut touched_jobs);
                    None
                }
                // No Status for Results accepted whole (digest §1); 213/424 for chunks.
                Command::Results(res) => self.on_results(res, &mut touched_jobs),
                Command::Alert(alert) => {
                    aborted |= alert.code == Some(AlertCode::SessionAbort);
                    Some(self.on_alert(alert))
                }
                Command::Replace(rep) => Some(self.on_replace(rep)),
                // A client sends only Replace (DevInfo), Results, Alert and Status (digest §10).
                _ => Some(StatusCode::CommandNotAllowed),
            };
            if let Some(code) = code {
                let st = status_for(&mut reply, &hdr.msg_id, cmd, code);
                reply.commands.push(Command::Status(st));
            }
        }
        if message.body.is_final && self.state.chunk_in.is_none() {
            self.end_structural(&mut touched_jobs);
        }
        for uri in std::mem::take(&mut self.interrupted) {
            // Alert 1225 for an object cut short; its Status is awaited like any command's.
            let cmd = reply.next_cmd;
            let cmd_id = reply.cmd_id();
            reply.commands.push(Command::Alert(Alert {
                cmd_id,
                no_resp: false,
                cred: None,
                code: Some(AlertCode::NoEndOfData),
                correlator: None,
                items: vec![Item {
                    target: Some(Location::new(uri.clone())),
                    source: Some(Location::new(uri)),
                    ..Item::default()
                }],
            }));
            let msg = self.state.server_msg + 1;
            self.state.outstanding.push(Outstanding { msg, cmd, target: None, more: false, status: None });
        }
        touched_jobs.sort_unstable();
        touched_jobs.dedup();
        for id in touched_jobs {
            let receiving = self.state.chunk_in.as_ref().is_some_and(|c| c.command.job == id);
            if let Some(job) = self.jobs.iter_mut().find(|j| j.id == id) {
                job.refresh_state();
                if receiving {
                    // Results still arriving in chunks: not done yet.
                    job.state = JobState::Running;
                }
                job.updated_ms = self.ex.now_ms;
                self.changes.push(Change::Job(job.clone()));
            }
        }
        if aborted {
            // 1223: answer with Statuses only and stop; unanswered commands go in the next session.
            self.changes.push(Change::EndSession { token: self.state.token.clone() });
            return self.finish(reply, true, false);
        }

        // 3. What we send next.
        if self.chunk_refused {
            // The client ended the large object with an error: the pending commands go on, as
            // when it is given up with 413, in answer to the client's 1222 for the next chunk.
            if self.state.outstanding.is_empty() {
                return self.queue_or_end(reply);
            }
            return self.finish(reply, true, true);
        }
        if self.state.chunk_out.is_some() {
            match self.next_chunk(&mut reply)? {
                ChunkStep::Sent { last } => return self.finish(reply, last, true),
                // A later chunk that no longer fits (the client lowered its MaxMsgSize) ends the
                // object with 413: the pending commands after it go in this message instead. The
                // session stays open even when none is left: the client holds part of the object
                // and answers this Final message (with Alert 1225), and that answer ends it.
                ChunkStep::GaveUp => {
                    let is_final =
                        if self.state.outstanding.is_empty() { self.queue_commands(&mut reply)? } else { true };
                    return self.finish(reply, is_final, true);
                }
            }
        }
        if !message.body.is_final || self.state.chunk_in.is_some() {
            // The client's package goes on: ask for its next message (1222), no Final.
            let cmd_id = reply.cmd_id();
            reply.commands.push(Command::Alert(Alert {
                cmd_id,
                no_resp: false,
                cred: None,
                code: Some(AlertCode::NextMessage),
                correlator: None,
                items: vec![Item {
                    target: Some(Location::new(self.state.dev_id.clone())),
                    source: Some(Location::new(self.state.server_uri.clone())),
                    ..Item::default()
                }],
            }));
            return self.finish(reply, false, true);
        }
        // Only commands of this reply (an Alert 1225) may still wait for their Status.
        if self.state.outstanding.iter().all(|o| o.msg > self.state.server_msg) {
            return self.queue_or_end(reply);
        }
        // The client's package is complete without Statuses for some of our commands: they are
        // lost. End the session; those commands stay unanswered and go again next session.
        self.changes.push(Change::EndSession { token: self.state.token.clone() });
        self.finish(reply, true, false)
    }

    /// With every command sent so far answered: adds the pending commands that fit, or, with
    /// none left, ends the session with this reply (digest §10, Package 4).
    fn queue_or_end(mut self, mut reply: Reply) -> Result<Outcome, EngineError> {
        let is_final = self.queue_commands(&mut reply)?;
        if self.state.outstanding.is_empty() && self.state.chunk_out.is_none() {
            self.changes.push(Change::EndSession { token: self.state.token.clone() });
            self.changes.push(Change::SessionCompleted { dev_id: self.state.dev_id.clone(), at_ms: self.ex.now_ms });
            return self.finish(reply, true, false);
        }
        self.finish(reply, is_final, true)
    }

    /// Checks the client's credentials (or accepts them as already given) and returns the header
    /// status, the challenge, whether the message is accepted and whether the session must end.
    fn authenticate(
        &mut self,
        nonces: &mut dyn NonceSource,
    ) -> Result<(StatusCode, Option<Challenge>, bool, bool), EngineError> {
        let scheme = self.device.client.kind.scheme();
        if self.state.authenticated && scheme != AuthScheme::Mac {
            return Ok((StatusCode::Ok, None, true, false));
        }
        let current = match &self.state.challenge_nonce {
            Some(n) => omadm_security::Nonce::from_next_nonce(n),
            None => self.device.client.current_nonce(),
        };
        let ledger = NonceLedger::restore(current, self.device.client.spent_nonces());
        let remaining = Verifier::DEFAULT_MAX_FAILURES.saturating_sub(self.state.auth_failures).max(1);
        let mut verifier = Verifier::new(self.device.client.credentials(), scheme.clone(), ledger, nonces)
            .with_max_failures(remaining);
        let cred = self.ex.message.header.cred.as_ref().map(parse_cred);
        let presented = match (self.ex.hmac, &cred) {
            (Some(header), _) if scheme == AuthScheme::Mac => Presented::Hmac { header, body: self.ex.body },
            (_, Some(c)) => Presented::Cred(c),
            (Some(header), None) => Presented::Hmac { header, body: self.ex.body },
            (None, None) => Presented::Nothing,
        };
        let verdict = verifier.check(presented)?;
        let code = StatusCode::from_code(verdict.status.code());
        if verdict.accepted() {
            if std::mem::take(&mut self.enrolling) {
                // Before its nonces, which the store applies to the stored record.
                self.changes.push(Change::DeviceEnrolled(self.device.clone()));
            }
            self.state.authenticated = true;
            self.state.challenge_nonce = None;
            if scheme.uses_nonce() {
                let ledger = verifier.ledger();
                let current = ledger.current().to_next_nonce();
                let spent: Vec<String> = ledger.spent().map(|n| n.to_next_nonce()).collect();
                let previous = std::mem::replace(&mut self.device.client.nonce, current.clone());
                self.device.client.spent = spent.clone();
                self.changes.push(Change::ClientNonces {
                    dev_id: self.device.dev_id.clone(),
                    previous,
                    current,
                    spent,
                });
            }
            return Ok((code, verdict.challenge, true, false));
        }
        if verdict.status != omadm_security::AuthStatus::MissingCredentials {
            self.state.auth_failures += 1;
        }
        if let Some(n) = verdict.challenge.as_ref().and_then(|c| c.next_nonce.as_ref()) {
            self.state.challenge_nonce = Some(n.to_next_nonce());
        }
        Ok((code, verdict.challenge, false, verdict.end_session))
    }

    fn on_status(&mut self, st: &Status, touched: &mut Vec<i64>) {
        if st.cmd == CommandName::SyncHdr || st.cmd_ref.trim() == "0" {
            self.on_server_auth_status(st);
            return;
        }
        let msg = st.msg_ref.as_deref().and_then(|m| m.trim().parse().ok()).unwrap_or(self.state.server_msg);
        let Ok(cmd) = st.cmd_ref.trim().parse::<u32>() else { return };
        let Some(pos) = self.state.outstanding.iter().position(|o| o.msg == msg && o.cmd == cmd && o.status.is_none())
        else {
            return;
        };
        let entry = self.state.outstanding.remove(pos);
        let Some(target) = entry.target.clone() else { return };
        let code = st.code.code();
        if entry.more {
            // A chunk that is not the last: 213 (or a lax 200) lets the object go on; anything
            // else ends it, and that status is the Replace's outcome.
            if matches!(st.code, StatusCode::ChunkedItemAccepted | StatusCode::Ok) {
                return;
            }
            if self.state.chunk_out.as_ref().is_some_and(|c| c.command == target) {
                self.state.chunk_out = None;
                self.chunk_refused = true;
            }
        }
        let reply: Vec<String> = st.items.iter().filter_map(|i| i.data.as_ref()).map(data_text).collect();
        // Not when the Get is already answered: its Results came first, or were refused (413,
        // 424 through `results_failed`) and none will follow.
        let awaits_results = self.command(&target).is_some_and(|c| {
            c.op == Operation::Get
                && c.status.is_none()
                && (c.results.is_empty() || is_structural(c))
                && results_follow(st.code)
        });
        if awaits_results {
            // Its Results follow, in this message or a later one: the Get is answered with them
            // (a structural Get's with the client's package, as more of them may still come).
            self.state.outstanding.insert(pos, Outstanding { status: Some(code), ..entry });
            return;
        }
        if let Some(command) = self.command_mut(&target) {
            // A refusal of its Results stays the Get's outcome.
            command.status = command.status.or(Some(code));
            command.reply = reply;
            touched.push(target.job);
        }
    }

    /// The client's Status for our SyncHdr: whether it accepted our credentials (digest §4).
    fn on_server_auth_status(&mut self, st: &Status) {
        let chal =
            st.chal.as_ref().map(|c| Challenge::from_meta(c.meta.media_type.as_deref(), c.meta.next_nonce.as_deref()));
        match st.code.code() {
            200 | 212 => {
                self.state.server_accepted =
                    st.code.code() == 212 || self.device.server.kind != crate::model::AuthKind::Hmac;
                if let Some(n) = chal.and_then(|c| c.next_nonce) {
                    // The client authenticated to us first, so its nonce may be stored.
                    let nonce = n.to_next_nonce();
                    self.device.server.nonce = nonce.clone();
                    self.state.server_nonce = Some(nonce.clone());
                    self.changes.push(Change::ServerNonce { dev_id: self.device.dev_id.clone(), nonce });
                }
            }
            401 | 407 => {
                self.state.server_accepted = false;
                self.state.server_retries += 1;
                if let Some(n) = chal.and_then(|c| c.next_nonce) {
                    self.state.server_nonce = Some(n.to_next_nonce());
                }
            }
            _ => {}
        }
    }

    fn on_results(&mut self, res: &omadm_proto::Results, touched: &mut Vec<i64>) -> Option<StatusCode> {
        let msg = res.msg_ref.as_deref().and_then(|m| m.trim().parse().ok()).unwrap_or(self.state.server_msg);
        let cmd: u32 = res.cmd_ref.trim().parse().ok()?;
        let entry_at =
            |state: &SessionState| state.outstanding.iter().position(|o| o.msg == msg && o.cmd == cmd && !o.more);
        let target = entry_at(&self.state)
            .and_then(|i| self.state.outstanding[i].target.clone())
            .or_else(|| self.state.chunk_in.as_ref().map(|c| c.command.clone()))?;
        if let Some(cut) = self.state.chunk_in.take_if(|c| c.command != target) {
            // Results of another command before the object's last chunk (chunks come back to
            // back, digest §10): the object ends unfinished (Alert 1225) and its Get fails.
            self.results_failed(&cut.command, StatusCode::SizeMismatch, touched);
            self.state.outstanding.retain(|o| o.status.is_none() || o.target.as_ref() != Some(&cut.command));
            self.interrupted.push(cut.uri);
        }
        let entry = entry_at(&self.state);
        let mut values = Vec::new();
        let mut chunk_code = None;
        for item in &res.items {
            let meta = item.meta_or(res.meta.as_ref());
            let uri = item.source.as_ref().map(|s| s.loc_uri.clone()).unwrap_or_default();
            let format = Meta::effective_format(meta).as_str().to_string();
            let bytes = item.data.as_ref().map(data_bytes).unwrap_or_default();
            if !item.more_data && self.state.chunk_in.is_none() {
                values.push(result_item(uri, format, meta, &bytes));
                continue;
            }
            // A chunk of a large object (DM Protocol 1.2 §7.4): buffer, 213, then 424 or whole.
            let chunk = self.state.chunk_in.get_or_insert_with(|| ChunkIn {
                command: target.clone(),
                uri,
                format,
                size: meta.and_then(|m| m.size),
                data: Vec::new(),
            });
            let max = self.engine.config.max_object_size;
            if chunk.size.is_some_and(|size| size > max) || (chunk.data.len() + bytes.len()) as u64 > max {
                // Larger than we take: refused, and what came of it dropped.
                self.state.chunk_in = None;
                chunk_code = Some(self.results_failed(&target, StatusCode::RequestEntityTooLarge, touched));
                continue;
            }
            chunk.data.extend_from_slice(&bytes);
            if item.more_data {
                chunk_code = Some(StatusCode::ChunkedItemAccepted);
                continue;
            }
            let Some(done) = self.state.chunk_in.take() else { continue };
            if done.size.is_some_and(|s| s != done.data.len() as u64) {
                chunk_code = Some(self.results_failed(&target, StatusCode::SizeMismatch, touched));
                continue;
            }
            values.push(result_item(done.uri, done.format, meta, &done.data));
        }
        if !values.is_empty() {
            let now = self.ex.now_ms;
            let tree = values
                .iter()
                .filter(|v| !v.uri.is_empty())
                .map(|v| TreeValue {
                    uri: v.uri.clone(),
                    format: v.format.clone(),
                    data: v.data.clone(),
                    updated_ms: now,
                })
                .collect();
            self.changes.push(Change::Tree { dev_id: self.device.dev_id.clone(), values: tree });
            if let Some(command) = self.command_mut(&target) {
                command.results.extend(values);
                touched.push(target.job);
            }
        }
        if self.state.chunk_in.as_ref().is_some_and(|c| c.command == target) {
            // A chunk buffered: the Get still waits for the rest of its value.
            return chunk_code;
        }
        if self.command(&target).is_some_and(|c| is_structural(c) && c.status.is_none()) {
            // A structural Get's answer may go on in later Results of the package (digest §6,
            // `?list`; §10): the entry stays until its Final (SessionRun::end_structural).
            return chunk_code;
        }
        // The Results are in (or refused): a Get whose Status came first is answered now.
        let waited = entry.filter(|&i| self.state.outstanding[i].status.is_some());
        if let Some(status) = waited.map(|i| self.state.outstanding.remove(i).status) {
            if let Some(command) = self.command_mut(&target) {
                command.status = command.status.or(status);
                touched.push(target.job);
            }
        }
        chunk_code
    }

    /// At the end of the client's package (its Final message): the structural Gets answered with
    /// a success Status have had all their Results, which may come as several Results commands,
    /// message by message (digest §6 `?list`, §10 Package 3), and are recorded answered.
    fn end_structural(&mut self, touched: &mut Vec<i64>) {
        let mut i = 0;
        while i < self.state.outstanding.len() {
            let entry = &self.state.outstanding[i];
            let done = entry.status.is_some()
                && entry.target.as_ref().and_then(|t| self.command(t)).is_some_and(is_structural);
            if !done {
                i += 1;
                continue;
            }
            let entry = self.state.outstanding.remove(i);
            if let Some(target) = entry.target {
                if let Some(command) = self.command_mut(&target) {
                    command.status = command.status.or(entry.status);
                    touched.push(target.job);
                }
            }
        }
    }

    /// Records `code` (413, 424) as the outcome of the command whose large object of Results was
    /// refused, so that its job ends rather than staying complete without the object or running
    /// for ever; returns `code` for the Results' Status.
    fn results_failed(&mut self, target: &CommandRef, code: StatusCode, touched: &mut Vec<i64>) -> StatusCode {
        if let Some(command) = self.command_mut(target) {
            command.status = Some(code.code());
            touched.push(target.job);
        }
        code
    }

    fn on_alert(&mut self, alert: &Alert) -> StatusCode {
        match alert.code {
            Some(AlertCode::ServerInitiatedMgmt | AlertCode::ClientInitiatedMgmt)
            | Some(AlertCode::NextMessage | AlertCode::SessionAbort) => StatusCode::Ok,
            Some(code @ (AlertCode::GenericAlert | AlertCode::ClientEvent)) => {
                for item in &alert.items {
                    let meta = item.meta.as_ref();
                    self.changes.push(Change::Event(Event {
                        id: 0,
                        dev_id: self.device.dev_id.clone(),
                        code: code.code(),
                        media_type: meta.and_then(|m| m.media_type.clone()),
                        format: meta.and_then(|m| m.format.as_ref()).map(|f| f.as_str().to_string()),
                        mark: meta.and_then(|m| m.mark.clone()),
                        source: item.source.as_ref().map(|s| s.loc_uri.clone()),
                        correlator: alert.correlator.clone(),
                        data: item.data.as_ref().map(data_text).unwrap_or_default(),
                        received_ms: self.ex.now_ms,
                    }));
                }
                StatusCode::Ok
            }
            Some(AlertCode::NoEndOfData) => {
                // The client lost our chunked object: stop; the command is sent again next session.
                self.state.chunk_out = None;
                StatusCode::Ok
            }
            _ => StatusCode::OptionalFeatureNotSupported,
        }
    }

    /// A Replace from the client: DevInfo in Package 1 (DM StdObj 1.2 §5.2).
    fn on_replace(&mut self, rep: &ItemCommand) -> StatusCode {
        // Every item is read before any is kept: a Replace refused with 412 changes nothing.
        let mut tree = Vec::new();
        for item in &rep.items {
            let Some(uri) = item.source.as_ref().or(item.target.as_ref()).map(|l| l.loc_uri.as_str()) else {
                return StatusCode::IncompleteCommand;
            };
            let data = item.data.as_ref().map(data_text).unwrap_or_default();
            let format = Meta::effective_format(item.meta_or(rep.meta.as_ref())).as_str().to_string();
            let uri = if uri == "." || uri.starts_with("./") { uri.to_string() } else { format!("./{uri}") };
            tree.push(TreeValue { uri, format, data, updated_ms: self.ex.now_ms });
        }
        let mut devinfo_changed = false;
        tree.retain(|value| {
            let Some(leaf) = value.uri.strip_prefix("./DevInfo/") else { return true };
            // Every Package 1 repeats DevInfo: store only what changed.
            if self.device.devinfo.get(leaf) == Some(&value.data) {
                return false;
            }
            self.device.devinfo.insert(leaf.to_string(), value.data.clone());
            devinfo_changed = true;
            true
        });
        if devinfo_changed {
            let values = self.device.devinfo.clone();
            self.changes.push(Change::DevInfo { dev_id: self.device.dev_id.clone(), values });
        }
        if !tree.is_empty() {
            self.changes.push(Change::Tree { dev_id: self.device.dev_id.clone(), values: tree });
        }
        StatusCode::Ok
    }

    fn command_mut(&mut self, at: &CommandRef) -> Option<&mut JobCommand> {
        let job = self.jobs.iter_mut().find(|j| j.id == at.job)?;
        let (first, rest) = at.path.split_first()?;
        let mut command = job.commands.get_mut(usize::from(*first))?;
        for i in rest {
            command = command.commands.get_mut(usize::from(*i))?;
        }
        Some(command)
    }

    fn command(&self, at: &CommandRef) -> Option<&JobCommand> {
        let job = self.jobs.iter().find(|j| j.id == at.job)?;
        let (first, rest) = at.path.split_first()?;
        let mut command = job.commands.get(usize::from(*first))?;
        for i in rest {
            command = command.commands.get(usize::from(*i))?;
        }
        Some(command)
    }

    /// Adds the queued commands that fit in the client's MaxMsgSize. Returns whether the message
    /// is Final (false when a large object starts).
    fn queue_commands(&mut self, reply: &mut Reply) -> Result<bool, EngineError> {
        let msg = self.state.server_msg + 1;
        let mut pending: Vec<CommandRef> = Vec::new();
        for job in &self.jobs {
            if matches!(job.state, JobState::Queued | JobState::Running) {
                for (i, c) in job.commands.iter().enumerate() {
                    if c.status.is_none() {
                        pending.push(CommandRef { job: job.id, path: vec![i as u16] });
                    }
                }
            }
        }
        let mut started = Vec::new();
        // Usually everything fits: add all the pending commands and measure once. Only when they
        // do not is the message filled one command at a time, measured after each (an encoding
        // of the whole reply per command, which was about 10 % of the server's instructions).
        // The size only grows with more commands, so when all fit the loop below would take
        // them all as well.
        if pending.len() > 1 {
            let (kept, first_id) = (reply.commands.len(), reply.next_cmd);
            let mut sent_all = Vec::new();
            for at in &pending {
                let Some(command) = self.command(at).cloned() else { continue };
                let mut sent = Vec::new();
                let wire = to_wire(&command, reply, at, at.job, &mut sent);
                reply.commands.push(wire);
                sent_all.push((at.job, sent));
            }
            if self.measure(reply, true)? <= self.state.max_msg_size {
                for (job, sent) in sent_all {
                    self.state.outstanding.extend(sent.into_iter().map(|(cmd, target)| Outstanding {
                        msg,
                        cmd,
                        target: Some(target),
                        more: false,
                        status: None,
                    }));
                    started.push(job);
                }
                self.mark_started(&started, &[]);
                return Ok(true);
            }
            reply.commands.truncate(kept);
            reply.next_cmd = first_id;
        }
        let mut added = 0usize;
        let mut answered_here = Vec::new();
        for at in pending {
            let Some(command) = self.command(&at).cloned() else { continue };
            let first_id = reply.next_cmd;
            let mut sent = Vec::new();
            let wire = to_wire(&command, reply, &at, at.job, &mut sent);
            reply.commands.push(wire);
            if self.measure(reply, true)? <= self.state.max_msg_size {
                added += 1;
                self.state.outstanding.extend(sent.into_iter().map(|(cmd, target)| Outstanding {
                    msg,
                    cmd,
                    target: Some(target),
                    more: false,
                    status: None,
                }));
                started.push(at.job);
                continue;
            }
            reply.commands.pop();
            reply.next_cmd = first_id;
            if added > 0 {
                break;
            }
            let too_big = command.data.as_ref().map_or(0, String::len) as u64;
            if matches!(command.op, Operation::Replace | Operation::Add)
                && command.data.is_some()
                && self.state.max_obj_size.is_none_or(|max| too_big <= max)
            {
                self.state.chunk_out = Some(ChunkOut { command: at.clone(), offset: 0 });
                started.push(at.job);
                self.mark_started(&started, &answered_here);
                started.clear();
                answered_here.clear();
                match self.next_chunk(reply)? {
                    ChunkStep::Sent { last } => return Ok(last),
                    // Its 413 is stored; the commands after it may still fit.
                    ChunkStep::GaveUp => continue,
                }
            }
            // Larger than the device takes even alone: answered locally with 413.
            if let Some(c) = self.command_mut(&at) {
                refuse_unsent(c, StatusCode::RequestEntityTooLarge);
                answered_here.push(at.job);
            }
            started.push(at.job);
        }
        self.mark_started(&started, &answered_here);
        Ok(true)
    }

    /// Moves the jobs `ids` whose commands went out from queued to running (or to their end, when
    /// all their commands are answered). A job with a command answered here (`answered`, the
    /// 413 of a command too large for the device) is stored whole, its commands included, even
    /// when its state stays; the others need only their state stored.
    fn mark_started(&mut self, ids: &[i64], answered: &[i64]) {
        let now = self.ex.now_ms;
        for job in self.jobs.iter_mut().filter(|j| ids.contains(&j.id)) {
            let before = job.state;
            if job.state == JobState::Queued {
                job.state = JobState::Running;
            }
            job.refresh_state();
            if answered.contains(&job.id) {
                job.updated_ms = now;
                self.changes.push(Change::Job(job.clone()));
            } else if job.state != before {
                job.updated_ms = now;
                self.changes.push(Change::JobState { id: job.id, state: job.state, updated_ms: now });
            }
        }
    }

    /// Adds the next chunk of the large object being sent (DM Protocol 1.2 §7.4), or gives up on
    /// the object with a stored 413 when not even an empty chunk fits the client's MaxMsgSize.
    fn next_chunk(&mut self, reply: &mut Reply) -> Result<ChunkStep, EngineError> {
        let Some(chunk) = self.state.chunk_out.clone() else { return Ok(ChunkStep::GaveUp) };
        let Some(command) = self.command(&chunk.command).cloned() else {
            self.state.chunk_out = None;
            return Ok(ChunkStep::GaveUp);
        };
        let data = command.data.clone().unwrap_or_default();
        let remaining = &data[chunk.offset.min(data.len())..];
        let msg = self.state.server_msg + 1;
        let first_id = reply.next_cmd;
        let mut take = remaining.len().min(self.state.max_msg_size);
        loop {
            while !remaining.is_char_boundary(take) {
                take -= 1;
            }
            reply.next_cmd = first_id;
            let cmd_id = reply.cmd_id();
            let more = take < remaining.len();
            let wire =
                chunk_wire(&command, cmd_id, &remaining[..take], (chunk.offset == 0).then_some(data.len()), more);
            reply.commands.push(wire);
            let size = self.measure(reply, !more)?;
            if size <= self.state.max_msg_size {
                self.state.outstanding.push(Outstanding {
                    msg,
                    cmd: first_id,
                    target: Some(chunk.command.clone()),
                    more,
                    status: None,
                });
                self.state.chunk_out =
                    more.then(|| ChunkOut { command: chunk.command.clone(), offset: chunk.offset + take });
                return Ok(ChunkStep::Sent { last: !more });
            }
            reply.commands.pop();
            let excess = size - self.state.max_msg_size;
            if take == 0 || excess >= take {
                // Not even an empty chunk fits: give up on this object. Its 413 is stored with
                // the job (whose state may not change), or the object would go again next session.
                self.state.chunk_out = None;
                reply.next_cmd = first_id;
                if let Some(c) = self.command_mut(&chunk.command) {
                    refuse_unsent(c, StatusCode::RequestEntityTooLarge);
                }
                let now = self.ex.now_ms;
                if let Some(job) = self.jobs.iter_mut().find(|j| j.id == chunk.command.job) {
                    job.refresh_state();
                    job.updated_ms = now;
                    self.changes.push(Change::Job(job.clone()));
                }
                return Ok(ChunkStep::GaveUp);
            }
            take -= excess + 8.min(take - excess);
        }
    }

    fn reply_header(&self) -> Result<SyncHdr, EngineError> {
        let cred = self.server_cred()?;
        Ok(SyncHdr {
            ver_dtd: VerDtd::V1_2,
            ver_proto: VerProto::parse(&self.state.ver_proto),
            session_id: self.state.session_id.clone(),
            msg_id: (self.state.server_msg + 1).to_string(),
            target: Location::new(self.state.dev_id.clone()),
            source: Location::new(self.state.server_uri.clone()),
            resp_uri: Some(self.resp_uri()),
            no_resp: false,
            cred,
            meta: Some(Meta {
                max_msg_size: Some(self.engine.config.max_message_size as u64),
                max_obj_size: Some(self.engine.config.max_object_size),
                ..Meta::default()
            }),
        })
    }

    fn resp_uri(&self) -> String {
        let base = &self.engine.config.dm_url;
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}session={}", self.state.token)
    }

    /// Our credentials for the device (SRVCRED), until it accepted them (digest §4).
    fn server_cred(&self) -> Result<Option<Cred>, EngineError> {
        let server = &self.device.server;
        if !self.present_credentials
            || server.secret.is_empty()
            || self.state.server_accepted
            || server.kind == crate::model::AuthKind::Hmac
        {
            return Ok(None);
        }
        let prover = Prover::new(server.credentials(), server.kind.scheme(), self.server_nonce());
        Ok(prover.credential()?.map(|c| Cred {
            meta: Some(Meta {
                format: Some(Format::parse(c.format())),
                media_type: Some(c.scheme.as_str().to_string()),
                ..Meta::default()
            }),
            data: c.data,
        }))
    }

    fn server_nonce(&self) -> omadm_security::Nonce {
        let text = self.state.server_nonce.as_deref().unwrap_or(&self.device.server.nonce);
        omadm_security::Nonce::from_next_nonce(text)
    }

    fn measure(&self, reply: &Reply, is_final: bool) -> Result<usize, EngineError> {
        let message =
            SyncMl { header: self.reply_header()?, body: SyncBody { commands: reply.commands.clone(), is_final } };
        Ok(match self.ex.encoding {
            Encoding::Wbxml => omadm_proto::wbxml::encoded_len(&message, &WbxmlOptions::default())?,
            Encoding::Xml => omadm_proto::xml::encode(&message, &XmlOptions::default()).len(),
        })
    }

    /// Encodes the reply, stores the session (when it goes on) and returns the outcome.
    fn finish(mut self, reply: Reply, is_final: bool, keep_session: bool) -> Result<Outcome, EngineError> {
        let mut header = self.reply_header()?;
        if !keep_session {
            header.resp_uri = None;
        }
        let message = SyncMl { header, body: SyncBody { commands: reply.commands, is_final } };
        let body = encode(&message, self.ex.encoding)?;
        let server = &self.device.server;
        let signs =
            self.present_credentials && server.kind == crate::model::AuthKind::Hmac && !server.secret.is_empty();
        let hmac = signs.then(|| {
            HmacHeader::compute(omadm_security::HashAlgorithm::Md5, &server.credentials(), &self.server_nonce(), &body)
                .to_value()
        });
        self.state.server_msg += 1;
        if keep_session {
            self.state.last_reply =
                Some(StoredReply { client_msg: self.state.client_msg, body: body.clone(), hmac: hmac.clone() });
            self.changes.push(Change::SaveSession(self.state));
        }
        Ok(Outcome { body, encoding: self.ex.encoding, hmac, changes: self.changes })
    }
}

/// Reads a received `Cred`; one that cannot be read becomes an unknown scheme, refused with 401.
fn parse_cred(cred: &Cred) -> Credential {
    let meta = cred.meta.as_ref();
    let media_type = meta.and_then(|m| m.media_type.as_deref());
    Credential::from_meta(media_type, meta.and_then(|m| m.format.as_ref()).map(Format::as_str), &cred.data)
        .unwrap_or_else(|_| Credential {
            scheme: AuthScheme::Unknown(media_type.unwrap_or("unreadable").to_string()),
            data: cred.data.clone(),
        })
}

/// The Status for the client's SyncHdr (CmdRef 0, Cmd `SyncHdr`).
fn header_status(reply: &mut Reply, hdr: &SyncHdr, code: StatusCode, chal: Option<Challenge>) -> Status {
    Status {
        cmd_id: reply.cmd_id(),
        msg_ref: Some(hdr.msg_id.clone()),
        cmd_ref: "0".into(),
        cmd: CommandName::SyncHdr,
        target_refs: vec![hdr.target.loc_uri.clone()],
        source_refs: vec![hdr.source.loc_uri.clone()],
        cred: None,
        chal: chal.map(|c| Chal {
            meta: Meta {
                format: Some(Format::parse(c.format())),
                media_type: Some(c.meta_type().to_string()),
                next_nonce: c.next_nonce_text(),
                ..Meta::default()
            },
        }),
        code,
        items: Vec::new(),
    }
}

/// The Status answering one client command.
fn status_for(reply: &mut Reply, msg_id: &str, cmd: &Command, code: StatusCode) -> Status {
    Status::new(reply.cmd_id(), Some(msg_id.to_string()), cmd.cmd_id(), cmd.name(), code)
}

/// The wire command for a job command, numbering it and its nested commands; records each
/// (CmdID, command) pair in `sent`.
fn to_wire(
    command: &JobCommand,
    reply: &mut Reply,
    at: &CommandRef,
    job: i64,
    sent: &mut Vec<(u32, CommandRef)>,
) -> Command {
    let id_num = reply.next_cmd;
    let cmd_id = reply.cmd_id();
    sent.push((id_num, at.clone()));
    let item = |target: &Option<String>| Item { target: target.clone().map(Location::new), ..Item::default() };
    let value_meta = || {
        let format = command
            .format
            .clone()
            .or_else(|| (command.op == Operation::Add && command.data.is_none()).then(|| "node".into()));
        let meta = Meta {
            format: format.as_deref().map(Format::parse),
            media_type: command.media_type.clone(),
            ..Meta::default()
        };
        (!meta.is_empty()).then_some(meta)
    };
    match command.op {
        Operation::Get => {
            Command::Get(ItemCommand { cmd_id, items: vec![item(&command.target)], ..ItemCommand::default() })
        }
        Operation::Delete => {
            Command::Delete(ItemCommand { cmd_id, items: vec![item(&command.target)], ..ItemCommand::default() })
        }
        Operation::Copy => Command::Copy(ItemCommand {
            cmd_id,
            items: vec![Item { source: command.source.clone().map(Location::new), ..item(&command.target) }],
            ..ItemCommand::default()
        }),
        Operation::Replace | Operation::Add => {
            let it = Item { meta: value_meta(), data: command.data.clone().map(Data::Text), ..item(&command.target) };
            let ic = ItemCommand { cmd_id, items: vec![it], ..ItemCommand::default() };
            if command.op == Operation::Replace {
                Command::Replace(ic)
            } else {
                Command::Add(ic)
            }
        }
        Operation::Exec => Command::Exec(Exec {
            cmd_id,
            correlator: Some(format!("{job}-{}", at.path.iter().map(u16::to_string).collect::<Vec<_>>().join("."))),
            items: vec![Item {
                meta: value_meta(),
                data: command.data.clone().map(Data::Text),
                ..item(&command.target)
            }],
            ..Exec::default()
        }),
        Operation::Alert => {
            let alert = command.alert.clone().unwrap_or(crate::model::UiAlert {
                code: 1100,
                text: String::new(),
                options: String::new(),
                choices: Vec::new(),
            });
            let mut items = vec![
                Item { data: Some(Data::Text(alert.options.clone())), ..Item::default() },
                Item { data: Some(Data::Text(alert.text.clone())), ..Item::default() },
            ];
            items.extend(alert.choices.iter().map(|c| Item { data: Some(Data::Text(c.clone())), ..Item::default() }));
            Command::Alert(Alert {
                cmd_id,
                no_resp: false,
                cred: None,
                code: Some(AlertCode::from_code(alert.code)),
                correlator: None,
                items,
            })
        }
        Operation::Atomic | Operation::Sequence => {
            let commands = command
                .commands
                .iter()
                .enumerate()
                .map(|(i, child)| {
                    let mut path = at.path.clone();
                    path.push(i as u16);
                    to_wire(child, reply, &CommandRef { job, path }, job, sent)
                })
                .collect();
            let container = Container { cmd_id, no_resp: false, meta: None, commands };
            if command.op == Operation::Atomic {
                Command::Atomic(container)
            } else {
                Command::Sequence(container)
            }
        }
    }
}

/// Whether `command` is a structural Get (`?list=`, TND 1.2 §8.4; digest §6), whose answer may
/// come as several Results commands of the same CmdRef, message by message.
fn is_structural(command: &JobCommand) -> bool {
    command.op == Operation::Get && command.target.as_deref().is_some_and(|t| t.contains("?list="))
}

/// Whether a Get answered `code` has Results to come: it was executed (2xx), and not a chunk,
/// cancelled, skipped or rolled-back code (213–216, digest §3), which carry no value.
fn results_follow(code: StatusCode) -> bool {
    code.is_success()
        && !matches!(
            code,
            StatusCode::ChunkedItemAccepted
                | StatusCode::OperationCancelled
                | StatusCode::NotExecuted
                | StatusCode::AtomicRollbackOk
        )
}

/// Records `code` as the local answer to a command that never went out, and to every command
/// nested in it (an Atomic or Sequence): none of them was executed, and with a status each the
/// job ends instead of waiting for answers that cannot come (a command is never split over
/// messages, digest §10).
fn refuse_unsent(command: &mut JobCommand, code: StatusCode) {
    command.status = Some(code.code());
    for nested in &mut command.commands {
        refuse_unsent(nested, code);
    }
}

/// One chunk of a large Replace/Add: Meta Size (the whole length) on the first chunk only,
/// MoreData on all but the last (DM Protocol 1.2 §7.4).
fn chunk_wire(command: &JobCommand, cmd_id: String, data: &str, total: Option<usize>, more: bool) -> Command {
    let meta = Meta {
        format: command.format.as_deref().map(Format::parse),
        media_type: command.media_type.clone(),
        size: total.map(|t| t as u64),
        ..Meta::default()
    };
    let item = Item {
        target: command.target.clone().map(Location::new),
        meta: (!meta.is_empty()).then_some(meta),
        data: Some(Data::Text(data.to_string())),
        more_data: more,
        ..Item::default()
    };
    let ic = ItemCommand { cmd_id, items: vec![item], ..ItemCommand::default() };
    if command.op == Operation::Add {
        Command::Add(ic)
    } else {
        Command::Replace(ic)
    }
}

fn encode(message: &SyncMl, encoding: Encoding) -> Result<Vec<u8>, EngineError> {
    Ok(match encoding {
        Encoding::Wbxml => omadm_proto::wbxml::encode(message, &WbxmlOptions::default())?,
        Encoding::Xml => omadm_proto::xml::encode(message, &XmlOptions::default()),
    })
}

/// Data as text: text as is, binary as base64, an embedded document as XML.
fn data_text(data: &Data) -> String {
    match data {
        Data::Text(t) => t.clone(),
        Data::Binary(b) => B64.encode(b),
        Data::Document(e) => String::from_utf8_lossy(&omadm_proto::xml::write_element(
            e,
            &XmlOptions { declaration: false, pretty: false, cdata: false },
        ))
        .into_owned(),
    }
}

fn data_bytes(data: &Data) -> Vec<u8> {
    match data {
        Data::Text(t) => t.as_bytes().to_vec(),
        Data::Binary(b) => b.clone(),
        Data::Document(_) => data_text(data).into_bytes(),
    }
}

fn result_item(uri: String, format: String, meta: Option<&Meta>, bytes: &[u8]) -> ResultItem {
    let data = match std::str::from_utf8(bytes) {
        Ok(text) if format != "bin" => text.to_string(),
        _ => B64.encode(bytes),
    };
    ResultItem { uri, format, media_type: meta.and_then(|m| m.media_type.clone()), data }
}

/// Serde for byte buffers as base64 text (compact in the stored JSON).
mod b64_bytes {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text).map_err(serde::de::Error::custom)
    }
}
