//! `omadm client` as a user runs it, against a scripted DM server on a local socket: `--once`
//! exit codes, the flags (auth both ways, `--wbxml`, `--store`, `--notification`, `--bootstrap`,
//! `--ui scripted`, `--profile`), and a readable log; and a client certificate (flags and profile)
//! against a real `omadm server` that requires one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use omadm_proto::*;
use omadm_security::notification::GeneralNotification;
use omadm_security::{
    AccountCredentials, AuthScheme, Credential, Initiator, Nonce, NonceLedger, Notification, NotificationKey,
    OsNonceSource, Presented, SessionId, UiMode, Verifier,
};

const DEV_ID: &str = "IMEI:490154203237518";

/// One request the scripted server saw.
#[derive(Debug, Clone)]
struct Seen {
    content_type: String,
    message: SyncMl,
}

/// What the server answers: (HTTP status, body).
type Script = Box<dyn FnMut(&SyncMl, u32) -> (u16, Option<SyncMl>) + Send>;

/// A DM server on a local port answering each POST with the script.
fn serve(mut script: Script) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/dm", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let mut len = 0usize;
                let mut ctype = String::new();
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("content-type:") {
                        ctype = v.trim().to_string();
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    break;
                }
                n += 1;
                let (msg, enc) = omadm_proto::decode(&body, &Limits::default()).unwrap();
                log.lock().unwrap().push(Seen { content_type: ctype, message: msg.clone() });
                let (status, reply) = script(&msg, n);
                let bytes = match reply {
                    Some(r) if enc == Encoding::Wbxml => omadm_proto::wbxml::encode(&r, &Default::default()).unwrap(),
                    Some(r) => omadm_proto::xml::encode(&r, &Default::default()),
                    None => Vec::new(),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
                    enc.media_type(),
                    bytes.len()
                );
                if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&bytes)).is_err() {
                    break;
                }
            }
        }
    });
    (url, seen)
}

fn server_msg(client: &SyncMl, msg_id: u32, commands: Vec<Command>) -> SyncMl {
    SyncMl {
        header: SyncHdr {
            ver_dtd: VerDtd::V1_2,
            ver_proto: VerProto::Dm1_2,
            session_id: client.header.session_id.clone(),
            msg_id: msg_id.to_string(),
            target: Location::new(client.header.source.loc_uri.clone()),
            source: Location::new(client.header.target.loc_uri.clone()),
            resp_uri: None,
            no_resp: false,
            cred: None,
            meta: None,
        },
        body: SyncBody { commands, is_final: true },
    }
}

fn hdr(client: &SyncMl, code: u16, chal: Option<(&str, &Nonce)>) -> Command {
    Command::Status(Status {
        cmd_id: "1".into(),
        msg_ref: Some(client.header.msg_id.clone()),
        cmd_ref: "0".into(),
        cmd: CommandName::SyncHdr,
        target_refs: vec![],
        source_refs: vec![],
        cred: None,
        chal: chal.map(|(t, n)| Chal {
            meta: Meta {
                format: Some(Format::B64),
                media_type: Some(t.into()),
                next_nonce: Some(n.to_next_nonce()),
                ..Meta::default()
            },
        }),
        code: StatusCode::from_code(code),
        items: vec![],
    })
}

fn get(id: &str, uri: &str) -> Command {
    Command::Get(ItemCommand {
        cmd_id: id.into(),
        no_resp: false,
        cred: None,
        meta: None,
        items: vec![Item { target: Some(Location::new(uri)), ..Item::default() }],
    })
}

fn has_alert(m: &SyncMl, code: u16) -> bool {
    m.body.commands.iter().any(|c| matches!(c, Command::Alert(a) if a.code.map(|c| c.code()) == Some(code)))
}

