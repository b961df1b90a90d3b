//! The connectionless WSP Push PDU (WAP-230-WSP §8.2.4.1, §8.4) as far as a DM notification push
//! needs it: `TID | 0x06 | HeadersLen(uintvar) | Content-Type | Headers | Data`.
//!
//! Decoding follows the WSP value encoding rules so that any header can be skipped; only the
//! content type and `X-Wap-Application-Id` are interpreted. Parameters of the content type are
//! skipped. Encoding writes the compact binary forms unless told to use text.

use crate::error::PushError;

/// WSP PDU type of a Push.
pub const PDU_PUSH: u8 = 0x06;
/// WSP well-known header field code of `X-Wap-Application-Id`.
pub const FIELD_X_WAP_APPLICATION_ID: u8 = 0x2f;

/// A WSP content type (media type only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// A well-known content-type code (e.g. 0x44, 0x58).
    Code(u32),
    /// A textual media type.
    Text(String),
}

/// A push application id (`X-Wap-Application-Id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AppId {
    /// An assigned code (e.g. 0x07 `x-wap-application:syncml.dm`).
    Code(u32),
    /// An application URI.
    Uri(String),
}

/// A connectionless WSP Push PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPdu {
    /// The transaction id.
    pub tid: u8,
    /// The content type.
    pub content_type: ContentType,
    /// The push application id, if the PDU names one.
    pub app_id: Option<AppId>,
    /// The pushed content.
    pub body: Vec<u8>,
}

impl PushPdu {
    /// Encodes the PDU.
    pub fn encode(&self) -> Result<Vec<u8>, PushError> {
        let mut headers = Vec::new();
        match &self.content_type {
            ContentType::Code(c) => match u8::try_from(*c) {
                Ok(short) if short < 0x80 => headers.push(0x80 | short),
                _ => {
                    // Content-general-form: Value-length, Long-integer.
                    let long = long_integer(*c);
                    headers.push(long.len() as u8);
                    headers.extend_from_slice(&long);
                }
            },
            ContentType::Text(t) => push_text(&mut headers, t, "content type")?,
        }
        if let Some(app) = &self.app_id {
            headers.push(0x80 | FIELD_X_WAP_APPLICATION_ID);
            match app {
                AppId::Code(c) => match u8::try_from(*c) {
                    Ok(short) if short < 0x80 => headers.push(0x80 | short),
                    _ => headers.extend_from_slice(&long_integer(*c)),
                },
                AppId::Uri(u) => push_text(&mut headers, u, "application id")?,
            }
        }
        let mut out = vec![self.tid, PDU_PUSH];
        push_uintvar(&mut out, headers.len() as u32);
        out.extend_from_slice(&headers);
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// Decodes a Push PDU.
    pub fn decode(bytes: &[u8]) -> Result<PushPdu, PushError> {
        let mut r = Reader::new(bytes);
        let tid = r.byte("transaction id")?;
        let pdu_type = r.byte("PDU type")?;
        if pdu_type != PDU_PUSH {
            return Err(PushError::NotPush(pdu_type));
        }
        let len = r.uintvar()? as usize;
        let rest = r.rest();
        let headers = rest.get(..len).ok_or(PushError::HeadersPastEnd { length: len, available: rest.len() })?;
        let body = rest.get(len..).unwrap_or_default().to_vec();
        let mut h = Reader::new(headers);
        let content_type = read_content_type(&mut h)?;
        let mut app_id = None;
        while !h.is_empty() {
            let first = h.peek("header")?;
            if first >= 0x80 {
                h.byte("header")?;
                if first & 0x7f == FIELD_X_WAP_APPLICATION_ID && app_id.is_none() {
                    app_id = Some(read_app_id(&mut h)?);
                } else {
                    h.skip_value()?;
                }
            } else if first >= 0x20 && first != 0x7f {
                let name = h.text("header name")?;
                let value = h.text("header value")?;
                if name.eq_ignore_ascii_case("X-Wap-Application-Id") && app_id.is_none() {
                    app_id = Some(AppId::Uri(value));
                }
            } else {
                return Err(if first == 0 { PushError::BadText("header name") } else { PushError::CodePageShift });
            }
        }
        Ok(PushPdu { tid, content_type, app_id, body })
    }
}

fn read_content_type(h: &mut Reader<'_>) -> Result<ContentType, PushError> {
    let first = h.peek("content type")?;
    if first >= 0x80 {
        h.byte("content type")?;
        return Ok(ContentType::Code(u32::from(first & 0x7f)));
    }
    if first >= 0x20 {
        return Ok(ContentType::Text(h.text("content type")?));
    }
    // Content-general-form: Value-length, then Media-type and parameters (skipped).
    let len = h.value_length()?;
    let mut inner = Reader::new(h.take(len, "content type")?);
    let media = inner.peek("content type")?;
    if media >= 0x80 || media <= 30 {
        Ok(ContentType::Code(inner.integer("content type")?))
    } else {
        Ok(ContentType::Text(inner.text("content type")?))
    }
}

fn read_app_id(h: &mut Reader<'_>) -> Result<AppId, PushError> {
    let first = h.peek("application id")?;
    if first >= 0x80 || first <= 30 {
        Ok(AppId::Code(h.integer("application id")?))
    } else {
        Ok(AppId::Uri(h.text("application id")?))
    }
}

/// Appends a WSP Text-string (NUL-terminated; a Quote 0x7F would be needed before a first byte
/// ≥ 0x80, which no ASCII media type or URI has).
fn push_text(out: &mut Vec<u8>, text: &str, what: &'static str) -> Result<(), PushError> {
    if text.is_empty() || !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(PushError::BadText(what));
    }
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    Ok(())
}

