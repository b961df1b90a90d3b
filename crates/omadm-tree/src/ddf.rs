//! DDF, the Device Description Framework (DM TND 1.2 §8, DDF DTD 1.2): parse a `MgmtTree`
//! document from an [`Element`] (so XML and WBXML code page 2 both work), check it, write it
//! back, and answer "what does the description say about this URI" for the engine.

use std::fmt;

use omadm_proto::element::DDF_NAMESPACE;
use omadm_proto::{Element, Format, Node};

use crate::record::Scope;
use crate::uri::{check_segment, Uri};

/// A DDF command an AccessType can allow (TND 1.2 §8.4.1; unlike ACLs it includes Copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DdfCommand {
    /// Add.
    Add,
    /// Copy.
    Copy,
    /// Delete.
    Delete,
    /// Exec.
    Exec,
    /// Get.
    Get,
    /// Replace.
    Replace,
}

impl DdfCommand {
    /// All six, in DTD order.
    pub const ALL: [DdfCommand; 6] =
        [DdfCommand::Add, DdfCommand::Copy, DdfCommand::Delete, DdfCommand::Exec, DdfCommand::Get, DdfCommand::Replace];

    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            DdfCommand::Add => "Add",
            DdfCommand::Copy => "Copy",
            DdfCommand::Delete => "Delete",
            DdfCommand::Exec => "Exec",
            DdfCommand::Get => "Get",
            DdfCommand::Replace => "Replace",
        }
    }
}

/// The commands a node description allows (DFProperties/AccessType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct AccessType(u8);

impl AccessType {
    /// Every command.
    pub fn all() -> AccessType {
        DdfCommand::ALL.into_iter().fold(AccessType(0), AccessType::with)
    }

    /// This set plus a command.
    pub fn with(self, c: DdfCommand) -> AccessType {
        AccessType(self.0 | 1 << c as u8)
    }

    /// True when the command is allowed.
    pub fn allows(self, c: DdfCommand) -> bool {
        self.0 & (1 << c as u8) != 0
    }

    /// True when nothing is allowed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// How many instances of a node may exist (DFProperties/Occurrence; default One).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Occurrence {
    /// Exactly one.
    #[default]
    One,
    /// Zero or one.
    ZeroOrOne,
    /// Any number.
    ZeroOrMore,
    /// At least one.
    OneOrMore,
    /// At most N (N in 2..=65536).
    ZeroOrN(u32),
    /// Between one and N.
    OneOrN(u32),
}

impl Occurrence {
    /// The fewest instances allowed.
    pub fn min(self) -> u32 {
        match self {
            Occurrence::One | Occurrence::OneOrMore | Occurrence::OneOrN(_) => 1,
            _ => 0,
        }
    }

    /// The most instances allowed; `None` = unbounded.
    pub fn max(self) -> Option<u32> {
        match self {
            Occurrence::One | Occurrence::ZeroOrOne => Some(1),
            Occurrence::ZeroOrN(n) | Occurrence::OneOrN(n) => Some(n),
            Occurrence::ZeroOrMore | Occurrence::OneOrMore => None,
        }
    }
}

/// DFType: the MIME types a leaf accepts, or the MO identifier / DDF name of an interior node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DfType {
    /// One or more MIME types.
    Mime(Vec<String>),
    /// A DDF name (an MO identifier such as `urn:oma:mo:oma-dm-devinfo:1.0`).
    DdfName(String),
}

impl DfType {
    /// The value the Type property of a new node takes: the first MIME type or the DDF name.
    pub fn primary(&self) -> &str {
        match self {
            DfType::Mime(v) => v.first().map_or("", String::as_str),
            DfType::DdfName(n) => n,
        }
    }
}

/// CaseSense: whether child names match case-sensitively (default CS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum CaseSense {
    /// Case-sensitive.
    #[default]
    Cs,
    /// Case-insensitive.
    Cis,
}

/// DFProperties: what the description says of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DfProperties {
    /// AccessType.
    pub access: AccessType,
    /// DefaultValue.
    pub default_value: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// DFFormat.
    pub format: Format,
    /// Occurrence.
    pub occurrence: Occurrence,
    /// Scope.
    pub scope: Scope,
    /// DFTitle.
    pub title: Option<String>,
    /// DFType.
    pub df_type: DfType,
    /// CaseSense.
    pub case_sense: CaseSense,
}

