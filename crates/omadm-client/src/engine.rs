//! The sans-IO client session engine (DM Protocol 1.2 §6–§8; digest §10 "Protocol flow").
//!
//! [`Session::start`] builds Package 1 (Alert 1201, or 1200 with the notification's SessionID,
//! the DevInfo Replace and the queued 1226/1224 alerts). [`Session::handle_reply`] takes each
//! server message and returns the next [`Action`]: a message to send, or the end of the session.
//! The caller moves the bytes (see the `http` module for HTTP); the engine never opens a socket,
//! reads a clock or touches a file, so one engine per simulated device costs a few hundred bytes
//! plus its queues.
//!
//! What a server message does, in order: the SessionID, the server's credentials (SRVCRED,
//! through [`omadm_security::Verifier`]), the header's RespURI and MaxMsgSize/MaxObjSize, the
//! Status of our header (our CLCRED, through [`omadm_security::Prover`]: a challenge resends
//! Package 1), then every command against the tree for this server's ServerID, each answered with
//! a Status (Results right after their Status). A message whose server fails authentication is
//! answered with Statuses only (and the challenge); nothing else in it is acted on. The reply is cut to the server's MaxMsgSize; what does not
//! fit waits for the server's Alert 1222, and a value too large for one message goes out as a
//! large object in MoreData chunks. A Final is written only once the server's package is complete
//! and everything queued has gone out.

use std::collections::VecDeque;

use omadm_proto::wbxml::WbxmlOptions;
use omadm_proto::xml::XmlOptions;
use omadm_proto::{
    Alert, AlertCode, Chal, Command, CommandName, Container, Cred, Data, Element, Encoding, Format, Item, ItemCommand,
    Limits, Location, Meta, Results, Status, StatusCode, SyncBody, SyncHdr, SyncMl, VerDtd, VerProto,
};
use omadm_security::{
    AccountCredentials, AuthScheme, AuthStatus, Challenge, Credential, Dm13Profile, NonceLedger, OsNonceSource,
    Presented, Prover, ProverAction, SessionId, UiMode, Verifier,
};
use omadm_tree::tnds::TndsEncoding;
use omadm_tree::uri::parse_target;
use omadm_tree::{Caller, Content, DmVersion, GetResult, ServerId, Store, TargetUri, Tree, Txn, Uri, UriLimits};
use tracing::{debug, info, warn};

use crate::account::Account;
use crate::error::ClientError;
use crate::ui::{UiKind, UiOptions, UiRequest, UiResponse, UserInteraction};

/// Why the session starts: Alert 1201, or 1200 after a Package #0 (DM Protocol 1.2 §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The device starts the session (Alert 1201).
    ClientInitiated,
    /// A notification asked for it (Alert 1200, SessionID = the notification's session id).
    ServerInitiated {
        /// The notification's session id.
        session_id: SessionId,
        /// The notification's ui-mode: `Background` means no UI alert is shown (answered 416).
        ui_mode: UiMode,
    },
}

/// A generic alert (1226) or client event (1224) the device reports (DM Protocol 1.2 §8.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericAlert {
    /// 1226 or 1224.
    pub code: AlertCode,
    /// Repeats the Correlator of the Exec this alert completes.
    pub correlator: Option<String>,
    /// Item Source LocURI: the MO the alert is about.
    pub source: Option<String>,
    /// Item Meta Type: the alert type URN (`Reversed-Domain-Name:...`).
    pub meta_type: String,
    /// Item Meta Format.
    pub format: Format,
    /// Item Meta Mark: the severity (`informational` when absent).
    pub mark: Option<String>,
    /// Item Data.
    pub data: String,
}

impl GenericAlert {
    /// The alert command for it.
    fn to_alert(&self) -> Alert {
        Alert {
            cmd_id: String::new(),
            no_resp: false,
            cred: None,
            code: Some(self.code),
            correlator: self.correlator.clone(),
            items: vec![Item {
                source: self.source.as_ref().map(Location::new),
                meta: Some(Meta {
                    format: Some(self.format.clone()),
                    media_type: Some(self.meta_type.clone()),
                    mark: self.mark.clone(),
                    ..Meta::default()
                }),
                data: Some(Data::Text(self.data.clone())),
                ..Item::default()
            }],
        }
    }
}

/// Everything a session needs to start.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `./DevInfo/DevId`: the SyncHdr Source.
    pub dev_id: String,
    /// The server's account.
    pub account: Account,
    /// Why the session starts.
    pub trigger: Trigger,
    /// The SessionID of a client-initiated session (server-initiated ones take the notification's).
    pub session_id: String,
    /// The encoding of the messages we send (replies are accepted in either).
    pub encoding: Encoding,
    /// `DM/1.2` or `DM/1.3`; 1.3 behaviours are used only when the server answers with 1.3 too.
    pub protocol: VerProto,
    /// Our MaxMsgSize, announced in every header.
    pub max_msg_size: u64,
    /// Our MaxObjSize, announced in every header; larger incoming objects are refused (413).
    pub max_obj_size: u64,
    /// The server's MaxMsgSize until it announces one (`None` = no limit).
    pub assumed_server_max_msg_size: Option<usize>,
    /// The most bytes of Get answers (values and `?list=TNDS` documents) held at once for
    /// sending; a Get whose answer would go past it gets 413 (digest §3, status codes).
    pub max_held_answers: usize,
    /// Generic alerts and client events for Package 1.
    pub alerts: Vec<GenericAlert>,
    /// The DM 1.3 readings (credential type spellings).
    pub profile: Dm13Profile,
    /// Decoder limits for server messages.
    pub limits: Limits,
}

