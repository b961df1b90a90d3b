//! The pull-event interface shared by the XML and WBXML decoders.
//!
//! Each syntax turns bytes into the same small stream of events; one builder ([`crate::decode`])
//! turns events into the typed model. So the mapping between elements and structs exists once,
//! and both encodings are guaranteed to mean the same message.

use crate::error::Result;
use std::borrow::Cow;

/// One parsing event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// An element starts. Its namespace, which only elements kept as generic ones keep, is
    /// asked of the source ([`EventSource::start_namespace`]): carried here, it made every
    /// event larger, and moving events cost more than the question.
    Start { name: Cow<'a, str> },
    /// An element without content (WBXML) nested deeper than [`crate::Limits::max_depth`]
    /// allows: the builder refuses it as the limit wherever it takes an element, and as an
    /// element where it reads text, which it refused as such before it looked at depth. (The
    /// XML reader refuses every element nested too deep itself, and WBXML ones with content;
    /// so the builder has no check of depth of its own to make for every element.)
    TooDeep,
    /// The innermost open element ends.
    End,
    /// Character data, unescaped; adjacent pieces are already joined.
    Text(Cow<'a, str>),
    /// Binary data (WBXML OPAQUE).
    Opaque(&'a [u8]),
    /// End of the document.
    Eof,
}

/// A source of [`Event`]s over a borrowed input.
pub(crate) trait EventSource<'a> {
    /// The next event.
    fn next_event(&mut self) -> Result<Event<'a>>;
    /// The rest of the current element when it holds character data only (the common leaf,
    /// such as `<CmdID>1</CmdID>`): its text, read through the element's end without making
    /// events (empty for an empty element). `None`, having consumed nothing, when the element
    /// holds anything else (child elements, opaque data, comments, ...): the caller then reads
    /// it event by event.
    fn leaf_text(&mut self) -> Result<Option<Cow<'a, str>>>;
    /// The byte offset the source has reached, for error messages.
    fn offset(&self) -> usize;
    /// The namespace of the element of the last [`Event::Start`], asked before any other event:
    /// the default namespace it declares (XML `xmlns`), or the namespace implied by a WBXML
    /// code-page change.
    fn start_namespace(&self) -> Option<Cow<'a, str>>;
    /// The name of the element started last at `depth` (0 is the root), as its
    /// [`Event::Start`] named it: an open element, or else the one that ended last at that depth
    /// (also an element without content whose end is still to come). The builder names the
    /// elements of its error paths through this, so that it keeps no names of its own on the
    /// success path: every element on its path was started last at its depth, because the
    /// builder finishes an element before it reads the next event.
    fn path_name(&self, depth: usize) -> Option<Cow<'_, str>>;
}

/// `input` as text, as [`std::str::from_utf8`] gives it, checked first for ASCII 32 bytes at a
/// time: DM messages are ASCII almost always, and this loop costs about a quarter of what
/// `from_utf8` spends a byte (0.7 instructions). Only other input is checked as UTF-8.
pub(crate) fn input_text(input: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
    let mut chunks = input.chunks_exact(32);
    let mut any = 0;
    for chunk in &mut chunks {
        any |= word(&chunk[..8]) | word(&chunk[8..16]) | word(&chunk[16..24]) | word(&chunk[24..]);
    }
    if any & HIGH_BITS == 0 && chunks.remainder().is_ascii() {
        // SAFETY: every byte of `input` is below 0x80 (checked just above), and ASCII text is
        // UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(input) });
    }
    std::str::from_utf8(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_is_from_utf8() {
        for len in 0..80 {
            let ascii = vec![b'a'; len];
            assert_eq!(input_text(&ascii), std::str::from_utf8(&ascii));
            for at in 0..len {
                for special in [&b"\xC3\xA9"[..], b"\xE9", b"\x80", b"\xFF", b"\x7F"] {
                    let mut bytes = ascii.clone();
                    bytes.splice(at..at + 1, special.iter().copied());
                    assert_eq!(input_text(&bytes), std::str::from_utf8(&bytes), "{bytes:02X?}");
                }
            }
        }
    }
}
