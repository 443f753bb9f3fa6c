//! The command line: global connection options and the subcommands.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::bytes::{Bytes, parse_bytes_arg};
use crate::duration::parse_duration;
use crate::forensics::args::OfflineCommand;

/// Admin command line for jubilant-db.
///
/// Keys and values are text, or `hex:` followed by hex digits for binary
/// data (output uses the same form). Durations are a whole number and a
/// unit: `500ms`, `10s`, `2m`, `1h`.
///
/// Online commands talk to a server; offline commands (validate, repair,
/// salvage, dump-*, stat) open a data directory directly.
///
/// Exit codes of online commands: 0 success, 1 the server or the network
/// failed (one line on stderr), 16 usage error.
///
/// Exit codes of offline commands, as fsck (a sum of bits): 0 clean,
/// 1 problems corrected, 4 problems left uncorrected, 8 operational error
/// (missing directory, permission, locked by a running server), 16 usage
/// error.
#[derive(Debug, Parser)]
#[command(name = "jubectl", version)]
pub struct Cli {
    /// How to reach the server.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Print one JSON document per command instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options for reaching the server, accepted before or after the
/// subcommand.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Server address, host:port.
    #[arg(long, global = true, value_name = "ADDR", env = "JUBILANT_ADDR", default_value = jubilant_client::DEFAULT_ADDR)]
    pub addr: String,
    /// API token, sent on connect.
    #[arg(long, global = true, value_name = "T", env = "JUBILANT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Use TLS, trusting the CA certificates in this PEM file.
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Name the server's certificate must carry [default: the host of --addr].
    #[arg(long, global = true, value_name = "NAME", requires = "tls_ca")]
    pub tls_server_name: Option<String>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, global = true, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Time limit for connecting and for each request, like 10s or 500ms.
    #[arg(long, global = true, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and write keys.
    #[command(subcommand)]
    Kv(KvCommand),
    /// Show server and engine statistics.
    Info,
    /// Run a checkpoint and wait for it to complete.
    Checkpoint,
    /// Check that the server answers, and how fast.
    Ping,
    /// Server configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Offline commands on a data directory.
    #[command(flatten)]
    Offline(OfflineCommand),
}

/// `jubectl kv …`.
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Print the value of KEY.
    Get {
        /// The key.
        #[arg(value_parser = parse_bytes_arg)]
        key: Bytes,
    },
    /// Set KEY to VALUE.
    Set {
        /// The key.
        #[arg(value_parser = parse_bytes_arg)]
        key: Bytes,
        /// The value.
        #[arg(value_parser = parse_bytes_arg)]
        value: Bytes,
        /// Expire this long after the commit, like 10s or 2m.
        #[arg(long, value_name = "DUR", value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Remove KEY.
    Del {
        /// The key.
        #[arg(value_parser = parse_bytes_arg)]
        key: Bytes,
    },
    /// List keys and values in [FROM, TO), in key order.
    Scan {
        /// First key (inclusive) [default: the first key].
        #[arg(long, value_name = "K", value_parser = parse_bytes_arg)]
        from: Option<Bytes>,
        /// Stop before this key (exclusive) [default: past the last key].
        #[arg(long, value_name = "K", value_parser = parse_bytes_arg)]
        to: Option<Bytes>,
        /// Most pairs to list; 0 is the server's maximum.
        #[arg(long, value_name = "N", default_value_t = 0)]
        limit: u32,
        /// Descending key order.
        #[arg(long)]
        reverse: bool,
    },
    /// Run the transaction in FILE ('-' for stdin): a JSON array of
    /// operations committed atomically.
    ///
    /// Example: [{"op":"set","key":"a","value":"1","ttl":"10s"},
    /// {"op":"assert","key":"a","exists":true}, {"op":"get","key":"a"},
    /// {"op":"del","key":"b"}, {"op":"scan","from":"a","to":"z","limit":10,"reverse":false}].
    /// An assert takes exactly one of "exists" (true/false), "value", or
    /// "version" (0: absent). If an assert fails nothing is written and
    /// jubectl exits with 1.
    Txn {
        /// The transaction file, or '-' for stdin.
        file: PathBuf,
    },
}

/// `jubectl config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Make the server re-read its configuration file.
    Reload,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from(["jubectl", "kv", "get", "hex:00", "--addr", "h:1", "--json"]).unwrap();
        assert_eq!(cli.connection.addr, "h:1");
        assert!(cli.json);
        assert!(matches!(cli.command, Command::Kv(KvCommand::Get { key }) if key.0 == [0]));
        let cli = Cli::try_parse_from(["jubectl", "--timeout", "500ms", "kv", "set", "k", "v", "--ttl", "2m"]).unwrap();
        assert_eq!(cli.connection.timeout, Some(Duration::from_millis(500)));
        assert!(
            matches!(cli.command, Command::Kv(KvCommand::Set { ttl: Some(t), .. }) if t == Duration::from_secs(120))
        );
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for args in [
            &["jubectl", "kv", "set", "k", "v", "--ttl", "10"][..],
            &["jubectl", "kv", "get", "hex:zz"],
            &["jubectl", "--tls-cert", "c.pem", "ping"],
            &["jubectl", "kv"],
            &["jubectl", "config", "reload", "extra"],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            // clap's own code; main maps every parse error to 16.
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }
}