impl SessionConfig {
    /// A client-initiated session with our defaults: XML, DM/1.2, 16 KiB messages, 1 MiB objects,
    /// at most 4 MiB of answers held for sending.
    pub fn new(dev_id: impl Into<String>, account: Account) -> SessionConfig {
        SessionConfig {
            dev_id: dev_id.into(),
            account,
            trigger: Trigger::ClientInitiated,
            session_id: "1".into(),
            encoding: Encoding::Xml,
            protocol: VerProto::Dm1_2,
            max_msg_size: 16 * 1024,
            max_obj_size: 1024 * 1024,
            assumed_server_max_msg_size: None,
            max_held_answers: 4 * 1024 * 1024,
            alerts: Vec::new(),
            profile: Dm13Profile::default(),
            limits: Limits::default(),
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Where to: the server URI, then the RespURI the server gave.
    pub url: String,
    /// The encoded message.
    pub body: Vec<u8>,
    /// Its encoding (the HTTP Content-Type).
    pub encoding: Encoding,
    /// The `x-syncml-hmac` header value under `syncml:auth-MAC`.
    pub hmac: Option<String>,
}

/// A server message as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The body bytes.
    pub body: &'a [u8],
    /// The transport's content type, used when the body's first bytes do not say.
    pub content_type: Option<&'a str>,
    /// The `x-syncml-hmac` header, if any.
    pub hmac: Option<&'a str>,
}

impl<'a> Incoming<'a> {
    /// A body with no transport metadata.
    pub fn body(body: &'a [u8]) -> Incoming<'a> {
        Incoming { body, content_type: None, hmac: None }
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server ended it normally (a final package with nothing left to do).
    Completed,
    /// The server sent Alert 1223.
    AbortedByServer,
    /// We sent Alert 1223 and the server acknowledged it.
    AbortedByClient,
    /// The server failed to authenticate itself (SRVCRED) too often.
    ServerNotAuthenticated,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this message and feed the reply to [`Session::handle_reply`].
    Send(Outgoing),
    /// The session is over.
    Finished(Outcome),
}

/// How many bytes of a TNDS document are produced at a time while it is read from the tree.
const TNDS_READ: usize = 4096;

/// The smallest first chunk of a large object worth sending after other commands in a message;
/// with less room the object starts in the next message.
const MIN_SHARED_CHUNK: usize = 256;

/// A value to send in Results, possibly as a large object.
#[derive(Debug, Clone)]
struct PendingValue {
    msg_ref: String,
    cmd_ref: String,
    source: String,
    meta: Meta,
    /// The whole value as it travels (text, or raw binary under WBXML), taken when the Get ran:
    /// later chunks are cut from these bytes, whatever the tree holds by then.
    bytes: Vec<u8>,
    text: bool,
    /// How many bytes of `bytes` already went out in chunks.
    sent: usize,
}

/// Where the next Results of a value went in a message being built.
enum ValueStep {
    /// All of it.
    Whole,
    /// A chunk of `taken` bytes; `last` when it ends the value.
    Chunk { taken: usize, last: bool },
    /// Nothing: it starts in the next message.
    Defer,
}

/// Something queued for the client's package. Most entries are Commands, so boxing the largest
/// variant would cost an allocation per entry for nothing.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Pending {
    Command(Command),
    Value(PendingValue),
    /// A structural Get, read from the tree message by message.
    Struct {
        msg_ref: String,
        cmd_ref: String,
        target: String,
        emitted: usize,
    },
    /// A generic alert or client event of ours, kept whole so that the server's Status to it can
    /// be matched back to it (see [`Session::delivered_alerts`]).
    Alert(GenericAlert),
}

/// An incoming large object being assembled (DM Protocol 1.2 §6.9).
#[derive(Debug)]
struct IncomingObject {
    command: CommandName,
    target: String,
    meta: Option<Meta>,
    size: u64,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Running,
    Aborting,
    Closing(Outcome),
    Done,
}

/// The state of the server's authentication (SRVCRED) across the session's messages.
#[derive(Debug)]
struct ServerAuth {
    credentials: AccountCredentials,
    scheme: AuthScheme,
    ledger: NonceLedger,
    failures: u32,
    refused: u32,
    authenticated: bool,
}

/// Server messages answered 401/407 in one session before the client gives up on the server.
const MAX_UNAUTHENTICATED_MESSAGES: u32 = 3;

/// The data of a complete Add/Replace item.
struct Received {
    bytes: Vec<u8>,
    meta: Option<Meta>,
    chunked: bool,
}

/// The statuses and results one server command produces.
type Answers = Vec<Pending>;

/// A DM client session: see the module documentation.
pub struct Session {
    dev_id: String,
    account: Account,
    session_id: String,
    encoding: Encoding,
    protocol: VerProto,
    caller: Caller,
    url: String,
    msg_id: u32,
    max_msg_size: u64,
    max_obj_size: u64,
    server_max_msg: Option<usize>,
    server_max_obj: Option<u64>,
    max_held_answers: usize,
    /// Bytes of the answers made for the server message being run, not yet queued in `pending`.
    held_in_message: usize,
    ui_mode: UiMode,
    prover: Prover,
    server_auth: Option<ServerAuth>,
    server_trusted: bool,
    profile: Dm13Profile,
    limits: Limits,
    package1: Vec<Command>,
    package1_alerts: Vec<GenericAlert>,
    pending: VecDeque<Pending>,
    queued_alerts: Vec<GenericAlert>,
    /// Generic alerts sent and not answered yet: (MsgID, CmdID, the alert).
    alerts_in_flight: Vec<(String, String, GenericAlert)>,
    /// Generic alerts the server answered with a 2xx Status.
    delivered_alerts: Vec<GenericAlert>,
    reply_header: Option<Status>,
    server_complete: bool,
    incoming: Option<IncomingObject>,
    chunk_in_flight: Option<(String, String)>,
    async_execs: Vec<String>,
    uri_limits: UriLimits,
    state: State,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id)
            .field("server_id", &self.account.server_id)
            .field("url", &self.url)
            .field("msg_id", &self.msg_id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn status(msg_ref: &str, cmd_ref: &str, cmd: CommandName, code: StatusCode) -> Status {
    Status::new(String::new(), Some(msg_ref.to_string()), cmd_ref, cmd, code)
}

fn item_bytes(item: &Item) -> Vec<u8> {
    match &item.data {
        None => Vec::new(),
        Some(Data::Text(t)) => t.clone().into_bytes(),
        Some(Data::Binary(b)) => b.clone(),
        Some(Data::Document(el)) => omadm_proto::xml::write_element(el, &XmlOptions::default()),
    }
}

fn is_tnds(meta: Option<&Meta>) -> bool {
    meta.and_then(|m| m.media_type.as_deref()).is_some_and(|t| t.contains("dmtnds"))
}

/// The TNDS document an Item carries: an embedded element, a nested WBXML document, or XML text.
fn tnds_document(item: &Item, limits: &Limits) -> Result<Element, StatusCode> {
    match &item.data {
        Some(Data::Document(el)) => Ok(el.clone()),
        Some(Data::Binary(b)) => omadm_proto::wbxml::decode_document(b, limits).map_err(|_| StatusCode::BadRequest),
        Some(Data::Text(t)) => {
            omadm_proto::xml::parse_element(t.as_bytes(), limits).map_err(|_| StatusCode::BadRequest)
        }
        None => Err(StatusCode::BadRequest),
    }
}

/// A TNDS document from assembled large-object bytes (WBXML or XML).
fn tnds_from_bytes(bytes: &[u8], limits: &Limits) -> Result<Element, StatusCode> {
    match Encoding::sniff(bytes) {
        Some(Encoding::Xml) => omadm_proto::xml::parse_element(bytes, limits).map_err(|_| StatusCode::BadRequest),
        _ => omadm_proto::wbxml::decode_document(bytes, limits).map_err(|_| StatusCode::BadRequest),
    }
}

fn encoded_size(msg: &SyncMl, encoding: Encoding) -> Result<usize, ClientError> {
    match encoding {
        Encoding::Xml => Ok(omadm_proto::xml::encode(msg, &XmlOptions::default()).len()),
        Encoding::Wbxml => Ok(omadm_proto::wbxml::encoded_len(msg, &WbxmlOptions::default())?),
    }
}

fn encode(msg: &SyncMl, encoding: Encoding) -> Result<Vec<u8>, ClientError> {
    match encoding {
        Encoding::Xml => Ok(omadm_proto::xml::encode(msg, &XmlOptions::default())),
        Encoding::Wbxml => Ok(omadm_proto::wbxml::encode(msg, &WbxmlOptions::default())?),
    }
}

/// A short readable summary of a message's commands, for the log.
fn summary(body: &SyncBody) -> String {
    let mut parts: Vec<String> = body
        .commands
        .iter()
        .map(|c| match c {
            Command::Status(s) => format!("Status({} {} {})", s.cmd, s.cmd_ref, s.code),
            Command::Alert(a) => format!("Alert({})", a.code.map_or(0, |c| c.code())),
            Command::Add(i) | Command::Replace(i) | Command::Delete(i) | Command::Get(i) | Command::Copy(i) => {
                let targets: Vec<&str> = i
                    .items
                    .iter()
                    .filter_map(|it| it.target.as_ref().or(it.source.as_ref()).map(|t| t.loc_uri.as_str()))
                    .collect();
                format!("{}({})", c.name(), targets.join(","))
            }
            other => other.name().to_string(),
        })
        .collect();
    if body.is_final {
        parts.push("Final".into());
    }
    parts.join(" ")
}

impl Session {
    /// Starts a session: reads DevInfo from the tree and returns the session and Package 1.
    pub fn start<S: Store>(config: SessionConfig, tree: &mut Tree<S>) -> Result<(Session, Outgoing), ClientError> {
        let (session_id, code, ui_mode) = match config.trigger {
            Trigger::ClientInitiated => {
                (config.session_id.clone(), AlertCode::ClientInitiatedMgmt, UiMode::NotSpecified)
            }
            Trigger::ServerInitiated { session_id, ui_mode } => {
                (session_id.to_string(), AlertCode::ServerInitiatedMgmt, ui_mode)
            }
        };
        let client = &config.account.client;
        let prover = Prover::new(client.credentials.clone(), client.scheme.clone(), client.nonce.clone())
            .with_hmac_algorithm(client.hmac_algorithm);
        let server_auth = config.account.server.as_ref().map(|s| ServerAuth {
            credentials: s.credentials.clone(),
            scheme: s.scheme.clone(),
            ledger: NonceLedger::new(s.nonce.clone()),
            failures: 0,
            refused: 0,
            authenticated: false,
        });
        let mut package1 = vec![Command::Alert(Alert {
            cmd_id: String::new(),
            no_resp: false,
            cred: None,
            code: Some(code),
            correlator: None,
            items: Vec::new(),
        })];
        package1.push(Command::Replace(devinfo_replace(tree)?));
        let mut session = Session {
            dev_id: config.dev_id,
            caller: Caller::server(config.account.server_id.clone(), DmVersion::V1_2),
            url: config.account.server_uri.clone(),
            account: config.account,
            session_id,
            encoding: config.encoding,
            protocol: config.protocol,
            msg_id: 0,
            max_msg_size: config.max_msg_size,
            max_obj_size: config.max_obj_size,
            server_max_msg: config.assumed_server_max_msg_size,
            server_max_obj: None,
            max_held_answers: config.max_held_answers,
            held_in_message: 0,
            ui_mode,
            prover,
            server_auth,
            server_trusted: false,
            profile: config.profile,
            limits: config.limits,
            package1,
            package1_alerts: config.alerts,
            pending: VecDeque::new(),
            queued_alerts: Vec::new(),
            alerts_in_flight: Vec::new(),
            delivered_alerts: Vec::new(),
            reply_header: None,
            server_complete: true,
            incoming: None,
            chunk_in_flight: None,
            async_execs: Vec::new(),
            uri_limits: tree.uri_limits(),
            state: State::Running,
        };
        session.queue_package1();
        info!(session = %session.session_id, server = %session.account.server_id, url = %session.url, "starting session");
        let out = session.build(tree)?;
        Ok((session, out))
    }

    /// The SessionID.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The server this session talks to.
    pub fn server_id(&self) -> &ServerId {
        &self.account.server_id
    }

    /// The account, with the nonces the session ended with once it is over.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The Correlators of Execs answered 202 whose completion has not been queued yet.
    pub fn pending_async(&self) -> &[String] {
        &self.async_execs
    }

    /// Queues a generic alert (e.g. the 1226 completing an asynchronous Exec, with its
    /// Correlator): it goes out with the next message the client sends.
    pub fn queue_alert(&mut self, alert: GenericAlert) {
        if let Some(c) = &alert.correlator {
            self.async_execs.retain(|x| x != c);
        }
        self.queued_alerts.push(alert);
    }

    /// The generic alerts and client events (Package 1's and queued ones) that the server
    /// answered with a 2xx Status in this session (DM Protocol 1.2 §8.7: the server answers a
    /// 1226 with 200 or 202). A device that keeps alerts across restarts (such as the completion
    /// of an asynchronous Exec) forgets exactly these once the session is over; the others are
    /// sent again next session.
    pub fn delivered_alerts(&self) -> &[GenericAlert] {
        &self.delivered_alerts
    }

    /// Queues Package 1 (again, after a challenge): the session Alert, the DevInfo Replace and
    /// the configured generic alerts.
    fn queue_package1(&mut self) {
        self.pending.extend(self.package1.iter().cloned().map(Pending::Command));
        self.pending.extend(self.package1_alerts.iter().cloned().map(Pending::Alert));
    }

    /// Aborts the session (Alert 1223 + Final): the server answers with Statuses, after which
    /// [`Session::handle_reply`] reports [`Outcome::AbortedByClient`].
    pub fn abort<S: Store>(&mut self, tree: &mut Tree<S>) -> Result<Outgoing, ClientError> {
        self.pending.clear();
        self.queued_alerts.clear();
        self.pending.push_back(Pending::Command(Command::Alert(Alert {
            cmd_id: String::new(),
            no_resp: false,
            cred: None,
            code: Some(AlertCode::SessionAbort),
            correlator: None,
            items: Vec::new(),
        })));
        self.server_complete = true;
        self.state = State::Aborting;
        info!(session = %self.session_id, "aborting the session (1223)");
        self.next_message(tree)
    }

    /// Takes the server's reply to the last message and says what to do next.
    pub fn handle_reply<S: Store>(
        &mut self,
        incoming: Incoming<'_>,
        tree: &mut Tree<S>,
        ui: &mut dyn UserInteraction,
    ) -> Result<Action, ClientError> {
        match &self.state {
            State::Done => return Err(ClientError::Protocol("the session is already over".into())),
            State::Closing(outcome) => {
                let outcome = outcome.clone();
                return self.finish(tree, outcome);
            }
            State::Aborting => return self.finish(tree, Outcome::AbortedByClient),
            State::Running => {}
        }
        let msg = self.decode(&incoming)?;
        info!(msg = %msg.header.msg_id, "received: {}", summary(&msg.body));
        if !msg.header.session_id.trim().eq_ignore_ascii_case(&self.session_id) {
            return Err(ClientError::Protocol(format!(
                "server answered in session {:?}, ours is {:?}",
                msg.header.session_id, self.session_id
            )));
        }
        let server_msg = msg.header.msg_id.clone();
        let version = match (&self.protocol, &msg.header.ver_proto) {
            (VerProto::Dm1_3, VerProto::Dm1_3) => DmVersion::V1_3,
            _ => DmVersion::V1_2,
        };
        self.uri_limits = tree.uri_limits();

        // The server's credentials (SRVCRED).
        let (header_code, chal, accepted, end) = self.verify_server(&msg, &incoming)?;
        if accepted {
            self.caller = Caller::server(self.account.server_id.clone(), version);
        }
        self.adopt_header(&msg.header, accepted);
        let mut header_status = status(&server_msg, "0", CommandName::SyncHdr, header_code);
        header_status.target_refs.push(msg.header.target.loc_uri.clone());
        header_status.source_refs.push(msg.header.source.loc_uri.clone());
        header_status.chal = chal;

        // The Statuses of what we sent, our own authentication first.
        let mut retry = false;
        for cmd in &msg.body.commands {
            let Command::Status(st) = cmd else { continue };
            if st.cmd_ref.trim() == "0" {
                let chal = st
                    .chal
                    .as_ref()
                    .map(|c| Challenge::from_meta(c.meta.media_type.as_deref(), c.meta.next_nonce.as_deref()));
                let code = st.code.code();
                match self.prover.on_status(code, chal.as_ref())? {
                    ProverAction::Retry => retry = true,
                    ProverAction::Authenticated | ProverAction::Continue => {
                        if !st.code.is_success() {
                            return Err(ClientError::Protocol(format!("the server refused our message with {code}")));
                        }
                    }
                }
            } else if !accepted {
                // A server that failed authentication acknowledges nothing (DM Security 1.2 §5.3):
                // our chunk stays unconfirmed and our alerts undelivered.
                continue;
            } else if self
                .chunk_in_flight
                .as_ref()
                .is_some_and(|(m, c)| st.msg_ref.as_deref().unwrap_or(m.as_str()) == m && st.cmd_ref == *c)
            {
                self.chunk_in_flight = None;
                if !matches!(st.code, StatusCode::ChunkedItemAccepted | StatusCode::Ok) {
                    warn!(code = %st.code, "the server refused a chunk: the large object is dropped");
                    if matches!(self.pending.front(), Some(Pending::Value(v)) if v.sent > 0) {
                        self.pending.pop_front();
                    }
                }
            } else if let Some(at) = self.alerts_in_flight.iter().position(|(m, c, _)| {
                st.cmd == CommandName::Alert && st.msg_ref.as_deref().unwrap_or(m.as_str()) == m && st.cmd_ref == *c
            }) {
                let (_, _, alert) = self.alerts_in_flight.swap_remove(at);
                if st.code.is_success() {
                    self.delivered_alerts.push(alert);
                } else {
                    warn!(alert = %alert.meta_type, code = %st.code, "the server refused a generic alert");
                }
            } else if !st.code.is_success() {
                warn!(cmd = %st.cmd, cmd_ref = %st.cmd_ref, code = %st.code, "the server refused a command");
            }
        }
        if accepted && !self.server_trusted {
            self.server_trusted = true;
            self.prover.peer_authenticated();
        }
        if retry {
            info!(scheme = %self.prover.scheme(), "challenged: resending Package 1");
            self.pending.clear();
            self.queue_package1();
            self.chunk_in_flight = None;
            self.reply_header = Some(header_status);
            self.server_complete = true;
            return self.next_message(tree).map(Action::Send);
        }

        let commands: Vec<&Command> =
            msg.body.commands.iter().filter(|c| !matches!(c, Command::Status(_) | Command::Results(_))).collect();
        if !accepted {
            // Status only, one per command, none executed, and nothing else of the message acted
            // on: not its Final or Alert 1222, which would end an object being received, nor
            // its Statuses (DM Security 1.2 §5.3, digest §4 "On failure").
            let statuses = commands
                .iter()
                .map(|cmd| {
                    let mut st = status(&server_msg, cmd.cmd_id(), cmd.name(), header_code);
                    st.chal = None;
                    Pending::Command(Command::Status(st))
                })
                .collect();
            if end {
                self.state = State::Closing(Outcome::ServerNotAuthenticated);
            }
            self.reply_header = Some(header_status);
            // Its package is done if it is Final or asks for the rest of ours (Alert 1222).
            let package_done = msg.body.is_final
                || commands.iter().any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::NextMessage)));
            return self.challenge_message(tree, statuses, package_done).map(Action::Send);
        }
        for cmd in &commands {
            if let Command::Alert(a) = cmd {
                if a.code == Some(AlertCode::SessionAbort) {
                    info!("the server aborted the session (1223)");
                    return self.finish(tree, Outcome::AbortedByServer);
                }
            }
        }
        let mut answers = Vec::new();
        self.held_in_message = 0;
        for cmd in commands.iter().copied() {
            answers.extend(self.run_top(cmd, &server_msg, tree, ui)?);
        }
        self.held_in_message = 0;
        // The answers to this message go before the rest of a large object being sent, so
        // that its next chunk still ends the message.
        if matches!(self.pending.front(), Some(Pending::Value(v)) if v.sent > 0) {
            for a in answers.into_iter().rev() {
                self.pending.push_front(a);
            }
        } else {
            self.pending.extend(answers);
        }
        // A message without Final either continues the server's package (we answer with 1222 to
        // get the rest) or, holding Alert 1222 itself, asks for the rest of ours: its package is done.
        let asks_for_more =
            commands.iter().any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::NextMessage)));
        self.server_complete = msg.body.is_final || asks_for_more;
        if self.server_complete {
            if let Some(obj) = self.incoming.take() {
                self.pending.push_back(interrupted(&obj));
            }
        }
        let has_commands = !commands.is_empty();
        self.reply_header = Some(header_status);
        if self.server_complete
            && !has_commands
            && self.pending.is_empty()
            && self.queued_alerts.is_empty()
            && self.state == State::Running
        {
            return self.finish(tree, Outcome::Completed);
        }
        self.next_message(tree).map(Action::Send)
    }

    /// Builds the answer to a message whose server failed authentication: the header Status with
    /// the challenge and one Status per command (then Final, or Alert 1222 if the server's
    /// package goes on), without any chunk, alert or answer of ours, all of which stay queued for an authenticated message (DM Security 1.2 §5.3, digest
    /// §4 "On failure").
    fn challenge_message<S: Store>(
        &mut self,
        tree: &mut Tree<S>,
        statuses: VecDeque<Pending>,
        server_package_done: bool,
    ) -> Result<Outgoing, ClientError> {
        let held = std::mem::replace(&mut self.pending, statuses);
        let alerts = std::mem::take(&mut self.queued_alerts);
        // The reply may have Final only if the server's package is done (a client must not Final
        // before the server's package is; otherwise it asks for the rest with 1222), while the
        // session's own record of the server's package is left as it was.
        let complete = std::mem::replace(&mut self.server_complete, server_package_done);
        let out = self.next_message(tree);
        // Statuses that did not fit go first in the next message.
        let left = std::mem::replace(&mut self.pending, held);
        for p in left.into_iter().rev() {
            self.pending.push_front(p);
        }
        self.queued_alerts = alerts;
        self.server_complete = complete;
        out
    }

    /// Builds the next message of a running session. When none can be built (nothing fits the
    /// server's MaxMsgSize, or it cannot be encoded) the session is over: nothing more can be
    /// sent in it, and a later reply is refused as one after the session's end.
    fn next_message<S: Store>(&mut self, tree: &mut Tree<S>) -> Result<Outgoing, ClientError> {
        match self.build(tree) {
            Ok(out) => Ok(out),
            Err(e) => {
                warn!(session = %self.session_id, "the session ends: {e}");
                self.state = State::Done;
                Err(e)
            }
        }
    }

    /// Takes the RespURI and MaxMsgSize/MaxObjSize of a server header. The RespURI is taken from
    /// any message, as the challenge exchange with a server that failed authentication goes on at
    /// its session URL (answered elsewhere, our challenge starts a new session there, which can
    /// never answer it; and a URL cannot be compared with another for "same server" without
    /// resolving names, ports and load balancers). The size limits only from a verified server
    /// (`accepted`), so that an unauthenticated message cannot resize what we send.
    fn adopt_header(&mut self, header: &SyncHdr, accepted: bool) {
        if let Some(r) = header.resp_uri.as_deref().map(str::trim) {
            if !r.is_empty() && r != self.url {
                debug!(resp_uri = %r, "the server's RespURI takes over");
                self.url = r.to_string();
            }
        }
        if !accepted {
            return;
        }
        if let Some(m) = &header.meta {
            if let Some(n) = m.max_msg_size {
                self.server_max_msg = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            if m.max_obj_size.is_some() {
                self.server_max_obj = m.max_obj_size;
            }
        }
    }

    fn decode(&self, incoming: &Incoming<'_>) -> Result<SyncMl, ClientError> {
        if Encoding::sniff(incoming.body).is_some() {
            return Ok(omadm_proto::decode(incoming.body, &self.limits)?.0);
        }
        match incoming.content_type {
            Some(t) if t.contains("wbxml") => Ok(omadm_proto::wbxml::decode(incoming.body, &self.limits)?),
            Some(t) if t.contains("xml") => Ok(omadm_proto::xml::decode(incoming.body, &self.limits)?),
            _ => Ok(omadm_proto::decode(incoming.body, &self.limits)?.0),
        }
    }

    /// Checks the server's credentials; returns the header status, its Chal, whether the message
    /// is accepted, and whether the session must end.
    fn verify_server(
        &mut self,
        msg: &SyncMl,
        incoming: &Incoming<'_>,
    ) -> Result<(StatusCode, Option<Chal>, bool, bool), ClientError> {
        let Some(auth) = self.server_auth.as_mut() else {
            return Ok((StatusCode::Ok, None, true, false));
        };
        if auth.authenticated && auth.scheme != AuthScheme::Mac {
            // 212 ended authentication for the session.
            return Ok((StatusCode::Ok, None, true, false));
        }
        let cred = match &msg.header.cred {
            Some(c) => {
                let meta = c.meta.as_ref();
                match Credential::from_meta(
                    meta.and_then(|m| m.media_type.as_deref()),
                    meta.and_then(|m| m.format.as_ref().map(|f| f.as_str())),
                    &c.data,
                ) {
                    Ok(cred) => Some(cred),
                    Err(e) => {
                        warn!("unreadable server credential: {e}");
                        None
                    }
                }
            }
            None => None,
        };
        let presented = match (&cred, incoming.hmac) {
            (Some(c), _) => Presented::Cred(c),
            (None, Some(h)) => Presented::Hmac { header: h, body: incoming.body },
            (None, None) => Presented::Nothing,
        };
        // A verifier per message over the kept ledger and failure count, so that the session owns
        // no borrowed nonce source (and stays Send for multi-threaded runtimes).
        let mut source = OsNonceSource;
        let mut verifier =
            Verifier::new(auth.credentials.clone(), auth.scheme.clone(), auth.ledger.clone(), &mut source)
                .with_max_failures(Verifier::DEFAULT_MAX_FAILURES.saturating_sub(auth.failures));
        let verdict = verifier.check(presented)?;
        auth.ledger = verifier.ledger().clone();
        let mut end = verdict.end_session;
        if verdict.accepted() {
            auth.authenticated = true;
        } else {
            if verdict.status == AuthStatus::InvalidCredentials {
                auth.failures += 1;
            }
            // A server that keeps sending no credentials is not asked forever.
            auth.refused += 1;
            end |= auth.refused >= MAX_UNAUTHENTICATED_MESSAGES;
        }
        if let Some(f) = &verdict.failure {
            warn!("server authentication failed: {f}");
        }
        let chal = verdict.challenge.as_ref().map(|c| Chal {
            meta: Meta {
                format: Some(Format::B64),
                media_type: Some(c.scheme.meta_type_in(&self.profile).to_string()),
                next_nonce: c.next_nonce_text(),
                ..Meta::default()
            },
        });
        let code = StatusCode::from_code(verdict.status.code());
        Ok((code, chal, verdict.accepted(), end))
    }

    /// Ends the session: stores the nonces for the next one (only those a trusted server gave).
    fn finish<S: Store>(&mut self, tree: &mut Tree<S>, outcome: Outcome) -> Result<Action, ClientError> {
        self.state = State::Done;
        let client_nonce = self.prover.nonce_to_store().clone();
        let client_scheme = self.prover.scheme_to_store().clone();
        let server_nonce = self.server_auth.as_ref().map(|a| a.ledger.current().clone());
        self.account.store_nonces(tree, &client_nonce, &client_scheme, server_nonce.as_ref())?;
        info!(session = %self.session_id, ?outcome, "session over");
        Ok(Action::Finished(outcome))
    }

    // ----- building messages ---------------------------------------------------------------

    fn header(&mut self) -> Result<SyncHdr, ClientError> {
        self.msg_id += 1;
        let cred = if self.state == State::Aborting && self.prover.credential()?.is_none() {
            None
        } else {
            self.prover.credential()?.map(|c| Cred {
                meta: Some(Meta {
                    format: Some(Format::parse(c.format())),
                    media_type: Some(c.scheme.meta_type_in(&self.profile).to_string()),
                    ..Meta::default()
                }),
                data: c.data,
            })
        };
        let client_name = self.account.client.credentials.name.clone();
        Ok(SyncHdr {
            ver_dtd: VerDtd::V1_2,
            ver_proto: self.protocol.clone(),
            session_id: self.session_id.clone(),
            msg_id: self.msg_id.to_string(),
            target: Location::new(self.account.server_uri.clone()),
            source: Location { loc_uri: self.dev_id.clone(), loc_name: Some(client_name) },
            resp_uri: None,
            no_resp: false,
            cred,
            meta: Some(Meta {
                max_msg_size: Some(self.max_msg_size),
                max_obj_size: Some(self.max_obj_size),
                ..Meta::default()
            }),
        })
    }

    /// Builds the next message from the queue, as much as fits the server's MaxMsgSize.
    fn build<S: Store>(&mut self, tree: &mut Tree<S>) -> Result<Outgoing, ClientError> {
        for a in std::mem::take(&mut self.queued_alerts) {
            self.pending.push_back(Pending::Alert(a));
        }
        let header = self.header()?;
        let mut msg = SyncMl { header, body: SyncBody { commands: Vec::new(), is_final: self.server_complete } };
        let limit = self.server_max_msg.unwrap_or(usize::MAX);
        let tail = (!self.server_complete).then(|| {
            Command::Alert(Alert {
                cmd_id: String::new(),
                no_resp: false,
                cred: None,
                code: Some(AlertCode::NextMessage),
                correlator: None,
                items: Vec::new(),
            })
        });
        let mut next_id = 1u32;
        if let Some(mut h) = self.reply_header.take() {
            h.cmd_id = next_id.to_string();
            next_id += 1;
            msg.body.commands.push(Command::Status(h));
        }
        let fixed = msg.body.commands.len();
        let mut chunk_sent = false;
        let measured = self.place_all_whole(&mut msg, &tail, &mut next_id, limit)?;
        let placed = msg.body.commands.len();
        while let Some(front) = self.pending.front_mut() {
            match front {
                Pending::Command(cmd) => {
                    let cmd = cmd.clone();
                    if !self.place_command(&mut msg, &tail, cmd, next_id, limit, fixed)? {
                        break;
                    }
                    next_id += 1;
                    self.pending.pop_front();
                }
                Pending::Alert(a) => {
                    let cmd = Command::Alert(a.to_alert());
                    if !self.place_command(&mut msg, &tail, cmd, next_id, limit, fixed)? {
                        break;
                    }
                    if let Some(Pending::Alert(a)) = self.pending.pop_front() {
                        self.alerts_in_flight.push((self.msg_id.to_string(), next_id.to_string(), a));
                    }
                    next_id += 1;
                }
                Pending::Value(_) => {
                    let Some(Pending::Value(mut v)) = self.pending.pop_front() else { break };
                    match self.place_value(&mut msg, &tail, &v, next_id, limit, fixed)? {
                        ValueStep::Whole => next_id += 1,
                        ValueStep::Chunk { taken, last } => {
                            next_id += 1;
                            if !last {
                                v.sent += taken;
                                self.pending.push_front(Pending::Value(v));
                                chunk_sent = true;
                            }
                            break;
                        }
                        ValueStep::Defer => {
                            self.pending.push_front(Pending::Value(v));
                            break;
                        }
                    }
                }
                Pending::Struct { .. } => {
                    let done = self.fill_struct(&mut msg, &tail, &mut next_id, limit, fixed, tree)?;
                    if done {
                        self.pending.pop_front();
                    } else {
                        break;
                    }
                }
            }
        }
        let complete = self.pending.is_empty() && !chunk_sent;
        if let Some(mut t) = tail {
            set_cmd_id(&mut t, next_id);
            msg.body.commands.push(t);
        }
        msg.body.is_final = self.server_complete && complete;
        let body = match measured {
            Some(body) if msg.body.commands.len() == placed && msg.body.is_final == self.server_complete => body,
            _ => encode(&msg, self.encoding)?,
        };
        if body.len() > limit {
            return Err(ClientError::Size(format!(
                "even a message of {} bytes holding only its fixed part is over the server's MaxMsgSize of {limit} bytes",
                body.len()
            )));
        }
        let hmac = self.prover.hmac_header(&body).map(|h| h.to_value_in(&self.profile));
        info!(msg = self.msg_id, bytes = body.len(), "sending: {}", summary(&msg.body));
        Ok(Outgoing { url: self.url.clone(), body, encoding: self.encoding, hmac })
    }

    /// Usually every pending item goes whole into one message: places them all and measures the
    /// message once, instead of encoding it again after each command as [`Session::build`]'s loop
    /// does (that was about a fifth of a simulated device's instructions in `omadm loadgen`).
    /// The size only grows with more commands, so when all fit the loop would have placed them
    /// all the same way; when they do not (or an item is a value being chunked or larger than
    /// the limit, or a structural Get), nothing is placed and the loop goes item by item. Returns the measured
    /// message's encoding when it can be sent as it is (no tail to add).
    fn place_all_whole(
        &mut self,
        msg: &mut SyncMl,
        tail: &Option<Command>,
        next_id: &mut u32,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        if self.pending.len() < 2 {
            return Ok(None);
        }
        let whole = |p: &Pending| match p {
            Pending::Command(_) | Pending::Alert(_) => true,
            Pending::Value(v) => v.sent == 0 && v.bytes.len() <= limit,
            Pending::Struct { .. } => false,
        };
        if !self.pending.iter().all(whole) {
            return Ok(None);
        }
        let fixed = msg.body.commands.len();
        // Commands are moved into the message, not cloned; what else was pending is kept beside
        // it (`None` for a moved command), to be put back if the message turns out too large.
        let mut kept = Vec::with_capacity(self.pending.len());
        for (id, p) in (*next_id..).zip(std::mem::take(&mut self.pending)) {
            let cmd = match p {
                Pending::Command(mut c) => {
                    set_cmd_id(&mut c, id);
                    kept.push(None);
                    c
                }
                Pending::Alert(a) => {
                    let mut c = Command::Alert(a.to_alert());
                    set_cmd_id(&mut c, id);
                    kept.push(Some(Pending::Alert(a)));
                    c
                }
                Pending::Value(v) => {
                    let c = value_results(&v, id, v.bytes.clone(), false);
                    kept.push(Some(Pending::Value(v)));
                    c
                }
                Pending::Struct { .. } => unreachable!("checked above: all pending items are whole"),
            };
            msg.body.commands.push(cmd);
        }
        // Without a tail the message measured is the one sent (when nothing else follows and it
        // is final as measured), so its encoding is kept for [`Session::build`] to send.
        let measured = if tail.is_none() {
            let final_was = msg.body.is_final;
            msg.body.is_final = self.server_complete;
            let body = encode(msg, self.encoding);
            msg.body.is_final = final_was;
            body.map(|body| (body.len(), Some(body)))
        } else {
            self.size_with(msg, tail).map(|size| (size, None))
        };
        // Too large, or not encodable at all: everything goes back to the pending list, in order,
        // before the answer (an encoding error too) is given, so that nothing pending is lost.
        let body = match measured {
            Ok((size, body)) if size <= limit => body,
            other => {
                for (cmd, k) in msg.body.commands.drain(fixed..).zip(kept) {
                    self.pending.push_back(k.unwrap_or(Pending::Command(cmd)));
                }
                other?;
                return Ok(None);
            }
        };
        for k in kept {
            if let Some(Pending::Alert(a)) = k {
                self.alerts_in_flight.push((self.msg_id.to_string(), next_id.to_string(), a));
            }
            *next_id += 1;
        }
        Ok(body)
    }

    /// Adds a command to the message if it still fits; a command that cannot fit beside the
    /// message's fixed part alone (header Status, tail) is an error: no message could ever carry
    /// it, and sending the fixed part again at each 1222 would never end.
    fn place_command(
        &self,
        msg: &mut SyncMl,
        tail: &Option<Command>,
        mut cmd: Command,
        cmd_id: u32,
        limit: usize,
        fixed: usize,
    ) -> Result<bool, ClientError> {
        set_cmd_id(&mut cmd, cmd_id);
        msg.body.commands.push(cmd);
        if self.size_with(msg, tail)? <= limit {
            return Ok(true);
        }
        let refused = msg.body.commands.pop();
        if msg.body.commands.len() == fixed {
            let name = refused.map_or_else(|| "command".to_string(), |c| c.name().to_string());
            return Err(ClientError::Size(format!(
                "a {name} does not fit the server's MaxMsgSize of {limit} bytes even with nothing else in the message"
            )));
        }
        Ok(false)
    }

    /// Puts (the next part of) a value into the message: whole if it fits, else its next chunk,
    /// last in the message (chunks follow each other with nothing in between). A first chunk
    /// shares the message with what came before only if a useful part of it fits.
    fn place_value(
        &mut self,
        msg: &mut SyncMl,
        tail: &Option<Command>,
        v: &PendingValue,
        cmd_id: u32,
        limit: usize,
        fixed: usize,
    ) -> Result<ValueStep, ClientError> {
        let at_start = v.sent == 0;
        if at_start && v.bytes.len() <= limit {
            msg.body.commands.push(value_results(v, cmd_id, v.bytes.clone(), false));
            if self.size_with(msg, tail)? <= limit {
                return Ok(ValueStep::Whole);
            }
            msg.body.commands.pop();
        }
        let shared = msg.body.commands.len() > fixed;
        let (cmd, taken) = match self.fit_chunk(msg, tail, v, cmd_id, limit) {
            Ok((_, taken)) if shared && at_start && taken < MIN_SHARED_CHUNK.min(v.bytes.len()) => {
                return Ok(ValueStep::Defer)
            }
            Ok(fitted) => fitted,
            Err(_) if shared && at_start => return Ok(ValueStep::Defer),
            Err(e) => return Err(e),
        };
        msg.body.commands.push(cmd);
        self.chunk_in_flight = Some((self.msg_id.to_string(), cmd_id.to_string()));
        Ok(ValueStep::Chunk { taken, last: v.sent + taken >= v.bytes.len() })
    }

    fn size_with(&self, msg: &mut SyncMl, tail: &Option<Command>) -> Result<usize, ClientError> {
        if let Some(t) = tail {
            msg.body.commands.push(t.clone());
        }
        let final_was = msg.body.is_final;
        msg.body.is_final = self.server_complete;
        let n = encoded_size(msg, self.encoding);
        msg.body.is_final = final_was;
        if tail.is_some() {
            msg.body.commands.pop();
        }
        n
    }

    /// The largest next chunk of `v` that keeps the message within `limit`.
    fn fit_chunk(
        &self,
        msg: &mut SyncMl,
        tail: &Option<Command>,
        v: &PendingValue,
        cmd_id: u32,
        limit: usize,
    ) -> Result<(Command, usize), ClientError> {
        let rest = &v.bytes[v.sent..];
        // A chunk's bytes travel as they are or escaped, never shorter: no more than `limit` fit.
        let mut take = rest.len().min(limit);
        loop {
            let mut n = take.min(rest.len());
            if v.text {
                while n > 0 && n < rest.len() && (rest[n] & 0xC0) == 0x80 {
                    n -= 1;
                }
            }
            if n == 0 {
                return Err(ClientError::Size(format!(
                    "the server's MaxMsgSize of {limit} bytes leaves no room for a large-object chunk"
                )));
            }
            let more = v.sent + n < v.bytes.len();
            let cmd = value_results(v, cmd_id, rest[..n].to_vec(), more);
            msg.body.commands.push(cmd);
            let size = self.size_with(msg, tail)?;
            let Some(cmd) = msg.body.commands.pop() else {
                return Err(ClientError::Size("lost the chunk being sized".into()));
            };
            if size <= limit {
                return Ok((cmd, n));
            }
            // Escaping can make the encoded chunk larger than its bytes: halve when the excess
            // is at least the chunk itself.
            let over = size - limit;
            take = if over >= n { n / 2 } else { n - over };
        }
    }

    /// Adds the items of a structural Get that fit; true when the query is exhausted. When not
    /// even the next item fits beside the answers already in the message, it waits for the next
    /// message; an item that cannot fit a message holding only its fixed part is an error.
    fn fill_struct<S: Store>(
        &mut self,
        msg: &mut SyncMl,
        tail: &Option<Command>,
        next_id: &mut u32,
        limit: usize,
        fixed: usize,
        tree: &mut Tree<S>,
    ) -> Result<bool, ClientError> {
        let Some(Pending::Struct { msg_ref, cmd_ref, target, emitted }) = self.pending.front() else {
            return Ok(true);
        };
        let (msg_ref, cmd_ref, target_text, skip) = (msg_ref.clone(), cmd_ref.clone(), target.clone(), *emitted);
        let limits = tree.uri_limits();
        let caller = self.caller.clone();
        let tx = tree.begin();
        let target = parse_target(&target_text, &limits)?;
        let mut results = Results {
            cmd_id: next_id.to_string(),
            msg_ref: Some(msg_ref),
            cmd_ref,
            meta: None,
            target_ref: None,
            source_ref: Some(target_text.clone()),
            items: Vec::new(),
        };
        msg.body.commands.push(Command::Results(results.clone()));
        // Items are read in order and the message is measured at 1, 2, 4, ... items; once it
        // overflows, the largest count that fits is found between the last two measurements
        // (a few encodings per message instead of one per item).
        let mut candidates: Vec<Item> = Vec::new();
        let fits = |msg: &mut SyncMl, items: &[Item]| -> Result<bool, ClientError> {
            if let Some(Command::Results(r)) = msg.body.commands.last_mut() {
                r.items = items.to_vec();
            }
            Ok(self.size_with(msg, tail)? <= limit)
        };
        let (mut good, mut probe, mut over) = (0usize, 1usize, None);
        if let GetResult::List(iter) = tx.get(&caller, &target)? {
            let fields = iter.fields();
            for node in iter.skip(skip) {
                candidates.push(listed_item(&node?, fields.has_value(), self.encoding));
                if candidates.len() == probe {
                    if fits(msg, &candidates)? {
                        good = probe;
                        probe *= 2;
                    } else {
                        over = Some(probe);
                        break;
                    }
                }
            }
        }
        if over.is_none() && candidates.len() > good {
            if fits(msg, &candidates)? {
                good = candidates.len();
            } else {
                over = Some(candidates.len());
            }
        }
        if let Some(mut too_many) = over {
            while too_many - good > 1 {
                let mid = good + (too_many - good) / 2;
                if fits(msg, &candidates[..mid])? {
                    good = mid;
                } else {
                    too_many = mid;
                }
            }
        }
        let exhausted = over.is_none();
        candidates.truncate(good);
        let added = good;
        results.items = candidates;
        drop(tx);
        if results.items.is_empty() {
            msg.body.commands.pop();
            if !exhausted && msg.body.commands.len() > fixed {
                return Ok(false);
            }
            if !exhausted {
                return Err(ClientError::Size(format!(
                    "a structural Get item does not fit the server's MaxMsgSize of {limit} bytes"
                )));
            }
        } else if let Some(Command::Results(r)) = msg.body.commands.last_mut() {
            *r = results;
            *next_id += 1;
        }
        if let Some(Pending::Struct { emitted, .. }) = self.pending.front_mut() {
            *emitted += added;
        }
        Ok(exhausted)
    }

    // ----- executing server commands -------------------------------------------------------

    /// Runs one top-level command (its own transaction, or Atomic/Sequence).
    fn run_top<S: Store>(
        &mut self,
        cmd: &Command,
        msg_ref: &str,
        tree: &mut Tree<S>,
        ui: &mut dyn UserInteraction,
    ) -> Result<Answers, ClientError> {
        let mut out = Vec::new();
        // A command other than the next chunk interrupts a large object (1225).
        if let Some(obj) = &self.incoming {
            let continues = match cmd {
                Command::Add(c) | Command::Replace(c) => {
                    cmd.name() == obj.command
                        && c.items.first().and_then(|i| i.target.as_ref()).is_some_and(|t| t.loc_uri == obj.target)
                }
                _ => false,
            };
            if !continues {
                if let Some(obj) = self.incoming.take() {
                    out.push(interrupted(&obj));
                }
            }
        }
        let no_resp = match cmd {
            Command::Add(c) | Command::Replace(c) | Command::Delete(c) | Command::Get(c) | Command::Copy(c) => {
                c.no_resp
            }
            Command::Alert(a) => a.no_resp,
            Command::Exec(e) => e.no_resp,
            Command::Atomic(c) | Command::Sequence(c) => c.no_resp,
            _ => false,
        };
        let answers = match cmd {
            Command::Atomic(c) => self.run_atomic(c, msg_ref, tree, ui)?,
            Command::Sequence(c) => self.run_sequence(c, msg_ref, tree, ui)?,
            Command::Alert(a) => self.run_alert(a, msg_ref, ui).0,
            Command::Unsupported(u) => {
                vec![Pending::Command(Command::Status(status(
                    msg_ref,
                    &u.cmd_id,
                    CommandName::Other(u.name.clone()),
                    StatusCode::OptionalFeatureNotSupported,
                )))]
            }
            other => {
                let mut tx = tree.begin();
                let answers = self.run_in(&mut tx, other, msg_ref, false)?;
                match tx.commit() {
                    Ok(()) => answers,
                    Err(e) => {
                        warn!("commit failed: {e}");
                        with_code(answers, e.status())
                    }
                }
            }
        };
        for a in &answers {
            if let Pending::Command(Command::Status(s)) = a {
                debug!(cmd = %s.cmd, cmd_ref = %s.cmd_ref, target = ?s.target_refs, code = %s.code, "executed");
            }
        }
        if !no_resp {
            out.extend(answers);
        } else {
            out.extend(answers.into_iter().filter(|a| !matches!(a, Pending::Command(Command::Status(_)))));
        }
        Ok(out)
    }

    /// A UI or other alert from the server: its Status, and whether the user said no/cancel.
    fn run_alert(&mut self, a: &Alert, msg_ref: &str, ui: &mut dyn UserInteraction) -> (Answers, bool) {
        let code = a.code.unwrap_or(AlertCode::Other(0));
        let mut st = status(msg_ref, &a.cmd_id, CommandName::Alert, StatusCode::Ok);
        let mut negative = false;
        match UiKind::from_alert(code) {
            Some(kind) => {
                let text_of = |i: usize| {
                    a.items
                        .get(i)
                        .and_then(|it| it.data.as_ref())
                        .and_then(|d| d.as_bytes())
                        .map_or(String::new(), |b| String::from_utf8_lossy(b).into_owned())
                };
                let request = UiRequest {
                    kind,
                    options: UiOptions::parse(&text_of(0)),
                    text: text_of(1),
                    choices: (2..a.items.len()).map(text_of).collect(),
                };
                let response =
                    if self.ui_mode == UiMode::Background { UiResponse::CannotDisplay } else { ui.interact(&request) };
                st.code = response.status();
                match &response {
                    UiResponse::Text(t) => st.items.push(Item { data: Some(Data::Text(t.clone())), ..Item::default() }),
                    UiResponse::Chosen(ix) => st.items.extend(
                        ix.iter()
                            .filter(|i| **i >= 1 && **i <= request.choices.len())
                            .map(|i| Item { data: Some(Data::Text(i.to_string())), ..Item::default() }),
                    ),
                    UiResponse::Rejected | UiResponse::Cancelled => negative = true,
                    _ => {}
                }
                info!(alert = code.code(), text = %request.text, status = %st.code, "user interaction");
            }
            None => match code {
                AlertCode::NextMessage => {}
                AlertCode::ServerInitiatedMgmt | AlertCode::ClientInitiatedMgmt => {}
                _ => st.code = StatusCode::OptionalFeatureNotSupported,
            },
        }
        (vec![Pending::Command(Command::Status(st))], negative)
    }

    /// Atomic (DM Protocol 1.2 §6.6.3): all in one transaction, or nothing. On failure the Atomic
    /// gets 507, commands that ran and were undone 216, a UI alert already shown 516 (a user
    /// cannot un-see it), the failing command its own code and commands not reached 215.
    fn run_atomic<S: Store>(
        &mut self,
        c: &Container,
        msg_ref: &str,
        tree: &mut Tree<S>,
        ui: &mut dyn UserInteraction,
    ) -> Result<Answers, ClientError> {
        let mut inner: Vec<Answers> = Vec::new();
        let mut failed_at = None;
        let mut shown_alerts = Vec::new();
        let mut tx = tree.begin();
        for (i, cmd) in c.commands.iter().enumerate() {
            let answers = match cmd {
                Command::Add(_) | Command::Replace(_) | Command::Delete(_) | Command::Copy(_) => {
                    self.run_in(&mut tx, cmd, msg_ref, true)?
                }
                Command::Alert(a) => {
                    let (answers, negative) = self.run_alert(a, msg_ref, ui);
                    shown_alerts.push(i);
                    if negative {
                        inner.push(answers);
                        failed_at = Some(i);
                        break;
                    }
                    answers
                }
                // DM allows only Add, Alert, Copy, Delete and Replace in an Atomic.
                other => vec![Pending::Command(Command::Status(status(
                    msg_ref,
                    other.cmd_id(),
                    other.name(),
                    StatusCode::CommandFailed,
                )))],
            };
            let ok = answers.iter().all(|a| match a {
                Pending::Command(Command::Status(s)) => s.code.is_success(),
                _ => true,
            });
            inner.push(answers);
            if !ok {
                failed_at = Some(i);
                break;
            }
        }
        let mut commit_failed = false;
        if failed_at.is_none() {
            if let Err(e) = tx.commit() {
                warn!("Atomic commit failed: {e}");
                commit_failed = true;
            }
        } else {
            tx.rollback();
        }
        let mut out = Vec::new();
        let atomic_code = if failed_at.is_some() || commit_failed { StatusCode::AtomicFailed } else { StatusCode::Ok };
        out.push(Pending::Command(Command::Status(status(msg_ref, &c.cmd_id, CommandName::Atomic, atomic_code))));
        for (i, answers) in inner.into_iter().enumerate() {
            let rewritten = match failed_at {
                None if !commit_failed => answers,
                None => with_code(answers, StatusCode::AtomicRollbackFailed),
                Some(f) if i == f => answers,
                Some(_) if shown_alerts.contains(&i) => with_code(answers, StatusCode::AtomicRollbackFailed),
                Some(_) => with_code(answers, StatusCode::AtomicRollbackOk),
            };
            out.extend(rewritten.into_iter().filter(|a| !matches!(a, Pending::Value(_) | Pending::Struct { .. })));
        }
        let reached = failed_at.map_or(c.commands.len(), |f| f + 1);
        for cmd in &c.commands[reached.min(c.commands.len())..] {
            out.push(Pending::Command(Command::Status(status(
                msg_ref,
                cmd.cmd_id(),
                cmd.name(),
                StatusCode::NotExecuted,
            ))));
        }
        Ok(out)
    }

    /// Sequence (DM Protocol 1.2 §6.6.11): in order, each command on its own; a "No" or a cancel
    /// to a UI alert skips the rest (215 each).
    fn run_sequence<S: Store>(
        &mut self,
        c: &Container,
        msg_ref: &str,
        tree: &mut Tree<S>,
        ui: &mut dyn UserInteraction,
    ) -> Result<Answers, ClientError> {
        let mut out =
            vec![Pending::Command(Command::Status(status(msg_ref, &c.cmd_id, CommandName::Sequence, StatusCode::Ok)))];
        let mut skipping = false;
        for cmd in &c.commands {
            if skipping {
                out.push(Pending::Command(Command::Status(status(
                    msg_ref,
                    cmd.cmd_id(),
                    cmd.name(),
                    StatusCode::NotExecuted,
                ))));
                continue;
            }
            match cmd {
                Command::Alert(a) => {
                    let (answers, negative) = self.run_alert(a, msg_ref, ui);
                    out.extend(answers);
                    skipping = negative;
                }
                Command::Sequence(_) => out.push(Pending::Command(Command::Status(status(
                    msg_ref,
                    cmd.cmd_id(),
                    cmd.name(),
                    StatusCode::CommandFailed,
                )))),
                other => out.extend(self.run_top(other, msg_ref, tree, ui)?),
            }
        }
        Ok(out)
    }

    /// Add, Replace, Delete, Copy, Get or Exec inside a transaction: one Status per Item (with
    /// its TargetRef), Get's Results right after.
    fn run_in<S: Store>(
        &mut self,
        tx: &mut Txn<'_, S>,
        cmd: &Command,
        msg_ref: &str,
        in_atomic: bool,
    ) -> Result<Answers, ClientError> {
        let (name, cmd_id, meta, items, correlator) = match cmd {
            Command::Add(c) | Command::Replace(c) | Command::Delete(c) | Command::Get(c) | Command::Copy(c) => {
                (cmd.name(), c.cmd_id.as_str(), c.meta.as_ref(), c.items.as_slice(), None)
            }
            Command::Exec(e) => {
                (cmd.name(), e.cmd_id.as_str(), e.meta.as_ref(), e.items.as_slice(), e.correlator.as_deref())
            }
            other => {
                return Ok(vec![Pending::Command(Command::Status(status(
                    msg_ref,
                    other.cmd_id(),
                    other.name(),
                    StatusCode::CommandNotAllowed,
                )))])
            }
        };
        let mut out = Vec::new();
        if items.is_empty() {
            out.push(Pending::Command(Command::Status(status(
                msg_ref,
                cmd_id,
                name.clone(),
                StatusCode::IncompleteCommand,
            ))));
        }
        for item in items {
            let target_text = item.target.as_ref().map(|t| t.loc_uri.clone()).unwrap_or_default();
            let mut st = status(msg_ref, cmd_id, name.clone(), StatusCode::Ok);
            if !target_text.is_empty() {
                st.target_refs.push(target_text.clone());
            }
            if let Some(s) = &item.source {
                st.source_refs.push(s.loc_uri.clone());
            }
            let mut extra = None;
            st.code = match self.run_item(tx, &name, meta, item, &target_text, correlator, in_atomic) {
                Ok((code, results)) => {
                    if let Some(mut r) = results {
                        match &mut r {
                            Pending::Value(v) => {
                                v.msg_ref = msg_ref.to_string();
                                v.cmd_ref = cmd_id.to_string();
                            }
                            Pending::Struct { msg_ref: m, cmd_ref: c, .. } => {
                                *m = msg_ref.to_string();
                                *c = cmd_id.to_string();
                            }
                            Pending::Command(_) | Pending::Alert(_) => {}
                        }
                        extra = Some(r);
                    }
                    if code == StatusCode::AcceptedForProcessing {
                        if let Some(c) = correlator {
                            self.async_execs.push(c.to_string());
                        }
                    }
                    code
                }
                Err(code) => code,
            };
            out.push(Pending::Command(Command::Status(st)));
            out.extend(extra);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_item<S: Store>(
        &mut self,
        tx: &mut Txn<'_, S>,
        name: &CommandName,
        cmd_meta: Option<&Meta>,
        item: &Item,
        target_text: &str,
        correlator: Option<&str>,
        in_atomic: bool,
    ) -> Result<(StatusCode, Option<Pending>), StatusCode> {
        let caller = self.caller.clone();
        let limits = self.uri_limits;
        let meta = item.meta_or(cmd_meta);
        let target = parse_target(target_text, &limits).map_err(|e| e.status())?;
        let tree_code = |r: omadm_tree::TreeResult<StatusCode>| {
            r.map_err(|e| {
                debug!("refused: {e}");
                e.status()
            })
        };
        match name {
            CommandName::Add | CommandName::Replace => {
                let Some(received) = self.receive_object(name, item, meta, target_text, in_atomic)? else {
                    return Ok((StatusCode::ChunkedItemAccepted, None));
                };
                let meta = received.meta.as_ref();
                if is_tnds(meta) {
                    let doc = if received.chunked {
                        tnds_from_bytes(&received.bytes, &self.limits)?
                    } else {
                        tnds_document(item, &self.limits)?
                    };
                    let r = if *name == CommandName::Add {
                        tx.add_tnds(&caller, &target.uri, &doc)
                    } else {
                        tx.replace_tnds(&caller, &target.uri, &doc)
                    };
                    return tree_code(r).map(|c| (c, None));
                }
                let content = Content::from_meta(meta, received.bytes);
                let r = if *name == CommandName::Add {
                    tx.add(&caller, &target, content)
                } else {
                    tx.replace(&caller, &target, content)
                };
                tree_code(r).map(|c| (c, None))
            }
            CommandName::Delete => tree_code(tx.delete(&caller, &target)).map(|c| (c, None)),
            CommandName::Copy => {
                let source_text = item.source.as_ref().map(|s| s.loc_uri.as_str()).unwrap_or_default();
                let source = parse_target(source_text, &limits).map_err(|e| e.status())?;
                tree_code(tx.copy(&caller, &target, &source)).map(|c| (c, None))
            }
            CommandName::Exec => {
                let data = item_bytes(item);
                tree_code(tx.exec(&caller, &target, &data, correlator)).map(|c| (c, None))
            }
            CommandName::Get => self.run_get(tx, &caller, &target, target_text),
            _ => Err(StatusCode::CommandNotAllowed),
        }
    }

    /// The data of an Add/Replace Item, assembling large objects (DM Protocol 1.2 §6.9): `None`
    /// while chunks are still coming (213), the whole object with the first chunk's Meta once
    /// complete; 411 without a Size, 413 above our MaxObjSize, 424 when the size does not match.
    fn receive_object(
        &mut self,
        name: &CommandName,
        item: &Item,
        meta: Option<&Meta>,
        target: &str,
        in_atomic: bool,
    ) -> Result<Option<Received>, StatusCode> {
        let continuing = self.incoming.as_ref().is_some_and(|o| o.command == *name && o.target == target);
        let chunk = item_bytes(item);
        if item.more_data {
            if in_atomic {
                return Err(StatusCode::OptionalFeatureNotSupported);
            }
            if continuing {
                let obj = self.incoming.as_mut().ok_or(StatusCode::CommandFailed)?;
                obj.bytes.extend_from_slice(&chunk);
                if obj.bytes.len() as u64 > obj.size {
                    self.incoming = None;
                    return Err(StatusCode::SizeMismatch);
                }
                return Ok(None);
            }
            let size = meta.and_then(|m| m.size).ok_or(StatusCode::SizeRequired)?;
            if size > self.max_obj_size {
                return Err(StatusCode::RequestEntityTooLarge);
            }
            if chunk.len() as u64 > size {
                return Err(StatusCode::SizeMismatch);
            }
            self.incoming = Some(IncomingObject {
                command: name.clone(),
                target: target.to_string(),
                meta: meta.cloned(),
                size,
                bytes: chunk,
            });
            return Ok(None);
        }
        if continuing {
            let mut obj = self.incoming.take().ok_or(StatusCode::CommandFailed)?;
            obj.bytes.extend_from_slice(&chunk);
            if obj.bytes.len() as u64 != obj.size {
                warn!(expected = obj.size, got = obj.bytes.len(), "large object size mismatch (424)");
                return Err(StatusCode::SizeMismatch);
            }
            return Ok(Some(Received { bytes: obj.bytes, meta: obj.meta, chunked: true }));
        }
        if chunk.len() as u64 > self.max_obj_size {
            return Err(StatusCode::RequestEntityTooLarge);
        }
        Ok(Some(Received { bytes: chunk, meta: meta.cloned(), chunked: false }))
    }

    /// How many more bytes of answers may be held for sending (see
    /// [`SessionConfig::max_held_answers`]).
    fn answer_room(&self) -> usize {
        let queued: usize = self
            .pending
            .iter()
            .map(|p| match p {
                Pending::Value(v) => v.bytes.len(),
                _ => 0,
            })
            .sum();
        self.max_held_answers.saturating_sub(queued.saturating_add(self.held_in_message))
    }

    /// Counts an answer of `len` bytes as held, or refuses it with 413 when it does not fit.
    fn hold(&mut self, len: usize) -> Result<(), StatusCode> {
        if len > self.answer_room() {
            debug!(len, max = self.max_held_answers, "a Get's answer is past the bytes held for sending");
            return Err(StatusCode::RequestEntityTooLarge);
        }
        self.held_in_message += len;
        Ok(())
    }

    fn run_get<S: Store>(
        &mut self,
        tx: &mut Txn<'_, S>,
        caller: &Caller,
        target: &TargetUri,
        target_text: &str,
    ) -> Result<(StatusCode, Option<Pending>), StatusCode> {
        let got = tx.get(caller, target).map_err(|e| {
            debug!("Get refused: {e}");
            e.status()
        })?;
        match got {
            GetResult::Value(v) => {
                let (format, bytes, text) = match (&v.format, self.encoding) {
                    (Format::Bin, Encoding::Xml) => {
                        (Format::B64, omadm_tree::value::encode_b64(&v.data).into_bytes(), true)
                    }
                    (Format::Bin, Encoding::Wbxml) => (Format::Bin, v.data, false),
                    (f, _) => (f.clone(), v.data, true),
                };
                if let Some(max) = self.server_max_obj {
                    if bytes.len() as u64 > max {
                        return Err(StatusCode::RequestEntityTooLarge);
                    }
                }
                self.hold(bytes.len())?;
                let meta = Meta {
                    format: Some(format),
                    media_type: (!v.mime.is_empty()).then(|| v.mime.clone()),
                    ..Meta::default()
                };
                let pv = PendingValue {
                    msg_ref: String::new(),
                    cmd_ref: String::new(),
                    source: target_text.to_string(),
                    meta,
                    bytes,
                    text,
                    sent: 0,
                };
                Ok((v.status, Some(Pending::Value(pv))))
            }
            GetResult::List(_) => Ok((
                StatusCode::Ok,
                Some(Pending::Struct {
                    msg_ref: String::new(),
                    cmd_ref: String::new(),
                    target: target_text.to_string(),
                    emitted: 0,
                }),
            )),
            GetResult::Tnds(list) => {
                // The document is taken whole now, so that every chunk of it comes from the tree
                // as it was when the Get ran (a later command of the package may change the
                // tree); one above the server's MaxObjSize, or past what we hold for sending, is
                // refused as soon as it is.
                let room = self.answer_room();
                let mut stream = list.into_stream(TndsEncoding::Xml);
                let mut bytes = Vec::new();
                while let Some(chunk) = stream.next_chunk(TNDS_READ).map_err(|e| e.status())? {
                    bytes.extend_from_slice(&chunk);
                    if self.server_max_obj.is_some_and(|max| bytes.len() as u64 > max) || bytes.len() > room {
                        return Err(StatusCode::RequestEntityTooLarge);
                    }
                }
                self.hold(bytes.len())?;
                let pv = PendingValue {
                    msg_ref: String::new(),
                    cmd_ref: String::new(),
                    source: target_text.to_string(),
                    meta: Meta {
                        format: Some(Format::Xml),
                        media_type: Some("application/vnd.syncml.dmtnds+xml".into()),
                        ..Meta::default()
                    },
                    bytes,
                    text: true,
                    sent: 0,
                };
                Ok((StatusCode::Ok, Some(Pending::Value(pv))))
            }
        }
    }
}

fn set_cmd_id(cmd: &mut Command, id: u32) {
    let id = id.to_string();
    match cmd {
        Command::Add(c) | Command::Replace(c) | Command::Delete(c) | Command::Get(c) | Command::Copy(c) => {
            c.cmd_id = id
        }
        Command::Alert(a) => a.cmd_id = id,
        Command::Status(s) => s.cmd_id = id,
        Command::Results(r) => r.cmd_id = id,
        Command::Exec(e) => e.cmd_id = id,
        Command::Atomic(c) | Command::Sequence(c) => c.cmd_id = id,
        Command::Unsupported(u) => u.cmd_id = id,
    }
}

/// Replaces the code of every Status in `answers`.
fn with_code(answers: Answers, code: StatusCode) -> Answers {
    answers
        .into_iter()
        .map(|a| match a {
            Pending::Command(Command::Status(mut s)) => {
                s.code = code;
                Pending::Command(Command::Status(s))
            }
            other => other,
        })
        .collect()
}

/// Alert 1225: the large object for `obj.target` was not completed.
fn interrupted(obj: &IncomingObject) -> Pending {
    warn!(target = %obj.target, received = obj.bytes.len(), size = obj.size, "large object interrupted (1225)");
    Pending::Command(Command::Alert(Alert {
        cmd_id: String::new(),
        no_resp: false,
        cred: None,
        code: Some(AlertCode::NoEndOfData),
        correlator: None,
        items: vec![Item {
            target: Some(Location::new(obj.target.clone())),
            source: Some(Location::new(obj.target.clone())),
            ..Item::default()
        }],
    }))
}

/// The Results command for (a chunk of) a value.
fn value_results(v: &PendingValue, cmd_id: u32, bytes: Vec<u8>, more: bool) -> Command {
    let mut meta = v.meta.clone();
    if v.sent == 0 && (more || bytes.len() < v.bytes.len()) {
        meta.size = Some(v.bytes.len() as u64);
    }
    let data = if v.text { Data::Text(String::from_utf8_lossy(&bytes).into_owned()) } else { Data::Binary(bytes) };
    Command::Results(Results {
        cmd_id: cmd_id.to_string(),
        msg_ref: Some(v.msg_ref.clone()),
        cmd_ref: v.cmd_ref.clone(),
        meta: None,
        target_ref: None,
        source_ref: None,
        items: vec![Item {
            source: Some(Location::new(v.source.clone())),
            meta: Some(meta),
            data: Some(data),
            more_data: more,
            ..Item::default()
        }],
    })
}

/// One Item of a structural Get (TND 1.2 §8.4): the node's URI, Format and Type, and its value
/// for `?list=StructData`.
fn listed_item(node: &omadm_tree::ListedNode, with_value: bool, encoding: Encoding) -> Item {
    let rec = &node.record;
    let (format, data) = match (&rec.format, encoding, with_value && !rec.is_interior()) {
        (_, _, false) => (rec.format.clone(), None),
        (Format::Bin, Encoding::Xml, true) => {
            (Format::B64, Some(Data::Text(omadm_tree::value::encode_b64(&rec.value))))
        }
        (Format::Bin, Encoding::Wbxml, true) => (Format::Bin, Some(Data::Binary(rec.value.clone()))),
        (f, _, true) => (f.clone(), Some(Data::Text(String::from_utf8_lossy(&rec.value).into_owned()))),
    };
    Item {
        source: Some(Location::new(node.uri.to_string())),
        meta: Some(Meta {
            format: Some(format),
            media_type: (!rec.mime.is_empty()).then(|| rec.mime.clone()),
            ..Meta::default()
        }),
        data,
        ..Item::default()
    }
}

/// The DevInfo Replace of Package 1: one Item per leaf under `./DevInfo` (StdObj 1.2 §5.2),
/// Ext and Bearer included when the device has them.
fn devinfo_replace<S: Store>(tree: &mut Tree<S>) -> Result<ItemCommand, ClientError> {
    let tx = tree.begin();
    let mut items = Vec::new();
    let mut stack = vec![Uri::parse("./DevInfo").map_err(|e| ClientError::Account(e.to_string()))?];
    while let Some(uri) = stack.pop() {
        let Some(rec) = tx.node(&uri)? else { continue };
        if rec.is_interior() {
            for c in tx.children(&uri)?.into_iter().rev() {
                stack.push(uri.child(&c).map_err(|e| ClientError::Account(e.to_string()))?);
            }
        } else {
            items.push(Item {
                source: Some(Location::new(uri.to_string())),
                meta: Some(Meta {
                    format: Some(rec.format.clone()),
                    media_type: Some(if rec.mime.is_empty() { "text/plain".into() } else { rec.mime.clone() }),
                    ..Meta::default()
                }),
                data: Some(Data::Text(String::from_utf8_lossy(&rec.value).into_owned())),
                ..Item::default()
            });
        }
    }
    if items.is_empty() {
        return Err(ClientError::Account("the tree has no ./DevInfo to send in Package 1".into()));
    }
    Ok(ItemCommand { cmd_id: String::new(), no_resp: false, cred: None, meta: None, items })
}
