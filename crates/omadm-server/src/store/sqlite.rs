//! [`SqliteStore`]: the [`Store`] on SQLite, with every connection owned by one OS thread.
//!
//! SQLite calls are synchronous and fast (microseconds), so what costs is handing work between
//! threads. Here each [`Store`] call is one closure sent to a connection's thread and answered
//! through a oneshot channel: one hand-off per call, whatever number of statements it runs.
//!
//! - One writer thread owns the only writing connection. It takes whatever change lists have
//!   queued up (up to [`MAX_GROUP`]) and commits them in one transaction (group commit), each in
//!   its own savepoint, so that a list that fails is rolled back alone and only its caller sees
//!   the error. The REST API's writes run on the same thread, in arrival order.
//! - [`READER_THREADS`] reader threads serve reads from one shared queue; WAL lets them read
//!   while the writer commits, and a read after a write's answer sees that write. A DM message's
//!   reads are one [`Store::message_context`] call.
//! - A checkpointer thread copies the WAL's pages into the database file, on its own connection,
//!   so that the writer does not (see below).
//!
//! Checkpoints: SQLite's default (`wal_autocheckpoint`) runs them on the connection that commits,
//! that is on the writer thread, the serial bottleneck under load: the copy and, with
//! `synchronous=NORMAL`, the fsyncs of a checkpoint stall every commit queued behind it (without
//! them `omadm loadgen` ran about 6 % more sessions per second, but the WAL grew without end).
//! So the writer connection has autocheckpoint off and a WAL hook instead, which SQLite calls
//! after each commit with the number of frames (pages) in the WAL: a store and a compare per
//! commit. Each time the WAL has grown by another [`CHECKPOINT_PAGES`], the writer wakes the
//! checkpointer (a channel of capacity 1: a wake-up that finds one pending is dropped), which runs
//! a PASSIVE checkpoint: it waits for no reader or writer and copies what no reader still needs.
//!
//! The WAL starts over from its beginning (its file grows no further) at the first commit after a
//! checkpoint that copied all of it. One that runs beside the writer ends with the frames
//! committed meanwhile still to copy: while the writer commits without pause, the checkpointer
//! takes the copying off it, but the WAL starts over only when commits pause for as long as a
//! checkpoint takes. The bound: once the WAL holds [`WAL_LIMIT_PAGES`], the writer itself, after
//! a checkpoint under way has finished, runs one on the checkpointer's connection after each
//! commit that added frames, as autocheckpoint would have (at 1,000 pages), until one copies it
//! all; that copies only what the checkpointer has not yet, so under steady load the writer's own
//! checkpoint comes about once per [`WAL_LIMIT_PAGES`] (after every commit only while a reader
//! pins the WAL, as with autocheckpoint). So the WAL file stays
//! under [`WAL_LIMIT_PAGES`] plus the frames of the last commits, unless a reader holds an old
//! snapshot: as with autocheckpoint, the WAL cannot start over until it lets go (ours hold one
//! for one call; a process reading the same file could hold one longer).
//!
//! Why threads and not SQLite calls right on the runtime's workers (which would save the
//! hand-offs too): measured with `omadm loadgen` (1,000 devices, 64 concurrent, 2 cores), both
//! cost the same CPU per session, but on their own threads the commits' file writes run beside
//! the HTTP work instead of stalling a worker, for about 10 % more sessions per second and a
//! lower p99.
//!
//! The schema is brought up to date by sqlx's migrator at open (the same `_sqlx_migrations`
//! bookkeeping as ever), then the file is handed to the threads.

use super::{
    corrupt, json, replaced_server_msg, reply_columns, session_from_columns, stale_nonce, stale_session, stored_value,
    Backend, DeviceQuery, MessageContext, Store, StoreError, StoreFuture, DEVICE_COLUMNS, EVENT_COLUMNS, JOB_COLUMNS,
    SESSION_COLUMNS,
};
use crate::engine::{Change, SessionLookup, SessionState};
use crate::model::{AccountAuth, AuthKind, Device, Event, Job, JobCommand, JobState, TreeValue};
use rusqlite::ffi;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::ConnectOptions;
use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// Reader threads: one per core of the machines the server is sized for (2 cores).
pub const READER_THREADS: usize = 2;

/// The most change lists one group commit holds.
pub const MAX_GROUP: usize = 256;

/// Jobs queued per transaction by [`Store::create_jobs`] (a group job for 100,000 devices).
const JOBS_PER_TRANSACTION: usize = 1000;

/// Prepared statements kept per connection: every statement this module runs fits.
const STATEMENT_CACHE: usize = 64;

/// How long a connection waits for a lock held by another process (a second server, the CLI).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// WAL growth (pages) after which the writer wakes the checkpointer: SQLite's default
/// `wal_autocheckpoint`, a few MB, enough pages per checkpoint that pages written again and
/// again (the devices' and sessions' tables) are copied once for many commits.
pub const CHECKPOINT_PAGES: u32 = 1000;

/// WAL size (pages, 40 MB at SQLite's default 4 KiB) at which the writer checkpoints itself, so
/// that the WAL stays bounded when the checkpointer does not get it to start over (see the module
/// doc): ten times [`CHECKPOINT_PAGES`], so that under steady load the writer's own checkpoints
/// are about a tenth of autocheckpoint's.
pub const WAL_LIMIT_PAGES: u32 = 10 * CHECKPOINT_PAGES;

/// Work for a connection's thread; `None` tells the thread to stop.
type Task = Box<dyn FnOnce(&mut Connection) + Send>;

/// Where the writer thread reports a change list's outcome.
type Answer = oneshot::Sender<Result<(), StoreError>>;

/// What the writer thread is asked to do.
enum WriteRequest {
    /// Apply one DM message's changes (group-committed with the others queued).
    Apply(Vec<EncodedChange>, Answer),
    /// Run one write of its own (the REST API's), in its own transaction.
    Run(Task),
    /// Finish what is queued before this, then stop.
    Stop,
}

/// [`Store`] on a SQLite file: one writer thread (group commit), [`READER_THREADS`] reader
/// threads, each owning its connection.
#[derive(Debug)]
pub struct SqliteStore {
    writes: mpsc::Sender<WriteRequest>,
    reads: mpsc::Sender<Option<Task>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens (creating when missing) the SQLite database at `url` (`sqlite:PATH` or
    /// `sqlite://PATH`), brings its schema up to date and starts the connection threads.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let path = options.get_filename().to_path_buf();
        let mut migration = options.connect().await?;
        Backend::Sqlite.migrator().run(&mut migration).await?;
        sqlx::Connection::close(migration).await?;
        tokio::task::spawn_blocking(move || SqliteStore::start(&path)).await.map_err(|_| StoreError::Closed)?
    }

