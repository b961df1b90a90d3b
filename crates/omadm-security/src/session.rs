//! The per-account authentication life cycle on both sides of a session (DM Security 1.2 §5,
//! DM Protocol 1.2 §8.4; digest §4).
//!
//! Every DM account has two directions, each with a **verifier** that issues nonces and checks
//! credentials and a **prover** that stores the nonce it was given and computes credentials:
//!
//! | direction | verifier | prover | nonce stored in |
//! |---|---|---|---|
//! | CLCRED (client → server) | server | client | the client's CLCRED `AAuthData` |
//! | SRVCRED (server → client) | client | server | the client's SRVCRED `AAuthData` (also keys Package #0) |
//!
//! [`Verifier`] and [`Prover`] are the two state machines. Neither does I/O: the caller feeds them
//! what arrived and sends what they return, and persists [`NonceLedger`] / [`Prover::nonce_to_store`]
//! between sessions.

use std::collections::VecDeque;

use crate::algorithm::HashAlgorithm;
use crate::cred::{AccountCredentials, Challenge, Credential};
use crate::error::AuthError;
use crate::mac::HmacHeader;
use crate::nonce::{Nonce, NonceSource};
use crate::scheme::AuthScheme;

/// How many spent nonces a [`NonceLedger`] remembers to recognise replays.
pub const SPENT_NONCE_HISTORY: usize = 16;

/// The authentication statuses a verifier answers with in the SyncHdr Status (RepPro 1.2 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthStatus {
    /// 200: accepted for this message (HMAC, or a message after the session was authenticated).
    Ok,
    /// 212: authenticated for the rest of the session; no more credentials needed.
    Authenticated,
    /// 401: invalid credentials.
    InvalidCredentials,
    /// 407: credentials missing.
    MissingCredentials,
}

impl AuthStatus {
    /// The numeric status code.
    pub const fn code(self) -> u16 {
        match self {
            AuthStatus::Ok => 200,
            AuthStatus::Authenticated => 212,
            AuthStatus::InvalidCredentials => 401,
            AuthStatus::MissingCredentials => 407,
        }
    }

    /// The status for a numeric code, if it is one of the authentication statuses.
    pub const fn from_code(code: u16) -> Option<AuthStatus> {
        match code {
            200 => Some(AuthStatus::Ok),
            212 => Some(AuthStatus::Authenticated),
            401 => Some(AuthStatus::InvalidCredentials),
            407 => Some(AuthStatus::MissingCredentials),
            _ => None,
        }
    }
}

/// The verifier's persistent nonce state for one account direction: the nonce the peer must use
/// next (`AAuthData`) and the recently spent ones (to name replays precisely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceLedger {
    current: Nonce,
    spent: VecDeque<Nonce>,
}

impl NonceLedger {
    /// A ledger whose current nonce is `current` and which remembers no spent nonce.
    pub fn new(current: Nonce) -> NonceLedger {
        NonceLedger { current, spent: VecDeque::new() }
    }

    /// A ledger restored from storage (the spent list is truncated to [`SPENT_NONCE_HISTORY`]).
    pub fn restore(current: Nonce, spent: impl IntoIterator<Item = Nonce>) -> NonceLedger {
        let mut ledger = NonceLedger::new(current);
        for n in spent {
            ledger.remember_spent(n);
        }
        ledger
    }

    /// The nonce the peer must use now (to store in `AAuthData`).
    pub fn current(&self) -> &Nonce {
        &self.current
    }

    /// The spent nonces, oldest first (to store alongside `AAuthData`).
    pub fn spent(&self) -> impl Iterator<Item = &Nonce> {
        self.spent.iter()
    }

    /// Marks the current nonce spent and replaces it with a fresh one.
    fn spend_and_rotate(&mut self, source: &mut dyn NonceSource) -> Result<(), AuthError> {
        let fresh = source.next_nonce()?;
        let old = std::mem::replace(&mut self.current, fresh);
        self.remember_spent(old);
        Ok(())
    }

    /// Replaces the current nonce without marking it spent (a re-challenge after a failure).
    fn rotate(&mut self, source: &mut dyn NonceSource) -> Result<(), AuthError> {
        self.current = source.next_nonce()?;
        Ok(())
    }

