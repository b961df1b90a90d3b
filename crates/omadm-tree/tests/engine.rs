//! The engine against its status codes: the ACL table, property rules, URI limits, Atomic
//! rollback, implicit parents, streaming structure queries.

use omadm_proto::{Format, Limits, StatusCode};
use omadm_tree::*;

fn sid(s: &str) -> ServerId {
    ServerId::new(s).unwrap()
}
fn srv(s: &str) -> Caller {
    Caller::server(sid(s), DmVersion::V1_2)
}
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

fn value<S: Store>(tx: &Txn<'_, S>, c: &Caller, target: &str) -> TreeResult<NodeValue> {
    match tx.get(c, &t(target))? {
        GetResult::Value(v) => Ok(v),
        _ => panic!("not a value"),
    }
}

/// A DDF leaf description allowing every command but `deny`.
fn leaf_def(name: &str, deny: &str, scope: &str) -> String {
    let access: String = ["Add", "Copy", "Delete", "Exec", "Get", "Replace"]
        .iter()
        .filter(|c| **c != deny)
        .map(|c| format!("<{c}/>"))
        .collect();
    format!(
        "<Node><NodeName>{name}</NodeName><DFProperties><AccessType>{access}</AccessType><DFFormat><chr/></DFFormat>\
         <Occurrence><ZeroOrOne/></Occurrence><Scope><{scope}/></Scope><DFType><MIME>text/plain</MIME></DFType></DFProperties></Node>"
    )
}

fn ddf() -> Ddf {
    let mut leaves = String::new();
    for (name, deny, scope) in [
        ("Open", "", "Dynamic"),
        ("Src", "", "Dynamic"),
        ("NoAdd", "Add", "Dynamic"),
        ("NoGet", "Get", "Dynamic"),
        ("NoReplace", "Replace", "Dynamic"),
        ("NoDelete", "Delete", "Dynamic"),
        ("NoExec", "Exec", "Dynamic"),
        ("NoCopy", "Copy", "Dynamic"),
        ("Perm", "", "Permanent"),
        ("New", "", "Dynamic"),
        ("Missing", "", "Dynamic"),
    ] {
        leaves.push_str(&leaf_def(name, deny, scope));
    }
    let xml = format!(
        "<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>Dev</NodeName><Path>.</Path><DFProperties><AccessType><Add/><Get/><Replace/></AccessType>\
         <DFFormat><node/></DFFormat><Scope><Permanent/></Scope><DFType><DDFName>urn:test:dev</DDFName></DFType></DFProperties>{leaves}</Node></MgmtTree>"
    );
    let el = omadm_proto::xml::parse_element(xml.as_bytes(), &Limits::default()).unwrap();
    let ddf = Ddf::from_element(&el).unwrap();
    assert!(ddf.check().iter().all(|i| i.severity == Severity::Warning), "{:?}", ddf.check());
    ddf
}

struct Ok200;
impl ExecHandler for Ok200 {
    fn exec(&mut self, _: &Uri, _: &[u8], _: Option<&str>) -> TreeResult<StatusCode> {
        Ok(StatusCode::Ok)
    }
}

fn table_tree() -> Tree<MemStore> {
    let mut tree =
        Tree::open(MemStore::new(), TreeConfig { implicit_parents: false, ..TreeConfig::default() }).unwrap();
    tree.mount_ddf(&ddf(), &Uri::root()).unwrap();
    tree.run(|tx| {
        let dev = Caller::device();
        tx.add(&dev, &t("./Dev"), Content::interior(None))?;
        for n in ["Open", "Src", "NoGet", "NoReplace", "NoDelete", "NoExec", "NoCopy", "Perm"] {
            tx.add(&dev, &t(&format!("./Dev/{n}")), Content::chr("v"))?;
        }
        tx.replace(&dev, &t("./Dev?prop=ACL"), Content::chr("Add=srv&Delete=srv&Exec=srv&Get=srv&Replace=srv"))?;
        Ok(())
    })
    .unwrap();
    for n in ["Open", "NoExec", "Perm"] {
        tree.set_exec_handler(u(&format!("./Dev/{n}")), Box::new(Ok200));
    }
    tree
}

#[test]
fn permanent_scope_comes_from_the_ddf() {
    let mut tree = table_tree();
    let tx = tree.begin();
    assert_eq!(tx.node(&u("./Dev/Perm")).unwrap().unwrap().scope, Scope::Permanent);
    assert_eq!(tx.node(&u("./Dev/Open")).unwrap().unwrap().scope, Scope::Dynamic);
}

