//! # omadm-proto
//!
//! The wire layer of OMA Device Management 1.2 and 1.3: the typed SyncML DM message model
//! ([`SyncMl`] and its commands), status and alert codes, and two codecs for it, XML and WBXML.
//!
//! Everything here is sans-IO: bytes in, messages out, and back. No sockets, clocks or files.
#![warn(missing_docs)]

pub mod codes;
pub mod element;
pub mod error;
pub mod limits;
pub mod message;
pub mod meta;

pub use codes::{AlertCode, StatusCode};
pub use element::{Element, Node};
pub use error::{Error, ErrorKind, Result};
pub use limits::Limits;
pub use message::*;
pub use meta::{Anchor, Format, Mem, Meta};
