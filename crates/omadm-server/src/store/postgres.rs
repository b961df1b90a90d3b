//! [`PgStore`]: the [`Store`] on PostgreSQL through sqlx (a connection pool; each statement is a
//! network round trip anyway, so sqlx's async driver fits).

use super::{
    corrupt, json, replaced_server_msg, reply_columns, session_from_columns, stale_nonce, stale_session, stored_value,
    DeviceQuery, Store, StoreError, StoreFuture, DEVICE_COLUMNS, JOB_COLUMNS, SESSION_COLUMNS,
};
use crate::engine::{Change, SessionState};
use crate::model::{AccountAuth, AuthKind, Device, Event, Job, JobCommand, JobState, TreeValue};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::str::FromStr;

/// [`Store`] on PostgreSQL through sqlx's `Any` driver, with a group-commit writer task
/// ([`write_loop`]) for the DM messages' changes.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// Reads and the REST API's writes.
    pool: AnyPool,
    /// The queue of the group-commit writer ([`write_loop`]).
    writes: tokio::sync::mpsc::UnboundedSender<WriteRequest>,
}

/// Binds a device's row, in [`DEVICE_COLUMNS`] order, to an INSERT of those columns.
fn bind_device<'q>(query: AnyQuery<'q>, d: &'q Device) -> AnyQuery<'q> {
    bind_device_accounts(query, d).bind(json(&d.devinfo)).bind(d.created_ms).bind(d.last_session_ms)
}

/// Binds the first eleven of [`DEVICE_COLUMNS`]: the DevId, the ServerID and both accounts (what
/// `update_device` may change).
fn bind_device_accounts<'q>(query: AnyQuery<'q>, d: &'q Device) -> AnyQuery<'q> {
    query
        .bind(&d.dev_id)
        .bind(&d.server_id)
        .bind(d.client.kind.as_str())
        .bind(&d.client.user)
        .bind(&d.client.secret)
        .bind(&d.client.nonce)
        .bind(d.client.spent.join(","))
        .bind(d.server.kind.as_str())
        .bind(&d.server.user)
        .bind(&d.server.secret)
        .bind(&d.server.nonce)
}

