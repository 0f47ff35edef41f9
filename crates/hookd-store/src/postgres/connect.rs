//! Reaching the server: the connection settings taken from [`PostgresOptions`], TLS, the
//! pool, and single connections that are not pooled (migrations, `LISTEN`).
//!
//! TLS follows the URL's `sslmode`: `disable` never encrypts; `require` always does, and
//! the server's certificate must verify against the webpki (Mozilla) roots plus the
//! optional `ca_file`; `prefer` (the default) encrypts with the same verification when
//! the server offers TLS. A `prefer` connection whose server certificate does not verify
//! falls back to plaintext (decided once, at connect, with a warning), since `prefer`
//! never promised encryption and an unverified certificate proves nothing.
//!
//! Nothing here logs or returns the URL or the password.

use super::PostgresOptions;
use anyhow::{bail, Context};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::error::Error as _;
use std::future::poll_fn;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Idle time before TCP keepalive probes start, their interval, and how many may go
/// unanswered: a vanished server or a silent network drop is noticed within about a minute.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;
/// Reported to the server (`pg_stat_activity`) unless the URL names the application.
const APPLICATION_NAME: &str = "hookd";
/// How often a server process checks, while it runs a statement (or waits for a lock),
/// that hookd is still connected. A call cut short by the deadline closes its connection;
/// with this, the server abandons the statement within a second instead of completing it
/// (and possibly committing a write whose caller was told 503).
const CLIENT_CHECK_INTERVAL: &str = "client_connection_check_interval=1000";

/// How the connections of this store are encrypted.
#[derive(Clone)]
enum Tls {
    /// Plaintext (`sslmode=disable`, or `prefer` with a server certificate that does not
    /// verify).
    Off,
    /// rustls with certificate verification; `sslmode` says whether it is required.
    Verified(MakeRustlsConnect),
}

/// Everything needed to open a connection to the configured server.
#[derive(Clone)]
pub(super) struct Target {
    config: Config,
    tls: Tls,
}

/// A single connection that is not pooled. Its driver task runs the connection and
/// forwards `NOTIFY`s to the given signal; it ends (with the reason) when the connection
/// does.
pub(super) struct Session {
    pub(super) client: Client,
    pub(super) driver: JoinHandle<Result<(), tokio_postgres::Error>>,
}

impl Target {
    /// Reads the URL and the options. Fails on an unparsable URL without echoing it.
    pub(super) fn new(opts: &PostgresOptions) -> anyhow::Result<Self> {
        if opts.url.is_empty() {
            bail!("the PostgreSQL URL is empty");
        }
        let mut config = Config::from_str(&opts.url).map_err(|e| {
            // The driver's error names the problem, not the URL's text.
            anyhow::anyhow!("the PostgreSQL URL is invalid: {e}{}", cause(&e))
        })?;
        config
            .connect_timeout(opts.connect_timeout)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        // Set at connection start-up, so every connection has it without a round trip;
        // appended so the URL's own `options` (e.g. a search_path) still apply.
        let timeout_ms = opts.statement_timeout.as_millis();
        add_option(&mut config, &format!("statement_timeout={timeout_ms}"));
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => Tls::Off,
            _ => Tls::Verified(MakeRustlsConnect::new(tls_config(opts.ca_file.as_deref())?)),
        };
        Ok(Self { config, tls })
    }

    /// Opens the first connection. With `sslmode=prefer`, this settles whether the
    /// store's connections use TLS: a server certificate that does not verify turns TLS
    /// off for all of them.
    pub(super) async fn open_first(&mut self, due: Arc<Notify>) -> anyhow::Result<Session> {
        match self.open(due.clone()).await {
            Ok(session) => Ok(session),
            Err(e)
                if self.config.get_ssl_mode() == SslMode::Prefer
                    && is_certificate_rejection(&e) =>
            {
                tracing::warn!(
                    reason = %cause(&e).trim_start_matches(": "),
                    "the PostgreSQL server's TLS certificate does not verify; sslmode=prefer \
                     falls back to an unencrypted connection (set sslmode=require and ca_file \
                     to insist on TLS)"
                );
                self.config.ssl_mode(SslMode::Disable);
                self.tls = Tls::Off;
                self.open(due).await.map_err(connect_error)
            }
            Err(e) => Err(connect_error(e)),
        }
    }

    /// Once connected: if the server takes [`CLIENT_CHECK_INTERVAL`] (PostgreSQL 14 and
    /// later, on the platforms that can check a socket), every later connection sets it at
    /// start-up. Older servers refuse the setting, and are left without it.
    pub(super) async fn check_for_gone_clients(&mut self, session: &Session) {
        let set = format!("SET {}", CLIENT_CHECK_INTERVAL.replace('=', " = "));
        match session.client.batch_execute(&set).await {
            Ok(()) => add_option(&mut self.config, CLIENT_CHECK_INTERVAL),
            Err(e) => tracing::info!(
                reason = %e,
                "the PostgreSQL server cannot check for gone clients; a statement whose \
                 caller gave up runs to its end"
            ),
        }
    }

    /// Opens one connection that is not pooled; `NOTIFY`s it receives raise `due`.
    pub(super) async fn open(&self, due: Arc<Notify>) -> Result<Session, tokio_postgres::Error> {
        match &self.tls {
            Tls::Off => open_with(&self.config, NoTls, due).await,
            Tls::Verified(tls) => open_with(&self.config, tls.clone(), due).await,
        }
    }

    /// The pool of connections every store call uses. Connections are made lazily.
    pub(super) fn pool(&self, opts: &PostgresOptions) -> anyhow::Result<Pool> {
        let manager_config = ManagerConfig {
            // A closed connection is dropped at checkout; no extra query per checkout.
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &self.tls {
            Tls::Off => Manager::from_config(self.config.clone(), NoTls, manager_config),
            Tls::Verified(tls) => {
                Manager::from_config(self.config.clone(), tls.clone(), manager_config)
            }
        };
        Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .wait_timeout(Some(opts.acquire_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .context("building the PostgreSQL connection pool")
    }
}

/// Appends `-c name=value` to the connection's start-up options, after the URL's own.
fn add_option(config: &mut Config, setting: &str) {
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} -c {setting}"),
        _ => format!("-c {setting}"),
    };
    config.options(&options);
}

