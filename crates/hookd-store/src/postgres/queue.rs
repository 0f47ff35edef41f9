//! The delivery queue: the `message_destinations` table. A row is due when `status = 1`
//! (Pending) and `next_attempt_at <= now`; the partial index `destinations_due` holds
//! exactly the pending rows in due order that are not flow-controlled (`flow = 0`), so
//! claiming is an index range scan. Rows of flow-controlled endpoints (`flow = 1`, set when
//! the row is written) are claimed only through `claim_flow` (see `flow.rs`).
//!
//! Many nodes claim at once: the claim locks its rows with `FOR UPDATE SKIP LOCKED`, so
//! concurrent claims pass over each other's rows instead of waiting or overlapping, and a
//! row updated meanwhile is re-checked against the due condition before it is taken.

use super::codec::{col, int_col, ms, ms_opt, status_code, status_col, trigger_code};
use super::codec::{trigger_col, ts_col_opt};
use super::query::{execute, query, query_opt};
use crate::stats::{accepted_at, EndpointQueue};
use crate::{ClaimedDelivery, DeliveryOutcome, QueueStats, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, EndpointId, MsgId};
use hookd_core::model::{DeliveryStatus, MessageDestination};
use hookd_core::Timestamp;
use std::sync::Arc;
use tokio_postgres::Row;

pub(super) const SELECT_DESTINATION: &str = "SELECT msg_id, endpoint_id, app_id, status,
    attempt_count, next_attempt_at, last_attempt_at, trigger, lease_owner
    FROM message_destinations";

/// Reads the nine destination columns, in [`SELECT_DESTINATION`]'s order, from the start
/// of `row`.
pub(super) fn destination_from_row(row: &Row) -> StoreResult<MessageDestination> {
    Ok(MessageDestination {
        msg_id: MsgId::from_trusted(col(row, 0)?),
        endpoint_id: EndpointId::from_trusted(col(row, 1)?),
        app_id: AppId::from_trusted(col(row, 2)?),
        status: status_col(row, 3)?,
        attempt_count: int_col(row, 4)?,
        next_attempt_at: ts_col_opt(row, 5)?,
        last_attempt_at: ts_col_opt(row, 6)?,
        trigger: trigger_col(row, 7)?,
        lease_owner: col(row, 8)?,
    })
}

/// Locks up to `$3` due rows (skipping rows other claims hold), leases them and returns
/// them with what the sender needs, oldest due first. `status = 1 AND flow = 0` is spelled
/// out so the planner picks the partial index.
pub(super) const CLAIM_SQL: &str = "WITH due AS (
        SELECT msg_id, endpoint_id, next_attempt_at AS due_at, lease_owner AS prev_owner
        FROM message_destinations
        WHERE status = 1 AND flow = 0 AND next_attempt_at <= $1
            AND endpoint_id <> ALL($2::text[])
        ORDER BY next_attempt_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ), leased AS (
        UPDATE message_destinations d SET next_attempt_at = $4, lease_owner = $5
        FROM due
        WHERE d.msg_id = due.msg_id AND d.endpoint_id = due.endpoint_id
        RETURNING d.msg_id, d.endpoint_id, d.app_id, d.status, d.attempt_count,
            d.next_attempt_at, d.last_attempt_at, d.trigger, d.lease_owner, due.due_at,
            due.prev_owner
    )
    SELECT l.msg_id, l.endpoint_id, l.app_id, l.status, l.attempt_count, l.next_attempt_at,
        l.last_attempt_at, l.trigger, l.lease_owner, m.event_type, m.payload, m.forward,
        l.prev_owner, m.traceparent
    FROM leased l LEFT JOIN messages m ON m.id = l.msg_id
    ORDER BY l.due_at, l.msg_id, l.endpoint_id";

/// Claims up to `limit` due rows, oldest due first, leasing them to `owner`.
pub(super) async fn claim_due(
    client: &Client,
    now: Timestamp,
    limit: u32,
    lease_until: Timestamp,
    owner: &str,
    exclude: &[EndpointId],
) -> StoreResult<Vec<ClaimedDelivery>> {
    let exclude: Vec<&str> = exclude.iter().map(EndpointId::as_str).collect();
    let rows = query(
        client,
        CLAIM_SQL,
        &[
            &ms(now),
            &exclude,
            &i64::from(limit),
            &ms(lease_until),
            &owner,
        ],
        "claiming due deliveries",
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                dest: destination_from_row(row)?,
                event_type: col::<Option<String>>(row, 9)?.unwrap_or_default(),
                payload: col::<Option<&str>>(row, 10)?.map(Arc::from),
                forward: col::<Option<&str>>(row, 11)?.map(crate::forward::decode),
                taken_over: col::<Option<&str>>(row, 12)?.is_some_and(|prev| prev != owner),
                trace: super::codec::trace_col(row, 13)?,
            })
        })
        .collect()
}

