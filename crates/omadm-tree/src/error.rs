//! Errors of the tree engine. Every failure carries the SyncML status code the client answers
//! with (DM Representation Protocol 1.2 §10, DM TND 1.2 §6–8), so the client engine never has to
//! translate.

use omadm_proto::StatusCode;

/// A failed tree operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The command is refused with a protocol status (404, 405, 418, 425, ...).
    #[error("{status}: {reason}")]
    Refused {
        /// The status code to send back.
        status: StatusCode,
        /// A short human-readable reason, for logs.
        reason: String,
    },
    /// The durable store failed (answered as 510 "data store failure").
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
}

impl TreeError {
    /// A refusal with this status and reason.
    pub fn refused(status: StatusCode, reason: impl Into<String>) -> Self {
        TreeError::Refused { status, reason: reason.into() }
    }

    /// The status code to answer this failure with.
    pub fn status(&self) -> StatusCode {
        match self {
            TreeError::Refused { status, .. } => *status,
            TreeError::Store(_) => StatusCode::DataStoreFailure,
        }
    }
}

/// A failure of the storage backend (I/O, corruption, an aborted database transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// Wraps any displayable backend error.
    pub fn from_display(e: impl std::fmt::Display) -> Self {
        StoreError(e.to_string())
    }
}

/// Result alias for tree operations.
pub type TreeResult<T> = Result<T, TreeError>;

/// Shorthand used throughout the crate to refuse with a status.
pub(crate) fn refuse<T>(status: StatusCode, reason: impl Into<String>) -> TreeResult<T> {
    Err(TreeError::refused(status, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_errors() {
        assert_eq!(TreeError::refused(StatusCode::NotFound, "x").status(), StatusCode::NotFound);
        assert_eq!(TreeError::Store(StoreError("io".into())).status(), StatusCode::DataStoreFailure);
    }
}
