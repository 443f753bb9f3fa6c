//! The accept loop, shared state, INFO, and graceful shutdown.
//!
//! The tunables a reload may change live in [`Live`], behind an
//! [`ArcSwap`]: a request loads it once and sees either the old or the new
//! configuration, never a mix. The worker and connection pools are
//! semaphores resized by the reload (see [`crate::reload`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::tls::SwappableAcceptor;
use anyhow::Context;
use arc_swap::ArcSwap;
use jubilant_engine::Db;
use jubilant_format::wire::{ErrorCode, WireLimits};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::auth::Tokens;
use crate::config::{Config, ConfigSource};
use crate::conn::{error_frame, serve};
use crate::logging::LogHandle;
use crate::metrics::Family;
use crate::stats::ServerStats;

/// The tunables in effect; replaced whole by a reload.
#[derive(Debug)]
pub struct Live {
    /// The configuration in effect (restart-only keys at their start
    /// values).
    pub config: Config,
    /// API tokens.
    pub tokens: Tokens,
    /// Limits for decoding requests.
    pub wire_limits: WireLimits,
}

impl Live {
    /// The tunables of `config`.
    #[must_use]
    pub fn new(config: Config) -> Live {
        let tokens = Tokens::new(config.auth.tokens.clone());
        let wire_limits = WireLimits { max_frame: config.limits.max_frame_bytes, ..WireLimits::default() };
        Live { config, tokens, wire_limits }
    }
}

/// State shared by every connection.
#[derive(Debug)]
pub struct State {
    /// The database.
    pub db: Arc<Db>,
    /// The tunables in effect.
    pub live: ArcSwap<Live>,
    /// The engine worker pool (`limits.workers` permits).
    pub workers: Arc<Semaphore>,
    /// The commit thread, for writes staged on the reactor.
    pub committer: crate::committer::Committer,
    /// Connection slots (`limits.max_connections` permits).
    pub connections: Arc<Semaphore>,
    /// Engine requests queued or running.
    pub backlog: AtomicUsize,
    /// Counters.
    pub stats: ServerStats,
    /// When the server started.
    pub started: Instant,
    /// The address actually bound.
    pub local_addr: SocketAddr,
    /// The admin listener's address, when on.
    pub admin_addr: Option<SocketAddr>,
    /// The TLS acceptor, swapped when a reload re-reads the certificates.
    pub tls: Option<SwappableAcceptor>,
    /// Where the configuration came from (for reloads).
    pub source: ConfigSource,
    /// The log filter, when this process installed the subscriber.
    pub log: Option<LogHandle>,
    /// Serializes reloads.
    pub reload_lock: std::sync::Mutex<()>,
    next_connection: AtomicU64,
}

impl State {
    /// A new connection id, for logs and spans.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Every metric family, the engine's sampled now. Blocking: `Db::stats`
    /// may wait for a running checkpoint, so call it off the reactor.
    #[must_use]
    pub fn families(&self) -> Vec<Family> {
        let engine = self.db.stats();
        let live = self.live.load();
        let workers = live.config.limits.workers;
        let idle = self.workers.available_permits();
        let mut families = self.stats.families();
        families.extend([
            Family::gauge(
                "server.backlog",
                "Engine requests queued or running.",
                self.backlog.load(Ordering::Relaxed) as u64,
            ),
            Family::gauge("server.workers", "Size of the engine worker pool (limits.workers).", workers as u64),
            Family::gauge(
                "server.workers_busy",
                "Workers running engine work now.",
                workers.saturating_sub(idle) as u64,
            ),
            Family::gauge_f64(
                "server.uptime_seconds",
                "Time since the server started.",
                self.started.elapsed().as_secs_f64(),
            ),
        ]);
        families.extend(crate::metrics::engine::families(&engine));
        families
    }

    /// Every statistic and setting INFO reports: identity, every metric
    /// family (see [`crate::metrics`]), and the configuration in effect as
    /// `config.<key>` (token secrets are never serialized). Blocking, like
    /// [`State::families`].
    #[must_use]
    pub fn info(&self) -> Vec<(String, String)> {
        let live = self.live.load();
        let c = &live.config;
        let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
        let mut out: Vec<(String, String)> = vec![
            ("server.version".into(), env!("CARGO_PKG_VERSION").into()),
            ("server.listen".into(), self.local_addr.to_string()),
            ("server.admin_listen".into(), self.admin_addr.map_or_else(|| "off".into(), |a| a.to_string())),
            ("server.data_dir".into(), c.data_dir.display().to_string()),
            (
                "server.config_file".into(),
                self.source.path.as_ref().map_or_else(|| "none (defaults)".into(), |p| p.display().to_string()),
            ),
            ("server.tls".into(), on_off(self.tls.is_some())),
            ("server.mutual_tls".into(), on_off(c.tls.as_ref().is_some_and(|t| t.client_ca.is_some()))),
            ("server.auth".into(), on_off(live.tokens.enabled())),
            ("format.version".into(), jubilant_format::FORMAT_VERSION.to_string()),
            ("format.schema_hash".into(), format!("{:#018x}", jubilant_format::SCHEMA_HASH)),
        ];
        out.extend(crate::metrics::info_entries(&self.families()));
        // Plain strings without their TOML quotes; everything else as TOML.
        let unquote = |v: String| match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) if !inner.contains(['\\', '"']) => inner.to_owned(),
            _ => v,
        };
        out.extend(crate::config::keys::flatten(c).into_iter().map(|(k, v)| (format!("config.{k}"), unquote(v))));
        out.push(("config.auth.token_count".into(), c.auth.tokens.len().to_string()));
        out
    }
}