/// The `Value` of a TNDS leaf: text (XML, WBXML strings) or binary (WBXML opaque).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdfValue {
    /// Character data.
    Text(String),
    /// Opaque bytes.
    Binary(Vec<u8>),
}

impl DdfValue {
    /// The bytes of the value.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            DdfValue::Text(t) => t.as_bytes(),
            DdfValue::Binary(b) => b,
        }
    }
}

/// Reads a `Value`: all text, or the bytes when any part is opaque.
fn value_of(e: &Element) -> DdfValue {
    if e.children.iter().any(|n| matches!(n, Node::Opaque(_))) {
        let mut b = Vec::new();
        for n in &e.children {
            match n {
                Node::Text(t) => b.extend_from_slice(t.as_bytes()),
                Node::Opaque(o) => b.extend_from_slice(o),
                Node::Element(_) => {}
            }
        }
        DdfValue::Binary(b)
    } else {
        DdfValue::Text(e.text())
    }
}

/// RTProperties: a node's run-time properties, as TNDS carries them (TNDS 1.2 §5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtProperties {
    /// ACL text.
    pub acl: Option<String>,
    /// Format.
    pub format: Option<Format>,
    /// Name.
    pub name: Option<String>,
    /// Size.
    pub size: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// TStamp.
    pub tstamp: Option<String>,
    /// Type.
    pub df_type: Option<DfType>,
    /// VerNo.
    pub verno: Option<String>,
}

/// One `Node` of a DDF or TNDS document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdfNode {
    /// NodeName; `None` when empty, i.e. named at run time (`<x>`).
    pub name: Option<String>,
    /// Path, when given.
    pub path: Option<String>,
    /// RTProperties, when given.
    pub rt: Option<RtProperties>,
    /// DFProperties, when given.
    pub df: Option<DfProperties>,
    /// Value of a leaf (TNDS) when given.
    pub value: Option<DdfValue>,
    /// Child nodes.
    pub children: Vec<DdfNode>,
}

/// A parsed `MgmtTree` document (a DDF or a TNDS tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddf {
    /// VerDTD, e.g. `1.2`.
    pub ver_dtd: String,
    /// Man.
    pub man: Option<String>,
    /// Mod.
    pub model: Option<String>,
    /// The top-level nodes.
    pub nodes: Vec<DdfNode>,
}

/// Why a document is not a DDF/TNDS `MgmtTree`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DdfError {
    /// Where, as element names and node names.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, DdfError> {
    Err(DdfError { path: path.to_string(), message: message.into() })
}

/// The child elements, skipping whitespace text; any other text or opaque data is an error.
fn elems<'a>(e: &'a Element, path: &str) -> Result<Vec<&'a Element>, DdfError> {
    let mut out = Vec::new();
    for n in &e.children {
        match n {
            Node::Element(c) => out.push(c),
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Text(t) => return err(path, format!("unexpected text {:?} in <{}>", truncate(t), e.name)),
            Node::Opaque(_) => return err(path, format!("unexpected binary data in <{}>", e.name)),
        }
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.trim().chars().take(40).collect()
}

/// The text of an element (opaque data read as UTF-8).
fn text(e: &Element, path: &str) -> Result<String, DdfError> {
    let mut s = String::new();
    for n in &e.children {
        match n {
            Node::Text(t) => s.push_str(t),
            Node::Opaque(b) => match std::str::from_utf8(b) {
                Ok(t) => s.push_str(t),
                Err(_) => return err(path, format!("<{}> holds non-UTF-8 data", e.name)),
            },
            Node::Element(c) => return err(path, format!("unexpected <{}> in <{}>", c.name, e.name)),
        }
    }
    Ok(s)
}

/// The single empty-element choice inside a wrapper such as `<DFFormat><chr/></DFFormat>`.
fn choice<'a>(e: &'a Element, path: &str) -> Result<&'a Element, DdfError> {
    let kids = elems(e, path)?;
    match kids.as_slice() {
        [one] => Ok(one),
        _ => err(path, format!("<{}> must hold exactly one element", e.name)),
    }
}

fn parse_format(e: &Element, path: &str) -> Result<Format, DdfError> {
    let f = Format::parse(&choice(e, path)?.name);
    match f {
        Format::Other(name) => err(path, format!("unknown format <{name}>")),
        f => Ok(f),
    }
}

