//! Storage: the [`Store`] trait and [`SqlStore`], which opens the backend a database URL names:
//! SQLite (the embedded default, one file; [`sqlite::SqliteStore`], connections owned by
//! dedicated threads) or PostgreSQL (for scale and several server nodes; [`postgres::PgStore`],
//! through sqlx).
//!
//! Session state lives here too, so any server node can continue any session. Every message's
//! [`Change`]s are applied in one transaction, so a crash never leaves half a message stored.

pub mod postgres;
pub mod sqlite;

use crate::engine::{Change, SessionLookup, SessionState, StoredReply};
use crate::model::{Device, Event, Job, JobCommand, TreeValue};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed (PostgreSQL, and opening SQLite).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite refused or failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The transaction that held this change list (with others: group commit) failed to commit,
    /// so none of it is stored.
    #[error("group commit failed: {0}")]
    CommitFailed(String),
    /// A SQLite file could not be opened.
    #[error("opening {}: {source}", path.display())]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A storage thread could not be started.
    #[error("starting a storage thread: {0}")]
    Thread(std::io::Error),
    /// The store was closed (or its thread stopped) before answering.
    #[error("the store is closed")]
    Closed,
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The record exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A record changed since the message that would change it was read (another server process
    /// stored a change of it first); nothing of the message is stored.
    #[error("changed meanwhile: {0}")]
    Stale(String),
    /// The URL names no supported database.
    #[error("unsupported database URL `{0}` (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl(String),
}

/// What every storage call returns: a boxed future, so that `dyn Store` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// Substring of the DevId or of a DevInfo value (Man, Mod, ...).
    pub search: Option<String>,
    /// Only members of this group.
    pub group: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
    /// Skip this many.
    pub offset: Option<i64>,
}

/// The server's storage: devices, groups, credentials, sessions, jobs, events, learnt tree values.
pub trait Store: Send + Sync {
    /// One device.
    fn device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Option<Device>>;
    /// Adds devices, all or none; a DevId already present is a [`StoreError::Conflict`].
    fn insert_devices<'a>(&'a self, devices: &'a [Device]) -> StoreFuture<'a, ()>;
    /// Replaces a device's identity and credentials (not its DevInfo or history). False if unknown.
    fn update_device<'a>(&'a self, device: &'a Device) -> StoreFuture<'a, bool>;
    /// Deletes a device with its jobs, groups and tree. False if unknown.
    fn delete_device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, bool>;
    /// Lists devices, ordered by DevId.
    fn devices<'a>(&'a self, query: &'a DeviceQuery) -> StoreFuture<'a, Vec<Device>>;
    /// The tree values learnt from a device, ordered by URI.
    fn tree<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<TreeValue>>;
    /// Adds devices to a group (created on first use).
    fn add_to_group<'a>(&'a self, group: &'a str, dev_ids: &'a [String]) -> StoreFuture<'a, ()>;
    /// The members of a group.
    fn group_members<'a>(&'a self, group: &'a str) -> StoreFuture<'a, Vec<String>>;
    /// Every group with its member count.
    fn groups(&self) -> StoreFuture<'_, Vec<(String, i64)>>;
    /// Queues a job for a device.
    fn create_job<'a>(&'a self, dev_id: &'a str, commands: &'a [JobCommand], now_ms: i64) -> StoreFuture<'a, Job>;
    /// One job.
    fn job(&self, id: i64) -> StoreFuture<'_, Option<Job>>;
    /// Jobs, newest first, optionally of one device.
    fn jobs<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Job>>;
    /// A device's queued and running jobs, oldest first (what its next session runs).
    fn pending_jobs<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<Job>>;
    /// Events, newest first, optionally of one device.
    fn events<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Event>>;
    /// An open session's state.
    fn session<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<SessionState>>;
    /// Applies one message's changes in one transaction. Takes the list by value: the backends
    /// hand it to their writer task, and a copy of every change per message cost CPU.
    fn apply(&self, changes: Vec<Change>) -> StoreFuture<'_, ()>;
    /// Deletes sessions idle since before `before_ms`; returns how many.
    fn expire_sessions(&self, before_ms: i64) -> StoreFuture<'_, u64>;

    /// What the engine needs for one DM message, in one call: the session stored under `token`
    /// (none: a new session), then the device it belongs to (the session's, else `source`, the
    /// message's SyncHdr Source) and that device's pending jobs. Backends override this to read
    /// all three in one round trip.
    fn message_context<'a>(&'a self, token: Option<&'a str>, source: &'a str) -> StoreFuture<'a, MessageContext> {
        Box::pin(async move {
            let session = match token {
                None => SessionLookup::New,
                Some(token) => match self.session(token).await? {
                    Some(state) => SessionLookup::Found(Box::new(state)),
                    None => SessionLookup::Missing,
                },
            };
            let dev_id = match &session {
                SessionLookup::Found(state) => state.dev_id.clone(),
                _ => source.to_string(),
            };
            let (device, jobs) = tokio::try_join!(self.device(&dev_id), self.pending_jobs(&dev_id))?;
            Ok(MessageContext { session, device, jobs })
        })
    }

    // ---- Bulk job creation (issue 7: a group job for 100,000 devices) ----

    /// Queues the same job for many devices, in `dev_ids` order. The default queues them one by
    /// one with [`Store::create_job`]; a backend should override it with one transaction (on
    /// SQLite, 100,000 single-job commits take about 10 s and write gigabytes of WAL).
    fn create_jobs<'a>(
        &'a self,
        dev_ids: &'a [String],
        commands: &'a [JobCommand],
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<Job>> {
        Box::pin(async move {
            let mut jobs = Vec::with_capacity(dev_ids.len());
            for dev_id in dev_ids {
                jobs.push(self.create_job(dev_id, commands, now_ms).await?);
            }
            Ok(jobs)
        })
    }
}

