//! `omadm loadgen`: many simulated devices, each the real client engine, running complete
//! authenticated DM sessions against a server in which work is queued for them, and a summary of
//! what the server sustained (issue 7).
//!
//! A run provisions `--devices` devices through the REST API (bulk, one group), then works in
//! rounds until `--duration` is over: one group job (three Gets and one Replace per device) is
//! queued, and `--concurrency` workers run one session per device, each worker for its own share
//! of the devices with one management tree it re-targets per device (DevId and account). Nonces a
//! session ends with are kept for the device's next session, as a real device keeps them.
//!
//! Around every measured stretch it reads the server's `GET /api/stats` ([`server_stats`]) for
//! server-side figures. `--hold-open N` first holds N sessions open at once and reports the
//! server's memory per open session ([`hold`]); `--echo-url` afterwards replays the run's typical
//! session as bare HTTP round trips against an echo server ([`echo`]) and gives the ratio.

mod echo;
mod hold;
mod server_stats;
mod stats;

use crate::client_cmd::DeviceProfile;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use hyper::Method;
use omadm_client::account::{Account, AuthConfig};
use omadm_client::http::{HttpConfig, HttpTransport};
use omadm_client::ui::NoUi;
use omadm_client::{Action, Incoming, Outcome, Session, SessionConfig};
use omadm_proto::{Encoding, Format};
use omadm_security::AuthScheme;
use omadm_server::client::ApiClient;
use omadm_server::metrics::ProcessStats;
use omadm_tree::objects::{install, standard_config};
use omadm_tree::{MemStore, NodeRecord, ServerId, Tree, Uri};
use serde_json::json;
use server_stats::Accumulator;
use stats::{EchoComparison, HoldOpenFigures, Recorder, RunShape, SetupFigures};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The client authentication scheme of the simulated devices (the server proves itself with the
/// same scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadAuth {
    /// `syncml:auth-md5`.
    Md5,
    /// `syncml:auth-MAC` (x-syncml-hmac).
    Hmac,
    /// `syncml:auth-basic`.
    Basic,
    /// The SHA-256 digest.
    Sha256,
}

impl LoadAuth {
    fn scheme(self) -> AuthScheme {
        match self {
            LoadAuth::Md5 => AuthScheme::Md5,
            LoadAuth::Hmac => AuthScheme::Mac,
            LoadAuth::Basic => AuthScheme::Basic,
            LoadAuth::Sha256 => AuthScheme::Sha256,
        }
    }

    fn api_name(self) -> &'static str {
        match self {
            LoadAuth::Md5 => "md5",
            LoadAuth::Hmac => "hmac",
            LoadAuth::Basic => "basic",
            LoadAuth::Sha256 => "sha256",
        }
    }
}

/// Arguments of `omadm loadgen`.
#[derive(Args, Debug)]
pub struct LoadgenArgs {
    /// The server's DM URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/dm")]
    url: String,
    /// Simulated devices.
    #[arg(long, default_value_t = 100)]
    devices: u64,
    /// Seconds to run (0: no timed run, with --hold-open only).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Sessions in flight at once [default: the number of devices, at most 64].
    #[arg(long)]
    concurrency: Option<u64>,
    /// Devices speak WBXML.
    #[arg(long)]
    wbxml: bool,
    /// Authentication scheme, both ways.
    #[arg(long, value_enum, default_value = "md5")]
    auth: LoadAuth,
    /// The server's REST API [default: the DM URL's scheme, host and port].
    #[arg(long)]
    api: Option<String>,
    /// Bearer token of the API.
    #[arg(long, env = "OMADM_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// CA certificates (PEM) for an HTTPS server.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Print the whole summary as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Before the timed run, hold this many sessions open at once (Package 2 received, not
    /// answered) and report the server's memory per open session.
    #[arg(long, value_name = "N")]
    hold_open: Option<u64>,
    /// After the timed run, make the same round trips (count, body sizes, concurrency, duration)
    /// against this bare HTTP echo server and report omadm's rate as a share of its rate.
    #[arg(long, value_name = "URL")]
    echo_url: Option<String>,
}

/// What one simulated device keeps between sessions.
struct SimDevice {
    /// Its place among the run's devices.
    index: u64,
    dev_id: String,
    account: Account,
}

