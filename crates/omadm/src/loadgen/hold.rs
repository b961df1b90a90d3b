//! Many sessions open at once (issue 7: 10,000, at most 16 KB of server memory each): every held
//! device sends Package 1 and receives Package 2 (the server's commands), then waits without
//! answering while the server keeps its session state; afterwards each held session is finished
//! normally. DM sessions are HTTP request/response, so a held session keeps no connection: the
//! client's connection pool never has more than `--concurrency` sockets open.

use super::{keep_nonces, retarget, session_config, transport_kind, Shared, SimDevice};
use omadm_client::ui::NoUi;
use omadm_client::{Action, Incoming, Outcome, Outgoing, Session};
use omadm_proto::{Command, Limits};
use omadm_tree::{MemStore, Tree};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// A session that has received Package 2 and holds its answer back.
pub struct Held {
    /// The device's place in its worker's share.
    device: usize,
    session: Session,
    /// The answer (Package 3) not sent yet.
    next: Outgoing,
}

/// Whether a server message carries commands besides Statuses (Package 2 rather than a
/// challenge or an end).
fn carries_commands(body: &[u8]) -> bool {
    omadm_proto::decode(body, &Limits::DEFAULT)
        .is_ok_and(|(message, _)| message.body.commands.iter().any(|c| !matches!(c, Command::Status(_))))
}

/// Opens a session for each device of `share` that `hold` selects and keeps those that reached
/// Package 2; failures are counted by kind.
pub async fn open(
    shared: &Shared,
    tree: &mut Tree<MemStore>,
    share: &mut [SimDevice],
    hold: impl Fn(&SimDevice) -> bool,
    url: &str,
) -> (Vec<Held>, BTreeMap<String, u64>) {
    let mut held = Vec::new();
    let mut errors = BTreeMap::new();
    for (index, device) in share.iter_mut().enumerate() {
        if !hold(device) {
            continue;
        }
        match open_one(shared, tree, device, url).await {
            Ok((session, next)) => {
                held.push(Held { device: index, session, next });
                shared.completed.fetch_add(1, Ordering::Relaxed);
            }
            Err(kind) => {
                *errors.entry(kind).or_default() += 1;
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    (held, errors)
}

async fn open_one(
    shared: &Shared,
    tree: &mut Tree<MemStore>,
    device: &mut SimDevice,
    url: &str,
) -> Result<(Session, Outgoing), String> {
    retarget(tree, device).map_err(|e| format!("client: {e}"))?;
    let (mut session, mut out) =
        Session::start(session_config(shared, device, url), tree).map_err(|e| format!("client: {e}"))?;
    // Package 1, and again after a challenge; a third reply without commands is a failure.
    for _ in 0..3 {
        let reply = shared.http.post(&out).await.map_err(|e| transport_kind(&e.to_string()))?;
        let package2 = carries_commands(&reply.body);
        let incoming =
            Incoming { body: &reply.body, content_type: reply.content_type.as_deref(), hmac: reply.hmac.as_deref() };
        match session.handle_reply(incoming, tree, &mut NoUi) {
            Ok(Action::Send(next)) if package2 => return Ok((session, next)),
            Ok(Action::Send(next)) => out = next,
            Ok(Action::Finished(outcome)) => {
                keep_nonces(device, &session);
                return Err(format!("ended before Package 2: {outcome:?}"));
            }
            Err(e) => return Err(format!("client: {e}")),
        }
    }
    Err("no Package 2 after three replies".into())
}

/// Finishes held sessions: sends each one's Package 3 and goes on to the end. Returns the
/// sessions completed and the failures by kind.
pub async fn finish(
    shared: &Shared,
    tree: &mut Tree<MemStore>,
    share: &mut [SimDevice],
    held: Vec<Held>,
) -> (u64, BTreeMap<String, u64>) {
    let mut finished = 0;
    let mut errors = BTreeMap::new();
    for Held { device, mut session, mut next } in held {
        let device = &mut share[device];
        let result = async {
            retarget(tree, device).map_err(|e| format!("client: {e}"))?;
            loop {
                let reply = shared.http.post(&next).await.map_err(|e| transport_kind(&e.to_string()))?;
                let incoming = Incoming {
                    body: &reply.body,
                    content_type: reply.content_type.as_deref(),
                    hmac: reply.hmac.as_deref(),
                };
                match session.handle_reply(incoming, tree, &mut NoUi) {
                    Ok(Action::Send(out)) => next = out,
                    Ok(Action::Finished(Outcome::Completed)) => return Ok(()),
                    Ok(Action::Finished(other)) => return Err(format!("outcome: {other:?}")),
                    Err(e) => return Err(format!("client: {e}")),
                }
            }
        }
        .await;
        match result {
            Ok(()) => finished += 1,
            Err(kind) => *errors.entry(kind).or_default() += 1,
        }
        keep_nonces(device, &session);
    }
    (finished, errors)
}
