//! hookd-server: the running service.
//!
//! Layout:
//! - [`config`]: typed configuration (defaults < `hookd.toml` < `HOOKD_*` env < flags),
//!   each setting declared once in `config/settings.rs`.
//! - [`api`]: the Svix-compatible HTTP API v1 (one module per area, the ingest gateway's
//!   routes among them) and its request plumbing (`api::http`: auth, errors, extractors).
//! - [`metrics`]: what the server counts, and the `/metrics` page that gathers every
//!   part's counters.
//! - [`cleaner`]: the retention cleaner (expired payloads, old attempts, idempotency keys).
//! - [`watchdog`]: notices a part of the node that owes work but makes no progress, and
//!   says so in the log, the metrics, health and an operational webhook.
//! - [`admin_token`]: the admin token, generated and stored on first start when not given.
//! - [`main_key`]: the SQLite main key (encrypting endpoint secrets), likewise.
//! - [`operational`]: the internal application that carries operational webhooks.
//! - [`listener`]: the accept loop serving the API over HTTP/1.1, bounding slow, idle and
//!   surplus clients.
//! - [`run`]: opens the store, starts the delivery engine, serves the API on an already
//!   bound listener until shutdown, then drains.
//!
//! Data flows one way: api → the delivery engine's write path (`Engine::publish`: commit
//! through the store, then hand over) → dispatch, sign, send, record.

pub mod admin_token;
pub mod api;
pub mod cleaner;
pub mod config;
pub mod listener;
pub mod main_key;
pub mod metrics;
pub mod operational;
pub mod watchdog;

use anyhow::Context;
use config::{Config, Database};
use hookd_core::Timestamp;
use hookd_delivery::{Engine, EngineConfig};
use hookd_store::postgres::{PostgresOptions, PostgresStore};
use hookd_store::secrets::Keyring;
use hookd_store::sqlite::SqliteStore;
use hookd_store::QueueStore;
use hookd_store::Store;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs hookd until `shutdown` is cancelled: stops accepting requests, lets in-flight API
/// requests finish, then lets in-flight deliveries finish within the grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = open_store(&config, true).await?;

    let admin_token = match &config.admin_token {
        Some(t) => t.expose().to_owned(),
        None => admin_token::load_or_create(&config.data_dir)?,
    };
    admin_token::log_source(config.admin_token_source, &config.data_dir);

    let mut engine_cfg = engine_config(&config);
    let (tracer, exporter) = start_tracing(&config, &engine_cfg.node_id)?;
    engine_cfg.tracer = tracer.clone();
    if let Some(hook) = &config.operational_webhook() {
        engine_cfg.operational = Some(
            operational::ensure_target(store.as_ref(), hook)
                .await
                .context("setting up operational webhooks")?,
        );
    }
    let engine_stop = CancellationToken::new();
    let engine = Engine::start(store.clone(), engine_cfg, engine_stop.clone())
        .context("starting the delivery engine")?;

    let cleaner_heartbeat = Arc::new(hookd_core::liveness::Heartbeat::new("cleaner"));
    let mut parts = engine.heartbeats().to_vec();
    parts.push(store.metrics().writer().clone());
    parts.push(cleaner_heartbeat.clone());
    let watchdog = Arc::new(watchdog::Watchdog::new(parts, config.stall_after));
    let metrics = Arc::new(metrics::ServerMetrics::new(
        config.metrics_queue_interval,
        config.metrics_top_endpoints,
    ));
    let state = api::ApiState::new(api::ApiShared {
        store: store.clone(),
        engine: engine.clone(),
        admin_token: admin_token.into(),
        max_body_bytes: config.max_body_bytes,
        secret_grace: config.secret_grace_period,
        https_only: config.https_only,
        idempotency_ttl: config.idempotency_ttl,
        public_url: match &config.public_url {
            Some(url) => url.as_str().into(),
            None => format!("http://{}", listener.local_addr()?).into(),
        },
        receiver: Arc::new(api::ingest::receive::Receiver::new(
            config.ingest_dedup_window,
        )),
        access_log: config.access_log,
        metrics: metrics.clone(),
        watchdog: watchdog.clone(),
        metrics_access: api::MetricsAccess {
            on_api: config.metrics_listen.is_none(),
            token: config.metrics_token.as_ref().map(|t| t.expose().into()),
        },
        tracer,
        portal_frame_ancestors: api::web::FrameAncestors(config.portal_frame_ancestors.clone()),
    });
    let cleaner = cleaner::spawn(
        store.clone(),
        config.cleaner_interval,
        config.attempt_retention,
        config.ingest_rejection_retention,
        metrics,
        cleaner_heartbeat,
        engine_stop.clone(),
    );
    let watching = watchdog::spawn(watchdog, engine.clone(), engine_stop.clone());
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "hookd listening");
    let limits = listener::Limits::new(&config.listener());
    let metrics_server = match config.metrics_listen {
        Some(at) => {
            let metrics_listener = TcpListener::bind(at)
                .await
                .with_context(|| format!("binding metrics_listen {at}"))?;
            tracing::info!(addr = %metrics_listener.local_addr()?, "serving /metrics");
            Some(tokio::spawn(listener::serve(
                metrics_listener,
                api::metrics_router(state.clone()),
                limits.clone(),
                shutdown.clone(),
            )))
        }
        None => None,
    };
    listener::serve(listener, api::router(state), limits, shutdown).await;
    if let Some(server) = metrics_server {
        let _ = server.await;
    }

    tracing::info!("API stopped; finishing in-flight deliveries");
    engine_stop.cancel();
    let _ = cleaner.await;
    let _ = watching.await;
    engine.closed().await;
    if let Some((stop, exporting)) = exporter {
        // Last, so the spans of the deliveries that finished during the grace go too.
        drop(stop);
        let _ = exporting.await;
    }
    drop(engine);
    drop(store);
    tracing::info!("hookd stopped");
    Ok(())
}

