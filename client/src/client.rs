//! The async client: a pool of connections, request ids, retries, and one
//! method per kind of request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jubilant_format::wire::{KeyValue, Op, OpResult, Request, RequestBody, ResponseBody, TxnResult};
use jubilant_format::{Generation, Lsn};

use crate::config::ClientConfig;
use crate::connection::{AttemptError, Connection, encode, unexpected};
use crate::error::{ClientError, Result};
use crate::retry::{backoff, is_idempotent, should_retry};
use crate::tls::{self, Tls};

/// What [`Client::ping`] sends and expects back.
const PING_PAYLOAD: &[u8] = b"jubilant-client";

/// The pairs a scan returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    /// The pairs, in scan order.
    pub items: Vec<KeyValue>,
    /// Whether the limit (the request's or the server's) cut the scan
    /// short: more keys follow the last one returned.
    pub truncated: bool,
}

/// A completed checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// Every record up to this LSN is in the checkpointed tree.
    pub checkpoint_lsn: Lsn,
    /// The superblock generation written.
    pub generation: Generation,
}

/// The outcome of a configuration reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigReloadInfo {
    /// Settings that changed and took effect.
    pub applied: Vec<String>,
    /// Settings that changed but need a restart; they kept their old value.
    pub needs_restart: Vec<String>,
}

/// A client of one jubilant-db server. Cheap to clone: clones share the
/// connection pool.
///
/// # Connections
///
/// The client keeps up to [`ClientConfig::pool_size`] connections and
/// gives requests to them in turn. Each connection carries many requests
/// at once (pipelining) and matches answers by request id. A connection is
/// opened when first needed (the first one by [`Client::connect`]), sends
/// AUTH first when a token is configured, and is reopened on the next
/// request after it breaks.
///
/// # Retries
///
/// A failed attempt is retried, up to [`ClientConfig::max_retries`] times
/// with exponential backoff and jitter, when the server cannot have seen
/// it (no connection could be opened), or when the request is idempotent
/// (PING, INFO, or a transaction of only GET, SCAN and ASSERT) and the
/// failure is transient (a broken connection, or a retryable server error:
/// BUSY, LOCK_TIMEOUT). Writes are never sent again once they may have
/// reached the server. Timeouts are not retried.
///
/// # Errors
///
/// Every method returns [`ClientError`]. A server's refusal is
/// [`ClientError::Server`]; in particular an ASSERT that does not hold
/// aborts the transaction with [`ErrorCode::AssertFailed`] and the assert's
/// index in `op_index` ([`ClientError::is_assert_failed`]).
///
/// [`ErrorCode::AssertFailed`]: jubilant_format::wire::ErrorCode::AssertFailed
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    tls: Option<Tls>,
    slots: Box<[Slot]>,
    next_slot: AtomicUsize,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Slot {
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
}