/// One worker's devices and the management tree it re-targets at each of them.
struct Worker {
    share: Vec<SimDevice>,
    tree: Tree<MemStore>,
}

/// Everything the workers share.
struct Shared {
    http: HttpTransport,
    encoding: Encoding,
    completed: AtomicU64,
    failed: AtomicU64,
}

/// The commands queued for every device each round: three Gets and one Replace.
fn round_commands(round: u64) -> serde_json::Value {
    json!([
        { "op": "get", "target": "./DevDetail/URI/MaxDepth" },
        { "op": "get", "target": "./DevInfo/Man" },
        { "op": "get", "target": "./DevDetail/FwV" },
        { "op": "replace", "target": "./DMAcc/omadm/Name", "data": format!("round {round}") },
    ])
}

/// Runs `omadm loadgen`.
pub fn run(args: LoadgenArgs) -> Result<ExitCode> {
    if args.devices == 0 {
        bail!("--devices must be at least 1");
    }
    if args.hold_open.is_some_and(|n| n == 0 || n > args.devices) {
        bail!("--hold-open must be 1 to --devices ({})", args.devices);
    }
    if args.duration == 0 && (args.hold_open.is_none() || args.echo_url.is_some()) {
        bail!("--duration 0 (no timed run) goes only with --hold-open and without --echo-url");
    }
    let concurrency = args.concurrency.unwrap_or(args.devices.min(64)).clamp(1, args.devices);
    let api_base = match &args.api {
        Some(a) => a.clone(),
        None => origin_of(&args.url)?,
    };
    let mut api = ApiClient::new(&api_base, args.api_token.clone()).context("the API URL")?;
    if let Some(ca) = &args.ca {
        api = api.with_ca_pem(std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?);
    }
    let http = HttpTransport::new(HttpConfig { ca_file: args.ca.clone(), max_retries: 0, ..HttpConfig::default() })
        .context("setting up HTTP(S)")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let shared = Arc::new(Shared {
        http,
        encoding: if args.wbxml { Encoding::Wbxml } else { Encoding::Xml },
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let run_id = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    let group = format!("loadgen-{run_id}");
    let held_group = format!("loadgen-{run_id}-held");
    let provision_started = Instant::now();
    let devices = runtime.block_on(provision(&api, &args, &run_id, &group, &held_group))?;
    let provision_s = provision_started.elapsed().as_secs_f64();
    eprintln!("omadm loadgen: provisioned {} devices in group {group} in {provision_s:.1} s", devices.len());
    let stats_available = runtime.block_on(server_stats::read(&api))?.is_some();
    if !stats_available {
        eprintln!(
            "omadm loadgen: the server has no {} (an older server): no server-side figures",
            server_stats::STATS_PATH
        );
    }
    let stats = |runtime: &tokio::runtime::Runtime| -> Result<Option<server_stats::Reading>> {
        if stats_available {
            runtime.block_on(server_stats::read(&api))
        } else {
            Ok(None)
        }
    };

    // Each worker owns every concurrency-th device.
    let mut workers = (0..concurrency).map(|_| Worker::new()).collect::<Result<Vec<_>>>()?;
    for (i, d) in devices.into_iter().enumerate() {
        workers[i % concurrency as usize].share.push(d);
    }
    for worker in &mut workers {
        worker.install_account()?;
    }

    let hold_open = match args.hold_open {
        Some(n) => {
            let job = json!({ "group": held_group, "commands": round_commands(0) });
            runtime
                .block_on(api.call_ignoring_answer(Method::POST, "/api/jobs", Some(&job)))
                .context("queueing the held sessions' jobs")?;
            // Two halves: the second half's memory is what each further open session costs,
            // whatever the allocator kept or gave back from provisioning before.
            let before = stats(&runtime)?;
            let started = Instant::now();
            let holding = workers.into_iter().map(|w| (w, Vec::new())).collect();
            let holding = runtime.block_on(open_held(holding, &shared, &args.url, 0..n / 2))?;
            let at_half = stats(&runtime)?;
            let held_half: u64 = holding.iter().map(|(_, held)| held.len() as u64).sum();
            let opened = runtime.block_on(open_held(holding, &shared, &args.url, n / 2..n))?;
            let open_s = started.elapsed().as_secs_f64();
            let during = stats(&runtime)?;
            let held: u64 = opened.iter().map(|(_, held)| held.len() as u64).sum();
            eprintln!("omadm loadgen: {held} sessions held open after {open_s:.2} s; finishing them");
            let (back, finished, finish_errors) = runtime.block_on(finish_held(opened, &shared))?;
            workers = back;
            let rss = |r: &Option<server_stats::Reading>| r.and_then(|r| r.rss_kb);
            let bytes_per_session = match (rss(&at_half), rss(&during)) {
                (Some(h), Some(d)) if held > held_half => {
                    Some(((d as f64 - h as f64) * 1024.0 / (held - held_half) as f64).round())
                }
                _ => None,
            };
            Some(HoldOpenFigures {
                requested: n,
                held,
                open_s: (open_s * 1000.0).round() / 1000.0,
                server_open_before: before.map(|r| r.open),
                server_open_held: during.map(|r| r.open),
                rss_before_kb: rss(&before),
                rss_half_kb: rss(&at_half),
                rss_held_kb: rss(&during),
                bytes_per_session,
                finished,
                finish_errors,
            })
        }
        None => None,
    };

    let duration = Duration::from_secs(args.duration);
    shared.completed.store(0, Ordering::Relaxed);
    shared.failed.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let progress = runtime.spawn(report_progress(Arc::clone(&shared), started, "sessions"));
    let mut total = Recorder::default();
    let mut server = Accumulator::default();
    let mut own_cpu_ms: Option<u64> = Some(0);
    let mut measured = Duration::ZERO;
    let mut queueing = Duration::ZERO;
    let mut round = 0;
    // The measured time is the requested duration: queueing a round's jobs (seconds for a large
    // group) does not use it up.
    while measured < duration {
        round += 1;
        let body = json!({ "group": group, "commands": round_commands(round) });
        let queue_start = Instant::now();
        runtime
            .block_on(api.call_ignoring_answer(Method::POST, "/api/jobs", Some(&body)))
            .context("queueing the round's jobs")?;
        queueing += queue_start.elapsed();
        let before = stats(&runtime)?;
        let own_before = ProcessStats::read().cpu_ms;
        let round_start = Instant::now();
        let deadline = round_start + (duration - measured);
        let handles: Vec<_> = std::mem::take(&mut workers)
            .into_iter()
            .map(|w| runtime.spawn(w.timed(Arc::clone(&shared), args.url.clone(), deadline)))
            .collect();
        for h in handles {
            let (worker, recorder) = runtime.block_on(h).context("a load worker panicked")??;
            workers.push(worker);
            total.merge(recorder);
        }
        measured += round_start.elapsed();
        own_cpu_ms = match (own_cpu_ms, own_before, ProcessStats::read().cpu_ms) {
            (Some(sum), Some(b), Some(a)) => Some(sum + a.saturating_sub(b)),
            _ => None,
        };
        if let (Some(before), Some(after)) = (before, stats(&runtime)?) {
            server.add(before, after);
        }
    }
    progress.abort();
    let shape = RunShape {
        url: args.url.clone(),
        devices: args.devices,
        concurrency,
        duration_s: args.duration,
        wbxml: args.wbxml,
        auth: args.auth.api_name().to_string(),
    };
    let mut summary = total.summarize(shape.clone(), measured);
    summary.setup = Some(SetupFigures {
        provision_s: (provision_s * 1000.0).round() / 1000.0,
        rounds: round,
        queue_job_s: if round == 0 { 0.0 } else { (queueing.as_secs_f64() / round as f64 * 1000.0).round() / 1000.0 },
    });
    summary.server = server.figures(measured);
    summary.loadgen_cpu = own_cpu_ms.map(|ms| stats::LoadgenCpu::new(ms, summary.sessions));
    summary.hold_open = hold_open;
    if let Some(echo_url) = &args.echo_url {
        let trips = summary.round_trips.clone();
        if trips.is_empty() {
            bail!("no session completed, so there is no session shape for the echo baseline to replay");
        }
        let echo = runtime.block_on(echo_run(&shared, echo_url, trips.clone(), concurrency, duration));
        let echo_summary = echo.summarize(RunShape { url: echo_url.clone(), ..shape }, duration);
        let ratio = 100.0 * summary.sessions_per_s / echo_summary.sessions_per_s.max(1e-9);
        summary.echo = Some(EchoComparison {
            shape: trips,
            summary: Box::new(echo_summary),
            ratio_percent: (ratio * 10.0).round() / 10.0,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.render());
    }
    let clean = summary.error_total == 0
        && summary.echo.as_ref().is_none_or(|e| e.summary.error_total == 0)
        && summary.hold_open.as_ref().is_none_or(|h| h.held == h.requested && h.finish_errors == 0);
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Workers with the sessions they hold open.
type Holding = Vec<(Worker, Vec<hold::Held>)>;

/// Opens a session for each device whose index is in `devices` (those of the held group come
/// first) and holds it after Package 2, beside the sessions the workers hold already.
async fn open_held(
    holding: Holding,
    shared: &Arc<Shared>,
    url: &str,
    devices: std::ops::Range<u64>,
) -> Result<Holding> {
    shared.completed.store(0, Ordering::Relaxed);
    shared.failed.store(0, Ordering::Relaxed);
    let progress = tokio::spawn(report_progress(Arc::clone(shared), Instant::now(), "held"));
    let handles: Vec<_> = holding
        .into_iter()
        .map(|(mut w, mut held)| {
            let (shared, url, devices) = (Arc::clone(shared), url.to_string(), devices.clone());
            tokio::spawn(async move {
                let (more, errors) =
                    hold::open(&shared, &mut w.tree, &mut w.share, |d| devices.contains(&d.index), &url).await;
                held.extend(more);
                (w, held, errors)
            })
        })
        .collect();
    let mut opened = Vec::new();
    let mut open_errors: BTreeMap<String, u64> = BTreeMap::new();
    for h in handles {
        let (worker, held, errors) = h.await.context("a hold worker panicked")?;
        opened.push((worker, held));
        for (kind, count) in errors {
            *open_errors.entry(kind).or_default() += count;
        }
    }
    progress.abort();
    if !open_errors.is_empty() {
        eprintln!("omadm loadgen: sessions that did not open: {open_errors:?}");
    }
    Ok(opened)
}

/// Finishes the held sessions; returns the workers, the sessions finished and those that failed.
async fn finish_held(opened: Holding, shared: &Arc<Shared>) -> Result<(Vec<Worker>, u64, u64)> {
    let handles: Vec<_> = opened
        .into_iter()
        .map(|(mut w, held)| {
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                let (finished, errors) = hold::finish(&shared, &mut w.tree, &mut w.share, held).await;
                (w, finished, errors)
            })
        })
        .collect();
    let mut workers = Vec::new();
    let (mut finished, mut failed) = (0, 0);
    for h in handles {
        let (worker, done, errors) = h.await.context("a hold worker panicked")?;
        workers.push(worker);
        finished += done;
        if !errors.is_empty() {
            eprintln!("omadm loadgen: held sessions that did not finish: {errors:?}");
        }
        failed += errors.values().sum::<u64>();
    }
    Ok((workers, finished, failed))
}

/// The echo baseline: `concurrency` workers replay `trips` as round-trip sessions for `duration`.
async fn echo_run(
    shared: &Arc<Shared>,
    url: &str,
    trips: Vec<stats::RoundTripShape>,
    concurrency: u64,
    duration: Duration,
) -> Recorder {
    shared.completed.store(0, Ordering::Relaxed);
    shared.failed.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(Arc::clone(shared), started, "echo sessions"));
    let trips = Arc::new(trips);
    let handles: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(echo::worker(Arc::clone(shared), url.to_string(), Arc::clone(&trips), started + duration))
        })
        .collect();
    let mut total = Recorder::default();
    for h in handles {
        match h.await {
            Ok(recorder) => total.merge(recorder),
            Err(_) => total.session_failed("echo: a worker panicked", 0),
        }
    }
    progress.abort();
    total
}