/// The ACL table: each command × (allowed, denied by ACL, denied by DDF AccessType, missing
/// node, permanent node) → the exact status code.
#[test]
fn acl_table() {
    type Op = fn(&mut Txn<'_, MemStore>, &Caller, &str) -> TreeResult<StatusCode>;
    let add: Op = |tx, c, n| tx.add(c, &t(&format!("./Dev/{n}")), Content::chr("x"));
    let get: Op = |tx, c, n| value(tx, c, &format!("./Dev/{n}")).map(|v| v.status);
    let replace: Op = |tx, c, n| tx.replace(c, &t(&format!("./Dev/{n}")), Content::chr("y"));
    let delete: Op = |tx, c, n| tx.delete(c, &t(&format!("./Dev/{n}")));
    let copy: Op = |tx, c, n| match n {
        // the command's node is the source; the target is a fresh node (or the permanent one)
        "Perm" => tx.copy(c, &t("./Dev/Perm"), &t("./Dev/Src")),
        _ => tx.copy(c, &t("./Dev/New"), &t(&format!("./Dev/{n}"))),
    };
    let exec: Op = |tx, c, n| tx.exec(c, &t(&format!("./Dev/{n}")), b"", None);
    // (command, op, allowed target, DDF-denied target, [allowed, acl, ddf, missing, permanent])
    let rows: [(&str, Op, &str, &str, [u16; 5]); 6] = [
        ("Add", add, "New", "NoAdd", [200, 425, 405, 404, 418]),
        ("Get", get, "Open", "NoGet", [200, 425, 405, 404, 200]),
        ("Replace", replace, "Open", "NoReplace", [200, 425, 405, 404, 200]),
        ("Delete", delete, "Open", "NoDelete", [200, 425, 405, 404, 405]),
        ("Copy", copy, "Src", "NoCopy", [200, 425, 405, 404, 200]),
        ("Exec", exec, "Open", "NoExec", [200, 425, 405, 404, 200]),
    ];
    for (name, op, allowed, ddf_denied, want) in rows {
        let mut tree = table_tree();
        let missing = if name == "Add" { "Missing/Child" } else { "Missing" };
        let cases = [
            (srv("srv"), allowed),
            (srv("other"), allowed),
            (srv("srv"), ddf_denied),
            (srv("srv"), missing),
            (srv("srv"), "Perm"),
        ];
        let got: Vec<u16> = cases
            .iter()
            .map(|(c, n)| {
                let mut tx = tree.begin();
                let r = code(op(&mut tx, c, n));
                tx.rollback();
                r
            })
            .collect();
        assert_eq!(got, want, "{name}: allowed, ACL-denied, DDF-denied, missing, permanent");
    }
}

#[test]
fn properties_and_their_rules() {
    let mut tree =
        Tree::open(MemStore::new(), TreeConfig { clock: Some(|| 994_869_497), ..TreeConfig::default() }).unwrap();
    let dev = Caller::device();
    let s = srv("s");
    let mut tx = tree.begin();
    tx.add(&dev, &t("./A"), Content::interior(Some("urn:x"))).unwrap();
    tx.add(&dev, &t("./A/L"), Content::new(Format::Int, "42")).unwrap();
    tx.replace(&dev, &t("./A?prop=ACL"), Content::chr("Get=s&Replace=s&Add=s")).unwrap();
    let prop = |tx: &Txn<'_, MemStore>, p: &str| value(tx, &s, p).map(|v| String::from_utf8(v.data).unwrap());
    assert_eq!(prop(&tx, "./A/L?prop=Format").unwrap(), "int");
    assert_eq!(prop(&tx, "./A/L?prop=Size").unwrap(), "2");
    assert_eq!(prop(&tx, "./A/L?prop=Type").unwrap(), "text/plain");
    assert_eq!(prop(&tx, "./A?prop=Type").unwrap(), "urn:x");
    assert_eq!(prop(&tx, "./A/L?prop=Name").unwrap(), "L");
    assert_eq!(prop(&tx, "./A/L?prop=TStamp").unwrap(), "20010711T163817Z");
    assert_eq!(prop(&tx, "./A/L?prop=VerNo").unwrap(), "1");
    assert_eq!(prop(&tx, "./A/L?prop=CaseSense").unwrap(), "CS");
    assert_eq!(code(prop(&tx, "./A?prop=Size")), 406);
    // read-only properties: 405; Add/Delete/Exec with a property: 405
    for p in ["Format", "Size", "TStamp", "Type", "VerNo", "CaseSense"] {
        assert_eq!(code(tx.replace(&s, &t(&format!("./A/L?prop={p}")), Content::chr("1"))), 405, "{p}");
    }
    assert_eq!(code(tx.add(&s, &t("./A/X?prop=Title"), Content::chr("t"))), 405);
    assert_eq!(code(tx.delete(&s, &t("./A/L?prop=Title"))), 405);
    assert_eq!(code(tx.exec(&s, &t("./A/L?prop=Title"), b"", None)), 405);
    assert_eq!(code(tx.replace(&s, &t("./A?list=Struct"), Content::chr(""))), 405);
    // Title
    assert_eq!(code(tx.replace(&s, &t("./A/L?prop=Title"), Content::chr("Answer"))), 200);
    assert_eq!(prop(&tx, "./A/L?prop=Title").unwrap(), "Answer");
    assert_eq!(code(tx.replace(&s, &t("./A/L?prop=Title"), Content::chr("x".repeat(256)))), 413);
    // VerNo bumps on value change
    tx.replace(&s, &t("./A/L"), Content::new(Format::Int, "43")).unwrap();
    assert_eq!(prop(&tx, "./A/L?prop=VerNo").unwrap(), "2");
    // Rename through Name: 418 onto an existing name, 400 for an illegal one, 405 on the root
    tx.add(&s, &t("./A/M"), Content::chr("m")).unwrap();
    assert_eq!(code(tx.replace(&s, &t("./A/L?prop=Name"), Content::chr("M"))), 418);
    assert_eq!(code(tx.replace(&s, &t("./A/L?prop=Name"), Content::chr("a/b"))), 400);
    assert_eq!(code(tx.replace(&s, &t(".?prop=Name"), Content::chr("x"))), 405);
    assert_eq!(code(tx.replace(&s, &t("./A/L?prop=Name"), Content::chr("N"))), 200);
    assert_eq!(code(prop(&tx, "./A/L?prop=Name")), 404);
    assert_eq!(value(&tx, &s, "./A/N").unwrap().data, b"43");
    // an interior rename moves the subtree
    tx.add(&dev, &t("./B/C/D"), Content::chr("deep")).unwrap();
    tx.replace(&dev, &t("./B?prop=Name"), Content::chr("B2")).unwrap();
    assert_eq!(value(&tx, &dev, "./B2/C/D").unwrap().data, b"deep");
    assert_eq!(code(value(&tx, &dev, "./B/C/D")), 404);
    // ACL: bad grammar 400; leaf ACL needs Replace on the parent; root ACL can't be emptied
    assert_eq!(code(tx.replace(&s, &t("./A/N?prop=ACL"), Content::chr("Get"))), 400);
    assert_eq!(code(tx.replace(&s, &t("./A/N?prop=ACL"), Content::chr("Get=s"))), 200);
    assert_eq!(code(tx.replace(&dev, &t(".?prop=ACL"), Content::chr(""))), 405);
    tx.replace(&dev, &t("./A?prop=ACL"), Content::chr("Get=s")).unwrap();
    tx.replace(&dev, &t("./A/N?prop=ACL"), Content::chr("Get=s&Replace=s")).unwrap();
    assert_eq!(
        code(tx.replace(&s, &t("./A/N?prop=ACL"), Content::chr("Get=*"))),
        425,
        "leaf ACL needs Replace on the parent"
    );
    tx.commit().unwrap();
}

#[test]
fn inherited_acl_answers_per_version() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let mut tx = tree.begin();
    tx.add(&Caller::device(), &t("./A"), Content::interior(None)).unwrap();
    let v12 = value(&tx, &Caller::server(sid("s"), DmVersion::V1_2), "./A?prop=ACL").unwrap();
    assert_eq!((v12.status, v12.data.as_slice()), (StatusCode::Ok, &b""[..]));
    let v13 = value(&tx, &Caller::server(sid("s"), DmVersion::V1_3), "./A?prop=ACL").unwrap();
    assert_eq!((v13.status, v13.data.as_slice()), (StatusCode::OkWithInheritedAcl, &b"Add=*&Get=*"[..]));
    tx.replace(&Caller::device(), &t("./A?prop=ACL"), Content::chr("Get=s")).unwrap();
    let own = value(&tx, &Caller::server(sid("s"), DmVersion::V1_3), "./A?prop=ACL").unwrap();
    assert_eq!((own.status, own.data.as_slice()), (StatusCode::Ok, &b"Get=s"[..]));
}

