//! Typed configuration: defaults < `hookd.toml` < `HOOKD_*` environment < command-line flags.
//!
//! Each setting is declared once, as a row of `config/settings.rs`: its name (the file key,
//! the [`Config`] field, `--name-with-dashes`, `HOOKD_NAME`), which commands offer its flag,
//! the type the sources give, its default, its doc (the `--help` text) and its rule (how
//! the value is checked and converted). The rest is derived from those rows:
//! - [`Layer`]: what one source says, every setting optional; `hookd.toml` deserializes
//!   into it, and the command line is read into it ([`ServeArgs`], or [`StoreArgs`] for
//!   commands that only open the database, so `prune --help` offers only those);
//! - [`Config::resolve`]: the command line's layer over the file's, each setting's default
//!   where both are silent, each value through its rule, then the checks between settings;
//! - [`SETTINGS`]: the table that builds the flags and that the tests hold the README's
//!   table, `hookd.example.toml` and `--help` against.
//!
//! Secrets are hidden in `--help` and redacted by their types' `Debug`.
//!
//! Layout: `settings.rs` the rows, `declare.rs` the macro that reads them, `flags.rs` the
//! command line, `rules.rs` the rules; here, what is made of several settings.
//!
//! Why a macro of our own rather than `figment`: figment only merges layers, which here
//! is one `Option::or` per setting. It would still need the clap flags (for `--help`,
//! `hide_env_values`, and `prune`'s subset) and the serde file struct written beside it;
//! its environment provider would take neither `yes`/`on` for a boolean nor `a,b` for a
//! list as the flags do; and it brings seven crates (figment, pear, pear_codegen,
//! proc-macro2-diagnostics, inlinable_string, uncased, yansi). The macro is ~110 lines of
//! `macro_rules!` and adds no dependency (clap's `string` feature names the flags at run
//! time).

mod declare;
mod flags;
mod rules;
mod settings;
#[cfg(test)]
mod tests;

pub use declare::{Fallback, Scope, Setting};
pub use flags::{List, ServeArgs, StoreArgs};
pub use settings::{Config, Layer, SETTINGS};

use anyhow::{bail, Context};
use hookd_core::retry::RetrySchedule;
use hookd_core::signing::EndpointSecret;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl Config {
    /// Reads `config_file` (or `./hookd.toml` if present) and layers defaults < file <
    /// `flags`.
    pub fn load(config_file: Option<&Path>, flags: Layer) -> anyhow::Result<Self> {
        let file = match config_file {
            Some(path) => read_file(path)?,
            None if Path::new("hookd.toml").exists() => read_file(Path::new("hookd.toml"))?,
            None => Layer::default(),
        };
        Self::resolve(file, flags)
    }

    /// Layers defaults < `file` < `flags` and validates the result.
    pub fn resolve(file: Layer, flags: Layer) -> anyhow::Result<Self> {
        let admin_token_source = AdminTokenSource::of(&flags, file.admin_token.is_some());
        let mut config = flags.over(file).resolve()?;
        config.admin_token_source = admin_token_source;
        config.check()?;
        Ok(config)
    }

    /// The rules between settings.
    fn check(&self) -> anyhow::Result<()> {
        match (&self.operational_webhook_url, &self.operational_webhook_secret) {
            (Some(_), None) => bail!(
                "operational_webhook_url needs operational_webhook_secret (a whsec_ key) to sign with"
            ),
            (None, Some(_)) => {
                bail!("operational_webhook_secret is set without operational_webhook_url")
            }
            (Some(url), Some(_)) if self.https_only && !url.starts_with("https://") => {
                bail!("operational_webhook_url must use https when https_only is set")
            }
            _ => Ok(()),
        }
    }

    /// Where the data is: `database_url`, or SQLite in the data directory.
    pub fn database(&self) -> Database {
        match &self.database_url {
            Some(database) => database.clone(),
            None => Database::Sqlite(self.data_dir.join("hookd.db")),
        }
    }

    /// `retry_schedule` with `retry_jitter`.
    pub fn retry(&self) -> RetrySchedule {
        RetrySchedule::new(self.retry_schedule.clone(), self.retry_jitter)
    }

    /// The listener's settings.
    pub fn listener(&self) -> ListenerSettings {
        ListenerSettings {
            head_timeout: self.head_timeout,
            idle_timeout: self.idle_timeout,
            body_timeout: self.body_timeout,
            body_min_rate: self.body_min_rate,
            max_connections: self.max_connections,
        }
    }

    /// Where operational webhooks go and the key that signs them; `None` sends none.
    pub fn operational_webhook(&self) -> Option<OperationalWebhook> {
        match (
            &self.operational_webhook_url,
            &self.operational_webhook_secret,
        ) {
            (Some(url), Some(secret)) => Some(OperationalWebhook {
                url: url.clone(),
                secret: secret.clone(),
            }),
            _ => None,
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<Layer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

/// Where hookd keeps its data.
#[derive(Clone, PartialEq)]
pub enum Database {
    Sqlite(PathBuf),
    /// The URL, which may hold a password: redacted in `Debug`.
    Postgres(String),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(_) => f.write_str("postgres://<redacted>"),
        }
    }
}

/// A secret string (the admin token): `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where operational webhooks go, and the key that signs them.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationalWebhook {
    pub url: String,
    /// Redacted in `Debug`.
    pub secret: EndpointSecret,
}

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
    /// Which of `flags` and the file gives the token; clap folds `HOOKD_ADMIN_TOKEN` into
    /// the flag, so the environment is told apart by comparing with it.
    fn of(flags: &Layer, in_file: bool) -> Self {
        match &flags.admin_token {
            Some(t) if std::env::var("HOOKD_ADMIN_TOKEN").is_ok_and(|e| &e == t) => Self::Env,
            Some(_) => Self::Flag,
            None if in_file => Self::File,
            None => Self::Stored,
        }
    }
}
