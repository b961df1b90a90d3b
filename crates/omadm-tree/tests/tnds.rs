//! TNDS serialization: a subtree to TNDS and back, in XML and WBXML, checked against libwbxml's
//! `wbxml2xml -l DMDDF12` / `xml2wbxml` when they are installed (the project's test script
//! installs Debian's libwbxml2-utils; without them these checks print a notice and skip).

use std::process::Command;

use omadm_proto::wbxml::WbxmlOptions;
use omadm_proto::xml::XmlOptions;
use omadm_proto::{Element, Format, Limits};
use omadm_tree::*;

fn t(s: &str) -> TargetUri {
    TargetUri::parse(s).unwrap()
}

fn sample_tree() -> Tree<MemStore> {
    let mut tree = Tree::open(MemStore::new(), TreeConfig { clock: None, ..TreeConfig::default() }).unwrap();
    let dev = Caller::device();
    tree.run(|tx| {
        tx.add(&dev, &t("./Vendor/App"), Content::interior(Some("com.example/1.0/App")))?;
        tx.add(&dev, &t("./Vendor/App/Name"), Content::chr("Demo & <friends>"))?;
        tx.add(&dev, &t("./Vendor/App/Count"), Content::new(Format::Int, "-7"))?;
        tx.add(&dev, &t("./Vendor/App/Blob"), Content::new(Format::Bin, vec![0u8, 1, 2, 255]))?;
        tx.add(&dev, &t("./Vendor/App/Flag"), Content::new(Format::Bool, "true").with_mime("text/plain"))?;
        tx.add(&dev, &t("./Vendor/App/Sub/Leaf"), Content::chr("x"))?;
        tx.replace(&dev, &t("./Vendor/App?prop=ACL"), Content::chr("Get=*&Replace=srv"))?;
        tx.replace(&dev, &t("./Vendor/App/Name?prop=Title"), Content::chr("display name"))?;
        Ok(())
    })
    .unwrap();
    tree
}

fn tnds_of(tree: &mut Tree<MemStore>, target: &str) -> Element {
    let tx = tree.begin();
    match tx.get(&Caller::device(), &t(target)).unwrap() {
        GetResult::Tnds(e) => e.into_element().unwrap(),
        _ => panic!("not TNDS"),
    }
}

/// One node as compared between trees: URI, format, type, value, ACL, title.
type Listed = (String, String, String, Vec<u8>, String, Option<String>);

/// The records of a subtree, for comparing trees.
fn listing(tree: &mut Tree<MemStore>, root: &str) -> Vec<Listed> {
    let tx = tree.begin();
    let GetResult::List(items) = tx.get(&Caller::device(), &t(&format!("{root}?list=StructData"))).unwrap() else {
        panic!()
    };
    items
        .map(|i| {
            let n = i.unwrap();
            let r = n.record;
            (n.uri.to_string(), r.format.to_string(), r.mime, r.value, r.acl.to_string(), r.title)
        })
        .collect()
}

#[test]
fn tnds_round_trips_through_a_tree() {
    let mut tree = sample_tree();
    let doc = tnds_of(&mut tree, "./Vendor/App?list=TNDS+ACL+Format+Title+Type+Value");
    let mut copy = Tree::open(MemStore::new(), TreeConfig { clock: None, ..TreeConfig::default() }).unwrap();
    copy.run(|tx| tx.add_tnds(&Caller::device(), &Uri::parse("./Vendor").unwrap(), &doc)).unwrap();
    assert_eq!(listing(&mut copy, "./Vendor/App"), listing(&mut tree, "./Vendor/App"));
    // Through XML text too.
    let xml = omadm_proto::xml::write_element(&doc, &XmlOptions::default());
    let again = omadm_proto::xml::parse_element(&xml, &Limits::default()).unwrap();
    assert_eq!(Ddf::from_element(&again).unwrap(), Ddf::from_element(&doc).unwrap());
    // Selections: -ACL drops the ACL, the default Struct fields carry no value.
    let no_acl = Ddf::from_element(&tnds_of(&mut tree, "./Vendor/App?list=TNDS-ACL")).unwrap();
    assert!(no_acl.nodes[0].rt.as_ref().unwrap().acl.is_none());
    let only_type = Ddf::from_element(&tnds_of(&mut tree, "./Vendor/App?list=TNDS+Type")).unwrap();
    assert!(only_type.nodes[0].children.iter().all(|c| c.value.is_none()));
}

