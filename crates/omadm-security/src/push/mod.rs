//! WAP Push of Package #0 (DM Notification 1.2 §6.3, dm13-digest §6; digest §9): a connectionless
//! WSP Push PDU with the notification content type and application id 0x07
//! (`x-wap-application:syncml.dm`), sent over SMS to WDP port 2948, concatenated if needed.
//!
//! Pure codecs: the server turns a Package #0 into SMS user data, the client turns SMS user data
//! back into a Package #0, checking port, application id and content type as a device without a
//! full WAP stack must. Delivery is not done here.

pub mod sms;
pub mod wsp;

use crate::error::PushError;
use crate::notification::NotificationFormat;
use sms::{ConcatRef, Ports, Reassembler, SmsSegment, MAX_USER_DATA};
use wsp::{AppId, ContentType, PushPdu};

/// The WDP port of WAP Push connectionless sessions (WSP/WTLS-less push).
pub const DM_PUSH_PORT: u16 = 2948;
/// The originator port we write (the value of the DM Notification example, 0xC002).
pub const DEFAULT_SOURCE_PORT: u16 = 0xC002;
/// The push application id code of `x-wap-application:syncml.dm`.
pub const APP_ID_SYNCML_DM: u32 = 0x07;
/// The push application id URI of SyncML DM.
pub const APP_ID_SYNCML_DM_URI: &str = "x-wap-application:syncml.dm";

/// How the content type and application id are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WspForm {
    /// Well-known codes (0x44/0x58, 0x07): the compact form every device understands.
    #[default]
    Binary,
    /// The textual media type and application URI.
    Text,
}

/// Settings for turning a Package #0 into SMS user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOptions {
    /// The WSP transaction id.
    pub tid: u8,
    /// Binary or text header forms.
    pub form: WspForm,
    /// The WDP originator port.
    pub source_port: u16,
    /// The concatenation reference, used when more than one SMS is needed (pick a new one per message).
    pub reference: ConcatRef,
    /// The largest SMS user data (140 for 8-bit SMS).
    pub max_user_data: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            tid: 0,
            form: WspForm::Binary,
            source_port: DEFAULT_SOURCE_PORT,
            reference: ConcatRef::Eight(0),
            max_user_data: MAX_USER_DATA,
        }
    }
}

/// The WSP Push PDU carrying a Package #0.
pub fn notification_pdu(package0: &[u8], format: NotificationFormat, form: WspForm, tid: u8) -> PushPdu {
    let (content_type, app_id) = match form {
        WspForm::Binary => (ContentType::Code(u32::from(format.wsp_code())), AppId::Code(APP_ID_SYNCML_DM)),
        WspForm::Text => {
            (ContentType::Text(format.content_type().to_owned()), AppId::Uri(APP_ID_SYNCML_DM_URI.to_owned()))
        }
    };
    PushPdu { tid, content_type, app_id: Some(app_id), body: package0.to_vec() }
}

/// Turns a Package #0 into the SMS user data segments to send (each needs TP-UDHI set).
pub fn encode_notification_push(
    package0: &[u8],
    format: NotificationFormat,
    options: &PushOptions,
) -> Result<Vec<SmsSegment>, PushError> {
    let pdu = notification_pdu(package0, format, options.form, options.tid).encode()?;
    let ports = Ports { destination: DM_PUSH_PORT, source: options.source_port };
    sms::split(&pdu, ports, options.reference, options.max_user_data)
}

/// A Package #0 received by push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedNotification {
    /// The WSP transaction id.
    pub tid: u8,
    /// The format named by the content type (which picks the parser).
    pub format: NotificationFormat,
    /// The Package #0 bytes.
    pub package0: Vec<u8>,
}

/// Decodes a WSP Push PDU and checks that it is a DM notification: the content type must be one of
/// the notification types (binary or text) and the application id `syncml.dm` (code or URI).
pub fn decode_notification_pdu(bytes: &[u8]) -> Result<PushedNotification, PushError> {
    let pdu = PushPdu::decode(bytes)?;
    let format = match &pdu.content_type {
        ContentType::Code(c) => {
            NotificationFormat::from_wsp_code(*c).ok_or_else(|| PushError::NotNotification(format!("{c:#04x}")))?
        }
        ContentType::Text(t) => {
            NotificationFormat::from_content_type(t).ok_or_else(|| PushError::NotNotification(t.clone()))?
        }
    };
    match &pdu.app_id {
        Some(AppId::Code(APP_ID_SYNCML_DM)) => {}
        Some(AppId::Uri(u)) if u.eq_ignore_ascii_case(APP_ID_SYNCML_DM_URI) => {}
        Some(AppId::Code(c)) => return Err(PushError::WrongApplication(format!("{c:#04x}"))),
        Some(AppId::Uri(u)) => return Err(PushError::WrongApplication(u.clone())),
        None => return Err(PushError::WrongApplication("(none)".to_owned())),
    }
    Ok(PushedNotification { tid: pdu.tid, format, package0: pdu.body })
}

