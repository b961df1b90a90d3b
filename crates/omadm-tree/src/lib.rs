//! # omadm-tree
//!
//! The OMA DM management tree (DM TND 1.2/1.3): the engine every client command runs against,
//! and the description formats DDF and TNDS that servers need too.
//!
//! - [`Uri`] / [`TargetUri`]: validated node paths and their `?prop=` / `?list=` queries.
//! - [`Acl`], [`ServerId`]: access control with inheritance.
//! - [`Tree`] / [`Txn`]: Add, Get, Replace, Delete, Copy, Exec and TNDS Add/Replace for a
//!   [`Caller`], inside all-or-nothing transactions (Atomic), answering SyncML status codes.
//! - [`Store`]: the storage seam, with [`MemStore`] and the crash-safe [`RedbStore`].
//! - [`Ddf`]: DDF documents, checks and lookups; [`tnds`]: TNDS serialization.
//! - [`objects`]: the DDFs of the standard objects we ship (DMAcc, DevInfo, DevDetail, Inbox).
//! - [`Plugin`] / [`ExecHandler`]: live code behind nodes.
//!
//! The core is sans-IO: it never touches files or sockets except through a [`Store`].
#![warn(missing_docs)]

pub mod acl;
pub mod ddf;
pub mod dm13;
pub mod error;
pub mod objects;
mod overlay;
pub mod plugin;
pub mod record;
pub mod redb_store;
pub mod store;
pub mod tnds;
pub mod tree;
pub mod uri;
pub mod value;

pub use acl::{Acl, AclCommand, AclId, AclRights, ServerId};
pub use ddf::{AccessType, CaseSense, Ddf, DdfCommand, DdfIssue, DdfNode, DfType, Occurrence, Severity};
pub use dm13::{Dm13Policy, DmVersion, InheritedAclReply};
pub use error::{StoreError, TreeError, TreeResult};
pub use plugin::{ExecHandler, Plugin};
pub use record::{NodeRecord, Scope};
pub use redb_store::RedbStore;
pub use store::{Batch, BatchOp, MemStore, Store};
pub use tnds::{TndsEncoding, TndsStream};
pub use tree::{
    Caller, GetResult, ListedNode, NodeValue, StructIter, TndsList, Tree, TreeConfig, Txn, INBOX_UNKNOWN_MO,
};
pub use uri::{FieldSet, ListKind, Property, Query, TargetUri, Uri, UriError, UriLimits};
pub use value::Content;