fn parse_df_type(e: &Element, path: &str) -> Result<DfType, DdfError> {
    let mut mimes = Vec::new();
    let mut ddf_name = None;
    for c in elems(e, path)? {
        match c.name.as_str() {
            "MIME" => mimes.push(text(c, path)?.trim().to_string()),
            "DDFName" => ddf_name = Some(text(c, path)?.trim().to_string()),
            other => return err(path, format!("unexpected <{other}> in <{}>", e.name)),
        }
    }
    match (mimes.is_empty(), ddf_name) {
        (false, None) => Ok(DfType::Mime(mimes)),
        (true, Some(n)) => Ok(DfType::DdfName(n)),
        (true, None) => err(path, format!("<{}> needs <MIME> or <DDFName>", e.name)),
        (false, Some(_)) => err(path, format!("<{}> mixes <MIME> and <DDFName>", e.name)),
    }
}

fn parse_occurrence(e: &Element, path: &str) -> Result<Occurrence, DdfError> {
    let c = choice(e, path)?;
    let n = || -> Result<u32, DdfError> {
        let t = text(c, path)?;
        match t.trim().parse::<u32>() {
            Ok(n) if (2..=65_536).contains(&n) => Ok(n),
            _ => err(path, format!("<{}> needs N in 2..=65536, got {:?}", c.name, truncate(&t))),
        }
    };
    Ok(match c.name.as_str() {
        "One" => Occurrence::One,
        "ZeroOrOne" => Occurrence::ZeroOrOne,
        "ZeroOrMore" => Occurrence::ZeroOrMore,
        "OneOrMore" => Occurrence::OneOrMore,
        "ZeroOrN" => Occurrence::ZeroOrN(n()?),
        "OneOrN" => Occurrence::OneOrN(n()?),
        other => return err(path, format!("unknown occurrence <{other}>")),
    })
}

fn parse_df(e: &Element, path: &str) -> Result<DfProperties, DdfError> {
    let mut access = None;
    let mut df = DfProperties {
        access: AccessType::default(),
        default_value: None,
        description: None,
        format: Format::Chr,
        occurrence: Occurrence::One,
        scope: Scope::Dynamic,
        title: None,
        df_type: DfType::Mime(Vec::new()),
        case_sense: CaseSense::Cs,
    };
    let (mut has_format, mut has_type) = (false, false);
    for c in elems(e, path)? {
        match c.name.as_str() {
            "AccessType" => {
                let mut a = AccessType::default();
                for cmd in elems(c, path)? {
                    let Some(k) = DdfCommand::ALL.into_iter().find(|k| k.as_str() == cmd.name) else {
                        return err(path, format!("unknown AccessType <{}>", cmd.name));
                    };
                    a = a.with(k);
                }
                access = Some(a);
            }
            "DefaultValue" => df.default_value = Some(text(c, path)?),
            "Description" => df.description = Some(text(c, path)?),
            "DFFormat" => {
                df.format = parse_format(c, path)?;
                has_format = true;
            }
            "Occurrence" => df.occurrence = parse_occurrence(c, path)?,
            "Scope" => {
                df.scope = match choice(c, path)?.name.as_str() {
                    "Permanent" => Scope::Permanent,
                    "Dynamic" => Scope::Dynamic,
                    other => return err(path, format!("unknown scope <{other}>")),
                }
            }
            "DFTitle" => df.title = Some(text(c, path)?),
            "DFType" => {
                df.df_type = parse_df_type(c, path)?;
                has_type = true;
            }
            "CaseSense" => {
                df.case_sense = match choice(c, path)?.name.as_str() {
                    "CS" => CaseSense::Cs,
                    "CIS" => CaseSense::Cis,
                    other => return err(path, format!("unknown CaseSense <{other}>")),
                }
            }
            other => return err(path, format!("unexpected <{other}> in <DFProperties>")),
        }
    }
    df.access =
        access.ok_or_else(|| DdfError { path: path.into(), message: "<DFProperties> needs <AccessType>".into() })?;
    if !has_format {
        return err(path, "<DFProperties> needs <DFFormat>");
    }
    if !has_type {
        return err(path, "<DFProperties> needs <DFType>");
    }
    Ok(df)
}

