//! `omadm client`: a DM device (issue 5). It runs from a TOML profile (DevInfo/DevDetail values,
//! tree store, accounts or a bootstrap file, UI mode), with flags that override the profile for
//! quick simulators. `--once` runs one session and exits 0 only when it completed; otherwise the
//! device polls its server every `--poll` seconds. The log shows each package, command and status.

mod async_exec;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use omadm_client::account::{Account, AuthConfig};
use omadm_client::bootstrap::{install_plain, install_wap};
use omadm_client::http::{run_session, HttpConfig, HttpTransport};
use omadm_client::snapshot_store::SnapshotStore;
use omadm_client::ui::NoUi;
use omadm_client::{
    GenericAlert, NotificationHandler, Outcome, ScriptedUi, Session, SessionConfig, TerminalUi, Trigger,
    UserInteraction,
};
use omadm_proto::{Encoding, Format, StatusCode, VerProto};
use omadm_security::{AuthScheme, Dm13Profile, HashAlgorithm, NotificationLayout};
use omadm_tree::objects::{install, standard_config, DeviceDescription};
use omadm_tree::{
    Acl, ExecHandler, MemStore, NodeRecord, RedbStore, ServerId, Store, Tree, TreeResult, Uri, UriLimits,
};
use serde::Deserialize;

use async_exec::{completions_path, given_alert, Completions, DEFAULT_ALERT_TYPE};

/// The default server URL (shared with `omadm server`'s default listen address and DM path).
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080/dm";
/// The default ServerID.
const DEFAULT_SERVER_ID: &str = "omadm";
/// The default DevId of a simulator started without one.
const DEFAULT_DEV_ID: &str = "IMEI:000000000000001";

/// An authentication scheme on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthArg {
    /// No authentication (server direction only).
    None,
    /// `syncml:auth-basic`.
    Basic,
    /// `syncml:auth-md5`.
    Md5,
    /// `syncml:auth-MAC` (x-syncml-hmac header, MD5).
    Hmac,
    /// `syncml:auth-MAC` with SHA-256 as the HMAC hash (DMAcc `HMAC-SHA256`).
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// The SHA-256 digest (`syncml:auth-SHA256`).
    Sha256,
}

impl AuthArg {
    fn scheme(self) -> Option<AuthScheme> {
        match self {
            AuthArg::None => None,
            AuthArg::Basic => Some(AuthScheme::Basic),
            AuthArg::Md5 => Some(AuthScheme::Md5),
            AuthArg::Hmac | AuthArg::HmacSha256 => Some(AuthScheme::Mac),
            AuthArg::Sha256 => Some(AuthScheme::Sha256),
        }
    }

    /// The HMAC hash: SHA-256 for `hmac-sha256`, else MD5.
    fn hmac_algorithm(self) -> HashAlgorithm {
        match self {
            AuthArg::HmacSha256 => HashAlgorithm::Sha256,
            _ => HashAlgorithm::Md5,
        }
    }
}

/// How UI alerts are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UiArg {
    /// No UI: alerts are answered 406.
    None,
    /// Ask on this terminal.
    Terminal,
    /// Answer from `--ui-script` (one answer per line: ok, yes, no, cancel, timeout, text:..., choose:1,2).
    Scripted,
}

