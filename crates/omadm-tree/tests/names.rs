//! Node names: CaseSense from the DDF (TND 1.2 §8: CIS child names match case-insensitively) and
//! MO placement through the Inbox by MO identifier (StdObj 1.2 §5.4).

use omadm_proto::{Element, Limits, StatusCode};
use omadm_tree::*;

fn t(s: &str) -> TargetUri {
    TargetUri::parse(s).unwrap()
}
fn u(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}
fn code<T>(r: TreeResult<T>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().code(),
    }
}
fn xml(text: &str) -> Element {
    omadm_proto::xml::parse_element(text.as_bytes(), &Limits::default()).unwrap()
}
fn get<S: Store>(tx: &Txn<'_, S>, c: &Caller, target: &str) -> TreeResult<Vec<u8>> {
    match tx.get(c, &t(target))? {
        GetResult::Value(v) => Ok(v.data),
        _ => panic!("not a value"),
    }
}

const ANY_ACCESS: &str = "<AccessType><Add/><Delete/><Get/><Replace/></AccessType>";

/// `./Cfg` names its children case-insensitively (CIS); `./Strict` keeps the default (CS).
fn case_tree() -> Tree<MemStore> {
    let leaf = |name: &str| {
        format!(
            "<Node><NodeName>{name}</NodeName><DFProperties>{ANY_ACCESS}<DFFormat><chr/></DFFormat>\
             <Occurrence><ZeroOrOne/></Occurrence><DFType><MIME>text/plain</MIME></DFType></DFProperties></Node>"
        )
    };
    let dynamic = format!(
        "<Node><NodeName/><DFProperties>{ANY_ACCESS}<DFFormat><chr/></DFFormat><Occurrence><ZeroOrMore/></Occurrence>\
         <DFType><MIME>text/plain</MIME></DFType></DFProperties></Node>"
    );
    let interior = |name: &str, case: &str, children: &str| {
        format!(
            "<Node><NodeName>{name}</NodeName><Path>.</Path><DFProperties>{ANY_ACCESS}<DFFormat><node/></DFFormat>\
             <DFType><DDFName>urn:test:{name}</DDFName></DFType>{case}</DFProperties>{children}</Node>"
        )
    };
    let doc = format!(
        "<MgmtTree><VerDTD>1.2</VerDTD>{}{}</MgmtTree>",
        interior("Cfg", "<CaseSense><CIS/></CaseSense>", &format!("{}{dynamic}", leaf("Timeout"))),
        interior("Strict", "", &dynamic),
    );
    let ddf = Ddf::from_element(&xml(&doc)).unwrap();
    assert_eq!(ddf.check().iter().filter(|i| i.severity == Severity::Error).count(), 0, "{:?}", ddf.check());
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    tree.mount_ddf(&ddf, &Uri::root()).unwrap();
    tree.run(|tx| {
        let dev = Caller::device();
        tx.add(&dev, &t("./Cfg"), Content::interior(None))?;
        tx.add(&dev, &t("./Cfg/Timeout"), Content::chr("30"))?;
        tx.add(&dev, &t("./Cfg/Proxy"), Content::chr("p1"))?;
        tx.add(&dev, &t("./Strict"), Content::interior(None))?;
        tx.add(&dev, &t("./Strict/Name"), Content::chr("n1"))?;
        for node in ["./Cfg", "./Strict"] {
            tx.replace(&dev, &t(&format!("{node}?prop=ACL")), Content::chr("Add=s&Delete=s&Get=s&Replace=s"))?;
        }
        Ok(())
    })
    .unwrap();
    tree
}