fn parse_rt(e: &Element, path: &str) -> Result<RtProperties, DdfError> {
    let mut rt = RtProperties::default();
    for c in elems(e, path)? {
        let t = || text(c, path);
        match c.name.as_str() {
            "ACL" => rt.acl = Some(t()?.trim().to_string()),
            "Format" => rt.format = Some(parse_format(c, path)?),
            "Name" => rt.name = Some(t()?),
            "Size" => rt.size = Some(t()?),
            "Title" => rt.title = Some(t()?),
            "TStamp" => rt.tstamp = Some(t()?),
            "Type" => rt.df_type = Some(parse_df_type(c, path)?),
            "VerNo" => rt.verno = Some(t()?),
            other => return err(path, format!("unexpected <{other}> in <RTProperties>")),
        }
    }
    Ok(rt)
}

fn parse_node(e: &Element, parent: &str, depth: usize) -> Result<DdfNode, DdfError> {
    if depth > 256 {
        return err(parent, "nodes nested too deeply");
    }
    let mut node = DdfNode { name: None, path: None, rt: None, df: None, value: None, children: Vec::new() };
    let kids = elems(e, parent)?;
    let name_el = kids.iter().find(|c| c.name == "NodeName");
    let name = match name_el {
        Some(c) => text(c, parent)?.trim().to_string(),
        None => return err(parent, "<Node> without <NodeName>"),
    };
    let here = format!("{parent}/{}", if name.is_empty() { "<x>" } else { &name });
    node.name = (!name.is_empty()).then_some(name);
    for c in kids {
        match c.name.as_str() {
            "NodeName" => {}
            "Path" => node.path = Some(text(c, &here)?.trim().to_string()),
            "RTProperties" => node.rt = Some(parse_rt(c, &here)?),
            "DFProperties" => node.df = Some(parse_df(c, &here)?),
            "Value" => node.value = Some(value_of(c)),
            "Node" => node.children.push(parse_node(c, &here, depth + 1)?),
            other => return err(&here, format!("unexpected <{other}> in <Node>")),
        }
    }
    if node.value.is_some() && !node.children.is_empty() {
        return err(&here, "a node cannot have both <Value> and child nodes");
    }
    Ok(node)
}

impl Ddf {
    /// Parses a `MgmtTree` element (from XML or WBXML); the namespace may be absent.
    pub fn from_element(root: &Element) -> Result<Ddf, DdfError> {
        if root.name != "MgmtTree" {
            return err("", format!("root element is <{}>, expected <MgmtTree>", root.name));
        }
        let mut ddf = Ddf { ver_dtd: String::new(), man: None, model: None, nodes: Vec::new() };
        let mut has_ver = false;
        for c in elems(root, "MgmtTree")? {
            match c.name.as_str() {
                "VerDTD" => {
                    ddf.ver_dtd = text(c, "MgmtTree")?.trim().to_string();
                    has_ver = true;
                }
                "Man" => ddf.man = Some(text(c, "MgmtTree")?),
                "Mod" => ddf.model = Some(text(c, "MgmtTree")?),
                "Node" => ddf.nodes.push(parse_node(c, "", 0)?),
                other => return err("MgmtTree", format!("unexpected <{other}>")),
            }
        }
        if !has_ver {
            return err("MgmtTree", "missing <VerDTD>");
        }
        if ddf.nodes.is_empty() {
            return err("MgmtTree", "no <Node>");
        }
        Ok(ddf)
    }

    /// Number of `Node` elements in the document.
    pub fn node_count(&self) -> usize {
        fn count(n: &DdfNode) -> usize {
            1 + n.children.iter().map(count).sum::<usize>()
        }
        self.nodes.iter().map(count).sum()
    }

