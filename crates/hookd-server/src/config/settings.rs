//! Every setting of `hookd serve`, declared once. The name is the `hookd.toml` key and the
//! [`Config`] field; a setting with a flag has `--name-with-dashes` and `HOOKD_NAME`. How a
//! row reads: `declare.rs`; its rule: `rules.rs`. A new setting also needs a row in the
//! README's configuration table and a line in `hookd.example.toml` (a test says so).

use super::declare::declare_settings;
use super::flags::List;
use super::rules::*;
use super::{AdminTokenSource, Database, Secret};
use hookd_core::signing::EndpointSecret;
use hookd_delivery::ProxyConfig;
use hookd_store::secrets::MainKey;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

declare_settings! {
    /// The validated configuration `run` uses: one field per setting, named as its file
    /// key (see [`Config::database`], [`Config::retry`], [`Config::listener`] and
    /// [`Config::operational_webhook`] for the values made of several), and what start-up
    /// works out besides.
    pub struct Config {
        /// Where `admin_token` came from, for the start-up line (never the token itself).
        admin_token_source: AdminTokenSource = AdminTokenSource::Stored,
    }

    settings {
        // --- Every command that opens the database (`serve`, `prune`) ---

        /// `sqlite://PATH` or `postgres://user:pass@host:port/db?sslmode=...`.
        #[setting(Store, given = String, unset = "sqlite://<data-dir>/hookd.db",
                  rule = optional(database), secret)]
        database_url: Option<Database>,

        /// Directory for the SQLite database, the generated admin token and main key.
        #[setting(Store, given = PathBuf, default = "hookd-data", rule = as_is)]
        data_dir: PathBuf,

        /// Base64 of the 32-byte key encrypting endpoint secrets at rest.
        #[setting(Store, given = String,
                  unset = "SQLite: generated into the data dir; required with PostgreSQL",
                  rule = optional(main_key), secret)]
        main_key: Option<MainKey>,

        /// Comma-separated base64 main keys still accepted for decryption while every
        /// secret is re-encrypted under `main_key` (key rotation).
        #[setting(Store, given = List<String>, unset = "none", rule = main_keys, secret)]
        previous_main_keys: Vec<MainKey>,

        /// PostgreSQL: connections in this node's pool.
        #[setting(Store, given = usize, default = "16", rule = at_least_one)]
        database_pool_size: usize,

        /// PostgreSQL: seconds before a statement is cancelled.
        #[setting(Store, given = f64, default = "10", rule = seconds)]
        database_statement_timeout: Duration,

        /// Seconds any database call may take before it is answered `503 unavailable`
        /// (both backends; covers waiting for and opening a connection).
        #[setting(Store, given = f64, default = "5", rule = seconds_between(0.1, 600.0))]
        database_timeout: Duration,

        // --- `serve` ---

        /// Address to listen on.
        #[setting(Serve, given = SocketAddr, default = "127.0.0.1:8071", rule = as_is)]
        listen: SocketAddr,

        /// Admin bearer token, at least 16 characters.
        #[setting(Serve, given = String,
                  unset = "generated on first start and stored in the data dir",
                  rule = optional(admin_token), secret)]
        admin_token: Option<Secret>,

        /// Comma-separated CIDRs exempt from SSRF blocking, e.g. `10.0.0.0/8,fd00::/8`; the
        /// word `loopback` stands for `127.0.0.0/8,::1/128` (all of `localhost`), `private`
        /// for `10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7`.
        #[setting(Serve, given = List<String>, unset = "none", rule = networks)]
        allowed_networks: Vec<IpNet>,

        /// Comma-separated retry delays in seconds after the first attempt.
        #[setting(Serve, given = List<f64>, default = "5,300,1800,7200,18000,36000,36000",
                  rule = delays)]
        retry_schedule: Vec<Duration>,

        /// Outbound request timeout in seconds.
        #[setting(Serve, given = f64, default = "15", rule = seconds)]
        request_timeout: Duration,

        /// Largest accepted API request body in bytes.
        #[setting(Serve, given = usize, default = "1048576", rule = body_bytes)]
        max_body_bytes: usize,

        /// Also send `svix-id`, `svix-timestamp`, `svix-signature` headers.
        #[setting(Serve, given = bool, default = "false", rule = as_is)]
        svix_headers: bool,

        /// Seconds a claimed delivery stays claimed without renewal.
        #[setting(Serve, given = f64, default = "60", rule = seconds_from_one)]
        lease: Duration,

        /// Only deliver to `https` URLs: `http` endpoints are refused.
        #[setting(Serve, given = bool, default = "false", rule = as_is)]
        https_only: bool,

        /// Send deliveries through this HTTP CONNECT proxy: `http://[user:pass@]host:port`.
        #[setting(Serve, given = String, unset = "none", rule = proxy, secret)]
        proxy_url: Option<ProxyConfig>,

        /// Seconds an `idempotency-key` and its stored response are kept.
        #[setting(Serve, given = f64, default = "86400", rule = seconds)]
        idempotency_ttl: Duration,

        /// Days delivery attempts are kept; 0 keeps them forever.
        #[setting(Serve, given = f64, default = "90", rule = days_or_forever)]
        attempt_retention: Option<Duration>,

        /// Seconds between two rounds of the retention cleaner.
        #[setting(Serve, given = f64, default = "60", rule = seconds)]
        cleaner_interval: Duration,

        /// Seconds a received event's provider id is remembered, so the provider's retries
        /// of it are acknowledged but forwarded once (3 days by default).
        #[setting(Serve, given = f64, default = "259200", rule = seconds)]
        ingest_dedup_window: Duration,

        /// Days refused ingest requests are kept in the rejection log.
        #[setting(Serve, given = f64, default = "7", rule = days_up_to_a_year)]
        ingest_rejection_retention: Duration,

        /// Seconds an endpoint may keep failing every attempt before it is disabled (5 days
        /// by default).
        #[setting(Serve, given = f64, default = "432000", rule = seconds)]
        auto_disable_after: Duration,

        /// URL that receives operational webhooks (`endpoint.*`, `message.attempt.*`).
        #[setting(Serve, given = String, unset = "none are sent",
                  rule = optional(endpoint_url))]
        operational_webhook_url: Option<String>,

        /// Signing secret (`whsec_...`) of operational webhooks; required with the URL.
        #[setting(Serve, given = String, unset = "none",
                  rule = optional(signing_secret), secret)]
        operational_webhook_secret: Option<EndpointSecret>,

        /// Base URL the world reaches hookd at, used in ingest sources' `ingestUrl`
        /// (`{public_url}/ingest/{token}`), without its trailing slash.
        #[setting(Serve, given = String, unset = "http://{listen}",
                  rule = optional(public_url))]
        public_url: Option<String>,

        /// Seconds a client has to send a whole request head (from connecting, or from the
        /// head's first byte on a kept-alive connection); slowloris clients are closed.
        #[setting(Serve, given = f64, default = "10", rule = seconds_up_to(3600.0))]
        head_timeout: Duration,

        /// Seconds a kept-alive connection may wait for its next request, or leave a
        /// response unread, before it is closed.
        #[setting(Serve, given = f64, default = "60", rule = seconds_up_to(86_400.0))]
        idle_timeout: Duration,

        /// Longest pause, in seconds, while a request body arrives (and the grace period of
        /// `body_min_rate`).
        #[setting(Serve, given = f64, default = "10", rule = seconds_up_to(3600.0))]
        body_timeout: Duration,

        /// Slowest average body rate, in bytes per second, accepted after the first
        /// `body_timeout`; 0 checks pauses only.
        #[setting(Serve, given = u64, default = "4096", rule = up_to(1 << 30))]
        body_min_rate: u64,

        /// Most concurrent client connections.
        #[setting(Serve, given = usize,
                  unset = "from the open-file limit",
                  rule = optional(count_between(1, 1_000_000)))]
        max_connections: Option<usize>,

        /// Log one line per API request: method, route template, status, duration, request
        /// id.
        #[setting(Serve, given = bool, default = "false", rule = as_is)]
        access_log: bool,

        /// Seconds a part of the node (poller, dispatcher, recorder, flow, writer, cleaner)
        /// may owe work without progress before the watchdog calls it stalled.
        #[setting(Serve, given = f64, default = "60", rule = seconds_between(1.0, 86_400.0))]
        stall_after: Duration,

        /// Serve `/metrics` on this address instead of `listen` (which then answers 404
        /// there).
        #[setting(Serve, given = SocketAddr, unset = "none: served on `listen`",
                  rule = optional(as_is))]
        metrics_listen: Option<SocketAddr>,

        /// Bearer token `/metrics` requires (16+ characters); the admin token is accepted
        /// too.
        #[setting(Serve, given = String, unset = "none: /metrics needs no token",
                  rule = optional(admin_token), secret)]
        metrics_token: Option<Secret>,

        /// The pages that may show the consumer portal in a frame, as the CSP
        /// `frame-ancestors` sources (space-separated: `*`, `'self'`, `'none'`, `https:`,
        /// `https://app.example.com`, `https://*.example.com`).
        #[setting(Serve, given = String, default = "*", rule = frame_ancestors)]
        portal_frame_ancestors: String,

        /// Base URL of an OpenTelemetry collector's OTLP/HTTP receiver
        /// (`http://localhost:4318`): spans of API requests, commits, delivery attempts and
        /// ingest requests are sent to `{otlp_endpoint}/v1/traces` as JSON.
        #[setting(Serve, given = String, unset = "none: no traces are recorded",
                  rule = optional(otlp_endpoint))]
        otlp_endpoint: Option<String>,

        // --- The file only ---

        /// Fraction of each retry delay added or removed at random.
        #[setting(File, given = f64, default = "0.2", rule = fraction)]
        retry_jitter: f64,

        /// Upper bound in seconds on a receiver's `Retry-After`.
        #[setting(File, given = f64, default = "3600", rule = seconds)]
        max_retry_after: Duration,

        /// How often the scheduler looks for due work, in milliseconds.
        #[setting(File, given = u64, default = "500", rule = milliseconds)]
        poll_interval_ms: Duration,

        /// Seconds shutdown waits for in-flight deliveries.
        #[setting(File, given = f64, default = "20", rule = seconds)]
        shutdown_grace: Duration,

        /// Seconds a rotated-out endpoint key keeps signing.
        #[setting(File, given = f64, default = "86400", rule = seconds_between(0.0, 604_800.0))]
        secret_grace_period: Duration,

        /// PostgreSQL: seconds to wait for a new connection, and for a free pooled one.
        #[setting(File, given = f64, default = "5", rule = seconds)]
        database_connect_timeout: Duration,

        /// Endpoints named in `/metrics` with the age of their oldest undelivered message
        /// (the worst first); 0 names none.
        #[setting(File, given = usize, default = "10", rule = count_between(0, 1000))]
        metrics_top_endpoints: usize,

        /// Seconds a read of the queue's depth and ages is reused by `/metrics`.
        #[setting(File, given = f64, default = "5", rule = seconds_between(0.0, 3600.0))]
        metrics_queue_interval: Duration,

        /// PostgreSQL: PEM file of extra root certificates trusted for TLS
        /// (`sslmode=require`).
        #[setting(File, given = PathBuf, unset = "none", rule = optional(as_is))]
        database_ca_file: Option<PathBuf>,
    }
}