#[test]
fn cis_children_match_in_any_case() {
    let mut tree = case_tree();
    let srv = Caller::server(ServerId::new("s").unwrap(), DmVersion::V1_2);
    let mut tx = tree.begin();
    // Get, fixed and dynamic names, in any case; the answer names the stored node.
    assert_eq!(get(&tx, &srv, "./Cfg/TIMEOUT").unwrap(), b"30");
    assert_eq!(get(&tx, &srv, "./Cfg/timeout").unwrap(), b"30");
    assert_eq!(get(&tx, &srv, "./Cfg/pRoXy").unwrap(), b"p1");
    assert_eq!(get(&tx, &srv, "./Cfg/proxy?prop=Name").unwrap(), b"Proxy");
    assert_eq!(get(&tx, &srv, "./Cfg?prop=CaseSense").unwrap(), b"CIS");
    assert_eq!(get(&tx, &srv, "./Strict?prop=CaseSense").unwrap(), b"CS");
    // Add of an existing name in another case is the same node: 418, no second child.
    assert_eq!(code(tx.add(&srv, &t("./Cfg/PROXY"), Content::chr("p2"))), 418);
    assert_eq!(get(&tx, &srv, "./Cfg").unwrap(), b"Proxy/Timeout");
    // Replace and Delete reach the node too.
    tx.replace(&srv, &t("./Cfg/TimeOut"), Content::chr("60")).unwrap();
    assert_eq!(get(&tx, &srv, "./Cfg/Timeout").unwrap(), b"60");
    tx.delete(&srv, &t("./Cfg/PROXY")).unwrap();
    assert_eq!(get(&tx, &srv, "./Cfg").unwrap(), b"Timeout");
    // CS (the default): another case is another name.
    assert_eq!(code(get(&tx, &srv, "./Strict/NAME")), 404);
    tx.add(&srv, &t("./Strict/NAME"), Content::chr("n2")).unwrap();
    assert_eq!(get(&tx, &srv, "./Strict").unwrap(), b"NAME/Name");
    // The CIS parent's own name follows its parent's (the root's) rule: case-sensitive.
    assert_eq!(code(get(&tx, &srv, "./cfg/Timeout")), 404);
}

const DMACC: &str = "urn:oma:mo:oma-dm-dmacc:1.0";
const CONNMO: &str = "urn:oma:mo:oma-dm-connmo:1.0";

fn inbox_tree() -> Tree<MemStore> {
    let cfg = TreeConfig {
        mo_homes: vec![(DMACC.into(), u("./DMAcc")), (CONNMO.into(), u("./ConnMO"))],
        ..TreeConfig::default()
    };
    let mut tree = Tree::open(MemStore::new(), cfg).unwrap();
    tree.run(|tx| {
        let dev = Caller::device();
        tx.add(&dev, &t("./Inbox"), Content::interior(Some("urn:oma:mo:oma-dm-inbox:1.0")))?;
        tx.add(&dev, &t("./DMAcc"), Content::interior(None))?;
        tx.add(&dev, &t("./ConnMO"), Content::interior(None))
    })
    .unwrap();
    tree
}

/// A TNDS node: name, optional MO identifier (interior) or value (leaf), children.
fn node(name: &str, mo: Option<&str>, value: Option<&str>, children: &str) -> String {
    let rt = match (mo, value) {
        (Some(mo), _) => {
            format!("<RTProperties><Format><node/></Format><Type><DDFName>{mo}</DDFName></Type></RTProperties>")
        }
        (None, Some(_)) => {
            "<RTProperties><Format><chr/></Format><Type><MIME>text/plain</MIME></Type></RTProperties>".into()
        }
        (None, None) => "<RTProperties><Format><node/></Format><Type><DDFName></DDFName></Type></RTProperties>".into(),
    };
    let value = value.map(|v| format!("<Value>{v}</Value>")).unwrap_or_default();
    format!("<Node><NodeName>{name}</NodeName>{rt}{value}{children}</Node>")
}

fn tnds(nodes: &str) -> Element {
    xml(&format!("<MgmtTree xmlns=\"syncml:dmddf1.2\"><VerDTD>1.2</VerDTD>{nodes}</MgmtTree>"))
}

fn exists(tree: &mut Tree<MemStore>, uri: &str) -> bool {
    tree.begin().node(&u(uri)).unwrap().is_some()
}

