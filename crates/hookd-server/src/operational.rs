//! Operational webhooks' plumbing on the server side: the internal application (uid
//! [`APP_UID`]) whose one endpoint is the operator's URL. The delivery engine turns
//! operational events into messages of this application, so they are signed, retried and
//! logged like every delivery. The application is hidden from `GET /api/v1/app`.

use crate::config::OperationalWebhook;
use anyhow::Context;
use hookd_core::ids::AppId;
use hookd_core::model::Endpoint;
use hookd_core::model::{Application, Metadata};
use hookd_core::Timestamp;
use hookd_delivery::operational::OperationalTarget;
use hookd_store::{Store, StoreError};

/// The uid of the internal application.
pub const APP_UID: &str = hookd_core::model::OPERATIONAL_APP_UID;
/// The uid of its endpoint.
const ENDPOINT_UID: &str = "operator";

/// Makes sure the internal application and its endpoint exist and match the configured
/// URL and secret (re-enabling the endpoint if it was disabled). Safe when several nodes
/// start at once: a lost creation race reads the winner's record.
pub async fn ensure_target(
    store: &dyn Store,
    hook: &OperationalWebhook,
) -> anyhow::Result<OperationalTarget> {
    let app = match store.get_app(APP_UID).await {
        Ok(app) => app,
        Err(StoreError::NotFound) => {
            let now = Timestamp::now();
            let app = Application {
                id: AppId::generate_at(now),
                uid: Some(APP_UID.to_owned()),
                name: "hookd operational webhooks".into(),
                rate_limit: None,
                metadata: Metadata::new(),
                created_at: now,
                updated_at: now,
            };
            match store.create_app(&app).await {
                Ok(()) => app,
                Err(StoreError::Conflict(_)) => store.get_app(APP_UID).await?,
                Err(e) => return Err(e).context("creating the operational webhooks application"),
            }
        }
        Err(e) => return Err(e).context("reading the operational webhooks application"),
    };
    let endpoint = match store.get_endpoint(&app.id, ENDPOINT_UID).await {
        Ok(mut ep) => {
            if ep.url != hook.url || ep.secret != hook.secret || ep.disabled {
                ep.url = hook.url.clone();
                ep.secret = hook.secret.clone();
                ep.disabled = false;
                ep.updated_at = Timestamp::now();
                store
                    .update_endpoint(&ep)
                    .await
                    .context("updating the operational webhooks endpoint")?;
            }
            ep
        }
        Err(StoreError::NotFound) => {
            let mut ep = Endpoint::new(
                &app.id,
                String::new(),
                hook.secret.clone(),
                Timestamp::now(),
            );
            ep.uid = Some(ENDPOINT_UID.to_owned());
            ep.url = hook.url.clone();
            ep.description = "operational webhooks (configured by the operator)".into();
            match store.create_endpoint(&ep).await {
                Ok(()) => ep,
                Err(StoreError::Conflict(_)) => store.get_endpoint(&app.id, ENDPOINT_UID).await?,
                Err(e) => return Err(e).context("creating the operational webhooks endpoint"),
            }
        }
        Err(e) => return Err(e).context("reading the operational webhooks endpoint"),
    };
    tracing::info!(app.id = %app.id, endpoint.id = %endpoint.id, "operational webhooks enabled");
    Ok(OperationalTarget {
        app_id: app.id,
        endpoint_id: endpoint.id,
    })
}
