//! Plugins: live code behind a subtree (TND 1.2 §6 lets a node's value come from the device).
//!
//! A vendor mounts a [`Plugin`] at a URI; every command on that node or below is routed to it
//! (a battery level read on Get, a firmware package written on Replace), while ACLs are still
//! checked by the engine (a plugin node with an empty ACL inherits from its stored ancestors).
//! Writes happen when the command runs; a plugin that must honour Atomic stages them and applies
//! them in [`Plugin::commit`], dropping them in [`Plugin::rollback`]. An [`ExecHandler`] gives a
//! stored node an Exec action without owning a subtree.

use omadm_proto::StatusCode;

use crate::error::{refuse, TreeResult};
use crate::record::NodeRecord;
use crate::uri::Uri;
use crate::value::Content;

/// Live code backing a subtree. `rel` is the path below the mount point (empty = the mount).
pub trait Plugin: Send {
    /// The node at `rel` with its current value, or `None` when it does not exist.
    fn node(&self, rel: &[String]) -> TreeResult<Option<NodeRecord>>;

    /// The child names of the interior node at `rel`.
    fn children(&self, rel: &[String]) -> TreeResult<Vec<String>>;

    /// Adds a node at `rel` (refused with 405 unless implemented).
    fn add(&mut self, rel: &[String], content: &Content) -> TreeResult<()> {
        let _ = (rel, content);
        refuse(StatusCode::CommandNotAllowed, "this plugin does not support Add")
    }

    /// Replaces the value at `rel` (refused with 405 unless implemented).
    fn replace(&mut self, rel: &[String], content: &Content) -> TreeResult<()> {
        let _ = (rel, content);
        refuse(StatusCode::CommandNotAllowed, "this plugin does not support Replace")
    }

    /// Deletes the node at `rel` (refused with 405 unless implemented).
    fn delete(&mut self, rel: &[String]) -> TreeResult<()> {
        let _ = rel;
        refuse(StatusCode::CommandNotAllowed, "this plugin does not support Delete")
    }

    /// Executes the node at `rel`; answers 200, or 202 for work that goes on after the reply.
    fn exec(&mut self, rel: &[String], data: &[u8], correlator: Option<&str>) -> TreeResult<StatusCode> {
        let _ = (rel, data, correlator);
        refuse(StatusCode::CommandNotAllowed, "this plugin does not support Exec")
    }

    /// Makes the writes of the ending transaction final.
    fn commit(&mut self) -> TreeResult<()> {
        Ok(())
    }

    /// Forgets the writes of the ending transaction.
    fn rollback(&mut self) {}
}

/// An Exec action bound to one stored node (e.g. `./FwUpdate/Update`).
pub trait ExecHandler: Send {
    /// Runs the action; answers 200, or 202 when it goes on after the reply.
    fn exec(&mut self, uri: &Uri, data: &[u8], correlator: Option<&str>) -> TreeResult<StatusCode>;
}