#[test]
fn plain_adds_below_a_placed_mo_follow_it() {
    let mut tree = inbox_tree();
    let dev = Caller::device();
    tree.run(|tx| {
        tx.add(&dev, &t("./Inbox/acc1"), Content::interior(Some(DMACC)))?;
        tx.add(&dev, &t("./Inbox/acc1/ServerID"), Content::chr("srv1"))?;
        tx.add(&dev, &t("./Inbox/acc1/AppAddr/A1/Addr"), Content::chr("https://dm.example/"))
    })
    .unwrap();
    let mut tx = tree.begin();
    assert_eq!(get(&tx, &dev, "./DMAcc/acc1/ServerID").unwrap(), b"srv1");
    assert_eq!(get(&tx, &dev, "./DMAcc/acc1/AppAddr/A1/Addr").unwrap(), b"https://dm.example/");
    // The placement outlives the transaction that made it.
    tx.add(&dev, &t("./Inbox/acc1/Name"), Content::chr("Example")).unwrap();
    assert_eq!(get(&tx, &dev, "./DMAcc/acc1/Name").unwrap(), b"Example");
    // Nothing stays in the Inbox; a path below a name never placed has no parent.
    assert_eq!(tx.children(&u("./Inbox")).unwrap(), Vec::<String>::new());
    assert_eq!(code(tx.add(&dev, &t("./Inbox/acc9/ServerID"), Content::chr("x"))), 404);
    // Unknown and missing MO identifiers.
    assert_eq!(code(tx.add(&dev, &t("./Inbox/x"), Content::interior(Some("urn:example:unknown")))), 415);
    assert_eq!(code(tx.add(&dev, &t("./Inbox/y"), Content::chr("loose leaf"))), 415);
    assert_eq!(INBOX_UNKNOWN_MO, StatusCode::UnsupportedMediaType);
}

#[test]
fn a_rolled_back_placement_is_forgotten() {
    let mut tree = inbox_tree();
    let dev = Caller::device();
    let mut tx = tree.begin();
    tx.add(&dev, &t("./Inbox/acc2"), Content::interior(Some(DMACC))).unwrap();
    tx.rollback();
    assert!(!exists(&mut tree, "./DMAcc/acc2"));
    assert_eq!(code(tree.begin().add(&dev, &t("./Inbox/acc2/ServerID"), Content::chr("x"))), 404);
}

#[test]
fn tnds_with_several_and_nested_mos() {
    let mut tree = inbox_tree();
    let dev = Caller::device();
    let ext = node("Ext", Some("urn:example:vendor-ext:1.0"), None, &node("Flag", None, Some("on"), ""));
    let acc = node("acc1", Some(DMACC), None, &format!("{}{ext}", node("ServerID", None, Some("srv1"), "")));
    let conn = node("nap1", Some(CONNMO), None, &node("Addr", None, Some("apn.example"), ""));
    // A grouping node without an MO identifier holding another account.
    let group = node("bundle", None, None, &node("acc2", Some(DMACC), None, &node("ServerID", None, Some("srv2"), "")));
    let doc = tnds(&format!("{acc}{conn}{group}"));
    assert_eq!(tree.run(|tx| tx.add_tnds(&dev, &u("./Inbox"), &doc)).unwrap(), StatusCode::Ok);
    let tx = tree.begin();
    assert_eq!(get(&tx, &dev, "./DMAcc/acc1/ServerID").unwrap(), b"srv1");
    // An MO nested in a placed MO stays inside it.
    assert_eq!(get(&tx, &dev, "./DMAcc/acc1/Ext/Flag").unwrap(), b"on");
    assert_eq!(get(&tx, &dev, "./DMAcc/acc1/Ext?prop=Type").unwrap(), b"urn:example:vendor-ext:1.0");
    assert_eq!(get(&tx, &dev, "./ConnMO/nap1/Addr").unwrap(), b"apn.example");
    assert_eq!(get(&tx, &dev, "./DMAcc/acc2/ServerID").unwrap(), b"srv2");
    assert!(tx.node(&u("./DMAcc/bundle")).unwrap().is_none());
    assert_eq!(tx.children(&u("./Inbox")).unwrap(), Vec::<String>::new());
    drop(tx);

    // One unknown MO makes the whole TNDS fail, and nothing of it is placed.
    let unknown = node("u1", Some("urn:example:unknown:1.0"), None, "");
    let doc = tnds(&format!("{}{unknown}", node("acc3", Some(DMACC), None, "")));
    assert_eq!(code(tree.run(|tx| tx.add_tnds(&dev, &u("./Inbox"), &doc))), 415);
    assert!(!exists(&mut tree, "./DMAcc/acc3"));
    // So does a top-level leaf, which names no MO.
    let doc = tnds(&node("stray", None, Some("x"), ""));
    assert_eq!(code(tree.run(|tx| tx.add_tnds(&dev, &u("./Inbox"), &doc))), 415);
}
