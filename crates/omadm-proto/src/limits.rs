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
    /// Deepest accepted nesting of Atomic/Sequence commands. DM itself needs two levels (a
    /// Sequence inside an Atomic); each level is a deep, stack-hungry recursion, so it is bounded
    /// apart from plain element nesting.
    pub max_command_nesting: usize,
}

impl Limits {
    /// Defaults: 16 MiB messages, 64 levels of element nesting, 16 MiB strings, 8 levels of
    /// Atomic/Sequence.
    pub const DEFAULT: Limits =
        Limits { max_message_size: 16 << 20, max_depth: 64, max_string_len: 16 << 20, max_command_nesting: 8 };
}

impl Limits {
    /// Refuses an input larger than [`Limits::max_message_size`], before any decoding work.
    pub(crate) fn check_message_size(&self, len: usize) -> crate::error::Result<()> {
        if len > self.max_message_size {
            return Err(crate::error::Error::new(crate::error::ErrorKind::Limit(format!(
                "message of {len} bytes exceeds the maximum of {}",
                self.max_message_size
            ))));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