    fn remember_spent(&mut self, nonce: Nonce) {
        if self.spent.len() == SPENT_NONCE_HISTORY {
            self.spent.pop_front();
        }
        self.spent.push_back(nonce);
    }
}

/// What a peer presented in one message.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// No `Cred` and no `x-syncml-hmac` header.
    Nothing,
    /// A SyncHdr `Cred`.
    Cred(&'a Credential),
    /// An `x-syncml-hmac` header value and the exact body bytes it covers.
    Hmac {
        /// The header value as received.
        header: &'a str,
        /// The message body as received.
        body: &'a [u8],
    },
}

/// The verifier's answer to one message: the SyncHdr Status code, an optional `Chal`, and why it
/// failed if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The status to put in the SyncHdr Status.
    pub status: AuthStatus,
    /// The `Chal` to send with it (a new challenge, or the next nonce).
    pub challenge: Option<Challenge>,
    /// The reason for a failure; `None` when the message is accepted.
    pub failure: Option<AuthError>,
    /// True when the session must end now (too many failures): reply with Status only, then stop.
    pub end_session: bool,
}

impl Verdict {
    /// Whether the message is accepted as authenticated.
    pub fn accepted(&self) -> bool {
        self.failure.is_none()
    }
}

/// Where the verifier is in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VerifierState {
    Open { failures: u32 },
    Authenticated,
    Closed { failures: u32 },
}

/// The side that checks credentials (server for CLCRED, client for SRVCRED), for one session.
///
/// Life cycle (digest §4): the stored nonce is used until the first challenge; a missing credential
/// gets 407 with a `Chal` of the current nonce; a wrong one gets 401 with a `Chal` of a **fresh**
/// nonce, up to `max_failures` times, after which the session ends. Success with `Cred` gives 212
/// and a `Chal` holding the next session's nonce; under HMAC every message is checked and answered
/// 200 with a new nonce. Each success spends its nonce, and a credential made with a spent nonce is
/// refused as a replay.
pub struct Verifier<'s> {
    account: AccountCredentials,
    scheme: AuthScheme,
    hmac_algorithm: Option<HashAlgorithm>,
    ledger: NonceLedger,
    source: &'s mut dyn NonceSource,
    state: VerifierState,
    max_failures: u32,
}

