//! The HTTP(S) binding against a local hyper server running a scripted DM server: plain and TLS
//! (a certificate made here with rcgen), RespURI, redirects, retries, headers and WBXML.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming as Body};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use omadm_client::http::{run_session, HttpConfig, HttpTransport, TransportError};
use omadm_client::ui::NoUi;
use omadm_client::{Outcome, Session, SessionConfig};
use omadm_proto::*;
use omadm_security::AuthScheme;
use tokio::net::TcpListener;

/// Path, Content-Type, User-Agent and Accept of one request.
type Seen = (String, Option<String>, Option<String>, Option<String>);

#[derive(Default)]
struct Log {
    requests: Vec<Seen>,
    fail_first: u32,
    /// Answer without a RespURI (the client keeps posting to where it was sent).
    no_resp_uri: bool,
    /// The DER of the client certificate each TLS connection presented.
    client_certs: Vec<Vec<u8>>,
}

/// The scripted DM server: Package 2 = Get of DevInfo/Man with a RespURI; Package 4 ends it.
fn dm_answer(body: &[u8], port: u16, scheme: &str, resp_uri: bool) -> (Vec<u8>, &'static str) {
    let (msg, enc) = omadm_proto::decode(body, &Limits::default()).unwrap();
    let mut srv = FakeServer::new(&msg.header.session_id);
    let first = msg
        .body
        .commands
        .iter()
        .any(|c| matches!(c, Command::Alert(a) if a.code == Some(AlertCode::ClientInitiatedMgmt)));
    let reply = if first {
        srv.msg_id = 1;
        srv.resp_uri = resp_uri.then(|| format!("{scheme}://localhost:{port}/dm/session?token=abc"));
        srv.message(vec![hdr_status(&msg.header.msg_id, 212), get("3", "./DevInfo/Man")], true)
    } else {
        srv.msg_id = 2;
        assert!(msg.body.commands.iter().any(|c| matches!(c, Command::Results(_))), "Results came back");
        srv.message(vec![hdr_status(&msg.header.msg_id, 200)], true)
    };
    match enc {
        Encoding::Xml => (omadm_proto::xml::encode(&reply, &Default::default()), Encoding::Xml.media_type()),
        Encoding::Wbxml => {
            (omadm_proto::wbxml::encode(&reply, &Default::default()).unwrap(), Encoding::Wbxml.media_type())
        }
    }
}

async fn handle(
    req: Request<Body>,
    log: Arc<Mutex<Log>>,
    port: u16,
    scheme: &'static str,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let entry = (path.clone(), header("content-type"), header("user-agent"), header("accept"));
    let resp_uri = {
        let mut l = log.lock().unwrap();
        l.requests.push(entry);
        if l.fail_first > 0 {
            l.fail_first -= 1;
            return Ok(Response::builder().status(503).body(Full::new(Bytes::new())).unwrap());
        }
        !l.no_resp_uri
    };
    if path == "/old" {
        return Ok(Response::builder().status(307).header("location", "/dm").body(Full::new(Bytes::new())).unwrap());
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let (answer, ct) = dm_answer(&body, port, scheme, resp_uri);
    Ok(Response::builder().header("content-type", ct).body(Full::new(Bytes::from(answer))).unwrap())
}

async fn start_server(tls: Option<tokio_rustls::TlsAcceptor>, log: Arc<Mutex<Log>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = log.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let served = log.clone();
                let svc = hyper::service::service_fn(move |req| handle(req, served.clone(), port, scheme));
                match tls {
                    Some(acceptor) => {
                        let Ok(s) = acceptor.accept(stream).await else { return };
                        if let Some(chain) = s.get_ref().1.peer_certificates() {
                            log.lock().unwrap().client_certs.push(chain[0].to_vec());
                        }
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(s), svc).await;
                    }
                    None => {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    }
                }
            });
        }
    });
    port
}