#[test]
fn uri_limits_from_devdetail_are_414() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let dev = Caller::device();
    tree.run(|tx| {
        tx.add(&dev, &t("./DevDetail/URI/MaxDepth"), Content::new(Format::Int, "3"))?;
        tx.add(&dev, &t("./DevDetail/URI/MaxTotLen"), Content::new(Format::Int, "20"))?;
        tx.add(&dev, &t("./DevDetail/URI/MaxSegLen"), Content::new(Format::Int, "8"))
    })
    .unwrap();
    assert_eq!(tree.uri_limits(), UriLimits { max_depth: 3, max_tot_len: 20, max_seg_len: 8 });
    let mut tx = tree.begin();
    let s = srv("s");
    assert_eq!(code(tx.add(&s, &t("./a/b/c"), Content::chr("x"))), 200);
    assert_eq!(code(tx.add(&s, &t("./a/b/c/d"), Content::chr("x"))), 414);
    assert_eq!(code(tx.add(&s, &t("./abcdefghi"), Content::chr("x"))), 414);
    assert_eq!(code(tx.add(&s, &t("./abcdefgh/abcdefgh/abcd"), Content::chr("x"))), 414);
    assert_eq!(code(value(&tx, &s, "./a/b/c/d")), 414);
    // a rename that would lengthen a URI below the node past MaxTotLen (20; "./" not counted)
    // is 414 and moves nothing
    assert_eq!(code(tx.add(&s, &t("./a/bbbbbbbb/cccccccc"), Content::chr("x"))), 200); // 19 long
    assert_eq!(code(tx.replace(&s, &t("./a?prop=Name"), Content::chr("aaa"))), 414); // would be 21
    assert_eq!(value(&tx, &s, "./a/bbbbbbbb/cccccccc").unwrap().data, b"x");
    assert_eq!(code(tx.replace(&s, &t("./a?prop=Name"), Content::chr("aa"))), 200); // 20
    assert_eq!(value(&tx, &s, "./aa/bbbbbbbb/cccccccc").unwrap().data, b"x");
    assert_eq!(code(tx.replace(&s, &t("./aa?prop=Name"), Content::chr("a"))), 200);
    assert_eq!(code(parse_target_code("./a/../b")), 400);
    assert_eq!(code(parse_target_code("./a/b/c/d/e")), 414);
    assert_eq!(code(parse_target_code("./a%2")), 400);
    assert_eq!(code(parse_target_code("./a/b?list=Nope")), 406);

    fn parse_target_code(s: &str) -> TreeResult<TargetUri> {
        omadm_tree::uri::parse_target(s, &UriLimits { max_depth: 4, max_tot_len: 0, max_seg_len: 0 })
    }
}

