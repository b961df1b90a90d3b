//! The server over real HTTP and HTTPS: the REST API (every endpoint, authorization failures),
//! DM sessions of a scripted client in XML and WBXML, bad input, and a restart that loses nothing.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request, StatusCode as Http};
use hyper_util::rt::TokioIo;
use omadm_proto::*;
use omadm_security::{AccountCredentials, AuthScheme, Challenge, Nonce, Prover};
use omadm_server::client::ApiClient;
use omadm_server::http::{start, Running, Settings};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

#[path = "support/pg_database.rs"]
mod pg_database;
use pg_database::PgDatabase;

const TOKEN: &str = "test-token";

fn settings(dir: &tempfile::TempDir) -> Settings {
    let mut s = Settings::new(TOKEN);
    s.listen = "127.0.0.1:0".into();
    s.db_url = format!("sqlite://{}", dir.path().join("omadm.db").display());
    s.max_message_size = 256 * 1024;
    s
}

fn api(server: &Running) -> ApiClient {
    ApiClient::new(&server.api_url, Some(TOKEN.into())).expect("client")
}

/// POSTs a DM message over plain HTTP or TLS (trusting `root` when given).
async fn post(
    url: &str,
    body: Vec<u8>,
    content_type: &str,
    hmac: Option<String>,
    root: Option<&str>,
) -> (Http, hyper::HeaderMap, Vec<u8>) {
    let (scheme, rest) = url.split_once("://").expect("absolute URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let stream = TcpStream::connect(authority).await.expect("connect");
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(if path.is_empty() { "/" } else { path })
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(h) = hmac {
        request = request.header("x-syncml-hmac", h);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    let response = if scheme == "https" {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(root.expect("a root").as_bytes()) {
            roots.add(cert.expect("pem")).expect("root");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = connector.connect(name, stream).await.expect("TLS handshake");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.expect("handshake");
        tokio::spawn(conn);
        sender.send_request(request).await.expect("response")
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(conn);
        sender.send_request(request).await.expect("response")
    };
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, headers, bytes)
}

/// A scripted device talking to the server over HTTP.
struct Device {
    dev_id: String,
    prover: Prover,
    msg: u32,
    encoding: Encoding,
    url: String,
    dm_url: String,
    root: Option<String>,
    /// The body of the last message the server answered with 212.
    authenticated_body: Option<Vec<u8>>,
    /// The nonce the server gave with 212, for the next session.
    next_nonce: Option<Nonce>,
    /// The last message sent and its `x-syncml-hmac` header, to send it again.
    last_sent: Option<(Vec<u8>, Option<String>)>,
}

impl Device {
    fn new(dev_id: &str, scheme: AuthScheme, secret: &str, nonce: Nonce, dm_url: &str, encoding: Encoding) -> Device {
        Device {
            dev_id: dev_id.into(),
            prover: Prover::new(AccountCredentials::new(dev_id, secret), scheme, nonce),
            msg: 0,
            encoding,
            url: dm_url.into(),
            dm_url: dm_url.into(),
            root: None,
            authenticated_body: None,
            next_nonce: None,
            last_sent: None,
        }
    }

    async fn send(&mut self, commands: Vec<Command>) -> SyncMl {
        self.msg += 1;
        let cred = self.prover.credential().expect("cred").map(|c| Cred {
            meta: Some(Meta {
                format: Some(Format::B64),
                media_type: Some(c.scheme.as_str().into()),
                ..Meta::default()
            }),
            data: c.data,
        });
        let message = SyncMl {
            header: SyncHdr {
                ver_dtd: VerDtd::V1_2,
                ver_proto: VerProto::Dm1_2,
                session_id: "42".into(),
                msg_id: self.msg.to_string(),
                target: Location::new(self.dm_url.clone()),
                source: Location { loc_uri: self.dev_id.clone(), loc_name: Some(self.dev_id.clone()) },
                resp_uri: None,
                no_resp: false,
                cred,
                meta: Some(Meta { max_msg_size: Some(8192), ..Meta::default() }),
            },
            body: SyncBody { commands, is_final: true },
        };
        let body = match self.encoding {
            Encoding::Xml => xml::encode(&message, &xml::XmlOptions::default()),
            Encoding::Wbxml => wbxml::encode(&message, &wbxml::WbxmlOptions::default()).expect("encode"),
        };
        let hmac = self.prover.hmac_header(&body).map(|h| h.to_value());
        self.last_sent = Some((body.clone(), hmac.clone()));
        let (status, headers, bytes) =
            post(&self.url, body.clone(), self.encoding.media_type(), hmac, self.root.as_deref()).await;
        assert_eq!(status, Http::OK, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(headers[header::CONTENT_TYPE], self.encoding.media_type());
        let (reply, encoding) = decode(&bytes, &Limits::DEFAULT).expect("reply decodes");
        assert_eq!(encoding, self.encoding);
        let st = header_status(&reply);
        let chal =
            st.chal.as_ref().map(|c| Challenge::from_meta(c.meta.media_type.as_deref(), c.meta.next_nonce.as_deref()));
        // A refusal without a challenge is the server's last word; the test reads it from the reply.
        let _ = self.prover.on_status(st.code.code(), chal.as_ref());
        if st.code == StatusCode::AuthenticationAccepted {
            self.authenticated_body = Some(body);
            self.next_nonce = chal.and_then(|c| c.next_nonce);
        }
        if let Some(resp) = &reply.header.resp_uri {
            self.url = resp.clone();
        }
        reply
    }

    fn package1() -> Vec<Command> {
        vec![
            Command::Alert(Alert {
                cmd_id: "1".into(),
                no_resp: false,
                cred: None,
                code: Some(AlertCode::ClientInitiatedMgmt),
                correlator: None,
                items: Vec::new(),
            }),
            Command::Replace(ItemCommand {
                cmd_id: "2".into(),
                items: vec![Item {
                    source: Some(Location::new("./DevInfo/Man")),
                    data: Some(Data::Text("Acme".into())),
                    ..Item::default()
                }],
                ..ItemCommand::default()
            }),
        ]
    }

    /// Answers every command of `reply` with 200 and every Get with a value; returns the answer.
    fn answer(reply: &SyncMl) -> Vec<Command> {
        let mut out = Vec::new();
        let status = |cmd: &Command| {
            Command::Status(Status::new(
                "1",
                Some(reply.header.msg_id.clone()),
                cmd.cmd_id(),
                cmd.name(),
                StatusCode::Ok,
            ))
        };
        for cmd in &reply.body.commands {
            match cmd {
                Command::Status(_) => {}
                Command::Get(get) => {
                    out.push(status(cmd));
                    let uri = get.items[0].target.as_ref().expect("target").loc_uri.clone();
                    out.push(Command::Results(Results {
                        cmd_id: "2".into(),
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
                Command::Atomic(c) | Command::Sequence(c) => {
                    out.push(status(cmd));
                    out.extend(c.commands.iter().map(status));
                }
                other => out.push(status(other)),
            }
        }
        out
    }

    /// Runs a whole session: Package 1, then answers until the server has nothing left.
    async fn session(&mut self) -> usize {
        self.url = self.dm_url.clone();
        self.msg = 0;
        let mut reply = self.send(Device::package1()).await;
        let mut rounds = 1;
        while matches!(header_status(&reply).code, StatusCode::InvalidCredentials | StatusCode::MissingCredentials) {
            assert!(rounds < 3, "not authenticated after {rounds} tries");
            reply = self.send(Device::package1()).await;
            rounds += 1;
        }
        while reply.body.commands.iter().any(|c| !matches!(c, Command::Status(_))) {
            reply = self.send(Device::answer(&reply)).await;
            rounds += 1;
        }
        rounds
    }
}

fn header_status(reply: &SyncMl) -> &Status {
    match &reply.body.commands[0] {
        Command::Status(st) => st,
        other => panic!("no header Status: {other:?}"),
    }
}

async fn add_device(api: &ApiClient, dev_id: &str, auth: &str) -> Value {
    api.call(
        Method::POST,
        "/api/devices",
        Some(&json!({ "dev_id": dev_id, "client_auth": auth, "client_secret": "devsecret" })),
    )
    .await
    .expect("device added")
}

/// The client's stored nonce: what the server handed out at provisioning is not visible through
/// the API, so the first session starts from a wrong nonce and is re-challenged (as real devices are).
fn fresh_device(server: &Running, dev_id: &str, scheme: AuthScheme, encoding: Encoding) -> Device {
    Device::new(dev_id, scheme, "devsecret", Nonce::from_bytes(b"unknown".to_vec()), &server.dm_url, encoding)
}

#[tokio::test]
async fn api_endpoints_and_authorization() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    let api = api(&server);

    // Authorization failures: no token, a wrong token, on every protected route.
    let anonymous = ApiClient::new(&server.api_url, None).expect("client");
    let wrong = ApiClient::new(&server.api_url, Some("nope".into())).expect("client");
    for path in ["/api/devices", "/api/jobs", "/api/events", "/api/groups", "/api/devices/x", "/api/jobs/1"] {
        for client in [&anonymous, &wrong] {
            let (status, body) = client.send(Method::GET, path, None).await.expect("send");
            assert_eq!(status, Http::UNAUTHORIZED, "{path}");
            assert!(body["error"].is_string());
        }
    }
    let (status, _) =
        anonymous.send(Method::POST, "/api/devices", Some(&json!({ "dev_id": "x" }))).await.expect("send");
    assert_eq!(status, Http::UNAUTHORIZED);

    // Documentation is public.
    let (status, doc) = anonymous.send(Method::GET, "/api/openapi.json", None).await.expect("send");
    assert_eq!(status, Http::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/api/jobs/{id}"]["get"].is_object());
    let (status, _) = anonymous.send(Method::GET, "/api/docs", None).await.expect("send");
    assert_eq!(status, Http::OK);

    // Devices.
    let created = api
        .call(Method::POST, "/api/devices", Some(&json!({ "dev_id": "IMEI:1", "groups": ["lab"] })))
        .await
        .expect("create");
    assert_eq!(created["client_auth"], "md5");
    assert_eq!(created["client_user"], "IMEI:1");
    assert_eq!(created["server_id"], "omadm");
    assert!(created["client_secret"].as_str().is_some_and(|s| s.len() >= 16), "a generated secret is returned once");
    let (status, _) = api.send(Method::POST, "/api/devices", Some(&json!({ "dev_id": "IMEI:1" }))).await.expect("send");
    assert_eq!(status, Http::CONFLICT);
    let (status, _) = api.send(Method::POST, "/api/devices", Some(&json!({ "dev_id": "" }))).await.expect("send");
    assert_eq!(status, Http::BAD_REQUEST);
    let (status, _) = api
        .send(Method::POST, "/api/devices", Some(&json!({ "dev_id": "a", "client_auth": "rot13" })))
        .await
        .expect("send");
    assert_eq!(status, Http::UNPROCESSABLE_ENTITY);
    let bulk: Vec<Value> = (0..50)
        .map(|i| json!({ "dev_id": format!("BULK:{i}"), "client_secret": "s", "client_auth": "hmac" }))
        .collect();
    let result = api.call(Method::POST, "/api/devices/bulk", Some(&Value::Array(bulk))).await.expect("bulk");
    assert_eq!(result["created"], 50);
    let listed = api.call(Method::GET, "/api/devices?limit=1000", None).await.expect("list");
    assert_eq!(listed["devices"].as_array().map(Vec::len), Some(51));
    let searched = api.call(Method::GET, "/api/devices?search=IMEI", None).await.expect("search");
    assert_eq!(searched["devices"].as_array().map(Vec::len), Some(1));
    let shown = api.call(Method::GET, "/api/devices/IMEI:1", None).await.expect("show");
    assert_eq!(shown["dev_id"], "IMEI:1");
    assert!(shown.get("client_secret").is_none(), "secrets are never shown");
    let (status, _) = api.send(Method::GET, "/api/devices/none", None).await.expect("send");
    assert_eq!(status, Http::NOT_FOUND);

    // Credentials.
    let creds = api
        .call(
            Method::PUT,
            "/api/devices/IMEI:1/credentials",
            Some(&json!({ "client_auth": "sha256", "server_secret": "srv", "server_id": "mgmt" })),
        )
        .await
        .expect("update");
    assert_eq!(creds["client"]["auth"], "sha256");
    assert_eq!(creds["server"]["secret_set"], true);
    assert_eq!(creds["server_id"], "mgmt");
    let creds = api.call(Method::GET, "/api/devices/IMEI:1/credentials", None).await.expect("show");
    assert_eq!(creds["client"]["auth"], "sha256");

    // Groups.
    let groups = api.call(Method::GET, "/api/groups", None).await.expect("groups");
    assert_eq!(groups["groups"][0]["name"], "lab");
    let group =
        api.call(Method::POST, "/api/groups/lab", Some(&json!({ "dev_ids": ["BULK:1"] }))).await.expect("members");
    assert_eq!(group["members"].as_array().map(Vec::len), Some(2));
    let (status, _) =
        api.send(Method::POST, "/api/groups/lab", Some(&json!({ "dev_ids": ["nobody"] }))).await.expect("send");
    assert_eq!(status, Http::NOT_FOUND);
    let (status, _) = api.send(Method::GET, "/api/groups/none", None).await.expect("send");
    assert_eq!(status, Http::NOT_FOUND);

    // Jobs: one device, a group, validation.
    let jobs = api
        .call(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "dev_id": "IMEI:1", "commands": [{ "op": "get", "target": "./DevInfo/Mod" }] })),
        )
        .await
        .expect("job");
    let id = jobs["jobs"][0]["id"].as_i64().expect("id");
    let job = api.call(Method::GET, &format!("/api/jobs/{id}"), None).await.expect("job");
    assert_eq!(job["state"], "queued");
    let jobs = api
        .call(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "group": "lab", "commands": [{ "op": "exec", "target": "./X" }] })),
        )
        .await
        .expect("group job");
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(2));
    for bad in [
        json!({ "dev_id": "IMEI:1", "commands": [] }),
        json!({ "dev_id": "IMEI:1", "commands": [{ "op": "get" }] }),
        json!({ "dev_id": "IMEI:1", "commands": [{ "op": "atomic", "commands": [{ "op": "atomic", "commands": [{ "op": "delete", "target": "./A" }] }] }] }),
        json!({ "dev_id": "IMEI:1", "commands": [{ "op": "alert", "alert": { "code": 1226, "text": "x" } }] }),
        json!({ "commands": [{ "op": "get", "target": "./A" }] }),
    ] {
        let (status, _) = api.send(Method::POST, "/api/jobs", Some(&bad)).await.expect("send");
        assert_eq!(status, Http::BAD_REQUEST, "{bad}");
    }
    let (status, _) = api
        .send(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "dev_id": "none", "commands": [{ "op": "get", "target": "./A" }] })),
        )
        .await
        .expect("send");
    assert_eq!(status, Http::NOT_FOUND);
    let listed = api.call(Method::GET, "/api/jobs?dev_id=IMEI:1", None).await.expect("jobs");
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(2));
    let (status, _) = api.send(Method::GET, "/api/jobs/99999", None).await.expect("send");
    assert_eq!(status, Http::NOT_FOUND);

    // Events, tree (empty so far), notification, bootstrap.
    let events = api.call(Method::GET, "/api/events", None).await.expect("events");
    assert_eq!(events["events"], json!([]));
    let tree = api.call(Method::GET, "/api/devices/IMEI:1/tree", None).await.expect("tree");
    assert_eq!(tree["nodes"], json!([]));
    let note = api
        .call(Method::POST, "/api/devices/IMEI:1/notification", Some(&json!({ "session_id": 0x1234 })))
        .await
        .expect("notification");
    assert_eq!(note["session_id"], "1234");
    let bytes: Vec<u8> = (0..note["hex"].as_str().expect("hex").len() / 2)
        .map(|i| u8::from_str_radix(&note["hex"].as_str().expect("hex")[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let parsed =
        omadm_security::Notification::parse(&bytes, omadm_security::NotificationLayout::General12).expect("parses");
    assert_eq!(parsed.notification.server_id(), "mgmt");
    let note13 = api
        .call(Method::POST, "/api/devices/IMEI:1/notification", Some(&json!({ "version": "1.3" })))
        .await
        .expect("1.3 notification");
    assert!(note13["base64"].is_string());
    let (status, _) = api
        .send(Method::POST, "/api/devices/IMEI:1/notification", Some(&json!({ "ui_mode": "loud" })))
        .await
        .expect("send");
    assert_eq!(status, Http::BAD_REQUEST);
    for (profile, needle) in [("plain", "<NodeName>DMAcc</NodeName>"), ("wap", "<parm name=\"APPID\" value=\"w7\"/>")] {
        let (status, _, body) = raw_get(&server, &format!("/api/devices/IMEI:1/bootstrap?profile={profile}")).await;
        assert_eq!(status, Http::OK);
        assert!(String::from_utf8_lossy(&body).contains(needle), "{profile}");
    }
    let (status, _, _) = raw_get(&server, "/api/devices/IMEI:1/bootstrap?profile=smoke").await;
    assert_eq!(status, Http::BAD_REQUEST);
    // The WAP profile in WBXML (the pushed form) decodes to the device's w7 account.
    let (status, headers, body) = raw_get(&server, "/api/devices/IMEI:1/bootstrap?profile=wap&encoding=wbxml").await;
    assert_eq!(status, Http::OK);
    assert_eq!(headers[header::CONTENT_TYPE], omadm_security::provisioning::MEDIA_TYPE_WBXML);
    let accounts = omadm_security::provisioning::ProvisioningDoc::decode(&body).unwrap().w7_accounts().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].auths[0].dmacc_level(), Some("CLCRED"));

    // Delete.
    let (status, _) = api.send(Method::DELETE, "/api/devices/BULK:3", None).await.expect("send");
    assert_eq!(status, Http::NO_CONTENT);
    let (status, _) = api.send(Method::DELETE, "/api/devices/BULK:3", None).await.expect("send");
    assert_eq!(status, Http::NOT_FOUND);
    server.stop().await;
}

