//! Bootstrap documents for a device (DM Bootstrap 1.2; digest §8): the plain (DM) profile as a
//! TNDS of a DMAcc account, and the WAP (CP) profile as a `wap-provisioningdoc` with a `w7`
//! APPLICATION characteristic. Both carry the device's account as the server stores it.

use crate::model::{AuthKind, Device};
use omadm_proto::element::{Element, Node, DDF_NAMESPACE};
use omadm_security::provisioning::{AppAddr, AppAuth, ProvisioningDoc, W7Account};

/// DMAcc `AAuthType` for a scheme (DM StdObj 1.2 §5.3), as omadm-security spells it for every
/// DMAcc writer (SHA-256: `DIGEST-SHA256`, docs/dm13-decisions.md).
pub fn aauth_type(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::Basic => "BASIC",
        AuthKind::Md5 => "DIGEST",
        AuthKind::Sha256 => omadm_security::dm13::SHA256_AAUTH_TYPE,
        AuthKind::Hmac => "HMAC",
    }
}

fn text_element(name: &str, text: &str) -> Element {
    Element { name: name.into(), namespace: None, children: vec![Node::Text(text.into())] }
}

fn leaf(name: &str, value: &str) -> Element {
    Element::new("Node")
        .with_child(text_element("NodeName", name))
        .with_child(
            Element::new("RTProperties")
                .with_child(Element::new("Format").with_child(Element::new("chr")))
                .with_child(Element::new("Type").with_child(text_element("MIME", "text/plain"))),
        )
        .with_child(text_element("Value", value))
}

fn interior(name: &str, children: Vec<Element>) -> Element {
    let mut node = Element::new("Node")
        .with_child(text_element("NodeName", name))
        .with_child(Element::new("RTProperties").with_child(Element::new("Format").with_child(Element::new("node"))));
    node.children.extend(children.into_iter().map(Node::Element));
    node
}

/// The plain-profile bootstrap: a TNDS (`application/vnd.syncml.dmtnds+xml`) holding
/// `./DMAcc/<server_id>` with the server address and both credentials.
pub fn tnds(device: &Device, dm_url: &str) -> Element {
    let auth = |level: &str, kind: AuthKind, name: &str, secret: &str, nonce: &str| {
        interior(
            level,
            vec![
                leaf("AAuthLevel", level),
                leaf("AAuthType", aauth_type(kind)),
                leaf("AAuthName", name),
                leaf("AAuthSecret", secret),
                leaf("AAuthData", nonce),
            ],
        )
    };
    let account = interior(
        &device.server_id,
        vec![
            leaf("AppID", "w7"),
            leaf("ServerID", &device.server_id),
            leaf("Name", &device.server_id),
            interior("AppAddr", vec![interior("1", vec![leaf("Addr", dm_url), leaf("AddrType", "URI")])]),
            leaf("AAuthPref", aauth_type(device.client.kind)),
            interior(
                "AppAuth",
                vec![
                    auth(
                        "CLCRED",
                        device.client.kind,
                        &device.client.user,
                        &device.client.secret,
                        &device.client.nonce,
                    ),
                    auth(
                        "SRVCRED",
                        device.server.kind,
                        &device.server.user,
                        &device.server.secret,
                        &device.server.nonce,
                    ),
                ],
            ),
        ],
    );
    let mut dmacc = interior("DMAcc", vec![account]);
    dmacc.children.insert(1, Node::Element(text_element("Path", ".")));
    Element { name: "MgmtTree".into(), namespace: Some(DDF_NAMESPACE.into()), children: Vec::new() }
        .with_child(text_element("VerDTD", "1.2"))
        .with_child(dmacc)
}

/// The WAP-profile bootstrap: an OMA Client Provisioning document with the `w7` APPLICATION
/// characteristic (digest §8: APPID, PROVIDER-ID, NAME, APPADDR, APPAUTH with APPSRV = the
/// client's credentials and CLIENT = the server's).
pub fn wap_provisioning(device: &Device, dm_url: &str) -> ProvisioningDoc {
    let auth = |level: &str, kind: AuthKind, name: &str, secret: &str, nonce: &str| AppAuth {
        level: Some(level.to_string()),
        auth_type: Some(aauth_type(kind).to_string()),
        name: Some(name.to_string()),
        secret: Some(secret.to_string()),
        data: Some(nonce.to_string()),
    };
    let (c, s) = (&device.client, &device.server);
    W7Account {
        server_id: device.server_id.clone(),
        name: Some(device.server_id.clone()),
        addresses: vec![AppAddr { addr: dm_url.to_string(), addr_type: Some("URI".into()), ports: Vec::new() }],
        auths: vec![
            auth("APPSRV", c.kind, &c.user, &c.secret, &c.nonce),
            auth("CLIENT", s.kind, &s.user, &s.secret, &s.nonce),
        ],
        ..W7Account::default()
    }
    .to_document()
}
