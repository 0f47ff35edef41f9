//! What `hookd status` prints: the database's schema, the queue by state, its oldest work,
//! the endpoints furthest behind and the nodes holding leases; as lines of text for a
//! person or one JSON object for a script. Ages are as of the moment of reading.

use hookd_core::Timestamp;
use hookd_store::Inspection;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// One reading, ready to print.
pub struct Report<'a> {
    database: &'a str,
    seen: &'a Inspection,
    now: Timestamp,
}

impl<'a> Report<'a> {
    /// `database`: how to name the database (its URL, password redacted).
    pub fn new(database: &'a str, seen: &'a Inspection) -> Report<'a> {
        Report {
            database,
            seen,
            now: Timestamp::now(),
        }
    }

    fn age(&self, at: Option<Timestamp>) -> Option<f64> {
        at.map(|at| ((self.now.as_millis() - at.as_millis()).max(0) as f64) / 1000.0)
    }

    pub fn json(&self) -> Value {
        let schema = self.seen.schema;
        let queue = self.seen.queue.as_ref().map(|q| {
            json!({
                "due": q.due,
                "scheduled": q.scheduled,
                "inFlight": q.in_flight,
                "flowControlled": q.flow_controlled,
                "oldestDueAgeSecs": self.age(q.oldest_due_at),
                "oldestUndeliveredAgeSecs": self.age(q.oldest_accepted_at),
                "disabledEndpoints": q.disabled_endpoints,
                "worstEndpoints": q.worst.iter().map(|e| json!({
                    "appId": e.app_id,
                    "endpointId": e.endpoint_id,
                    "oldestUndeliveredAgeSecs": self.age(Some(e.oldest_accepted_at)),
                    "pending": e.due + e.scheduled + e.in_flight + e.flow_controlled,
                })).collect::<Vec<_>>(),
                "nodes": q.nodes.iter().map(|n| json!({
                    "node": n.node,
                    "leasedDeliveries": n.deliveries,
                    "flowEndpoints": n.flow_endpoints,
                })).collect::<Vec<_>>(),
            })
        });
        json!({
            "database": self.database,
            "schema": {"version": schema.current, "known": schema.known, "current": schema.is_current()},
            "queue": queue,
        })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let schema = self.seen.schema;
        let _ = writeln!(out, "database: {}", self.database);
        let state = if schema.is_current() {
            "current"
        } else if schema.current < schema.known {
            "behind: run `hookd migrate`"
        } else {
            "ahead: a newer hookd migrated it"
        };
        let _ = writeln!(
            out,
            "schema:   version {} of {} ({state})",
            schema.current, schema.known
        );
        let Some(q) = &self.seen.queue else {
            let _ = writeln!(out, "queue:    not read (the schema is not this build's)");
            return out;
        };
        let _ = writeln!(
            out,
            "queue:    {} due, {} scheduled, {} in flight, {} flow-controlled",
            q.due, q.scheduled, q.in_flight, q.flow_controlled
        );
        let _ = writeln!(
            out,
            "oldest due:         {}",
            describe(self.age(q.oldest_due_at))
        );
        let _ = writeln!(
            out,
            "oldest undelivered: {}",
            describe(self.age(q.oldest_accepted_at))
        );
        let _ = writeln!(out, "disabled endpoints: {}", q.disabled_endpoints);
        if !q.worst.is_empty() {
            let _ = writeln!(out, "endpoints furthest behind:");
            for e in &q.worst {
                let pending = e.due + e.scheduled + e.in_flight + e.flow_controlled;
                let _ = writeln!(
                    out,
                    "  {} {}  oldest {}  pending {pending}",
                    e.app_id,
                    e.endpoint_id,
                    describe(self.age(Some(e.oldest_accepted_at)))
                );
            }
        }
        if q.nodes.is_empty() {
            let _ = writeln!(out, "nodes holding leases: none");
        } else {
            let _ = writeln!(out, "nodes holding leases:");
            for n in &q.nodes {
                let _ = writeln!(
                    out,
                    "  {}  {} deliveries, {} flow-controlled endpoints",
                    n.node, n.deliveries, n.flow_endpoints
                );
            }
        }
        out
    }
}

/// `none`, or an age such as `4.2 s` / `3 min 20 s` / `2 h 5 min`.
fn describe(age: Option<f64>) -> String {
    let Some(secs) = age else {
        return "none".into();
    };
    let whole = secs as u64;
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if whole < 3600 {
        format!("{} min {} s", whole / 60, whole % 60)
    } else {
        format!("{} h {} min", whole / 3600, whole % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn ages_read_in_the_largest_sensible_unit() {
        assert_eq!(describe(None), "none");
        assert_eq!(describe(Some(4.25)), "4.2 s");
        assert_eq!(describe(Some(200.0)), "3 min 20 s");
        assert_eq!(describe(Some(7_500.0)), "2 h 5 min");
    }
}
