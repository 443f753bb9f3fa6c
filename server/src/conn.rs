//! One client connection: frames in, requests dispatched, responses out.
//!
//! One task per connection reads into a buffer (a length is checked before
//! anything is allocated; once a frame has started it must complete within
//! the read timeout) and handles every whole frame buffered as one batch:
//! it decodes and authorizes each, answers at once what needs no engine
//! work (PING, AUTH, INFO, CONFIG RELOAD, errors) and single GETs whose
//! answer is in memory (read in place, key and entry borrowed:
//! [`answer_get_in_place`]), and
//! hands the batch's transactions on as one group: the leading SET-only
//! ones staged in place ([`jubilant_engine::Db::try_stage_writes`]) for the
//! commit thread, the rest to the worker pool
//! ([`jubilant_engine::Db::transact_group`]). A connection's transactions
//! take effect in the order sent (PING, INFO, CHECKPOINT and CONFIG RELOAD
//! are answered as they come). The batch's answers leave in one write; a
//! group's come back through a channel and leave as they finish, each with
//! its request id. A connection stops reading once it has
//! `max_in_flight_per_connection` requests running.
//!
//! Every request runs in a `request` span (`conn`, `id`, `op`); engine work
//! in a child `commit` or `checkpoint` span. Keys, values and tokens reach
//! the log only through [`crate::redact`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jubilant_format::Error as FormatError;
use jubilant_format::wire::{
    Decoded, ErrorCode, FRAME_PREFIX_LEN, KeyValueRef, Op, Request, RequestBody, Response, ResponseBody, WireError,
    decode_request_or_get, encode_frame, frame_len, laid,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::auth::Principal;
use crate::config::Role;
use crate::convert::{engine_error, outcome_to_wire, to_engine};
use crate::redact;
use crate::reload::ReloadError;
use crate::server::{Live, State};
use crate::stats::{RequestOp, ServerStats, result_name};

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

/// Bytes read from the socket at a time: room for the pipelined frames of
/// a burst.
const READ_BUFFER: usize = 64 << 10;

/// What the head of the read buffer holds.
enum Head {
    /// Not a whole frame yet.
    Partial,
    /// A whole frame: the body is this many bytes after the prefix.
    Frame(usize),
    /// A length prefix over the limit.
    TooLarge(u64),
}

/// Looks at the head of `buffered` (the length is checked before anything
/// is allocated for the body).
fn head(buffered: &[u8], max_frame: usize) -> Head {
    let Some(prefix) = buffered.first_chunk::<FRAME_PREFIX_LEN>() else { return Head::Partial };
    match frame_len(*prefix, max_frame) {
        Ok(len) if buffered.len() - FRAME_PREFIX_LEN >= len => Head::Frame(len),
        Ok(_) => Head::Partial,
        Err(FormatError::FrameTooLarge { len, .. }) => Head::TooLarge(len),
        // `frame_len` fails only for a length over the limit.
        Err(_) => Head::TooLarge(u64::from(u32::from_le_bytes(*prefix))),
    }
}

/// Writes `bytes` (whole response frames) and flushes them (TLS buffers
/// until a flush); false when the socket failed.
async fn write_out<W: AsyncWrite + Unpin>(wr: &mut W, bytes: &[u8], state: &State) -> bool {
    if bytes.is_empty() {
        return true;
    }
    let ok = wr.write_all(bytes).await.is_ok() && wr.flush().await.is_ok();
    if ok {
        state.stats.bytes_out.add(bytes.len() as u64);
    }
    ok
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

/// Who the connection is.
struct Session {
    /// The principal, once known.
    principal: Option<Principal>,
    /// The principal was granted because authentication was off, not by a
    /// token: it is withdrawn if a reload turns authentication on.
    anonymous: bool,
}

impl Session {
    /// Follows the tokens in effect: a reload that turns authentication on
    /// withdraws anonymous access; one that turns it off grants it.
    /// Token-authenticated connections keep their role.
    fn sync(&mut self, auth_enabled: bool) {
        if auth_enabled && self.anonymous {
            *self = Session { principal: None, anonymous: false };
        } else if !auth_enabled && self.principal.is_none() {
            *self = Session { principal: Some(Principal::unrestricted()), anonymous: true };
        }
    }
}

/// Serves one connection until the peer closes it, it misbehaves, or the
/// server shuts down.
///
/// One task does all of a connection's I/O: it reads into a buffer (a
/// cancel-safe read, raced against the answers of running groups, the
/// timeouts and shutdown), handles every whole frame buffered as one batch,
/// and writes answers itself. Groups on the pool or the commit thread send
/// their answers back through a channel, releasing their in-flight permits
/// first (so a connection that stopped reading for want of permits can read
/// again once it has taken their answers).
pub async fn serve<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
    mut stream: S,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
    conn: u64,
) {
    // Set when the connection opens; a reload applies to later connections.
    let max_in_flight = state.live.load().config.limits.max_in_flight_per_connection;
    // Unbounded, yet bounded in practice: a group answers only requests
    // that hold in-flight permits. (A bounded channel could fill while this
    // task waits for a group that is itself waiting to send.)
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    // The latest group of this connection, if any. A connection's requests
    // run in the order sent: a group waits for the one before it, except
    // that writes staged in the WAL are already in order.
    let mut running: Option<Running> = None;
    let mut session = Session { principal: None, anonymous: false };
    // Bytes read and not yet handled: `buf[start..]`.
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BUFFER);
    let mut start = 0;
    // When the incomplete frame at the head of the buffer started; once a
    // frame has started, all of it must arrive within the read timeout.
    let mut frame_started: Option<Instant> = None;
    let mut idle_since = Instant::now();
    // The answers of a batch, reused from batch to batch.
    let mut out: Vec<u8> = Vec::new();
    // One timer and one shutdown future for the connection's life, not
    // one per loop turn (registering them each turn cost ~3% of a GET):
    // the timer is moved only when the deadline comes earlier than the one
    // armed, or when it fires before the current deadline.
    let idle = Duration::from_millis(state.live.load().config.limits.idle_timeout_ms);
    let timer = tokio::time::sleep_until(idle_since + idle);
    tokio::pin!(timer);
    let mut armed = timer.deadline();
    let shutdown_changed = shutdown.changed();
    tokio::pin!(shutdown_changed);
    // Set once the connection stops reading (EOF, a socket error, a
    // timeout, a frame over the limit, shutdown).
    let mut closing = false;
    loop {
        // Every whole frame buffered is one batch (as far as permits go).
        // The tunables in effect for this batch (a reload applies to the next).
        let live = state.live.load_full();
        let limits = &live.config.limits;
        let mut queued = Vec::new();
        out.clear();
        while !closing {
            let len = match head(buf.get(start..).unwrap_or_default(), limits.max_frame_bytes) {
                Head::Partial => break,
                Head::TooLarge(len) => {
                    ServerStats::inc(&state.stats.malformed);
                    let msg = format!("frame of {len} bytes exceeds the maximum of {}", limits.max_frame_bytes);
                    let body = ResponseBody::Error(WireError::new(ErrorCode::FrameTooLarge, msg));
                    reply(&state, &mut out, RequestOp::Unknown, Instant::now(), 0, body);
                    closing = true;
                    break;
                }
                Head::Frame(len) => len,
            };
            let body_range = start + FRAME_PREFIX_LEN..start + FRAME_PREFIX_LEN + len;
            // A request's time starts when the read that brought its last
            // bytes returned (one clock read per batch, not per request).
            let started = idle_since;
            // Verified once; a single GET comes back with its key in place.
            let decoded =
                match decode_request_or_get(buf.get(body_range.clone()).unwrap_or_default(), &live.wire_limits) {
                    Ok(Decoded::Get { id, key }) => {
                        // Answered from memory here when nothing sent before it
                        // is still running (so the connection's requests still
                        // run in order); it needs no in-flight permit.
                        if queued.is_empty()
                            && running.as_ref().is_none_or(|r| r.task.is_finished())
                            && answer_get_in_place(&state, &live, &mut out, id, key, started, &mut session, conn)
                        {
                            start = body_range.end;
                            state.stats.bytes_in.add((FRAME_PREFIX_LEN + len) as u64);
                            continue;
                        }
                        Ok(Request { id, body: RequestBody::Txn(vec![Op::Get { key: key.to_vec() }]) })
                    }
                    Ok(Decoded::Request(request)) => Ok(request),
                    Err(e) => Err(e),
                };
            let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else { break };
            start = body_range.end;
            state.stats.bytes_in.add((FRAME_PREFIX_LEN + len) as u64);
            if let Some(q) = handle(&state, &live, &tx, &mut out, permit, decoded, started, &mut session, conn).await {
                queued.push(q);
            }
        }
        if !queued.is_empty() {
            let previous = running.take();
            running = dispatch_group(&state, &live, &tx, &mut out, queued, previous).await;
        }
        if !write_out(&mut stream, &out, &state).await {
            break;
        }
        if out.capacity() > READ_BUFFER {
            // A large answer (a long scan) does not pin its memory for the
            // connection's life.
            out = Vec::new();
        }
        // Keep only the unhandled bytes.
        if start >= buf.len() {
            buf.clear();
            start = 0;
            frame_started = None;
        } else if start > 0 {
            // Frames were handled: the one left over started with the
            // bytes just read.
            buf.drain(..start);
            start = 0;
            frame_started = Some(Instant::now());
        } else {
            frame_started = frame_started.or(Some(Instant::now()));
        }
        if closing {
            break;
        }
        let can_read = in_flight.available_permits() > 0;
        let deadline = match frame_started {
            Some(t) => t + Duration::from_millis(limits.read_timeout_ms),
            None => idle_since + Duration::from_millis(limits.idle_timeout_ms),
        };
        if deadline < armed {
            timer.as_mut().reset(deadline);
            armed = deadline;
        }
        tokio::select! {
            read = stream.read_buf(&mut buf), if can_read => match read {
                Ok(0) | Err(_) => closing = true,
                Ok(_) => idle_since = Instant::now(),
            },
            Some(answers) = rx.recv() => {
                let mut answers = answers;
                while let Ok(more) = rx.try_recv() {
                    answers.extend_from_slice(&more);
                }
                if !write_out(&mut stream, &answers, &state).await {
                    break;
                }
            }
            _ = &mut shutdown_changed => closing = true,
            () = &mut timer, if can_read => {
                // Armed for an earlier deadline than today's (the idle one
                // moves with every read): only the current one counts.
                if Instant::now() >= deadline {
                    closing = true;
                } else {
                    timer.as_mut().reset(deadline);
                    armed = deadline;
                }
            }
        }
    }
    // Let running requests finish and their answers go out: the channel
    // ends once every group holding a sender has answered.
    drop(tx);
    let grace = Instant::now() + Duration::from_millis(state.live.load().config.limits.shutdown_grace_ms);
    while let Ok(Some(answers)) = tokio::time::timeout_at(grace, rx.recv()).await {
        if !write_out(&mut stream, &answers, &state).await {
            break;
        }
    }
    // A group still running after the grace period finishes on its own;
    // its answers have nowhere to go.
    drop(running);
    let _ = stream.shutdown().await;
}