#[test]
fn tnds_replace_swaps_the_subtree() {
    let mut tree = sample_tree();
    let doc = omadm_proto::xml::parse_element(
        br#"<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>App</NodeName>
            <RTProperties><Format><node/></Format><Type><DDFName>com.example/1.0/App</DDFName></Type></RTProperties>
            <Node><NodeName>Only</NodeName><Value>1</Value></Node></Node></MgmtTree>"#,
        &Limits::default(),
    )
    .unwrap();
    let srv = Caller::server(ServerId::new("srv").unwrap(), DmVersion::V1_2);
    let other = Caller::server(ServerId::new("other").unwrap(), DmVersion::V1_2);
    let mut tx = tree.begin();
    // srv may replace App but not delete the children it holds (they inherit App's ACL)
    assert_eq!(tx.replace_tnds(&srv, &Uri::parse("./Vendor").unwrap(), &doc).unwrap_err().status().code(), 425);
    tx.replace(&Caller::device(), &t("./Vendor/App?prop=ACL"), Content::chr("Delete=srv&Get=*&Replace=srv")).unwrap();
    assert_eq!(tx.replace_tnds(&other, &Uri::parse("./Vendor").unwrap(), &doc).unwrap_err().status().code(), 425);
    assert_eq!(tx.replace_tnds(&srv, &Uri::parse("./Nowhere").unwrap(), &doc).unwrap_err().status().code(), 404);
    tx.replace_tnds(&srv, &Uri::parse("./Vendor").unwrap(), &doc).unwrap();
    assert_eq!(tx.children(&Uri::parse("./Vendor/App").unwrap()).unwrap(), ["Only"]);
    assert_eq!(
        tx.node(&Uri::parse("./Vendor/App").unwrap()).unwrap().unwrap().acl.to_string(),
        "Delete=srv&Get=*&Replace=srv"
    );
}

