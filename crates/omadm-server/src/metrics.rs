//! Counters the server keeps since it started (DM messages, sessions, HTTP errors) and the
//! process's own CPU time and memory, served read-only at `GET /api/stats` so that a load
//! generator can report server-side figures next to its own (issue 7).
//!
//! The counters are relaxed atomics: a figure read while messages are in flight may be off by
//! the messages in flight, never torn. The process figures come from `/proc/self/stat` and
//! `/proc/self/status` on Linux and are absent elsewhere.

use crate::engine::Change;
use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

/// Clock ticks per second of `utime`/`stime` in `/proc/PID/stat` (`USER_HZ`). The kernel fixes
/// it at 100 for userspace on every architecture this server builds for (see proc(5)); reading
/// `sysconf(_SC_CLK_TCK)` would need a C binding for a constant.
pub const USER_HZ: u64 = 100;

/// Why the DM endpoint answered with an HTTP error instead of a SyncML reply (see
/// [`crate::http`]'s table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// 415: not a SyncML DM content type.
    UnsupportedMediaType,
    /// 413: a body over the configured maximum.
    PayloadTooLarge,
    /// 400: a body that does not decode as SyncML.
    Undecodable,
    /// 500: the session engine failed.
    Engine,
    /// 503: the storage failed.
    Storage,
    /// 503: the device's stored state changed while its message was handled (another server
    /// process stored a change of it first: a replay racing its original, or a device talking
    /// to two nodes at once). Not a storage fault, so counted apart from [`Self::Storage`].
    DeviceChanged,
}

impl HttpErrorKind {
    const ALL: [HttpErrorKind; 6] = [
        HttpErrorKind::UnsupportedMediaType,
        HttpErrorKind::PayloadTooLarge,
        HttpErrorKind::Undecodable,
        HttpErrorKind::Engine,
        HttpErrorKind::Storage,
        HttpErrorKind::DeviceChanged,
    ];

    /// The name the stats document uses for this kind.
    pub fn name(self) -> &'static str {
        match self {
            HttpErrorKind::UnsupportedMediaType => "unsupported_media_type",
            HttpErrorKind::PayloadTooLarge => "payload_too_large",
            HttpErrorKind::Undecodable => "undecodable",
            HttpErrorKind::Engine => "engine",
            HttpErrorKind::Storage => "storage",
            HttpErrorKind::DeviceChanged => "device_changed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The server's counters since start.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    dm_messages: AtomicU64,
    sessions_started: AtomicU64,
    sessions_completed: AtomicU64,
    sessions_aborted: AtomicU64,
    sessions_expired: AtomicU64,
    /// Sessions started here whose state is stored, minus those ended or expired here.
    open_sessions: AtomicI64,
    http_errors: [AtomicU64; HttpErrorKind::ALL.len()],
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// All counters at zero, the clock started now.
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            dm_messages: AtomicU64::new(0),
            sessions_started: AtomicU64::new(0),
            sessions_completed: AtomicU64::new(0),
            sessions_aborted: AtomicU64::new(0),
            sessions_expired: AtomicU64::new(0),
            open_sessions: AtomicI64::new(0),
            http_errors: Default::default(),
        }
    }

    /// A DM message answered with a SyncML reply whose changes (summarized by `summary`) were
    /// stored; `new_session` when it came without a session token (a session's first message).
    pub fn message_handled(&self, new_session: bool, summary: MessageSummary) {
        self.dm_messages.fetch_add(1, Ordering::Relaxed);
        let MessageSummary { saved, ended, completed } = summary;
        if new_session && (saved || ended) {
            self.sessions_started.fetch_add(1, Ordering::Relaxed);
        }
        if completed {
            self.sessions_completed.fetch_add(1, Ordering::Relaxed);
        } else if ended {
            self.sessions_aborted.fetch_add(1, Ordering::Relaxed);
        }
        match (new_session, saved, ended) {
            (true, true, _) => {
                self.open_sessions.fetch_add(1, Ordering::Relaxed);
            }
            (false, _, true) => {
                self.open_sessions.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Idle sessions the sweeper deleted.
    pub fn sessions_expired(&self, count: u64) {
        self.sessions_expired.fetch_add(count, Ordering::Relaxed);
        self.open_sessions.fetch_sub(i64::try_from(count).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// The DM endpoint answered with an HTTP error.
    pub fn http_error(&self, kind: HttpErrorKind) {
        self.http_errors[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now, with the process's CPU time and memory where the OS tells them.
    pub fn snapshot(&self) -> Stats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            uptime_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            dm_messages: load(&self.dm_messages),
            sessions: SessionCounts {
                started: load(&self.sessions_started),
                completed: load(&self.sessions_completed),
                aborted: load(&self.sessions_aborted),
                expired: load(&self.sessions_expired),
                // Sessions another node started and this one ended can take it below zero.
                open: u64::try_from(self.open_sessions.load(Ordering::Relaxed)).unwrap_or(0),
            },
            http_errors: HttpErrorKind::ALL
                .iter()
                .map(|&k| (k.name().to_string(), load(&self.http_errors[k.index()])))
                .collect(),
            process: ProcessStats::read(),
        }
    }
}

/// What `GET /api/stats` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Milliseconds since the server started.
    pub uptime_ms: u64,
    /// DM messages answered with a SyncML reply.
    pub dm_messages: u64,
    /// Session counts.
    pub sessions: SessionCounts,
    /// HTTP error answers of the DM endpoint, by kind.
    pub http_errors: std::collections::BTreeMap<String, u64>,
    /// CPU time and memory of the server process (Linux only).
    pub process: ProcessStats,
}

/// Sessions this server process saw since it started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionCounts {
    /// First messages answered (a session token was handed out or the session ended at once).
    pub started: u64,
    /// Sessions that ran to their end (Package 4 with nothing left to send).
    pub completed: u64,
    /// Sessions ended otherwise: failed authentication, a client's abort, lost Statuses.
    pub aborted: u64,
    /// Idle sessions deleted by the sweeper.
    pub expired: u64,
    /// Sessions started here and not ended or expired here.
    pub open: u64,
}

/// The process's CPU time and memory; each `None` where the OS does not tell.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcessStats {
    /// User plus system CPU time, milliseconds (`/proc/self/stat`, 10 ms resolution).
    pub cpu_ms: Option<u64>,
    /// Resident memory now, KiB (`VmRSS` of `/proc/self/status`).
    pub rss_kb: Option<u64>,
    /// Peak resident memory, KiB (`VmHWM`).
    pub rss_peak_kb: Option<u64>,
}

impl ProcessStats {
    /// Reads the figures of this process.
    pub fn read() -> ProcessStats {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let status = std::fs::read_to_string("/proc/self/status").ok();
        ProcessStats {
            cpu_ms: stat.as_deref().and_then(cpu_ms_from_stat),
            rss_kb: status.as_deref().and_then(|s| kib_from_status(s, "VmRSS")),
            rss_peak_kb: status.as_deref().and_then(|s| kib_from_status(s, "VmHWM")),
        }
    }
}

/// User plus system CPU milliseconds from the text of `/proc/PID/stat` (fields 14 and 15, in
/// [`USER_HZ`] ticks). The command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted after its last `)`.
pub fn cpu_ms_from_stat(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // after the name: field 3 (state) is the first, so utime (14) is the 12th, stime the 13th
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 1000 / USER_HZ)
}