/// Arguments of `omadm client`.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// TOML profile: dev_id, store, ui, ui_script, wbxml, ca, client_cert, client_key, bootstrap,
    /// poll_secs, [device] values, [[account]]s, [[node]]s, [[exec]]s.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Run one session and exit: 0 when it completed, non-zero otherwise.
    #[arg(long)]
    once: bool,
    /// The server URL (default http://127.0.0.1:8080/dm).
    #[arg(long)]
    server: Option<String>,
    /// The device id (./DevInfo/DevId), e.g. IMEI:493005100592800.
    #[arg(long)]
    dev_id: Option<String>,
    /// The server's ServerID (default omadm).
    #[arg(long)]
    server_id: Option<String>,
    /// How the client authenticates (default md5; hmac-sha256 = HMAC with SHA-256).
    #[arg(long, value_enum)]
    client_auth: Option<AuthArg>,
    /// The client user name (default: the DevId).
    #[arg(long)]
    client_user: Option<String>,
    /// The client secret.
    #[arg(long)]
    client_secret: Option<String>,
    /// How the server must authenticate (default none).
    #[arg(long, value_enum)]
    server_auth: Option<AuthArg>,
    /// The server's user name (default: the ServerID).
    #[arg(long)]
    server_user: Option<String>,
    /// The server's secret.
    #[arg(long)]
    server_secret: Option<String>,
    /// Send WBXML instead of XML (replies are accepted in either).
    #[arg(long)]
    wbxml: bool,
    /// Keep the management tree in this file: a `.snap` file is a snapshot (small devices), any
    /// other name a redb database; without it the tree lives in memory.
    #[arg(long)]
    store: Option<PathBuf>,
    /// A Package #0 to act on: hex text, or a file holding it (binary or hex).
    #[arg(long)]
    notification: Option<String>,
    /// Install accounts from a bootstrap file first (plain-profile TNDS or WAP-profile w7).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// How UI alerts are answered (default none).
    #[arg(long, value_enum)]
    ui: Option<UiArg>,
    /// The answers of `--ui scripted`, one per line.
    #[arg(long)]
    ui_script: Option<PathBuf>,
    /// CA certificates (PEM) the server's certificate must chain to.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// A client certificate (PEM) for TLS client authentication.
    #[arg(long, requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Speak DM 1.3 (VerProto DM/1.3; 1.3 behaviour only if the server answers 1.3 too).
    #[arg(long)]
    dm13: bool,
    /// Seconds between sessions when not --once (default 3600).
    #[arg(long)]
    poll: Option<u64>,
    /// Seconds allowed for each HTTP exchange (default 30).
    #[arg(long)]
    timeout: Option<u64>,
    /// Largest message the client accepts, announced as MaxMsgSize (default 16384).
    #[arg(long)]
    max_msg_size: Option<u64>,
    /// Report a generic alert (1226) in the next session's Package 1: `TYPE=DATA`, or
    /// `TYPE@SOURCE=DATA` to name the MO it is about (e.g.
    /// `org.openmobilealliance.dm.firmwareupdate.devicerequest@./FUMO=ready`). Repeatable. It is
    /// sent again each session until the server answers it with a 2xx Status; with `--store` it
    /// waits in `<store>.pending-alerts.json` across runs (a report identical to one waiting
    /// there is not added twice).
    #[arg(long = "generic-alert", value_name = "TYPE[@SOURCE]=DATA", value_parser = parse_generic_alert)]
    generic_alerts: Vec<GenericAlert>,
    /// Show every command and status (debug log).
    #[arg(short, long)]
    verbose: bool,
}

/// The TOML profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    dev_id: Option<String>,
    store: Option<PathBuf>,
    ui: Option<UiArg>,
    ui_script: Option<PathBuf>,
    wbxml: Option<bool>,
    dm13: Option<bool>,
    ca: Option<PathBuf>,
    /// A client certificate (PEM) for TLS client authentication, with `client_key`.
    client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    client_key: Option<PathBuf>,
    bootstrap: Option<PathBuf>,
    poll_secs: Option<u64>,
    #[serde(default)]
    device: DeviceProfile,
    #[serde(default)]
    account: Vec<AccountProfile>,
    #[serde(default)]
    node: Vec<NodeProfile>,
    #[serde(default)]
    exec: Vec<ExecProfile>,
}

/// One `[[node]]`: a stored node the device keeps beside the standard objects (created at start
/// when missing, with its interior parents), e.g. a vendor setting a server may read or change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeProfile {
    uri: String,
    #[serde(default)]
    value: String,
    /// DM format of the value (`chr` by default; `node` makes an interior node).
    format: Option<String>,
    /// The node's ACL (e.g. `Get=*&Replace=*`); without one it inherits its parent's.
    acl: Option<String>,
}

