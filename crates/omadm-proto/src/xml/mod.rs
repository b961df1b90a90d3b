//! The XML encoding of SyncML DM messages (`application/vnd.syncml.dm+xml`).
//!
//! Decoding is lenient where real peers differ: the `SYNCML:SYNCML1.x` namespace in any case or
//! absent, MetInf elements with or without `xmlns="syncml:metinf"`, CDATA, children in any order,
//! insignificant whitespace, a DOCTYPE (never expanded), and a bare `&` that starts no reference
//! (taken literally; see [`reader`]). Encoding is exact: DTD order, `xmlns="syncml:metinf"` on each
//! Meta child, escaped text, and CDATA only when asked for.

mod reader;
mod writer;

pub use writer::XmlOptions;

use crate::decode::Builder;
use crate::element::Element;
use crate::error::Result;
use crate::limits::Limits;
use crate::message::SyncMl;

/// Decodes an XML SyncML DM message.
pub fn decode(input: &[u8], limits: &Limits) -> Result<SyncMl> {
    Builder::new(reader::XmlSource::new(input, limits)?, limits).message()
}

/// Encodes a message as XML.
pub fn encode(message: &SyncMl, options: &XmlOptions) -> Vec<u8> {
    writer::encode(message, options)
}

/// Parses a standalone XML document (DDF, TNDS, DevInf) into a generic [`Element`].
pub fn parse_element(input: &[u8], limits: &Limits) -> Result<Element> {
    Builder::new(reader::XmlSource::new(input, limits)?, limits).document()
}

/// Writes a generic [`Element`] as a standalone XML document.
pub fn write_element(element: &Element, options: &XmlOptions) -> Vec<u8> {
    writer::encode_element(element, options)
}

/// The text XML carries for binary Data that is printable UTF-8 (no control characters other than
/// tab, CR and LF, and only XML characters: not U+FFFE or U+FFFF), or `None` when it must be
/// written as base64.
pub fn printable_text(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.chars()
        .all(|c| (!c.is_control() || matches!(c, '\t' | '\r' | '\n')) && crate::element::is_xml_char(c))
        .then_some(text)
}
