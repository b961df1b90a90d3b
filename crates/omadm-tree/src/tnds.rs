//! TNDS, Tree and Description Serialization (DM TNDS 1.2): a subtree with its run-time
//! properties as a `MgmtTree` element, to and from [`Element`] (so XML and WBXML alike).
//!
//! Writing: `?list=TNDS` answers a [`crate::TndsList`], which streams the subtree as XML or WBXML
//! bytes through [`TndsStream`] or builds it in memory through [`build`]. Reading: [`parse`] then
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

/// Turns a pre-order node stream into the nesting of a TNDS document: for each node, how many
/// open nodes end before it and its own element (children not included). A node whose parent is
/// not in the stream (hidden by an ACL) gets a `Path`; the root `.` itself is not a node of the
/// document. Holds only the URIs of the open nodes, so a stream of any size shapes in memory
/// bounded by the tree depth.
#[derive(Default)]
struct Shaper {
    open: Vec<Uri>,
    top: Option<Uri>,
}

impl Shaper {
    fn place(&mut self, item: &ListedNode, fields: FieldSet) -> (usize, Option<Element>) {
        if item.uri.is_root() {
            self.top = Some(Uri::root());
            return (0, None);
        }
        let mut closed = 0;
        while self.open.last().is_some_and(|o| !o.contains(&item.uri)) {
            self.open.pop();
            closed += 1;
        }
        let parent = item.uri.parent().unwrap_or_default();
        let direct = match self.open.last() {
            Some(o) => *o == parent,
            None => self.top.as_ref() == Some(&parent),
        };
        self.top.get_or_insert_with(|| parent.clone());
        let path = match (self.open.last(), &self.top) {
            _ if direct => None,
            (Some(o), _) => o.relative(&parent).map(|r| r.join("/")),
            (None, Some(t)) => t.relative(&parent).map(|r| r.join("/")).or_else(|| Some(parent.to_string())),
            (None, None) => Some(parent.to_string()),
        };
        self.open.push(item.uri.clone());
        (closed, Some(node_element(item, path, fields)))
    }
}

fn document_start() -> Element {
    let mut doc = Element::new("MgmtTree");
    doc.namespace = Some(DDF_NAMESPACE.to_string());
    doc.with_child(Element::new("VerDTD").with_text("1.2"))
}

/// Builds a TNDS document in memory from a pre-order stream of nodes (as [`crate::Txn::list`]
/// yields), writing the properties in `fields`. For large subtrees use [`TndsStream`], which
/// never holds the document.
pub fn build(items: impl Iterator<Item = TreeResult<ListedNode>>, fields: FieldSet) -> TreeResult<Element> {
    let mut doc = document_start();
    let mut shaper = Shaper::default();
    let mut stack: Vec<Element> = Vec::new();
    let close = |stack: &mut Vec<Element>, doc: &mut Element| {
        if let Some(el) = stack.pop() {
            stack.last_mut().unwrap_or(doc).children.push(omadm_proto::Node::Element(el));
        }
    };
    for item in items {
        let (closed, el) = shaper.place(&item?, fields);
        for _ in 0..closed {
            close(&mut stack, &mut doc);
        }
        stack.extend(el);
    }
    while !stack.is_empty() {
        close(&mut stack, &mut doc);
    }
    Ok(doc)
}

/// The serialization a [`TndsStream`] writes (TNDS 1.2 §5: `application/vnd.syncml.dmtnds+xml`
/// or `+wbxml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TndsEncoding {
    /// XML text, without an XML declaration.
    Xml,
    /// WBXML 1.2, code page 2 and the DDF public id in the string table (as libwbxml writes it).
    Wbxml,
}

impl TndsEncoding {
    /// The MIME type of a document in this encoding.
    pub fn media_type(self) -> &'static str {
        match self {
            TndsEncoding::Xml => "application/vnd.syncml.dmtnds+xml",
            TndsEncoding::Wbxml => "application/vnd.syncml.dmtnds+wbxml",
        }
    }
}

/// A TNDS document written as it is read: the bytes of `?list=TNDS` (TND 1.2 §8.4) produced node
/// by node from a pre-order stream, so a client can send a subtree of any size as a large object
/// (DM Protocol 1.2 §7) chunk by chunk. It holds one node's encoding, the open nodes' URIs and
/// the node stream's own buffer, never the document.
///
/// Pull it with [`TndsStream::next_chunk`] or through [`std::io::Read`]; a failure of the node
/// stream (store error) ends it with that error.
pub struct TndsStream<I> {
    items: I,
    fields: FieldSet,
    encoding: TndsEncoding,
    shaper: Shaper,
    /// Bytes written but not yet handed out, from `pos` on.
    pending: Vec<u8>,
    pos: usize,
    /// Length of the WBXML document start (header, `MgmtTree`, `VerDTD`), to cut node encodings.
    wbxml_prefix: usize,
    state: StreamState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Start,
    Nodes,
    Done,
}

const XML: omadm_proto::xml::XmlOptions =
    omadm_proto::xml::XmlOptions { declaration: false, pretty: false, cdata: false };
