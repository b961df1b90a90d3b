//! The WBXML encoding of SyncML DM messages (`application/vnd.syncml.dm+wbxml`; WAP-192 WBXML,
//! SyncML RepPro 1.2 §8, code pages: 0 SyncML, 1 MetInf, 2 DM DDF).
//!
//! Decoding accepts WBXML 1.0–1.3 headers, numeric public IDs (0x1201 SyncML 1.2, 0x0FD3 1.1,
//! 0x0FD1 1.0) and the string-table FPI form (real messages carry the 1.1 FPI with VerDTD 1.2: the
//! model takes its version from VerDTD/VerProto, never from the public ID), and infers an unknown
//! public ID from the root element. Embedded TNDS/DDF/DevInf documents travel as nested WBXML
//! documents in OPAQUE Data, with the Type's `+xml` written as `+wbxml`, as libwbxml does.

mod reader;
mod writer;

pub(crate) use writer::item_holds_document;
pub use writer::{WbxmlOptions, WbxmlVersion};

use crate::decode::Builder;
use crate::element::Element;
use crate::error::Result;
use crate::limits::Limits;
use crate::message::SyncMl;

/// WBXML global tokens (WAP-192 §7.1).
pub(crate) mod global {
    pub(crate) const SWITCH_PAGE: u8 = 0x00;
    pub(crate) const END: u8 = 0x01;
    pub(crate) const ENTITY: u8 = 0x02;
    pub(crate) const STR_I: u8 = 0x03;
    pub(crate) const LITERAL: u8 = 0x04;
    pub(crate) const EXT_I_0: u8 = 0x40;
    pub(crate) const EXT_I_2: u8 = 0x42;
    pub(crate) const PI: u8 = 0x43;
    pub(crate) const EXT_T_0: u8 = 0x80;
    pub(crate) const EXT_T_2: u8 = 0x82;
    pub(crate) const STR_T: u8 = 0x83;
    pub(crate) const EXT_0: u8 = 0xC0;
    pub(crate) const EXT_2: u8 = 0xC2;
    pub(crate) const OPAQUE: u8 = 0xC3;
}

/// The document type named by a WBXML public identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicId {
    /// SyncML 1.2 (0x1201, `-//SYNCML//DTD SyncML 1.2//EN`).
    SyncMl12,
    /// SyncML 1.1 (0x0FD3).
    SyncMl11,
    /// SyncML 1.0 (0x0FD1).
    SyncMl10,
    /// MetInf 1.2 (0x1202).
    MetInf12,
    /// DevInf 1.0–1.2 (0x0FD2, 0x0FD4, 0x1203).
    DevInf,
    /// DM DDF / TNDS 1.2 (`-//OMA//DTD-DM-DDF 1.2//EN`, no numeric id).
    Ddf12,
    /// Unknown or absent (numeric 0x01, or another id): inferred from the root element.
    Unknown,
}

/// The formal public identifier of DM DDF/TNDS 1.2.
pub const DDF_FPI: &str = "-//OMA//DTD-DM-DDF 1.2//EN";

impl PublicId {
    /// Maps a numeric public id.
    pub fn from_number(n: u32) -> PublicId {
        match n {
            0x1201 => PublicId::SyncMl12,
            0x0FD3 => PublicId::SyncMl11,
            0x0FD1 => PublicId::SyncMl10,
            0x1202 => PublicId::MetInf12,
            0x0FD2 | 0x0FD4 | 0x1203 => PublicId::DevInf,
            _ => PublicId::Unknown,
        }
    }

    /// Maps a formal public identifier string (compared without regard to case or outer spaces).
    pub fn from_fpi(fpi: &str) -> PublicId {
        PublicId::from_fpi_bytes(fpi.as_bytes())
    }

