//! The standard objects on a device tree: install, URI limits, Inbox bootstrap of a DMAcc account
//! from TNDS, secrets without Get.

use omadm_proto::Limits;
use omadm_tree::objects::{install, standard_config, DeviceDescription};
use omadm_tree::*;

fn t(s: &str) -> TargetUri {
    TargetUri::parse(s).unwrap()
}

fn device() -> DeviceDescription {
    DeviceDescription {
        dev_id: "IMEI:493005100592800".into(),
        man: "omadm".into(),
        model: "test".into(),
        dm_version: "1.3".into(),
        lang: "en-US".into(),
        dev_type: "phone".into(),
        oem: "omadm".into(),
        fw_version: "1".into(),
        sw_version: "1".into(),
        hw_version: "1".into(),
        large_objects: true,
        uri_limits: UriLimits { max_depth: 12, max_tot_len: 255, max_seg_len: 64 },
    }
}

const ACCOUNT: &str = r#"<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>
<Node><NodeName>acme</NodeName><RTProperties><Format><node/></Format><Type><DDFName>urn:oma:mo:oma-dm-dmacc:1.0</DDFName></Type></RTProperties>
  <Node><NodeName>AppID</NodeName><Value>w7</Value></Node>
  <Node><NodeName>ServerID</NodeName><Value>acme</Value></Node>
  <Node><NodeName>AppAddr</NodeName><RTProperties><Format><node/></Format><Type><DDFName></DDFName></Type></RTProperties>
    <Node><NodeName>1</NodeName><RTProperties><Format><node/></Format><Type><DDFName></DDFName></Type></RTProperties>
      <Node><NodeName>Addr</NodeName><Value>https://dm.acme.test/dm</Value></Node>
      <Node><NodeName>AddrType</NodeName><Value>URI</Value></Node>
    </Node>
  </Node>
  <Node><NodeName>AppAuth</NodeName><RTProperties><Format><node/></Format><Type><DDFName></DDFName></Type></RTProperties>
    <Node><NodeName>srv</NodeName><RTProperties><Format><node/></Format><Type><DDFName></DDFName></Type></RTProperties>
      <Node><NodeName>AAuthLevel</NodeName><Value>SRVCRED</Value></Node>
      <Node><NodeName>AAuthType</NodeName><Value>DIGEST</Value></Node>
      <Node><NodeName>AAuthSecret</NodeName><Value>s3cret</Value></Node>
    </Node>
  </Node>
</Node></MgmtTree>"#;

#[test]
fn device_tree_with_standard_objects() {
    let mut tree = Tree::open(MemStore::new(), standard_config()).unwrap();
    install(&mut tree, &device()).unwrap();
    assert_eq!(tree.uri_limits(), UriLimits { max_depth: 12, max_tot_len: 255, max_seg_len: 64 });
    let s = Caller::server(ServerId::new("acme").unwrap(), DmVersion::V1_2);
    let dev = Caller::device();
    let mut tx = tree.begin();
    let GetResult::Value(v) = tx.get(&s, &t("./DevInfo/DevId")).unwrap() else { panic!() };
    assert_eq!(v.data, b"IMEI:493005100592800");
    // DevInfo is read-only for servers (DDF AccessType Get), permanent for everyone
    assert_eq!(tx.replace(&s, &t("./DevInfo/DevId"), Content::chr("x")).unwrap_err().status().code(), 405);
    assert_eq!(tx.delete(&dev, &t("./DevInfo")).unwrap_err().status().code(), 405);
    // Get under the Inbox: 405; bootstrap an account through it (a TNDS placed by MO id)
    assert_eq!(tx.get(&s, &t("./Inbox")).err().unwrap().status().code(), 405);
    let doc = omadm_proto::xml::parse_element(ACCOUNT.as_bytes(), &Limits::default()).unwrap();
    tx.add_tnds(&dev, &Uri::parse("./Inbox").unwrap(), &doc).unwrap();
    tx.replace(&dev, &t("./DMAcc/acme?prop=ACL"), Content::chr("Get=acme&Replace=acme&Delete=acme&Add=acme")).unwrap();
    assert!(tx.validate(&Uri::root()).unwrap().is_empty(), "{:?}", tx.validate(&Uri::root()));
    let GetResult::Value(v) = tx.get(&s, &t("./DMAcc/acme/AppAddr/1/Addr")).unwrap() else { panic!() };
    assert_eq!(v.data, b"https://dm.acme.test/dm");
    // secrets have no Get in the DDF
    assert_eq!(tx.get(&s, &t("./DMAcc/acme/AppAuth/srv/AAuthSecret")).err().unwrap().status().code(), 405);
    assert_eq!(tx.replace(&s, &t("./DMAcc/acme/AppAuth/srv/AAuthSecret"), Content::chr("new")).unwrap().code(), 200);
    // required nodes cannot go (Occurrence One), the account as a whole can
    assert_eq!(tx.delete(&s, &t("./DMAcc/acme/ServerID")).unwrap_err().status().code(), 405);
    assert_eq!(tx.delete(&s, &t("./DMAcc/acme")).unwrap().code(), 200);
    tx.commit().unwrap();
}

