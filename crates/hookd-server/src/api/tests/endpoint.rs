use super::{assert_validation, TestApi};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn endpoints_round_trip_with_uids_and_secret() {
    let api = TestApi::new();
    api.app("shop").await;
    api.post(
        "/api/v1/event-type",
        json!({"name": "order.created", "description": ""}),
    )
    .await;
    let (status, ep) = api
        .post(
            "/api/v1/app/shop/endpoint",
            json!({"url": "https://example.com/hook", "uid": "main", "eventTypes": ["order.created"], "channels": ["eu"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    assert!(ep["id"].as_str().unwrap().starts_with("ep_"));
    assert_eq!(ep["filterTypes"], json!(["order.created"]));
    assert_eq!(ep["eventTypes"], json!(["order.created"]));
    assert_eq!(ep["version"], 1);

    let (_, by_uid) = api.get("/api/v1/app/shop/endpoint/main").await;
    assert_eq!(by_uid["id"], ep["id"]);
    let (_, secret) = api.get("/api/v1/app/shop/endpoint/main/secret").await;
    assert!(secret["key"].as_str().unwrap().starts_with("whsec_"));

    let (status, patched) = api
        .call(
            Method::PATCH,
            "/api/v1/app/shop/endpoint/main",
            Some(json!({"disabled": true, "filterTypes": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            patched["disabled"].as_bool(),
            patched["filterTypes"].is_null()
        ),
        (Some(true), true)
    );
    assert_eq!(patched["channels"], json!(["eu"]));

    let (status, dup) = api
        .post(
            "/api/v1/app/shop/endpoint",
            json!({"url": "https://example.com", "uid": "main"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");

    let (status, _) = api
        .call(Method::DELETE, "/api/v1/app/shop/endpoint/main", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get("/api/v1/app/shop/endpoint/main").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn given_secrets_are_kept_and_bad_ones_refused() {
    let api = TestApi::new();
    api.app("s").await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (status, ep) = api
        .post(
            "/api/v1/app/s/endpoint",
            json!({"url": "https://e.com", "secret": secret}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let (_, got) = api
        .get(&format!(
            "/api/v1/app/s/endpoint/{}/secret",
            ep["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["key"], secret);
    let (status, body) = api
        .post(
            "/api/v1/app/s/endpoint",
            json!({"url": "https://e.com", "secret": "nope"}),
        )
        .await;
    assert_validation(status, &body, "secret");
}

#[tokio::test]
async fn invalid_endpoint_fields_name_the_field() {
    let api = TestApi::new();
    api.app("v").await;
    let cases = [
        (json!({"url": "ftp://x"}), "url"),
        (json!({}), "url"),
        (
            json!({"url": "https://x.com", "filterTypes": ["missing.type"]}),
            "filterTypes",
        ),
        (
            json!({"url": "https://x.com", "channels": ["bad channel"]}),
            "channels",
        ),
        (json!({"url": "https://x.com", "version": 0}), "version"),
        (json!({"url": "https://x.com", "uid": ""}), "uid"),
    ];
    for (body, field) in cases {
        let (status, resp) = api.post("/api/v1/app/v/endpoint", body).await;
        assert_validation(status, &resp, field);
    }
    let (status, _) = api
        .post(
            "/api/v1/app/missing/endpoint",
            json!({"url": "https://x.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn put_creates_a_missing_endpoint() {
    let api = TestApi::new();
    api.app("p").await;
    let (status, ep) = api
        .call(
            Method::PUT,
            "/api/v1/app/p/endpoint/hook-1",
            Some(json!({"url": "https://e.com"})),
        )
        .await;
    assert_eq!(
        (status, ep["uid"].as_str()),
        (StatusCode::CREATED, Some("hook-1"))
    );
    let (status, ep2) = api
        .call(
            Method::PUT,
            "/api/v1/app/p/endpoint/hook-1",
            Some(json!({"url": "https://f.com"})),
        )
        .await;
    assert_eq!(
        (status, ep2["id"].clone()),
        (StatusCode::OK, ep["id"].clone())
    );
    assert_eq!(ep2["url"], "https://f.com/");
}

#[tokio::test]
async fn custom_headers_are_replaced_patched_and_read_back_without_credentials() {
    let api = TestApi::new();
    api.app("shop").await;
    let (status, _) = api
        .post(
            "/api/v1/app/shop/endpoint",
            json!({"url": "https://example.com/hook", "uid": "main", "headers": {"X-Team": "billing"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = "/api/v1/app/shop/endpoint/main/headers";
    let (_, got) = api.get(path).await;
    assert_eq!(
        got,
        json!({"headers": {"X-Team": "billing"}, "sensitive": []})
    );

    let (status, _) = api
        .call(
            Method::PUT,
            path,
            Some(json!({"headers": {"X-Region": "eu", "Authorization": "Bearer s3cret"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = api.get(path).await;
    assert_eq!(
        got,
        json!({"headers": {"X-Region": "eu"}, "sensitive": ["Authorization"]})
    );
    assert!(!got.to_string().contains("s3cret"));

    // PATCH: set (case-insensitively replacing), add, and remove with null.
    let (status, _) = api
        .call(
            Method::PATCH,
            path,
            Some(json!({"headers": {"x-region": "us", "X-Tier": "gold", "Authorization": null}})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = api.get(path).await;
    assert_eq!(
        got,
        json!({"headers": {"X-Tier": "gold", "x-region": "us"}, "sensitive": []})
    );

    // Forbidden and malformed headers are refused and change nothing.
    for bad in [
        json!({"headers": {"Content-Type": "text/plain"}}),
        json!({"headers": {"Host": "evil.example"}}),
        json!({"headers": {"webhook-signature": "v1,forged"}}),
        json!({"headers": {"Transfer-Encoding": "chunked"}}),
        json!({"headers": {"bad name": "x"}}),
        json!({"headers": {"X-A": "1", "x-a": "2"}}),
    ] {
        let (status, body) = api.call(Method::PUT, path, Some(bad.clone())).await;
        assert_validation(status, &body, "headers");
    }
    let (status, body) = api
        .call(
            Method::PATCH,
            path,
            Some(json!({"headers": {"Connection": "close"}})),
        )
        .await;
    assert_validation(status, &body, "headers");
    let (_, got) = api.get(path).await;
    assert_eq!(got["headers"], json!({"X-Tier": "gold", "x-region": "us"}));

    let (status, _) = api.get("/api/v1/app/shop/endpoint/nope/headers").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