/// One `[[exec]]`: what Exec on a node does. The node must exist (standard or `[[node]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecProfile {
    uri: String,
    /// The program and its arguments, run with the Exec data on standard input: exit 0 answers
    /// 200, anything else 500. Without one the Exec only logs and answers 200.
    #[serde(default)]
    command: Vec<String>,
    /// Answer 202 at once and report the program's outcome later, in a generic alert (1226) with
    /// the Exec's Correlator and the result (200 or 500) as data, in the next session.
    #[serde(default, rename = "async")]
    asynchronous: bool,
    /// The Meta Type of that 1226 (default `org.omadm.client.exec.result`).
    alert_type: Option<String>,
}

/// DevInfo/DevDetail values (the profile's `[device]`; the load generator's simulated devices too).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DeviceProfile {
    man: String,
    pub(crate) model: String,
    lang: String,
    dev_type: String,
    oem: String,
    fw_version: String,
    sw_version: String,
    hw_version: String,
    max_depth: usize,
    max_tot_len: usize,
    max_seg_len: usize,
}

impl Default for DeviceProfile {
    fn default() -> Self {
        DeviceProfile {
            man: "omadm".into(),
            model: "omadm-client".into(),
            lang: "en-US".into(),
            dev_type: "simulator".into(),
            oem: "omadm".into(),
            fw_version: env!("CARGO_PKG_VERSION").into(),
            sw_version: env!("CARGO_PKG_VERSION").into(),
            hw_version: "1.0".into(),
            max_depth: 0,
            max_tot_len: 0,
            max_seg_len: 0,
        }
    }
}

impl DeviceProfile {
    /// The standard objects' values for device `dev_id` speaking DM `dm_version` ("1.2", "1.3").
    pub(crate) fn description(&self, dev_id: &str, dm_version: &str) -> DeviceDescription {
        DeviceDescription {
            dev_id: dev_id.to_string(),
            man: self.man.clone(),
            model: self.model.clone(),
            dm_version: dm_version.to_string(),
            lang: self.lang.clone(),
            dev_type: self.dev_type.clone(),
            oem: self.oem.clone(),
            fw_version: self.fw_version.clone(),
            sw_version: self.sw_version.clone(),
            hw_version: self.hw_version.clone(),
            large_objects: true,
            uri_limits: UriLimits {
                max_depth: self.max_depth,
                max_tot_len: self.max_tot_len,
                max_seg_len: self.max_seg_len,
            },
        }
    }
}

/// One `[[account]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountProfile {
    server_id: Option<String>,
    server_url: Option<String>,
    client_auth: Option<AuthArg>,
    client_user: Option<String>,
    client_secret: Option<String>,
    server_auth: Option<AuthArg>,
    server_user: Option<String>,
    server_secret: Option<String>,
}

/// Everything a run needs, profile and flags merged.
struct Settings {
    dev_id: String,
    store: Option<PathBuf>,
    device: DeviceProfile,
    ui: UiArg,
    ui_script: Option<PathBuf>,
    encoding: Encoding,
    dm13: bool,
    bootstrap: Option<PathBuf>,
    poll: Duration,
    http: HttpConfig,
    max_msg_size: u64,
    server_id: String,
    /// Account values given on the command line or in the profile (installed over the stored one).
    account: Option<AccountProfile>,
    nodes: Vec<NodeProfile>,
    execs: Vec<ExecProfile>,
    generic_alerts: Vec<GenericAlert>,
}

