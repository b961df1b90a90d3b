//! The 1,000,000-node tree benchmark (issue 3): a device tree in the redb store with
//! `./Bench/gG/nN/lL` (100 × 100 × 100 leaves, 1,010,101 nodes with the interior ones), a
//! 16-level chain `./Deep/d1/…/d16/leaf`, and one server ACL on `./Bench`.
//!
//! `cargo bench -p omadm-tree --bench tree` first prints the one-shot figures (build time, file
//! size, open time, time and heap held by whole-tree `?list=Struct` and streamed `?list=TNDS`
//! queries; a counting allocator measures the heap), then divan's latencies of
//! Get, the ACL check, Add, Replace, Delete, rename, remove_server and `?list=Struct` of a
//! 10,101-node subtree. Every write is its own durable transaction (a redb commit with fsync).
//! docs/performance.md ("Tree") has the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use divan::{black_box, Bencher};
use omadm_proto::Format;
use omadm_tree::{
    Acl, Caller, Content, DmVersion, GetResult, NodeRecord, RedbStore, ServerId, TargetUri, TndsEncoding, Tree,
    TreeConfig, Uri,
};

/// Fan-out of each of the three levels below `./Bench`.
const FANOUT: usize = 100;
/// Nodes written per transaction while building.
const BUILD_TXN: usize = 20_000;
/// Depth of the `./Deep` chain.
const DEEP: usize = 16;

struct Bench {
    tree: Tree<RedbStore>,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

static BENCH: LazyLock<Mutex<Bench>> = LazyLock::new(|| Mutex::new(build()));
/// Makes every created name unique across samples.
static SERIAL: AtomicUsize = AtomicUsize::new(0);

fn main() {
    one_shot_figures();
    divan::Divan::default().min_time(Duration::from_millis(200)).config_with_args().main();
}

fn u(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn t(s: &str) -> TargetUri {
    TargetUri::parse(s).unwrap()
}

fn server() -> Caller {
    Caller::server(ServerId::new("srv").unwrap(), DmVersion::V1_2)
}

fn leaf(v: &str) -> NodeRecord {
    NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec())
}

fn quiet_config() -> TreeConfig {
    TreeConfig { clock: None, ..TreeConfig::default() }
}

/// Builds the 1M-node tree in a fresh redb file, `BUILD_TXN` nodes per transaction.
fn build() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree-1m.redb");
    let mut tree = Tree::open(RedbStore::open(&path).unwrap(), quiet_config()).unwrap();
    let mut tx = tree.begin();
    let mut acl_root = NodeRecord::interior("");
    acl_root.acl = Acl::parse("Add=srv&Delete=srv&Exec=srv&Get=srv&Replace=srv").unwrap();
    tx.put_node(&u("./Bench"), acl_root.clone()).unwrap();
    tx.put_node(&u("./Deep"), acl_root.clone()).unwrap();
    tx.put_node(&u("./Work"), acl_root).unwrap();
    let deep: Vec<String> = (1..=DEEP).map(|i| format!("d{i}")).collect();
    tx.put_node(&u(&format!("./Deep/{}/leaf", deep.join("/"))), leaf("deep")).unwrap();
    tx.commit().unwrap();
    let mut pending = 0;
    let mut tx = tree.begin();
    for g in 0..FANOUT {
        for n in 0..FANOUT {
            for l in 0..FANOUT {
                tx.put_node(&u(&format!("./Bench/g{g}/n{n}/l{l}")), leaf(&format!("value {g}.{n}.{l}"))).unwrap();
            }
            pending += FANOUT;
            if pending >= BUILD_TXN {
                tx.commit().unwrap();
                tx = tree.begin();
                pending = 0;
            }
        }
    }
    tx.commit().unwrap();
    Bench { tree, path, _dir: dir }
}

/// Counts live heap bytes and their peak, to show what a streamed query holds.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f`; returns its result and the most heap it held above the level it started at.
fn heap_peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