impl std::fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("account", &self.account)
            .field("scheme", &self.scheme)
            .field("ledger", &self.ledger)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<'s> Verifier<'s> {
    /// Failures allowed in a session before it ends: the first failure is re-challenged once
    /// with a fresh nonce, the second ends the session (digest §4).
    pub const DEFAULT_MAX_FAILURES: u32 = 2;

    /// A verifier for one session of an account that requires `scheme`.
    pub fn new(
        account: AccountCredentials,
        scheme: AuthScheme,
        ledger: NonceLedger,
        source: &'s mut dyn NonceSource,
    ) -> Verifier<'s> {
        Verifier {
            account,
            scheme,
            hmac_algorithm: None,
            ledger,
            source,
            state: VerifierState::Open { failures: 0 },
            max_failures: Self::DEFAULT_MAX_FAILURES,
        }
    }

    /// Sets how many failures end the session (at least 1).
    pub fn with_max_failures(mut self, max: u32) -> Self {
        self.max_failures = max.max(1);
        self
    }

    /// Under `syncml:auth-MAC`, requires this HMAC algorithm instead of accepting MD5 or SHA-256.
    pub fn require_hmac_algorithm(mut self, algorithm: HashAlgorithm) -> Self {
        self.hmac_algorithm = Some(algorithm);
        self
    }

    /// The nonce state to persist after the session.
    pub fn ledger(&self) -> &NonceLedger {
        &self.ledger
    }

    /// Whether the session is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.state == VerifierState::Authenticated
    }

    /// A `Chal` for the account's scheme with the current nonce (for a verifier that challenges
    /// first, e.g. a client answering a server that sent no credentials in its first package).
    pub fn challenge(&self) -> Challenge {
        Challenge {
            scheme: self.scheme.clone(),
            next_nonce: self.scheme.uses_nonce().then(|| self.ledger.current().clone()),
        }
    }

    /// Checks what arrived with one message and says how to answer it.
    ///
    /// Errors only when no fresh nonce can be generated; every protocol failure is a [`Verdict`].
    pub fn check(&mut self, presented: Presented<'_>) -> Result<Verdict, AuthError> {
        let failures = match self.state {
            VerifierState::Closed { failures } => {
                return Ok(self.verdict_fail(AuthError::TooManyFailures { failures }, None, true));
            }
            VerifierState::Authenticated if self.scheme != AuthScheme::Mac => {
                // 212 ended authentication for the session: later credentials are not needed and
                // are not re-checked (they were made with the nonce 212 replaced).
                return Ok(Verdict { status: AuthStatus::Ok, challenge: None, failure: None, end_session: false });
            }
            VerifierState::Authenticated => 0,
            VerifierState::Open { failures } => failures,
        };
        let result = match presented {
            Presented::Nothing if self.scheme == AuthScheme::Mac => Err(AuthError::HmacMissing),
            Presented::Nothing => Err(AuthError::MissingCredentials),
            Presented::Cred(cred) => self.check_cred(cred),
            Presented::Hmac { header, body } => self.check_hmac(header, body),
        };
        match result {
            Ok(()) => {
                if self.scheme.uses_nonce() {
                    self.ledger.spend_and_rotate(self.source)?;
                }
                self.state = VerifierState::Authenticated;
                let (status, challenge) = match self.scheme {
                    AuthScheme::Basic => (AuthStatus::Authenticated, None),
                    AuthScheme::Mac => (AuthStatus::Ok, Some(self.challenge())),
                    _ => (AuthStatus::Authenticated, Some(self.challenge())),
                };
                Ok(Verdict { status, challenge, failure: None, end_session: false })
            }
            // Missing credentials are asked for (407), not counted as a failure.
            Err(err @ (AuthError::MissingCredentials | AuthError::HmacMissing)) => Ok(Verdict {
                status: AuthStatus::MissingCredentials,
                challenge: Some(self.challenge()),
                failure: Some(err),
                end_session: false,
            }),
            Err(err) => {
                let failures = failures + 1;
                if failures >= self.max_failures {
                    self.state = VerifierState::Closed { failures };
                    return Ok(self.verdict_fail(err, None, true));
                }
                self.state = VerifierState::Open { failures };
                if self.scheme.uses_nonce() {
                    self.ledger.rotate(self.source)?;
                }
                let chal = self.challenge();
                Ok(self.verdict_fail(err, Some(chal), false))
            }
        }
    }

    fn verdict_fail(&self, err: AuthError, challenge: Option<Challenge>, end: bool) -> Verdict {
        Verdict { status: AuthStatus::InvalidCredentials, challenge, failure: Some(err), end_session: end }
    }

    fn check_cred(&self, cred: &Credential) -> Result<(), AuthError> {
        if self.scheme == AuthScheme::Mac {
            return Err(AuthError::SchemeMismatch { expected: AuthScheme::Mac, got: cred.scheme.clone() });
        }
        if cred.scheme != self.scheme {
            return Err(match &cred.scheme {
                AuthScheme::Unknown(s) => AuthError::UnsupportedScheme(s.clone()),
                other => AuthError::SchemeMismatch { expected: self.scheme.clone(), got: other.clone() },
            });
        }
        match cred.verify(&self.account, self.ledger.current()) {
            Err(AuthError::CredentialMismatch { scheme }) => {
                if self.ledger.spent().any(|n| cred.verify(&self.account, n).is_ok()) {
                    Err(AuthError::NonceReplayed { scheme })
                } else {
                    Err(AuthError::CredentialMismatch { scheme })
                }
            }
            other => other,
        }
    }

    fn check_hmac(&self, header: &str, body: &[u8]) -> Result<(), AuthError> {
        if self.scheme != AuthScheme::Mac {
            return Err(AuthError::SchemeMismatch { expected: self.scheme.clone(), got: AuthScheme::Mac });
        }
        let parsed = HmacHeader::parse(header)?;
        if let Some(required) = self.hmac_algorithm {
            if parsed.algorithm != required {
                return Err(AuthError::HmacAlgorithmMismatch { expected: required, got: parsed.algorithm });
            }
        }
        match parsed.verify(&self.account, self.ledger.current(), body) {
            Err(AuthError::CredentialMismatch { scheme }) => {
                if self.ledger.spent().any(|n| parsed.verify(&self.account, n, body).is_ok()) {
                    Err(AuthError::NonceReplayed { scheme })
                } else {
                    Err(AuthError::CredentialMismatch { scheme })
                }
            }
            other => other,
        }
    }
}