    /// Opens the connections and starts their threads.
    fn start(path: &Path) -> Result<SqliteStore, StoreError> {
        let checkpointer = Arc::new(Mutex::new(connect(path, false)?));
        let (wake, wake_ups) = mpsc::sync_channel(1);
        let writer = Writer::new(connect(path, false)?, checkpointer.clone(), wake)?;
        let mut readers = Vec::with_capacity(READER_THREADS);
        for _ in 0..READER_THREADS {
            readers.push(connect(path, true)?);
        }
        let (writes, write_queue) = mpsc::channel();
        let (reads, read_queue) = mpsc::channel::<Option<Task>>();
        let read_queue = Arc::new(Mutex::new(read_queue));
        let spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name).spawn(body).map_err(StoreError::Thread)
        };
        let mut threads = vec![
            spawn("omadm-sqlite-writer".into(), Box::new(move || write_loop(writer, write_queue)))?,
            spawn("omadm-sqlite-checkpointer".into(), Box::new(move || checkpoint_loop(&checkpointer, &wake_ups)))?,
        ];
        for (i, conn) in readers.into_iter().enumerate() {
            let queue = read_queue.clone();
            threads.push(spawn(format!("omadm-sqlite-reader-{i}"), Box::new(move || read_loop(conn, &queue)))?);
        }
        Ok(SqliteStore { writes, reads, threads: Mutex::new(threads) })
    }

    /// Finishes the queued writes, stops the threads (the checkpointer after the writer, with a
    /// last checkpoint) and closes the connections.
    pub async fn close(&self) {
        let _ = self.writes.send(WriteRequest::Stop);
        for _ in 0..READER_THREADS {
            let _ = self.reads.send(None);
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }

    /// Runs `read` on a reader thread.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let task: Task = Box::new(move |conn| {
            let _ = done.send(read(conn));
        });
        self.reads.send(Some(task)).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `write` on the writer thread, after the writes queued before it.
    async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let task: Task = Box::new(move |conn| {
            let _ = done.send(write(conn));
        });
        self.writes.send(WriteRequest::Run(task)).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Opens one connection: WAL with `synchronous=NORMAL` (durable across process crashes, one
/// fsync per checkpoint rather than per commit), foreign keys on; readers are `query_only`.
fn connect(path: &Path, reader: bool) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_failed(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0))?;
    // temp_store: the statement journals of the savepoint path stay in memory, not in a file.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")?;
    if reader {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn open_failed(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Open { path: PathBuf::from(path), source }
}

/// Runs `task`; a panic in it is logged and drops only its own answer (the caller sees
/// [`StoreError::Closed`]), the thread goes on.
fn run_guarded(task: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(task)).is_err() {
        tracing::error!("a storage task panicked; its caller gets an error");
    }
}

/// A reader thread: serves the shared queue until told to stop or the store is dropped.
fn read_loop(mut conn: Connection, queue: &Mutex<mpsc::Receiver<Option<Task>>>) {
    loop {
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match next {
            Ok(Some(task)) => run_guarded(|| task(&mut conn)),
            Ok(None) | Err(_) => return,
        }
    }
}

/// The writer thread's connection, with what keeps its WAL bounded (see the module doc).
struct Writer {
    /// Declared before `wal_frames`, so closed (and its WAL hook gone) before that is freed.
    conn: Connection,
    /// The frames in the WAL after the last commit, set by the WAL hook ([`count_wal_frames`]).
    /// Behind an `Arc`, so that the address the hook holds stays valid however the writer moves
    /// (a `Box` moved would, for Rust's aliasing rules, invalidate pointers taken from it).
    wal_frames: Arc<AtomicU32>,
    /// `wal_frames` when [`Writer::committed`] last looked.
    seen_frames: u32,
    /// The checkpointer's connection, locked while a checkpoint runs on it.
    checkpointer: Arc<Mutex<Connection>>,
    /// Wakes the checkpointer; dropped with the writer, which tells it to stop.
    wake: mpsc::SyncSender<()>,
}

impl Writer {
    /// Turns autocheckpoint off on `conn` and installs the WAL hook instead.
    fn new(
        conn: Connection,
        checkpointer: Arc<Mutex<Connection>>,
        wake: mpsc::SyncSender<()>,
    ) -> Result<Writer, StoreError> {
        // First: setting autocheckpoint (to anything) replaces the WAL hook.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let wal_frames = Arc::new(AtomicU32::new(0));
        // SAFETY: the handle is `conn`'s, open. The hook's argument points to the atomic, which
        // outlives the hook: the writer holds an `Arc` of it, and `conn` is closed first (the
        // fields' order). The hook only stores through the pointer, atomically.
        unsafe {
            ffi::sqlite3_wal_hook(conn.handle(), Some(count_wal_frames), Arc::as_ptr(&wal_frames).cast_mut().cast());
        }
        Ok(Writer { conn, wal_frames, seen_frames: 0, checkpointer, wake })
    }

    /// After commits: wakes the checkpointer when the WAL has grown past another multiple of
    /// [`CHECKPOINT_PAGES`], or, once it holds [`WAL_LIMIT_PAGES`] and has grown since the last
    /// look, runs a checkpoint itself (after the one under way, if any).
    fn committed(&mut self) {
        let frames = self.wal_frames.load(Ordering::Relaxed);
        if frames >= WAL_LIMIT_PAGES && frames != self.seen_frames {
            checkpoint(&self.checkpointer);
        } else if frames / CHECKPOINT_PAGES > self.seen_frames / CHECKPOINT_PAGES {
            // Full: a wake-up is pending already. Disconnected: the checkpointer is gone (it
            // does not panic), and the limit still holds.
            let _ = self.wake.try_send(());
        }
        self.seen_frames = frames;
    }
}

