//! # omadm-security
//!
//! The security and notification core of OMA DM 1.2 and 1.3, shared by the DM client and server.
//! Everything is a pure function or a small state machine: no sockets, clocks or files; randomness
//! only through [`nonce::NonceSource`] (the OS CSPRNG by default).
//!
//! | area | module | spec |
//! |---|---|---|
//! | Cred/Chal schemes: basic, MD5, SHA-256 | [`scheme`], [`cred`] | DM Security 1.2 §5; 1.3 per [`dm13`] |
//! | `x-syncml-hmac` (MD5, SHA-256) | [`mac`] | DM Security 1.2 §5.5 |
//! | nonces, per-account life cycle, replay refusal | [`nonce`], [`session`] | DM Security 1.2 §5 |
//! | Package #0 (1.2 general, 1.3 TLV) | [`notification`] | DM Notification 1.2 §6; 1.3 per [`dm13`] |
//! | bootstrap MACs (NETWPIN, USERPIN, USERNETWPIN, USERPINMAC) | [`bootstrap`] | Provisioning Bootstrap; DM Bootstrap 1.2 |
//! | WAP-profile bootstrap documents (`wap-provisioningdoc`, w7 → DMAcc), XML and WBXML | [`provisioning`] | WAP-183 ProvCont; DM Bootstrap 1.2 §5.3 |
//! | WSP push PDU, WDP/SMS segmentation | [`push`] | WAP WSP/WDP; DM Notification 1.2 §6.3 |
//!
//! Every DM 1.3 choice made without the normative text is in [`dm13`] and `docs/dm13-decisions.md`.
#![warn(missing_docs)]

pub mod algorithm;
pub mod bootstrap;
pub mod cred;
pub mod dm13;
pub mod error;
pub mod mac;
pub mod nonce;
pub mod notification;
pub mod provisioning;
pub mod push;
pub mod scheme;
pub mod session;

pub use algorithm::HashAlgorithm;
pub use cred::{AccountCredentials, Challenge, Credential, Secret};
pub use dm13::{Dm13Profile, NotificationLayout};
pub use error::{AuthError, BootstrapError, NotificationError, ProvisioningError, PushError};
pub use mac::{HmacHeader, HMAC_HEADER_NAME};
pub use nonce::{Nonce, NonceSource, OsNonceSource};
pub use notification::{
    GeneralNotification, Initiator, Notification, Notification13, NotificationFormat, NotificationKey,
    NotificationKeys, ParsedNotification, SessionId, UiMode,
};
pub use scheme::AuthScheme;
pub use session::{AuthStatus, NonceLedger, Presented, Prover, ProverAction, Verdict, Verifier};
