//! Property tests: Package #0 and push PDU round trips, and no panic on any input.

use proptest::prelude::*;

use omadm_security::notification::{
    GeneralNotification, Notification13, NotificationKey, SessionId, UiMode, UnknownOption,
};
use omadm_security::push::sms::{self, ConcatRef, Ports, Reassembler, SmsSegment};
use omadm_security::push::wsp::{AppId, ContentType, PushPdu};
use omadm_security::push::{self, NotificationReceiver, PushOptions, WspForm};
use omadm_security::{
    AccountCredentials, HashAlgorithm, HmacHeader, Initiator, Nonce, Notification, NotificationFormat,
    NotificationLayout,
};

fn ui_mode() -> impl Strategy<Value = UiMode> {
    (0u8..4).prop_map(UiMode::from_bits)
}

fn initiator() -> impl Strategy<Value = Initiator> {
    (0u8..2).prop_map(Initiator::from_bit)
}

/// A server id of 1 to `max` UTF-8 bytes.
fn server_id(max: usize) -> impl Strategy<Value = String> {
    "\\PC{1,80}".prop_filter("byte length", move |s| !s.is_empty() && s.len() <= max)
}

fn key(alg: HashAlgorithm) -> impl Strategy<Value = NotificationKey> {
    ("[ -~]{0,20}", proptest::collection::vec(any::<u8>(), 0..24)).prop_map(move |(pw, nonce)| NotificationKey {
        algorithm: alg,
        ..NotificationKey::md5("srv", pw.as_str(), Nonce::from_bytes(nonce))
    })
}

prop_compose! {
    fn general()(
        version in 11u16..=13,
        ui in ui_mode(),
        init in initiator(),
        sid in any::<u16>(),
        id in server_id(255),
        vendor in proptest::collection::vec(any::<u8>(), 0..64),
    ) -> GeneralNotification {
        GeneralNotification { version, ui_mode: ui, initiator: init, session_id: SessionId(sid), server_id: id, vendor_data: vendor }
    }
}

prop_compose! {
    fn dm13()(
        ui in ui_mode(),
        init in initiator(),
        sid in any::<u16>(),
        id in server_id(256),
        targeted in proptest::collection::vec(any::<u16>(), 0..4),
        requested in proptest::collection::vec(any::<u16>(), 0..4),
        bearers in proptest::collection::vec(any::<u8>(), 0..3),
        reason in proptest::option::of("\\PC{1,40}"),
        vendor in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..64)),
        unknown in proptest::collection::vec((prop_oneof![Just(0u8), 7u8..=15], proptest::collection::vec(any::<u8>(), 0..16)), 0..4),
    ) -> Notification13 {
        let mut n = Notification13::new(id, SessionId(sid), ui, init);
        n.targeted_mos = targeted;
        n.requested_mos = requested;
        n.preferred_bearers = bearers;
        n.connect_reason = reason;
        n.vendor_info = vendor;
        let mut unknown: Vec<UnknownOption> =
            unknown.into_iter().map(|(num, v)| UnknownOption::new(num, v).expect("valid")).collect();
        // Parsing returns unknown options in wire (ascending) order.
        unknown.sort_by_key(UnknownOption::number);
        n.unknown_options = unknown;
        n
    }
}

