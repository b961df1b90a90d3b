//! The HTTP(S) binding (DM HTTP Binding 1.2; digest §9 "Bindings", dm13-digest §7): each client
//! message is one POST whose response body is the server's next message.
//!
//! Headers sent: `Content-Type` (`application/vnd.syncml.dm+xml` or `+wbxml`), `Accept` (both),
//! `Accept-Charset: utf-8`, `Cache-Control: no-store`, `User-Agent`, and `x-syncml-hmac` under
//! HMAC authentication. Redirects (301/302/303/307/308) are followed a bounded number of times;
//! connection failures, timeouts and 408/500/502/503/504 are retried a bounded number of times.
//! TLS is rustls with the ring provider, CA roots from a PEM file, and an optional client
//! certificate. One [`HttpTransport`] (a pooled hyper client) serves any number of sessions at
//! once, which is what a load generator simulating thousands of devices needs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, ACCEPT_CHARSET, CACHE_CONTROL, CONTENT_TYPE, LOCATION, USER_AGENT};
use hyper::{Method, Request, StatusCode as HttpStatus, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use omadm_security::HMAC_HEADER_NAME;
use omadm_tree::{Store, Tree};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{debug, warn};

use crate::engine::{Action, Incoming, Outcome, Outgoing, Session};
use crate::error::ClientError;
use crate::ui::UserInteraction;

/// The `Accept` header: both DM encodings.
pub const ACCEPT_DM: &str = "application/vnd.syncml.dm+wbxml, application/vnd.syncml.dm+xml";

/// The largest response body read (the decoder's own limit applies after this).
const MAX_BODY: usize = 16 << 20;

/// Settings of the HTTP(S) binding.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `User-Agent`.
    pub user_agent: String,
    /// CA roots (PEM) that server certificates must chain to; without it HTTPS is refused.
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain and its private key (PEM), for servers that require one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Time allowed for one request, from connecting to the end of the response.
    pub timeout: Duration,
    /// Retries after a connection failure, a timeout or a 408/5xx answer.
    pub max_retries: u32,
    /// Redirects followed for one message.
    pub max_redirects: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            user_agent: concat!("omadm-client/", env!("CARGO_PKG_VERSION")).into(),
            ca_file: None,
            client_cert: None,
            timeout: Duration::from_secs(30),
            max_retries: 2,
            max_redirects: 5,
        }
    }
}

/// Why an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The TLS or HTTP settings are unusable (unreadable CA file, bad client key, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// The URL is not an absolute http(s) URL.
    #[error("bad URL {0:?}")]
    Url(String),
    /// Connecting or exchanging failed (after the retries).
    #[error("request to {url} failed: {reason}")]
    Request {
        /// Where.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The server answered with an HTTP error status.
    #[error("server answered HTTP {status} for {url}")]
    Status {
        /// Where.
        url: String,
        /// The status code.
        status: u16,
    },
    /// No answer within the timeout (after the retries).
    #[error("no answer from {0} within the timeout")]
    Timeout(String),
    /// Too many redirects.
    #[error("too many redirects from {0}")]
    Redirects(String),
    /// The response body is larger than we read.
    #[error("response from {0} is too large")]
    TooLarge(String),
}

/// Why a session driven over HTTP failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The session failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A server response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The URL that answered: the one posted to, or where redirects led.
    pub url: String,
    /// The body: the server's next message.
    pub body: Vec<u8>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `x-syncml-hmac`.
    pub hmac: Option<String>,
}

/// A shared, pooled HTTP(S) client for DM sessions.
#[derive(Clone)]
pub struct HttpTransport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    config: Arc<HttpConfig>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport").field("config", &self.config).finish_non_exhaustive()
    }
}

