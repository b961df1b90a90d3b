//! The SyncML DM message model (SyncML Representation Protocol 1.2, DM Representation 1.2 §5–6).
//!
//! One message = [`SyncMl`] = [`SyncHdr`] + [`SyncBody`]. The structs mirror the DTD content
//! models restricted to what DM uses; decoders accept children in any order, encoders write DTD order.

use crate::codes::{AlertCode, StatusCode};
use crate::element::Element;
use crate::meta::Meta;
use std::fmt;

/// A whole SyncML DM message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SyncMl {
    /// `SyncHdr`.
    pub header: SyncHdr,
    /// `SyncBody`.
    pub body: SyncBody,
}

/// `VerDTD`: the representation (DTD) version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VerDtd {
    /// `1.0`.
    V1_0,
    /// `1.1`.
    V1_1,
    /// `1.2` (also used by DM 1.3).
    V1_2,
    /// Anything else, kept as sent.
    Other(String),
}

impl VerDtd {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            VerDtd::V1_0 => "1.0",
            VerDtd::V1_1 => "1.1",
            VerDtd::V1_2 => "1.2",
            VerDtd::Other(s) => s,
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> VerDtd {
        match crate::decode::trim(s) {
            "1.0" => VerDtd::V1_0,
            "1.1" => VerDtd::V1_1,
            "1.2" => VerDtd::V1_2,
            other => VerDtd::Other(other.to_string()),
        }
    }

    /// The XML namespace of the SyncML root for this version (`SYNCML:SYNCML1.2`).
    pub fn namespace(&self) -> String {
        self.namespace_cow().into_owned()
    }

    /// [`VerDtd::namespace`], without allocating for the known versions (the XML encoder writes
    /// it into every message).
    pub(crate) fn namespace_cow(&self) -> std::borrow::Cow<'static, str> {
        match self {
            VerDtd::V1_0 => "SYNCML:SYNCML1.0".into(),
            VerDtd::V1_1 => "SYNCML:SYNCML1.1".into(),
            VerDtd::V1_2 => "SYNCML:SYNCML1.2".into(),
            VerDtd::Other(version) => format!("SYNCML:SYNCML{version}").into(),
        }
    }
}

/// `VerProto`: the protocol version, `DM/1.2` or `DM/1.3` in practice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VerProto {
    /// `DM/1.1`.
    Dm1_1,
    /// `DM/1.2`.
    Dm1_2,
    /// `DM/1.3`.
    Dm1_3,
    /// Anything else, kept as sent.
    Other(String),
}

impl VerProto {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            VerProto::Dm1_1 => "DM/1.1",
            VerProto::Dm1_2 => "DM/1.2",
            VerProto::Dm1_3 => "DM/1.3",
            VerProto::Other(s) => s,
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> VerProto {
        match crate::decode::trim(s) {
            "DM/1.1" => VerProto::Dm1_1,
            "DM/1.2" => VerProto::Dm1_2,
            "DM/1.3" => VerProto::Dm1_3,
            other => VerProto::Other(other.to_string()),
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        #[cfg(feature = "serde")]
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(VerDtd, VerProto, CommandName);

/// `SyncHdr`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SyncHdr {
    /// `VerDTD`.
    pub ver_dtd: VerDtd,
    /// `VerProto`.
    pub ver_proto: VerProto,
    /// `SessionID`: fixed for the session (upper-case hex of the Package #0 id when alerted).
    pub session_id: String,
    /// `MsgID`: 1, 2, ... per sender.
    pub msg_id: String,
    /// `Target`: the recipient (server URL, or the device's DevId).
    pub target: Location,
    /// `Source`: the sender.
    pub source: Location,
    /// `RespURI`: where the next message goes.
    pub resp_uri: Option<String>,
    /// `NoResp`: no response wanted.
    pub no_resp: bool,
    /// `Cred`: credentials (only ever in the header in DM).
    pub cred: Option<Cred>,
    /// `Meta`: MaxMsgSize / MaxObjSize of the sender.
    pub meta: Option<Meta>,
}

/// `Target` or `Source`: a URI with an optional display name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Location {
    /// `LocURI`.
    pub loc_uri: String,
    /// `LocName`: for a client Source under MD5/HMAC, the user name.
    pub loc_name: Option<String>,
}

impl Location {
    /// A location with only a URI.
    pub fn new(uri: impl Into<String>) -> Self {
        Location { loc_uri: uri.into(), loc_name: None }
    }
}

/// `Cred`: authentication credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Cred {
    /// `Meta`: Type (scheme) and Format (b64).
    pub meta: Option<Meta>,
    /// `Data`: the credential string.
    pub data: String,
}

/// `Chal`: an authentication challenge (Type, Format, NextNonce).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Chal {
    /// `Meta`.
    pub meta: Meta,
}

