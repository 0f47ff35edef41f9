//! Conversions between PostgreSQL values and hookd's types, and the mapping of driver and
//! pool errors to [`StoreError`]. Every decode is checked: a corrupt row becomes an error,
//! never a panic. Error texts name what failed, never the URL, a password or row data.

use crate::StoreError;
use deadpool_postgres::PoolError;
use hookd_core::model::{DeliveryStatus, TriggerType};
use hookd_core::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::error::Error as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

/// The unique constraints of the schema and the key each one reports as `Conflict`.
const CONFLICT_KEYS: &[(&str, &str)] = &[
    ("applications_uid_key", "uid"),
    ("endpoints_app_uid_key", "uid"),
    ("messages_app_event_id_key", "eventId"),
    ("event_types_name_key", "name"),
    ("ingest_sources_uid_key", "uid"),
];

/// Maps a driver error: a named unique violation to `Conflict`, a lost or refused
/// connection (and a statement timeout) to `Unavailable`, anything else to `Other` with
/// `what` as context.
pub(super) fn pg_error(err: tokio_postgres::Error, what: &'static str) -> StoreError {
    if let Some(db) = err.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            let key = db.constraint().and_then(|name| {
                CONFLICT_KEYS
                    .iter()
                    .find(|(constraint, _)| *constraint == name)
            });
            if let Some((_, key)) = key {
                return StoreError::Conflict(key);
            }
        }
        if *db.code() == SqlState::DISK_FULL {
            return StoreError::StorageFull(format!("{what}: {}", db.message()));
        }
        if is_unavailable_code(db.code()) {
            // The server's message (e.g. "terminating connection due to administrator
            // command") carries no data; the detail might, so it is left out.
            return StoreError::Unavailable(format!(
                "{what}: {} ({})",
                db.message(),
                db.code().code()
            ));
        }
    } else if is_connection_failure(&err) {
        return StoreError::Unavailable(format!("{what}: {}", short_reason(&err)));
    }
    StoreError::Other(anyhow::Error::new(err).context(what))
}

/// Maps a failure to get a pooled connection; all of them but a misconfigured pool mean
/// the database cannot be reached now.
pub(super) fn pool_error(err: PoolError) -> StoreError {
    use deadpool_postgres::TimeoutType;
    let reason = match err {
        PoolError::Timeout(TimeoutType::Wait) => "timed out waiting for a free database connection",
        PoolError::Timeout(TimeoutType::Create) => "timed out connecting to the database",
        PoolError::Timeout(TimeoutType::Recycle) => "timed out checking a pooled connection",
        PoolError::Closed => "the connection pool is closed",
        PoolError::Backend(e) => return pg_error(e, "connecting to the database"),
        PoolError::PostCreateHook(e) => {
            return StoreError::Unavailable(format!("preparing a new database connection: {e}"))
        }
        PoolError::NoRuntimeSpecified => {
            return StoreError::Other(anyhow::anyhow!("the connection pool has no runtime"))
        }
    };
    StoreError::Unavailable(reason.to_owned())
}

/// Connection exceptions (class 08), shutdowns and crash recovery (57P01..03), too many
/// connections (53300), out of memory (53200), `statement_timeout` (57014), a read-only
/// server (25006, e.g. a standby after a failover) and I/O errors (58030): the caller may
/// retry later.
fn is_unavailable_code(code: &SqlState) -> bool {
    let code = code.code();
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "53200" | "57014" | "25006" | "58030"
        )
}

/// Errors of the transport rather than of a statement. The driver does not expose its
/// error kinds, only their fixed texts and the I/O cause, so both are checked.
fn is_connection_failure(err: &tokio_postgres::Error) -> bool {
    const TRANSPORT: &[&str] = &[
        "error communicating with the server",
        "error connecting to server",
        "error performing TLS handshake",
        "timeout waiting for server",
        "connection closed",
    ];
    err.is_closed()
        || TRANSPORT.contains(&err.to_string().as_str())
        || err
            .source()
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
}

/// The driver's text plus its immediate cause (e.g. "connection refused").
pub(super) fn short_reason(err: &tokio_postgres::Error) -> String {
    match err.source() {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

/// Marks a value read from the database that hookd cannot use.
pub(super) fn corrupt(column: usize, why: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!(
        "the database holds an invalid value in column {column}: {why}"
    ))
}

/// Reads column `idx` as `T` (the SQL type must match exactly).
pub(super) fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| corrupt(idx, e))
}

