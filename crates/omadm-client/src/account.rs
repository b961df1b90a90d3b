//! A DM account (StdObj 1.2 §5.1 DMAcc) as the session engine needs it: the server's identity and
//! address, and the two credential directions, CLCRED (client → server) and SRVCRED (server →
//! client), each with its scheme, name, secret and the nonce kept in `AAuthData`.
//!
//! [`Account::load`] reads `./DMAcc/<x>` for a ServerID, [`Account::install`] writes a new one
//! (CLI defaults, bootstrap), and [`Account::store_nonces`] writes the nonces a session ends
//! with back into `AAuthData`, so the next session starts from them.

use omadm_proto::Format;
use omadm_security::{AccountCredentials, AuthScheme, HashAlgorithm, Nonce};
use omadm_tree::{Acl, NodeRecord, ServerId, Store, Tree, Uri};

use crate::error::ClientError;

/// One credential direction of an account (`AppAuth/<x>` with AAuthLevel CLCRED or SRVCRED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `AAuthType` (for CLCRED, `AAuthPref` wins when set).
    pub scheme: AuthScheme,
    /// `AAuthName` and `AAuthSecret`.
    pub credentials: AccountCredentials,
    /// `AAuthData`: the nonce to use until the peer challenges.
    pub nonce: Nonce,
    /// The `x-syncml-hmac` hash under `syncml:auth-MAC`: MD5 (`AAuthType` `HMAC`) or SHA-256
    /// (`HMAC-SHA256`, our reading, docs/dm13-decisions.md).
    pub hmac_algorithm: HashAlgorithm,
}

impl AuthConfig {
    /// A direction with an empty stored nonce.
    pub fn new(scheme: AuthScheme, name: impl Into<String>, secret: &str) -> AuthConfig {
        AuthConfig {
            scheme,
            credentials: AccountCredentials::new(name, secret),
            nonce: Nonce::from_bytes(Vec::new()),
            hmac_algorithm: HashAlgorithm::Md5,
        }
    }

    /// The same direction with SHA-256 (or MD5) as its HMAC hash (builder style).
    pub fn with_hmac_algorithm(mut self, algorithm: HashAlgorithm) -> AuthConfig {
        self.hmac_algorithm = algorithm;
        self
    }

    /// The `AAuthType` value for this direction (the HMAC hash spelled out).
    pub fn aauth_type(&self) -> &str {
        self.scheme.dmacc_aauth_type_with_hmac(self.hmac_algorithm)
    }
}

/// A DM server account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `ServerID`: the id in ACLs and Package #0.
    pub server_id: ServerId,
    /// `AppAddr/<x>/Addr`: the server URL Package 1 goes to.
    pub server_uri: String,
    /// CLCRED: how the client proves itself to the server.
    pub client: AuthConfig,
    /// SRVCRED: how the server must prove itself to the client; `None` = not checked.
    pub server: Option<AuthConfig>,
    /// Where the account lives (`./DMAcc/<x>`), once loaded or installed.
    pub node: Option<Uri>,
}

fn uri(text: &str) -> Result<Uri, ClientError> {
    Uri::parse(text).map_err(|e| ClientError::Account(format!("{text}: {e}")))
}

fn text_of(rec: Option<NodeRecord>) -> Option<String> {
    rec.and_then(|r| String::from_utf8(r.value).ok()).map(|s| s.trim().to_string())
}

impl Account {
    /// Reads the account of `server_id` from `./DMAcc` (device access: DDF and ACLs do not hide
    /// the secrets from the device itself).
    pub fn load<S: Store>(tree: &mut Tree<S>, server_id: &str) -> Result<Account, ClientError> {
        let tx = tree.begin();
        let dmacc = uri("./DMAcc")?;
        for name in tx.children(&dmacc)? {
            let base = dmacc.child(&name).map_err(|e| ClientError::Account(e.to_string()))?;
            let get = |rel: &str| -> Result<Option<String>, ClientError> {
                Ok(text_of(tx.node(&uri(&format!("{base}/{rel}"))?)?))
            };
            if get("ServerID")?.as_deref() != Some(server_id) {
                continue;
            }
            let server_uri = match tx.children(&uri(&format!("{base}/AppAddr"))?) {
                Ok(addrs) => match addrs.first() {
                    Some(a) => get(&format!("AppAddr/{a}/Addr"))?,
                    None => None,
                },
                Err(_) => None,
            }
            .ok_or_else(|| ClientError::Account(format!("account {base} has no AppAddr/<x>/Addr")))?;
            let pref_text = get("AAuthPref")?;
            let pref = pref_text.as_deref().and_then(AuthScheme::from_dmacc_aauth_type);
            let mut client = None;
            let mut server = None;
            if let Ok(auths) = tx.children(&uri(&format!("{base}/AppAuth"))?) {
                for a in auths {
                    let level = get(&format!("AppAuth/{a}/AAuthLevel"))?.unwrap_or_default();
                    let kind = get(&format!("AppAuth/{a}/AAuthType"))?.unwrap_or_default();
                    let Some(scheme) = AuthScheme::from_dmacc_aauth_type(&kind) else { continue };
                    let name = get(&format!("AppAuth/{a}/AAuthName"))?.unwrap_or_default();
                    let secret = get(&format!("AppAuth/{a}/AAuthSecret"))?.unwrap_or_default();
                    let nonce = tx
                        .node(&uri(&format!("{base}/AppAuth/{a}/AAuthData"))?)?
                        .map(|r| Nonce::from_bytes(r.value))
                        .unwrap_or_else(|| Nonce::from_bytes(Vec::new()));
                    let cfg = AuthConfig {
                        scheme,
                        credentials: AccountCredentials::new(name, secret.as_str()),
                        nonce,
                        hmac_algorithm: AuthScheme::dmacc_hmac_algorithm(&kind),
                    };
                    match level.to_ascii_uppercase().as_str() {
                        "CLCRED" => client = Some((a, cfg)),
                        "SRVCRED" => server = Some(cfg),
                        _ => {}
                    }
                }
            }
            let (_, mut client) =
                client.ok_or_else(|| ClientError::Account(format!("account {base} has no CLCRED credentials")))?;
            if let Some(p) = pref {
                if p == AuthScheme::Mac {
                    client.hmac_algorithm = AuthScheme::dmacc_hmac_algorithm(pref_text.as_deref().unwrap_or_default());
                }
                client.scheme = p;
            }
            return Ok(Account {
                server_id: ServerId::new(server_id).map_err(|e| ClientError::Account(e.to_string()))?,
                server_uri,
                client,
                server,
                node: Some(base),
            });
        }
        Err(ClientError::Account(format!("no DMAcc account has ServerID {server_id}")))
    }