/// Many outcomes in one statement: the destinations are updated from arrays, and each
/// attempt is inserted only if its destination still existed. Keys must be distinct
/// (an UPDATE takes one source row per target row).
const OUTCOMES_SQL: &str = "WITH o AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::bigint[],
            $5::bigint[], $6::bigint[])
            AS o(msg_id, endpoint_id, status, attempt_count, next_attempt_at, attempted_at)
    ), dest AS (
        UPDATE message_destinations d SET status = o.status,
            attempt_count = o.attempt_count, next_attempt_at = o.next_attempt_at,
            last_attempt_at = COALESCE(o.attempted_at, d.last_attempt_at), lease_owner = NULL
        FROM o
        WHERE d.msg_id = o.msg_id AND d.endpoint_id = o.endpoint_id
        RETURNING d.msg_id, d.endpoint_id
    )
    INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status,
        response_status_code, response, response_duration_ms, trigger, created_at)
    SELECT a.* FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
        $12::smallint[], $13::integer[], $14::text[], $15::bigint[], $16::smallint[],
        $17::bigint[]) AS a(id, msg_id, endpoint_id, app_id, url, status, code, response,
        duration, trigger, created_at)
    WHERE EXISTS (SELECT 1 FROM dest
        WHERE dest.msg_id = a.msg_id AND dest.endpoint_id = a.endpoint_id)";

/// Writes outcomes with one statement (one commit). A batch that names a destination
/// twice is written one outcome per statement, in order, so the later outcome wins.
pub(super) async fn record_outcomes(
    client: &Client,
    outcomes: &[DeliveryOutcome],
) -> StoreResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let keys: std::collections::HashSet<(&str, &str)> = outcomes
        .iter()
        .map(|o| (o.msg_id.as_str(), o.endpoint_id.as_str()))
        .collect();
    if keys.len() != outcomes.len() {
        for o in outcomes {
            write_outcomes(client, std::slice::from_ref(o)).await?;
        }
        return Ok(());
    }
    write_outcomes(client, outcomes).await
}

/// Runs [`OUTCOMES_SQL`] for outcomes whose destinations are distinct.
async fn write_outcomes(client: &Client, outcomes: &[DeliveryOutcome]) -> StoreResult<()> {
    let mut d = DestinationColumns::default();
    let mut a = AttemptColumns::default();
    for o in outcomes {
        d.msg_ids.push(o.msg_id.as_str());
        d.endpoint_ids.push(o.endpoint_id.as_str());
        d.statuses.push(status_code(o.status));
        d.counts.push(i64::from(o.attempt_count));
        d.next.push(ms_opt(o.next_attempt_at));
        d.attempted
            .push(o.attempt.as_ref().map(|a| ms(a.created_at)));
        if let Some(at) = &o.attempt {
            a.push(at);
        }
    }
    execute(
        client,
        OUTCOMES_SQL,
        &[
            &d.msg_ids,
            &d.endpoint_ids,
            &d.statuses,
            &d.counts,
            &d.next,
            &d.attempted,
            &a.ids,
            &a.msg_ids,
            &a.endpoint_ids,
            &a.app_ids,
            &a.urls,
            &a.statuses,
            &a.codes,
            &a.responses,
            &a.durations,
            &a.triggers,
            &a.created,
        ],
        "recording delivery outcomes",
    )
    .await?;
    Ok(())
}

/// The destination half of [`OUTCOMES_SQL`]'s arrays.
#[derive(Default)]
struct DestinationColumns<'a> {
    msg_ids: Vec<&'a str>,
    endpoint_ids: Vec<&'a str>,
    statuses: Vec<i16>,
    counts: Vec<i64>,
    next: Vec<Option<i64>>,
    attempted: Vec<Option<i64>>,
}

/// The attempt half of [`OUTCOMES_SQL`]'s arrays.
#[derive(Default)]
struct AttemptColumns<'a> {
    ids: Vec<&'a str>,
    msg_ids: Vec<&'a str>,
    endpoint_ids: Vec<&'a str>,
    app_ids: Vec<&'a str>,
    urls: Vec<&'a str>,
    statuses: Vec<i16>,
    codes: Vec<i32>,
    responses: Vec<String>,
    durations: Vec<i64>,
    triggers: Vec<i16>,
    created: Vec<i64>,
}

