//! The security crate's decoders (the first byte picks one): WAP-profile bootstrap documents in
//! XML or WBXML, Package #0 (1.2 and 1.3), WSP push PDUs and SMS segments. None may panic, and a
//! provisioning document that decodes re-encodes, in both encodings, to the same document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omadm_security::notification::Notification;
use omadm_security::provisioning::ProvisioningDoc;
use omadm_security::push::{decode_notification_pdu, sms::SmsSegment, wsp::PushPdu};
use omadm_security::NotificationLayout;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else { return };
    match selector % 5 {
        0 => {
            let Ok(doc) = ProvisioningDoc::decode(input) else { return };
            let xml = ProvisioningDoc::from_xml(&doc.to_xml()).expect("our XML decodes");
            assert_eq!(xml, doc, "XML re-encoding differs");
            let wbxml = ProvisioningDoc::from_wbxml(&doc.to_wbxml()).expect("our WBXML decodes");
            assert_eq!(wbxml, doc, "WBXML re-encoding differs");
            let _ = doc.w7_accounts();
        }
        1 => {
            let _ = Notification::parse(input, NotificationLayout::Either);
        }
        2 => {
            let _ = decode_notification_pdu(input);
        }
        3 => {
            let _ = SmsSegment::decode(input);
        }
        _ => {
            let _ = PushPdu::decode(input);
        }
    }
});
