//! The server's own figures over the measured time, from its `GET /api/stats` (omadm-server's
//! `metrics` module): read before and after each measured stretch, the differences summed.

use super::stats::ServerFigures;
use anyhow::{Context, Result};
use hyper::{Method, StatusCode};
use omadm_server::client::ApiClient;
use serde_json::Value;
use std::time::Duration;

/// Where the server serves its counters.
pub const STATS_PATH: &str = "/api/stats";

/// One reading of the server's counters (the fields loadgen uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    /// DM messages handled.
    pub messages: u64,
    /// Sessions completed.
    pub completed: u64,
    /// Open sessions.
    pub open: u64,
    /// HTTP error answers, all kinds.
    pub http_errors: u64,
    /// CPU time, milliseconds.
    pub cpu_ms: Option<u64>,
    /// Resident memory, KiB.
    pub rss_kb: Option<u64>,
    /// Peak resident memory, KiB.
    pub rss_peak_kb: Option<u64>,
}

impl Reading {
    /// The fields of a stats document.
    pub fn from_json(stats: &Value) -> Reading {
        let count = |v: &Value| v.as_u64().unwrap_or(0);
        Reading {
            messages: count(&stats["dm_messages"]),
            completed: count(&stats["sessions"]["completed"]),
            open: count(&stats["sessions"]["open"]),
            http_errors: stats["http_errors"].as_object().map_or(0, |kinds| kinds.values().map(count).sum()),
            cpu_ms: stats["process"]["cpu_ms"].as_u64(),
            rss_kb: stats["process"]["rss_kb"].as_u64(),
            rss_peak_kb: stats["process"]["rss_peak_kb"].as_u64(),
        }
    }
}

/// Reads the server's counters; `None` (said once on stderr) when the server has no stats
/// endpoint, as a server older than it does not.
pub async fn read(api: &ApiClient) -> Result<Option<Reading>> {
    let (status, body) = api.send(Method::GET, STATS_PATH, None).await.context("reading the server's stats")?;
    match status {
        StatusCode::OK => Ok(Some(Reading::from_json(&body))),
        StatusCode::NOT_FOUND => Ok(None),
        other => anyhow::bail!("{STATS_PATH} answered {other}: {body}"),
    }
}

/// The server's figures summed over measured stretches.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    first: Option<Reading>,
    last: Option<Reading>,
    messages: u64,
    completed: u64,
    http_errors: u64,
    cpu_ms: Option<u64>,
}

impl Accumulator {
    /// Adds the stretch between two readings.
    pub fn add(&mut self, before: Reading, after: Reading) {
        self.first.get_or_insert(before);
        self.last = Some(after);
        self.messages += after.messages.saturating_sub(before.messages);
        self.completed += after.completed.saturating_sub(before.completed);
        self.http_errors += after.http_errors.saturating_sub(before.http_errors);
        if let (Some(b), Some(a)) = (before.cpu_ms, after.cpu_ms) {
            *self.cpu_ms.get_or_insert(0) += a.saturating_sub(b);
        }
    }

    /// The figures over `measured` time; `None` when nothing was added.
    pub fn figures(&self, measured: Duration) -> Option<ServerFigures> {
        let (first, last) = (self.first?, self.last?);
        let secs = measured.as_secs_f64().max(1e-9);
        Some(ServerFigures {
            messages: self.messages,
            messages_per_s: (self.messages as f64 / secs * 10.0).round() / 10.0,
            sessions_completed: self.completed,
            http_errors: self.http_errors,
            cpu_ms: self.cpu_ms,
            cpu_ms_per_session: self
                .cpu_ms
                .filter(|_| self.completed > 0)
                .map(|ms| (ms as f64 / self.completed as f64 * 1000.0).round() / 1000.0),
            rss_before_kb: first.rss_kb,
            rss_after_kb: last.rss_kb,
            rss_peak_kb: last.rss_peak_kb,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readings_come_from_the_stats_document() {
        let doc = json!({ "dm_messages": 30, "sessions": { "completed": 9, "open": 2 },
            "http_errors": { "undecodable": 1, "storage": 2 },
            "process": { "cpu_ms": 1500, "rss_kb": 20000, "rss_peak_kb": 25000 } });
        let r = Reading::from_json(&doc);
        assert_eq!(
            r,
            Reading {
                messages: 30,
                completed: 9,
                open: 2,
                http_errors: 3,
                cpu_ms: Some(1500),
                rss_kb: Some(20000),
                rss_peak_kb: Some(25000)
            }
        );
        let elsewhere = Reading::from_json(&json!({ "dm_messages": 1, "process": {} }));
        assert_eq!((elsewhere.cpu_ms, elsewhere.rss_kb), (None, None));
    }

    #[test]
    fn stretches_add_up_and_exclude_what_happens_between_them() {
        let at = |messages, completed, cpu, rss| Reading {
            messages,
            completed,
            cpu_ms: Some(cpu),
            rss_kb: Some(rss),
            rss_peak_kb: Some(rss + 1),
            ..Reading::default()
        };
        let mut acc = Accumulator::default();
        assert!(acc.figures(Duration::from_secs(1)).is_none());
        acc.add(at(0, 0, 100, 1000), at(30, 10, 600, 1200));
        // between the stretches the server queued jobs: 400 ms of CPU not counted
        acc.add(at(30, 10, 1000, 1300), at(60, 20, 1500, 1400));
        let f = acc.figures(Duration::from_secs(2)).unwrap();
        assert_eq!((f.messages, f.sessions_completed, f.cpu_ms), (60, 20, Some(1000)));
        assert_eq!(f.messages_per_s, 30.0);
        assert_eq!(f.cpu_ms_per_session, Some(50.0));
        assert_eq!((f.rss_before_kb, f.rss_after_kb, f.rss_peak_kb), (Some(1000), Some(1400), Some(1401)));
    }
}
