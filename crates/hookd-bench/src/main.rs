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
//!
//! Exit status: 0 when nothing was lost, forged or misrouted; 1 when something was; 2 when
//! the run itself could not be done (bad flags, server did not start, API refused).

mod api;
mod cli;
mod crash;
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
    let report = match runtime.block_on(run::run(&plan)) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("hookd-bench: {err:#}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.table());
    if plan.json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(err) => {
                eprintln!("hookd-bench: writing the JSON report: {err}");
                return ExitCode::from(2);
            }
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
