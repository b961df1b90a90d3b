//! Hostile input: every case ends in a precise error, quickly, without panicking or allocating
//! more than the input justifies.

mod common;

use common::*;
use omadm_proto::*;
use std::time::{Duration, Instant};

fn wbxml_header(body: &[u8]) -> Vec<u8> {
    // WBXML 1.2, public id 0x1201, UTF-8, empty string table.
    let mut v = vec![0x02, 0xA4, 0x01, 0x6A, 0x00];
    v.extend_from_slice(body);
    v
}

fn assert_quick_error(bytes: &[u8], what: &str) -> Error {
    let start = Instant::now();
    let err = decode(bytes, &Limits::default()).expect_err(what);
    assert!(start.elapsed() < Duration::from_secs(2), "{what}: took {:?}", start.elapsed());
    assert!(!err.to_string().is_empty());
    err
}

#[test]
fn every_truncation_of_a_wbxml_message_is_an_error() {
    let full = wbxml::encode(&package1(), &Default::default()).unwrap();
    for len in 1..full.len() {
        let err = assert_quick_error(&full[..len], "truncated WBXML");
        assert!(err.offset.is_some(), "truncated at {len}: error has no offset: {err}");
    }
}

#[test]
fn every_truncation_of_an_xml_message_is_an_error() {
    let full = xml::encode(&package1(), &Default::default());
    for len in 1..full.len() {
        assert_quick_error(&full[..len], "truncated XML");
    }
}

#[test]
fn bad_mb_u_int32() {
    // Public id with six continuation bytes.
    let err = assert_quick_error(&[0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x6A, 0x00], "bad mb_u_int32");
    assert!(err.to_string().contains("mb_u_int32"), "{err}");
    // A value over 32 bits.
    assert_quick_error(&[0x02, 0x9F, 0xFF, 0xFF, 0xFF, 0x7F, 0x6A, 0x00], "33-bit mb_u_int32");
}

#[test]
fn string_table_index_out_of_range() {
    // SyncML tag with content, then STR_T 0x50 with an empty table.
    let err = assert_quick_error(&wbxml_header(&[0x6D, 0x83, 0x50, 0x01, 0x01]), "STR_T out of range");
    assert!(err.to_string().contains("out of range"), "{err}");
    // A public id that refers into the string table past its end.
    let err = assert_quick_error(&[0x02, 0x00, 0x10, 0x6A, 0x02, b'a', 0x00, 0x6D, 0x01], "FPI index out of range");
    assert!(err.to_string().contains("out of range"), "{err}");
}

#[test]
fn ten_thousand_deep_nesting() {
    // WBXML: 10,000 nested <Atomic> elements.
    let mut body = vec![0x6D, 0x6B]; // SyncML, SyncBody
    body.extend(std::iter::repeat_n(0x48, 10_000));
    let err = assert_quick_error(&wbxml_header(&body), "deep WBXML");
    assert!(matches!(err.kind, ErrorKind::Limit(_)), "{err}");
    // XML likewise.
    let mut xml = String::from("<SyncML><SyncBody>");
    xml.push_str(&"<Atomic>".repeat(10_000));
    let err = assert_quick_error(xml.as_bytes(), "deep XML");
    assert!(matches!(err.kind, ErrorKind::Limit(_)), "{err}");
    // Nested Atomic commands hit their own, smaller bound.
    let mut body = vec![0x6D, 0x6B];
    for _ in 0..20 {
        body.extend_from_slice(&[0x48, 0x4B, 0x03, b'1', 0x00, 0x01]);
    }
    let err = assert_quick_error(&wbxml_header(&body), "nested Atomic");
    assert!(err.to_string().contains("Atomic/Sequence nested deeper than 8"), "{err}");
    // Deep nesting inside an element that would be skipped counts too.
    let mut xml = String::from("<SyncML><SyncHdr><Unknown>");
    xml.push_str(&"<x>".repeat(10_000));
    let err = assert_quick_error(xml.as_bytes(), "deep skipped XML");
    assert!(matches!(err.kind, ErrorKind::Limit(_)), "{err}");
}

#[test]
fn billion_laughs_is_refused() {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE SyncML [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        xml.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    xml.push_str("]>\n<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>&lol9;</VerDTD></SyncHdr></SyncML>");
    let err = assert_quick_error(xml.as_bytes(), "billion laughs");
    assert!(err.to_string().contains("entity"), "{err}");
}

#[test]
fn huge_length_prefixes() {
    // A 100 MB string table length in a tiny input.
    let err = assert_quick_error(&[0x02, 0xA4, 0x01, 0x6A, 0xAF, 0xD7, 0x84, 0x00, 0x00], "100 MB string table");
    assert!(err.to_string().contains("past the end"), "{err}");
    // A 100 MB OPAQUE inside Data.
    let body = [0x6D, 0x6B, 0x4F, 0xC3, 0xAF, 0xD7, 0x84, 0x00, 0x01, 0x01, 0x01];
    let err = assert_quick_error(&wbxml_header(&body), "100 MB opaque");
    assert!(matches!(err.kind, ErrorKind::Limit(_) | ErrorKind::Wbxml(_)), "{err}");
}

#[test]
fn configured_limits_apply() {
    let bytes = xml::encode(&results_64k(), &Default::default());
    let tight = Limits { max_message_size: 4096, ..Limits::default() };
    let err = xml::decode(&bytes, &tight).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Limit(_)));
    let short_strings = Limits { max_string_len: 8, ..Limits::default() };
    let err = decode(&xml::encode(&package1(), &Default::default()), &short_strings).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Limit(_)), "{err}");
    let err = decode(&wbxml::encode(&package1(), &Default::default()).unwrap(), &short_strings).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Limit(_)), "{err}");
}

#[test]
fn errors_say_where() {
    let xml = b"<SyncML><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>\
<MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source>\
<Meta><MaxMsgSize>lots</MaxMsgSize></Meta></SyncHdr><SyncBody/></SyncML>";
    let err = decode(xml, &Limits::default()).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::BadValue { element: "MaxMsgSize", .. }), "{err}");
    assert_eq!(err.path, "/SyncML/SyncHdr/Meta/MaxMsgSize");
    assert!(err.offset.is_some());
    let missing = b"<SyncML><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody/></SyncML>";
    let err = decode(missing, &Limits::default()).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Missing("VerProto")), "{err}");
    assert!(err.to_string().contains("/SyncML/SyncHdr"), "{err}");
}

#[test]
fn garbage_is_rejected() {
    assert!(matches!(decode(b"hello", &Limits::default()).unwrap_err().kind, ErrorKind::UnknownFormat(_)));
    assert!(decode(b"", &Limits::default()).is_err());
    assert!(decode(b"<notsyncml/>", &Limits::default()).is_err());
    assert!(decode(&[0x03, 0x01, 0x6A, 0x00, 0x45], &Limits::default()).is_err());
}
