//! Package #0 starts the session it asks for (once per session id, ui-mode respected), and
//! bootstrap from a plain-profile TNDS message and from a WAP-profile w7 document installs an
//! account with the right ACLs that a session can then use.

mod common;

use common::decode;
use common::*;
use omadm_client::bootstrap::{install_plain, install_wap};
use omadm_client::ui::NoUi;
use omadm_client::{Account, NotificationHandler, ScriptedUi, Session, SessionConfig, Trigger};
use omadm_proto::*;
use omadm_security::notification::GeneralNotification;
use omadm_security::provisioning::{AppAddr, AppAuth, W7Account};
use omadm_security::{
    AuthScheme, Dm13Profile, Initiator, Nonce, Notification, NotificationKey, NotificationLayout, SessionId, UiMode,
};
use omadm_tree::Uri;

fn package0(secret: &str, session: u16, ui: UiMode) -> Vec<u8> {
    let n = Notification::Dm12(GeneralNotification::new("omadm", SessionId(session), ui, Initiator::Server));
    n.build(&NotificationKey::md5("omadm", secret, Nonce::from_bytes(Vec::new()))).unwrap()
}

#[test]
fn a_verified_package0_starts_one_session_with_alert_1200_and_its_session_id() {
    let mut tree = device();
    let mut acc = account(AuthScheme::Md5, Some(AuthScheme::Md5));
    acc.install(&mut tree, "omadm").unwrap();
    let mut handler = NotificationHandler::new(Dm13Profile::default());
    let bytes = package0("server-secret", 0x1A2B, UiMode::Background);
    let accepted = handler.accept(&mut tree, &bytes, NotificationLayout::Either, &mut NoUi).unwrap();
    assert_eq!(
        accepted.trigger,
        Trigger::ServerInitiated { session_id: SessionId(0x1A2B), ui_mode: UiMode::Background }
    );
    let mut cfg = SessionConfig::new(DEV_ID, accepted.account);
    cfg.trigger = accepted.trigger;
    let (_, out) = Session::start(cfg, &mut tree).unwrap();
    let m = decode(&out);
    assert_eq!(m.header.session_id, "1A2B");
    assert!(matches!(&m.body.commands[0], Command::Alert(a) if a.code == Some(AlertCode::ServerInitiatedMgmt)));
    // The same notification again starts nothing.
    assert!(handler.accept(&mut tree, &bytes, NotificationLayout::Either, &mut NoUi).is_err());
    // A wrong digest is refused.
    let forged = package0("not-the-secret", 0x0042, UiMode::Background);
    assert!(handler.accept(&mut tree, &forged, NotificationLayout::Either, &mut NoUi).is_err());
    // An unknown server is refused.
    let other =
        Notification::Dm12(GeneralNotification::new("nobody", SessionId(9), UiMode::Background, Initiator::Server))
            .build(&NotificationKey::md5("nobody", "x", Nonce::from_bytes(Vec::new())))
            .unwrap();
    assert!(handler.accept(&mut tree, &other, NotificationLayout::Either, &mut NoUi).is_err());
}

#[test]
fn ui_mode_user_interaction_asks_first_and_a_no_starts_nothing() {
    let mut tree = device();
    let mut acc = account(AuthScheme::Md5, Some(AuthScheme::Md5));
    acc.install(&mut tree, "omadm").unwrap();
    let mut handler = NotificationHandler::default();
    let mut ui = ScriptedUi::new(["no", "yes"]);
    let declined = package0("server-secret", 1, UiMode::UserInteraction);
    assert!(handler.accept(&mut tree, &declined, NotificationLayout::Either, &mut ui).is_err());
    let allowed = package0("server-secret", 2, UiMode::UserInteraction);
    assert!(handler.accept(&mut tree, &allowed, NotificationLayout::Either, &mut ui).is_ok());
    assert_eq!(ui.seen.len(), 2);
}

fn acl_of(tree: &mut omadm_tree::Tree<omadm_tree::MemStore>, uri: &str) -> String {
    tree.begin().node(&Uri::parse(uri).unwrap()).unwrap().unwrap().acl.to_string()
}

#[test]
fn a_wap_profile_document_installs_a_w7_account_xml_and_wbxml() {
    let w7 = W7Account {
        server_id: "dm.example".into(),
        name: Some("Example DM".into()),
        addresses: vec![AppAddr { addr: "https://dm.example/dm".into(), addr_type: Some("URI".into()), ports: vec![] }],
        auths: vec![
            AppAuth {
                level: Some("APPSRV".into()),
                auth_type: Some("DIGEST".into()),
                name: Some("dev1".into()),
                secret: Some("csecret".into()),
                data: Some(Nonce::from_bytes(b"n1".to_vec()).to_next_nonce()),
            },
            AppAuth {
                level: Some("CLIENT".into()),
                auth_type: Some("DIGEST".into()),
                name: Some("dm.example".into()),
                secret: Some("ssecret".into()),
                data: None,
            },
        ],
        init: true,
        ..W7Account::default()
    };
    let doc = w7.to_document();
    for bytes in [doc.to_xml().into_bytes(), doc.to_wbxml()] {
        let mut tree = device();
        let accounts = install_wap(&mut tree, &bytes).unwrap();
        assert_eq!(accounts.len(), 1);
        let acc = Account::load(&mut tree, "dm.example").unwrap();
        assert_eq!(acc.server_uri, "https://dm.example/dm");
        assert_eq!(acc.client.scheme, AuthScheme::Md5);
        assert_eq!(acc.client.credentials.name, "dev1");
        assert_eq!(acc.client.nonce, Nonce::from_bytes(b"n1".to_vec()));
        assert_eq!(acc.server.as_ref().unwrap().credentials.name, "dm.example");
        let node = acc.node.clone().unwrap().to_string();
        assert_eq!(acl_of(&mut tree, &node), "Delete=dm.example&Get=dm.example&Replace=dm.example");
        // ... and a session can start with it.
        let (_, out) = Session::start(SessionConfig::new(DEV_ID, acc), &mut tree).unwrap();
        assert_eq!(out.url, "https://dm.example/dm");
    }
    assert!(install_wap(&mut device(), b"<wap-provisioningdoc/>").is_err());
    assert!(install_wap(&mut device(), b"\x00garbage").is_err());
}

