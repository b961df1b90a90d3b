//! `omadm loadgen`: many simulated devices, each the real client engine, running complete
//! authenticated DM sessions against a server in which work is queued for them, and a summary of
//! what the server sustained (issue 7).
//!
//! A run provisions `--devices` devices through the REST API (bulk, one group), then works in
//! rounds until `--duration` is over: one group job (three Gets and one Replace per device) is
//! queued, and `--concurrency` workers run one session per device, each worker for its own share
//! of the devices with one management tree it re-targets per device (DevId and account). Nonces a
//! session ends with are kept for the device's next session, as a real device keeps them.

mod stats;

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
use omadm_tree::objects::{install, standard_config, DeviceDescription};
use omadm_tree::{MemStore, NodeRecord, ServerId, Tree, Uri, UriLimits};
use serde_json::json;
use stats::{Recorder, RunShape};
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
    /// Seconds to run.
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
}

/// What one simulated device keeps between sessions.
struct SimDevice {
    dev_id: String,
    account: Account,
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
    let devices = runtime.block_on(provision(&api, &args, &run_id, &group))?;
    eprintln!("omadm loadgen: provisioned {} devices in group {group}", devices.len());

    // Each worker owns every concurrency-th device.
    let mut shares: Vec<Vec<SimDevice>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, d) in devices.into_iter().enumerate() {
        shares[i % concurrency as usize].push(d);
    }
    let duration = Duration::from_secs(args.duration.max(1));
    let started = Instant::now();
    let deadline = started + duration;
    let progress = runtime.spawn(report_progress(Arc::clone(&shared), started));
    let mut total = Recorder::default();
    let mut measured = Duration::ZERO;
    let mut round = 0;
    while Instant::now() < deadline {
        round += 1;
        let body = json!({ "group": group, "commands": round_commands(round) });
        runtime.block_on(api.call(Method::POST, "/api/jobs", Some(&body))).context("queueing the round's jobs")?;
        let round_start = Instant::now();
        let handles: Vec<_> = std::mem::take(&mut shares)
            .into_iter()
            .map(|share| runtime.spawn(worker(share, Arc::clone(&shared), args.url.clone(), deadline)))
            .collect();
        for h in handles {
            let (share, recorder) = runtime.block_on(h).context("a load worker panicked")??;
            shares.push(share);
            total.merge(recorder);
        }
        measured += round_start.elapsed();
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
    let summary = total.summarize(shape, measured);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.render());
    }
    Ok(if summary.error_total == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `http://host:port` of a URL.
fn origin_of(url: &str) -> Result<String> {
    let rest = url.split_once("://").map(|(_, r)| r).ok_or_else(|| anyhow!("`{url}` is not an http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    Ok(format!("{}://{host}", &url[..url.len() - rest.len() - 3]))
}

/// Creates the devices (bulk, 1,000 per request) in one group, both directions authenticated.
async fn provision(api: &ApiClient, args: &LoadgenArgs, run_id: &str, group: &str) -> Result<Vec<SimDevice>> {
    let mut devices = Vec::with_capacity(args.devices as usize);
    let scheme = args.auth.scheme();
    for i in 0..args.devices {
        let dev_id = format!("LOADGEN:{run_id}-{i}");
        let (client_secret, server_secret) = (format!("c-{run_id}-{i}"), format!("s-{run_id}-{i}"));
        devices.push(SimDevice {
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
                    "groups": [group],
                })
            })
            .collect();
        api.call(Method::POST, "/api/devices/bulk", Some(&json!(specs))).await.context("provisioning devices")?;
    }
    Ok(devices)
}

/// Prints one progress line a second to stderr.
async fn report_progress(shared: Arc<Shared>, started: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let secs = started.elapsed().as_secs_f64();
        let done = shared.completed.load(Ordering::Relaxed);
        eprintln!(
            "omadm loadgen: {secs:>5.1} s  sessions {done} ({:.0}/s)  errors {}",
            done as f64 / secs,
            shared.failed.load(Ordering::Relaxed)
        );
    }
}

/// One worker: a session for each of its devices in turn, until the deadline.
async fn worker(
    mut share: Vec<SimDevice>,
    shared: Arc<Shared>,
    url: String,
    deadline: Instant,
) -> Result<(Vec<SimDevice>, Recorder)> {
    let mut recorder = Recorder::default();
    let description = DeviceDescription {
        dev_id: "LOADGEN:unset".into(),
        man: "omadm".into(),
        model: "omadm-loadgen".into(),
        dm_version: "1.2".into(),
        lang: "en-US".into(),
        dev_type: "simulator".into(),
        oem: "omadm".into(),
        fw_version: env!("CARGO_PKG_VERSION").into(),
        sw_version: env!("CARGO_PKG_VERSION").into(),
        hw_version: "1.0".into(),
        large_objects: true,
        uri_limits: UriLimits { max_depth: 0, max_tot_len: 0, max_seg_len: 0 },
    };
    let mut tree = Tree::open(MemStore::new(), standard_config()).map_err(|e| anyhow!("opening a tree: {e}"))?;
    install(&mut tree, &description).map_err(|e| anyhow!("installing the standard objects: {e}"))?;
    let dev_id_uri = Uri::parse("./DevInfo/DevId").map_err(|e| anyhow!("{e}"))?;
    for device in &mut share {
        if Instant::now() >= deadline {
            break;
        }
        // Re-target the worker's tree at this device: its DevId and its account (with nonces).
        let mut tx = tree.begin();
        tx.put_node(&dev_id_uri, NodeRecord::leaf(Format::Chr, "text/plain", device.dev_id.as_bytes().to_vec()))?;
        tx.commit()?;
        device.account.install(&mut tree, "omadm")?;
        let started = Instant::now();
        let (messages, result) = one_session(&shared, &mut tree, device, &url, &mut recorder).await;
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
        if let Ok(account) = Account::load(&mut tree, "omadm") {
            device.account.client.nonce = account.client.nonce;
            if let (Some(mine), Some(theirs)) = (device.account.server.as_mut(), account.server) {
                mine.nonce = theirs.nonce;
            }
        }
    }
    Ok((share, recorder))
}

/// Runs one session, timing each round trip; returns the messages sent and, on failure, a short
/// stable label of the kind of error.
async fn one_session(
    shared: &Shared,
    tree: &mut Tree<MemStore>,
    device: &SimDevice,
    url: &str,
    recorder: &mut Recorder,
) -> (u64, Result<(), String>) {
    let mut cfg = SessionConfig::new(device.dev_id.clone(), device.account.clone());
    cfg.encoding = shared.encoding;
    cfg.account.server_uri = url.to_string();
    let (mut session, mut out) = match Session::start(cfg, tree) {
        Ok(started) => started,
        Err(e) => return (0, Err(format!("client: {e}"))),
    };
    let mut ui = NoUi;
    let mut messages = 0u64;
    loop {
        let sent = Instant::now();
        messages += 1;
        let reply = match shared.http.post(&out).await {
            Ok(reply) => reply,
            Err(e) => return (messages, Err(transport_kind(&e.to_string()))),
        };
        recorder.round_trip(2 * messages as u32 - 1, sent.elapsed());
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