/// What [`Store::message_context`] returns: the stored inputs of the session engine for one message.
#[derive(Debug)]
pub struct MessageContext {
    /// The session the message's token names.
    pub session: SessionLookup,
    /// The device (the session's, else the message's Source), when known.
    pub device: Option<Device>,
    /// Its queued and running jobs, oldest first.
    pub jobs: Vec<Job>,
}

/// The database kind behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (a file, WAL journal).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL names (`sqlite:PATH`, `sqlite://PATH`, `postgres://...`,
    /// `postgresql://...`).
    pub fn of_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// The schema migrations of this backend, run by sqlx's migrator at open (so both backends
    /// keep sqlx's `_sqlx_migrations` bookkeeping, whichever driver serves the data).
    fn migrator(self) -> Migrator {
        let scripts: [(i64, &'static str, &'static str); 2] = match self {
            Backend::Sqlite => [
                (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
                (2, "session reply", include_str!("../migrations/sqlite/0002_session_reply.sql")),
            ],
            Backend::Postgres => [
                (1, "init", include_str!("../migrations/postgres/0001_init.sql")),
                (2, "session reply", include_str!("../migrations/postgres/0002_session_reply.sql")),
            ],
        };
        let migrations = scripts
            .into_iter()
            .map(|(version, name, sql)| {
                Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect();
        Migrator { migrations: Cow::Owned(migrations), ignore_missing: false, locking: true, no_tx: false }
    }
}

/// The [`Store`] a database URL names: SQLite or PostgreSQL.
#[derive(Debug)]
pub struct SqlStore {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl SqlStore {
    /// Opens (creating when missing) the database at `url` (`sqlite://PATH` or `postgres://...`)
    /// and brings its schema up to date.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        let inner = match Backend::of_url(url)? {
            Backend::Sqlite => Inner::Sqlite(sqlite::SqliteStore::open(url).await?),
            Backend::Postgres => Inner::Postgres(postgres::PgStore::open(url).await?),
        };
        Ok(SqlStore { inner })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes the database: waits for queued writes and for connections to be returned.
    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(store) => store.close().await,
            Inner::Postgres(store) => store.close().await,
        }
    }

    fn inner(&self) -> &dyn Store {
        match &self.inner {
            Inner::Sqlite(store) => store,
            Inner::Postgres(store) => store,
        }
    }
}

impl Store for SqlStore {
    fn device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Option<Device>> {
        self.inner().device(dev_id)
    }
    fn insert_devices<'a>(&'a self, devices: &'a [Device]) -> StoreFuture<'a, ()> {
        self.inner().insert_devices(devices)
    }
    fn update_device<'a>(&'a self, device: &'a Device) -> StoreFuture<'a, bool> {
        self.inner().update_device(device)
    }
    fn delete_device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, bool> {
        self.inner().delete_device(dev_id)
    }
    fn devices<'a>(&'a self, query: &'a DeviceQuery) -> StoreFuture<'a, Vec<Device>> {
        self.inner().devices(query)
    }
    fn tree<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<TreeValue>> {
        self.inner().tree(dev_id)
    }
    fn add_to_group<'a>(&'a self, group: &'a str, dev_ids: &'a [String]) -> StoreFuture<'a, ()> {
        self.inner().add_to_group(group, dev_ids)
    }
    fn group_members<'a>(&'a self, group: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.inner().group_members(group)
    }
    fn groups(&self) -> StoreFuture<'_, Vec<(String, i64)>> {
        self.inner().groups()
    }
    fn create_job<'a>(&'a self, dev_id: &'a str, commands: &'a [JobCommand], now_ms: i64) -> StoreFuture<'a, Job> {
        self.inner().create_job(dev_id, commands, now_ms)
    }
    fn job(&self, id: i64) -> StoreFuture<'_, Option<Job>> {
        self.inner().job(id)
    }
    fn jobs<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Job>> {
        self.inner().jobs(dev_id, limit)
    }
    fn pending_jobs<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<Job>> {
        self.inner().pending_jobs(dev_id)
    }
    fn events<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Event>> {
        self.inner().events(dev_id, limit)
    }
    fn session<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<SessionState>> {
        self.inner().session(token)
    }
    fn apply(&self, changes: Vec<Change>) -> StoreFuture<'_, ()> {
        self.inner().apply(changes)
    }
    fn expire_sessions(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        self.inner().expire_sessions(before_ms)
    }
    fn message_context<'a>(&'a self, token: Option<&'a str>, source: &'a str) -> StoreFuture<'a, MessageContext> {
        self.inner().message_context(token, source)
    }
    fn create_jobs<'a>(
        &'a self,
        dev_ids: &'a [String],
        commands: &'a [JobCommand],
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<Job>> {
        self.inner().create_jobs(dev_ids, commands, now_ms)
    }
}