/// Counts, logs and queues a response to an `op` request that started at
/// `started`.
fn respond(
    state: &State,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    op: RequestOp,
    started: Instant,
    id: u64,
    body: ResponseBody,
) {
    let mut out = Vec::new();
    reply(state, &mut out, op, started, id, body);
    let _ = tx.send(out);
}

/// Counts and logs a response to an `op` request that started at
/// `started`, and appends its frame to `out`: the responses of one batch
/// go to the writer together, so they leave in one write.
fn reply(state: &State, out: &mut Vec<u8>, op: RequestOp, started: Instant, id: u64, body: ResponseBody) {
    let elapsed = started.elapsed();
    state.stats.record(op, &body, elapsed);
    tracing::debug!(result = result_name(&body), elapsed_us = elapsed.as_micros() as u64, "response");
    let response = Response { id, body };
    // The frequent single GET and SET answers are laid by hand.
    if !laid::try_frame(out, &response) {
        encode_response(out, |fbb| response.encode_with(fbb));
    }
}

type Builder = flatbuffers::FlatBufferBuilder<'static>;

thread_local! {
    /// The FlatBuffers builder of this thread's responses, reused: a new
    /// one per response cost an allocation and its growth each time.
    static BUILDER: std::cell::RefCell<Builder> = std::cell::RefCell::new(Builder::with_capacity(1024));
}

