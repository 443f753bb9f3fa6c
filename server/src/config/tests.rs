//! Configuration: defaults, every validation error, parse errors with
//! their line and key, the default file, the key table and reload plans.

use std::path::Path;

use super::keys::{KEYS, Reload, default_file, find, flatten, plan_reload};
use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

/// Parses and validates; the error as text.
fn error_of(text: &str) -> String {
    match parse(text).and_then(|c| c.validate().map(|()| c)) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

const TOKEN: &str = "[[auth.tokens]]\ntoken = \"0123456789abcdef-secret\"\nrole = \"admin\"\n";

/// A configuration with every optional key set, each to a non-default
/// value.
fn everything_changed() -> Config {
    let text = format!(
        "listen = \"127.0.0.1:7521\"\ndata_dir = \"/tmp/elsewhere\"\n\
         [limits]\nmax_frame_bytes = 65536\nmax_connections = 10\nread_timeout_ms = 500\nidle_timeout_ms = 600\n\
         workers = 2\nshed_backlog = 3\nmax_in_flight_per_connection = 4\nshutdown_grace_ms = 5\n\
         [tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_ca = \"ca.pem\"\n\
         [engine]\ncache_bytes = 1048576\ndirty_bytes_max = 1048576\nwal_segment_bytes = 1048576\n\
         lock_timeout_ms = 7\ndurability = \"buffered\"\ncheckpoint_interval_ms = 1000\ncheckpoint_idle_ms = 0\ncheckpoint_wal_bytes = 1048576\n\
         [log]\nlevel = \"debug\"\nformat = \"json\"\nunsafe_show_data = true\nspan_durations = true\n\
         [admin]\nlisten = \"127.0.0.1:9999\"\nallow_non_loopback = true\n{TOKEN}"
    );
    let c = parse(&text).unwrap();
    c.validate().unwrap();
    c
}

#[test]
fn the_defaults_are_valid_and_an_empty_file_gives_them() {
    Config::default().validate().unwrap();
    assert_eq!(parse("").unwrap(), Config::default());
    assert_eq!(parse("[limits]\n").unwrap(), Config::default());
}

#[test]
fn the_default_file_parses_back_to_the_defaults() {
    let text = default_file();
    assert_eq!(parse(&text).unwrap(), Config::default(), "{text}");
    // Every key is mentioned, set or as a commented example.
    for k in KEYS {
        let name = k.key.rsplit('.').next().unwrap();
        assert!(text.contains(&format!("{name} = ")), "{} missing from the default file", k.key);
    }
}

#[test]
fn the_key_table_covers_every_key_and_only_them() {
    let all = flatten(&everything_changed());
    for key in all.keys() {
        assert!(find(key).is_some(), "{key} is not in KEYS");
    }
    for k in KEYS {
        assert!(all.contains_key(k.key), "{} is in KEYS but not in Config", k.key);
    }
    // Secrets are never serialized.
    assert!(!all.values().any(|v| v.contains("secret")), "{all:?}");
}

#[test]
fn docs_configuration_lists_every_key() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONFIGURATION.md")).unwrap();
    for k in KEYS {
        assert!(doc.contains(&format!("`{}`", k.key)), "docs/CONFIGURATION.md does not list `{}`", k.key);
    }
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let e = error_of("listen = \"127.0.0.1:1\"\n\n[limits]\nworkers = 4\nbogus_key = 1\n");
    assert!(e.contains("line 5"), "{e}");
    assert!(e.contains("bogus_key"), "{e}");
    assert!(e.contains("limits.bogus_key"), "{e}");
    let e = error_of("[nosuch]\nx = 1\n");
    assert!(e.contains("line 1") && e.contains("nosuch"), "{e}");
}

#[test]
fn a_type_error_names_the_key_and_line() {
    let e = error_of("[engine]\ndurability = \"sync\"\n[limits]\n\nworkers = \"many\"\n");
    assert!(e.contains("line 5"), "{e}");
    assert!(e.contains("limits.workers"), "{e}");
    assert!(e.contains("invalid type"), "{e}");
    let e = error_of("[engine]\ndurability = \"sometimes\"\n");
    assert!(e.contains("line 2") && e.contains("engine.durability"), "{e}");
}

#[test]
fn a_parse_error_never_quotes_a_token() {
    // A syntax error on a token's line: the message gives the position, not
    // the text of the line.
    let e = error_of("[[auth.tokens]]\ntoken = \"0123456789abcdef-secret\" role\n");
    assert!(e.contains("line 2"), "{e}");
    assert!(!e.contains("secret"), "{e}");
}

