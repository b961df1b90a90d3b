//! The HTTP(S) binding (DM HTTP binding; digest §9, dm13-digest §7) and the server runtime.
//!
//! One POST per SyncML message on the DM path; the reply is the response body, in the request's
//! encoding. HTTP status codes are used only where SyncML cannot answer:
//!
//! | request | answer |
//! |---|---|
//! | a content type that is not a SyncML DM one | 415 |
//! | a body over the configured maximum | 413 |
//! | a body that is not a decodable SyncML message (garbage, truncated WBXML) | 400 |
//! | a message for an unknown or expired session token | 200 with SyncHdr Status 404 / 408 |
//! | a storage failure | 503 (the client retries; nothing was stored) |
//! | a message whose device another server process changed meanwhile (its client nonce) | 503 (nothing was stored) |
//!
//! The messages of one device are handled one at a time ([`DeviceLocks`]): each reads the
//! device's and session's stored state, runs the engine and stores what changed, and a second
//! message that read the same state meanwhile would act on it too. A copy of an authenticated
//! message racing the original (a replay) would then pass the nonce check as well, since neither
//! had stored the nonce as spent when the other read it.

use crate::api;
use crate::engine::{Engine, Exchange, SessionLookup};
use crate::metrics::{HttpErrorKind, MessageSummary};
use crate::store::{MessageContext, Store};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use omadm_proto::{Encoding, Limits, SyncMl};
use omadm_security::{OsNonceSource, HMAC_HEADER_NAME};
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// The media types accepted on the DM path, with the encoding each names (DM Representation
/// §1; some clients send the SyncML DS types).
pub const DM_MEDIA_TYPES: [(&str, Encoding); 4] = [
    ("application/vnd.syncml.dm+xml", Encoding::Xml),
    ("application/vnd.syncml.dm+wbxml", Encoding::Wbxml),
    ("application/vnd.syncml+xml", Encoding::Xml),
    ("application/vnd.syncml+wbxml", Encoding::Wbxml),
];

/// Everything the handlers share.
pub struct App {
    /// The storage.
    pub store: Arc<dyn Store>,
    /// The session engine.
    pub engine: Engine,
    /// The bearer token of the REST API.
    pub api_token: String,
    /// The largest accepted request body.
    pub max_body: usize,
    /// Counters since start, served at `GET /api/stats`.
    pub metrics: crate::metrics::Metrics,
    /// Serializes each device's messages.
    pub device_locks: DeviceLocks,
}

/// Locks that let one message of a device at a time through, from reading its stored state to
/// storing what changed. Devices share a fixed number of locks by the hash of their DevId
/// (as the message's `Source` names it), so the table never grows; two devices that share one
/// only wait for each other's message, which takes about a millisecond. The serialization is per
/// server process: servers sharing one database do not serialize each other, but the store
/// refuses a client-nonce change checked against a nonce the device no longer holds
/// ([`crate::engine::Change::ClientNonces`]), which keeps a replay out across them too.
#[derive(Debug)]
pub struct DeviceLocks {
    locks: Box<[Arc<tokio::sync::Mutex<()>>]>,
}

impl DeviceLocks {
    /// Locks for the messages of many devices at once: with 64 devices in flight, a message finds
    /// its lock held for another device at most about once in 65 (63 / 4096); about 300 KB (a
    /// pointer and a 64-byte allocation each).
    pub const DEFAULT_LOCKS: usize = 4096;

    /// `count` locks (at least one).
    pub fn new(count: usize) -> DeviceLocks {
        DeviceLocks { locks: (0..count.max(1)).map(|_| Arc::new(tokio::sync::Mutex::new(()))).collect() }
    }

