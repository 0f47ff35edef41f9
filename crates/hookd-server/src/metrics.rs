//! `/metrics`: the Prometheus text exposition of everything hookd counts.
//!
//! Who counts what:
//! - this module's [`ServerMetrics`]: API requests (by route template, method and status
//!   class, with a latency histogram), messages accepted, ingest requests (by provider:
//!   received, refused by code, de-duplicated), the cleaner's deletions, and the process
//!   (RSS, open files, CPU) read from `/proc` when scraped;
//! - the delivery engine (`Engine::encode_metrics`): attempt outcomes and durations,
//!   acceptance-to-delivery latency, exhausted retries, disabled endpoints, claims and
//!   lease takeovers, what the node holds in memory;
//! - the store (`Store::metrics`): the connection pool and the group commits;
//! - the queue as the database has it (`QueueStore::queue_stats`): depth by state, the age
//!   of the oldest due delivery and of the oldest undelivered message, overall and for the
//!   `metrics_top_endpoints` worst endpoints. That read scans the pending rows, so it is
//!   made at most once per `metrics_queue_interval` and reused in between.
//!
//! Every label comes from a closed set (route templates of the router, HTTP methods, five
//! status classes, provider names, rejection codes), so the size of the page does not grow
//! with the number of applications, endpoints or messages; the only per-endpoint series
//! are the top-N ages.

use crate::api::ApiState;
use hookd_core::metrics::{Counter, Exposition, Histogram, Kind, SECONDS};
use hookd_core::Timestamp;
use hookd_store::QueueStats;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The methods with a label of their own; any other is `other`.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "other"];

/// `1xx` … `5xx`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// What the server itself counts. One per server, shared by the API and the cleaner.
pub struct ServerMetrics {
    /// Per route template: per method, requests by status class and their durations.
    routes: RwLock<HashMap<Box<str>, Arc<RouteStats>>>,
    messages_accepted: Counter,
    /// Per provider (the source type): received, duplicate; refused per code.
    ingest: Mutex<BTreeMap<String, IngestCounts>>,
    cleaner: [Counter; 4],
    /// The last read of the queue, and when it was made.
    queue: tokio::sync::Mutex<Option<(Instant, Result<QueueStats, String>)>>,
    queue_interval: Duration,
    top_endpoints: usize,
    started: Timestamp,
}

#[derive(Default)]
struct RouteStats {
    methods: [MethodStats; METHODS.len()],
}

struct MethodStats {
    classes: [Counter; CLASSES.len()],
    duration: Histogram,
}

impl Default for MethodStats {
    fn default() -> Self {
        MethodStats {
            classes: Default::default(),
            duration: Histogram::seconds(SECONDS),
        }
    }
}

#[derive(Default)]
struct IngestCounts {
    received: u64,
    duplicates: u64,
    refused: BTreeMap<&'static str, u64>,
}

/// What the cleaner deletes, in the order of `ServerMetrics::cleaner`.
const CLEANED: [&str; 4] = ["payloads", "attempts", "idempotency_keys", "ingest_records"];

impl ServerMetrics {
    pub fn new(queue_interval: Duration, top_endpoints: usize) -> ServerMetrics {
        ServerMetrics {
            routes: RwLock::default(),
            messages_accepted: Counter::new(),
            ingest: Mutex::default(),
            cleaner: Default::default(),
            queue: tokio::sync::Mutex::new(None),
            queue_interval,
            top_endpoints,
            started: Timestamp::now(),
        }
    }

    /// One API request answered `status` after `took`; `route` is its route template.
    pub fn request(&self, method: &http::Method, route: &str, status: u16, took: Duration) {
        let stats = self.route(route);
        let m = METHODS
            .iter()
            .position(|m| *m == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        let class = usize::from(status / 100)
            .saturating_sub(1)
            .min(CLASSES.len() - 1);
        let method = &stats.methods[m];
        method.classes[class].inc();
        method.duration.observe_duration(took);
    }

    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Some(stats) = read(&self.routes).get(route) {
            return stats.clone();
        }
        write(&self.routes).entry(route.into()).or_default().clone()
    }

    /// A message was accepted through the API.
    pub fn message_accepted(&self) {
        self.messages_accepted.inc();
    }

    /// An ingest request for a source of `provider` was stored (`duplicate`: it repeated
    /// an event already received, and was acknowledged without a new message).
    pub fn ingest_received(&self, provider: &str, duplicate: bool) {
        self.ingest_counts(provider, |c| {
            c.received += 1;
            if duplicate {
                c.duplicates += 1;
            }
        });
    }

    /// An ingest request for a source of `provider` was refused with `code`.
    pub fn ingest_refused(&self, provider: &str, code: &'static str) {
        self.ingest_counts(provider, |c| *c.refused.entry(code).or_default() += 1);
    }

