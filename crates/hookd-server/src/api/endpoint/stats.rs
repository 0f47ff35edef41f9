//! An endpoint's deliveries per status (`success`, `pending`, `fail`, `sending`, and
//! `canceled`, always 0 in hookd):
//! - `GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats` (Svix's): for messages created
//!   in `[since, until)` (RFC 3339, both optional);
//! - `GET …/stats/series` (hookd's own): the same counts for `buckets` equal periods of
//!   `[since, until)` in one call, oldest first, for a chart (the portal's health chart).

use super::load_endpoint;
use crate::api::app::load_app;
use crate::api::http::error::ApiError;
use crate::api::http::error::ApiResult;
use crate::api::http::extract::{parse_time, ApiPath, ApiQuery};
use crate::api::http::paths::EndpointPath;
use crate::api::ApiState;
use axum::extract::State;
use axum::Json;
use hookd_core::Timestamp;
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

impl From<hookd_store::EndpointStats> for StatsOut {
    fn from(s: hookd_store::EndpointStats) -> Self {
        StatsOut {
            success: s.success,
            pending: s.pending,
            fail: s.fail,
            sending: s.sending,
            canceled: 0,
        }
    }
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
    Ok(Json(s.into()))
}

/// Most periods one series may ask for.
const MAX_BUCKETS: u32 = 48;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// Start of the first period (RFC 3339) [default: 24 hours before `until`].
    since: Option<String>,
    /// End of the last period (RFC 3339, after `since`, at most 31 days after it)
    /// [default: now].
    until: Option<String>,
    /// How many equal periods, 1 to 48 [default: 12].
    buckets: Option<u32>,
}

/// One period of a series.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndpointStatsPeriod)]
pub struct PeriodOut {
    since: Timestamp,
    until: Timestamp,
    #[serde(flatten)]
    counts: StatsOut,
}

/// `EndpointStatsSeries`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndpointStatsSeries)]
pub struct SeriesOut {
    data: Vec<PeriodOut>,
}

/// `GET /app/{app_id}/endpoint/{endpoint_id}/stats/series`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats/series", tag = "Endpoint",
    operation_id = "hookd.endpoint.get-stats-series", summary = "Count an endpoint's deliveries by status over equal periods",
    description = "hookd's own: the counts of `GET …/stats` for `buckets` equal periods of `[since, until)`, oldest first, in one call.",
    params(EndpointPath, SeriesParams),
    responses((status = 200, description = "One entry per period, oldest first", body = SeriesOut)))]
pub async fn series(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<SeriesParams>,
) -> ApiResult<Json<SeriesOut>> {
    let until = parse_time("until", params.until.as_deref())?.unwrap_or_else(Timestamp::now);
    let since = parse_time("since", params.since.as_deref())?
        .unwrap_or_else(|| until.plus_millis(-86_400_000));
    let span = until.as_millis() - since.as_millis();
    if span <= 0 || span > 31 * 86_400_000 {
        return Err(ApiError::query(
            "until",
            "until must be after since, by at most 31 days",
        ));
    }
    let buckets = params.buckets.unwrap_or(12);
    if !(1..=MAX_BUCKETS).contains(&buckets) {
        return Err(ApiError::query(
            "buckets",
            format!("buckets must be between 1 and {MAX_BUCKETS}"),
        ));
    }
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    let step = span / i64::from(buckets);
    let mut data = Vec::with_capacity(buckets as usize);
    for i in 0..i64::from(buckets) {
        let from = since.plus_millis(i * step);
        let to = if i + 1 == i64::from(buckets) {
            until
        } else {
            since.plus_millis((i + 1) * step)
        };
        let counts = state
            .store
            .endpoint_stats(&app.id, &ep.id, Some(from), Some(to))
            .await?;
        data.push(PeriodOut {
            since: from,
            until: to,
            counts: counts.into(),
        });
    }
    Ok(Json(SeriesOut { data }))
}