/// Resident memory of the process, in MB (Linux `VmRSS`).
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn one_shot_figures() {
    let started = Instant::now();
    let mut bench = BENCH.lock().unwrap();
    let built = started.elapsed();
    let size = std::fs::metadata(&bench.path).map(|m| m.len()).unwrap_or(0);
    let nodes = {
        let tx = bench.tree.begin();
        let GetResult::List(items) = tx.get(&Caller::device(), &t("./Bench?list=Struct")).unwrap() else {
            panic!("?list=Struct answered with something else")
        };
        items.count()
    };
    println!("tree: {nodes} nodes under ./Bench, built in {:.1} s", built.as_secs_f64());
    println!("file: {:.1} MB ({:.0} bytes per node)", size as f64 / 1e6, size as f64 / nodes as f64);

    println!("process: {:.0} MB resident, {:.1} MB on the heap", rss_mb(), LIVE.load(Ordering::Relaxed) as f64 / 1e6);

    // Whole-tree structural queries: time, and the most heap each holds while streaming. The
    // first pass warms redb's page cache, whose memory is its own (bounded by its cache size).
    let tx = bench.tree.begin();
    let struct_query = t("./Bench?list=Struct");
    let GetResult::List(items) = tx.get(&server(), &struct_query).unwrap() else { panic!() };
    assert_eq!(items.count(), nodes);
    let started = Instant::now();
    let (streamed, held) = heap_peak(|| {
        let GetResult::List(items) = tx.get(&server(), &struct_query).unwrap() else { panic!() };
        items.inspect(|i| assert!(black_box(i).is_ok())).count()
    });
    println!(
        "?list=Struct of ./Bench: {streamed} items in {:.2} s, at most {:.0} KB held",
        started.elapsed().as_secs_f64(),
        held as f64 / 1e3
    );
    for encoding in [TndsEncoding::Xml, TndsEncoding::Wbxml] {
        let started = Instant::now();
        let (bytes, held) = heap_peak(|| {
            let GetResult::Tnds(list) = tx.get(&server(), &t("./Bench?list=TNDS+Format+Type+Value")).unwrap() else {
                panic!()
            };
            let mut stream = list.into_stream(encoding);
            let mut bytes = 0usize;
            while let Some(chunk) = stream.next_chunk(64 * 1024).unwrap() {
                bytes += black_box(chunk).len();
            }
            bytes
        });
        println!(
            "?list=TNDS+Format+Type+Value of ./Bench as {encoding:?}, in 64 KiB chunks: {:.1} MB in {:.2} s, at most {:.0} KB held",
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            held as f64 / 1e3
        );
    }
    drop(tx);

    // Open time: close the database and open it again (a clean shutdown; after a crash redb
    // first repairs the file).
    let path = bench.path.clone();
    let placeholder = Tree::open(RedbStore::open(bench.path.with_extension("tmp")).unwrap(), quiet_config()).unwrap();
    drop(std::mem::replace(&mut bench.tree, placeholder));
    let started = Instant::now();
    let reopened = Tree::open(RedbStore::open(&path).unwrap(), quiet_config()).unwrap();
    println!("open: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    bench.tree = reopened;
    println!();
}

fn deep_leaf() -> String {
    let deep: Vec<String> = (1..=DEEP).map(|i| format!("d{i}")).collect();
    format!("./Deep/{}/leaf", deep.join("/"))
}

/// Get of a leaf 18 levels deep, as a server (URI check, lookup, DDF and ACL check, value).
#[divan::bench]
fn get_deep_leaf(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let (target, caller) = (t(&deep_leaf()), server());
    b.bench_local(|| {
        let tx = bench.tree.begin();
        let GetResult::Value(v) = tx.get(&caller, black_box(&target)).unwrap() else { panic!() };
        black_box(v);
    });
}

/// Get of a leaf among the million.
#[divan::bench]
fn get_leaf_among_1m(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let (target, caller) = (t("./Bench/g57/n31/l93"), server());
    b.bench_local(|| {
        let tx = bench.tree.begin();
        let GetResult::Value(v) = tx.get(&caller, black_box(&target)).unwrap() else { panic!() };
        black_box(v);
    });
}

/// The ACL in force at the deep leaf (inherited from 17 levels up) and the Get right in it.
#[divan::bench]
fn acl_check_deep_leaf(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let (uri, id) = (u(&deep_leaf()), ServerId::new("srv").unwrap());
    b.bench_local(|| {
        let tx = bench.tree.begin();
        let (acl, _) = tx.effective_acl(black_box(&uri)).unwrap();
        assert!(acl.allows(omadm_tree::AclCommand::Get, &id));
    });
}

/// Replace of a leaf's value, committed (one durable redb transaction).
#[divan::bench]
fn replace_leaf(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let (target, caller) = (t("./Bench/g3/n4/l5"), server());
    b.bench_local(|| {
        let mut tx = bench.tree.begin();
        tx.replace(&caller, &target, Content::chr("new value")).unwrap();
        tx.commit().unwrap();
    });
}

/// Add of a new leaf, committed.
#[divan::bench]
fn add_leaf(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let caller = server();
    b.with_inputs(|| t(&format!("./Bench/g7/n8/add{}", SERIAL.fetch_add(1, Ordering::Relaxed)))).bench_local_values(
        |target| {
            let mut tx = bench.tree.begin();
            tx.add(&caller, &target, Content::chr("added")).unwrap();
            tx.commit().unwrap();
        },
    );
}

/// Adds `./Work/<name>` with `count` leaves below it (untimed setup of the delete and rename benches).
fn make_subtree(tree: &mut Tree<RedbStore>, name: &str, count: usize) {
    let mut tx = tree.begin();
    tx.put_node(&u(&format!("./Work/{name}")), NodeRecord::interior("")).unwrap();
    for i in 0..count {
        tx.put_node(&u(&format!("./Work/{name}/x{}/y{}", i / 100, i % 100)), leaf("v")).unwrap();
    }
    tx.commit().unwrap();
}

fn fresh_name() -> String {
    format!("s{}", SERIAL.fetch_add(1, Ordering::Relaxed))
}

/// Delete of one leaf, committed.
#[divan::bench]
fn delete_leaf(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let bench = &mut *bench;
    let caller = server();
    let tree = Mutex::new(&mut bench.tree);
    b.with_inputs(|| {
        let name = fresh_name();
        make_subtree(&mut tree.lock().unwrap(), &name, 0);
        t(&format!("./Work/{name}"))
    })
    .bench_local_values(|target| {
        let mut tree = tree.lock().unwrap();
        let mut tx = tree.begin();
        tx.delete(&caller, &target).unwrap();
        tx.commit().unwrap();
    });
}

/// Delete of a subtree of 10,000 leaves (10,101 nodes), committed.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn delete_subtree_10k(b: Bencher) {
    subtree_op(b, 10_000, |tree, name| {
        let mut tx = tree.begin();
        tx.delete(&Caller::device(), &t(&format!("./Work/{name}"))).unwrap();
        tx.commit().unwrap();
    });
}