impl<'a> AttemptColumns<'a> {
    fn push(&mut self, a: &'a hookd_core::model::Attempt) {
        self.ids.push(a.id.as_str());
        self.msg_ids.push(a.msg_id.as_str());
        self.endpoint_ids.push(a.endpoint_id.as_str());
        self.app_ids.push(a.app_id.as_str());
        self.urls.push(&a.url);
        self.statuses.push(status_code(a.status));
        self.codes.push(i32::from(a.response_status_code));
        // PostgreSQL cannot store U+0000 in text; the response is a lossy excerpt anyway.
        self.responses.push(a.response.replace('\0', "\u{fffd}"));
        self.durations
            .push(i64::try_from(a.response_duration_ms).unwrap_or(i64::MAX));
        self.triggers.push(trigger_code(a.trigger));
        self.created.push(ms(a.created_at));
    }
}

/// Upserts the destination as given (an existing row keeps its attempt count and last
/// attempt time), marked per its endpoint (see `batch_insert.rs` for the probe), notifying `$10`
/// when it is left for any node to claim (`$11`).
const REQUEUE_SQL: &str = "WITH dest AS (
        INSERT INTO message_destinations (msg_id, endpoint_id, app_id, status,
            attempt_count, next_attempt_at, last_attempt_at, trigger, lease_owner, flow)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
            CASE WHEN EXISTS (SELECT 1 FROM flow_endpoints f WHERE f.endpoint_id = $2
                FOR KEY SHARE) THEN 1 ELSE 0 END)
        ON CONFLICT (msg_id, endpoint_id) DO UPDATE SET status = EXCLUDED.status,
            next_attempt_at = EXCLUDED.next_attempt_at, trigger = EXCLUDED.trigger,
            lease_owner = EXCLUDED.lease_owner, flow = EXCLUDED.flow
    )
    SELECT pg_notify($10, '') WHERE $11::boolean";

pub(super) async fn requeue(
    client: &Client,
    d: &MessageDestination,
    channel: &str,
) -> StoreResult<()> {
    let wake_others = d.status == DeliveryStatus::Pending && d.lease_owner.is_none();
    execute(
        client,
        REQUEUE_SQL,
        &[
            &d.msg_id.as_str(),
            &d.endpoint_id.as_str(),
            &d.app_id.as_str(),
            &status_code(d.status),
            &i64::from(d.attempt_count),
            &ms_opt(d.next_attempt_at),
            &ms_opt(d.last_attempt_at),
            &trigger_code(d.trigger),
            &d.lease_owner,
            &channel,
            &wake_others,
        ],
        "requeueing a destination",
    )
    .await?;
    Ok(())
}

/// Moves the lease expiry of the given rows still pending and leased to `owner`.
pub(super) async fn renew_leases(
    client: &Client,
    owner: &str,
    keys: &[(MsgId, EndpointId)],
    lease_until: Timestamp,
) -> StoreResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    let msgs: Vec<&str> = keys.iter().map(|(m, _)| m.as_str()).collect();
    let eps: Vec<&str> = keys.iter().map(|(_, e)| e.as_str()).collect();
    execute(
        client,
        "UPDATE message_destinations d SET next_attempt_at = $3
         FROM unnest($1::text[], $2::text[]) AS k(msg_id, endpoint_id)
         WHERE d.msg_id = k.msg_id AND d.endpoint_id = k.endpoint_id
           AND d.status = 1 AND d.lease_owner = $4",
        &[&msgs, &eps, &ms(lease_until), &owner],
        "renewing leases",
    )
    .await
}

/// Makes every leased pending row due at `now`; returns how many.
pub(super) async fn release_all_leases(client: &Client, now: Timestamp) -> StoreResult<u64> {
    execute(
        client,
        "UPDATE message_destinations SET next_attempt_at = $1, lease_owner = NULL
         WHERE status = 1 AND lease_owner IS NOT NULL",
        &[&ms(now)],
        "releasing leases",
    )
    .await
}

/// Destinations of one endpoint per status, for message ids in `[lo, hi)`.
pub(super) async fn endpoint_stats(
    client: &Client,
    app: &AppId,
    endpoint: &EndpointId,
    lo: &str,
    hi: &str,
) -> StoreResult<crate::EndpointStats> {
    let rows = query(
        client,
        "SELECT status::bigint, count(*) FROM message_destinations
         WHERE endpoint_id = $1 AND app_id = $2 AND msg_id >= $3 AND msg_id < $4
         GROUP BY status",
        &[&endpoint.as_str(), &app.as_str(), &lo, &hi],
        "counting an endpoint's deliveries",
    )
    .await?;
    let mut stats = crate::EndpointStats::default();
    for row in &rows {
        let (status, count): (i64, i64) = (col(row, 0)?, col(row, 1)?);
        stats.add(status, u64::try_from(count).unwrap_or(0));
    }
    Ok(stats)
}