/// Serialises a value stored as JSON text.
pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Other(anyhow::Error::new(e).context("encoding a JSON column")))
}

/// Like [`to_json`] for an optional value (`None` stays SQL NULL).
pub(super) fn to_json_opt<T: Serialize>(value: Option<&T>) -> Result<Option<String>, StoreError> {
    value.map(to_json).transpose()
}

/// Reads a JSON text column.
pub(super) fn json_col<T: DeserializeOwned>(row: &Row, idx: usize) -> Result<T, StoreError> {
    let text: &str = col(row, idx)?;
    serde_json::from_str(text).map_err(|e| corrupt(idx, e))
}

/// Reads a nullable JSON text column.
pub(super) fn json_col_opt<T: DeserializeOwned>(
    row: &Row,
    idx: usize,
) -> Result<Option<T>, StoreError> {
    let text: Option<&str> = col(row, idx)?;
    text.map(|t| serde_json::from_str(t).map_err(|e| corrupt(idx, e)))
        .transpose()
}

pub(super) fn ts_col(row: &Row, idx: usize) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_millis(col(row, idx)?))
}

/// A kept `traceparent`; one that no longer parses reads as none.
pub(super) fn trace_col(
    row: &Row,
    idx: usize,
) -> Result<Option<hookd_core::trace::TraceContext>, StoreError> {
    Ok(col::<Option<&str>>(row, idx)?.and_then(hookd_core::trace::TraceContext::parse_traceparent))
}

pub(super) fn ts_col_opt(row: &Row, idx: usize) -> Result<Option<Timestamp>, StoreError> {
    Ok(col::<Option<i64>>(row, idx)?.map(Timestamp::from_millis))
}

/// Reads a BIGINT column into a narrower or unsigned Rust type.
pub(super) fn int_col<T: TryFrom<i64>>(row: &Row, idx: usize) -> Result<T, StoreError> {
    let v: i64 = col(row, idx)?;
    T::try_from(v).map_err(|_| corrupt(idx, "integer out of range"))
}

/// Like [`int_col`] for a nullable column.
pub(super) fn int_col_opt<T: TryFrom<i64>>(row: &Row, idx: usize) -> Result<Option<T>, StoreError> {
    match col::<Option<i64>>(row, idx)? {
        None => Ok(None),
        Some(v) => T::try_from(v)
            .map(Some)
            .map_err(|_| corrupt(idx, "integer out of range")),
    }
}

pub(super) fn status_col(row: &Row, idx: usize) -> Result<DeliveryStatus, StoreError> {
    let v: i16 = col(row, idx)?;
    DeliveryStatus::from_i64(i64::from(v)).ok_or_else(|| corrupt(idx, "unknown status"))
}

pub(super) fn trigger_col(row: &Row, idx: usize) -> Result<TriggerType, StoreError> {
    let v: i16 = col(row, idx)?;
    TriggerType::from_i64(i64::from(v)).ok_or_else(|| corrupt(idx, "unknown trigger"))
}

/// A status as its SMALLINT code.
pub(super) fn status_code(status: DeliveryStatus) -> i16 {
    status as i16
}

/// A trigger as its SMALLINT code.
pub(super) fn trigger_code(trigger: TriggerType) -> i16 {
    trigger as i16
}

pub(super) fn ms(ts: Timestamp) -> i64 {
    ts.as_millis()
}

pub(super) fn ms_opt(ts: Option<Timestamp>) -> Option<i64> {
    ts.map(Timestamp::as_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_enums_and_the_pending_literal_in_sql() {
        // The queue SQL and the partial index spell Pending as `1`.
        assert_eq!(status_code(DeliveryStatus::Pending), 1);
        for s in [
            DeliveryStatus::Success,
            DeliveryStatus::Pending,
            DeliveryStatus::Fail,
            DeliveryStatus::Sending,
        ] {
            assert_eq!(i64::from(status_code(s)), s.as_i64());
        }
        for t in [TriggerType::Scheduled, TriggerType::Manual] {
            assert_eq!(i64::from(trigger_code(t)), t.as_i64());
        }
    }

    #[test]
    fn outages_and_timeouts_are_unavailable_other_states_are_not() {
        for code in [
            SqlState::CONNECTION_FAILURE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::QUERY_CANCELED,
        ] {
            assert!(is_unavailable_code(&code), "{code:?}");
        }
        for code in [SqlState::UNIQUE_VIOLATION, SqlState::SYNTAX_ERROR] {
            assert!(!is_unavailable_code(&code), "{code:?}");
        }
    }
}