#[test]
fn every_range_error_names_the_key_and_the_range() {
    let cases: &[(&str, &str, &str)] = &[
        ("listen = \"nowhere\"", "listen", "IP address and port"),
        ("[limits]\nmax_frame_bytes = 10", "limits.max_frame_bytes", "from 1024 to 1073741824"),
        ("[limits]\nmax_connections = 0", "limits.max_connections", "from 1 to 1000000"),
        ("[limits]\nread_timeout_ms = 0", "limits.read_timeout_ms", "from 1 to 3600000"),
        ("[limits]\nidle_timeout_ms = 0", "limits.idle_timeout_ms", "from 1 to 86400000"),
        ("[limits]\nworkers = 5000", "limits.workers", "from 1 to 4096"),
        ("[limits]\nworkers = 8\nshed_backlog = 4", "limits.shed_backlog", "from limits.workers (8) to 16777216"),
        ("[limits]\nmax_in_flight_per_connection = 0", "limits.max_in_flight_per_connection", "from 1 to 65536"),
        ("[limits]\nshutdown_grace_ms = 4000000", "limits.shutdown_grace_ms", "from 0 to 3600000"),
        ("[[auth.tokens]]\ntoken = \"short\"\nrole = \"read\"", "auth.tokens", "from 16 to 4096 bytes"),
        ("[engine]\ncache_bytes = 1000", "engine.cache_bytes", "from 262144 to"),
        ("[engine]\ndirty_bytes_max = 1000", "engine.dirty_bytes_max", "from 65536 to"),
        ("[engine]\nwal_segment_bytes = 1000", "engine.wal_segment_bytes", "from 65536 to"),
        ("[engine]\nlock_timeout_ms = 0", "engine.lock_timeout_ms", "from 1 to 3600000"),
        ("[engine]\ncheckpoint_interval_ms = 1", "engine.checkpoint_interval_ms", "from 10 to 86400000"),
        ("[engine]\ncheckpoint_idle_ms = 86400001", "engine.checkpoint_idle_ms", "from 0 to 86400000"),
        ("[engine]\ncheckpoint_wal_bytes = 1", "engine.checkpoint_wal_bytes", "from 65536 to"),
        ("[log]\nlevel = \"info,=[\"", "log.level", "not a level filter"),
        ("[admin]\nlisten = \"somewhere\"", "admin.listen", "IP address and port"),
        ("[admin]\nlisten = \"0.0.0.0:9420\"", "admin.listen", "admin.allow_non_loopback = true"),
    ];
    for (text, key, range) in cases {
        let e = error_of(text);
        assert!(e.starts_with(&format!("{key}: ")), "{text}: {e}");
        assert!(e.contains(range), "{text}: {e}");
    }
    // Each key in the table with a numeric range has a case here.
    for k in KEYS.iter().filter(|k| k.kind == "integer") {
        assert!(cases.iter().any(|(_, key, _)| key == &k.key), "no range test for {}", k.key);
    }
    let dup = format!("{TOKEN}{TOKEN}");
    assert!(error_of(&dup).contains("token 1 is the same as token 0"));
    assert!(!error_of(&dup).contains("secret"));
    // Non-loopback admin is fine once allowed.
    let ok = parse("[admin]\nlisten = \"0.0.0.0:9420\"\nallow_non_loopback = true").unwrap();
    ok.validate().unwrap();
}

#[test]
fn a_reload_applies_live_keys_and_keeps_restart_keys() {
    let old = Config::default();
    let new = everything_changed();
    let plan = plan_reload(&old, new.clone());
    for k in KEYS {
        let changed_live = k.reload == Reload::Live;
        assert_eq!(plan.applied.iter().any(|a| a == k.key), changed_live, "{}: {plan:?}", k.key);
        let restart = k.reload == Reload::Restart;
        assert_eq!(plan.needs_restart.iter().any(|a| a == k.key), restart, "{}: {plan:?}", k.key);
    }
    // TLS was turned on: that needs a restart, and TLS stays off.
    assert!(plan.needs_restart.iter().any(|k| k == "tls"));
    assert!(plan.effective.tls.is_none());
    // The effective configuration differs from the old one exactly in the
    // applied keys.
    let (before, after) = (flatten(&old), flatten(&plan.effective));
    for (key, value) in &after {
        let changed = before.get(key) != Some(value);
        assert_eq!(changed, plan.applied.contains(key), "{key}");
    }
    assert_eq!(plan.effective.auth.tokens, new.auth.tokens);
    assert_eq!(plan.effective.limits, new.limits);
    // The engine's live tunables change; its WAL segment size and
    // durability keep their old values.
    assert_eq!(plan.effective.engine.cache_bytes, new.engine.cache_bytes);
    assert_eq!(plan.effective.engine.lock_timeout_ms, new.engine.lock_timeout_ms);
    assert_eq!(plan.effective.engine.wal_segment_bytes, old.engine.wal_segment_bytes);
    assert_eq!(plan.effective.engine.durability, old.engine.durability);
    assert_eq!(plan.effective.listen, old.listen);
}

#[test]
fn a_reload_with_tls_on_rereads_the_files_and_reports_only_changes() {
    let old = Config {
        tls: Some(TlsConfig { cert: "a.pem".into(), key: "a.key".into(), client_ca: None }),
        ..Config::default()
    };
    let mut new = old.clone();
    new.tls = Some(TlsConfig { cert: "b.pem".into(), key: "a.key".into(), client_ca: Some("ca.pem".into()) });
    let plan = plan_reload(&old, new.clone());
    assert_eq!(plan.applied, vec!["tls.cert", "tls.key", "tls.client_ca"]);
    assert!(plan.needs_restart.is_empty());
    assert_eq!(plan.effective.tls, new.tls);
    // Nothing changed: nothing to report but the re-read files.
    let plan = plan_reload(&old, old.clone());
    assert_eq!(plan.applied, vec!["tls.cert", "tls.key"]);
    assert!(plan.needs_restart.is_empty());
    // A token's secret changed: reported, though never serialized.
    let mut a = Config::default();
    a.auth.tokens = parse(TOKEN).unwrap().auth.tokens;
    let mut b = a.clone();
    b.auth.tokens[0].token = "fedcba9876543210-other".into();
    assert_eq!(plan_reload(&a, b).applied, vec!["auth.tokens"]);
}

#[test]
fn overrides_win_over_the_file() {
    let o = Overrides {
        data_dir: Some("/d".into()),
        listen: Some("127.0.0.1:1".into()),
        log_format: Some(LogFormat::Json),
    };
    let mut c = Config::default();
    o.apply(&mut c);
    assert_eq!((c.data_dir.to_str(), c.listen.as_str(), c.log.format), (Some("/d"), "127.0.0.1:1", LogFormat::Json));
}
