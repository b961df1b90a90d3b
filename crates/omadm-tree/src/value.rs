//! Node values and their DM formats (DM TND 1.2 §7.7.3 "Format", DM Representation 1.2 §5).
//!
//! A value is stored as the bytes of the command's Data, checked against its format on every
//! write: `int` is a signed 32-bit decimal, `bool` is `true`/`false`, `date`/`time` are ISO 8601,
//! `float` is a decimal IEEE 754 number, `chr`/`xml` are UTF-8, `b64` is base64 text, `null` and
//! `node` carry no data. A `b64` value written to a node whose DDF format is `bin` is decoded
//! (TND 1.2 §7.7.3: XML carries binary as b64, the node keeps `bin`).

use omadm_proto::{Format, Meta, StatusCode};

use crate::error::{refuse, TreeResult};

/// The data of an Add or Replace: what the Item's Meta and Data say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Meta Format (absent = `chr`).
    pub format: Format,
    /// Meta Type (absent = the DDF's MIME type, else `text/plain` for leaves).
    pub mime: Option<String>,
    /// The Data bytes (text as UTF-8, WBXML opaque as given).
    pub data: Vec<u8>,
}

impl Content {
    /// Content from an Item's Meta and Data, applying the `chr` default.
    pub fn from_meta(meta: Option<&Meta>, data: impl Into<Vec<u8>>) -> Content {
        Content {
            format: Meta::effective_format(meta),
            mime: meta.and_then(|m| m.media_type.clone()),
            data: data.into(),
        }
    }

    /// A `chr` leaf value.
    pub fn chr(text: impl Into<String>) -> Content {
        Content { format: Format::Chr, mime: None, data: text.into().into_bytes() }
    }

    /// A value of the given format.
    pub fn new(format: Format, data: impl Into<Vec<u8>>) -> Content {
        Content { format, mime: None, data: data.into() }
    }

    /// An interior node (Format `node`), optionally typed with an MO identifier.
    pub fn interior(mo_type: Option<&str>) -> Content {
        Content { format: Format::Node, mime: mo_type.map(str::to_string), data: Vec::new() }
    }

    /// Builder: sets the Meta Type.
    pub fn with_mime(mut self, mime: impl Into<String>) -> Content {
        self.mime = Some(mime.into());
        self
    }
}

fn bad<T>(format: &Format, why: &str) -> TreeResult<T> {
    refuse(StatusCode::BadRequest, format!("value is not valid {format}: {why}"))
}

fn utf8<'a>(format: &Format, data: &'a [u8]) -> TreeResult<&'a str> {
    std::str::from_utf8(data).or_else(|_| bad(format, "not UTF-8"))
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn valid_date(s: &str) -> bool {
    let (y, m, d) = if s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        (&s[0..4], &s[5..7], &s[8..10])
    } else if digits(s, 8) {
        (&s[0..4], &s[4..6], &s[6..8])
    } else {
        return false;
    };
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (m, d): (u8, u8) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    (1..=12).contains(&m) && (1..=31).contains(&d)
}

