//! The configuration as the binary sees it: the printed default file,
//! errors that stop the server with the key and line.

use std::process::Command;

use jubilant_server::config::Config;

use crate::support::TempDir;

fn server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jubilant-server")).args(args).output().unwrap()
}

#[test]
fn print_default_config_round_trips_to_the_defaults() {
    let out = server(&["--print-default-config"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("# ")), "the file is commented");
    let parsed = Config::parse(&text, std::path::Path::new("default.toml")).unwrap();
    assert_eq!(parsed, Config::default());
    parsed.validate().unwrap();
}

#[test]
fn an_invalid_file_stops_the_server_with_the_key_and_line() {
    let dir = TempDir::new("badconfig");
    let cases: &[(&str, &[&str])] = &[
        (
            "listen = \"127.0.0.1:0\"\n\n[limits]\nworkers = 2\nworkerz = 3\n",
            &["line 5", "limits.workerz", "unknown field"],
        ),
        ("[log]\nlevel = 3\n", &["line 2", "log.level", "invalid type"]),
        ("[limits]\nshed_backlog = 0\n", &["limits.shed_backlog", "out of range", "16777216"]),
        ("[limits\nworkers = 2\n", &["line 1"]),
    ];
    for (body, needles) in cases {
        let path = dir.0.join("c.toml");
        std::fs::write(&path, body).unwrap();
        let data = dir.0.join("db");
        let out = server(&["--config", path.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for needle in *needles {
            assert!(stderr.contains(needle), "{body:?}: {stderr} lacks {needle:?}");
        }
        assert!(!data.exists(), "an invalid configuration must not touch the data directory");
    }
}
