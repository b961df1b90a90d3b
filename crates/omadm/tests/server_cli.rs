//! `omadm server`, `omadm devices` and `omadm jobs` as an operator runs them: the server process
//! from a TOML file and flags, devices and jobs through the REST API, a DM session of a scripted
//! device over HTTP, `jobs show` with status codes and results, and a kill and restart.

use omadm_proto::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};

const TOKEN: &str = "cli-token";

/// A running `omadm server` child, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn omadm() -> Process {
    let mut p = Process::new(env!("CARGO_BIN_EXE_omadm"));
    p.env_remove("OMADM_API_TOKEN").env_remove("OMADM_API").env_remove("OMADM_DB").env_remove("OMADM_LISTEN");
    p
}

/// Starts the server in `dir` with `args` and reads its address from the banner.
fn start_server(dir: &Path, args: &[&str]) -> (Server, Vec<String>) {
    let mut child = omadm()
        .arg("server")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn omadm server");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    while !lines.last().is_some_and(|l: &String| l.contains("OpenAPI:")) {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read banner") == 0 {
            panic!("the server exited early; banner so far: {lines:?}");
        }
        lines.push(line.trim_end().to_string());
    }
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
    });
    let addr = lines[0].rsplit(' ').next().expect("address").to_string();
    (Server { child, addr }, lines)
}

fn run(args: &[&str], api: &str) -> (bool, String, String) {
    let out = omadm()
        .args(args)
        .args(["--api", &format!("http://{api}")])
        .env("OMADM_API_TOKEN", TOKEN)
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// POSTs one XML DM message and returns the decoded reply.
fn post(url: &str, message: &SyncMl) -> SyncMl {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').expect("path"));
    let body = xml::encode(message, &xml::XmlOptions::default());
    let mut stream = TcpStream::connect(authority).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/vnd.syncml.dm+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    stream.write_all(&body).expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end") + 4;
    assert!(response.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response[..split]));
    decode(&response[split..], &Limits::DEFAULT).expect("reply decodes").0
}

fn header(dev_id: &str, msg: u32, dm_url: &str, cred: Option<Cred>) -> SyncHdr {
    SyncHdr {
        ver_dtd: VerDtd::V1_2,
        ver_proto: VerProto::Dm1_2,
        session_id: "7".into(),
        msg_id: msg.to_string(),
        target: Location::new(dm_url),
        source: Location::new(dev_id),
        resp_uri: None,
        no_resp: false,
        cred,
        meta: None,
    }
}

/// One session of a device with basic authentication that answers Gets with `value of URI`.
fn device_session(dev_id: &str, secret: &str, dm_url: &str) {
    let basic = omadm_security::Credential::compute(
        &omadm_security::AuthScheme::Basic,
        &omadm_security::AccountCredentials::new(dev_id, secret),
        &omadm_security::Nonce::default(),
    )
    .expect("cred");
    let cred = Cred {
        meta: Some(Meta { format: Some(Format::B64), media_type: Some("syncml:auth-basic".into()), ..Meta::default() }),
        data: basic.data,
    };
    let alert = Command::Alert(Alert {
        cmd_id: "1".into(),
        no_resp: false,
        cred: None,
        code: Some(AlertCode::ClientInitiatedMgmt),
        correlator: None,
        items: Vec::new(),
    });
    let mut reply = post(
        dm_url,
        &SyncMl {
            header: header(dev_id, 1, dm_url, Some(cred)),
            body: SyncBody { commands: vec![alert], is_final: true },
        },
    );
    let mut msg = 1;
    loop {
        let Command::Status(hdr_status) = &reply.body.commands[0] else { panic!("no header status") };
        assert!(hdr_status.code.is_success(), "{:?}", hdr_status.code);
        let mut answer = Vec::new();
        for cmd in &reply.body.commands {
            if matches!(cmd, Command::Status(_)) {
                continue;
            }
            answer.push(Command::Status(Status::new(
                (answer.len() + 1).to_string(),
                Some(reply.header.msg_id.clone()),
                cmd.cmd_id(),
                cmd.name(),
                StatusCode::Ok,
            )));
            if let Command::Atomic(c) | Command::Sequence(c) = cmd {
                for inner in &c.commands {
                    answer.push(Command::Status(Status::new(
                        (answer.len() + 1).to_string(),
                        Some(reply.header.msg_id.clone()),
                        inner.cmd_id(),
                        inner.name(),
                        StatusCode::Ok,
                    )));
                }
            }
            if let Command::Get(get) = cmd {
                let uri = get.items[0].target.as_ref().expect("target").loc_uri.clone();
                answer.push(Command::Results(Results {
                    cmd_id: (answer.len() + 1).to_string(),
                    msg_ref: Some(reply.header.msg_id.clone()),
                    cmd_ref: get.cmd_id.clone(),
                    items: vec![Item {
                        source: Some(Location::new(uri.clone())),
                        data: Some(Data::Text(format!("value of {uri}"))),
                        ..Item::default()
                    }],
                    ..Results::default()
                }));
            }
        }
        if answer.is_empty() {
            break;
        }
        msg += 1;
        let next = reply.header.resp_uri.clone().expect("RespURI");
        reply = post(
            &next,
            &SyncMl { header: header(dev_id, msg, dm_url, None), body: SyncBody { commands: answer, is_final: true } },
        );
    }
}