/// A structural query answers as a plain Get does: a node whose DDF AccessType has no Get
/// (AAuthSecret, AAuthData) is left out of Struct, StructData and TNDS answers, and a query
/// aimed at such a node is refused with 405 (TND 1.2 §8.4; docs/dm13-decisions.md).
#[test]
fn structural_queries_leave_out_nodes_without_get() {
    let mut tree = Tree::open(MemStore::new(), standard_config()).unwrap();
    install(&mut tree, &device()).unwrap();
    let s = Caller::server(ServerId::new("acme").unwrap(), DmVersion::V1_2);
    let dev = Caller::device();
    let mut tx = tree.begin();
    let doc = omadm_proto::xml::parse_element(ACCOUNT.as_bytes(), &Limits::default()).unwrap();
    tx.add_tnds(&dev, &Uri::parse("./Inbox").unwrap(), &doc).unwrap();
    tx.add(&dev, &t("./DMAcc/acme/AppAuth/srv/AAuthData"), Content::new(omadm_proto::Format::Bin, "nonce-bytes"))
        .unwrap();
    tx.replace(&dev, &t("./DMAcc/acme?prop=ACL"), Content::chr("Get=acme&Replace=acme&Delete=acme&Add=acme")).unwrap();
    for q in ["Struct", "StructData"] {
        let GetResult::List(items) = tx.get(&s, &t(&format!("./DMAcc/acme/AppAuth?list={q}"))).unwrap() else {
            panic!()
        };
        let items: Vec<ListedNode> = items.map(Result::unwrap).collect();
        let uris: Vec<String> = items.iter().map(|n| n.uri.to_string()).collect();
        assert!(uris.contains(&"./DMAcc/acme/AppAuth/srv/AAuthType".to_string()), "{q}: {uris:?}");
        assert!(!uris.iter().any(|u| u.ends_with("AAuthSecret") || u.ends_with("AAuthData")), "{q}: {uris:?}");
        assert!(items.iter().all(|n| n.record.value != b"s3cret" && n.record.value != b"nonce-bytes"));
    }
    let GetResult::Tnds(list) = tx.get(&s, &t("./DMAcc/acme/AppAuth?list=TNDS+Value")).unwrap() else { panic!() };
    let xml = omadm_proto::xml::write_element(&list.into_element().unwrap(), &Default::default());
    let xml = String::from_utf8(xml).unwrap();
    assert!(xml.contains("AAuthType"), "{xml}");
    assert!(!xml.contains("AAuthSecret") && !xml.contains("s3cret") && !xml.contains("AAuthData"), "{xml}");
    for q in ["Struct", "StructData", "TNDS+Value"] {
        let r = tx.get(&s, &t(&format!("./DMAcc/acme/AppAuth/srv/AAuthSecret?list={q}")));
        assert_eq!(r.err().unwrap().status().code(), 405, "{q}");
    }
    // the device's own code still sees everything
    let GetResult::List(items) = tx.get(&dev, &t("./DMAcc/acme/AppAuth?list=StructData")).unwrap() else { panic!() };
    assert!(items.map(Result::unwrap).any(|n| n.record.value == b"s3cret"));
}