/// Rename (Replace `?prop=Name`) of a subtree of 10,000 leaves, committed.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn rename_subtree_10k(b: Bencher) {
    subtree_op(b, 10_000, |tree, name| {
        let mut tx = tree.begin();
        tx.replace(&Caller::device(), &t(&format!("./Work/{name}?prop=Name")), Content::chr(format!("r{name}")))
            .unwrap();
        tx.commit().unwrap();
    });
}

fn subtree_op(b: Bencher, count: usize, op: impl Fn(&mut Tree<RedbStore>, &str)) {
    let mut bench = BENCH.lock().unwrap();
    let tree = Mutex::new(&mut bench.tree);
    b.with_inputs(|| {
        let name = fresh_name();
        make_subtree(&mut tree.lock().unwrap(), &name, count);
        name
    })
    .bench_local_values(|name| op(&mut tree.lock().unwrap(), &name));
}

/// remove_server over the whole tree where 100 nodes name the server, committed.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn remove_server_1m(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let tree = Mutex::new(&mut bench.tree);
    let gone = ServerId::new("gone").unwrap();
    b.with_inputs(|| {
        let mut tree = tree.lock().unwrap();
        let mut tx = tree.begin();
        for i in 0..100 {
            let mut r = leaf("v");
            r.acl = Acl::parse("Get=gone+srv&Replace=gone").unwrap();
            tx.put_node(&u(&format!("./Bench/g{i}/n{i}/l{i}")), r).unwrap();
        }
        tx.commit().unwrap();
    })
    .bench_local_values(|()| {
        let mut tree = tree.lock().unwrap();
        let mut tx = tree.begin();
        assert_eq!(tx.remove_server(&gone).unwrap(), 100);
        tx.commit().unwrap();
    });
}

/// `?list=Struct` of `./Bench/g42`: 10,101 nodes streamed, as a server (ACL-filtered).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn list_struct_10k(b: Bencher) {
    let mut bench = BENCH.lock().unwrap();
    let (target, caller) = (t("./Bench/g42?list=Struct"), server());
    b.bench_local(|| {
        let tx = bench.tree.begin();
        let GetResult::List(items) = tx.get(&caller, &target).unwrap() else { panic!() };
        assert_eq!(items.inspect(|i| assert!(black_box(i).is_ok())).count(), 10_101);
    });
}

/// The engine's part of a Delete of a 10,000-leaf subtree: the command inside a transaction,
/// not committed (the store's range removal is left out).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn delete_subtree_10k_uncommitted(b: Bencher) {
    subtree_op(b, 10_000, |tree, name| {
        let mut tx = tree.begin();
        tx.delete(&Caller::device(), &t(&format!("./Work/{name}"))).unwrap();
        black_box(&tx);
    });
}

/// The engine's part of a rename of a 10,000-leaf subtree, not committed.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn rename_subtree_10k_uncommitted(b: Bencher) {
    subtree_op(b, 10_000, |tree, name| {
        let mut tx = tree.begin();
        tx.replace(&Caller::device(), &t(&format!("./Work/{name}?prop=Name")), Content::chr(format!("r{name}")))
            .unwrap();
        black_box(&tx);
    });
}
