//! `jubilant-loadgen`: GET and SET throughput and latency of
//! `jubilant-server` with 1 and 50 connections, unpipelined and with 16
//! requests in flight per connection (100-byte values, keys drawn from 1M),
//! and the same shapes from `redis-benchmark` against a local
//! `redis-server` (`appendfsync always`: every write durable before the
//! reply) started and stopped by this program on a loopback port.
//!
//! ```sh
//! cargo run --release -p jubilant-loadgen                 # starts both servers
//! cargo run --release -p jubilant-loadgen -- --addr 127.0.0.1:7420 --no-redis
//! ```
//!
//! Pipelining works as `redis-benchmark -P 16` does, so both servers see the
//! same traffic: a connection writes 16 requests at once, waits for all 16
//! responses, then writes the next 16.
//!
//! Redis is skipped (with a note) when `redis-server` is not installed. The
//! table is printed and written with the raw cells as
//! `target/reports/loadgen/<unix time>/report.{md,json}`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use jubilant_format::generated::wire as fb;
use jubilant_format::wire::{WireLimits, decode_response, laid};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

/// Load generator for jubilant-server (and redis for comparison).
#[derive(Debug, Parser)]
struct Args {
    /// A running server to load; by default one is started on a fresh
    /// data directory on a loopback port.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Keys drawn from this many.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Requests per measurement cell.
    #[arg(long, default_value_t = 100_000, env = "JUBILANT_LOADGEN_REQUESTS")]
    requests: u64,
    /// Directory of the reports (default: `target/reports/loadgen`).
    #[arg(long)]
    reports_dir: Option<PathBuf>,
    /// Skip redis.
    #[arg(long)]
    no_redis: bool,
    /// Run only these operations (default: SET, then GET).
    #[arg(long = "op", value_parser = ["SET", "GET"])]
    ops: Vec<String>,
    /// Run only these connection counts (default: 1, then 50).
    #[arg(long = "connections")]
    connections: Vec<u64>,
    /// Run only these pipeline depths (default: 1, then 16).
    #[arg(long = "pipeline")]
    pipelines: Vec<u64>,
}

/// One measurement.
#[derive(Debug, Clone, serde::Serialize)]
struct Cell {
    server: &'static str,
    op: &'static str,
    connections: u64,
    pipeline: u64,
    ops_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

struct Child_(Child);

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin_dir() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default()
}

