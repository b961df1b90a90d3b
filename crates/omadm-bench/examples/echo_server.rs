//! The bare hyper baseline of issue 7: an HTTP/1.1 server that answers every POST with its own
//! body, as `omadm server` would answer a DM message but with no work in between. `omadm loadgen
//! --echo-url` runs the measured DM workload's round trips against it, at the same concurrency
//! and with the same body sizes, to give "omadm sessions/s ÷ echo sessions/s".
//!
//! A query `?reply=N` asks for an N-byte answer (the request body repeated or cut), so that a
//! round trip can have the request and response sizes of a real DM exchange. The reply carries
//! the request's Content-Type.
//!
//! ```sh
//! cargo run --release -p omadm-bench --example echo_server -- 127.0.0.1:18090
//! ```
//!
//! Same runtime shape as `omadm server`: tokio's multi-thread runtime, one task per connection,
//! hyper's HTTP/1.1 server with TCP_NODELAY.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpListener;

/// The reply size a request asks for with `?reply=N`, if any.
fn requested_size(query: Option<&str>) -> Option<usize> {
    query?.split('&').find_map(|pair| pair.strip_prefix("reply=")?.parse().ok())
}

/// `body` stretched (repeated) or cut to `size` bytes.
fn resized(body: &[u8], size: usize) -> Vec<u8> {
    if body.is_empty() {
        return vec![b' '; size];
    }
    body.iter().copied().cycle().take(size).collect()
}

async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        let mut refused = Response::new(Full::new(Bytes::from_static(b"POST only\n")));
        *refused.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return Ok(refused);
    }
    let size = requested_size(request.uri().query());
    let content_type = request.headers().get(CONTENT_TYPE).cloned();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let mut failed = Response::new(Full::new(Bytes::from_static(b"unreadable body\n")));
            *failed.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(failed);
        }
    };
    let body = match size {
        Some(n) if n != body.len() => Bytes::from(resized(&body, n)),
        _ => body,
    };
    let mut response = Response::new(Full::new(body));
    if let Some(t) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, t);
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".to_string());
    let listener = TcpListener::bind(&address).await?;
    eprintln!("echo server on http://{}/", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept failed: {err}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(echo)).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_size_comes_from_the_query() {
        assert_eq!(requested_size(Some("reply=1200")), Some(1200));
        assert_eq!(requested_size(Some("x=1&reply=7")), Some(7));
        assert_eq!(requested_size(Some("reply=lots")), None);
        assert_eq!(requested_size(None), None);
    }

    #[test]
    fn bodies_are_repeated_or_cut_to_size() {
        assert_eq!(resized(b"abc", 7), b"abcabca");
        assert_eq!(resized(b"abcdef", 2), b"ab");
        assert_eq!(resized(b"", 3), b"   ");
    }
}
