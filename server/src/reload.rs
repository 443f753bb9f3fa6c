//! Live reload: re-read the configuration file, validate it, and put the
//! reloadable tunables in effect — or change nothing and say why.
//!
//! Order: everything that can fail (reading and validating the file,
//! building the TLS acceptor from the certificate files) happens first;
//! then the new [`Live`] is swapped in with one atomic store (tokens,
//! limits, shedding threshold together), and the pools, log filter, data
//! redaction and TLS acceptor follow. Restart-only keys keep their old
//! value and are reported (see [`crate::config::keys`]).
//!
//! Growing a pool adds permits at once; shrinking forgets idle permits at
//! once and takes the rest as running work releases them.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::keys::plan_reload;
use crate::server::{Live, State};
use crate::stats::ServerStats;

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// Keys whose new value is in effect.
    pub applied: Vec<String>,
    /// Keys that changed but keep their old value until a restart.
    pub needs_restart: Vec<String>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The server runs on defaults: there is no file to re-read.
    #[error("the server was started without --config; there is no configuration file to reload")]
    NoFile,
    /// The file is unreadable or invalid.
    #[error("invalid configuration, nothing was changed: {0}")]
    Invalid(String),
}

/// Reloads the configuration (blocking: reads files). Logs the outcome.
pub fn reload(state: &State) -> Result<ReloadReport, ReloadError> {
    let _one_at_a_time = state.reload_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let result = try_reload(state);
    match &result {
        Ok(report) => {
            ServerStats::inc(&state.stats.config_reloads_ok);
            tracing::info!(applied = ?report.applied, needs_restart = ?report.needs_restart, "configuration reloaded");
        }
        Err(e) => {
            ServerStats::inc(&state.stats.config_reloads_failed);
            tracing::warn!("configuration reload refused: {e}");
        }
    }
    result
}

fn try_reload(state: &State) -> Result<ReloadReport, ReloadError> {
    if state.source.path.is_none() {
        return Err(ReloadError::NoFile);
    }
    let new = state.source.load().map_err(|e| ReloadError::Invalid(e.to_string()))?;
    let old = state.live.load_full();
    let plan = plan_reload(&old.config, new);
    let config = plan.effective;
    // Build the TLS acceptor before changing anything: a bad certificate
    // fails the whole reload.
    let acceptor = match (&config.tls, &state.tls) {
        (Some(tls), Some(_)) => {
            Some(crate::tls::acceptor(tls).map_err(|e| ReloadError::Invalid(format!("TLS: {e:#}")))?)
        }
        _ => None,
    };
    // The engine's live tunables, validated by the engine before anything
    // else changes.
    let (oe, ne) = (&old.config.engine, &config.engine);
    let changes = jubilant_engine::TunableChanges {
        cache_bytes: (oe.cache_bytes != ne.cache_bytes).then_some(ne.cache_bytes),
        dirty_bytes_max: (oe.dirty_bytes_max != ne.dirty_bytes_max).then_some(ne.dirty_bytes_max),
        checkpoint_wal_bytes: (oe.checkpoint_wal_bytes != ne.checkpoint_wal_bytes).then_some(ne.checkpoint_wal_bytes),
        checkpoint_interval: (oe.checkpoint_interval_ms != ne.checkpoint_interval_ms)
            .then(|| std::time::Duration::from_millis(ne.checkpoint_interval_ms)),
        checkpoint_idle: (oe.checkpoint_idle_ms != ne.checkpoint_idle_ms)
            .then(|| std::time::Duration::from_millis(ne.checkpoint_idle_ms)),
        ttl_sweep_interval: None,
        lock_timeout: (oe.lock_timeout_ms != ne.lock_timeout_ms)
            .then(|| std::time::Duration::from_millis(ne.lock_timeout_ms)),
    };
    if changes != jubilant_engine::TunableChanges::default() {
        state.db.set_tunables(&changes).map_err(|e| ReloadError::Invalid(e.to_string()))?;
    }
    let (old_limits, new_limits) = (old.config.limits.clone(), config.limits.clone());
    let level_changed = old.config.log.level != config.log.level;
    let level = config.log.level.clone();
    let show_data = config.log.unsafe_show_data;
    state.live.store(Arc::new(Live::new(config)));
    resize(&state.workers, old_limits.workers, new_limits.workers);
    resize(&state.connections, old_limits.max_connections, new_limits.max_connections);
    crate::redact::set_show_data(show_data);
    if level_changed && let Some(log) = &state.log {
        // Validation parsed the filter already; a failure here means the
        // subscriber is gone.
        if let Err(e) = log.set_level(&level) {
            tracing::warn!(error = %e, "could not change the log level");
        }
    }
    if let (Some(acceptor), Some(slot)) = (acceptor, &state.tls) {
        slot.replace(acceptor);
    }
    Ok(ReloadReport { applied: plan.applied, needs_restart: plan.needs_restart })
}

/// Resizes a pool of `old` permits to `new`.
fn resize(pool: &Arc<Semaphore>, old: usize, new: usize) {
    if new > old {
        pool.add_permits(new - old);
    } else if new < old {
        let missing = (old - new) - pool.forget_permits(old - new);
        if missing > 0 {
            let pool = Arc::clone(pool);
            // Take the busy permits as their holders release them. FIFO:
            // new acquirers wait behind this, so the pool really shrinks.
            tokio::spawn(async move {
                if let Ok(permits) = pool.acquire_many_owned(u32::try_from(missing).unwrap_or(u32::MAX)).await {
                    permits.forget();
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resizing_adds_and_forgets_permits() {
        let pool = Arc::new(Semaphore::new(4));
        resize(&pool, 4, 6);
        assert_eq!(pool.available_permits(), 6);
        let busy = Arc::clone(&pool).acquire_many_owned(5).await.unwrap();
        resize(&pool, 6, 2);
        // One idle permit was forgotten at once; three more go as work ends.
        assert_eq!(pool.available_permits(), 0);
        drop(busy);
        for _ in 0..100 {
            if pool.available_permits() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(pool.available_permits(), 2);
    }
}