    /// Writes the document as a `MgmtTree` element in the DDF namespace.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("MgmtTree");
        root.namespace = Some(DDF_NAMESPACE.to_string());
        root = root.with_child(Element::new("VerDTD").with_text(self.ver_dtd.clone()));
        if let Some(m) = &self.man {
            root = root.with_child(Element::new("Man").with_text(m.clone()));
        }
        if let Some(m) = &self.model {
            root = root.with_child(Element::new("Mod").with_text(m.clone()));
        }
        for n in &self.nodes {
            root = root.with_child(n.to_element());
        }
        root
    }

    /// Checks the description for mistakes a parser lets through; see [`DdfIssue`].
    pub fn check(&self) -> Vec<DdfIssue> {
        let mut issues = Vec::new();
        if self.ver_dtd != "1.2" && self.ver_dtd != "1.3" {
            issues.push(DdfIssue::warning("MgmtTree", format!("VerDTD {:?} is neither 1.2 nor 1.3", self.ver_dtd)));
        }
        for n in &self.nodes {
            let base: Vec<Option<String>> = match n.path.as_deref().map(str::trim) {
                Some(p) if n.name.as_deref() != Some(".") => {
                    let p = p.strip_prefix("./").unwrap_or(if p == "." { "" } else { p });
                    p.split('/').filter(|s| !s.is_empty()).map(|s| Some(s.to_string())).collect()
                }
                _ => Vec::new(),
            };
            check_node(n, &base, true, &mut issues);
        }
        issues
    }

    /// Where each top-level node sits: its Path joined with its NodeName, resolved against
    /// `base` when it has no Path (a DDF of an MO placed at run time).
    pub fn top_level_uris(&self, base: &Uri) -> Vec<Result<Uri, DdfError>> {
        self.nodes
            .iter()
            .map(|n| {
                let name = n.name.as_deref().unwrap_or("");
                if name == "." && n.path.as_deref().unwrap_or("").is_empty() {
                    return Ok(Uri::root());
                }
                let parent = match n.path.as_deref() {
                    None | Some("") => base.clone(),
                    Some(p) => Uri::parse(p).map_err(|e| DdfError { path: name.into(), message: e.to_string() })?,
                };
                parent.child(name).map_err(|e| DdfError { path: name.into(), message: e.to_string() })
            })
            .collect()
    }
}

impl DdfNode {
    /// True when the description or run-time properties say `node`, or when it has children.
    pub fn is_interior(&self) -> bool {
        match (&self.df, self.rt.as_ref().and_then(|r| r.format.as_ref())) {
            (Some(df), _) => df.format == Format::Node,
            (None, Some(f)) => *f == Format::Node,
            (None, None) => self.value.is_none(),
        }
    }

    /// The node's description: its DFProperties, or permissive defaults when it has none.
    pub fn access(&self) -> AccessType {
        self.df.as_ref().map_or_else(AccessType::all, |d| d.access)
    }

    /// Writes this node as a `Node` element.
    pub fn to_element(&self) -> Element {
        let mut e =
            Element::new("Node").with_child(Element::new("NodeName").with_text(self.name.clone().unwrap_or_default()));
        if let Some(p) = &self.path {
            e = e.with_child(Element::new("Path").with_text(p.clone()));
        }
        if let Some(rt) = &self.rt {
            e = e.with_child(rt.to_element());
        }
        if let Some(df) = &self.df {
            e = e.with_child(df.to_element());
        }
        if let Some(v) = &self.value {
            let mut ve = Element::new("Value");
            ve.children.push(match v {
                DdfValue::Text(t) => Node::Text(t.clone()),
                DdfValue::Binary(b) => Node::Opaque(b.clone()),
            });
            e = e.with_child(ve);
        }
        for c in &self.children {
            e = e.with_child(c.to_element());
        }
        e
    }
}

fn wrap(name: &str, inner: &str) -> Element {
    Element::new(name).with_child(Element::new(inner))
}

fn text_el(name: &str, t: &str) -> Element {
    Element::new(name).with_text(t.to_string())
}

pub(crate) fn df_type_element(name: &str, t: &DfType) -> Element {
    let mut e = Element::new(name);
    match t {
        DfType::Mime(v) => {
            for m in v {
                e = e.with_child(text_el("MIME", m));
            }
        }
        DfType::DdfName(n) => e = e.with_child(text_el("DDFName", n)),
    }
    e
}

impl RtProperties {
    /// Writes an `RTProperties` element (TNDS element order).
    pub fn to_element(&self) -> Element {
        let mut e = Element::new("RTProperties");
        let opt = |e: Element, name: &str, v: &Option<String>| match v {
            Some(v) => e.with_child(text_el(name, v)),
            None => e,
        };
        e = opt(e, "ACL", &self.acl);
        if let Some(f) = &self.format {
            e = e.with_child(wrap("Format", f.as_str()));
        }
        e = opt(e, "Name", &self.name);
        e = opt(e, "Size", &self.size);
        e = opt(e, "Title", &self.title);
        e = opt(e, "TStamp", &self.tstamp);
        if let Some(t) = &self.df_type {
            e = e.with_child(df_type_element("Type", t));
        }
        opt(e, "VerNo", &self.verno)
    }
}

