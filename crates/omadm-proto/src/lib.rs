//! # omadm-proto
//!
//! The wire layer of OMA Device Management 1.2 and 1.3: the typed SyncML DM message model
//! ([`SyncMl`] and its commands), status and alert codes, and two codecs for it, XML and WBXML.
//!
//! Everything here is sans-IO: bytes in, messages out, and back. No sockets, clocks or files.
#![warn(missing_docs)]

mod bytes;
pub mod codes;
mod decode;
pub mod element;
mod encode;
pub mod error;
mod event;
pub mod limits;
pub mod message;
pub mod meta;
mod tags;
pub mod wbxml;
pub mod xml;

pub use codes::{AlertCode, StatusCode};
pub use element::{Element, Node};
pub use error::{Error, ErrorKind, Result};
pub use limits::Limits;
pub use message::*;
pub use meta::{Anchor, Format, Mem, Meta};

/// The two encodings of a SyncML DM message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/vnd.syncml.dm+xml`.
    Xml,
    /// `application/vnd.syncml.dm+wbxml`.
    Wbxml,
}

impl Encoding {
    /// The DM media type of this encoding.
    pub fn media_type(self) -> &'static str {
        match self {
            Encoding::Xml => "application/vnd.syncml.dm+xml",
            Encoding::Wbxml => "application/vnd.syncml.dm+wbxml",
        }
    }

    /// Recognizes an encoding from the first bytes of a message: XML starts (after an optional
    /// byte-order mark and whitespace) with `<`; WBXML with a version byte 0x00–0x03.
    pub fn sniff(bytes: &[u8]) -> Option<Encoding> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first == b'<' {
            Some(Encoding::Xml)
        } else if bytes[0] <= 0x03 {
            Some(Encoding::Wbxml)
        } else {
            None
        }
    }
}

/// Decodes a message in either encoding, recognized by [`Encoding::sniff`].
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<(SyncMl, Encoding)> {
    match Encoding::sniff(bytes) {
        Some(Encoding::Xml) => Ok((xml::decode(bytes, limits)?, Encoding::Xml)),
        Some(Encoding::Wbxml) => Ok((wbxml::decode(bytes, limits)?, Encoding::Wbxml)),
        None => Err(Error::new(ErrorKind::UnknownFormat("neither XML nor WBXML".into())).at(0)),
    }
}
