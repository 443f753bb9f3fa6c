//! One connection to the server: a writer task, a reader task, and the
//! table of requests waiting for their answer.
//!
//! Requests are pipelined: a caller registers its id in the pending table,
//! queues the encoded frame for the writer and waits on a oneshot channel;
//! the reader matches each response to its waiter by id, in whatever order
//! the server answers.
//!
//! Invariants:
//! - The pending table and the `broken` mark change under one lock, so a
//!   request is either registered before the connection broke (and then
//!   told why it broke) or refused at registration; no waiter is left
//!   behind.
//! - Once broken, a connection stays broken: the pool replaces it.
//! - Both tasks stop when the connection breaks or its last handle is
//!   dropped.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex, MutexGuard};

use jubilant_format::wire::{
    FRAME_PREFIX_LEN, Request, RequestBody, ResponseBody, WireError, WireLimits, decode_response, encode_frame,
    frame_len, laid,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{ClientConfig, MAX_IN_FLIGHT_PER_CONNECTION};
use crate::error::ClientError;
use crate::tls::Tls;

/// A byte stream the connection runs on: TCP or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type BoxedStream = Box<dyn Stream>;

/// Why a connection broke, kept so every waiter (and every later caller)
/// can be told. Cloneable, unlike the `io::Error` it may come from.
#[derive(Debug, Clone)]
enum Failure {
    Io { context: &'static str, kind: ErrorKind, message: String },
    Closed(String),
    Server(WireError),
    Protocol(String),
}

impl Failure {
    fn io(context: &'static str, error: &std::io::Error) -> Failure {
        Failure::Io { context, kind: error.kind(), message: error.to_string() }
    }

    fn to_error(&self) -> ClientError {
        match self {
            Failure::Io { context, kind, message } => {
                ClientError::io(*context, std::io::Error::new(*kind, message.clone()))
            }
            Failure::Closed(why) => ClientError::Closed(why.clone()),
            Failure::Server(error) => ClientError::Server(error.clone()),
            Failure::Protocol(why) => ClientError::Protocol(why.clone()),
        }
    }
}

/// How one attempt of a request failed, and whether the server may have
/// seen it: only a request that was never handed to the writer is safe to
/// send again when it is not idempotent.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The request was not sent: the server cannot have acted on it.
    NotSent(ClientError),
    /// The request may have reached the server.
    MaybeSent(ClientError),
}

type Answer = Result<ResponseBody, Failure>;

#[derive(Default)]
struct State {
    pending: HashMap<u64, oneshot::Sender<Answer>>,
    broken: Option<Failure>,
}

struct Shared {
    state: Mutex<State>,
    /// Set to true once the connection breaks or is dropped; both tasks
    /// watch it to stop.
    closing: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the table half
        // changed (each change is one insert or remove), so a poisoned
        // lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks the connection broken (first reason wins) and tells every
    /// waiter.
    fn fail(&self, failure: Failure) {
        let waiters: Vec<_> = {
            let mut state = self.lock();
            if state.broken.is_none() {
                tracing::debug!(?failure, "connection broken");
                state.broken = Some(failure.clone());
            }
            state.pending.drain().map(|(_, waiter)| waiter).collect()
        };
        self.closing.send_replace(true);
        for waiter in waiters {
            // The waiter may have timed out and gone: nothing to tell.
            let _ = waiter.send(Err(failure.clone()));
        }
    }

    fn complete(&self, id: u64, body: ResponseBody) {
        let waiter = self.lock().pending.remove(&id);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(Ok(body));
            }
            // The request timed out and was forgotten.
            None => tracing::debug!(id, "response for a request no longer waiting"),
        }
    }
}

/// An open connection; dropping the last handle closes it.
pub(crate) struct Connection {
    frames: mpsc::Sender<Vec<u8>>,
    shared: Arc<Shared>,
    /// Role the server granted the token, if one was sent.
    role: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("role", &self.role).field("broken", &self.is_broken()).finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.fail(Failure::Closed("the client closed the connection".to_owned()));
    }
}

impl Connection {
    /// Connects, does the TLS handshake and sends AUTH, all within the
    /// connect timeout. `next_id` hands out request ids.
    pub(crate) async fn open(
        config: &ClientConfig,
        tls: Option<&Tls>,
        next_id: impl Fn() -> u64,
    ) -> Result<Connection, ClientError> {
        let timeout = config.connect_timeout;
        let what = || format!("connect to {}", config.addr);
        tokio::time::timeout(timeout, Connection::open_unbounded(config, tls, next_id))
            .await
            .map_err(|_| ClientError::Timeout { what: what(), after: timeout })?
    }