impl DfProperties {
    /// Writes a `DFProperties` element (DTD order).
    pub fn to_element(&self) -> Element {
        let mut access = Element::new("AccessType");
        for c in DdfCommand::ALL.into_iter().filter(|c| self.access.allows(*c)) {
            access = access.with_child(Element::new(c.as_str()));
        }
        let mut e = Element::new("DFProperties").with_child(access);
        if let Some(v) = &self.default_value {
            e = e.with_child(text_el("DefaultValue", v));
        }
        if let Some(v) = &self.description {
            e = e.with_child(text_el("Description", v));
        }
        e = e.with_child(wrap("DFFormat", self.format.as_str()));
        let occ = match self.occurrence {
            Occurrence::One => wrap("Occurrence", "One"),
            Occurrence::ZeroOrOne => wrap("Occurrence", "ZeroOrOne"),
            Occurrence::ZeroOrMore => wrap("Occurrence", "ZeroOrMore"),
            Occurrence::OneOrMore => wrap("Occurrence", "OneOrMore"),
            Occurrence::ZeroOrN(n) => Element::new("Occurrence").with_child(text_el("ZeroOrN", &n.to_string())),
            Occurrence::OneOrN(n) => Element::new("Occurrence").with_child(text_el("OneOrN", &n.to_string())),
        };
        e = e.with_child(occ);
        e = e.with_child(wrap(
            "Scope",
            match self.scope {
                Scope::Permanent => "Permanent",
                Scope::Dynamic => "Dynamic",
            },
        ));
        if let Some(v) = &self.title {
            e = e.with_child(text_el("DFTitle", v));
        }
        e = e.with_child(df_type_element("DFType", &self.df_type));
        e.with_child(wrap(
            "CaseSense",
            match self.case_sense {
                CaseSense::Cs => "CS",
                CaseSense::Cis => "CIS",
            },
        ))
    }
}

/// How serious a [`DdfIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The description contradicts itself or the DTD; it cannot be used to validate a tree.
    Error,
    /// Legal but suspicious (e.g. a node without DFProperties, allowed because TNDS shares the DTD).
    Warning,
}

/// One finding of [`Ddf::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdfIssue {
    /// Error or warning.
    pub severity: Severity,
    /// The node, as a URI-like path.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl DdfIssue {
    fn error(path: &str, message: impl Into<String>) -> Self {
        DdfIssue { severity: Severity::Error, path: path.to_string(), message: message.into() }
    }
    fn warning(path: &str, message: impl Into<String>) -> Self {
        DdfIssue { severity: Severity::Warning, path: path.to_string(), message: message.into() }
    }
}

impl fmt::Display for DdfIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}: {}", self.path, self.message)
    }
}

