//! The delivery queue: the `message_destinations` table. A row is due when `status = 1`
//! (Pending) and `next_attempt_at <= now`; the partial index `destinations_due` holds
//! exactly the pending rows that are not flow-controlled (`flow = 0`), so claiming is an
//! index range scan. Rows of flow-controlled endpoints (`flow = 1`, set when the row is
//! written, see `flow.rs`) are claimed only through `claim_flow`. Claims run on the single
//! writer, so two claims never overlap.

use super::attempts;
use super::codec::{ms, ms_opt, status_col, trigger_col, ts_col_opt, SqlContext};
use super::query::json_list;
use crate::stats::{accepted_at, EndpointQueue};
use crate::{ClaimedDelivery, DeliveryOutcome, QueueStats, StoreResult};
use hookd_core::ids::{AppId, EndpointId, MsgId};
use hookd_core::model::MessageDestination;
use hookd_core::Timestamp;
use rusqlite::{params, Connection, Row};
use std::sync::Arc;

pub(super) const SELECT_DESTINATION: &str = "SELECT msg_id, endpoint_id, app_id, status,
    attempt_count, next_attempt_at, last_attempt_at, trigger, lease_owner
    FROM message_destinations";

pub(super) fn destination_from_row(row: &Row<'_>) -> rusqlite::Result<MessageDestination> {
    Ok(MessageDestination {
        msg_id: MsgId::from_trusted(row.get(0)?),
        endpoint_id: EndpointId::from_trusted(row.get(1)?),
        app_id: AppId::from_trusted(row.get(2)?),
        status: status_col(row, 3)?,
        attempt_count: row.get(4)?,
        next_attempt_at: ts_col_opt(row, 5)?,
        last_attempt_at: ts_col_opt(row, 6)?,
        trigger: trigger_col(row, 7)?,
        lease_owner: row.get(8)?,
    })
}

/// Inserts a destination exactly as given.
pub(super) fn insert_destination(conn: &Connection, d: &MessageDestination) -> StoreResult<()> {
    write_destination(conn, d, INSERT_SQL, "inserting a message destination")
}

/// Due rows, oldest due first, with what the sender needs. `status = 1 AND flow = 0` is
/// spelled out so the planner picks the partial index `destinations_due`.
pub(super) const CLAIM_SQL: &str = "SELECT d.msg_id, d.endpoint_id, d.app_id, d.status,
    d.attempt_count, d.next_attempt_at, d.last_attempt_at, d.trigger, d.lease_owner,
    m.event_type, m.payload, m.forward, m.traceparent
    FROM message_destinations d LEFT JOIN messages m ON m.id = d.msg_id
    WHERE d.status = 1 AND d.flow = 0 AND d.next_attempt_at <= ?1
      AND d.endpoint_id NOT IN (SELECT value FROM json_each(?2))
    ORDER BY d.next_attempt_at LIMIT ?3";

/// Claims up to `limit` due rows, oldest due first, leasing them to `owner`.
pub(super) fn claim_due(
    conn: &Connection,
    now: Timestamp,
    limit: u32,
    lease_until: Timestamp,
    owner: &str,
    exclude: &[EndpointId],
) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut select = conn
        .prepare_cached(CLAIM_SQL)
        .ctx("preparing the claim query")?;
    let rows = select
        .query_map(
            params![ms(now), json_list(exclude), limit],
            claimed_from_row,
        )
        .ctx("selecting due deliveries")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("reading due deliveries")?;
    lease(conn, rows, lease_until, owner)
}

/// A row of [`CLAIM_SQL`]'s shape: the destination, then the message's type, payload,
/// forward metadata and kept trace context.
pub(super) fn claimed_from_row(row: &Row<'_>) -> rusqlite::Result<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        dest: destination_from_row(row)?,
        event_type: row.get::<_, Option<String>>(9)?.unwrap_or_default(),
        payload: row.get::<_, Option<String>>(10)?.map(Arc::from),
        forward: row
            .get_ref(11)?
            .as_str_or_null()?
            .map(crate::forward::decode),
        taken_over: false,
        trace: super::codec::trace_col(row, 12)?,
    })
}

/// Leases the selected rows to `owner` until `lease_until` and returns them so.
pub(super) fn lease(
    conn: &Connection,
    mut rows: Vec<ClaimedDelivery>,
    lease_until: Timestamp,
    owner: &str,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut update = conn
        .prepare_cached(
            "UPDATE message_destinations SET next_attempt_at = ?3, lease_owner = ?4
             WHERE msg_id = ?1 AND endpoint_id = ?2",
        )
        .ctx("preparing the lease update")?;
    for c in &mut rows {
        update
            .execute(params![
                c.dest.msg_id.as_str(),
                c.dest.endpoint_id.as_str(),
                ms(lease_until),
                owner
            ])
            .ctx("leasing a due delivery")?;
        c.dest.next_attempt_at = Some(lease_until);
        c.taken_over = c.dest.lease_owner.as_deref().is_some_and(|o| o != owner);
        c.dest.lease_owner = Some(owner.to_owned());
    }
    Ok(rows)
}

