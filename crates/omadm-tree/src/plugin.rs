//! Plugins: live code behind a subtree (TND 1.2 §6 lets a node's value come from the device).
//!
//! A vendor mounts a [`Plugin`] at a URI; every command on that node or below is routed to it
//! (a battery level read on Get, a firmware package written on Replace), while ACLs are still
//! checked by the engine (a plugin node with an empty ACL inherits from its stored ancestors).
//! Writes happen when the command runs; a plugin that must honour Atomic stages them and takes
//! part in the transaction's two-phase commit (DM Protocol 1.2 §6.6.6: an Atomic is all or
//! nothing, stored nodes and plugin nodes alike):
//!
//! 1. [`Plugin::prepare`] on every plugin the transaction touched: check and reserve whatever the
//!    staged writes need. Any error aborts the transaction: nothing is stored and every touched
//!    plugin gets [`Plugin::rollback`].
//! 2. The store commits the stored changes in one durable transaction; if that fails, every
//!    touched plugin gets [`Plugin::rollback`].
//! 3. [`Plugin::commit`] on every touched plugin: apply what was prepared. A plugin must not fail
//!    here for a reason it could have found in `prepare`; if it still does, the stored changes
//!    stay (they are durable already), the other plugins still commit, and the error is returned.
//!
//! An [`ExecHandler`] gives a stored node an Exec action without owning a subtree.

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

    /// Phase one of commit: verifies that the staged writes can be applied and reserves what
    /// they need. An error aborts the whole transaction, stored changes included.
    fn prepare(&mut self) -> TreeResult<()> {
        Ok(())
    }

    /// Phase two: applies the prepared writes, after the stored changes are durable.
    fn commit(&mut self) -> TreeResult<()> {
        Ok(())
    }

    /// Aborts: forgets the staged (and any prepared) writes of the ending transaction.
    fn rollback(&mut self) {}
}

/// An Exec action bound to one stored node (e.g. `./FwUpdate/Update`).
pub trait ExecHandler: Send {
    /// Runs the action; answers 200, or 202 when it goes on after the reply.
    fn exec(&mut self, uri: &Uri, data: &[u8], correlator: Option<&str>) -> TreeResult<StatusCode>;
}