/// The device columns, in the order both backends read and write them.
const DEVICE_COLUMNS: &str = "dev_id, server_id, client_auth, client_user, client_secret, client_nonce, client_spent, \
     server_auth, server_user, server_secret, server_nonce, devinfo, created_ms, last_session_ms";

/// The columns of a job, in the order both backends read them.
const JOB_COLUMNS: &str = "id, dev_id, state, commands, created_ms, updated_ms";

/// The columns of an event, in the order both backends read them.
const EVENT_COLUMNS: &str = "id, dev_id, code, media_type, format, mark, source, correlator, data, received_ms";

/// The columns of a session row that both backends read, in this order: the state JSON, then the
/// last reply's client MsgID, body and HMAC (NULL in rows stored before migration 0002).
const SESSION_COLUMNS: &str = "state, last_reply_msg, last_reply_body, last_reply_hmac";

/// The reply columns of `state`'s row (after `token, dev_id, state, updated_ms`): the last
/// reply's client MsgID, body and HMAC, all NULL when there is none. The state JSON leaves the
/// reply out (see [`SessionState::last_reply`]).
fn reply_columns(state: &SessionState) -> (Option<i64>, Option<&[u8]>, Option<&str>) {
    match &state.last_reply {
        Some(reply) => (Some(i64::from(reply.client_msg)), Some(&reply.body), reply.hmac.as_deref()),
        None => (None, None, None),
    }
}

/// A session read back from the [`SESSION_COLUMNS`] of its row. The reply columns, when set,
/// give the last reply, unless the state JSON carries one of its own (a row written last by a server
/// from before migration 0002), which then stands.
fn session_from_columns(
    state: &str,
    reply_msg: Option<i64>,
    reply_body: Option<Vec<u8>>,
    reply_hmac: Option<String>,
) -> Result<SessionState, StoreError> {
    let mut session: SessionState = serde_json::from_str(state).map_err(|e| corrupt("session state", e))?;
    if session.last_reply.is_some() {
        // Only a server from before migration 0002 writes the reply into the JSON, and it leaves
        // the columns as they were: while old and new servers share a database (an upgrade), the
        // JSON's reply of a row an old server wrote last is the fresher one.
        return Ok(session);
    }
    match (reply_msg, reply_body) {
        (Some(msg), Some(body)) => {
            let client_msg = u32::try_from(msg).map_err(|e| corrupt("session reply MsgID", e))?;
            session.last_reply = Some(StoredReply { client_msg, body, hmac: reply_hmac });
        }
        (None, None) => {}
        _ => return Err(corrupt("session reply", "MsgID and body are not both set")),
    }
    Ok(session)
}

/// The error of a client-nonce update that found the device's nonce changed since the message
/// was read (see `Change::ClientNonces`).
fn stale_nonce(dev_id: &str) -> StoreError {
    StoreError::Stale(format!("the client nonce of {dev_id}"))
}

/// The error of a session save that found the stored session moved on since the message was
/// read (see `Change::SaveSession`).
fn stale_session(token: &str) -> StoreError {
    StoreError::Stale(format!("the state of session {token}"))
}

/// The `server_msg` the stored state of a session must have for `state` to replace it: the
/// state the message was handled from (`Change::SaveSession`); `None` for a session's first
/// state, which is inserted, never replacing a row. The stores compare it with the stored state
/// JSON's own field, so that rows written by servers of every version are checked alike, with no
/// column of its own to keep in step. A later state finds no row to replace when the session
/// was deleted meanwhile (ended by another node, or expired): it is not brought back.
fn replaced_server_msg(state: &SessionState) -> Option<i64> {
    (state.server_msg > 1).then(|| i64::from(state.server_msg) - 1)
}

/// The format and data a device value (a tree value, an event's data) is stored with, the same on
/// both backends: as it came, unless the data holds a NUL, which PostgreSQL text cannot hold
/// (opaque data of format chr, kept as text when it is UTF-8): then the base64 of its bytes with
/// format `b64`, the format that says the data is base64 (`docs/dm13-decisions.md`).
fn stored_value<'a>(format: Option<&'a str>, data: &'a str) -> (Option<Cow<'a, str>>, Cow<'a, str>) {
    use base64::Engine as _;
    if data.contains('\0') {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        (Some(Cow::Borrowed("b64")), Cow::Owned(encoded))
    } else {
        (format.map(Cow::Borrowed), Cow::Borrowed(data))
    }
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}
