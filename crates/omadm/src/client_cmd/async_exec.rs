//! Asynchronous `[[exec]]` actions, and the durable list of the generic alerts (1226) waiting for
//! the server: their completions and the `--generic-alert` reports.
//!
//! An Exec of a node whose `[[exec]]` says `async = true` starts its program and is answered 202
//! at once (DM Protocol 1.2 §6.6.4, digest §3: "202 + Correlator for long jobs"). When the program
//! ends, its result goes to the server as a generic alert (1226) that repeats the Exec's
//! Correlator (DM Protocol 1.2 §8.7), in the device's next session. Between the two the
//! completion lives in a small JSON file next to the tree store (`<store>.pending-alerts.json`,
//! written whole to a temporary file and renamed), so a restart of `omadm client` loses none: an
//! entry is removed only once a server answered its 1226 with a 2xx Status.
//!
//! An action whose process died with the client (a crash or a kill while it ran) has no result;
//! the next start reports it as failed (500), see [`INTERRUPTED_RESULT`]. `--once` waits for the
//! actions it started before exiting, so their results are recorded.
//!
//! A `--generic-alert` report is kept the same way ([`Completions::keep`]): the server answers
//! each 1226 with 200/202 or an error (DM Protocol 1.2 §8.7, digest §10 "Generic Alert 1226");
//! until a 2xx Status says it was accepted, the report is sent again in each later session.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use anyhow::{Context, Result};
use omadm_client::GenericAlert;
use omadm_proto::{AlertCode, Format, StatusCode};
use serde::{Deserialize, Serialize};

/// The 1226 Meta Type of a completion when the `[[exec]]` names none (our reading: the spec
/// leaves the type of a plain Exec's completion to the MO; this one says "an Exec finished").
pub const DEFAULT_ALERT_TYPE: &str = "org.omadm.client.exec.result";

/// The result reported for an action whose client process died before it ended: the outcome is
/// unknown, so the server hears that it failed (500) rather than nothing.
pub const INTERRUPTED_RESULT: StatusCode = StatusCode::CommandFailed;

/// The completions file of a tree store at `store`.
pub fn completions_path(store: &Path) -> PathBuf {
    let mut name = store.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".pending-alerts.json");
    store.with_file_name(name)
}

/// A `--generic-alert TYPE[@SOURCE]=DATA` report: a 1226 with `chr` Data, informational.
pub fn given_alert(meta_type: &str, source: Option<&str>, data: &str) -> GenericAlert {
    GenericAlert {
        code: AlertCode::GenericAlert,
        correlator: None,
        source: source.map(str::to_string),
        meta_type: meta_type.to_string(),
        format: Format::Chr,
        mark: None,
        data: data.to_string(),
    }
}

/// One report not yet acknowledged by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Entry {
    /// An asynchronous action, running or ended.
    Exec(ExecEntry),
    /// A `--generic-alert` report.
    Given(GivenEntry),
}

/// A `--generic-alert` report as kept in the file (the rest of the 1226 is [`given_alert`]'s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct GivenEntry {
    /// Tells entries apart within the file.
    id: u64,
    /// The 1226 Meta Type.
    given_type: String,
    /// The MO the report is about.
    source: Option<String>,
    /// The 1226 Data.
    data: String,
}

impl GivenEntry {
    fn alert(&self) -> GenericAlert {
        given_alert(&self.given_type, self.source.as_deref(), &self.data)
    }
}

impl Entry {
    fn id(&self) -> u64 {
        match self {
            Entry::Exec(e) => e.id,
            Entry::Given(g) => g.id,
        }
    }

    /// The 1226 to send, `None` while the action runs.
    fn ready_alert(&self) -> Option<GenericAlert> {
        match self {
            Entry::Exec(e) => e.result.map(|r| e.alert(r)),
            Entry::Given(g) => Some(g.alert()),
        }
    }

    fn is_running(&self) -> bool {
        matches!(self, Entry::Exec(ExecEntry { result: None, .. }))
    }
}

/// One asynchronous action, running or ended and not yet acknowledged by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ExecEntry {
    /// Tells entries apart within the file.
    id: u64,
    /// The Exec's target.
    uri: String,
    /// The Exec's Correlator, repeated in the 1226.
    correlator: Option<String>,
    /// The 1226 Meta Type.
    alert_type: String,
    /// The DM status code of the outcome (200 or 500); `None` while the program runs.
    result: Option<u16>,
}

