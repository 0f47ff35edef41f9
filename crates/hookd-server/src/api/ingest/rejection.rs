//! The rejection log: `GET /ingest/api/v1/source/{source_id}/rejection`, the requests a
//! source refused and why (see [`super::receive`]), newest first unless
//! `order=ascending`.

use super::source::load_source;
use crate::api::http::error::ApiResult;
use crate::api::http::extract::{ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::SourcePath;
use crate::api::ApiState;
use axum::extract::State;
use axum::Json;
use hookd_core::ids::{RejectionId, SourceId};
use hookd_core::model::IngestRejection;
use hookd_core::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One refused request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IngestRejectionOut)]
pub struct RejectionOut {
    id: RejectionId,
    source_id: SourceId,
    /// The stable reason code (`bad_signature`, `stale_timestamp`, ...).
    code: String,
    detail: String,
    /// The recorded headers (credentials left out), by lower-case name.
    headers: BTreeMap<String, String>,
    /// The first 4,096 bytes of the body, as text (bytes that are not UTF-8 shown as
    /// U+FFFD).
    body: String,
    /// The body's full size in bytes.
    body_size: u64,
    received_at: Timestamp,
}

impl From<IngestRejection> for RejectionOut {
    fn from(r: IngestRejection) -> Self {
        Self {
            body: String::from_utf8_lossy(&r.body).into_owned(),
            id: r.id,
            source_id: r.source_id,
            code: r.code,
            detail: r.detail,
            headers: r.headers.into_iter().collect(),
            body_size: r.body_size,
            received_at: r.received_at,
        }
    }
}

/// A page of refused requests (`ListResponse_IngestRejectionOut_`).
type RejectionList = ListResponse<RejectionOut>;

/// `GET /source/{source_id}/rejection`.
#[utoipa::path(get, path = "/ingest/api/v1/source/{source_id}/rejection", tag = "Ingest",
    operation_id = "hookd.ingest.source.rejection.list", summary = "List the requests a source refused, and why",
    params(SourcePath, PageParams),
    responses((status = 200, description = "A page of refused requests, newest first", body = RejectionList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiPath(source_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<RejectionOut>>> {
    let source = load_source(&state, &source_id).await?;
    let cursor = params.cursor(true)?;
    let page = state
        .store
        .list_ingest_rejections(&source.id, &cursor.request)
        .await?;
    Ok(Json(cursor.respond(
        page,
        |r| r.id.to_string(),
        RejectionOut::from,
    )))
}
