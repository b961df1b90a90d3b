//! # omadm-client
//!
//! The device side of OMA DM 1.2/1.3 (issue 5): a vendor links this crate into firmware, and
//! `omadm client` runs it as a device or a simulator.
//!
//! - [`Session`]: the sans-IO session engine (DM Protocol 1.2 §6–§8, the flow of digest §10). It
//!   builds Package 1, takes each server message and answers it: every command runs against an
//!   [`omadm_tree::Tree`] with the ACLs of the session's server, Atomic and Sequence, UI alerts
//!   through a [`UserInteraction`], large objects both ways, message sizing, Alert 1222/1223, and
//!   both directions of authentication (omadm-security's `Prover` and `Verifier`). No sockets,
//!   clocks or files: the caller moves the bytes.
//! - [`Account`]: a DMAcc account read from and written back to the tree (nonces included).
//! - [`ui`]: the [`UserInteraction`] trait with a scripted and a terminal implementation.
//! - [`notification`]: Package #0 handling (verify, refuse replays, start the asked session).
//! - [`bootstrap`]: plain-profile (TNDS) and WAP-profile (w7) bootstrap into DMAcc.
//! - [`snapshot_store`]: a small durable tree store for devices (a snapshot file per commit).
//! - `http` (feature `http`, on by default): the HTTP(S) binding on hyper + rustls, and
//!   [`http::run_session`], which drives one session over a shared [`http::HttpTransport`].
#![warn(missing_docs)]

pub mod account;
pub mod bootstrap;
pub mod engine;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod notification;
pub mod snapshot_store;
pub mod ui;

pub use account::{Account, AuthConfig};
pub use engine::{Action, GenericAlert, Incoming, Outcome, Outgoing, Session, SessionConfig, Trigger};
pub use error::ClientError;
pub use notification::{AcceptedNotification, NotificationHandler};
pub use ui::{ScriptedUi, TerminalUi, UiKind, UiOptions, UiRequest, UiResponse, UserInteraction};
