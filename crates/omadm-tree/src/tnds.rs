//! TNDS, Tree and Description Serialization (DM TNDS 1.2): a subtree with its run-time
//! properties as a `MgmtTree` element, to and from [`Element`] (so XML and WBXML alike).
//!
//! Writing: `?list=TNDS` streams the subtree through [`build`]. Reading: [`parse`] then
//! [`crate::Txn::add_tnds`] / [`crate::Txn::replace_tnds`]. A `bin` value is written as base64
//! text (XML cannot carry raw bytes; TND 1.2 §7.7.3) and read back from base64 text or from WBXML
//! opaque data.

use omadm_proto::element::DDF_NAMESPACE;
use omadm_proto::{Element, Format, StatusCode};

use crate::ddf::{df_type_element, Ddf, DdfNode, DdfValue, DfType};
use crate::error::{refuse, TreeError, TreeResult};
use crate::record::format_tstamp;
use crate::tree::ListedNode;
use crate::uri::{FieldSet, Property, Uri};
use crate::value::{decode_b64, encode_b64, Content};

/// Parses a TNDS `MgmtTree` element; a malformed document is answered with 400.
pub fn parse(doc: &Element) -> TreeResult<Ddf> {
    Ddf::from_element(doc).map_err(|e| TreeError::refused(StatusCode::BadRequest, format!("TNDS: {e}")))
}

/// The node a top-level TNDS node goes under: its Path read relative to `target`
/// (`./X` and `X` both mean `target/X`; no Path means `target`).
pub fn node_parent(target: &Uri, node: &DdfNode) -> TreeResult<Uri> {
    match node.path.as_deref().map(str::trim) {
        None | Some("") | Some(".") => Ok(target.clone()),
        Some(p) => Ok(target.join(&Uri::parse(p)?)),
    }
}

/// The MO identifier a TNDS node declares (`RTProperties/Type/DDFName`).
pub fn mo_id(node: &DdfNode) -> Option<String> {
    match node.rt.as_ref()?.df_type.as_ref()? {
        DfType::DdfName(n) if !n.is_empty() => Some(n.clone()),
        _ => None,
    }
}

/// The Add content a TNDS node stands for: its Format (interior when absent and the node has
/// no Value), Type and Value.
pub fn content_of(node: &DdfNode) -> TreeResult<Content> {
    let rt = node.rt.clone().unwrap_or_default();
    let format = match rt.format {
        Some(f) => f,
        None if node.is_interior() => Format::Node,
        None => Format::Chr,
    };
    if format == Format::Node {
        if node.value.is_some() {
            return refuse(StatusCode::BadRequest, "an interior TNDS node has a Value");
        }
        return Ok(Content::interior(mo_id(node).as_deref()));
    }
    let data = match (&format, &node.value) {
        (_, None) => Vec::new(),
        (Format::Bin, Some(DdfValue::Text(t))) => decode_b64(t.as_bytes()).unwrap_or_else(|| t.clone().into_bytes()),
        (_, Some(v)) => v.as_bytes().to_vec(),
    };
    let mime = match rt.df_type {
        Some(DfType::Mime(m)) => m.into_iter().next(),
        _ => None,
    };
    Ok(Content { format, mime, data })
}

/// One open node while building.
struct Open {
    uri: Uri,
    el: Element,
}

/// Builds a TNDS document from a pre-order stream of nodes (as [`crate::Txn::list`] yields),
/// writing the properties in `fields`. A node whose parent is not in the stream (hidden by an
/// ACL) gets a `Path`; the root `.` itself is not a node of the document.
pub fn build(items: impl Iterator<Item = TreeResult<ListedNode>>, fields: FieldSet) -> TreeResult<Element> {
    let mut doc = Element::new("MgmtTree");
    doc.namespace = Some(DDF_NAMESPACE.to_string());
    doc = doc.with_child(Element::new("VerDTD").with_text("1.2"));
    let mut stack: Vec<Open> = Vec::new();
    let mut top: Option<Uri> = None;
    for item in items {
        let item = item?;
        if item.uri.is_root() {
            top = Some(Uri::root());
            continue;
        }
        while stack.last().is_some_and(|o| !o.uri.contains(&item.uri)) {
            close(&mut stack, &mut doc);
        }
        let parent = item.uri.parent().unwrap_or_default();
        let direct = match stack.last() {
            Some(o) => o.uri == parent,
            None => top.as_ref() == Some(&parent),
        };
        top.get_or_insert_with(|| parent.clone());
        let path = match (&stack.last(), &top) {
            _ if direct => None,
            (Some(o), _) => o.uri.relative(&parent).map(|r| r.join("/")),
            (None, Some(t)) => t.relative(&parent).map(|r| r.join("/")).or_else(|| Some(parent.to_string())),
            (None, None) => Some(parent.to_string()),
        };
        stack.push(Open { el: node_element(&item, path, fields), uri: item.uri });
    }
    while !stack.is_empty() {
        close(&mut stack, &mut doc);
    }
    Ok(doc)
}

