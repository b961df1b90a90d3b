//! The inspector's command-line surface: `omadm decode [--json] FILE|-` and
//! `omadm encode --to wbxml|xml [--no-string-table] FILE|- [-o OUT]`.

use base64::Engine as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn omadm(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_omadm"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run omadm");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn vector(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors").join(rel).to_string_lossy().into_owned()
}

fn text(out: &Output) -> String {
    assert!(out.status.success(), "omadm failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn decode_prints_readable_xml_from_wbxml() {
    let xml = text(&omadm(&["decode", &vector("aosp-dm12/testget.wbxml")], None));
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<LocURI>./DevDetail/URI/MaxDepth</LocURI>"), "{xml}");
    assert!(xml.contains("<MaxMsgSize xmlns=\"syncml:metinf\">3500</MaxMsgSize>"), "{xml}");
}

#[test]
fn decode_json() {
    let json = text(&omadm(&["decode", "--json", &vector("aosp-dm12/testget.wbxml")], None));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["header"]["session_id"], "22100");
    assert_eq!(v["header"]["ver_proto"], "DM/1.2");
    assert_eq!(v["body"]["final"], true);
}

#[test]
fn decode_recognizes_hex_and_base64_on_stdin() {
    let bytes = std::fs::read(vector("aosp-dm11/testget.wbxml")).unwrap();
    let direct = text(&omadm(&["decode", &vector("aosp-dm11/testget.wbxml")], None));
    let hex: String =
        bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().chunks(16).map(|c| c.concat() + "\n").collect();
    assert_eq!(text(&omadm(&["decode", "-"], Some(hex.as_bytes()))), direct);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert_eq!(text(&omadm(&["decode", "-"], Some(b64.as_bytes()))), direct);
}

#[test]
fn decode_shows_ddf_documents() {
    let xml = text(&omadm(&["decode", &vector("ddf/aosp-syncmldm.ddf")], None));
    assert!(xml.contains("<MgmtTree>") && xml.contains("<NodeName>DevDetail</NodeName>"), "{}", &xml[..200]);
}

#[test]
fn encode_to_wbxml_and_back() {
    let dir = std::env::temp_dir().join(format!("omadm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with_table = dir.join("t.wbxml");
    let without_table = dir.join("n.wbxml");
    // A message that repeats strings (URIs in headers and status references).
    let src = vector("libwbxml/syncml_with_ddf-001.xml");
    text(&omadm(&["encode", "--to", "wbxml", &src, "-o", with_table.to_str().unwrap()], None));
    text(&omadm(&["encode", "--to", "wbxml", "--no-string-table", &src, "-o", without_table.to_str().unwrap()], None));
    let t = std::fs::read(&with_table).unwrap();
    let n = std::fs::read(&without_table).unwrap();
    assert_eq!(&t[..4], &[0x02, 0xA4, 0x01, 0x6A], "WBXML 1.2, SyncML 1.2 public id, UTF-8");
    assert_eq!(n[4], 0, "no string table");
    assert!(t[4] > 0, "a string table");
    assert!(t.len() < n.len(), "the string table makes it smaller: {} vs {}", t.len(), n.len());
    // Both decode to the same message as the source.
    let original = text(&omadm(&["decode", &src], None));
    assert_eq!(text(&omadm(&["decode", with_table.to_str().unwrap()], None)), original);
    assert_eq!(text(&omadm(&["decode", without_table.to_str().unwrap()], None)), original);
    // XML output on stdout, from WBXML on stdin.
    let xml = text(&omadm(&["encode", "--to", "xml", "-"], Some(&t)));
    assert!(xml.contains("<LocURI>IMEI:493005100592800</LocURI>"), "{xml}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_fails_with_a_message() {
    let out = omadm(&["decode", "-"], Some(b"this is not a message"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither XML, WBXML, hex nor base64"));
    let out = omadm(&["decode", "-"], Some(b"<SyncML><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr></SyncML>"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing required element <VerProto>"));
    let out = omadm(&["encode", "--to", "wbxml", "/nonexistent/file.xml"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.xml"));
}