    fn ingest_counts(&self, provider: &str, f: impl FnOnce(&mut IngestCounts)) {
        let mut ingest = self.ingest.lock().unwrap_or_else(|p| p.into_inner());
        match ingest.get_mut(provider) {
            Some(counts) => f(counts),
            None => f(ingest.entry(provider.to_owned()).or_default()),
        }
    }

    /// One pass of the cleaner removed these.
    pub fn cleaned(&self, removed: &crate::cleaner::Removed) {
        let counts = [
            removed.payloads,
            removed.attempts,
            removed.idempotency_keys,
            removed.ingest_records,
        ];
        for (counter, n) in self.cleaner.iter().zip(counts) {
            counter.add(n);
        }
    }

    /// The whole page: this module's counters, the engine's, the store's, the queue's and
    /// the process's.
    pub async fn render(&self, state: &ApiState) -> String {
        let mut out = Exposition::new();
        self.encode_requests(&mut out);
        out.counter(
            "hookd_messages_accepted_total",
            "Messages accepted through the API (202 answered).",
            self.messages_accepted.get(),
        );
        self.encode_ingest(&mut out);
        out.family(
            "hookd_cleaner_deleted_total",
            "Rows the retention cleaner deleted, by kind.",
            Kind::Counter,
        );
        for (kind, counter) in CLEANED.iter().zip(&self.cleaner) {
            out.sample(
                "hookd_cleaner_deleted_total",
                &[("kind", kind)],
                counter.get() as f64,
            );
        }
        state.engine.encode_metrics(&mut out);
        state.watchdog.encode(&mut out);
        state.tracer.encode_metrics(&mut out);
        state.store.metrics().encode(&mut out);
        self.encode_queue(&mut out, state).await;
        encode_process(&mut out, self.started);
        out.finish()
    }

    fn encode_requests(&self, out: &mut Exposition) {
        let routes = read(&self.routes);
        let mut names: Vec<&str> = routes.keys().map(|k| &**k).collect();
        names.sort_unstable();
        out.family(
            "hookd_http_requests_total",
            "API requests answered, by route template, method and status class.",
            Kind::Counter,
        );
        for route in &names {
            for (method, stats) in METHODS.iter().zip(&routes[*route].methods) {
                for (class, count) in CLASSES.iter().zip(&stats.classes) {
                    let n = count.get();
                    if n > 0 {
                        out.sample(
                            "hookd_http_requests_total",
                            &[("route", route), ("method", method), ("status", class)],
                            n as f64,
                        );
                    }
                }
            }
        }
        out.family(
            "hookd_http_request_duration_seconds",
            "How long API requests took to answer, by route template and method.",
            Kind::Histogram,
        );
        for route in &names {
            for (method, stats) in METHODS.iter().zip(&routes[*route].methods) {
                if stats.duration.count() > 0 {
                    out.histogram_series(
                        "hookd_http_request_duration_seconds",
                        &[("route", route), ("method", method)],
                        &stats.duration,
                    );
                }
            }
        }
    }

    fn encode_ingest(&self, out: &mut Exposition) {
        let ingest = self.ingest.lock().unwrap_or_else(|p| p.into_inner());
        out.family(
            "hookd_ingest_received_total",
            "Ingest requests verified and stored, by provider (duplicates included).",
            Kind::Counter,
        );
        for (provider, c) in ingest.iter() {
            out.sample(
                "hookd_ingest_received_total",
                &[("provider", provider)],
                c.received as f64,
            );
        }
        out.family(
            "hookd_ingest_duplicates_total",
            "Ingest requests that repeated an event already received (acknowledged, not \
             forwarded again), by provider.",
            Kind::Counter,
        );
        for (provider, c) in ingest.iter() {
            out.sample(
                "hookd_ingest_duplicates_total",
                &[("provider", provider)],
                c.duplicates as f64,
            );
        }
        out.family(
            "hookd_ingest_refused_total",
            "Ingest requests refused, by provider and rejection code.",
            Kind::Counter,
        );
        for (provider, c) in ingest.iter() {
            for (code, n) in &c.refused {
                out.sample(
                    "hookd_ingest_refused_total",
                    &[("provider", provider), ("code", code)],
                    *n as f64,
                );
            }
        }
    }

