//! Typed configuration: defaults < `hookd.toml` < `HOOKD_*` environment < command-line flags.
//!
//! [`ServeArgs`] holds what the command line and environment say (clap reads both, flags
//! winning), with the part every database command shares in [`StoreArgs`] (so `prune`
//! offers only those); [`FileConfig`] what the file says; [`Config::resolve`] layers them over the
//! defaults and validates everything once, at start-up. Secrets are redacted in `Debug`.

use anyhow::{bail, Context};
use clap::builder::BoolishValueParser;
use hookd_core::retry::RetrySchedule;
use hookd_core::signing::EndpointSecret;
use hookd_delivery::ProxyConfig;
use hookd_store::secrets::MainKey;
use ipnet::IpNet;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Flags of every command that opens the database (`serve`, `prune`): where the data is
/// and how to reach and decrypt it. Each also reads its `HOOKD_*` environment variable.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct StoreArgs {
    /// Configuration file (TOML). Default: `./hookd.toml` when it exists.
    #[arg(long, env = "HOOKD_CONFIG")]
    pub config: Option<PathBuf>,
    /// `sqlite://PATH` [default: sqlite://<data-dir>/hookd.db] or `postgres://...`.
    #[arg(long, env = "HOOKD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and the generated admin token [default: ./hookd-data].
    #[arg(long, env = "HOOKD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Base64 of the 32-byte key encrypting endpoint secrets at rest [SQLite default:
    /// generated on first start into the data dir; required with PostgreSQL].
    #[arg(long, env = "HOOKD_MAIN_KEY", hide_env_values = true)]
    pub main_key: Option<String>,
    /// Comma-separated base64 main keys still accepted for decryption while every secret
    /// is re-encrypted under `main_key` (key rotation).
    #[arg(long, env = "HOOKD_PREVIOUS_MAIN_KEYS", hide_env_values = true)]
    pub previous_main_keys: Option<String>,
    /// PostgreSQL: connections in this node's pool [default: 16].
    #[arg(long, env = "HOOKD_DATABASE_POOL_SIZE")]
    pub database_pool_size: Option<usize>,
    /// PostgreSQL: seconds before a statement is cancelled [default: 10].
    #[arg(long, env = "HOOKD_DATABASE_STATEMENT_TIMEOUT")]
    pub database_statement_timeout: Option<f64>,
    /// Seconds any database call may take before it is answered `503 unavailable`
    /// (both backends; covers waiting for and opening a connection) [default: 5].
    #[arg(long, env = "HOOKD_DATABASE_TIMEOUT")]
    pub database_timeout: Option<f64>,
}