/// A statement with its parameters, on sqlx's `Any` driver.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl PgStore {
    /// Connects to the database at `url` (`postgres://...`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new().max_connections(16).connect_with(options).await?;
        super::Backend::Postgres.migrator().run(&pool).await?;
        let (writes, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(write_loop(pool.clone(), requests));
        Ok(PgStore { pool, writes })
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn device_from_row(row: &AnyRow) -> Result<Device, StoreError> {
    let kind = |col: &str| -> Result<AuthKind, StoreError> {
        let text: String = row.try_get(col)?;
        AuthKind::parse(&text).ok_or_else(|| corrupt(col, text))
    };
    let spent: String = row.try_get("client_spent")?;
    let devinfo: String = row.try_get("devinfo")?;
    Ok(Device {
        dev_id: row.try_get("dev_id")?,
        server_id: row.try_get("server_id")?,
        client: AccountAuth {
            kind: kind("client_auth")?,
            user: row.try_get("client_user")?,
            secret: row.try_get("client_secret")?,
            nonce: row.try_get("client_nonce")?,
            spent: spent.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        },
        server: AccountAuth {
            kind: kind("server_auth")?,
            user: row.try_get("server_user")?,
            secret: row.try_get("server_secret")?,
            nonce: row.try_get("server_nonce")?,
            spent: Vec::new(),
        },
        devinfo: serde_json::from_str(&devinfo).map_err(|e| corrupt("devinfo", e))?,
        created_ms: row.try_get("created_ms")?,
        last_session_ms: row.try_get("last_session_ms")?,
    })
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state")?;
    let commands: String = row.try_get("commands")?;
    Ok(Job {
        id: row.try_get("id")?,
        dev_id: row.try_get("dev_id")?,
        state: JobState::parse(&state).ok_or_else(|| corrupt("job state", &state))?,
        commands: serde_json::from_str(&commands).map_err(|e| corrupt("job commands", e))?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    let code: i64 = row.try_get("code")?;
    Ok(Event {
        id: row.try_get("id")?,
        dev_id: row.try_get("dev_id")?,
        code: u16::try_from(code).map_err(|e| corrupt("event code", e))?,
        media_type: row.try_get("media_type")?,
        format: row.try_get("format")?,
        mark: row.try_get("mark")?,
        source: row.try_get("source")?,
        correlator: row.try_get("correlator")?,
        data: row.try_get("data")?,
        received_ms: row.try_get("received_ms")?,
    })
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store for PgStore {
    fn device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Option<Device>> {
        Box::pin(async move {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE dev_id = $1");
            let row = sqlx::query(&sql).bind(dev_id).fetch_optional(&self.pool).await?;
            row.as_ref().map(device_from_row).transpose()
        })
    }

    fn insert_devices<'a>(&'a self, devices: &'a [Device]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let sql = format!(
                "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            );
            for d in devices {
                let result = bind_device(sqlx::query(&sql), d).execute(&mut *tx).await;
                match result {
                    Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(d.dev_id.clone())),
                    other => other?,
                };
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn update_device<'a>(&'a self, d: &'a Device) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let query = sqlx::query(
                "UPDATE devices SET server_id = $2, client_auth = $3, client_user = $4, client_secret = $5, \
                 client_nonce = $6, client_spent = $7, server_auth = $8, server_user = $9, server_secret = $10, \
                 server_nonce = $11 WHERE dev_id = $1",
            );
            let result = bind_device_accounts(query, d).execute(&self.pool).await?;
            Ok(result.rows_affected() > 0)
        })
    }

    fn delete_device<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            for table in ["device_groups", "tree_values", "jobs", "events", "sessions"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE dev_id = $1")).bind(dev_id).execute(&mut *tx).await?;
            }
            let result = sqlx::query("DELETE FROM devices WHERE dev_id = $1").bind(dev_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(result.rows_affected() > 0)
        })
    }

    fn devices<'a>(&'a self, q: &'a DeviceQuery) -> StoreFuture<'a, Vec<Device>> {
        Box::pin(async move {
            let pattern = q.search.as_ref().map(|s| format!("%{}%", s.replace(['%', '_'], "")));
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices d WHERE ($1 IS NULL OR d.dev_id LIKE $1 OR d.devinfo LIKE $1) \
                 AND ($2 IS NULL OR EXISTS (SELECT 1 FROM device_groups g WHERE g.name = $2 AND g.dev_id = d.dev_id)) \
                 ORDER BY d.dev_id LIMIT $3 OFFSET $4"
            );
            let rows = sqlx::query(&sql)
                .bind(pattern)
                .bind(q.group.clone())
                .bind(q.limit.unwrap_or(100).clamp(1, 100_000))
                .bind(q.offset.unwrap_or(0).max(0))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(device_from_row).collect()
        })
    }

    fn tree<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<TreeValue>> {
        Box::pin(async move {
            let rows =
                sqlx::query("SELECT uri, format, data, updated_ms FROM tree_values WHERE dev_id = $1 ORDER BY uri")
                    .bind(dev_id)
                    .fetch_all(&self.pool)
                    .await?;
            rows.iter()
                .map(|r| {
                    Ok(TreeValue {
                        uri: r.try_get("uri")?,
                        format: r.try_get("format")?,
                        data: r.try_get("data")?,
                        updated_ms: r.try_get("updated_ms")?,
                    })
                })
                .collect()
        })
    }

    fn add_to_group<'a>(&'a self, group: &'a str, dev_ids: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            for dev_id in dev_ids {
                sqlx::query("INSERT INTO device_groups (name, dev_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(group)
                    .bind(dev_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn group_members<'a>(&'a self, group: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT dev_id FROM device_groups WHERE name = $1 ORDER BY dev_id")
                .bind(group)
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(r.try_get("dev_id")?)).collect()
        })
    }

    fn groups(&self) -> StoreFuture<'_, Vec<(String, i64)>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT name, COUNT(*) AS members FROM device_groups GROUP BY name ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("members")?))).collect()
        })
    }

    fn create_job<'a>(&'a self, dev_id: &'a str, commands: &'a [JobCommand], now_ms: i64) -> StoreFuture<'a, Job> {
        Box::pin(async move {
            let row = sqlx::query(
                "INSERT INTO jobs (dev_id, state, commands, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4) \
                 RETURNING id",
            )
            .bind(dev_id)
            .bind(JobState::Queued.as_str())
            .bind(json(&commands))
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
            Ok(Job {
                id: row.try_get("id")?,
                dev_id: dev_id.to_string(),
                state: JobState::Queued,
                commands: commands.to_vec(),
                created_ms: now_ms,
                updated_ms: now_ms,
            })
        })
    }

    fn job(&self, id: i64) -> StoreFuture<'_, Option<Job>> {
        Box::pin(async move {
            let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(job_from_row).transpose()
        })
    }

    fn jobs<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Job>> {
        Box::pin(async move {
            let sql =
                format!("SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR dev_id = $1) ORDER BY id DESC LIMIT $2");
            let rows = sqlx::query(&sql).bind(dev_id).bind(limit.clamp(1, 100_000)).fetch_all(&self.pool).await?;
            rows.iter().map(job_from_row).collect()
        })
    }

    fn pending_jobs<'a>(&'a self, dev_id: &'a str) -> StoreFuture<'a, Vec<Job>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE dev_id = $1 AND state IN ('queued', 'running') ORDER BY id"
            );
            let rows = sqlx::query(&sql).bind(dev_id).fetch_all(&self.pool).await?;
            rows.iter().map(job_from_row).collect()
        })
    }

    fn events<'a>(&'a self, dev_id: Option<&'a str>, limit: i64) -> StoreFuture<'a, Vec<Event>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, dev_id, code, media_type, format, mark, source, correlator, data, received_ms FROM events \
                 WHERE ($1 IS NULL OR dev_id = $1) ORDER BY id DESC LIMIT $2",
            )
            .bind(dev_id)
            .bind(limit.clamp(1, 100_000))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    fn session<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<SessionState>> {
        Box::pin(async move {
            let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token = $1"))
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => session_from_columns(
                    r.try_get("state")?,
                    r.try_get("last_reply_msg")?,
                    r.try_get("last_reply_body")?,
                    r.try_get("last_reply_hmac")?,
                )
                .map(Some),
            }
        })
    }

    fn apply(&self, changes: Vec<Change>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if changes.is_empty() {
                return Ok(());
            }
            let (done, result) = tokio::sync::oneshot::channel();
            if self.writes.send((changes, done)).is_err() {
                return Err(StoreError::Closed);
            }
            result.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn expire_sessions(&self, before_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let result =
                sqlx::query("DELETE FROM sessions WHERE updated_ms < $1").bind(before_ms).execute(&self.pool).await?;
            Ok(result.rows_affected())
        })
    }
}