async fn raw_get(server: &Running, path: &str) -> (Http, hyper::HeaderMap, Vec<u8>) {
    let authority = server.local_addr.to_string();
    let stream = TcpStream::connect(&authority).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let request = Request::builder()
        .uri(path)
        .header(header::HOST, authority)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.into_body().collect().await.expect("body").to_bytes().to_vec())
}

#[tokio::test]
async fn dm_sessions_over_http_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    dm_sessions_in_xml_and_wbxml_for_every_scheme(settings(&dir)).await;
}

#[tokio::test]
async fn dm_sessions_over_http_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(database) = PgDatabase::for_test("dm_sessions_over_http") {
        let mut s = settings(&dir);
        s.db_url = database.url.clone();
        dm_sessions_in_xml_and_wbxml_for_every_scheme(s).await;
    }
}

async fn dm_sessions_in_xml_and_wbxml_for_every_scheme(settings: Settings) {
    let server = start(settings).await.expect("start");
    let api = api(&server);
    for (i, (auth, scheme)) in [
        ("basic", AuthScheme::Basic),
        ("md5", AuthScheme::Md5),
        ("sha256", AuthScheme::Sha256),
        ("hmac", AuthScheme::Mac),
    ]
    .into_iter()
    .enumerate()
    {
        for encoding in [Encoding::Xml, Encoding::Wbxml] {
            let dev_id = format!("IMEI:{auth}:{encoding:?}");
            add_device(&api, &dev_id, auth).await;
            let job = api
                .call(
                    Method::POST,
                    "/api/jobs",
                    Some(&json!({ "dev_id": dev_id, "commands": [
                        { "op": "get", "target": "./DevDetail/FwV" },
                        { "op": "replace", "target": "./Vendor/Color", "data": "blue" },
                        { "op": "atomic", "commands": [{ "op": "replace", "target": "./A", "data": "1" }] },
                        { "op": "exec", "target": "./Vendor/Reboot" }
                    ] })),
                )
                .await
                .expect("job");
            let id = job["jobs"][0]["id"].as_i64().expect("id");
            let mut device = fresh_device(&server, &dev_id, scheme.clone(), encoding);
            device.session().await;
            let job = api.call(Method::GET, &format!("/api/jobs/{id}"), None).await.expect("job");
            assert_eq!(job["state"], "completed", "{auth} {encoding:?}: {job}");
            assert_eq!(job["commands"][0]["results"][0]["data"], "value of ./DevDetail/FwV");
            assert_eq!(job["commands"][2]["commands"][0]["status"], 200);
            let shown = api.call(Method::GET, &format!("/api/devices/{dev_id}"), None).await.expect("device");
            assert_eq!(shown["devinfo"]["Man"], "Acme", "{i}");
            assert!(shown["last_session_ms"].is_i64());
            let tree = api.call(Method::GET, &format!("/api/devices/{dev_id}/tree"), None).await.expect("tree");
            assert!(tree["nodes"].as_array().expect("nodes").iter().any(|n| n["uri"] == "./DevDetail/FwV"));
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn dm_session_over_https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = omadm_server::tls::self_signed(&["localhost".into(), "127.0.0.1".into()]).expect("certificate");
    let mut s = settings(&dir);
    s.tls = Some((pem.clone(), None));
    let server = start(s).await.expect("start");
    assert!(server.dm_url.starts_with("https://"));
    // The API over HTTPS, trusting the server's certificate.
    let admin = ApiClient::new(&server.api_url, Some(TOKEN.into())).expect("client").with_ca_pem(pem.cert_pem.clone());
    add_device(&admin, "IMEI:tls", "md5").await;
    admin
        .call(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "dev_id": "IMEI:tls", "commands": [{ "op": "get", "target": "./A" }] })),
        )
        .await
        .expect("job");
    // Without that trust the API client refuses the server.
    let untrusting = ApiClient::new(&server.api_url, Some(TOKEN.into())).expect("client").with_ca_pem(String::new());
    assert!(untrusting.send(Method::GET, "/api/devices", None).await.is_err());
    let mut device = fresh_device(&server, "IMEI:tls", AuthScheme::Md5, Encoding::Wbxml);
    device.root = Some(pem.cert_pem.clone());
    device.dm_url = server.dm_url.replace("127.0.0.1", "localhost");
    assert_eq!(device.session().await, 3, "challenge, commands, end");
    let jobs = admin.call(Method::GET, "/api/jobs?dev_id=IMEI:tls", None).await.expect("jobs");
    assert_eq!(jobs["jobs"][0]["state"], "completed");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_the_right_answer_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    let api = api(&server);
    add_device(&api, "IMEI:bad", "md5").await;
    api.call(
        Method::POST,
        "/api/jobs",
        Some(&json!({ "dev_id": "IMEI:bad", "commands": [{ "op": "get", "target": "./A" }] })),
    )
    .await
    .expect("job");
    let snapshot = || async {
        (
            api.call(Method::GET, "/api/devices/IMEI:bad", None).await.expect("device"),
            api.call(Method::GET, "/api/jobs?dev_id=IMEI:bad", None).await.expect("jobs"),
            api.call(Method::GET, "/api/events", None).await.expect("events"),
        )
    };
    let before = snapshot().await;
    let dm = server.dm_url.clone();

    let (status, _, _) = post(&dm, b"\x00\xffgarbage".to_vec(), "application/vnd.syncml.dm+wbxml", None, None).await;
    assert_eq!(status, Http::BAD_REQUEST);
    let (status, _, _) = post(&dm, b"<SyncML><SyncHdr>".to_vec(), "application/vnd.syncml.dm+xml", None, None).await;
    assert_eq!(status, Http::BAD_REQUEST);
    let vector = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/aosp-dm12/testadd.wbxml"))
        .expect("vector");
    let (status, _, _) =
        post(&dm, vector[..vector.len() / 2].to_vec(), "application/vnd.syncml.dm+wbxml", None, None).await;
    assert_eq!(status, Http::BAD_REQUEST, "truncated WBXML");
    let (status, _, _) = post(&dm, b"<SyncML/>".to_vec(), "text/html", None, None).await;
    assert_eq!(status, Http::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, _) = post(&dm, vec![b'<'; 300 * 1024], "application/vnd.syncml.dm+xml", None, None).await;
    assert_eq!(status, Http::PAYLOAD_TOO_LARGE);

    // Wrong credentials: 401 in SyncML, then the session ends.
    let mut wrong = Device::new("IMEI:bad", AuthScheme::Md5, "guess", Nonce::default(), &dm, Encoding::Xml);
    let reply = wrong.send(Device::package1()).await;
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials);
    // An unknown device.
    let mut stranger = Device::new("IMEI:who", AuthScheme::Md5, "x", Nonce::default(), &dm, Encoding::Xml);
    stranger.prover =
        Prover::new(AccountCredentials::new("IMEI:who", "x"), AuthScheme::Md5, Nonce::default()).with_max_retries(9);
    let reply = stranger.send(Device::package1()).await;
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials);
    // An unknown session token.
    let mut lost = Device::new("IMEI:bad", AuthScheme::Md5, "devsecret", Nonce::default(), &dm, Encoding::Xml);
    lost.url = format!("{dm}?session=0000");
    let reply = lost.send(vec![]).await;
    assert_eq!(header_status(&reply).code, StatusCode::NotFound);
    // A Charset parameter and the SyncML DS media type are accepted.
    let (status, headers, _) = post(
        &dm,
        xml::encode(&reply, &xml::XmlOptions::default()),
        "application/vnd.syncml+xml; charset=UTF-8",
        None,
        None,
    )
    .await;
    assert_eq!(status, Http::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/vnd.syncml+xml");

    assert_eq!(snapshot().await, before, "no stored data changed");

    // A replayed nonce: a good session, then its authenticated message sent again as a new session.
    let mut good = fresh_device(&server, "IMEI:bad", AuthScheme::Md5, Encoding::Xml);
    good.session().await;
    let replayed = good.authenticated_body.clone().expect("an authenticated message");
    let after_session = snapshot().await;
    let (status, _, bytes) = post(&dm, replayed, "application/vnd.syncml.dm+xml", None, None).await;
    assert_eq!(status, Http::OK);
    let (reply, _) = decode(&bytes, &Limits::DEFAULT).expect("reply");
    assert_eq!(header_status(&reply).code, StatusCode::InvalidCredentials, "a spent nonce is refused");
    assert_eq!(snapshot().await, after_session, "the replay changed nothing");

    // Still serving.
    let (status, _) = api.send(Method::GET, "/api/devices", None).await.expect("send");
    assert_eq!(status, Http::OK);
    server.stop().await;
}

