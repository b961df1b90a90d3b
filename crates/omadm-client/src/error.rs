//! Errors of the client engine and its helpers.

use omadm_security::{AuthError, BootstrapError, NotificationError};
use omadm_tree::TreeError;

/// Why a session or a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server's message could not be decoded.
    #[error("malformed server message: {0}")]
    Decode(#[from] omadm_proto::Error),
    /// The server broke the protocol (wrong SessionID, a message after the session ended, ...).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Authentication to the server failed for good (too many challenges, unsupported scheme).
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The management tree refused a device-side operation (account upkeep, bootstrap).
    #[error("management tree: {0}")]
    Tree(#[from] TreeError),
    /// No account for this server, or an account the client cannot use.
    #[error("account: {0}")]
    Account(String),
    /// A Package #0 was refused (bad digest, replay, unknown server).
    #[error("notification: {0}")]
    Notification(#[from] NotificationError),
    /// A bootstrap document was refused.
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    /// A message could not be made to fit the server's MaxMsgSize.
    #[error("message size: {0}")]
    Size(String),
}

impl From<BootstrapError> for ClientError {
    fn from(e: BootstrapError) -> Self {
        ClientError::Bootstrap(e.to_string())
    }
}
