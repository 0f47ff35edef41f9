//! Flow-controlled endpoints (throttle, concurrency cap, FIFO): the `flow_endpoints` list
//! with each endpoint's owning node, and the claim of the marked destinations (`flow = 1`)
//! of one endpoint in message order, through the partial index `destinations_flow`.
//! The list itself is kept by `endpoints.rs`; destinations are marked when written
//! (`batch_insert.rs`, `queue.rs`).
//!
//! Nodes take endpoints with `FOR NO KEY UPDATE SKIP LOCKED`: they never wait for each
//! other, and the lock does not conflict with the key-share probes of destination writes.

use super::codec::{col, int_col_opt, ms};
use super::query::{execute, query, Param};
use super::queue::destination_from_row;
use crate::{ClaimedDelivery, FlowEndpoint, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::Timestamp;
use std::sync::Arc;
use tokio_postgres::Row;

/// Renews `$1`'s endpoints and takes up to `$4` free ones (no owner, or a lease that ended
/// before `$2`), all until `$3`; returns every endpoint `$1` holds, by id.
const ACQUIRE_SQL: &str = "WITH renewed AS (
        UPDATE flow_endpoints SET lease_until = $3 WHERE owner = $1
        RETURNING endpoint_id
    ), free AS (
        SELECT endpoint_id FROM flow_endpoints
        WHERE (owner IS NULL OR lease_until < $2) AND owner IS DISTINCT FROM $1
        ORDER BY endpoint_id
        LIMIT $4
        FOR NO KEY UPDATE SKIP LOCKED
    ), taken AS (
        UPDATE flow_endpoints f SET owner = $1, lease_until = $3
        FROM free WHERE f.endpoint_id = free.endpoint_id
        RETURNING f.endpoint_id
    ), held AS (
        SELECT endpoint_id FROM renewed UNION ALL SELECT endpoint_id FROM taken
    )
    SELECT e.app_id, e.id, e.rate_limit, e.max_concurrency, e.fifo
    FROM held JOIN endpoints e ON e.id = held.endpoint_id
    ORDER BY e.id";

pub(super) async fn acquire(
    client: &Client,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
    max: u32,
) -> StoreResult<Vec<FlowEndpoint>> {
    let rows = query(
        client,
        ACQUIRE_SQL,
        &[&owner, &ms(now), &ms(lease_until), &i64::from(max)],
        "taking flow-controlled endpoints",
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(FlowEndpoint {
                app_id: AppId::from_trusted(col(row, 0)?),
                endpoint_id: EndpointId::from_trusted(col(row, 1)?),
                rate_limit: int_col_opt(row, 2)?,
                max_concurrency: int_col_opt(row, 3)?,
                fifo: col(row, 4)?,
            })
        })
        .collect()
}

/// Leases the rows of `due` (which must lock them) to `$4` until `$3` and returns them
/// with what the sender needs, in message order.
macro_rules! lease_sql {
    ($due:literal) => {
        concat!(
            "WITH ",
            $due,
            ", leased AS (
                UPDATE message_destinations d SET next_attempt_at = $3, lease_owner = $4
                FROM due
                WHERE d.msg_id = due.msg_id AND d.endpoint_id = due.endpoint_id
                RETURNING d.msg_id, d.endpoint_id, d.app_id, d.status, d.attempt_count,
                    d.next_attempt_at, d.last_attempt_at, d.trigger, d.lease_owner,
                    due.prev_owner
            )
            SELECT l.msg_id, l.endpoint_id, l.app_id, l.status, l.attempt_count,
                l.next_attempt_at, l.last_attempt_at, l.trigger, l.lease_owner,
                m.event_type, m.payload, m.forward, l.prev_owner, m.traceparent
            FROM leased l LEFT JOIN messages m ON m.id = l.msg_id
            ORDER BY l.msg_id"
        )
    };
}

/// Up to `$5` marked rows of endpoint `$1` due at `$2`, oldest message first, skipping
/// rows other claims hold. `status = 1 AND flow = 1` is spelled out for the partial index.
const CLAIM_SQL: &str = lease_sql!(
    "due AS (
        SELECT msg_id, endpoint_id, lease_owner AS prev_owner FROM message_destinations
        WHERE endpoint_id = $1 AND status = 1 AND flow = 1 AND next_attempt_at <= $2
        ORDER BY msg_id
        LIMIT $5
        FOR UPDATE SKIP LOCKED
    )"
);

/// The first marked pending row of endpoint `$1`, only if it is due at `$2` and no one
/// else holds it: a head that is locked, leased or waiting for a retry yields nothing, and
/// the row behind it is never taken in its place.
const CLAIM_HEAD_SQL: &str = lease_sql!(
    "head AS (
        SELECT msg_id, endpoint_id FROM message_destinations
        WHERE endpoint_id = $1 AND status = 1 AND flow = 1
        ORDER BY msg_id
        LIMIT 1
    ), due AS (
        SELECT d.msg_id, d.endpoint_id, d.lease_owner AS prev_owner FROM message_destinations d
        JOIN head ON d.msg_id = head.msg_id AND d.endpoint_id = head.endpoint_id
        WHERE d.status = 1 AND d.flow = 1 AND d.next_attempt_at <= $2
        FOR UPDATE OF d SKIP LOCKED
    )"
);

pub(super) async fn claim(
    client: &Client,
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
    let (endpoint, now, lease_until) = (endpoint.as_str(), ms(now), ms(lease_until));
    let limit = i64::from(limit);
    let params: [Param<'_>; 5] = [&endpoint, &now, &lease_until, &owner, &limit];
    // The head query has no limit parameter (it takes one row).
    let (sql, params) = if fifo {
        (CLAIM_HEAD_SQL, &params[..4])
    } else {
        (CLAIM_SQL, &params[..])
    };
    let rows = query(client, sql, params, "claiming an endpoint's due deliveries").await?;
    rows.iter()
        .map(|row| claimed_from_row(row, owner))
        .collect()
}

fn claimed_from_row(row: &Row, owner: &str) -> StoreResult<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        dest: destination_from_row(row)?,
        event_type: col::<Option<String>>(row, 9)?.unwrap_or_default(),
        payload: col::<Option<&str>>(row, 10)?.map(Arc::from),
        forward: col::<Option<&str>>(row, 11)?.map(crate::forward::decode),
        taken_over: col::<Option<&str>>(row, 12)?.is_some_and(|prev| prev != owner),
        trace: super::codec::trace_col(row, 13)?,
    })
}

/// Frees every endpoint `owner` holds.
pub(super) async fn release(client: &Client, owner: &str) -> StoreResult<()> {
    execute(
        client,
        "UPDATE flow_endpoints SET owner = NULL, lease_until = NULL WHERE owner = $1",
        &[&owner],
        "releasing flow-controlled endpoints",
    )
    .await?;
    Ok(())
}