fn tls_config(config: &HttpConfig) -> Result<rustls::ClientConfig, TransportError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| TransportError::Config(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = &config.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(&format!("CA file {}", path.display()), &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&format!("CA file {}", path.display()), &e))?;
        if certs.is_empty() {
            return Err(TransportError::Config(format!("CA file {} holds no certificate", path.display())));
        }
        for c in certs {
            roots.add(c).map_err(|e| bad("CA certificate", &e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", &e))?
        .with_root_certificates(roots);
    match &config.client_cert {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| bad(&format!("client certificate {}", cert.display()), &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(&format!("client certificate {}", cert.display()), &e))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| bad(&format!("client key {}", key.display()), &e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| bad("client certificate", &e))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

impl HttpTransport {
    /// A transport with these settings (reads the PEM files now, so mistakes show at start-up).
    pub fn new(config: HttpConfig) -> Result<HttpTransport, TransportError> {
        let tls = tls_config(&config)?;
        let connector =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpTransport { client, config: Arc::new(config) })
    }

    /// POSTs one message and returns the server's answer, following redirects and retrying
    /// transient failures within the configured bounds.
    pub async fn post(&self, out: &Outgoing) -> Result<Reply, TransportError> {
        let mut url = out.url.clone();
        let mut redirects = 0;
        let mut attempt = 0;
        loop {
            let uri: Uri = url.parse().map_err(|_| TransportError::Url(url.clone()))?;
            if uri.scheme_str().is_none() || uri.host().is_none() {
                return Err(TransportError::Url(url));
            }
            let retryable = match self.once(&uri, out).await {
                Ok(Exchange::Reply(r)) => return Ok(r),
                Ok(Exchange::Redirect(location)) => {
                    redirects += 1;
                    if redirects > self.config.max_redirects {
                        return Err(TransportError::Redirects(out.url.clone()));
                    }
                    debug!(from = %url, to = %location, "redirected");
                    url = resolve(&uri, &location);
                    continue;
                }
                Err(e @ (TransportError::Timeout(_) | TransportError::Request { .. })) => e,
                Err(TransportError::Status { status, url: u }) if matches!(status, 408 | 500 | 502 | 503 | 504) => {
                    TransportError::Status { status, url: u }
                }
                Err(e) => return Err(e),
            };
            if attempt >= self.config.max_retries {
                return Err(retryable);
            }
            attempt += 1;
            warn!(url = %url, attempt, "retrying after: {retryable}");
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }

    async fn once(&self, uri: &Uri, out: &Outgoing) -> Result<Exchange, TransportError> {
        let url = uri.to_string();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, out.encoding.media_type())
            .header(ACCEPT, ACCEPT_DM)
            .header(ACCEPT_CHARSET, "utf-8")
            .header(CACHE_CONTROL, "no-store")
            .header(USER_AGENT, self.config.user_agent.as_str());
        if let Some(h) = &out.hmac {
            let value = HeaderValue::from_str(h).map_err(|e| TransportError::Config(format!("HMAC header: {e}")))?;
            req = req.header(HMAC_HEADER_NAME, value);
        }
        let req = req
            .body(Full::new(Bytes::from(out.body.clone())))
            .map_err(|e| TransportError::Request { url: url.clone(), reason: e.to_string() })?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| TransportError::Request { url: url.clone(), reason: error_chain(&e) })?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(TransportError::Status { url: url.clone(), status: status.as_u16() })?;
                return Ok(Exchange::Redirect(location.to_string()));
            }
            if status != HttpStatus::OK {
                return Err(TransportError::Status { url: url.clone(), status: status.as_u16() });
            }
            let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let content_type = header(CONTENT_TYPE.as_str());
            let hmac = header(HMAC_HEADER_NAME);
            let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|_| TransportError::TooLarge(url.clone()))?
                .to_bytes()
                .to_vec();
            Ok(Exchange::Reply(Reply { url: url.clone(), body, content_type, hmac }))
        };
        match tokio::time::timeout(self.config.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(url)),
        }
    }
}

enum Exchange {
    Reply(Reply),
    Redirect(String),
}

/// A `Location` relative to the URL that answered with it.
fn resolve(base: &Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{authority}{dir}{location}")
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Drives one session over HTTP from its first message to its end.
pub async fn run_session<S: Store>(
    session: &mut Session,
    first: Outgoing,
    tree: &mut Tree<S>,
    ui: &mut (dyn UserInteraction + Send),
    http: &HttpTransport,
) -> Result<Outcome, SessionError> {
    let mut out = first;
    // A redirect holds for the rest of the session: later messages for the same URL go where it led
    // (until the server names a RespURI, which the engine then uses instead).
    let mut redirect: Option<(String, String)> = None;
    loop {
        if let Some((from, to)) = &redirect {
            if out.url == *from {
                out.url = to.clone();
            }
        }
        let reply = http.post(&out).await?;
        if reply.url != out.url {
            redirect = Some((out.url.clone(), reply.url.clone()));
        }
        let incoming =
            Incoming { body: &reply.body, content_type: reply.content_type.as_deref(), hmac: reply.hmac.as_deref() };
        match session.handle_reply(incoming, tree, ui)? {
            Action::Send(next) => out = next,
            Action::Finished(outcome) => return Ok(outcome),
        }
    }
}
