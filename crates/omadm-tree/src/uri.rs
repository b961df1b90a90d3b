//! Management-tree URIs (DM TND 1.2 §6 "URIs", §8.4 structural queries).
//!
//! A [`Uri`] is a validated, decoded node path: `.` is the root, `./A/B` and `A/B` name the same
//! node, there is no trailing `/`, no `..` and no `.` segment after the prefix, and `%HH` escapes
//! are decoded. A [`TargetUri`] adds the optional query: `?prop=NAME` or
//! `?list=Struct|StructData|TNDS` with a `+`/`-` property selection. Limits come from
//! `DevDetail/URI/{MaxDepth,MaxTotLen,MaxSegLen}` and are answered with 414.

use std::fmt;

use omadm_proto::StatusCode;

use crate::error::{refuse, TreeResult};

/// A validated management-tree path, as decoded segments; no segments means the root `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uri {
    segments: Vec<String>,
}

/// Why a URI string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The text is not a legal tree URI (answered with 400).
    #[error("malformed URI: {0}")]
    Malformed(String),
    /// The URI exceeds a DevDetail/URI limit (answered with 414).
    #[error("URI too long: {0}")]
    TooLong(String),
    /// The query is well-formed but names something we do not support (answered with 406).
    #[error("unsupported URI query: {0}")]
    Unsupported(String),
}

impl UriError {
    /// The status code this rejection is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            UriError::Malformed(_) => StatusCode::BadRequest,
            UriError::TooLong(_) => StatusCode::UriTooLong,
            UriError::Unsupported(_) => StatusCode::OptionalFeatureNotSupported,
        }
    }
}

impl From<UriError> for crate::TreeError {
    fn from(e: UriError) -> Self {
        crate::TreeError::refused(e.status(), e.to_string())
    }
}

/// Characters allowed unescaped in a segment besides ASCII alphanumerics (TND 1.2 §6).
const SEGMENT_MARKS: &str = ":@&=+$,-_!~*'().";

/// Checks one decoded segment: not empty, not `.`/`..`, no `/` and no NUL.
pub(crate) fn check_segment(seg: &str) -> Result<(), UriError> {
    if seg.is_empty() {
        return Err(UriError::Malformed("empty segment".into()));
    }
    if seg == "." || seg == ".." {
        return Err(UriError::Malformed(format!("segment {seg:?} is not allowed")));
    }
    if seg.contains('/') || seg.contains('\0') {
        return Err(UriError::Malformed("segment holds '/' or NUL".into()));
    }
    Ok(())
}

/// Decodes `%HH` escapes of one raw segment and checks its characters.
fn decode_segment(raw: &str) -> Result<String, UriError> {
    if raw.bytes().all(kept_in_display) {
        // Nothing escaped and nothing to refuse: the segment is the text itself.
        check_segment(raw)?;
        return Ok(raw.to_string());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(|| UriError::Malformed("truncated %-escape".into()))?;
            let s = std::str::from_utf8(hex).map_err(|_| UriError::Malformed("bad %-escape".into()))?;
            let v = u8::from_str_radix(s, 16).map_err(|_| UriError::Malformed(format!("bad %-escape %{s}")))?;
            out.push(v);
            i += 3;
        } else if b.is_ascii_alphanumeric() || SEGMENT_MARKS.as_bytes().contains(&b) || b >= 0x80 {
            out.push(b);
            i += 1;
        } else {
            return Err(UriError::Malformed(format!("character {:?} must be %-escaped", b as char)));
        }
    }
    let s = String::from_utf8(out).map_err(|_| UriError::Malformed("escapes do not decode to UTF-8".into()))?;
    check_segment(&s)?;
    Ok(s)
}

impl Uri {
    /// The root node `.`.
    pub fn root() -> Uri {
        Uri { segments: Vec::new() }
    }

