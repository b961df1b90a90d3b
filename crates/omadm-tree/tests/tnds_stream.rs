//! `?list=TNDS` of a large subtree streams in bounded memory: the heap the stream adds at its
//! peak stays a small fraction of the document it writes. One test per file, because the
//! allocation counter is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use omadm_proto::{Format, Limits};
use omadm_tree::*;

/// Counts live heap bytes and their peak.
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

/// Peak heap above the level at the start of `f`.
fn peak_above_start(f: impl FnOnce()) -> usize {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - start
}

#[test]
fn large_tnds_streams_in_bounded_memory() {
    // 40,000 leaves in 200 interior nodes, in the redb store (nothing of it on the heap).
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("t.redb")).unwrap();
    let mut tree = Tree::open(store, TreeConfig::default()).unwrap();
    for g in 0..200 {
        let mut tx = tree.begin();
        for l in 0..200 {
            let uri = Uri::parse(&format!("./Big/g{g}/leaf{l}")).unwrap();
            tx.put_node(&uri, NodeRecord::leaf(Format::Chr, "text/plain", format!("value {g}/{l}").into_bytes()))
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let target = TargetUri::parse("./Big?list=TNDS+Format+Type+Value").unwrap();
    // Warm redb's page cache (its own, separately bounded memory) so it does not count below.
    let tx = tree.begin();
    let GetResult::List(items) = tx.get(&Caller::device(), &TargetUri::parse("./Big?list=Struct").unwrap()).unwrap()
    else {
        panic!()
    };
    assert_eq!(items.count(), 40_201);
    drop(tx);
    for encoding in [TndsEncoding::Xml, TndsEncoding::Wbxml] {
        let mut total = 0usize;
        let held = peak_above_start(|| {
            let tx = tree.begin();
            let GetResult::Tnds(list) = tx.get(&Caller::device(), &target).unwrap() else { panic!() };
            let mut stream = list.into_stream(encoding);
            while let Some(chunk) = stream.next_chunk(4096).unwrap() {
                total += chunk.len();
            }
        });
        assert!(total > 1_500_000, "{encoding:?}: the document is {total} bytes");
        // What the stream holds: one scan batch of records, one node's encoding, the open
        // nodes' URIs, the chunk; a built document would be several times `total`.
        assert!(held < 1_000_000, "{encoding:?}: {held} bytes held while writing {total}");
        println!("{encoding:?}: {total} bytes written, at most {held} bytes held");
        // And what it wrote is the whole subtree.
        let tx = tree.begin();
        let GetResult::Tnds(list) = tx.get(&Caller::device(), &target).unwrap() else { panic!() };
        let mut bytes = Vec::new();
        list.into_stream(encoding).write_to(&mut bytes).unwrap();
        let limits = Limits { max_message_size: usize::MAX, ..Limits::default() };
        let doc = match encoding {
            TndsEncoding::Xml => omadm_proto::xml::parse_element(&bytes, &limits),
            TndsEncoding::Wbxml => omadm_proto::wbxml::decode_document(&bytes, &limits),
        }
        .unwrap();
        assert_eq!(Ddf::from_element(&doc).unwrap().node_count(), 40_201);
    }
    // The same document built in memory holds far more (the bound above can fail).
    let built = peak_above_start(|| {
        let tx = tree.begin();
        let GetResult::Tnds(list) = tx.get(&Caller::device(), &target).unwrap() else { panic!() };
        std::hint::black_box(list.into_element().unwrap());
    });
    assert!(built > 5_000_000, "building in memory held only {built} bytes");
}
