//! Live reload through SIGHUP and CONFIG RELOAD: tokens, shedding, the
//! worker pool, the log level and TLS certificates change while clients
//! stay connected; an invalid file changes nothing.

use jubilant_format::wire::{ErrorCode, RequestBody, ResponseBody};

use crate::support::{Launch, RawClient, ServerProcess, TempDir, error_code, info, set};

const OLD_TOKEN: &str = "old-admin-token-0123456789";
const NEW_TOKEN: &str = "new-admin-token-9876543210";

fn config(token: &str, workers: usize, shed_backlog: usize, extra: &str) -> String {
    format!(
        "[limits]\nworkers = {workers}\nshed_backlog = {shed_backlog}\nmax_in_flight_per_connection = 256\n\n\
         [[auth.tokens]]\ntoken = \"{token}\"\nrole = \"admin\"\n\n{extra}"
    )
}

fn auth(c: &mut RawClient, token: &str) -> ResponseBody {
    c.call(RequestBody::Auth { token: token.into() })
}

/// Pipelines `n` writes; returns how many were shed with BUSY.
fn burst(c: &mut RawClient, n: usize) -> usize {
    for i in 0..n {
        c.send(RequestBody::Txn(vec![set(&format!("burst-{i}"), "v")]));
    }
    let mut busy = 0;
    for _ in 0..n {
        match c.recv().expect("the connection was dropped").body {
            ResponseBody::Txn(_) => {}
            ResponseBody::Error(e) if e.code == ErrorCode::Busy => busy += 1,
            other => panic!("{other:?}"),
        }
    }
    busy
}

