//! Status and alert codes (SyncML RepPro 1.2 §10, DM Protocol 1.2 §8–9; DM 1.3 adds status 217).
//!
//! Both are closed enums for the codes DM gives meaning to, plus an `Other` variant that keeps any
//! other number a peer sends, so that decoding never fails on a code we do not know and re-encoding
//! writes back exactly what came in.

use std::fmt;

/// Declares a code enum with known variants, an `Other(u16)` fallback and the conversions.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A code this table does not name, kept as sent.
            Other(u16),
        }

        impl $name {
            /// The numeric code as it appears on the wire.
            pub const fn code(self) -> u16 {
                match self {
                    $( Self::$variant => $value, )*
                    Self::Other(n) => n,
                }
            }

            /// Maps a number to the named variant, or `Other` when the table does not name it.
            pub const fn from_code(n: u16) -> Self {
                match n {
                    $( $value => Self::$variant, )*
                    other => Self::Other(other),
                }
            }
        }

        impl From<u16> for $name {
            fn from(n: u16) -> Self {
                Self::from_code(n)
            }
        }

        impl From<$name> for u16 {
            fn from(c: $name) -> u16 {
                c.code()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse::<u16>().map(Self::from_code)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u16(self.code())
            }
        }
    };
}

code_enum! {
    /// A SyncML status code (the `Data` of a `Status` command).
    StatusCode {
        /// 101: in progress.
        InProgress = 101,
        /// 200: command completed.
        Ok = 200,
        /// 201: item added.
        ItemAdded = 201,
        /// 202: accepted for asynchronous processing (Exec, Alert, 1226).
        AcceptedForProcessing = 202,
        /// 203: non-authoritative response.
        NonAuthoritative = 203,
        /// 204: no content.
        NoContent = 204,
        /// 205: reset content.
        ResetContent = 205,
        /// 206: partial content.
        PartialContent = 206,
        /// 207: conflict resolved with merge.
        ConflictResolvedWithMerge = 207,
        /// 208: conflict resolved, client won.
        ConflictResolvedClientWinning = 208,
        /// 209: conflict resolved with duplicate.
        ConflictResolvedWithDuplicate = 209,
        /// 210: delete without archive.
        DeleteWithoutArchive = 210,
        /// 211: item not deleted.
        ItemNotDeleted = 211,
        /// 212: authentication accepted for the rest of the session.
        AuthenticationAccepted = 212,
        /// 213: chunk of a large object accepted and buffered.
        ChunkedItemAccepted = 213,
        /// 214: operation cancelled by the user.
        OperationCancelled = 214,
        /// 215: not executed (user declined, or skipped in a Sequence).
        NotExecuted = 215,
        /// 216: Atomic rolled back successfully.
        AtomicRollbackOk = 216,
        /// 217: OK with inherited ACL (DM 1.3, treated as success).
        OkWithInheritedAcl = 217,
        /// 300: multiple choices.
        MultipleChoices = 300,
        /// 301: moved permanently.
        MovedPermanently = 301,
        /// 302: found.
        Found = 302,
        /// 303: see other.
        SeeOther = 303,
        /// 304: not modified ("No" to a confirmation alert).
        NotModified = 304,
        /// 305: use proxy.
        UseProxy = 305,
        /// 400: bad request.
        BadRequest = 400,
        /// 401: invalid credentials.
        InvalidCredentials = 401,
        /// 402: payment required.
        PaymentRequired = 402,
        /// 403: forbidden for a reason other than an ACL.
        Forbidden = 403,
        /// 404: not found.
        NotFound = 404,
        /// 405: command not allowed on this target.
        CommandNotAllowed = 405,
        /// 406: optional feature not supported.
        OptionalFeatureNotSupported = 406,
        /// 407: credentials missing.
        MissingCredentials = 407,
        /// 408: request timeout (also a UI alert timeout).
        RequestTimeout = 408,
        /// 409: conflict.
        Conflict = 409,
        /// 410: gone.
        Gone = 410,
        /// 411: size required.
        SizeRequired = 411,
        /// 412: incomplete command.
        IncompleteCommand = 412,
        /// 413: request entity too large.
        RequestEntityTooLarge = 413,
        /// 414: URI too long.
        UriTooLong = 414,
        /// 415: unsupported media type or format.
        UnsupportedMediaType = 415,
        /// 416: requested size too big (in DM: UI alert cannot be shown).
        RequestedSizeTooBig = 416,
        /// 417: retry later.
        RetryLater = 417,
        /// 418: already exists.
        AlreadyExists = 418,
        /// 419: conflict resolved with server data.
        ConflictResolvedWithServerData = 419,
        /// 420: device full.
        DeviceFull = 420,
        /// 421: unknown search grammar.
        UnknownSearchGrammar = 421,
        /// 422: bad CGI script.
        BadCgiScript = 422,
        /// 423: soft delete conflict.
        SoftDeleteConflict = 423,
        /// 424: size mismatch of a large object.
        SizeMismatch = 424,
        /// 425: permission denied by the ACL.
        PermissionDenied = 425,
        /// 426: partial item not accepted.
        PartialItemNotAccepted = 426,
        /// 427: item not empty.
        ItemNotEmpty = 427,
        /// 428: move failed.
        MoveFailed = 428,
        /// 500: command failed.
        CommandFailed = 500,
        /// 501: command not implemented.
        CommandNotImplemented = 501,
        /// 502: bad gateway.
        BadGateway = 502,
        /// 503: service unavailable.
        ServiceUnavailable = 503,
        /// 504: gateway timeout.
        GatewayTimeout = 504,
        /// 505: DTD version not supported.
        DtdVersionNotSupported = 505,
        /// 506: processing error.
        ProcessingError = 506,
        /// 507: Atomic failed.
        AtomicFailed = 507,
        /// 508: refresh required.
        RefreshRequired = 508,
        /// 510: data store failure.
        DataStoreFailure = 510,
        /// 511: server failure.
        ServerFailure = 511,
        /// 512: synchronization failed.
        SynchronizationFailed = 512,
        /// 513: protocol version not supported.
        ProtocolVersionNotSupported = 513,
        /// 514: operation cancelled.
        OperationCancelledServer = 514,
        /// 516: Atomic rollback failed.
        AtomicRollbackFailed = 516,
        /// 517: Atomic response too large to fit.
        AtomicResponseTooLarge = 517,
    }
}

