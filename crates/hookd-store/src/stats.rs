//! [`QueueStats`]: the delivery queue at a moment, as `/metrics` and the watchdog read it.
//! Both backends select one [`EndpointQueue`] per endpoint with pending work; the totals
//! and the worst endpoints are computed here, once for both.

use hookd_core::ids::{AppId, EndpointId};
use hookd_core::Timestamp;

/// The pending deliveries of one endpoint, by state.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointQueue {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    /// Due now and held by no live lease (not flow-controlled).
    pub due: u64,
    /// Waiting for their next attempt's time (a retry, or a throttle).
    pub scheduled: u64,
    /// Leased by a node: being sent, or about to be.
    pub in_flight: u64,
    /// Of a flow-controlled endpoint (throttle, concurrency cap, FIFO): its owner paces them.
    pub flow_controlled: u64,
    /// When the earliest of `due` became due.
    pub oldest_due_at: Option<Timestamp>,
    /// When the oldest pending delivery's message was accepted.
    pub oldest_accepted_at: Timestamp,
}

/// The whole queue (every node's share, as the database has it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueStats {
    pub due: u64,
    pub scheduled: u64,
    pub in_flight: u64,
    pub flow_controlled: u64,
    /// When the earliest due delivery became due: how far behind the senders are.
    pub oldest_due_at: Option<Timestamp>,
    /// When the oldest undelivered message was accepted: how far behind the receivers are.
    pub oldest_accepted_at: Option<Timestamp>,
    /// The endpoints with the oldest undelivered messages, oldest first, at most the number
    /// asked for.
    pub worst: Vec<EndpointQueue>,
    /// Endpoints that are disabled (by a `410 Gone`, auto-disable or a user).
    pub disabled_endpoints: u64,
    /// The nodes holding live leases, by name.
    pub nodes: Vec<NodeLeases>,
}

/// A database as `hookd status` reads it, without changing it: its schema, and the queue
/// (when the schema is the one this build reads).
#[derive(Clone, Debug, PartialEq)]
pub struct Inspection {
    pub schema: crate::SchemaVersion,
    pub queue: Option<QueueStats>,
}

/// What one node holds under a live lease.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeLeases {
    /// The node's name (its lease owner).
    pub node: String,
    /// Pending deliveries it has claimed.
    pub deliveries: u64,
    /// Flow-controlled endpoints it paces.
    pub flow_endpoints: u64,
}

impl QueueStats {
    /// Totals of `endpoints`, keeping the `worst` with the oldest undelivered message.
    pub(crate) fn from_endpoints(
        mut endpoints: Vec<EndpointQueue>,
        worst: usize,
        disabled_endpoints: u64,
        nodes: Vec<NodeLeases>,
    ) -> QueueStats {
        let mut stats = QueueStats {
            disabled_endpoints,
            nodes,
            ..QueueStats::default()
        };
        for e in &endpoints {
            stats.due += e.due;
            stats.scheduled += e.scheduled;
            stats.in_flight += e.in_flight;
            stats.flow_controlled += e.flow_controlled;
            stats.oldest_due_at = earliest(stats.oldest_due_at, e.oldest_due_at);
            stats.oldest_accepted_at =
                earliest(stats.oldest_accepted_at, Some(e.oldest_accepted_at));
        }
        endpoints.sort_by(|a, b| {
            (a.oldest_accepted_at, &a.endpoint_id).cmp(&(b.oldest_accepted_at, &b.endpoint_id))
        });
        endpoints.truncate(worst);
        stats.worst = endpoints;
        stats
    }
}

/// Adds up `(node, deliveries, flow endpoints)` rows into one entry per node, by name.
pub(crate) fn nodes(rows: impl IntoIterator<Item = (String, u64, u64)>) -> Vec<NodeLeases> {
    let mut by_node = std::collections::BTreeMap::<String, NodeLeases>::new();
    for (node, deliveries, flow_endpoints) in rows {
        let entry = by_node.entry(node.clone()).or_insert_with(|| NodeLeases {
            node,
            ..NodeLeases::default()
        });
        entry.deliveries += deliveries;
        entry.flow_endpoints += flow_endpoints;
    }
    by_node.into_values().collect()
}

/// When the message with id `msg_id` was accepted (its id carries the time).
pub(crate) fn accepted_at(msg_id: &str) -> Timestamp {
    let millis = hookd_core::ids::id_millis(msg_id).unwrap_or(0);
    Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
