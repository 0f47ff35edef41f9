//! Command-line flags, checked once into a [`Plan`]: what to drive and what workload.

use crate::ingest::Provider;
use anyhow::{bail, Context};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// hookd-bench: end-to-end throughput, latency and crash tests for hookd or any server
/// speaking the Svix API v1, with a built-in receiver that verifies every delivery.
#[derive(Debug, Parser)]
#[command(name = "hookd-bench", version, about)]
pub struct Cli {
    /// Start `hookd serve` on a fresh temporary directory and stop it at the end.
    #[arg(long)]
    pub spawn: bool,
    /// The `hookd` binary for --spawn [default: `hookd` next to this executable].
    #[arg(long)]
    pub hookd_bin: Option<PathBuf>,
    /// --spawn on PostgreSQL (`postgres://...`): a fresh schema is created and dropped
    /// [default: SQLite in the temporary directory].
    #[arg(long)]
    pub database_url: Option<String>,
    /// --spawn this many hookd processes on the same database (PostgreSQL only).
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Base URL of a running server speaking the Svix API v1, e.g. http://127.0.0.1:8071.
    #[arg(long, requires = "token")]
    pub target: Option<String>,
    /// Bearer token for --target.
    #[arg(long, env = "HOOKD_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Messages (with --ingest: provider events) to send (ignored with --rate).
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// Endpoints in the benchmark application (with --ingest: ingest endpoints of the
    /// source, each of which receives every event).
    #[arg(long, default_value_t = 1)]
    pub endpoints: u32,
    /// Endpoints each message goes to (at most --endpoints and 10).
    #[arg(long, default_value_t = 1)]
    pub fanout: u32,
    /// Concurrent senders.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Size of each message's JSON payload (with --ingest: each provider body) in bytes.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,
    /// Fixed-rate latency mode: messages per second (needs --duration).
    #[arg(long, requires = "duration")]
    pub rate: Option<f64>,
    /// Fixed-rate latency mode: seconds to send for (needs --rate, except with --ingest
    /// where the rate defaults to 2000).
    #[arg(long)]
    pub duration: Option<f64>,
    /// The first K endpoints answer after --slow-ms.
    #[arg(long, default_value_t = 0)]
    pub slow_endpoints: u32,
    /// Delay of the slow endpoints, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub slow_ms: u64,
    /// Fraction (0 to 1) of (message, endpoint) pairs whose first attempt gets a 500.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Hold every answer until all messages were accepted, then release them.
    #[arg(long)]
    pub backlog: bool,
    /// With --spawn: `kill -9` the server this many times during the run, restarting it
    /// on the same data each time.
    #[arg(long, default_value_t = 0)]
    pub crash: u32,
    /// Before the workload, fail N messages on an extra endpoint, then recover it while
    /// the workload runs (the latency figures are then live traffic during a recovery).
    #[arg(long, default_value_t = 0)]
    pub recover: u64,
    /// Drive the ingest gateway instead of the message API: create an ingest source with
    /// --endpoints ingest endpoints on this bench's receiver, send provider-signed requests
    /// to its receive URL, and check every forward (signature, body, provider headers).
    #[arg(long)]
    pub ingest: bool,
    /// With --ingest: the provider whose requests are imitated [default: github].
    #[arg(long, value_enum)]
    pub provider: Option<Provider>,
    /// With --ingest: share (0 to 1) of the events sent a second time with the same
    /// provider id, right after the first `204`; each must be answered as a duplicate and
    /// forwarded once.
    #[arg(long, default_value_t = 0.0)]
    pub replay_fraction: f64,
    /// With --ingest: seconds to wait after the last send for every accepted event to be
    /// forwarded; what has not arrived by then is lost [default: 120].
    #[arg(long)]
    pub drain: Option<f64>,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,

    /// Also print the result as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// The server(s) under test.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Start hookd ourselves.
    Spawn {
        bin: PathBuf,
        /// `None` means SQLite.
        database_url: Option<String>,
        nodes: usize,
        crashes: u32,
    },
    /// An already-running server.
    Target { url: String, token: String },
}

/// How messages are sent.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// `n` messages as fast as the server accepts them.
    Count(u64),
    /// `rate` messages per second for `duration`.
    Fixed { rate: f64, duration: Duration },
}

/// What an ingest run (`--ingest`) adds to the plan.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    pub provider: Provider,
    pub replay_fraction: f64,
    /// How long to wait for forwards after the last send.
    pub drain: Duration,
}

