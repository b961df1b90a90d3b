//! The server's records: devices with their credentials, jobs of management commands with their
//! outcome, events (generic alerts and client events) and the tree values learnt from devices.
//!
//! All of them serialize to JSON, which is both the REST API's representation and (for the nested
//! parts of a job) the storage representation.

use omadm_security::{AccountCredentials, AuthScheme, Nonce};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The authentication schemes an account direction can require (DM Security 1.2 §5; SHA-256 per
/// `docs/dm13-decisions.md`). Spelled `basic`, `md5`, `hmac`, `sha256` in the API and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// `syncml:auth-basic`.
    Basic,
    /// `syncml:auth-md5` (the default for clients, DM Security 1.2 §5.3).
    #[default]
    Md5,
    /// `syncml:auth-MAC`: the `x-syncml-hmac` transport header.
    Hmac,
    /// `syncml:auth-SHA256`: the MD5 formula with SHA-256.
    Sha256,
}

impl AuthKind {
    /// The security crate's scheme for this kind.
    pub fn scheme(self) -> AuthScheme {
        match self {
            AuthKind::Basic => AuthScheme::Basic,
            AuthKind::Md5 => AuthScheme::Md5,
            AuthKind::Hmac => AuthScheme::Mac,
            AuthKind::Sha256 => AuthScheme::Sha256,
        }
    }

    /// The API/CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Basic => "basic",
            AuthKind::Md5 => "md5",
            AuthKind::Hmac => "hmac",
            AuthKind::Sha256 => "sha256",
        }
    }

    /// Parses the API/CLI spelling.
    pub fn parse(text: &str) -> Option<AuthKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "basic" => Some(AuthKind::Basic),
            "md5" => Some(AuthKind::Md5),
            "hmac" | "mac" => Some(AuthKind::Hmac),
            "sha256" | "sha-256" => Some(AuthKind::Sha256),
            _ => None,
        }
    }
}

/// One direction of a device account: the scheme, the name and secret, and the nonce state.
///
/// For the client direction (CLCRED) the server verifies: `nonce` is the nonce the device must use
/// next and `spent` the recent ones (to name replays). For the server direction (SRVCRED) the server
/// proves: `nonce` is the one the device last gave us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAuth {
    /// The scheme required.
    pub kind: AuthKind,
    /// The account name (`AAuthName`).
    pub user: String,
    /// The shared secret (`AAuthSecret`).
    pub secret: String,
    /// The current nonce, base64 (`AAuthData`).
    #[serde(default)]
    pub nonce: String,
    /// Recently spent nonces, base64, oldest first (client direction only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spent: Vec<String>,
}

impl AccountAuth {
    /// The security crate's account credentials.
    pub fn credentials(&self) -> AccountCredentials {
        AccountCredentials::new(self.user.clone(), self.secret.as_str())
    }

    /// The current nonce as bytes.
    pub fn current_nonce(&self) -> Nonce {
        Nonce::from_next_nonce(&self.nonce)
    }

    /// The spent nonces as bytes.
    pub fn spent_nonces(&self) -> Vec<Nonce> {
        self.spent.iter().map(|n| Nonce::from_next_nonce(n)).collect()
    }
}

/// A managed device: identity, credentials both ways, what it reported, when it was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// `DevInfo/DevId`, also the SyncHdr Source of its messages.
    pub dev_id: String,
    /// The ServerID this server uses towards the device (Package #0, ACLs).
    pub server_id: String,
    /// How the device authenticates to us (CLCRED).
    pub client: AccountAuth,
    /// How we authenticate to the device (SRVCRED); an empty secret means we send no credentials.
    pub server: AccountAuth,
    /// The DevInfo leaves last reported (`DevId`, `Man`, `Mod`, `DmV`, `Lang`, ...).
    #[serde(default)]
    pub devinfo: BTreeMap<String, String>,
    /// When the record was created (Unix milliseconds).
    pub created_ms: i64,
    /// When the last session completed (Unix milliseconds).
    pub last_session_ms: Option<i64>,
}