/// Starts jubilant-server on a fresh directory; returns it and its address.
fn start_jubilant(dir: &std::path::Path) -> anyhow::Result<(Child_, SocketAddr)> {
    use std::io::BufRead;
    let mut child = Command::new(bin_dir().join("jubilant-server"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("start jubilant-server (build it with `cargo build --release --bin jubilant-server`)")?;
    let stderr = child.stderr.take().context("server stderr")?;
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let Some(line) = lines.next() else { bail!("jubilant-server exited before listening") };
        let line = line?;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap_or_default().parse()?;
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((Child_(child), addr))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted.get(i).copied().unwrap_or(0))
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// jubilant's FlatBuffers frames.
    Jubilant,
    /// Redis's RESP: the same client loop against redis, so both servers
    /// are measured with one client as well as with `redis-benchmark`.
    Resp,
}

/// What one connection sends.
#[derive(Debug, Clone)]
struct Load {
    proto: Proto,
    op: &'static str,
    /// Requests in all.
    n: u64,
    /// Requests per window.
    pipeline: u64,
    /// Keys drawn from this many.
    keys: u64,
    value: Arc<Vec<u8>>,
}

/// One connection sending `pipeline` requests at a time (and waiting for
/// all their responses before the next window); returns the latencies
/// (µs) of `n` requests.
///
/// The client does as little per request as `redis-benchmark` does, so
/// the two servers are compared and not the clients: buffers are reused,
/// requests are laid straight into their frames (as the client library
/// lays single GETs and SETs), and a response is verified (the FlatBuffers
/// verifier, as the client library does) but only its id and kind are
/// read.
async fn connection(stream: TcpStream, load: Load, seed: u64) -> anyhow::Result<Vec<u32>> {
    use std::io::Write as _;
    let Load { proto, op, n, pipeline, keys, value } = load;
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut wr = BufWriter::new(wr);
    let mut rng = Rng(seed | 1);
    // Send times of the window's requests, by request id - `base`: jubilant
    // answers as requests finish, not necessarily in order; redis answers
    // in order (the oldest in flight).
    let mut sent_at: Vec<Option<Instant>> = Vec::with_capacity(pipeline as usize);
    let mut base = 1u64;
    let mut in_flight = 0usize;
    let mut latencies = Vec::with_capacity(n as usize);
    let mut sent = 0u64;
    let mut frame = Vec::new();
    let mut key = Vec::new();
    let mut body = Vec::new();
    let verifier = WireLimits::default().verifier_options();
    while latencies.len() < n as usize {
        // A new window of requests once the last one is all answered.
        if sent < n && in_flight == 0 {
            base = sent + 1;
            sent_at.clear();
            for _ in 0..pipeline.min(n - sent) {
                key.clear();
                write!(key, "key:{:012}", rng.next() % keys)?;
                frame.clear();
                match proto {
                    // Laid as the client library lays them.
                    Proto::Jubilant => match op {
                        "SET" => laid::set_request_frame(&mut frame, sent + 1, &key, &value, None),
                        _ => laid::get_request_frame(&mut frame, sent + 1, &key),
                    },
                    Proto::Resp => {
                        let args: &[&[u8]] = match op {
                            "SET" => &[b"SET", &key, &value],
                            _ => &[b"GET", &key],
                        };
                        write!(frame, "*{}\r\n", args.len())?;
                        for a in args {
                            write!(frame, "${}\r\n", a.len())?;
                            frame.extend_from_slice(a);
                            frame.extend_from_slice(b"\r\n");
                        }
                    }
                }
                wr.write_all(&frame).await?;
                sent_at.push(Some(Instant::now()));
                in_flight += 1;
                sent += 1;
            }
            wr.flush().await?;
        }
        let id = match proto {
            Proto::Jubilant => {
                let len = rd.read_u32_le().await? as usize;
                body.resize(len, 0);
                rd.read_exact(&mut body).await?;
                let response = flatbuffers::root_with_opts::<fb::Response>(&verifier, &body)?;
                if response.body_type() != fb::ResponseBody::TxnResult {
                    // Anything else is an error here: decode it in full to say which.
                    bail!("server answered {:?}", decode_response(&body, &WireLimits::default())?.body);
                }
                response.id()
            }
            Proto::Resp => {
                read_resp(&mut rd).await?;
                base + (sent_at.len() - in_flight) as u64
            }
        };
        let slot = id.checked_sub(base).and_then(|i| sent_at.get_mut(usize::try_from(i).ok()?));
        let Some(t) = slot.and_then(Option::take) else { bail!("a response to request {id} not in flight") };
        in_flight -= 1;
        latencies.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    Ok(latencies)
}

/// Reads one RESP reply to SET (`+OK`) or GET (a bulk string or nil).
async fn read_resp<R: tokio::io::AsyncBufRead + Unpin>(rd: &mut R) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt;
    let mut line = Vec::new();
    rd.read_until(b'\n', &mut line).await?;
    match line.first() {
        Some(b'+') => Ok(()),
        Some(b'$') => {
            let len: i64 = std::str::from_utf8(line.get(1..).unwrap_or_default())?.trim().parse()?;
            if let Ok(len) = usize::try_from(len) {
                let mut value = vec![0u8; len + 2];
                rd.read_exact(&mut value).await?;
            }
            Ok(())
        }
        _ => bail!("redis answered {:?}", String::from_utf8_lossy(&line)),
    }
}

async fn client_cell(
    addr: SocketAddr,
    proto: Proto,
    args: &Args,
    op: &'static str,
    connections: u64,
    pipeline: u64,
) -> anyhow::Result<Cell> {
    let value = Arc::new(vec![b'x'; args.value_bytes]);
    let per_conn = (args.requests / connections).max(1);
    let mut streams = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    // The clock starts once every connection is open, as redis-benchmark's
    // does: connecting is not part of a server's request rate.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, stream) in (0u64..).zip(streams) {
        let load = Load { proto, op, n: per_conn, pipeline, keys: args.keys, value: Arc::clone(&value) };
        tasks.push(tokio::spawn(connection(stream, load, c * 7919 + 13)));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(Cell {
        server: match proto {
            Proto::Jubilant => "jubilant",
            Proto::Resp => "redis-loadgen",
        },
        op,
        connections,
        pipeline,
        ops_per_s: all.len() as f64 / secs,
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
    })
}

/// Runs redis-benchmark for one shape; parses its CSV.
fn redis_cell(port: u16, args: &Args, op: &'static str, connections: u64, pipeline: u64) -> anyhow::Result<Cell> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", &op.to_lowercase()])
        .args(["-n", &args.requests.to_string(), "-c", &connections.to_string(), "-P", &pipeline.to_string()])
        .args(["-d", &args.value_bytes.to_string(), "-r", &args.keys.to_string(), "--csv"])
        .output()
        .context("run redis-benchmark")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    let line =
        text.lines().find(|l| l.starts_with(&format!("\"{op}\""))).context("redis-benchmark printed no result")?;
    let fields: Vec<f64> = line.split(',').skip(1).map(|f| f.trim_matches('"').parse().unwrap_or(0.0)).collect();
    let get = |i: usize| fields.get(i).copied().unwrap_or(0.0);
    Ok(Cell {
        server: "redis",
        op,
        connections,
        pipeline,
        ops_per_s: get(0),
        p50_us: get(3) * 1000.0,
        p99_us: get(5) * 1000.0,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = std::env::temp_dir().join(format!("jubilant-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let result = run(&args, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn run(args: &Args, tmp: &std::path::Path) -> anyhow::Result<()> {
    let (_server, addr) = match args.addr {
        Some(a) => (None, a),
        None => {
            let (child, addr) = start_jubilant(&tmp.join("db"))?;
            (Some(child), addr)
        }
    };
    let redis_installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !args.no_redis && !redis_installed {
        eprintln!("redis-server is not installed: measuring jubilant-server alone");
    }
    let redis = if args.no_redis || !redis_installed {
        None
    } else {
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--dir"])
            .arg(tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start redis-server (apt-get install redis-server redis-tools, or pass --no-redis)")?;
        std::thread::sleep(Duration::from_millis(300));
        Some((Child_(child), port))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut cells = Vec::new();
    let ops: Vec<&'static str> =
        ["SET", "GET"].into_iter().filter(|op| args.ops.is_empty() || args.ops.iter().any(|o| o == op)).collect();
    for op in ops {
        let or = |chosen: &[u64], default: [u64; 2]| if chosen.is_empty() { default.to_vec() } else { chosen.to_vec() };
        for &connections in &or(&args.connections, [1, 50]) {
            for &pipeline in &or(&args.pipelines, [1, 16]) {
                let cell = runtime.block_on(client_cell(addr, Proto::Jubilant, args, op, connections, pipeline))?;
                eprintln!("{cell:?}");
                cells.push(cell);
                if let Some((_, port)) = &redis {
                    let cell = redis_cell(*port, args, op, connections, pipeline)?;
                    eprintln!("{cell:?}");
                    cells.push(cell);
                    let redis_addr = SocketAddr::from(([127, 0, 0, 1], *port));
                    let cell =
                        runtime.block_on(client_cell(redis_addr, Proto::Resp, args, op, connections, pipeline))?;
                    eprintln!("{cell:?}");
                    cells.push(cell);
                }
            }
        }
    }
    let mut table = String::from(
        "| op | connections | in flight per connection | jubilant ops/s | p50 µs | p99 µs | redis ops/s | p50 µs | p99 µs | jubilant vs redis | redis, loadgen's client (ops/s) | jubilant vs redis, same client |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in cells.iter().filter(|c| c.server == "jubilant") {
        let find = |server: &str| {
            cells.iter().find(|r| {
                r.server == server && r.op == c.op && r.connections == c.connections && r.pipeline == c.pipeline
            })
        };
        let (rops, rp50, rp99, ratio) = match find("redis") {
            Some(r) => (
                format!("{:.0}", r.ops_per_s),
                format!("{:.0}", r.p50_us),
                format!("{:.0}", r.p99_us),
                format!("{:.2}×", c.ops_per_s / r.ops_per_s),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let (lops, lratio) = match find("redis-loadgen") {
            Some(r) => (format!("{:.0}", r.ops_per_s), format!("{:.2}×", c.ops_per_s / r.ops_per_s)),
            None => ("-".into(), "-".into()),
        };
        table.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {rops} | {rp50} | {rp99} | {ratio} | {lops} | {lratio} |\n",
            c.op, c.connections, c.pipeline, c.ops_per_s, c.p50_us, c.p99_us
        ));
    }
    print!("{table}");
    let unix_time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let reports = args.reports_dir.clone().unwrap_or_else(|| {
        // `target/release/jubilant-loadgen` → `target/reports/loadgen`.
        bin_dir().parent().map_or_else(|| PathBuf::from("reports"), PathBuf::from).join("reports").join("loadgen")
    });
    let dir = reports.join(unix_time.to_string());
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let header = format!(
        "# jubilant-loadgen, unix time {unix_time}\n\n{} requests per cell, keys drawn from {}, {}-byte values; \
         redis: {}.\n\n",
        args.requests,
        args.keys,
        args.value_bytes,
        if redis.is_some() { "appendonly yes, appendfsync always" } else { "not measured" }
    );
    std::fs::write(dir.join("report.md"), format!("{header}{table}"))?;
    let json = serde_json::json!({
        "unix_time": unix_time,
        "requests": args.requests,
        "keys": args.keys,
        "value_bytes": args.value_bytes,
        "cells": cells,
    });
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&json)?)?;
    eprintln!("report: {}", dir.join("report.md").display());
    Ok(())
}