/// The writer connection's WAL hook: SQLite calls it after each commit with the number of frames
/// in the WAL, which it stores where `count` points (the writer's `wal_frames`).
unsafe extern "C" fn count_wal_frames(
    count: *mut c_void,
    _db: *mut ffi::sqlite3,
    _schema: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `count` is the writer's `wal_frames`, alive (see [`Writer::new`]).
    unsafe { (*count.cast::<AtomicU32>()).store(u32::try_from(frames).unwrap_or(0), Ordering::Relaxed) };
    ffi::SQLITE_OK
}

/// Runs a PASSIVE checkpoint on the checkpointer's connection, after the one under way: copies the
/// WAL frames that no reader still needs into the database file, waiting for no reader. A failure
/// is logged and harmless: the frames stay in the WAL, where the next checkpoint finds them.
fn checkpoint(checkpointer: &Mutex<Connection>) {
    let conn = checkpointer.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %err, "WAL checkpoint failed");
    }
}

/// The checkpointer thread: a checkpoint at each wake-up, and a last one once the writer has
/// stopped (its end of the channel dropped).
fn checkpoint_loop(checkpointer: &Mutex<Connection>, wake_ups: &mpsc::Receiver<()>) {
    while wake_ups.recv().is_ok() {
        checkpoint(checkpointer);
    }
    checkpoint(checkpointer);
}

/// The writer thread: group-commits queued change lists, runs the other writes in order.
fn write_loop(mut writer: Writer, queue: mpsc::Receiver<WriteRequest>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut group = Vec::new();
        for request in batch {
            match request {
                WriteRequest::Apply(changes, done) => group.push((changes, done)),
                WriteRequest::Run(task) => {
                    commit_group(&mut writer.conn, std::mem::take(&mut group));
                    run_guarded(|| task(&mut writer.conn));
                    writer.committed();
                }
                WriteRequest::Stop => {
                    commit_group(&mut writer.conn, group);
                    return;
                }
            }
        }
        commit_group(&mut writer.conn, group);
        writer.committed();
    }
}

/// Commits change lists in one transaction and tells each caller its own outcome.
fn commit_group(conn: &mut Connection, group: Vec<(Vec<EncodedChange>, Answer)>) {
    if group.is_empty() {
        return;
    }
    let lists: Vec<&[EncodedChange]> = group.iter().map(|(changes, _)| changes.as_slice()).collect();
    let mut outcomes = Vec::with_capacity(group.len());
    run_guarded(|| outcomes = group_transaction(conn, &lists));
    for ((_, done), outcome) in group.into_iter().zip(outcomes) {
        let _ = done.send(outcome);
    }
}

/// Applies the change lists in one transaction. First without savepoints: every list applied in
/// turn, one commit. A savepoint per list costs a SAVEPOINT and a RELEASE statement and, worse,
/// copies every page the list touches that an earlier list of the group dirtied already into the
/// statement sub-journal (a temporary file): measured with `perf`, about 7 % of the server's CPU
/// at 64 concurrent sessions. Lists almost never fail, so only when one does is the transaction
/// rolled back and the group redone with a savepoint per list ([`group_with_savepoints`]), where
/// the failing list is rolled back alone and only its caller sees the error.
fn group_transaction(conn: &mut Connection, lists: &[&[EncodedChange]]) -> Vec<Result<(), StoreError>> {
    let plain = (|| -> Result<bool, rusqlite::Error> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for changes in lists {
            if apply_changes(&tx, changes).is_err() {
                // Dropping the transaction rolls the whole group back.
                return Ok(false);
            }
        }
        tx.commit()?;
        Ok(true)
    })();
    match plain {
        Ok(true) => lists.iter().map(|_| Ok(())).collect(),
        // A list failed (or BEGIN or COMMIT did): redo the group list by list, which gives each
        // list its own outcome.
        Ok(false) | Err(_) => group_with_savepoints(conn, lists),
    }
}

/// Applies each change list in a savepoint of one transaction: a list that fails is rolled back
/// alone. If the transaction itself fails, every list gets [`StoreError::CommitFailed`].
fn group_with_savepoints(conn: &mut Connection, lists: &[&[EncodedChange]]) -> Vec<Result<(), StoreError>> {
    let mut outcomes = Vec::with_capacity(lists.len());
    let committed = (|| -> Result<(), rusqlite::Error> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for changes in lists {
            let savepoint = tx.savepoint()?;
            match apply_changes(&savepoint, changes) {
                Ok(()) => {
                    savepoint.commit()?;
                    outcomes.push(Ok(()));
                }
                // Dropping the savepoint rolls this list back.
                Err(err) => outcomes.push(Err(err)),
            }
        }
        tx.commit()
    })();
    match committed {
        Ok(()) => outcomes,
        Err(err) => lists.iter().map(|_| Err(StoreError::CommitFailed(err.to_string()))).collect(),
    }
}

/// A change with the TEXT column its statement binds already encoded (the JSON of a session
/// state, job commands or DevInfo; the spent-nonce list), so that the encoding runs on the
/// caller's thread, in parallel, and not on the one writer thread every commit waits for.
struct EncodedChange {
    change: Change,
    /// The encoded column for the changes that have one (see [`EncodedChange::new`]), else empty.
    text: String,
}

impl EncodedChange {
    /// Encodes `change`'s TEXT column, if it has one.
    fn new(change: Change) -> EncodedChange {
        let text = match &change {
            Change::DeviceEnrolled(device) => json(&device.devinfo),
            Change::ClientNonces { spent, .. } => spent.join(","),
            Change::DevInfo { values, .. } => json(values),
            Change::Job(job) => json(&job.commands),
            Change::SaveSession(state) => json(state),
            Change::ServerNonce { .. }
            | Change::JobState { .. }
            | Change::Tree { .. }
            | Change::Event(_)
            | Change::EndSession { .. }
            | Change::SessionCompleted { .. } => String::new(),
        };
        EncodedChange { change, text }
    }
}

/// The device-row columns that one message's nonce and completion changes set, gathered into
/// one UPDATE where they took one each: a session's last message (Package 3) carries the client
/// nonces, the server nonce and the session's completion, three UPDATEs of the same row.
struct DeviceUpdate<'a> {
    dev_id: &'a str,
    /// The client nonce, the spent list (encoded) and the nonce the row must still hold.
    client: Option<(&'a str, &'a str, &'a str)>,
    server_nonce: Option<&'a str>,
    completed_ms: Option<i64>,
    /// Where in the list the UPDATE runs: at the last change it stands for.
    last: usize,
}