fn settings(args: &ClientArgs) -> Result<Settings> {
    let profile: Profile = match &args.profile {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading the profile {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing the profile {}", p.display()))?
        }
        None => Profile::default(),
    };
    let mut account = profile.account.into_iter().next();
    let (node, exec) = (profile.node, profile.exec);
    let profile = Profile { node: Vec::new(), exec: Vec::new(), account: Vec::new(), ..profile };
    let flags_give_account = args.server.is_some()
        || args.client_auth.is_some()
        || args.client_user.is_some()
        || args.client_secret.is_some()
        || args.server_auth.is_some()
        || args.server_user.is_some()
        || args.server_secret.is_some();
    if flags_give_account || account.is_some() {
        let base = account.take().unwrap_or(AccountProfile {
            server_id: None,
            server_url: None,
            client_auth: None,
            client_user: None,
            client_secret: None,
            server_auth: None,
            server_user: None,
            server_secret: None,
        });
        account = Some(AccountProfile {
            server_id: args.server_id.clone().or(base.server_id),
            server_url: args.server.clone().or(base.server_url),
            client_auth: args.client_auth.or(base.client_auth),
            client_user: args.client_user.clone().or(base.client_user),
            client_secret: args.client_secret.clone().or(base.client_secret),
            server_auth: args.server_auth.or(base.server_auth),
            server_user: args.server_user.clone().or(base.server_user),
            server_secret: args.server_secret.clone().or(base.server_secret),
        });
    }
    let server_id = args
        .server_id
        .clone()
        .or_else(|| account.as_ref().and_then(|a| a.server_id.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER_ID.into());
    let mut http = HttpConfig { ca_file: args.ca.clone().or(profile.ca), ..HttpConfig::default() };
    http.client_cert = match (args.client_cert.clone(), args.client_key.clone()) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => match (profile.client_cert, profile.client_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("the profile needs both client_cert and client_key (or neither)"),
        },
    };
    if let Some(t) = args.timeout {
        http.timeout = Duration::from_secs(t.max(1));
    }
    Ok(Settings {
        dev_id: args.dev_id.clone().or(profile.dev_id).unwrap_or_else(|| DEFAULT_DEV_ID.into()),
        store: args.store.clone().or(profile.store),
        device: profile.device,
        ui: args.ui.or(profile.ui).unwrap_or(UiArg::None),
        ui_script: args.ui_script.clone().or(profile.ui_script),
        encoding: if args.wbxml || profile.wbxml.unwrap_or(false) { Encoding::Wbxml } else { Encoding::Xml },
        dm13: args.dm13 || profile.dm13.unwrap_or(false),
        bootstrap: args.bootstrap.clone().or(profile.bootstrap),
        poll: Duration::from_secs(args.poll.or(profile.poll_secs).unwrap_or(3600).max(1)),
        http,
        max_msg_size: args.max_msg_size.unwrap_or(16 * 1024),
        server_id,
        account,
        nodes: node,
        execs: exec,
        generic_alerts: args.generic_alerts.clone(),
    })
}

