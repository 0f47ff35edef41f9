//! Failure handling on PostgreSQL: the endpoints' failure streaks (`endpoints.failing_since`)
//! and the `recovery_tasks` table. Each operation is one statement, so it commits (or not)
//! as a whole; a task is claimed with `FOR UPDATE SKIP LOCKED`, so one node runs it.

use super::codec::{col, int_col, ms, ms_opt, ts_col, ts_col_opt};
use super::query::{execute, fetch_one, query, query_opt, ListQuery};
use crate::tasks::{DisabledEndpoint, EndpointResult, RecoveryTask, TaskStatus};
use crate::{Page, PageRequest, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, EndpointId, MsgId, TaskId};
use hookd_core::Timestamp;
use tokio_postgres::Row;

/// Streak updates for a batch of results. A row is written only when something changes:
/// a success ends an open streak, a failure opens one, or an old streak disables the
/// endpoint. `was_disabled` (read from the statement's snapshot) tells which endpoints this
/// statement disabled.
const NOTE_SQL: &str = "UPDATE endpoints e SET
        failing_since = CASE WHEN r.ok THEN NULL ELSE coalesce(e.failing_since, r.at) END,
        disabled = e.disabled OR (NOT r.ok AND coalesce(e.failing_since, r.at) <= $5),
        disabled_reason = CASE
            WHEN NOT e.disabled AND NOT r.ok AND coalesce(e.failing_since, r.at) <= $5
            THEN 'failing' ELSE e.disabled_reason END
    FROM (SELECT r.id, r.app_id, r.ok, r.at, x.disabled AS was_disabled
          FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[]) AS r(id, app_id, ok, at)
          JOIN endpoints x ON x.id = r.id AND x.app_id = r.app_id) r
    WHERE e.id = r.id AND e.app_id = r.app_id
      AND CASE WHEN r.ok THEN e.failing_since IS NOT NULL
          ELSE e.failing_since IS NULL OR (NOT e.disabled AND e.failing_since <= $5) END
    RETURNING e.app_id, e.id, e.failing_since, e.disabled AND NOT r.was_disabled";

pub(super) async fn note_results(
    client: &Client,
    results: &[EndpointResult],
    disable_failing_since: Timestamp,
) -> StoreResult<Vec<DisabledEndpoint>> {
    let ids: Vec<&str> = results.iter().map(|r| r.endpoint_id.as_str()).collect();
    let apps: Vec<&str> = results.iter().map(|r| r.app_id.as_str()).collect();
    let oks: Vec<bool> = results.iter().map(|r| r.ok).collect();
    let ats: Vec<i64> = results.iter().map(|r| ms(r.at)).collect();
    let rows = query(
        client,
        NOTE_SQL,
        &[&ids, &apps, &oks, &ats, &ms(disable_failing_since)],
        "recording endpoint failure streaks",
    )
    .await?;
    let mut disabled = Vec::new();
    for row in &rows {
        if col::<bool>(row, 3)? {
            disabled.push(DisabledEndpoint {
                app_id: AppId::from_trusted(col(row, 0)?),
                endpoint_id: EndpointId::from_trusted(col(row, 1)?),
                failing_since: ts_col(row, 2)?,
            });
        }
    }
    Ok(disabled)
}

pub(super) async fn failing_since(
    client: &Client,
    app: &AppId,
    endpoint: &EndpointId,
) -> StoreResult<Option<Timestamp>> {
    fetch_one(
        client,
        "SELECT failing_since FROM endpoints WHERE id = $1 AND app_id = $2",
        &[&endpoint.as_str(), &app.as_str()],
        "reading an endpoint's failure streak",
        |row| ts_col_opt(row, 0),
    )
    .await
}

const COLUMNS: &str = "id, app_id, endpoint_id, since, until, status::bigint, cursor, recovered,
    created_at, updated_at";

fn task_from_row(row: &Row) -> StoreResult<RecoveryTask> {
    let status: i64 = col(row, 5)?;
    Ok(RecoveryTask {
        id: TaskId::from_trusted(col(row, 0)?),
        app_id: AppId::from_trusted(col(row, 1)?),
        endpoint_id: EndpointId::from_trusted(col(row, 2)?),
        since: ts_col(row, 3)?,
        until: ts_col_opt(row, 4)?,
        status: TaskStatus::from_i64(status)
            .ok_or_else(|| super::codec::corrupt(5, "unknown task status"))?,
        cursor: col::<Option<String>>(row, 6)?.map(MsgId::from_trusted),
        recovered: int_col(row, 7)?,
        created_at: ts_col(row, 8)?,
        updated_at: ts_col(row, 9)?,
    })
}