proptest! {
    #[test]
    fn general_notification_round_trips(n in general(), k in key(HashAlgorithm::Md5)) {
        let bytes = n.build(&k).expect("build");
        let parsed = Notification::parse(&bytes, NotificationLayout::General12).expect("parse");
        prop_assert_eq!(&parsed.notification, &Notification::Dm12(n.clone()));
        prop_assert_eq!(parsed.verify(&k), Ok(()));
        prop_assert_eq!(Notification::Dm12(n).build(&k).expect("rebuild"), bytes);
    }

    #[test]
    fn dm13_notification_round_trips(n in dm13(), k in prop_oneof![key(HashAlgorithm::Md5), key(HashAlgorithm::Sha256)]) {
        let bytes = n.build(&k).expect("build");
        let parsed = Notification::parse(&bytes, NotificationLayout::Tlv).expect("parse");
        prop_assert_eq!(&parsed.notification, &Notification::Dm13(n.clone()));
        prop_assert_eq!(parsed.verify(&k), Ok(()));
        // Layout detection finds the TLV layout too.
        prop_assert_eq!(Notification::parse(&bytes, NotificationLayout::Either).expect("parse"), parsed);
        prop_assert_eq!(Notification::Dm13(n).build(&k).expect("rebuild"), bytes);
    }

    #[test]
    fn notification_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for layout in [NotificationLayout::General12, NotificationLayout::Tlv, NotificationLayout::Either] {
            if let Ok(p) = Notification::parse(&bytes, layout) {
                let _ = p.verify_with_resync(&NotificationKey::md5("s", "p", Nonce::default()));
            }
        }
    }

    #[test]
    fn push_pdu_round_trips(
        tid in any::<u8>(),
        ct in prop_oneof![(0u32..0x1_0000).prop_map(ContentType::Code), "[a-z][a-z0-9./+-]{0,40}".prop_map(ContentType::Text)],
        app in proptest::option::of(prop_oneof![(0u32..0x10_0000).prop_map(AppId::Code), "[a-z][a-z0-9.:-]{0,40}".prop_map(AppId::Uri)]),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let pdu = PushPdu { tid, content_type: ct, app_id: app, body };
        let bytes = pdu.encode().expect("encode");
        prop_assert_eq!(PushPdu::decode(&bytes).expect("decode"), pdu);
    }

    #[test]
    fn sms_split_and_reassembly_round_trips(
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
        reference in prop_oneof![any::<u8>().prop_map(ConcatRef::Eight), any::<u16>().prop_map(ConcatRef::Sixteen)],
        max in 40usize..=140,
        order in any::<proptest::sample::Index>(),
    ) {
        let ports = Ports { destination: 2948, source: 9200 };
        let segs = sms::split(&payload, ports, reference, max).expect("split");
        prop_assert!(segs.iter().all(|s| s.encode().len() <= max));
        // Feed them rotated to a random start, so that order varies.
        let start = order.index(segs.len());
        let mut r = Reassembler::default();
        let mut done = None;
        for s in segs.iter().cycle().skip(start).take(segs.len()) {
            let decoded = SmsSegment::decode(&s.encode()).expect("decode");
            if let Some(d) = r.add("+1", decoded).expect("add") {
                done = Some(d);
            }
        }
        prop_assert_eq!(done.map(|d| d.payload), Some(payload));
    }

    #[test]
    fn notification_push_round_trips(
        pkg0 in proptest::collection::vec(any::<u8>(), 0..600),
        format in prop_oneof![Just(NotificationFormat::Dm12), Just(NotificationFormat::Dm13)],
        text in any::<bool>(),
        tid in any::<u8>(),
    ) {
        let options = PushOptions { tid, form: if text { WspForm::Text } else { WspForm::Binary }, ..PushOptions::default() };
        let segs = push::encode_notification_push(&pkg0, format, &options).expect("encode");
        let mut rx = NotificationReceiver::new();
        let mut got = None;
        for s in &segs {
            got = rx.on_user_data("+1", &s.encode()).expect("receive");
        }
        let got = got.expect("complete");
        prop_assert_eq!(got.package0, pkg0);
        prop_assert_eq!(got.format, format);
        prop_assert_eq!(got.tid, tid);
    }

    #[test]
    fn push_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = PushPdu::decode(&bytes);
        let _ = push::decode_notification_pdu(&bytes);
        let _ = SmsSegment::decode(&bytes);
        let _ = NotificationReceiver::new().on_user_data("x", &bytes);
    }

    #[test]
    fn hmac_header_round_trips(user in "[ -~]{0,30}", pw in "[ -~]{0,30}", body in proptest::collection::vec(any::<u8>(), 0..100), sha in any::<bool>()) {
        let acct = AccountCredentials::new(user, pw.as_str());
        let alg = if sha { HashAlgorithm::Sha256 } else { HashAlgorithm::Md5 };
        let nonce = Nonce::from_bytes(b"n".to_vec());
        let h = HmacHeader::compute(alg, &acct, &nonce, &body);
        let parsed = HmacHeader::parse(&h.to_value()).expect("parse");
        prop_assert_eq!(&parsed, &h);
        prop_assert_eq!(parsed.verify(&acct, &nonce, &body), Ok(()));
    }

    #[test]
    fn hmac_parser_never_panics(value in "\\PC{0,80}") {
        let _ = HmacHeader::parse(&value);
    }
}
