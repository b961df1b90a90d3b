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

/// Package 1 with its SessionID (`1A2B`) replaced by `session`, as XML.
fn xml_with_session(session: &str) -> Vec<u8> {
    let xml = String::from_utf8(xml::encode(&package1(), &Default::default())).unwrap();
    let (from, to) = ("<SessionID>1A2B</SessionID>", format!("<SessionID>{session}</SessionID>"));
    assert!(xml.contains(from));
    xml.replacen(from, &to, 1).into_bytes()
}

/// Package 1 as WBXML without a string table, its SessionID's STR_I (`1A2B`) replaced by `body`.
fn wbxml_with_session(body: &[u8]) -> Vec<u8> {
    let bytes = wbxml::encode(&package1(), &wbxml::WbxmlOptions { string_table: false, ..Default::default() }).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\x031A2B\x00").expect("the SessionID string");
    [&bytes[..at], body, &bytes[at + 6..]].concat()
}

#[test]
fn characters_xml_does_not_allow_are_refused_in_xml_text() {
    for (session, what) in [
        ("1&#1;2B", "U+0001"),
        ("1&#x1;2B", "U+0001"),
        ("1&#0;2B", "U+0000"),
        ("1&#xFFFE;2B", "U+FFFE"),
        ("1\u{1}2B", "U+0001"),
        ("1\u{1F}2B", "U+001F"),
        ("1\u{FFFF}2B", "U+FFFF"),
        ("<![CDATA[1\u{8}2B]]>", "U+0008"),
    ] {
        let xml = xml_with_session(session);
        let err = assert_quick_error(&xml, session);
        assert!(matches!(err.kind, ErrorKind::Xml(_)), "{session:?}: {err}");
        let message = err.to_string();
        assert!(message.contains(what) && message.contains("not allowed in XML"), "{session:?}: {message}");
        assert_eq!(err.path, "/SyncML/SyncHdr/SessionID", "{session:?}: {err}");
        let offset = err.offset.expect("an offset");
        let session_at = xml.windows(11).position(|w| w == b"<SessionID>").unwrap() + 11;
        assert!((session_at..session_at + session.len()).contains(&offset), "{session:?}: {err}");
    }
    // A raw control character is reported at its own byte.
    let xml = xml_with_session("1\u{1}2B");
    let err = decode(&xml, &Limits::default()).unwrap_err();
    assert_eq!(xml[err.offset.unwrap()], 0x01, "{err}");
    // In a namespace that generic elements keep.
    for ns in ["a&#2;", "a\u{2}"] {
        let body = format!("<x xmlns=\"{ns}\"/>");
        let xml = String::from_utf8(xml_with_session("1A2B")).unwrap().replacen(
            "<Final/>",
            &format!("<Put><CmdID>9</CmdID>{body}</Put><Final/>"),
            1,
        );
        let err = assert_quick_error(xml.as_bytes(), "xmlns");
        assert!(err.to_string().contains("U+0002"), "{ns:?}: {err}");
    }
    // Tab, LF and CR are characters; so are U+FFFD and the fullwidth forms (0xEF lead bytes).
    for session in ["1\t2\n3\r4", "1&#9;&#10;&#13;2", "\u{FFFD}\u{FF21}\u{FEFF}x"] {
        let (msg, _) = decode(&xml_with_session(session), &Limits::default()).unwrap();
        assert!(msg.header.session_id.chars().count() >= 3, "{session:?}: {:?}", msg.header.session_id);
    }
}

