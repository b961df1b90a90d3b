//! Real DDF and TNDS documents from the shared test vectors.

use omadm_proto::{Element, Limits};
use omadm_tree::*;

fn vector(rel: &str) -> Vec<u8> {
    let path = format!("{}/../../../shared/vectors/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_xml(bytes: &[u8]) -> Element {
    omadm_proto::xml::parse_element(bytes, &Limits::default()).unwrap()
}

fn u(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

#[test]
fn aosp_device_ddf_parses_with_292_nodes() {
    let ddf = Ddf::from_element(&parse_xml(&vector("ddf/aosp-syncmldm.ddf"))).unwrap();
    assert_eq!(ddf.node_count(), 292);
    assert_eq!(ddf.man.as_deref(), Some("Motorola"));
    let errors: Vec<_> = ddf.check().into_iter().filter(|i| i.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Bind it to a tree and check commands against it.
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    tree.mount_ddf(&ddf, &Uri::root()).unwrap();
    let dev = Caller::device();
    let mut tx = tree.begin();
    tx.add(&dev, &TargetUri::parse("./CDMA").unwrap(), Content::interior(None)).unwrap();
    // BC10 is an int leaf: a chr value is refused (415), an int accepted
    let bc10 = TargetUri::parse("./CDMA/BC10").unwrap();
    assert_eq!(tx.add(&dev, &bc10, Content::chr("x")).unwrap_err().status().code(), 415);
    tx.add(&dev, &bc10, Content::new(omadm_proto::Format::Int, "7")).unwrap();
    // For a server, CDMA allows only Get: it cannot be deleted even with the ACL right (405);
    // BC10 allows Replace; unknown children are not described (405).
    let s = Caller::server(ServerId::new("s").unwrap(), DmVersion::V1_2);
    let acl = TargetUri::parse("./CDMA?prop=ACL").unwrap();
    tx.replace(&dev, &acl, Content::chr("Add=s&Delete=s&Get=s&Replace=s")).unwrap();
    assert_eq!(tx.delete(&s, &TargetUri::parse("./CDMA").unwrap()).unwrap_err().status().code(), 405);
    assert_eq!(tx.delete(&s, &bc10).unwrap_err().status().code(), 405);
    assert_eq!(tx.replace(&s, &bc10, Content::new(omadm_proto::Format::Int, "8")).unwrap().code(), 200);
    let bogus = TargetUri::parse("./CDMA/Bogus").unwrap();
    assert_eq!(tx.add(&s, &bogus, Content::chr("x")).unwrap_err().status().code(), 405);
    assert_eq!(tx.add(&dev, &bogus, Content::chr("x")).unwrap_err().status().code(), 405);
    // Validation of the tree against the DDF: the required (Occurrence One) siblings are missing.
    let v = tx.validate(&u("./CDMA")).unwrap();
    assert!(v.contains(&"./CDMA: missing BC14".to_string()), "{v:?}");
    assert!(!v.iter().any(|l| l.contains("BC10")), "{v:?}");
}

#[test]
fn libwbxml_ddf_parses() {
    let ddf = Ddf::from_element(&parse_xml(&vector("libwbxml/ddf-001.ddf"))).unwrap();
    assert_eq!(ddf.node_count(), 5);
    assert_eq!(ddf.nodes[0].name.as_deref(), Some("E-Mail"));
    assert!(ddf.check().iter().all(|i| i.severity == Severity::Warning));
}

/// The TNDS document embedded in a SyncML Add (extracted from the message text; the message
/// decoder hands the same element over in the client).
fn embedded_tnds() -> Element {
    let text = String::from_utf8(vector("libwbxml/syncml_with_ddf-001.xml")).unwrap();
    let start = text.find("<MgmtTree").unwrap();
    let end = text.find("</MgmtTree>").unwrap() + "</MgmtTree>".len();
    parse_xml(&text.as_bytes()[start..end])
}

#[test]
fn embedded_tnds_applies_to_a_tree() {
    let doc = embedded_tnds();
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let s = Caller::server(ServerId::new("operatorx").unwrap(), DmVersion::V1_2);
    // The vector's Add targets "/OperatorX", which is not a legal tree URI.
    assert_eq!(Uri::parse("/OperatorX").unwrap_err().status().code(), 400);
    let mut tx = tree.begin();
    assert_eq!(tx.add_tnds(&s, &u("./OperatorX"), &doc).unwrap().code(), 200);
    let leaf = |p: &str| tx.node(&u(p)).unwrap().unwrap();
    assert_eq!(leaf("./OperatorX/E-Mail").mime, "com.operatorX.dm/1.0/EMail");
    assert_eq!(leaf("./OperatorX/E-Mail/POP3/POPServer").value, b"mail.Operatorx.com");
    assert_eq!(leaf("./OperatorX/E-Mail/POP3/UserID").value, b"UserName");
    assert_eq!(leaf("./OperatorX/E-Mail/POP3/PWD").value, b"4571F7C34A9876B3");
    assert!(leaf("./OperatorX/E-Mail/POP3").is_interior());
    // Adding it again fails as a whole (418) and changes nothing.
    assert_eq!(tx.add_tnds(&s, &u("./OperatorX"), &doc).unwrap_err().status().code(), 418);
    tx.commit().unwrap();
    // Read back as TNDS: the same structure and values.
    let tx = tree.begin();
    let GetResult::Tnds(out) =
        tx.get(&s, &TargetUri::parse("./OperatorX/E-Mail?list=TNDS+Format+Type+Value").unwrap()).unwrap()
    else {
        panic!()
    };
    let out = out.into_element().unwrap();
    let back = Ddf::from_element(&out).unwrap();
    let orig = Ddf::from_element(&doc).unwrap();
    assert_eq!(back.node_count(), orig.node_count());
    let pwd = |d: &Ddf| {
        d.nodes[0].children[0].children.iter().find(|n| n.name.as_deref() == Some("PWD")).and_then(|n| n.value.clone())
    };
    assert_eq!(pwd(&back), pwd(&orig));
}