/// Updates the destination and inserts the attempt; drops both if the row is gone.
pub(super) fn record_outcome(conn: &Connection, o: &DeliveryOutcome) -> StoreResult<()> {
    let last_attempt_at = o.attempt.as_ref().map(|a| ms(a.created_at));
    let updated = conn
        .prepare_cached(
            "UPDATE message_destinations SET status = ?3, attempt_count = ?4,
             next_attempt_at = ?5, last_attempt_at = COALESCE(?6, last_attempt_at),
             lease_owner = NULL WHERE msg_id = ?1 AND endpoint_id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                o.msg_id.as_str(),
                o.endpoint_id.as_str(),
                o.status.as_i64(),
                o.attempt_count,
                ms_opt(o.next_attempt_at),
                last_attempt_at
            ])
        })
        .ctx("updating a destination with its outcome")?;
    if updated == 0 {
        // The endpoint or app was deleted meanwhile: nothing left to record against.
        return Ok(());
    }
    if let Some(attempt) = &o.attempt {
        attempts::insert(conn, attempt)?;
    }
    Ok(())
}

/// Upserts `d` as given, keeping an existing row's attempt count and last attempt time.
pub(super) fn requeue(conn: &Connection, d: &MessageDestination) -> StoreResult<()> {
    write_destination(conn, d, REQUEUE_SQL, "requeueing a destination")
}

/// The destination insert; a macro so the upsert can extend it at compile time. The row
/// is marked when its endpoint is flow-controlled: one probe of the (normally empty)
/// `flow_endpoints` table.
macro_rules! insert_destination_sql {
    () => {
        "INSERT INTO message_destinations (msg_id, endpoint_id, app_id, status, attempt_count,
         next_attempt_at, last_attempt_at, trigger, lease_owner, flow)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
             EXISTS (SELECT 1 FROM flow_endpoints f WHERE f.endpoint_id = ?2))"
    };
}
const INSERT_SQL: &str = insert_destination_sql!();
const REQUEUE_SQL: &str = concat!(
    insert_destination_sql!(),
    " ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET status = excluded.status,
      next_attempt_at = excluded.next_attempt_at, trigger = excluded.trigger,
      lease_owner = excluded.lease_owner, flow = excluded.flow"
);

/// Writes every column of `d` with `sql` (the insert or the upsert).
fn write_destination(
    conn: &Connection,
    d: &MessageDestination,
    sql: &'static str,
    what: &'static str,
) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.execute(params![
                d.msg_id.as_str(),
                d.endpoint_id.as_str(),
                d.app_id.as_str(),
                d.status.as_i64(),
                d.attempt_count,
                ms_opt(d.next_attempt_at),
                ms_opt(d.last_attempt_at),
                d.trigger.as_i64(),
                d.lease_owner
            ])
        })
        .ctx(what)?;
    Ok(())
}

/// Moves the lease expiry of the given rows still pending and leased to `owner`.
pub(super) fn renew_leases(
    conn: &Connection,
    owner: &str,
    keys: &[(MsgId, EndpointId)],
    lease_until: Timestamp,
) -> StoreResult<u64> {
    let mut renew = conn
        .prepare_cached(
            "UPDATE message_destinations SET next_attempt_at = ?4
             WHERE msg_id = ?1 AND endpoint_id = ?2 AND status = 1 AND lease_owner = ?3",
        )
        .ctx("preparing the lease renewal")?;
    let mut renewed = 0;
    for (msg, ep) in keys {
        renewed += renew
            .execute(params![msg.as_str(), ep.as_str(), owner, ms(lease_until)])
            .ctx("renewing a lease")?;
    }
    Ok(renewed as u64)
}

/// Makes every leased pending row due at `now` and frees every flow-controlled endpoint
/// (a single node starting: nothing else can hold them); returns how many rows.
pub(super) fn release_all_leases(conn: &Connection, now: Timestamp) -> StoreResult<u64> {
    conn.prepare_cached(
        "UPDATE flow_endpoints SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL",
    )
    .and_then(|mut s| s.execute([]))
    .ctx("releasing flow-controlled endpoints")?;
    let released = conn
        .prepare_cached(
            "UPDATE message_destinations SET next_attempt_at = ?1, lease_owner = NULL
             WHERE status = 1 AND lease_owner IS NOT NULL",
        )
        .and_then(|mut s| s.execute([ms(now)]))
        .ctx("releasing leases")?;
    Ok(released as u64)
}