/// With `otlp_endpoint` set: a tracer and its exporter, which flushes and stops when the
/// guard is dropped (at the end of `run`, or when it returns early with an error); else a
/// tracer that records nothing.
#[allow(clippy::type_complexity)]
fn start_tracing(
    config: &Config,
    node_id: &str,
) -> anyhow::Result<(
    hookd_core::trace::Tracer,
    Option<(tokio_util::sync::DropGuard, tokio::task::JoinHandle<()>)>,
)> {
    use hookd_core::trace::{otlp::Resource, Tracer, DEFAULT_QUEUE_CAPACITY};
    let Some(endpoint) = &config.otlp_endpoint else {
        return Ok((Tracer::off(), None));
    };
    let tracer = Tracer::new(DEFAULT_QUEUE_CAPACITY);
    let resource = Resource {
        service_name: "hookd".into(),
        service_version: env!("CARGO_PKG_VERSION").into(),
        instance_id: Some(node_id.to_owned()),
    };
    let stop = CancellationToken::new();
    let exporting = hookd_delivery::otlp::spawn(tracer.clone(), endpoint, resource, stop.clone())
        .context("starting the OTLP exporter")?;
    tracing::info!("exporting traces over OTLP/HTTP (JSON)");
    Ok((tracer, Some((stop.drop_guard(), exporting))))
}

/// Runs the retention cleaner once against the configured database (`hookd prune`):
/// expired payloads, attempts and ingest rejections older than `older_than`, expired
/// idempotency keys and ingest de-duplication entries.
pub async fn prune(
    config: &Config,
    older_than: std::time::Duration,
) -> anyhow::Result<cleaner::Removed> {
    let store = open_store(config, false).await?;
    let now = Timestamp::now();
    let cutoff = now.plus_millis(-i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX));
    let stop = CancellationToken::new();
    let removed = cleaner::clean_once(store.as_ref(), now, Some(cutoff), cutoff, &stop, None)
        .await
        .context("pruning")?;
    Ok(removed)
}

/// Opens the configured database, which applies every migration it lacks (on PostgreSQL
/// under an advisory lock, so nodes may start meanwhile), and returns its schema version
/// (`hookd migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<hookd_store::SchemaVersion> {
    // As `serve` would at start: a fresh SQLite data directory gets its main key.
    let store = open_store(config, true).await?;
    let version = store
        .schema_version()
        .await
        .context("reading the schema version")?;
    Ok(version)
}

