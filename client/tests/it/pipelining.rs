use std::time::Duration;

use jubilant_client::{Client, RequestBody, ResponseBody};

use crate::mock::{Action, MockServer, config, handler};

const IN_FLIGHT: usize = 64;

#[tokio::test]
async fn concurrent_requests_share_one_connection_and_match_out_of_order_answers() {
    // The mock holds every answer until all IN_FLIGHT requests arrived,
    // then answers newest first.
    let server = MockServer::start(handler(|_, request| match &request.body {
        RequestBody::Ping { payload } => {
            Action::HoldReversed { batch: IN_FLIGHT, body: ResponseBody::Pong { payload: payload.clone() } }
        }
        _ => Action::Close,
    }))
    .await;
    let client = Client::connect(config(&server.addr())).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..IN_FLIGHT {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let payload = format!("ping {i}").into_bytes();
            let answer = client.request(RequestBody::Ping { payload: payload.clone() }).await.unwrap();
            assert_eq!(answer, ResponseBody::Pong { payload });
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
    }
    assert_eq!(server.connections(), 1);
    let answered = server.log.answered.lock().unwrap().clone();
    let mut requested: Vec<u64> = server.requests().iter().map(|(_, r)| r.id).collect();
    requested.reverse();
    assert_eq!(answered.len(), IN_FLIGHT);
    assert_eq!(answered, requested, "answers went out newest first");
}

#[tokio::test]
async fn pool_spreads_requests_over_its_connections() {
    let server = MockServer::start(crate::mock::kv_handler()).await;
    let mut config = config(&server.addr());
    config.pool_size = 3;
    let client = Client::connect(config).await.unwrap();
    for _ in 0..6 {
        client.ping().await.unwrap();
    }
    assert_eq!(server.connections(), 3);
    let mut per_connection = [0; 3];
    for (index, _) in server.requests() {
        per_connection[index] += 1;
    }
    assert_eq!(per_connection, [2, 2, 2]);
}
