//! Client of the jubilant-db server.
//!
//! [`Client`] is async (tokio); [`BlockingClient`] wraps it for
//! synchronous programs. Both speak the framed FlatBuffers protocol of
//! `jubilant_format::wire` over TCP or TLS (rustls, `ring` provider), keep
//! a pool of pipelined connections, authenticate each connection with the
//! configured token, and retry what is safe to retry (see [`Client`]).
//!
//! ```no_run
//! # async fn demo() -> jubilant_client::Result<()> {
//! use jubilant_client::{Client, ClientConfig};
//!
//! let client = Client::connect(ClientConfig::new("127.0.0.1:7420")).await?;
//! client.set(b"user:1", b"ada", None).await?;
//! let pair = client.get(b"user:1").await?;
//! assert_eq!(pair.map(|kv| kv.value), Some(b"ada".to_vec()));
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: this crate knows the protocol only through
//! `jubilant_format::wire`; it depends on neither the engine nor the
//! server.

#![deny(missing_docs)]

mod blocking;
mod client;
mod config;
mod connection;
mod error;
mod retry;
#[cfg(feature = "test-util")]
pub mod test_util;
mod tls;

pub use blocking::BlockingClient;
pub use client::{CheckpointInfo, Client, ConfigReloadInfo, ScanPage};
pub use config::{ClientConfig, DEFAULT_ADDR, MAX_IN_FLIGHT_PER_CONNECTION, MAX_POOL_SIZE, Pem, TlsConfig};
pub use error::{ClientError, Result};
/// The protocol types requests and answers are made of.
pub use jubilant_format::wire::{
    AssertCondition, ErrorCode, KeyValue, Op, OpResult, RequestBody, ResponseBody, TxnResult, WireError,
};