/// Flags of `hookd serve`; each also reads its `HOOKD_*` environment variable. A boolean
/// flag is a switch (`--https-only`) that also takes a value (`--https-only=false`), and
/// its variable takes `true`/`false` (or `1`/`0`, `yes`/`no`, `on`/`off`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// The settings every command that opens the database reads.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8071].
    #[arg(long, env = "HOOKD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Admin bearer token. If unset, one is generated on first start and stored in the data dir.
    #[arg(long, env = "HOOKD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Comma-separated CIDRs exempt from SSRF blocking, e.g. `10.0.0.0/8,fd00::/8`; the
    /// word `loopback` stands for `127.0.0.0/8,::1/128` (all of `localhost`), `private` for
    /// `10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7`.
    #[arg(long, env = "HOOKD_ALLOWED_NETWORKS")]
    pub allowed_networks: Option<String>,
    /// Comma-separated retry delays in seconds after the first attempt.
    #[arg(long, env = "HOOKD_RETRY_SCHEDULE")]
    pub retry_schedule: Option<String>,
    /// Outbound request timeout in seconds [default: 15].
    #[arg(long, env = "HOOKD_REQUEST_TIMEOUT")]
    pub request_timeout: Option<f64>,
    /// Largest accepted API request body in bytes [default: 1048576].
    #[arg(long, env = "HOOKD_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Also send `svix-id`, `svix-timestamp`, `svix-signature` headers [default: false].
    #[arg(long, env = "HOOKD_SVIX_HEADERS", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub svix_headers: Option<bool>,
    /// Seconds a claimed delivery stays claimed without renewal [default: 60].
    #[arg(long, env = "HOOKD_LEASE")]
    pub lease: Option<f64>,
    /// Only deliver to `https` URLs: `http` endpoints are refused [default: false].
    #[arg(long, env = "HOOKD_HTTPS_ONLY", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub https_only: Option<bool>,
    /// Send deliveries through this HTTP CONNECT proxy: `http://[user:pass@]host:port`.
    #[arg(long, env = "HOOKD_PROXY_URL", hide_env_values = true)]
    pub proxy_url: Option<String>,
    /// Seconds an `idempotency-key` and its stored response are kept [default: 86400].
    #[arg(long, env = "HOOKD_IDEMPOTENCY_TTL")]
    pub idempotency_ttl: Option<f64>,
    /// Days delivery attempts are kept; 0 keeps them forever [default: 90].
    #[arg(long, env = "HOOKD_ATTEMPT_RETENTION")]
    pub attempt_retention: Option<f64>,
    /// Seconds between two rounds of the retention cleaner [default: 60].
    #[arg(long, env = "HOOKD_CLEANER_INTERVAL")]
    pub cleaner_interval: Option<f64>,
    /// Seconds a received event's provider id is remembered, so the provider's retries of
    /// it are acknowledged but forwarded once [default: 259200, 3 days].
    #[arg(long, env = "HOOKD_INGEST_DEDUP_WINDOW")]
    pub ingest_dedup_window: Option<f64>,
    /// Days refused ingest requests are kept in the rejection log [default: 7].
    #[arg(long, env = "HOOKD_INGEST_REJECTION_RETENTION")]
    pub ingest_rejection_retention: Option<f64>,
    /// Seconds an endpoint may keep failing every attempt before it is disabled
    /// [default: 432000, 5 days].
    #[arg(long, env = "HOOKD_AUTO_DISABLE_AFTER")]
    pub auto_disable_after: Option<f64>,
    /// URL that receives operational webhooks (`endpoint.*`, `message.attempt.*`); unset:
    /// none are sent.
    #[arg(long, env = "HOOKD_OPERATIONAL_WEBHOOK_URL")]
    pub operational_webhook_url: Option<String>,
    /// Signing secret (`whsec_...`) of operational webhooks; required with the URL.
    #[arg(long, env = "HOOKD_OPERATIONAL_WEBHOOK_SECRET", hide_env_values = true)]
    pub operational_webhook_secret: Option<String>,
    /// Base URL the world reaches hookd at, used in ingest sources' `ingestUrl`
    /// (`{public_url}/ingest/{token}`) [default: `http://{listen}`].
    #[arg(long, env = "HOOKD_PUBLIC_URL")]
    pub public_url: Option<String>,

    // --- Listener: slow, idle and surplus clients (see `ListenerSettings`). ---
    /// Seconds a client has to send a whole request head (from connecting, or from the
    /// head's first byte on a kept-alive connection) [default: 10].
    #[arg(long, env = "HOOKD_HEAD_TIMEOUT")]
    pub head_timeout: Option<f64>,
    /// Seconds a kept-alive connection may wait for its next request [default: 60].
    #[arg(long, env = "HOOKD_IDLE_TIMEOUT")]
    pub idle_timeout: Option<f64>,
    /// Longest pause, in seconds, while a request body arrives [default: 10].
    #[arg(long, env = "HOOKD_BODY_TIMEOUT")]
    pub body_timeout: Option<f64>,
    /// Slowest average body rate, in bytes per second, accepted after the first
    /// `body_timeout`; 0 checks pauses only [default: 4096].
    #[arg(long, env = "HOOKD_BODY_MIN_RATE")]
    pub body_min_rate: Option<u64>,
    /// Most concurrent client connections [default: from the open-file limit].
    #[arg(long, env = "HOOKD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    // --- Operator logs ---
    /// Log one line per API request: method, route template, status, duration, request
    /// id [default: false].
    #[arg(long, env = "HOOKD_ACCESS_LOG", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub access_log: Option<bool>,
}

/// The `hookd.toml` file. Every key is optional; names match the flags with underscores.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub admin_token: Option<String>,
    /// CIDRs exempt from SSRF blocking; also the words `loopback` and `private`.
    pub allowed_networks: Option<Vec<String>>,
    pub retry_schedule: Option<Vec<f64>>,
    /// Fraction of each retry delay added or removed at random [default: 0.2].
    pub retry_jitter: Option<f64>,
    pub request_timeout: Option<f64>,
    /// Upper bound in seconds on a receiver's `Retry-After` [default: 3600].
    pub max_retry_after: Option<f64>,
    pub max_body_bytes: Option<usize>,
    pub svix_headers: Option<bool>,
    /// How long a claimed delivery stays claimed, in seconds [default: 60].
    pub lease: Option<f64>,
    /// How often the scheduler looks for due work, in milliseconds [default: 500].
    pub poll_interval_ms: Option<u64>,
    /// Seconds shutdown waits for in-flight deliveries [default: 20].
    pub shutdown_grace: Option<f64>,
    /// Seconds a rotated-out endpoint key keeps signing [default: 86400].
    pub secret_grace_period: Option<f64>,
    /// Only deliver to `https` URLs [default: false].
    pub https_only: Option<bool>,
    /// PostgreSQL: connections in this node's pool [default: 16].
    pub database_pool_size: Option<usize>,
    /// PostgreSQL: seconds before a statement is cancelled [default: 10].
    pub database_statement_timeout: Option<f64>,
    /// PostgreSQL: seconds to wait for a new connection, and for a free pooled one [default: 5].
    pub database_connect_timeout: Option<f64>,
    /// PostgreSQL: PEM file of extra root certificates trusted for TLS (`sslmode=require`).
    pub database_ca_file: Option<PathBuf>,
    /// HTTP CONNECT proxy for every delivery: `http://[user:pass@]host:port`.
    pub proxy_url: Option<String>,
    /// Seconds an `idempotency-key` and its stored response are kept [default: 86400].
    pub idempotency_ttl: Option<f64>,
    /// Days delivery attempts are kept; 0 keeps them forever [default: 90].
    pub attempt_retention: Option<f64>,
    /// Seconds between two rounds of the retention cleaner [default: 60].
    pub cleaner_interval: Option<f64>,
    /// Seconds a received event's provider id is remembered for de-duplication
    /// [default: 259200, 3 days].
    pub ingest_dedup_window: Option<f64>,
    /// Days refused ingest requests are kept in the rejection log [default: 7].
    pub ingest_rejection_retention: Option<f64>,
    /// Base64 of the 32-byte key encrypting endpoint secrets at rest.
    pub main_key: Option<String>,
    /// Base64 main keys still accepted for decryption during a main key rotation.
    pub previous_main_keys: Option<Vec<String>>,
    /// Seconds an endpoint may keep failing every attempt before it is disabled
    /// [default: 432000, 5 days].
    pub auto_disable_after: Option<f64>,
    /// URL that receives operational webhooks; unset: none are sent.
    pub operational_webhook_url: Option<String>,
    /// Signing secret (`whsec_...`) of operational webhooks; required with the URL.
    pub operational_webhook_secret: Option<String>,
    /// Base URL of ingest sources' receive URLs [default: `http://{listen}`].
    pub public_url: Option<String>,

    // --- Listener (see `ListenerSettings`). ---
    /// Seconds to send a whole request head [default: 10].
    pub head_timeout: Option<f64>,
    /// Seconds a kept-alive connection may wait for its next request [default: 60].
    pub idle_timeout: Option<f64>,
    /// Longest pause, in seconds, while a request body arrives [default: 10].
    pub body_timeout: Option<f64>,
    /// Slowest average request body rate in bytes per second; 0: pauses only [default: 4096].
    pub body_min_rate: Option<u64>,
    /// Most concurrent client connections [default: from the open-file limit].
    pub max_connections: Option<usize>,
    // --- Database deadline ---
    /// Seconds any database call may take before it is answered 503 [default: 5].
    pub database_timeout: Option<f64>,
    // --- Operator logs ---
    /// Log one line per API request [default: false].
    pub access_log: Option<bool>,
}

