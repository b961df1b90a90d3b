//! Codec benchmarks: decode and encode, XML and WBXML (with and without a string table), and the
//! WBXML ⇄ XML conversions, on every message among the shared vectors, on `package1` (a 1.6 KB
//! Package 1) and on `results_64k` (a 64 KB Results message).
//!
//! `cargo bench -p omadm-proto --bench codecs` (a filter after `--` picks benches, e.g.
//! `-- wbxml_to_xml`). Each row shows the time per message and, from its byte counter, the
//! throughput. Inputs: a vector is decoded from its own file in its own encoding, and from our
//! encoding in the other one; `*_inline` rows use WBXML written without a string table. Encode
//! rows count the bytes written. docs/performance.md has the figures and the libwbxml comparison
//! (the `omadm-bench` crate).

#[path = "../tests/common/mod.rs"]
mod common;

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use omadm_proto::wbxml::WbxmlOptions;
use omadm_proto::xml::XmlOptions;
use omadm_proto::{decode, wbxml, xml, Encoding, Limits, SyncMl};
use std::sync::LazyLock;
use std::time::Duration;

fn main() {
    // Divan's default (100 samples, often of one call each) is over in a millisecond for small
    // messages; 0.2 s per bench steadies the medians. `--min-time` on the command line overrides.
    divan::Divan::default().min_time(Duration::from_millis(200)).config_with_args().main();
}

/// One benchmarked message, in the model and in each encoding.
struct Case {
    name: String,
    message: SyncMl,
    xml: Vec<u8>,
    wbxml: Vec<u8>,
    wbxml_inline: Vec<u8>,
}

const TABLE: WbxmlOptions = WbxmlOptions { version: wbxml::WbxmlVersion::V1_2, string_table: true };
const INLINE: WbxmlOptions = WbxmlOptions { version: wbxml::WbxmlVersion::V1_2, string_table: false };

static CASES: LazyLock<Vec<Case>> = LazyLock::new(|| {
    let make = |name: String, message: SyncMl, file: Option<(Vec<u8>, Encoding)>| {
        let mut xml = xml::encode(&message, &XmlOptions::default());
        let mut wbxml = wbxml::encode(&message, &TABLE).unwrap();
        match file {
            Some((bytes, Encoding::Xml)) => xml = bytes,
            Some((bytes, Encoding::Wbxml)) => wbxml = bytes,
            None => {}
        }
        let wbxml_inline = wbxml::encode(&message, &INLINE).unwrap();
        Case { name, message, xml, wbxml, wbxml_inline }
    };
    let mut cases: Vec<Case> = common::vector_message_files()
        .into_iter()
        .map(|name| {
            let bytes = common::read_vector(&name);
            let (message, encoding) = decode(&bytes, &Limits::default()).unwrap();
            make(name, message, Some((bytes, encoding)))
        })
        .collect();
    cases.push(make("package1".into(), common::package1(), None));
    cases.push(make("results_64k".into(), common::results_64k(), None));
    cases
});

fn names() -> impl Iterator<Item = &'static str> {
    CASES.iter().map(|c| c.name.as_str())
}

fn case(name: &str) -> &'static Case {
    CASES.iter().find(|c| c.name == name).expect("a benchmarked message")
}

#[divan::bench(args = names())]
fn decode_xml(bencher: Bencher, name: &str) {
    let c = case(name);
    let limits = Limits::default();
    bencher.counter(BytesCount::of_slice(&c.xml)).bench(|| xml::decode(black_box(&c.xml), &limits).unwrap());
}

#[divan::bench(args = names())]
fn decode_wbxml(bencher: Bencher, name: &str) {
    let c = case(name);
    let limits = Limits::default();
    bencher.counter(BytesCount::of_slice(&c.wbxml)).bench(|| wbxml::decode(black_box(&c.wbxml), &limits).unwrap());
}

#[divan::bench(args = names())]
fn decode_wbxml_inline(bencher: Bencher, name: &str) {
    let c = case(name);
    let limits = Limits::default();
    bencher
        .counter(BytesCount::of_slice(&c.wbxml_inline))
        .bench(|| wbxml::decode(black_box(&c.wbxml_inline), &limits).unwrap());
}

#[divan::bench(args = names())]
fn encode_xml(bencher: Bencher, name: &str) {
    let c = case(name);
    let options = XmlOptions::default();
    let len = xml::encode(&c.message, &options).len();
    bencher.counter(BytesCount::new(len)).bench(|| xml::encode(black_box(&c.message), &options));
}

#[divan::bench(args = names())]
fn encode_wbxml(bencher: Bencher, name: &str) {
    let c = case(name);
    let len = wbxml::encoded_len(&c.message, &TABLE).unwrap();
    bencher.counter(BytesCount::new(len)).bench(|| wbxml::encode(black_box(&c.message), &TABLE).unwrap());
}

#[divan::bench(args = names())]
fn encode_wbxml_inline(bencher: Bencher, name: &str) {
    let c = case(name);
    let len = wbxml::encoded_len(&c.message, &INLINE).unwrap();
    bencher.counter(BytesCount::new(len)).bench(|| wbxml::encode(black_box(&c.message), &INLINE).unwrap());
}

/// WBXML → XML, what libwbxml's `wbxml2xml` does: decode, then encode. Counts input bytes.
#[divan::bench(args = names())]
fn wbxml_to_xml(bencher: Bencher, name: &str) {
    let c = case(name);
    let (limits, options) = (Limits::default(), XmlOptions::default());
    bencher
        .counter(BytesCount::of_slice(&c.wbxml))
        .bench(|| xml::encode(&wbxml::decode(black_box(&c.wbxml), &limits).unwrap(), &options));
}

/// XML → WBXML with a string table, what libwbxml's `xml2wbxml` does. Counts input bytes.
#[divan::bench(args = names())]
fn xml_to_wbxml(bencher: Bencher, name: &str) {
    let c = case(name);
    let limits = Limits::default();
    bencher
        .counter(BytesCount::of_slice(&c.xml))
        .bench(|| wbxml::encode(&xml::decode(black_box(&c.xml), &limits).unwrap(), &TABLE).unwrap());
}