#[tokio::test]
async fn a_restart_between_sessions_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    add_device(&api(&server), "IMEI:r", "md5").await;
    let job = api(&server)
        .call(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "dev_id": "IMEI:r", "commands": [{ "op": "get", "target": "./A" }] })),
        )
        .await
        .expect("job");
    let id = job["jobs"][0]["id"].as_i64().expect("id");
    let mut device = fresh_device(&server, "IMEI:r", AuthScheme::Md5, Encoding::Xml);
    device.session().await;
    let nonce_after_first = device.next_nonce.clone().expect("a nonce with 212");
    server.stop().await;

    let server = start(settings(&dir)).await.expect("restart");
    let api = api(&server);
    let job = api.call(Method::GET, &format!("/api/jobs/{id}"), None).await.expect("job");
    assert_eq!(job["state"], "completed");
    assert_eq!(job["commands"][0]["results"][0]["data"], "value of ./A");
    // The device's next session authenticates at once with the nonce it was given before the restart.
    api.call(
        Method::POST,
        "/api/jobs",
        Some(&json!({ "dev_id": "IMEI:r", "commands": [{ "op": "get", "target": "./B" }] })),
    )
    .await
    .expect("job");
    let mut device =
        Device::new("IMEI:r", AuthScheme::Md5, "devsecret", nonce_after_first, &server.dm_url, Encoding::Xml);
    let reply = device.send(Device::package1()).await;
    assert_eq!(header_status(&reply).code, StatusCode::AuthenticationAccepted);
    server.stop().await;
}