/// The client side: SMS user data in, Package #0 out, with reassembly of concatenated SMS.
#[derive(Debug, Clone, Default)]
pub struct NotificationReceiver {
    reassembler: Reassembler,
}

impl NotificationReceiver {
    /// A receiver with the default reassembly capacity.
    pub fn new() -> NotificationReceiver {
        NotificationReceiver::default()
    }

    /// Takes the user data of one SMS with TP-UDHI set from `origin` (the sender address). Returns
    /// the notification once complete. Segments not addressed to port 2948 are refused at once.
    pub fn on_user_data(&mut self, origin: &str, user_data: &[u8]) -> Result<Option<PushedNotification>, PushError> {
        let segment = SmsSegment::decode(user_data)?;
        let port = segment.ports.map(|p| p.destination);
        if port != Some(DM_PUSH_PORT) {
            return Err(PushError::WrongPort(port));
        }
        match self.reassembler.add(origin, segment)? {
            Some(done) => decode_notification_pdu(&done.payload).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_bytes() {
        // DM Notification 1.2: 06 05 04 0B 84 C0 02 | TID | 06 | hdrlen | C4 | AF 87 | Pkg#0
        let segs = encode_notification_push(
            b"P0",
            NotificationFormat::Dm12,
            &PushOptions { tid: 0x2A, ..PushOptions::default() },
        )
        .expect("encode");
        assert_eq!(segs.len(), 1);
        assert_eq!(
            segs[0].encode(),
            [0x06, 0x05, 0x04, 0x0B, 0x84, 0xC0, 0x02, 0x2A, 0x06, 0x03, 0xC4, 0xAF, 0x87, b'P', b'0']
        );
        let mut rx = NotificationReceiver::new();
        let got = rx.on_user_data("+1", &segs[0].encode()).expect("decode");
        assert_eq!(
            got,
            Some(PushedNotification { tid: 0x2A, format: NotificationFormat::Dm12, package0: b"P0".to_vec() })
        );
    }

    #[test]
    fn dm13_binary_type_is_0x58() {
        let pdu = notification_pdu(b"x", NotificationFormat::Dm13, WspForm::Binary, 1).encode().expect("encode");
        assert_eq!(&pdu[..6], &[0x01, 0x06, 0x03, 0xD8, 0xAF, 0x87]);
        assert_eq!(decode_notification_pdu(&pdu).map(|p| p.format), Ok(NotificationFormat::Dm13));
    }

    #[test]
    fn text_forms_round_trip() {
        for format in [NotificationFormat::Dm12, NotificationFormat::Dm13] {
            let pdu = notification_pdu(b"abc", format, WspForm::Text, 9).encode().expect("encode");
            let got = decode_notification_pdu(&pdu).expect("decode");
            assert_eq!(got.format, format);
            assert_eq!(got.package0, b"abc");
        }
    }

    #[test]
    fn wrong_type_application_or_port_is_refused() {
        let mut pdu = notification_pdu(b"x", NotificationFormat::Dm12, WspForm::Binary, 1);
        pdu.content_type = ContentType::Code(0x42);
        assert_eq!(
            decode_notification_pdu(&pdu.encode().expect("enc")),
            Err(PushError::NotNotification("0x42".into()))
        );
        let mut pdu = notification_pdu(b"x", NotificationFormat::Dm12, WspForm::Binary, 1);
        pdu.app_id = Some(AppId::Code(0x04));
        assert_eq!(
            decode_notification_pdu(&pdu.encode().expect("enc")),
            Err(PushError::WrongApplication("0x04".into()))
        );
        pdu.app_id = None;
        assert!(matches!(decode_notification_pdu(&pdu.encode().expect("enc")), Err(PushError::WrongApplication(_))));
        let seg = SmsSegment { ports: Some(Ports { destination: 2949, source: 1 }), concat: None, payload: vec![] };
        assert_eq!(NotificationReceiver::new().on_user_data("a", &seg.encode()), Err(PushError::WrongPort(Some(2949))));
    }
}