    async fn open_unbounded(
        config: &ClientConfig,
        tls: Option<&Tls>,
        next_id: impl Fn() -> u64,
    ) -> Result<Connection, ClientError> {
        let tcp = TcpStream::connect(config.addr.as_str())
            .await
            .map_err(|e| ClientError::io(format!("connect to {}", config.addr), e))?;
        tcp.set_nodelay(true).map_err(|e| ClientError::io("set TCP_NODELAY", e))?;
        let stream: BoxedStream = match tls {
            None => Box::new(tcp),
            Some(tls) => Box::new(
                tls.connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|e| ClientError::Tls(format!("handshake with {}: {e}", config.addr)))?,
            ),
        };
        let mut connection = Connection::start(stream, config.max_frame);
        if let Some(token) = &config.token {
            let auth = Request { id: next_id(), body: RequestBody::Auth { token: token.clone() } };
            let frame = encode(&auth, config.max_frame)?;
            match connection.call(auth.id, frame).await {
                Ok(ResponseBody::Auth { role }) => connection.role = Some(role),
                Ok(other) => return Err(unexpected("Auth", &other)),
                Err(AttemptError::MaybeSent(ClientError::Server(error))) => return Err(ClientError::AuthFailed(error)),
                Err(AttemptError::NotSent(error) | AttemptError::MaybeSent(error)) => return Err(error),
            }
        }
        Ok(connection)
    }

    /// Spawns the reader and writer tasks on `stream`.
    fn start(stream: BoxedStream, max_frame: usize) -> Connection {
        let (closing, closing_rx) = watch::channel(false);
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), closing });
        let (frames, frames_rx) = mpsc::channel(MAX_IN_FLIGHT_PER_CONNECTION);
        let (read, write) = tokio::io::split(stream);
        tokio::spawn(read_loop(read, Arc::clone(&shared), closing_rx.clone(), max_frame));
        tokio::spawn(write_loop(write, frames_rx, Arc::clone(&shared), closing_rx));
        Connection { frames, shared, role: None }
    }

    /// Whether the connection broke; the pool then opens a new one.
    pub(crate) fn is_broken(&self) -> bool {
        self.shared.lock().broken.is_some() || self.frames.is_closed()
    }

    /// Sends one encoded request frame with id `id` and waits for its
    /// answer (without a time limit: the caller adds one and calls
    /// [`Connection::forget`] when it expires). An error response is
    /// returned as `MaybeSent(ClientError::Server)`.
    pub(crate) async fn call(&self, id: u64, frame: Vec<u8>) -> Result<ResponseBody, AttemptError> {
        let (waiter, answer) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if let Some(failure) = &state.broken {
                return Err(AttemptError::NotSent(failure.to_error()));
            }
            let previous = state.pending.insert(id, waiter);
            assert!(previous.is_none(), "request id {id} is already in flight");
        }
        if self.frames.send(frame).await.is_err() {
            // The writer stopped before taking this frame: not sent.
            self.forget(id);
            return Err(AttemptError::NotSent(ClientError::Closed("the connection's writer stopped".to_owned())));
        }
        match answer.await {
            Ok(Ok(ResponseBody::Error(error))) => Err(AttemptError::MaybeSent(ClientError::Server(error))),
            Ok(Ok(body)) => Ok(body),
            Ok(Err(failure)) => Err(AttemptError::MaybeSent(failure.to_error())),
            Err(_) => {
                Err(AttemptError::MaybeSent(ClientError::Closed("the connection dropped the request".to_owned())))
            }
        }
    }

    /// Stops waiting for request `id`; a late answer is dropped.
    pub(crate) fn forget(&self, id: u64) {
        self.shared.lock().pending.remove(&id);
    }
}