/// The usual server: checks MD5 credentials with its own Verifier, then Gets DevInfo/DevId.
fn md5_server(secret: &'static str) -> Script {
    let mut ledger = NonceLedger::new(Nonce::from_bytes(b"first".to_vec()));
    let mut authenticated = false;
    Box::new(move |m, n| {
        let cred = m
            .header
            .cred
            .as_ref()
            .map(|c| Credential::from_meta(Some("syncml:auth-md5"), Some("b64"), &c.data).unwrap());
        let has_results = m.body.commands.iter().any(|c| matches!(c, Command::Results(_)));
        if authenticated {
            let h = hdr(m, 200, None);
            return (
                200,
                Some(server_msg(m, n, if has_results { vec![h] } else { vec![h, get("2", "./DevInfo/DevId")] })),
            );
        }
        let mut source = OsNonceSource;
        let mut v =
            Verifier::new(AccountCredentials::new(DEV_ID, secret), AuthScheme::Md5, ledger.clone(), &mut source);
        let verdict = match &cred {
            Some(c) => v.check(Presented::Cred(c)).unwrap(),
            None => v.check(Presented::Nothing).unwrap(),
        };
        ledger = v.ledger().clone();
        if !verdict.accepted() {
            let nonce =
                verdict.challenge.as_ref().and_then(|c| c.next_nonce.clone()).unwrap_or(Nonce::from_bytes(vec![]));
            return (
                200,
                Some(server_msg(m, n, vec![hdr(m, verdict.status.code(), Some(("syncml:auth-md5", &nonce)))])),
            );
        }
        authenticated = true;
        let next = verdict.challenge.as_ref().and_then(|c| c.next_nonce.clone());
        let h = hdr(m, verdict.status.code(), next.as_ref().map(|nn| ("syncml:auth-md5", nn)));
        if has_results {
            (200, Some(server_msg(m, n, vec![h])))
        } else {
            (200, Some(server_msg(m, n, vec![h, get("2", "./DevInfo/DevId")])))
        }
    })
}

