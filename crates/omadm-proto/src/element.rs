//! Generic XML elements, for documents embedded in a message's `Data` (TNDS, DDF, DevInf).
//!
//! The SyncML message itself is decoded straight into typed structs; an embedded document's
//! vocabulary is someone else's (the tree crate reads TNDS from it), so it is kept as a small,
//! faithful element tree. It serializes to XML inline and to WBXML as a nested document.

/// One element of an embedded document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Element {
    /// Local name, e.g. `MgmtTree`.
    pub name: String,
    /// The default namespace declared on this element (`xmlns`), if any, e.g. `syncml:dmddf1.2`.
    pub namespace: Option<String>,
    /// Children in document order.
    pub children: Vec<Node>,
}

/// A child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (already unescaped).
    Text(String),
    /// Binary content (WBXML opaque).
    Opaque(Vec<u8>),
}

/// True if `name` can be written back as an XML element name without a prefix: an XML 1.0 `Name`
/// with no colon (Namespaces in XML 1.0 §3, `NCName`). Both decoders refuse other names (an empty
/// local name from `<a:/>`, a WBXML LITERAL name such as `IMEI:x` or `1x`), so that every decoded
/// document re-encodes to well-formed XML.
pub fn is_xml_name(name: &str) -> bool {
    // The common case, all ASCII, by table lookup; any other byte sends the name to the
    // character-by-character check.
    let bytes = name.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else { return false };
    let starts = ASCII_NAME[first as usize] & NAME_START != 0;
    let continues = rest.iter().fold(NAME_REST, |all, &b| all & ASCII_NAME[b as usize]) != 0;
    if starts && continues {
        return true;
    }
    if name.is_ascii() {
        return false;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// True if `c` is an XML 1.0 `Char` (§2.2): tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD and
/// U+10000–U+10FFFF. Both decoders refuse text with any other character (a control character such
/// as U+0001, from a raw byte, an XML character reference or a WBXML ENTITY; U+FFFE; U+FFFF): no
/// XML document can carry it, so the XML encoder could not write it back. Binary data (WBXML
/// OPAQUE) is not text and may hold any byte.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that is not an XML `Char` ([`is_xml_char`]), with its byte index.
pub fn find_non_xml_char(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| !is_xml_char(c))
}

/// The decoders' message for a character XML cannot carry, found in `place`.
#[cold]
pub(crate) fn non_xml_char_message(c: char, place: &str) -> String {
    format!("character U+{:04X} in {place} is not allowed in XML (XML 1.0 Char)", u32::from(c))
}

/// [`ASCII_NAME`] bit: the byte may start a name.
const NAME_START: u8 = 1;
/// [`ASCII_NAME`] bit: the byte may continue a name.
const NAME_REST: u8 = 2;

/// For each ASCII byte, whether it may start ([`NAME_START`]) or continue ([`NAME_REST`]) an
/// XML name without a colon; 0 for every other byte.
static ASCII_NAME: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' {
            table[b] = NAME_START | NAME_REST;
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            table[b] = NAME_REST;
        }
        b += 1;
    }
    table
};

/// XML 1.0 (5th ed.) §2.3 `NameStartChar`, without the colon.
fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (5th ed.) §2.3 `NameChar`, without the colon.
fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// The namespace of DM DDF and TNDS documents (DM TND 1.2 §8, TNDS 1.2 §5).
pub const DDF_NAMESPACE: &str = "syncml:dmddf1.2";

impl Element {
    /// An element with no namespace and no children.
    pub fn new(name: impl Into<String>) -> Self {
        Element { name: name.into(), namespace: None, children: Vec::new() }
    }

    /// Builder: appends a child element.
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The concatenated text of this element's direct text children.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// True when this element is (the root of) a DDF or TNDS document.
    pub fn is_ddf(&self) -> bool {
        self.name == "MgmtTree" || self.namespace.as_deref() == Some(DDF_NAMESPACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_chars() {
        for good in ['\t', '\n', '\r', ' ', '~', '\u{7F}', '\u{85}', '\u{D7FF}', '\u{E000}', '\u{FFFD}', '\u{10000}'] {
            assert!(is_xml_char(good), "{good:?}");
        }
        for bad in ['\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!is_xml_char(bad), "{bad:?}");
        }
        assert_eq!(find_non_xml_char("ab\u{1}c"), Some((2, '\u{1}')));
        assert_eq!(find_non_xml_char("é\u{FFFF}"), Some((2, '\u{FFFF}')));
        assert_eq!(find_non_xml_char("a\tb\r\n"), None);
    }

    #[test]
    fn xml_names() {
        for good in ["MgmtTree", "_x", "a-b.c_1", "été", "x\u{B7}y", "N\u{300}"] {
            assert!(is_xml_name(good), "{good:?}");
        }
        for bad in ["", "IMEI:x", "1x", "-x", ".x", "a b", "a<", "a\"", "\u{B7}x", "a\u{0}", "x\u{D7}", "a/b"] {
            assert!(!is_xml_name(bad), "{bad:?}");
        }
    }
}
