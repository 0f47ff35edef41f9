//! How an ingest event's forwarding metadata ([`IngestForward`]) is kept: as JSON in its
//! message's row. The store owns this encoding; callers only ever see typed values, and a
//! stored value that no longer decodes is reported as [`Forward::Unreadable`] with the
//! reason, never dropped or replaced by defaults.

use crate::{StoreError, StoreResult};
use hookd_core::model::IngestForward;
use std::sync::Arc;

/// An ingest event's forwarding metadata as read back.
#[derive(Clone, Debug, PartialEq)]
pub enum Forward {
    /// The metadata written with the event.
    Meta(Arc<IngestForward>),
    /// The stored metadata does not decode (a damaged row, or one written by another
    /// version): the reason. A delivery of it must fail, not go out without the
    /// provider's headers and content type.
    Unreadable(String),
}

/// The stored form of `forward`.
pub(crate) fn encode(forward: &IngestForward) -> StoreResult<String> {
    serde_json::to_string(forward)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("encoding ingest forward metadata: {e}")))
}

/// Reads a stored form back.
pub(crate) fn decode(stored: &str) -> Forward {
    match serde_json::from_str(stored) {
        Ok(meta) => Forward::Meta(Arc::new(meta)),
        Err(e) => Forward::Unreadable(format!("stored forward metadata does not decode: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_what_does_not_decode() {
        let meta = IngestForward {
            source_id: "src_1".into(),
            provider_event_id: Some("evt_1".into()),
            content_type: Some("application/json".into()),
            headers: vec![("x-github-event".into(), "push".into())],
            base64: true,
        };
        assert_eq!(
            decode(&encode(&meta).unwrap()),
            Forward::Meta(Arc::new(meta))
        );
        assert!(
            matches!(decode("{\"sourceId\": 5}"), Forward::Unreadable(why) if why.contains("does not decode"))
        );
        assert!(matches!(decode("not json"), Forward::Unreadable(_)));
    }
}