    /// Parses a path (no query) such as `.`, `./DevInfo/DevId` or `DevInfo/DevId`.
    pub fn parse(text: &str) -> Result<Uri, UriError> {
        if text.is_empty() {
            return Err(UriError::Malformed("empty URI".into()));
        }
        if text == "." {
            return Ok(Uri::root());
        }
        let rest = match text.strip_prefix("./") {
            Some("") => return Err(UriError::Malformed("\"./\" is not a URI; the root is \".\"".into())),
            Some(r) => r,
            None => text,
        };
        if rest.starts_with('/') || rest.ends_with('/') {
            return Err(UriError::Malformed("leading or trailing '/'".into()));
        }
        let segments = rest.split('/').map(decode_segment).collect::<Result<Vec<_>, _>>()?;
        Ok(Uri { segments })
    }

    /// Builds a URI from decoded segments, checking each.
    pub fn from_segments<I, S>(segments: I) -> Result<Uri, UriError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let segments: Vec<String> = segments.into_iter().map(Into::into).collect();
        for s in &segments {
            check_segment(s)?;
        }
        Ok(Uri { segments })
    }

    /// The decoded segments; empty for the root.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// True for the root `.`.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Number of segments below the root.
    pub fn depth(&self) -> usize {
        self.segments.len()
    }

    /// The last segment (the node name); `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The parent node; `None` for the root.
    pub fn parent(&self) -> Option<Uri> {
        let (_, init) = self.segments.split_last()?;
        Some(Uri { segments: init.to_vec() })
    }

    /// This URI with one more (decoded) segment.
    pub fn child(&self, name: &str) -> Result<Uri, UriError> {
        check_segment(name)?;
        let mut segments = self.segments.clone();
        segments.push(name.to_string());
        Ok(Uri { segments })
    }

    /// This URI followed by another one's segments (`other` read as relative).
    pub fn join(&self, other: &Uri) -> Uri {
        let mut segments = self.segments.clone();
        segments.extend(other.segments.iter().cloned());
        Uri { segments }
    }

    /// True when `self` is `other` or one of its ancestors.
    pub fn contains(&self, other: &Uri) -> bool {
        other.segments.starts_with(&self.segments)
    }

    /// The segments of `other` below `self`, if `self` contains it.
    pub fn relative<'a>(&self, other: &'a Uri) -> Option<&'a [String]> {
        other.segments.strip_prefix(self.segments.as_slice())
    }

    /// Total length used for MaxTotLen: decoded bytes of the segments joined by `/`.
    pub fn total_len(&self) -> usize {
        self.segments.iter().map(String::len).sum::<usize>() + self.segments.len().saturating_sub(1)
    }

    /// Checks the DevDetail/URI limits (each 0 = unlimited); a breach is answered with 414.
    pub fn check_limits(&self, limits: &UriLimits) -> Result<(), UriError> {
        if limits.max_depth != 0 && self.depth() > limits.max_depth {
            return Err(UriError::TooLong(format!("depth {} > MaxDepth {}", self.depth(), limits.max_depth)));
        }
        if limits.max_tot_len != 0 && self.total_len() > limits.max_tot_len {
            return Err(UriError::TooLong(format!("length {} > MaxTotLen {}", self.total_len(), limits.max_tot_len)));
        }
        if limits.max_seg_len != 0 {
            if let Some(s) = self.segments.iter().find(|s| s.len() > limits.max_seg_len) {
                return Err(UriError::TooLong(format!(
                    "segment of {} bytes > MaxSegLen {}",
                    s.len(),
                    limits.max_seg_len
                )));
            }
        }
        Ok(())
    }

    /// The storage key of this node in a [`crate::Store`]: each segment preceded by a NUL byte.
    /// NUL sorts below every other byte, so key order is depth-first pre-order and a subtree is
    /// one contiguous key range. Public for store backends and tools that read a store directly;
    /// keys that do not start with NUL (other than the root's empty key) are the engine's indexes.
    pub fn key(&self) -> String {
        let mut k = String::with_capacity(self.total_len() + 1);
        for s in &self.segments {
            k.push('\0');
            k.push_str(s);
        }
        k
    }

    /// Rebuilds a URI from a storage key written by [`Uri::key`].
    pub(crate) fn from_key(key: &str) -> Uri {
        Uri { segments: key.split('\0').skip(1).map(str::to_string).collect() }
    }
}

