//! The client session engine on a whole session in memory, without HTTP: Package 1 built from the
//! tree (Alert 1201, the DevInfo Replace, MD5 credentials), the server's Package 2 with three Gets and
//! one Replace decoded and run against the tree, Package 3 (Statuses and Results) encoded, and the
//! closing Package 4 read. Server messages are prepared once; the rows are per session, in XML and
//! WBXML, and include starting the session on an installed device tree.
//!
//! `cargo bench -p omadm-client --bench session`. docs/performance.md has the figures.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use omadm_client::ui::NoUi;
use omadm_client::{Action, Incoming, Outcome, Session, SessionConfig};
use omadm_proto::*;
use omadm_security::AuthScheme;
use std::time::Duration;

fn main() {
    divan::Divan::default().min_time(Duration::from_millis(200)).config_with_args().main();
}

/// The server's two messages of the session, in `encoding`.
fn server_messages(encoding: Encoding) -> (Vec<u8>, Vec<u8>) {
    let mut srv = FakeServer::new("42");
    let package2 = srv.message(
        vec![
            hdr_status("1", 212),
            get("3", "./DevDetail/FwV"),
            get("4", "./DevDetail/SwV"),
            get("5", "./DevInfo/Lang"),
            replace("6", "./DMAcc/omadm/Name", "Lab"),
        ],
        true,
    );
    let package4 = srv.message(vec![hdr_status("2", 200)], true);
    let bytes = |m: &SyncMl| match encoding {
        Encoding::Xml => xml::encode(m, &xml::XmlOptions::default()),
        Encoding::Wbxml => wbxml::encode(m, &wbxml::WbxmlOptions::default()).expect("encodes"),
    };
    (bytes(&package2), bytes(&package4))
}

#[divan::bench(args = ["xml", "wbxml"])]
fn whole_session(bencher: Bencher, encoding: &str) {
    let encoding = if encoding == "wbxml" { Encoding::Wbxml } else { Encoding::Xml };
    let (package2, package4) = server_messages(encoding);
    let mut tree = device();
    let mut acc = account(AuthScheme::Md5, None);
    acc.install(&mut tree, "omadm").unwrap();
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        let mut cfg = SessionConfig::new(DEV_ID, acc.clone());
        cfg.session_id = "42".into();
        cfg.encoding = encoding;
        let (mut session, package1) = Session::start(cfg, &mut tree).unwrap();
        black_box(&package1.body);
        let Action::Send(package3) = session.handle_reply(Incoming::body(&package2), &mut tree, &mut NoUi).unwrap()
        else {
            panic!("Package 3 expected")
        };
        black_box(&package3.body);
        let end = session.handle_reply(Incoming::body(&package4), &mut tree, &mut NoUi).unwrap();
        assert_eq!(end, Action::Finished(Outcome::Completed));
    });
}