/// Runs `omadm client`.
pub fn run(args: ClientArgs) -> Result<ExitCode> {
    let level = if args.verbose { "debug" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let settings = settings(&args)?;
    match &settings.store {
        Some(path) if path.extension().is_some_and(|e| e == "snap") => {
            let store =
                SnapshotStore::open(path).with_context(|| format!("opening the tree snapshot {}", path.display()))?;
            device_main(&args, &settings, store)
        }
        Some(path) => {
            let store = RedbStore::open(path).with_context(|| format!("opening the tree store {}", path.display()))?;
            device_main(&args, &settings, store)
        }
        None => device_main(&args, &settings, MemStore::new()),
    }
}

fn device_main<S: Store>(args: &ClientArgs, settings: &Settings, store: S) -> Result<ExitCode> {
    let mut tree = Tree::open(store, standard_config()).context("opening the management tree")?;
    let description = settings.device.description(&settings.dev_id, if settings.dm13 { "1.3" } else { "1.2" });
    install(&mut tree, &description).context("installing DevInfo, DevDetail, DMAcc and Inbox")?;
    install_profile_nodes(&mut tree, &settings.nodes)?;
    let completions = Completions::open(settings.store.as_deref().map(completions_path))?;
    for e in &settings.execs {
        let uri = Uri::parse(&e.uri).map_err(|err| anyhow!("[[exec]] uri `{}`: {err}", e.uri))?;
        let completion = e.asynchronous.then(|| AsyncCompletion {
            list: completions.clone(),
            alert_type: e.alert_type.clone().unwrap_or_else(|| DEFAULT_ALERT_TYPE.into()),
        });
        tree.set_exec_handler(
            uri,
            Box::new(CommandExec { uri: e.uri.clone(), command: e.command.clone(), completion }),
        );
    }
    for alert in &settings.generic_alerts {
        completions.keep(alert)?;
    }
    if let Some(path) = &settings.bootstrap {
        let bytes = std::fs::read(path).with_context(|| format!("reading the bootstrap file {}", path.display()))?;
        let accounts =
            if is_wap_profile(&bytes) { install_wap(&mut tree, &bytes) } else { install_plain(&mut tree, &bytes) }
                .with_context(|| format!("bootstrapping from {}", path.display()))?;
        for a in &accounts {
            eprintln!("omadm client: bootstrapped account {} ({})", a.server_id, a.server_uri);
        }
    }
    let mut ui: Box<dyn UserInteraction + Send> = match settings.ui {
        UiArg::None => Box::new(NoUi),
        UiArg::Terminal => Box::new(TerminalUi::stdio()),
        UiArg::Scripted => {
            let path = settings.ui_script.as_ref().ok_or_else(|| anyhow!("--ui scripted needs --ui-script FILE"))?;
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Box::new(ScriptedUi::parse(&text))
        }
    };
    let http = HttpTransport::new(settings.http.clone()).context("setting up HTTP(S)")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;

    let mut notification = match &args.notification {
        Some(n) => Some(read_notification(n)?),
        None => None,
    };
    let mut handler = NotificationHandler::new(Dm13Profile::default());
    // Accounts given in the profile or on the command line are installed first, so that a
    // notification from their server can be verified.
    if settings.account.is_some() {
        account_for(&mut tree, settings)?;
    }
    loop {
        let (account, trigger) = match notification.take() {
            Some(bytes) => {
                let accepted = handler
                    .accept(&mut tree, &bytes, NotificationLayout::Either, ui.as_mut())
                    .context("the notification was refused")?;
                (accepted.account, accepted.trigger)
            }
            None => (stored_account(&mut tree, settings)?, Trigger::ClientInitiated),
        };
        let (result, delivered) = runtime.block_on(one_session(
            &mut tree,
            settings,
            account,
            trigger,
            completions.ready(),
            ui.as_mut(),
            &http,
        ));
        completions.forget_delivered(&delivered)?;
        if args.once && completions.running() > 0 {
            eprintln!("omadm client: waiting for {} asynchronous Exec action(s) to end", completions.running());
            completions.wait_idle();
        }
        match (&result, args.once) {
            (Ok(Outcome::Completed), true) => {
                eprintln!("omadm client: session completed");
                return Ok(ExitCode::SUCCESS);
            }
            (Ok(outcome), true) => bail!("the session did not complete: {}", describe(outcome)),
            (Err(e), true) => return Err(anyhow!("the session failed: {e:#}")),
            (Ok(outcome), false) => tracing::info!("session over: {}", describe(outcome)),
            (Err(e), false) => tracing::warn!("session failed: {e:#}"),
        }
        std::thread::sleep(settings.poll);
    }
}

fn describe(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Completed => "completed",
        Outcome::AbortedByServer => "the server aborted it (1223)",
        Outcome::AbortedByClient => "the client aborted it (1223)",
        Outcome::ServerNotAuthenticated => "the server failed to authenticate itself",
    }
}

