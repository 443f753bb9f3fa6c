//! Traces: one JSON line per transaction (its operations and the
//! response), written under `target/e2e-traces/`, and their replay
//! against the model.

use std::io::Write;
use std::path::PathBuf;

use jubilant_format::wire::{Op, ResponseBody};

use crate::model::Model;

/// A trace being written.
#[derive(Debug)]
pub struct Trace {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// The transactions, kept for the replay.
    pub entries: Vec<(Vec<Op>, ResponseBody)>,
}

impl Trace {
    /// A trace file for `name` (e.g. the seed).
    #[must_use]
    pub fn create(name: &str) -> Trace {
        let dir = crate::process::bin_dir().join("e2e-traces");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}.jsonl"));
        let file = match std::fs::File::create(&path) {
            Ok(f) => f,
            Err(e) => panic!("create {}: {e}", path.display()),
        };
        Trace { path, file: std::io::BufWriter::new(file), entries: Vec::new() }
    }

    /// Where it is.
    #[must_use]
    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Records one transaction.
    pub fn record(&mut self, ops: Vec<Op>, response: ResponseBody) {
        let line = serde_json::json!({ "ops": &ops, "response": &response });
        let _ = writeln!(self.file, "{line}");
        self.entries.push((ops, response));
    }

    /// Replays the trace against a fresh model; the first mismatch, with
    /// its index.
    pub fn check(&mut self) -> Result<Model, String> {
        let _ = self.file.flush();
        let mut model = Model::default();
        for (i, (ops, response)) in self.entries.iter().enumerate() {
            model
                .check_and_apply(ops, response)
                .map_err(|e| format!("transaction {i} of {}: {e}", self.path.display()))?;
        }
        Ok(model)
    }
}