impl<'a> DeviceUpdate<'a> {
    /// The merged UPDATE of `changes`, when at least two of them are such column changes, all of
    /// one device, and no device is enrolled in the list (an UPDATE moved past the INSERT of its
    /// row would find the row where before it found none).
    fn gather(changes: &'a [EncodedChange]) -> Option<DeviceUpdate<'a>> {
        let mut update: Option<DeviceUpdate<'a>> = None;
        let mut count = 0;
        for (i, EncodedChange { change, text }) in changes.iter().enumerate() {
            let dev_id = match change {
                Change::DeviceEnrolled(_) => return None,
                Change::ClientNonces { dev_id, .. }
                | Change::ServerNonce { dev_id, .. }
                | Change::SessionCompleted { dev_id, .. } => dev_id.as_str(),
                _ => continue,
            };
            let u = update.get_or_insert(DeviceUpdate {
                dev_id,
                client: None,
                server_nonce: None,
                completed_ms: None,
                last: i,
            });
            if u.dev_id != dev_id {
                return None;
            }
            match change {
                Change::ClientNonces { previous, current, .. } => u.client = Some((current, text, previous)),
                Change::ServerNonce { nonce, .. } => u.server_nonce = Some(nonce),
                Change::SessionCompleted { at_ms, .. } => u.completed_ms = Some(*at_ms),
                _ => {}
            }
            u.last = i;
            count += 1;
        }
        update.filter(|_| count >= 2)
    }

    /// Whether `change` is one of those the merged UPDATE stands for.
    fn covers(change: &Change) -> bool {
        matches!(change, Change::ClientNonces { .. } | Change::ServerNonce { .. } | Change::SessionCompleted { .. })
    }

    fn execute(&self, conn: &Connection) -> Result<(), StoreError> {
        // The parameters are always these six, in this order; a statement binds the first `n`.
        // With the client nonce, the row must still hold the one the message was checked against.
        let (sql, n) = match (self.client.is_some(), self.server_nonce.is_some(), self.completed_ms.is_some()) {
            (true, true, true) => (
                "UPDATE devices SET client_nonce = ?2, client_spent = ?3, server_nonce = ?4, last_session_ms = ?5 \
                 WHERE dev_id = ?1 AND client_nonce = ?6",
                6,
            ),
            (true, true, false) => (
                "UPDATE devices SET client_nonce = ?2, client_spent = ?3, server_nonce = ?4 \
                 WHERE dev_id = ?1 AND client_nonce = ?6",
                6,
            ),
            (true, false, true) => (
                "UPDATE devices SET client_nonce = ?2, client_spent = ?3, last_session_ms = ?5 \
                 WHERE dev_id = ?1 AND client_nonce = ?6",
                6,
            ),
            (true, false, false) => {
                ("UPDATE devices SET client_nonce = ?2, client_spent = ?3 WHERE dev_id = ?1 AND client_nonce = ?6", 6)
            }
            (false, true, true) => ("UPDATE devices SET server_nonce = ?4, last_session_ms = ?5 WHERE dev_id = ?1", 5),
            (false, true, false) => ("UPDATE devices SET server_nonce = ?4 WHERE dev_id = ?1", 4),
            (false, false, true) => ("UPDATE devices SET last_session_ms = ?5 WHERE dev_id = ?1", 5),
            (false, false, false) => return Ok(()),
        };
        let (current, spent, previous) = match self.client {
            Some((current, spent, previous)) => (Some(current), Some(spent), Some(previous)),
            None => (None, None, None),
        };
        let params: [&dyn rusqlite::ToSql; 6] =
            [&self.dev_id, &current, &spent, &self.server_nonce, &self.completed_ms, &previous];
        let updated = conn.prepare_cached(sql)?.execute(&params[..n])?;
        if updated == 0 && self.client.is_some() {
            return Err(stale_nonce(self.dev_id));
        }
        Ok(())
    }
}

/// Runs one message's changes on `conn` (inside the caller's transaction).
fn apply_changes(conn: &Connection, changes: &[EncodedChange]) -> Result<(), StoreError> {
    let merged = DeviceUpdate::gather(changes);
    for (i, EncodedChange { change, text }) in changes.iter().enumerate() {
        if let Some(update) = merged.as_ref().filter(|_| DeviceUpdate::covers(change)) {
            if i == update.last {
                update.execute(conn)?;
            }
            continue;
        }
        match change {
            Change::DeviceEnrolled(d) => {
                let sql = format!(
                    "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT DO NOTHING"
                );
                insert_device(conn, &sql, d, text)?;
            }
            Change::ClientNonces { dev_id, previous, current, spent: _ } => {
                let updated = conn
                    .prepare_cached(
                        "UPDATE devices SET client_nonce = ?2, client_spent = ?3 WHERE dev_id = ?1 AND client_nonce = ?4",
                    )?
                    .execute((dev_id, current, text, previous))?;
                if updated == 0 {
                    return Err(stale_nonce(dev_id));
                }
            }
            Change::ServerNonce { dev_id, nonce } => {
                conn.prepare_cached("UPDATE devices SET server_nonce = ?2 WHERE dev_id = ?1")?
                    .execute((dev_id, nonce))?;
            }
            Change::DevInfo { dev_id, values: _ } => {
                conn.prepare_cached("UPDATE devices SET devinfo = ?2 WHERE dev_id = ?1")?.execute((dev_id, text))?;
            }
            Change::Tree { dev_id, values } => {
                let mut upsert = conn.prepare_cached(
                    "INSERT INTO tree_values (dev_id, uri, format, data, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (dev_id, uri) DO UPDATE SET format = excluded.format, data = excluded.data, \
                     updated_ms = excluded.updated_ms",
                )?;
                for v in values {
                    let (format, data) = stored_value(Some(&v.format), &v.data);
                    upsert.execute((dev_id, &v.uri, format, data, v.updated_ms))?;
                }
            }
            Change::Event(e) => {
                let (format, data) = stored_value(e.format.as_deref(), &e.data);
                conn.prepare_cached(
                    "INSERT INTO events (dev_id, code, media_type, format, mark, source, correlator, data, \
                     received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute((
                    &e.dev_id,
                    i64::from(e.code),
                    &e.media_type,
                    format,
                    &e.mark,
                    &e.source,
                    &e.correlator,
                    data,
                    e.received_ms,
                ))?;
            }
            Change::Job(job) => {
                conn.prepare_cached("UPDATE jobs SET state = ?2, commands = ?3, updated_ms = ?4 WHERE id = ?1")?
                    .execute((job.id, job.state.as_str(), text, job.updated_ms))?;
            }
            Change::JobState { id, state, updated_ms } => {
                conn.prepare_cached("UPDATE jobs SET state = ?2, updated_ms = ?3 WHERE id = ?1")?.execute((
                    id,
                    state.as_str(),
                    updated_ms,
                ))?;
            }
            Change::SaveSession(state) => {
                let (reply_msg, reply_body, reply_hmac) = reply_columns(state);
                let columns = (&state.token, &state.dev_id, text, state.last_ms, reply_msg, reply_body, reply_hmac);
                let stored = match replaced_server_msg(state) {
                    None => conn
                        .prepare_cached(
                            "INSERT INTO sessions (token, dev_id, state, updated_ms, last_reply_msg, \
                             last_reply_body, last_reply_hmac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                             ON CONFLICT (token) DO NOTHING",
                        )?
                        .execute(columns)?,
                    Some(previous) => {
                        let (token, dev_id, text, updated_ms, reply_msg, reply_body, reply_hmac) = columns;
                        conn.prepare_cached(
                            "UPDATE sessions SET state = ?3, updated_ms = ?4, last_reply_msg = ?5, \
                             last_reply_body = ?6, last_reply_hmac = ?7 \
                             WHERE token = ?1 AND dev_id = ?2 AND json_extract(state, '$.server_msg') = ?8",
                        )?
                        .execute((token, dev_id, text, updated_ms, reply_msg, reply_body, reply_hmac, previous))?
                    }
                };
                if stored == 0 {
                    return Err(stale_session(&state.token));
                }
            }
            Change::EndSession { token } => {
                conn.prepare_cached("DELETE FROM sessions WHERE token = ?1")?.execute([token])?;
            }
            Change::SessionCompleted { dev_id, at_ms } => {
                conn.prepare_cached("UPDATE devices SET last_session_ms = ?2 WHERE dev_id = ?1")?
                    .execute((dev_id, at_ms))?;
            }
        }
    }
    Ok(())
}