/// Where operational webhooks go, and the key that signs them.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationalWebhook {
    pub url: String,
    /// Redacted in `Debug`.
    pub secret: EndpointSecret,
}

/// How a node talks to PostgreSQL (ignored with SQLite).
#[derive(Clone, Debug, PartialEq)]
pub struct PostgresSettings {
    pub pool_size: usize,
    pub statement_timeout: Duration,
    pub connect_timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

/// Where hookd keeps its data.
#[derive(Clone, Debug, PartialEq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The validated configuration `run` uses.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: Database,
    pub data_dir: PathBuf,
    /// `None` means: read or generate the token in the data directory.
    pub admin_token: Option<String>,
    pub allowed_networks: Vec<IpNet>,
    pub retry: RetrySchedule,
    pub request_timeout: Duration,
    pub max_retry_after: Duration,
    pub max_body_bytes: usize,
    pub svix_headers: bool,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub shutdown_grace: Duration,
    pub secret_grace: Duration,
    pub https_only: bool,
    pub postgres: PostgresSettings,
    /// Outbound CONNECT proxy (its `Debug` hides credentials).
    pub proxy: Option<ProxyConfig>,
    /// How long an `idempotency-key` and its stored response are kept.
    pub idempotency_ttl: Duration,
    /// Attempts older than this are deleted by the cleaner; `None` keeps them forever.
    pub attempt_retention: Option<Duration>,
    /// The pause between two rounds of the retention cleaner.
    pub cleaner_interval: Duration,
    /// How long a received event's provider id is remembered for de-duplication.
    pub ingest_dedup_window: Duration,
    /// How long refused ingest requests are kept in the rejection log.
    pub ingest_rejection_retention: Duration,
    /// Encrypts endpoint secrets at rest. `None`: with SQLite, read or generate the key in
    /// the data directory; PostgreSQL refuses to start without one.
    pub main_key: Option<MainKey>,
    /// Keys that still decrypt secrets sealed before a main key rotation.
    pub previous_main_keys: Vec<MainKey>,
    /// Disable an endpoint once every attempt to it has failed for this long.
    pub auto_disable_after: Duration,
    /// Operational webhooks; `None` sends none.
    pub operational_webhook: Option<OperationalWebhook>,
    /// Base of ingest receive URLs, without a trailing slash; `None`: `http://` and the
    /// bound address.
    pub public_url: Option<String>,
    /// How the listener bounds slow, idle and surplus clients.
    pub listener: ListenerSettings,

    // --- Database deadline ---
    /// Bounds every store call (both backends): past it the call is `Unavailable` (503),
    /// whatever the database is doing.
    pub database_timeout: Duration,

    // --- Operator logs ---
    /// Where `admin_token` came from, for the start-up line (never the token itself).
    pub admin_token_source: AdminTokenSource,
    /// Log one line per API request (method, route template, status, duration, id).
    pub access_log: bool,
}

/// Where the admin token in force comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminTokenSource {
    /// `HOOKD_ADMIN_TOKEN`.
    Env,
    /// `--admin-token`.
    Flag,
    /// `admin_token` in the config file.
    File,
    /// None given: the token stored in the data directory (read, or generated now).
    Stored,
}

