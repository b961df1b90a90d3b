//! What the store keeps per node: value, format, type and the properties of DM TND 1.2 §7,
//! with a compact binary encoding for durable backends.

use omadm_proto::Format;

use crate::acl::Acl;
use crate::error::StoreError;

/// Whether a node may be deleted or renamed (DDF Scope, TND 1.2 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Scope {
    /// Part of the device; Delete and rename are refused with 405.
    Permanent,
    /// Created and deleted at run time (the DDF default).
    #[default]
    Dynamic,
}

/// One stored node. The node name is the last segment of its key and is not repeated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The Format property; `node` for interior nodes.
    pub format: Format,
    /// The Type property: a MIME type for leaves, an MO identifier (or empty) for interior nodes.
    pub mime: String,
    /// The ACL property; empty means inherited.
    pub acl: Acl,
    /// The Title property.
    pub title: Option<String>,
    /// The TStamp property, as seconds since the Unix epoch.
    pub tstamp: Option<u64>,
    /// The VerNo property (wraps at 65535).
    pub verno: u16,
    /// Permanent or dynamic.
    pub scope: Scope,
    /// A leaf's value as written (empty for interior nodes).
    pub value: Vec<u8>,
}

impl NodeRecord {
    /// A fresh interior node with an empty (inherited) ACL.
    pub fn interior(mo_type: impl Into<String>) -> NodeRecord {
        NodeRecord {
            format: Format::Node,
            mime: mo_type.into(),
            acl: Acl::empty(),
            title: None,
            tstamp: None,
            verno: 0,
            scope: Scope::Dynamic,
            value: Vec::new(),
        }
    }

    /// A fresh leaf with an empty (inherited) ACL.
    pub fn leaf(format: Format, mime: impl Into<String>, value: Vec<u8>) -> NodeRecord {
        NodeRecord { format, mime: mime.into(), value, ..NodeRecord::interior("") }
    }

    /// True for interior nodes (Format `node`).
    pub fn is_interior(&self) -> bool {
        self.format == Format::Node
    }

    /// Records a change: bumps VerNo and sets TStamp.
    pub(crate) fn touch(&mut self, now: Option<u64>) {
        self.verno = self.verno.wrapping_add(1);
        if now.is_some() {
            self.tstamp = now;
        }
    }

    /// Encodes for a durable store (format version 1).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.value.len() + self.mime.len());
        out.push(1u8);
        put_bytes(&mut out, self.format.as_str().as_bytes());
        put_bytes(&mut out, self.mime.as_bytes());
        put_bytes(&mut out, self.acl.to_string().as_bytes());
        match &self.title {
            Some(t) => {
                out.push(1);
                put_bytes(&mut out, t.as_bytes());
            }
            None => out.push(0),
        }
        match self.tstamp {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.verno.to_le_bytes());
        out.push(match self.scope {
            Scope::Permanent => 1,
            Scope::Dynamic => 0,
        });
        put_bytes(&mut out, &self.value);
        out
    }

    /// Decodes what [`NodeRecord::encode`] wrote; corrupt input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<NodeRecord, StoreError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(1)? != [1] {
            return Err(StoreError("unknown node record version".into()));
        }
        let format = Format::parse(&r.string()?);
        let mime = r.string()?;
        let acl = Acl::parse(&r.string()?).map_err(StoreError::from_display)?;
        let title = if r.flag()? { Some(r.string()?) } else { None };
        let tstamp = if r.flag()? { Some(u64::from_le_bytes(r.array()?)) } else { None };
        let verno = u16::from_le_bytes(r.array()?);
        let scope = if r.flag()? { Scope::Permanent } else { Scope::Dynamic };
        let value = r.bytes()?.to_vec();
        if r.pos != bytes.len() {
            return Err(StoreError("trailing bytes in node record".into()));
        }
        Ok(NodeRecord { format, mime, acl, title, tstamp, verno, scope, value })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| StoreError("truncated node record".into()))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn flag(&mut self) -> Result<bool, StoreError> {
        Ok(self.take(1)?[0] != 0)
    }
    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = u32::from_le_bytes(self.array()?) as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, StoreError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| StoreError("non-UTF-8 text in node record".into()))
    }
}

/// Formats seconds since the epoch as a TStamp, `YYYYMMDDThhmmssZ` (TND 1.2 §7.7.7).
pub fn format_tstamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut r = NodeRecord::leaf(Format::Int, "text/plain", b"42".to_vec());
        r.acl = Acl::parse("Get=*&Replace=a").unwrap();
        r.title = Some("T".into());
        r.tstamp = Some(994_869_497);
        r.verno = 7;
        r.scope = Scope::Permanent;
        assert_eq!(NodeRecord::decode(&r.encode()).unwrap(), r);
        let i = NodeRecord::interior("urn:oma:mo:oma-dm-devinfo:1.0");
        assert_eq!(NodeRecord::decode(&i.encode()).unwrap(), i);
    }

    #[test]
    fn corrupt_records_are_errors() {
        let bytes = NodeRecord::leaf(Format::Chr, "text/plain", b"hello".to_vec()).encode();
        for n in 0..bytes.len() {
            assert!(NodeRecord::decode(&bytes[..n]).is_err());
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(NodeRecord::decode(&extra).is_err());
    }

    #[test]
    fn tstamps() {
        assert_eq!(format_tstamp(994_869_497), "20010711T163817Z");
        assert_eq!(format_tstamp(0), "19700101T000000Z");
        assert_eq!(format_tstamp(951_782_400), "20000229T000000Z");
    }
}
