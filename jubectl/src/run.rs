//! Turns a parsed command into client calls and their outcome. The
//! network work is `jubilant_client`'s; this module only chooses the call.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use jubilant_client::{
    BlockingClient, CheckpointInfo, ClientConfig, ConfigReloadInfo, KeyValue, Op, Pem, ScanPage, TlsConfig, TxnResult,
};
use jubilant_format::Lsn;

use crate::cli::{Command, ConfigCommand, ConnectionArgs, KvCommand};
use crate::exit::Failure;
use crate::txn_file::{MAX_TXN_FILE_BYTES, parse_txn};

/// What a command produced, for `output` to print.
#[derive(Debug)]
pub enum Outcome {
    /// `kv get`.
    Get {
        /// The key asked for.
        key: Vec<u8>,
        /// The pair, if the key exists.
        item: Option<KeyValue>,
    },
    /// `kv set`.
    Set {
        /// The key written.
        key: Vec<u8>,
        /// The commit's version.
        commit_version: Lsn,
    },
    /// `kv del`.
    Del {
        /// The key removed.
        key: Vec<u8>,
        /// Whether it existed.
        existed: bool,
    },
    /// `kv scan`.
    Scan(ScanPage),
    /// `kv txn`.
    Txn {
        /// The operations sent, to label the results.
        ops: Vec<Op>,
        /// Their results.
        result: TxnResult,
    },
    /// `info`.
    Info(Vec<(String, String)>),
    /// `checkpoint`.
    Checkpoint(CheckpointInfo),
    /// `ping`.
    Ping(Duration),
    /// `config reload`.
    ConfigReload(ConfigReloadInfo),
}

/// The client configuration the connection options ask for.
#[must_use]
pub fn client_config(args: &ConnectionArgs) -> ClientConfig {
    let mut config = ClientConfig::new(args.addr.clone());
    config.token = args.token.clone();
    if let Some(timeout) = args.timeout {
        config.connect_timeout = timeout;
        config.request_timeout = timeout;
    }
    if let Some(ca) = &args.tls_ca {
        let mut tls = TlsConfig::new(Pem::File(ca.clone()));
        tls.server_name = args.tls_server_name.clone();
        tls.client_cert_pem = args.tls_cert.clone().map(Pem::File);
        tls.client_key_pem = args.tls_key.clone().map(Pem::File);
        config.tls = Some(tls);
    }
    config
}

/// A command with its inputs read and checked, ready to send.
#[derive(Debug)]
pub struct Prepared {
    command: Command,
    /// The parsed transaction file of `kv txn`.
    txn: Option<Vec<Op>>,
}

/// Reads and checks the command's inputs (the transaction file), before
/// any connection is made.
///
/// # Errors
///
/// [`Failure::Local`] if the file cannot be read, [`Failure::Usage`] if it
/// is not a valid transaction.
pub fn prepare(command: Command) -> Result<Prepared, Failure> {
    let txn = match &command {
        Command::Kv(KvCommand::Txn { file }) => {
            let text = read_input(file).map_err(Failure::Local)?;
            Some(parse_txn(&text).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?)
        }
        _ => None,
    };
    Ok(Prepared { command, txn })
}

/// Runs a prepared command on `client`.
///
/// # Errors
///
/// [`Failure::Client`] for whatever the client reports.
pub fn execute(prepared: Prepared, client: &BlockingClient) -> Result<Outcome, Failure> {
    let outcome = match prepared.command {
        Command::Kv(KvCommand::Get { key }) => Outcome::Get { item: client.get(&key.0)?, key: key.0 },
        Command::Kv(KvCommand::Set { key, value, ttl }) => {
            Outcome::Set { commit_version: client.set(&key.0, &value.0, ttl)?, key: key.0 }
        }
        Command::Kv(KvCommand::Del { key }) => Outcome::Del { existed: client.del(&key.0)?, key: key.0 },
        Command::Kv(KvCommand::Scan { from, to, limit, reverse }) => Outcome::Scan(client.scan(
            from.as_ref().map(|k| k.0.as_slice()),
            to.as_ref().map(|k| k.0.as_slice()),
            limit,
            reverse,
        )?),
        Command::Kv(KvCommand::Txn { .. }) => {
            let ops = prepared.txn.unwrap_or_default();
            let result = client.transact(ops.clone())?;
            Outcome::Txn { ops, result }
        }
        Command::Info => Outcome::Info(client.info()?),
        Command::Checkpoint => Outcome::Checkpoint(client.checkpoint()?),
        Command::Ping => Outcome::Ping(client.ping()?),
        Command::Config(ConfigCommand::Reload) => Outcome::ConfigReload(client.config_reload()?),
        // `main` runs offline commands without a client.
        Command::Offline(_) => return Err(Failure::Usage("an offline command needs no server".into())),
    };
    Ok(outcome)
}

/// The text of `path`, or of stdin for `-`, at most
/// [`MAX_TXN_FILE_BYTES`] (one byte more is read to notice a larger one,
/// which the parser then refuses).
fn read_input(path: &Path) -> anyhow::Result<String> {
    let limit = u64::try_from(MAX_TXN_FILE_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_string(&mut text).context("read transaction from stdin")?;
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        file.take(limit).read_to_string(&mut text).with_context(|| format!("read {}", path.display()))?;
    }
    Ok(text)
}