/// Destinations of one endpoint per status, for message ids in `[lo, hi)`.
pub(super) fn endpoint_stats(
    conn: &Connection,
    app: &AppId,
    endpoint: &EndpointId,
    lo: &str,
    hi: &str,
) -> StoreResult<crate::EndpointStats> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT status, count(*) FROM message_destinations
             WHERE endpoint_id = ?1 AND app_id = ?2 AND msg_id >= ?3 AND msg_id < ?4
             GROUP BY status",
        )
        .ctx("preparing the endpoint stats query")?;
    let rows = stmt
        .query_map(params![endpoint.as_str(), app.as_str(), lo, hi], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .ctx("counting an endpoint's deliveries")?;
    let mut stats = crate::EndpointStats::default();
    for row in rows {
        let (status, count) = row.ctx("reading an endpoint's delivery counts")?;
        stats.add(status, u64::try_from(count).unwrap_or(0));
    }
    Ok(stats)
}

pub(super) fn next_due_at(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    let next: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(next_attempt_at) FROM message_destinations WHERE status = 1 AND flow = 0",
        )
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .ctx("reading the next due time")?;
    Ok(next.map(Timestamp::from_millis))
}

/// The pending rows by endpoint and state (see [`crate::QueueStats`]); each half reads one
/// of the two partial indexes' rows, so settled rows are never scanned.
const STATS_SQL: &str = "SELECT app_id, endpoint_id,
        SUM(flow = 0 AND next_attempt_at <= ?1),
        SUM(flow = 0 AND next_attempt_at > ?1 AND lease_owner IS NULL),
        SUM(flow = 0 AND next_attempt_at > ?1 AND lease_owner IS NOT NULL),
        SUM(flow = 1),
        MIN(CASE WHEN flow = 0 AND next_attempt_at <= ?1 THEN next_attempt_at END),
        MIN(msg_id)
    FROM (
        SELECT app_id, endpoint_id, COALESCE(next_attempt_at, 0) AS next_attempt_at,
            lease_owner, msg_id, 0 AS flow
        FROM message_destinations WHERE status = 1 AND flow = 0
        UNION ALL
        SELECT app_id, endpoint_id, COALESCE(next_attempt_at, 0), lease_owner, msg_id, 1
        FROM message_destinations WHERE status = 1 AND flow = 1
    )
    GROUP BY app_id, endpoint_id";

/// Live leases by node: claimed pending deliveries, and owned flow-controlled endpoints.
const LEASES_SQL: &str = "SELECT lease_owner, COUNT(*), 0 FROM message_destinations
        WHERE status = 1 AND flow = 0 AND lease_owner IS NOT NULL AND next_attempt_at > ?1
        GROUP BY lease_owner
    UNION ALL
    SELECT lease_owner, COUNT(*), 0 FROM message_destinations
        WHERE status = 1 AND flow = 1 AND lease_owner IS NOT NULL AND next_attempt_at > ?1
        GROUP BY lease_owner
    UNION ALL
    SELECT owner, 0, COUNT(*) FROM flow_endpoints
        WHERE owner IS NOT NULL AND lease_until > ?1
        GROUP BY owner";

/// The queue at `now`, with the `worst` endpoints by their oldest undelivered message.
pub(super) fn stats(conn: &Connection, now: Timestamp, worst: usize) -> StoreResult<QueueStats> {
    let mut select = conn
        .prepare_cached(STATS_SQL)
        .ctx("preparing the queue statistics")?;
    let endpoints = select
        .query_map(params![ms(now)], |row| {
            let oldest: String = row.get(7)?;
            Ok(EndpointQueue {
                app_id: AppId::from_trusted(row.get(0)?),
                endpoint_id: EndpointId::from_trusted(row.get(1)?),
                due: row.get(2)?,
                scheduled: row.get(3)?,
                in_flight: row.get(4)?,
                flow_controlled: row.get(5)?,
                oldest_due_at: ts_col_opt(row, 6)?,
                oldest_accepted_at: accepted_at(&oldest),
            })
        })
        .ctx("reading the queue statistics")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("reading the queue statistics")?;
    let disabled: u64 = conn
        .prepare_cached("SELECT COUNT(*) FROM endpoints WHERE disabled = 1")
        .ctx("preparing the disabled-endpoint count")?
        .query_row([], |row| row.get(0))
        .ctx("counting disabled endpoints")?;
    let nodes = conn
        .prepare_cached(LEASES_SQL)
        .ctx("preparing the lease count")?
        .query_map(params![ms(now)], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .ctx("counting leases")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("counting leases")?;
    Ok(QueueStats::from_endpoints(
        endpoints,
        worst,
        disabled,
        crate::stats::nodes(nodes),
    ))
}

#[cfg(test)]
mod tests {
    use super::CLAIM_SQL;
    use hookd_core::model::DeliveryStatus;
    use rusqlite::Connection;

    #[test]
    fn pending_matches_the_status_literal_in_queue_sql() {
        // The SQL above and the partial index spell Pending as `1`.
        assert_eq!(DeliveryStatus::Pending.as_i64(), 1);
    }

    #[test]
    fn claim_scans_the_due_index_without_sorting() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut conn).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CLAIM_SQL}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params![0, "[]", 10], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("destinations_due"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE FOR ORDER BY"), "{plan}");
    }
}