/// Encodes `request` as one frame, refusing one larger than `max_frame`
/// (the server would answer FRAME_TOO_LARGE and close the connection).
pub(crate) fn encode(request: &Request, max_frame: usize) -> Result<Vec<u8>, ClientError> {
    // A single GET or SET is laid straight into its frame.
    let mut frame = Vec::new();
    if laid::try_request_frame(&mut frame, request) {
        let len = frame.len() - FRAME_PREFIX_LEN;
        if len > max_frame {
            return Err(ClientError::Protocol(format!(
                "request of {len} bytes exceeds the frame limit of {max_frame} bytes"
            )));
        }
        return Ok(frame);
    }
    let body = request.encode();
    if body.len() > max_frame {
        return Err(ClientError::Protocol(format!(
            "request of {} bytes exceeds the frame limit of {max_frame} bytes",
            body.len()
        )));
    }
    let mut frame = Vec::with_capacity(FRAME_PREFIX_LEN + body.len());
    encode_frame(&body, &mut frame);
    Ok(frame)
}

/// The error for a response of the wrong kind.
pub(crate) fn unexpected(expected: &str, got: &ResponseBody) -> ClientError {
    let got = match got {
        ResponseBody::Txn(_) => "Txn",
        ResponseBody::Error(_) => "Error",
        ResponseBody::Auth { .. } => "Auth",
        ResponseBody::Pong { .. } => "Pong",
        ResponseBody::Info(_) => "Info",
        ResponseBody::Checkpoint { .. } => "Checkpoint",
        ResponseBody::ConfigReload { .. } => "ConfigReload",
    };
    ClientError::Protocol(format!("expected a {expected} response, got {got}"))
}

/// Writes queued frames, flushing once the queue is empty so pipelined
/// requests share system calls.
async fn write_loop(
    write: WriteHalf<BoxedStream>,
    mut frames: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    mut closing: watch::Receiver<bool>,
) {
    let mut write = BufWriter::new(write);
    loop {
        let frame = tokio::select! {
            frame = frames.recv() => frame,
            _ = closing.wait_for(|closing| *closing) => None,
        };
        let Some(frame) = frame else {
            let _ = write.shutdown().await;
            return;
        };
        if let Err(error) = write.write_all(&frame).await {
            shared.fail(Failure::io("send request", &error));
            return;
        }
        // Take what is already queued, bounded so a busy queue still
        // gets flushed.
        for _ in 0..MAX_IN_FLIGHT_PER_CONNECTION {
            let Ok(frame) = frames.try_recv() else { break };
            if let Err(error) = write.write_all(&frame).await {
                shared.fail(Failure::io("send request", &error));
                return;
            }
        }
        if let Err(error) = write.flush().await {
            shared.fail(Failure::io("send request", &error));
            return;
        }
    }
}

/// Reads responses and hands each to its waiter, until the connection
/// breaks or closes.
async fn read_loop(
    read: ReadHalf<BoxedStream>,
    shared: Arc<Shared>,
    mut closing: watch::Receiver<bool>,
    max_frame: usize,
) {
    let mut read = BufReader::new(read);
    let limits = WireLimits { max_frame, ..WireLimits::default() };
    loop {
        let response = tokio::select! {
            response = read_response(&mut read, &limits) => response,
            _ = closing.wait_for(|closing| *closing) => return,
        };
        match response {
            // A connection-level error: the server closes after it.
            Ok((0, ResponseBody::Error(error))) => return shared.fail(Failure::Server(error)),
            Ok((0, _)) => return shared.fail(Failure::Protocol("response with id 0 that is not an error".to_owned())),
            Ok((id, body)) => shared.complete(id, body),
            Err(failure) => return shared.fail(failure),
        }
    }
}

async fn read_response<R: AsyncRead + Unpin>(
    read: &mut R,
    limits: &WireLimits,
) -> Result<(u64, ResponseBody), Failure> {
    let mut prefix = [0u8; FRAME_PREFIX_LEN];
    read.read_exact(&mut prefix).await.map_err(|error| match error.kind() {
        ErrorKind::UnexpectedEof => Failure::Closed("the server closed the connection".to_owned()),
        _ => Failure::io("receive response", &error),
    })?;
    let len = frame_len(prefix, limits.max_frame).map_err(|e| Failure::Protocol(format!("response frame: {e}")))?;
    let mut body = vec![0u8; len];
    read.read_exact(&mut body).await.map_err(|error| match error.kind() {
        ErrorKind::UnexpectedEof => Failure::Closed("the server closed the connection mid-response".to_owned()),
        _ => Failure::io("receive response", &error),
    })?;
    // An undecodable response cannot be matched to its request: the
    // connection is failed as a whole rather than leaving a waiter hanging.
    let response = decode_response(&body, limits).map_err(|e| Failure::Protocol(format!("decode response: {e}")))?;
    Ok((response.id, response.body))
}
