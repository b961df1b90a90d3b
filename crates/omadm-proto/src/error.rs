//! Decoding and encoding errors: each says what went wrong and where (byte offset, element path).

use std::fmt;

/// What went wrong while decoding or encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The input is not well-formed XML.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The input is not well-formed WBXML.
    #[error("malformed WBXML: {0}")]
    Wbxml(String),
    /// The input ended before the document did.
    #[error("unexpected end of input")]
    UnexpectedEof,
    /// The document is well-formed but is not a valid SyncML DM message.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// A required element is absent.
    #[error("missing required element <{0}>")]
    Missing(&'static str),
    /// An element's text does not parse (e.g. a non-numeric MaxMsgSize).
    #[error("bad value {value:?} in <{element}>: {reason}")]
    BadValue {
        /// Element name.
        element: &'static str,
        /// The offending text (truncated).
        value: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A configured limit was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The input's format (XML, WBXML, hex, base64) could not be recognized.
    #[error("unrecognized input format: {0}")]
    UnknownFormat(String),
    /// The message cannot be represented in the requested encoding.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// A decoding or encoding error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Byte offset in the input where it was noticed, when known.
    pub offset: Option<usize>,
    /// The path of open elements, e.g. `/SyncML/SyncBody/Get/Item`, when known.
    pub path: String,
}

impl Error {
    /// An error with no location yet.
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, offset: None, path: String::new() }
    }

    /// Sets the byte offset if none was set.
    pub fn at(mut self, offset: usize) -> Self {
        self.offset.get_or_insert(offset);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.path.is_empty() {
            write!(f, " in {}", self.path)?;
        }
        if let Some(off) = self.offset {
            write!(f, " at byte {off}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