/// Whether a byte of a decoded segment is written as it is in a LocURI: unreserved ASCII, and
/// every byte of a non-ASCII character (those are kept, not %-escaped).
fn kept_in_display(b: u8) -> bool {
    b >= 0x80 || b.is_ascii_alphanumeric() || SEGMENT_MARKS.as_bytes().contains(&b)
}

/// Writes a decoded segment for display in a LocURI: runs of bytes kept as they are written
/// whole, the other ASCII bytes %-escaped.
fn write_segment(seg: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut run = 0;
    for (i, b) in seg.bytes().enumerate() {
        if !kept_in_display(b) {
            // `b` is ASCII, so `run..i` and `i + 1..` fall on character boundaries.
            f.write_str(&seg[run..i])?;
            write!(f, "%{b:02X}")?;
            run = i + 1;
        }
    }
    f.write_str(&seg[run..])
}

impl fmt::Display for Uri {
    /// Writes the canonical form `./A/B` (or `.`), %-escaping what must be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(".")?;
        for s in &self.segments {
            f.write_str("/")?;
            write_segment(s, f)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

/// The URI limits of DevDetail/URI (StdObj 1.2 §5.3); 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UriLimits {
    /// MaxDepth: most segments below the root.
    pub max_depth: usize,
    /// MaxTotLen: most bytes in the whole path.
    pub max_tot_len: usize,
    /// MaxSegLen: most bytes in one segment.
    pub max_seg_len: usize,
}

/// A node property (DM TND 1.2 §7), addressed as `URI?prop=NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// `ACL`: who may do what.
    Acl,
    /// `Format`: the data format.
    Format,
    /// `Name`: the node name (Replace renames).
    Name,
    /// `Size`: the byte size of a leaf's value.
    Size,
    /// `Title`: a human-readable title.
    Title,
    /// `TStamp`: the time of the last change.
    TStamp,
    /// `Type`: MIME type of a leaf, MO identifier of an interior node.
    Type,
    /// `VerNo`: a version number bumped on every change.
    VerNo,
    /// `CaseSense`: from the DDF, whether child names match case-sensitively (read only).
    CaseSense,
}

impl Property {
    /// All properties in the order TNDS writes them.
    pub const ALL: [Property; 9] = [
        Property::Acl,
        Property::Format,
        Property::Name,
        Property::Size,
        Property::Title,
        Property::TStamp,
        Property::Type,
        Property::VerNo,
        Property::CaseSense,
    ];

