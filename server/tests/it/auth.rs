//! Tokens, roles and key prefixes.

use jubilant_format::wire::{ErrorCode, RequestBody, ResponseBody};

use crate::support::{ServerProcess, TempDir, error_code, get, set};

const TOKENS: &str = r#"
[[auth.tokens]]
token = "admin-token-0123456789"
role = "admin"

[[auth.tokens]]
token = "reader-token-0123456789"
role = "read"

[[auth.tokens]]
token = "users-writer-0123456789"
role = "write"
prefixes = ["user:"]
"#;

fn auth(c: &mut crate::support::RawClient, token: &str) -> ResponseBody {
    c.call(RequestBody::Auth { token: token.into() })
}

#[test]
fn requests_before_auth_and_with_a_wrong_token_are_unauthenticated() {
    let dir = TempDir::new("auth");
    let server = ServerProcess::start(&dir.0.join("db"), Some(TOKENS));
    let mut c = server.connect();
    assert_eq!(error_code(&c.txn(vec![get("a")])), ErrorCode::Unauthenticated);
    assert_eq!(error_code(&c.call(RequestBody::Info)), ErrorCode::Unauthenticated);
    assert_eq!(error_code(&auth(&mut c, "wrong-token-0123456789")), ErrorCode::Unauthenticated);
    assert_eq!(error_code(&c.txn(vec![get("a")])), ErrorCode::Unauthenticated);
    assert!(matches!(auth(&mut c, "admin-token-0123456789"), ResponseBody::Auth { role } if role == "admin"));
    assert!(matches!(c.txn(vec![set("a", "1")]), ResponseBody::Txn(_)));
    // INFO shows no secret.
    let ResponseBody::Info(entries) = c.call(RequestBody::Info) else { panic!() };
    let text = format!("{entries:?}");
    assert!(!text.contains("token-0123456789"), "INFO leaks a token");
    assert!(entries.iter().any(|(k, v)| k == "server.auth_failures" && v != "0"));
    // The log has no secret either.
    drop(c);
    let log = server.log.lock().unwrap().join("\n");
    assert!(!log.contains("token-0123456789"), "the log leaks a token");
}

#[test]
fn roles_and_prefixes_are_enforced() {
    let dir = TempDir::new("acl");
    let server = ServerProcess::start(&dir.0.join("db"), Some(TOKENS));
    let mut reader = server.connect();
    auth(&mut reader, "reader-token-0123456789");
    assert!(matches!(reader.txn(vec![get("anything")]), ResponseBody::Txn(_)));
    assert_eq!(error_code(&reader.txn(vec![get("a"), set("a", "1")])), ErrorCode::Forbidden);
    assert_eq!(error_code(&reader.call(RequestBody::Checkpoint)), ErrorCode::Forbidden);

    let mut writer = server.connect();
    auth(&mut writer, "users-writer-0123456789");
    assert!(matches!(writer.txn(vec![set("user:1", "ada"), get("user:1")]), ResponseBody::Txn(_)));
    assert_eq!(error_code(&writer.txn(vec![set("admin:1", "x")])), ErrorCode::Forbidden);
    assert_eq!(error_code(&writer.txn(vec![get("config")])), ErrorCode::Forbidden);
    let scan_all = jubilant_format::wire::Op::Scan { start: None, end: None, limit: 10, reverse: false };
    assert_eq!(error_code(&writer.txn(vec![scan_all])), ErrorCode::Forbidden);
    let scan_users = jubilant_format::wire::Op::Scan {
        start: Some(b"user:".to_vec()),
        end: Some(b"user;".to_vec()),
        limit: 10,
        reverse: false,
    };
    assert!(matches!(writer.txn(vec![scan_users]), ResponseBody::Txn(_)));
    // Nothing forbidden was written.
    let mut admin = server.connect();
    auth(&mut admin, "admin-token-0123456789");
    let ResponseBody::Txn(r) = admin.txn(vec![get("admin:1"), get("a")]) else { panic!() };
    assert!(matches!(r.results[0], jubilant_format::wire::OpResult::Get(None)));
    assert!(matches!(r.results[1], jubilant_format::wire::OpResult::Get(None)));
}
