//! One client connection: frames in, requests dispatched, responses out.
//!
//! The reader reads one frame at a time (the length is checked before
//! anything is allocated; once a frame has started it must complete within
//! the read timeout), decodes and authorizes it, and either answers at
//! once (PING, AUTH, INFO, errors) or hands engine work to the worker pool.
//! Responses go through a channel to the writer, so pipelined requests are
//! answered as they finish, each with its request id. A connection stops
//! reading once it has `max_in_flight_per_connection` requests running.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jubilant_format::Error as FormatError;
use jubilant_format::wire::{
    ErrorCode, FRAME_PREFIX_LEN, Op, RequestBody, Response, ResponseBody, WireError, decode_request, encode_frame,
    frame_len,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::{Instant, timeout, timeout_at};

use crate::auth::Principal;
use crate::config::Role;
use crate::convert::{engine_error, outcome_to_wire, to_engine};
use crate::server::State;
use crate::stats::ServerStats;

/// Encodes a response as a frame.
#[must_use]
pub fn response_frame(id: u64, body: ResponseBody) -> Vec<u8> {
    let encoded = Response { id, body }.encode();
    let mut frame = Vec::with_capacity(FRAME_PREFIX_LEN + encoded.len());
    encode_frame(&encoded, &mut frame);
    frame
}

/// An error response frame.
#[must_use]
pub fn error_frame(id: u64, code: ErrorCode, message: impl Into<String>) -> Vec<u8> {
    response_frame(id, ResponseBody::Error(WireError::new(code, message)))
}

enum ReadError {
    /// The peer closed the connection between frames.
    Eof,
    /// Idle too long, or a frame stalled.
    Timeout,
    /// The length prefix exceeds the limit.
    TooLarge(u64),
    /// The socket failed.
    Io,
}

async fn read_frame<R: AsyncRead + Unpin>(rd: &mut R, state: &State) -> Result<Vec<u8>, ReadError> {
    let limits = &state.config.limits;
    let mut prefix = [0u8; FRAME_PREFIX_LEN];
    match timeout(Duration::from_millis(limits.idle_timeout_ms), rd.read(&mut prefix[..1])).await {
        Err(_) => return Err(ReadError::Timeout),
        Ok(Ok(0)) => return Err(ReadError::Eof),
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return Err(ReadError::Io),
    }
    // The frame has started: all of it must arrive within the read timeout.
    let deadline = Instant::now() + Duration::from_millis(limits.read_timeout_ms);
    match timeout_at(deadline, rd.read_exact(&mut prefix[1..])).await {
        Err(_) => return Err(ReadError::Timeout),
        Ok(Err(_)) => return Err(ReadError::Io),
        Ok(Ok(_)) => {}
    }
    let len = match frame_len(prefix, limits.max_frame_bytes) {
        Ok(len) => len,
        Err(FormatError::FrameTooLarge { len, .. }) => return Err(ReadError::TooLarge(len)),
        Err(_) => return Err(ReadError::Io),
    };
    let mut body = vec![0u8; len];
    match timeout_at(deadline, rd.read_exact(&mut body)).await {
        Err(_) => Err(ReadError::Timeout),
        Ok(Err(_)) => Err(ReadError::Io),
        Ok(Ok(_)) => {
            state.stats.bytes_in.fetch_add((FRAME_PREFIX_LEN + len) as u64, Ordering::Relaxed);
            Ok(body)
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(wr: W, mut rx: mpsc::Receiver<Vec<u8>>, state: Arc<State>) {
    let mut wr = BufWriter::with_capacity(64 << 10, wr);
    while let Some(frame) = rx.recv().await {
        let mut n = frame.len();
        if wr.write_all(&frame).await.is_err() {
            return;
        }
        // Write whatever else is ready before flushing: one syscall for a
        // burst of pipelined responses.
        while let Ok(more) = rx.try_recv() {
            n += more.len();
            if wr.write_all(&more).await.is_err() {
                return;
            }
        }
        if wr.flush().await.is_err() {
            return;
        }
        state.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = wr.shutdown().await;
}

/// Why a request may not run.
fn authorize(principal: &Principal, body: &RequestBody) -> Result<(), String> {
    match body {
        RequestBody::Txn(ops) => {
            for (i, op) in ops.iter().enumerate() {
                let writes = matches!(op, Op::Set { .. } | Op::Del { .. });
                if writes && principal.role < Role::Write {
                    return Err(format!("operation {i}: a {} token cannot write", principal.role.name()));
                }
                let allowed = match op {
                    Op::Get { key } | Op::Set { key, .. } | Op::Del { key } | Op::Assert { key, .. } => {
                        principal.may_touch(key)
                    }
                    Op::Scan { start, end, .. } => principal.may_scan(start.as_deref(), end.as_deref()),
                };
                if !allowed {
                    return Err(format!("operation {i}: outside the key prefixes this token may touch"));
                }
            }
            Ok(())
        }
        RequestBody::Checkpoint | RequestBody::ConfigReload if principal.role < Role::Admin => {
            Err(format!("a {} token cannot do this; it needs admin", principal.role.name()))
        }
        _ => Ok(()),
    }
}

/// Serves one connection until the peer closes it, it misbehaves, or the
/// server shuts down.
pub async fn serve<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut rd, wr) = tokio::io::split(stream);
    let max_in_flight = state.config.limits.max_in_flight_per_connection;
    let (tx, rx) = mpsc::channel::<Vec<u8>>(max_in_flight + 4);
    let writer = tokio::spawn(write_loop(wr, rx, Arc::clone(&state)));
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    let mut principal = if state.tokens.enabled() { None } else { Some(Principal::unrestricted()) };
    loop {
        if *shutdown.borrow() {
            break;
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { break };
        let frame = tokio::select! {
            frame = read_frame(&mut rd, &state) => frame,
            _ = shutdown.changed() => break,
        };
        let body = match frame {
            Ok(body) => body,
            Err(ReadError::TooLarge(len)) => {
                ServerStats::inc(&state.stats.malformed);
                let msg =
                    format!("frame of {len} bytes exceeds the maximum of {}", state.config.limits.max_frame_bytes);
                let _ = tx.send(error_frame(0, ErrorCode::FrameTooLarge, msg)).await;
                break;
            }
            Err(ReadError::Eof | ReadError::Timeout | ReadError::Io) => break,
        };
        handle(&state, &tx, permit, &body, &mut principal).await;
    }
    // Let running requests finish and their responses go out.
    let grace = Duration::from_millis(state.config.limits.shutdown_grace_ms);
    let _ = timeout(grace, in_flight.acquire_many(max_in_flight as u32)).await;
    drop(tx);
    let _ = writer.await;
}

async fn send(state: &State, tx: &mpsc::Sender<Vec<u8>>, id: u64, body: ResponseBody) {
    if matches!(body, ResponseBody::Error(_)) {
        ServerStats::inc(&state.stats.errors);
    }
    let _ = tx.send(response_frame(id, body)).await;
}

async fn handle(
    state: &Arc<State>,
    tx: &mpsc::Sender<Vec<u8>>,
    permit: OwnedSemaphorePermit,
    body: &[u8],
    principal: &mut Option<Principal>,
) {
    let error = |code, message: String| ResponseBody::Error(WireError::new(code, message));
    let request = match decode_request(body, &state.wire_limits) {
        Ok(r) => r,
        Err(e) => {
            ServerStats::inc(&state.stats.malformed);
            let (id, code) = match &e {
                FormatError::UnsupportedRequest { id, .. } => (id.unwrap_or(0), ErrorCode::Unsupported),
                FormatError::MalformedRequest { id, .. } => (id.unwrap_or(0), ErrorCode::Malformed),
                _ => (0, ErrorCode::Malformed),
            };
            send(state, tx, id, error(code, e.to_string())).await;
            return;
        }
    };
    let id = request.id;
    if let RequestBody::Auth { token } = &request.body {
        ServerStats::inc(&state.stats.requests_auth);
        match state.tokens.authenticate(token) {
            Some(p) => {
                let role = p.role.name().to_owned();
                *principal = Some(p);
                send(state, tx, id, ResponseBody::Auth { role }).await;
            }
            None if !state.tokens.enabled() => {
                send(state, tx, id, ResponseBody::Auth { role: "admin".into() }).await;
            }
            None => {
                ServerStats::inc(&state.stats.auth_failures);
                tracing::warn!("authentication failed");
                send(state, tx, id, error(ErrorCode::Unauthenticated, "invalid token".into())).await;
            }
        }
        return;
    }
    let Some(who) = principal.as_ref() else {
        ServerStats::inc(&state.stats.auth_failures);
        send(state, tx, id, error(ErrorCode::Unauthenticated, "authenticate with AUTH first".into())).await;
        return;
    };
    if let Err(message) = authorize(who, &request.body) {
        ServerStats::inc(&state.stats.forbidden);
        send(state, tx, id, error(ErrorCode::Forbidden, message)).await;
        return;
    }
    match request.body {
        RequestBody::Ping { payload } => {
            ServerStats::inc(&state.stats.requests_ping);
            send(state, tx, id, ResponseBody::Pong { payload }).await;
        }
        RequestBody::Info => {
            ServerStats::inc(&state.stats.requests_info);
            send(state, tx, id, ResponseBody::Info(state.info())).await;
        }
        RequestBody::ConfigReload => {
            ServerStats::inc(&state.stats.requests_config_reload);
            let message = "configuration reload is not available in this build; restart the server";
            send(state, tx, id, error(ErrorCode::Unsupported, message.into())).await;
        }
        RequestBody::Checkpoint => {
            ServerStats::inc(&state.stats.requests_checkpoint);
            dispatch(state, tx, id, permit, Work::Checkpoint).await;
        }
        RequestBody::Txn(ops) => {
            ServerStats::inc(&state.stats.requests_txn);
            dispatch(state, tx, id, permit, Work::Txn(ops)).await;
        }
        RequestBody::Auth { .. } => unreachable!("handled above"),
    }
}

enum Work {
    Txn(Vec<Op>),
    Checkpoint,
}

/// Runs engine work on the worker pool, or answers BUSY when the backlog
/// is over the threshold.
async fn dispatch(state: &Arc<State>, tx: &mpsc::Sender<Vec<u8>>, id: u64, permit: OwnedSemaphorePermit, work: Work) {
    let backlog = state.backlog.fetch_add(1, Ordering::AcqRel);
    if backlog >= state.config.limits.shed_backlog {
        state.backlog.fetch_sub(1, Ordering::AcqRel);
        ServerStats::inc(&state.stats.busy_sheds);
        let message = format!("server busy: {backlog} requests queued; retry after a backoff");
        send(state, tx, id, ResponseBody::Error(WireError::new(ErrorCode::Busy, message))).await;
        return;
    }
    let (state, tx) = (Arc::clone(state), tx.clone());
    tokio::spawn(async move {
        let body = match Arc::clone(&state.workers).acquire_owned().await {
            Err(_) => ResponseBody::Error(WireError::new(ErrorCode::ShuttingDown, "the server is shutting down")),
            Ok(worker) => {
                let db = Arc::clone(&state.db);
                let result = tokio::task::spawn_blocking(move || match work {
                    Work::Txn(ops) => db.transact(&to_engine(&ops)).map(outcome_to_wire),
                    Work::Checkpoint => db.checkpoint().map(|info| {
                        let sb = db.stats().superblock;
                        ResponseBody::Checkpoint {
                            checkpoint_lsn: info.map_or(sb.checkpoint_lsn.get(), |i| i.checkpoint_lsn.get()),
                            generation: info.map_or(sb.generation.get(), |i| i.generation.get()),
                        }
                    }),
                })
                .await;
                drop(worker);
                match result {
                    Ok(Ok(body)) => body,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "request failed");
                        ResponseBody::Error(engine_error(&e))
                    }
                    Err(join) => {
                        tracing::error!(error = %join, "engine task panicked");
                        ResponseBody::Error(WireError::new(ErrorCode::Internal, "internal error"))
                    }
                }
            }
        };
        state.backlog.fetch_sub(1, Ordering::AcqRel);
        send(&state, &tx, id, body).await;
        drop(permit);
    });
}
