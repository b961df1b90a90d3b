//! Regressions for what the fuzz targets in `fuzz/` found: each input either decodes to a message
//! that both encoders write back as something that decodes to the same message, or is refused
//! with a located error.

mod common;

use common::*;
use omadm_proto::wbxml::WbxmlOptions;
use omadm_proto::*;

fn wbxml_options() -> [WbxmlOptions; 2] {
    [
        WbxmlOptions { string_table: true, ..Default::default() },
        WbxmlOptions { string_table: false, ..Default::default() },
    ]
}

/// A message whose body holds one command DM does not use, kept as a generic element.
fn with_unsupported(element: Element) -> SyncMl {
    let mut msg = package1();
    let cmd_id = element.child("CmdID").map(|c| c.text()).unwrap_or_default();
    msg.body.commands.push(Command::Unsupported(UnsupportedCommand { name: element.name.clone(), cmd_id, element }));
    msg
}

/// Replaces the first occurrence of `from` in `bytes` by `to` (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes.windows(from.len()).position(|w| w == from).expect("pattern present");
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[test]
fn xml_element_with_an_empty_local_name_is_refused() {
    let xml = xml::encode(&package1(), &Default::default());
    let text = String::from_utf8(xml).unwrap();
    let bad = text.replace("<Final/>", "<Sync><CmdID>9</CmdID><a:/></Sync><Final/>");
    let err = xml::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("\"\" is not an XML name"), "{err}");
    assert!(err.offset.is_some_and(|o| o > text.find("<Final/>").unwrap()), "{err}");
}

#[test]
fn xml_element_names_xml_cannot_write_are_refused() {
    let text = String::from_utf8(xml::encode(&package1(), &Default::default())).unwrap();
    for name in ["9lives", "x:-y"] {
        let bad = text.replace("<Final/>", &format!("<Sync><CmdID>9</CmdID><{name}/></Sync><Final/>"));
        let err = xml::decode(bad.as_bytes(), &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("is not an XML name"), "{name}: {err}");
    }
}

#[test]
fn wbxml_literal_names_xml_cannot_write_are_refused() {
    // A generic element named `Zzzzzz` has no token: the encoder writes it as a LITERAL whose
    // name is in the string table. Renamed there, it becomes a name no XML can carry.
    let msg = with_unsupported(
        Element::new("Sync")
            .with_child(Element::new("CmdID").with_text("9"))
            .with_child(Element::new("Zzzzzz").with_text("x")),
    );
    for options in wbxml_options() {
        let good = wbxml::encode(&msg, &options).unwrap();
        assert_eq!(wbxml::decode(&good, &Limits::default()).unwrap(), msg);
        for bad_name in [&b"IMEI:x"[..], b"1abcde", b"a b  c", b"a<b>cd"] {
            let mut bad = good.clone();
            patch(&mut bad, b"Zzzzzz", bad_name);
            let err = wbxml::decode(&bad, &Limits::default()).unwrap_err();
            assert!(err.to_string().contains("is not an XML name"), "{err}");
            assert!(err.offset.is_some(), "{err}");
        }
    }
}

#[test]
fn wbxml_literal_names_decode_and_re_encode_as_xml() {
    let msg = with_unsupported(
        Element::new("Sync")
            .with_child(Element::new("CmdID").with_text("9"))
            .with_child(Element::new("Vendor-Ext.été_1").with_text("x")),
    );
    for options in wbxml_options() {
        let decoded = wbxml::decode(&wbxml::encode(&msg, &options).unwrap(), &Limits::default()).unwrap();
        assert_eq!(decoded, msg);
        let xml = xml::encode(&decoded, &Default::default());
        assert_eq!(xml::decode(&xml, &Limits::default()).unwrap(), msg);
    }
}

/// A TNDS document holding an element whose only token is on another code page: `Data` is on the
/// SyncML page, not the DDF page its `MgmtTree` parent is on.
fn tnds_with_data() -> Element {
    let mut doc = tnds_document();
    doc.children.push(Node::Element(Element::new("Data")));
    doc.children.push(Node::Element(Element::new("Node").with_child(Element::new("Data").with_text("v"))));
    doc
}