#[test]
fn sighup_changes_tokens_shedding_and_workers_without_dropping_connections() {
    let dir = TempDir::new("reload");
    let server = ServerProcess::launch(
        &dir.0.join("db"),
        Launch {
            config: Some(&config(OLD_TOKEN, 4, 4096, "[log]\nlevel = \"info\"\n")),
            rust_log: Some(""),
            args: &[],
        },
    );
    let mut authed = server.connect();
    assert!(matches!(auth(&mut authed, OLD_TOKEN), ResponseBody::Auth { .. }));
    let mut idle = server.connect();
    assert_eq!(burst(&mut authed, 200), 0, "no shedding with a backlog of 4096");
    assert_eq!(server.log_count("jubilant_server::conn"), 0, "debug logging is off");

    // The new file: another token, a backlog of 1, one worker, debug logs,
    // and a smaller engine cache (applied live).
    server.write_config(&config(NEW_TOKEN, 1, 1, "[log]\nlevel = \"debug\"\n[engine]\ncache_bytes = 1048576\n"));
    server.sighup();
    server.wait_for_log("configuration reloaded", 1);
    let line = server.log_text();
    assert!(line.contains("engine.cache_bytes"), "the applied keys are logged: {line}");

    // The authenticated connection was not dropped and keeps its role.
    assert!(matches!(authed.txn(vec![set("still", "here")]), ResponseBody::Txn(_)));
    // The old token no longer authenticates, on an old or a new connection.
    assert_eq!(error_code(&auth(&mut idle, OLD_TOKEN)), ErrorCode::Unauthenticated);
    let mut fresh = server.connect();
    assert_eq!(error_code(&auth(&mut fresh, OLD_TOKEN)), ErrorCode::Unauthenticated);
    // The new one does.
    assert!(matches!(auth(&mut idle, NEW_TOKEN), ResponseBody::Auth { .. }));
    assert!(matches!(auth(&mut fresh, NEW_TOKEN), ResponseBody::Auth { .. }));
    // The shedding threshold is in effect.
    assert!(burst(&mut authed, 200) > 0, "nothing was shed with a backlog of 1");
    // So is the log level: the requests above were logged at debug.
    server.wait_for_log("jubilant_server::conn: response", 1);

    let info = info(&mut fresh);
    assert_eq!(info["config.limits.shed_backlog"], "1");
    assert_eq!(info["config.limits.workers"], "1");
    assert_eq!(info["server.workers"], "1");
    assert_eq!(info["config.log.level"], "debug");
    // The engine took the new cache budget.
    assert_eq!(info["config.engine.cache_bytes"], "1048576");
    assert_eq!(info["engine.cache.budget_bytes"], "1048576");
    assert_eq!(info["server.config_reloads.ok"], "1");

    // CONFIG RELOAD of the same file: nothing new to apply.
    match fresh.call(RequestBody::ConfigReload) {
        ResponseBody::ConfigReload { applied, needs_restart } => {
            assert!(applied.is_empty(), "{applied:?}");
            assert!(needs_restart.is_empty(), "{needs_restart:?}");
        }
        other => panic!("{other:?}"),
    }
    // A read token may not reload.
    server.write_config(&config(
        NEW_TOKEN,
        1,
        1,
        "[[auth.tokens]]\ntoken = \"reader-token-0123456789\"\nrole = \"read\"\n",
    ));
    match fresh.call(RequestBody::ConfigReload) {
        ResponseBody::ConfigReload { applied, .. } => {
            assert!(
                applied.contains(&"auth.tokens".to_owned()) && applied.contains(&"log.level".to_owned()),
                "{applied:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut reader = server.connect();
    assert!(matches!(auth(&mut reader, "reader-token-0123456789"), ResponseBody::Auth { .. }));
    assert_eq!(error_code(&reader.call(RequestBody::ConfigReload)), ErrorCode::Forbidden);
    // Every connection is still up.
    for c in [&mut authed, &mut idle, &mut fresh, &mut reader] {
        assert!(matches!(c.call(RequestBody::Ping { payload: vec![1] }), ResponseBody::Pong { .. }));
    }
}

#[test]
fn an_invalid_reload_changes_nothing() {
    let dir = TempDir::new("badreload");
    let server = ServerProcess::start(&dir.0.join("db"), Some(&config(OLD_TOKEN, 4, 4096, "")));
    let mut c = server.connect();
    assert!(matches!(auth(&mut c, OLD_TOKEN), ResponseBody::Auth { .. }));
    let before = info(&mut c);

    // A new token and backlog, plus one unknown key: none of it applies.
    server.write_config(&config(NEW_TOKEN, 1, 1, "[engine]\ncache_megabytes = 5\n"));
    let ResponseBody::Error(e) = c.call(RequestBody::ConfigReload) else { panic!("an invalid file was accepted") };
    assert!(e.message.contains("line ") && e.message.contains("engine.cache_megabytes"), "{}", e.message);
    assert!(e.message.contains("nothing was changed"), "{}", e.message);
    server.sighup();
    server.wait_for_log("configuration reload refused", 2);
    // Out of range: refused too.
    server.write_config(&config(NEW_TOKEN, 8, 4, ""));
    assert_eq!(error_code(&c.call(RequestBody::ConfigReload)), ErrorCode::Internal);
    // The log line may reach us after the response does.
    server.wait_for_log("limits.shed_backlog", 1);
    // Turning TLS on needs a restart: reported, TLS stays off, the rest
    // applies (the files are not even read).
    server.write_config(&format!(
        "{}[tls]\ncert = \"/nonexistent.pem\"\nkey = \"/nonexistent.key\"\n",
        config(NEW_TOKEN, 1, 1, "")
    ));
    let ResponseBody::ConfigReload { needs_restart, .. } = c.call(RequestBody::ConfigReload) else { panic!() };
    assert_eq!(needs_restart, vec!["tls"]);
    server.write_config(&config(OLD_TOKEN, 4, 4096, ""));
    // Back to the original file.
    assert!(matches!(c.call(RequestBody::ConfigReload), ResponseBody::ConfigReload { .. }));

    let after = info(&mut c);
    for key in ["config.limits.shed_backlog", "config.limits.workers", "config.auth.token_count", "server.tls"] {
        assert_eq!(before[key], after[key], "{key}");
    }
    assert_eq!(after["server.config_reloads.error"], "3");
    let mut fresh = server.connect();
    assert!(matches!(auth(&mut fresh, OLD_TOKEN), ResponseBody::Auth { .. }));
    assert_eq!(error_code(&auth(&mut server.connect(), NEW_TOKEN)), ErrorCode::Unauthenticated);
}

#[test]
fn a_server_without_a_config_file_has_nothing_to_reload() {
    let dir = TempDir::new("noreload");
    let server = ServerProcess::start(&dir.0.join("db"), None);
    let mut c = server.connect();
    assert_eq!(error_code(&c.call(RequestBody::ConfigReload)), ErrorCode::Unsupported);
    server.sighup();
    server.wait_for_log("configuration reload refused", 2);
    assert!(matches!(c.call(RequestBody::Ping { payload: vec![] }), ResponseBody::Pong { .. }));
}

#[test]
fn a_reload_rereads_the_tls_certificates() {
    use jubilant_client::{BlockingClient, ClientConfig};
    let dir = TempDir::new("tls-reload");
    let (old, new) = (dir.0.join("old"), dir.0.join("new"));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    crate::tls::write_pki(&old);
    crate::tls::write_pki(&new);
    let live = dir.0.join("live");
    std::fs::create_dir_all(&live).unwrap();
    for f in ["server.pem", "server.key"] {
        std::fs::copy(old.join(f), live.join(f)).unwrap();
    }
    let body = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        live.join("server.pem").display(),
        live.join("server.key").display()
    );
    let server = ServerProcess::start(&dir.0.join("db"), Some(&body));
    let client = |pki: &std::path::Path| {
        let mut config = ClientConfig::new(server.addr.to_string());
        config.tls = Some(crate::tls::tls_config(pki, false));
        config.max_retries = 0;
        config.pool_size = 1;
        config.connect_timeout = std::time::Duration::from_secs(5);
        config.request_timeout = std::time::Duration::from_secs(5);
        BlockingClient::connect(config).and_then(|c| c.ping().map(|_| c))
    };
    let before = client(&old).unwrap();
    assert!(client(&new).is_err(), "the new CA does not trust the old certificate");
    // Renew in place, reload.
    for f in ["server.pem", "server.key"] {
        std::fs::copy(new.join(f), live.join(f)).unwrap();
    }
    server.sighup();
    server.wait_for_log("configuration reloaded", 1);
    assert!(server.log_text().contains("tls.cert"));
    client(&new).unwrap();
    assert!(client(&old).is_err(), "new connections get the new certificate");
    // The connection made before the reload still works.
    before.ping().unwrap();
    // A broken certificate file fails the reload and keeps the acceptor.
    std::fs::write(live.join("server.pem"), "not a certificate").unwrap();
    server.sighup();
    server.wait_for_log("configuration reload refused", 1);
    client(&new).unwrap();
}
