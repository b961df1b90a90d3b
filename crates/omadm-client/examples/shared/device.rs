//! The part every footprint example shares: one session of a minimal device on a given tree
//! store (first boot installs the standard objects and the account, later boots reuse them), and
//! the report of the peak resident memory.

use omadm_client::http::{run_session, HttpConfig, HttpTransport};
use omadm_client::ui::NoUi;
use omadm_client::{Account, AuthConfig, Session, SessionConfig};
use omadm_security::AuthScheme;
use omadm_tree::objects::{install, DeviceDescription, StandardObject};
use omadm_tree::{ServerId, Store, Tree, Uri, UriLimits};

/// What a footprint example's `main` returns.
pub type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Prints `VmHWM` (the peak resident set) after a completed run, or the error.
pub fn report(result: Outcome) -> std::process::ExitCode {
    match result {
        Ok(()) => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
                println!("{line}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("footprint client: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs one MD5-authenticated session with the server at `url` on `tree`.
pub fn session<S: Store>(
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
