//! Deliveries through an outbound HTTP `CONNECT` proxy (`proxy_url`): the SSRF policy is
//! applied to the destination before the proxy is asked, the proxy is asked for the checked
//! IP address (never a name it would resolve again), and the proxy's own address is exempt.

use crate::support::harness::{config, Harness};
use crate::support::proxy::ConnectProxy;
use hookd_core::model::DeliveryStatus;
use hookd_delivery::{EngineConfig, ProxyConfig};

async fn harness(proxy_url: &str, allowed: &[&str]) -> Harness {
    Harness::start(EngineConfig {
        allowed_networks: allowed.iter().map(|n| n.parse().unwrap()).collect(),
        proxy: Some(ProxyConfig::parse(proxy_url).unwrap()),
        ..config(false, &[])
    })
    .await
}

#[tokio::test]
async fn deliveries_tunnel_through_the_proxy_to_the_checked_address() {
    let proxy = ConnectProxy::start(false).await;
    // Nothing is allowed but public addresses: the proxy on loopback is exempt.
    let url = proxy.url().replace("http://", "http://hookd:s3cret@");
    let h = harness(&url, &[]).await;
    proxy.forward_to(h.receiver.addr());
    let port = h.receiver.addr().port();
    let ep = h
        .endpoint(format!("http://93.184.216.34:{port}/via-proxy"))
        .await;
    let msg = h.send(&ep).await;

    let got = h.receiver.next().await;
    assert_eq!(got.path, "/via-proxy");
    assert_eq!(
        got.headers["host"].to_str().unwrap(),
        format!("93.184.216.34:{port}")
    );
    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Success);
    let asked = proxy.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].target, format!("93.184.216.34:{port}"));
    assert_eq!(
        asked[0].authorization.as_deref(),
        Some("Basic aG9va2Q6czNjcmV0"),
        "credentials from proxy_url"
    );
}

#[tokio::test]
async fn a_host_name_is_resolved_and_checked_before_the_proxy_is_asked() {
    let proxy = ConnectProxy::start(false).await;
    let h = harness(&proxy.url(), &["127.0.0.0/8", "::1/128"]).await;
    proxy.forward_to(h.receiver.addr());
    let port = h.receiver.addr().port();
    let ep = h.endpoint(format!("http://localhost:{port}/named")).await;
    let msg = h.send(&ep).await;

    let got = h.receiver.next().await;
    assert_eq!(
        got.headers["host"].to_str().unwrap(),
        format!("localhost:{port}"),
        "the request keeps its host name"
    );
    h.store.settled(&msg, &ep.id).await;
    let asked = proxy.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        [format!("127.0.0.1:{port}"), format!("[::1]:{port}")].contains(&asked[0].target),
        "the proxy is asked for a checked IP address, not the name: {}",
        asked[0].target
    );
}

#[tokio::test]
async fn a_blocked_destination_never_reaches_the_proxy() {
    let proxy = ConnectProxy::start(false).await;
    let h = harness(&proxy.url(), &[]).await;
    proxy.forward_to(h.receiver.addr());
    let port = h.receiver.addr().port();
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        format!("http://0x7f.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let ep = h.endpoint(url.clone()).await;
        let msg = h.send(&ep).await;
        let dest = h.store.settled(&msg, &ep.id).await;
        assert_eq!(dest.status, DeliveryStatus::Fail, "{url}");
        let attempt = &h.store.attempts(&msg, &ep.id).await[0];
        assert!(
            attempt
                .response
                .contains("is not allowed (SSRF protection)"),
            "{url}: {}",
            attempt.response
        );
    }
    assert!(proxy.asked().is_empty(), "{:?}", proxy.asked());
    assert!(h.receiver.try_next().is_none());
}

#[tokio::test]
async fn a_refusing_proxy_is_recorded_as_a_readable_failure() {
    let proxy = ConnectProxy::start(true).await;
    let h = harness(&proxy.url(), &[]).await;
    let ep = h.endpoint("http://93.184.216.34:8080/refused".into()).await;
    let msg = h.send(&ep).await;
    let dest = h.store.settled(&msg, &ep.id).await;
    assert_eq!(dest.status, DeliveryStatus::Fail);
    let attempt = &h.store.attempts(&msg, &ep.id).await[0];
    assert_eq!(attempt.response_status_code, 0);
    assert!(
        attempt
            .response
            .contains("the outbound proxy refused the tunnel (status 403)"),
        "{}",
        attempt.response
    );
    assert!(!attempt.response.contains(&proxy.addr.to_string()));
    assert_eq!(proxy.asked().len(), 1);
}
