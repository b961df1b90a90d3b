//! Negative tests: each refusal comes with its precise error variant.

use omadm_security::nonce::NonceError;
use omadm_security::notification::{
    GeneralNotification, Notification13, NotificationKey, NotificationKeys, ReplayGuard, SessionId, UiMode,
};
use omadm_security::{
    AccountCredentials, AuthError, AuthScheme, Credential, Dm13Profile, HmacHeader, Initiator, Nonce, NonceLedger,
    NonceSource, Notification, NotificationError, NotificationLayout, Presented, Verifier,
};

const PACKAGE0_TSV: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/package0.tsv"));

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// The hex of a package0.tsv row.
fn vector(name: &str) -> Vec<u8> {
    let line = PACKAGE0_TSV.lines().find(|l| l.starts_with(&format!("{name}\t"))).expect("row");
    hex(line.split('\t').nth(8).expect("hex column"))
}

fn funambol_key() -> NotificationKey {
    NotificationKey::md5("funambol", "srvpwd", Nonce::default())
}

fn parse12(bytes: &[u8]) -> Result<omadm_security::ParsedNotification, NotificationError> {
    Notification::parse(bytes, NotificationLayout::General12)
}

#[test]
fn wrong_password_md5_cred() {
    let nonce = Nonce::from_bytes(b"Nonce".to_vec());
    let cred =
        Credential::compute(&AuthScheme::Md5, &AccountCredentials::new("Bruce2", "OhBehave"), &nonce).expect("cred");
    assert_eq!(
        cred.verify(&AccountCredentials::new("Bruce2", "OhBehave!"), &nonce),
        Err(AuthError::CredentialMismatch { scheme: AuthScheme::Md5 })
    );
    let sha = Credential::compute(&AuthScheme::Sha256, &AccountCredentials::new("u", "p"), &nonce).expect("cred");
    assert_eq!(
        sha.verify(&AccountCredentials::new("u", "q"), &nonce),
        Err(AuthError::CredentialMismatch { scheme: AuthScheme::Sha256 })
    );
    let not_b64 = Credential { scheme: AuthScheme::Md5, data: "%%%".into() };
    assert_eq!(
        not_b64.verify(&AccountCredentials::new("u", "p"), &nonce),
        Err(AuthError::BadBase64 { what: "credential" })
    );
}

#[test]
fn wrong_password_package0() {
    let parsed = parse12(&vector("v11_wrong_password")).expect("parse");
    assert_eq!(parsed.verify(&funambol_key()), Err(NotificationError::DigestMismatch));
    assert_eq!(parsed.verify_with_resync(&funambol_key()), Err(NotificationError::DigestMismatch));
}

#[test]
fn tampered_trigger_byte() {
    let good = vector("v11_background");
    assert_eq!(parse12(&good).expect("parse").verify(&funambol_key()), Ok(()));
    for i in 16..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        match parse12(&bad) {
            Ok(p) => assert_eq!(p.verify(&funambol_key()), Err(NotificationError::DigestMismatch), "byte {i}"),
            // Flipping a version bit or the idlen byte is caught by the parser already.
            Err(e) => assert!(
                matches!(e, NotificationError::ServerIdPastEnd { .. } | NotificationError::UnsupportedVersion(_)),
                "byte {i}: {e}"
            ),
        }
    }
    // The ui-mode byte in particular (background → informative).
    let mut ui = good.clone();
    ui[17] ^= 0x30;
    let p = parse12(&ui).expect("parse");
    assert_eq!(p.notification.ui_mode(), UiMode::Informative);
    assert_eq!(p.verify(&funambol_key()), Err(NotificationError::DigestMismatch));
    let mut digest = good;
    digest[0] ^= 0x80;
    assert_eq!(parse12(&digest).expect("parse").verify(&funambol_key()), Err(NotificationError::DigestMismatch));
}

#[test]
fn truncated_package0() {
    let good = vector("v11_background");
    for len in 0..16 {
        assert_eq!(
            parse12(&good[..len]).map(|_| ()),
            Err(NotificationError::Truncated { part: "digest", needed: 16, available: len })
        );
    }
    for len in 16..23 {
        assert_eq!(
            parse12(&good[..len]).map(|_| ()),
            Err(NotificationError::Truncated { part: "header", needed: 23, available: len })
        );
    }
    assert_eq!(
        parse12(&good[..23]).map(|_| ()),
        Err(NotificationError::Truncated { part: "server-id length", needed: 24, available: 23 })
    );
    for len in 24..good.len() {
        assert_eq!(
            parse12(&good[..len]).map(|_| ()),
            Err(NotificationError::ServerIdPastEnd { length: 8, available: len - 24 })
        );
    }
}

#[test]
fn server_id_length_past_the_end() {
    let mut bad = vector("v11_background");
    bad[23] = 200; // idlen
    assert_eq!(parse12(&bad).map(|_| ()), Err(NotificationError::ServerIdPastEnd { length: 200, available: 8 }));
}

