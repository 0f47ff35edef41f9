//! Svix-style list pagination over the store's keyset pages.
//!
//! A list answers `{data, iterator, prevIterator, done}`. Items are ordered by a key (ids,
//! which are time-ordered, or event type names), in the list's direction:
//! - `iterator` is the last item's key; passing it back returns the items after it, so
//!   following `iterator` until `done` walks every item exactly once.
//! - `prevIterator` is `-` followed by the first item's key; passing it back walks the
//!   opposite way from that key (and the page is reversed to the list's order again), so
//!   following `prevIterator` walks back page by page.
//! - An empty forward page keeps the iterator it was given, so a client polling for new
//!   items does not lose its place.

use super::error::ApiError;
use hookd_store::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most items per page.
pub const MAX_LIMIT: u32 = 250;
/// Longest iterator accepted (keys are ids or names of at most 256 characters).
const MAX_ITERATOR_LEN: usize = 300;

/// Sort order requested by the client.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    Ascending,
    Descending,
}

/// The pagination query parameters every list accepts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Most items to return (at most 250; default 50).
    #[param(minimum = 1)]
    pub limit: Option<u32>,
    /// The `iterator` (or `prevIterator`) of the previous page.
    #[param(max_length = 300)]
    pub iterator: Option<String>,
    /// The list's order (each list has its natural one).
    pub order: Option<Ordering>,
}

/// A page request, remembering whether it walks backwards from a `prevIterator`.
#[derive(Clone, Debug)]
pub struct Cursor {
    pub request: PageRequest,
    /// The request walks opposite to the list's order (a `-` iterator).
    reversed: bool,
    /// The key the client gave, without its `-`.
    given: Option<String>,
}

impl PageParams {
    /// Turns the parameters into a store request. `default_descending` is the list's
    /// natural order when `order` is absent.
    pub fn cursor(&self, default_descending: bool) -> Result<Cursor, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            return Err(ApiError::query("limit", "limit must be at least 1"));
        }
        let descending = match self.order {
            Some(order) => order == Ordering::Descending,
            None => default_descending,
        };
        let (reversed, given) = match self.iterator.as_deref().filter(|s| !s.is_empty()) {
            None => (false, None),
            Some(it) if it.len() > MAX_ITERATOR_LEN => {
                return Err(ApiError::query("iterator", "iterator is too long"))
            }
            Some(it) => match it.strip_prefix('-') {
                Some(key) if !key.is_empty() => (true, Some(key.to_owned())),
                Some(_) => return Err(ApiError::query("iterator", "iterator is malformed")),
                None => (false, Some(it.to_owned())),
            },
        };
        Ok(Cursor {
            request: PageRequest {
                limit: limit.min(MAX_LIMIT),
                after: given.clone(),
                descending: descending != reversed,
            },
            reversed,
            given,
        })
    }
}

/// One page of a list, as the SDKs expect it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub iterator: Option<String>,
    pub prev_iterator: Option<String>,
    pub done: bool,
}

/// Named like Svix's (`ListResponse_ApplicationOut_`), one component per item type.
impl<T: ToSchema> ToSchema for ListResponse<T> {
    fn name() -> Cow<'static, str> {
        format!("ListResponse_{}_", T::name()).into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

impl<T: ToSchema> PartialSchema for ListResponse<T> {
    fn schema() -> RefOr<Schema> {
        let nullable_string = |what: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some(what))
        };
        let item = Ref::from_schema_name(T::name());
        ObjectBuilder::new()
            .property("data", ArrayBuilder::new().items(item))
            .required("data")
            .property(
                "iterator",
                nullable_string("Pass it back as `iterator` for the next page."),
            )
            .required("iterator")
            .property(
                "prevIterator",
                nullable_string("Pass it back as `iterator` for the previous page."),
            )
            .required("prevIterator")
            .property(
                "done",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("No items after this page (for now).")),
            )
            .required("done")
            .into()
    }
}

