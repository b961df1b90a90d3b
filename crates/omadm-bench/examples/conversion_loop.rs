//! Runs one conversion of the libwbxml comparison in a loop, for instruction profiles that do not
//! depend on the machine's load (docs/performance.md, "Codecs"):
//!
//! ```sh
//! cargo build --release -p omadm-bench --features mimalloc --example conversion_loop
//! valgrind --tool=callgrind target/release/examples/conversion_loop wbxml-to-xml 2000
//! ```
//!
//! With `--features mimalloc` it allocates with mimalloc, as the `omadm` binary and the same-run
//! bench's `--features mimalloc` do (the same wrapper, `crates/omadm/src/allocator.rs`); without
//! it, with the C library's malloc.
//!
//! `wbxml-to-xml` decodes `aosp-dm12/testadd.wbxml` (445 bytes) and writes it as XML;
//! `xml-to-wbxml` decodes `libwbxml/syncml-012.xml` (1605 bytes) and writes WBXML with a string
//! table; `package1-xml-to-wbxml` does the same with `package1` (the generated DM 1.2 Package 1 of
//! the test corpus, 1794 bytes as XML). They read the shared vectors beside the repository, and
//! print the mean wall time.

#[path = "../../omadm-proto/tests/common/mod.rs"]
mod common;

// Linked for its global allocator, the `omadm` binary's, with `--features mimalloc`.
use omadm_bench as _;

use omadm_proto::{wbxml, xml, Limits};
use std::hint::black_box;
use std::time::Instant;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");

fn main() {
    let mut args = std::env::args().skip(1);
    let direction = args.next().unwrap_or_default();
    let rounds: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let limits = Limits::default();
    let read =
        |name: &str| std::fs::read(format!("{VECTORS}/{name}")).unwrap_or_else(|e| panic!("{VECTORS}/{name}: {e}"));
    let start = Instant::now();
    match direction.as_str() {
        "wbxml-to-xml" => {
            let input = read("aosp-dm12/testadd.wbxml");
            for _ in 0..rounds {
                let message = wbxml::decode(black_box(&input), &limits).expect("a vector decodes");
                black_box(xml::encode(&message, &Default::default()));
            }
        }
        "xml-to-wbxml" | "package1-xml-to-wbxml" => {
            let input = if direction == "xml-to-wbxml" {
                read("libwbxml/syncml-012.xml")
            } else {
                xml::encode(&common::package1(), &Default::default())
            };
            for _ in 0..rounds {
                let message = xml::decode(black_box(&input), &limits).expect("a vector decodes");
                black_box(wbxml::encode(&message, &Default::default()).expect("it encodes"));
            }
        }
        _ => {
            eprintln!("usage: conversion_loop wbxml-to-xml|xml-to-wbxml|package1-xml-to-wbxml [ROUNDS]");
            std::process::exit(2);
        }
    }
    println!("{direction}: {:.2} µs per conversion", start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds));
}