#[test]
fn nested_document_names_tokenized_on_another_page_re_encode() {
    let doc = tnds_with_data();
    for options in wbxml_options() {
        let bytes = wbxml::encode_document(&doc, &options).expect("a LITERAL for Data on the DDF page");
        assert_eq!(wbxml::decode_document(&bytes, &Limits::default()).unwrap(), doc);
    }
    // The same document without its namespace (a DDF by its root's name) and inside a message.
    let mut bare = doc.clone();
    bare.namespace = None;
    let bytes = wbxml::encode_document(&bare, &WbxmlOptions::default()).unwrap();
    assert_eq!(wbxml::decode_document(&bytes, &Limits::default()).unwrap(), doc);

    let mut msg = package1();
    let mut item = leaf_item("./Vendor/EMail", "");
    item.meta = Some(meta_type(Format::Xml, "application/vnd.syncml.dmtnds+xml"));
    item.data = Some(Data::Document(doc));
    msg.body.commands.push(Command::Replace(ItemCommand {
        cmd_id: "9".into(),
        items: vec![item],
        ..Default::default()
    }));
    for options in wbxml_options() {
        let bytes = wbxml::encode(&msg, &options).unwrap();
        assert_eq!(wbxml::decode(&bytes, &Limits::default()).unwrap(), msg);
    }
}

/// The shape the fuzzer found: a DDF document (page 2) that switches to page 0 for one `Data`
/// element. Header: WBXML 1.2, FPI at table index 0, UTF-8, table = the DDF FPI.
#[test]
fn decoded_document_with_a_page_switch_re_encodes() {
    let fpi = wbxml::DDF_FPI.as_bytes();
    let mut bytes = vec![0x02, 0x00, 0x00, 0x6A, fpi.len() as u8 + 1];
    bytes.extend_from_slice(fpi);
    bytes.push(0);
    // SWITCH_PAGE 2, MgmtTree+content, SWITCH_PAGE 0, Data (empty), END.
    bytes.extend_from_slice(&[0x00, 0x02, 0x20 | 0x40, 0x00, 0x00, 0x0F, 0x01]);
    let doc = wbxml::decode_document(&bytes, &Limits::default()).unwrap();
    assert_eq!(doc.elements().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["Data"]);
    for options in wbxml_options() {
        let again = wbxml::encode_document(&doc, &options).unwrap();
        assert_eq!(wbxml::decode_document(&again, &Limits::default()).unwrap(), doc);
    }
}

/// A document in Data whose type does not call for a nested WBXML document (here: no type at all,
/// as the fuzzer wrote it, with the element inline in WBXML Data) is written inline again, so it
/// decodes as a document, not as opaque bytes.
#[test]
fn documents_of_other_types_stay_inline() {
    for media_type in [None, Some("text/plain"), Some("application/x-thing+xml")] {
        let mut item = leaf_item("./Vendor/X", "");
        item.meta = media_type.map(|t| meta_type(Format::Xml, t));
        item.data = Some(Data::Document(Element::new("NumberOfChanges")));
        let mut msg = package1();
        msg.body.commands.push(Command::Add(ItemCommand {
            cmd_id: "9".into(),
            items: vec![item],
            ..Default::default()
        }));
        for options in wbxml_options() {
            let bytes = wbxml::encode(&msg, &options).unwrap();
            assert_eq!(wbxml::decode(&bytes, &Limits::default()).unwrap(), msg, "{media_type:?}");
        }
        assert_eq!(xml::decode(&xml::encode(&msg, &Default::default()), &Limits::default()).unwrap(), msg);
    }
}

/// An Item's own Meta without a Type leaves its command's Type in force, in the decoder and in the
/// encoder alike.
#[test]
fn command_type_applies_to_items_whose_meta_has_no_type() {
    let mut item = leaf_item("./Vendor/X", "");
    item.meta = Some(Meta { format: Some(Format::Xml), ..Meta::default() });
    item.data = Some(Data::Document(tnds_document()));
    let mut msg = package1();
    msg.body.commands.push(Command::Replace(ItemCommand {
        cmd_id: "9".into(),
        meta: Some(meta_type(Format::Xml, "application/vnd.syncml.dmtnds+xml")),
        items: vec![item],
        ..Default::default()
    }));
    for options in wbxml_options() {
        let bytes = wbxml::encode(&msg, &options).unwrap();
        assert!(bytes.windows(6).any(|w| w == b"+wbxml"), "the command's Type is written in its WBXML form");
        assert_eq!(wbxml::decode(&bytes, &Limits::default()).unwrap(), msg);
    }
}