impl AdminTokenSource {
    /// Which of `args` and `file` gives the token; clap folds `HOOKD_ADMIN_TOKEN` into the
    /// flag, so the environment is told apart by comparing with it.
    fn of(args: &ServeArgs, in_file: bool) -> Self {
        match &args.admin_token {
            Some(t) if std::env::var("HOOKD_ADMIN_TOKEN").is_ok_and(|e| &e == t) => Self::Env,
            Some(_) => Self::Flag,
            None if in_file => Self::File,
            None => Self::Stored,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let db = match &self.database {
            Database::Sqlite(p) => format!("sqlite://{}", p.display()),
            Database::Postgres(_) => "postgres://<redacted>".to_owned(),
        };
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &db)
            .field("data_dir", &self.data_dir)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("allowed_networks", &self.allowed_networks)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .field("max_retry_after", &self.max_retry_after)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("svix_headers", &self.svix_headers)
            .field("lease", &self.lease)
            .field("poll_interval", &self.poll_interval)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("secret_grace", &self.secret_grace)
            .field("https_only", &self.https_only)
            .field("postgres", &self.postgres)
            .field("proxy", &self.proxy)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("attempt_retention", &self.attempt_retention)
            .field("ingest_dedup_window", &self.ingest_dedup_window)
            .field(
                "ingest_rejection_retention",
                &self.ingest_rejection_retention,
            )
            .field("cleaner_interval", &self.cleaner_interval)
            // A MainKey's Debug shows its id only.
            .field("main_key", &self.main_key)
            .field("previous_main_keys", &self.previous_main_keys)
            .field("auto_disable_after", &self.auto_disable_after)
            .field("operational_webhook", &self.operational_webhook)
            .field("public_url", &self.public_url)
            .field("listener", &self.listener)
            .field("database_timeout", &self.database_timeout)
            .field("admin_token_source", &self.admin_token_source)
            .field("access_log", &self.access_log)
            .finish()
    }
}