/// Inserts one device row with `sql` (an INSERT of [`DEVICE_COLUMNS`] as `?1`..`?14`);
/// `devinfo` is `d.devinfo` as JSON.
fn insert_device(conn: &Connection, sql: &str, d: &Device, devinfo: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(rusqlite::params![
        d.dev_id,
        d.server_id,
        d.client.kind.as_str(),
        d.client.user,
        d.client.secret,
        d.client.nonce,
        d.client.spent.join(","),
        d.server.kind.as_str(),
        d.server.user,
        d.server.secret,
        d.server.nonce,
        devinfo,
        d.created_ms,
        d.last_session_ms,
    ])
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// A device from a row of [`DEVICE_COLUMNS`].
fn device_from_row(row: &rusqlite::Row<'_>) -> Result<Device, StoreError> {
    let kind = |index: usize, col: &str| -> Result<AuthKind, StoreError> {
        let text: String = row.get(index)?;
        AuthKind::parse(&text).ok_or_else(|| corrupt(col, text))
    };
    let spent: String = row.get(6)?;
    let devinfo: String = row.get(11)?;
    Ok(Device {
        dev_id: row.get(0)?,
        server_id: row.get(1)?,
        client: AccountAuth {
            kind: kind(2, "client_auth")?,
            user: row.get(3)?,
            secret: row.get(4)?,
            nonce: row.get(5)?,
            spent: spent.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        },
        server: AccountAuth {
            kind: kind(7, "server_auth")?,
            user: row.get(8)?,
            secret: row.get(9)?,
            nonce: row.get(10)?,
            spent: Vec::new(),
        },
        devinfo: serde_json::from_str(&devinfo).map_err(|e| corrupt("devinfo", e))?,
        created_ms: row.get(12)?,
        last_session_ms: row.get(13)?,
    })
}

/// A job from a row of [`JOB_COLUMNS`].
fn job_from_row(row: &rusqlite::Row<'_>) -> Result<Job, StoreError> {
    let state: String = row.get(2)?;
    let commands: String = row.get(3)?;
    Ok(Job {
        id: row.get(0)?,
        dev_id: row.get(1)?,
        state: JobState::parse(&state).ok_or_else(|| corrupt("job state", &state))?,
        commands: serde_json::from_str(&commands).map_err(|e| corrupt("job commands", e))?,
        created_ms: row.get(4)?,
        updated_ms: row.get(5)?,
    })
}

/// An event from a row of [`EVENT_COLUMNS`].
fn event_from_row(row: &rusqlite::Row<'_>) -> Result<Event, StoreError> {
    let code: i64 = row.get(2)?;
    Ok(Event {
        id: row.get(0)?,
        dev_id: row.get(1)?,
        code: u16::try_from(code).map_err(|e| corrupt("event code", e))?,
        media_type: row.get(3)?,
        format: row.get(4)?,
        mark: row.get(5)?,
        source: row.get(6)?,
        correlator: row.get(7)?,
        data: row.get(8)?,
        received_ms: row.get(9)?,
    })
}

/// Runs a query and decodes every row with `decode`.
fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut all = Vec::new();
    while let Some(row) = rows.next()? {
        all.push(decode(row)?);
    }
    Ok(all)
}

/// The statements of the reads every DM message runs ([`Store::message_context`]), built from the
/// shared column lists once rather than formatted again at every message.
static READ_DEVICE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE dev_id = ?1"));
static READ_PENDING_JOBS: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM jobs WHERE dev_id = ?1 AND state IN ('queued', 'running')"));
static READ_SESSION: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token = ?1"));

fn read_device(conn: &Connection, dev_id: &str) -> Result<Option<Device>, StoreError> {
    Ok(query_all(conn, &READ_DEVICE, [dev_id], device_from_row)?.pop())
}

/// A device's queued and running jobs, oldest first. Sorted here, not by `ORDER BY id`: the
/// `(dev_id, state)` index gives them by state, and SQLite sorted the few rows in a temporary
/// B-tree, a good part of the cost of the query that every DM message runs.
fn read_pending_jobs(conn: &Connection, dev_id: &str) -> Result<Vec<Job>, StoreError> {
    let mut jobs = query_all(conn, &READ_PENDING_JOBS, [dev_id], job_from_row)?;
    jobs.sort_unstable_by_key(|job| job.id);
    Ok(jobs)
}