/// A builder that grew past this for one response (a long scan, INFO) is
/// dropped afterwards rather than kept for the thread's life.
const BUILDER_RETAIN: usize = 1 << 20;

/// Appends to `out` the frame of the response `encode` builds, with this
/// thread's reused builder (a fresh one if it is already in use further
/// up the stack, which no caller does today).
fn encode_response(out: &mut Vec<u8>, encode: impl for<'b> FnOnce(&'b mut Builder) -> &'b [u8]) {
    BUILDER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut fbb) => {
            let bytes = encode(&mut fbb);
            encode_frame(bytes, out);
            if bytes.len() > BUILDER_RETAIN {
                *fbb = Builder::with_capacity(1024);
            }
        }
        Err(_) => encode_frame(encode(&mut Builder::new()), out),
    });
}

fn request_op(body: &RequestBody) -> RequestOp {
    match body {
        RequestBody::Txn(_) => RequestOp::Txn,
        RequestBody::Auth { .. } => RequestOp::Auth,
        RequestBody::Ping { .. } => RequestOp::Ping,
        RequestBody::Info => RequestOp::Info,
        RequestBody::Checkpoint => RequestOp::Checkpoint,
        RequestBody::ConfigReload => RequestOp::ConfigReload,
    }
}

/// Handles one decoded frame (that arrived at `started`): answers it, or
/// returns the transaction to queue.
#[expect(clippy::too_many_arguments, reason = "one frame's whole context; a struct would only rename it")]
async fn handle(
    state: &Arc<State>,
    live: &Live,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    out: &mut Vec<u8>,
    permit: OwnedSemaphorePermit,
    decoded: Result<Request, FormatError>,
    started: Instant,
    session: &mut Session,
    conn: u64,
) -> Option<Queued> {
    let request = match decoded {
        Ok(r) => r,
        Err(e) => {
            ServerStats::inc(&state.stats.malformed);
            let (id, code) = match &e {
                FormatError::UnsupportedRequest { id, .. } => (id.unwrap_or(0), ErrorCode::Unsupported),
                FormatError::MalformedRequest { id, .. } => (id.unwrap_or(0), ErrorCode::Malformed),
                _ => (0, ErrorCode::Malformed),
            };
            let span = tracing::debug_span!("request", conn, id, op = RequestOp::Unknown.name());
            let body = ResponseBody::Error(WireError::new(code, e.to_string()));
            span.in_scope(|| reply(state, out, RequestOp::Unknown, started, id, body));
            return None;
        }
    };
    let op = request_op(&request.body);
    let span = tracing::debug_span!("request", conn, id = request.id, op = op.name());
    handle_request(state, live, tx, out, permit, request.id, request.body, session, started).instrument(span).await
}