    /// The lock of device `dev_id`.
    pub fn of(&self, dev_id: &str) -> &Arc<tokio::sync::Mutex<()>> {
        use std::hash::{BuildHasher, RandomState};
        static HASHER: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
        let hash = HASHER.get_or_init(RandomState::new).hash_one(dev_id);
        &self.locks[(hash % self.locks.len() as u64) as usize]
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A fresh unguessable token (128 bits, hex). Every DM message takes one (used if a session
/// starts), so it is written straight into one string, not formatted a byte at a time.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator works");
    hex(&bytes)
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// The largest REST API request body: job values may be large objects (a 1 MB firmware URL list,
/// a configuration file), well above a DM message.
pub const MAX_API_BODY: usize = 64 << 20;

/// The router: the DM endpoint at `dm_path` (bodies up to `max_body`) and the REST API under
/// `/api` (bodies up to [`MAX_API_BODY`]).
pub fn router(app: Arc<App>, dm_path: &str) -> Router {
    let max = app.max_body;
    Router::new()
        .route(dm_path, post(dm_message).layer(DefaultBodyLimit::max(max)))
        .merge(api::routes(app.clone()).layer(DefaultBodyLimit::max(MAX_API_BODY)))
        .with_state(app)
}

#[derive(Deserialize)]
struct DmQuery {
    session: Option<String>,
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.into()).into_response()
}

/// The media type of a request and the encoding it names; `Err` for a non-DM type.
fn request_type(headers: &HeaderMap) -> Result<Option<(&'static str, Encoding)>, String> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(None) };
    let text = value.to_str().map_err(|_| "unreadable Content-Type".to_string())?;
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    DM_MEDIA_TYPES
        .iter()
        .find(|(t, _)| *t == essence)
        .map(|&(t, e)| Some((t, e)))
        .ok_or_else(|| format!("unsupported Content-Type `{text}`; expected application/vnd.syncml.dm+xml or +wbxml"))
}

async fn dm_message(
    State(app): State<Arc<App>>,
    Query(query): Query<DmQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let declared = match request_type(&headers) {
        Ok(t) => t,
        Err(message) => {
            app.metrics.http_error(HttpErrorKind::UnsupportedMediaType);
            return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
        }
    };
    if body.len() > app.max_body {
        app.metrics.http_error(HttpErrorKind::PayloadTooLarge);
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "message larger than the server accepts");
    }
    let limits = Limits { max_message_size: app.max_body, ..Limits::DEFAULT };
    let (message, encoding) = match omadm_proto::decode(&body, &limits) {
        Ok(decoded) => decoded,
        Err(err) => {
            tracing::info!(error = %err, "undecodable DM message");
            app.metrics.http_error(HttpErrorKind::Undecodable);
            return plain(StatusCode::BAD_REQUEST, format!("not a SyncML DM message: {err}"));
        }
    };
    let turn = app.device_locks.of(&message.header.source.loc_uri).clone().lock_owned().await;
    let hmac = headers.get(HMAC_HEADER_NAME).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The device's turn runs in a task of its own, which holds the lock until the changes are
    // stored: a request dropped half-way (its client gone) must not end the turn early, while its
    // changes still wait for the writer.
    let request = DecodedRequest { session_token: query.session, message, encoding, body, hmac, declared };
    let turn = tokio::spawn(device_turn(app.clone(), request, turn));
    turn.await.unwrap_or_else(|err| {
        tracing::error!(error = %err, "DM message task failed");
        app.metrics.http_error(HttpErrorKind::Engine);
        plain(StatusCode::INTERNAL_SERVER_ERROR, "the message could not be handled")
    })
}

/// A DM request once its body decoded: what the device's turn needs, owned.
struct DecodedRequest {
    /// The `session` query parameter: the session token, absent for a new session.
    session_token: Option<String>,
    message: SyncMl,
    encoding: Encoding,
    /// The body as received, for the HMAC check.
    body: Bytes,
    /// The `x-syncml-hmac` header.
    hmac: Option<String>,
    /// The DM media type the request declared, if any.
    declared: Option<(&'static str, Encoding)>,
}

/// The part of a DM message that reads and writes the device's stored state, run while holding
/// the device's lock (`_turn`, see the module doc).
async fn device_turn(app: Arc<App>, request: DecodedRequest, _turn: tokio::sync::OwnedMutexGuard<()>) -> Response {
    let DecodedRequest { session_token, message, encoding, body, hmac, declared } = request;
    let source = &message.header.source.loc_uri;
    let MessageContext { session, device, jobs } =
        match app.store.message_context(session_token.as_deref(), source).await {
            Ok(context) => context,
            Err(err) => return storage_failure(&app, err),
        };
    let dev_id = match &session {
        SessionLookup::Found(state) => state.dev_id.clone(),
        _ => source.clone(),
    };
    let exchange = Exchange {
        message: &message,
        body: &body,
        encoding,
        hmac: hmac.as_deref(),
        session,
        device,
        jobs,
        now_ms: now_ms(),
        new_token: random_token(),
    };
    let mut outcome = match app.engine.handle(exchange, &mut OsNonceSource) {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::error!(error = %err, dev_id, "session engine failed");
            app.metrics.http_error(HttpErrorKind::Engine);
            return plain(StatusCode::INTERNAL_SERVER_ERROR, err.to_string());
        }
    };
    let summary = MessageSummary::of(&outcome.changes);
    let changes = std::mem::take(&mut outcome.changes);
    let change_count = changes.len();
    if let Err(err) = app.store.apply(changes).await {
        return storage_failure(&app, err);
    }
    app.metrics.message_handled(session_token.is_none(), summary);
    tracing::debug!(
        dev_id,
        bytes_in = body.len(),
        bytes_out = outcome.body.len(),
        changes = change_count,
        "DM message"
    );
    if summary.completed {
        tracing::info!(dev_id, "session completed");
    }
    let media_type = match declared {
        Some((t, e)) if e == outcome.encoding => t,
        _ => outcome.encoding.media_type(),
    };
    let mut response = (StatusCode::OK, outcome.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    if let Some(mac) = outcome.hmac.and_then(|m| HeaderValue::from_str(&m).ok()) {
        response.headers_mut().insert(HMAC_HEADER_NAME, mac);
    }
    response
}

fn storage_failure(app: &App, err: crate::store::StoreError) -> Response {
    if let crate::store::StoreError::Stale(what) = &err {
        // Another server process stored a change of this device first (a replay racing its
        // original, or a device talking to two nodes at once): not a fault of the storage.
        app.metrics.http_error(HttpErrorKind::DeviceChanged);
        tracing::warn!(changed = %what, "DM message not stored: the device changed meanwhile");
        return plain(StatusCode::SERVICE_UNAVAILABLE, "the device's state changed meanwhile, retry");
    }
    app.metrics.http_error(HttpErrorKind::Storage);
    tracing::error!(error = %err, "storage failed");
    plain(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable, retry later")
}

/// Serves `router` on `listener` (over TLS when `tls` is set) until `shutdown` completes; also
/// deletes expired sessions once a minute.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let sweeper = tokio::spawn(sweep_sessions(app));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let http = hyper::server::conn::http1::Builder::new();
            let result = match acceptor {
                None => http.serve_connection(TokioIo::new(stream), service).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => http.serve_connection(TokioIo::new(tls), service).await,
                    Err(err) => {
                        tracing::debug!(%peer, error = %err, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    sweeper.abort();
    Ok(())
}

async fn sweep_sessions(app: Arc<App>) {
    let timeout = app.engine.config().session_timeout_ms;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match app.store.expire_sessions(now_ms() - timeout).await {
            Ok(0) => {}
            Ok(n) => {
                app.metrics.sessions_expired(n);
                tracing::info!(expired = n, "expired idle sessions");
            }
            Err(err) => tracing::warn!(error = %err, "session sweep failed"),
        }
    }
}

/// Everything needed to start a server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub listen: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub db_url: String,
    /// The DM path (`/dm`).
    pub dm_path: String,
    /// The DM URL devices use, when it differs from the listening address (a proxy in front).
    pub public_url: Option<String>,
    /// The API bearer token.
    pub api_token: String,
    /// TLS certificate and key, and an optional CA bundle for client certificates.
    pub tls: Option<(crate::tls::CertificatePem, Option<String>)>,
    /// The ServerID.
    pub server_id: String,
    /// Session idle timeout (milliseconds).
    pub session_timeout_ms: i64,
    /// Largest accepted message.
    pub max_message_size: usize,
    /// Largest object taken from a client in chunks (our MaxObjSize; larger ones get 413).
    pub max_object_size: u64,
    /// Enrolment on first contact.
    pub enrolment: Option<crate::engine::Enrolment>,
}

impl Settings {
    /// The defaults: 127.0.0.1:8080, `sqlite://omadm.db`, `/dm`, plain HTTP, ServerID `omadm`,
    /// 1 MiB messages, 16 MiB objects.
    pub fn new(api_token: impl Into<String>) -> Settings {
        Settings {
            listen: "127.0.0.1:8080".into(),
            db_url: "sqlite://omadm.db".into(),
            dm_path: "/dm".into(),
            public_url: None,
            api_token: api_token.into(),
            tls: None,
            server_id: "omadm".into(),
            session_timeout_ms: 5 * 60 * 1000,
            max_message_size: 1 << 20,
            max_object_size: 16 << 20,
            enrolment: None,
        }
    }
}

/// Failures to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened.
    #[error("database {url}: {source}")]
    Store {
        /// Its URL.
        url: String,
        /// Why.
        source: crate::store::StoreError,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A setting is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on.
    pub local_addr: std::net::SocketAddr,
    /// The DM endpoint URL.
    pub dm_url: String,
    /// The API base URL.
    pub api_url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    store: Arc<crate::store::SqlStore>,
}

impl Running {
    /// Stops accepting connections, waits for the accept loop and closes the database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.store.close().await;
    }

    /// Waits until the server stops by itself (it does not, short of an I/O failure).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.store.close().await;
        result
    }
}

/// Opens the store, binds the address and starts serving in a background task.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    if !settings.dm_path.starts_with('/') || settings.dm_path.starts_with("/api") {
        return Err(StartError::Invalid(format!(
            "the DM path `{}` must start with / and not be under /api",
            settings.dm_path
        )));
    }
    let store = crate::store::SqlStore::open(&settings.db_url)
        .await
        .map_err(|source| StartError::Store { url: settings.db_url.clone(), source })?;
    let store = Arc::new(store);
    let listener = TcpListener::bind(&settings.listen)
        .await
        .map_err(|source| StartError::Bind { addr: settings.listen.clone(), source })?;
    let local_addr =
        listener.local_addr().map_err(|source| StartError::Bind { addr: settings.listen.clone(), source })?;
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    let api_url = format!("{scheme}://{local_addr}");
    let dm_url = settings.public_url.clone().unwrap_or_else(|| format!("{api_url}{}", settings.dm_path));
    let tls = match &settings.tls {
        None => None,
        Some((pem, client_ca)) => Some(crate::tls::server_config(pem, client_ca.as_deref())?),
    };
    let mut engine = crate::engine::EngineConfig::new(dm_url.clone());
    engine.server_id = settings.server_id.clone();
    engine.session_timeout_ms = settings.session_timeout_ms;
    engine.max_message_size = settings.max_message_size;
    engine.max_object_size = settings.max_object_size;
    engine.enrolment = settings.enrolment.clone();
    let app = Arc::new(App {
        store: store.clone(),
        engine: Engine::new(engine),
        api_token: settings.api_token.clone(),
        max_body: settings.max_message_size,
        metrics: crate::metrics::Metrics::new(),
        device_locks: DeviceLocks::new(DeviceLocks::DEFAULT_LOCKS),
    });
    let router = router(app.clone(), &settings.dm_path);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router, tls, app, async move {
        let _ = stopped.await;
    }));
    Ok(Running { local_addr, dm_url, api_url, stop, task, store })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_lower_case_hex_digits_and_differ() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{a}");
        assert_ne!(a, b);
    }
}