#[test]
fn unsupported_versions_are_refused() {
    let mut v10 = vector("v11_background");
    v10[17] = (v10[17] & 0x3f) | 0x80; // version 10 = 0b0000001010
    assert_eq!(parse12(&v10).map(|_| ()), Err(NotificationError::UnsupportedVersion(10)));
}

/// Deterministic nonce source for the verifier.
struct Fixed(u8);

impl NonceSource for Fixed {
    fn next_nonce(&mut self) -> Result<Nonce, NonceError> {
        self.0 = self.0.wrapping_add(1);
        Ok(Nonce::from_bytes(vec![self.0; 16]))
    }
}

#[test]
fn replayed_nonce() {
    let acct = AccountCredentials::new("dev", "pw");
    let mut src = Fixed(0);
    let stored = Nonce::from_bytes(vec![0xAA; 16]);
    let cred = Credential::compute(&AuthScheme::Md5, &acct, &stored).expect("cred");
    let mut session1 = Verifier::new(acct.clone(), AuthScheme::Md5, NonceLedger::new(stored), &mut src);
    assert!(session1.check(Presented::Cred(&cred)).expect("check").accepted());
    let ledger = session1.ledger().clone();
    // The next session: the same credential again.
    let mut src2 = Fixed(100);
    let mut session2 = Verifier::new(acct, AuthScheme::Md5, ledger, &mut src2);
    let v = session2.check(Presented::Cred(&cred)).expect("check");
    assert_eq!(v.failure, Some(AuthError::NonceReplayed { scheme: AuthScheme::Md5 }));
    assert_eq!(v.status.code(), 401);
}

#[test]
fn replayed_notification() {
    let parsed = parse12(&vector("v11_background")).expect("parse");
    parsed.verify(&funambol_key()).expect("verifies");
    let mut guard = ReplayGuard::default();
    assert_eq!(guard.accept(&parsed.notification), Ok(()));
    assert_eq!(
        guard.accept(&parsed.notification),
        Err(NotificationError::Replayed { server_id: "funambol".into(), session_id: SessionId(0x1234) })
    );
}

#[test]
fn malformed_hmac_headers() {
    let cases: [(&str, AuthError); 7] = [
        ("", AuthError::HmacEmpty),
        ("username=\"bob, mac=AAAA", AuthError::HmacUnterminatedQuote),
        ("username=bob, junk, mac=AAAA", AuthError::HmacMalformedParameter("junk".into())),
        ("username=bob, mac=AAAA, MAC=BBBB", AuthError::HmacDuplicateParameter("MAC".into())),
        ("algorithm=MD5, mac=AAAA", AuthError::HmacMissingParameter("username")),
        ("algorithm=MD5, username=bob", AuthError::HmacMissingParameter("mac")),
        ("algorithm=SHA-512, username=bob, mac=AAAA", AuthError::HmacUnknownAlgorithm("SHA-512".into())),
    ];
    for (value, err) in cases {
        assert_eq!(HmacHeader::parse(value), Err(err), "{value:?}");
    }
    let bad_mac = HmacHeader::parse("username=bob, mac=@@@@").expect("syntax is fine");
    assert_eq!(
        bad_mac.verify(&AccountCredentials::new("bob", "pw"), &Nonce::default(), b""),
        Err(AuthError::BadBase64 { what: "HMAC" })
    );
}

#[test]
fn unknown_scheme_is_reported_not_guessed() {
    let cred = Credential::from_meta(Some("syncml:auth-X509"), Some("b64"), "AAAA").expect("cred");
    assert_eq!(cred.scheme, AuthScheme::Unknown("syncml:auth-X509".into()));
    assert_eq!(
        cred.verify(&AccountCredentials::new("a", "b"), &Nonce::default()),
        Err(AuthError::UnsupportedScheme("syncml:auth-X509".into()))
    );
}

#[test]
fn reset_nonce_resync_in_all_three_spellings() {
    let n = GeneralNotification::new("funambol", SessionId(9), UiMode::Background, Initiator::Server);
    let stored = NotificationKey::md5("funambol", "srvpwd", Nonce::from_bytes(b"stored".to_vec()));
    for spelling in [&[0u8, 0, 0, 0][..], b"0x00000000", b"AAAAAA=="] {
        let signer = NotificationKey::md5("funambol", "srvpwd", Nonce::from_bytes(spelling.to_vec()));
        let p = parse12(&n.build(&signer).expect("build")).expect("parse");
        assert_eq!(p.verify(&stored), Err(NotificationError::DigestMismatch));
        assert_eq!(p.verify_with_resync(&stored), Ok(omadm_security::notification::NonceMatch::Reset));
    }
    let p = parse12(&n.build(&stored).expect("build")).expect("parse");
    assert_eq!(p.verify_with_resync(&stored), Ok(omadm_security::notification::NonceMatch::Stored));
}