impl Config {
    /// Reads the file named by `args.config` (or `./hookd.toml` if present) and layers
    /// defaults < file < args.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.store.config {
            Some(path) => Some(read_file(path)?),
            None if Path::new("hookd.toml").exists() => Some(read_file(Path::new("hookd.toml"))?),
            None => None,
        };
        Self::resolve(file.unwrap_or_default(), args)
    }

    /// Layers defaults < `file` < `args` and validates the result.
    pub fn resolve(file: FileConfig, args: &ServeArgs) -> anyhow::Result<Self> {
        let listener = ListenerSettings::resolve(&file, args)?;
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8071)));
        let data_dir = args
            .store
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("hookd-data"));
        let database = match args.store.database_url.clone().or(file.database_url) {
            Some(url) => parse_database_url(&url)?,
            None => Database::Sqlite(data_dir.join("hookd.db")),
        };
        let admin_token_source = AdminTokenSource::of(args, file.admin_token.is_some());
        let admin_token = args.admin_token.clone().or(file.admin_token);
        if let Some(t) = &admin_token {
            if t.len() < 16 {
                bail!("admin token must be at least 16 characters");
            }
        }
        let allowed_networks = match &args.allowed_networks {
            Some(s) => parse_networks(s.split(','))?,
            None => parse_networks(file.allowed_networks.iter().flatten().map(String::as_str))?,
        };
        let jitter = file.retry_jitter.unwrap_or(0.2);
        if !(0.0..=1.0).contains(&jitter) {
            bail!("retry_jitter must be between 0 and 1");
        }
        let retry = match (&args.retry_schedule, &file.retry_schedule) {
            (Some(s), _) => RetrySchedule::parse(s, jitter)?,
            (None, Some(list)) => RetrySchedule::parse(
                &list
                    .iter()
                    .map(f64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                jitter,
            )?,
            (None, None) => RetrySchedule::new(RetrySchedule::default().delays().to_vec(), jitter),
        };
        Ok(Self {
            listen,
            database,
            data_dir,
            admin_token,
            allowed_networks,
            retry,
            request_timeout: secs(
                "request_timeout",
                args.request_timeout.or(file.request_timeout),
                15.0,
            )?,
            max_retry_after: secs("max_retry_after", file.max_retry_after, 3600.0)?,
            max_body_bytes: match args.max_body_bytes.or(file.max_body_bytes) {
                Some(0) => bail!("max_body_bytes must be positive"),
                // A message's response echoes its payload, and idempotent responses are
                // kept whole (at most 16 MiB): the request limit stays well below that.
                Some(n) if n > MAX_BODY_BYTES => {
                    bail!("max_body_bytes must be at most {MAX_BODY_BYTES} (8 MiB)")
                }
                Some(n) => n,
                None => 1024 * 1024,
            },
            svix_headers: args.svix_headers.or(file.svix_headers).unwrap_or(false),
            lease: match secs("lease", args.lease.or(file.lease), 60.0)? {
                l if l < Duration::from_secs(1) => bail!("lease must be at least 1 second"),
                l => l,
            },
            poll_interval: Duration::from_millis(file.poll_interval_ms.unwrap_or(500).max(1)),
            shutdown_grace: secs("shutdown_grace", file.shutdown_grace, 20.0)?,
            secret_grace: match file.secret_grace_period {
                Some(s) if !(0.0..=604_800.0).contains(&s) => {
                    bail!("secret_grace_period must be between 0 and 604800 seconds")
                }
                Some(s) => Duration::from_secs_f64(s),
                None => Duration::from_secs(86_400),
            },
            https_only: args.https_only.or(file.https_only).unwrap_or(false),
            postgres: PostgresSettings {
                pool_size: match args.store.database_pool_size.or(file.database_pool_size) {
                    Some(0) => bail!("database_pool_size must be at least 1"),
                    Some(n) => n,
                    None => 16,
                },
                statement_timeout: secs(
                    "database_statement_timeout",
                    args.store
                        .database_statement_timeout
                        .or(file.database_statement_timeout),
                    10.0,
                )?,
                connect_timeout: secs(
                    "database_connect_timeout",
                    file.database_connect_timeout,
                    5.0,
                )?,
                ca_file: file.database_ca_file,
            },
            proxy: match args.proxy_url.clone().or(file.proxy_url) {
                Some(url) if !url.trim().is_empty() => {
                    Some(ProxyConfig::parse(url.trim()).map_err(anyhow::Error::msg)?)
                }
                _ => None,
            },
            idempotency_ttl: secs(
                "idempotency_ttl",
                args.idempotency_ttl.or(file.idempotency_ttl),
                86_400.0,
            )?,
            attempt_retention: match args.attempt_retention.or(file.attempt_retention) {
                Some(d) if !(0.0..=36_500.0).contains(&d) => {
                    bail!("attempt_retention must be between 0 and 36500 days")
                }
                Some(0.0) => None,
                Some(d) => Some(Duration::from_secs_f64(d * 86_400.0)),
                None => Some(Duration::from_secs(90 * 86_400)),
            },
            cleaner_interval: secs(
                "cleaner_interval",
                args.cleaner_interval.or(file.cleaner_interval),
                60.0,
            )?,
            ingest_dedup_window: secs(
                "ingest_dedup_window",
                args.ingest_dedup_window.or(file.ingest_dedup_window),
                259_200.0,
            )?,
            ingest_rejection_retention: match args
                .ingest_rejection_retention
                .or(file.ingest_rejection_retention)
            {
                Some(d) if !(d.is_finite() && d > 0.0 && d <= 365.0) => {
                    bail!("ingest_rejection_retention must be between 0 and 365 days (above 0)")
                }
                Some(d) => Duration::from_secs_f64(d * 86_400.0),
                None => Duration::from_secs(7 * 86_400),
            },
            main_key: args
                .store
                .main_key
                .as_deref()
                .or(file.main_key.as_deref())
                .map(|k| main_key("main_key", k))
                .transpose()?,
            previous_main_keys: match (&args.store.previous_main_keys, &file.previous_main_keys) {
                (Some(list), _) => list
                    .split(',')
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| main_key("previous_main_keys", k))
                    .collect::<anyhow::Result<_>>()?,
                (None, Some(list)) => list
                    .iter()
                    .map(|k| main_key("previous_main_keys", k))
                    .collect::<anyhow::Result<_>>()?,
                (None, None) => Vec::new(),
            },
            auto_disable_after: secs(
                "auto_disable_after",
                args.auto_disable_after.or(file.auto_disable_after),
                432_000.0,
            )?,
            operational_webhook: operational_webhook(
                args.operational_webhook_url
                    .clone()
                    .or(file.operational_webhook_url),
                args.operational_webhook_secret
                    .clone()
                    .or(file.operational_webhook_secret),
            )?,
            public_url: public_url(args.public_url.clone().or(file.public_url))?,
            listener,

            // --- Database deadline ---
            database_timeout: match args.store.database_timeout.or(file.database_timeout) {
                Some(t) if !(t.is_finite() && (0.1..=600.0).contains(&t)) => {
                    bail!("database_timeout must be between 0.1 and 600 seconds")
                }
                Some(t) => Duration::from_secs_f64(t),
                None => hookd_store::DEFAULT_CALL_TIMEOUT,
            },

            // --- Operator logs ---
            admin_token_source,
            access_log: args.access_log.or(file.access_log).unwrap_or(false),
        })
        .and_then(|c| {
            if c.https_only
                && c.operational_webhook
                    .as_ref()
                    .is_some_and(|o| !o.url.starts_with("https://"))
            {
                bail!("operational_webhook_url must use https when https_only is set");
            }
            Ok(c)
        })
    }
}

// --- Listener settings: slow, idle and surplus clients. ---

/// How the listener bounds slow, idle and surplus clients (enforced by
/// [`crate::listener`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ListenerSettings {
    /// A new connection must deliver its first request head within this; a later head
    /// must be complete this long after its first byte. Slowloris clients are closed.
    pub head_timeout: Duration,
    /// A kept-alive connection waiting for its next request is closed after this; so is
    /// one whose response makes no progress (the client does not read) for this long.
    pub idle_timeout: Duration,
    /// Longest pause while a request body arrives, and the grace period of `body_min_rate`.
    pub body_timeout: Duration,
    /// After the first `body_timeout`, a body must have come at this many bytes per second
    /// on average; 0 checks pauses only.
    pub body_min_rate: u64,
    /// Most concurrent client connections; `None`: derived from the open-file limit at
    /// start-up, keeping room for the database and outbound deliveries.
    pub max_connections: Option<usize>,
}

