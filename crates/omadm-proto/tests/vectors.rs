//! Every SyncML message among the shared vectors (real peers' bytes) decodes, and re-encodes to
//! the same message in both encodings.

use omadm_proto::*;
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

fn read(rel: &str) -> Vec<u8> {
    let p = vectors_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// All SyncML message files: the .wbxml and .xml files of the AOSP folders and libwbxml's messages.
fn message_files() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["aosp-dm11", "aosp-dm12"] {
        let mut names: Vec<_> = std::fs::read_dir(vectors_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".xml") || n.ends_with(".wbxml"))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| format!("{dir}/{n}")));
    }
    out.push("libwbxml/syncml-012.xml".into());
    out.push("libwbxml/syncml_with_ddf-001.xml".into());
    out
}

/// What XML can carry of a message: binary Data becomes its text, or base64 (see the XML encoder).
fn as_xml_carries(msg: &SyncMl) -> SyncMl {
    use base64::Engine as _;
    fn fix_items(items: &mut [Item]) {
        for it in items {
            if let Some(Data::Binary(b)) = &it.data {
                let text = match xml::printable_text(b) {
                    Some(t) => t.to_string(),
                    None => base64::engine::general_purpose::STANDARD.encode(b),
                };
                it.data = Some(Data::Text(text));
            }
        }
    }
    fn fix(cmds: &mut [Command]) {
        for c in cmds {
            match c {
                Command::Add(i)
                | Command::Copy(i)
                | Command::Delete(i)
                | Command::Get(i)
                | Command::Replace(i) => fix_items(&mut i.items),
                Command::Alert(a) => fix_items(&mut a.items),
                Command::Exec(e) => fix_items(&mut e.items),
                Command::Results(r) => fix_items(&mut r.items),
                Command::Status(s) => fix_items(&mut s.items),
                Command::Atomic(c) | Command::Sequence(c) => fix(&mut c.commands),
                Command::Unsupported(_) => {}
            }
        }
    }
    let mut m = msg.clone();
    fix(&mut m.body.commands);
    m
}

fn roundtrip(msg: &SyncMl, name: &str) {
    let xml = xml::encode(msg, &xml::XmlOptions::default());
    let back = xml::decode(&xml, &Limits::default())
        .unwrap_or_else(|e| panic!("{name}: re-decoding our XML: {e}"));
    assert_eq!(back, as_xml_carries(msg), "{name}: XML round trip");
    for string_table in [true, false] {
        let opts = wbxml::WbxmlOptions {
            string_table,
            ..Default::default()
        };
        let bin =
            wbxml::encode(msg, &opts).unwrap_or_else(|e| panic!("{name}: encoding WBXML: {e}"));
        assert_eq!(
            wbxml::encoded_len(msg, &opts).unwrap(),
            bin.len(),
            "{name}: encoded_len"
        );
        let back = wbxml::decode(&bin, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: re-decoding our WBXML: {e}"));
        assert_eq!(
            &back, msg,
            "{name}: WBXML round trip (string table {string_table})"
        );
    }
}

#[test]
fn every_vector_decodes_and_round_trips() {
    for name in message_files() {
        let bytes = read(&name);
        let (msg, enc) =
            decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(enc == Encoding::Wbxml, name.ends_with(".wbxml"), "{name}");
        assert!(!msg.body.commands.is_empty(), "{name}: no commands");
        roundtrip(&msg, &name);
    }
}