/// Two server nodes on one database: a session started on one continues on the other.
async fn a_session_moves_between_nodes(settings: Settings) {
    let a = start(settings.clone()).await.expect("node a");
    let b = start(settings).await.expect("node b");
    add_device(&api(&a), "IMEI:nodes", "md5").await;
    let job = api(&a)
        .call(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "dev_id": "IMEI:nodes", "commands": [{ "op": "get", "target": "./A" }] })),
        )
        .await
        .expect("job");
    let id = job["jobs"][0]["id"].as_i64().expect("id");
    let mut device = fresh_device(&a, "IMEI:nodes", AuthScheme::Md5, Encoding::Xml);
    let mut reply = device.send(Device::package1()).await;
    if header_status(&reply).code == StatusCode::InvalidCredentials {
        // The device's first nonce was a guess: answer the challenge.
        reply = device.send(Device::package1()).await;
    }
    assert!(reply.body.commands.iter().any(|c| matches!(c, Command::Get(_))), "node a sent the Get");
    // The next message goes to node b with the same session token.
    device.url = device.url.replace(&a.local_addr.to_string(), &b.local_addr.to_string());
    let end = device.send(Device::answer(&reply)).await;
    assert!(end.body.is_final);
    let job = api(&b).call(Method::GET, &format!("/api/jobs/{id}"), None).await.expect("job");
    assert_eq!(job["state"], "completed", "{job}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_session_moves_between_nodes_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    a_session_moves_between_nodes(settings(&dir)).await;
}