/// `SyncBody`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SyncBody {
    /// The commands, in order.
    pub commands: Vec<Command>,
    /// `Final`: this is the last message of its package.
    #[cfg_attr(feature = "serde", serde(rename = "final"))]
    pub is_final: bool,
}

/// One command of a SyncBody (or of an Atomic/Sequence).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Command {
    /// `Add`.
    Add(ItemCommand),
    /// `Alert`.
    Alert(Alert),
    /// `Atomic`.
    Atomic(Container),
    /// `Copy`.
    Copy(ItemCommand),
    /// `Delete`.
    Delete(ItemCommand),
    /// `Exec`.
    Exec(Exec),
    /// `Get`.
    Get(ItemCommand),
    /// `Replace`.
    Replace(ItemCommand),
    /// `Results`.
    Results(Results),
    /// `Sequence`.
    Sequence(Container),
    /// `Status`.
    Status(Status),
    /// A SyncML command DM does not use (Map, Put, Search, Sync, ...), kept whole.
    Unsupported(UnsupportedCommand),
}

impl Command {
    /// The command's element name.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Add(_) => CommandName::Add,
            Command::Alert(_) => CommandName::Alert,
            Command::Atomic(_) => CommandName::Atomic,
            Command::Copy(_) => CommandName::Copy,
            Command::Delete(_) => CommandName::Delete,
            Command::Exec(_) => CommandName::Exec,
            Command::Get(_) => CommandName::Get,
            Command::Replace(_) => CommandName::Replace,
            Command::Results(_) => CommandName::Results,
            Command::Sequence(_) => CommandName::Sequence,
            Command::Status(_) => CommandName::Status,
            Command::Unsupported(u) => CommandName::Other(u.name.clone()),
        }
    }

    /// The command's `CmdID`.
    pub fn cmd_id(&self) -> &str {
        match self {
            Command::Add(c) | Command::Copy(c) | Command::Delete(c) | Command::Get(c) | Command::Replace(c) => {
                &c.cmd_id
            }
            Command::Alert(c) => &c.cmd_id,
            Command::Atomic(c) | Command::Sequence(c) => &c.cmd_id,
            Command::Exec(c) => &c.cmd_id,
            Command::Results(c) => &c.cmd_id,
            Command::Status(c) => &c.cmd_id,
            Command::Unsupported(c) => &c.cmd_id,
        }
    }
}

/// The name of a command, as carried in a Status's `Cmd` (`SyncHdr` for the header's Status).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommandName {
    /// The header (`SyncHdr`).
    SyncHdr,
    /// `Add`.
    Add,
    /// `Alert`.
    Alert,
    /// `Atomic`.
    Atomic,
    /// `Copy`.
    Copy,
    /// `Delete`.
    Delete,
    /// `Exec`.
    Exec,
    /// `Get`.
    Get,
    /// `Replace`.
    Replace,
    /// `Results`.
    Results,
    /// `Sequence`.
    Sequence,
    /// `Status`.
    Status,
    /// Any other name, kept as sent.
    Other(String),
}

impl CommandName {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            CommandName::SyncHdr => "SyncHdr",
            CommandName::Add => "Add",
            CommandName::Alert => "Alert",
            CommandName::Atomic => "Atomic",
            CommandName::Copy => "Copy",
            CommandName::Delete => "Delete",
            CommandName::Exec => "Exec",
            CommandName::Get => "Get",
            CommandName::Replace => "Replace",
            CommandName::Results => "Results",
            CommandName::Sequence => "Sequence",
            CommandName::Status => "Status",
            CommandName::Other(s) => s,
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> CommandName {
        match crate::decode::trim(s) {
            "SyncHdr" => CommandName::SyncHdr,
            "Add" => CommandName::Add,
            "Alert" => CommandName::Alert,
            "Atomic" => CommandName::Atomic,
            "Copy" => CommandName::Copy,
            "Delete" => CommandName::Delete,
            "Exec" => CommandName::Exec,
            "Get" => CommandName::Get,
            "Replace" => CommandName::Replace,
            "Results" => CommandName::Results,
            "Sequence" => CommandName::Sequence,
            "Status" => CommandName::Status,
            other => CommandName::Other(other.to_string()),
        }
    }
}

/// Add, Copy, Delete, Get or Replace: a command acting on a list of items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ItemCommand {
    /// `CmdID`.
    pub cmd_id: String,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Cred>,
    /// `Meta`: applies to every item that has none of its own.
    pub meta: Option<Meta>,
    /// `Item`+.
    pub items: Vec<Item>,
}

/// `Alert`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Alert {
    /// `CmdID`.
    pub cmd_id: String,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Cred>,
    /// `Data`: the alert code.
    pub code: Option<AlertCode>,
    /// `Correlator`: repeats an Exec's correlator in a 1226 generic alert.
    pub correlator: Option<String>,
    /// `Item`*.
    pub items: Vec<Item>,
}