impl Client {
    /// Checks `config`, builds the TLS connector, and opens the first
    /// connection (authenticating if a token is set), so an unreachable
    /// server or a rejected token is reported here.
    ///
    /// # Errors
    ///
    /// [`ClientError::Config`] or [`ClientError::Tls`] for bad settings;
    /// [`ClientError::AuthFailed`] if the server rejects the token;
    /// connection errors if the server cannot be reached (retried as for
    /// any request that was not sent).
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        config.validate()?;
        let tls = config.tls.as_ref().map(|t| tls::build(t, config.host())).transpose()?;
        let slots = (0..config.pool_size).map(|_| Slot::default()).collect();
        // Id 0 is reserved for connection-level errors from the server.
        let inner = Inner { config, tls, slots, next_slot: AtomicUsize::new(0), next_id: AtomicU64::new(1) };
        let client = Client { inner: Arc::new(inner) };
        let mut retry = 0;
        loop {
            match client.connection(0).await {
                Ok(_) => return Ok(client),
                Err(error) => {
                    let (again, error) = should_retry(AttemptError::NotSent(error), false);
                    if !again || retry >= client.inner.config.max_retries {
                        return Err(error);
                    }
                }
            }
            tokio::time::sleep(client.backoff(retry)).await;
            retry += 1;
        }
    }

    /// The configuration this client was built with.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Sends one request, with retries as described on [`Client`], and
    /// returns the answer. An error answer is returned as
    /// [`ClientError::Server`], never as `Ok(ResponseBody::Error)`.
    ///
    /// # Errors
    ///
    /// As described on [`Client`].
    pub async fn request(&self, body: RequestBody) -> Result<ResponseBody> {
        let idempotent = is_idempotent(&body);
        let mut request = Request { id: 0, body };
        let mut retry = 0;
        loop {
            let error = match self.attempt(&mut request).await {
                Ok(body) => return Ok(body),
                Err(error) => error,
            };
            let (again, error) = should_retry(error, idempotent);
            if !again || retry >= self.inner.config.max_retries {
                return Err(error);
            }
            tracing::debug!(retry, %error, "retrying request");
            tokio::time::sleep(self.backoff(retry)).await;
            retry += 1;
        }
    }

    /// Runs a transaction: the operations in order, committed atomically.
    ///
    /// # Errors
    ///
    /// As described on [`Client`]; a failed ASSERT is
    /// [`ClientError::Server`] with code `ASSERT_FAILED` and nothing is
    /// written. A result list that does not match the operations is
    /// [`ClientError::Protocol`].
    pub async fn transact(&self, ops: Vec<Op>) -> Result<TxnResult> {
        let count = ops.len();
        match self.request(RequestBody::Txn(ops)).await? {
            ResponseBody::Txn(result) if result.results.len() == count => Ok(result),
            ResponseBody::Txn(result) => Err(ClientError::Protocol(format!(
                "transaction of {count} operations got {} results",
                result.results.len()
            ))),
            other => Err(unexpected("Txn", &other)),
        }
    }

    /// Reads one key; `None` if it does not exist.
    ///
    /// # Errors
    ///
    /// As described on [`Client`].
    pub async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.single(Op::Get { key: key.to_vec() }).await? {
            OpResult::Get(item) => Ok(item),
            other => Err(wrong_result("Get", &other)),
        }
    }

    /// Writes one key, expiring `ttl` after commit if given (rounded up to
    /// whole milliseconds). Returns the commit version.
    ///
    /// # Errors
    ///
    /// As described on [`Client`]; never retried once sent.
    pub async fn set(&self, key: &[u8], value: &[u8], ttl: Option<Duration>) -> Result<Lsn> {
        let ttl_ms = ttl.map(ttl_to_ms);
        let ops = vec![Op::Set { key: key.to_vec(), value: value.to_vec(), ttl_ms }];
        let result = self.transact(ops).await?;
        match result.results.first() {
            Some(OpResult::Set) => Ok(Lsn(result.commit_version)),
            Some(other) => Err(wrong_result("Set", other)),
            None => Err(ClientError::Protocol("empty transaction result".to_owned())),
        }
    }

    /// Removes one key; returns whether it existed.
    ///
    /// # Errors
    ///
    /// As described on [`Client`]; never retried once sent.
    pub async fn del(&self, key: &[u8]) -> Result<bool> {
        match self.single(Op::Del { key: key.to_vec() }).await? {
            OpResult::Del { existed } => Ok(existed),
            other => Err(wrong_result("Del", &other)),
        }
    }

    /// Reads the keys in `[start, end)` (`None`: from the first key, to
    /// past the last), at most `limit` of them (0: the server's maximum),
    /// descending if `reverse`.
    ///
    /// # Errors
    ///
    /// As described on [`Client`].
    pub async fn scan(&self, start: Option<&[u8]>, end: Option<&[u8]>, limit: u32, reverse: bool) -> Result<ScanPage> {
        let op = Op::Scan { start: start.map(<[u8]>::to_vec), end: end.map(<[u8]>::to_vec), limit, reverse };
        match self.single(op).await? {
            OpResult::Scan { items, truncated } => Ok(ScanPage { items, truncated }),
            other => Err(wrong_result("Scan", &other)),
        }
    }

    /// Checks the server answers; returns the round-trip time.
    ///
    /// # Errors
    ///
    /// As described on [`Client`]; a pong with another payload is
    /// [`ClientError::Protocol`].
    pub async fn ping(&self) -> Result<Duration> {
        let started = Instant::now();
        match self.request(RequestBody::Ping { payload: PING_PAYLOAD.to_vec() }).await? {
            ResponseBody::Pong { payload } if payload == PING_PAYLOAD => Ok(started.elapsed()),
            ResponseBody::Pong { .. } => Err(ClientError::Protocol("pong payload differs from the ping's".to_owned())),
            other => Err(unexpected("Pong", &other)),
        }
    }

    /// The server's statistics and settings, as (name, value) pairs in
    /// server order.
    ///
    /// # Errors
    ///
    /// As described on [`Client`].
    pub async fn info(&self) -> Result<Vec<(String, String)>> {
        match self.request(RequestBody::Info).await? {
            ResponseBody::Info(entries) => Ok(entries),
            other => Err(unexpected("Info", &other)),
        }
    }

    /// Asks for a checkpoint and waits until it is complete.
    ///
    /// # Errors
    ///
    /// As described on [`Client`]; not retried once sent.
    pub async fn checkpoint(&self) -> Result<CheckpointInfo> {
        match self.request(RequestBody::Checkpoint).await? {
            ResponseBody::Checkpoint { checkpoint_lsn, generation } => {
                Ok(CheckpointInfo { checkpoint_lsn: Lsn(checkpoint_lsn), generation: Generation(generation) })
            }
            other => Err(unexpected("Checkpoint", &other)),
        }
    }

    /// Asks the server to re-read its configuration file.
    ///
    /// # Errors
    ///
    /// As described on [`Client`]; not retried once sent.
    pub async fn config_reload(&self) -> Result<ConfigReloadInfo> {
        match self.request(RequestBody::ConfigReload).await? {
            ResponseBody::ConfigReload { applied, needs_restart } => Ok(ConfigReloadInfo { applied, needs_restart }),
            other => Err(unexpected("ConfigReload", &other)),
        }
    }

    /// Runs a transaction of one operation and returns its result.
    async fn single(&self, op: Op) -> Result<OpResult> {
        let result = self.transact(vec![op]).await?;
        result.results.into_iter().next().ok_or_else(|| ClientError::Protocol("empty transaction result".to_owned()))
    }

    /// One attempt: take a connection, send, wait up to the request
    /// timeout. A fresh id each time, so a late answer to an earlier
    /// attempt is never mistaken for this one's.
    async fn attempt(&self, request: &mut Request) -> Result<ResponseBody, AttemptError> {
        let config = &self.inner.config;
        let slot = self.inner.next_slot.fetch_add(1, Ordering::Relaxed) % self.inner.slots.len();
        let connection = self.connection(slot).await.map_err(AttemptError::NotSent)?;
        request.id = self.next_id();
        let frame = encode(request, config.max_frame).map_err(AttemptError::NotSent)?;
        match tokio::time::timeout(config.request_timeout, connection.call(request.id, frame)).await {
            Ok(answer) => answer,
            Err(_) => {
                connection.forget(request.id);
                Err(AttemptError::MaybeSent(ClientError::Timeout {
                    what: "request".to_owned(),
                    after: config.request_timeout,
                }))
            }
        }
    }

    /// The connection of pool slot `index`, opened or reopened if needed.
    /// Callers of one slot wait for one opening rather than each opening
    /// their own.
    async fn connection(&self, index: usize) -> Result<Arc<Connection>> {
        let Some(slot) = self.inner.slots.get(index) else {
            return Err(ClientError::Config(format!("no pool slot {index}")));
        };
        let mut guard = slot.connection.lock().await;
        if let Some(connection) = guard.as_ref()
            && !connection.is_broken()
        {
            return Ok(Arc::clone(connection));
        }
        // Drop a broken connection before opening its replacement.
        *guard = None;
        let connection =
            Arc::new(Connection::open(&self.inner.config, self.inner.tls.as_ref(), || self.next_id()).await?);
        *guard = Some(Arc::clone(&connection));
        Ok(connection)
    }

    fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn backoff(&self, retry: u32) -> Duration {
        backoff(retry, self.inner.config.backoff_base, self.inner.config.backoff_max)
    }
}

/// A TTL in whole milliseconds, at least 1 (0 on the wire means "never
/// expires").
fn ttl_to_ms(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

fn wrong_result(expected: &str, got: &OpResult) -> ClientError {
    ClientError::Protocol(format!("expected a {expected} result, got {got:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_a_nonzero_millisecond() {
        assert_eq!(ttl_to_ms(Duration::from_secs(10)), 10_000);
        assert_eq!(ttl_to_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_to_ms(Duration::ZERO), 1);
        assert_eq!(ttl_to_ms(Duration::from_nanos(1)), 1);
    }
}