/// A transaction request read, authorized and waiting to run with the
/// others of its batch.
struct Queued {
    id: u64,
    ops: Vec<Op>,
    permit: OwnedSemaphorePermit,
    started: Instant,
    /// Its `request` span.
    span: tracing::Span,
}

#[expect(clippy::too_many_arguments, reason = "one request's whole context; a struct would only rename it")]
async fn handle_request(
    state: &Arc<State>,
    live: &Live,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    out: &mut Vec<u8>,
    permit: OwnedSemaphorePermit,
    id: u64,
    body: RequestBody,
    session: &mut Session,
    started: Instant,
) -> Option<Queued> {
    let error = |code, message: String| ResponseBody::Error(WireError::new(code, message));
    let op = request_op(&body);
    match &body {
        RequestBody::Txn(ops) => tracing::debug!(ops = %redact::Ops(ops), "request"),
        RequestBody::Auth { token } => tracing::debug!(token = %redact::secret(token), "request"),
        _ => tracing::debug!("request"),
    }
    session.sync(live.tokens.enabled());
    if let RequestBody::Auth { token } = &body {
        let response = match live.tokens.authenticate(token) {
            Some(p) => {
                let role = p.role.name().to_owned();
                *session = Session { principal: Some(p), anonymous: false };
                ResponseBody::Auth { role }
            }
            None if !live.tokens.enabled() => ResponseBody::Auth { role: "admin".into() },
            None => {
                ServerStats::inc(&state.stats.auth_failures);
                tracing::warn!(token = %redact::secret(token), "authentication failed");
                error(ErrorCode::Unauthenticated, "invalid token".into())
            }
        };
        reply(state, out, op, started, id, response);
        return None;
    }
    let Some(who) = session.principal.as_ref() else {
        ServerStats::inc(&state.stats.auth_failures);
        let body = error(ErrorCode::Unauthenticated, "authenticate with AUTH first".into());
        reply(state, out, op, started, id, body);
        return None;
    };
    if let Err(message) = authorize(who, &body) {
        ServerStats::inc(&state.stats.forbidden);
        reply(state, out, op, started, id, error(ErrorCode::Forbidden, message));
        return None;
    }
    if let RequestBody::Txn(ops) = body {
        return Some(Queued { id, ops, permit, started, span: tracing::Span::current() });
    }
    match body {
        RequestBody::Ping { payload } => reply(state, out, op, started, id, ResponseBody::Pong { payload }),
        RequestBody::Info => {
            let s = Arc::clone(state);
            let body = match tokio::task::spawn_blocking(move || s.info()).await {
                Ok(info) => ResponseBody::Info(info),
                Err(_) => internal_error(),
            };
            reply(state, out, op, started, id, body);
        }
        RequestBody::ConfigReload => {
            let s = Arc::clone(state);
            let body = match tokio::task::spawn_blocking(move || crate::reload::reload(&s)).await {
                Ok(Ok(report)) => {
                    ResponseBody::ConfigReload { applied: report.applied, needs_restart: report.needs_restart }
                }
                Ok(Err(e @ ReloadError::NoFile)) => error(ErrorCode::Unsupported, e.to_string()),
                // No dedicated wire code exists for an invalid file.
                Ok(Err(e)) => error(ErrorCode::Internal, e.to_string()),
                Err(_) => internal_error(),
            };
            reply(state, out, op, started, id, body);
        }
        RequestBody::Checkpoint => dispatch_checkpoint(state, live, tx, out, id, permit, started).await,
        RequestBody::Auth { .. } | RequestBody::Txn(_) => unreachable!("handled above"),
    }
    None
}