impl Cursor {
    /// Builds the response for a store page fetched with [`Cursor::request`]; `key` gives an
    /// item's key and `out` its JSON form.
    pub fn respond<I, T>(
        &self,
        page: Page<I>,
        key: impl Fn(&I) -> String,
        out: impl FnMut(I) -> T,
    ) -> ListResponse<T> {
        let mut items = page.items;
        if self.reversed {
            items.reverse();
        }
        let first = items.first().map(&key);
        let last = items.last().map(&key);
        let (iterator, prev_iterator, done) = match (first, last) {
            (Some(first), Some(last)) => {
                // Walking back, there is always something forward: the page we came from.
                let done = !self.reversed && !page.has_more;
                (Some(last), Some(format!("-{first}")), done)
            }
            // Nothing before the given key: walking forward restarts from the beginning.
            _ if self.reversed => (None, None, false),
            _ => (
                self.given.clone(),
                self.given.as_ref().map(|k| format!("-{k}")),
                true,
            ),
        };
        ListResponse {
            data: items.into_iter().map(out).collect(),
            iterator,
            prev_iterator,
            done,
        }
    }
}

/// Pages through a list already held in memory (sorted ascending by `key`), for lists the
/// store returns whole.
pub fn page_in_memory<I>(
    mut items: Vec<I>,
    cursor: &Cursor,
    key: impl Fn(&I) -> String,
) -> Page<I> {
    let req = &cursor.request;
    if req.descending {
        items.reverse();
    }
    if let Some(after) = &req.after {
        items.retain(|i| {
            let k = key(i);
            if req.descending {
                k.as_str() < after.as_str()
            } else {
                k.as_str() > after.as_str()
            }
        });
    }
    let has_more = items.len() > req.limit as usize;
    items.truncate(req.limit as usize);
    Page { items, has_more }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: u32, iterator: Option<&str>) -> PageParams {
        PageParams {
            limit: Some(limit),
            iterator: iterator.map(str::to_owned),
            order: None,
        }
    }

    fn fetch(all: &[u32], p: &PageParams) -> ListResponse<u32> {
        let cursor = p.cursor(false).unwrap();
        let mut sorted: Vec<u32> = all.to_vec();
        sorted.sort();
        let page = page_in_memory(sorted, &cursor, |i| format!("{i:03}"));
        cursor.respond(page, |i| format!("{i:03}"), |i| i)
    }

    #[test]
    fn walks_forward_once_and_back() {
        let all: Vec<u32> = (1..=7).collect();
        let mut seen = Vec::new();
        let mut it = None;
        let mut pages = Vec::new();
        loop {
            let page = fetch(&all, &params(3, it.as_deref()));
            seen.extend(page.data.iter().copied());
            pages.push(page.data.clone());
            it = page.iterator.clone();
            if page.done {
                break;
            }
        }
        assert_eq!(seen, all);
        assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);

        let last = fetch(&all, &params(3, Some("006")));
        let back = fetch(&all, &params(3, last.prev_iterator.as_deref()));
        assert_eq!(back.data, vec![4, 5, 6]);
        assert!(!back.done);
        let back = fetch(&all, &params(3, back.prev_iterator.as_deref()));
        assert_eq!(back.data, vec![1, 2, 3]);
        let before_start = fetch(&all, &params(3, back.prev_iterator.as_deref()));
        assert!(before_start.data.is_empty());
        assert_eq!(before_start.iterator, None);
    }

    #[test]
    fn empty_end_page_keeps_position() {
        let page = fetch(&[1, 2], &params(3, Some("002")));
        assert!(page.data.is_empty() && page.done);
        assert_eq!(page.iterator.as_deref(), Some("002"));
    }

    #[test]
    fn rejects_bad_params() {
        assert!(params(0, None).cursor(false).is_err());
        assert!(params(3, Some("-")).cursor(false).is_err());
        assert_eq!(
            params(1000, None).cursor(true).unwrap().request.limit,
            MAX_LIMIT
        );
    }
}