/// A running server.
pub struct Server {
    state: Arc<State>,
    listener: TcpListener,
    admin: Option<TcpListener>,
}

impl Server {
    /// Opens the database and binds the listeners. `config` is
    /// `source.load()`'s result (validated); `log` changes the log level on
    /// reload.
    pub async fn bind(config: Config, source: ConfigSource, log: Option<LogHandle>) -> anyhow::Result<Server> {
        let tls = match &config.tls {
            Some(t) => Some(SwappableAcceptor::new(crate::tls::acceptor(t)?)),
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
        let admin = match &config.admin.listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("admin listener on {addr}"))?),
            None => None,
        };
        let admin_addr = admin.as_ref().map(TcpListener::local_addr).transpose()?;
        crate::redact::set_show_data(config.log.unsafe_show_data);
        let db = Arc::new(db);
        let committer = crate::committer::Committer::start(Arc::clone(&db)).context("start the commit thread")?;
        let state = Arc::new(State {
            db,
            committer,
            workers: Arc::new(Semaphore::new(config.limits.workers)),
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            backlog: AtomicUsize::new(0),
            stats: ServerStats::default(),
            started: Instant::now(),
            local_addr,
            admin_addr,
            tls,
            source,
            log,
            reload_lock: std::sync::Mutex::new(()),
            next_connection: AtomicU64::new(0),
            live: ArcSwap::from_pointee(Live::new(config)),
        });
        Ok(Server { state, listener, admin })
    }

    /// The address bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// The shared state (for reloads and INFO from outside the server).
    #[must_use]
    pub fn state(&self) -> Arc<State> {
        Arc::clone(&self.state)
    }

    /// Serves until `shutdown` turns true; then stops accepting, lets
    /// in-flight requests finish, and makes every commit durable. SIGHUP
    /// reloads the configuration.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Server { state, listener, admin } = self;
        // Listen for SIGHUP before announcing the address: from then on a
        // SIGHUP must reload, never take the default action (exit).
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        if let Err(e) = &hup {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with `jubectl config reload`");
        }
        {
            let live = state.live.load();
            let c = &live.config;
            tracing::info!(
                "jubilant-server listening on {} (tls: {}, mutual tls: {}, auth: {}, data dir: {})",
                state.local_addr,
                if state.tls.is_some() { "on" } else { "off" },
                if c.tls.as_ref().is_some_and(|t| t.client_ca.is_some()) { "on" } else { "off" },
                if live.tokens.enabled() { "on" } else { "off" },
                c.data_dir.display()
            );
        }
        let mut background = JoinSet::new();
        if let (Some(admin), Some(addr)) = (admin, state.admin_addr) {
            tracing::info!("metrics endpoint on http://{addr}/metrics");
            background.spawn(crate::admin::serve(admin, Arc::clone(&state), shutdown.clone()));
        }
        if let Ok(hup) = hup {
            background.spawn(reload_on_sighup(hup, Arc::clone(&state), shutdown.clone()));
        }
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
            ServerStats::inc(&state.stats.connections_accepted);
            let permit = Arc::clone(&state.connections).try_acquire_owned().ok();
            let (state, shutdown) = (Arc::clone(&state), shutdown.clone());
            // Reap finished connection tasks so the set stays small.
            while tasks.try_join_next().is_some() {}
            tasks.spawn(async move {
                let conn = state.next_connection_id();
                tracing::debug!(%peer, conn, "connection");
                connection(stream, state, shutdown, permit, conn).await;
            });
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let grace = Duration::from_millis(state.live.load().config.limits.shutdown_grace_ms + 1_000);
        let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
        background.abort_all();
        while background.join_next().await.is_some() {}
        // Publish what the commit thread holds, then make everything durable.
        tokio::task::spawn_blocking(move || {
            state.committer.stop();
            let db = Arc::clone(&state.db);
            drop(state);
            db.flush()
        })
        .await
        .context("flush")?
        .context("make commits durable")?;
        tracing::info!("shut down cleanly");
        Ok(())
    }
}

/// Reloads the configuration on every SIGHUP until shutdown.
async fn reload_on_sighup(
    mut hup: tokio::signal::unix::Signal,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            got = hup.recv() => if got.is_none() { return },
            _ = shutdown.changed() => return,
        }
        tracing::info!("SIGHUP: reloading the configuration");
        let state = Arc::clone(&state);
        // The outcome is logged by the reload itself.
        let _ = tokio::task::spawn_blocking(move || crate::reload::reload(&state)).await;
    }
}

async fn connection(
    stream: TcpStream,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    conn: u64,
) {
    let acceptor = state.tls.as_ref().map(SwappableAcceptor::current);
    match acceptor {
        None => finish(stream, state, shutdown, permit, conn).await,
        Some(acceptor) => {
            let read_timeout = Duration::from_millis(state.live.load().config.limits.read_timeout_ms);
            match tokio::time::timeout(read_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => finish(tls_stream, state, shutdown, permit, conn).await,
                Ok(Err(e)) => tracing::debug!(conn, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(conn, "TLS handshake timed out"),
            }
        }
    }
}

async fn finish<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static>(
    mut stream: S,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    conn: u64,
) {
    let Some(permit) = permit else {
        ServerStats::inc(&state.stats.connections_refused);
        let max = state.live.load().config.limits.max_connections;
        let frame = error_frame(
            0,
            ErrorCode::TooManyConnections,
            format!("the server has reached its limit of {max} connections"),
        );
        let _ = stream.write_all(&frame).await;
        let _ = stream.shutdown().await;
        return;
    };
    state.stats.connections_open.fetch_add(1, Ordering::Relaxed);
    serve(stream, Arc::clone(&state), shutdown, conn).await;
    state.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}
