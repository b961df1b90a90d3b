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
