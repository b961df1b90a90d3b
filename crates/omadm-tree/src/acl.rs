//! Access control lists (DM TND 1.2 §7.7.1): grammar, `*`, inheritance, and who may do what.
//!
//! `acl := entry ("&" entry)*`, `entry := command "=" id ("+" id)*` with command one of Add,
//! Delete, Exec, Get, Replace. An id is a [`ServerId`] or `*` (any server). An empty ACL means
//! "inherit from the nearest ancestor that has one"; the root always has one.

use std::fmt;

/// A DM server identifier as used in ACLs, DMAcc/ServerID and Package #0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(String);

/// Why an ACL or a server id was rejected (answered with 400 when it comes from a command).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// The server id is empty or holds `=`, `&`, `*`, `+`, whitespace or control characters.
    #[error("invalid server id {0:?}")]
    BadServerId(String),
    /// An entry is not `command=ids`.
    #[error("malformed ACL entry {0:?}")]
    BadEntry(String),
    /// The command is not one of Add, Delete, Exec, Get, Replace.
    #[error("unknown ACL command {0:?}")]
    BadCommand(String),
}

impl ServerId {
    /// Validates a server id: printable, non-empty, none of `=&*+` and no whitespace.
    pub fn new(id: impl Into<String>) -> Result<ServerId, AclError> {
        let id = id.into();
        let ok = !id.is_empty() && id.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"=&*+".contains(c));
        if ok {
            Ok(ServerId(id))
        } else {
            Err(AclError::BadServerId(id))
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The commands an ACL can grant (there is no Copy right: Copy is checked as Get + Add/Replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AclCommand {
    /// Add a child under the node.
    Add,
    /// Delete the node.
    Delete,
    /// Exec the node.
    Exec,
    /// Get the node (value, children, properties).
    Get,
    /// Replace the node's value or properties.
    Replace,
}

impl AclCommand {
    /// All five, in canonical order.
    pub const ALL: [AclCommand; 5] =
        [AclCommand::Add, AclCommand::Delete, AclCommand::Exec, AclCommand::Get, AclCommand::Replace];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AclCommand::Add => "Add",
            AclCommand::Delete => "Delete",
            AclCommand::Exec => "Exec",
            AclCommand::Get => "Get",
            AclCommand::Replace => "Replace",
        }
    }

    /// Parses a wire name (exact spelling).
    pub fn parse(s: &str) -> Option<AclCommand> {
        AclCommand::ALL.into_iter().find(|c| c.as_str() == s)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One id of an ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AclId {
    /// `*`: every server.
    Any,
    /// One named server.
    Server(ServerId),
}

/// The set of commands one server may use on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AclRights(u8);

impl AclRights {
    /// No right.
    pub const NONE: AclRights = AclRights(0);

    /// Every right.
    pub const ALL: AclRights = AclRights(0b1_1111);

    /// This set plus one command.
    pub fn with(self, c: AclCommand) -> AclRights {
        AclRights(self.0 | 1 << c.index())
    }

    /// True when the command is granted.
    pub fn allows(self, c: AclCommand) -> bool {
        self.0 & (1 << c.index()) != 0
    }
}

/// An ACL: for each command, the ids allowed to use it. The default (no entry) is the empty ACL,
/// which inherits. Most nodes inherit, so the entries live behind one box that the empty ACL
/// never allocates (and every stored record stays small).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Acl {
    /// `None` exactly when no command has an id.
    entries: Option<Box<[Vec<AclId>; 5]>>,
}

impl Acl {
    /// The empty ACL (inherits from the nearest ancestor with an ACL).
    pub fn empty() -> Acl {
        Acl::default()
    }

    /// The default root ACL, `Add=*&Get=*` (TND 1.2 §7.7.1.3).
    pub fn default_root() -> Acl {
        Acl::empty().grant(AclCommand::Add, AclId::Any).grant(AclCommand::Get, AclId::Any)
    }

    /// The ACL a node receives when a server adds it without holding Replace on the parent:
    /// Add, Delete, Get and Replace for that server only (TND 1.2 §7.7.1.4; see
    /// `docs/dm13-decisions.md` for why Get is the creator's only).
    pub fn for_creator(server: &ServerId) -> Acl {
        [AclCommand::Add, AclCommand::Delete, AclCommand::Get, AclCommand::Replace]
            .into_iter()
            .fold(Acl::empty(), |acl, c| acl.grant(c, AclId::Server(server.clone())))
    }

    /// Builder: adds one id to one command's entry (no duplicates).
    pub fn grant(mut self, cmd: AclCommand, id: AclId) -> Acl {
        let e = &mut self.entries.get_or_insert_with(Box::default)[cmd.index()];
        if !e.contains(&id) {
            e.push(id);
        }
        self
    }

    /// True when no command has an entry (the node inherits).
    pub fn is_empty(&self) -> bool {
        self.entries.is_none()
    }

    /// The ids of one command's entry.
    pub fn ids(&self, cmd: AclCommand) -> &[AclId] {
        self.entries.as_ref().map_or(&[], |e| &e[cmd.index()])
    }

    /// True when this ACL grants `cmd` to `server` (`*` grants to everyone).
    pub fn allows(&self, cmd: AclCommand, server: &ServerId) -> bool {
        self.ids(cmd).iter().any(|id| match id {
            AclId::Any => true,
            AclId::Server(s) => s == server,
        })
    }

    /// Every command this ACL grants to `server`.
    pub fn rights_for(&self, server: &ServerId) -> AclRights {
        AclCommand::ALL.into_iter().filter(|c| self.allows(*c, server)).fold(AclRights::NONE, AclRights::with)
    }

    /// True when the ACL names this server anywhere.
    pub fn mentions(&self, server: &ServerId) -> bool {
        self.entries.iter().flat_map(|e| e.iter().flatten()).any(|id| matches!(id, AclId::Server(s) if s == server))
    }

    /// Removes a server from every entry (TND 1.2 §7.7.1.5). On the root (`is_root`), an entry
    /// left empty becomes `*` so that the root keeps an ACL; elsewhere it disappears.
    pub fn remove_server(&mut self, server: &ServerId, is_root: bool) -> bool {
        let mut changed = false;
        let Some(entries) = &mut self.entries else { return false };
        for e in entries.iter_mut() {
            let before = e.len();
            e.retain(|id| !matches!(id, AclId::Server(s) if s == server));
            if e.len() != before {
                changed = true;
                if e.is_empty() && is_root {
                    e.push(AclId::Any);
                }
            }
        }
        if entries.iter().all(Vec::is_empty) {
            self.entries = None;
        }
        changed
    }

    /// Parses the ACL grammar; the empty string is the empty ACL. Repeated commands merge.
    pub fn parse(text: &str) -> Result<Acl, AclError> {
        let mut acl = Acl::empty();
        if text.is_empty() {
            return Ok(acl);
        }
        for entry in text.split('&') {
            let (cmd, ids) = entry.split_once('=').ok_or_else(|| AclError::BadEntry(entry.to_string()))?;
            let cmd = AclCommand::parse(cmd).ok_or_else(|| AclError::BadCommand(cmd.to_string()))?;
            if ids.is_empty() {
                return Err(AclError::BadEntry(entry.to_string()));
            }
            for id in ids.split('+') {
                let id = if id == "*" { AclId::Any } else { AclId::Server(ServerId::new(id)?) };
                acl = acl.grant(cmd, id);
            }
        }
        Ok(acl)
    }
}

impl fmt::Display for Acl {
    /// Writes the canonical form: commands in order Add, Delete, Exec, Get, Replace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for cmd in AclCommand::ALL {
            let ids = self.ids(cmd);
            if ids.is_empty() {
                continue;
            }
            if !first {
                f.write_str("&")?;
            }
            first = false;
            write!(f, "{}=", cmd.as_str())?;
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    f.write_str("+")?;
                }
                match id {
                    AclId::Any => f.write_str("*")?,
                    AclId::Server(s) => f.write_str(s.as_str())?,
                }
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Acl {
    type Err = AclError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Acl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> ServerId {
        ServerId::new(s).unwrap()
    }

    #[test]
    fn grammar_round_trips() {
        let acl = Acl::parse("Get=*&Replace=srv1+srv2&Add=srv1").unwrap();
        assert_eq!(acl.to_string(), "Add=srv1&Get=*&Replace=srv1+srv2");
        assert_eq!(Acl::parse("").unwrap(), Acl::empty());
        assert_eq!(Acl::default_root().to_string(), "Add=*&Get=*");
        assert_eq!(Acl::parse("Get=a&Get=b").unwrap().to_string(), "Get=a+b");
    }

    #[test]
    fn bad_acls() {
        for s in ["Get", "Get=", "Copy=a", "Get=a b", "Get=a&", "Get=a=b", "&Get=a", "Get=+a"] {
            assert!(Acl::parse(s).is_err(), "{s}");
        }
        assert!(ServerId::new("").is_err());
        assert!(ServerId::new("a*b").is_err());
    }

    #[test]
    fn star_grants_everyone() {
        let acl = Acl::parse("Get=*&Replace=a").unwrap();
        assert!(acl.allows(AclCommand::Get, &sid("zzz")));
        assert!(acl.allows(AclCommand::Replace, &sid("a")));
        assert!(!acl.allows(AclCommand::Replace, &sid("b")));
        assert!(!acl.allows(AclCommand::Exec, &sid("a")));
        let r = acl.rights_for(&sid("a"));
        assert!(r.allows(AclCommand::Get) && r.allows(AclCommand::Replace) && !r.allows(AclCommand::Add));
    }

    #[test]
    fn removing_a_server() {
        let mut acl = Acl::parse("Get=a+b&Replace=a").unwrap();
        assert!(acl.remove_server(&sid("a"), false));
        assert_eq!(acl.to_string(), "Get=b");
        let mut root = Acl::parse("Add=a&Get=*").unwrap();
        root.remove_server(&sid("a"), true);
        assert_eq!(root.to_string(), "Add=*&Get=*");
        let mut only = Acl::parse("Get=a").unwrap();
        only.remove_server(&sid("a"), false);
        assert!(only.is_empty());
    }

    #[test]
    fn creator_acl() {
        assert_eq!(Acl::for_creator(&sid("s")).to_string(), "Add=s&Delete=s&Get=s&Replace=s");
    }
}
