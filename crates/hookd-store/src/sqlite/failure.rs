//! Failure handling on SQLite: the endpoints' failure streaks (`endpoints.failing_since`)
//! and the `recovery_tasks` table. Every write runs on the single writer, so a task step and
//! a claim never race.

use super::codec::{ms, ms_opt, ts_col, ts_col_opt, SqlContext};
use super::query::ListQuery;
use crate::tasks::{DisabledEndpoint, EndpointResult, RecoveryTask, TaskStatus};
use crate::{Page, PageRequest, StoreError, StoreResult};
use hookd_core::ids::{AppId, EndpointId, MsgId, TaskId};
use hookd_core::Timestamp;
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Updates the streaks, then disables the listed endpoints whose streak is too old. A row
/// is written only when something changes (a streak opens or ends, or an endpoint is
/// disabled), so a failing endpoint's failures cost a read each.
pub(super) fn note_results(
    conn: &Connection,
    results: &[EndpointResult],
    disable_failing_since: Timestamp,
) -> StoreResult<Vec<DisabledEndpoint>> {
    let mut clear = conn
        .prepare_cached(
            "UPDATE endpoints SET failing_since = NULL
             WHERE id = ?1 AND app_id = ?2 AND failing_since IS NOT NULL",
        )
        .ctx("preparing the streak reset")?;
    let mut fail = conn
        .prepare_cached(
            "UPDATE endpoints SET failing_since = coalesce(failing_since, ?3)
             WHERE id = ?1 AND app_id = ?2
               AND (failing_since IS NULL OR (disabled = 0 AND failing_since <= ?4))
             RETURNING failing_since <= ?4 AND disabled = 0, failing_since",
        )
        .ctx("preparing the streak update")?;
    let mut disable = conn
        .prepare_cached(
            "UPDATE endpoints SET disabled = 1, disabled_reason = 'failing'
             WHERE id = ?1 AND app_id = ?2",
        )
        .ctx("preparing the auto-disable")?;
    let mut disabled = Vec::new();
    for r in results {
        let (ep, app) = (r.endpoint_id.as_str(), r.app_id.as_str());
        if r.ok {
            clear
                .execute(params![ep, app])
                .ctx("ending a failure streak")?;
            continue;
        }
        let row: Option<(bool, i64)> = fail
            .query_row(
                params![ep, app, ms(r.at), ms(disable_failing_since)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .ctx("recording a failure streak")?;
        if let Some((true, since)) = row {
            disable
                .execute(params![ep, app])
                .ctx("disabling a failing endpoint")?;
            disabled.push(DisabledEndpoint {
                app_id: r.app_id.clone(),
                endpoint_id: r.endpoint_id.clone(),
                failing_since: Timestamp::from_millis(since),
            });
        }
    }
    Ok(disabled)
}

pub(super) fn failing_since(
    conn: &Connection,
    app: &AppId,
    endpoint: &EndpointId,
) -> StoreResult<Option<Timestamp>> {
    let row: Option<Option<i64>> = conn
        .prepare_cached("SELECT failing_since FROM endpoints WHERE id = ?1 AND app_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![endpoint.as_str(), app.as_str()], |r| r.get(0))
                .optional()
        })
        .ctx("reading an endpoint's failure streak")?;
    match row {
        None => Err(StoreError::NotFound),
        Some(since) => Ok(since.map(Timestamp::from_millis)),
    }
}

const COLUMNS: &str = "id, app_id, endpoint_id, since, until, status, cursor, recovered,
    created_at, updated_at";

fn task_from_row(row: &Row<'_>) -> rusqlite::Result<RecoveryTask> {
    let status: i64 = row.get(5)?;
    let status = TaskStatus::from_i64(status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(5, Type::Integer, "unknown task status".into())
    })?;
    Ok(RecoveryTask {
        id: TaskId::from_trusted(row.get(0)?),
        app_id: AppId::from_trusted(row.get(1)?),
        endpoint_id: EndpointId::from_trusted(row.get(2)?),
        since: ts_col(row, 3)?,
        until: ts_col_opt(row, 4)?,
        status,
        cursor: row.get::<_, Option<String>>(6)?.map(MsgId::from_trusted),
        recovered: u64::try_from(row.get::<_, i64>(7)?).unwrap_or(0),
        created_at: ts_col(row, 8)?,
        updated_at: ts_col(row, 9)?,
    })
}

pub(super) fn insert_task(conn: &Connection, t: &RecoveryTask) -> StoreResult<()> {
    let (lo, hi) = crate::msg_id_range(Some(t.since), t.until);
    conn.prepare_cached(
        "INSERT INTO recovery_tasks (id, app_id, endpoint_id, since, until, msg_lo, msg_hi,
         status, cursor, recovered, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            t.id.as_str(),
            t.app_id.as_str(),
            t.endpoint_id.as_str(),
            ms(t.since),
            ms_opt(t.until),
            lo,
            hi,
            t.status.as_i64(),
            t.cursor.as_ref().map(MsgId::as_str),
            i64::try_from(t.recovered).unwrap_or(i64::MAX),
            ms(t.created_at),
            ms(t.updated_at)
        ])
    })
    .ctx("inserting a recovery task")?;
    Ok(())
}

