//! `omadm devices` and `omadm jobs`: the operator's command line over the server's REST API.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use omadm_server::client::ApiClient;
use omadm_server::model::{AuthKind, Job, JobCommand, Operation};
use serde_json::{json, Value};
use std::process::ExitCode;

/// Where the API is and how to authenticate.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Base URL of the server's API (https trusts the PEM bundle in SSL_CERT_FILE, else the
    /// system's CA bundle).
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080", env = "OMADM_API")]
    api: String,
    /// Bearer token of the API.
    #[arg(long, global = true, env = "OMADM_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
}

/// `omadm devices ...`.
#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[command(subcommand)]
    command: DevicesCommand,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Subcommand, Debug)]
enum DevicesCommand {
    /// Provision a device.
    Add(AddDevice),
    /// List devices.
    List {
        /// Only devices whose DevId or DevInfo contains this text.
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one device.
    Show {
        /// Its DevId.
        dev_id: String,
    },
}

fn parse_auth(text: &str) -> Result<AuthKind, String> {
    AuthKind::parse(text).ok_or_else(|| format!("`{text}` is not one of basic, md5, hmac, sha256"))
}

#[derive(Args, Debug)]
struct AddDevice {
    /// The DevId (e.g. IMEI:490154203237518).
    #[arg(long)]
    dev_id: String,
    /// The ServerID used towards this device [default: the server's].
    #[arg(long)]
    server_id: Option<String>,
    /// How the device authenticates: basic, md5, hmac, sha256 [default: md5].
    #[arg(long, value_parser = parse_auth)]
    client_auth: Option<AuthKind>,
    /// The device's user name [default: its DevId].
    #[arg(long)]
    client_user: Option<String>,
    /// The device's secret [default: generated and printed].
    #[arg(long)]
    client_secret: Option<String>,
    /// How the server authenticates to the device [default: md5].
    #[arg(long, value_parser = parse_auth)]
    server_auth: Option<AuthKind>,
    /// The server's user name towards the device [default: the ServerID].
    #[arg(long)]
    server_user: Option<String>,
    /// The server's secret towards the device [default: none, the server sends no credentials].
    #[arg(long)]
    server_secret: Option<String>,
}

/// `omadm jobs ...`.
#[derive(Args, Debug)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: JobsCommand,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Subcommand, Debug)]
enum JobsCommand {
    /// Queue a job for a device; prints the job id.
    Create(CreateJob),
    /// Show a job: its state, every command's status code and every result value.
    Show {
        /// The job id.
        job: i64,
    },
}

#[derive(Args, Debug)]
struct CreateJob {
    /// The device.
    #[arg(long)]
    dev_id: String,
    /// Get this node (repeatable).
    #[arg(long = "get", value_name = "URI")]
    gets: Vec<String>,
    /// Replace a node's value (repeatable).
    #[arg(long = "replace", value_name = "URI=VALUE")]
    replaces: Vec<String>,
    /// Exec this node (repeatable).
    #[arg(long = "exec", value_name = "URI")]
    execs: Vec<String>,
    /// Put the commands in one Atomic (all or nothing; Get is not allowed inside).
    #[arg(long)]
    atomic: bool,
}

fn client(api: &ApiArgs) -> Result<ApiClient> {
    Ok(ApiClient::new(&api.api, api.api_token.clone())?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// Runs `omadm devices ...`.
pub fn devices(args: DevicesArgs) -> Result<ExitCode> {
    let api = client(&args.api)?;
    runtime()?.block_on(async move {
        match args.command {
            DevicesCommand::Add(a) => {
                let mut body = json!({ "dev_id": a.dev_id });
                let fields = [
                    ("server_id", a.server_id),
                    ("client_auth", a.client_auth.map(|k| k.as_str().to_string())),
                    ("client_user", a.client_user),
                    ("client_secret", a.client_secret),
                    ("server_auth", a.server_auth.map(|k| k.as_str().to_string())),
                    ("server_user", a.server_user),
                    ("server_secret", a.server_secret),
                ];
                for (name, value) in fields {
                    if let Some(v) = value {
                        body[name] = Value::String(v);
                    }
                }
                let device = api.call(hyper::Method::POST, "/api/devices", Some(&body)).await?;
                print_device(&device);
                if let Some(secret) = device["client_secret"].as_str() {
                    println!("client secret (generated, shown once): {secret}");
                }
            }
            DevicesCommand::List { search } => {
                let path = match search {
                    Some(s) => format!("/api/devices?limit=100000&search={}", encode_query(&s)),
                    None => "/api/devices?limit=100000".to_string(),
                };
                let list = api.call(hyper::Method::GET, &path, None).await?;
                for d in list["devices"].as_array().into_iter().flatten() {
                    println!(
                        "{}\t{}\t{}\t{}",
                        text(&d["dev_id"]),
                        text(&d["client_auth"]),
                        d["devinfo"]["Man"].as_str().unwrap_or("-"),
                        d["last_session_ms"]
                            .as_i64()
                            .map_or_else(|| "never".to_string(), |t| format!("last session {t}"))
                    );
                }
            }
            DevicesCommand::Show { dev_id } => {
                let device =
                    api.call(hyper::Method::GET, &format!("/api/devices/{}", encode_path(&dev_id)), None).await?;
                print_device(&device);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn print_device(d: &Value) {
    println!("dev_id:      {}", text(&d["dev_id"]));
    println!("server_id:   {}", text(&d["server_id"]));
    println!("client auth: {} as {}", text(&d["client_auth"]), text(&d["client_user"]));
    let server_secret = if d["server_secret_set"] == true { "" } else { " (no secret: sends no credentials)" };
    println!("server auth: {} as {}{server_secret}", text(&d["server_auth"]), text(&d["server_user"]));
    match d["last_session_ms"].as_i64() {
        Some(t) => println!("last session: {t} (Unix ms)"),
        None => println!("last session: never"),
    }
    for (k, v) in d["devinfo"].as_object().into_iter().flatten() {
        println!("DevInfo/{k}: {}", text(v));
    }
}

/// Percent-encodes a path segment (DevIds hold `:` and may hold `/`).
fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn encode_query(s: &str) -> String {
    encode_path(s)
}

/// The job's commands from the flags: Gets, then Replaces, then Execs, optionally in one Atomic.
fn job_commands(c: &CreateJob) -> Result<Vec<JobCommand>> {
    let mut commands: Vec<JobCommand> =
        c.gets.iter().map(|u| JobCommand::new(Operation::Get, Some(u.clone()))).collect();
    for r in &c.replaces {
        let (uri, value) = r.split_once('=').with_context(|| format!("--replace `{r}` is not URI=VALUE"))?;
        let mut cmd = JobCommand::new(Operation::Replace, Some(uri.to_string()));
        cmd.data = Some(value.to_string());
        commands.push(cmd);
    }
    commands.extend(c.execs.iter().map(|u| JobCommand::new(Operation::Exec, Some(u.clone()))));
    if commands.is_empty() {
        bail!("give at least one --get, --replace or --exec");
    }
    if c.atomic {
        if !c.gets.is_empty() {
            bail!("--atomic cannot hold --get: devices refuse a Get inside an Atomic (DM Protocol 1.2 §6.6.3)");
        }
        let mut atomic = JobCommand::new(Operation::Atomic, None);
        atomic.commands = commands;
        commands = vec![atomic];
    }
    Ok(commands)
}

/// Runs `omadm jobs ...`.
pub fn jobs(args: JobsArgs) -> Result<ExitCode> {
    let api = client(&args.api)?;
    runtime()?.block_on(async move {
        match args.command {
            JobsCommand::Create(c) => {
                let body = json!({ "dev_id": c.dev_id, "commands": job_commands(&c)? });
                let created = api.call(hyper::Method::POST, "/api/jobs", Some(&body)).await?;
                let id = created["jobs"][0]["id"].as_i64().context("the API returned no job id")?;
                println!("{id}");
            }
            JobsCommand::Show { job } => {
                let value = api.call(hyper::Method::GET, &format!("/api/jobs/{job}"), None).await?;
                let job: Job = serde_json::from_value(value).context("reading the job")?;
                println!("job {} on {}: {}", job.id, job.dev_id, job.state.as_str());
                for (i, c) in job.commands.iter().enumerate() {
                    print_command(c, &format!("{}", i + 1), 1);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_command(c: &JobCommand, number: &str, depth: usize) {
    let indent = "  ".repeat(depth);
    let what = match (&c.target, &c.alert) {
        (Some(t), _) => format!("{:?} {t}", c.op),
        (None, Some(a)) => format!("Alert {} \"{}\"", a.code, a.text),
        (None, None) => format!("{:?}", c.op),
    };
    let status = c.status.map_or_else(|| "pending".to_string(), |s| s.to_string());
    println!("{indent}{number}. {what}: {status}");
    for r in &c.results {
        println!("{indent}   {} = {}", r.uri, r.data);
    }
    for answer in &c.reply {
        println!("{indent}   reply: {answer}");
    }
    for (i, child) in c.commands.iter().enumerate() {
        print_command(child, &format!("{number}.{}", i + 1), depth + 1);
    }
}
