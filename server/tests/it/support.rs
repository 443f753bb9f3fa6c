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
    /// The configuration file given with `--config`, if any.
    pub config_path: Option<PathBuf>,
}

/// How to start a server.
#[derive(Default)]
pub struct Launch<'a> {
    /// TOML written to `<data_dir>.toml` and passed with `--config`.
    pub config: Option<&'a str>,
    /// `RUST_LOG` (default "info"); `Some("")` leaves it unset so that
    /// `log.level` applies.
    pub rust_log: Option<&'a str>,
    /// More arguments.
    pub args: &'a [&'a str],
}

impl ServerProcess {
    /// Starts the server on `data_dir` with an optional TOML config body.
    pub fn start(data_dir: &Path, config: Option<&str>) -> ServerProcess {
        ServerProcess::launch(data_dir, Launch { config, ..Launch::default() })
    }

    /// Starts the server as `launch` says; waits (bounded) until it listens.
    pub fn launch(data_dir: &Path, launch: Launch<'_>) -> ServerProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jubilant-server"));
        cmd.arg("--data-dir").arg(data_dir).arg("--listen").arg("127.0.0.1:0").args(launch.args);
        let mut config_path = None;
        if let Some(body) = launch.config {
            let path = data_dir.with_extension("toml");
            std::fs::write(&path, body).unwrap();
            cmd.arg("--config").arg(&path);
            config_path = Some(path);
        }
        match launch.rust_log {
            Some("") => {
                cmd.env_remove("RUST_LOG");
            }
            Some(filter) => {
                cmd.env("RUST_LOG", filter);
            }
            None => {
                cmd.env("RUST_LOG", "info");
            }
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let addr = line
                    .split("listening on ")
                    .nth(1)
                    .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_owned());
                // Log first: a test that sees the address may read the log.
                log2.lock().unwrap().push(line);
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the server did not start; log: {:?}", log.lock().unwrap()));
        ServerProcess { child, addr: addr.parse().unwrap(), log, config_path }
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Lines of the log containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (at most 20 s) until `count` log lines contain `needle`.
    pub fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log_count(needle) < count {
            assert!(Instant::now() < deadline, "no {count} log lines with {needle:?}; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin (metrics) listener's address, from the log.
    pub fn admin_addr(&self) -> SocketAddr {
        let needle = "metrics endpoint on http://";
        self.wait_for_log(needle, 1);
        let log = self.log.lock().unwrap();
        let line = log.iter().find(|l| l.contains(needle)).unwrap();
        let rest = line.split(needle).nth(1).unwrap();
        rest.split('/').next().unwrap().parse().unwrap()
    }

    /// Rewrites the configuration file.
    pub fn write_config(&self, body: &str) {
        std::fs::write(self.config_path.as_ref().expect("started with a config"), body).unwrap();
    }

    /// Sends SIGHUP (reload the configuration).
    pub fn sighup(&self) {
        Command::new("kill").arg("-HUP").arg(self.child.id().to_string()).status().unwrap();
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

    /// The id the next request gets (and takes it).
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
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

/// One HTTP/1.1 request to `addr`; returns the status code and body.
pub fn http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// `GET path` on `addr`.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

/// INFO as a map.
pub fn info(c: &mut RawClient) -> std::collections::BTreeMap<String, String> {
    match c.call(RequestBody::Info) {
        ResponseBody::Info(entries) => entries.into_iter().collect(),
        other => panic!("INFO answered {other:?}"),
    }
}

/// The error code of an error response (panics otherwise).
pub fn error_code(body: &ResponseBody) -> ErrorCode {
    match body {
        ResponseBody::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}
