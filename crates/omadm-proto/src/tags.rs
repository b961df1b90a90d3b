//! WBXML tag tokens of the SyncML family (SyncML RepPro 1.2 §8, MetInf 1.2 §6, DM TND 1.2 §8.6).
//!
//! One vocabulary of three code pages serves SyncML messages, DDF and TNDS documents alike:
//! page 0 SyncML, page 1 MetInf, page 2 DM DDF. Tokens start at 0x05 on every page.

/// First tag token on every page (0x00–0x04 are global tokens).
pub(crate) const FIRST_TOKEN: u8 = 0x05;

/// Code page 0: SyncML. Index = token − 0x05. 0x30 is reserved (empty name).
pub(crate) const SYNCML_PAGE: [&str; 56] = [
    "Add",
    "Alert",
    "Archive",
    "Atomic",
    "Chal",
    "Cmd",
    "CmdID",
    "CmdRef",
    "Copy",
    "Cred",
    "Data",
    "Delete",
    "Exec",
    "Final",
    "Get",
    "Item",
    "Lang",
    "LocName",
    "LocURI",
    "Map",
    "MapItem",
    "Meta",
    "MsgID",
    "MsgRef",
    "NoResp",
    "NoResults",
    "Put",
    "Replace",
    "RespURI",
    "Results",
    "Search",
    "Sequence",
    "SessionID",
    "SftDel",
    "Source",
    "SourceRef",
    "Status",
    "Sync",
    "SyncBody",
    "SyncHdr",
    "SyncML",
    "Target",
    "TargetRef",
    "",
    "VerDTD",
    "VerProto",
    "NumberOfChanges",
    "MoreData",
    "Field",
    "Filter",
    "Record",
    "FilterType",
    "SourceParent",
    "TargetParent",
    "Move",
    "Correlator",
];

/// Code page 1: MetInf. Index = token − 0x05.
pub(crate) const METINF_PAGE: [&str; 18] = [
    "Anchor",
    "EMI",
    "Format",
    "FreeID",
    "FreeMem",
    "Last",
    "Mark",
    "MaxMsgSize",
    "Mem",
    "MetInf",
    "Next",
    "NextNonce",
    "SharedMem",
    "Size",
    "Type",
    "Version",
    "MaxObjSize",
    "FieldLevel",
];

/// Code page 2: DM DDF (also TNDS). Index = token − 0x05.
pub(crate) const DDF_PAGE: [&str; 56] = [
    "AccessType",
    "ACL",
    "Add",
    "b64",
    "bin",
    "bool",
    "chr",
    "CaseSense",
    "CIS",
    "Copy",
    "CS",
    "date",
    "DDFName",
    "DefaultValue",
    "Delete",
    "Description",
    "DFFormat",
    "DFProperties",
    "DFTitle",
    "DFType",
    "Dynamic",
    "Exec",
    "float",
    "Format",
    "Get",
    "int",
    "Man",
    "MgmtTree",
    "MIME",
    "Mod",
    "Name",
    "Node",
    "node",
    "NodeName",
    "null",
    "Occurrence",
    "One",
    "OneOrMore",
    "OneOrN",
    "Path",
    "Permanent",
    "Replace",
    "RTProperties",
    "Scope",
    "Size",
    "time",
    "Title",
    "TStamp",
    "Type",
    "Value",
    "VerDTD",
    "VerNo",
    "xml",
    "ZeroOrMore",
    "ZeroOrN",
    "ZeroOrOne",
];

/// A code page of the SyncML vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// Page 0, SyncML.
    SyncMl = 0,
    /// Page 1, MetInf.
    MetInf = 1,
    /// Page 2, DM DDF.
    Ddf = 2,
}

/// The namespace a WBXML decoder reports for an element that switches back to the SyncML page
/// inside an element of another page (e.g. an `Item` inside a generic MetInf `Anchor`), so that
/// XML and WBXML re-encoding keep it on the SyncML page. One version for every message: WBXML
/// does not say which, and [`Page::from_namespace`] accepts any.
pub(crate) const SYNCML_PAGE_NAMESPACE: &str = "SYNCML:SYNCML1.2";

/// Namespace of the MetInf page.
pub(crate) const METINF_NAMESPACE: &str = "syncml:metinf";

impl Page {
    /// The page for a page number, if it is one of ours.
    pub(crate) fn from_number(n: u8) -> Option<Page> {
        match n {
            0 => Some(Page::SyncMl),
            1 => Some(Page::MetInf),
            2 => Some(Page::Ddf),
            _ => None,
        }
    }

