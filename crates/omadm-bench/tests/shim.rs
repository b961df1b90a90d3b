//! The shim really drives libwbxml: its output is the same message, read by our decoders.

use omadm_proto::{wbxml, xml, Limits};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");

fn vector(rel: &str) -> Vec<u8> {
    let path = format!("{VECTORS}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn libwbxml_turns_a_real_wbxml_message_into_the_same_message_as_xml() {
    let input = vector("aosp-dm12/testget.wbxml");
    let theirs = omadm_bench::wbxml_to_xml(&input).unwrap();
    assert!(theirs.starts_with(b"<?xml"), "{}", String::from_utf8_lossy(&theirs));
    let limits = Limits::default();
    assert_eq!(xml::decode(&theirs, &limits).unwrap(), wbxml::decode(&input, &limits).unwrap());
}

#[test]
fn libwbxml_turns_a_real_xml_message_into_the_same_message_as_wbxml() {
    let input = vector("libwbxml/syncml-012.xml");
    let limits = Limits::default();
    let as_xml = |m| xml::encode(&m, &Default::default());
    let ours = as_xml(xml::decode(&input, &limits).unwrap());
    for string_table in [true, false] {
        let theirs = omadm_bench::xml_to_wbxml(&input, string_table).unwrap();
        // libwbxml writes Data as OPAQUE, which our decoder keeps as bytes: compare as XML.
        assert_eq!(as_xml(wbxml::decode(&theirs, &limits).unwrap()), ours, "string table {string_table}");
    }
}

#[test]
fn libwbxml_errors_carry_its_message() {
    let err = omadm_bench::wbxml_to_xml(b"\x03\x01\x6a\x00\xff\xff").unwrap_err();
    assert_ne!(err.code, 0);
    assert!(!err.message.is_empty());
}
