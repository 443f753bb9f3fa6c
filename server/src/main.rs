//! `jubilant-server`: serves a data directory. With no flags it serves
//! `./jubilant-data` on 127.0.0.1:7420.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use jubilant_server::config::{Config, LogFormat};
use jubilant_server::server::Server;

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
    /// Configuration file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
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
    let mut config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("jubilant-server: invalid configuration: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if let Some(d) = args.data_dir {
        config.data_dir = d;
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(f) = args.log_format {
        config.log.format = f;
    }
    if let Err(e) = config.validate() {
        eprintln!("jubilant-server: invalid configuration: {e}");
        return ExitCode::from(2);
    }
    init_logging(&config);
    jubilant_server::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("jubilant-io").build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jubilant-server: start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::bind(config).await?;
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