#[test]
fn add_rules() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let s = srv("s");
    let mut tx = tree.begin();
    // implicit parents; the topmost created node gets the creator's ACL (no Replace on root)
    assert_eq!(code(tx.add(&s, &t("./P/Q/R"), Content::chr("r"))), 200);
    let p = tx.node(&u("./P")).unwrap().unwrap();
    assert_eq!(p.acl.to_string(), "Add=s&Delete=s&Get=s&Replace=s");
    assert!(tx.node(&u("./P/Q")).unwrap().unwrap().acl.is_empty());
    assert!(tx.node(&u("./P/Q/R")).unwrap().unwrap().acl.is_empty());
    // the creator can manage its subtree; another server can't see it
    assert_eq!(code(value(&tx, &s, "./P/Q/R")), 200);
    assert_eq!(code(value(&tx, &srv("t"), "./P/Q/R")), 425);
    assert_eq!(code(tx.add(&s, &t("./P/Q/R"), Content::chr("r"))), 418);
    assert_eq!(code(tx.add(&s, &t("./P/Q/R/S"), Content::chr("r"))), 405, "child under a leaf");
    assert_eq!(code(tx.add(&s, &t("."), Content::interior(None))), 418);
    assert_eq!(code(tx.add(&s, &t("./P/I"), Content::new(Format::Int, "x"))), 400);
    assert_eq!(code(tx.add(&s, &t("./P/I"), Content::new(Format::Other("colour".into()), "x"))), 415);
    // Get on an interior node lists the children
    tx.add(&s, &t("./P/Q/A"), Content::chr("a")).unwrap();
    let v = value(&tx, &s, "./P/Q").unwrap();
    assert_eq!((v.format, v.data), (Format::Node, b"A/R".to_vec()));
    let empty = value(&tx, &s, "./P/Q/A").unwrap();
    assert_eq!(empty.data, b"a");
    // Delete of the root and of permanent things: 405
    assert_eq!(code(tx.delete(&s, &t("."))), 405);
    drop(tx);
    let mut strict =
        Tree::open(MemStore::new(), TreeConfig { implicit_parents: false, ..TreeConfig::default() }).unwrap();
    let mut tx = strict.begin();
    assert_eq!(code(tx.add(&s, &t("./P/Q"), Content::chr("r"))), 404);
}