fn omadm(args: &[&str], dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_omadm")).current_dir(dir).arg("client").args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn once_completes_an_md5_session_after_a_challenge_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(md5_server("s3cret"));
    let out = omadm(&["--once", "--server", &url, "--dev-id", DEV_ID, "--client-secret", "s3cret"], dir.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("session completed"), "{err}");
    assert!(err.contains("Get(./DevInfo/DevId)"), "the log shows the commands: {err}");
    assert!(err.contains("Status(Get 2 200)"), "the log shows the statuses: {err}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "Package 1, Package 1 again after the challenge, Package 3");
    assert!(has_alert(&seen[0].message, 1201));
    assert!(has_alert(&seen[1].message, 1201));
    assert_eq!(seen[0].message.header.source.loc_name.as_deref(), Some(DEV_ID), "default user name = DevId");
    assert_eq!(seen[0].content_type, "application/vnd.syncml.dm+xml");
}

#[test]
fn once_fails_clearly_on_a_wrong_secret_an_http_error_or_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = serve(md5_server("right"));
    let out = omadm(&["--once", "--server", &url, "--dev-id", DEV_ID, "--client-secret", "wrong"], dir.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("authentication failed"), "{}", stderr(&out));

    let (url, _) = serve(Box::new(|_, _| (500, None)));
    let out = omadm(&["--once", "--server", &url, "--client-secret", "x", "--timeout", "5"], dir.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("HTTP 500"), "{}", stderr(&out));

    let out = omadm(&["--once", "--dev-id", DEV_ID], dir.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--client-secret"), "{}", stderr(&out));
}

#[test]
fn wbxml_and_a_store_that_keeps_the_nonce_for_the_next_session() {
    for name in ["device.redb", "device.snap"] {
        store_keeps_the_nonce(name);
    }
}

fn store_keeps_the_nonce(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(md5_server("pw"));
    let store = dir.path().join(name);
    let store = store.to_str().unwrap();
    let args = ["--once", "--wbxml", "--server", &url, "--dev-id", DEV_ID, "--client-secret", "pw", "--store", store];
    let out = omadm(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(seen.lock().unwrap()[0].content_type, "application/vnd.syncml.dm+wbxml");
    let first_run = seen.lock().unwrap().len();
    // Second run, no credential flags: the account and the server's NextNonce come from the store.
    let out = omadm(&["--once", "--wbxml", "--dev-id", DEV_ID, "--store", store], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let second_run = seen.lock().unwrap().len() - first_run;
    assert_eq!(second_run, 2, "no challenge round trip: the stored nonce was right");
}

#[test]
fn a_notification_starts_a_server_initiated_session() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(md5_server("pw"));
    let pkg0 =
        Notification::Dm12(GeneralNotification::new("omadm", SessionId(0x2F), UiMode::Background, Initiator::Server))
            .build(&NotificationKey::md5("omadm", "srv-pw", Nonce::from_bytes(vec![])))
            .unwrap();
    let hex: String = pkg0.iter().map(|b| format!("{b:02x}")).collect();
    let base = ["--once", "--server", &url, "--dev-id", DEV_ID, "--client-secret", "pw"];
    let mut args = base.to_vec();
    args.extend(["--server-auth", "md5", "--server-secret", "srv-pw", "--notification", &hex]);
    let out = omadm(&args, dir.path());
    let err = stderr(&out);
    // The scripted server sends no server credentials: the client challenges it (407), which this
    // simple server ignores, so the session itself cannot complete; what matters here is that
    // the notification started it as asked.
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "{err}");
    assert!(has_alert(&seen[0].message, 1200), "Alert 1200: {err}");
    assert_eq!(seen[0].message.header.session_id, "2F");
    drop(seen);

    let mut bad = base.to_vec();
    bad.extend(["--server-auth", "md5", "--server-secret", "other", "--notification", &hex]);
    let out = omadm(&bad, dir.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("notification was refused"), "{}", stderr(&out));
}

#[test]
fn a_wap_bootstrap_file_installs_the_account_and_connects() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(md5_server("boot-pw"));
    let doc = format!(
        r#"<?xml version="1.0"?>
<wap-provisioningdoc version="1.1">
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w7"/>
    <parm name="PROVIDER-ID" value="bootsrv"/>
    <parm name="NAME" value="Boot"/>
    <characteristic type="APPADDR"><parm name="ADDR" value="{url}"/></characteristic>
    <characteristic type="APPAUTH">
      <parm name="AAUTHLEVEL" value="APPSRV"/><parm name="AAUTHTYPE" value="DIGEST"/>
      <parm name="AAUTHNAME" value="{DEV_ID}"/><parm name="AAUTHSECRET" value="boot-pw"/>
    </characteristic>
  </characteristic>
</wap-provisioningdoc>"#
    );
    let file = dir.path().join("boot.xml");
    std::fs::write(&file, doc).unwrap();
    let out = omadm(
        &["--once", "--dev-id", DEV_ID, "--server-id", "bootsrv", "--bootstrap", file.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("bootstrapped account bootsrv"));
    assert!(!seen.lock().unwrap().is_empty());
}

#[test]
fn a_profile_with_a_scripted_ui() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(Box::new(|m, n| {
        let alert = Command::Alert(Alert {
            cmd_id: "2".into(),
            no_resp: false,
            cred: None,
            code: Some(AlertCode::TextInput),
            correlator: None,
            items: vec![
                Item { data: Some(Data::from("MAXLEN=10")), ..Item::default() },
                Item { data: Some(Data::from("Name?")), ..Item::default() },
            ],
        });
        if n == 1 {
            (200, Some(server_msg(m, n, vec![hdr(m, 212, None), alert])))
        } else {
            (200, Some(server_msg(m, n, vec![hdr(m, 200, None)])))
        }
    }));
    std::fs::write(dir.path().join("answers.txt"), "# one per alert\ntext:Alice\n").unwrap();
    let profile = format!(
        r#"dev_id = "{DEV_ID}"
ui = "scripted"
ui_script = "answers.txt"

[device]
man = "Acme"
model = "Rocket"

[[account]]
server_id = "omadm"
server_url = "{url}"
client_auth = "basic"
client_secret = "pw"
"#
    );
    std::fs::write(dir.path().join("device.toml"), profile).unwrap();
    let out = omadm(&["--once", "--profile", "device.toml"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = seen.lock().unwrap();
    let Command::Replace(devinfo) = &seen[0].message.body.commands[1] else { panic!() };
    assert!(devinfo.items.iter().any(|i| i.data == Some(Data::from("Acme"))), "DevInfo/Man from the profile");
    let answer = seen[1]
        .message
        .body
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Status(s) if s.cmd_ref == "2" => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(answer.items[0].data, Some(Data::from("Alice")));
    drop(seen);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "no_such_key = 1\n").unwrap();
    let out = omadm(&["--once", "--profile", bad.to_str().unwrap()], dir.path());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.toml"), "{}", stderr(&out));
}

#[test]
fn without_once_the_device_polls_its_server() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(md5_server("pw"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_omadm"))
        .current_dir(dir.path())
        .args(["client", "--poll", "1", "--server", &url, "--dev-id", DEV_ID, "--client-secret", "pw"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let sessions = || {
        let s = seen.lock().unwrap();
        s.iter().filter(|r| r.message.header.msg_id == "1").count()
    };
    while sessions() < 2 && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(still_running, "the device stays up between sessions");
    assert!(sessions() >= 2, "a second session after the poll interval");
}

/// The 1226 alerts of type `meta_type` in a message.
fn generic_alerts_of<'m>(m: &'m SyncMl, meta_type: &str) -> Vec<&'m Alert> {
    m.body
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Alert(a)
                if a.code.map(|c| c.code()) == Some(1226)
                    && a.items
                        .iter()
                        .any(|i| i.meta.as_ref().and_then(|m| m.media_type.as_deref()) == Some(meta_type)) =>
            {
                Some(a)
            }
            _ => None,
        })
        .collect()
}