/// Character data split by a SWITCH_PAGE is one text node, as it is once re-encoded.
#[test]
fn text_split_by_a_page_switch_is_one_text_node() {
    let fpi = wbxml::DDF_FPI.as_bytes();
    let mut bytes = vec![0x02, 0x00, 0x00, 0x6A, fpi.len() as u8 + 1];
    bytes.extend_from_slice(fpi);
    bytes.push(0);
    // SWITCH_PAGE 2, MgmtTree+content, STR_I "ab", SWITCH_PAGE 0, STR_I "cd", END.
    bytes.extend_from_slice(&[0x00, 0x02, 0x60, 0x03, b'a', b'b', 0x00, 0x00, 0x00, 0x03, b'c', b'd', 0x00, 0x01]);
    let doc = wbxml::decode_document(&bytes, &Limits::default()).unwrap();
    assert_eq!(doc.children, vec![Node::Text("abcd".into())]);
    for options in wbxml_options() {
        let again = wbxml::encode_document(&doc, &options).unwrap();
        assert_eq!(wbxml::decode_document(&again, &Limits::default()).unwrap(), doc);
    }
}

/// The fuzzer's minimized reproducer of the empty-name finding, verbatim.
#[test]
fn minimized_xml_reproducer_is_refused() {
    let input = b"<SyncML><SyncHdr><VerDTD></VerDTD><VerProto></VerProto><SessionID></SessionID><MsgID></MsgID>\
<Target><LocURI></LocURI></Target><Source><LocURI></LocURI></Source></SyncHdr><SyncBody><:/></SyncBody></SyncML>";
    let err = xml::decode(input, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("is not an XML name"), "{err}");
}

/// An element back on the SyncML page inside an element of another page keeps its page: WBXML
/// reports the SyncML namespace for it, and both encoders write it there again.
#[test]
fn syncml_page_elements_inside_metinf_elements_keep_their_page() {
    let mut anchor = Element::new("Anchor");
    anchor.namespace = Some("syncml:metinf".into());
    let mut item = Element::new("Item");
    item.namespace = Some("SYNCML:SYNCML1.2".into());
    let mut ty = Element::new("Type").with_text("text/plain");
    ty.namespace = Some("syncml:metinf".into());
    item.children.push(Node::Element(Element::new("Meta").with_child(ty)));
    anchor.children.push(Node::Element(item));
    let msg =
        with_unsupported(Element::new("Sync").with_child(Element::new("CmdID").with_text("9")).with_child(anchor));
    for options in wbxml_options() {
        let decoded = wbxml::decode(&wbxml::encode(&msg, &options).unwrap(), &Limits::default()).unwrap();
        assert_eq!(decoded, msg);
    }
    assert_eq!(xml::decode(&xml::encode(&msg, &Default::default()), &Limits::default()).unwrap(), msg);
}

/// A NUL (which WBXML text can only get from an ENTITY) is never put in the string table, where
/// it would end the entry early: the encoder refuses the text instead of truncating it.
#[test]
fn text_with_a_nul_is_refused_not_truncated() {
    let doc = tnds_document()
        .with_child(Element::new("MIME").with_text("\0text/plain"))
        .with_child(Element::new("MIME").with_text("\0text/plain"));
    for options in wbxml_options() {
        let err = wbxml::encode_document(&doc, &options).unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }
}

/// A LITERAL tag on a code page none of the SyncML vocabulary's: its namespace cannot be known
/// (nor written back), so it is refused like a token on that page.
#[test]
fn literal_tags_on_unknown_code_pages_are_refused() {
    let msg = with_unsupported(
        Element::new("Sync").with_child(Element::new("CmdID").with_text("9")).with_child(Element::new("Zzzzzz")),
    );
    let good = wbxml::encode(&msg, &WbxmlOptions::default()).unwrap();
    // The LITERAL (0x04, no content) and its table index, preceded by a switch to page 7.
    let literal = good.windows(2).rposition(|w| w[0] == 0x04).expect("a LITERAL tag");
    let mut bad = good[..literal].to_vec();
    bad.extend_from_slice(&[0x00, 0x07]);
    bad.extend_from_slice(&good[literal..]);
    let err = wbxml::decode(&bad, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("unknown code page 7"), "{err}");
}
