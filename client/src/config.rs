//! What a [`Client`](crate::Client) is told before it connects: address,
//! credentials, TLS material, timeouts, pool size and retry policy.
//!
//! Every field has a default suited to an interactive tool on a local
//! network; [`ClientConfig::validate`] rejects values that would make the
//! client hang or spin (a zero timeout, an empty pool).

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ClientError, Result};

/// The address a server listens on unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7420";

/// Most connections one client keeps open to its server.
pub const MAX_POOL_SIZE: usize = 64;

/// Most requests in flight on one connection: the queue to its writer is
/// bounded by this, so a caller that outruns the network waits instead of
/// growing a buffer without bound.
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 1024;

/// How to reach and talk to a server.
///
/// Build one with [`ClientConfig::new`] and change the public fields; the
/// struct is `#[non_exhaustive]` so new settings can be added later.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `host:port` of the server.
    pub addr: String,
    /// API token sent in an AUTH request on every new connection; `None`
    /// sends none (for servers without authentication).
    pub token: Option<String>,
    /// Speak TLS instead of plain TCP.
    pub tls: Option<TlsConfig>,
    /// Longest wait for the TCP connection, the TLS handshake and the AUTH
    /// answer of one new connection.
    pub connect_timeout: Duration,
    /// Longest wait for the answer to one attempt of a request, from the
    /// moment it is queued. A timed-out attempt is not retried.
    pub request_timeout: Duration,
    /// Connections kept to the server (1 to [`MAX_POOL_SIZE`]); requests
    /// take them in turn. Each is opened when first needed and reopened
    /// after it breaks.
    pub pool_size: usize,
    /// Retries after a first failed attempt; 0 disables retrying. See
    /// [`Client`](crate::Client) for which failures are retried.
    pub max_retries: u32,
    /// Backoff before the first retry; it doubles for every later one.
    pub backoff_base: Duration,
    /// Longest backoff between two attempts.
    pub backoff_max: Duration,
    /// Longest response frame accepted, in bytes.
    pub max_frame: usize,
}

impl ClientConfig {
    /// A configuration for `addr` with the defaults: no token, plain TCP,
    /// 5 s connect timeout, 30 s request timeout, one connection, 3
    /// retries with backoff from 20 ms up to 1 s, 16 MiB frames.
    #[must_use]
    pub fn new(addr: impl Into<String>) -> ClientConfig {
        ClientConfig {
            addr: addr.into(),
            token: None,
            tls: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            pool_size: 1,
            max_retries: 3,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_secs(1),
            max_frame: jubilant_format::wire::DEFAULT_MAX_FRAME,
        }
    }

    /// Checks the settings that would make the client unusable.
    ///
    /// # Errors
    ///
    /// [`ClientError::Config`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(ClientError::Config(what));
        if self.addr.is_empty() {
            return bad("address is empty".to_owned());
        }
        if self.pool_size == 0 || self.pool_size > MAX_POOL_SIZE {
            return bad(format!("pool size {} is not between 1 and {MAX_POOL_SIZE}", self.pool_size));
        }
        if self.connect_timeout.is_zero() {
            return bad("connect timeout is zero".to_owned());
        }
        if self.request_timeout.is_zero() {
            return bad("request timeout is zero".to_owned());
        }
        if self.backoff_base > self.backoff_max {
            return bad(format!("backoff base {:?} exceeds backoff max {:?}", self.backoff_base, self.backoff_max));
        }
        if self.max_frame < jubilant_format::wire::FRAME_PREFIX_LEN {
            return bad(format!("max frame {} is too small", self.max_frame));
        }
        if let Some(tls) = &self.tls
            && tls.client_cert_pem.is_some() != tls.client_key_pem.is_some()
        {
            return bad("a client certificate needs its key, and a key its certificate".to_owned());
        }
        Ok(())
    }

    /// The host part of [`ClientConfig::addr`]: the TLS server name used
    /// when [`TlsConfig::server_name`] is not set.
    #[must_use]
    pub fn host(&self) -> &str {
        let addr = self.addr.as_str();
        if let Some(rest) = addr.strip_prefix('[')
            && let Some((host, _)) = rest.split_once(']')
        {
            return host;
        }
        addr.rsplit_once(':').map_or(addr, |(host, _)| host)
    }
}

impl Default for ClientConfig {
    /// [`ClientConfig::new`] for [`DEFAULT_ADDR`].
    fn default() -> Self {
        ClientConfig::new(DEFAULT_ADDR)
    }
}

/// PEM text, from a file or in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// Read from this file when connecting.
    File(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

/// TLS settings: whom to trust, whom to expect, and (for mutual TLS) who
/// we are.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsConfig {
    /// CA certificates (PEM) that may sign the server's certificate. Only
    /// these are trusted: there is no system trust store.
    pub ca_pem: Pem,
    /// Name the server's certificate must carry (DNS name or IP address);
    /// `None` uses the host part of the address.
    pub server_name: Option<String>,
    /// Client certificate chain (PEM) for mutual TLS.
    pub client_cert_pem: Option<Pem>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of the client certificate.
    pub client_key_pem: Option<Pem>,
}

impl TlsConfig {
    /// Trust the CAs in `ca_pem`, expect the address's host name, and
    /// present no client certificate.
    #[must_use]
    pub fn new(ca_pem: Pem) -> TlsConfig {
        TlsConfig { ca_pem, server_name: None, client_cert_pem: None, client_key_pem: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_the_address_without_port() {
        assert_eq!(ClientConfig::new("127.0.0.1:7420").host(), "127.0.0.1");
        assert_eq!(ClientConfig::new("db.example:1").host(), "db.example");
        assert_eq!(ClientConfig::new("[::1]:7420").host(), "::1");
        assert_eq!(ClientConfig::new("localhost").host(), "localhost");
    }

    #[test]
    fn validate_rejects_unusable_settings() {
        assert!(ClientConfig::default().validate().is_ok());
        let mut config = ClientConfig::new("127.0.0.1:1");
        config.pool_size = 0;
        assert!(matches!(config.validate(), Err(ClientError::Config(_))));
        let mut config = ClientConfig::new("127.0.0.1:1");
        config.request_timeout = Duration::ZERO;
        assert!(matches!(config.validate(), Err(ClientError::Config(_))));
        let mut config = ClientConfig::new("127.0.0.1:1");
        let mut tls = TlsConfig::new(Pem::Bytes(Vec::new()));
        tls.client_cert_pem = Some(Pem::Bytes(Vec::new()));
        config.tls = Some(tls);
        assert!(matches!(config.validate(), Err(ClientError::Config(_))));
    }
}