pub(super) fn get_task(conn: &Connection, id: &str) -> StoreResult<RecoveryTask> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM recovery_tasks WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], task_from_row).optional())
    .ctx("reading a recovery task")?
    .ok_or(StoreError::NotFound)
}

pub(super) fn list_tasks(conn: &Connection, page: &PageRequest) -> StoreResult<Page<RecoveryTask>> {
    ListQuery::new(&format!("SELECT {COLUMNS} FROM recovery_tasks")).fetch_page(
        conn,
        "id",
        page,
        task_from_row,
    )
}

pub(super) fn claim_task(
    conn: &Connection,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> StoreResult<Option<RecoveryTask>> {
    conn.prepare_cached(&format!(
        "UPDATE recovery_tasks SET lease_owner = ?1, lease_until = ?3
         WHERE id = (SELECT id FROM recovery_tasks WHERE status = 0
             AND (lease_until IS NULL OR lease_until <= ?2) ORDER BY id LIMIT 1)
         RETURNING {COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(params![owner, ms(now), ms(lease_until)], task_from_row)
            .optional()
    })
    .ctx("claiming a recovery task")
}

/// Failed deliveries of the endpoint from the window's start (first step) or past the
/// cursor (later steps), in message id order. The lower bound is one range on the
/// `(endpoint_id, msg_id)` index, so a step never rescans what earlier steps passed.
const PICK_FIRST_SQL: &str = "SELECT msg_id FROM message_destinations
    WHERE endpoint_id = ?1 AND app_id = ?2 AND status = 2 AND msg_id >= ?3 AND msg_id < ?4
    ORDER BY msg_id LIMIT ?5";
const PICK_NEXT_SQL: &str = "SELECT msg_id FROM message_destinations
    WHERE endpoint_id = ?1 AND app_id = ?2 AND status = 2 AND msg_id > ?3 AND msg_id < ?4
    ORDER BY msg_id LIMIT ?5";

pub(super) fn step(
    conn: &Connection,
    id: &TaskId,
    owner: &str,
    limit: u32,
    now: Timestamp,
    lease_until: Timestamp,
) -> StoreResult<Option<RecoveryTask>> {
    type Held = (String, String, String, String, Option<String>);
    let held: Option<Held> = conn
        .prepare_cached(
            "SELECT app_id, endpoint_id, msg_lo, msg_hi, cursor FROM recovery_tasks
             WHERE id = ?1 AND status = 0 AND lease_owner = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![id.as_str(), owner], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()
        })
        .ctx("reading a recovery task")?;
    let Some((app, endpoint, lo, hi, cursor)) = held else {
        return Ok(None);
    };
    let (pick, from) = match &cursor {
        Some(c) => (PICK_NEXT_SQL, c),
        None => (PICK_FIRST_SQL, &lo),
    };
    let picked: Vec<String> = conn
        .prepare_cached(pick)
        .and_then(|mut s| {
            s.query_map(params![endpoint, app, from, hi, limit], |r| r.get(0))?
                .collect()
        })
        .ctx("selecting failed deliveries to recover")?;
    let mut requeue = conn
        .prepare_cached(
            "UPDATE message_destinations SET status = 1, next_attempt_at = ?3, trigger = 1,
             lease_owner = NULL,
             flow = EXISTS (SELECT 1 FROM flow_endpoints f WHERE f.endpoint_id = ?2)
             WHERE msg_id = ?1 AND endpoint_id = ?2 AND status = 2",
        )
        .ctx("preparing the recovery requeue")?;
    for msg in &picked {
        requeue
            .execute(params![msg, endpoint, ms(now)])
            .ctx("requeueing a failed delivery")?;
    }
    let done = picked.len() < usize::try_from(limit).unwrap_or(usize::MAX);
    let status = if done {
        TaskStatus::Finished
    } else {
        TaskStatus::Running
    };
    conn.prepare_cached(&format!(
        "UPDATE recovery_tasks SET cursor = coalesce(?2, cursor), recovered = recovered + ?3,
         status = ?4, lease_until = ?5, updated_at = ?6,
         lease_owner = CASE WHEN ?4 = 0 THEN lease_owner END
         WHERE id = ?1 RETURNING {COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(
            params![
                id.as_str(),
                picked.last(),
                picked.len() as i64,
                status.as_i64(),
                ms(lease_until),
                ms(now)
            ],
            task_from_row,
        )
        .optional()
    })
    .ctx("advancing a recovery task")
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    #[test]
    fn recovery_steps_scan_the_endpoint_index_from_the_cursor() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut conn).unwrap();
        for sql in [super::PICK_FIRST_SQL, super::PICK_NEXT_SQL] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params!["ep", "app", "msg_a", "msg_z", 10], |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(plan.contains("destinations_by_endpoint"), "{plan}");
            assert!(plan.contains("msg_id>?"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
