//! A small client of the REST API (HTTP/1.1 over TCP or TLS, JSON, bearer token), used by the
//! operator command line, the load generator and the tests.
//!
//! Over HTTPS it trusts the CA certificates given with [`ApiClient::with_ca_pem`], else the PEM
//! bundle named by `SSL_CERT_FILE`, else Debian's system bundle ([`SYSTEM_CA_BUNDLE`]).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// The system's CA bundle on Debian (package `ca-certificates`).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// API client failures.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http(s)://host:port[/prefix]`.
    #[error("unsupported API URL `{0}` (expected http://HOST:PORT or https://HOST:PORT)")]
    Url(String),
    /// The CA certificates for HTTPS could not be read.
    #[error("CA certificates: {0}")]
    Trust(String),
    /// Connecting or talking to the server failed.
    #[error("cannot reach the API at {url}: {message}")]
    Io {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered with an error status.
    #[error("the API answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The error message of the body.
        message: String,
    },
}

/// A client for one API base URL and token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    authority: String,
    prefix: String,
    token: Option<String>,
    base: String,
    tls: bool,
    ca_pem: Option<String>,
}

impl ApiClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) sending `token` as the bearer token.
    pub fn new(base: &str, token: Option<String>) -> Result<ApiClient, ClientError> {
        let (tls, rest) = match (base.strip_prefix("http://"), base.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(ClientError::Url(base.to_string())),
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(ClientError::Url(base.to_string()));
        }
        Ok(ApiClient {
            authority: authority.to_string(),
            prefix: prefix.to_string(),
            token,
            base: base.to_string(),
            tls,
            ca_pem: None,
        })
    }

    /// Trusts these CA certificates (PEM) over HTTPS instead of the system's.
    pub fn with_ca_pem(mut self, pem: impl Into<String>) -> ApiClient {
        self.ca_pem = Some(pem.into());
        self
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        let pem = match &self.ca_pem {
            Some(pem) => pem.clone(),
            None => {
                let path = std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| SYSTEM_CA_BUNDLE.to_string());
                std::fs::read_to_string(&path).map_err(|e| ClientError::Trust(format!("{path}: {e}")))?
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| ClientError::Trust(e.to_string()))?;
            roots.add(cert).map_err(|e| ClientError::Trust(e.to_string()))?;
        }
        Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Trust(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }

    /// Sends one request and returns the status and the JSON body (`Null` when empty or not JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let (status, bytes) = self.send_for_bytes(method, path, body).await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Sends one request and returns the status and the body as it came.
    async fn send_for_bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let io = |e: &dyn std::fmt::Display| ClientError::Io { url: self.base.clone(), message: e.to_string() };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(header::HOST, &self.authority)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let payload = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v).expect("JSON serializes"))
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(payload)).map_err(|e| io(&e))?;
        let stream = TcpStream::connect(&self.authority).await.map_err(|e| io(&e))?;
        if !self.tls {
            return self.exchange(stream, request).await;
        }
        let host = self.authority.rsplit_once(':').map_or(self.authority.as_str(), |(h, _)| h);
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string()).map_err(|e| io(&e))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
        let tls = connector.connect(name, stream).await.map_err(|e| io(&e))?;
        self.exchange(tls, request).await
    }

    async fn exchange<S>(&self, stream: S, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = |e: &dyn std::fmt::Display| ClientError::Io { url: self.base.clone(), message: e.to_string() };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| io(&e))?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(|e| io(&e))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| io(&e))?.to_bytes();
        Ok((status, bytes))
    }

    /// Sends a request and turns a non-2xx answer into [`ClientError::Status`].
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let (status, value) = self.send(method, path, body).await?;
        if !status.is_success() {
            return Err(status_error(status, &value));
        }
        Ok(value)
    }

    /// [`ApiClient::call`] for a caller that needs only to know it succeeded: a 2xx body is not
    /// parsed (the answer of a group job for 100,000 devices is 17 MB of JSON, hundreds of MB
    /// as a JSON value).
    pub async fn call_ignoring_answer(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), ClientError> {
        let (status, bytes) = self.send_for_bytes(method, path, body).await?;
        if !status.is_success() {
            return Err(status_error(status, &serde_json::from_slice(&bytes).unwrap_or(Value::Null)));
        }
        Ok(())
    }
}

/// The error for a non-2xx answer: its `error` text, or the whole body when it has none.
fn status_error(status: StatusCode, body: &Value) -> ClientError {
    let message = body["error"].as_str().map_or_else(|| body.to_string(), str::to_string);
    ClientError::Status { status, message }
}