async fn session_to(url: &str, encoding: Encoding, http: &HttpTransport) -> Outcome {
    let mut tree = device();
    let mut acc = account(AuthScheme::Basic, None);
    acc.server_uri = url.into();
    acc.install(&mut tree, "omadm").unwrap();
    let mut cfg = SessionConfig::new(DEV_ID, acc);
    cfg.encoding = encoding;
    let (mut s, first) = Session::start(cfg, &mut tree).unwrap();
    run_session(&mut s, first, &mut tree, &mut NoUi, http).await.unwrap()
}

#[tokio::test]
async fn a_plain_http_session_follows_the_resp_uri_with_dm_headers() {
    let log = Arc::new(Mutex::new(Log::default()));
    let port = start_server(None, log.clone()).await;
    let http = HttpTransport::new(HttpConfig::default()).unwrap();
    let outcome = session_to(&format!("http://127.0.0.1:{port}/dm"), Encoding::Xml, &http).await;
    assert_eq!(outcome, Outcome::Completed);
    let l = log.lock().unwrap();
    assert_eq!(l.requests.len(), 2);
    assert_eq!(l.requests[0].0, "/dm");
    assert_eq!(l.requests[1].0, "/dm/session?token=abc", "the RespURI is used for the rest of the session");
    assert_eq!(l.requests[0].1.as_deref(), Some("application/vnd.syncml.dm+xml"));
    assert!(l.requests[0].2.as_deref().unwrap().starts_with("omadm-client/"));
    assert!(l.requests[0].3.as_deref().unwrap().contains("application/vnd.syncml.dm+wbxml"));
}

#[tokio::test]
async fn wbxml_redirects_and_retries() {
    let log = Arc::new(Mutex::new(Log { fail_first: 1, ..Log::default() }));
    let port = start_server(None, log.clone()).await;
    let http = HttpTransport::new(HttpConfig::default()).unwrap();
    let outcome = session_to(&format!("http://127.0.0.1:{port}/old"), Encoding::Wbxml, &http).await;
    assert_eq!(outcome, Outcome::Completed);
    let l = log.lock().unwrap();
    let paths: Vec<&str> = l.requests.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(paths, vec!["/old", "/old", "/dm", "/dm/session?token=abc"], "503 retried, 307 followed");
    assert_eq!(l.requests[2].1.as_deref(), Some("application/vnd.syncml.dm+wbxml"));
}

#[tokio::test]
async fn a_redirect_is_kept_for_the_rest_of_the_session() {
    let log = Arc::new(Mutex::new(Log { no_resp_uri: true, ..Log::default() }));
    let port = start_server(None, log.clone()).await;
    let http = HttpTransport::new(HttpConfig::default()).unwrap();
    let outcome = session_to(&format!("http://127.0.0.1:{port}/old"), Encoding::Xml, &http).await;
    assert_eq!(outcome, Outcome::Completed);
    let paths: Vec<String> = log.lock().unwrap().requests.iter().map(|r| r.0.clone()).collect();
    assert_eq!(paths, vec!["/old", "/dm", "/dm"], "the second message goes straight to where the 307 pointed");
}

#[tokio::test]
async fn retries_are_bounded() {
    let log = Arc::new(Mutex::new(Log { fail_first: 100, ..Log::default() }));
    let port = start_server(None, log.clone()).await;
    let http = HttpTransport::new(HttpConfig { max_retries: 2, ..HttpConfig::default() }).unwrap();
    let out = omadm_client::Outgoing {
        url: format!("http://127.0.0.1:{port}/dm"),
        body: b"<SyncML/>".to_vec(),
        encoding: Encoding::Xml,
        hmac: Some("algorithm=MD5, username=\"u\", mac=abc".into()),
    };
    let err = http.post(&out).await.unwrap_err();
    assert!(matches!(err, TransportError::Status { status: 503, .. }), "{err}");
    assert_eq!(log.lock().unwrap().requests.len(), 3);
}

