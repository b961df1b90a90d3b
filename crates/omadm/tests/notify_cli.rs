//! `omadm notify build|parse` run as a user would: the built binary, its output and exit status.

use std::process::{Command, Output};

const PACKAGE0_TSV: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/package0.tsv"));

fn omadm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omadm")).args(args).output().expect("run omadm")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build(args: &[&str]) -> String {
    let mut all = vec!["notify", "build"];
    all.extend_from_slice(args);
    let out = omadm(&all);
    assert!(out.status.success(), "build failed: {}", String::from_utf8_lossy(&out.stderr));
    stdout(&out).trim().to_owned()
}

#[test]
fn build_reproduces_the_package0_vectors() {
    for line in PACKAGE0_TSV.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let mut args = vec!["--server-id", f[1], "--password", f[2], "--session-id", f[7]];
        args.extend_from_slice(&["--ui-mode", f[5], "--initiator", f[6]]);
        if !f[3].is_empty() {
            args.extend_from_slice(&["--nonce", f[3]]);
        }
        assert_eq!(build(&args), f[8], "row {}", f[0]);
    }
}

#[test]
fn build_then_parse_verifies() {
    let hex = build(&[
        "--server-id",
        "com.mgmtsrv.manage",
        "--password",
        "secret",
        "--nonce",
        "abc",
        "--session-id",
        "0xABCD",
        "--ui-mode",
        "3",
        "--initiator",
        "0",
        "--vendor-data",
        "cafe",
    ]);
    let out = omadm(&[
        "notify",
        "parse",
        &hex,
        "--server-id",
        "com.mgmtsrv.manage",
        "--password",
        "secret",
        "--nonce",
        "abc",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    for want in [
        "version: 11 (1.1)",
        "ui-mode: 3 (user interaction)",
        "initiator: 0 (user)",
        "session-id: ABCD (decimal 43981)",
        "server-id: com.mgmtsrv.manage",
        "vendor-data: cafe",
        "verified: yes",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn wrong_password_exits_non_zero() {
    let hex = build(&[
        "--server-id",
        "funambol",
        "--password",
        "srvpwd",
        "--session-id",
        "1",
        "--ui-mode",
        "1",
        "--initiator",
        "1",
    ]);
    let out = omadm(&["notify", "parse", &hex, "--server-id", "funambol", "--password", "WRONG"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("verified: no"), "{}", stdout(&out));
}

#[test]
fn dm13_build_and_parse_from_a_file() {
    let hex = build(&[
        "--server-id",
        "srv",
        "--password",
        "pw",
        "--session-id",
        "7",
        "--ui-mode",
        "2",
        "--initiator",
        "1",
        "--version",
        "1.3",
        "--hash",
        "sha256",
    ]);
    assert!(hex.starts_with("0368"), "version 13, ui-mode 2, initiator 1: {hex}");
    let path = std::env::temp_dir().join(format!("omadm-notify-{}.hex", std::process::id()));
    std::fs::write(&path, format!("{hex}\n")).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let out = omadm(&["notify", "parse", p, "--server-id", "srv", "--password", "pw"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("format: DM 1.3 notification (application/vnd.syncml.dm.notification)"), "{text}");
    assert!(text.contains("(SHA-256)"), "{text}");
    let wrong = omadm(&["notify", "parse", p, "--server-id", "srv", "--password", "pw", "--hash", "md5"]);
    assert!(!wrong.status.success());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn malformed_input_is_an_error() {
    let out = omadm(&["notify", "parse", "0102", "--server-id", "a", "--password", "b"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = omadm(&["notify", "parse", "xyz", "--server-id", "a", "--password", "b"]);
    assert!(!out.status.success());
}