    /// [`PublicId::from_fpi`] over the bytes of a string table entry, without copying them.
    pub(crate) fn from_fpi_bytes(fpi: &[u8]) -> PublicId {
        const KNOWN: [(&[u8], PublicId); 5] = [
            (b"-//SYNCML//DTD SYNCML 1.2//EN", PublicId::SyncMl12),
            (b"-//SYNCML//DTD SYNCML 1.1//EN", PublicId::SyncMl11),
            (b"-//SYNCML//DTD SYNCML 1.0//EN", PublicId::SyncMl10),
            (b"-//SYNCML//DTD METINF 1.2//EN", PublicId::MetInf12),
            (b"-//OMA//DTD-DM-DDF 1.2//EN", PublicId::Ddf12),
        ];
        // The usual spellings first, compared as they are (real messages carry the 1.1 and 1.2
        // SyncML FPIs), then every known one without regard to case.
        const USUAL: [(&[u8], PublicId); 2] = [
            (b"-//SYNCML//DTD SyncML 1.2//EN", PublicId::SyncMl12),
            (b"-//SYNCML//DTD SyncML 1.1//EN", PublicId::SyncMl11),
        ];
        if let Some((_, id)) = USUAL.iter().find(|(usual, _)| fpi == *usual) {
            return id.clone();
        }
        let f = fpi.trim_ascii();
        if let Some((_, id)) = KNOWN.iter().find(|(known, _)| f.eq_ignore_ascii_case(known)) {
            return id.clone();
        }
        match f.get(..21) {
            Some(prefix) if prefix.eq_ignore_ascii_case(b"-//SYNCML//DTD DEVINF") => PublicId::DevInf,
            _ => PublicId::Unknown,
        }
    }
}

/// Decodes a WBXML SyncML DM message.
pub fn decode(input: &[u8], limits: &Limits) -> Result<SyncMl> {
    Builder::new(reader::WbxmlSource::new(input, limits)?, limits).message()
}

/// Encodes a message as WBXML.
pub fn encode(message: &SyncMl, options: &WbxmlOptions) -> Result<Vec<u8>> {
    writer::encode(message, options)
}

/// The exact number of bytes [`encode`] would produce (for fitting a message to the peer's
/// MaxMsgSize). It writes the body once, as [`encode`] does, but not the final copy with the
/// string table, so it costs about what encoding does; encode instead when the bytes are wanted.
pub fn encoded_len(message: &SyncMl, options: &WbxmlOptions) -> Result<usize> {
    writer::encoded_len(message, options)
}

/// Decodes a standalone WBXML document (DDF, TNDS) into a generic element.
pub fn decode_document(input: &[u8], limits: &Limits) -> Result<Element> {
    Builder::new(reader::WbxmlSource::new(input, limits)?, limits).document()
}

/// Encodes a generic element as a standalone WBXML document (DDF/TNDS use code page 2 and the
/// DDF FPI in the string table, as libwbxml writes them).
pub fn encode_document(element: &Element, options: &WbxmlOptions) -> Result<Vec<u8>> {
    writer::encode_document(element, options)
}

/// Reads only the header of a WBXML document: its version byte and public id.
pub fn peek_header(input: &[u8]) -> Result<(u8, PublicId)> {
    let mut pos = 0;
    let header = reader::read_header(input, &mut pos)?;
    Ok((header.version, header.public_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formal_public_ids() {
        assert_eq!(PublicId::from_fpi("-//SYNCML//DTD SyncML 1.2//EN"), PublicId::SyncMl12);
        assert_eq!(PublicId::from_fpi(" -//syncml//dtd syncml 1.1//en "), PublicId::SyncMl11);
        assert_eq!(PublicId::from_fpi("-//OMA//DTD-DM-DDF 1.2//EN"), PublicId::Ddf12);
        assert_eq!(PublicId::from_fpi("-//SYNCML//DTD DevInf 1.2//EN"), PublicId::DevInf);
        assert_eq!(PublicId::from_fpi("-//SYNCML//DTD SyncML 1.3//EN"), PublicId::Unknown);
        assert_eq!(PublicId::from_fpi_bytes(b"-//SYNCML//DTD\xFF"), PublicId::Unknown);
    }
}
