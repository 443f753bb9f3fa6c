//! `cargo xtask`: one command per repository chore.
//!
//! - `cargo xtask codegen [--check]`: regenerate `format/src/generated/`
//!   from `schemas/*.fbs` with flatc 25.12.19; `--check` regenerates into a
//!   scratch directory and fails if anything differs (schema drift).
//! - `cargo xtask golden [--check]`: rewrite the golden files and insta
//!   snapshots of the format crate from its encoders; `--check` (the
//!   default test run does the same) fails on any difference.
//! - `cargo xtask golden-dirs [--check]`: rebuild the golden data
//!   directories under `golden/dirs/` with the engine and rewrite the
//!   snapshots of jubectl's offline commands on them; `--check` (the
//!   default test run does the same) fails on any difference. Directory
//!   ids are random, so a rebuild changes every snapshot: rebuild only
//!   after a deliberate format change, and review the snapshots.
//!
//! flatc is found through `$FLATC`, then `.venv-flatc/bin/flatc` (what
//! `scripts/install-flatc` creates), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

const FLATC_VERSION: &str = "flatc version 25.12.19";
const SCHEMAS: &[&str] = &["disk.fbs", "wal.fbs", "wire.fbs"];
const GENERATED_DIR: &str = "format/src/generated";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["codegen"] => codegen(false),
        ["codegen", "--check"] => codegen(true),
        ["golden"] => golden(true),
        ["golden", "--check"] => golden(false),
        ["golden-dirs"] => golden_dirs(true),
        ["golden-dirs", "--check"] => golden_dirs(false),
        _ => Err(
            "usage: cargo xtask codegen [--check] | cargo xtask golden [--check] | cargo xtask golden-dirs [--check]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask lives one level below the workspace root.
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map_or(manifest_dir.clone(), Path::to_path_buf)
}

fn find_flatc(root: &Path) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = [
        env::var_os("FLATC").map(PathBuf::from),
        Some(root.join(".venv-flatc/bin/flatc")),
        Some(PathBuf::from("flatc")),
    ]
    .into_iter()
    .flatten()
    .collect();
    for flatc in candidates {
        let Ok(out) = Command::new(&flatc).arg("--version").output() else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if version == FLATC_VERSION {
            return Ok(flatc);
        }
        eprintln!("xtask: ignoring {} ({version}): need {FLATC_VERSION}", flatc.display());
    }
    Err(format!("{FLATC_VERSION} not found: run scripts/install-flatc (or set FLATC)"))
}

fn run_flatc(root: &Path, out_dir: &Path) -> Result<()> {
    let flatc = find_flatc(root)?;
    fs::create_dir_all(out_dir).map_err(|e| format!("create {}: {e}", out_dir.display()))?;
    let mut cmd = Command::new(&flatc);
    cmd.arg("--rust").arg("-o").arg(out_dir);
    for schema in SCHEMAS {
        cmd.arg(root.join("schemas").join(schema));
    }
    let status = cmd.status().map_err(|e| format!("run {}: {e}", flatc.display()))?;
    if !status.success() {
        return Err(format!("flatc failed: {status}"));
    }
    Ok(())
}

fn generated_name(schema: &str) -> String {
    format!("{}_generated.rs", schema.trim_end_matches(".fbs"))
}

fn codegen(check: bool) -> Result<()> {
    let root = root();
    let committed = root.join(GENERATED_DIR);
    if !check {
        run_flatc(&root, &committed)?;
        println!("regenerated {GENERATED_DIR}");
        return Ok(());
    }
    let scratch = root.join("target/xtask-codegen");
    let _ = fs::remove_dir_all(&scratch);
    run_flatc(&root, &scratch)?;
    let mut drift = Vec::new();
    for schema in SCHEMAS {
        let name = generated_name(schema);
        let fresh = fs::read(scratch.join(&name)).map_err(|e| format!("read fresh {name}: {e}"))?;
        match fs::read(committed.join(&name)) {
            Ok(old) if old == fresh => {}
            Ok(_) => drift.push(format!("{GENERATED_DIR}/{name} differs from schemas/{schema}")),
            Err(_) => drift.push(format!("{GENERATED_DIR}/{name} is missing")),
        }
    }
    if drift.is_empty() {
        println!("codegen: {GENERATED_DIR} matches schemas/");
        Ok(())
    } else {
        Err(format!("schema drift:\n  {}\nrun `cargo xtask codegen` and commit the result", drift.join("\n  ")))
    }
}

fn golden(update: bool) -> Result<()> {
    let root = root();
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.current_dir(&root).args(["test", "--package", "jubilant-format", "--test", "it", "--", "golden"]);
    if update {
        cmd.env("JUBILANT_UPDATE_GOLDEN", "1").env("INSTA_UPDATE", "always");
    } else {
        cmd.env("INSTA_UPDATE", "no");
    }
    let status = cmd.status().map_err(|e| format!("run cargo test: {e}"))?;
    if !status.success() {
        return Err(if update {
            "golden update failed".to_owned()
        } else {
            "golden files differ from the encoders: if the change is deliberate, run `cargo xtask golden` and commit"
                .to_owned()
        });
    }
    println!("golden files {}", if update { "rewritten" } else { "match" });
    Ok(())
}

fn golden_dirs(update: bool) -> Result<()> {
    let root = root();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let test = |filter: &str, envs: &[(&str, &str)]| -> Result<()> {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&root).args(["test", "--package", "jubectl", "--test", "it", "--", filter]);
        for (name, value) in envs {
            cmd.env(name, value);
        }
        let status = cmd.status().map_err(|e| format!("run cargo test: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("cargo test {filter} failed")) }
    };
    if update {
        // First the directories, then (once they exist) the snapshots.
        test("forensics::golden::golden_directories_exist", &[("JUBILANT_UPDATE_GOLDEN_DIRS", "1")])?;
        test("forensics::golden", &[("INSTA_UPDATE", "always")])?;
        println!("golden/dirs rebuilt and snapshots rewritten: review them with git diff");
    } else {
        test("forensics::golden", &[("INSTA_UPDATE", "no")]).map_err(|_| {
            "offline command output differs from its snapshots: if the change is deliberate, run `cargo xtask golden-dirs` and commit"
                .to_owned()
        })?;
        println!("golden/dirs snapshots match");
    }
    Ok(())
}