async fn open_with<T>(
    config: &Config,
    tls: T,
    due: Arc<Notify>,
) -> Result<Session, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    let driver = tokio::spawn(drive(connection, due));
    Ok(Session { client, driver })
}

/// Runs the connection, raising `due` on every notification. `notify_one` stores a permit
/// when nobody waits, so a notification that arrives between two polls is not lost.
async fn drive<S, T>(
    mut connection: Connection<S, T>,
    due: Arc<Notify>,
) -> Result<(), tokio_postgres::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
        match message? {
            AsyncMessage::Notification(_) => due.notify_one(),
            AsyncMessage::Notice(notice) => {
                tracing::debug!(code = notice.code().code(), "PostgreSQL notice")
            }
            _ => {}
        }
    }
    Ok(())
}

/// rustls with the ring provider (the one the workspace already uses), the webpki roots,
/// and the roots of `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the CA file {}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing the CA file {}", path.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            bail!("the CA file {} holds no usable certificate", path.display());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Whether the handshake failed because the server's certificate was rejected.
fn is_certificate_rejection(err: &tokio_postgres::Error) -> bool {
    let mut next = err.source();
    while let Some(e) = next {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return matches!(tls, rustls::Error::InvalidCertificate(_));
        }
        next = e.source();
    }
    false
}

/// ": <cause>" for an error with one, else nothing.
fn cause(err: &tokio_postgres::Error) -> String {
    err.source().map(|c| format!(": {c}")).unwrap_or_default()
}

/// The error of a failed connect, with its cause but without the URL.
fn connect_error(err: tokio_postgres::Error) -> anyhow::Error {
    let reason = match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => format!("{err}{}", cause(&err)),
    };
    anyhow::anyhow!("connecting to PostgreSQL failed: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> PostgresOptions {
        PostgresOptions {
            url: url.to_owned(),
            ..PostgresOptions::default()
        }
    }

    #[test]
    fn a_bad_url_is_reported_without_its_text() {
        for url in [
            "postgres://hookd:s3cret-pw@db.internal:notaport/hookd",
            "postgres://hookd:s3cret-pw@db.internal/hookd?sslmode=s3cret-pw",
            "",
        ] {
            let err = Target::new(&options(url)).err().expect("invalid URL");
            let text = format!("{err:#}");
            assert!(!text.contains("s3cret"), "{text}");
            assert!(!text.contains("db.internal"), "{text}");
        }
    }

    #[test]
    fn the_statement_timeout_is_added_to_the_url_options() {
        let target = Target::new(&options(
            "postgres://u@localhost/db?options=-csearch_path%3Dtenant&sslmode=disable",
        ))
        .unwrap();
        assert_eq!(
            target.config.get_options(),
            Some("-csearch_path=tenant -c statement_timeout=10000")
        );
        assert_eq!(target.config.get_application_name(), Some("hookd"));
        assert!(matches!(target.tls, Tls::Off));
        let target = Target::new(&options("postgres://u@localhost/db")).unwrap();
        assert_eq!(
            target.config.get_options(),
            Some("-c statement_timeout=10000")
        );
        assert!(matches!(target.tls, Tls::Verified(_)));
    }

    #[test]
    fn a_missing_ca_file_is_an_error_naming_the_file() {
        let err = Target::new(&PostgresOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..options("postgres://u@localhost/db?sslmode=require")
        })
        .err()
        .expect("missing CA file");
        assert!(format!("{err:#}").contains("/nonexistent/ca.pem"));
    }
}