/// Counts a request into the backlog, or answers BUSY (and returns false)
/// when the backlog is over the threshold.
fn admit(state: &State, live: &Live, out: &mut Vec<u8>, op: RequestOp, id: u64, started: Instant) -> bool {
    let backlog = state.backlog.fetch_add(1, Ordering::AcqRel);
    if backlog < live.config.limits.shed_backlog {
        return true;
    }
    state.backlog.fetch_sub(1, Ordering::AcqRel);
    ServerStats::inc(&state.stats.busy_sheds);
    let message = format!("server busy: {backlog} requests queued; retry after a backoff");
    reply(state, out, op, started, id, ResponseBody::Error(WireError::new(ErrorCode::Busy, message)));
    false
}

/// The wire response for an engine result.
fn engine_response(result: jubilant_engine::Result<ResponseBody>) -> ResponseBody {
    match result {
        Ok(body) => body,
        Err(e) => {
            tracing::debug!(error = %redact::engine_error(&e), "request failed");
            ResponseBody::Error(engine_error(&e))
        }
    }
}

/// The wire response for a transaction's result.
fn txn_response(result: jubilant_engine::Result<jubilant_engine::TxnOutcome>) -> ResponseBody {
    engine_response(result.map(outcome_to_wire))
}

/// The answer to a request whose engine task panicked.
fn panicked(join: &tokio::task::JoinError) -> ResponseBody {
    tracing::error!(error = %join, "engine task panicked");
    internal_error()
}

fn internal_error() -> ResponseBody {
    ResponseBody::Error(WireError::new(ErrorCode::Internal, "internal error"))
}

fn shutting_down() -> ResponseBody {
    ResponseBody::Error(WireError::new(ErrorCode::ShuttingDown, "the server is shutting down"))
}

