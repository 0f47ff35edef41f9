//! `hookd-bench`: reproducible end-to-end benchmarks and crash tests for hookd, or for any
//! server speaking the Svix API v1.
//!
//! Layout:
//! - [`cli`]: flags, validated into a [`cli::Plan`].
//! - [`run`]: one run from start to report; owns the order of everything below.
//! - [`server`]: `--spawn` (start `hookd serve` nodes, `kill -9` and restart them, stop them);
//!   [`crash`]: when to kill which node; [`postgres`]: the throw-away schema of a PostgreSQL
//!   run; [`procfs`]: peak RSS and CPU time.
//! - [`api`]: the Svix API v1 calls (application, endpoints, secrets, messages).
//! - [`sender`]: the concurrent API senders, as fast as possible or at a fixed rate.
//! - [`receiver`]: the built-in webhook receiver; verifies every signature.
//! - [`registry`]: the sharded ledger of accepted messages and arrivals that both sides write.
//! - [`routing`]: the pure workload rules (fan-out, channels, payload, failed first attempts).
//! - [`report`]: percentiles, the table and the JSON line.
//! - [`pace`]: how requests are released to the senders (all at once, or at a fixed rate).
//! - [`ingest`]: `--ingest`, the ingest gateway's run: provider-signed requests in,
//!   forwards checked at its own receiver, its own report.
//! - [`recover`]: `--recover N`, an endpoint recovery running under the live workload.
//!
//! Exit status: 0 when nothing was lost, forged or misrouted; 1 when something was; 2 when
//! the run itself could not be done (bad flags, server did not start, API refused).

mod api;
mod cli;
mod crash;
mod ingest;
mod pace;
mod postgres;
mod procfs;
mod receiver;
mod recover;
mod registry;
mod report;
mod routing;
mod run;
mod sender;
mod server;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let plan = match cli::Cli::parse().plan() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("hookd-bench: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hookd-bench: starting the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        match &plan.ingest {
            Some(ingest) => ingest::run(&plan, ingest).await.map(Outcome::Ingest),
            None => run::run(&plan).await.map(Outcome::Messages),
        }
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("hookd-bench: {err:#}");
            return ExitCode::from(2);
        }
    };
    let (table, json, passed) = match &outcome {
        Outcome::Messages(r) => (r.table(), serde_json::to_string(r), r.passed()),
        Outcome::Ingest(r) => (r.table(), serde_json::to_string(r), r.passed()),
    };
    print!("{table}");
    if plan.json {
        match json {
            Ok(line) => println!("{line}"),
            Err(err) => {
                eprintln!("hookd-bench: writing the JSON report: {err}");
                return ExitCode::from(2);
            }
        }
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The report of either kind of run.
enum Outcome {
    Messages(report::Report),
    Ingest(ingest::IngestReport),
}
