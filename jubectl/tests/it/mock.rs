//! A mock jubilant server on 127.0.0.1:0, one thread per connection,
//! answering from an in-memory map. Every loop is bounded: the accept
//! loop by a deadline, connections by a read timeout.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jubilant_client::test_util::MemoryStore;
use jubilant_format::wire::{
    DEFAULT_MAX_FRAME, ErrorCode, RequestBody, Response, ResponseBody, WireError, WireLimits, decode_request,
    encode_frame, frame_len,
};

const LIFETIME: Duration = Duration::from_secs(60);

pub struct Mock {
    pub addr: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Mock {
    /// A server without authentication.
    pub fn start() -> Mock {
        Mock::start_with_token(None)
    }

    /// A server that requires AUTH with `token` first, if given.
    pub fn start_with_token(token: Option<&str>) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let store = Arc::new(Mutex::new(MemoryStore::default()));
        let token = token.map(str::to_owned);
        let accept_stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            while !accept_stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let store = Arc::clone(&store);
                        let token = token.clone();
                        std::thread::spawn(move || serve(stream, &store, token.as_deref()));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Mock { addr, stop }
    }
}

fn serve(mut stream: TcpStream, store: &Mutex<MemoryStore>, token: Option<&str>) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut authenticated = token.is_none();
    loop {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).is_err() {
            return;
        }
        let Ok(len) = frame_len(prefix, DEFAULT_MAX_FRAME) else { return };
        let mut body = vec![0u8; len];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let request = decode_request(&body, &WireLimits::default()).unwrap();
        let answer = match &request.body {
            RequestBody::Auth { token: given } if Some(given.as_str()) == token => {
                authenticated = true;
                ResponseBody::Auth { role: "admin".to_owned() }
            }
            RequestBody::Auth { .. } => error(ErrorCode::Unauthenticated, "unknown token"),
            _ if !authenticated => error(ErrorCode::Unauthenticated, "authenticate first"),
            RequestBody::Txn(ops) => store.lock().unwrap().run(ops),
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
        };
        let mut frame = Vec::new();
        encode_frame(&Response { id: request.id, body: answer }.encode(), &mut frame);
        if stream.write_all(&frame).is_err() {
            return;
        }
    }
}

fn error(code: ErrorCode, message: &str) -> ResponseBody {
    ResponseBody::Error(WireError::new(code, message))
}

/// What one run of jubectl did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// Runs jubectl with `args` (and a 5 s timeout, so no run can hang),
/// without the caller's JUBILANT_* environment.
pub fn jubectl(args: &[&str]) -> Run {
    jubectl_with(args, &[], None)
}

/// As [`jubectl`], with extra environment variables and stdin.
pub fn jubectl_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jubectl"));
    command.args(["--timeout", "5s"]).args(args).env_remove("JUBILANT_ADDR").env_remove("JUBILANT_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    Run {
        code: status.code().unwrap(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// Writes `text` to `name` in `dir` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}