#[test]
fn characters_xml_does_not_allow_are_refused_in_wbxml_text() {
    for (body, what, place) in [
        (&b"\x031\x012B\x00"[..], "U+0001", "inline string"),
        (b"\x031\x1F2B\x00", "U+001F", "inline string"),
        (b"\x031\xEF\xBF\xBF\x00", "U+FFFF", "inline string"),
        (b"\x031\x00\x02\x01\x03B\x00", "U+0001", "ENTITY 1"),
        (b"\x031\x00\x02\x00\x03B\x00", "U+0000", "ENTITY 0"),
        (b"\x02\x83\xFF\x7E", "U+FFFE", "ENTITY 65534"),
        (b"\xC3\x041\x012B", "U+0001", "binary data where text was expected"),
    ] {
        let bytes = wbxml_with_session(body);
        let err = assert_quick_error(&bytes, what);
        let message = err.to_string();
        assert!(message.contains(what) && message.contains(place), "{body:02X?}: {message}");
        assert!(message.contains("not allowed in XML"), "{body:02X?}: {message}");
        assert_eq!(err.path, "/SyncML/SyncHdr/SessionID", "{body:02X?}: {err}");
        assert!(err.offset.is_some(), "{body:02X?}: {err}");
    }
    // A raw control character in an inline string is reported at its own byte.
    let bytes = wbxml_with_session(b"\x031\x012B\x00");
    let err = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(bytes[err.offset.unwrap()], 0x01, "{err}");
    // In the string table: a value repeated often enough to be a table entry.
    let mut msg = package1();
    let Command::Replace(replace) = &mut msg.body.commands[1] else { panic!("Replace") };
    for item in &mut replace.items {
        item.data = Some(Data::Text("shared\u{1}value".into()));
    }
    let bytes = wbxml::encode(&msg, &Default::default()).unwrap();
    let err = assert_quick_error(&bytes, "STR_T");
    assert!(err.to_string().contains("U+0001 in string-table entry"), "{err}");
    assert!(err.path.ends_with("/Item/Data"), "{err}");
    // Tab, LF and CR are characters; OPAQUE data is not text and may hold any byte.
    let (msg, _) = decode(&wbxml_with_session(b"\x031\t2\n3\r4\x00"), &Limits::default()).unwrap();
    assert_eq!(msg.header.session_id, "1\t2\n3\r4");
    let mut binary = package1();
    let Command::Replace(replace) = &mut binary.body.commands[1] else { panic!("Replace") };
    replace.items[0].data = Some(Data::Binary(vec![0x01, 0x00, 0xFF]));
    let bytes = wbxml::encode(&binary, &Default::default()).unwrap();
    let (back, _) = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(back, binary);
    let text = xml::encode(&back, &Default::default());
    assert!(xml::decode(&text, &Limits::default()).is_ok(), "binary data is written as base64");
}

#[test]
fn error_paths_name_literal_elements_read_as_iso_8859_1() {
    // WBXML 1.3, unknown public id, ISO-8859-1, string table "A\xE9\0B\xE9\0C\xE9\0": <Aé><Bé></Bé>
    // <Cé> as LITERALs with content, then the input ends. Names that are not slices of the input
    // (ISO-8859-1 é is two bytes of UTF-8) must be on the error's path, in order, once elements
    // with such names have been closed too.
    let doc = [
        0x03, 0x01, 0x04, 0x09, b'A', 0xE9, 0x00, b'B', 0xE9, 0x00, b'C', 0xE9, 0x00, 0x44, 0x00, 0x44, 0x03, 0x01,
        0x44, 0x06,
    ];
    let err = wbxml::decode_document(&doc, &Limits::default()).expect_err("truncated");
    assert_eq!(err.kind, ErrorKind::UnexpectedEof, "{err}");
    assert_eq!(err.path, "/A\u{E9}/C\u{E9}", "{err}");
    // As the root of a message, the name is refused, on the path too.
    let err = wbxml::decode(&doc, &Limits::default()).expect_err("not SyncML");
    assert!(matches!(&err.kind, ErrorKind::Invalid(m) if m.contains("<A\u{E9}>")), "{err}");
    assert_eq!(err.path, "/A\u{E9}", "{err}");
}

#[test]
fn error_paths_hold_every_open_element_deep_in_an_unknown_command() {
    // An unknown command is read as a generic element, each nested element on the path: 40 of
    // them, deeper than the path's first allocation, then the input ends.
    let mut xml = String::from("<SyncML><SyncBody><Foo>");
    xml.push_str(&"<x>".repeat(40));
    let err = decode(xml.as_bytes(), &Limits::default()).expect_err("truncated");
    assert_eq!(err.kind, ErrorKind::UnexpectedEof, "{err}");
    assert_eq!(err.path, format!("/SyncML/SyncBody/Foo{}", "/x".repeat(40)), "{err}");
}

#[test]
fn error_paths_hold_every_open_element_deep_in_wbxml() {
    // The WBXML form of the test above: <Sync> (not a command the builder knows) holding 40
    // nested <Item>s, deeper than the readers' and the builder's first allocations.
    let mut body = vec![0x6D, 0x6B, 0x6A]; // SyncML, SyncBody, Sync
    body.extend(std::iter::repeat_n(0x54, 40)); // Item
    let err = decode(&wbxml_header(&body), &Limits::default()).expect_err("truncated");
    assert_eq!(err.kind, ErrorKind::UnexpectedEof, "{err}");
    assert_eq!(err.path, format!("/SyncML/SyncBody/Sync{}", "/Item".repeat(40)), "{err}");
    // Closed, they are read in full: the error is then the message's missing header.
    body.extend(std::iter::repeat_n(0x01, 43));
    let err = decode(&wbxml_header(&body), &Limits::default()).expect_err("no SyncHdr");
    assert_eq!(err.kind, ErrorKind::Missing("SyncHdr"), "{err}");
}
