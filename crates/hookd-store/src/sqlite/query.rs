//! A small builder for the filtered, keyset-paged list queries.
//!
//! Filters are appended as `AND` clauses with positional parameters, so each combination
//! of filters is one SQL text and lands once in the prepared-statement cache.

use super::codec::SqlContext;
use crate::{Page, PageRequest, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, Row};

/// A `SELECT … WHERE …` under construction.
pub(super) struct ListQuery {
    sql: String,
    params: Vec<Value>,
}

impl ListQuery {
    /// Starts from `select` (a `SELECT … FROM …` without `WHERE`).
    pub(super) fn new(select: &str) -> Self {
        let mut sql = String::with_capacity(select.len() + 256);
        sql.push_str(select);
        sql.push_str(" WHERE 1 = 1");
        Self {
            sql,
            params: Vec::new(),
        }
    }

    /// Adds `AND <clause>`, where `clause` holds exactly one `?` bound to `value`.
    pub(super) fn and(&mut self, clause: &str, value: impl Into<Value>) -> &mut Self {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
        self.params.push(value.into());
        self
    }

    /// Adds `AND <clause>` with no parameter.
    pub(super) fn and_raw(&mut self, clause: &str) -> &mut Self {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
        self
    }

    /// Appends `ORDER BY <key>` (for [`fetch_all`](Self::fetch_all); pages order themselves).
    pub(super) fn order_by(&mut self, key: &str) -> &mut Self {
        self.sql.push_str(" ORDER BY ");
        self.sql.push_str(key);
        self
    }

    /// Pages by `key` (a unique, ordered column) and runs the query, returning at most
    /// `page.limit` items and whether more exist beyond them.
    pub(super) fn fetch_page<T>(
        mut self,
        conn: &Connection,
        key: &str,
        page: &PageRequest,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Page<T>> {
        let (cmp, order) = if page.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = &page.after {
            self.and(&format!("{key} {cmp} ?"), after.clone());
        }
        self.sql
            .push_str(&format!(" ORDER BY {key} {order} LIMIT ?"));
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        self.params.push(Value::Integer(i64::from(page.limit) + 1));
        let mut items = self.fetch_all(conn, map)?;
        let has_more = items.len() > limit;
        items.truncate(limit);
        Ok(Page { items, has_more })
    }

    /// Runs the query as built and returns every row.
    pub(super) fn fetch_all<T>(
        self,
        conn: &Connection,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = conn
            .prepare_cached(&self.sql)
            .ctx("preparing a list query")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(self.params), map)
            .ctx("running a list query")?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .ctx("reading a list query")
    }
}

/// Encodes a list of strings as a JSON array, for `IN (SELECT value FROM json_each(?))`.
pub(super) fn json_list(items: &[impl AsRef<str>]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned())
}
