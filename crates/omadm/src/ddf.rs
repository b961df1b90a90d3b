//! `omadm ddf`: tools for DDF documents (DM TND 1.2 §8): check one, print the ones we ship.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use omadm_proto::{wbxml, xml, Encoding, Limits};
use omadm_tree::{Ddf, Severity};

/// Arguments of `omadm ddf`.
#[derive(Args)]
pub struct DdfArgs {
    #[command(subcommand)]
    command: DdfCommand,
}

#[derive(Subcommand)]
enum DdfCommand {
    /// Parse a DDF (XML or WBXML), print its node count and every problem found; exits non-zero
    /// when the document does not parse or has errors.
    Check {
        /// The DDF file.
        file: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
}

/// Runs `omadm ddf`.
pub fn run(args: DdfArgs) -> Result<ExitCode> {
    match args.command {
        DdfCommand::Check { file, strict } => check(&file, strict),
    }
}

fn check(file: &PathBuf, strict: bool) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let limits = Limits::default();
    let element = match Encoding::sniff(&bytes) {
        Some(Encoding::Wbxml) => wbxml::decode_document(&bytes, &limits),
        Some(Encoding::Xml) => xml::parse_element(&bytes, &limits),
        None => bail!("{}: neither XML nor WBXML", file.display()),
    }
    .with_context(|| format!("decoding {}", file.display()))?;
    let ddf = Ddf::from_element(&element).with_context(|| format!("{} is not a DDF", file.display()))?;
    let issues = ddf.check();
    let errors = issues.iter().filter(|i| i.severity == Severity::Error || strict).count();
    let warnings = issues.len() - issues.iter().filter(|i| i.severity == Severity::Error).count();
    println!("{}: {} nodes, {} errors, {} warnings", file.display(), ddf.node_count(), errors, warnings);
    for issue in &issues {
        println!("  {issue}");
    }
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
