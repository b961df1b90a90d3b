//! Shared test corpus: the real messages among the shared vectors, plus generated messages that
//! together use every element and MetInf field the model has. Also used by the benches.
#![allow(dead_code)] // each test binary uses a different part of this module

use base64::Engine as _;
use omadm_proto::*;
use std::path::{Path, PathBuf};

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

pub fn read_vector(rel: &str) -> Vec<u8> {
    let p = vectors_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// All SyncML message files among the vectors, as paths relative to the vectors folder.
pub fn vector_message_files() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["aosp-dm11", "aosp-dm12"] {
        let mut names: Vec<_> = std::fs::read_dir(vectors_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".xml") || n.ends_with(".wbxml"))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| format!("{dir}/{n}")));
    }
    out.push("libwbxml/syncml-012.xml".into());
    out.push("libwbxml/syncml_with_ddf-001.xml".into());
    out
}

/// Calls `f` on every Item of a message's commands, inside Atomic and Sequence too.
pub fn for_each_item_mut(msg: &mut SyncMl, mut f: impl FnMut(&mut Item)) {
    fn commands(cmds: &mut [Command], f: &mut dyn FnMut(&mut Item)) {
        for c in cmds {
            let items = match c {
                Command::Add(i) | Command::Copy(i) | Command::Delete(i) | Command::Get(i) | Command::Replace(i) => {
                    &mut i.items
                }
                Command::Alert(a) => &mut a.items,
                Command::Exec(e) => &mut e.items,
                Command::Results(r) => &mut r.items,
                Command::Status(s) => &mut s.items,
                Command::Atomic(c) | Command::Sequence(c) => {
                    commands(&mut c.commands, f);
                    continue;
                }
                Command::Unsupported(_) => continue,
            };
            items.iter_mut().for_each(&mut *f);
        }
    }
    commands(&mut msg.body.commands, &mut f);
}

/// What XML can carry of a message: binary Data becomes its text, or base64 (see the XML encoder).
pub fn as_xml_carries(msg: &SyncMl) -> SyncMl {
    let mut m = msg.clone();
    for_each_item_mut(&mut m, |it| {
        if let Some(Data::Binary(b)) = &it.data {
            let text = match xml::printable_text(b) {
                Some(t) => t.to_string(),
                None => base64::engine::general_purpose::STANDARD.encode(b),
            };
            it.data = Some(Data::Text(text));
        }
    });
    m
}

pub fn header(session: &str, msg_id: &str, from_client: bool) -> SyncHdr {
    let (target, source) = if from_client {
        ("https://dm.example.com/dm", "IMEI:493005100592800")
    } else {
        ("IMEI:493005100592800", "https://dm.example.com/dm")
    };
    SyncHdr {
        ver_dtd: VerDtd::V1_2,
        ver_proto: VerProto::Dm1_2,
        session_id: session.into(),
        msg_id: msg_id.into(),
        target: Location::new(target),
        source: Location::new(source),
        resp_uri: None,
        no_resp: false,
        cred: None,
        meta: None,
    }
}

pub fn meta_type(format: Format, media_type: &str) -> Meta {
    Meta { format: Some(format), media_type: Some(media_type.into()), ..Meta::default() }
}

pub fn leaf_item(uri: &str, value: &str) -> Item {
    Item { source: Some(Location::new(uri)), data: Some(Data::Text(value.into())), ..Item::default() }
}

pub fn status(cmd_id: u32, msg_ref: &str, cmd_ref: &str, cmd: CommandName, code: StatusCode) -> Command {
    Command::Status(Status::new(cmd_id.to_string(), Some(msg_ref.into()), cmd_ref, cmd, code))
}

/// A TNDS document for an e-mail account subtree.
pub fn tnds_document() -> Element {
    let rt = |format: &str, ty: Option<&str>| {
        let mut rt = Element::new("RTProperties").with_child(Element::new("Format").with_child(Element::new(format)));
        if let Some(ty) = ty {
            rt = rt.with_child(Element::new("Type").with_child(Element::new("DDFName").with_text(ty)));
        }
        rt
    };
    let mut root = Element::new("MgmtTree").with_child(Element::new("VerDTD").with_text("1.2")).with_child(
        Element::new("Node")
            .with_child(Element::new("NodeName").with_text("EMail"))
            .with_child(Element::new("Path").with_text("./Vendor"))
            .with_child(rt("node", Some("com.example/1.0/EMail")))
            .with_child(
                Element::new("Node")
                    .with_child(Element::new("NodeName").with_text("Server"))
                    .with_child(rt("chr", None))
                    .with_child(Element::new("Value").with_text("imap.example.com")),
            ),
    );
    root.namespace = Some(element::DDF_NAMESPACE.into());
    root
}