/// Reads the configured database's schema and queue without changing anything
/// (`hookd status`), naming the `worst` endpoints furthest behind. Works beside a running
/// `hookd serve`, on SQLite too.
pub async fn status(config: &Config, worst: usize) -> anyhow::Result<hookd_store::Inspection> {
    let now = Timestamp::now();
    match config.database() {
        Database::Sqlite(path) => {
            tokio::task::spawn_blocking(move || SqliteStore::inspect(&path, now, worst))
                .await
                .context("reading the database")?
        }
        Database::Postgres(url) => {
            PostgresStore::inspect(&postgres_options(config, url), now, worst).await
        }
    }
}

/// The PostgreSQL options of `config`, for `url`.
fn postgres_options(config: &Config, url: String) -> PostgresOptions {
    PostgresOptions {
        url,
        pool_size: config.database_pool_size,
        statement_timeout: config.database_statement_timeout,
        connect_timeout: config.database_connect_timeout,
        acquire_timeout: config.database_connect_timeout,
        call_timeout: config.database_timeout,
        ca_file: config.database_ca_file.clone(),
        keyring: None,
    }
}

/// Opens the configured database. With SQLite, which one process owns (the store holds a
/// lock), every lease found at start-up is a leftover of a crash and is released (when
/// `release_leases`, i.e. for `serve`, which may also generate the SQLite main key) so that
/// work resumes at once. With PostgreSQL,
/// leases may belong to live nodes: they expire.
async fn open_store(config: &Config, release_leases: bool) -> anyhow::Result<Arc<dyn Store>> {
    match config.database() {
        Database::Sqlite(path) => {
            let main = match &config.main_key {
                Some(key) => key.clone(),
                None if release_leases => main_key::load_or_create(&config.data_dir)?,
                // Maintenance (`hookd prune`) never makes a key: one made here, away from
                // the server's data directory, would seal the secrets under a key the
                // server does not have.
                None => main_key::load(&config.data_dir)?.with_context(|| {
                    format!(
                        "no main key: set main_key, or point data_dir at the server's data directory (it holds {})",
                        main_key::FILE_NAME
                    )
                })?,
            };
            let keyring = Keyring::new(main, config.previous_main_keys.clone());
            let mut store =
                tokio::task::spawn_blocking(move || SqliteStore::open_encrypted(&path, keyring))
                    .await
                    .context("opening the database")??;
            store.set_call_timeout(config.database_timeout);
            let released = if release_leases {
                store
                    .release_all_leases(Timestamp::now())
                    .await
                    .context("releasing leases left by a previous run")?
            } else {
                0
            };
            if released > 0 {
                tracing::info!(
                    count = released,
                    "resuming deliveries left in flight by the previous run"
                );
            }
            Ok(Arc::new(store))
        }
        Database::Postgres(url) => {
            // Every node must share the key, so none can be generated here.
            let main = config.main_key.clone().context(
                "PostgreSQL needs main_key (HOOKD_MAIN_KEY), the same on every node: it \
                 encrypts endpoint secrets at rest; create one with `hookd keygen --main-key`",
            )?;
            let options = PostgresOptions {
                keyring: Some(Keyring::new(main, config.previous_main_keys.clone())),
                ..postgres_options(config, url)
            };
            let store = PostgresStore::connect(&options)
                .await
                .context("connecting to PostgreSQL")?;
            Ok(Arc::new(store))
        }
    }
}

/// A name for this process in leases, unique across nodes and restarts: a node that
/// restarts must not mistake the leases of its previous life for its own.
fn node_id() -> String {
    use rand::Rng;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(32)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    let tag: u32 = rand::thread_rng().gen();
    format!("{host}-{}-{tag:08x}", std::process::id())
}

fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        node_id: node_id(),
        retry: config.retry(),
        request_timeout: config.request_timeout,
        max_retry_after: config.max_retry_after,
        allowed_networks: config.allowed_networks.clone(),
        https_only: config.https_only,
        svix_headers: config.svix_headers,
        lease: config.lease,
        poll_interval: config.poll_interval_ms,
        shutdown_grace: config.shutdown_grace,
        proxy: config.proxy_url.clone(),
        auto_disable_after: config.auto_disable_after,
        ..EngineConfig::default()
    }
}
