//! An ingest source of the GitHub type as the binary-level tests use it: created through
//! the management API with one ingest endpoint, fed requests signed the way GitHub signs
//! them (`X-Hub-Signature-256`, HMAC-SHA256 of the body), and checked on the other side:
//! what the receiver got is the provider's body, re-signed with the endpoint's secret.

use hookd_core::crypto::hmac_sha256;
use hookd_core::signing::{verify, EndpointSecret};
use hookd_testkit::{Api, Received};
use serde_json::{json, Value};

/// The secret GitHub and the source share.
pub const SECRET: &str = "binary-test-github-secret";

/// A GitHub source with one ingest endpoint.
pub struct Source {
    pub id: String,
    /// The receive URL's token: `{node root}/ingest/{token}` on any node of the database.
    pub token: String,
    /// The ingest endpoint's signing secret (`whsec_…`).
    pub endpoint_secret: String,
}

impl Source {
    /// Creates the source and an endpoint forwarding to `url`.
    pub async fn create(api: &Api, url: &str) -> Source {
        let (s, src) = api
            .call_root(
                "POST",
                "/ingest/api/v1/source",
                Some(json!({"name": "github", "type": "github", "config": {"secret": SECRET}})),
            )
            .await;
        assert_eq!(s, 201, "{src}");
        let id = src["id"].as_str().unwrap().to_owned();
        let ingest_url = src["ingestUrl"].as_str().unwrap();
        let token = ingest_url.rsplit('/').next().unwrap().to_owned();
        let (s, ep) = api
            .call_root(
                "POST",
                &format!("/ingest/api/v1/source/{id}/endpoint"),
                Some(json!({ "url": url })),
            )
            .await;
        assert_eq!(s, 201, "{ep}");
        let ep = ep["id"].as_str().unwrap();
        let (s, secret) = api
            .call_root(
                "GET",
                &format!("/ingest/api/v1/source/{id}/endpoint/{ep}/secret"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{secret}");
        Source {
            id,
            token,
            endpoint_secret: secret["key"].as_str().unwrap().to_owned(),
        }
    }

    /// This source's receive URL on the node `api` talks to.
    pub fn url(&self, api: &Api) -> String {
        format!("{}/ingest/{}", api.root, self.token)
    }

    /// The ids of every message stored for the source, walking the list page by page.
    pub async fn messages(&self, api: &Api) -> Vec<String> {
        let mut ids = Vec::new();
        let mut iterator = String::new();
        loop {
            let path = format!(
                "/app/hookd-ingest-{}/msg?limit=50&iterator={iterator}",
                self.id
            );
            let (s, page) = api.call("GET", &path, None).await;
            assert_eq!(s, 200, "{page}");
            for m in page["data"].as_array().unwrap() {
                ids.push(m["id"].as_str().unwrap().to_owned());
            }
            if page["done"] == Value::Bool(true) {
                return ids;
            }
            iterator = page["iterator"].as_str().unwrap().to_owned();
        }
    }

    /// The source's rejection log (first page).
    pub async fn rejections(&self, api: &Api) -> Vec<Value> {
        let path = format!("/ingest/api/v1/source/{}/rejection?limit=50", self.id);
        let (s, page) = api.call_root("GET", &path, None).await;
        assert_eq!(s, 200, "{page}");
        page["data"].as_array().unwrap().clone()
    }
}

/// One GitHub event: its delivery id and body (with a non-ASCII character and
/// irregular spacing, so a re-serialized body would differ).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub body: String,
}

impl Delivery {
    pub fn new(i: usize) -> Delivery {
        let id = format!("72d3162e-0000-4000-8000-{i:012}");
        let body = format!(
            "{{\"zen\": \"Keep it logically awesome ✓\",  \"hook_id\":{i}, \"d\":\"{id}\"}}\n"
        );
        Delivery { id, body }
    }
}

/// What hookd answered to an accepted request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub msg_id: String,
    pub duplicate: bool,
}

/// Sends `delivery` to `url` as GitHub would. `Ok` for a `204` (anything else is a test
/// failure), `Err` when no answer came (the connection failed or died).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    delivery: &Delivery,
) -> Result<Ack, reqwest::Error> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/binary-test")
        .header("x-github-event", "push")
        .header("x-github-delivery", &delivery.id)
        .header("x-hub-signature-256", signature(&delivery.body))
        .body(delivery.body.clone())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await?;
    assert_eq!(status, 204, "delivery {}: {text}", delivery.id);
    let msg_id = headers["x-hookd-msg-id"].to_str().unwrap().to_owned();
    assert!(msg_id.starts_with("msg_"), "{msg_id}");
    Ok(Ack {
        msg_id,
        duplicate: headers
            .get("x-hookd-duplicate")
            .is_some_and(|v| v == "true"),
    })
}

/// `X-Hub-Signature-256` of `body`.
fn signature(body: &str) -> String {
    signature_with(SECRET, body)
}

/// `X-Hub-Signature-256` of `body` under `secret`.
pub fn signature_with(secret: &str, body: &str) -> String {
    let hex: String = hmac_sha256(secret.as_bytes(), &[body.as_bytes()])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn header<'a>(a: &'a Received, name: &str) -> &'a str {
    a.headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing from a forwarded request"))
        .to_str()
        .unwrap()
}

/// The `x-github-delivery` a forwarded request carries.
pub fn delivery_of(a: &Received) -> &str {
    header(a, "x-github-delivery")
}

/// Checks one forwarded request of `delivery`, stored as message `msg_id`: signed with the
/// endpoint's secret, the body byte-exact, the provider's headers passed on.
pub fn check_forwarded(source: &Source, a: &Received, delivery: &Delivery, msg_id: &str) {
    assert_eq!(a.msg_id, msg_id, "webhook-id of delivery {}", delivery.id);
    assert_eq!(
        a.body.as_ref(),
        delivery.body.as_bytes(),
        "body of delivery {}",
        delivery.id
    );
    assert_eq!(header(a, "content-type"), "application/json");
    assert_eq!(header(a, "x-github-event"), "push");
    assert_eq!(header(a, "x-hookd-source-id"), source.id);
    assert_eq!(header(a, "x-hookd-provider-event-id"), delivery.id);
    assert_eq!(header(a, "x-hub-signature-256"), signature(&delivery.body));
    let ts: i64 = header(a, "webhook-timestamp").parse().unwrap();
    verify(
        &[EndpointSecret::parse(&source.endpoint_secret)
            .unwrap()
            .verifying_key()],
        &a.msg_id,
        &ts.to_string(),
        &a.body,
        header(a, "webhook-signature"),
        hookd_core::Timestamp::now().as_secs(),
        300,
    )
    .map(drop)
    .unwrap_or_else(|e| panic!("delivery {}: hookd's signature: {e:?}", delivery.id));
}
