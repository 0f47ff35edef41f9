//! An endpoint's signing key: `GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret` and
//! `POST …/secret/rotate`.

use super::body::signing_key;
use super::{changed, load_endpoint};
use crate::api::app::load_app;
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiPath, OptionalJson};
use crate::api::http::paths::EndpointPath;
use crate::api::ApiState;
use axum::extract::State;
use axum::{Extension, Json};
use hookd_core::Timestamp;
use hookd_delivery::EndpointChange;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"key": ...}`: what receivers verify with, the `whsec_` secret or, for an ed25519
/// endpoint, its `whpk_` public key (the `whsk_` secret key never leaves hookd).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndpointSecretOut)]
pub struct SecretOut {
    key: String,
}

/// The body of a rotation; both fields optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EndpointSecretRotateIn)]
pub struct RotateIn {
    /// The new key; generated when absent or null.
    key: Option<String>,
    /// How long the replaced key keeps signing, 0 to 7 days [default: the configured
    /// `secret_grace_period`, 24 h].
    grace_period_seconds: Option<u32>,
    /// hookd extension: `"hmac"` (default) or `"ed25519"`, the kind of key generated when
    /// `key` is absent.
    key_type: Option<String>,
}

/// Longest grace period a rotation may ask for (as Svix).
const MAX_GRACE_SECONDS: u32 = 7 * 86_400;

/// `POST /app/{app_id}/endpoint/{endpoint_id}/secret/rotate`: 200 `{"key": "<new>"}` (the
/// new `whsec_` secret, or the new `whpk_` public key of an ed25519 key).
/// The replaced key keeps signing (a second signature in `webhook-signature`) until the
/// grace period ends; at most `MAX_PREVIOUS_SECRETS` old keys are kept.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = "Endpoint",
    operation_id = "v1.endpoint.rotate-secret", summary = "Rotate an endpoint's signing secret",
    params(EndpointPath), request_body(content = Option<RotateIn>, description = "Optional: an empty body generates a new key"),
    responses((status = 200, description = "Rotated; the new key (the old one keeps signing for the grace period)", body = SecretOut)))]
pub async fn rotate(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    // Every field is optional, so an empty body means the defaults.
    OptionalJson(body): OptionalJson<RotateIn>,
) -> ApiResult<Json<SecretOut>> {
    let new = signing_key(body.key, body.key_type, "key")?;
    let grace = match body.grace_period_seconds {
        Some(s) if s > MAX_GRACE_SECONDS => {
            return Err(ApiError::field(
                "gracePeriodSeconds",
                format!("gracePeriodSeconds must be between 0 and {MAX_GRACE_SECONDS}"),
            ))
        }
        Some(s) => i64::from(s) * 1000,
        None => i64::try_from(state.secret_grace.as_millis()).unwrap_or(i64::MAX),
    };
    let app = load_app(&state, &app_id).await?;
    let mut ep = load_endpoint(&state, &app.id, &ep_id).await?;
    let now = Timestamp::now();
    ep.rotate_secret(new, now, now.plus_millis(grace));
    ep.updated_at = now;
    state
        .store
        .update_endpoint(&ep)
        .await
        .map_err(|e| ApiError::from_store("endpoint", e))?;
    changed(&state, &cache, &app, &ep, EndpointChange::SecretRotated).await;
    Ok(Json(SecretOut {
        key: ep.secret.verification_key(),
    }))
}

/// `GET /app/{app_id}/endpoint/{endpoint_id}/secret`: `{"key": "whsec_..."}`, or
/// `{"key": "whpk_..."}` for an ed25519 endpoint.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = "Endpoint",
    operation_id = "v1.endpoint.get-secret", summary = "Get an endpoint's signing secret",
    params(EndpointPath),
    responses((status = 200, description = "`whsec_...`, or `whpk_...` (the public key) for an ed25519 endpoint", body = SecretOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    Ok(Json(SecretOut {
        key: ep.secret.verification_key(),
    }))
}
