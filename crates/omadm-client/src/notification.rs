//! Package #0 on the device (DM Notification 1.2 §6; 1.3 layout per `omadm_security::dm13`): a
//! notification handed to the client is parsed, its digest verified with the account's server
//! credentials (SRVCRED), a repeated (ServerID, session id) refused, and its ui-mode applied; what
//! remains is the [`Trigger`] of the session it asks for (Alert 1200 with its SessionID).

use omadm_security::notification::ReplayGuard;
use omadm_security::{Dm13Profile, Notification, NotificationKey, NotificationKeys, NotificationLayout, UiMode};
use omadm_tree::{Store, Tree};
use tracing::info;

use crate::account::Account;
use crate::engine::Trigger;
use crate::error::ClientError;
use crate::ui::{UiKind, UiOptions, UiRequest, UiResponse, UserInteraction};

/// Accepts notifications for the accounts in a tree; remembers the accepted ones.
#[derive(Debug, Default)]
pub struct NotificationHandler {
    guard: ReplayGuard,
    profile: Dm13Profile,
}

/// A verified notification: the account it names and the session to start.
#[derive(Debug, Clone)]
pub struct AcceptedNotification {
    /// The account of the notification's ServerID.
    pub account: Account,
    /// Alert 1200 with the notification's session id and ui-mode.
    pub trigger: Trigger,
}

impl NotificationHandler {
    /// A handler with our DM 1.3 readings.
    pub fn new(profile: Dm13Profile) -> NotificationHandler {
        NotificationHandler { guard: ReplayGuard::default(), profile }
    }

    /// Checks a Package #0 and returns the session it starts. `layout` is what the content type
    /// said (`Either` for a notification read from a file). Refused: an unknown ServerID, an
    /// account without server credentials, a wrong digest, a repeated session id, and a session
    /// the user declines (ui-mode 3).
    pub fn accept<S: Store>(
        &mut self,
        tree: &mut Tree<S>,
        bytes: &[u8],
        layout: NotificationLayout,
        ui: &mut dyn UserInteraction,
    ) -> Result<AcceptedNotification, ClientError> {
        let parsed = Notification::parse(bytes, layout)?;
        let n = &parsed.notification;
        let account = Account::load(tree, n.server_id())?;
        let server = account.server.as_ref().ok_or_else(|| {
            ClientError::Account(format!(
                "account {} has no server credentials to verify a notification",
                n.server_id()
            ))
        })?;
        // The name hashed is the SRVCRED name; peers that hash the ServerID instead are accepted too.
        let mut names = vec![server.credentials.name.clone()];
        if server.credentials.name != n.server_id() {
            names.push(n.server_id().to_string());
        }
        let mut verified = Err(omadm_security::NotificationError::DigestMismatch);
        for name in names {
            let mut key = NotificationKey::md5(name, server.credentials.secret.clone(), server.nonce.clone());
            if parsed.digest().len() == omadm_security::HashAlgorithm::Sha256.output_len() {
                key.algorithm = omadm_security::HashAlgorithm::Sha256;
            }
            let keys = NotificationKeys { server: key, notification: None };
            let key = keys.key_for(n, &self.profile)?;
            verified = parsed.verify_with_resync(key);
            if verified.is_ok() {
                break;
            }
        }
        let matched = verified?;
        self.guard.accept(n)?;
        info!(server = n.server_id(), session = %n.session_id(), ui_mode = %n.ui_mode(), ?matched, "notification accepted");
        match n.ui_mode() {
            UiMode::UserInteraction => {
                let request = UiRequest {
                    kind: UiKind::Confirm,
                    options: UiOptions::default(),
                    text: format!("{} asks to start a management session. Allow?", n.server_id()),
                    choices: Vec::new(),
                };
                if ui.interact(&request) != UiResponse::Ok {
                    return Err(ClientError::Protocol(format!(
                        "the user declined the session {} asked for",
                        n.server_id()
                    )));
                }
            }
            UiMode::Informative => {
                let request = UiRequest {
                    kind: UiKind::Display,
                    options: UiOptions::default(),
                    text: format!("{} is starting a management session", n.server_id()),
                    choices: Vec::new(),
                };
                ui.interact(&request);
            }
            UiMode::Background | UiMode::NotSpecified => {}
        }
        Ok(AcceptedNotification {
            trigger: Trigger::ServerInitiated { session_id: n.session_id(), ui_mode: n.ui_mode() },
            account,
        })
    }
}
