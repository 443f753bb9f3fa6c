//! A mock server on 127.0.0.1:0: decodes requests with `jubilant_format`
//! and answers as the test's handler says. Every loop ends when its
//! connection closes or the test's runtime stops.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jubilant_client::test_util::MemoryStore;
use jubilant_format::wire::{
    DEFAULT_MAX_FRAME, ErrorCode, Request, RequestBody, Response, ResponseBody, WireError, WireLimits, decode_request,
    encode_frame, frame_len,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the mock does with one request.
pub enum Action {
    /// Answer now.
    Reply(ResponseBody),
    /// Answer after a delay, without holding up later requests.
    After(Duration, ResponseBody),
    /// Keep the answer until `batch` answers are held on this connection,
    /// then send them all in reverse order.
    HoldReversed { batch: usize, body: ResponseBody },
    /// Close the connection without answering.
    Close,
    /// Never answer.
    Ignore,
}

/// The connection a request arrived on: its number, from 0, in accept
/// order, and whether AUTH succeeded on it.
pub struct Conn {
    pub index: usize,
    pub authenticated: Mutex<bool>,
}

pub type Handler = Arc<dyn Fn(&Conn, &Request) -> Action + Send + Sync>;

#[derive(Default)]
pub struct Log {
    pub connections: AtomicUsize,
    /// (connection index, request) in arrival order.
    pub requests: Mutex<Vec<(usize, Request)>>,
    /// Ids in the order their answers were written.
    pub answered: Mutex<Vec<u64>>,
}

pub struct MockServer {
    pub addr: SocketAddr,
    pub log: Arc<Log>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl MockServer {
    pub async fn start(handler: Handler) -> MockServer {
        MockServer::start_with(handler, None).await
    }

    pub async fn start_tls(handler: Handler, acceptor: tokio_rustls::TlsAcceptor) -> MockServer {
        MockServer::start_with(handler, Some(acceptor)).await
    }

    async fn start_with(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Log::default());
        let accept_log = Arc::clone(&log);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let index = accept_log.connections.fetch_add(1, Ordering::SeqCst);
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&accept_log);
                match tls.clone() {
                    None => {
                        tokio::spawn(serve(tcp, index, handler, log));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            // A failed handshake (a client without the
                            // certificate the server requires) just ends.
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, index, handler, log).await;
                            }
                        });
                    }
                }
            }
        });
        MockServer { addr, log, accept }
    }

    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    pub fn connections(&self) -> usize {
        self.log.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<(usize, Request)> {
        self.log.requests.lock().unwrap().clone()
    }

    /// How many transactions arrived.
    pub fn txn_count(&self) -> usize {
        self.requests().iter().filter(|(_, r)| matches!(r.body, RequestBody::Txn(_))).count()
    }
}

fn frame(response: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&response.encode(), &mut out);
    out
}

async fn serve<S>(stream: S, index: usize, handler: Handler, log: Arc<Log>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(stream);
    let (answers, mut answers_rx) = mpsc::unbounded_channel::<Response>();
    let writer_log = Arc::clone(&log);
    let writer = tokio::spawn(async move {
        while let Some(response) = answers_rx.recv().await {
            writer_log.answered.lock().unwrap().push(response.id);
            if write.write_all(&frame(&response)).await.is_err() {
                return;
            }
        }
    });
    let conn = Conn { index, authenticated: Mutex::new(false) };
    let mut held = Vec::new();
    loop {
        let mut prefix = [0u8; 4];
        if read.read_exact(&mut prefix).await.is_err() {
            break;
        }
        let Ok(len) = frame_len(prefix, DEFAULT_MAX_FRAME) else { break };
        let mut body = vec![0u8; len];
        if read.read_exact(&mut body).await.is_err() {
            break;
        }
        let request = decode_request(&body, &WireLimits::default()).unwrap();
        log.requests.lock().unwrap().push((index, request.clone()));
        let id = request.id;
        match handler(&conn, &request) {
            Action::Reply(body) => {
                let _ = answers.send(Response { id, body });
            }
            Action::After(delay, body) => {
                let answers = answers.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = answers.send(Response { id, body });
                });
            }
            Action::HoldReversed { batch, body } => {
                held.push(Response { id, body });
                if held.len() >= batch {
                    for response in held.drain(..).rev() {
                        let _ = answers.send(response);
                    }
                }
            }
            Action::Close => {
                writer.abort();
                return;
            }
            Action::Ignore => {}
        }
    }
    drop(answers);
    let _ = writer.await;
}

pub fn handler(f: impl Fn(&Conn, &Request) -> Action + Send + Sync + 'static) -> Handler {
    Arc::new(f)
}

pub fn error(code: ErrorCode, message: &str) -> ResponseBody {
    ResponseBody::Error(WireError::new(code, message))
}

/// Answers PING, INFO, CHECKPOINT and CONFIG RELOAD, and runs
/// transactions against an in-memory map.
pub fn kv_handler() -> Handler {
    let store = Arc::new(Mutex::new(MemoryStore::default()));
    handler(move |_, request| Action::Reply(answer(&store, &request.body)))
}

pub fn answer(store: &Mutex<MemoryStore>, body: &RequestBody) -> ResponseBody {
    match body {
        RequestBody::Txn(ops) => store.lock().unwrap().run(ops),
        RequestBody::Auth { .. } => ResponseBody::Auth { role: "admin".to_owned() },
        RequestBody::Ping { payload } => ResponseBody::Pong { payload: payload.clone() },
        RequestBody::Info => ResponseBody::Info(vec![
            ("version".to_owned(), "0.1.0".to_owned()),
            ("keys".to_owned(), store.lock().unwrap().len().to_string()),
        ]),
        RequestBody::Checkpoint => ResponseBody::Checkpoint { checkpoint_lsn: 41, generation: 7 },
        RequestBody::ConfigReload => ResponseBody::ConfigReload {
            applied: vec!["log_level".to_owned()],
            needs_restart: vec!["listen".to_owned()],
        },
    }
}

/// A client configuration for `addr` with short timeouts and backoffs, so
/// failing tests fail fast.
pub fn config(addr: &str) -> jubilant_client::ClientConfig {
    let mut config = jubilant_client::ClientConfig::new(addr);
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(5);
    config.backoff_base = Duration::from_millis(1);
    config.backoff_max = Duration::from_millis(10);
    config
}