#[tokio::test]
async fn a_session_moves_between_nodes_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(database) = PgDatabase::for_test("a_session_moves_between_nodes") {
        let mut s = settings(&dir);
        s.db_url = database.url.clone();
        a_session_moves_between_nodes(s).await;
    }
}

/// A device repeats a message whose reply it lost: the server sends the stored reply again,
/// unchanged (the session row's reply columns, raw bytes, read back), and the session goes on.
async fn a_repeated_message_gets_its_reply_again(settings: Settings) {
    let server = start(settings).await.expect("start");
    let api = api(&server);
    for (auth, scheme) in [("md5", AuthScheme::Md5), ("hmac", AuthScheme::Mac)] {
        let dev_id = format!("IMEI:repeat:{auth}");
        // The server's replies carry an HMAC when its own account is HMAC: the stored reply keeps it.
        let spec = json!({ "dev_id": dev_id, "client_auth": auth, "client_secret": "devsecret", "server_auth": auth,
            "server_secret": "srvsecret" });
        api.call(Method::POST, "/api/devices", Some(&spec)).await.expect("device added");
        api.call(
            Method::POST,
            "/api/jobs",
            Some(&json!({ "dev_id": dev_id, "commands": [{ "op": "get", "target": "./A" }] })),
        )
        .await
        .expect("job");
        let mut device = fresh_device(&server, &dev_id, scheme, Encoding::Wbxml);
        let mut reply = device.send(Device::package1()).await;
        if header_status(&reply).code == StatusCode::InvalidCredentials {
            reply = device.send(Device::package1()).await;
        }
        assert!(reply.body.commands.iter().any(|c| matches!(c, Command::Get(_))), "{auth}: the Get was sent");
        let (repeated, hmac) = device.last_sent.clone().expect("a message sent");
        let media_type = Encoding::Wbxml.media_type();
        let (status, headers, again) = post(&device.url, repeated.clone(), media_type, hmac.clone(), None).await;
        assert_eq!(status, Http::OK, "{auth}");
        let (decoded, _) = decode(&again, &Limits::DEFAULT).expect("the repeated reply decodes");
        assert_eq!(decoded, reply, "{auth}: the same reply");
        assert_eq!(headers.contains_key("x-syncml-hmac"), auth == "hmac", "{auth}: its HMAC header too");
        let (_, headers_twice, twice) = post(&device.url, repeated, media_type, hmac, None).await;
        assert_eq!((twice, headers_twice.get("x-syncml-hmac")), (again, headers.get("x-syncml-hmac")), "{auth}");
        let end = device.send(Device::answer(&reply)).await;
        assert!(end.body.is_final, "{auth}: the session went on after the repeats");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_repeated_message_gets_its_reply_again_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    a_repeated_message_gets_its_reply_again(settings(&dir)).await;
}

#[tokio::test]
async fn a_repeated_message_gets_its_reply_again_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(database) = PgDatabase::for_test("a_repeated_message_gets_its_reply_again") {
        let mut s = settings(&dir);
        s.db_url = database.url.clone();
        a_repeated_message_gets_its_reply_again(s).await;
    }
}

