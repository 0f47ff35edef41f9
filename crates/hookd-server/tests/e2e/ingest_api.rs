//! The Svix Ingest-compatible management API (`/ingest/api/v1/source…`) on both backends:
//! sources with their receive URLs and token rotation, ingest endpoints (the endpoints of
//! each source's internal application, hidden from `GET /app`), and bad input.

use crate::support::{spawn_on, Backend};
use hookd_testkit::Receiver;
use serde_json::json;

const SOURCES: &str = "/ingest/api/v1/source";

on_both_backends!(
    sources_have_receive_urls_rotate_tokens_and_own_their_endpoints,
    bad_source_input_gets_clear_errors_and_hookd_only_types_stay_readable,
);

async fn sources_have_receive_urls_rotate_tokens_and_own_their_endpoints(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| {
        c.public_url = Some("https://hooks.example.com".into());
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let (s, src) = app
        .post(
            SOURCES,
            json!({"name": "gh", "uid": "gh-main", "type": "github",
                   "config": {"secret": "gh-very-secret"}, "metadata": {"team": "core"}}),
        )
        .await;
    assert_eq!(s, 201, "{src}");
    let id = src["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("src_"), "{src}");
    assert_eq!(src["type"], "github");
    assert_eq!(src["hookdType"], "github");
    assert_eq!(src["config"], json!({}), "secrets are never echoed");
    assert_eq!(src["metadata"]["team"], "core");
    let url = src["ingestUrl"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("https://hooks.example.com/ingest/"),
        "{url}"
    );
    assert!(!src.to_string().contains("gh-very-secret"));

    let (s, by_uid) = app.get(&format!("{SOURCES}/gh-main")).await;
    assert_eq!(s, 200);
    assert_eq!(by_uid, src);
    let (s, list) = app.get(SOURCES).await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert_eq!(list["done"], true);

    // The internal application exists but is not listed.
    let internal = format!("/app/hookd-ingest-{id}");
    assert_eq!(app.get(&internal).await.0, 200);
    let (_, apps) = app.get("/app").await;
    assert_eq!(apps["data"], json!([]), "{apps}");

    let (s, updated) = app
        .call(
            "PUT",
            &format!("{SOURCES}/{id}"),
            Some(json!({"name": "renamed", "type": "github", "config": {"secret": "other"}})),
        )
        .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["uid"], "gh-main", "an absent uid is kept");
    assert_eq!(
        updated["ingestUrl"],
        url.as_str(),
        "an update keeps the token"
    );

    let (s, rotated) = app
        .post(&format!("{SOURCES}/{id}/token/rotate"), json!({}))
        .await;
    assert_eq!(s, 200, "{rotated}");
    let new_url = rotated["ingestUrl"].as_str().unwrap();
    assert!(new_url.starts_with("https://hooks.example.com/ingest/"));
    assert_ne!(new_url, url);
    let (_, after) = app.get(&format!("{SOURCES}/{id}")).await;
    assert_eq!(after["ingestUrl"], new_url);

    // Ingest endpoints.
    let eps = format!("{SOURCES}/{id}/endpoint");
    let (s, ep) = app
        .post(&eps, json!({"url": rx.url("/fwd"), "uid": "svc"}))
        .await;
    assert_eq!(s, 201, "{ep}");
    let ep_id = ep["id"].as_str().unwrap().to_owned();
    let (s, list) = app.get(&eps).await;
    assert_eq!(s, 200);
    assert_eq!(list["data"][0]["id"], ep_id.as_str());
    assert_eq!(app.get(&format!("{eps}/svc")).await.1["id"], ep_id.as_str());
    let (s, secret) = app.get(&format!("{eps}/{ep_id}/secret")).await;
    assert_eq!(s, 200);
    assert!(secret["key"].as_str().unwrap().starts_with("whsec_"));
    let (s, rotated) = app
        .post(&format!("{eps}/{ep_id}/secret/rotate"), json!({}))
        .await;
    assert_eq!(s, 200, "{rotated}");
    assert_ne!(rotated["key"], secret["key"]);
    let (s, _) = app
        .call(
            "PUT",
            &format!("{eps}/{ep_id}/headers"),
            Some(json!({"headers": {"x-team": "core"}})),
        )
        .await;
    assert_eq!(s, 204);
    let (_, headers) = app.get(&format!("{eps}/{ep_id}/headers")).await;
    assert_eq!(headers["headers"]["x-team"], "core");
    let (s, ep) = app
        .call(
            "PUT",
            &format!("{eps}/{ep_id}"),
            Some(json!({"url": rx.url("/fwd2")})),
        )
        .await;
    assert_eq!(s, 200, "{ep}");
    assert_eq!(
        app.call("DELETE", &format!("{eps}/{ep_id}"), None).await.0,
        204
    );
    assert_eq!(app.get(&format!("{eps}/{ep_id}")).await.0, 404);
    // An endpoint of another source is not reachable under this one.
    assert_eq!(
        app.get(&format!("{SOURCES}/src_nope/endpoint")).await.0,
        404
    );

    assert_eq!(
        app.call("DELETE", &format!("{SOURCES}/{id}"), None).await.0,
        204
    );
    let (s, gone) = app.get(&format!("{SOURCES}/{id}")).await;
    assert_eq!(s, 404);
    assert_eq!(gone["code"], "not_found");
    assert_eq!(app.get(&internal).await.0, 404, "the internal app goes too");
}

async fn bad_source_input_gets_clear_errors_and_hookd_only_types_stay_readable(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    // The internal applications' uids cannot be taken through the app API.
    for uid in ["hookd-ingest-src_mine", "hookd-operational-webhooks"] {
        let (s, v) = app.post("/app", json!({"name": "x", "uid": uid})).await;
        assert_eq!(s, 422, "{uid}: {v}");
        let (s, _) = app
            .call("PUT", &format!("/app/{uid}"), Some(json!({"name": "x"})))
            .await;
        assert_eq!(s, 422, "{uid}");
    }
    for (body, what) in [
        (
            json!({"name": "x", "type": "nope", "config": {"secret": "s"}}),
            "type",
        ),
        (
            json!({"name": "x", "type": "github", "config": {}}),
            "config",
        ),
        (json!({"name": "x", "type": "github"}), "config"),
        (
            json!({"name": "x", "type": "generic-hmac", "config": {"secret": "s"}}),
            "config",
        ),
        (
            json!({"name": "", "type": "github", "config": {"secret": "s"}}),
            "name",
        ),
    ] {
        let (s, v) = app.post(SOURCES, body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(v["code"], "validation", "{body}: {v}");
        assert!(v.to_string().contains(what), "{body}: {v}");
    }
    let (s, v) = app.post(SOURCES, json!({"name": "x"})).await;
    assert_eq!(s, 422, "{v}");

    let twilio = json!({"name": "tw", "uid": "tw", "type": "twilio",
        "config": {"secrets": ["a", "b"]}});
    let (s, src) = app.post(SOURCES, twilio.clone()).await;
    assert_eq!(s, 201, "{src}");
    assert_eq!(src["type"], "generic-webhook", "the SDK's free-form type");
    assert_eq!(src["hookdType"], "twilio");
    assert!(src["ingestUrl"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let (s, v) = app.post(SOURCES, twilio).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["code"], "conflict");
    let (_, list) = app.get(SOURCES).await;
    assert_eq!(list["data"][0]["type"], "generic-webhook");
}