/// Answers request `id`, a transaction of one GET of `key` (read where it
/// lies in the frame), at once if this session may run it and the answer
/// is in memory, encoding the entry where it lies; false (nothing
/// answered) otherwise, and [`handle`] answers, refuses or queues it.
#[expect(clippy::too_many_arguments, reason = "one frame's whole context; a struct would only rename it")]
fn answer_get_in_place(
    state: &State,
    live: &Live,
    out: &mut Vec<u8>,
    id: u64,
    key: &[u8],
    started: Instant,
    session: &mut Session,
    conn: u64,
) -> bool {
    session.sync(live.tokens.enabled());
    // Any role may read; refusals are `handle`'s to answer.
    if !session.principal.as_ref().is_some_and(|p| p.may_touch(key)) {
        return false;
    }
    let span = tracing::debug_span!("request", conn, id, op = RequestOp::Txn.name());
    span.in_scope(|| {
        tracing::debug!(ops = %format_args!("GET key=[{}]", redact::data(key)), "request");
        let answered = state.db.transact_get_cached_with(key, |entry| {
            let item = entry.map(|e| KeyValueRef {
                key,
                value: e.value,
                version: e.version.get(),
                expires_at_unix_ms: e.expires_at_unix_ms,
            });
            laid::get_frame(out, id, item);
        });
        match answered {
            None => false,
            Some(Ok(())) => {
                let elapsed = started.elapsed();
                state.stats.record_ok(RequestOp::Txn, elapsed);
                tracing::debug!(result = "ok", elapsed_us = elapsed.as_micros() as u64, "response");
                true
            }
            Some(Err(e)) => {
                reply(state, out, RequestOp::Txn, started, id, engine_response(Err(e)));
                true
            }
        }
    })
}

/// A group of a connection's transactions on its way.
struct Running {
    /// Answers the group once it is done.
    task: tokio::task::JoinHandle<()>,
    /// Every transaction of it was staged in the WAL (none runs on the
    /// pool), so a later group's staged writes land after them.
    staged_only: bool,
}

/// Runs the transactions of one batch as one group, in order (each shed
/// with BUSY instead when the backlog is over the threshold): the leading
/// blind writes are staged here, without blocking, and made durable by the
/// commit thread together with other connections' writes; the rest run on
/// the worker pool after them with [`jubilant_engine::Db::transact_group`].
///
/// Order with `previous`, the connection's group before this one: unless
/// it was all staged writes (already in the WAL, in order, ahead of
/// anything staged now), this group waits for it to finish first; and
/// the pool part of this group always runs after it is done.
async fn dispatch_group(
    state: &Arc<State>,
    live: &Live,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    out: &mut Vec<u8>,
    queued: Vec<Queued>,
    previous: Option<Running>,
) -> Option<Running> {
    let mut previous = match previous {
        Some(p) if !p.staged_only => {
            let _ = p.task.await;
            None
        }
        other => other.map(|p| p.task),
    };
    let mut admitted = Vec::with_capacity(queued.len());
    for q in queued {
        if q.span.in_scope(|| admit(state, live, out, RequestOp::Txn, q.id, q.started)) {
            admitted.push(q);
        }
    }
    let Some(first) = admitted.first() else {
        // Nothing admitted: the previous group stays the latest.
        return previous.map(|task| Running { task, staged_only: true });
    };
    // A child of the (first) request's span.
    let span = tracing::debug_span!(
        parent: &first.span,
        "commit",
        ops = admitted.iter().map(|q| q.ops.len()).sum::<usize>(),
        txns = tracing::field::Empty
    );
    if admitted.len() > 1 {
        span.record("txns", admitted.len());
    }
    // The operations move to the engine; what answers them stays behind.
    let group: Vec<Vec<jubilant_engine::TxnOp>> =
        admitted.iter_mut().map(|q| to_engine(std::mem::take(&mut q.ops))).collect();
    let staged = span.in_scope(|| {
        let refs: Vec<&[jubilant_engine::TxnOp]> = group.iter().map(Vec::as_slice).collect();
        state.db.try_stage_writes(&refs)
    });
    let (staged_count, total) = (staged.len(), group.len());
    let published = (staged_count > 0).then(|| state.committer.submit(staged));
    let (state, tx) = (Arc::clone(state), tx.clone());
    let task = async move {
        let mut bodies: Vec<ResponseBody> = Vec::with_capacity(admitted.len());
        if let Some(published) = published {
            match published.await {
                Ok(synced) => bodies.extend(synced.finish(&state.db).into_iter().map(txn_response)),
                Err(_) => {
                    tracing::error!("the commit thread dropped a group");
                    bodies.extend((0..staged_count).map(|_| internal_error()));
                }
            }
        }
        let rest: Vec<Vec<jubilant_engine::TxnOp>> = group.into_iter().skip(staged_count).collect();
        if !rest.is_empty() {
            if let Some(previous) = previous.take() {
                let _ = previous.await;
            }
            bodies.extend(run_on_pool(&state, rest, span).await);
        }
        // One send for the group: its responses leave in one write. The
        // permits go first (see `serve`). A SET's answer is about 50 bytes.
        let mut out = Vec::with_capacity(admitted.len() * 64);
        for (q, body) in admitted.into_iter().zip(bodies) {
            state.backlog.fetch_sub(1, Ordering::AcqRel);
            q.span.in_scope(|| reply(&state, &mut out, RequestOp::Txn, q.started, q.id, body));
            drop(q.permit);
        }
        let _ = tx.send(out);
    };
    let staged_only = staged_count == total;
    Some(Running { task: tokio::spawn(task), staged_only })
}