/// [`md5_server`] that also answers every 1226 with 200 once the device is authenticated.
fn acknowledging_server(secret: &'static str) -> Script {
    let mut inner = md5_server(secret);
    Box::new(move |m, n| {
        let (status, reply) = inner(m, n);
        let reply = reply.map(|mut reply| {
            let authenticated = matches!(reply.body.commands.first(),
                Some(Command::Status(s)) if (200..300).contains(&s.code.code()));
            let alerts = m.body.commands.iter().filter_map(|c| match c {
                Command::Alert(a) if authenticated && a.code.map(|c| c.code()) == Some(1226) => Some(a),
                _ => None,
            });
            let acks: Vec<Command> = alerts
                .enumerate()
                .map(|(i, a)| {
                    Command::Status(Status::new(
                        (10 + i).to_string(),
                        Some(m.header.msg_id.clone()),
                        a.cmd_id.clone(),
                        CommandName::Alert,
                        StatusCode::Ok,
                    ))
                })
                .collect();
            reply.body.commands.splice(1..1, acks);
            reply
        });
        (status, reply)
    })
}

#[test]
fn a_generic_alert_waits_in_the_store_until_a_server_acknowledges_it() {
    const TYPE: &str = "org.example.battery";
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("device.redb");
    let pending = dir.path().join("device.redb.pending-alerts.json");
    let run = |url: &str, secret: &str| {
        let flags = ["--once", "--timeout", "5", "--server", url, "--dev-id", DEV_ID, "--client-secret", secret];
        let store = ["--store", store.to_str().unwrap(), "--generic-alert", "org.example.battery@./Vendor/Battery=low"];
        omadm(&[&flags[..], &store[..]].concat(), dir.path())
    };

    // No server listening: the report waits in the file.
    let unreachable =
        format!("http://127.0.0.1:{}/dm", TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    assert!(!run(&unreachable, "pw").status.success());
    assert!(std::fs::read_to_string(&pending).unwrap().contains(TYPE), "kept after an unreachable server");

    // The server hears it but refuses the credentials, so it acknowledges nothing: still kept.
    let (url, seen) = serve(acknowledging_server("pw"));
    let out = run(&url, "wrong");
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(seen.lock().unwrap().iter().any(|r| !generic_alerts_of(&r.message, TYPE).is_empty()));
    assert!(std::fs::read_to_string(&pending).unwrap().contains(TYPE), "kept after a failed session");

    // The same command line against a working server: sent once (not once per run), acknowledged, forgotten.
    let before = seen.lock().unwrap().len();
    let out = run(&url, "pw");
    assert!(out.status.success(), "{}", stderr(&out));
    let seen_now = seen.lock().unwrap().clone();
    let per_message: Vec<usize> =
        seen_now[before..].iter().map(|r| generic_alerts_of(&r.message, TYPE).len()).collect();
    assert!(per_message.contains(&1) && per_message.iter().all(|&n| n <= 1), "{per_message:?}");
    assert!(!std::fs::read_to_string(&pending).unwrap().contains(TYPE), "forgotten once acknowledged");

    // Nothing left to report in the next session.
    let before = seen_now.len();
    let out = omadm(&["--once", "--dev-id", DEV_ID, "--store", store.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(seen.lock().unwrap()[before..].iter().all(|r| generic_alerts_of(&r.message, TYPE).is_empty()));
}

/// A CA and two certificates it issued (the server's for localhost, a device's), as PEM files.
fn mutual_tls_files(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "omadm test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    // The server's RespURI names 127.0.0.1, so its certificate holds both names.
    for (name, subjects) in [("server", vec!["localhost", "127.0.0.1"]), ("device", vec![DEV_ID])] {
        let key = KeyPair::generate().unwrap();
        let names = subjects.into_iter().map(str::to_string).collect::<Vec<_>>();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// `omadm server` on HTTPS requiring a client certificate from the test CA; devices enrol on
/// first contact with MD5 and `enrol-secret`.
struct MutualTlsServer {
    child: std::process::Child,
    url: String,
}

impl MutualTlsServer {
    fn start(dir: &Path) -> MutualTlsServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_omadm"))
            .current_dir(dir)
            .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--api-token", "token"])
            .arg("--db")
            .arg(format!("sqlite://{}", dir.join("omadm.db").display()))
            .arg("--tls-cert")
            .arg(dir.join("server.pem"))
            .arg("--tls-key")
            .arg(dir.join("server.key"))
            .env("OMADM_TLS_CLIENT_CA", dir.join("ca.pem"))
            .env("OMADM_ENROL_AUTH", "md5")
            .env("OMADM_ENROL_SECRET", "enrol-secret")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = MutualTlsServer { child, url: format!("https://localhost:{port}/dm") };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = server.child.try_wait().unwrap();
            assert!(exited.is_none() && std::time::Instant::now() < deadline, "omadm server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }
}

impl Drop for MutualTlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_client_certificate_from_flags_or_the_profile_gets_through_to_an_omadm_server_that_requires_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mutual_tls_files(d);
    let server = MutualTlsServer::start(d);
    let path = |name: &str| d.join(name).display().to_string();
    let (ca, cert, key) = (path("ca.pem"), path("device.pem"), path("device.key"));
    let common =
        ["--once", "--server", &server.url, "--dev-id", DEV_ID, "--ca", &ca, "--client-secret", "enrol-secret"];

    let mut with_flags = common.to_vec();
    with_flags.extend(["--client-cert", &cert, "--client-key", &key]);
    let out = omadm(&with_flags, d);
    assert!(out.status.success(), "with --client-cert: {}", stderr(&out));

    let profile = d.join("device.toml");
    std::fs::write(&profile, format!("client_cert = {cert:?}\nclient_key = {key:?}\n")).unwrap();
    let mut with_profile = common.to_vec();
    with_profile.extend(["--profile", profile.to_str().unwrap()]);
    let out = omadm(&with_profile, d);
    assert!(out.status.success(), "with the profile's client_cert: {}", stderr(&out));

    let out = omadm(&common, d);
    assert!(!out.status.success(), "without a client certificate the server refuses the connection");
    assert!(stderr(&out).to_ascii_lowercase().contains("certificate"), "{}", stderr(&out));

    std::fs::write(&profile, format!("client_cert = {cert:?}\n")).unwrap();
    let out = omadm(&with_profile, d);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("client_key"), "{}", stderr(&out));
}