/// What the prover should do after the peer's SyncHdr Status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProverAction {
    /// Go on; send credentials again with the next message (200 under a Cred scheme or HMAC).
    Continue,
    /// Authenticated for the session (212): send no more credentials.
    Authenticated,
    /// Challenged (401/407 with a `Chal`): resend the package with the new credentials.
    Retry,
}

/// The side that presents credentials (client for CLCRED, server for SRVCRED), for one session.
///
/// It starts from the stored nonce and scheme; a `Chal` replaces them (the scheme only until the
/// session is authenticated, and never by a weaker one than the account's: a challenge for a weaker
/// scheme is refused with [`AuthError::SchemeDowngrade`], see [`AuthScheme::is_weaker_than`]). Nonces
/// received while the peer itself is not yet authenticated are used but not stored (digest §4):
/// [`Prover::peer_authenticated`] releases them for storage.
#[derive(Debug, Clone)]
pub struct Prover {
    account: AccountCredentials,
    scheme: AuthScheme,
    configured: AuthScheme,
    hmac_algorithm: HashAlgorithm,
    nonce: Nonce,
    stored: Nonce,
    stored_scheme: AuthScheme,
    peer_trusted: bool,
    authenticated: bool,
    retries: u32,
    max_retries: u32,
}

impl Prover {
    /// Challenges (401/407 with `Chal`) answered in one session before giving up.
    pub const DEFAULT_MAX_RETRIES: u32 = 3;

