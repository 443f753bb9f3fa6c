//! `jubectl`: the admin command line of jubilant-db.
//!
//! Thin by design: `cli` parses, `run` calls `jubilant_client`, `output`
//! formats, `exit` maps the result to an exit code.

mod bytes;
mod cli;
mod duration;
mod exit;
mod output;
mod run;
mod txn_file;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;
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

fn run(cli: Cli) -> Result<output::Rendered, Failure> {
    let prepared = run::prepare(cli.command)?;
    let client = jubilant_client::BlockingClient::connect(run::client_config(&cli.connection))?;
    let outcome = run::execute(prepared, &client)?;
    Ok(output::render(&outcome, cli.json))
}