fn valid_time(s: &str) -> bool {
    // hh:mm:ss or hhmmss, optional fraction, optional Z or ±hh[:mm]
    let (main, zone) = match s.find(['Z', '+', '-']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let (hms, frac) = match main.split_once(['.', ',']) {
        Some((a, b)) => (a, Some(b)),
        None => (main, None),
    };
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let parts: Vec<&str> = if hms.contains(':') {
        hms.split(':').collect()
    } else if digits(hms, 6) {
        vec![&hms[0..2], &hms[2..4], &hms[4..6]]
    } else {
        return false;
    };
    let ok_parts = parts.len() == 3
        && parts.iter().all(|p| digits(p, 2))
        && parts[0] < "24"
        && parts[1] < "60"
        && parts[2] <= "60";
    let ok_zone = match zone {
        "" | "Z" => true,
        z => {
            let z = &z[1..];
            digits(z, 2)
                || digits(z, 4)
                || (z.len() == 5 && digits(&z[0..2], 2) && &z[2..3] == ":" && digits(&z[3..5], 2))
        }
    };
    ok_parts && ok_zone
}

/// Decodes standard base64 (whitespace ignored); `None` when the text is not base64.
pub fn decode_b64(text: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a' + 26) as u32),
            b'0'..=b'9' => Some((c - b'0' + 52) as u32),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let chunks = clean.chunks(4).count();
    for (i, chunk) in clean.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Encodes bytes as standard base64 with padding.
pub fn encode_b64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Checks `data` against `format`; unknown formats are 415, bad data 400.
pub fn validate(format: &Format, data: &[u8]) -> TreeResult<()> {
    match format {
        Format::Bin => Ok(()),
        Format::Chr | Format::Xml => utf8(format, data).map(drop),
        Format::B64 => match decode_b64(data) {
            Some(_) => Ok(()),
            None => bad(format, "not base64"),
        },
        Format::Bool => match utf8(format, data)? {
            "true" | "false" => Ok(()),
            _ => bad(format, "expected true or false"),
        },
        Format::Int => match utf8(format, data)?.parse::<i32>() {
            Ok(_) => Ok(()),
            Err(_) => bad(format, "expected a signed 32-bit decimal"),
        },
        Format::Float => match utf8(format, data)?.trim().parse::<f64>() {
            Ok(_) => Ok(()),
            Err(_) => bad(format, "expected a decimal number"),
        },
        Format::Date => match valid_date(utf8(format, data)?) {
            true => Ok(()),
            false => bad(format, "expected an ISO 8601 date"),
        },
        Format::Time => match valid_time(utf8(format, data)?) {
            true => Ok(()),
            false => bad(format, "expected an ISO 8601 time"),
        },
        Format::Null | Format::Node => match data.is_empty() {
            true => Ok(()),
            false => bad(format, "carries no data"),
        },
        Format::Other(name) => refuse(StatusCode::UnsupportedMediaType, format!("unknown format {name:?}")),
    }
}

/// The Size property of a value: its byte length, decoded for `b64`.
pub fn size_of(format: &Format, data: &[u8]) -> usize {
    match format {
        Format::B64 => decode_b64(data).map_or(data.len(), |d| d.len()),
        _ => data.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(f: Format, s: &str) -> bool {
        validate(&f, s.as_bytes()).is_ok()
    }

    #[test]
    fn formats_validate() {
        assert!(
            ok(Format::Int, "-2147483648")
                && ok(Format::Int, "42")
                && !ok(Format::Int, "2147483648")
                && !ok(Format::Int, "4x")
        );
        assert!(ok(Format::Bool, "true") && ok(Format::Bool, "false") && !ok(Format::Bool, "yes"));
        assert!(
            ok(Format::Date, "2024-02-29")
                && ok(Format::Date, "20240229")
                && !ok(Format::Date, "2024-13-01")
                && !ok(Format::Date, "24-1-1")
        );
        assert!(
            ok(Format::Time, "16:38:17")
                && ok(Format::Time, "163817Z")
                && ok(Format::Time, "16:38:17.5+02:00")
                && !ok(Format::Time, "25:00:00")
                && !ok(Format::Time, "1:2:3")
        );
        assert!(ok(Format::Float, "3.14") && ok(Format::Float, "-1e10") && !ok(Format::Float, "pi"));
        assert!(ok(Format::Null, "") && !ok(Format::Null, "x") && ok(Format::Node, ""));
        assert!(ok(Format::B64, "QnJ1Y2Uy") && !ok(Format::B64, "QnJ1Y2U") && !ok(Format::B64, "Q=JZ"));
        assert!(validate(&Format::Chr, &[0xff]).is_err());
        assert!(ok(Format::Xml, "<a/>"));
        assert_eq!(validate(&Format::Other("x".into()), b"").unwrap_err().status(), StatusCode::UnsupportedMediaType);
        assert_eq!(validate(&Format::Int, b"x").unwrap_err().status(), StatusCode::BadRequest);
    }

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0, 255, 128, 7]] {
            assert_eq!(decode_b64(encode_b64(data).as_bytes()).unwrap(), data);
        }
        assert_eq!(encode_b64(b"Bruce2:OhBehave"), "QnJ1Y2UyOk9oQmVoYXZl");
        assert_eq!(size_of(&Format::B64, b"QnJ1Y2Uy"), 6);
    }
}