fn doc(xml: &str) -> Element {
    omadm_proto::xml::parse_element(
        format!(r#"<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>{xml}</MgmtTree>"#).as_bytes(),
        &Limits::default(),
    )
    .unwrap()
}

fn caller(id: &str) -> Caller {
    Caller::server(ServerId::new(id).unwrap(), DmVersion::V1_2)
}

/// `./Vendor` (Get and Add for everyone, no Replace) holding the leaf `L` (`Get=*&Replace=*`)
/// and `App` (owned by `srv`) with a child `Theirs` that belongs to `other`.
fn owned_tree() -> Tree<MemStore> {
    let mut tree = Tree::open(MemStore::new(), TreeConfig { clock: None, ..TreeConfig::default() }).unwrap();
    let dev = Caller::device();
    tree.run(|tx| {
        tx.add(&dev, &t("./Vendor/L"), Content::chr("l"))?;
        tx.add(&dev, &t("./Vendor/App/Mine"), Content::chr("m"))?;
        tx.add(&dev, &t("./Vendor/App/Theirs"), Content::chr("t"))?;
        tx.replace(&dev, &t("./Vendor?prop=ACL"), Content::chr("Add=*&Get=*"))?;
        tx.replace(&dev, &t("./Vendor/L?prop=ACL"), Content::chr("Get=*&Replace=*"))?;
        tx.replace(&dev, &t("./Vendor/App?prop=ACL"), Content::chr("Add=srv&Delete=srv&Get=*&Replace=srv"))?;
        tx.replace(&dev, &t("./Vendor/App/Theirs?prop=ACL"), Content::chr("Delete=other&Get=*&Replace=other"))?;
        Ok(())
    })
    .unwrap();
    tree
}

/// A TNDS Replace sets a leaf's ACL only with Replace on its parent, as `?prop=ACL` does
/// (TND 1.2 §7.7.1, digest §6 ACL table); a refusal changes nothing.
#[test]
fn tnds_replace_sets_a_leaf_acl_only_with_replace_on_the_parent() {
    let mut tree = owned_tree();
    let before = listing(&mut tree, "./Vendor");
    let srv = caller("srv");
    let mut tx = tree.begin();
    let prop = tx.replace(&srv, &t("./Vendor/L?prop=ACL"), Content::chr("Delete=*&Exec=*"));
    assert_eq!(prop.unwrap_err().status().code(), 425);
    let d = doc(r#"<Node><NodeName>L</NodeName><RTProperties><ACL>Delete=*&amp;Exec=*</ACL><Format><chr/></Format>
        <Type><MIME>text/plain</MIME></Type></RTProperties><Value>new</Value></Node>"#);
    assert_eq!(tx.replace_tnds(&srv, &Uri::parse("./Vendor").unwrap(), &d).unwrap_err().status().code(), 425);
    // without an ACL the value is replaced (Replace on L is granted)
    let d = doc(r#"<Node><NodeName>L</NodeName><RTProperties><Format><chr/></Format>
        <Type><MIME>text/plain</MIME></Type></RTProperties><Value>new</Value></Node>"#);
    tx.replace_tnds(&srv, &Uri::parse("./Vendor").unwrap(), &d).unwrap();
    tx.rollback();
    assert_eq!(listing(&mut tree, "./Vendor"), before);
}

/// A TNDS Replace removes the old children only where the caller may Delete them: a child that
/// belongs to another server makes the whole command fail, and nothing changes.
#[test]
fn tnds_replace_deletes_old_children_only_with_their_delete_right() {
    let mut tree = owned_tree();
    let before = listing(&mut tree, "./Vendor");
    let d = doc(
        r#"<Node><NodeName>App</NodeName><RTProperties><Format><node/></Format><Type><DDFName/></Type></RTProperties>
        <Node><NodeName>New</NodeName><Value>n</Value></Node></Node>"#,
    );
    let mut tx = tree.begin();
    assert_eq!(tx.replace_tnds(&caller("srv"), &Uri::parse("./Vendor").unwrap(), &d).unwrap_err().status().code(), 425);
    tx.commit().unwrap();
    assert_eq!(listing(&mut tree, "./Vendor"), before);
    // once `other` lets srv delete its node, the subtree is swapped
    tree.run(|tx| tx.replace(&Caller::device(), &t("./Vendor/App/Theirs?prop=ACL"), Content::chr("Delete=srv")))
        .unwrap();
    let mut tx = tree.begin();
    tx.replace_tnds(&caller("srv"), &Uri::parse("./Vendor").unwrap(), &d).unwrap();
    assert_eq!(tx.children(&Uri::parse("./Vendor/App").unwrap()).unwrap(), ["New"]);
}

/// A TNDS Add applies each node's ACL and Title under the single-node rules: a new leaf's ACL
/// needs Replace on its parent, a Title needs Replace on the node and at most 255 bytes; any
/// refusal leaves nothing behind.
#[test]
fn tnds_add_applies_properties_under_the_single_node_rules() {
    let mut tree = owned_tree();
    let before = listing(&mut tree, "./Vendor");
    let vendor = Uri::parse("./Vendor").unwrap();
    let leaf = |rt: &str| {
        doc(&format!(
            r#"<Node><NodeName>N</NodeName><RTProperties><Format><node/></Format><Type><DDFName/></Type></RTProperties>
            <Node><NodeName>Leaf</NodeName><RTProperties>{rt}<Format><chr/></Format><Type><MIME>text/plain</MIME></Type></RTProperties>
            <Value>v</Value></Node></Node>"#
        ))
    };
    let mut tx = tree.begin();
    // `stranger` may Add under ./Vendor but not Replace there: N gets the creator's rights, so
    // its Leaf's ACL (Replace on N) may be set, but a leaf directly under ./Vendor's may not
    let direct = doc(r#"<Node><NodeName>Leaf</NodeName><RTProperties><ACL>Get=*</ACL><Format><chr/></Format>
        <Type><MIME>text/plain</MIME></Type></RTProperties><Value>v</Value></Node>"#);
    assert_eq!(tx.add_tnds(&caller("stranger"), &vendor, &direct).unwrap_err().status().code(), 425);
    let long = format!("<Title>{}</Title>", "x".repeat(256));
    assert_eq!(tx.add_tnds(&caller("stranger"), &vendor, &leaf(&long)).unwrap_err().status().code(), 413);
    tx.commit().unwrap();
    assert_eq!(listing(&mut tree, "./Vendor"), before);
    let mut tx = tree.begin();
    tx.add_tnds(&caller("stranger"), &vendor, &leaf("<ACL>Get=*</ACL><Title>t</Title>")).unwrap();
    assert_eq!(tx.node(&Uri::parse("./Vendor/N/Leaf").unwrap()).unwrap().unwrap().acl.to_string(), "Get=*");
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("-h").output().is_ok();
    if !found {
        println!("NOTICE: {name} not installed (Debian libwbxml2-utils); skipping the libwbxml interop check");
    }
    found
}

#[test]
fn wbxml_tnds_interoperates_with_libwbxml() {
    if !tool("wbxml2xml") || !tool("xml2wbxml") {
        return;
    }
    let mut tree = sample_tree();
    let doc = tnds_of(&mut tree, "./Vendor/App?list=TNDS+ACL+Format+Title+Type+Value");
    let want = Ddf::from_element(&doc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // ours → libwbxml
    let ours = omadm_proto::wbxml::encode_document(&doc, &WbxmlOptions::default()).unwrap();
    std::fs::write(dir.path().join("ours.wbxml"), &ours).unwrap();
    let out = Command::new("wbxml2xml")
        .args(["-l", "DMDDF12", "-o"])
        .arg(dir.path().join("theirs.xml"))
        .arg(dir.path().join("ours.wbxml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "wbxml2xml: {}", String::from_utf8_lossy(&out.stderr));
    let theirs_xml = std::fs::read(dir.path().join("theirs.xml")).unwrap();
    let parsed = omadm_proto::xml::parse_element(&theirs_xml, &Limits::default()).unwrap();
    assert_eq!(Ddf::from_element(&parsed).unwrap(), want);
    // libwbxml → ours
    let xml = omadm_proto::xml::write_element(&doc, &XmlOptions { declaration: true, ..XmlOptions::default() });
    std::fs::write(dir.path().join("ours.xml"), &xml).unwrap();
    let out = Command::new("xml2wbxml")
        .arg("-o")
        .arg(dir.path().join("theirs.wbxml"))
        .arg(dir.path().join("ours.xml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "xml2wbxml: {}", String::from_utf8_lossy(&out.stderr));
    let theirs = std::fs::read(dir.path().join("theirs.wbxml")).unwrap();
    let decoded = omadm_proto::wbxml::decode_document(&theirs, &Limits::default()).unwrap();
    assert_eq!(Ddf::from_element(&decoded).unwrap(), want);
    // and the decoded document applies to a tree as the original does
    let mut copy = Tree::open(MemStore::new(), TreeConfig { clock: None, ..TreeConfig::default() }).unwrap();
    copy.run(|tx| tx.add_tnds(&Caller::device(), &Uri::parse("./Vendor").unwrap(), &decoded)).unwrap();
    assert_eq!(listing(&mut copy, "./Vendor/App"), listing(&mut tree, "./Vendor/App"));
}

/// The streamed document, read in chunks of every size from 1 byte, is byte for byte what the
/// in-memory document encodes to, in XML and in WBXML.
#[test]
fn tnds_streams_the_same_bytes_as_the_built_document() {
    let mut tree = sample_tree();
    let target = t("./Vendor?list=TNDS+ACL+Format+Title+Type+Value+VerNo");
    let tx = tree.begin();
    let GetResult::Tnds(list) = tx.get(&Caller::device(), &target).unwrap() else { panic!() };
    let doc = list.into_element().unwrap();
    let xml = omadm_proto::xml::write_element(&doc, &XmlOptions { declaration: false, ..XmlOptions::default() });
    let wbxml = omadm_proto::wbxml::encode_document(
        &doc,
        &WbxmlOptions { version: omadm_proto::wbxml::WbxmlVersion::V1_2, string_table: false },
    )
    .unwrap();
    for (encoding, whole) in [(TndsEncoding::Xml, &xml), (TndsEncoding::Wbxml, &wbxml)] {
        for max in [1, 7, 64, 100_000] {
            let GetResult::Tnds(list) = tx.get(&Caller::device(), &target).unwrap() else { panic!() };
            let mut stream = list.into_stream(encoding);
            let mut out = Vec::new();
            while let Some(chunk) = stream.next_chunk(max).unwrap() {
                assert!(!chunk.is_empty() && chunk.len() <= max);
                out.extend(chunk);
            }
            assert_eq!(&out, whole, "{encoding:?} in chunks of {max}");
        }
        // Through std::io::Read as well.
        let GetResult::Tnds(list) = tx.get(&Caller::device(), &target).unwrap() else { panic!() };
        let mut out = Vec::new();
        list.into_stream(encoding).write_to(&mut out).unwrap();
        assert_eq!(&out, whole);
    }
    // A server that may not Get part of the tree gets a document without it (with a Path for
    // what lies below the hidden part), still well-formed.
    let srv = Caller::server(ServerId::new("srv").unwrap(), DmVersion::V1_2);
    let GetResult::Tnds(list) = tx.get(&srv, &t("./Vendor?list=TNDS")).unwrap() else { panic!() };
    let mut bytes = Vec::new();
    list.into_stream(TndsEncoding::Wbxml).write_to(&mut bytes).unwrap();
    let back = omadm_proto::wbxml::decode_document(&bytes, &Limits::default()).unwrap();
    Ddf::from_element(&back).unwrap();
}