/// A `Key:   N kB` line of `/proc/PID/status`, in KiB.
pub fn kib_from_status(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// What the session counters need from one message's changes, taken before the changes are
/// handed (by value) to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageSummary {
    /// The session state was saved (the session goes on).
    pub saved: bool,
    /// The session state was deleted (the session ended, completed or not).
    pub ended: bool,
    /// The device completed the session.
    pub completed: bool,
}

impl MessageSummary {
    /// The summary of one message's changes.
    pub fn of(changes: &[Change]) -> MessageSummary {
        MessageSummary {
            saved: changes.iter().any(|c| matches!(c, Change::SaveSession(_))),
            ended: changes.iter().any(|c| matches!(c, Change::EndSession { .. })),
            completed: changes.iter().any(|c| matches!(c, Change::SessionCompleted { .. })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SessionState;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (omadm (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 37 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_ms_from_stat(stat), Some(2870));
        assert_eq!(cpu_ms_from_stat("4242 (omadm) S 1 2"), None);
        assert_eq!(cpu_ms_from_stat("no parenthesis"), None);
    }

    #[test]
    fn status_lines_give_kib() {
        let status = "Name:\tomadm\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(kib_from_status(status, "VmRSS"), Some(10240));
        assert_eq!(kib_from_status(status, "VmHWM"), Some(20480));
        assert_eq!(kib_from_status(status, "VmSwap"), None);
        assert_eq!(kib_from_status(status, "Threads"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures_on_linux() {
        let p = ProcessStats::read();
        assert!(p.rss_kb.unwrap() > 0 && p.rss_peak_kb.unwrap() >= p.rss_kb.unwrap());
        assert!(p.cpu_ms.is_some());
    }

    fn state(token: &str) -> SessionState {
        SessionState {
            token: token.into(),
            session_id: "1".into(),
            dev_id: "IMEI:1".into(),
            server_uri: "http://s/dm".into(),
            ver_proto: "DM/1.2".into(),
            wbxml: false,
            max_msg_size: 10_000,
            client_msg: 1,
            server_msg: 1,
            authenticated: true,
            server_accepted: true,
            ..SessionState::default()
        }
    }

    #[test]
    fn sessions_are_counted_from_the_changes() {
        let m = Metrics::new();
        let end = || Change::EndSession { token: "t".into() };
        let done = || Change::SessionCompleted { dev_id: "IMEI:1".into(), at_ms: 0 };
        m.message_handled(true, MessageSummary::of(&[Change::SaveSession(state("t"))]));
        m.message_handled(false, MessageSummary::of(&[Change::SaveSession(state("t"))]));
        m.message_handled(false, MessageSummary::of(&[end(), done()]));
        m.message_handled(true, MessageSummary::of(&[Change::SaveSession(state("u"))]));
        m.message_handled(true, MessageSummary::of(&[end()])); // refused at once: started and aborted, never open
        m.message_handled(true, MessageSummary::of(&[])); // refused without a session
        m.http_error(HttpErrorKind::Undecodable);
        let s = m.snapshot();
        assert_eq!(s.dm_messages, 6);
        assert_eq!(s.sessions, SessionCounts { started: 3, completed: 1, aborted: 1, expired: 0, open: 1 }, "{s:?}");
        assert_eq!(s.http_errors["undecodable"], 1);
        assert_eq!(s.http_errors["storage"], 0);
        assert_eq!(s.http_errors["device_changed"], 0);
        m.sessions_expired(2);
        let s = m.snapshot();
        assert_eq!((s.sessions.expired, s.sessions.open), (2, 0));
    }
}
