//! `omadm server`: the DM server (issue 6). Settings come from flags, then `OMADM_*` environment
//! variables, then the TOML file given with `--config`, then the defaults (SQLite `./omadm.db`,
//! `127.0.0.1:8080`, `/dm`, plain HTTP).

use anyhow::{bail, Context, Result};
use clap::Args;
use omadm_server::engine::Enrolment;
use omadm_server::http::{random_token, start, Settings};
use omadm_server::model::AuthKind;
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `omadm server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// TOML configuration file (keys as the flags, with `_`, plus public_url, server_id,
    /// session_timeout_secs, max_message_size, max_object_size, tls_self_signed, tls_client_ca,
    /// enrol_auth, enrol_secret).
    #[arg(long, env = "OMADM_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "OMADM_LISTEN")]
    listen: Option<String>,
    /// Database: sqlite://PATH or postgres://... [default: sqlite://omadm.db].
    #[arg(long, env = "OMADM_DB")]
    db: Option<String>,
    /// Path of the DM endpoint [default: /dm].
    #[arg(long, env = "OMADM_DM_PATH")]
    dm_path: Option<String>,
    /// Bearer token of the REST API [default: generated and printed].
    #[arg(long, env = "OMADM_API_TOKEN")]
    api_token: Option<String>,
    /// TLS certificate chain (PEM); serves HTTPS with --tls-key.
    #[arg(long, env = "OMADM_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "OMADM_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// The TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    db: Option<String>,
    dm_path: Option<String>,
    api_token: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate (development).
    tls_self_signed: Option<bool>,
    /// CA bundle (PEM): clients must present a certificate it issued.
    tls_client_ca: Option<PathBuf>,
    /// The DM URL devices use, when a proxy is in front.
    public_url: Option<String>,
    server_id: Option<String>,
    session_timeout_secs: Option<u32>,
    max_message_size: Option<usize>,
    /// Largest object taken from a device in chunks, in bytes (our MaxObjSize).
    max_object_size: Option<u64>,
    /// Enrolment on first contact: the scheme and shared secret unknown devices authenticate with.
    enrol_auth: Option<String>,
    enrol_secret: Option<String>,
}

fn env_flag(name: &str) -> Option<bool> {
    std::env::var(name).ok().map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

/// Runs the server until interrupted.
pub fn run(args: ServerArgs) -> Result<ExitCode> {
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let generated_token = args.api_token.is_none() && file.api_token.is_none();
    let mut settings = Settings::new(args.api_token.or(file.api_token).unwrap_or_else(random_token));
    if let Some(v) = args.listen.or(file.listen) {
        settings.listen = v;
    }
    if let Some(v) = args.db.or(file.db) {
        settings.db_url = v;
    }
    if let Some(v) = args.dm_path.or(file.dm_path) {
        settings.dm_path = v;
    }
    settings.public_url = std::env::var("OMADM_PUBLIC_URL").ok().or(file.public_url);
    if let Some(v) = std::env::var("OMADM_SERVER_ID").ok().or(file.server_id) {
        settings.server_id = v;
    }
    if let Some(secs) = file.session_timeout_secs {
        settings.session_timeout_ms = i64::from(secs) * 1000;
    }
    if let Some(max) = file.max_message_size {
        settings.max_message_size = max;
    }
    if let Some(max) = file.max_object_size {
        settings.max_object_size = max;
    }
    let client_ca = match std::env::var_os("OMADM_TLS_CLIENT_CA").map(PathBuf::from).or(file.tls_client_ca) {
        Some(path) => Some(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?),
        None => None,
    };
    let cert = args.tls_cert.or(file.tls_cert);
    let key = args.tls_key.or(file.tls_key);
    settings.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((omadm_server::tls::load(&cert, &key)?, client_ca)),
        (None, None) if env_flag("OMADM_TLS_SELF_SIGNED").or(file.tls_self_signed).unwrap_or(false) => {
            let host = settings.listen.rsplit_once(':').map_or("localhost", |(h, _)| h).to_string();
            Some((omadm_server::tls::self_signed(&[host, "localhost".into()])?, client_ca))
        }
        (None, None) => None,
        _ => bail!("give both tls_cert and tls_key"),
    };
    let enrol_secret = std::env::var("OMADM_ENROL_SECRET").ok().or(file.enrol_secret);
    if let Some(secret) = enrol_secret {
        let auth = std::env::var("OMADM_ENROL_AUTH").ok().or(file.enrol_auth).unwrap_or_else(|| "md5".into());
        let kind = AuthKind::parse(&auth).with_context(|| format!("unknown enrol_auth `{auth}`"))?;
        settings.enrolment = Some(Enrolment { kind, secret });
    }

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let token = settings.api_token.clone();
        let db = settings.db_url.clone();
        let running = start(settings).await?;
        println!("omadm server listening on {}", running.local_addr);
        println!("  database:     {db}");
        println!("  DM endpoint:  {}", running.dm_url);
        println!("  REST API:     {}/api", running.api_url);
        if generated_token {
            println!("  API token:    {token}   (generated; set --api-token or OMADM_API_TOKEN to keep one)");
        }
        println!("  API docs:     {}{}", running.api_url, omadm_server::api::DOCS_PATH);
        println!("  OpenAPI:      {}{}", running.api_url, omadm_server::api::OPENAPI_PATH);
        use std::io::Write as _;
        std::io::stdout().flush().ok();
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
        running.stop().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
