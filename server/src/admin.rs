//! The admin listener: `GET /metrics` (Prometheus text) over a minimal
//! HTTP/1.1 server, on its own address (`admin.listen`), loopback unless
//! `admin.allow_non_loopback`.
//!
//! Only the request line is parsed; headers are read (to find the end of
//! the request) and ignored. Every response closes the connection. Limits:
//! [`REQUEST_BYTES_MAX`] bytes of request head, [`IO_TIMEOUT`] to read it
//! and again to write the answer, [`CONNECTIONS_MAX`] connections at once
//! (more are closed at once).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::metrics::PROMETHEUS_CONTENT_TYPE;
use crate::server::State;

/// Largest request head (request line and headers) read.
pub const REQUEST_BYTES_MAX: usize = 8 << 10;
/// Time allowed to read the request head, and to write the response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Admin connections served at once.
pub const CONNECTIONS_MAX: usize = 16;

/// Serves the admin listener until `shutdown` turns true.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Over the limit: drop the connection rather than queue it.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else { continue };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            connection(stream, &state).await;
            drop(slot);
        });
    }
}

/// What the request asked for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics { head_only: bool },
    NotFound,
    MethodNotAllowed,
    BadRequest,
    TooLarge,
}

/// Routes a request head (the bytes up to the blank line, or all that was
/// read if it never came).
fn route(head: &[u8], complete: bool) -> Route {
    if !complete {
        return Route::TooLarge;
    }
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let Ok(line) = std::str::from_utf8(head.get(..line_end).unwrap_or_default()) else {
        return Route::BadRequest;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => Route::Metrics { head_only: method == "HEAD" },
        ("GET" | "HEAD", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

/// Reads until the end of the request head, [`REQUEST_BYTES_MAX`] bytes or
/// the timeout; returns the bytes and whether the head was complete.
async fn read_head(stream: &mut TcpStream) -> Option<(Vec<u8>, bool)> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + IO_TIMEOUT;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => n,
        };
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Some((head, true));
        }
        if head.len() >= REQUEST_BYTES_MAX {
            return Some((head, false));
        }
    }
}

async fn connection(mut stream: TcpStream, state: &Arc<State>) {
    let Some((head, complete)) = read_head(&mut stream).await else { return };
    let (status, content_type, body, head_only) = match route(&head, complete) {
        Route::Metrics { head_only } => {
            let state = Arc::clone(state);
            // The engine's counters are read off the reactor: `Db::stats`
            // can wait for a running checkpoint.
            match tokio::task::spawn_blocking(move || crate::metrics::render_prometheus(state.families())).await {
                Ok(text) => ("200 OK", PROMETHEUS_CONTENT_TYPE, text, head_only),
                Err(_) => ("500 Internal Server Error", "text/plain", "internal error\n".into(), false),
            }
        }
        Route::NotFound => ("404 Not Found", "text/plain", "not found; try /metrics\n".into(), false),
        Route::MethodNotAllowed => ("405 Method Not Allowed", "text/plain", "use GET\n".into(), false),
        Route::BadRequest => ("400 Bad Request", "text/plain", "bad request\n".into(), false),
        Route::TooLarge => {
            ("431 Request Header Fields Too Large", "text/plain", "request head too large\n".into(), false)
        }
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        body.len(),
        if status.starts_with("405") { "Allow: GET, HEAD\r\n" } else { "" },
    )
    .into_bytes();
    if !head_only {
        response.extend_from_slice(body.as_bytes());
    }
    let _ = tokio::time::timeout(IO_TIMEOUT, async {
        let _ = stream.write_all(&response).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_request_line() {
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", true), Route::Metrics { head_only: false });
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", true), Route::Metrics { head_only: false });
        assert_eq!(route(b"HEAD /metrics HTTP/1.1\r\n\r\n", true), Route::Metrics { head_only: true });
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n", true), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n", true), Route::MethodNotAllowed);
        assert_eq!(route(b"GET /metrics\r\n\r\n", true), Route::BadRequest);
        assert_eq!(route(b"GET /metrics SPDY/3\r\n\r\n", true), Route::BadRequest);
        assert_eq!(route(b"\xff\xfe /metrics HTTP/1.1\r\n\r\n", true), Route::BadRequest);
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nX: y", false), Route::TooLarge);
    }
}
