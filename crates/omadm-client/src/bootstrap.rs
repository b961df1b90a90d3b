//! Bootstrap (DM Bootstrap 1.2 §5; digest §8): installing a DM account from a document the
//! device was given (a file the device trusts; the bootstrap MACs are checked by
//! `omadm_security::bootstrap` where the document arrived over the air).
//!
//! - **Plain profile**: a DM message (XML or WBXML) whose Adds carry TNDS (usually into
//!   `./Inbox` or `./DMAcc`), or a bare TNDS `MgmtTree` of MO roots (placed through `./Inbox`). The ACLs come from the TNDS; an account
//!   root left without one gets the w7 rights below so that its server can manage it.
//! - **WAP profile**: a `wap-provisioningdoc` (XML or WBXML) with a w7 `APPLICATION`: PROVIDER-ID
//!   → ServerID, APPADDR → AppAddr, APPAUTH APPSRV → CLCRED, CLIENT → SRVCRED. The client names
//!   the account node and grants Get, Replace and Delete to the ServerID.

use omadm_proto::{Command, Data, Encoding, Limits};
use omadm_security::provisioning::{ProvisioningDoc, W7Account};
use omadm_security::{AccountCredentials, AuthScheme, Nonce};
use omadm_tree::{Acl, Caller, Content, Store, Tree, Uri};
use tracing::info;

use crate::account::{Account, AuthConfig};
use crate::error::ClientError;

fn bad(e: impl std::fmt::Display) -> ClientError {
    ClientError::Bootstrap(e.to_string())
}

/// The ServerIDs of the accounts under `./DMAcc`.
fn server_ids<S: Store>(tree: &mut Tree<S>) -> Result<Vec<(String, String)>, ClientError> {
    let tx = tree.begin();
    let dmacc = Uri::parse("./DMAcc").map_err(bad)?;
    let mut out = Vec::new();
    for name in tx.children(&dmacc)? {
        let sid = dmacc.child(&name).map_err(bad)?.child("ServerID").map_err(bad)?;
        if let Some(r) = tx.node(&sid)? {
            out.push((name, String::from_utf8_lossy(&r.value).trim().to_string()));
        }
    }
    Ok(out)
}

/// Installs the accounts of a plain-profile bootstrap (a DM message with TNDS, or a bare TNDS
/// document) and returns them.
pub fn install_plain<S: Store>(tree: &mut Tree<S>, bytes: &[u8]) -> Result<Vec<Account>, ClientError> {
    let limits = Limits::default();
    let before = server_ids(tree)?;
    let device = Caller::device();
    let mut tx = tree.begin();
    let root_name = match Encoding::sniff(bytes) {
        Some(Encoding::Xml) => omadm_proto::xml::parse_element(bytes, &limits).map_err(bad)?.name.clone(),
        _ => String::new(),
    };
    if root_name == "MgmtTree" {
        let doc = omadm_proto::xml::parse_element(bytes, &limits).map_err(bad)?;
        // A bare document holds MO roots: the Inbox places each by its MO identifier.
        tx.add_tnds(&device, &Uri::parse("./Inbox").map_err(bad)?, &doc)?;
    } else {
        let (msg, _) = omadm_proto::decode(bytes, &limits).map_err(bad)?;
        for cmd in &msg.body.commands {
            let (Command::Add(c) | Command::Replace(c)) = cmd else { continue };
            for item in &c.items {
                let target = item.target.as_ref().map(|t| t.loc_uri.as_str()).unwrap_or(".");
                let uri = Uri::parse(target).map_err(bad)?;
                let meta = item.meta_or(c.meta.as_ref());
                let tnds = meta.and_then(|m| m.media_type.as_deref()).is_some_and(|t| t.contains("dmtnds"));
                if tnds {
                    let doc = match &item.data {
                        Some(Data::Document(el)) => el.clone(),
                        Some(Data::Binary(b)) => omadm_proto::wbxml::decode_document(b, &limits).map_err(bad)?,
                        Some(Data::Text(t)) => omadm_proto::xml::parse_element(t.as_bytes(), &limits).map_err(bad)?,
                        None => return Err(ClientError::Bootstrap(format!("TNDS Add to {target} has no data"))),
                    };
                    tx.add_tnds(&device, &uri, &doc)?;
                } else {
                    let data = item.data.as_ref().and_then(|d| d.as_bytes()).unwrap_or_default().to_vec();
                    tx.add(&device, &uri.into(), Content::from_meta(meta, data))?;
                }
            }
        }
    }
    tx.commit()?;
    let mut accounts = Vec::new();
    for (name, sid) in server_ids(tree)? {
        if before.iter().any(|(n, _)| *n == name) {
            continue;
        }
        grant_default_acl(tree, &name, &sid)?;
        info!(server = %sid, node = %name, "bootstrapped an account (plain profile)");
        accounts.push(Account::load(tree, &sid)?);
    }
    if accounts.is_empty() {
        return Err(ClientError::Bootstrap("the document installed no DMAcc account".into()));
    }
    Ok(accounts)
}

