//! The minimal DM device of `minimal_client` with its tree in a redb database instead of a
//! snapshot file, for comparison in `scripts/client-footprint` (redb costs several MB of peak
//! memory; see docs/performance.md "Client").
//!
//! Usage: `minimal_client_redb URL STORE_FILE SECRET [CA_PEM]`; prints `VmHWM: N kB`.

#[path = "shared/device.rs"]
mod device;

use omadm_tree::objects::standard_config;
use omadm_tree::{RedbStore, Tree};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: minimal_client_redb URL STORE_FILE SECRET [CA_PEM]");
        return std::process::ExitCode::FAILURE;
    }
    let (url, store, secret, ca) = (&args[1], &args[2], &args[3], args.get(4));
    device::report(
        RedbStore::open(store)
            .map_err(Into::into)
            .and_then(|s| Tree::open(s, standard_config()).map_err(Into::into))
            .and_then(|tree| device::session(tree, url, secret, ca)),
    )
}
