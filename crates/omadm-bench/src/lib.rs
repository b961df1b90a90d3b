//! # omadm-bench
//!
//! Times omadm-proto's codecs against libwbxml, the reference C WBXML codec (Debian's
//! `libwbxml2`), in the same run: `cargo bench -p omadm-bench`. This crate holds the safe wrappers
//! over a small C shim around libwbxml's converters; the comparison itself is the `vs_libwbxml`
//! bench. It lives apart from omadm-proto so that the codec crate has no build script and no C
//! dependency. See docs/performance.md.
#![warn(missing_docs)]
//!
//! With `--features mimalloc` this crate also sets the global allocator of every binary that
//! links it (the bench, the conversion loop) to the `omadm` binary's own
//! (`crates/omadm/src/allocator.rs`), so that our side is measured on what users run; libwbxml
//! allocates with the C library's malloc either way.

/// The `omadm` binary's allocator, with `--features mimalloc`.
#[cfg(feature = "mimalloc")]
#[path = "../../omadm/src/allocator.rs"]
mod allocator;
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

use std::ffi::{c_char, c_int, CStr};
use std::fmt;

extern "C" {
    fn omadm_libwbxml_wbxml2xml(wbxml: *const u8, wbxml_len: usize, xml: *mut *mut u8, xml_len: *mut usize) -> c_int;
    fn omadm_libwbxml_xml2wbxml(
        xml: *const u8,
        xml_len: usize,
        string_table: c_int,
        wbxml: *mut *mut u8,
        wbxml_len: *mut usize,
    ) -> c_int;
    fn omadm_libwbxml_free(buffer: *mut u8);
    fn omadm_libwbxml_error(code: c_int) -> *const c_char;
}

/// The libwbxml version linked, as pkg-config reported it at build time.
pub const LIBWBXML_VERSION: &str = env!("OMADM_LIBWBXML_VERSION");

/// A conversion libwbxml refused, with its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibwbxmlError {
    /// libwbxml's `WBXMLError` code.
    pub code: i32,
    /// libwbxml's text for the code.
    pub message: String,
}

impl fmt::Display for LibwbxmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "libwbxml error {}: {}", self.code, self.message)
    }
}

impl std::error::Error for LibwbxmlError {}

/// Takes a conversion's result: copies the output into a `Vec` and frees libwbxml's buffer.
fn finish(code: c_int, out: *mut u8, len: usize) -> Result<Vec<u8>, LibwbxmlError> {
    let bytes = if out.is_null() {
        Vec::new()
    } else {
        // SAFETY: on return libwbxml's converters leave `out` pointing at `len` bytes they
        // allocated (or null), which we own and free here exactly once.
        unsafe {
            let bytes = std::slice::from_raw_parts(out, len).to_vec();
            omadm_libwbxml_free(out);
            bytes
        }
    };
    if code != 0 {
        // SAFETY: wbxml_errors_string returns a static NUL-terminated string for any code.
        let message = unsafe { CStr::from_ptr(omadm_libwbxml_error(code)) }.to_string_lossy().into_owned();
        return Err(LibwbxmlError { code, message });
    }
    Ok(bytes)
}

/// Converts a WBXML document to compact XML with libwbxml (what its `wbxml2xml` tool does).
pub fn wbxml_to_xml(wbxml: &[u8]) -> Result<Vec<u8>, LibwbxmlError> {
    let (mut out, mut len) = (std::ptr::null_mut(), 0usize);
    // SAFETY: the input pointer and length describe a live slice that libwbxml only reads; the
    // output pointers are valid for writes.
    let code = unsafe { omadm_libwbxml_wbxml2xml(wbxml.as_ptr(), wbxml.len(), &mut out, &mut len) };
    finish(code, out, len)
}

/// Converts an XML document to WBXML 1.3 with libwbxml (what its `xml2wbxml` tool does), with or
/// without a string table.
pub fn xml_to_wbxml(xml: &[u8], string_table: bool) -> Result<Vec<u8>, LibwbxmlError> {
    let (mut out, mut len) = (std::ptr::null_mut(), 0usize);
    // SAFETY: as in `wbxml_to_xml`.
    let code =
        unsafe { omadm_libwbxml_xml2wbxml(xml.as_ptr(), xml.len(), c_int::from(string_table), &mut out, &mut len) };
    finish(code, out, len)
}
