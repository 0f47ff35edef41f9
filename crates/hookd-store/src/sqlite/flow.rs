//! Flow-controlled endpoints (throttle, concurrency cap, FIFO): the `flow_endpoints` list
//! with each endpoint's owning node, and the claim of the marked destinations (`flow = 1`)
//! of one endpoint in message order, through the partial index `destinations_flow`.
//! The list itself is kept by `endpoints.rs`; destinations are marked by `queue.rs`.

use super::codec::{ms, SqlContext};
use super::queue::{claimed_from_row, lease};
use crate::{ClaimedDelivery, FlowEndpoint, StoreResult};
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::Timestamp;
use rusqlite::{params, Connection};

/// Renews `owner`'s endpoints, takes up to `max` free ones (no owner, or a lease that
/// ended before `now`) and returns every endpoint `owner` holds, by id.
pub(super) fn acquire(
    conn: &Connection,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
    max: u32,
) -> StoreResult<Vec<FlowEndpoint>> {
    conn.prepare_cached("UPDATE flow_endpoints SET lease_until = ?2 WHERE owner = ?1")
        .and_then(|mut s| s.execute(params![owner, ms(lease_until)]))
        .ctx("renewing flow-controlled endpoints")?;
    conn.prepare_cached(
        "UPDATE flow_endpoints SET owner = ?1, lease_until = ?3
         WHERE endpoint_id IN (SELECT endpoint_id FROM flow_endpoints
             WHERE (owner IS NULL OR lease_until < ?2) AND owner IS NOT ?1
             ORDER BY endpoint_id LIMIT ?4)",
    )
    .and_then(|mut s| s.execute(params![owner, ms(now), ms(lease_until), max]))
    .ctx("taking flow-controlled endpoints")?;
    let mut select = conn
        .prepare_cached(
            "SELECT f.app_id, f.endpoint_id, e.rate_limit, e.max_concurrency, e.fifo
             FROM flow_endpoints f JOIN endpoints e ON e.id = f.endpoint_id
             WHERE f.owner = ?1 ORDER BY f.endpoint_id",
        )
        .ctx("preparing the owned endpoints query")?;
    let held = select
        .query_map([owner], |row| {
            Ok(FlowEndpoint {
                app_id: AppId::from_trusted(row.get(0)?),
                endpoint_id: EndpointId::from_trusted(row.get(1)?),
                rate_limit: row.get(2)?,
                max_concurrency: row.get(3)?,
                fifo: row.get(4)?,
            })
        })
        .ctx("reading owned endpoints")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("reading owned endpoints")?;
    Ok(held)
}

/// The marked pending rows of one endpoint, oldest message first, shaped like the generic
/// claim's rows. `status = 1 AND flow = 1` is spelled out for `destinations_flow`.
macro_rules! flow_rows_sql {
    ($rest:literal) => {
        concat!(
            "SELECT d.msg_id, d.endpoint_id, d.app_id, d.status, d.attempt_count,
             d.next_attempt_at, d.last_attempt_at, d.trigger, d.lease_owner,
             m.event_type, m.payload, m.forward, m.traceparent
             FROM message_destinations d LEFT JOIN messages m ON m.id = d.msg_id
             WHERE d.endpoint_id = ?1 AND d.status = 1 AND d.flow = 1",
            $rest
        )
    };
}
/// Up to `?3` rows due at `?2`.
pub(super) const CLAIM_FLOW_SQL: &str =
    flow_rows_sql!(" AND d.next_attempt_at <= ?2 ORDER BY d.msg_id LIMIT ?3");
/// The first pending row (due or not), only if it is due at `?2`: a head waiting for its
/// retry time or leased holds back everything behind it.
const HEAD_SQL: &str = flow_rows_sql!(
    " AND d.next_attempt_at <= ?2 AND d.msg_id = (SELECT msg_id FROM message_destinations
        WHERE endpoint_id = ?1 AND status = 1 AND flow = 1 ORDER BY msg_id LIMIT 1)"
);

/// Claims the endpoint's due marked rows in message order; with `fifo`, only its first
/// pending row, and only if that is due.
pub(super) fn claim(
    conn: &Connection,
    endpoint: &EndpointId,
    fifo: bool,
    now: Timestamp,
    limit: u32,
    lease_until: Timestamp,
    owner: &str,
) -> StoreResult<Vec<ClaimedDelivery>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = if fifo {
        conn.prepare_cached(HEAD_SQL).and_then(|mut s| {
            s.query_map(params![endpoint.as_str(), ms(now)], claimed_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    } else {
        conn.prepare_cached(CLAIM_FLOW_SQL).and_then(|mut s| {
            s.query_map(params![endpoint.as_str(), ms(now), limit], claimed_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    };
    let rows = rows.ctx("selecting an endpoint's due deliveries")?;
    lease(conn, rows, lease_until, owner)
}

/// Frees every endpoint `owner` holds.
pub(super) fn release(conn: &Connection, owner: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE flow_endpoints SET owner = NULL, lease_until = NULL WHERE owner = ?1",
    )
    .and_then(|mut s| s.execute([owner]))
    .ctx("releasing flow-controlled endpoints")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{CLAIM_FLOW_SQL, HEAD_SQL};
    use rusqlite::Connection;

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params = ["ep_x", "0", "10"];
        let count = stmt.parameter_count();
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(&params[..count]), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.join("\n")
    }

    #[test]
    fn flow_claims_walk_the_flow_index_in_message_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut conn).unwrap();
        for sql in [CLAIM_FLOW_SQL, HEAD_SQL] {
            let plan = plan(&conn, sql);
            assert!(plan.contains("destinations_flow"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE FOR ORDER BY"), "{plan}");
        }
    }
}
