use super::{assert_validation, TestApi};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn event_types_round_trip_and_archive() {
    let api = TestApi::new();
    let body = json!({"name": "invoice.paid", "description": "Paid", "schemas": {"1": {"type": "object"}}});
    let (status, created) = api.post("/api/v1/event-type", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (
            created["deprecated"].as_bool(),
            created["archived"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let (status, dup) = api.post("/api/v1/event-type", body).await;
    assert_eq!(
        (status, dup["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    let (status, patched) = api
        .call(
            Method::PATCH,
            "/api/v1/event-type/invoice.paid",
            Some(json!({"deprecated": true})),
        )
        .await;
    assert_eq!(
        (status, patched["deprecated"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(patched["description"], "Paid");

    let (status, _) = api
        .call(Method::DELETE, "/api/v1/event-type/invoice.paid", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = api.get("/api/v1/event-type").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (_, list) = api.get("/api/v1/event-type?include_archived=true").await;
    assert_eq!(list["data"][0]["archived"], true);

    let (status, _) = api
        .call(
            Method::DELETE,
            "/api/v1/event-type/invoice.paid?expunge=true",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get("/api/v1/event-type/invoice.paid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn put_creates_missing_event_types() {
    let api = TestApi::new();
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/v1/event-type/a.b",
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/v1/event-type/a.b",
            Some(json!({"description": "y"})),
        )
        .await;
    assert_eq!(
        (status, body["description"].as_str()),
        (StatusCode::OK, Some("y"))
    );
}

#[tokio::test]
async fn invalid_event_type_names_are_422() {
    let api = TestApi::new();
    let (status, body) = api
        .post(
            "/api/v1/event-type",
            json!({"name": "no spaces", "description": ""}),
        )
        .await;
    assert_validation(status, &body, "name");
}