/// The fixed rate of an ingest latency run given only --duration.
pub const DEFAULT_INGEST_RATE: f64 = 2000.0;

/// The validated run; fields mirror the flags of the same names.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `Some` for an ingest run: the message-API workload flags below that apply to it
    /// are the target, pace, endpoints, concurrency, payload size and timeout.
    pub ingest: Option<IngestPlan>,
    pub mode: Mode,
    pub pace: Pace,
    pub endpoints: u32,
    pub fanout: u32,
    pub concurrency: usize,
    pub payload_bytes: usize,
    pub slow_endpoints: u32,
    pub slow_delay: Duration,
    pub fail_rate: f64,
    pub backlog: bool,
    pub timeout: Duration,
    pub recover: u64,
    pub json: bool,
    pub quiet: bool,
}

impl Cli {
    /// Checks the flags against each other.
    pub fn plan(self) -> anyhow::Result<Plan> {
        let ingest = self.ingest_plan()?;
        let spawn_only = self.hookd_bin.is_some()
            || self.database_url.is_some()
            || self.nodes != 1
            || self.crash > 0;
        let mode = match (self.spawn, self.target) {
            (true, Some(_)) => bail!("--spawn and --target exclude each other"),
            (false, Some(_)) if spawn_only => {
                bail!("--hookd-bin, --database-url, --nodes and --crash need --spawn")
            }
            (true, None) => {
                let bin = match self.hookd_bin {
                    Some(bin) => bin,
                    None => std::env::current_exe()
                        .context("locating this executable (pass --hookd-bin)")?
                        .with_file_name("hookd"),
                };
                let postgres = self.database_url.as_deref().is_some_and(|u| {
                    u.starts_with("postgres://") || u.starts_with("postgresql://")
                });
                if self.database_url.is_some() && !postgres {
                    bail!("--database-url must be postgres://... (SQLite is the default)");
                }
                if self.nodes == 0 || (self.nodes > 1 && !postgres) {
                    bail!("--nodes above 1 needs a PostgreSQL --database-url");
                }
                Mode::Spawn {
                    bin,
                    database_url: self.database_url,
                    nodes: self.nodes,
                    crashes: self.crash,
                }
            }
            (false, Some(url)) => Mode::Target {
                url,
                token: self.token.context("--target needs --token")?,
            },
            (false, None) => bail!("say what to drive: --spawn, or --target URL --token T"),
        };
        let rate = match (self.rate, self.duration) {
            (None, Some(_)) if ingest.is_some() => Some(DEFAULT_INGEST_RATE),
            (None, Some(_)) => bail!("--duration needs --rate"),
            (rate, _) => rate,
        };
        let pace = match (rate, self.duration) {
            (Some(rate), Some(secs)) => {
                if !(rate > 0.0 && rate.is_finite() && secs > 0.0 && secs.is_finite()) {
                    bail!("--rate and --duration must be positive");
                }
                Pace::Fixed {
                    rate,
                    duration: Duration::from_secs_f64(secs),
                }
            }
            _ if self.messages == 0 => bail!("--messages must be at least 1"),
            _ => Pace::Count(self.messages),
        };
        if self.endpoints == 0 {
            bail!("--endpoints must be at least 1");
        }
        if self.fanout == 0 || self.fanout > self.endpoints || self.fanout > 10 {
            bail!("--fanout must be between 1 and min(--endpoints, 10): a message names at most 10 channels");
        }
        if self.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if self.slow_endpoints > self.endpoints {
            bail!("--slow-endpoints cannot exceed --endpoints");
        }
        if !(0.0..1.0).contains(&self.fail_rate) {
            bail!("--fail-rate must be at least 0 and below 1");
        }
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            bail!("--timeout must be positive");
        }
        Ok(Plan {
            ingest,
            mode,
            pace,
            endpoints: self.endpoints,
            fanout: self.fanout,
            concurrency: self.concurrency,
            payload_bytes: self.payload_bytes,
            slow_endpoints: self.slow_endpoints,
            slow_delay: Duration::from_millis(self.slow_ms),
            fail_rate: self.fail_rate,
            backlog: self.backlog,
            timeout: Duration::from_secs_f64(self.timeout),
            recover: self.recover,
            json: self.json,
            quiet: self.quiet,
        })
    }
}

