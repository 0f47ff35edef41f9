//! [`EngineConfig`]: the delivery engine's settings, filled from hookd's config. Only
//! `engine` reads it; every other part gets the few values it needs.

use crate::operational;
use crate::proxy::ProxyConfig;
use hookd_core::retry::RetrySchedule;
use hookd_core::trace::Tracer;
use std::time::Duration;

/// Settings of the delivery engine (filled from hookd's config).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Names this node in leases.
    pub node_id: String,
    pub retry: RetrySchedule,
    /// Whole-request timeout (connect, send, response head and the bounded body read).
    pub request_timeout: Duration,
    /// Upper bound applied to a receiver's `Retry-After`.
    pub max_retry_after: Duration,
    /// Networks exempt from SSRF blocking.
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// Refuse to deliver to plain-`http` URLs.
    pub https_only: bool,
    /// Also send `svix-id`, `svix-timestamp`, `svix-signature`.
    pub svix_headers: bool,
    /// How long a claim lasts before another node (or this one after a restart) may take it.
    pub lease: Duration,
    /// How often the poller looks for due work when nothing wakes it.
    pub poll_interval: Duration,
    /// Most destinations held in memory across all endpoints.
    pub max_queued: usize,
    /// Most destinations held in memory for one endpoint.
    pub max_queued_per_endpoint: usize,
    /// Most concurrent requests to one endpoint.
    pub max_inflight_per_endpoint: usize,
    /// Most concurrent requests overall.
    pub max_inflight: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// `user-agent` of outbound requests.
    pub user_agent: String,
    /// Send every delivery through this HTTP `CONNECT` proxy (static egress address).
    pub proxy: Option<ProxyConfig>,
    /// Disable an endpoint once every attempt to it has failed for this long.
    pub auto_disable_after: Duration,
    /// Where operational webhooks go; `None` sends none.
    pub operational: Option<operational::OperationalTarget>,
    /// Records commit and delivery-attempt spans ([`Tracer::off`] by default).
    pub tracer: Tracer,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            node_id: "node".into(),
            retry: RetrySchedule::default(),
            request_timeout: Duration::from_secs(15),
            max_retry_after: Duration::from_secs(3600),
            allowed_networks: Vec::new(),
            https_only: false,
            svix_headers: false,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            max_queued: 20_000,
            max_queued_per_endpoint: 2_000,
            max_inflight_per_endpoint: 32,
            max_inflight: 512,
            shutdown_grace: Duration::from_secs(20),
            user_agent: concat!("hookd/", env!("CARGO_PKG_VERSION")).into(),
            proxy: None,
            auto_disable_after: Duration::from_secs(5 * 86_400),
            operational: None,
            tracer: Tracer::off(),
        }
    }
}
