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
    /// An element starts. `namespace` is the default namespace it declares (XML `xmlns`), or the
    /// namespace implied by a WBXML code-page change.
    Start { name: Cow<'a, str>, namespace: Option<Cow<'a, str>> },
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
    /// The name of the element started last at `depth` (0 is the root), as its
    /// [`Event::Start`] named it: an open element, or else the one that ended last at that depth
    /// (also an element without content whose end is still to come). The builder names the
    /// elements of its error paths through this, so that it keeps no names of its own on the
    /// success path: every element on its path was started last at its depth, because the
    /// builder finishes an element before it reads the next event.
    fn path_name(&self, depth: usize) -> Option<Cow<'_, str>>;
}
