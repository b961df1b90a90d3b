//! XML decoder: never panics, and whatever it accepts, the encoders write as something it (and the
//! WBXML decoder) accept again; re-encoded as XML, it decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omadm_proto::{wbxml, xml, ErrorKind, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(message) = xml::decode(data, &limits) else { return };

    let again = xml::encode(&message, &xml::XmlOptions::default());
    match xml::decode(&again, &limits) {
        Ok(decoded) => assert_eq!(decoded, message, "XML re-encoding differs\n{}", String::from_utf8_lossy(&again)),
        Err(e) => {
            panic!("XML re-encoding of a decoded message does not decode: {e}\n{}", String::from_utf8_lossy(&again))
        }
    }

    // The same message as WBXML. Encoding may refuse only text WBXML cannot carry (a NUL).
    for string_table in [true, false] {
        let options = wbxml::WbxmlOptions { string_table, ..Default::default() };
        match wbxml::encode(&message, &options) {
            Ok(bytes) => {
                if let Err(e) = wbxml::decode(&bytes, &limits) {
                    panic!("WBXML encoding (string table {string_table}) of a decoded message does not decode: {e}");
                }
            }
            Err(e) => assert!(matches!(&e.kind, ErrorKind::Encode(m) if m.contains("NUL")), "WBXML encode: {e}"),
        }
    }
});