impl ExecEntry {
    fn alert(&self, result: u16) -> GenericAlert {
        GenericAlert {
            code: AlertCode::GenericAlert,
            correlator: self.correlator.clone(),
            source: Some(self.uri.clone()),
            meta_type: self.alert_type.clone(),
            format: Format::Int,
            mark: (result >= 300).then(|| "critical".to_string()),
            data: result.to_string(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Where the list is kept; `None` with an in-memory tree (nothing outlives the process).
    path: Option<PathBuf>,
    entries: Vec<Entry>,
    next_id: u64,
}

impl State {
    fn save(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let text = serde_json::to_vec_pretty(&self.entries).context("encoding the pending completions")?;
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().with_context(|| format!("writing the pending completions {}", path.display()))
    }
}

/// The pending completions, shared by the Exec handlers (which add and finish entries from
/// their waiting threads) and the session loop (which sends and forgets them).
#[derive(Debug, Clone, Default)]
pub struct Completions {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Completions {
    /// Reads the list kept at `path` (none yet is an empty list); without a path the list lives
    /// in memory. Entries still running belong to a process that is gone: they are reported
    /// as [`INTERRUPTED_RESULT`].
    pub fn open(path: Option<PathBuf>) -> Result<Completions> {
        let mut entries: Vec<Entry> = match &path {
            Some(p) if p.exists() => {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", p.display()))?
            }
            _ => Vec::new(),
        };
        let mut interrupted = false;
        let running = entries.iter_mut().filter_map(|e| match e {
            Entry::Exec(exec) if exec.result.is_none() => Some(exec),
            _ => None,
        });
        for e in running {
            tracing::warn!(uri = %e.uri, correlator = e.correlator.as_deref().unwrap_or(""),
                "an asynchronous Exec was interrupted by a restart: reported as failed");
            e.result = Some(INTERRUPTED_RESULT.code());
            interrupted = true;
        }
        let next_id = entries.iter().map(|e| e.id() + 1).max().unwrap_or(0);
        let state = State { path, entries, next_id };
        if interrupted {
            state.save()?;
        }
        Ok(Completions { inner: Arc::new((Mutex::new(state), Condvar::new())) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking holder cannot leave the list half-changed (every change is one push,
        // field write or retain), so a poisoned lock is still usable.
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an action that started; returns its id for [`Completions::finish`].
    pub fn start(&self, uri: &str, correlator: Option<&str>, alert_type: &str) -> Result<u64> {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.entries.push(Entry::Exec(ExecEntry {
            id,
            uri: uri.to_string(),
            correlator: correlator.map(str::to_string),
            alert_type: alert_type.to_string(),
            result: None,
        }));
        state.save()?;
        Ok(id)
    }

    /// Keeps a `--generic-alert` report until the server acknowledges it. A report identical to
    /// one still waiting is the same report given again (a repeated command line), so it is not
    /// added twice.
    pub fn keep(&self, alert: &GenericAlert) -> Result<()> {
        let mut state = self.lock();
        let entry = GivenEntry {
            id: state.next_id,
            given_type: alert.meta_type.clone(),
            source: alert.source.clone(),
            data: alert.data.clone(),
        };
        anyhow::ensure!(
            entry.alert() == *alert,
            "the generic alert {} is not a --generic-alert report (chr, informational)",
            alert.meta_type
        );
        if state.entries.iter().any(|e| matches!(e, Entry::Given(g) if g.alert() == *alert)) {
            return Ok(());
        }
        state.next_id += 1;
        state.entries.push(Entry::Given(entry));
        state.save()
    }

    /// Records how the action `id` ended.
    pub fn finish(&self, id: u64, result: StatusCode) -> Result<()> {
        let mut state = self.lock();
        for entry in &mut state.entries {
            if let Entry::Exec(e) = entry {
                if e.id == id {
                    e.result = Some(result.code());
                }
            }
        }
        let saved = state.save();
        self.inner.1.notify_all();
        saved
    }

    /// The 1226 alerts of every ended action and kept report, for the next session's Package 1.
    pub fn ready(&self) -> Vec<GenericAlert> {
        self.lock().entries.iter().filter_map(Entry::ready_alert).collect()
    }

    /// Forgets the ended actions and reports whose 1226 the server acknowledged (one entry per
    /// alert).
    pub fn forget_delivered(&self, delivered: &[GenericAlert]) -> Result<()> {
        let mut state = self.lock();
        let before = state.entries.len();
        for alert in delivered {
            if let Some(at) = state.entries.iter().position(|e| e.ready_alert().as_ref() == Some(alert)) {
                state.entries.remove(at);
            }
        }
        if state.entries.len() == before {
            return Ok(());
        }
        state.save()
    }

    /// How many actions are still running.
    pub fn running(&self) -> usize {
        self.lock().entries.iter().filter(|e| e.is_running()).count()
    }

    /// Blocks until no action is running.
    pub fn wait_idle(&self) {
        let mut state = self.lock();
        while state.entries.iter().any(Entry::is_running) {
            state = self.inner.1.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_survive_a_reopen_and_go_only_once_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = completions_path(&dir.path().join("dev.snap"));
        assert_eq!(path.file_name().unwrap(), "dev.snap.pending-alerts.json");
        let list = Completions::open(Some(path.clone())).unwrap();
        let done = list.start("./Vendor/Update", Some("job-1"), DEFAULT_ALERT_TYPE).unwrap();
        list.start("./Vendor/Other", Some("job-2"), "com.example.other").unwrap();
        list.finish(done, StatusCode::Ok).unwrap();
        assert_eq!(list.running(), 1);

        // A restart: the finished one is ready, the one left running is reported failed.
        let list = Completions::open(Some(path.clone())).unwrap();
        let ready = list.ready();
        assert_eq!(ready.len(), 2);
        assert_eq!((ready[0].correlator.as_deref(), ready[0].data.as_str()), (Some("job-1"), "200"));
        assert_eq!((ready[1].correlator.as_deref(), ready[1].data.as_str()), (Some("job-2"), "500"));
        assert_eq!(ready[1].mark.as_deref(), Some("critical"));
        assert_eq!(list.running(), 0);

        list.forget_delivered(&ready[..1]).unwrap();
        let list = Completions::open(Some(path.clone())).unwrap();
        let left: Vec<_> = list.ready().into_iter().map(|a| a.correlator).collect();
        assert_eq!(left, [Some("job-2".to_string())]);
        assert!(list.start("./X", None, "t").unwrap() >= 2, "ids are not reused");
    }

    #[test]
    fn given_reports_are_kept_once_next_to_completions_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = completions_path(&dir.path().join("dev.redb"));
        let list = Completions::open(Some(path.clone())).unwrap();
        let done = list.start("./Vendor/Update", Some("job-1"), DEFAULT_ALERT_TYPE).unwrap();
        list.finish(done, StatusCode::Ok).unwrap();
        let report = given_alert("org.example.battery", Some("./Vendor/Battery"), "low");
        list.keep(&report).unwrap();
        list.keep(&report).unwrap();
        list.keep(&given_alert("org.example.boot", None, "")).unwrap();
        assert!(list.keep(&GenericAlert { mark: Some("fatal".into()), ..report.clone() }).is_err());

        let list = Completions::open(Some(path.clone())).unwrap();
        let ready = list.ready();
        assert_eq!(ready.len(), 3, "the repeated report is kept once: {ready:?}");
        assert_eq!(ready[1], report);
        assert_eq!(list.running(), 0);

        list.forget_delivered(&ready[1..2]).unwrap();
        let list = Completions::open(Some(path)).unwrap();
        let left: Vec<_> = list.ready().into_iter().map(|a| a.meta_type).collect();
        assert_eq!(left, [DEFAULT_ALERT_TYPE, "org.example.boot"]);
    }

    #[test]
    fn a_damaged_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pending-alerts.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = Completions::open(Some(path.clone())).unwrap_err();
        assert!(format!("{err:#}").contains("x.pending-alerts.json"), "{err:#}");
    }

    #[test]
    fn wait_idle_returns_once_every_action_ended() {
        let list = Completions::open(None).unwrap();
        let id = list.start("./A", None, "t").unwrap();
        let finisher = list.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            finisher.finish(id, StatusCode::Ok).unwrap();
        });
        list.wait_idle();
        assert_eq!(list.running(), 0);
        t.join().unwrap();
    }
}