/// A realistic DM 1.2 Package 1 (client-initiated alert + DevInfo), about 1.6 KB as XML.
pub fn package1() -> SyncMl {
    let mut hdr = header("1A2B", "1", true);
    hdr.source.loc_name = Some("device-user".into());
    hdr.cred =
        Some(Cred { meta: Some(meta_type(Format::B64, "syncml:auth-md5")), data: "Zz6EivR3yeaaENcRN6lpAQ==".into() });
    hdr.meta = Some(Meta { max_msg_size: Some(16384), max_obj_size: Some(1048576), ..Meta::default() });
    let devinfo = [
        ("./DevInfo/DevId", "IMEI:493005100592800"),
        ("./DevInfo/Man", "Example Devices Ltd"),
        ("./DevInfo/Mod", "ExampleModel X200"),
        ("./DevInfo/DmV", "1.2"),
        ("./DevInfo/Lang", "en-US"),
        ("./DevInfo/Ext/FwBuild", "X200-2026.11.3-release"),
        ("./DevInfo/Ext/Carrier", "Example Telecom"),
    ];
    SyncMl {
        header: hdr,
        body: SyncBody {
            commands: vec![
                Command::Alert(Alert {
                    cmd_id: "1".into(),
                    no_resp: false,
                    cred: None,
                    code: Some(AlertCode::ClientInitiatedMgmt),
                    correlator: None,
                    items: vec![],
                }),
                Command::Replace(ItemCommand {
                    cmd_id: "2".into(),
                    meta: Some(meta_type(Format::Chr, "text/plain")),
                    items: devinfo.iter().map(|(u, v)| leaf_item(u, v)).collect(),
                    ..ItemCommand::default()
                }),
                Command::Alert(Alert {
                    cmd_id: "3".into(),
                    no_resp: false,
                    cred: None,
                    code: Some(AlertCode::GenericAlert),
                    correlator: Some("fumo-job-42".into()),
                    items: vec![Item {
                        source: Some(Location::new("./FUMO/Pkg1")),
                        meta: Some(Meta {
                            mark: Some("critical".into()),
                            ..meta_type(Format::Int, "org.openmobilealliance.dm.firmwareupdate.devicerequest")
                        }),
                        data: Some(Data::Text("200".into())),
                        ..Item::default()
                    }],
                }),
            ],
            is_final: true,
        },
    }
}

/// A Results message of about 64 KB: a `?list=StructData`-like answer with many leaves.
pub fn results_64k() -> SyncMl {
    let mut items = Vec::new();
    let mut i = 0;
    let mut size = 0;
    while size < 60_000 {
        let uri = format!("./Vendor/Inventory/App{i}/Version");
        let value = format!("{}.{}.{}-build{}", i % 7, i % 13, i % 31, i * 7919);
        size += uri.len() + value.len() + 150;
        items.push(Item {
            source: Some(Location::new(uri)),
            meta: Some(meta_type(Format::Chr, "text/plain")),
            data: Some(Data::Text(value)),
            ..Item::default()
        });
        i += 1;
    }
    SyncMl {
        header: header("1A2B", "3", true),
        body: SyncBody {
            commands: vec![
                status(1, "2", "0", CommandName::SyncHdr, StatusCode::Ok),
                status(2, "2", "5", CommandName::Get, StatusCode::Ok),
                Command::Results(Results {
                    cmd_id: "3".into(),
                    msg_ref: Some("2".into()),
                    cmd_ref: "5".into(),
                    items,
                    ..Results::default()
                }),
            ],
            is_final: true,
        },
    }
}