    /// A prover for one session, starting from the stored scheme and nonce (`AAuthPref`/`AAuthType`
    /// and `AAuthData`). That scheme is also the weakest one a challenge may move it to.
    pub fn new(account: AccountCredentials, scheme: AuthScheme, stored_nonce: Nonce) -> Prover {
        Prover {
            account,
            scheme: scheme.clone(),
            configured: scheme.clone(),
            hmac_algorithm: HashAlgorithm::Md5,
            nonce: stored_nonce.clone(),
            stored: stored_nonce,
            stored_scheme: scheme,
            peer_trusted: false,
            authenticated: false,
            retries: 0,
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }

    /// Sets the HMAC algorithm used under `syncml:auth-MAC` (default MD5; SHA-256 with 1.3 peers).
    pub fn with_hmac_algorithm(mut self, algorithm: HashAlgorithm) -> Self {
        self.hmac_algorithm = algorithm;
        self
    }

    /// Sets how many challenges are answered in a session before giving up.
    pub fn with_max_retries(mut self, max: u32) -> Self {
        self.max_retries = max;
        self
    }

    /// The scheme in force.
    pub fn scheme(&self) -> &AuthScheme {
        &self.scheme
    }

    /// The `Cred` for the next message, or `None` when none is needed (after 212, or under HMAC,
    /// where [`Prover::hmac_header`] applies instead).
    pub fn credential(&self) -> Result<Option<Credential>, AuthError> {
        if self.authenticated || self.scheme == AuthScheme::Mac {
            return Ok(None);
        }
        Credential::compute(&self.scheme, &self.account, &self.nonce).map(Some)
    }

    /// The `x-syncml-hmac` header for a body about to be sent, under `syncml:auth-MAC` (else `None`).
    pub fn hmac_header(&self, body: &[u8]) -> Option<HmacHeader> {
        if self.scheme != AuthScheme::Mac {
            return None;
        }
        Some(HmacHeader::compute(self.hmac_algorithm, &self.account, &self.nonce, body))
    }

    /// Takes in the SyncHdr Status (numeric code) and `Chal` the peer answered with.
    ///
    /// Errors when the challenge cannot be answered (the session then ends with an authentication
    /// failure): no `Chal`, too many challenges, an unknown scheme, a scheme change after
    /// authentication, or a scheme weaker than the account's ([`AuthError::SchemeDowngrade`]).
    pub fn on_status(&mut self, code: u16, chal: Option<&Challenge>) -> Result<ProverAction, AuthError> {
        match AuthStatus::from_code(code) {
            Some(AuthStatus::Authenticated) => {
                self.authenticated = true;
                // A Chal with 212 carries the next session's nonce (and scheme, kept only if it is
                // not weaker than the account's).
                if let Some(c) = chal {
                    self.take_nonce(c);
                    if self.peer_trusted && !c.scheme.is_weaker_than(&self.configured) {
                        self.stored_scheme = c.scheme.clone();
                    }
                }
                Ok(ProverAction::Authenticated)
            }
            Some(AuthStatus::Ok) => {
                if let Some(c) = chal {
                    self.check_scheme_change(c)?;
                    self.take_nonce(c);
                }
                if self.scheme == AuthScheme::Mac {
                    self.authenticated = true;
                }
                Ok(ProverAction::Continue)
            }
            Some(AuthStatus::InvalidCredentials) | Some(AuthStatus::MissingCredentials) => {
                let attempts = self.retries + 1;
                let Some(c) = chal else {
                    return Err(AuthError::Refused { attempts });
                };
                self.check_scheme_change(c)?;
                if self.retries >= self.max_retries {
                    return Err(AuthError::Refused { attempts });
                }
                if !c.scheme.is_supported() {
                    return Err(AuthError::UnsupportedScheme(c.scheme.to_string()));
                }
                // Answering a weaker challenge would hand an unproven responder a weaker credential
                // (basic: the password itself), so the session ends instead.
                if c.scheme.is_weaker_than(&self.configured) {
                    return Err(AuthError::SchemeDowngrade {
                        configured: self.configured.clone(),
                        offered: c.scheme.clone(),
                    });
                }
                self.retries += 1;
                self.scheme = c.scheme.clone();
                self.take_nonce(c);
                self.authenticated = false;
                Ok(ProverAction::Retry)
            }
            // Any other header status says nothing about authentication.
            None => Ok(ProverAction::Continue),
        }
    }

    /// Records that the peer has authenticated itself to us (its credentials verified), so that
    /// nonces it sent may now be stored.
    pub fn peer_authenticated(&mut self) {
        self.peer_trusted = true;
        self.stored = self.nonce.clone();
        self.stored_scheme = self.scheme.clone();
    }

    /// The nonce to persist in `AAuthData` after the session (only ever one from a trusted peer).
    pub fn nonce_to_store(&self) -> &Nonce {
        &self.stored
    }

    /// The scheme to persist as the account's preference after the session.
    pub fn scheme_to_store(&self) -> &AuthScheme {
        &self.stored_scheme
    }

    fn take_nonce(&mut self, chal: &Challenge) {
        if let Some(n) = &chal.next_nonce {
            self.nonce = n.clone();
            if self.peer_trusted {
                self.stored = n.clone();
            }
        }
    }

    fn check_scheme_change(&self, chal: &Challenge) -> Result<(), AuthError> {
        if self.authenticated && chal.scheme != self.scheme {
            return Err(AuthError::SchemeChangedInSession { from: self.scheme.clone(), to: chal.scheme.clone() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nonce::NonceError;

    /// Deterministic nonces 1, 2, 3, … (16 bytes each) for reproducible tests.
    struct Counter(u8);

    impl NonceSource for Counter {
        fn next_nonce(&mut self) -> Result<Nonce, NonceError> {
            self.0 += 1;
            Ok(Nonce::from_bytes(vec![self.0; 16]))
        }
    }

    fn client() -> AccountCredentials {
        AccountCredentials::new("dev", "clientpwd")
    }

    fn n(b: u8) -> Nonce {
        Nonce::from_bytes(vec![b; 16])
    }

    #[test]
    fn md5_session_ends_with_212_and_the_next_nonce() {
        let mut src = Counter(10);
        let mut server = Verifier::new(client(), AuthScheme::Md5, NonceLedger::new(n(1)), &mut src);
        let mut dev = Prover::new(client(), AuthScheme::Md5, n(1));
        dev.peer_authenticated();
        let cred = dev.credential().expect("compute").expect("a cred");
        let v = server.check(Presented::Cred(&cred)).expect("check");
        assert_eq!(v.status, AuthStatus::Authenticated);
        assert!(v.accepted());
        let chal = v.challenge.expect("next nonce");
        assert_eq!(chal.next_nonce, Some(n(11)));
        assert_eq!(dev.on_status(212, Some(&chal)), Ok(ProverAction::Authenticated));
        assert_eq!(dev.credential(), Ok(None), "no Cred after 212");
        assert_eq!(dev.nonce_to_store(), &n(11));
        // Later messages without Cred are fine.
        let later = server.check(Presented::Nothing).expect("check");
        assert_eq!((later.status, later.accepted()), (AuthStatus::Ok, true));
        assert_eq!(server.ledger().current(), &n(11));
        assert_eq!(server.ledger().spent().collect::<Vec<_>>(), vec![&n(1)]);
    }

    #[test]
    fn replayed_credential_is_refused_as_a_replay() {
        let old = Credential::compute(&AuthScheme::Md5, &client(), &n(1)).expect("cred");
        let mut src = Counter(20);
        let ledger = NonceLedger::restore(n(11), [n(1)]);
        let mut server = Verifier::new(client(), AuthScheme::Md5, ledger, &mut src);
        let v = server.check(Presented::Cred(&old)).expect("check");
        assert_eq!(v.status, AuthStatus::InvalidCredentials);
        assert_eq!(v.failure, Some(AuthError::NonceReplayed { scheme: AuthScheme::Md5 }));
        assert_eq!(v.challenge.and_then(|c| c.next_nonce), Some(n(21)), "re-challenged with a fresh nonce");
    }

    #[test]
    fn wrong_password_is_rechallenged_once_then_the_session_ends() {
        let mut src = Counter(30);
        let mut server = Verifier::new(client(), AuthScheme::Md5, NonceLedger::new(n(1)), &mut src);
        let wrong = AccountCredentials::new("dev", "guess");
        let c1 = Credential::compute(&AuthScheme::Md5, &wrong, &n(1)).expect("cred");
        let v1 = server.check(Presented::Cred(&c1)).expect("check");
        assert_eq!(v1.failure, Some(AuthError::CredentialMismatch { scheme: AuthScheme::Md5 }));
        assert_eq!((v1.status, v1.end_session), (AuthStatus::InvalidCredentials, false));
        let fresh = v1.challenge.and_then(|c| c.next_nonce).expect("fresh nonce");
        assert_eq!(fresh, n(31));
        let c2 = Credential::compute(&AuthScheme::Md5, &wrong, &fresh).expect("cred");
        let v2 = server.check(Presented::Cred(&c2)).expect("check");
        assert!(v2.end_session);
        assert_eq!(v2.challenge, None);
        let v3 = server.check(Presented::Cred(&c2)).expect("check");
        assert_eq!(v3.failure, Some(AuthError::TooManyFailures { failures: 2 }));
    }

    #[test]
    fn missing_credentials_get_407_with_the_stored_nonce() {
        let mut src = Counter(40);
        let mut server = Verifier::new(client(), AuthScheme::Md5, NonceLedger::new(n(1)), &mut src);
        let v = server.check(Presented::Nothing).expect("check");
        assert_eq!(v.status, AuthStatus::MissingCredentials);
        assert_eq!(v.failure, Some(AuthError::MissingCredentials));
        assert_eq!(v.challenge.map(|c| (c.scheme, c.next_nonce)), Some((AuthScheme::Md5, Some(n(1)))));
        assert!(!v.end_session);
    }

    #[test]
    fn scheme_mismatches_are_reported() {
        let mut src = Counter(0);
        let mut server = Verifier::new(client(), AuthScheme::Md5, NonceLedger::new(n(1)), &mut src);
        let basic = Credential::compute(&AuthScheme::Basic, &client(), &n(1)).expect("cred");
        let v = server.check(Presented::Cred(&basic)).expect("check");
        assert_eq!(v.failure, Some(AuthError::SchemeMismatch { expected: AuthScheme::Md5, got: AuthScheme::Basic }));
        let x509 = Credential { scheme: AuthScheme::parse("syncml:auth-X509"), data: "x".into() };
        let mut src = Counter(0);
        let mut server = Verifier::new(client(), AuthScheme::Md5, NonceLedger::new(n(1)), &mut src);
        let v = server.check(Presented::Cred(&x509)).expect("check");
        assert_eq!(v.failure, Some(AuthError::UnsupportedScheme("syncml:auth-X509".into())));
    }

    #[test]
    fn basic_needs_no_nonce_and_does_not_rotate() {
        let mut src = Counter(0);
        let mut server = Verifier::new(client(), AuthScheme::Basic, NonceLedger::new(n(1)), &mut src);
        let cred = Credential::compute(&AuthScheme::Basic, &client(), &Nonce::default()).expect("cred");
        let v = server.check(Presented::Cred(&cred)).expect("check");
        assert_eq!((v.status, v.challenge), (AuthStatus::Authenticated, None));
        assert_eq!(server.ledger().current(), &n(1));
    }

    #[test]
    fn prover_retries_after_a_challenge_and_switches_scheme() {
        let mut dev = Prover::new(client(), AuthScheme::Basic, Nonce::default());
        let first = dev.credential().expect("cred").expect("some");
        assert_eq!(first.scheme, AuthScheme::Basic);
        let chal = Challenge { scheme: AuthScheme::Md5, next_nonce: Some(n(5)) };
        assert_eq!(dev.on_status(401, Some(&chal)), Ok(ProverAction::Retry));
        let second = dev.credential().expect("cred").expect("some");
        assert_eq!(second, Credential::compute(&AuthScheme::Md5, &client(), &n(5)).expect("cred"));
        // The peer is not authenticated: its nonce is used but not stored.
        assert_eq!(dev.nonce_to_store(), &Nonce::default());
        assert_eq!(dev.scheme_to_store(), &AuthScheme::Basic);
        dev.peer_authenticated();
        assert_eq!(dev.nonce_to_store(), &n(5));
        assert_eq!(dev.scheme_to_store(), &AuthScheme::Md5);
    }

    #[test]
    fn prover_gives_up_when_refused() {
        let mut dev = Prover::new(client(), AuthScheme::Md5, n(1)).with_max_retries(1);
        assert_eq!(dev.on_status(401, None), Err(AuthError::Refused { attempts: 1 }));
        let chal = Challenge { scheme: AuthScheme::Md5, next_nonce: Some(n(2)) };
        assert_eq!(dev.on_status(401, Some(&chal)), Ok(ProverAction::Retry));
        assert_eq!(dev.on_status(401, Some(&chal)), Err(AuthError::Refused { attempts: 2 }));
        let unknown = Challenge { scheme: AuthScheme::parse("syncml:auth-foo"), next_nonce: None };
        let mut dev = Prover::new(client(), AuthScheme::Md5, n(1));
        assert_eq!(dev.on_status(407, Some(&unknown)), Err(AuthError::UnsupportedScheme("syncml:auth-foo".into())));
        assert_eq!(dev.on_status(500, None), Ok(ProverAction::Continue));
    }

    #[test]
    fn a_weaker_scheme_in_a_212_chal_is_not_stored() {
        let mut dev = Prover::new(client(), AuthScheme::Md5, n(1));
        dev.peer_authenticated();
        let chal = Challenge { scheme: AuthScheme::Basic, next_nonce: Some(n(2)) };
        assert_eq!(dev.on_status(212, Some(&chal)), Ok(ProverAction::Authenticated));
        assert_eq!(dev.scheme_to_store(), &AuthScheme::Md5);
        assert_eq!(dev.nonce_to_store(), &n(2));
        let mut dev = Prover::new(client(), AuthScheme::Md5, n(1));
        dev.peer_authenticated();
        let chal = Challenge { scheme: AuthScheme::Sha256, next_nonce: Some(n(3)) };
        assert_eq!(dev.on_status(212, Some(&chal)), Ok(ProverAction::Authenticated));
        assert_eq!(dev.scheme_to_store(), &AuthScheme::Sha256);
    }

    #[test]
    fn prover_refuses_a_scheme_change_after_authentication() {
        let mut dev = Prover::new(client(), AuthScheme::Mac, n(1));
        assert_eq!(
            dev.on_status(200, Some(&Challenge { scheme: AuthScheme::Mac, next_nonce: Some(n(2)) })),
            Ok(ProverAction::Continue)
        );
        let chal = Challenge { scheme: AuthScheme::Basic, next_nonce: None };
        assert_eq!(
            dev.on_status(401, Some(&chal)),
            Err(AuthError::SchemeChangedInSession { from: AuthScheme::Mac, to: AuthScheme::Basic })
        );
    }

    #[test]
    fn hmac_session_checks_every_message_and_refuses_replays() {
        let mut src = Counter(50);
        let mut server = Verifier::new(client(), AuthScheme::Mac, NonceLedger::new(n(1)), &mut src)
            .require_hmac_algorithm(HashAlgorithm::Md5);
        let mut dev = Prover::new(client(), AuthScheme::Mac, n(1));
        assert_eq!(dev.credential(), Ok(None), "HMAC uses no Cred");
        let body1 = b"<SyncML>1</SyncML>";
        let h1 = dev.hmac_header(body1).expect("header").to_value();
        let v1 = server.check(Presented::Hmac { header: &h1, body: body1 }).expect("check");
        assert_eq!(v1.status, AuthStatus::Ok, "HMAC answers 200, not 212");
        let chal = v1.challenge.expect("a NextNonce with every message");
        assert_eq!(dev.on_status(200, Some(&chal)), Ok(ProverAction::Continue));
        let body2 = b"<SyncML>2</SyncML>";
        let h2 = dev.hmac_header(body2).expect("header").to_value();
        let v2 = server.check(Presented::Hmac { header: &h2, body: body2 }).expect("check");
        assert!(v2.accepted());
        // Replaying message 1 as is:
        let v3 = server.check(Presented::Hmac { header: &h1, body: body1 }).expect("check");
        assert_eq!(v3.failure, Some(AuthError::NonceReplayed { scheme: AuthScheme::Mac }));
        // A missing header is asked for.
        let v4 = server.check(Presented::Nothing).expect("check");
        assert_eq!((v4.status, v4.failure), (AuthStatus::MissingCredentials, Some(AuthError::HmacMissing)));
        // A SHA-256 header where MD5 is required.
        let sha = HmacHeader::compute(HashAlgorithm::Sha256, &client(), server.ledger().current(), body2).to_value();
        let v5 = server.check(Presented::Hmac { header: &sha, body: body2 }).expect("check");
        assert_eq!(
            v5.failure,
            Some(AuthError::HmacAlgorithmMismatch { expected: HashAlgorithm::Md5, got: HashAlgorithm::Sha256 })
        );
    }

    #[test]
    fn malformed_hmac_header_is_a_failure_verdict() {
        let mut src = Counter(0);
        let mut server = Verifier::new(client(), AuthScheme::Mac, NonceLedger::new(n(1)), &mut src);
        let v = server.check(Presented::Hmac { header: "username=dev", body: b"" }).expect("check");
        assert_eq!(v.failure, Some(AuthError::HmacMissingParameter("mac")));
        assert_eq!(v.status, AuthStatus::InvalidCredentials);
    }

    #[test]
    fn ledger_history_is_bounded() {
        let mut ledger = NonceLedger::new(n(0));
        let mut src = Counter(0);
        for _ in 0..40 {
            ledger.spend_and_rotate(&mut src).expect("rotate");
        }
        assert_eq!(ledger.spent().count(), SPENT_NONCE_HISTORY);
    }

    #[test]
    fn status_codes_map_both_ways() {
        for s in
            [AuthStatus::Ok, AuthStatus::Authenticated, AuthStatus::InvalidCredentials, AuthStatus::MissingCredentials]
        {
            assert_eq!(AuthStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(AuthStatus::from_code(500), None);
    }
}