/// Runs one session; returns how it ended and the generic alerts the server acknowledged in it
/// (also when it failed later).
async fn one_session<S: Store>(
    tree: &mut Tree<S>,
    settings: &Settings,
    account: Account,
    trigger: Trigger,
    alerts: Vec<GenericAlert>,
    ui: &mut (dyn UserInteraction + Send),
    http: &HttpTransport,
) -> (Result<Outcome>, Vec<GenericAlert>) {
    let mut cfg = SessionConfig::new(settings.dev_id.clone(), account);
    cfg.trigger = trigger;
    cfg.alerts = alerts;
    cfg.encoding = settings.encoding;
    cfg.max_msg_size = settings.max_msg_size;
    if settings.dm13 {
        cfg.protocol = VerProto::Dm1_3;
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs());
    cfg.session_id = format!("{:X}", secs % 0xFFFF + 1);
    let (mut session, first) = match Session::start(cfg, tree) {
        Ok(started) => started,
        Err(e) => return (Err(e.into()), Vec::new()),
    };
    let outcome = run_session(&mut session, first, tree, ui, http).await.map_err(anyhow::Error::from);
    (outcome, session.delivered_alerts().to_vec())
}

/// The stored account of the configured ServerID.
fn stored_account<S: Store>(tree: &mut Tree<S>, settings: &Settings) -> Result<Account> {
    Account::load(tree, &settings.server_id).map_err(|e| {
        anyhow!(
            "{e}: give --client-secret (and --server), a profile [[account]], or --bootstrap for ServerID {:?}",
            settings.server_id
        )
    })
}

/// Installs the account given by profile/flag values over the stored one (keeping its nonces
/// when the credentials are unchanged) and returns it.
fn account_for<S: Store>(tree: &mut Tree<S>, settings: &Settings) -> Result<Account> {
    let stored = Account::load(tree, &settings.server_id).ok();
    let Some(given) = &settings.account else {
        return stored_account(tree, settings);
    };
    let client_scheme = match given.client_auth {
        Some(a) => {
            a.scheme().ok_or_else(|| anyhow!("--client-auth none is not allowed: the client always authenticates"))?
        }
        None => stored.as_ref().map_or(AuthScheme::Md5, |a| a.client.scheme.clone()),
    };
    let client_secret = given
        .client_secret
        .clone()
        .or_else(|| {
            stored.as_ref().map(|a| String::from_utf8_lossy(a.client.credentials.secret.as_bytes()).into_owned())
        })
        .ok_or_else(|| anyhow!("no client secret: pass --client-secret"))?;
    let client_user = given.client_user.clone().unwrap_or_else(|| settings.dev_id.clone());
    let hmac_algorithm = match given.client_auth {
        Some(a) => a.hmac_algorithm(),
        None => stored.as_ref().map_or(HashAlgorithm::Md5, |a| a.client.hmac_algorithm),
    };
    let mut client = AuthConfig::new(client_scheme, client_user, &client_secret).with_hmac_algorithm(hmac_algorithm);
    let server_auth = given.server_auth.unwrap_or(AuthArg::None);
    let server = match server_auth.scheme() {
        None => None,
        Some(scheme) => {
            let secret = given.server_secret.clone().ok_or_else(|| anyhow!("--server-auth needs --server-secret"))?;
            let user = given.server_user.clone().unwrap_or_else(|| settings.server_id.clone());
            Some(AuthConfig::new(scheme, user, &secret).with_hmac_algorithm(server_auth.hmac_algorithm()))
        }
    };
    let mut server = server;
    // Keep the nonces of the stored account when the credentials are the same.
    if let Some(old) = &stored {
        if old.client.credentials == client.credentials && old.client.scheme == client.scheme {
            client.nonce = old.client.nonce.clone();
        }
        if let (Some(new), Some(old)) = (server.as_mut(), old.server.as_ref()) {
            if new.credentials == old.credentials {
                new.nonce = old.nonce.clone();
            }
        }
    }
    let mut account = Account {
        server_id: ServerId::new(settings.server_id.clone()).map_err(|e| anyhow!("--server-id: {e}"))?,
        server_uri: given
            .server_url
            .clone()
            .or_else(|| stored.as_ref().map(|a| a.server_uri.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.into()),
        client,
        server,
        node: None,
    };
    let node = stored
        .and_then(|a| a.node)
        .and_then(|n| n.name().map(str::to_string))
        .unwrap_or_else(|| node_name(&settings.server_id));
    account.install(tree, &node)?;
    Ok(account)
}

/// A DMAcc node name for a ServerID.
fn node_name(server_id: &str) -> String {
    let n: String = server_id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
    if n.is_empty() {
        "acc".into()
    } else {
        n
    }
}

/// A WAP-profile document: XML with a `wap-provisioningdoc` root, or WBXML with the PROV public id.
fn is_wap_profile(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    String::from_utf8_lossy(head).contains("wap-provisioningdoc")
        || (bytes.len() > 2 && bytes[0] <= 3 && bytes[1] == 0x0B)
}

/// A Package #0 from hex text or a file (binary or hex).
fn read_notification(arg: &str) -> Result<Vec<u8>> {
    let path = Path::new(arg);
    let raw = if path.exists() {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
    } else {
        arg.as_bytes().to_vec()
    };
    let text = String::from_utf8_lossy(&raw);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.is_empty() && compact.len() % 2 == 0 && compact.chars().all(|c| c.is_ascii_hexdigit()) {
        return (0..compact.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&compact[i..i + 2], 16).map_err(|e| anyhow!("bad hex: {e}")))
            .collect();
    }
    if path.exists() {
        return Ok(raw);
    }
    bail!("--notification {arg:?} is neither a file nor hex")
}

