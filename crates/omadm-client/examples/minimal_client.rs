//! The smallest useful DM device: the session engine, the HTTP(S) binding with rustls, and the
//! management tree in a durable snapshot file (`omadm_client::snapshot_store`).
//! `scripts/client-footprint` builds it in release, strips it and measures its size and its peak
//! memory (VmHWM) over one session. (`minimal_client_redb` is the same device on redb.)
//!
//! Usage: `minimal_client URL STORE_FILE SECRET [CA_PEM]`; prints `VmHWM: N kB` after the session.
//! STORE_FILE `:memory:` keeps the tree in memory (to tell the store's share apart).

#[path = "shared/device.rs"]
mod device;

use omadm_client::snapshot_store::SnapshotStore;
use omadm_tree::objects::standard_config;
use omadm_tree::{MemStore, Tree};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: minimal_client URL STORE_FILE SECRET [CA_PEM]");
        return std::process::ExitCode::FAILURE;
    }
    let (url, store, secret, ca) = (&args[1], &args[2], &args[3], args.get(4));
    device::report(if store == ":memory:" {
        Tree::open(MemStore::new(), standard_config())
            .map_err(Into::into)
            .and_then(|tree| device::session(tree, url, secret, ca))
    } else {
        SnapshotStore::open(store)
            .map_err(Into::into)
            .and_then(|s| Tree::open(s, standard_config()).map_err(Into::into))
            .and_then(|tree| device::session(tree, url, secret, ca))
    })
}