/// POSTs a garbage body over TLS with `config`; `Ok(status)` when TLS let the request through.
async fn tls_post(addr: std::net::SocketAddr, config: rustls::ClientConfig) -> Result<Http, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, stream).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/dm")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/vnd.syncml.dm+xml")
        .body(Full::new(Bytes::from_static(b"not syncml")))
        .expect("request");
    sender.send_request(request).await.map(|r| r.status()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_configured() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let device_key = KeyPair::generate().expect("key");
    let device_cert = CertificateParams::new(vec!["device.example".to_string()])
        .expect("params")
        .signed_by(&device_key, &ca, &ca_key)
        .expect("cert");

    let dir = tempfile::tempdir().expect("tempdir");
    let pem = omadm_server::tls::self_signed(&["localhost".into()]).expect("server certificate");
    let mut s = settings(&dir);
    s.tls = Some((pem.clone(), Some(ca.pem())));
    let server = start(s).await.expect("start");

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.cert_pem.as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let builder = || {
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots.clone())
    };
    let without = tls_post(server.local_addr, builder().with_no_client_auth()).await;
    assert!(without.is_err(), "a client without a certificate is refused: {without:?}");
    let key = rustls::pki_types::PrivateKeyDer::try_from(device_key.serialize_der()).expect("key");
    let with = builder().with_client_auth_cert(vec![device_cert.der().clone()], key).expect("client auth");
    assert_eq!(
        tls_post(server.local_addr, with).await,
        Ok(Http::BAD_REQUEST),
        "through TLS, refused as garbage by the DM layer"
    );
    server.stop().await;
}

#[tokio::test]
async fn stats_count_messages_sessions_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    let api = api(&server);
    let anonymous = ApiClient::new(&server.api_url, None).expect("client");
    let (status, _) = anonymous.send(Method::GET, "/api/stats", None).await.expect("send");
    assert_eq!(status, Http::UNAUTHORIZED, "the stats are behind the token");
    let (_, doc) = anonymous.send(Method::GET, "/api/openapi.json", None).await.expect("send");
    assert!(doc["paths"]["/api/stats"]["get"].is_object(), "documented");

    let before = api.call(Method::GET, "/api/stats", None).await.expect("stats");
    assert_eq!(before["dm_messages"], 0);
    assert_eq!(before["sessions"]["started"], 0);
    add_device(&api, "IMEI:stats", "md5").await;
    api.call(
        Method::POST,
        "/api/jobs",
        Some(&json!({ "dev_id": "IMEI:stats", "commands": [{ "op": "get", "target": "./DevDetail/FwV" }] })),
    )
    .await
    .expect("job");
    let mut device = fresh_device(&server, "IMEI:stats", AuthScheme::Md5, Encoding::Xml);
    let rounds = device.session().await;
    let after = api.call(Method::GET, "/api/stats", None).await.expect("stats");
    assert_eq!(after["dm_messages"], rounds as u64, "{after}");
    assert_eq!(after["sessions"], json!({ "started": 1, "completed": 1, "aborted": 0, "expired": 0, "open": 0 }));

    // A session left after Package 2 stays open.
    device.msg = 0;
    device.url = server.dm_url.clone();
    device.send(Device::package1()).await;
    let open = api.call(Method::GET, "/api/stats", None).await.expect("stats");
    assert_eq!(open["sessions"]["started"], 2, "{open}");
    assert_eq!(open["sessions"]["open"], 1, "{open}");

    // HTTP errors by kind.
    let (status, _, _) = post(&server.dm_url, b"garbage".to_vec(), "application/vnd.syncml.dm+xml", None, None).await;
    assert_eq!(status, Http::BAD_REQUEST);
    let (status, _, _) = post(&server.dm_url, b"<SyncML/>".to_vec(), "text/plain", None, None).await;
    assert_eq!(status, Http::UNSUPPORTED_MEDIA_TYPE);
    let errors = api.call(Method::GET, "/api/stats", None).await.expect("stats");
    assert_eq!(errors["http_errors"]["undecodable"], 1, "{errors}");
    assert_eq!(errors["http_errors"]["unsupported_media_type"], 1, "{errors}");
    assert_eq!(errors["http_errors"]["storage"], 0, "{errors}");
    assert_eq!(errors["dm_messages"], open["dm_messages"], "errors are not handled messages");
    if cfg!(target_os = "linux") {
        let process = &errors["process"];
        assert!(process["rss_kb"].as_u64().is_some_and(|kb| kb > 1000), "{process}");
        assert!(process["rss_peak_kb"].as_u64() >= process["rss_kb"].as_u64(), "{process}");
        assert!(process["cpu_ms"].is_u64(), "{process}");
    }
    server.stop().await;
}

#[tokio::test]
async fn bulk_provisioning_puts_each_device_in_its_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    let api = api(&server);
    let bulk = json!([
        { "dev_id": "G:1", "client_secret": "s", "groups": ["red"] },
        { "dev_id": " G:2 ", "client_secret": "s", "groups": ["red", "blue"] },
        { "dev_id": "G:3", "client_secret": "s" },
    ]);
    api.call(Method::POST, "/api/devices/bulk", Some(&bulk)).await.expect("bulk");
    let red = api.call(Method::GET, "/api/groups/red", None).await.expect("red");
    assert_eq!(red["members"], json!(["G:1", "G:2"]), "members under their trimmed DevId");
    let blue = api.call(Method::GET, "/api/groups/blue", None).await.expect("blue");
    assert_eq!(blue["members"], json!(["G:2"]));
    let groups = api.call(Method::GET, "/api/groups", None).await.expect("groups");
    assert_eq!(groups["groups"].as_array().map(Vec::len), Some(2));
    // A group job: one queued job per member, in member order.
    let job = json!({ "group": "red", "commands": [{ "op": "get", "target": "./DevInfo/Man" }] });
    let created = api.call(Method::POST, "/api/jobs", Some(&job)).await.expect("group job");
    let jobs = created["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.iter().map(|j| j["dev_id"].clone()).collect::<Vec<_>>(), [json!("G:1"), json!("G:2")]);
    assert!(jobs.iter().all(|j| j["state"] == "queued"));
    assert_ne!(jobs[0]["id"], jobs[1]["id"]);
    server.stop().await;
}