/// `http://host:port` of a URL.
fn origin_of(url: &str) -> Result<String> {
    let rest = url.split_once("://").map(|(_, r)| r).ok_or_else(|| anyhow!("`{url}` is not an http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    Ok(format!("{}://{host}", &url[..url.len() - rest.len() - 3]))
}

/// Creates the devices (bulk, 1,000 per request) in one group, both directions authenticated;
/// the first `--hold-open` of them also in `held_group`.
async fn provision(
    api: &ApiClient,
    args: &LoadgenArgs,
    run_id: &str,
    group: &str,
    held_group: &str,
) -> Result<Vec<SimDevice>> {
    let mut devices = Vec::with_capacity(args.devices as usize);
    let scheme = args.auth.scheme();
    for i in 0..args.devices {
        let dev_id = format!("LOADGEN:{run_id}-{i}");
        let (client_secret, server_secret) = (format!("c-{run_id}-{i}"), format!("s-{run_id}-{i}"));
        devices.push(SimDevice {
            index: i,
            account: Account {
                server_id: ServerId::new("omadm".to_string()).map_err(|e| anyhow!("{e}"))?,
                server_uri: args.url.clone(),
                client: AuthConfig::new(scheme.clone(), dev_id.clone(), &client_secret),
                server: Some(AuthConfig::new(scheme.clone(), "omadm", &server_secret)),
                node: None,
            },
            dev_id,
        });
    }
    for chunk in devices.chunks(1000) {
        let specs: Vec<_> = chunk
            .iter()
            .map(|d| {
                json!({
                    "dev_id": d.dev_id,
                    "client_auth": args.auth.api_name(),
                    "client_secret": String::from_utf8_lossy(d.account.client.credentials.secret.as_bytes()),
                    "server_auth": args.auth.api_name(),
                    "server_user": "omadm",
                    "server_secret": d.account.server.as_ref().map(|s| String::from_utf8_lossy(s.credentials.secret.as_bytes()).into_owned()),
                    "groups": if args.hold_open.is_some_and(|n| d.index < n) { json!([group, held_group]) } else { json!([group]) },
                })
            })
            .collect();
        api.call(Method::POST, "/api/devices/bulk", Some(&json!(specs))).await.context("provisioning devices")?;
    }
    Ok(devices)
}

/// Prints one progress line a second to stderr, counting `what`.
async fn report_progress(shared: Arc<Shared>, started: Instant, what: &'static str) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let secs = started.elapsed().as_secs_f64();
        let done = shared.completed.load(Ordering::Relaxed);
        eprintln!(
            "omadm loadgen: {secs:>5.1} s  {what} {done} ({:.0}/s)  errors {}",
            done as f64 / secs,
            shared.failed.load(Ordering::Relaxed)
        );
    }
}

impl Worker {
    /// A worker with no devices yet and a tree holding the standard objects of a simulated device.
    fn new() -> Result<Worker> {
        let mut profile = DeviceProfile::default();
        profile.model = "omadm-loadgen".into();
        let description = profile.description("LOADGEN:unset", "1.2");
        let mut tree = Tree::open(MemStore::new(), standard_config()).map_err(|e| anyhow!("opening a tree: {e}"))?;
        install(&mut tree, &description).map_err(|e| anyhow!("installing the standard objects: {e}"))?;
        Ok(Worker { share: Vec::new(), tree })
    }

    /// Installs `./DMAcc/omadm` once, from the worker's first device (see [`retarget`]).
    fn install_account(&mut self) -> Result<()> {
        if let Some(first) = self.share.first() {
            first.account.clone().install(&mut self.tree, "omadm")?;
        }
        Ok(())
    }

    /// A session for each of the worker's devices in turn, until the deadline.
    async fn timed(mut self, shared: Arc<Shared>, url: String, deadline: Instant) -> Result<(Worker, Recorder)> {
        let mut recorder = Recorder::default();
        for device in &mut self.share {
            if Instant::now() >= deadline {
                break;
            }
            retarget(&mut self.tree, device)?;
            let started = Instant::now();
            let (messages, result) = one_session(&shared, &mut self.tree, device, &url, &mut recorder).await;
            match result {
                Ok(()) => {
                    recorder.session_completed(started.elapsed(), messages);
                    shared.completed.fetch_add(1, Ordering::Relaxed);
                }
                Err(kind) => {
                    recorder.session_failed(&kind, messages);
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok((self, recorder))
    }
}

/// Re-targets a worker's tree at `device`: its DevId (what Package 1's DevInfo reports).
///
/// The account is not rewritten: the client engine takes it from the [`SessionConfig`], and the
/// tree's `./DMAcc/omadm` (installed once per worker, [`Worker::install_account`]) only has to be
/// there, with the server's ACL, for the server's Replace of its `Name`. Writing the device's whole
/// account into the tree before every session and reading its nonces back after it took about a
/// quarter of the load generator's CPU (`perf`); the nonces are now kept from the session itself
/// ([`keep_nonces`]).
fn retarget(tree: &mut Tree<MemStore>, device: &SimDevice) -> Result<()> {
    let dev_id_uri = Uri::parse("./DevInfo/DevId").map_err(|e| anyhow!("{e}"))?;
    let mut tx = tree.begin();
    tx.put_node(&dev_id_uri, NodeRecord::leaf(Format::Chr, "text/plain", device.dev_id.as_bytes().to_vec()))?;
    tx.commit()?;
    Ok(())
}

/// Keeps the nonces a session ended with for the device's next session, as a real device keeps
/// them in its account: the session's account holds them once it has finished (and the device's
/// own, unchanged, when it failed before the end).
fn keep_nonces(device: &mut SimDevice, session: &Session) {
    let account = session.account();
    device.account.client.nonce = account.client.nonce.clone();
    if let (Some(mine), Some(theirs)) = (device.account.server.as_mut(), account.server.as_ref()) {
        mine.nonce = theirs.nonce.clone();
    }
}

/// The client engine's settings for a session of `device`.
fn session_config(shared: &Shared, device: &SimDevice, url: &str) -> SessionConfig {
    let mut cfg = SessionConfig::new(device.dev_id.clone(), device.account.clone());
    cfg.encoding = shared.encoding;
    cfg.account.server_uri = url.to_string();
    cfg
}

/// Runs one session, timing each round trip, and keeps the nonces it ended with; returns the
/// messages sent and, on failure, a short stable label of the kind of error.
async fn one_session(
    shared: &Shared,
    tree: &mut Tree<MemStore>,
    device: &mut SimDevice,
    url: &str,
    recorder: &mut Recorder,
) -> (u64, Result<(), String>) {
    let (mut session, out) = match Session::start(session_config(shared, device, url), tree) {
        Ok(started) => started,
        Err(e) => return (0, Err(format!("client: {e}"))),
    };
    let outcome = drive(shared, tree, &mut session, out, recorder).await;
    keep_nonces(device, &session);
    outcome
}

/// Sends `out` and the messages after it until `session` ends.
async fn drive(
    shared: &Shared,
    tree: &mut Tree<MemStore>,
    session: &mut Session,
    mut out: omadm_client::Outgoing,
    recorder: &mut Recorder,
) -> (u64, Result<(), String>) {
    let mut ui = NoUi;
    let mut messages = 0u64;
    loop {
        let sent = Instant::now();
        messages += 1;
        let reply = match shared.http.post(&out).await {
            Ok(reply) => reply,
            Err(e) => return (messages, Err(transport_kind(&e.to_string()))),
        };
        recorder.round_trip(2 * messages as u32 - 1, sent.elapsed(), out.body.len(), reply.body.len());
        let incoming =
            Incoming { body: &reply.body, content_type: reply.content_type.as_deref(), hmac: reply.hmac.as_deref() };
        match session.handle_reply(incoming, tree, &mut ui) {
            Ok(Action::Send(next)) => out = next,
            Ok(Action::Finished(Outcome::Completed)) => return (messages, Ok(())),
            Ok(Action::Finished(other)) => return (messages, Err(format!("outcome: {other:?}"))),
            Err(e) => return (messages, Err(format!("client: {}", first_words(&e.to_string())))),
        }
    }
}

/// A stable label for a transport error (its HTTP status when there is one).
fn transport_kind(message: &str) -> String {
    match message.split_whitespace().find(|w| w.len() == 3 && w.chars().all(|c| c.is_ascii_digit())) {
        Some(code) => format!("http-{code}"),
        None => format!("transport: {}", first_words(message)),
    }
}

fn first_words(text: &str) -> String {
    text.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_origin_comes_from_the_dm_url() {
        assert_eq!(origin_of("http://127.0.0.1:8080/dm").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(origin_of("https://dm.example.com/a/b").unwrap(), "https://dm.example.com");
        assert!(origin_of("dm.example.com").is_err());
    }

    #[test]
    fn error_kinds_are_short_and_stable() {
        assert_eq!(transport_kind("the server answered 503 Service Unavailable"), "http-503");
        assert_eq!(
            transport_kind("connection refused (os error 111) while connecting"),
            "transport: connection refused (os error 111) while"
        );
    }
}
