//! Starting and stopping the real binaries.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (next to the test
/// executable's `deps/` directory). `cargo test --workspace` builds them
/// before any test runs.
#[must_use]
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    deps.parent().map(Path::to_path_buf).unwrap_or(deps)
}

/// The path of a workspace binary; panics with the command that builds it
/// when it is missing.
#[must_use]
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` (or `cargo test --workspace`)",
        path.display()
    );
    path
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory.
    #[must_use]
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("jubilant-e2e-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::create_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `jubilant-server`; killed on drop if still running.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The address it listens on (an ephemeral loopback port).
    pub addr: SocketAddr,
    /// Its log lines so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the server on `data_dir` with `config` (TOML, may be empty),
    /// on 127.0.0.1 and an ephemeral port; waits until it listens.
    #[must_use]
    pub fn start(data_dir: &Path, config: &str) -> Server {
        let config_path = data_dir.with_extension("toml");
        if let Err(e) = std::fs::write(&config_path, config) {
            panic!("write {}: {e}", config_path.display());
        }
        let mut child = match Command::new(binary("jubilant-server"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("start jubilant-server: {e}"),
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push(line);
                    }
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => panic!("jubilant-server did not start: {:?}", log.lock().map(|l| l.clone()).unwrap_or_default()),
        };
        let addr = match addr.parse() {
            Ok(a) => a,
            Err(e) => panic!("bad listen address {addr:?}: {e}"),
        };
        Server { child, addr, log }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    #[must_use]
    pub fn terminate(mut self) -> ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "jubilant-server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `jubectl ARGS…`; returns (exit code, stdout, stderr).
#[must_use]
pub fn jubectl(args: &[&str]) -> (i32, String, String) {
    match Command::new(binary("jubectl")).args(args).output() {
        Ok(out) => (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Err(e) => panic!("run jubectl: {e}"),
    }
}