/// One message's changes and where to report their outcome.
type WriteRequest = (Vec<Change>, tokio::sync::oneshot::Sender<Result<(), StoreError>>);

/// Applies queued change lists, as many as are waiting (up to [`MAX_GROUP`]) in one transaction:
/// group commit, so that a busy server commits a few hundred times a second instead of once per
/// message. A failed group is retried list by list, so each caller gets its own outcome.
async fn write_loop(writer: AnyPool, mut requests: tokio::sync::mpsc::UnboundedReceiver<WriteRequest>) {
    const MAX_GROUP: usize = 256;
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let all: Vec<&Change> = group.iter().flat_map(|(changes, _)| changes.iter()).collect();
        if group.len() == 1 || write_transaction(&writer, all).await.is_err() {
            for (changes, done) in group {
                let _ = done.send(write_transaction(&writer, changes.iter().collect()).await);
            }
        } else {
            for (_, done) in group {
                let _ = done.send(Ok(()));
            }
        }
    }
}

/// Applies changes in one transaction.
async fn write_transaction(writer: &AnyPool, changes: Vec<&Change>) -> Result<(), StoreError> {
    let mut tx = writer.begin().await?;
    for change in changes {
        match change {
            Change::DeviceEnrolled(d) => {
                let sql = format!(
                    "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING"
                );
                bind_device(sqlx::query(&sql), d).execute(&mut *tx).await?;
            }
            Change::ClientNonces { dev_id, previous, current, spent } => {
                let updated = sqlx::query(
                    "UPDATE devices SET client_nonce = $2, client_spent = $3 WHERE dev_id = $1 AND client_nonce = $4",
                )
                .bind(dev_id)
                .bind(current)
                .bind(spent.join(","))
                .bind(previous)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Err(stale_nonce(dev_id));
                }
            }
            Change::ServerNonce { dev_id, nonce } => {
                sqlx::query("UPDATE devices SET server_nonce = $2 WHERE dev_id = $1")
                    .bind(dev_id)
                    .bind(nonce)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::DevInfo { dev_id, values } => {
                sqlx::query("UPDATE devices SET devinfo = $2 WHERE dev_id = $1")
                    .bind(dev_id)
                    .bind(json(values))
                    .execute(&mut *tx)
                    .await?;
            }
            Change::Tree { dev_id, values } => {
                for v in values {
                    let (format, data) = stored_value(Some(&v.format), &v.data);
                    sqlx::query(
                        "INSERT INTO tree_values (dev_id, uri, format, data, updated_ms) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (dev_id, uri) DO UPDATE SET format = excluded.format, data = excluded.data, \
                         updated_ms = excluded.updated_ms",
                    )
                    .bind(dev_id)
                    .bind(&v.uri)
                    .bind(format.as_deref())
                    .bind(&*data)
                    .bind(v.updated_ms)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Change::Event(e) => {
                let (format, data) = stored_value(e.format.as_deref(), &e.data);
                sqlx::query(
                    "INSERT INTO events (dev_id, code, media_type, format, mark, source, correlator, data, \
                     received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&e.dev_id)
                .bind(i64::from(e.code))
                .bind(e.media_type.clone())
                .bind(format.as_deref())
                .bind(e.mark.clone())
                .bind(e.source.clone())
                .bind(e.correlator.clone())
                .bind(&*data)
                .bind(e.received_ms)
                .execute(&mut *tx)
                .await?;
            }
            Change::JobState { id, state, updated_ms } => {
                sqlx::query("UPDATE jobs SET state = $2, updated_ms = $3 WHERE id = $1")
                    .bind(*id)
                    .bind(state.as_str())
                    .bind(*updated_ms)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::Job(job) => {
                sqlx::query("UPDATE jobs SET state = $2, commands = $3, updated_ms = $4 WHERE id = $1")
                    .bind(job.id)
                    .bind(job.state.as_str())
                    .bind(json(&job.commands))
                    .bind(job.updated_ms)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::SaveSession(state) => {
                let (reply_msg, reply_body, reply_hmac) = reply_columns(state);
                let previous = replaced_server_msg(state);
                let sql = match previous {
                    None => {
                        "INSERT INTO sessions (token, dev_id, state, updated_ms, last_reply_msg, last_reply_body, \
                         last_reply_hmac) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (token) DO NOTHING"
                    }
                    Some(_) => {
                        "UPDATE sessions SET state = $3, updated_ms = $4, last_reply_msg = $5, last_reply_body = $6, \
                         last_reply_hmac = $7 \
                         WHERE token = $1 AND dev_id = $2 AND (state::json ->> 'server_msg')::bigint = $8"
                    }
                };
                let query = sqlx::query(sql)
                    .bind(&state.token)
                    .bind(&state.dev_id)
                    .bind(json(state))
                    .bind(state.last_ms)
                    .bind(reply_msg)
                    .bind(reply_body)
                    .bind(reply_hmac);
                let query = match previous {
                    Some(previous) => query.bind(previous),
                    None => query,
                };
                if query.execute(&mut *tx).await?.rows_affected() == 0 {
                    return Err(stale_session(&state.token));
                }
            }
            Change::EndSession { token } => {
                sqlx::query("DELETE FROM sessions WHERE token = $1").bind(token).execute(&mut *tx).await?;
            }
            Change::SessionCompleted { dev_id, at_ms } => {
                sqlx::query("UPDATE devices SET last_session_ms = $2 WHERE dev_id = $1")
                    .bind(dev_id)
                    .bind(*at_ms)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
