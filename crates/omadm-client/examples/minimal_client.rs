//! The smallest useful DM device: the session engine, the HTTP(S) binding with rustls, and the
//! management tree in a durable file. `scripts/client-footprint` builds it in release, strips it and
//! measures its size and its peak memory (VmHWM) over one session.
//!
//! Usage: `minimal_client URL STORE_FILE SECRET [CA_PEM]`; prints `VmHWM: N kB` after the session.
//! A STORE_FILE ending in `.redb` is a redb database, `:memory:` keeps the tree in memory (to tell
//! the store's share apart), anything else is a snapshot file (`omadm_client::snapshot_store`).

use std::process::ExitCode;

use omadm_client::http::{run_session, HttpConfig, HttpTransport};
use omadm_client::snapshot_store::SnapshotStore;
use omadm_client::ui::NoUi;
use omadm_client::{Account, AuthConfig, Session, SessionConfig};
use omadm_security::AuthScheme;
use omadm_tree::objects::{install, standard_config, DeviceDescription, StandardObject};
use omadm_tree::{MemStore, RedbStore, ServerId, Store, Tree, Uri, UriLimits};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: minimal_client URL STORE_FILE SECRET [CA_PEM]");
        return ExitCode::FAILURE;
    }
    match run(&args[1], &args[2], &args[3], args.get(4)) {
        Ok(()) => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("minimal_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str, store: &str, secret: &str, ca: Option<&String>) -> Result<(), Box<dyn std::error::Error>> {
    if store == ":memory:" {
        session(Tree::open(MemStore::new(), standard_config())?, url, secret, ca)
    } else if store.ends_with(".redb") {
        session(Tree::open(RedbStore::open(store)?, standard_config())?, url, secret, ca)
    } else {
        session(Tree::open(SnapshotStore::open(store)?, standard_config())?, url, secret, ca)
    }
}

fn session<S: Store>(
    mut tree: Tree<S>,
    url: &str,
    secret: &str,
    ca: Option<&String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let dev_id = "IMEI:357000000000001";
    let description = DeviceDescription {
        dev_id: dev_id.into(),
        man: "omadm".into(),
        model: "minimal".into(),
        dm_version: "1.2".into(),
        lang: "en".into(),
        dev_type: "device".into(),
        oem: "omadm".into(),
        fw_version: "1".into(),
        sw_version: "1".into(),
        hw_version: "1".into(),
        large_objects: true,
        uri_limits: UriLimits::default(),
    };
    // First boot: create the standard objects and the account. Later boots: the stored tree is
    // used as it is; only the descriptions (DDFs) are mounted again.
    let first_boot = tree.begin().node(&Uri::parse("./DevInfo")?)?.is_none();
    let account = if first_boot {
        install(&mut tree, &description)?;
        let mut account = Account {
            server_id: ServerId::new("omadm")?,
            server_uri: url.into(),
            client: AuthConfig::new(AuthScheme::Md5, dev_id, secret),
            server: None,
            node: None,
        };
        account.install(&mut tree, "omadm")?;
        account
    } else {
        for obj in StandardObject::ALL {
            tree.mount_ddf(&obj.ddf()?, &Uri::root())?;
        }
        Account::load(&mut tree, "omadm")?
    };
    let http = HttpTransport::new(HttpConfig { ca_file: ca.map(Into::into), ..HttpConfig::default() })?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (mut session, first) = Session::start(SessionConfig::new(dev_id, account), &mut tree)?;
    let outcome = runtime.block_on(run_session(&mut session, first, &mut tree, &mut NoUi, &http))?;
    println!("outcome: {outcome:?}");
    Ok(())
}
