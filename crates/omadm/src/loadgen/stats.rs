//! What `omadm loadgen` measures: exact latency percentiles (every sample is kept, a few bytes
//! each), counts, errors by kind, and the summary it prints (text with a machine-readable last line,
//! or JSON).

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Latency samples in microseconds; percentiles are exact (nearest rank over the sorted samples).
#[derive(Debug, Clone, Default)]
pub struct Samples {
    micros: Vec<u32>,
}

impl Samples {
    /// Records one latency (saturating at about 71 minutes).
    pub fn record(&mut self, latency: Duration) {
        self.micros.push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds another set of samples to this one.
    pub fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// The summary of these samples (sorts them in place).
    pub fn summarize(&mut self) -> LatencySummary {
        self.micros.sort_unstable();
        let n = self.micros.len();
        let rank = |p: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            // nearest rank: the smallest sample with at least p% of samples at or below it
            let index = ((p / 100.0) * n as f64).ceil().max(1.0) as usize - 1;
            f64::from(self.micros[index.min(n - 1)]) / 1000.0
        };
        let mean =
            if n == 0 { 0.0 } else { self.micros.iter().map(|&m| f64::from(m)).sum::<f64>() / n as f64 / 1000.0 };
        LatencySummary {
            count: n as u64,
            mean_ms: round3(mean),
            p50_ms: round3(rank(50.0)),
            p95_ms: round3(rank(95.0)),
            p99_ms: round3(rank(99.0)),
            max_ms: round3(self.micros.last().map_or(0.0, |&m| f64::from(m) / 1000.0)),
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Percentiles of one kind of latency, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

/// One worker's (or the merged) record of a run.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// Whole-session latencies (first request sent to last reply read).
    pub sessions: Samples,
    /// Round-trip latencies keyed by the package the client sent (1, 3, 5, ...).
    pub packages: BTreeMap<u32, Samples>,
    /// SyncML messages sent by the simulated devices.
    pub messages: u64,
    /// Sessions that failed, by kind of error.
    pub errors: BTreeMap<String, u64>,
}

impl Recorder {
    /// A completed session and how many messages it sent.
    pub fn session_completed(&mut self, latency: Duration, messages: u64) {
        self.sessions.record(latency);
        self.messages += messages;
    }

    /// One request/response round trip, named by the package number the client sent.
    pub fn round_trip(&mut self, package: u32, latency: Duration) {
        self.packages.entry(package).or_default().record(latency);
    }

    /// A failed session, counted under `kind` (a short stable label such as `http-503`, `auth`).
    pub fn session_failed(&mut self, kind: &str, messages: u64) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
        self.messages += messages;
    }

    /// Adds another worker's record to this one.
    pub fn merge(&mut self, other: Recorder) {
        self.sessions.merge(other.sessions);
        for (package, samples) in other.packages {
            self.packages.entry(package).or_default().merge(samples);
        }
        self.messages += other.messages;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }

    /// The summary of a run that lasted `elapsed`.
    pub fn summarize(mut self, run: RunShape, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let sessions = self.sessions.len() as u64;
        let error_total = self.errors.values().sum();
        Summary {
            run,
            elapsed_s: round3(secs),
            sessions,
            sessions_per_s: round3(sessions as f64 / secs),
            messages: self.messages,
            messages_per_s: round3(self.messages as f64 / secs),
            session_latency: self.sessions.summarize(),
            package_latency: self
                .packages
                .iter_mut()
                .map(|(package, s)| (format!("pkg{}->{}", package, package + 1), s.summarize()))
                .collect(),
            errors: self.errors,
            error_total,
            server: None,
        }
    }
}

/// The parameters of a run, echoed in its summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunShape {
    /// The DM URL the devices connected to.
    pub url: String,
    /// Simulated devices.
    pub devices: u64,
    /// Sessions in flight at once.
    pub concurrency: u64,
    /// Requested duration in seconds.
    pub duration_s: u64,
    /// Whether the devices spoke WBXML.
    pub wbxml: bool,
    /// The client authentication scheme.
    pub auth: String,
}