fn close(stack: &mut Vec<Open>, doc: &mut Element) {
    if let Some(o) = stack.pop() {
        match stack.last_mut() {
            Some(p) => p.el.children.push(omadm_proto::Node::Element(o.el)),
            None => doc.children.push(omadm_proto::Node::Element(o.el)),
        }
    }
}

fn node_element(item: &ListedNode, path: Option<String>, fields: FieldSet) -> Element {
    let r = &item.record;
    let mut e =
        Element::new("Node").with_child(Element::new("NodeName").with_text(item.uri.name().unwrap_or(".").to_string()));
    if let Some(p) = path.filter(|p| !p.is_empty()) {
        e = e.with_child(Element::new("Path").with_text(p));
    }
    let mut rt = Element::new("RTProperties");
    let text = |name: &str, v: String| Element::new(name).with_text(v);
    if fields.has(Property::Acl) && !r.acl.is_empty() {
        rt = rt.with_child(text("ACL", r.acl.to_string()));
    }
    if fields.has(Property::Format) {
        rt = rt.with_child(Element::new("Format").with_child(Element::new(r.format.as_str())));
    }
    if fields.has(Property::Name) {
        rt = rt.with_child(text("Name", item.uri.name().unwrap_or(".").to_string()));
    }
    if fields.has(Property::Size) && !r.is_interior() {
        rt = rt.with_child(text("Size", crate::value::size_of(&r.format, &r.value).to_string()));
    }
    if let (true, Some(t)) = (fields.has(Property::Title), &r.title) {
        rt = rt.with_child(text("Title", t.clone()));
    }
    if let (true, Some(t)) = (fields.has(Property::TStamp), r.tstamp) {
        rt = rt.with_child(text("TStamp", format_tstamp(t)));
    }
    // Type is mandatory in TNDS (TNDS 1.2 §5): MIME for leaves, DDFName for interior nodes.
    let ty = if r.is_interior() { DfType::DdfName(r.mime.clone()) } else { DfType::Mime(vec![r.mime.clone()]) };
    rt = rt.with_child(df_type_element("Type", &ty));
    if fields.has(Property::VerNo) {
        rt = rt.with_child(text("VerNo", r.verno.to_string()));
    }
    e = e.with_child(rt);
    if fields.has_value() && !r.is_interior() {
        let v = match r.format {
            Format::Bin => encode_b64(&r.value),
            _ => String::from_utf8_lossy(&r.value).into_owned(),
        };
        e = e.with_child(Element::new("Value").with_text(v));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NodeRecord;

    fn item(uri: &str, rec: NodeRecord) -> TreeResult<ListedNode> {
        Ok(ListedNode { uri: Uri::parse(uri).unwrap(), record: rec })
    }

    #[test]
    fn builds_nested_nodes_and_paths() {
        let leaf = |v: &str| NodeRecord::leaf(Format::Chr, "text/plain", v.as_bytes().to_vec());
        let items =
            vec![item("./A", NodeRecord::interior("urn:x")), item("./A/B", leaf("1")), item("./A/C/D", leaf("2"))];
        let doc = build(items.into_iter(), FieldSet::all()).unwrap();
        let ddf = Ddf::from_element(&doc).unwrap();
        assert_eq!(ddf.node_count(), 3);
        let a = &ddf.nodes[0];
        assert_eq!(a.name.as_deref(), Some("A"));
        assert_eq!(a.children[1].path.as_deref(), Some("C"));
        assert_eq!(mo_id(a).as_deref(), Some("urn:x"));
        assert_eq!(content_of(&a.children[0]).unwrap(), Content::chr("1").with_mime("text/plain"));
    }
}