/// Parses `--generic-alert TYPE[@SOURCE]=DATA` into a 1226 (chr data, informational).
fn parse_generic_alert(text: &str) -> Result<GenericAlert, String> {
    let (head, data) = text.split_once('=').ok_or("expected TYPE[@SOURCE]=DATA")?;
    let (meta_type, source) = match head.split_once('@') {
        Some((t, src)) => (t, Some(src)),
        None => (head, None),
    };
    if meta_type.is_empty() {
        return Err("the alert TYPE is empty".into());
    }
    Ok(given_alert(meta_type, source, data))
}

/// Creates the profile's `[[node]]`s that do not exist yet (one transaction; a node that exists
/// keeps its value, which may have been changed by a server).
fn install_profile_nodes<S: Store>(tree: &mut Tree<S>, nodes: &[NodeProfile]) -> Result<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let mut tx = tree.begin();
    for n in nodes {
        let uri = Uri::parse(&n.uri).map_err(|e| anyhow!("[[node]] uri `{}`: {e}", n.uri))?;
        if tx.node(&uri)?.is_some() {
            continue;
        }
        let format = Format::parse(n.format.as_deref().unwrap_or("chr"));
        let mut record = match format {
            Format::Node => NodeRecord::interior(""),
            f => NodeRecord::leaf(f, "text/plain", n.value.as_bytes().to_vec()),
        };
        if let Some(acl) = &n.acl {
            record.acl = Acl::parse(acl).map_err(|e| anyhow!("[[node]] {} acl `{acl}`: {e}", n.uri))?;
        }
        tx.put_node(&uri, record).with_context(|| format!("creating [[node]] {}", n.uri))?;
    }
    tx.commit().context("storing the profile's nodes")?;
    Ok(())
}

/// An `[[exec]]` action: runs the configured program (or only logs) when a server Execs the node.
struct CommandExec {
    uri: String,
    command: Vec<String>,
    /// Set for `async = true`: where the outcome is recorded for a later 1226.
    completion: Option<AsyncCompletion>,
}

/// Where an asynchronous action's outcome goes.
struct AsyncCompletion {
    list: Completions,
    alert_type: String,
}

/// The DM status of a finished program: 200 when it exited 0, else 500.
fn exit_code(uri: &str, status: std::io::Result<std::process::ExitStatus>) -> StatusCode {
    match status {
        Ok(status) if status.success() => StatusCode::Ok,
        Ok(status) => {
            tracing::warn!(%uri, %status, "the Exec command failed");
            StatusCode::CommandFailed
        }
        Err(e) => {
            tracing::warn!(%uri, error = %e, "the Exec command could not run");
            StatusCode::CommandFailed
        }
    }
}