/// A Long-integer: a length octet then the big-endian bytes without leading zeros.
fn long_integer(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    let mut out = vec![(4 - skip) as u8];
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Appends a uintvar (7 bits per byte, most significant first, high bit = more follows).
pub(crate) fn push_uintvar(out: &mut Vec<u8>, v: u32) {
    let mut groups = [0u8; 5];
    let mut n = 0;
    let mut x = v;
    loop {
        groups[n] = (x & 0x7f) as u8;
        n += 1;
        x >>= 7;
        if x == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// A cursor over WSP bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self, what: &'static str) -> Result<u8, PushError> {
        self.data.get(self.pos).copied().ok_or(PushError::Truncated(what))
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, PushError> {
        let b = self.peek(what)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PushError> {
        let s = self.data.get(self.pos..self.pos.saturating_add(n)).ok_or(PushError::Truncated(what))?;
        self.pos += n;
        Ok(s)
    }

    fn uintvar(&mut self) -> Result<u32, PushError> {
        let mut v: u32 = 0;
        for _ in 0..5 {
            let b = self.byte("uintvar")?;
            if v > (u32::MAX >> 7) {
                return Err(PushError::BadUintvar);
            }
            v = (v << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(PushError::BadUintvar)
    }

    /// Value-length: a Short-length (0–30) or Length-quote (31) followed by a uintvar.
    fn value_length(&mut self) -> Result<usize, PushError> {
        match self.byte("value length")? {
            31 => Ok(self.uintvar()? as usize),
            n => Ok(usize::from(n)),
        }
    }

    /// A NUL-terminated text string (an initial Quote 0x7F or `"` is dropped).
    fn text(&mut self, what: &'static str) -> Result<String, PushError> {
        let rest = self.rest();
        let end = rest.iter().position(|&b| b == 0).ok_or(PushError::BadText(what))?;
        let mut raw = &rest[..end];
        if let [0x7f | b'"', tail @ ..] = raw {
            raw = tail;
        }
        let s = std::str::from_utf8(raw).map_err(|_| PushError::BadText(what))?.to_owned();
        self.pos += end + 1;
        Ok(s)
    }

    /// An Integer-value: a Short-integer or a Long-integer of 1–4 bytes.
    fn integer(&mut self, what: &'static str) -> Result<u32, PushError> {
        let first = self.byte(what)?;
        if first >= 0x80 {
            return Ok(u32::from(first & 0x7f));
        }
        let len = usize::from(first);
        if len == 0 || len > 4 {
            return Err(PushError::BadInteger(what));
        }
        Ok(self.take(len, what)?.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }

    /// Skips one header value of any encoding.
    fn skip_value(&mut self) -> Result<(), PushError> {
        let first = self.peek("header value")?;
        match first {
            0..=31 => {
                let len = self.value_length()?;
                self.take(len, "header value").map(|_| ())
            }
            32..=127 => self.text("header value").map(|_| ()),
            _ => self.byte("header value").map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uintvar_encoding() {
        for (v, enc) in [(0u32, vec![0u8]), (0x7f, vec![0x7f]), (0x80, vec![0x81, 0x00]), (0x3fff, vec![0xff, 0x7f])] {
            let mut out = Vec::new();
            push_uintvar(&mut out, v);
            assert_eq!(out, enc);
            assert_eq!(Reader::new(&enc).uintvar(), Ok(v));
        }
        assert_eq!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).uintvar(), Err(PushError::BadUintvar));
        assert_eq!(Reader::new(&[0x90, 0x80, 0x80, 0x80, 0x00]).uintvar(), Err(PushError::BadUintvar));
    }

    #[test]
    fn long_integers() {
        assert_eq!(long_integer(0x0201), vec![2, 0x02, 0x01]);
        assert_eq!(long_integer(0), vec![1, 0]);
        assert_eq!(Reader::new(&[2, 0x02, 0x01]).integer("x"), Ok(0x0201));
        assert_eq!(Reader::new(&[5, 1, 2, 3, 4, 5]).integer("x"), Err(PushError::BadInteger("x")));
    }

    #[test]
    fn general_form_content_type_with_parameters() {
        // Value-length 3: media 0xC4, then a parameter (SEC=0 as 0x91 0x80) that is skipped.
        let pdu = [0x01, 0x06, 0x06, 0x03, 0xC4, 0x91, 0x80, 0xAF, 0x87, 0xAA];
        let p = PushPdu::decode(&pdu).expect("decode");
        assert_eq!(p.content_type, ContentType::Code(0x44));
        assert_eq!(p.app_id, Some(AppId::Code(7)));
        assert_eq!(p.body, [0xAA]);
    }

    #[test]
    fn other_headers_are_skipped_and_text_headers_read() {
        let mut pdu = vec![0x05, 0x06];
        let mut h = vec![0xC4];
        h.extend_from_slice(&[0x8D, 0x85]); // a short-integer value
        h.extend_from_slice(&[0x8E, 0x02, 0x01, 0x02]); // a short-length value
        h.extend_from_slice(b"X-Wap-Application-Id\0x-wap-application:syncml.dm\0");
        push_uintvar(&mut pdu, h.len() as u32);
        pdu.extend_from_slice(&h);
        let p = PushPdu::decode(&pdu).expect("decode");
        assert_eq!(p.app_id, Some(AppId::Uri("x-wap-application:syncml.dm".into())));
        assert!(p.body.is_empty());
    }

    #[test]
    fn decode_errors() {
        assert_eq!(PushPdu::decode(&[]), Err(PushError::Truncated("transaction id")));
        assert_eq!(PushPdu::decode(&[1, 0x07, 0]), Err(PushError::NotPush(0x07)));
        assert_eq!(PushPdu::decode(&[1, 6, 9, 0xC4]), Err(PushError::HeadersPastEnd { length: 9, available: 1 }));
        assert_eq!(PushPdu::decode(&[1, 6, 2, 0xC4, 0x01]), Err(PushError::CodePageShift));
        assert_eq!(PushPdu::decode(&[1, 6, 2, b'a', b'b']), Err(PushError::BadText("content type")));
    }

    #[test]
    fn encode_refuses_bad_text() {
        let p = PushPdu { tid: 0, content_type: ContentType::Text(String::new()), app_id: None, body: vec![] };
        assert_eq!(p.encode(), Err(PushError::BadText("content type")));
    }
}
