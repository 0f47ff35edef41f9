//! The result of a run: computed once from the ledger and the clocks, printed as a table
//! for people and as one JSON line for scripts.

use serde::Serialize;

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Percentiles of `sorted_us` (microseconds, ascending); zeros when empty.
    pub fn from_sorted_us(sorted_us: &[u64]) -> Self {
        let ms = |p| percentile(sorted_us, p) as f64 / 1000.0;
        Self {
            p50: ms(50.0),
            p90: ms(90.0),
            p99: ms(99.0),
            max: ms(100.0),
        }
    }
}

/// Nearest-rank percentile `p` (0 to 100) of an ascending slice; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The workload as run; fields mirror the flags of the same names.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// `spawn` or `target`.
    pub mode: &'static str,
    /// `sqlite` or `postgres` with --spawn; `null` with --target.
    pub database: Option<&'static str>,
    pub nodes: usize,
    /// Messages the run meant to send.
    pub messages: u64,
    pub endpoints: u32,
    pub fanout: u32,
    pub concurrency: usize,
    pub payload_bytes: usize,
    pub rate: Option<f64>,
    pub duration_s: Option<f64>,
    pub slow_endpoints: u32,
    pub slow_ms: u64,
    pub fail_rate: f64,
    pub backlog: bool,
    pub crash: u32,
}

/// Everything a run reports. Field names are the JSON keys scripts rely on.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub params: Params,
    /// Messages answered with 202.
    pub accepted: u64,
    /// Accepted (message, endpoint) pairs that arrived.
    pub delivered: u64,
    /// Accepted messages per second, from the first send to the last 202.
    pub accepted_per_s: f64,
    /// Delivered pairs per second, from the first send to the last arrival.
    pub delivered_per_s: f64,
    /// From the start of the send to the first successful arrival, per pair.
    pub latency_ms: Latency,
    /// With --slow-endpoints: the latency of the other endpoints only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_others_ms: Option<Latency>,
    /// Accepted pairs that never arrived.
    pub lost: u64,
    /// Extra arrivals of a pair that had already arrived.
    pub duplicates: u64,
    /// Requests whose signature did not verify.
    pub bad_signatures: u64,
    /// Arrivals at an endpoint the message was not routed to.
    pub misrouted: u64,
    /// Pairs that arrived for messages whose 202 never came back (e.g. cut off by a crash).
    pub unconfirmed_arrivals: u64,
    /// Messages never accepted before the timeout.
    pub unsent: u64,
    /// Sends retried after no answer, a 5xx or a 429.
    pub send_retries: u64,
    /// `kill -9`s actually done.
    pub crashes_done: u32,
    /// Highest peak RSS of any spawned server process, in MiB.
    pub peak_rss_mib: Option<f64>,
    /// CPU seconds used by the spawned server processes and by this bench.
    pub server_cpu_s: Option<f64>,
    pub bench_cpu_s: Option<f64>,
    /// Wall time from the first send to the end of the wait for deliveries.
    pub elapsed_s: f64,
    /// The run stopped at --timeout with deliveries missing.
    pub timed_out: bool,
    /// With --recover: the recovery that ran under the workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<crate::recover::RecoveryReport>,
}

impl Report {
    /// Whether the run proves what it should: nothing lost, nothing forged or misrouted.
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.bad_signatures == 0 && self.misrouted == 0
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let p = &self.params;
        let mut rows: Vec<(&str, String)> = vec![
            (
                "mode",
                format!(
                    "{} ({}, {} node(s))",
                    p.mode,
                    p.database.unwrap_or("external"),
                    p.nodes
                ),
            ),
            (
                "workload",
                format!(
                    "{} msgs, {} endpoints, fanout {}, concurrency {}, {} B payload",
                    p.messages, p.endpoints, p.fanout, p.concurrency, p.payload_bytes
                ),
            ),
        ];
        if let (Some(rate), Some(d)) = (p.rate, p.duration_s) {
            rows.push(("pace", format!("{rate} msg/s for {d} s")));
        }
        let mut extras = Vec::new();
        if p.slow_endpoints > 0 {
            extras.push(format!(
                "{} slow endpoints ({} ms)",
                p.slow_endpoints, p.slow_ms
            ));
        }
        if p.fail_rate > 0.0 {
            extras.push(format!("fail rate {}", p.fail_rate));
        }
        if p.backlog {
            extras.push("backlog".to_owned());
        }
        if p.crash > 0 {
            extras.push(format!("crash {} (done {})", p.crash, self.crashes_done));
        }
        if let Some(r) = &self.recovery {
            extras.push(format!("recover {}", r.messages));
        }
        if !extras.is_empty() {
            rows.push(("options", extras.join(", ")));
        }
        let l = &self.latency_ms;
        rows.extend([
            (
                "accepted",
                format!("{} ({:.0}/s)", self.accepted, self.accepted_per_s),
            ),
            (
                "delivered",
                format!("{} pairs ({:.0}/s)", self.delivered, self.delivered_per_s),
            ),
            (
                "latency ms",
                format!(
                    "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
                    l.p50, l.p90, l.p99, l.max
                ),
            ),
        ]);
        if let Some(l) = &self.latency_others_ms {
            rows.push((
                "latency ms, others",
                format!(
                    "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
                    l.p50, l.p90, l.p99, l.max
                ),
            ));
        }
        if let Some(r) = &self.recovery {
            rows.push((
                "recovery",
                format!(
                    "{} of {} re-sent, task {:.2} s, delivered {} in {:.2} s ({:.0}/s), {}",
                    r.messages_sent,
                    r.messages,
                    r.task_s,
                    r.delivered,
                    r.delivered_s,
                    r.delivered as f64 / r.delivered_s.max(1e-9),
                    if r.overlapped_workload {
                        "outlasted the workload"
                    } else {
                        "done before the workload's end"
                    }
                ),
            ));
        }
        rows.extend([
            ("lost", self.lost.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("bad signatures", self.bad_signatures.to_string()),
        ]);
        if self.misrouted > 0 {
            rows.push(("misrouted", self.misrouted.to_string()));
        }
        if self.unconfirmed_arrivals > 0 {
            rows.push((
                "unconfirmed arrivals",
                self.unconfirmed_arrivals.to_string(),
            ));
        }
        if self.unsent > 0 || self.send_retries > 0 {
            rows.push((
                "unsent / retries",
                format!("{} / {}", self.unsent, self.send_retries),
            ));
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
                if self.timed_out { " (timed out)" } else { "" }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 90.0), 90);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn latency_converts_microseconds_to_milliseconds() {
        let l = Latency::from_sorted_us(&[1_000, 2_000, 3_000, 40_000]);
        assert_eq!(
            l,
            Latency {
                p50: 2.0,
                p90: 40.0,
                p99: 40.0,
                max: 40.0
            }
        );
    }
}