#[test]
fn atomic_rollback_restores_everything() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let dev = Caller::device();
    tree.run(|tx| {
        tx.add(&dev, &t("./A/B/C"), Content::chr("c"))?;
        tx.add(&dev, &t("./A/B/D"), Content::chr("d"))?;
        tx.add(&dev, &t("./K"), Content::new(Format::Int, "1"))?;
        tx.replace(&dev, &t("./A?prop=ACL"), Content::chr("Get=s&Replace=s&Delete=s&Add=s"))?;
        tx.replace(&dev, &t("./K?prop=Title"), Content::chr("kay"))?;
        Ok(())
    })
    .unwrap();
    let snapshot = |tree: &mut Tree<MemStore>| -> Vec<(String, NodeRecord)> {
        let tx = tree.begin();
        let GetResult::List(items) = tx.get(&dev, &t(".?list=StructData+ACL+Title+VerNo+TStamp")).unwrap() else {
            panic!()
        };
        items.map(|i| i.map(|n| (n.uri.to_string(), n.record))).collect::<TreeResult<Vec<_>>>().unwrap()
    };
    let before = snapshot(&mut tree);
    let s = srv("s");
    {
        let mut tx = tree.begin();
        // every kind of change, then a failing command: the Atomic fails and rolls back
        tx.delete(&s, &t("./A/B")).unwrap();
        tx.add(&s, &t("./A/B"), Content::chr("now a leaf")).unwrap();
        tx.add(&s, &t("./A/New/Deep"), Content::chr("x")).unwrap();
        tx.replace(&s, &t("./A?prop=ACL"), Content::chr("Get=*")).unwrap();
        tx.replace(&dev, &t("./K"), Content::new(Format::Int, "2")).unwrap();
        tx.replace(&dev, &t("./K?prop=Title"), Content::chr("changed")).unwrap();
        tx.replace(&dev, &t("./K?prop=Name"), Content::chr("K2")).unwrap();
        assert_eq!(code(tx.add(&dev, &t("./A/B"), Content::chr("again"))), 418);
        tx.rollback();
    }
    assert_eq!(snapshot(&mut tree), before);
    // a failing command inside a transaction leaves no trace of itself
    let mut tx = tree.begin();
    tx.add(&s, &t("./A/X"), Content::chr("x")).unwrap();
    let tnds = omadm_proto::xml::parse_element(
        b"<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>T</NodeName><Node><NodeName>Ok</NodeName><Value>1</Value></Node>\
          <Node><NodeName>Bad</NodeName><RTProperties><Format><int/></Format><Type><MIME>text/plain</MIME></Type></RTProperties><Value>nope</Value></Node></Node></MgmtTree>",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(code(tx.add_tnds(&s, &u("./A"), &tnds)), 400);
    assert_eq!(code(value(&tx, &dev, "./A/T")), 404);
    assert_eq!(code(value(&tx, &dev, "./A/X")), 200);
    tx.commit().unwrap();
}

