//! Where a new message goes: its application and that application's endpoints, read
//! through the fan-out cache ([`FanOutCache`]). `POST …/msg` and the ingest receive route
//! both resolve their target here.

use crate::api::app::{load_or_create_app, AppIn};
use crate::api::http::cache::{FanOut, FanOutCache};
use crate::api::http::error::ApiResult;
use crate::api::ApiState;
use std::sync::Arc;

/// The app (created on the fly when the request asks for it) and its endpoints, from the
/// cache when fresh.
pub(crate) async fn fan_out(
    state: &ApiState,
    cache: &FanOutCache,
    id_or_uid: &str,
    create: Option<AppIn>,
) -> ApiResult<Arc<FanOut>> {
    cache
        .get_or_load(id_or_uid, || async {
            let app = load_or_create_app(state, id_or_uid, create).await?;
            let endpoints = state.store.all_endpoints(&app.id).await?;
            Ok(Arc::new(FanOut { app, endpoints }))
        })
        .await
}