/// Everything `omadm loadgen` reports at the end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// What was run.
    pub run: RunShape,
    /// How long the measured part lasted.
    pub elapsed_s: f64,
    /// Completed sessions.
    pub sessions: u64,
    /// Completed sessions per second.
    pub sessions_per_s: f64,
    /// Messages sent by the devices.
    pub messages: u64,
    /// Messages sent per second.
    pub messages_per_s: f64,
    /// Whole-session latency.
    pub session_latency: LatencySummary,
    /// Round-trip latency per package (`pkg1->2`, `pkg3->4`, ...).
    pub package_latency: BTreeMap<String, LatencySummary>,
    /// Failed sessions by kind.
    pub errors: BTreeMap<String, u64>,
    /// Failed sessions in all.
    pub error_total: u64,
    /// The server's own figures, when it exposes them.
    pub server: Option<serde_json::Value>,
}

impl Summary {
    /// The human-readable report; its last line is the machine-readable one
    /// (`sessions/s: N  p99_ms: M  errors: E`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let r = &self.run;
        out.push_str(&format!(
            "{} devices, concurrency {}, {} s requested ({} s measured), {}, auth {}, {}\n",
            r.devices,
            r.concurrency,
            r.duration_s,
            self.elapsed_s,
            if r.wbxml { "WBXML" } else { "XML" },
            r.auth,
            r.url
        ));
        out.push_str(&format!(
            "sessions: {} ({:.1}/s)  messages: {} ({:.1}/s)\n",
            self.sessions, self.sessions_per_s, self.messages, self.messages_per_s
        ));
        out.push_str(&format!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "latency ms", "count", "mean", "p50", "p95", "p99", "max"
        ));
        let mut row = |name: &str, l: &LatencySummary| {
            out.push_str(&format!(
                "{:<12} {:>9} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}\n",
                name, l.count, l.mean_ms, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            ));
        };
        row("session", &self.session_latency);
        for (name, l) in &self.package_latency {
            row(name, l);
        }
        if self.errors.is_empty() {
            out.push_str("errors: none\n");
        } else {
            let list: Vec<String> = self.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("errors: {}\n", list.join(", ")));
        }
        if let Some(server) = &self.server {
            out.push_str(&format!("server: {server}\n"));
        }
        out.push_str(&format!(
            "sessions/s: {:.1}  p99_ms: {:.3}  errors: {}\n",
            self.sessions_per_s, self.session_latency.p99_ms, self.error_total
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Samples::default();
        for v in 1..=100 {
            s.record(ms(v));
        }
        let l = s.summarize();
        assert_eq!((l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms), (100, 50.0, 95.0, 99.0, 100.0));
        assert_eq!(l.mean_ms, 50.5);
        let mut one = Samples::default();
        one.record(Duration::from_micros(1500));
        assert_eq!(one.summarize().p99_ms, 1.5);
        assert_eq!(Samples::default().summarize().p99_ms, 0.0);
    }

    #[test]
    fn merged_recorders_summarize_with_a_parsable_last_line() {
        let mut a = Recorder::default();
        a.session_completed(ms(10), 2);
        a.round_trip(1, ms(4));
        a.round_trip(3, ms(6));
        let mut b = Recorder::default();
        b.session_completed(ms(30), 2);
        b.session_failed("http-503", 1);
        b.session_failed("http-503", 1);
        a.merge(b);
        let shape = RunShape {
            url: "http://127.0.0.1:8080/dm".into(),
            devices: 2,
            concurrency: 2,
            duration_s: 1,
            wbxml: false,
            auth: "md5".into(),
        };
        let summary = a.summarize(shape, Duration::from_secs(2));
        assert_eq!(summary.sessions, 2);
        assert_eq!(summary.messages, 6);
        assert_eq!(summary.sessions_per_s, 1.0);
        assert_eq!(summary.error_total, 2);
        assert_eq!(summary.package_latency["pkg3->4"].max_ms, 6.0);
        let text = summary.render();
        assert_eq!(text.lines().last().unwrap(), "sessions/s: 1.0  p99_ms: 30.000  errors: 2");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["errors"]["http-503"], 2);
    }
}
