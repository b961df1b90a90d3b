//! A small client of the REST API (HTTP/1.1 over TCP, JSON, bearer token), used by the operator
//! command line, the load generator and the tests.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// API client failures.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://host:port[/prefix]`.
    #[error("unsupported API URL `{0}` (expected http://HOST:PORT)")]
    Url(String),
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
}

impl ApiClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) sending `token` as the bearer token.
    pub fn new(base: &str, token: Option<String>) -> Result<ApiClient, ClientError> {
        let rest = base.strip_prefix("http://").ok_or_else(|| ClientError::Url(base.to_string()))?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(ClientError::Url(base.to_string()));
        }
        Ok(ApiClient { authority: authority.to_string(), prefix: prefix.to_string(), token, base: base.to_string() })
    }

    /// Sends one request and returns the status and the JSON body (`Null` when empty or not JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let io = |e: &dyn std::fmt::Display| ClientError::Io { url: self.base.clone(), message: e.to_string() };
        let stream = TcpStream::connect(&self.authority).await.map_err(|e| io(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| io(&e))?;
        tokio::spawn(connection);
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
        let response = sender.send_request(request).await.map_err(|e| io(&e))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| io(&e))?.to_bytes();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Sends a request and turns a non-2xx answer into [`ClientError::Status`].
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let (status, value) = self.send(method, path, body).await?;
        if !status.is_success() {
            let message = value["error"].as_str().map_or_else(|| value.to_string(), str::to_string);
            return Err(ClientError::Status { status, message });
        }
        Ok(value)
    }
}