fn check_node(n: &DdfNode, parent: &[Option<String>], top: bool, out: &mut Vec<DdfIssue>) {
    let mut here_segs = parent.to_vec();
    if !(top && n.name.as_deref() == Some(".")) {
        here_segs.push(n.name.clone());
    }
    let here = display_path(&here_segs);
    if let Some(nm) = &n.name {
        if !(nm == "." && top) {
            if let Err(e) = check_segment(nm) {
                out.push(DdfIssue::error(&here, format!("NodeName: {e}")));
            }
        }
    }
    if let (false, Some(p)) = (top, &n.path) {
        if !path_matches(p, parent) {
            out.push(DdfIssue::error(
                &here,
                format!("Path {p:?} does not match the enclosing node {}", display_path(parent)),
            ));
        }
    }
    match &n.df {
        None => out.push(DdfIssue::warning(&here, "no DFProperties")),
        Some(df) => {
            if df.access.is_empty() {
                out.push(DdfIssue::warning(&here, "empty AccessType"));
            }
            let interior = df.format == Format::Node;
            if !interior && !n.children.is_empty() {
                out.push(DdfIssue::error(&here, format!("a {} leaf has child nodes", df.format)));
            }
            if interior && n.value.is_some() {
                out.push(DdfIssue::error(&here, "an interior node has a Value"));
            }
            let binary = matches!(df.format, Format::Bin | Format::B64);
            if let (false, false, Some(v)) = (interior, binary, &df.default_value) {
                if crate::value::validate(&df.format, v.as_bytes()).is_err() {
                    out.push(DdfIssue::error(&here, format!("DefaultValue {v:?} is not valid {}", df.format)));
                }
            }
            if n.name.is_none() && matches!(df.occurrence, Occurrence::One | Occurrence::ZeroOrOne) {
                out.push(DdfIssue::warning(&here, "a node named at run time with Occurrence One/ZeroOrOne"));
            }
            if df.scope == Scope::Permanent && df.access.allows(DdfCommand::Delete) {
                out.push(DdfIssue::warning(&here, "a permanent node allows Delete"));
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut runtime = 0;
    for c in &n.children {
        match &c.name {
            Some(nm) => {
                if seen.contains(&nm.as_str()) {
                    out.push(DdfIssue::error(&here, format!("two children named {nm:?}")));
                }
                seen.push(nm);
            }
            None => runtime += 1,
        }
    }
    if runtime > 1 {
        out.push(DdfIssue::error(&here, "more than one child named at run time"));
    }
    for c in &n.children {
        check_node(c, &here_segs, false, out);
    }
}

/// A path of DDF node names (`None` = named at run time), written as `./A/<x>/B`.
fn display_path(segs: &[Option<String>]) -> String {
    let mut s = String::from(".");
    for seg in segs {
        s.push('/');
        s.push_str(seg.as_deref().unwrap_or("<x>"));
    }
    s
}

/// True when a nested node's Path names its enclosing node; any segment (`*`, `<x>`, a sample
/// name) stands for a node named at run time.
fn path_matches(path: &str, parent: &[Option<String>]) -> bool {
    let p = path.trim();
    let p = p.strip_prefix("./").unwrap_or(if p == "." { "" } else { p });
    let segs: Vec<&str> = if p.is_empty() { Vec::new() } else { p.split('/').collect() };
    segs.len() == parent.len()
        && segs.iter().zip(parent).all(|(s, e)| match e {
            Some(name) => s == name,
            None => true,
        })
}

/// What the mounted descriptions say about one URI.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DdfMatch<'a> {
    /// No description covers the URI: everything is allowed.
    Free,
    /// The URI is described by this node.
    Def(&'a DdfNode),
    /// The URI lies inside a described subtree but no description admits it.
    Undescribed,
}

/// A DDF bound to a place in the tree.
#[derive(Debug, Clone)]
pub(crate) struct MountedDdf {
    pub(crate) at: Uri,
    pub(crate) node: DdfNode,
}

/// Finds the description of `uri` among the mounts (the deepest mount covering it wins).
pub(crate) fn lookup<'a>(mounts: &'a [MountedDdf], uri: &Uri) -> DdfMatch<'a> {
    let Some(m) = mounts.iter().filter(|m| m.at.contains(uri)).max_by_key(|m| m.at.depth()) else {
        return DdfMatch::Free;
    };
    let rel = m.at.relative(uri).unwrap_or(&[]);
    let mut def = &m.node;
    for seg in rel {
        match child_def(def, seg) {
            Some(c) => def = c,
            None if def.children.is_empty() && def.is_interior() => return DdfMatch::Free,
            None => return DdfMatch::Undescribed,
        }
    }
    DdfMatch::Def(def)
}

/// The child description matching `name`: a fixed name first (case-insensitively under a CIS
/// parent), else the run-time-named child.
pub(crate) fn child_def<'a>(def: &'a DdfNode, name: &str) -> Option<&'a DdfNode> {
    let cis = def.df.as_ref().is_some_and(|d| d.case_sense == CaseSense::Cis);
    def.children
        .iter()
        .find(|c| c.name.as_deref().is_some_and(|n| n == name || (cis && n.eq_ignore_ascii_case(name))))
        .or_else(|| def.children.iter().find(|c| c.name.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str, fmt: &str) -> Element {
        Element::new("Node").with_child(text_el("NodeName", name)).with_child(
            Element::new("DFProperties")
                .with_child(Element::new("AccessType").with_child(Element::new("Get")))
                .with_child(wrap("DFFormat", fmt))
                .with_child(Element::new("DFType").with_child(text_el("MIME", "text/plain"))),
        )
    }

    fn doc(nodes: Vec<Element>) -> Element {
        nodes.into_iter().fold(Element::new("MgmtTree").with_child(text_el("VerDTD", "1.2")), Element::with_child)
    }

    #[test]
    fn parses_and_round_trips() {
        let interior = Element::new("Node")
            .with_child(text_el("NodeName", "A"))
            .with_child(text_el("Path", "./X"))
            .with_child(
                Element::new("DFProperties")
                    .with_child(
                        Element::new("AccessType").with_child(Element::new("Get")).with_child(Element::new("Add")),
                    )
                    .with_child(wrap("DFFormat", "node"))
                    .with_child(Element::new("Occurrence").with_child(text_el("ZeroOrN", "5")))
                    .with_child(wrap("Scope", "Permanent"))
                    .with_child(Element::new("DFType").with_child(text_el("DDFName", "urn:x")))
                    .with_child(wrap("CaseSense", "CIS")),
            )
            .with_child(leaf("B", "int"))
            .with_child(leaf("", "chr"));
        let ddf = Ddf::from_element(&doc(vec![interior])).unwrap();
        assert_eq!(ddf.node_count(), 3);
        let a = &ddf.nodes[0];
        let df = a.df.as_ref().unwrap();
        assert_eq!(df.occurrence, Occurrence::ZeroOrN(5));
        assert_eq!(df.scope, Scope::Permanent);
        assert!(df.access.allows(DdfCommand::Add) && !df.access.allows(DdfCommand::Delete));
        assert_eq!(df.df_type, DfType::DdfName("urn:x".into()));
        assert_eq!(a.children[1].name, None);
        assert!(ddf.check().iter().all(|i| i.severity == Severity::Warning), "{:?}", ddf.check());
        let again = Ddf::from_element(&ddf.to_element()).unwrap();
        assert_eq!(again, ddf);
        assert_eq!(ddf.top_level_uris(&Uri::root())[0].as_ref().unwrap().to_string(), "./X/A");
    }

    #[test]
    fn structural_errors() {
        let cases = [
            Element::new("Tree"),
            Element::new("MgmtTree").with_child(Element::new("Node")),
            doc(vec![Element::new("Node")]),
            doc(vec![leaf("A", "colour")]),
            doc(vec![Element::new("Node").with_child(text_el("NodeName", "A")).with_child(Element::new("Bogus"))]),
            doc(vec![Element::new("Node")
                .with_child(text_el("NodeName", "A"))
                .with_child(Element::new("DFProperties"))]),
        ];
        for c in cases {
            assert!(Ddf::from_element(&c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn check_finds_errors() {
        let bad = leaf("A", "int").with_child(leaf("B", "chr"));
        let ddf = Ddf::from_element(&doc(vec![bad])).unwrap();
        assert!(ddf.check().iter().any(|i| i.severity == Severity::Error));
        let dup = Element::new("Node")
            .with_child(text_el("NodeName", "A"))
            .with_child(leaf("B", "chr"))
            .with_child(leaf("B", "chr"));
        let ddf = Ddf::from_element(&doc(vec![dup])).unwrap();
        assert!(ddf.check().iter().any(|i| i.message.contains("two children")));
    }

    #[test]
    fn lookups() {
        let root = Ddf::from_element(&doc(vec![Element::new("Node")
            .with_child(text_el("NodeName", "A"))
            .with_child(leaf("B", "int"))
            .with_child(Element::new("Node").with_child(text_el("NodeName", "")).with_child(leaf("C", "chr")))]))
        .unwrap();
        let mounts = vec![MountedDdf { at: Uri::parse("./A").unwrap(), node: root.nodes[0].clone() }];
        let u = |s: &str| Uri::parse(s).unwrap();
        assert!(matches!(lookup(&mounts, &u("./Z")), DdfMatch::Free));
        assert!(matches!(lookup(&mounts, &u(".")), DdfMatch::Free));
        assert!(matches!(lookup(&mounts, &u("./A/B")), DdfMatch::Def(d) if d.name.as_deref() == Some("B")));
        assert!(matches!(lookup(&mounts, &u("./A/anything/C")), DdfMatch::Def(d) if d.name.as_deref() == Some("C")));
        assert!(matches!(lookup(&mounts, &u("./A/anything/D")), DdfMatch::Undescribed));
        assert!(matches!(lookup(&mounts, &u("./A/B/D")), DdfMatch::Undescribed));
    }
}