impl ListenerSettings {
    fn resolve(file: &FileConfig, args: &ServeArgs) -> anyhow::Result<Self> {
        let bounded = |name: &str, value: Option<f64>, default: f64, max: f64| {
            let d = secs(name, value, default)?;
            if d.as_secs_f64() > max {
                bail!("{name} must be at most {max} seconds");
            }
            Ok::<_, anyhow::Error>(d)
        };
        Ok(Self {
            head_timeout: bounded(
                "head_timeout",
                args.head_timeout.or(file.head_timeout),
                10.0,
                3600.0,
            )?,
            idle_timeout: bounded(
                "idle_timeout",
                args.idle_timeout.or(file.idle_timeout),
                60.0,
                86_400.0,
            )?,
            body_timeout: bounded(
                "body_timeout",
                args.body_timeout.or(file.body_timeout),
                10.0,
                3600.0,
            )?,
            body_min_rate: match args.body_min_rate.or(file.body_min_rate) {
                Some(n) if n > 1 << 30 => bail!("body_min_rate must be at most 1073741824"),
                Some(n) => n,
                None => 4096,
            },
            max_connections: match args.max_connections.or(file.max_connections) {
                Some(n) if !(1..=1_000_000).contains(&n) => {
                    bail!("max_connections must be between 1 and 1000000")
                }
                other => other,
            },
        })
    }
}

/// Validates the operational webhook settings: both or neither, an absolute http(s) URL,
/// a `whsec_` secret.
/// Largest accepted `max_body_bytes`.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

fn operational_webhook(
    url: Option<String>,
    secret: Option<String>,
) -> anyhow::Result<Option<OperationalWebhook>> {
    let (url, secret) = match (url, secret) {
        (None, None) => return Ok(None),
        (Some(url), Some(secret)) => (url, secret),
        (Some(_), None) => bail!(
            "operational_webhook_url needs operational_webhook_secret (a whsec_ key) to sign with"
        ),
        (None, Some(_)) => {
            bail!("operational_webhook_secret is set without operational_webhook_url")
        }
    };
    // The same rules as every endpoint URL.
    let url = hookd_core::validate::endpoint_url(&url)
        .map_err(|e| anyhow::anyhow!("operational_webhook_url: {e}"))?;
    let secret = EndpointSecret::parse(&secret)
        .map_err(|e| anyhow::anyhow!("operational_webhook_secret: {e}"))?;
    Ok(Some(OperationalWebhook { url, secret }))
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

fn parse_database_url(url: &str) -> anyhow::Result<Database> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            bail!("database url sqlite:// needs a path, e.g. sqlite://./hookd-data/hookd.db");
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Database::Postgres(url.to_owned()))
    } else {
        bail!("database url must start with sqlite:// or postgres://")
    }
}

/// CIDRs, bare addresses, and the words `loopback` and `private` (see
/// [`hookd_delivery::ssrf::named_networks`]).
fn parse_networks<'a>(parts: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<IpNet>> {
    let mut nets = Vec::new();
    for p in parts.map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(named) = hookd_delivery::ssrf::named_networks(p) {
            nets.extend(named);
            continue;
        }
        let net = p
            .parse::<IpNet>()
            .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
            .with_context(|| {
                format!("allowed network {p:?} is not a CIDR, `loopback` or `private`")
            })?;
        nets.push(net);
    }
    Ok(nets)
}

/// Parses a main key without echoing it in the error.
/// `public_url` must be an absolute `http`/`https` URL; its trailing `/` is dropped.
fn public_url(value: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(url) = value.map(|u| u.trim().trim_end_matches('/').to_owned()) else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(Some(url)),
        _ => bail!("public_url must be an http:// or https:// URL without query or fragment"),
    }
}

fn main_key(name: &str, text: &str) -> anyhow::Result<MainKey> {
    MainKey::from_base64(text)
        .map_err(|e| anyhow::anyhow!("{name}: {e} (see `hookd keygen --main-key`)"))
}