/// Generated messages that together use every element and MetInf field of the model.
pub fn generated_messages() -> Vec<(String, SyncMl)> {
    let mut out = vec![("generated/package1".to_string(), package1())];

    // Server package 2: header status with Chal, every command kind, UI alert, Atomic/Sequence.
    let mut hdr = header("1A2B", "1", false);
    hdr.resp_uri = Some("https://dm.example.com/dm?s=1A2B&t=9".into());
    hdr.cred =
        Some(Cred { meta: Some(meta_type(Format::B64, "syncml:auth-basic")), data: "QnJ1Y2UyOk9oQmVoYXZl".into() });
    hdr.meta = Some(Meta {
        max_msg_size: Some(8192),
        max_obj_size: Some(524288),
        emi: vec!["x-vendor-1".into(), "x-vendor-2".into()],
        ..Meta::default()
    });
    let mut hdr_status = match status(1, "1", "0", CommandName::SyncHdr, StatusCode::MissingCredentials) {
        Command::Status(s) => s,
        _ => unreachable!(),
    };
    hdr_status.target_refs = vec!["https://dm.example.com/dm".into()];
    hdr_status.source_refs = vec!["IMEI:493005100592800".into()];
    hdr_status.chal = Some(Chal {
        meta: Meta { next_nonce: Some("MTIzNDU2Nzg5MDEyMzQ1Ng==".into()), ..meta_type(Format::B64, "syncml:auth-md5") },
    });
    let get = ItemCommand {
        cmd_id: "3".into(),
        no_resp: true,
        items: vec![
            Item { target: Some(Location::new("./DevDetail/URI/MaxDepth")), ..Item::default() },
            Item { target: Some(Location::new("./DevInfo?list=Struct")), ..Item::default() },
        ],
        ..ItemCommand::default()
    };
    let replace = ItemCommand {
        cmd_id: "4".into(),
        items: vec![Item {
            target: Some(Location { loc_uri: "./Vendor/Settings/Greeting".into(), loc_name: Some("greeting".into()) }),
            meta: Some(meta_type(Format::Chr, "text/plain")),
            data: Some(Data::Text("Hello <world> & \"friends\" 'é' ✓".into())),
            ..Item::default()
        }],
        ..ItemCommand::default()
    };
    let add_tnds = ItemCommand {
        cmd_id: "5".into(),
        items: vec![Item {
            target: Some(Location::new("./Vendor")),
            meta: Some(meta_type(Format::Xml, "application/vnd.syncml.dmtnds+xml")),
            data: Some(Data::Document(tnds_document())),
            ..Item::default()
        }],
        ..ItemCommand::default()
    };
    let copy = ItemCommand {
        cmd_id: "6".into(),
        items: vec![Item {
            target: Some(Location::new("./Vendor/Backup/Greeting")),
            source: Some(Location::new("./Vendor/Settings/Greeting")),
            source_parent: Some("./Vendor/Settings".into()),
            target_parent: Some("./Vendor/Backup".into()),
            ..Item::default()
        }],
        ..ItemCommand::default()
    };
    let delete = ItemCommand {
        cmd_id: "7".into(),
        items: vec![Item { target: Some(Location::new("./Vendor/Obsolete")), ..Item::default() }],
        ..ItemCommand::default()
    };
    let exec = Exec {
        cmd_id: "8".into(),
        no_resp: false,
        cred: None,
        meta: Some(meta_type(Format::Chr, "text/plain")),
        correlator: Some("abc-123".into()),
        items: vec![Item {
            target: Some(Location::new("./FUMO/Pkg1/Update")),
            data: Some(Data::Text("now".into())),
            ..Item::default()
        }],
    };
    let confirm = Alert {
        cmd_id: "9".into(),
        no_resp: false,
        cred: None,
        code: Some(AlertCode::Confirm),
        correlator: None,
        items: vec![
            Item { data: Some(Data::Text("MINDT=10&MAXDT=30&DR=1".into())), ..Item::default() },
            Item { data: Some(Data::Text("Install the update now?".into())), ..Item::default() },
        ],
    };
    let atomic = Container {
        cmd_id: "10".into(),
        no_resp: false,
        meta: Some(Meta::with_format(Format::Chr)),
        commands: vec![
            Command::Add(ItemCommand {
                cmd_id: "11".into(),
                meta: Some(Meta::with_format(Format::Node)),
                items: vec![Item { target: Some(Location::new("./Vendor/New")), ..Item::default() }],
                ..ItemCommand::default()
            }),
            Command::Sequence(Container {
                cmd_id: "12".into(),
                no_resp: true,
                meta: None,
                commands: vec![Command::Replace(ItemCommand {
                    cmd_id: "13".into(),
                    items: vec![Item {
                        target: Some(Location::new("./Vendor/New/Count")),
                        meta: Some(Meta::with_format(Format::Int)),
                        data: Some(Data::Text("42".into())),
                        ..Item::default()
                    }],
                    ..ItemCommand::default()
                })],
            }),
        ],
    };
    out.push((
        "generated/package2".into(),
        SyncMl {
            header: hdr,
            body: SyncBody {
                commands: vec![
                    Command::Status(hdr_status),
                    status(2, "1", "1", CommandName::Alert, StatusCode::Ok),
                    Command::Get(get),
                    Command::Replace(replace),
                    Command::Add(add_tnds),
                    Command::Copy(copy),
                    Command::Delete(delete),
                    Command::Exec(exec),
                    Command::Alert(confirm),
                    Command::Atomic(atomic),
                ],
                is_final: true,
            },
        },
    ));

    // Client package 3: statuses with items, results with every optional part, a large-object chunk.
    let mut text_status = match status(3, "2", "9", CommandName::Alert, StatusCode::Ok) {
        Command::Status(s) => s,
        _ => unreachable!(),
    };
    text_status.items = vec![Item { data: Some(Data::Text("typed answer".into())), ..Item::default() }];
    text_status.cred = Some(Cred { meta: None, data: "c2VydmVyLXNpZGU=".into() });
    let results = Results {
        cmd_id: "4".into(),
        msg_ref: Some("2".into()),
        cmd_ref: "3".into(),
        meta: Some(meta_type(Format::Chr, "text/plain")),
        target_ref: Some("./DevDetail/URI/MaxDepth".into()),
        source_ref: Some("./DevDetail/URI/MaxDepth".into()),
        items: vec![
            leaf_item("./DevDetail/URI/MaxDepth", "16"),
            Item {
                source: Some(Location::new("./DevDetail/Ext/Blob")),
                meta: Some(Meta { size: Some(12), ..meta_type(Format::Bin, "application/octet-stream") }),
                data: Some(Data::Binary(b"binary-chunk".to_vec())),
                more_data: true,
                ..Item::default()
            },
        ],
    };
    let mut hdr3 = header("1A2B", "2", true);
    hdr3.no_resp = true;
    out.push((
        "generated/package3".into(),
        SyncMl {
            header: hdr3,
            body: SyncBody {
                commands: vec![
                    status(1, "2", "0", CommandName::SyncHdr, StatusCode::AuthenticationAccepted),
                    Command::Status(text_status),
                    status(5, "2", "7", CommandName::Delete, StatusCode::NotFound),
                    status(6, "2", "10", CommandName::Atomic, StatusCode::AtomicRollbackOk),
                    status(7, "2", "8", CommandName::Exec, StatusCode::AcceptedForProcessing),
                    Command::Results(results),
                ],
                is_final: false,
            },
        },
    ));

    // Every remaining MetInf field: Anchor, Version, Mem, FieldLevel; the 1222 / 1223 alerts.
    let full_meta = Meta {
        format: Some(Format::Other("x-custom".into())),
        media_type: Some("application/x-example".into()),
        mark: Some("informational".into()),
        size: Some(1234),
        anchor: Some(Anchor { last: Some("20261101T000000Z".into()), next: Some("20261125T000000Z".into()) }),
        version: Some("2.1".into()),
        next_nonce: Some("AAAAAA==".into()),
        max_msg_size: Some(5000),
        max_obj_size: Some(100000),
        emi: vec!["one".into()],
        mem: Some(Mem { shared_mem: true, free_mem: Some(65536), free_id: Some(12) }),
        field_level: true,
    };
    out.push((
        "generated/all-metinf".into(),
        SyncMl {
            header: SyncHdr { ver_proto: VerProto::Dm1_3, ..header("FFFF", "4", true) },
            body: SyncBody {
                commands: vec![
                    Command::Alert(Alert {
                        cmd_id: "1".into(),
                        no_resp: false,
                        cred: None,
                        code: Some(AlertCode::NextMessage),
                        correlator: None,
                        items: vec![Item {
                            source: Some(Location::new("./x")),
                            meta: Some(full_meta),
                            data: Some(Data::Text("".into())),
                            ..Item::default()
                        }],
                    }),
                    Command::Alert(Alert {
                        cmd_id: "2".into(),
                        no_resp: true,
                        cred: None,
                        code: Some(AlertCode::SessionAbort),
                        correlator: None,
                        items: vec![],
                    }),
                ],
                is_final: true,
            },
        },
    ));

    // UI alerts 1100–1104 as a server sends them.
    for (n, (code, options, choices)) in [
        (AlertCode::Display, "MAXDT=5", vec![]),
        (AlertCode::TextInput, "MAXDT=60&DR=hello&MAXLEN=20&IT=A&ET=T", vec![]),
        (AlertCode::SingleChoice, "DR=2", vec!["Red", "Green", "Blue"]),
        (AlertCode::MultipleChoice, "DR=1-3", vec!["Mail", "Calendar", "Contacts"]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut items = vec![
            Item { data: Some(Data::Text(options.into())), ..Item::default() },
            Item { data: Some(Data::Text(format!("Question {n}"))), ..Item::default() },
        ];
        items.extend(choices.into_iter().map(|c| Item { data: Some(Data::Text(c.into())), ..Item::default() }));
        out.push((
            format!("generated/ui-{}", code.code()),
            SyncMl {
                header: header("2C", "2", false),
                body: SyncBody {
                    commands: vec![
                        status(1, "1", "0", CommandName::SyncHdr, StatusCode::Ok),
                        Command::Alert(Alert {
                            cmd_id: "2".into(),
                            no_resp: false,
                            cred: None,
                            code: Some(code),
                            correlator: None,
                            items,
                        }),
                    ],
                    is_final: true,
                },
            },
        ));
    }

    out.push(("generated/results-64k".into(), results_64k()));
    out
}