/// Gives an account root with an empty ACL the w7 rights of its own server.
fn grant_default_acl<S: Store>(tree: &mut Tree<S>, name: &str, sid: &str) -> Result<(), ClientError> {
    let uri = Uri::parse("./DMAcc").map_err(bad)?.child(name).map_err(bad)?;
    let mut tx = tree.begin();
    if let Some(mut rec) = tx.node(&uri)? {
        if rec.acl.is_empty() {
            rec.acl = Acl::parse(&format!("Get={sid}&Replace={sid}&Delete={sid}")).map_err(bad)?;
            tx.put_node(&uri, rec)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Installs the w7 accounts of a WAP-profile bootstrap document (XML or WBXML).
pub fn install_wap<S: Store>(tree: &mut Tree<S>, bytes: &[u8]) -> Result<Vec<Account>, ClientError> {
    let doc = ProvisioningDoc::decode(bytes).map_err(bad)?;
    let w7 = doc.w7_accounts().map_err(bad)?;
    if w7.is_empty() {
        return Err(ClientError::Bootstrap("the document has no w7 APPLICATION".into()));
    }
    let mut out = Vec::new();
    for app in w7 {
        let mut account = account_of(&app)?;
        let node: String =
            app.server_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let node = if node.is_empty() { "w7".to_string() } else { node };
        account.install(tree, &node)?;
        info!(server = %app.server_id, node = %node, "bootstrapped an account (WAP profile)");
        out.push(account);
    }
    Ok(out)
}

fn account_of(app: &W7Account) -> Result<Account, ClientError> {
    let addr = app
        .addresses
        .first()
        .ok_or_else(|| ClientError::Bootstrap(format!("w7 account {} has no APPADDR", app.server_id)))?;
    let mut client = None;
    let mut server = None;
    for auth in &app.auths {
        let scheme = auth
            .auth_type
            .as_deref()
            .and_then(AuthScheme::from_dmacc_aauth_type)
            .ok_or_else(|| ClientError::Bootstrap(format!("unsupported AAUTHTYPE {:?}", auth.auth_type)))?;
        let cfg = AuthConfig {
            scheme,
            credentials: AccountCredentials::new(
                auth.name.clone().unwrap_or_default(),
                auth.secret.clone().unwrap_or_default().as_str(),
            ),
            nonce: auth.data.as_deref().map_or_else(|| Nonce::from_bytes(Vec::new()), Nonce::from_next_nonce),
            hmac_algorithm: AuthScheme::dmacc_hmac_algorithm(auth.auth_type.as_deref().unwrap_or_default()),
        };
        match auth.dmacc_level() {
            Some("CLCRED") => client = Some(cfg),
            Some("SRVCRED") => server = Some(cfg),
            _ => {}
        }
    }
    Ok(Account {
        server_id: omadm_tree::ServerId::new(app.server_id.clone()).map_err(bad)?,
        server_uri: addr.addr.clone(),
        client: client
            .ok_or_else(|| ClientError::Bootstrap(format!("w7 account {} has no APPSRV credentials", app.server_id)))?,
        server,
        node: None,
    })
}
