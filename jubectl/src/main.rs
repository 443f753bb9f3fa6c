//! `jubectl`: the admin command line of jubilant-db.
//!
//! Thin by design: `cli` parses, `run` calls `jubilant_client`, `output`
//! formats, `exit` maps the result to an exit code; `forensics` runs the
//! offline commands on a data directory.

mod bytes;
mod cli;
mod duration;
mod exit;
mod forensics;
mod output;
mod run;
mod txn_file;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command};
use crate::exit::{Failure, Status, exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit(Status::Success),
                _ => exit(Status::Usage),
            };
        }
    };
    let json = cli.json;
    if let Command::Offline(command) = cli.command {
        return offline(command, json);
    }
    match run(cli) {
        Ok(rendered) => {
            if let Some(note) = rendered.stderr {
                eprintln!("{note}");
            }
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(rendered.stdout.as_bytes()).and_then(|()| stdout.flush()) {
                Ok(()) => exit(Status::Success),
                // A closed pipe (`jubectl kv scan | head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit(Status::Success),
                Err(e) => {
                    eprintln!("jubectl: write output: {e}");
                    exit(Status::Failed)
                }
            }
        }
        Err(failure) => {
            if json {
                print!("{}", output::error_json(&failure));
            }
            eprintln!("{}", output::error_line(&failure));
            exit(failure.status())
        }
    }
}

/// Runs an offline command: output streams to stdout, the exit code is
/// fsck-style.
fn offline(command: forensics::args::OfflineCommand, json: bool) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let result = forensics::run(command, json, &mut stdout).and_then(|code| {
        stdout.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        // A closed pipe (`jubectl dump-wal DIR | head`) is not an error.
        Err(error) if error.is_broken_pipe() => ExitCode::from(exit::fsck::CLEAN),
        Err(error) => {
            if json {
                let failure = Failure::Local(anyhow::anyhow!("{error}"));
                let _ = stdout.write_all(output::error_json(&failure).as_bytes());
            }
            let message = error.to_string().replace(['\n', '\r'], " ");
            eprintln!("jubectl: {message}");
            ExitCode::from(error.code())
        }
    }
}

fn run(cli: Cli) -> Result<output::Rendered, Failure> {
    let prepared = run::prepare(cli.command)?;
    let client = jubilant_client::BlockingClient::connect(run::client_config(&cli.connection))?;
    let outcome = run::execute(prepared, &client)?;
    Ok(output::render(&outcome, cli.json))
}
