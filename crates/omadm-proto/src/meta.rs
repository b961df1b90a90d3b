//! Meta information (SyncML Meta-Information DTD 1.2, the `syncml:metinf` namespace, WBXML code page 1).

use std::fmt;

/// The `MetInf` content of a `Meta` element: every field of the MetInf page that DM uses.
///
/// Fields are optional because every one of them is optional on the wire; an absent Format means
/// `chr` and an absent Type means `text/plain` (DM Representation 1.2 §5), which
/// [`Meta::effective_format`] applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Meta {
    /// `Format`: the encoding of the Data (b64, chr, node, ...).
    pub format: Option<Format>,
    /// `Type`: the media type (MIME type, DDF name or generic-alert type URN).
    pub media_type: Option<String>,
    /// `Mark`: severity of a generic alert (DM 1.2 Protocol §8.7).
    pub mark: Option<String>,
    /// `Size`: byte size of the object (the total size on the first chunk of a large object).
    pub size: Option<u64>,
    /// `Anchor`: synchronization anchors (unused by DM, kept for completeness).
    pub anchor: Option<Anchor>,
    /// `Version`: version of the object.
    pub version: Option<String>,
    /// `NextNonce`: the nonce to use for the next authentication, base64 text as sent.
    pub next_nonce: Option<String>,
    /// `MaxMsgSize`: the largest message the sender accepts.
    pub max_msg_size: Option<u64>,
    /// `MaxObjSize`: the largest object the sender accepts.
    pub max_obj_size: Option<u64>,
    /// `EMI`: experimental meta information, in order.
    pub emi: Vec<String>,
    /// `Mem`: memory figures of a data store.
    pub mem: Option<Mem>,
    /// `FieldLevel`: field-level replace supported (empty element).
    pub field_level: bool,
}

impl Meta {
    /// A Meta with only a Format.
    pub fn with_format(format: Format) -> Self {
        Meta { format: Some(format), ..Meta::default() }
    }

    /// The Format in force: the one given, or `chr` when absent.
    pub fn effective_format(meta: Option<&Meta>) -> Format {
        meta.and_then(|m| m.format.clone()).unwrap_or(Format::Chr)
    }

    /// True when no field is set (such a Meta is not worth writing).
    pub fn is_empty(&self) -> bool {
        *self == Meta::default()
    }
}

/// `Anchor`: the Last and Next synchronization anchors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Anchor {
    /// `Last`.
    pub last: Option<String>,
    /// `Next`.
    pub next: Option<String>,
}

/// `Mem`: the memory of a data store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Mem {
    /// `SharedMem` (empty element).
    pub shared_mem: bool,
    /// `FreeMem` in bytes.
    pub free_mem: Option<u64>,
    /// `FreeID`: number of free item ids.
    pub free_id: Option<u64>,
}

/// The DM data formats (DM Tree and Description 1.2 §7; the Format property and Meta Format).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Format {
    /// Base64-encoded binary.
    B64,
    /// Raw binary (WBXML opaque).
    Bin,
    /// `true` / `false`.
    Bool,
    /// Text.
    Chr,
    /// Signed 32-bit integer.
    Int,
    /// Interior node.
    Node,
    /// No value.
    Null,
    /// XML document.
    Xml,
    /// ISO 8601 date.
    Date,
    /// ISO 8601 time.
    Time,
    /// IEEE 754 float.
    Float,
    /// Any other format string, kept as sent.
    Other(String),
}

impl Format {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Format::B64 => "b64",
            Format::Bin => "bin",
            Format::Bool => "bool",
            Format::Chr => "chr",
            Format::Int => "int",
            Format::Node => "node",
            Format::Null => "null",
            Format::Xml => "xml",
            Format::Date => "date",
            Format::Time => "time",
            Format::Float => "float",
            Format::Other(s) => s,
        }
    }

    /// Parses a wire spelling; the known names match case-insensitively, others are kept.
    pub fn parse(s: &str) -> Format {
        let t = crate::decode::trim(s);
        const KNOWN: [(&str, Format); 11] = [
            ("b64", Format::B64),
            ("bin", Format::Bin),
            ("bool", Format::Bool),
            ("chr", Format::Chr),
            ("int", Format::Int),
            ("node", Format::Node),
            ("null", Format::Null),
            ("xml", Format::Xml),
            ("date", Format::Date),
            ("time", Format::Time),
            ("float", Format::Float),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(t))
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| Format::Other(t.to_string()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for name in ["b64", "bin", "bool", "chr", "int", "node", "null", "xml", "date", "time", "float"] {
            assert_eq!(Format::parse(name).as_str(), name);
        }
        assert_eq!(Format::parse("CHR"), Format::Chr);
        assert_eq!(Format::parse("x-vendor"), Format::Other("x-vendor".into()));
    }

    #[test]
    fn absent_format_means_chr() {
        assert_eq!(Meta::effective_format(None), Format::Chr);
        assert_eq!(Meta::effective_format(Some(&Meta::with_format(Format::Node))), Format::Node);
    }
}
