//! `omadm ddf check FILE`: node count and errors; non-zero exit on an invalid DDF.

use std::path::PathBuf;
use std::process::{Command, Output};

fn omadm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omadm")).args(args).output().expect("run omadm")
}

fn vector(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors").join(rel).to_string_lossy().into_owned()
}

#[test]
fn valid_ddf_reports_its_nodes() {
    let out = omadm(&["ddf", "check", &vector("ddf/aosp-syncmldm.ddf")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("292 nodes, 0 errors"), "{text}");
}

#[test]
fn invalid_ddfs_exit_non_zero() {
    let dir = std::env::temp_dir().join(format!("omadm-ddf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        // well-formed, but a leaf with children
        ("leaf-children.ddf", "<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>A</NodeName><DFProperties><AccessType><Get/></AccessType><DFFormat><int/></DFFormat><DFType><MIME>text/plain</MIME></DFType></DFProperties><Node><NodeName>B</NodeName></Node></Node></MgmtTree>"),
        // not a DDF
        ("not-ddf.ddf", "<SyncML/>"),
        // not XML
        ("garbage.ddf", "<MgmtTree><Node>"),
        // an unknown format
        ("bad-format.ddf", "<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>A</NodeName><DFProperties><AccessType><Get/></AccessType><DFFormat><colour/></DFFormat><DFType><MIME>text/plain</MIME></DFType></DFProperties></Node></MgmtTree>"),
    ];
    for (name, text) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = omadm(&["ddf", "check", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{name} passed: {}", String::from_utf8_lossy(&out.stdout));
    }
    let out = omadm(&["ddf", "check", &dir.join("missing.ddf").to_string_lossy()]);
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).ok();
}

/// A WBXML DDF (code page 2, the DDF public id) is checked like its XML form: the AOSP DDF encoded
/// by our encoder and, when libwbxml's `xml2wbxml` is installed, by libwbxml; a truncated file
/// and a WBXML DDF with an error exit non-zero.
#[test]
fn wbxml_ddfs_are_checked_too() {
    use omadm_proto::wbxml::{WbxmlOptions, WbxmlVersion};
    let dir = std::env::temp_dir().join(format!("omadm-ddf-cli-wbxml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let limits = omadm_proto::Limits::default();
    let to_wbxml = |xml: &[u8]| {
        let element = omadm_proto::xml::parse_element(xml, &limits).unwrap();
        omadm_proto::wbxml::encode_document(&element, &WbxmlOptions { version: WbxmlVersion::V1_2, string_table: true })
            .unwrap()
    };
    let check = |path: &std::path::Path| omadm(&["ddf", "check", path.to_str().unwrap()]);

    let source = vector("ddf/aosp-syncmldm.ddf");
    let ours = dir.join("aosp.wbxml");
    let wbxml = to_wbxml(&std::fs::read(&source).unwrap());
    std::fs::write(&ours, &wbxml).unwrap();
    let out = check(&ours);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("292 nodes, 0 errors"), "{text}");

    let libwbxml = dir.join("aosp-libwbxml.wbxml");
    match Command::new("xml2wbxml").arg("-o").arg(&libwbxml).arg(&source).output() {
        Ok(run) if run.status.success() => {
            let out = check(&libwbxml);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && text.contains("292 nodes, 0 errors"), "{text}");
        }
        _ => eprintln!("notice: libwbxml's xml2wbxml is not installed; the libwbxml-encoded DDF check is skipped"),
    }

    let truncated = dir.join("truncated.wbxml");
    std::fs::write(&truncated, &wbxml[..wbxml.len() / 2]).unwrap();
    assert!(!check(&truncated).status.success());

    let bad = dir.join("leaf-children.wbxml");
    std::fs::write(&bad, to_wbxml(b"<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>A</NodeName><DFProperties><AccessType><Get/></AccessType><DFFormat><int/></DFFormat><DFType><MIME>text/plain</MIME></DFType></DFProperties><Node><NodeName>B</NodeName></Node></Node></MgmtTree>")).unwrap();
    let out = check(&bad);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 errors"), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::remove_dir_all(&dir).ok();
}
