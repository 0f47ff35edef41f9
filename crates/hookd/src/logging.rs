//! The process's log: `tracing` to stderr as text or JSON lines (`--log-format`), filtered
//! by `HOOKD_LOG` (or `info`), under a cap that no filter can lift.
//!
//! The cap: only hookd's own crates may log below `info`. Other crates' debug and trace
//! output carries what hookd promises never to log: tokio-postgres logs every statement's
//! parameters at debug (custom header credentials, payloads, idempotency keys, receive
//! tokens), axum logs rejected bodies' parse errors at trace, h2, hyper and reqwest log
//! frames, headers and URLs. An allow-list rather than a deny-list, so a new dependency
//! cannot add such a source; `HOOKD_LOG=tokio_postgres=trace` changes nothing.
//!
//! hookd's own `debug!`/`trace!` calls log ids, counts and statuses, never a secret, a
//! payload, a header value or a request path (`/ingest/{token}` is a credential).

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The crates allowed to log at `debug` and `trace`.
const OWN_CRATES: &[&str] = &[
    "hookd",
    "hookd_core",
    "hookd_delivery",
    "hookd_ingest",
    "hookd_server",
    "hookd_store",
];

/// How lines are written (`--log-format`, `HOOKD_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line of text per event, fields as `key=value` (colours on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with
    /// `message`) and the enclosing `span`s with their fields.
    Json,
}

/// Installs the subscriber (and the `log` bridge) for the whole process.
pub fn init(format: Format) {
    let env = EnvFilter::try_from_env("HOOKD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = env.and(filter_fn(allowed));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        Format::Text => layer
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed(),
        Format::Json => layer
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
    };
    tracing_subscriber::registry().with(layer).init();
    // Every `log` record comes from another crate, so none below info gets through: say
    // so to `log` itself, which then skips formatting them (tokio-postgres checks
    // `log_enabled!(Debug)` before it formats a statement's parameters).
    log::set_max_level(log::LevelFilter::Info.min(log::max_level()));
}

/// Whether the cap lets an event or span through: `info` and above from anyone, below
/// that only from hookd's own crates.
fn allowed(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || is_own(meta.target())
}

fn is_own(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    OWN_CRATES.contains(&krate)
}

#[cfg(test)]
mod tests {
    use super::is_own;

    #[test]
    fn only_hookd_crates_are_own() {
        assert!(is_own("hookd_store::postgres::endpoints"));
        assert!(is_own("hookd"));
        assert!(!is_own("tokio_postgres::query"));
        assert!(!is_own("hookdx::y"));
        assert!(!is_own("axum::rejection"));
    }
}
