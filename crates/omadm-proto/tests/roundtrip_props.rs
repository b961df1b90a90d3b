//! Property tests: arbitrary messages round-trip through XML and through WBXML unchanged, and
//! arbitrary bytes never make a decoder panic.

mod common;

use common::as_xml_carries;
use omadm_proto::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Text as fields carry it: no control characters but tab, CR, LF; any Unicode otherwise.
fn text() -> impl Strategy<Value = String> {
    "[ \\t\\r\\na-zA-Z0-9<>&'\"=;:/.?%+é✓-]{0,24}"
}

/// Identifier-like text (decoders trim these): no surrounding whitespace.
fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9<>&'\"=;:/.?%+é✓-]{0,16}"
}

fn nonempty_ident() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9<>&.:/_-]{1,16}"
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::B64),
        Just(Format::Bin),
        Just(Format::Chr),
        Just(Format::Int),
        Just(Format::Node),
        Just(Format::Xml),
        Just(Format::Float),
        "x-[a-z]{1,8}".prop_map(Format::Other),
    ]
}

fn meta() -> BoxedStrategy<Meta> {
    (
        option::of(format()),
        option::of(ident()),
        option::of(ident()),
        option::of(any::<u64>()),
        option::of((option::of(ident()), option::of(ident())).prop_map(|(last, next)| Anchor { last, next })),
        option::of(ident()),
        option::of(ident()),
        (option::of(any::<u64>()), option::of(any::<u64>()), vec(ident(), 0..2)),
        option::of((any::<bool>(), option::of(any::<u64>()), option::of(any::<u64>())).prop_map(|(s, f, i)| Mem {
            shared_mem: s,
            free_mem: f,
            free_id: i,
        })),
        any::<bool>(),
    )
        .prop_map(|(format, media_type, mark, size, anchor, version, next_nonce, (mms, mos, emi), mem, field_level)| {
            Meta {
                format,
                media_type,
                mark,
                size,
                anchor,
                version,
                next_nonce,
                max_msg_size: mms,
                max_obj_size: mos,
                emi,
                mem,
                field_level,
            }
        })
        .boxed()
}

fn location() -> BoxedStrategy<Location> {
    (ident(), option::of(ident())).prop_map(|(loc_uri, loc_name)| Location { loc_uri, loc_name }).boxed()
}

/// A small TNDS-like document: interior elements hold only elements, leaves one non-blank text.
fn document() -> BoxedStrategy<Element> {
    let leaf = (prop_oneof![Just("NodeName"), Just("Value"), Just("ACL"), Just("Title")], nonempty_ident())
        .prop_map(|(name, t)| Element::new(name).with_text(t));
    let tree = leaf.prop_recursive(3, 12, 4, |inner| {
        (prop_oneof![Just("Node"), Just("RTProperties"), Just("Format")], vec(inner, 0..4)).prop_map(|(name, kids)| {
            let mut e = Element::new(name);
            e.children = kids.into_iter().map(Node::Element).collect();
            e
        })
    });
    vec(tree, 0..3)
        .prop_map(|kids| {
            let mut root = Element::new("MgmtTree");
            root.namespace = Some(element::DDF_NAMESPACE.into());
            root.children = kids.into_iter().map(Node::Element).collect();
            root
        })
        .boxed()
}

fn data() -> BoxedStrategy<Data> {
    prop_oneof![
        4 => text().prop_map(Data::Text),
        1 => vec(any::<u8>(), 0..32).prop_map(Data::Binary),
        1 => document().prop_map(Data::Document),
    ]
    .boxed()
}

fn item() -> BoxedStrategy<Item> {
    (
        option::of(location()),
        option::of(location()),
        option::of(ident()),
        option::of(ident()),
        option::of(meta()),
        option::of(data()),
        any::<bool>(),
    )
        .prop_map(|(target, source, source_parent, target_parent, mut meta, data, more_data)| {
            if matches!(data, Some(Data::Document(_))) {
                // A document's Type is what says so on the wire.
                let m = meta.get_or_insert_with(Meta::default);
                m.media_type = Some("application/vnd.syncml.dmtnds+xml".into());
            }
            Item { target, source, source_parent, target_parent, meta, data, more_data }
        })
        .boxed()
}

fn cred() -> BoxedStrategy<Cred> {
    (option::of(meta()), ident()).prop_map(|(meta, data)| Cred { meta, data }).boxed()
}

fn item_command() -> BoxedStrategy<ItemCommand> {
    (ident(), any::<bool>(), option::of(cred()), option::of(meta()), vec(item(), 0..3))
        .prop_map(|(cmd_id, no_resp, cred, mut meta, items)| {
            if let Some(m) = meta.as_mut() {
                // Keep command-level Types away from the document rewriting rule.
                m.media_type = None;
            }
            ItemCommand { cmd_id, no_resp, cred, meta, items }
        })
        .boxed()
}

