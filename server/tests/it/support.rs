//! Starting the server binary and speaking raw frames to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jubilant_format::wire::{
    ErrorCode, Op, Request, RequestBody, Response, ResponseBody, WireLimits, decode_response, encode_frame,
};

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("jubilant-srv-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server process; stopped (SIGKILL) on drop if still running.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the server on `data_dir` with an optional TOML config body.
    pub fn start(data_dir: &Path, config: Option<&str>) -> ServerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jubilant-server"));
        cmd.arg("--data-dir").arg(data_dir).arg("--listen").arg("127.0.0.1:0");
        if let Some(body) = config {
            let path = data_dir.with_extension("toml");
            std::fs::write(&path, body).unwrap();
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd.env("RUST_LOG", "info").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = tx.send(addr);
                }
                log2.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the server did not start; log: {:?}", log.lock().unwrap()));
        ServerProcess { child, addr: addr.parse().unwrap(), log }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY-free: the `kill` command sends the signal.
        Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn connect(&self) -> RawClient {
        RawClient::connect(self.addr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking client speaking raw frames.
pub struct RawClient {
    pub stream: TcpStream,
    next_id: u64,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.set_nodelay(true).unwrap();
        RawClient { stream, next_id: 1 }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a request; returns its id.
    pub fn send(&mut self, body: RequestBody) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = Vec::new();
        encode_frame(&Request { id, body }.encode(), &mut frame);
        self.send_raw(&frame);
        id
    }

    /// Reads one response frame; `None` when the server closed the
    /// connection.
    pub fn recv(&mut self) -> Option<Response> {
        let mut prefix = [0u8; 4];
        if self.stream.read_exact(&mut prefix).is_err() {
            return None;
        }
        let mut body = vec![0u8; u32::from_le_bytes(prefix) as usize];
        self.stream.read_exact(&mut body).unwrap();
        Some(decode_response(&body, &WireLimits::default()).unwrap())
    }

    pub fn call(&mut self, body: RequestBody) -> ResponseBody {
        let id = self.send(body);
        let r = self.recv().expect("the server closed the connection");
        assert_eq!(r.id, id);
        r.body
    }

    pub fn txn(&mut self, ops: Vec<Op>) -> ResponseBody {
        self.call(RequestBody::Txn(ops))
    }

    /// Whether the server closed the connection (EOF) within the timeout.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.read(&mut buf), Ok(0))
            || matches!(self.stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

pub fn set(key: &str, value: &str) -> Op {
    Op::Set { key: key.into(), value: value.into(), ttl_ms: None }
}

pub fn get(key: &str) -> Op {
    Op::Get { key: key.into() }
}

/// The error code of an error response (panics otherwise).
pub fn error_code(body: &ResponseBody) -> ErrorCode {
    match body {
        ResponseBody::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}
