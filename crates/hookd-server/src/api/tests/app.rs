use super::{assert_validation, TestApi};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn apps_round_trip_by_id_and_uid() {
    let api = TestApi::new();
    let (status, created) = api
        .post(
            "/api/v1/app",
            json!({"name": "Acme", "uid": "acme", "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("app_"));
    for key in ["createdAt", "updatedAt", "metadata", "name"] {
        assert!(!created[key].is_null(), "{key} missing in {created}");
    }

    let (_, by_uid) = api.get("/api/v1/app/acme").await;
    let (_, by_id) = api.get(&format!("/api/v1/app/{id}")).await;
    assert_eq!(by_uid, by_id);

    let (status, patched) = api
        .call(
            Method::PATCH,
            "/api/v1/app/acme",
            Some(json!({"name": "Acme Inc", "throttleRate": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (patched["name"].as_str(), patched["throttleRate"].as_u64()),
        (Some("Acme Inc"), Some(5))
    );
    assert_eq!(patched["uid"], "acme");

    let (status, _) = api.call(Method::DELETE, "/api/v1/app/acme", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api.get(&format!("/api/v1/app/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn duplicate_uid_conflicts_unless_get_if_exists() {
    let api = TestApi::new();
    let id = api.app("dup").await;
    let (status, body) = api
        .post("/api/v1/app", json!({"name": "again", "uid": "dup"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "conflict");
    assert!(body["detail"].as_str().unwrap().contains("uid"));

    let (status, body) = api
        .post(
            "/api/v1/app?get_if_exists=true",
            json!({"name": "again", "uid": "dup"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], id.as_str());
    let (status, _) = api
        .post(
            "/api/v1/app?get_if_exists=true",
            json!({"name": "new", "uid": "fresh"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn put_creates_with_the_path_as_uid_then_replaces() {
    let api = TestApi::new();
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/v1/app/by-put",
            Some(json!({"name": "one"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["uid"], "by-put");
    let (status, again) = api
        .call(
            Method::PUT,
            "/api/v1/app/by-put",
            Some(json!({"name": "two"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["id"].clone(), again["name"].as_str()),
        (body["id"].clone(), Some("two"))
    );
}

#[tokio::test]
async fn invalid_app_fields_name_the_field() {
    let api = TestApi::new();
    let (status, body) = api
        .post("/api/v1/app", json!({"name": "x", "uid": "has space"}))
        .await;
    assert_validation(status, &body, "uid");
    let (status, body) = api.post("/api/v1/app", json!({"uid": "x"})).await;
    assert_validation(status, &body, "name");
    let (status, body) = api.post("/api/v1/app", json!({"name": ""})).await;
    assert_validation(status, &body, "name");
}

#[tokio::test]
async fn pages_walk_forward_once_and_back() {
    let api = TestApi::new();
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(api.app(&format!("app-{i}")).await);
    }
    ids.sort();

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut iterator: Option<String> = None;
    loop {
        let path = match &iterator {
            Some(it) => format!("/api/v1/app?limit=3&order=ascending&iterator={it}"),
            None => "/api/v1/app?limit=3&order=ascending".to_owned(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        let data: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        seen.extend(data.clone());
        pages.push(page.clone());
        iterator = page["iterator"].as_str().map(str::to_owned);
        if page["done"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(pages.len(), 3);

    // Back from the last page to the first.
    let prev = pages[2]["prevIterator"].as_str().unwrap();
    let (_, back) = api
        .get(&format!(
            "/api/v1/app?limit=3&order=ascending&iterator={prev}"
        ))
        .await;
    assert_eq!(back["data"], pages[1]["data"]);
    assert_eq!(back["done"], false);
    let prev = back["prevIterator"].as_str().unwrap();
    let (_, back) = api
        .get(&format!(
            "/api/v1/app?limit=3&order=ascending&iterator={prev}"
        ))
        .await;
    assert_eq!(back["data"], pages[0]["data"]);

    // Default order is newest first.
    let (_, newest) = api.get("/api/v1/app?limit=1").await;
    assert_eq!(newest["data"][0]["id"], ids[6].as_str());
}
