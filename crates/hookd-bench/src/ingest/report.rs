//! The result of an ingest run, as a table for people and one JSON line for scripts.

use crate::report::Latency;
use serde::Serialize;
use std::collections::BTreeMap;

/// The workload as run; fields mirror the flags of the same names.
#[derive(Debug, Clone, Serialize)]
pub struct IngestParams {
    /// Always `ingest`: tells scripts which report this is.
    pub kind: &'static str,
    /// `spawn` or `target`.
    pub mode: &'static str,
    /// `sqlite` or `postgres` with --spawn; `null` with --target.
    pub database: Option<&'static str>,
    pub nodes: usize,
    /// The ingest source type (`github`, `stripe`, `standard-webhooks`).
    pub provider: &'static str,
    /// Events the run meant to send.
    pub events: u64,
    /// Ingest endpoints of the source (each gets every event).
    pub endpoints: u32,
    pub concurrency: usize,
    pub payload_bytes: usize,
    pub rate: Option<f64>,
    pub duration_s: Option<f64>,
    pub replay_fraction: f64,
}

/// Everything an ingest run reports. Field names are the JSON keys scripts rely on.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    #[serde(flatten)]
    pub params: IngestParams,
    /// Events answered `204` (verified and stored), replays not included.
    pub accepted: u64,
    /// Accepted events per second, from the first send to the last `204`.
    pub accepted_per_s: f64,
    /// From the moment an event was due to its `204`.
    pub ack_latency_ms: Latency,
    /// Every answer other than `204`, by status, retried ones included.
    pub non_204: BTreeMap<String, u64>,
    /// Events finally refused (a 4xx).
    pub refused: u64,
    /// Events never answered before the timeout.
    pub unsent: u64,
    /// Sends retried after no answer, a 5xx or a 429.
    pub send_retries: u64,
    /// Accepted (event, endpoint) pairs forwarded, verified and byte-identical.
    pub forwarded: u64,
    /// Forwarded pairs per second, from the first send to the last forward.
    pub forwarded_per_s: f64,
    /// From the moment an event was due to its first forward, per pair.
    pub forward_latency_ms: Latency,
    /// Accepted pairs never forwarded within the drain deadline.
    pub lost: u64,
    /// Extra forwards of a pair with the same `webhook-id` (at-least-once redeliveries).
    pub duplicates: u64,
    /// Pairs forwarded as another hookd message than the one acknowledged, or twice as
    /// two messages: an event stored twice.
    pub double_stored: u64,
    /// Forwards whose Standard Webhooks signature did not verify.
    pub bad_signatures: u64,
    /// Forwards whose body differed from what was sent.
    pub bad_bodies: u64,
    /// Forwards missing a header they must carry (provider id, provider headers,
    /// source id, content type), or with a wrong value.
    pub bad_headers: u64,
    /// Forwards with a provider event id not of this run.
    pub unknown_forwards: u64,
    /// Forwards of events whose `204` was never read.
    pub unconfirmed_forwards: u64,
    /// Events sent a second time with the same provider id (`--replay-fraction`).
    pub replays: u64,
    /// Replays answered `204` with `x-hookd-duplicate: true` and the first message id.
    pub replays_acknowledged: u64,
    /// Replays answered any other way.
    pub replay_failures: u64,
    /// First sends answered as duplicates.
    pub false_duplicates: u64,
    /// The latest example of each kind of problem.
    pub notes: BTreeMap<&'static str, String>,
    /// Highest peak RSS of any spawned server process, in MiB.
    pub peak_rss_mib: Option<f64>,
    /// CPU seconds used by the spawned server processes and by this bench.
    pub server_cpu_s: Option<f64>,
    pub bench_cpu_s: Option<f64>,
    /// Wall time from the first send to the end of the wait for forwards.
    pub elapsed_s: f64,
    /// The wait for forwards ended at the drain deadline with forwards missing.
    pub timed_out: bool,
}

impl IngestReport {
    /// Whether the run proves what it should: every accepted event forwarded once,
    /// authentic and intact; nothing refused; every replay recognised.
    pub fn passed(&self) -> bool {
        self.accepted > 0
            && self.lost == 0
            && self.double_stored == 0
            && self.bad_signatures == 0
            && self.bad_bodies == 0
            && self.bad_headers == 0
            && self.unknown_forwards == 0
            && self.refused == 0
            && self.replay_failures == 0
            && self.false_duplicates == 0
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let p = &self.params;
        let lat = |l: &Latency| {
            format!(
                "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
                l.p50, l.p90, l.p99, l.max
            )
        };
        let mut rows: Vec<(&str, String)> = vec![
            (
                "mode",
                format!(
                    "ingest, {} ({}, {} node(s))",
                    p.mode,
                    p.database.unwrap_or("external"),
                    p.nodes
                ),
            ),
            (
                "workload",
                format!(
                    "{} {} events, {} ingest endpoint(s), concurrency {}, {} B bodies",
                    p.events, p.provider, p.endpoints, p.concurrency, p.payload_bytes
                ),
            ),
        ];
        if let (Some(rate), Some(d)) = (p.rate, p.duration_s) {
            rows.push(("pace", format!("{rate} events/s for {d} s")));
        }
        rows.extend([
            (
                "accepted (204)",
                format!("{} ({:.0}/s)", self.accepted, self.accepted_per_s),
            ),
            ("ack latency ms", lat(&self.ack_latency_ms)),
            (
                "forwarded",
                format!("{} pairs ({:.0}/s)", self.forwarded, self.forwarded_per_s),
            ),
            ("forward latency ms", lat(&self.forward_latency_ms)),
            ("lost", self.lost.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("double stored", self.double_stored.to_string()),
            ("bad signatures", self.bad_signatures.to_string()),
        ]);
        if !self.non_204.is_empty() {
            let by_status: Vec<String> = self
                .non_204
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            rows.push(("non-204 answers", by_status.join(", ")));
        }
        let optional = [
            ("refused", self.refused),
            ("bad bodies", self.bad_bodies),
            ("bad headers", self.bad_headers),
            ("unknown forwards", self.unknown_forwards),
            ("unconfirmed forwards", self.unconfirmed_forwards),
            ("false duplicates", self.false_duplicates),
        ];
        rows.extend(
            optional
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k, n.to_string())),
        );
        if self.replays > 0 {
            rows.push((
                "replays",
                format!(
                    "{} sent, {} acknowledged as duplicates, {} wrong",
                    self.replays, self.replays_acknowledged, self.replay_failures
                ),
            ));
        }
        if self.unsent > 0 || self.send_retries > 0 {
            rows.push((
                "unsent / retries",
                format!("{} / {}", self.unsent, self.send_retries),
            ));
        }
        for (fault, detail) in &self.notes {
            rows.push(("last problem", format!("{fault}: {detail}")));
        }
        if let Some(rss) = self.peak_rss_mib {
            rows.push(("server peak RSS", format!("{rss:.1} MiB")));
        }
        let cpu = |c: Option<f64>| c.map_or("-".to_owned(), |c| format!("{c:.1} s"));
        rows.push((
            "CPU server / bench",
            format!("{} / {}", cpu(self.server_cpu_s), cpu(self.bench_cpu_s)),
        ));
        rows.push((
            "elapsed",
            format!(
                "{:.2} s{}",
                self.elapsed_s,
                if self.timed_out {
                    " (drain timed out)"
                } else {
                    ""
                }
            ),
        ));
        rows.push((
            "result",
            if self.passed() { "PASS" } else { "FAIL" }.to_owned(),
        ));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}
