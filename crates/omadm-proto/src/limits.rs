//! Decoder limits: bound what hostile input can make a decoder do.

/// Limits applied while decoding. Every decoder checks them before allocating or recursing, so no
/// input can make it panic, recurse without bound or allocate more than the input justifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message, in bytes.
    pub max_message_size: usize,
    /// Deepest accepted element nesting (SyncML plus any embedded document).
    pub max_depth: usize,
    /// Longest accepted single string or opaque value, in bytes.
    pub max_string_len: usize,
}

impl Limits {
    /// Defaults: 16 MiB messages, 64 levels of nesting, 16 MiB strings.
    pub const DEFAULT: Limits = Limits {
        max_message_size: 16 << 20,
        max_depth: 64,
        max_string_len: 16 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