fn secs(name: &str, value: Option<f64>, default: f64) -> anyhow::Result<Duration> {
    let v = value.unwrap_or(default);
    if !v.is_finite() || v <= 0.0 || v > 30.0 * 86400.0 {
        bail!("{name} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key `hookd.toml` takes, as serde knows them: an unknown key's error lists them.
    fn file_keys() -> Vec<String> {
        let err = toml::from_str::<FileConfig>("not_a_hookd_setting = 1")
            .expect_err("an unknown key is refused")
            .to_string();
        let expected = err
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("serde names the keys it expects: {err}"));
        let keys: Vec<String> = expected
            .split(',')
            .map(|k| k.trim().trim_matches('`').to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        assert!(keys.len() > 30, "{keys:?}");
        keys
    }

    fn repo_file(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn every_setting_is_in_the_readme_table_and_the_example_file() {
        let readme = repo_file("README.md");
        let example = repo_file("hookd.example.toml");
        let mut missing = Vec::new();
        for key in file_keys() {
            // A row of the README's configuration table names the file key in backticks.
            let in_table = readme
                .lines()
                .any(|l| l.starts_with('|') && l.contains(&format!("`{key}`")));
            if !in_table {
                missing.push(format!("{key}: no row in the README's configuration table"));
            }
            // The example file sets it, or shows it commented out.
            let in_example = example.lines().any(|l| {
                let l = l.trim_start().trim_start_matches('#').trim_start();
                l.strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            if !in_example {
                missing.push(format!("{key}: not in hookd.example.toml"));
            }
        }
        assert!(
            missing.is_empty(),
            "settings undocumented:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_database_timeout_defaults_to_5_seconds_and_is_bounded() {
        let c = Config::resolve(FileConfig::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.database_timeout, Duration::from_secs(5));
        let file = FileConfig {
            database_timeout: Some(2.5),
            ..FileConfig::default()
        };
        let c = Config::resolve(file.clone(), &ServeArgs::default()).unwrap();
        assert_eq!(c.database_timeout, Duration::from_millis(2500));
        let args = ServeArgs {
            store: StoreArgs {
                database_timeout: Some(1.0),
                ..Default::default()
            },
            ..ServeArgs::default()
        };
        let c = Config::resolve(file, &args).unwrap();
        assert_eq!(c.database_timeout, Duration::from_secs(1));
        for bad in [0.0, -1.0, 601.0, f64::NAN] {
            let args = ServeArgs {
                store: StoreArgs {
                    database_timeout: Some(bad),
                    ..Default::default()
                },
                ..ServeArgs::default()
            };
            let err = Config::resolve(FileConfig::default(), &args).err().unwrap();
            assert!(err.to_string().contains("database_timeout"), "{err}");
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = Config::resolve(FileConfig::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8071");
        assert_eq!(
            c.database,
            Database::Sqlite(PathBuf::from("hookd-data/hookd.db"))
        );
        assert_eq!(c.retry.max_attempts(), 8);
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert!(c.allowed_networks.is_empty());
        assert_eq!(c.ingest_dedup_window, Duration::from_secs(259_200));
        assert_eq!(
            c.ingest_rejection_retention,
            Duration::from_secs(7 * 86_400)
        );
    }

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\nretry_schedule = [1, 2]\nmax_body_bytes = 10\n\
             allowed_networks = [\"10.0.0.0/8\"]\nadmin_token = \"file-token-0123456789\"",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            allowed_networks: Some("127.0.0.0/8, ::1".into()),
            ..Default::default()
        };
        let c = Config::resolve(file, &args).unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.retry.max_attempts(), 3);
        assert_eq!(c.max_body_bytes, 10);
        assert_eq!(c.allowed_networks.len(), 2);
        assert!(!format!("{c:?}").contains("file-token"));
    }

    #[test]
    fn allowed_networks_accept_the_words_loopback_and_private_among_cidrs() {
        let nets = |s: &str| {
            let args = ServeArgs {
                allowed_networks: Some(s.into()),
                ..Default::default()
            };
            let c = Config::resolve(FileConfig::default(), &args).unwrap();
            c.allowed_networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(nets("loopback"), ["127.0.0.0/8", "::1/128"]);
        assert_eq!(nets(" LOOPBACK "), ["127.0.0.0/8", "::1/128"]);
        assert_eq!(
            nets("10.20.0.0/16,loopback"),
            ["10.20.0.0/16", "127.0.0.0/8", "::1/128"]
        );
        assert_eq!(
            nets("private"),
            ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
        );
        let file: FileConfig =
            toml::from_str("allowed_networks = [\"loopback\", \"192.0.2.7\"]").unwrap();
        let c = Config::resolve(file, &ServeArgs::default()).unwrap();
        assert_eq!(c.allowed_networks.len(), 3);
        let err = Config::resolve(
            FileConfig::default(),
            &ServeArgs {
                allowed_networks: Some("loopbak".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("`loopback`"), "{err}");
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let file: FileConfig = toml::from_str(include_str!("../../../hookd.example.toml")).unwrap();
        let from_file = Config::resolve(file, &ServeArgs::default()).unwrap();
        let defaults = Config::resolve(FileConfig::default(), &ServeArgs::default()).unwrap();
        assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let bad = |args: ServeArgs| {
            Config::resolve(FileConfig::default(), &args)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(ServeArgs {
            store: StoreArgs {
                database_url: Some("mysql://x".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .contains("sqlite://"));
        assert!(bad(ServeArgs {
            allowed_networks: Some("not-a-net".into()),
            ..Default::default()
        })
        .contains("not a CIDR"));
        assert!(bad(ServeArgs {
            retry_schedule: Some("1,soon".into()),
            ..Default::default()
        })
        .contains("retry schedule"));
        assert!(toml::from_str::<FileConfig>("unknown_key = 1").is_err());
        assert!(bad(ServeArgs {
            ingest_dedup_window: Some(0.0),
            ..Default::default()
        })
        .contains("ingest_dedup_window"));
        assert!(bad(ServeArgs {
            ingest_rejection_retention: Some(400.0),
            ..Default::default()
        })
        .contains("ingest_rejection_retention"));
        assert!(bad(ServeArgs {
            proxy_url: Some("socks5://proxy:1080".into()),
            ..Default::default()
        })
        .contains("http://"));
        let err = bad(ServeArgs {
            store: StoreArgs {
                main_key: Some("c2hvcnQta2V5".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        assert!(err.contains("main_key") && !err.contains("c2hvcnQta2V5"));
        let url_only = ServeArgs {
            operational_webhook_url: Some("https://ops.example.com/hook".into()),
            ..Default::default()
        };
        assert!(bad(url_only.clone()).contains("operational_webhook_secret"));
        assert!(bad(ServeArgs {
            operational_webhook_secret: Some("whsec_bad".into()),
            ..url_only.clone()
        })
        .contains("operational_webhook_secret"));
        assert!(bad(ServeArgs {
            operational_webhook_url: Some("ftp://ops.example.com".into()),
            operational_webhook_secret: Some(EndpointSecret::generate().expose().to_owned()),
            ..Default::default()
        })
        .contains("http or https"));
        for no_target in ["http:///hook", "https://ops.example.com:0/hook"] {
            assert!(bad(ServeArgs {
                operational_webhook_url: Some(no_target.into()),
                operational_webhook_secret: Some(EndpointSecret::generate().expose().to_owned()),
                ..Default::default()
            })
            .contains("operational_webhook_url"));
        }
        assert!(bad(ServeArgs {
            auto_disable_after: Some(0.0),
            ..Default::default()
        })
        .contains("auto_disable_after"));
    }

    #[test]
    fn listener_settings_have_defaults_layers_and_bounds() {
        let c = Config::resolve(FileConfig::default(), &ServeArgs::default()).unwrap();
        assert_eq!(
            c.listener,
            ListenerSettings {
                head_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                body_timeout: Duration::from_secs(10),
                body_min_rate: 4096,
                max_connections: None,
            }
        );
        let file: FileConfig =
            toml::from_str("head_timeout = 2\nmax_connections = 50\nbody_min_rate = 0").unwrap();
        let args = ServeArgs {
            head_timeout: Some(3.0),
            idle_timeout: Some(5.0),
            ..Default::default()
        };
        let c = Config::resolve(file, &args).unwrap();
        assert_eq!(c.listener.head_timeout, Duration::from_secs(3));
        assert_eq!(c.listener.idle_timeout, Duration::from_secs(5));
        assert_eq!(c.listener.body_min_rate, 0);
        assert_eq!(c.listener.max_connections, Some(50));
        let bad = |args: ServeArgs| {
            Config::resolve(FileConfig::default(), &args)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(ServeArgs {
            head_timeout: Some(0.0),
            ..Default::default()
        })
        .contains("head_timeout"));
        assert!(bad(ServeArgs {
            idle_timeout: Some(100_000.0),
            ..Default::default()
        })
        .contains("idle_timeout"));
        assert!(bad(ServeArgs {
            body_timeout: Some(f64::NAN),
            ..Default::default()
        })
        .contains("body_timeout"));
        assert!(bad(ServeArgs {
            max_connections: Some(0),
            ..Default::default()
        })
        .contains("max_connections"));
    }

    #[test]
    fn proxy_url_is_read_and_its_credentials_stay_out_of_debug() {
        let file: FileConfig =
            toml::from_str("proxy_url = \"http://u:hunter2@egress:3128\"").unwrap();
        let c = Config::resolve(file, &ServeArgs::default()).unwrap();
        assert_eq!(
            c.proxy,
            Some(ProxyConfig::parse("http://u:hunter2@egress:3128").unwrap())
        );
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn main_keys_come_from_flags_or_the_file_and_show_only_their_ids() {
        let (key, b64) = MainKey::generate();
        let (old, old_b64) = MainKey::generate();
        let file: FileConfig =
            toml::from_str(&format!("previous_main_keys = [\"{old_b64}\"]")).unwrap();
        let args = ServeArgs {
            store: StoreArgs {
                main_key: Some(b64.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = Config::resolve(file, &args).unwrap();
        assert_eq!(c.main_key.as_ref().map(MainKey::id), Some(key.id()));
        assert_eq!(c.previous_main_keys.len(), 1);
        assert_eq!(c.previous_main_keys[0].id(), old.id());
        let debug = format!("{c:?}");
        assert!(!debug.contains(&b64) && !debug.contains(&old_b64));
    }

    #[test]
    fn operational_webhook_secret_is_redacted() {
        let secret = EndpointSecret::generate();
        let args = ServeArgs {
            operational_webhook_url: Some("https://ops.example.com/hook".into()),
            operational_webhook_secret: Some(secret.expose().to_owned()),
            auto_disable_after: Some(60.0),
            ..Default::default()
        };
        let c = Config::resolve(FileConfig::default(), &args).unwrap();
        assert_eq!(c.auto_disable_after, Duration::from_secs(60));
        assert_eq!(c.operational_webhook.as_ref().unwrap().secret, secret);
        assert!(!format!("{c:?}").contains(secret.expose()));
    }

    // --- Operator logs ---
    #[test]
    fn the_admin_token_source_and_the_access_log_are_resolved() {
        let c = Config::resolve(FileConfig::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.admin_token_source, AdminTokenSource::Stored);
        assert!(!c.access_log);
        let file: FileConfig =
            toml::from_str("admin_token = \"file-token-0123456789\"\naccess_log = true").unwrap();
        let c = Config::resolve(file.clone(), &ServeArgs::default()).unwrap();
        assert_eq!(c.admin_token_source, AdminTokenSource::File);
        assert!(c.access_log);
        // A flag wins over the file, for the token and the access log alike.
        let args = ServeArgs {
            admin_token: Some("flag-token-0123456789-not-in-env".into()),
            access_log: Some(false),
            ..Default::default()
        };
        let c = Config::resolve(file, &args).unwrap();
        assert_eq!(c.admin_token_source, AdminTokenSource::Flag);
        assert!(!c.access_log);
        assert!(!format!("{c:?}").contains("flag-token"));
    }
}