#[test]
fn remove_server_everywhere() {
    let mut tree = Tree::open(
        MemStore::new(),
        TreeConfig { root_acl: Acl::parse("Add=a&Get=*&Replace=a").unwrap(), ..TreeConfig::default() },
    )
    .unwrap();
    let dev = Caller::device();
    let mut tx = tree.begin();
    tx.add(&dev, &t("./X"), Content::chr("x")).unwrap();
    tx.replace(&dev, &t("./X?prop=ACL"), Content::chr("Get=a+b&Delete=a")).unwrap();
    assert_eq!(tx.remove_server(&sid("a")).unwrap(), 2);
    assert_eq!(tx.node(&Uri::root()).unwrap().unwrap().acl.to_string(), "Add=*&Get=*&Replace=*");
    assert_eq!(tx.node(&u("./X")).unwrap().unwrap().acl.to_string(), "Get=b");
}

#[test]
fn struct_lists_stream_and_respect_acls() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let dev = Caller::device();
    tree.run(|tx| {
        for i in 0..600 {
            tx.add(&dev, &t(&format!("./L/n{i:03}")), Content::chr(format!("{i}")))?;
        }
        tx.add(&dev, &t("./Secret/x"), Content::chr("s"))?;
        tx.replace(&dev, &t("./Secret?prop=ACL"), Content::chr("Get=boss"))?;
        tx.add(&dev, &t("./Secret/Open"), Content::chr("o"))?;
        tx.replace(&dev, &t("./Secret/Open?prop=ACL"), Content::chr("Get=*"))?;
        Ok(())
    })
    .unwrap();
    let tx = tree.begin();
    let GetResult::List(items) = tx.get(&srv("s"), &t(".?list=Struct")).unwrap() else { panic!() };
    let uris: Vec<String> = items.map(|i| i.unwrap().uri.to_string()).collect();
    assert_eq!(uris.len(), 1 + 1 + 600 + 1);
    assert_eq!(uris[..3], [".", "./L", "./L/n000"]);
    assert_eq!(uris.last().unwrap(), "./Secret/Open");
    let GetResult::List(items) = tx.get(&srv("s"), &t("./L?list=StructData")).unwrap() else { panic!() };
    let last = items.last().unwrap().unwrap();
    assert_eq!((last.uri.to_string(), last.record.value), ("./L/n599".into(), b"599".to_vec()));
    let GetResult::List(items) = tx.get(&srv("s"), &t("./L?list=Struct")).unwrap() else { panic!() };
    assert!(items.map(Result::unwrap).all(|n| n.record.value.is_empty()));
}

#[test]
fn inbox_places_mos_and_refuses_get() {
    let cfg =
        TreeConfig { mo_homes: vec![("urn:oma:mo:oma-dm-dmacc:1.0".into(), u("./DMAcc"))], ..TreeConfig::default() };
    let mut tree = Tree::open(MemStore::new(), cfg).unwrap();
    let dev = Caller::device();
    let mut tx = tree.begin();
    tx.add(&dev, &t("./Inbox"), Content::interior(Some("urn:oma:mo:oma-dm-inbox:1.0"))).unwrap();
    tx.add(&dev, &t("./DMAcc"), Content::interior(None)).unwrap();
    assert_eq!(code(tx.add(&dev, &t("./Inbox/acc1"), Content::interior(Some("urn:oma:mo:oma-dm-dmacc:1.0")))), 200);
    assert!(tx.node(&u("./DMAcc/acc1")).unwrap().is_some());
    assert_eq!(code(tx.add(&dev, &t("./Inbox/x"), Content::interior(Some("urn:unknown")))), 415);
    assert_eq!(code(value(&tx, &dev, "./Inbox")), 405);
    assert_eq!(code(value(&tx, &dev, "./Inbox?prop=ACL")), 405);
}

#[test]
fn mo_id_uris_for_dm13_callers() {
    let mut tree = Tree::open(MemStore::new(), TreeConfig::default()).unwrap();
    let dev = Caller::device();
    let mut tx = tree.begin();
    tx.add(&dev, &t("./DevInfo"), Content::interior(Some("urn:oma:mo:oma-dm-devinfo:1.0"))).unwrap();
    tx.add(&dev, &t("./DevInfo/DevId"), Content::chr("IMEI:1")).unwrap();
    let v13 = Caller::server(sid("s"), DmVersion::V1_3);
    assert_eq!(value(&tx, &v13, "urn:oma:mo:oma-dm-devinfo:1.0/DevId").unwrap().data, b"IMEI:1");
    assert_eq!(code(value(&tx, &srv("s"), "urn:oma:mo:oma-dm-devinfo:1.0/DevId")), 404);
    assert_eq!(code(value(&tx, &v13, "urn:oma:mo:nothing:1.0/DevId")), 404);
}