pub(super) async fn insert_task(client: &Client, t: &RecoveryTask) -> StoreResult<()> {
    let (lo, hi) = crate::msg_id_range(Some(t.since), t.until);
    execute(
        client,
        "INSERT INTO recovery_tasks (id, app_id, endpoint_id, since, until, msg_lo, msg_hi,
         status, cursor, recovered, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &t.id.as_str(),
            &t.app_id.as_str(),
            &t.endpoint_id.as_str(),
            &ms(t.since),
            &ms_opt(t.until),
            &lo,
            &hi,
            &(t.status.as_i64() as i16),
            &t.cursor.as_ref().map(MsgId::as_str),
            &i64::try_from(t.recovered).unwrap_or(i64::MAX),
            &ms(t.created_at),
            &ms(t.updated_at),
        ],
        "inserting a recovery task",
    )
    .await?;
    Ok(())
}

pub(super) async fn get_task(client: &Client, id: &str) -> StoreResult<RecoveryTask> {
    fetch_one(
        client,
        &format!("SELECT {COLUMNS} FROM recovery_tasks WHERE id = $1"),
        &[&id],
        "reading a recovery task",
        task_from_row,
    )
    .await
}

pub(super) async fn list_tasks(
    client: &Client,
    page: &PageRequest,
) -> StoreResult<Page<RecoveryTask>> {
    ListQuery::new(&format!("SELECT {COLUMNS} FROM recovery_tasks"))
        .fetch_page(client, "id", page, task_from_row)
        .await
}

pub(super) async fn claim_task(
    client: &Client,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> StoreResult<Option<RecoveryTask>> {
    let row = query_opt(
        client,
        &format!(
            "UPDATE recovery_tasks SET lease_owner = $1, lease_until = $3
             WHERE id = (SELECT id FROM recovery_tasks WHERE status = 0
                 AND (lease_until IS NULL OR lease_until <= $2)
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        ),
        &[&owner, &ms(now), &ms(lease_until)],
        "claiming a recovery task",
    )
    .await?;
    row.as_ref().map(task_from_row).transpose()
}

/// One step of a held task, in one statement: pick the next failed deliveries past the
/// cursor, requeue them, advance the task, and notify the other nodes that work is due.
/// Data-modifying CTEs run even when unreferenced; the notification is referenced. Both
/// lower bounds on `msg_id` are index conditions of the partial failed-rows index, and the
/// limit applies inside the lateral scan (index order, no sort), so a step reads only the
/// rows it takes instead of rescanning or sorting the rest of the window.
const STEP_SQL: &str = "WITH t AS (
        SELECT id, app_id, endpoint_id, msg_lo, msg_hi, cursor FROM recovery_tasks
        WHERE id = $1 AND status = 0 AND lease_owner = $2 FOR UPDATE
    ), picked AS (
        SELECT p.msg_id, p.endpoint_id FROM t, LATERAL (
            SELECT d.msg_id, d.endpoint_id FROM message_destinations d
            WHERE d.endpoint_id = t.endpoint_id AND d.app_id = t.app_id AND d.status = 2
              AND d.msg_id >= t.msg_lo AND d.msg_id < t.msg_hi
              AND d.msg_id > coalesce(t.cursor, '')
            ORDER BY d.msg_id LIMIT $3 FOR UPDATE OF d
        ) p
    ), requeued AS (
        UPDATE message_destinations d SET status = 1, next_attempt_at = $4, trigger = 1,
            lease_owner = NULL,
            flow = CASE WHEN EXISTS (SELECT 1 FROM flow_endpoints f
                WHERE f.endpoint_id = d.endpoint_id FOR KEY SHARE) THEN 1 ELSE 0 END
        FROM picked WHERE d.msg_id = picked.msg_id AND d.endpoint_id = picked.endpoint_id
        RETURNING d.msg_id
    ), agg AS (
        SELECT count(*) AS n, max(msg_id) AS last FROM picked
    ), woke AS (
        SELECT pg_notify($6, '') FROM agg WHERE agg.n > 0
    )
    UPDATE recovery_tasks r SET cursor = coalesce(agg.last, r.cursor),
        recovered = r.recovered + agg.n,
        status = CASE WHEN agg.n < $3 THEN 1 ELSE 0 END,
        lease_owner = CASE WHEN agg.n < $3 THEN NULL ELSE r.lease_owner END,
        lease_until = $5, updated_at = $4
    FROM agg, t
    WHERE r.id = t.id
    RETURNING r.id, r.app_id, r.endpoint_id, r.since, r.until, r.status::bigint, r.cursor,
        r.recovered, r.created_at, r.updated_at, (SELECT count(*) FROM woke)";

pub(super) async fn step(
    client: &Client,
    id: &TaskId,
    owner: &str,
    limit: u32,
    now: Timestamp,
    lease_until: Timestamp,
    channel: &str,
) -> StoreResult<Option<RecoveryTask>> {
    let row = query_opt(
        client,
        STEP_SQL,
        &[
            &id.as_str(),
            &owner,
            &i64::from(limit),
            &ms(now),
            &ms(lease_until),
            &channel,
        ],
        "advancing a recovery task",
    )
    .await?;
    row.as_ref().map(task_from_row).transpose()
}
