//! A scripted DM server for `scripts/client-footprint`: it challenges the client with MD5, then
//! Gets the whole `./DevInfo` subtree and a structural `./DevDetail?list=Struct`, and ends the
//! session. Usage: `footprint_server PORT SECRET` (plain HTTP on 127.0.0.1).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use omadm_proto::*;
use omadm_security::{
    AccountCredentials, AuthScheme, Credential, Nonce, NonceLedger, OsNonceSource, Presented, Verifier,
};

struct Auth {
    ledger: NonceLedger,
    authenticated: bool,
    secret: String,
}

fn answer(body: &[u8], auth: &Mutex<Auth>) -> Vec<u8> {
    let (m, _) = omadm_proto::decode(body, &Limits::default()).expect("a DM message");
    let mut a = auth.lock().unwrap_or_else(|e| e.into_inner());
    if m.header.msg_id.trim() == "1" {
        // A new session.
        a.authenticated = false;
    }
    let mut commands = Vec::new();
    let header = |code: u16, nonce: Option<Nonce>| {
        Command::Status(Status {
            cmd_id: "1".into(),
            msg_ref: Some(m.header.msg_id.clone()),
            cmd_ref: "0".into(),
            cmd: CommandName::SyncHdr,
            target_refs: vec![],
            source_refs: vec![],
            cred: None,
            chal: nonce.map(|n| Chal {
                meta: Meta {
                    format: Some(Format::B64),
                    media_type: Some("syncml:auth-md5".into()),
                    next_nonce: Some(n.to_next_nonce()),
                    ..Meta::default()
                },
            }),
            code: StatusCode::from_code(code),
            items: vec![],
        })
    };
    if !a.authenticated {
        let cred =
            m.header.cred.as_ref().and_then(|c| Credential::from_meta(Some("syncml:auth-md5"), None, &c.data).ok());
        let mut source = OsNonceSource;
        let account = AccountCredentials::new(m.header.source.loc_uri.clone(), a.secret.as_str());
        let mut v = Verifier::new(account, AuthScheme::Md5, a.ledger.clone(), &mut source);
        let verdict = v.check(cred.as_ref().map_or(Presented::Nothing, Presented::Cred)).expect("nonce");
        a.ledger = v.ledger().clone();
        let nonce = verdict.challenge.and_then(|c| c.next_nonce);
        commands.push(header(verdict.status.code(), nonce));
        if verdict.failure.is_none() {
            a.authenticated = true;
            for (id, uri) in
                [("2", "./DevInfo?list=StructData"), ("3", "./DevDetail?list=Struct"), ("4", "./DevInfo/DevId")]
            {
                commands.push(Command::Get(ItemCommand {
                    cmd_id: id.into(),
                    no_resp: false,
                    cred: None,
                    meta: None,
                    items: vec![Item { target: Some(Location::new(uri)), ..Item::default() }],
                }));
            }
        }
    } else {
        commands.push(header(200, None));
    }
    let reply = SyncMl {
        header: SyncHdr {
            ver_dtd: VerDtd::V1_2,
            ver_proto: VerProto::Dm1_2,
            session_id: m.header.session_id.clone(),
            msg_id: m.header.msg_id.clone(),
            target: Location::new(m.header.source.loc_uri.clone()),
            source: Location::new(m.header.target.loc_uri.clone()),
            resp_uri: None,
            no_resp: false,
            cred: None,
            meta: None,
        },
        body: SyncBody { commands, is_final: true },
    };
    omadm_proto::xml::encode(&reply, &Default::default())
}

async fn handle(req: Request<Incoming>, auth: Arc<Mutex<Auth>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let out = answer(&body, &auth);
    Ok(Response::builder()
        .header("content-type", "application/vnd.syncml.dm+xml")
        .body(Full::new(Bytes::from(out)))
        .unwrap_or_default())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port = args.get(1).map_or("18123", String::as_str).to_string();
    let secret = args.get(2).cloned().unwrap_or_else(|| "secret".into());
    let auth = Arc::new(Mutex::new(Auth {
        ledger: NonceLedger::new(Nonce::from_bytes(b"footprint".to_vec())),
        authenticated: false,
        secret,
    }));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await.expect("bind");
    println!("listening on {port}");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let auth = auth.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, auth.clone()));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