/// Runs `group` with [`jubilant_engine::Db::transact_group`] on a worker
/// of the pool, in `span`; one response body per transaction.
async fn run_on_pool(
    state: &Arc<State>,
    group: Vec<Vec<jubilant_engine::TxnOp>>,
    span: tracing::Span,
) -> Vec<ResponseBody> {
    let n = group.len();
    let Ok(worker) = Arc::clone(&state.workers).acquire_owned().await else {
        return (0..n).map(|_| shutting_down()).collect();
    };
    let db = Arc::clone(&state.db);
    let result = tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let refs: Vec<&[jubilant_engine::TxnOp]> = group.iter().map(Vec::as_slice).collect();
            db.transact_group(&refs)
        })
    })
    .await;
    drop(worker);
    match result {
        Ok(results) => results.into_iter().map(txn_response).collect(),
        Err(join) => {
            let body = panicked(&join);
            (0..n).map(|_| body.clone()).collect()
        }
    }
}

/// Runs a checkpoint on the worker pool, or answers BUSY when the backlog
/// is over the threshold.
async fn dispatch_checkpoint(
    state: &Arc<State>,
    live: &Live,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    out: &mut Vec<u8>,
    id: u64,
    permit: OwnedSemaphorePermit,
    started: Instant,
) {
    let op = RequestOp::Checkpoint;
    if !admit(state, live, out, op, id, started) {
        return;
    }
    let (state, tx) = (Arc::clone(state), tx.clone());
    let task = async move {
        let body = match Arc::clone(&state.workers).acquire_owned().await {
            Err(_) => shutting_down(),
            Ok(worker) => {
                let db = Arc::clone(&state.db);
                // A child of the request span, entered on the blocking thread.
                let span = tracing::debug_span!("checkpoint");
                let result = tokio::task::spawn_blocking(move || {
                    span.in_scope(|| {
                        db.checkpoint().map(|info| {
                            let sb = db.stats().superblock;
                            ResponseBody::Checkpoint {
                                checkpoint_lsn: info.map_or(sb.checkpoint_lsn.get(), |i| i.checkpoint_lsn.get()),
                                generation: info.map_or(sb.generation.get(), |i| i.generation.get()),
                            }
                        })
                    })
                })
                .await;
                drop(worker);
                match result {
                    Ok(result) => engine_response(result),
                    Err(join) => panicked(&join),
                }
            }
        };
        state.backlog.fetch_sub(1, Ordering::AcqRel);
        // The permit goes first (see `serve`).
        drop(permit);
        respond(&state, &tx, op, started, id, body);
    };
    tokio::spawn(task.instrument(tracing::Span::current()));
}
