//! `jubilant-server`: serves a data directory. With no flags it serves
//! `./jubilant-data` on 127.0.0.1:7420.
//!
//! Exit codes: 0 after a clean shutdown, 1 when serving failed, 2 for an
//! invalid configuration or command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use jubilant_server::config::{ConfigSource, LogFormat, Overrides};
use jubilant_server::server::Server;

/// mimalloc rather than the system allocator: the served path allocates
/// on the I/O threads and frees on the commit thread, which glibc's
/// per-thread arenas turn into consolidation work (7% of a pipelined SET
/// profile).
///
/// Built with mimalloc's `no_thp` feature (workspace Cargo.toml): mimalloc
/// otherwise asks for transparent huge pages on its arenas, and every
/// arena it purges and reuses is faulted back in 2 MiB at a time, each
/// zeroed whole. A checkpoint, which allocates and frees its changes and
/// new leaves in bulk, spent half its time in the kernel's `clear_page`
/// (259k keys: 0.35-0.42 s with huge pages, 0.20 s without; peak RSS
/// 20-30 MiB lower).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The jubilant-db server.
#[derive(Debug, Parser)]
#[command(name = "jubilant-server", version, about)]
struct Args {
    /// Data directory to serve (created if missing).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:7420 (port 0 picks a free one).
    #[arg(long)]
    listen: Option<String>,
    /// Configuration file (TOML); re-read on SIGHUP.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Print the default configuration file, commented, and exit.
    #[arg(long)]
    print_default_config: bool,
}

async fn shutdown_signal(tx: tokio::sync::watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
    let _ = tx.send(true);
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_default_config {
        let text = jubilant_server::config::keys::default_file();
        return match std::io::stdout().write_all(text.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("jubilant-server: {e}");
                ExitCode::from(1)
            }
        };
    }
    let source = ConfigSource {
        path: args.config,
        overrides: Overrides { data_dir: args.data_dir, listen: args.listen, log_format: args.log_format },
    };
    let config = match source.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("jubilant-server: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let log = jubilant_server::logging::init(&config.log);
    jubilant_server::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("jubilant-io").build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jubilant-server: start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::bind(config, source, log).await?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(shutdown_signal(tx));
        server.run(rx).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("jubilant-server: {e:#}");
            ExitCode::from(1)
        }
    }
}