/// The management operations a job command can hold (DM Protocol 1.2 §6.6; UI alerts §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `Get`.
    Get,
    /// `Replace`.
    Replace,
    /// `Add`.
    Add,
    /// `Delete`.
    Delete,
    /// `Exec`.
    Exec,
    /// `Copy` (`source` to `target`).
    Copy,
    /// `Atomic` of the nested `commands`.
    Atomic,
    /// `Sequence` of the nested `commands`.
    Sequence,
    /// A user-interaction `Alert` (1100–1104).
    Alert,
}

/// A user-interaction alert (DM Protocol 1.2 §8.6): item 1 options, item 2 text, items 3+ choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiAlert {
    /// 1100 display, 1101 confirm, 1102 text input, 1103 single choice, 1104 multiple choice.
    pub code: u16,
    /// The text shown to the user.
    pub text: String,
    /// The options string (`MINDT=10&MAXDT=30`), empty when none.
    #[serde(default)]
    pub options: String,
    /// The choices of 1103/1104, numbered from 1 on the wire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// One value a device returned in `Results` for a Get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultItem {
    /// The node (`Source LocURI`).
    pub uri: String,
    /// `Meta Format` (chr when absent).
    pub format: String,
    /// `Meta Type`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The value: text as sent, binary as base64.
    pub data: String,
}

/// The most commands a job (or one Atomic/Sequence) may hold: each must fit in one DM message
/// anyway, and the engine addresses them with 16-bit indexes.
pub const MAX_JOB_COMMANDS: usize = 1000;

/// A command of a job, with its outcome once the device answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCommand {
    /// The operation.
    pub op: Operation,
    /// The target node URI (all but Atomic, Sequence, Alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The source node URI (Copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The value (Replace, Add, Exec data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// `Meta Format` of the value (`chr` when absent; `node` for an interior Add; `b64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `Meta Type` of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The alert, for [`Operation::Alert`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<UiAlert>,
    /// The nested commands of Atomic and Sequence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<JobCommand>,
    /// The status code the device answered, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The values of `Results` (Get).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultItem>,
    /// The Status items (the answer to a 1102–1104 alert).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply: Vec<String>,
}

impl JobCommand {
    /// A command of `op` on `target` with nothing else set.
    pub fn new(op: Operation, target: Option<String>) -> JobCommand {
        JobCommand {
            op,
            target,
            source: None,
            data: None,
            format: None,
            media_type: None,
            alert: None,
            commands: Vec::new(),
            status: None,
            results: Vec::new(),
            reply: Vec::new(),
        }
    }

    /// Checks that the command is complete for its operation, naming what is missing, and that
    /// its text is text XML can carry ([`xml_text`]).
    pub fn validate(&self) -> Result<(), String> {
        let fields = [("target", &self.target), ("source", &self.source), ("data", &self.data)];
        let fields = fields.into_iter().chain([("format", &self.format), ("media_type", &self.media_type)]);
        for (name, value) in fields {
            if let Some(value) = value {
                xml_text(name, value)?;
            }
        }
        if let Some(alert) = &self.alert {
            xml_text("alert text", &alert.text)?;
            xml_text("alert options", &alert.options)?;
            alert.choices.iter().try_for_each(|c| xml_text("alert choice", c))?;
        }
        match self.op {
            Operation::Atomic | Operation::Sequence => {
                if self.commands.is_empty() {
                    return Err(format!("{:?} needs at least one nested command", self.op));
                }
                if self.commands.len() > MAX_JOB_COMMANDS {
                    return Err(format!("at most {MAX_JOB_COMMANDS} nested commands"));
                }
                for c in &self.commands {
                    if matches!(c.op, Operation::Atomic) && self.op == Operation::Atomic {
                        return Err("an Atomic cannot hold an Atomic (DM Protocol 1.2 §6.6.3)".into());
                    }
                    c.validate()?;
                }
                Ok(())
            }
            Operation::Alert => match &self.alert {
                Some(a) if (1100..=1104).contains(&a.code) => Ok(()),
                Some(a) => Err(format!("alert code {} is not a UI alert (1100-1104)", a.code)),
                None => Err("an alert command needs `alert`".into()),
            },
            Operation::Copy if self.source.is_none() => Err("Copy needs `source`".into()),
            _ if self.target.as_deref().is_none_or(str::is_empty) => Err(format!("{:?} needs `target`", self.op)),
            _ => Ok(()),
        }
    }