fn tnds_node(name: &str, mo: Option<&str>, value: Option<&str>, acl: Option<&str>, children: &str) -> String {
    let acl = acl.map(|a| format!("<ACL>{a}</ACL>")).unwrap_or_default();
    let rt = match (mo, value) {
        (Some(mo), _) => {
            format!("<RTProperties>{acl}<Format><node/></Format><Type><DDFName>{mo}</DDFName></Type></RTProperties>")
        }
        (None, Some(_)) => {
            format!("<RTProperties>{acl}<Format><chr/></Format><Type><MIME>text/plain</MIME></Type></RTProperties>")
        }
        (None, None) => {
            format!("<RTProperties>{acl}<Format><node/></Format><Type><DDFName></DDFName></Type></RTProperties>")
        }
    };
    let value = value.map(|v| format!("<Value>{v}</Value>")).unwrap_or_default();
    format!("<Node><NodeName>{name}</NodeName>{rt}{value}{children}</Node>")
}

fn plain_profile(acl: Option<&str>) -> String {
    let leaf = |n: &str, v: &str| tnds_node(n, None, Some(v), None, "");
    let auth = |n: &str, level: &str, name: &str, secret: &str| {
        tnds_node(
            n,
            None,
            None,
            None,
            &format!(
                "{}{}{}{}",
                leaf("AAuthLevel", level),
                leaf("AAuthType", "DIGEST"),
                leaf("AAuthName", name),
                leaf("AAuthSecret", secret)
            ),
        )
    };
    let acc = tnds_node(
        "acc1",
        Some("urn:oma:mo:oma-dm-dmacc:1.0"),
        None,
        acl,
        &format!(
            "{}{}{}{}{}",
            leaf("AppID", "w7"),
            leaf("ServerID", "boot.example"),
            tnds_node(
                "AppAddr",
                None,
                None,
                None,
                &tnds_node("1", None, None, None, &leaf("Addr", "http://boot.example/dm"))
            ),
            leaf("AAuthPref", "DIGEST"),
            tnds_node(
                "AppAuth",
                None,
                None,
                None,
                &format!("{}{}", auth("1", "CLCRED", "dev1", "c"), auth("2", "SRVCRED", "boot.example", "s"))
            ),
        ),
    );
    format!("<MgmtTree xmlns=\"syncml:dmddf1.2\"><VerDTD>1.2</VerDTD>{acc}</MgmtTree>")
}

#[test]
fn a_plain_profile_bootstrap_installs_the_account_with_its_acls() {
    // A DM message (WBXML, as the plain profile sends it) with the TNDS in an Add to ./Inbox.
    let doc = omadm_proto::xml::parse_element(
        plain_profile(Some("Get=boot.example&Replace=boot.example")).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let mut srv = FakeServer::new("0");
    let add = Command::Add(ItemCommand {
        cmd_id: "1".into(),
        no_resp: false,
        cred: None,
        meta: Some(Meta {
            format: Some(Format::Xml),
            media_type: Some("application/vnd.syncml.dmtnds+xml".into()),
            ..Meta::default()
        }),
        items: vec![Item {
            target: Some(Location::new("./Inbox")),
            data: Some(Data::Document(doc)),
            ..Item::default()
        }],
    });
    let msg = srv.message(vec![add], true);
    let bytes = omadm_proto::wbxml::encode(&msg, &Default::default()).unwrap();
    let mut tree = device();
    let accounts = install_plain(&mut tree, &bytes).unwrap();
    assert_eq!(accounts[0].server_id.as_str(), "boot.example");
    assert_eq!(accounts[0].server_uri, "http://boot.example/dm");
    assert_eq!(acl_of(&mut tree, "./DMAcc/acc1"), "Get=boot.example&Replace=boot.example", "the TNDS's ACL");
    let (_, out) = Session::start(SessionConfig::new(DEV_ID, accounts[0].clone()), &mut tree).unwrap();
    assert_eq!(out.url, "http://boot.example/dm");

    // A bare TNDS document without ACLs: the account root gets the w7 rights.
    let mut tree = device();
    let bare = plain_profile(None);
    let accounts = install_plain(&mut tree, bare.as_bytes()).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(acl_of(&mut tree, "./DMAcc/acc1"), "Delete=boot.example&Get=boot.example&Replace=boot.example");
    assert!(
        install_plain(&mut device(), b"<MgmtTree><VerDTD>1.2</VerDTD></MgmtTree>").is_err(),
        "no account installed"
    );
}
