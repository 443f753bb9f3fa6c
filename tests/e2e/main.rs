//! End-to-end tests: the real `jubilant-server` on ephemeral loopback
//! ports, driven only through `jubilant-client` and `jubectl`.
//!
//! - `flows`: transactions, ASSERT aborts, contention, TTL, checkpoint,
//!   INFO, and `jubectl` against a live server.
//! - `random`: seeded random workloads with traces checked against the
//!   model (`JUBILANT_E2E_SEEDS`, `JUBILANT_E2E_SEED`).
//! - `crash`: `kill -9` at random moments of a concurrent workload
//!   (`JUBILANT_E2E_KILLS`, default 20; the long run uses 500).

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod crash;
mod flows;
mod random;
mod repair;

use jubilant_client::{BlockingClient, ClientConfig};

/// A client for `server`.
fn client(server: &jubilant_e2e::process::Server) -> BlockingClient {
    let mut config = ClientConfig::new(server.addr.to_string());
    config.request_timeout = std::time::Duration::from_secs(30);
    BlockingClient::connect(config).unwrap()
}

/// Every pair on the server, in key order, paging through scans.
fn scan_all(c: &BlockingClient) -> Vec<jubilant_format::wire::KeyValue> {
    let mut out: Vec<jubilant_format::wire::KeyValue> = Vec::new();
    let mut start: Option<Vec<u8>> = None;
    loop {
        let page = c.scan(start.as_deref(), None, 0, false).unwrap();
        let done = !page.truncated;
        if let Some(last) = page.items.last() {
            let mut next = last.key.clone();
            next.push(0);
            start = Some(next);
        }
        out.extend(page.items);
        if done {
            return out;
        }
    }
}

/// The response to a request, with server errors as error responses.
fn request(c: &BlockingClient, body: jubilant_format::wire::RequestBody) -> jubilant_format::wire::ResponseBody {
    match c.request(body) {
        Ok(r) => r,
        Err(e) => match e.server_error() {
            Some(we) => jubilant_format::wire::ResponseBody::Error(we.clone()),
            None => panic!("request failed: {e}"),
        },
    }
}