const WBXML: omadm_proto::wbxml::WbxmlOptions =
    omadm_proto::wbxml::WbxmlOptions { version: omadm_proto::wbxml::WbxmlVersion::V1_2, string_table: false };
/// WBXML END token.
const END: u8 = 0x01;

fn encode_failed(e: omadm_proto::Error) -> TreeError {
    TreeError::refused(StatusCode::CommandFailed, format!("TNDS encoding: {e}"))
}

impl<I: Iterator<Item = TreeResult<ListedNode>>> TndsStream<I> {
    /// A stream writing `items` (pre-order, as [`crate::Txn::list`] yields) with the properties
    /// in `fields`.
    pub fn new(items: I, fields: FieldSet, encoding: TndsEncoding) -> TndsStream<I> {
        TndsStream {
            items,
            fields,
            encoding,
            shaper: Shaper::default(),
            pending: Vec::new(),
            pos: 0,
            wbxml_prefix: 0,
            state: StreamState::Start,
        }
    }

    /// The encoding being written.
    pub fn encoding(&self) -> TndsEncoding {
        self.encoding
    }

    /// Up to `max` (at least 1) next bytes of the document; `None` once it is complete.
    pub fn next_chunk(&mut self, max: usize) -> TreeResult<Option<Vec<u8>>> {
        let max = max.max(1);
        while self.pending.len() - self.pos < max && self.state != StreamState::Done {
            self.produce()?;
        }
        if self.pos == self.pending.len() {
            return Ok(None);
        }
        let end = (self.pos + max).min(self.pending.len());
        let chunk = self.pending[self.pos..end].to_vec();
        self.pos = end;
        Ok(Some(chunk))
    }

    /// Writes the rest of the document to `out`; returns the number of bytes written.
    pub fn write_to(&mut self, out: &mut impl std::io::Write) -> std::io::Result<u64> {
        std::io::copy(self, out)
    }

    /// Appends the next piece of the document to `pending`.
    fn produce(&mut self) -> TreeResult<()> {
        if self.pos > 0 {
            self.pending.drain(..self.pos);
            self.pos = 0;
        }
        match self.state {
            StreamState::Start => {
                let start = document_start();
                match self.encoding {
                    TndsEncoding::Xml => {
                        let mut bytes = omadm_proto::xml::write_element(&start, &XML);
                        bytes.truncate(bytes.len() - "</MgmtTree>".len());
                        self.pending.extend_from_slice(&bytes);
                    }
                    TndsEncoding::Wbxml => {
                        let bytes = omadm_proto::wbxml::encode_document(&start, &WBXML).map_err(encode_failed)?;
                        self.wbxml_prefix = bytes.len() - 1;
                        self.pending.extend_from_slice(&bytes[..self.wbxml_prefix]);
                    }
                }
                self.state = StreamState::Nodes;
            }
            StreamState::Nodes => match self.items.next() {
                Some(item) => {
                    let item = item.inspect_err(|_| self.state = StreamState::Done)?;
                    let (closed, el) = self.shaper.place(&item, self.fields);
                    for _ in 0..closed {
                        self.close_node();
                    }
                    if let Some(el) = el {
                        self.open_node(el)?;
                    }
                }
                None => {
                    for _ in 0..self.shaper.open.len() {
                        self.close_node();
                    }
                    self.shaper.open.clear();
                    match self.encoding {
                        TndsEncoding::Xml => self.pending.extend_from_slice(b"</MgmtTree>"),
                        TndsEncoding::Wbxml => self.pending.push(END),
                    }
                    self.state = StreamState::Done;
                }
            },
            StreamState::Done => {}
        }
        Ok(())
    }

    fn close_node(&mut self) {
        match self.encoding {
            TndsEncoding::Xml => self.pending.extend_from_slice(b"</Node>"),
            TndsEncoding::Wbxml => self.pending.push(END),
        }
    }

    /// Writes a node's start and own content, leaving it open for its children.
    fn open_node(&mut self, el: Element) -> TreeResult<()> {
        match self.encoding {
            TndsEncoding::Xml => {
                let bytes = omadm_proto::xml::write_element(&el, &XML);
                let open = bytes.strip_suffix(b"</Node>").unwrap_or(&bytes);
                self.pending.extend_from_slice(open);
            }
            TndsEncoding::Wbxml => {
                // The node inside a document with the same start: its tokens are the bytes
                // between that start and the two closing ENDs (Node, MgmtTree).
                let doc = document_start().with_child(el);
                let bytes = omadm_proto::wbxml::encode_document(&doc, &WBXML).map_err(encode_failed)?;
                let body = bytes
                    .get(self.wbxml_prefix..bytes.len().saturating_sub(2))
                    .filter(|_| bytes.ends_with(&[END, END]));
                let Some(body) = body else {
                    return Err(TreeError::refused(StatusCode::CommandFailed, "TNDS encoding: unexpected node layout"));
                };
                self.pending.extend_from_slice(body);
            }
        }
        Ok(())
    }
}

impl<I: Iterator<Item = TreeResult<ListedNode>>> std::io::Read for TndsStream<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.next_chunk(buf.len()) {
            Ok(Some(chunk)) => {
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            Ok(None) => Ok(0),
            Err(e) => Err(std::io::Error::other(e)),
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