#[test]
fn operator_cli_against_a_running_server_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("omadm.toml"),
        format!("listen = \"127.0.0.1:0\"\napi_token = \"{TOKEN}\"\ndb = \"sqlite://state.db\"\n"),
    )
    .expect("config");
    let (server, banner) = start_server(dir.path(), &["--config", "omadm.toml"]);
    let text = banner.join("\n");
    assert!(text.contains("sqlite://state.db"), "{text}");
    assert!(text.contains(&format!("DM endpoint:  http://{}/dm", server.addr)), "{text}");
    assert!(text.contains("/api/docs") && text.contains("/api/openapi.json"), "{text}");
    assert!(!text.contains("API token:"), "a configured token is not printed");
    assert!(dir.path().join("state.db").exists(), "the database file is created");
    let api = server.addr.clone();

    let (ok, out, err) =
        run(&["devices", "add", "--dev-id", "IMEI:42", "--client-auth", "basic", "--client-secret", "pw"], &api);
    assert!(ok, "{err}");
    assert!(out.contains("client auth: basic as IMEI:42"), "{out}");
    let (ok, _, err) = run(&["devices", "add", "--dev-id", "IMEI:42"], &api);
    assert!(!ok);
    assert!(err.contains("409"), "{err}");
    let (ok, _, err) = run(&["devices", "add", "--dev-id", "X", "--client-auth", "rot13"], &api);
    assert!(!ok && err.contains("rot13"), "{err}");
    let (ok, out, _) = run(
        &[
            "devices",
            "add",
            "--dev-id",
            "IMEI:43",
            "--server-id",
            "mgmt",
            "--server-auth",
            "hmac",
            "--server-user",
            "srv",
            "--server-secret",
            "s2",
            "--client-user",
            "u43",
        ],
        &api,
    );
    assert!(ok);
    assert!(
        out.contains("server_id:   mgmt")
            && out.contains("server auth: hmac as srv")
            && out.contains("client auth: md5 as u43"),
        "{out}"
    );
    assert!(out.contains("client secret (generated, shown once):"), "{out}");
    let (ok, out, _) = run(&["devices", "list"], &api);
    assert!(ok && out.contains("IMEI:42") && out.contains("IMEI:43"), "{out}");

    let (ok, out, err) = run(
        &[
            "jobs",
            "create",
            "--dev-id",
            "IMEI:42",
            "--get",
            "./DevDetail/FwV",
            "--get",
            "./DevInfo/Lang",
            "--replace",
            "./Vendor/Color=blue",
            "--exec",
            "./Vendor/Reboot",
        ],
        &api,
    );
    assert!(ok, "{err}");
    let job: i64 = out.trim().parse().expect("the job id alone");
    let (ok, out, _) =
        run(&["jobs", "create", "--dev-id", "IMEI:42", "--replace", "./A=1", "--replace", "./B=2", "--atomic"], &api);
    assert!(ok);
    let atomic_job: i64 = out.trim().parse().expect("id");
    let (ok, _, err) = run(&["jobs", "create", "--dev-id", "IMEI:42", "--get", "./A", "--atomic"], &api);
    assert!(!ok && err.contains("--atomic"), "{err}");
    let (ok, out, _) = run(&["jobs", "show", &job.to_string()], &api);
    assert!(ok && out.contains(": queued") && out.contains("Get ./DevDetail/FwV: pending"), "{out}");

    // Wrong or missing token.
    let out = omadm()
        .args(["devices", "list", "--api", &format!("http://{api}"), "--api-token", "wrong"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    device_session("IMEI:42", "pw", &format!("http://{api}/dm"));
    let (ok, out, _) = run(&["jobs", "show", &job.to_string()], &api);
    assert!(ok);
    assert!(out.contains(&format!("job {job} on IMEI:42: completed")), "{out}");
    assert!(
        out.contains("Get ./DevDetail/FwV: 200") && out.contains("./DevDetail/FwV = value of ./DevDetail/FwV"),
        "{out}"
    );
    assert!(
        out.contains("./DevInfo/Lang = value of ./DevInfo/Lang") && out.contains("Exec ./Vendor/Reboot: 200"),
        "{out}"
    );
    let (_, out, _) = run(&["jobs", "show", &atomic_job.to_string()], &api);
    assert!(out.contains("1. Atomic: 200") && out.contains("1.2. Replace ./B: 200"), "{out}");

    // Kill the server (no clean shutdown) and start it again on the same database.
    drop(server);
    let (server, _) =
        start_server(dir.path(), &["--listen", "127.0.0.1:0", "--db", "sqlite://state.db", "--api-token", TOKEN]);
    let api = server.addr.clone();
    let (ok, out, _) = run(&["jobs", "show", &job.to_string()], &api);
    assert!(ok && out.contains("completed") && out.contains("value of ./DevInfo/Lang"), "{out}");
    let (ok, out, _) = run(&["devices", "show", "IMEI:42"], &api);
    assert!(ok && out.contains("last session: ") && !out.contains("never"), "{out}");
}

#[test]
fn a_generated_token_is_printed_and_the_default_database_is_omadm_db() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, banner) = start_server(dir.path(), &["--listen", "127.0.0.1:0"]);
    let text = banner.join("\n");
    assert!(text.contains("database:     sqlite://omadm.db"), "{text}");
    assert!(dir.path().join("omadm.db").exists());
    let line = banner.iter().find(|l| l.contains("API token:")).expect("token line");
    let token = line.split_whitespace().nth(2).expect("token");
    let out = omadm()
        .args(["devices", "list", "--api", &format!("http://{}", server.addr)])
        .env("OMADM_API_TOKEN", token)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_server_settings_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = omadm()
        .args(["server", "--db", "mysql://x", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
    let out = omadm().args(["server", "--tls-cert", "x.pem"]).current_dir(dir.path()).output().expect("run");
    assert!(!out.status.success(), "--tls-cert needs --tls-key");
    std::fs::write(dir.path().join("bad.toml"), "listen = 5\n").expect("write");
    let out = omadm().args(["server", "--config", "bad.toml"]).current_dir(dir.path()).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}

#[test]
fn tls_flags_serve_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = omadm_server::tls::self_signed(&["localhost".into()]).expect("certificate");
    std::fs::write(dir.path().join("cert.pem"), &pem.cert_pem).expect("write");
    std::fs::write(dir.path().join("key.pem"), &pem.key_pem).expect("write");
    let (server, banner) = start_server(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "key.pem", "--dm-path", "/omadm"],
    );
    let text = banner.join("\n");
    assert!(text.contains(&format!("DM endpoint:  https://{}/omadm", server.addr)), "{text}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/1.1 200"));
    // A missing key file is reported.
    let out = omadm()
        .args(["server", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "missing.pem"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pem"));
}

#[test]
fn the_operator_cli_speaks_https_with_ssl_cert_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = omadm_server::tls::self_signed(&["localhost".into(), "127.0.0.1".into()]).expect("certificate");
    std::fs::write(dir.path().join("cert.pem"), &pem.cert_pem).expect("write");
    std::fs::write(dir.path().join("key.pem"), &pem.key_pem).expect("write");
    let (server, _) = start_server(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "key.pem", "--api-token", TOKEN],
    );
    let api = format!("https://{}", server.addr);
    let out = omadm()
        .args(["devices", "add", "--dev-id", "IMEI:tls", "--api", &api])
        .env("OMADM_API_TOKEN", TOKEN)
        .env("SSL_CERT_FILE", dir.path().join("cert.pem"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = omadm()
        .args(["devices", "list", "--api", &api])
        .env("OMADM_API_TOKEN", TOKEN)
        .env("SSL_CERT_FILE", dir.path().join("missing.pem"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pem"));
}