    /// Writes the account as `./DMAcc/<name>` (replacing one of that name), with the ACL a
    /// bootstrapped account gets: Get, Replace and Delete for its own server (Bootstrap 1.2 §5.3).
    /// The display `Name` (default: the ServerID) is written only when the account has none yet,
    /// so a name the server replaced survives the next start.
    pub fn install<S: Store>(&mut self, tree: &mut Tree<S>, name: &str) -> Result<(), ClientError> {
        let base = uri("./DMAcc")?.child(name).map_err(|e| ClientError::Account(e.to_string()))?;
        let sid = self.server_id.as_str().to_string();
        let acl = Acl::parse(&format!("Get={sid}&Replace={sid}&Delete={sid}"))
            .map_err(|e| ClientError::Account(e.to_string()))?;
        let chr = |v: &str| NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec());
        let mut tx = tree.begin();
        let mut root = NodeRecord::interior("");
        root.acl = acl;
        // the display name is the server's to change: written once, kept over later installs
        let has_name = tx.node(&uri(&format!("{base}/Name"))?)?.is_some();
        tx.put_node(&base, root)?;
        let mut put = |rel: &str, rec: NodeRecord| -> Result<(), ClientError> {
            tx.put_node(&uri(&format!("{base}/{rel}"))?, rec)?;
            Ok(())
        };
        put("AppID", chr("w7"))?;
        put("ServerID", chr(&sid))?;
        if !has_name {
            put("Name", chr(&sid))?;
        }
        put("AppAddr/1/Addr", chr(&self.server_uri))?;
        put("AppAddr/1/AddrType", chr("URI"))?;
        put("AAuthPref", chr(self.client.aauth_type()))?;
        let mut directions = vec![("1", "CLCRED", &self.client)];
        if let Some(s) = &self.server {
            directions.push(("2", "SRVCRED", s));
        }
        for (n, level, cfg) in directions {
            put(&format!("AppAuth/{n}/AAuthLevel"), chr(level))?;
            put(&format!("AppAuth/{n}/AAuthType"), chr(cfg.aauth_type()))?;
            put(&format!("AppAuth/{n}/AAuthName"), chr(&cfg.credentials.name))?;
            let secret = String::from_utf8_lossy(cfg.credentials.secret.as_bytes()).into_owned();
            put(&format!("AppAuth/{n}/AAuthSecret"), chr(&secret))?;
            put(
                &format!("AppAuth/{n}/AAuthData"),
                NodeRecord::leaf(Format::Bin, "application/octet-stream", cfg.nonce.as_bytes().to_vec()),
            )?;
        }
        tx.commit()?;
        self.node = Some(base);
        Ok(())
    }

    /// Stores the nonces (and the client's negotiated scheme) a session ended with in the
    /// account's `AAuthData` / `AAuthPref` (DM Security 1.2 §5: the next session starts from them).
    pub fn store_nonces<S: Store>(
        &mut self,
        tree: &mut Tree<S>,
        client_nonce: &Nonce,
        client_scheme: &AuthScheme,
        server_nonce: Option<&Nonce>,
    ) -> Result<(), ClientError> {
        self.client.nonce = client_nonce.clone();
        if client_scheme.is_supported() {
            self.client.scheme = client_scheme.clone();
        }
        if let (Some(s), Some(n)) = (self.server.as_mut(), server_nonce) {
            s.nonce = n.clone();
        }
        let Some(base) = self.node.clone() else { return Ok(()) };
        let mut tx = tree.begin();
        let auth = uri(&format!("{base}/AppAuth"))?;
        for a in tx.children(&auth).unwrap_or_default() {
            let level = text_of(tx.node(&uri(&format!("{auth}/{a}/AAuthLevel"))?)?).unwrap_or_default();
            let nonce = match level.to_ascii_uppercase().as_str() {
                "CLCRED" => client_nonce,
                "SRVCRED" => match server_nonce {
                    Some(n) => n,
                    None => continue,
                },
                _ => continue,
            };
            tx.put_node(
                &uri(&format!("{auth}/{a}/AAuthData"))?,
                NodeRecord::leaf(Format::Bin, "application/octet-stream", nonce.as_bytes().to_vec()),
            )?;
        }
        if client_scheme.is_supported() {
            tx.put_node(
                &uri(&format!("{base}/AAuthPref"))?,
                NodeRecord::leaf(
                    Format::Chr,
                    "text/plain",
                    client_scheme.dmacc_aauth_type_with_hmac(self.client.hmac_algorithm).as_bytes().to_vec(),
                ),
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