fn command() -> BoxedStrategy<Command> {
    let leaf = prop_oneof![
        item_command().prop_map(Command::Add),
        item_command().prop_map(Command::Get),
        item_command().prop_map(Command::Replace),
        item_command().prop_map(Command::Delete),
        item_command().prop_map(Command::Copy),
        (ident(), any::<bool>(), option::of(cred()), option::of(any::<u16>()), option::of(ident()), vec(item(), 0..3))
            .prop_map(|(cmd_id, no_resp, cred, code, correlator, items)| Command::Alert(Alert {
                cmd_id,
                no_resp,
                cred,
                code: code.map(AlertCode::from_code),
                correlator,
                items
            })),
        (
            ident(),
            option::of(ident()),
            ident(),
            option::of(meta()),
            option::of(ident()),
            option::of(ident()),
            vec(item(), 0..3)
        )
            .prop_map(|(cmd_id, msg_ref, cmd_ref, mut meta, target_ref, source_ref, items)| {
                if let Some(m) = meta.as_mut() {
                    m.media_type = None;
                }
                Command::Results(Results { cmd_id, msg_ref, cmd_ref, meta, target_ref, source_ref, items })
            }),
        (
            (
                ident(),
                option::of(ident()),
                ident(),
                prop_oneof![Just("SyncHdr".to_string()), Just("Get".to_string()), "X[a-z]{1,5}"]
            ),
            (vec(ident(), 0..2), vec(ident(), 0..2), option::of(cred()), option::of(meta())),
            (any::<u16>(), vec(item(), 0..2)),
        )
            .prop_map(
                |((cmd_id, msg_ref, cmd_ref, cmd), (target_refs, source_refs, cred, chal), (code, items))| {
                    Command::Status(Status {
                        cmd_id,
                        msg_ref,
                        cmd_ref,
                        cmd: CommandName::parse(&cmd),
                        target_refs,
                        source_refs,
                        cred,
                        chal: chal.map(|meta| Chal { meta }),
                        code: StatusCode::from_code(code),
                        items,
                    })
                }
            ),
        (ident(), any::<bool>(), option::of(ident()), vec(item(), 0..2)).prop_map(
            |(cmd_id, no_resp, correlator, items)| {
                Command::Exec(Exec { cmd_id, no_resp, cred: None, meta: None, correlator, items })
            }
        ),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        (ident(), any::<bool>(), option::of(meta()), vec(inner, 0..4), any::<bool>()).prop_map(
            |(cmd_id, no_resp, meta, commands, atomic)| {
                let c = Container { cmd_id, no_resp, meta, commands };
                if atomic {
                    Command::Atomic(c)
                } else {
                    Command::Sequence(c)
                }
            },
        )
    })
    .boxed()
}

fn message() -> BoxedStrategy<SyncMl> {
    (
        (
            prop_oneof![Just(VerDtd::V1_1), Just(VerDtd::V1_2)],
            prop_oneof![Just(VerProto::Dm1_2), Just(VerProto::Dm1_3), "DM/9\\.[0-9]".prop_map(|s| VerProto::parse(&s))],
        ),
        (
            ident(),
            ident(),
            location(),
            location(),
            option::of(ident()),
            any::<bool>(),
            option::of(cred()),
            option::of(meta()),
        ),
        (vec(command(), 0..6), any::<bool>()),
    )
        .prop_map(
            |(
                (ver_dtd, ver_proto),
                (session_id, msg_id, target, source, resp_uri, no_resp, cred, meta),
                (commands, is_final),
            )| SyncMl {
                header: SyncHdr {
                    ver_dtd,
                    ver_proto,
                    session_id,
                    msg_id,
                    target,
                    source,
                    resp_uri,
                    no_resp,
                    cred,
                    meta,
                },
                body: SyncBody { commands, is_final },
            },
        )
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn xml_round_trip(msg in message()) {
        let bytes = xml::encode(&msg, &xml::XmlOptions::default());
        let back = xml::decode(&bytes, &Limits::default()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(back, as_xml_carries(&msg));
    }

    #[test]
    fn wbxml_round_trip(msg in message(), string_table in any::<bool>()) {
        let options = wbxml::WbxmlOptions { string_table, ..Default::default() };
        let bytes = wbxml::encode(&msg, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(wbxml::encoded_len(&msg, &options).unwrap(), bytes.len());
        let back = wbxml::decode(&bytes, &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn decoders_never_panic_on_bytes(bytes in vec(any::<u8>(), 0..512)) {
        let _ = wbxml::decode(&bytes, &Limits::default());
        let _ = xml::decode(&bytes, &Limits::default());
        let _ = wbxml::decode_document(&bytes, &Limits::default());
    }

    #[test]
    fn decoders_never_panic_on_mutated_messages(msg in message(), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut w = wbxml::encode(&msg, &Default::default()).unwrap();
        let mut x = xml::encode(&msg, &Default::default());
        for (i, b) in flips {
            let wi = i.index(w.len());
            w[wi] = b;
            let xi = i.index(x.len());
            x[xi] = b;
        }
        let _ = wbxml::decode(&w, &Limits::default());
        let _ = xml::decode(&x, &Limits::default());
    }
}
