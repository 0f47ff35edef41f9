//! Running statements on a pooled connection, and a small builder for the filtered,
//! keyset-paged list queries.
//!
//! Every statement goes through the connection's prepared-statement cache, so a hot query
//! is parsed and planned once per connection. Filters are appended as `AND` clauses with
//! numbered parameters, so each combination of filters is one SQL text in that cache.

use super::codec::pg_error;
use crate::{Page, PageRequest, StoreResult};
use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// A statement parameter.
pub(super) type Param<'a> = &'a (dyn ToSql + Sync);

/// Runs `sql` and returns its rows.
pub(super) async fn query(
    client: &Client,
    sql: &str,
    params: &[Param<'_>],
    what: &'static str,
) -> StoreResult<Vec<Row>> {
    let stmt = client
        .prepare_cached(sql)
        .await
        .map_err(|e| pg_error(e, what))?;
    client
        .query(&stmt, params)
        .await
        .map_err(|e| pg_error(e, what))
}

/// Runs `sql` and returns its first row, if any.
pub(super) async fn query_opt(
    client: &Client,
    sql: &str,
    params: &[Param<'_>],
    what: &'static str,
) -> StoreResult<Option<Row>> {
    Ok(query(client, sql, params, what).await?.into_iter().next())
}

/// Runs `sql` and decodes its first row; `NotFound` when there is none.
pub(super) async fn fetch_one<T>(
    client: &Client,
    sql: &str,
    params: &[Param<'_>],
    what: &'static str,
    decode: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<T> {
    match query_opt(client, sql, params, what).await? {
        Some(row) => decode(&row),
        None => Err(crate::StoreError::NotFound),
    }
}

/// Runs `sql` and returns how many rows it changed.
pub(super) async fn execute(
    client: &Client,
    sql: &str,
    params: &[Param<'_>],
    what: &'static str,
) -> StoreResult<u64> {
    let stmt = client
        .prepare_cached(sql)
        .await
        .map_err(|e| pg_error(e, what))?;
    client
        .execute(&stmt, params)
        .await
        .map_err(|e| pg_error(e, what))
}

/// A `SELECT … WHERE …` under construction.
pub(super) struct ListQuery {
    sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl ListQuery {
    /// Starts from `select` (a `SELECT … FROM …` without `WHERE`).
    pub(super) fn new(select: &str) -> Self {
        let mut sql = String::with_capacity(select.len() + 256);
        sql.push_str(select);
        sql.push_str(" WHERE TRUE");
        Self {
            sql,
            params: Vec::new(),
        }
    }

    /// Adds `AND <clause>`, where `clause` holds exactly one `$` standing for `value`
    /// (numbered here, so clauses need not know their position).
    pub(super) fn and<T: ToSql + Sync + Send + 'static>(
        &mut self,
        clause: &str,
        value: T,
    ) -> &mut Self {
        self.params.push(Box::new(value));
        let placeholder = format!("${}", self.params.len());
        self.sql.push_str(" AND ");
        self.sql.push_str(&clause.replacen('$', &placeholder, 1));
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

    /// Pages by `key` (a unique, bytewise-ordered column) and runs the query, returning at
    /// most `page.limit` items and whether more exist beyond them.
    pub(super) async fn fetch_page<T>(
        mut self,
        client: &Client,
        key: &str,
        page: &PageRequest,
        map: impl FnMut(&Row) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        let (cmp, order) = if page.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = &page.after {
            self.and(&format!("{key} {cmp} $"), after.clone());
        }
        self.params.push(Box::new(i64::from(page.limit) + 1));
        self.sql.push_str(&format!(
            " ORDER BY {key} {order} LIMIT ${}",
            self.params.len()
        ));
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let mut items = self.fetch_all(client, map).await?;
        let has_more = items.len() > limit;
        items.truncate(limit);
        Ok(Page { items, has_more })
    }

    /// Runs the query as built and returns every row.
    pub(super) async fn fetch_all<T>(
        self,
        client: &Client,
        map: impl FnMut(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let params: Vec<Param<'_>> = self
            .params
            .iter()
            .map(|p| p.as_ref() as Param<'_>)
            .collect();
        let rows = query(client, &self.sql, &params, "running a list query").await?;
        rows.iter().map(map).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ListQuery;

    #[test]
    fn clauses_get_numbered_parameters_in_order() {
        let mut q = ListQuery::new("SELECT id FROM messages");
        q.and("app_id = $", "app".to_owned())
            .and_raw("NOT archived")
            .and("created_at < $", 5_i64);
        assert_eq!(
            q.sql,
            "SELECT id FROM messages WHERE TRUE AND app_id = $1 AND NOT archived \
             AND created_at < $2"
        );
        assert_eq!(q.params.len(), 2);
    }
}
