//! A synchronous client for programs without an async runtime (command
//! line tools, scripts): it owns a small tokio runtime and blocks on each
//! call.

use std::time::Duration;

use jubilant_format::Lsn;
use jubilant_format::wire::{KeyValue, Op, RequestBody, ResponseBody, TxnResult};

use crate::client::{CheckpointInfo, Client, ConfigReloadInfo, ScanPage};
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};

/// The blocking twin of [`Client`]: the same methods, each waiting for its
/// answer.
///
/// It runs a single-threaded tokio runtime; the connections' tasks make
/// progress while a call blocks. Must not be created or dropped inside an
/// async context (tokio forbids blocking there); use [`Client`] instead.
#[derive(Debug)]
pub struct BlockingClient {
    client: Client,
    runtime: tokio::runtime::Runtime,
}

impl BlockingClient {
    /// As [`Client::connect`].
    ///
    /// # Errors
    ///
    /// As [`Client::connect`], and [`ClientError::Io`] if the runtime
    /// cannot be started.
    pub fn connect(config: ClientConfig) -> Result<BlockingClient> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::io("start the client runtime", e))?;
        let client = runtime.block_on(Client::connect(config))?;
        Ok(BlockingClient { client, runtime })
    }

    /// The async client underneath.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// As [`Client::request`].
    ///
    /// # Errors
    ///
    /// As [`Client::request`].
    pub fn request(&self, body: RequestBody) -> Result<ResponseBody> {
        self.runtime.block_on(self.client.request(body))
    }

    /// As [`Client::transact`].
    ///
    /// # Errors
    ///
    /// As [`Client::transact`].
    pub fn transact(&self, ops: Vec<Op>) -> Result<TxnResult> {
        self.runtime.block_on(self.client.transact(ops))
    }

    /// As [`Client::get`].
    ///
    /// # Errors
    ///
    /// As [`Client::get`].
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        self.runtime.block_on(self.client.get(key))
    }

    /// As [`Client::set`].
    ///
    /// # Errors
    ///
    /// As [`Client::set`].
    pub fn set(&self, key: &[u8], value: &[u8], ttl: Option<Duration>) -> Result<Lsn> {
        self.runtime.block_on(self.client.set(key, value, ttl))
    }

    /// As [`Client::del`].
    ///
    /// # Errors
    ///
    /// As [`Client::del`].
    pub fn del(&self, key: &[u8]) -> Result<bool> {
        self.runtime.block_on(self.client.del(key))
    }

    /// As [`Client::scan`].
    ///
    /// # Errors
    ///
    /// As [`Client::scan`].
    pub fn scan(&self, start: Option<&[u8]>, end: Option<&[u8]>, limit: u32, reverse: bool) -> Result<ScanPage> {
        self.runtime.block_on(self.client.scan(start, end, limit, reverse))
    }

    /// As [`Client::ping`].
    ///
    /// # Errors
    ///
    /// As [`Client::ping`].
    pub fn ping(&self) -> Result<Duration> {
        self.runtime.block_on(self.client.ping())
    }

    /// As [`Client::info`].
    ///
    /// # Errors
    ///
    /// As [`Client::info`].
    pub fn info(&self) -> Result<Vec<(String, String)>> {
        self.runtime.block_on(self.client.info())
    }

    /// As [`Client::checkpoint`].
    ///
    /// # Errors
    ///
    /// As [`Client::checkpoint`].
    pub fn checkpoint(&self) -> Result<CheckpointInfo> {
        self.runtime.block_on(self.client.checkpoint())
    }

    /// As [`Client::config_reload`].
    ///
    /// # Errors
    ///
    /// As [`Client::config_reload`].
    pub fn config_reload(&self) -> Result<ConfigReloadInfo> {
        self.runtime.block_on(self.client.config_reload())
    }
}