impl StatusCode {
    /// True for the 2xx family, which DM treats as success (including 213 and 217).
    pub const fn is_success(self) -> bool {
        matches!(self.code(), 200..=299)
    }
}

code_enum! {
    /// A SyncML DM alert code (the `Data` of an `Alert` command).
    AlertCode {
        /// 1100: display a message.
        Display = 1100,
        /// 1101: confirm or reject.
        Confirm = 1101,
        /// 1102: text input.
        TextInput = 1102,
        /// 1103: single choice.
        SingleChoice = 1103,
        /// 1104: multiple choice.
        MultipleChoice = 1104,
        /// 1200: server-initiated management session.
        ServerInitiatedMgmt = 1200,
        /// 1201: client-initiated management session.
        ClientInitiatedMgmt = 1201,
        /// 1222: the sender has more messages for this package ("next message").
        NextMessage = 1222,
        /// 1223: session abort.
        SessionAbort = 1223,
        /// 1224: client event.
        ClientEvent = 1224,
        /// 1225: end of chunked data not received.
        NoEndOfData = 1225,
        /// 1226: generic alert.
        GenericAlert = 1226,
    }
}

impl AlertCode {
    /// True for the user-interaction alerts 1100–1104 (DM Protocol 1.2 §8.6).
    pub const fn is_user_interaction(self) -> bool {
        matches!(self.code(), 1100..=1104)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_map_both_ways() {
        assert_eq!(StatusCode::from_code(425), StatusCode::PermissionDenied);
        assert_eq!(StatusCode::PermissionDenied.code(), 425);
        assert_eq!(AlertCode::from_code(1226), AlertCode::GenericAlert);
        assert_eq!("1201".parse::<AlertCode>().unwrap(), AlertCode::ClientInitiatedMgmt);
    }

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(StatusCode::from_code(299), StatusCode::Other(299));
        assert_eq!(StatusCode::Other(299).code(), 299);
        assert_eq!(AlertCode::from_code(1300).to_string(), "1300");
        assert!(StatusCode::Other(299).is_success());
        assert!(!StatusCode::NotFound.is_success());
    }
}