fn read_session(conn: &Connection, token: &str) -> Result<Option<SessionState>, StoreError> {
    conn.prepare_cached(&READ_SESSION)?
        .query_row([token], |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .optional()?
        .map(|(state, msg, body, hmac)| session_from_columns(&state, msg, body, hmac))
        .transpose()
}

impl Store for SqliteStore {
    fn device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Option<Device>> {
        let dev_id = dev_id.to_string();
        Box::pin(self.read(move |conn| read_device(conn, &dev_id)))
    }

    fn insert_devices<'a>(&'a self, devices: &'a [Device]) -> StoreFuture<'a, ()> {
        let devices = devices.to_vec();
        Box::pin(self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let sql = format!(
                "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            );
            for d in &devices {
                match insert_device(&tx, &sql, d, &json(&d.devinfo)) {
                    Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(d.dev_id.clone())),
                    other => other?,
                };
            }
            tx.commit()?;
            Ok(())
        }))
    }

    fn update_device<'a>(&'a self, d: &'a Device) -> StoreFuture<'a, bool> {
        let d = d.clone();
        Box::pin(self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE devices SET server_id = ?2, client_auth = ?3, client_user = ?4, client_secret = ?5, \
                     client_nonce = ?6, client_spent = ?7, server_auth = ?8, server_user = ?9, server_secret = ?10, \
                     server_nonce = ?11 WHERE dev_id = ?1",
                )?
                .execute(rusqlite::params![
                    d.dev_id,
                    d.server_id,
                    d.client.kind.as_str(),
                    d.client.user,
                    d.client.secret,
                    d.client.nonce,
                    d.client.spent.join(","),
                    d.server.kind.as_str(),
                    d.server.user,
                    d.server.secret,
                    d.server.nonce,
                ])?;
            Ok(changed > 0)
        }))
    }

    fn delete_device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, bool> {
        let dev_id = dev_id.to_string();
        Box::pin(self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for table in ["device_groups", "tree_values", "jobs", "events", "sessions"] {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE dev_id = ?1"))?.execute([&dev_id])?;
            }
            let deleted = tx.prepare_cached("DELETE FROM devices WHERE dev_id = ?1")?.execute([&dev_id])?;
            tx.commit()?;
            Ok(deleted > 0)
        }))
    }

    fn devices<'a>(&'a self, q: &'a DeviceQuery) -> StoreFuture<'a, Vec<Device>> {
        let pattern = q.search.as_ref().map(|s| format!("%{}%", s.replace(['%', '_'], "")));
        let group = q.group.clone();
        let limit = q.limit.unwrap_or(100).clamp(1, 100_000);
        let offset = q.offset.unwrap_or(0).max(0);
        Box::pin(self.read(move |conn| {
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices d WHERE (?1 IS NULL OR d.dev_id LIKE ?1 OR d.devinfo LIKE ?1) \
                 AND (?2 IS NULL OR EXISTS (SELECT 1 FROM device_groups g WHERE g.name = ?2 AND g.dev_id = d.dev_id)) \
                 ORDER BY d.dev_id LIMIT ?3 OFFSET ?4"
            );
            query_all(conn, &sql, (pattern, group, limit, offset), device_from_row)
        }))
    }

    fn tree<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<TreeValue>> {
        let dev_id = dev_id.to_string();
        Box::pin(self.read(move |conn| {
            query_all(
                conn,
                "SELECT uri, format, data, updated_ms FROM tree_values WHERE dev_id = ?1 ORDER BY uri",
                [dev_id],
                |row| {
                    Ok(TreeValue { uri: row.get(0)?, format: row.get(1)?, data: row.get(2)?, updated_ms: row.get(3)? })
                },
            )
        }))
    }

    fn add_to_group<'a>(&'a self, group: &'a str, dev_ids: &'a [String]) -> StoreFuture<'a, ()> {
        let group = group.to_string();
        let dev_ids = dev_ids.to_vec();
        Box::pin(self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO device_groups (name, dev_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?;
                for dev_id in &dev_ids {
                    insert.execute((&group, dev_id))?;
                }
            }
            tx.commit()?;
            Ok(())
        }))
    }

    fn group_members<'a>(&'a self, group: &'a str) -> StoreFuture<'a, Vec<String>> {
        let group = group.to_string();
        Box::pin(self.read(move |conn| {
            query_all(conn, "SELECT dev_id FROM device_groups WHERE name = ?1 ORDER BY dev_id", [group], |row| {
                Ok(row.get(0)?)
            })
        }))
    }

    fn groups(&self) -> StoreFuture<'_, Vec<(String, i64)>> {
        Box::pin(self.read(|conn| {
            query_all(
                conn,
                "SELECT name, COUNT(*) AS members FROM device_groups GROUP BY name ORDER BY name",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        }))
    }

    fn create_job<'a>(&'a self, dev_id: &'a str, commands: &'a [JobCommand], now_ms: i64) -> StoreFuture<'a, Job> {
        let dev_id = dev_id.to_string();
        let commands = commands.to_vec();
        Box::pin(self.write(move |conn| {
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO jobs (dev_id, state, commands, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4) \
                     RETURNING id",
                )?
                .query_row((&dev_id, JobState::Queued.as_str(), json(&commands), now_ms), |row| row.get(0))?;
            Ok(Job { id, dev_id, state: JobState::Queued, commands, created_ms: now_ms, updated_ms: now_ms })
        }))
    }

    /// One transaction per [`JOBS_PER_TRANSACTION`] jobs: few commits, and DM messages' group
    /// commits still get the writer between chunks.
    fn create_jobs<'a>(
        &'a self,
        dev_ids: &'a [String],
        commands: &'a [JobCommand],
        now_ms: i64,
    ) -> StoreFuture<'a, Vec<Job>> {
        Box::pin(async move {
            let encoded = std::sync::Arc::new(json(&commands));
            let mut jobs = Vec::with_capacity(dev_ids.len());
            for chunk in dev_ids.chunks(JOBS_PER_TRANSACTION) {
                let chunk = chunk.to_vec();
                let encoded = encoded.clone();
                let ids = self
                    .write(move |conn| {
                        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                        let mut ids = Vec::with_capacity(chunk.len());
                        {
                            let mut insert = tx.prepare_cached(
                                "INSERT INTO jobs (dev_id, state, commands, created_ms, updated_ms) \
                                 VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
                            )?;
                            for dev_id in &chunk {
                                let id: i64 = insert.query_row(
                                    (dev_id, JobState::Queued.as_str(), encoded.as_str(), now_ms),
                                    |row| row.get(0),
                                )?;
                                ids.push((dev_id.clone(), id));
                            }
                        }
                        tx.commit()?;
                        Ok(ids)
                    })
                    .await?;
                jobs.extend(ids.into_iter().map(|(dev_id, id)| Job {
                    id,
                    dev_id,
                    state: JobState::Queued,
                    commands: commands.to_vec(),
                    created_ms: now_ms,
                    updated_ms: now_ms,
                }));
            }
            Ok(jobs)
        })
    }

    fn job(&self, id: i64) -> StoreFuture<'_, Option<Job>> {
        Box::pin(self.read(move |conn| {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
            Ok(query_all(conn, &sql, [id], job_from_row)?.pop())
        }))
    }

    fn jobs<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Job>> {
        let dev_id = dev_id.map(str::to_string);
        let limit = limit.clamp(1, 100_000);
        Box::pin(self.read(move |conn| {
            let sql =
                format!("SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR dev_id = ?1) ORDER BY id DESC LIMIT ?2");
            query_all(conn, &sql, (dev_id, limit), job_from_row)
        }))
    }

    fn pending_jobs<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<Job>> {
        let dev_id = dev_id.to_string();
        Box::pin(self.read(move |conn| read_pending_jobs(conn, &dev_id)))
    }

    fn events<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Event>> {
        let dev_id = dev_id.map(str::to_string);
        let limit = limit.clamp(1, 100_000);
        Box::pin(self.read(move |conn| {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE (?1 IS NULL OR dev_id = ?1) ORDER BY id DESC LIMIT ?2"
            );
            query_all(conn, &sql, (dev_id, limit), event_from_row)
        }))
    }

    fn session<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<SessionState>> {
        let token = token.to_string();
        Box::pin(self.read(move |conn| read_session(conn, &token)))
    }

    fn apply(&self, changes: Vec<Change>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if changes.is_empty() {
                return Ok(());
            }
            let (done, answer) = oneshot::channel();
            let encoded = changes.into_iter().map(EncodedChange::new).collect();
            self.writes.send(WriteRequest::Apply(encoded, done)).map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn expire_sessions(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |conn| {
            let deleted = conn.prepare_cached("DELETE FROM sessions WHERE updated_ms < ?1")?.execute([before_ms])?;
            Ok(deleted as u64)
        }))
    }

    /// Session, device and pending jobs in one read transaction on one reader thread (one
    /// consistent snapshot, one hand-off).
    fn message_context<'a>(&'a self, token: Option<&'a str>, source: &'a str) -> StoreFuture<'a, MessageContext> {
        let token = token.map(str::to_string);
        let source = source.to_string();
        Box::pin(self.read(move |conn| {
            let tx = conn.transaction()?;
            let session = match &token {
                None => SessionLookup::New,
                Some(token) => match read_session(&tx, token)? {
                    Some(state) => SessionLookup::Found(Box::new(state)),
                    None => SessionLookup::Missing,
                },
            };
            let dev_id = match &session {
                SessionLookup::Found(state) => state.dev_id.as_str(),
                _ => source.as_str(),
            };
            let device = read_device(&tx, dev_id)?;
            let jobs = read_pending_jobs(&tx, dev_id)?;
            tx.commit()?;
            Ok(MessageContext { session, device, jobs })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_migrated() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_init.sql")).expect("schema");
        conn.execute_batch(include_str!("../../migrations/sqlite/0002_session_reply.sql")).expect("schema");
        conn.execute_batch("PRAGMA foreign_keys = ON;").expect("pragma");
        (dir, conn)
    }

    fn save(token: &str) -> EncodedChange {
        EncodedChange::new(Change::SaveSession(SessionState {
            token: token.into(),
            session_id: "1".into(),
            dev_id: "IMEI:1".into(),
            server_uri: "http://x/dm".into(),
            ver_proto: "DM/1.2".into(),
            wbxml: false,
            max_msg_size: 4096,
            client_msg: 1,
            server_msg: 1,
            last_ms: 7,
            authenticated: true,
            ..SessionState::default()
        }))
    }

    fn stored_tokens(conn: &Connection) -> Vec<String> {
        query_all(conn, "SELECT token FROM sessions ORDER BY token", [], |row| Ok(row.get(0)?)).expect("tokens")
    }

    /// A database created before migration 0002, its `_sqlx_migrations` holding version 1 only
    /// (what the single-migration migrator of earlier releases left), opens with today's
    /// migrator: it gains the reply columns and its session keeps the reply in its state JSON.
    #[tokio::test]
    async fn a_database_from_before_the_reply_columns_opens_and_keeps_its_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut before = Backend::Sqlite.migrator();
        before.migrations = std::borrow::Cow::Owned(before.migrations[..1].to_vec());
        let mut conn =
            SqliteConnectOptions::from_str(&url).expect("url").create_if_missing(true).connect().await.expect("open");
        before.run(&mut conn).await.expect("version 1");
        let mut state =
            serde_json::to_value(SessionState { token: "old".into(), ..SessionState::default() }).expect("state JSON");
        // The reply as the code of version 1 wrote it: base64 inside the JSON.
        state["last_reply"] = serde_json::json!({ "client_msg": 3, "body": "AP8=", "hmac": null });
        sqlx::query("INSERT INTO sessions (token, dev_id, state, updated_ms) VALUES ('old', 'IMEI:1', ?1, 1)")
            .bind(state.to_string())
            .execute(&mut conn)
            .await
            .expect("an old row");
        sqlx::Connection::close(conn).await.expect("close");

        let store = SqliteStore::open(&url).await.expect("the migrator takes the database on");
        let read = store.session("old").await.expect("read").expect("the session is there");
        let reply = read.last_reply.expect("with its reply");
        assert_eq!((reply.client_msg, reply.body), (3, vec![0x00, 0xff]));
        store.close().await;
    }

    /// Commits of [`event`]s that, at 3 frames or more each, would take the WAL well past
    /// [`WAL_LIMIT_PAGES`] if nothing checkpointed it.
    const COMMITS: usize = 4000;

    /// A store on the file `t.db` in `dir`.
    async fn open_store(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await.expect("open")
    }

    /// Event `i`, with data big enough that each fills a page of its own.
    fn event(i: usize) -> Event {
        Event {
            id: 0,
            dev_id: format!("IMEI:{i}"),
            code: 1226,
            media_type: None,
            format: None,
            mark: None,
            source: None,
            correlator: None,
            data: format!("{i:>3000}"),
            received_ms: i64::try_from(i).expect("small"),
        }
    }

    /// Stores events `0..count`, each in a commit of its own (one at a time, so no group commit
    /// joins them).
    async fn write_events(store: &SqliteStore, count: usize) {
        for i in 0..count {
            store.apply(vec![Change::Event(event(i))]).await.expect("apply");
        }
    }

    /// The WAL's size in frames (pages).
    async fn wal_frames(store: &SqliteStore, dir: &tempfile::TempDir) -> u64 {
        let page_size: u64 =
            store.read(|conn| Ok(conn.query_row("PRAGMA page_size", [], |row| row.get(0))?)).await.expect("page size");
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).expect("WAL file").len();
        // A 32-byte header, then frames of a 24-byte header and a page.
        wal.saturating_sub(32) / (24 + page_size)
    }

    #[tokio::test]
    async fn the_wal_stays_under_its_limit_through_thousands_of_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(&dir).await;
        write_events(&store, COMMITS).await;
        // The file keeps its largest size (the WAL starts over at its beginning), so its size
        // now tells the WAL's largest; at most the limit plus the last commit's few frames.
        let frames = wal_frames(&store, &dir).await;
        assert!(frames <= u64::from(WAL_LIMIT_PAGES) + 10, "the WAL holds {frames} frames");
        store.close().await;
    }

    #[tokio::test]
    async fn everything_written_is_read_back_after_close_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(&dir).await;
        write_events(&store, COMMITS).await;
        store.close().await;
        let store = open_store(&dir).await;
        let mut events = store.events(None, 100_000).await.expect("events");
        events.reverse();
        assert_eq!(events.len(), COMMITS);
        for (i, stored) in events.into_iter().enumerate() {
            assert_eq!(Event { id: 0, ..stored }, event(i));
        }
        store.close().await;
    }

    #[test]
    fn close_returns_promptly_with_the_checkpointer_running() {
        // On a thread and runtime of its own: a close that hangs fails the test rather than
        // hanging it (a runtime, when dropped, waits for its blocking tasks). Only the close is
        // timed; the writes before it may take long on a busy machine.
        let (closing, before_close) = mpsc::channel();
        let (closed, after_close) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = open_store(&dir).await;
                // Enough to wake the checkpointer a few times.
                write_events(&store, COMMITS / 4).await;
                assert!(wal_frames(&store, &dir).await > u64::from(CHECKPOINT_PAGES));
                let _ = closing.send(());
                store.close().await;
                let _ = closed.send(store.events(None, 1).await);
            });
        });
        before_close.recv_timeout(Duration::from_secs(600)).expect("the writes end");
        let read = after_close.recv_timeout(Duration::from_secs(5)).expect("closed within 5 s");
        assert!(matches!(read, Err(StoreError::Closed)), "{read:?}");
    }

    /// The writer's own checkpoint at [`WAL_LIMIT_PAGES`] bounds the WAL with no checkpointer at
    /// all (its channel disconnected): the bound does not depend on the checkpointer's timing.
    #[test]
    fn the_writer_alone_keeps_the_wal_under_its_limit() {
        let (dir, conn) = open_migrated();
        let path = dir.path().join("t.db");
        drop(conn);
        let checkpointer = Arc::new(Mutex::new(connect(&path, false).expect("checkpointer connection")));
        let (wake, wake_ups) = mpsc::sync_channel(1);
        drop(wake_ups);
        let mut writer =
            Writer::new(connect(&path, false).expect("writer connection"), checkpointer, wake).expect("writer");
        let mut largest = 0;
        for i in 0..COMMITS {
            let e = event(i);
            writer
                .conn
                .execute(
                    "INSERT INTO events (dev_id, code, data, received_ms) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![e.dev_id, e.code, e.data, e.received_ms],
                )
                .expect("insert");
            writer.committed();
            largest = largest.max(writer.wal_frames.load(Ordering::Relaxed));
        }
        assert!(largest >= WAL_LIMIT_PAGES, "the WAL reached the limit ({largest} frames)");
        assert!(largest <= WAL_LIMIT_PAGES + 10, "the WAL held {largest} frames");
    }

    #[test]
    fn a_failing_list_is_rolled_back_alone_within_the_group() {
        let (_dir, mut conn) = open_migrated();
        let orphan = Change::Tree {
            dev_id: "IMEI:none".into(),
            values: vec![TreeValue { uri: "./X".into(), format: "chr".into(), data: "x".into(), updated_ms: 1 }],
        };
        // The middle list saves its session first, then fails on the foreign key: the session
        // it saved must not survive, and its neighbours must.
        let lists: [&[EncodedChange]; 3] = [&[save("a")], &[save("b"), EncodedChange::new(orphan)], &[save("c")]];
        let outcomes = group_transaction(&mut conn, &lists);
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        assert!(matches!(outcomes[1], Err(StoreError::Sqlite(_))), "{outcomes:?}");
        assert_eq!(stored_tokens(&conn), vec!["a".to_string(), "c".to_string()]);
    }

    #[test]
    fn lists_that_all_succeed_commit_together() {
        let (_dir, mut conn) = open_migrated();
        let lists: [&[EncodedChange]; 3] = [&[save("a")], &[save("b")], &[save("c")]];
        let outcomes = group_transaction(&mut conn, &lists);
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(stored_tokens(&conn), vec!["a".to_string(), "b".to_string(), "c".to_string()]);
    }

    #[test]
    fn a_failed_commit_fails_every_list_of_the_group() {
        let (_dir, mut conn) = open_migrated();
        // An open transaction makes BEGIN fail: the group as a whole cannot commit.
        conn.execute_batch("BEGIN;").expect("begin");
        let lists: [&[EncodedChange]; 2] = [&[save("a")], &[save("b")]];
        let outcomes = group_transaction(&mut conn, &lists);
        assert!(outcomes.iter().all(|o| matches!(o, Err(StoreError::CommitFailed(_)))), "{outcomes:?}");
        conn.execute_batch("ROLLBACK;").expect("rollback");
        assert!(stored_tokens(&conn).is_empty());
    }
}
