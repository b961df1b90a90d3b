//! Standalone WBXML documents (TNDS, DDF): the decoder never panics, and whatever it accepts, the
//! document encoder writes as something that decodes to the same document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omadm_proto::{wbxml, ErrorKind, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(document) = wbxml::decode_document(data, &limits) else { return };

    // Encoding may refuse only text WBXML cannot carry (a NUL, which OPAQUE data can hold).
    for string_table in [true, false] {
        let options = wbxml::WbxmlOptions { string_table, ..Default::default() };
        match wbxml::encode_document(&document, &options) {
            Ok(bytes) => match wbxml::decode_document(&bytes, &limits) {
                Ok(again) => assert_eq!(again, document, "re-encoding (string table {string_table}) differs"),
                Err(e) => {
                    panic!("re-encoding (string table {string_table}) of a decoded document does not decode: {e}")
                }
            },
            Err(e) => assert!(matches!(&e.kind, ErrorKind::Encode(m) if m.contains("NUL")), "encode: {e}"),
        }
    }
});