impl Cli {
    /// The ingest part of the plan; refuses ingest flags without --ingest and message
    /// workload options that an ingest run does not have.
    fn ingest_plan(&self) -> anyhow::Result<Option<IngestPlan>> {
        if !self.ingest {
            if self.provider.is_some() || self.replay_fraction != 0.0 || self.drain.is_some() {
                bail!("--provider, --replay-fraction and --drain need --ingest");
            }
            return Ok(None);
        }
        if self.fanout != 1
            || self.slow_endpoints > 0
            || self.fail_rate != 0.0
            || self.backlog
            || self.crash > 0
            || self.recover > 0
        {
            bail!(
                "--ingest forwards every event to every endpoint and does not take --fanout, \
                 --slow-endpoints, --fail-rate, --backlog, --crash or --recover"
            );
        }
        if !(0.0..=1.0).contains(&self.replay_fraction) {
            bail!("--replay-fraction must be between 0 and 1");
        }
        let drain = self.drain.unwrap_or(120.0);
        if !(drain > 0.0 && drain.is_finite()) {
            bail!("--drain must be positive");
        }
        Ok(Some(IngestPlan {
            provider: self.provider.unwrap_or(Provider::Github),
            replay_fraction: self.replay_fraction,
            drain: Duration::from_secs_f64(drain),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let mut argv = vec!["hookd-bench"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)?.plan()
    }

    #[test]
    fn defaults_match_the_documented_workload() {
        let p = plan(&["--spawn", "--hookd-bin", "hookd"]).unwrap();
        assert!(matches!(p.pace, Pace::Count(10_000)));
        assert_eq!(
            (p.endpoints, p.fanout, p.concurrency, p.payload_bytes),
            (1, 1, 32, 1024)
        );
        assert!(matches!(
            p.mode,
            Mode::Spawn {
                nodes: 1,
                crashes: 0,
                database_url: None,
                ..
            }
        ));
    }

    #[test]
    fn rejects_inconsistent_flags() {
        assert!(plan(&[]).is_err(), "no mode");
        assert!(plan(&["--spawn", "--endpoints", "2", "--fanout", "3"]).is_err());
        assert!(plan(&["--spawn", "--endpoints", "20", "--fanout", "11"]).is_err());
        assert!(
            plan(&["--spawn", "--nodes", "2"]).is_err(),
            "two nodes on SQLite"
        );
        assert!(plan(&["--spawn", "--fail-rate", "1.5"]).is_err());
        assert!(plan(&["--target", "http://x", "--crash", "1", "--token", "t"]).is_err());
        assert!(
            plan(&["--spawn", "--rate", "100"]).is_err(),
            "rate without duration"
        );
    }

    #[test]
    fn ingest_defaults_to_github_and_a_duration_alone_means_2000_per_second() {
        let p = plan(&["--spawn", "--hookd-bin", "hookd", "--ingest"]).unwrap();
        let ingest = p.ingest.expect("an ingest plan");
        assert_eq!(ingest.provider, Provider::Github);
        assert_eq!(ingest.replay_fraction, 0.0);
        assert!(matches!(p.pace, Pace::Count(10_000)));

        let p = plan(&[
            "--spawn",
            "--ingest",
            "--provider",
            "standard-webhooks",
            "--duration",
            "5",
        ])
        .unwrap();
        assert_eq!(p.ingest.unwrap().provider, Provider::StandardWebhooks);
        assert!(matches!(p.pace, Pace::Fixed { rate, .. } if rate == DEFAULT_INGEST_RATE));
    }

    #[test]
    fn ingest_flags_need_ingest_and_exclude_message_only_options() {
        assert!(plan(&["--spawn", "--provider", "stripe"]).is_err());
        assert!(plan(&["--spawn", "--replay-fraction", "0.1"]).is_err());
        assert!(plan(&["--spawn", "--duration", "5"]).is_err(), "no rate");
        assert!(plan(&["--spawn", "--ingest", "--crash", "1"]).is_err());
        assert!(plan(&["--spawn", "--ingest", "--fail-rate", "0.1"]).is_err());
        assert!(plan(&["--spawn", "--ingest", "--replay-fraction", "2"]).is_err());
        assert!(plan(&["--spawn", "--ingest", "--provider", "shopify"]).is_err());
    }

    #[test]
    fn rate_mode_ignores_messages() {
        let p = plan(&[
            "--target",
            "http://x",
            "--token",
            "t",
            "--rate",
            "1000",
            "--duration",
            "5",
        ])
        .unwrap();
        assert!(matches!(p.pace, Pace::Fixed { rate, .. } if rate == 1000.0));
    }
}
