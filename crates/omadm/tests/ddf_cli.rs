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