#[test]
fn separate_notification_credentials() {
    let n13 = Notification13::new("srv", SessionId(1), UiMode::Background, Initiator::Server);
    let noti_key = NotificationKey::md5("srv", "notipw", Nonce::default());
    let srv_key = NotificationKey::md5("srv", "srvpw", Nonce::default());
    let parsed = Notification::parse(&n13.build(&noti_key).expect("build"), NotificationLayout::Tlv).expect("parse");
    let keys = NotificationKeys { server: srv_key.clone(), notification: Some(noti_key) };
    let profile = Dm13Profile::default();
    assert_eq!(parsed.verify(keys.key_for(&parsed.notification, &profile).expect("key")), Ok(()));
    // Without notification credentials, SRVCRED is used (and fails here), unless the profile forbids it.
    let only_srv = NotificationKeys { server: srv_key, notification: None };
    let k = only_srv.key_for(&parsed.notification, &profile).expect("fallback");
    assert_eq!(parsed.verify(k), Err(NotificationError::DigestMismatch));
    let strict = Dm13Profile { notification_key_fallback: false, ..Dm13Profile::default() };
    assert_eq!(
        only_srv.key_for(&parsed.notification, &strict).map(|_| ()),
        Err(NotificationError::NoNotificationCredentials("srv".into()))
    );
}

/// A responder that has not proven itself answers an MD5 device's Package 1 as a Basic account
/// would (401 with a basic `Chal`): the device must not resend its password base64-encoded.
#[test]
fn challenge_cannot_downgrade_the_scheme() {
    use omadm_security::{Challenge, Prover};
    let device = AccountCredentials::new("IMEI:1", "devsecret");
    let mut src = Fixed(0);
    let mut rogue = Verifier::new(device.clone(), AuthScheme::Basic, NonceLedger::new(nonce(1)), &mut src);
    let mut dev = Prover::new(device.clone(), AuthScheme::Md5, nonce(1));
    let cred = dev.credential().expect("cred").expect("some");
    let verdict = rogue.check(Presented::Cred(&cred)).expect("check");
    let chal = verdict.challenge.expect("the rogue challenges for basic");
    assert_eq!(chal.scheme, AuthScheme::Basic);
    assert_eq!(
        dev.on_status(verdict.status.code(), Some(&chal)),
        Err(AuthError::SchemeDowngrade { configured: AuthScheme::Md5, offered: AuthScheme::Basic }),
        "the prover says it cannot answer, so the session ends"
    );
    let resent = dev.credential().expect("cred").expect("some");
    assert_eq!(resent.scheme, AuthScheme::Md5, "never a basic credential (the password in clear)");

    // The same for the other weaker pairs.
    for (configured, offered) in [
        (AuthScheme::Mac, AuthScheme::Basic),
        (AuthScheme::Mac, AuthScheme::Md5),
        (AuthScheme::Mac, AuthScheme::Sha256),
        (AuthScheme::Sha256, AuthScheme::Md5),
        (AuthScheme::Sha256, AuthScheme::Basic),
    ] {
        let mut dev = Prover::new(device.clone(), configured.clone(), nonce(1));
        let chal = Challenge { scheme: offered.clone(), next_nonce: Some(nonce(2)) };
        assert_eq!(
            dev.on_status(407, Some(&chal)),
            Err(AuthError::SchemeDowngrade { configured: configured.clone(), offered: offered.clone() })
        );
        assert_eq!(dev.scheme(), &configured, "{configured} -> {offered}");
    }
}

/// A challenge for the same or a stronger scheme, or with a new nonce, is still followed.
#[test]
fn challenge_to_the_same_or_a_stronger_scheme_is_followed() {
    use omadm_security::{Challenge, Prover, ProverAction};
    let device = AccountCredentials::new("IMEI:1", "devsecret");
    for (configured, offered) in [
        (AuthScheme::Basic, AuthScheme::Basic),
        (AuthScheme::Basic, AuthScheme::Md5),
        (AuthScheme::Md5, AuthScheme::Md5),
        (AuthScheme::Md5, AuthScheme::Sha256),
        (AuthScheme::Md5, AuthScheme::Mac),
        (AuthScheme::Sha256, AuthScheme::Mac),
        (AuthScheme::Mac, AuthScheme::Mac),
    ] {
        let mut dev = Prover::new(device.clone(), configured.clone(), nonce(1));
        let chal = Challenge { scheme: offered.clone(), next_nonce: Some(nonce(2)) };
        assert_eq!(dev.on_status(401, Some(&chal)), Ok(ProverAction::Retry), "{configured} -> {offered}");
        assert_eq!(dev.scheme(), &offered, "{configured} -> {offered}");
    }
}

fn nonce(b: u8) -> Nonce {
    Nonce::from_bytes(vec![b; 16])
}
