//! Conversions between SQLite values and hookd's types, and the mapping of SQLite errors
//! to [`StoreError`]. Every decode is checked: a corrupt row becomes an error, never a panic.

use crate::StoreError;
use hookd_core::model::{DeliveryStatus, TriggerType};
use hookd_core::Timestamp;
use rusqlite::types::Type;
use rusqlite::{ErrorCode, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Adds what was being done to a SQLite error: a failure of the storage itself (see
/// [`storage_error`]) as that, anything else as `StoreError::Other`.
pub(super) trait SqlContext<T> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| {
            storage_error(&e, what)
                .unwrap_or_else(|| StoreError::Other(anyhow::Error::new(e).context(what)))
        })
    }
}

/// A failure of the storage under the database rather than of the call: no space left
/// (`SQLITE_FULL`, which SQLite reports for `ENOSPC`) is `StorageFull`; an I/O error, a
/// read-only or unopenable file, a lock held past the busy timeout or memory exhausted is
/// `Unavailable`. The text is SQLite's, which names the failure, never row data.
pub(super) fn storage_error(err: &rusqlite::Error, what: &str) -> Option<StoreError> {
    let rusqlite::Error::SqliteFailure(code, _) = err else {
        return None;
    };
    let why = format!("{what}: {}", rusqlite::ffi::code_to_str(code.extended_code));
    match code.code {
        ErrorCode::DiskFull => Some(StoreError::StorageFull(why)),
        ErrorCode::SystemIoFailure
        | ErrorCode::ReadOnly
        | ErrorCode::CannotOpen
        | ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::OutOfMemory => Some(StoreError::Unavailable(why)),
        _ => None,
    }
}

/// [`storage_error`] for the first SQLite error in `err`'s cause chain.
pub(super) fn storage_error_in(err: &anyhow::Error, what: &str) -> Option<StoreError> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<rusqlite::Error>())
        .and_then(|e| storage_error(e, what))
}

/// Maps a unique-constraint failure on `column` (as SQLite names it, `table.column`) to
/// `Conflict(key)`, anything else to `Other` with `what` as context.
pub(super) fn unique_or_other(
    err: rusqlite::Error,
    column: &str,
    key: &'static str,
    what: &'static str,
) -> StoreError {
    if let rusqlite::Error::SqliteFailure(code, Some(msg)) = &err {
        if code.code == ErrorCode::ConstraintViolation && msg.contains(column) {
            return StoreError::Conflict(key);
        }
    }
    storage_error(&err, what)
        .unwrap_or_else(|| StoreError::Other(anyhow::Error::new(err).context(what)))
}

fn corrupt(idx: usize, ty: Type, why: impl Into<String>) -> rusqlite::Error {
    let why: String = why.into();
    rusqlite::Error::FromSqlConversionFailure(idx, ty, why.into())
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
pub(super) fn json_col<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(idx, Type::Text, e.to_string()))
}

/// Reads a nullable JSON text column.
pub(super) fn json_col_opt<T: DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt(idx, Type::Text, e.to_string())))
        .transpose()
}

pub(super) fn ts_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_millis(row.get(idx)?))
}

pub(super) fn ts_col_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(idx)?.map(Timestamp::from_millis))
}

/// A kept `traceparent`; one that no longer parses reads as none.
pub(super) fn trace_col(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<hookd_core::trace::TraceContext>> {
    Ok(row
        .get_ref(idx)?
        .as_str_or_null()?
        .and_then(hookd_core::trace::TraceContext::parse_traceparent))
}

pub(super) fn status_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<DeliveryStatus> {
    let v: i64 = row.get(idx)?;
    DeliveryStatus::from_i64(v).ok_or_else(|| corrupt(idx, Type::Integer, "unknown status"))
}

pub(super) fn trigger_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<TriggerType> {
    let v: i64 = row.get(idx)?;
    TriggerType::from_i64(v).ok_or_else(|| corrupt(idx, Type::Integer, "unknown trigger"))
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
    use rusqlite::ffi;

    fn failure(extended: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(extended), None)
    }

    #[test]
    fn storage_failures_map_to_their_store_errors() {
        let full = storage_error(&failure(ffi::SQLITE_FULL), "committing");
        assert!(
            matches!(&full, Some(StoreError::StorageFull(why)) if why.starts_with("committing: ")),
            "{full:?}"
        );
        for code in [
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_IOERR_SHMSIZE,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_BUSY,
        ] {
            let mapped = storage_error(&failure(code), "writing");
            assert!(
                matches!(mapped, Some(StoreError::Unavailable(_))),
                "{code}: {mapped:?}"
            );
        }
        assert!(storage_error(&failure(ffi::SQLITE_CONSTRAINT_UNIQUE), "x").is_none());
        assert!(storage_error(&rusqlite::Error::QueryReturnedNoRows, "x").is_none());
        // Through `ctx`, and found in an anyhow chain.
        let err: rusqlite::Result<()> = Err(failure(ffi::SQLITE_FULL));
        assert!(matches!(
            err.ctx("inserting"),
            Err(StoreError::StorageFull(_))
        ));
        let chained = anyhow::Error::new(failure(ffi::SQLITE_FULL)).context("committing a batch");
        assert!(matches!(
            storage_error_in(&chained, "writing"),
            Some(StoreError::StorageFull(_))
        ));
        // Anything else stays `Other`.
        let err: rusqlite::Result<()> = Err(failure(ffi::SQLITE_MISMATCH));
        assert!(matches!(err.ctx("inserting"), Err(StoreError::Other(_))));
    }
}