    /// Whether this command and every nested one has a status.
    pub fn answered(&self) -> bool {
        self.status.is_some() && self.commands.iter().all(JobCommand::answered)
    }

    /// Whether every status here and below is a success: a 2xx code other than those saying the
    /// command did not happen, 214 (cancelled by the user), 215 (not executed: declined or skipped)
    /// and 216 (rolled back with its Atomic) (digest §3; `docs/dm13-decisions.md`).
    pub fn succeeded(&self) -> bool {
        use omadm_proto::StatusCode;
        self.status.map(StatusCode::from_code).is_some_and(|s| {
            s.is_success()
                && !matches!(s, StatusCode::OperationCancelled | StatusCode::NotExecuted | StatusCode::AtomicRollbackOk)
        }) && self.commands.iter().all(JobCommand::succeeded)
    }
}

/// Refuses a job text holding a character XML 1.0 cannot carry (a control character other than
/// tab, LF and CR; U+FFFE; U+FFFF; XML 1.0 §2.2): the codecs refuse it (WBXML cannot encode it,
/// an XML device cannot parse it), so every message of the device's sessions would fail. Binary
/// values go base64 with format `b64`.
fn xml_text(field: &str, text: &str) -> Result<(), String> {
    match omadm_proto::element::find_non_xml_char(text) {
        None => Ok(()),
        Some((_, c)) => Err(format!(
            "`{field}` holds U+{:04X}, which XML cannot carry (XML 1.0 Char); send binary data base64 with \
             format `b64`",
            u32::from(c)
        )),
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for the device's next session.
    Queued,
    /// Sent; not every command answered yet.
    Running,
    /// Every command answered with a 2xx status.
    Completed,
    /// Every command answered, at least one with an error status.
    Failed,
}

impl JobState {
    /// The storage/API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(text: &str) -> Option<JobState> {
        match text {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "completed" => Some(JobState::Completed),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// A job: commands for one device, run in order in its next sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The job id.
    pub id: i64,
    /// The device.
    pub dev_id: String,
    /// Where it is.
    pub state: JobState,
    /// The commands, in order, with their outcome.
    pub commands: Vec<JobCommand>,
    /// Creation time (Unix milliseconds).
    pub created_ms: i64,
    /// Last change (Unix milliseconds).
    pub updated_ms: i64,
}

impl Job {
    /// Recomputes the state from the commands' outcome.
    pub fn refresh_state(&mut self) {
        if self.commands.iter().all(JobCommand::answered) {
            self.state =
                if self.commands.iter().all(JobCommand::succeeded) { JobState::Completed } else { JobState::Failed };
        } else if self.commands.iter().any(|c| c.status.is_some()) {
            self.state = JobState::Running;
        }
    }
}

/// Something a device reported on its own: a generic alert (1226) or a client event (1224).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event id (0 before storage).
    pub id: i64,
    /// The device.
    pub dev_id: String,
    /// The alert code (1226 or 1224).
    pub code: u16,
    /// `Meta Type` (the alert type URN).
    pub media_type: Option<String>,
    /// `Meta Format`.
    pub format: Option<String>,
    /// `Meta Mark` (severity).
    pub mark: Option<String>,
    /// `Source LocURI`: the MO the alert is about.
    pub source: Option<String>,
    /// `Correlator`, repeating an Exec's.
    pub correlator: Option<String>,
    /// The item's Data.
    pub data: String,
    /// When it arrived (Unix milliseconds).
    pub received_ms: i64,
}

/// A node value learnt from a device (DevInfo in Package 1, Results of Gets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeValue {
    /// The node URI.
    pub uri: String,
    /// `Meta Format`.
    pub format: String,
    /// The value (binary as base64).
    pub data: String,
    /// When it was learnt (Unix milliseconds).
    pub updated_ms: i64,
}