/// The same authenticated Package 1 of a new session sent several times at once (a replay racing
/// the original) to the server `nodes` on one database, spread over them: exactly one copy is
/// accepted. On one node the device's messages are taken one at a time, so the nonce the first
/// spends is spent when the others are checked; between nodes, the store refuses a nonce change
/// checked against a nonce the device no longer holds (HTTP 503: nothing stored, the retry is
/// refused). Without these, each request read the device before any wrote it back, and in most
/// runs every copy was accepted.
async fn a_replayed_message_racing_the_original_is_accepted_once(nodes: &[Running]) {
    add_device(&api(&nodes[0]), "IMEI:race", "md5").await;
    let mut device = fresh_device(&nodes[0], "IMEI:race", AuthScheme::Md5, Encoding::Xml);
    // A first session leaves the device with the nonce the server gave for the next one.
    device.session().await;
    let nonce = device.next_nonce.clone().expect("the server gave a next nonce");
    let prover = Prover::new(AccountCredentials::new("IMEI:race", "devsecret"), AuthScheme::Md5, nonce);
    let cred = prover.credential().expect("cred").map(|c| Cred {
        meta: Some(Meta { format: Some(Format::B64), media_type: Some(c.scheme.as_str().into()), ..Meta::default() }),
        data: c.data,
    });
    let message = SyncMl {
        header: SyncHdr {
            ver_dtd: VerDtd::V1_2,
            ver_proto: VerProto::Dm1_2,
            session_id: "43".into(),
            msg_id: "1".into(),
            target: Location::new(nodes[0].dm_url.clone()),
            source: Location { loc_uri: "IMEI:race".into(), loc_name: Some("IMEI:race".into()) },
            resp_uri: None,
            no_resp: false,
            cred,
            meta: Some(Meta { max_msg_size: Some(8192), ..Meta::default() }),
        },
        body: SyncBody { commands: Device::package1(), is_final: true },
    };
    let body = xml::encode(&message, &xml::XmlOptions::default());
    let sends = (0..16).map(|i| {
        let (url, body) = (nodes[i % nodes.len()].dm_url.clone(), body.clone());
        tokio::spawn(async move { post(&url, body, Encoding::Xml.media_type(), None, None).await })
    });
    let (mut accepted, mut refused_as_changed) = (0, 0u64);
    for send in sends.collect::<Vec<_>>() {
        let (status, _, bytes) = send.await.expect("request task");
        if status == Http::SERVICE_UNAVAILABLE {
            refused_as_changed += 1;
            continue; // Checked against a nonce spent meanwhile on another node: nothing stored.
        }
        assert_eq!(status, Http::OK, "{}", String::from_utf8_lossy(&bytes));
        let (reply, _) = decode(&bytes, &Limits::DEFAULT).expect("reply decodes");
        let code = header_status(&reply).code;
        assert!(matches!(code, StatusCode::AuthenticationAccepted | StatusCode::InvalidCredentials), "{code:?}");
        accepted += usize::from(code == StatusCode::AuthenticationAccepted);
    }
    assert_eq!(accepted, 1, "copies of one message accepted");
    // Those refusals are counted as the device having changed, not as storage failures.
    let (mut changed, mut storage) = (0, 0);
    for node in nodes {
        let stats = api(node).call(Method::GET, "/api/stats", None).await.expect("stats");
        changed += stats["http_errors"]["device_changed"].as_u64().expect("a count");
        storage += stats["http_errors"]["storage"].as_u64().expect("a count");
    }
    assert_eq!((changed, storage), (refused_as_changed, 0));
}

#[tokio::test]
async fn a_replayed_message_racing_the_original_is_accepted_once_by_one_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    a_replayed_message_racing_the_original_is_accepted_once(std::slice::from_ref(&server)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_replayed_message_racing_the_original_is_accepted_once_by_two_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = [start(settings(&dir)).await.expect("node a"), start(settings(&dir)).await.expect("node b")];
    a_replayed_message_racing_the_original_is_accepted_once(&nodes).await;
    for node in nodes {
        node.stop().await;
    }
}

/// A job text XML 1.0 cannot carry (a NUL in data, target, format, alert text, ...) is refused
/// with 400 naming the field: stored, it would make every message of the device fail to encode
/// (WBXML) or parse (XML) from Package 1 on, so the device could never finish a session.
#[tokio::test]
async fn job_text_that_xml_cannot_carry_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(settings(&dir)).await.expect("start");
    let api = api(&server);
    add_device(&api, "IMEI:nul", "md5").await;
    api.call(Method::POST, "/api/groups/nul", Some(&json!({ "dev_ids": ["IMEI:nul"] }))).await.expect("group");
    let refused = [
        (json!({ "op": "replace", "target": "./A", "data": "a\u{0}b" }), "data"),
        (json!({ "op": "get", "target": "./A\u{1}" }), "target"),
        (json!({ "op": "replace", "target": "./A", "data": "x", "format": "chr\u{0}" }), "format"),
        (json!({ "op": "replace", "target": "./A", "data": "x", "media_type": "text/plain\u{ffff}" }), "media_type"),
        (json!({ "op": "copy", "target": "./A", "source": "./B\u{0}" }), "source"),
        (json!({ "op": "alert", "alert": { "code": 1100, "text": "hi\u{0}" } }), "alert text"),
        (
            json!({ "op": "alert", "alert": { "code": 1100, "text": "hi", "options": "MINDT=1\u{fffe}" } }),
            "alert options",
        ),
        (
            json!({ "op": "alert", "alert": { "code": 1103, "text": "pick", "choices": ["a", "b\u{0}"] } }),
            "alert choice",
        ),
        (json!({ "op": "sequence", "commands": [{ "op": "replace", "target": "./A", "data": "\u{0}" }] }), "data"),
    ];
    for (command, field) in refused {
        for request in [
            json!({ "dev_id": "IMEI:nul", "commands": [command.clone()] }),
            json!({ "group": "nul", "commands": [command.clone()] }),
        ] {
            let (status, body) = api.send(Method::POST, "/api/jobs", Some(&request)).await.expect("send");
            assert_eq!(status, Http::BAD_REQUEST, "{request}: {body}");
            let message = body["error"].as_str().expect("an error message");
            assert!(message.contains(field), "{message} names `{field}`");
        }
    }
    // Tab, LF and CR are XML characters; binary data goes base64.
    api.call(
        Method::POST,
        "/api/jobs",
        Some(&json!({ "dev_id": "IMEI:nul", "commands": [
            { "op": "replace", "target": "./A", "data": "a\tb\r\nc" },
            { "op": "replace", "target": "./B", "data": "YQBi", "format": "b64" },
        ] })),
    )
    .await
    .expect("a valid job");
    let jobs = api.call(Method::GET, "/api/jobs?dev_id=IMEI:nul", None).await.expect("jobs");
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(1), "only the valid job is stored: {jobs}");
    for encoding in [Encoding::Wbxml, Encoding::Xml] {
        let mut device = fresh_device(&server, "IMEI:nul", AuthScheme::Md5, encoding);
        device.session().await;
    }
    let jobs = api.call(Method::GET, "/api/jobs?dev_id=IMEI:nul", None).await.expect("jobs");
    assert_eq!(jobs["jobs"][0]["state"], "completed", "{jobs}");
    server.stop().await;
}

