//! Metrics: counters, gauges and histograms kept in atomics, and the Prometheus text format
//! they are read out in.
//!
//! Each part of hookd owns the metrics it moves (the delivery engine its outcomes, the
//! store its commits, the API its requests) as plain struct fields, and writes them into an
//! [`Exposition`] when `/metrics` is read. Nothing is global: two servers in one process
//! (as in the tests) never share a count.
//!
//! Labels come from closed sets (an enum, the router's route templates, a provider name),
//! never from data a client chooses, so the number of series is bounded by the code. The
//! few per-endpoint series (the worst N endpoints by queue age) are bounded by N.
//!
//! Recording is an atomic add or two, with no lock and no allocation: cheap enough for
//! every request and every attempt.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A count that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub const fn new() -> Gauge {
        Gauge(AtomicI64::new(0))
    }

    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    pub fn add(&self, v: i64) {
        self.0.fetch_add(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Bucket bounds for durations, in seconds: 1 ms to 1 min.
pub const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Bucket bounds for the time from acceptance to delivery, in seconds: 5 ms to a day
/// (a delivery that lands after retries is hours late, not milliseconds).
pub const LATENCY_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
    3600.0, 21600.0, 86400.0,
];

/// Bucket bounds for sizes counted in items (a group commit's jobs).
pub const SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Observations counted into fixed buckets, Prometheus-style (cumulative when read out).
///
/// Values are recorded in whole base units (nanoseconds for durations, items for sizes)
/// and read out divided by `scale`, so the sum stays an exact integer.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Upper bounds in base units, for the hot path's comparisons.
    limits: Box<[u64]>,
    /// One per bound, plus `+Inf`; not cumulative (summed when read out).
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    count: AtomicU64,
    scale: f64,
}

impl Histogram {
    /// A histogram of durations, read out in seconds.
    pub fn seconds(bounds: &'static [f64]) -> Histogram {
        Histogram::new(bounds, 1e9)
    }

    /// A histogram of item counts.
    pub fn sizes(bounds: &'static [f64]) -> Histogram {
        Histogram::new(bounds, 1.0)
    }

    fn new(bounds: &'static [f64], scale: f64) -> Histogram {
        Histogram {
            bounds,
            limits: bounds.iter().map(|b| (b * scale).round() as u64).collect(),
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
            scale,
        }
    }

    /// Records one value in base units.
    pub fn observe(&self, value: u64) {
        let i = self.limits.partition_point(|&limit| limit < value);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a duration (a histogram made with [`Histogram::seconds`]).
    pub fn observe_duration(&self, d: Duration) {
        self.observe(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The sum of the recorded values, in read-out units.
    pub fn sum(&self) -> f64 {
        self.sum.load(Ordering::Relaxed) as f64 / self.scale
    }
}

/// What a metric family is, for its `# TYPE` line.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The Prometheus text exposition format (version 0.0.4), written family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. Its samples follow.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        self.labels(labels, None);
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A family with a single unlabelled counter.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, help, Kind::Counter);
        self.sample(name, &[], value as f64);
    }

    /// A family with a single unlabelled gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, help, Kind::Gauge);
        self.sample(name, &[], value);
    }

    /// A family with a single unlabelled histogram.
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.family(name, help, Kind::Histogram);
        self.histogram_series(name, &[], h);
    }

    /// One labelled series of the current histogram family: its buckets, sum and count.
    pub fn histogram_series(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        // Read the buckets first: a value recorded meanwhile may then be in the count but
        // not the buckets, never the other way round, so `+Inf` stays >= every bucket.
        let mut cumulative = 0u64;
        let mut line = String::new();
        for (i, bucket) in h.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            line.clear();
            match h.bounds.get(i) {
                Some(bound) => push_value(&mut line, *bound),
                None => line.push_str("+Inf"),
            }
            self.out.push_str(name);
            self.out.push_str("_bucket");
            self.labels(labels, Some(&line));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let count = h.count().max(cumulative);
        self.out.push_str(name);
        self.out.push_str("_sum");
        self.labels(labels, None);
        self.out.push(' ');
        push_value(&mut self.out, h.sum());
        self.out.push('\n');
        self.out.push_str(name);
        self.out.push_str("_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {count}");
    }

    /// The text, ready to serve.
    pub fn finish(self) -> String {
        self.out
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        for (k, v) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_label(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('}');
    }
}

fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Label values escape `\`, `"` and line feeds.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text escapes `\` and line feeds.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_reads_out_cumulative_buckets_sum_and_count() {
        let h = Histogram::seconds(&[0.01, 0.1, 1.0]);
        h.observe_duration(Duration::from_millis(5));
        h.observe_duration(Duration::from_millis(10)); // on the bound: in `le="0.01"`
        h.observe_duration(Duration::from_millis(50));
        h.observe_duration(Duration::from_secs(3));
        let mut out = Exposition::new();
        out.histogram("t_seconds", "A test.", &h);
        let text = out.finish();
        assert!(text.contains("# TYPE t_seconds histogram\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.01\"} 2\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.1\"} 3\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"1\"} 3\n"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("t_seconds_sum 3.065\n"), "{text}");
        assert!(text.contains("t_seconds_count 4\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::new();
        out.family("x_total", "Line one\nline two.", Kind::Counter);
        out.sample("x_total", &[("route", "a\"b\\c\nd"), ("k", "v")], 3.0);
        let text = out.finish();
        assert!(
            text.contains("# HELP x_total Line one\\nline two.\n"),
            "{text}"
        );
        assert!(
            text.contains("x_total{route=\"a\\\"b\\\\c\\nd\",k=\"v\"} 3\n"),
            "{text}"
        );
    }

    #[test]
    fn counters_and_gauges_move() {
        let (c, g) = (Counter::new(), Gauge::new());
        c.inc();
        c.add(4);
        g.set(10);
        g.add(-3);
        assert_eq!((c.get(), g.get()), (5, 7));
        let sizes = Histogram::sizes(SIZES);
        sizes.observe(3);
        sizes.observe(600);
        assert_eq!((sizes.count(), sizes.sum()), (2, 603.0));
    }
}
