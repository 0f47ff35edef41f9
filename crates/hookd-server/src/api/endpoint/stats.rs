//! `GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats`: the endpoint's deliveries per
//! status (`success`, `pending`, `fail`, `sending`, and `canceled`, always 0 in hookd) for
//! messages created in `[since, until)` (RFC 3339, both optional).

use super::load_endpoint;
use crate::api::app::load_app;
use crate::api::http::error::ApiResult;
use crate::api::http::extract::{parse_time, ApiPath, ApiQuery};
use crate::api::http::paths::EndpointPath;
use crate::api::ApiState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    since: Option<String>,
    until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndpointStats)]
pub struct StatsOut {
    success: u64,
    pending: u64,
    fail: u64,
    sending: u64,
    canceled: u64,
}

/// `GET /app/{app_id}/endpoint/{endpoint_id}/stats`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = "Endpoint",
    operation_id = "v1.endpoint.get-stats", summary = "Count an endpoint's deliveries by status",
    params(EndpointPath, StatsParams),
    responses((status = 200, description = "Deliveries by status", body = StatsOut)))]
pub async fn stats(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> ApiResult<Json<StatsOut>> {
    let since = parse_time("since", params.since.as_deref())?;
    let until = parse_time("until", params.until.as_deref())?;
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    let s = state
        .store
        .endpoint_stats(&app.id, &ep.id, since, until)
        .await?;
    Ok(Json(StatsOut {
        success: s.success,
        pending: s.pending,
        fail: s.fail,
        sending: s.sending,
        canceled: 0,
    }))
}
