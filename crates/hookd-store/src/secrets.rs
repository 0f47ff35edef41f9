//! How both backends store an endpoint's rotated-out keys: one JSON text column,
//! `[{"key": "whsec_...", "expiresAt": <epoch ms>}, ...]`, newest first.

use crate::{StoreError, StoreResult};
use hookd_core::model::PreviousSecret;
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    #[serde(rename = "expiresAt")]
    expires_at: i64,
}

/// The column text for `previous`.
pub(crate) fn encode(previous: &[PreviousSecret]) -> StoreResult<String> {
    let stored: Vec<Stored> = previous
        .iter()
        .map(|p| Stored {
            key: p.secret.expose().to_owned(),
            expires_at: p.expires_at.as_millis(),
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| StoreError::Other(e.into()))
}

/// Reads the column text back; the error names what is wrong without the key.
pub(crate) fn decode(text: &str) -> Result<Vec<PreviousSecret>, String> {
    let stored: Vec<Stored> =
        serde_json::from_str(text).map_err(|e| format!("previous_secrets is not valid: {e}"))?;
    stored
        .into_iter()
        .map(|s| {
            Ok(PreviousSecret {
                secret: EndpointSecret::parse(&s.key)
                    .map_err(|_| "a previous secret is not a valid key".to_owned())?,
                expires_at: Timestamp::from_millis(s.expires_at),
            })
        })
        .collect()
}