pub(super) async fn next_due_at(client: &Client) -> StoreResult<Option<Timestamp>> {
    let row = query_opt(
        client,
        "SELECT min(next_attempt_at) FROM message_destinations WHERE status = 1 AND flow = 0",
        &[],
        "reading the next due time",
    )
    .await?;
    let next: Option<i64> = match &row {
        Some(row) => col(row, 0)?,
        None => None,
    };
    Ok(next.map(Timestamp::from_millis))
}

/// The pending rows by endpoint and state (see [`crate::QueueStats`]); each half reads one
/// of the two partial indexes' rows, so settled rows are never scanned.
const STATS_SQL: &str = "SELECT app_id, endpoint_id,
        COUNT(*) FILTER (WHERE flow = 0 AND next_attempt_at <= $1),
        COUNT(*) FILTER (WHERE flow = 0 AND next_attempt_at > $1 AND lease_owner IS NULL),
        COUNT(*) FILTER (WHERE flow = 0 AND next_attempt_at > $1 AND lease_owner IS NOT NULL),
        COUNT(*) FILTER (WHERE flow = 1),
        MIN(next_attempt_at) FILTER (WHERE flow = 0 AND next_attempt_at <= $1),
        MIN(msg_id)
    FROM (
        SELECT app_id, endpoint_id, COALESCE(next_attempt_at, 0) AS next_attempt_at,
            lease_owner, msg_id, 0 AS flow
        FROM message_destinations WHERE status = 1 AND flow = 0
        UNION ALL
        SELECT app_id, endpoint_id, COALESCE(next_attempt_at, 0), lease_owner, msg_id, 1
        FROM message_destinations WHERE status = 1 AND flow = 1
    ) pending
    GROUP BY app_id, endpoint_id";

/// Live leases by node: claimed pending deliveries, and owned flow-controlled endpoints.
const LEASES_SQL: &str = "SELECT lease_owner, COUNT(*), 0::BIGINT FROM message_destinations
        WHERE status = 1 AND flow = 0 AND lease_owner IS NOT NULL AND next_attempt_at > $1
        GROUP BY lease_owner
    UNION ALL
    SELECT lease_owner, COUNT(*), 0::BIGINT FROM message_destinations
        WHERE status = 1 AND flow = 1 AND lease_owner IS NOT NULL AND next_attempt_at > $1
        GROUP BY lease_owner
    UNION ALL
    SELECT owner, 0::BIGINT, COUNT(*) FROM flow_endpoints
        WHERE owner IS NOT NULL AND lease_until > $1
        GROUP BY owner";

/// The queue at `now`, with the `worst` endpoints by their oldest undelivered message.
pub(super) async fn stats(
    client: &Client,
    now: Timestamp,
    worst: usize,
) -> StoreResult<QueueStats> {
    let rows = query(
        client,
        STATS_SQL,
        &[&ms(now)],
        "reading the queue statistics",
    )
    .await?;
    let endpoints = rows
        .iter()
        .map(|row| {
            Ok(EndpointQueue {
                app_id: AppId::from_trusted(col(row, 0)?),
                endpoint_id: EndpointId::from_trusted(col(row, 1)?),
                due: int_col(row, 2)?,
                scheduled: int_col(row, 3)?,
                in_flight: int_col(row, 4)?,
                flow_controlled: int_col(row, 5)?,
                oldest_due_at: ts_col_opt(row, 6)?,
                oldest_accepted_at: accepted_at(col(row, 7)?),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let disabled = query(
        client,
        "SELECT COUNT(*) FROM endpoints WHERE disabled",
        &[],
        "counting disabled endpoints",
    )
    .await?;
    let disabled = match disabled.first() {
        Some(row) => int_col(row, 0)?,
        None => 0,
    };
    let nodes = query(client, LEASES_SQL, &[&ms(now)], "counting leases")
        .await?
        .iter()
        .map(|row| Ok((col(row, 0)?, int_col(row, 1)?, int_col(row, 2)?)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(QueueStats::from_endpoints(
        endpoints,
        worst,
        disabled,
        crate::stats::nodes(nodes),
    ))
}