    /// The queue's gauges, from a read at most `queue_interval` old.
    async fn encode_queue(&self, out: &mut Exposition, state: &ApiState) {
        let mut last = self.queue.lock().await;
        let fresh = last
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.queue_interval);
        if !fresh {
            let read = state
                .store
                .queue_stats(Timestamp::now(), self.top_endpoints)
                .await
                .map_err(|e| e.to_string());
            if let Err(e) = &read {
                tracing::warn!(error = %e, "reading the queue for /metrics failed");
            }
            *last = Some((Instant::now(), read));
        }
        let Some((_, read)) = last.as_ref() else {
            return;
        };
        out.gauge(
            "hookd_queue_read_ok",
            "1 if the last read of the queue for these metrics succeeded, else 0 (the queue \
             gauges are then missing).",
            if read.is_ok() { 1.0 } else { 0.0 },
        );
        let Ok(stats) = read else {
            return;
        };
        // Ages as of now from the read's timestamps: they keep growing between reads.
        let now = Timestamp::now().as_millis();
        let age = |at: Option<Timestamp>| {
            at.map_or(0.0, |at| ((now - at.as_millis()).max(0) as f64) / 1000.0)
        };
        out.family(
            "hookd_queue_deliveries",
            "Pending deliveries by state (all nodes): due (waiting for a sender), scheduled \
             (waiting for a retry time), in_flight (leased by a node), flow_controlled (paced \
             by the endpoint's owner).",
            Kind::Gauge,
        );
        for (state, n) in [
            ("due", stats.due),
            ("scheduled", stats.scheduled),
            ("in_flight", stats.in_flight),
            ("flow_controlled", stats.flow_controlled),
        ] {
            out.sample("hookd_queue_deliveries", &[("state", state)], n as f64);
        }
        out.gauge(
            "hookd_queue_oldest_due_age_seconds",
            "How long the oldest due delivery has been due: how far behind the senders are \
             (0 when nothing is due).",
            age(stats.oldest_due_at),
        );
        out.gauge(
            "hookd_queue_oldest_undelivered_age_seconds",
            "Age of the oldest message with an undelivered delivery (0 when none).",
            age(stats.oldest_accepted_at),
        );
        out.family(
            "hookd_endpoint_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered message of the endpoints furthest behind (at most \
             metrics_top_endpoints of them).",
            Kind::Gauge,
        );
        for e in &stats.worst {
            out.sample(
                "hookd_endpoint_oldest_undelivered_age_seconds",
                &[
                    ("app_id", e.app_id.as_str()),
                    ("endpoint_id", e.endpoint_id.as_str()),
                ],
                age(Some(e.oldest_accepted_at)),
            );
        }
        out.gauge(
            "hookd_endpoints_disabled",
            "Endpoints that are disabled now (410 Gone, auto-disable or by a user).",
            stats.disabled_endpoints as f64,
        );
        type Held = fn(&hookd_store::NodeLeases) -> u64;
        let per_node: [(&str, &str, Held); 2] = [
            (
                "hookd_node_leased_deliveries",
                "Pending deliveries each node holds under a live lease (every node of the \
                 database).",
                |n| n.deliveries,
            ),
            (
                "hookd_node_flow_endpoints",
                "Flow-controlled endpoints each node paces under a live lease.",
                |n| n.flow_endpoints,
            ),
        ];
        for (name, help, held) in per_node {
            out.family(name, help, Kind::Gauge);
            for n in &stats.nodes {
                out.sample(name, &[("node", n.node.as_str())], held(n) as f64);
            }
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// The process's resident memory, open files and CPU time, from `/proc/self` (absent
/// where there is no `/proc`).
fn encode_process(out: &mut Exposition, started: Timestamp) {
    out.gauge(
        "process_start_time_seconds",
        "When the process started, in seconds since the Unix epoch.",
        started.as_millis() as f64 / 1000.0,
    );
    if let Some(kib) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_field(&s, "VmRSS:"))
    {
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory of the process.",
            (kib * 1024) as f64,
        );
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        out.gauge(
            "process_open_fds",
            "Open file descriptors (sockets included).",
            dir.count() as f64,
        );
    }
    if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        out.gauge("process_max_fds", "The open-file limit.", soft as f64);
    }
    if let Some(ticks) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| cpu_ticks(&s))
    {
        // Linux reports these in USER_HZ, which is 100 on every architecture it runs on.
        out.family(
            "process_cpu_seconds_total",
            "CPU time the process used, user and system.",
            Kind::Counter,
        );
        out.sample("process_cpu_seconds_total", &[], ticks as f64 / 100.0);
    }
}

/// The number (in kB) after `name` in `/proc/self/status`.
fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `utime + stime` from `/proc/self/stat` (fields 14 and 15, counted after the command
/// name, which may hold spaces and ends at the last `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state), so field N is at index N - 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        let stat = "4242 (hookd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(
            status_field("Name:\thookd\nVmRSS:\t  5120 kB\n", "VmRSS:"),
            Some(5120)
        );
    }

    #[test]
    fn request_labels_come_from_closed_sets() {
        let m = ServerMetrics::new(Duration::from_secs(5), 10);
        let weird = http::Method::from_bytes(b"BREW").unwrap();
        m.request(&weird, "/api/v1/app", 999, Duration::from_millis(3));
        m.request(
            &http::Method::GET,
            "/api/v1/app",
            200,
            Duration::from_millis(3),
        );
        let mut out = Exposition::new();
        m.encode_requests(&mut out);
        let text = out.finish();
        assert!(text.contains(
            "hookd_http_requests_total{route=\"/api/v1/app\",method=\"other\",status=\"5xx\"} 1"
        ), "{text}");
        assert!(
            text.contains(
                "hookd_http_requests_total{route=\"/api/v1/app\",method=\"GET\",status=\"2xx\"} 1"
            ),
            "{text}"
        );
    }
}
