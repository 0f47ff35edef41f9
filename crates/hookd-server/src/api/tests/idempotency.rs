//! What the idempotency layer stores: responses below 500, never server errors.

use super::sqlite_store;
use crate::api::http::idempotency::settle;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookd_core::Timestamp;
use hookd_store::sqlite::SqliteStore;
use hookd_store::{IdempotencyClaim, IdempotencyReservation, IdempotencyStore};

fn claim(key: &str) -> IdempotencyClaim {
    let now = Timestamp::now();
    IdempotencyClaim {
        key: key.into(),
        fingerprint: "fp".into(),
        token: "tok".into(),
        now,
        locked_until: now.plus_millis(60_000),
        expires_at: now.plus_millis(3_600_000),
    }
}

async fn settled(store: &SqliteStore, key: &str, response: Response) -> Option<(u16, Vec<u8>)> {
    let c = claim(key);
    assert_eq!(
        store.reserve_idempotency_key(&c).await.unwrap(),
        IdempotencyReservation::Reserved
    );
    let out = settle(store, &c, response).await;
    // The caller gets the response either way.
    let status = out.status();
    let body = axum::body::to_bytes(out.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(body.as_ref(), b"{\"x\":1}");
    let record = store
        .get_idempotency_key(key, Timestamp::now())
        .await
        .unwrap();
    record.map(|r| {
        let stored = r.response.expect("completed");
        assert_eq!(stored.0, status.as_u16());
        stored
    })
}

fn json_response(status: StatusCode) -> Response {
    (status, Body::from("{\"x\":1}")).into_response()
}

#[tokio::test]
async fn client_errors_and_successes_are_stored_server_errors_release_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    assert_eq!(
        settled(&store, "ok", json_response(StatusCode::ACCEPTED)).await,
        Some((202, b"{\"x\":1}".to_vec()))
    );
    assert_eq!(
        settled(&store, "bad", json_response(StatusCode::CONFLICT)).await,
        Some((409, b"{\"x\":1}".to_vec()))
    );
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        assert_eq!(settled(&store, "down", json_response(status)).await, None);
    }
}
