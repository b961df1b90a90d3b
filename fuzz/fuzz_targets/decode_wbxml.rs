//! WBXML decoder: never panics, and whatever it accepts, the encoders write as something it (and
//! the XML decoder) accept again; re-encoded as WBXML, it decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omadm_proto::{wbxml, xml, ErrorKind, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(message) = wbxml::decode(data, &limits) else { return };

    // Encoding may refuse only text WBXML cannot carry (a NUL, which OPAQUE data can hold).
    for string_table in [true, false] {
        let options = wbxml::WbxmlOptions { string_table, ..Default::default() };
        match wbxml::encode(&message, &options) {
            Ok(bytes) => match wbxml::decode(&bytes, &limits) {
                Ok(again) => assert_eq!(again, message, "WBXML re-encoding (string table {string_table}) differs"),
                Err(e) => {
                    panic!("WBXML re-encoding (string table {string_table}) of a decoded message does not decode: {e}")
                }
            },
            Err(e) => assert!(matches!(&e.kind, ErrorKind::Encode(m) if m.contains("NUL")), "WBXML encode: {e}"),
        }
    }

    // WBXML → XML, what a logging server or `wbxml2xml` does.
    let text = xml::encode(&message, &xml::XmlOptions::default());
    if let Err(e) = xml::decode(&text, &limits) {
        panic!("XML encoding of a decoded WBXML message does not decode: {e}\n{}", String::from_utf8_lossy(&text));
    }
});
