//! The accept loop, shared state, INFO, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use jubilant_engine::Db;
use jubilant_format::wire::{ErrorCode, WireLimits};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::auth::Tokens;
use crate::config::Config;
use crate::conn::{error_frame, serve};
use crate::stats::ServerStats;

/// State shared by every connection.
#[derive(Debug)]
pub struct State {
    /// The database.
    pub db: Arc<Db>,
    /// The configuration in effect.
    pub config: Config,
    /// API tokens.
    pub tokens: Tokens,
    /// Limits for decoding requests.
    pub wire_limits: WireLimits,
    /// The engine worker pool.
    pub workers: Arc<Semaphore>,
    /// Engine requests queued or running.
    pub backlog: AtomicUsize,
    /// Counters.
    pub stats: ServerStats,
    /// When the server started.
    pub started: Instant,
    /// The address actually bound.
    pub local_addr: SocketAddr,
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

impl State {
    /// Every statistic and setting INFO reports (no secrets).
    pub fn info(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = vec![
            ("server.version".into(), env!("CARGO_PKG_VERSION").into()),
            ("server.uptime_s".into(), self.started.elapsed().as_secs().to_string()),
            ("server.listen".into(), self.local_addr.to_string()),
            ("server.data_dir".into(), self.config.data_dir.display().to_string()),
            ("server.tls".into(), if self.config.tls.is_some() { "on" } else { "off" }.into()),
            ("server.auth".into(), if self.tokens.enabled() { "on" } else { "off" }.into()),
            ("server.backlog".into(), self.backlog.load(Ordering::Relaxed).to_string()),
            ("format.version".into(), jubilant_format::FORMAT_VERSION.to_string()),
            ("format.schema_hash".into(), format!("{:#018x}", jubilant_format::SCHEMA_HASH)),
        ];
        out.extend(self.stats.entries().into_iter().map(|(k, v)| (k, v.to_string())));
        if let Ok(stats) = serde_json::to_value(self.db.stats()) {
            flatten("engine", &stats, &mut out);
        }
        let l = &self.config.limits;
        for (k, v) in [
            ("config.limits.max_frame_bytes", l.max_frame_bytes.to_string()),
            ("config.limits.max_connections", l.max_connections.to_string()),
            ("config.limits.read_timeout_ms", l.read_timeout_ms.to_string()),
            ("config.limits.idle_timeout_ms", l.idle_timeout_ms.to_string()),
            ("config.limits.workers", l.workers.to_string()),
            ("config.limits.shed_backlog", l.shed_backlog.to_string()),
            ("config.limits.max_in_flight_per_connection", l.max_in_flight_per_connection.to_string()),
            ("config.engine.cache_bytes", self.config.engine.cache_bytes.to_string()),
            ("config.engine.dirty_bytes_max", self.config.engine.dirty_bytes_max.to_string()),
            ("config.engine.durability", format!("{:?}", self.config.engine.durability).to_lowercase()),
            ("config.auth.tokens", self.config.auth.tokens.len().to_string()),
        ] {
            out.push((k.into(), v));
        }
        out
    }
}

/// A running server.
pub struct Server {
    state: Arc<State>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Server {
    /// Opens the database and binds the listener.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let tls = match &config.tls {
            Some(t) => Some(crate::tls::acceptor(t)?),
            None => None,
        };
        let opts = config.engine_options();
        let dir = config.data_dir.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&dir, opts))
            .await
            .context("open the database")?
            .with_context(|| format!("open data directory {}", config.data_dir.display()))?;
        let listener =
            TcpListener::bind(&config.listen).await.with_context(|| format!("listen on {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let wire_limits = WireLimits { max_frame: config.limits.max_frame_bytes, ..WireLimits::default() };
        let state = Arc::new(State {
            db: Arc::new(db),
            tokens: Tokens::new(config.auth.tokens.clone()),
            wire_limits,
            workers: Arc::new(Semaphore::new(config.limits.workers)),
            backlog: AtomicUsize::new(0),
            stats: ServerStats::default(),
            started: Instant::now(),
            local_addr,
            config,
        });
        Ok(Server { state, listener, tls })
    }

    /// The address bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// Serves until `shutdown` turns true; then stops accepting, lets
    /// in-flight requests finish, and makes every commit durable.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Server { state, listener, tls } = self;
        let c = &state.config;
        tracing::info!(
            "jubilant-server listening on {} (tls: {}, mutual tls: {}, auth: {}, data dir: {})",
            state.local_addr,
            if tls.is_some() { "on" } else { "off" },
            if c.tls.as_ref().is_some_and(|t| t.client_ca.is_some()) { "on" } else { "off" },
            if state.tokens.enabled() { "on" } else { "off" },
            c.data_dir.display()
        );
        let connections = Arc::new(Semaphore::new(c.limits.max_connections));
        let mut tasks = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.changed() => break,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            ServerStats::inc(&state.stats.connections_total);
            let permit = Arc::clone(&connections).try_acquire_owned().ok();
            let (state, tls, shutdown) = (Arc::clone(&state), tls.clone(), shutdown.clone());
            // Reap finished connection tasks so the set stays small.
            while tasks.try_join_next().is_some() {}
            tasks.spawn(async move {
                tracing::debug!(%peer, "connection");
                connection(stream, state, tls, shutdown, permit).await;
            });
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let grace = Duration::from_millis(state.config.limits.shutdown_grace_ms + 1_000);
        let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
        let db = Arc::clone(&state.db);
        drop(state);
        tokio::task::spawn_blocking(move || db.flush()).await.context("flush")?.context("make commits durable")?;
        tracing::info!("shut down cleanly");
        Ok(())
    }
}

async fn connection(
    stream: TcpStream,
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let read_timeout = Duration::from_millis(state.config.limits.read_timeout_ms);
    match tls {
        None => finish(stream, state, shutdown, permit).await,
        Some(acceptor) => match tokio::time::timeout(read_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls_stream)) => finish(tls_stream, state, shutdown, permit).await,
            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        },
    }
}

async fn finish<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static>(
    mut stream: S,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let Some(permit) = permit else {
        ServerStats::inc(&state.stats.connections_refused);
        let frame = error_frame(
            0,
            ErrorCode::TooManyConnections,
            format!("the server has reached its limit of {} connections", state.config.limits.max_connections),
        );
        let _ = stream.write_all(&frame).await;
        let _ = stream.shutdown().await;
        return;
    };
    state.stats.connections_open.fetch_add(1, Ordering::Relaxed);
    serve(stream, Arc::clone(&state), shutdown).await;
    state.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}