#[tokio::test]
async fn nul_from_a_device_or_the_api_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    nul_from_a_device_is_stored_and_from_the_api_refused(settings(&dir)).await;
}

#[tokio::test]
async fn nul_from_a_device_or_the_api_on_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(database) = PgDatabase::for_test("nul_from_a_device_or_the_api") {
        let mut s = settings(&dir);
        s.db_url = database.url.clone();
        nul_from_a_device_is_stored_and_from_the_api_refused(s).await;
    }
}

/// A NUL, which PostgreSQL text cannot hold, behaves the same on both backends: a device value
/// holding one (opaque `a\0b` of format chr in Results) is stored base64 with format b64 and the
/// session completes (it was a 503 on every retry on PostgreSQL); one in a request's path, query
/// or a device's text (no record can hold it) is refused with 400.
async fn nul_from_a_device_is_stored_and_from_the_api_refused(settings: Settings) {
    let server = start(settings).await.expect("start");
    let api = api(&server);
    add_device(&api, "IMEI:nul", "md5").await;
    api.call(
        Method::POST,
        "/api/jobs",
        Some(&json!({ "dev_id": "IMEI:nul", "commands": [{ "op": "get", "target": "./A" }] })),
    )
    .await
    .expect("job");
    let mut device = fresh_device(&server, "IMEI:nul", AuthScheme::Md5, Encoding::Wbxml);
    let mut reply = device.send(Device::package1()).await;
    while header_status(&reply).code != StatusCode::AuthenticationAccepted {
        reply = device.send(Device::package1()).await;
    }
    while reply.body.commands.iter().any(|c| !matches!(c, Command::Status(_))) {
        let mut answer = Device::answer(&reply);
        for command in &mut answer {
            if let Command::Results(results) = command {
                results.items[0].data = Some(Data::Binary(b"a\0b".to_vec()));
                results.items[0].meta = Some(Meta { format: Some(Format::Chr), ..Meta::default() });
            }
        }
        reply = device.send(answer).await;
    }
    let tree = api.call(Method::GET, "/api/devices/IMEI:nul/tree", None).await.expect("tree");
    let node = tree["nodes"].as_array().expect("nodes").iter().find(|n| n["uri"] == "./A").expect("./A stored");
    assert_eq!((&node["format"], &node["data"]), (&json!("b64"), &json!("YQBi")), "{tree}");
    let jobs = api.call(Method::GET, "/api/jobs?dev_id=IMEI:nul", None).await.expect("jobs");
    assert_eq!(jobs["jobs"][0]["state"], "completed", "{jobs}");
    assert_eq!(jobs["jobs"][0]["commands"][0]["results"][0]["data"], "a\u{0}b", "{jobs}");

    let commands = json!([{ "op": "get", "target": "./A" }]);
    let refused = [
        (Method::GET, "/api/devices?search=%00", None),
        (Method::GET, "/api/devices?search=IMEI%00&group=x", None),
        (Method::GET, "/api/devices?group=%00", None),
        (Method::GET, "/api/devices/IMEI:nul%00", None),
        (Method::GET, "/api/devices/IMEI:nul%00/tree", None),
        (Method::GET, "/api/groups/%00", None),
        (Method::GET, "/api/jobs?dev_id=%00", None),
        (Method::GET, "/api/events?dev_id=IMEI:nul%00", None),
        (Method::POST, "/api/devices", Some(json!({ "dev_id": "IMEI:\u{0}", "client_secret": "s" }))),
        (Method::POST, "/api/devices", Some(json!({ "dev_id": "IMEI:2", "client_secret": "s\u{0}" }))),
        (Method::POST, "/api/devices", Some(json!({ "dev_id": "IMEI:2", "groups": ["g\u{0}"] }))),
        (
            Method::POST,
            "/api/devices/bulk",
            Some(json!([{ "dev_id": "IMEI:2", "client_secret": "s", "server_user": "\u{0}" }])),
        ),
        (Method::PUT, "/api/devices/IMEI:nul/credentials", Some(json!({ "server_secret": "\u{0}" }))),
        (Method::POST, "/api/groups/g", Some(json!({ "dev_ids": ["IMEI:nul\u{0}"] }))),
        (Method::POST, "/api/jobs", Some(json!({ "dev_id": "IMEI:nul\u{0}", "commands": commands }))),
        (Method::POST, "/api/jobs", Some(json!({ "group": "g\u{0}", "commands": commands }))),
    ];
    for (method, path, body) in refused {
        let (status, answer) = api.send(method.clone(), path, body.as_ref()).await.expect("send");
        assert_eq!(status, Http::BAD_REQUEST, "{method} {path} {body:?}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("NUL")), "{answer}");
    }
    let devices = api.call(Method::GET, "/api/devices?search=IMEI", None).await.expect("devices");
    assert_eq!(devices["devices"].as_array().map(Vec::len), Some(1), "nothing was added: {devices}");
    server.stop().await;
}
