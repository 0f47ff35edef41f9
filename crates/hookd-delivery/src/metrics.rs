//! The delivery engine's metrics: what became of each attempt, how long attempts and whole
//! deliveries took, exhausted retries, disabled endpoints, lease takeovers, and the work
//! this node holds in memory. [`Engine::encode_metrics`](crate::Engine::encode_metrics)
//! writes them out.

use hookd_core::metrics::{Counter, Exposition, Histogram, Kind, LATENCY_SECONDS, SECONDS};
use std::time::Duration;

/// What became of one delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx answer.
    Success,
    /// An answer that was not 2xx.
    HttpError,
    /// No answer: the connection failed (refused, reset, TLS, DNS, ...).
    TransportError,
    /// No request: the address is not allowed (SSRF protection).
    SsrfRefused,
    /// No answer within the request timeout.
    Timeout,
    /// Settled without a request: the endpoint was deleted or disabled, the payload
    /// expunged, or the stored forwarding metadata unreadable.
    NotSent,
}

impl Outcome {
    /// Every outcome, in declaration order (so `outcome as usize` is its index here).
    const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::HttpError,
        Outcome::TransportError,
        Outcome::SsrfRefused,
        Outcome::Timeout,
        Outcome::NotSent,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::HttpError => "http_error",
            Outcome::TransportError => "transport_error",
            Outcome::SsrfRefused => "ssrf_refused",
            Outcome::Timeout => "timeout",
            Outcome::NotSent => "not_sent",
        }
    }
}

/// Why an endpoint was disabled by the engine.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Disabled {
    /// It answered `410 Gone`.
    Gone,
    /// Every attempt failed for the auto-disable period.
    Failing,
}

/// The engine's counters. One per engine.
#[derive(Debug)]
pub(crate) struct DeliveryMetrics {
    outcomes: [Counter; Outcome::ALL.len()],
    attempt_duration: Histogram,
    delivery_latency: Histogram,
    retries_exhausted: Counter,
    disabled_gone: Counter,
    disabled_failing: Counter,
    takeovers: Counter,
    claimed: Counter,
}

impl Default for DeliveryMetrics {
    fn default() -> Self {
        DeliveryMetrics {
            outcomes: Default::default(),
            attempt_duration: Histogram::seconds(SECONDS),
            delivery_latency: Histogram::seconds(LATENCY_SECONDS),
            retries_exhausted: Counter::new(),
            disabled_gone: Counter::new(),
            disabled_failing: Counter::new(),
            takeovers: Counter::new(),
            claimed: Counter::new(),
        }
    }
}

/// In-memory gauges the engine reads at the moment of writing out.
pub(crate) struct Live {
    /// Requests being sent now.
    pub in_flight: usize,
    /// Deliveries held in memory (queued in lanes or being sent).
    pub held: usize,
}

impl DeliveryMetrics {
    /// One attempt ended so; a request that was made took `took`.
    pub(crate) fn attempted(&self, outcome: Outcome, took: Option<Duration>) {
        self.outcomes[outcome as usize].inc();
        if let Some(took) = took {
            self.attempt_duration.observe_duration(took);
        }
    }

    /// A delivery succeeded `since_accepted` after its message was accepted.
    pub(crate) fn delivered(&self, since_accepted: Duration) {
        self.delivery_latency.observe_duration(since_accepted);
    }

    /// A delivery failed for good (its retries ran out, or the endpoint answered 410).
    pub(crate) fn exhausted(&self) {
        self.retries_exhausted.inc();
    }

    pub(crate) fn disabled(&self, why: Disabled) {
        match why {
            Disabled::Gone => self.disabled_gone.inc(),
            Disabled::Failing => self.disabled_failing.inc(),
        }
    }

    /// A claim took `n` deliveries, `taken_over` of them from a node whose lease ran out.
    pub(crate) fn claimed(&self, n: usize, taken_over: usize) {
        self.claimed.add(n as u64);
        self.takeovers.add(taken_over as u64);
    }

    pub(crate) fn encode(&self, out: &mut Exposition, live: Live) {
        out.family(
            "hookd_deliveries_total",
            "Delivery attempts by outcome.",
            Kind::Counter,
        );
        for (outcome, count) in Outcome::ALL.iter().zip(&self.outcomes) {
            out.sample(
                "hookd_deliveries_total",
                &[("outcome", outcome.label())],
                count.get() as f64,
            );
        }
        out.histogram(
            "hookd_attempt_duration_seconds",
            "How long delivery requests took, from sending to the answer (or the error).",
            &self.attempt_duration,
        );
        out.histogram(
            "hookd_delivery_latency_seconds",
            "From a message's acceptance to its successful delivery, retries included.",
            &self.delivery_latency,
        );
        out.counter(
            "hookd_retries_exhausted_total",
            "Deliveries that failed for good: no retry follows (410 Gone included).",
            self.retries_exhausted.get(),
        );
        out.family(
            "hookd_endpoints_disabled_total",
            "Endpoints this node disabled, by reason.",
            Kind::Counter,
        );
        out.sample(
            "hookd_endpoints_disabled_total",
            &[("reason", "gone")],
            self.disabled_gone.get() as f64,
        );
        out.sample(
            "hookd_endpoints_disabled_total",
            &[("reason", "failing")],
            self.disabled_failing.get() as f64,
        );
        out.counter(
            "hookd_claimed_total",
            "Deliveries this node claimed from the queue (retries, left-over and resumed work).",
            self.claimed.get(),
        );
        out.counter(
            "hookd_lease_takeovers_total",
            "Claimed deliveries whose lease belonged to another node and had run out.",
            self.takeovers.get(),
        );
        out.gauge(
            "hookd_node_in_flight",
            "Delivery requests this node is sending now.",
            live.in_flight as f64,
        );
        out.gauge(
            "hookd_node_held",
            "Deliveries this node holds in memory (queued per endpoint or being sent).",
            live.held as f64,
        );
    }
}