    /// The wire name (`ACL`, `Format`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Property::Acl => "ACL",
            Property::Format => "Format",
            Property::Name => "Name",
            Property::Size => "Size",
            Property::Title => "Title",
            Property::TStamp => "TStamp",
            Property::Type => "Type",
            Property::VerNo => "VerNo",
            Property::CaseSense => "CaseSense",
        }
    }

    /// Parses a wire name (exact spelling, as the spec writes it).
    pub fn parse(s: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of fields for a structural query: properties plus the pseudo-field `Value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldSet(u16);

const VALUE_BIT: u16 = 1 << 15;

impl FieldSet {
    /// No field.
    pub const EMPTY: FieldSet = FieldSet(0);

    /// Every property and the value.
    pub fn all() -> FieldSet {
        Property::ALL.into_iter().fold(FieldSet(VALUE_BIT), |s, p| s.with(p))
    }

    /// This set plus a property.
    pub fn with(self, p: Property) -> FieldSet {
        FieldSet(self.0 | p.bit())
    }

    /// This set plus the value.
    pub fn with_value(self) -> FieldSet {
        FieldSet(self.0 | VALUE_BIT)
    }

    /// True when the property is in the set.
    pub fn has(self, p: Property) -> bool {
        self.0 & p.bit() != 0
    }

    /// True when the value is in the set.
    pub fn has_value(self) -> bool {
        self.0 & VALUE_BIT != 0
    }

    fn minus(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 & !other.0)
    }
}

/// Which structure a `?list=` query asks for (TND 1.2 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `Struct`: every node's URI and Meta, no data.
    Struct,
    /// `StructData`: as Struct plus leaf data.
    StructData,
    /// `TNDS`: the subtree as a TNDS document.
    Tnds,
}

/// The query part of a target URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `?prop=NAME`: one property of the node.
    Prop(Property),
    /// `?list=KIND[+F...|-F...]`: a structural query with its field selection resolved.
    List {
        /// Struct, StructData or TNDS.
        kind: ListKind,
        /// The fields to report for each node.
        fields: FieldSet,
    },
}

impl ListKind {
    /// The fields reported when the query names none: Struct = Format and Type (its Meta);
    /// StructData adds the value; TNDS = every property and the value.
    pub fn default_fields(self) -> FieldSet {
        let base = FieldSet::EMPTY.with(Property::Format).with(Property::Type);
        match self {
            ListKind::Struct => base,
            ListKind::StructData => base.with_value(),
            ListKind::Tnds => FieldSet::all(),
        }
    }
}

/// A command target: a node URI plus an optional query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUri {
    /// The node.
    pub uri: Uri,
    /// `?prop=` or `?list=`, if given.
    pub query: Option<Query>,
}

impl From<Uri> for TargetUri {
    fn from(uri: Uri) -> Self {
        TargetUri { uri, query: None }
    }
}

/// Parses a field name of a `?list=` selection.
fn parse_field(name: &str) -> Result<FieldSet, UriError> {
    if name == "Value" {
        return Ok(FieldSet::EMPTY.with_value());
    }
    Property::parse(name)
        .map(|p| FieldSet::EMPTY.with(p))
        .ok_or_else(|| UriError::Unsupported(format!("unknown field {name:?} in ?list")))
}

fn parse_query(q: &str) -> Result<Query, UriError> {
    if let Some(name) = q.strip_prefix("prop=") {
        return Property::parse(name)
            .map(Query::Prop)
            .ok_or_else(|| UriError::Unsupported(format!("unknown property {name:?}")));
    }
    let Some(spec) = q.strip_prefix("list=") else {
        return Err(UriError::Unsupported(format!("unknown query {q:?}")));
    };
    let end = spec.find(['+', '-']).unwrap_or(spec.len());
    let kind = match &spec[..end] {
        "Struct" => ListKind::Struct,
        "StructData" => ListKind::StructData,
        "TNDS" => ListKind::Tnds,
        other => return Err(UriError::Unsupported(format!("unknown ?list kind {other:?}"))),
    };
    let rest = &spec[end..];
    if rest.is_empty() {
        return Ok(Query::List { kind, fields: kind.default_fields() });
    }
    let plus = rest.starts_with('+');
    let sep = if plus { '+' } else { '-' };
    if rest.contains(if plus { '-' } else { '+' }) {
        return Err(UriError::Malformed("'+' and '-' selections cannot be mixed".into()));
    }
    let mut chosen = FieldSet::EMPTY;
    for name in rest[1..].split(sep) {
        chosen = FieldSet(chosen.0 | parse_field(name)?.0);
    }
    let fields = if plus { chosen } else { FieldSet::all().minus(chosen) };
    Ok(Query::List { kind, fields })
}

impl TargetUri {
    /// Parses a LocURI such as `./A/B?prop=ACL` or `./A?list=TNDS+ACL+Value`.
    pub fn parse(text: &str) -> Result<TargetUri, UriError> {
        let (path, query) = match text.split_once('?') {
            Some((p, q)) => (p, Some(parse_query(q)?)),
            None => (text, None),
        };
        Ok(TargetUri { uri: Uri::parse(path)?, query })
    }

    /// Parses and checks the limits in one step.
    pub fn parse_checked(text: &str, limits: &UriLimits) -> Result<TargetUri, UriError> {
        let t = TargetUri::parse(text)?;
        t.uri.check_limits(limits)?;
        Ok(t)
    }
}

/// Parses a LocURI and answers the refusal status directly (for the client engine).
pub fn parse_target(text: &str, limits: &UriLimits) -> TreeResult<TargetUri> {
    match TargetUri::parse_checked(text, limits) {
        Ok(t) => Ok(t),
        Err(e) => refuse(e.status(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(s: &str) -> StatusCode {
        TargetUri::parse(s).unwrap_err().status()
    }

    #[test]
    fn legal_forms() {
        assert!(Uri::parse(".").unwrap().is_root());
        assert_eq!(Uri::parse("./A/B").unwrap(), Uri::parse("A/B").unwrap());
        assert_eq!(Uri::parse("./A%2FB").unwrap_err().status(), StatusCode::BadRequest);
        let u = Uri::parse("./A%20B/c.d/x:y@z").unwrap();
        assert_eq!(u.segments(), ["A B", "c.d", "x:y@z"]);
        assert_eq!(u.to_string(), "./A%20B/c.d/x:y@z");
        assert_eq!(Uri::parse("./Caf%C3%A9").unwrap().name(), Some("Café"));
        assert_eq!(Uri::parse("./Café").unwrap().to_string(), "./Café");
    }

    #[test]
    fn illegal_forms_are_400() {
        for s in [
            "", "./", "/A", "A/", "A//B", "./A/../B", "./A/./B", "..", "A/..", "./A/B/", "A B", "A%2", "A%zz", "A%FF",
            "A%00", "A#b", ".A/./",
        ] {
            assert_eq!(bad(s), StatusCode::BadRequest, "{s:?}");
        }
    }

    #[test]
    fn limits_are_414() {
        let lim = UriLimits { max_depth: 2, max_tot_len: 10, max_seg_len: 4 };
        assert!(TargetUri::parse_checked("./ab/cd", &lim).is_ok());
        for s in ["./a/b/c", "./abcd/efgh/i", "./abcde"] {
            assert_eq!(TargetUri::parse_checked(s, &lim).unwrap_err().status(), StatusCode::UriTooLong, "{s}");
        }
        assert!(TargetUri::parse_checked("./a/b/c/d/e/f", &UriLimits::default()).is_ok());
    }

    #[test]
    fn queries() {
        let t = TargetUri::parse("./A?prop=ACL").unwrap();
        assert_eq!(t.query, Some(Query::Prop(Property::Acl)));
        let t = TargetUri::parse("./A?list=Struct").unwrap();
        assert_eq!(t.query, Some(Query::List { kind: ListKind::Struct, fields: ListKind::Struct.default_fields() }));
        let Some(Query::List { kind, fields }) = TargetUri::parse("./A?list=TNDS+ACL+Value").unwrap().query else {
            panic!()
        };
        assert_eq!(kind, ListKind::Tnds);
        assert!(fields.has(Property::Acl) && fields.has_value() && !fields.has(Property::Format));
        let Some(Query::List { fields, .. }) = TargetUri::parse("./A?list=TNDS-ACL-Title").unwrap().query else {
            panic!()
        };
        assert!(!fields.has(Property::Acl) && !fields.has(Property::Title) && fields.has(Property::Type));
        assert_eq!(bad("./A?list=TNDS+ACL-Title"), StatusCode::BadRequest);
        assert_eq!(bad("./A?list=Tree"), StatusCode::OptionalFeatureNotSupported);
        assert_eq!(bad("./A?prop=Colour"), StatusCode::OptionalFeatureNotSupported);
        assert_eq!(bad("./A?foo=1"), StatusCode::OptionalFeatureNotSupported);
        assert_eq!(bad("./A?list=TNDS+Bogus"), StatusCode::OptionalFeatureNotSupported);
    }

    #[test]
    fn keys_sort_in_preorder() {
        let mut uris: Vec<Uri> =
            ["./a", "./a-b", "./a/b", "./a/b/c", ".", "./b"].iter().map(|s| Uri::parse(s).unwrap()).collect();
        uris.sort_by_key(|u| u.key());
        let order: Vec<String> = uris.iter().map(|u| u.to_string()).collect();
        assert_eq!(order, [".", "./a", "./a/b", "./a/b/c", "./a-b", "./b"]);
        for u in &uris {
            assert_eq!(&Uri::from_key(&u.key()), u);
        }
    }

    #[test]
    fn relations() {
        let a = Uri::parse("./A").unwrap();
        let ab = Uri::parse("./A/B").unwrap();
        assert!(a.contains(&ab) && !ab.contains(&a) && Uri::root().contains(&a));
        assert_eq!(ab.parent().unwrap(), a);
        assert_eq!(a.relative(&ab).unwrap(), ["B"]);
        assert_eq!(a.child("B").unwrap(), ab);
        assert!(a.child("..").is_err());
    }
}
