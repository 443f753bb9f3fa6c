use jubilant_client::{Client, ClientError, ErrorCode, RequestBody, ResponseBody};

use crate::mock::{Action, Handler, MockServer, config, error, handler};

/// Accepts the token "secret"; everything else needs AUTH first.
fn auth_handler() -> Handler {
    handler(|conn, request| {
        let mut authenticated = conn.authenticated.lock().unwrap();
        match &request.body {
            RequestBody::Auth { token } if token == "secret" => {
                *authenticated = true;
                Action::Reply(ResponseBody::Auth { role: "read".to_owned() })
            }
            RequestBody::Auth { .. } => Action::Reply(error(ErrorCode::Unauthenticated, "unknown token")),
            _ if !*authenticated => Action::Reply(error(ErrorCode::Unauthenticated, "AUTH first")),
            RequestBody::Info => Action::Reply(ResponseBody::Info(vec![("role".to_owned(), "read".to_owned())])),
            _ => Action::Reply(error(ErrorCode::Unsupported, "not in this mock")),
        }
    })
}

#[tokio::test]
async fn token_is_sent_before_the_first_request() {
    let server = MockServer::start(auth_handler()).await;
    let mut config = config(&server.addr());
    config.token = Some("secret".to_owned());
    let client = Client::connect(config).await.unwrap();
    assert_eq!(client.info().await.unwrap(), [("role".to_owned(), "read".to_owned())]);
    let requests = server.requests();
    assert!(matches!(&requests[0], (0, r) if r.body == RequestBody::Auth { token: "secret".to_owned() }));
    assert!(matches!(&requests[1], (0, r) if r.body == RequestBody::Info));
    assert!(requests[0].1.id != 0 && requests[0].1.id != requests[1].1.id);
}

#[tokio::test]
async fn rejected_token_fails_connect() {
    let server = MockServer::start(auth_handler()).await;
    let mut config = config(&server.addr());
    config.token = Some("wrong".to_owned());
    let error = Client::connect(config).await.unwrap_err();
    assert!(matches!(&error, ClientError::AuthFailed(e) if e.code == ErrorCode::Unauthenticated), "{error}");
    assert_eq!(error.to_string(), "authentication failed: UNAUTHENTICATED: unknown token");
    // Not retried: one connection, one AUTH.
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn without_a_token_the_server_refuses_requests() {
    let server = MockServer::start(auth_handler()).await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    let error = client.info().await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Unauthenticated));
    assert!(server.requests().iter().all(|(_, r)| !matches!(r.body, RequestBody::Auth { .. })));
}