    fn table(self) -> &'static [&'static str] {
        match self {
            Page::SyncMl => &SYNCML_PAGE,
            Page::MetInf => &METINF_PAGE,
            Page::Ddf => &DDF_PAGE,
        }
    }

    /// The element name of a token on this page.
    pub(crate) fn name(self, token: u8) -> Option<&'static str> {
        let name = *self.table().get(token.checked_sub(FIRST_TOKEN)? as usize)?;
        (!name.is_empty()).then_some(name)
    }

    /// The token of an element name on this page.
    pub(crate) fn token(self, name: &str) -> Option<u8> {
        self.table().iter().position(|n| *n == name && !n.is_empty()).map(|i| i as u8 + FIRST_TOKEN)
    }

    /// The XML default namespace that marks elements of this page inside a SyncML message, if any.
    pub(crate) fn namespace(self) -> Option<&'static str> {
        match self {
            Page::SyncMl => None,
            Page::MetInf => Some(METINF_NAMESPACE),
            Page::Ddf => Some(crate::element::DDF_NAMESPACE),
        }
    }

    /// The page a namespace selects, if any.
    pub(crate) fn from_namespace(ns: &str) -> Option<Page> {
        if ns.eq_ignore_ascii_case(METINF_NAMESPACE) {
            Some(Page::MetInf)
        } else if ns.eq_ignore_ascii_case(crate::element::DDF_NAMESPACE) {
            Some(Page::Ddf)
        } else if ns.as_bytes().get(..13).is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"SYNCML:SYNCML")) {
            Some(Page::SyncMl)
        } else {
            None
        }
    }
}

/// The element name of each tag token (without the content and attribute bits) of each of our
/// code pages, "" where there is none: one indexed load for the WBXML reader's usual start,
/// where [`Page::name`] chose its page's table and checked the token's range first.
static TOKEN_NAMES: [[&str; 64]; 3] = {
    let mut names = [[""; 64]; 3];
    let pages: [&[&str]; 3] = [&SYNCML_PAGE, &METINF_PAGE, &DDF_PAGE];
    let mut page = 0;
    while page < pages.len() {
        let mut i = 0;
        while i < pages[page].len() {
            names[page][i + FIRST_TOKEN as usize] = pages[page][i];
            i += 1;
        }
        page += 1;
    }
    names
};

/// The element name of tag `token` (its content and attribute bits are ignored) on code page
/// number `page`, if both are ours: [`Page::name`] of [`Page::from_number`] in one lookup.
#[inline(always)]
pub(crate) fn token_name(page: u8, token: u8) -> Option<&'static str> {
    let name = TOKEN_NAMES.get(usize::from(page))?[usize::from(token & 0x3F)];
    (!name.is_empty()).then_some(name)
}

/// A tag the encoder writes: page, token and name, resolved at compile time by [`syncml_tag!`] /
/// [`metinf_tag!`] (an unknown name is a compile error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Code page.
    pub(crate) page: Page,
    /// Token on that page (without the content/attribute bits).
    pub(crate) token: u8,
    /// Element name.
    pub(crate) name: &'static str,
    /// `<name>`, the XML start tag without attributes, written in one piece.
    pub(crate) start_tag: &'static str,
    /// `</name>`, the XML end tag.
    pub(crate) end_tag: &'static str,
    /// `<name/>`, the XML tag of the element without content.
    pub(crate) empty_tag: &'static str,
    /// The XML start tag of the element inside an element of another page: with the ` xmlns`
    /// attribute of its page (MetInf), or as `start_tag` (SyncML, whose elements declare none).
    pub(crate) start_tag_on_page: &'static str,
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn token_in(table: &[&str], name: &str) -> u8 {
    let mut i = 0;
    while i < table.len() {
        if same(table[i], name) {
            return i as u8 + FIRST_TOKEN;
        }
        i += 1;
    }
    panic!("no such tag on this code page")
}

/// True if `tag` is `open`, `name` and `close` one after the other (checks the XML tag strings
/// the tag macros spell out).
const fn spells(tag: &str, open: &str, name: &str, close: &str) -> bool {
    let (tag, open, name, close) = (tag.as_bytes(), open.as_bytes(), name.as_bytes(), close.as_bytes());
    if tag.len() != open.len() + name.len() + close.len() {
        return false;
    }
    let mut i = 0;
    while i < tag.len() {
        let expected = if i < open.len() {
            open[i]
        } else if i < open.len() + name.len() {
            name[i - open.len()]
        } else {
            close[i - open.len() - name.len()]
        };
        if tag[i] != expected {
            return false;
        }
        i += 1;
    }
    true
}