#[tokio::test]
async fn an_https_session_with_a_configured_ca_and_a_refused_unknown_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let server_cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
    let log = Arc::new(Mutex::new(Log::default()));
    let port = start_server(Some(acceptor), log.clone()).await;
    let http = HttpTransport::new(HttpConfig { ca_file: Some(ca), ..HttpConfig::default() }).unwrap();
    let outcome = session_to(&format!("https://localhost:{port}/dm"), Encoding::Xml, &http).await;
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(log.lock().unwrap().requests.len(), 2);

    let untrusting = HttpTransport::new(HttpConfig { max_retries: 0, ..HttpConfig::default() }).unwrap();
    let out = omadm_client::Outgoing {
        url: format!("https://localhost:{port}/dm"),
        body: b"<SyncML/>".to_vec(),
        encoding: Encoding::Xml,
        hmac: None,
    };
    let err = untrusting.post(&out).await.unwrap_err();
    assert!(matches!(err, TransportError::Request { .. }), "{err}");
}

#[test]
fn an_unreadable_ca_file_is_a_clear_error() {
    let err = HttpTransport::new(HttpConfig { ca_file: Some("/nonexistent/ca.pem".into()), ..HttpConfig::default() })
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

/// A CA, a server certificate for localhost and a client certificate, both issued by the CA, as
/// PEM files in `dir`; returns the server's TLS acceptor, which requires a client certificate.
fn mutual_tls(dir: &std::path::Path) -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "omadm test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issue = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        (cert, key)
    };
    let (server_cert, server_key) = issue(vec!["localhost".into()]);
    let (client_cert, client_key) = issue(vec!["IMEI:490154203237518".into()]);
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client_cert.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots.add(ca.der().clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider.clone())
            .build()
            .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let server_cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
        .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg)), client_cert.der().to_vec())
}

#[tokio::test]
async fn a_configured_client_certificate_is_presented_to_a_server_that_requires_one() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, client_der) = mutual_tls(dir.path());
    let log = Arc::new(Mutex::new(Log::default()));
    let port = start_server(Some(acceptor), log.clone()).await;
    let url = format!("https://localhost:{port}/dm");
    let http = HttpTransport::new(HttpConfig {
        ca_file: Some(dir.path().join("ca.pem")),
        client_cert: Some((dir.path().join("client.pem"), dir.path().join("client.key"))),
        ..HttpConfig::default()
    })
    .unwrap();
    assert_eq!(session_to(&url, Encoding::Xml, &http).await, Outcome::Completed);
    let (requests, client_certs) = {
        let seen = log.lock().unwrap();
        (seen.requests.len(), seen.client_certs.clone())
    };
    assert_eq!(requests, 2);
    assert!(!client_certs.is_empty(), "the server saw a client certificate");
    assert!(client_certs.iter().all(|c| *c == client_der), "and it was ours");

    // Without a client certificate the server refuses the handshake, and the error says so.
    let anonymous = HttpTransport::new(HttpConfig {
        ca_file: Some(dir.path().join("ca.pem")),
        max_retries: 0,
        ..HttpConfig::default()
    })
    .unwrap();
    let out = omadm_client::Outgoing { url, body: b"<SyncML/>".to_vec(), encoding: Encoding::Xml, hmac: None };
    let err = anonymous.post(&out).await.unwrap_err();
    assert!(matches!(err, TransportError::Request { .. }), "{err}");
    assert!(err.to_string().to_ascii_lowercase().contains("certificate"), "{err}");
    assert_eq!(log.lock().unwrap().requests.len(), 2, "no request got through without a certificate");
}

#[test]
fn a_client_key_that_does_not_load_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _ = mutual_tls(dir.path());
    std::fs::write(dir.path().join("bad.key"), "not a key").unwrap();
    let err = HttpTransport::new(HttpConfig {
        client_cert: Some((dir.path().join("client.pem"), dir.path().join("bad.key"))),
        ..HttpConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("bad.key"), "{err}");
}