/// `Exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Exec {
    /// `CmdID`.
    pub cmd_id: String,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Cred`.
    pub cred: Option<Cred>,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// `Correlator`: echoed by the client's later 1226 alert.
    pub correlator: Option<String>,
    /// `Item` (one in DM; more are accepted).
    pub items: Vec<Item>,
}

/// `Atomic` or `Sequence`: a container of commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Container {
    /// `CmdID`.
    pub cmd_id: String,
    /// `NoResp`.
    pub no_resp: bool,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// The contained commands, in order.
    pub commands: Vec<Command>,
}

/// `Results`: the answer to a Get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Results {
    /// `CmdID`.
    pub cmd_id: String,
    /// `MsgRef`.
    pub msg_ref: Option<String>,
    /// `CmdRef`: the Get's CmdID.
    pub cmd_ref: String,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// `TargetRef`.
    pub target_ref: Option<String>,
    /// `SourceRef`.
    pub source_ref: Option<String>,
    /// `Item`+: each with a Source LocURI.
    pub items: Vec<Item>,
}

/// `Status`: the answer to a command or to the header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Status {
    /// `CmdID`.
    pub cmd_id: String,
    /// `MsgRef`: the MsgID of the message holding the command.
    pub msg_ref: Option<String>,
    /// `CmdRef`: the command's CmdID (`0` for the header).
    pub cmd_ref: String,
    /// `Cmd`: the command's name.
    pub cmd: CommandName,
    /// `TargetRef`*.
    pub target_refs: Vec<String>,
    /// `SourceRef`*.
    pub source_refs: Vec<String>,
    /// `Cred`.
    pub cred: Option<Cred>,
    /// `Chal`: sent with 401/407 (and with 212/200 to give the next nonce).
    pub chal: Option<Chal>,
    /// `Data`: the status code.
    pub code: StatusCode,
    /// `Item`*: e.g. the text answered to a 1102 alert.
    pub items: Vec<Item>,
}

impl Status {
    /// A Status without TargetRef, SourceRef, Cred, Chal or Item: the usual answer to one
    /// command (`cmd_ref`, named `cmd`) of message `msg_ref` (SyncML Representation Protocol, the Status element).
    /// The other fields are public, for the answers that carry more.
    pub fn new(
        cmd_id: impl Into<String>,
        msg_ref: Option<String>,
        cmd_ref: impl Into<String>,
        cmd: CommandName,
        code: StatusCode,
    ) -> Status {
        Status {
            cmd_id: cmd_id.into(),
            msg_ref,
            cmd_ref: cmd_ref.into(),
            cmd,
            target_refs: Vec::new(),
            source_refs: Vec::new(),
            cred: None,
            chal: None,
            code,
            items: Vec::new(),
        }
    }
}

/// A SyncML command that DM does not use (Sync, Map, Put, Search, ...), kept whole as a generic
/// element so that nothing is lost: the receiver answers it with a Status by its CmdID, and
/// re-encoding writes it back as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnsupportedCommand {
    /// Element name, e.g. `Sync`.
    pub name: String,
    /// Its `CmdID` (empty if it had none).
    pub cmd_id: String,
    /// The whole command element.
    pub element: Element,
}

/// `Item`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Item {
    /// `Target`.
    pub target: Option<Location>,
    /// `Source`.
    pub source: Option<Location>,
    /// `SourceParent` LocURI.
    pub source_parent: Option<String>,
    /// `TargetParent` LocURI.
    pub target_parent: Option<String>,
    /// `Meta`.
    pub meta: Option<Meta>,
    /// `Data`.
    pub data: Option<Data>,
    /// `MoreData`: this is a chunk of a large object and more follow.
    pub more_data: bool,
}

impl Item {
    /// The item's own Meta if present, else the one given (typically the command's).
    pub fn meta_or<'a>(&'a self, command_meta: Option<&'a Meta>) -> Option<&'a Meta> {
        self.meta.as_ref().or(command_meta)
    }
}

/// `Data`: the value carried by an Item (or a Status/Alert code, which the model types apart).
///
/// Which of the three forms it came in is kept: text (XML character data or WBXML inline/table
/// strings), binary (WBXML opaque that is not a document), or an embedded document (TNDS, DDF,
/// DevInf): XML child elements, or a nested WBXML document inside opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Data {
    /// Character data.
    Text(String),
    /// Binary bytes (WBXML opaque). XML has no binary form; see the XML encoder for what it writes.
    Binary(#[cfg_attr(feature = "serde", serde(serialize_with = "serialize_b64"))] Vec<u8>),
    /// An embedded XML document.
    Document(Element),
}

#[cfg(feature = "serde")]
fn serialize_b64<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

impl Data {
    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Data::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The raw bytes of text or binary data (not of a document).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Data::Text(s) => Some(s.as_bytes()),
            Data::Binary(b) => Some(b),
            Data::Document(_) => None,
        }
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Self {
        Data::Text(s.to_string())
    }
}

impl From<String> for Data {
    fn from(s: String) -> Self {
        Data::Text(s)
    }
}