impl Tag {
    /// A tag of `page` whose XML start, end and empty-element tags are `start_tag`, `end_tag` and
    /// `empty_tag`, and `start_tag_on_page` inside an element of another page (checked at compile
    /// time); use through [`syncml_tag!`] / [`metinf_tag!`].
    pub(crate) const fn new(
        page: Page,
        name: &'static str,
        start_tag: &'static str,
        end_tag: &'static str,
        empty_tag: &'static str,
        start_tag_on_page: &'static str,
    ) -> Tag {
        assert!(
            spells(start_tag, "<", name, ">") && spells(end_tag, "</", name, ">") && spells(empty_tag, "<", name, "/>"),
            "tag strings do not match the name"
        );
        let page_attribute = match page {
            Page::SyncMl => ">",
            Page::MetInf => " xmlns=\"syncml:metinf\">",
            Page::Ddf => " xmlns=\"syncml:dmddf1.2\">",
        };
        assert!(spells(start_tag_on_page, "<", name, page_attribute), "tag strings do not match the name");
        let table: &[&str] = match page {
            Page::SyncMl => &SYNCML_PAGE,
            Page::MetInf => &METINF_PAGE,
            Page::Ddf => &DDF_PAGE,
        };
        Tag { page, token: token_in(table, name), name, start_tag, end_tag, empty_tag, start_tag_on_page }
    }
}

/// A SyncML-page [`Tag`], resolved at compile time.
macro_rules! syncml_tag {
    ($name:literal) => {{
        const T: $crate::tags::Tag = $crate::tags::Tag::new(
            $crate::tags::Page::SyncMl,
            $name,
            concat!("<", $name, ">"),
            concat!("</", $name, ">"),
            concat!("<", $name, "/>"),
            concat!("<", $name, ">"),
        );
        T
    }};
}
/// A MetInf-page [`Tag`], resolved at compile time.
macro_rules! metinf_tag {
    ($name:literal) => {{
        const T: $crate::tags::Tag = $crate::tags::Tag::new(
            $crate::tags::Page::MetInf,
            $name,
            concat!("<", $name, ">"),
            concat!("</", $name, ">"),
            concat!("<", $name, "/>"),
            concat!("<", $name, " xmlns=\"syncml:metinf\">"),
        );
        T
    }};
}
pub(crate) use {metinf_tag, syncml_tag};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_the_published_tables() {
        assert_eq!(Page::SyncMl.token("SyncML"), Some(0x2D));
        assert_eq!(Page::SyncMl.token("Correlator"), Some(0x3C));
        assert_eq!(Page::SyncMl.name(0x30), None);
        assert_eq!(Page::MetInf.token("MaxObjSize"), Some(0x15));
        assert_eq!(Page::MetInf.token("FieldLevel"), Some(0x16));
        assert_eq!(Page::Ddf.token("MgmtTree"), Some(0x20));
        assert_eq!(Page::Ddf.token("ZeroOrOne"), Some(0x3C));
        assert_eq!(Page::Ddf.name(0x3D), None);
        assert_eq!(Page::SyncMl.name(0x04), None);
    }

    #[test]
    fn token_names_are_the_pages_names() {
        for page in 0..=255u8 {
            for token in 0..=255u8 {
                let expected = Page::from_number(page).and_then(|p| p.name(token & 0x3F));
                assert_eq!(token_name(page, token), expected, "page {page}, token {token:#04X}");
            }
        }
    }

    #[test]
    fn namespaces_select_pages() {
        assert_eq!(Page::from_namespace("syncml:SYNCML1.2"), Some(Page::SyncMl));
        assert_eq!(Page::from_namespace("SYNCML:METINF"), Some(Page::MetInf));
        assert_eq!(Page::from_namespace("syncml:dmddf1.2"), Some(Page::Ddf));
        // Found by fuzzing: a multi-byte character across the 13-byte prefix must not panic.
        assert_eq!(Page::from_namespace("syncm(l:dmd\u{FEFF}.2"), None);
        assert_eq!(Page::from_namespace("syncml:sync"), None);
    }
}
