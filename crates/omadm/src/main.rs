//! `omadm`: the OMA DM 1.3 command line (inspector, client, server and tools).

mod allocator;
mod client_cmd;
mod ddf;
mod inspect;
mod loadgen;
mod notify;
mod ops_cmd;
mod server_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc rather than the system allocator (see [`allocator`] for why, and why this way).
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

/// OMA Device Management 1.3: client, server and tools.
#[derive(Parser)]
#[command(name = "omadm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a SyncML DM message (XML, WBXML, hex or base64) and print it as XML or JSON.
    Decode(inspect::DecodeArgs),
    /// Encode a SyncML DM message (any input form) as WBXML or XML.
    Encode(inspect::EncodeArgs),
    /// DDF tools: check a DDF document.
    Ddf(ddf::DdfArgs),
    /// Package #0 tools: build a notification, or parse one and check its digest.
    Notify(notify::NotifyArgs),
    /// Run a DM device (client): one session with --once, or polling; from a TOML profile and/or flags.
    Client(Box<client_cmd::ClientArgs>),
    /// Run the DM server (SQLite ./omadm.db on 127.0.0.1:8080 by default).
    Server(server_cmd::ServerArgs),
    /// Devices registered on a running server (through its REST API).
    Devices(ops_cmd::DevicesArgs),
    /// Jobs of management commands on a running server (through its REST API).
    Jobs(ops_cmd::JobsArgs),
    /// Load generator: many simulated devices running authenticated sessions against a server.
    Loadgen(loadgen::LoadgenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => inspect::decode(args),
        Command::Encode(args) => inspect::encode(args),
        Command::Ddf(args) => ddf::run(args),
        Command::Notify(args) => notify::run(args),
        Command::Client(args) => client_cmd::run(*args),
        Command::Server(args) => server_cmd::run(args),
        Command::Devices(args) => ops_cmd::devices(args),
        Command::Jobs(args) => ops_cmd::jobs(args),
        Command::Loadgen(args) => loadgen::run(args),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not a failure of ours.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("omadm: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
