//! The bare HTTP baseline of issue 7: each simulated session makes the round trips of a typical
//! DM session of the measured run (same count, same request and response body sizes) against an
//! echo server (`omadm-bench`'s `echo_server` example), through the same HTTP client and at the
//! same concurrency, so that "omadm sessions/s ÷ echo sessions/s" says how much of HTTP's own
//! rate the DM server keeps.

use super::stats::{Recorder, RoundTripShape};
use super::{transport_kind, Shared};
use omadm_client::Outgoing;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The echo server's URL asking for a `size`-byte answer (`?reply=N`).
pub fn with_reply_size(url: &str, size: usize) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}reply={size}")
}

/// One echo worker: round-trip sessions of `shape` one after another until `deadline`.
pub async fn worker(shared: Arc<Shared>, url: String, shape: Arc<Vec<RoundTripShape>>, deadline: Instant) -> Recorder {
    let mut recorder = Recorder::default();
    let requests: Vec<Outgoing> = shape
        .iter()
        .map(|trip| Outgoing {
            url: with_reply_size(&url, trip.response_bytes),
            body: vec![b'x'; trip.request_bytes],
            encoding: shared.encoding,
            hmac: None,
        })
        .collect();
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut sent = 0u64;
        let mut failure = None;
        for (trip, out) in shape.iter().zip(&requests) {
            let at = Instant::now();
            sent += 1;
            match shared.http.post(out).await {
                Ok(reply) if reply.body.len() == trip.response_bytes => {
                    recorder.round_trip(trip.package, at.elapsed(), out.body.len(), reply.body.len());
                }
                Ok(_) => {
                    failure = Some("echo: a reply of the wrong size".to_string());
                    break;
                }
                Err(e) => {
                    failure = Some(transport_kind(&e.to_string()));
                    break;
                }
            }
        }
        match failure {
            None => {
                recorder.session_completed(started.elapsed(), sent);
                shared.completed.fetch_add(1, Ordering::Relaxed);
            }
            Some(kind) => {
                recorder.session_failed(&kind, sent);
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    recorder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_size_goes_in_the_query() {
        assert_eq!(with_reply_size("http://127.0.0.1:18090/", 1200), "http://127.0.0.1:18090/?reply=1200");
        assert_eq!(with_reply_size("http://h/echo?x=1", 5), "http://h/echo?x=1&reply=5");
    }
}