impl CommandExec {
    /// Starts the program with the Exec data on its standard input.
    fn spawn(
        &self,
        program: &str,
        args: &[String],
        data: &[u8],
        correlator: Option<&str>,
    ) -> std::io::Result<std::process::Child> {
        let mut child = std::process::Command::new(program)
            .args(args)
            .env("OMADM_EXEC_URI", &self.uri)
            .env("OMADM_EXEC_CORRELATOR", correlator.unwrap_or(""))
            .stdin(std::process::Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            // a program that does not read its input is not an error
            let _ = stdin.write_all(data);
        }
        Ok(child)
    }
}

impl ExecHandler for CommandExec {
    fn exec(&mut self, _: &Uri, data: &[u8], correlator: Option<&str>) -> TreeResult<StatusCode> {
        tracing::info!(uri = %self.uri, correlator = correlator.unwrap_or(""), "Exec");
        let Some((program, args)) = self.command.split_first() else {
            return Ok(StatusCode::Ok);
        };
        let child = self.spawn(program, args, data, correlator);
        let Some(completion) = &self.completion else {
            return Ok(exit_code(&self.uri, child.and_then(|mut c| c.wait())));
        };
        let mut child = match child {
            Ok(child) => child,
            Err(e) => return Ok(exit_code(&self.uri, Err(e))),
        };
        let id = match completion.list.start(&self.uri, correlator, &completion.alert_type) {
            Ok(id) => id,
            Err(e) => {
                // Without a record the outcome could never be reported: run it to the end now.
                tracing::warn!(uri = %self.uri, "cannot record the asynchronous Exec ({e:#}): running it synchronously");
                return Ok(exit_code(&self.uri, child.wait()));
            }
        };
        let (list, uri) = (completion.list.clone(), self.uri.clone());
        std::thread::spawn(move || {
            let code = exit_code(&uri, child.wait());
            tracing::info!(%uri, code = code.code(), "asynchronous Exec ended: reported in the next session");
            if let Err(e) = list.finish(id, code) {
                tracing::warn!(%uri, "recording the end of an asynchronous Exec failed: {e:#}");
            }
        });
        Ok(StatusCode::AcceptedForProcessing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omadm_proto::AlertCode;

    #[test]
    fn generic_alert_flags_parse() {
        let a = parse_generic_alert("org.example.fw@./FUMO/x=ready=1").unwrap();
        assert_eq!(
            (a.code, a.meta_type.as_str(), a.source.as_deref(), a.data.as_str()),
            (AlertCode::GenericAlert, "org.example.fw", Some("./FUMO/x"), "ready=1")
        );
        assert_eq!(parse_generic_alert("t=").unwrap().source, None);
        assert!(parse_generic_alert("no-equals").is_err());
        assert!(parse_generic_alert("=data").is_err());
    }

    #[test]
    fn profile_nodes_are_created_once_and_kept() {
        let mut tree = Tree::open(MemStore::new(), standard_config()).unwrap();
        let node = |value: &str| NodeProfile {
            uri: "./Vendor/Setting".into(),
            value: value.into(),
            format: None,
            acl: Some("Get=*&Replace=*".into()),
        };
        install_profile_nodes(&mut tree, &[node("first")]).unwrap();
        install_profile_nodes(&mut tree, &[node("second")]).unwrap();
        let stored = tree.begin().node(&Uri::parse("./Vendor/Setting").unwrap()).unwrap().unwrap();
        assert_eq!(stored.value, b"first");
        let bad = NodeProfile { acl: Some("Get=".into()), ..node("x") };
        assert!(install_profile_nodes(&mut tree, &[NodeProfile { uri: "./Other".into(), ..bad }]).is_err());
    }
}
