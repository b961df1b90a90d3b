//! Same-run comparison with libwbxml: our codecs and libwbxml's converters turn the same messages
//! WBXML → XML (libwbxml's `wbxml2xml`) and XML → WBXML with a string table (`xml2wbxml`).
//!
//! `cargo bench -p omadm-bench` prints one row per message and direction: the time per message and
//! throughput of each, and how many times faster ours is. A word after `--` keeps only rows whose
//! direction or message name contains it. Both sides are timed as whole calls, allocation and
//! freeing included, interleaved batch by batch so that drift affects both alike; each figure is
//! the median over the batches.
//!
//! `--features mimalloc` runs our side on mimalloc, the allocator of the `omadm` binary (the
//! server, the CLI's `decode`/`encode`), instead of the C library's malloc that libwbxml uses
//! either way; the header line says which.
//!
//! Messages: the shared vectors (a vector is converted from its own file in its own encoding, and
//! from our encoding of it in the other one), `package1` and `results_64k`.

#[path = "../../omadm-proto/tests/common/mod.rs"]
mod common;

use omadm_proto::wbxml::WbxmlOptions;
use omadm_proto::xml::XmlOptions;
use omadm_proto::{decode, wbxml, xml, Encoding, Limits, SyncMl};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How the header names our side's allocator.
const ALLOCATOR_NAME: &str = if cfg!(feature = "mimalloc") { "mimalloc" } else { "the system malloc" };

/// How long one timed batch of calls runs, at least.
const BATCH: Duration = Duration::from_millis(4);
/// Timed batches per side and row.
const ROUNDS: usize = 21;

fn main() {
    // Cargo passes `--bench`; any other argument filters rows.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let mut rows = inputs();
    rows.sort_by_key(|(op, _, _)| *op);
    rows.retain(|(op, name, _)| filter.as_deref().is_none_or(|f| op.contains(f) || name.contains(f)));

    println!(
        "omadm-proto (on {ALLOCATOR_NAME}) vs libwbxml {} (median time per message; ratio = libwbxml / ours)",
        omadm_bench::LIBWBXML_VERSION
    );
    println!();
    println!("| direction | message | bytes in | ours µs | ours MB/s | libwbxml µs | libwbxml MB/s | ours × faster |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut ratios: Vec<(&str, f64)> = Vec::new();
    for (op, name, input) in &rows {
        let limits = Limits::default();
        let (ours, theirs) = match *op {
            "wbxml→xml" => compare(
                || xml::encode(&wbxml::decode(black_box(input), &limits).unwrap(), &XmlOptions::default()),
                || omadm_bench::wbxml_to_xml(black_box(input)),
            ),
            _ => compare(
                || wbxml::encode(&xml::decode(black_box(input), &limits).unwrap(), &WbxmlOptions::default()).unwrap(),
                || omadm_bench::xml_to_wbxml(black_box(input), true),
            ),
        };
        let mbps = |ns: f64| input.len() as f64 / ns * 1e3;
        match theirs {
            Ok(theirs) => {
                ratios.push((op, theirs / ours));
                println!(
                    "| {op} | {name} | {} | {:.2} | {:.0} | {:.2} | {:.1} | {:.1} |",
                    input.len(),
                    ours / 1e3,
                    mbps(ours),
                    theirs / 1e3,
                    mbps(theirs),
                    theirs / ours
                );
            }
            Err(e) => println!(
                "| {op} | {name} | {} | {:.2} | {:.0} | refused: {e} | | |",
                input.len(),
                ours / 1e3,
                mbps(ours)
            ),
        }
    }
    println!();
    for op in ["wbxml→xml", "xml→wbxml"] {
        let r: Vec<f64> = ratios.iter().filter(|(o, _)| *o == op).map(|(_, r)| *r).collect();
        if r.is_empty() {
            continue;
        }
        let geomean = (r.iter().map(|x| x.ln()).sum::<f64>() / r.len() as f64).exp();
        let min = r.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.iter().copied().fold(0.0, f64::max);
        println!(
            "{op}: ours is {geomean:.1}× faster (geometric mean over {} messages; {min:.1}× to {max:.1}×)",
            r.len()
        );
    }
}

/// Each message in each direction's input encoding: the vector's own file where it is in that
/// encoding, else our encoding of it. Vectors first, then the generated messages.
fn inputs() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut messages: Vec<(String, SyncMl, Option<Vec<u8>>)> = common::vector_message_files()
        .into_iter()
        .map(|name| {
            let bytes = common::read_vector(&name);
            let (message, _) = decode(&bytes, &Limits::default()).unwrap();
            (name, message, Some(bytes))
        })
        .collect();
    messages.push(("package1".into(), common::package1(), None));
    messages.push(("results_64k".into(), common::results_64k(), None));
    let mut rows = Vec::new();
    for (name, message, file) in messages {
        let own = |encoding| file.clone().filter(|f| Encoding::sniff(f) == Some(encoding));
        let wbxml_in =
            own(Encoding::Wbxml).unwrap_or_else(|| wbxml::encode(&message, &WbxmlOptions::default()).unwrap());
        let xml_in = own(Encoding::Xml).unwrap_or_else(|| xml::encode(&message, &XmlOptions::default()));
        rows.push(("wbxml→xml", name.clone(), wbxml_in));
        rows.push(("xml→wbxml", name, xml_in));
    }
    rows
}

/// Times `ours` and `theirs` (ns per call, medians). When `theirs` fails on the input, returns its
/// error instead of a time.
fn compare<A, B, E>(mut ours: impl FnMut() -> A, mut theirs: impl FnMut() -> Result<B, E>) -> (f64, Result<f64, E>) {
    if let Err(e) = theirs() {
        return (median_ns(&mut ours), Err(e));
    }
    let ours_batch = batch_size(&mut ours);
    let theirs_batch = batch_size(&mut theirs);
    let (mut a, mut b) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        a.push(time_batch(&mut ours, ours_batch));
        b.push(time_batch(&mut theirs, theirs_batch));
    }
    (median(a), Ok(median(b)))
}

/// Times `f` alone (when there is nothing to compare it with).
fn median_ns<T>(f: &mut impl FnMut() -> T) -> f64 {
    let n = batch_size(f);
    median((0..ROUNDS).map(|_| time_batch(f, n)).collect())
}

/// The number of calls that take at least [`BATCH`].
fn batch_size<T>(f: &mut impl FnMut() -> T) -> u64 {
    let mut n = 1;
    loop {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        if start.elapsed() >= BATCH {
            return n;
        }
        n *= 2;
    }
}

/// ns per call over a batch of `n` calls, each call's result dropped inside the timing.
fn time_batch<T>(f: &mut impl FnMut() -> T, n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
