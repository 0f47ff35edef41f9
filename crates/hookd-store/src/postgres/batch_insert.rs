//! The statement the batcher writes a batch with, and the batch as column arrays: many
//! messages and ingest events, their de-duplication entries and destinations, in one
//! round trip and one commit (see `batcher.rs` for how batches are formed and answered).

use super::batcher::Pending;
use super::codec::{col, ms, ms_opt, status_code, to_json_opt, trigger_code};
use super::query::query;
use crate::StoreResult;
use deadpool_postgres::Client;
use hookd_core::model::{DeliveryStatus, MessageDestination};
use std::collections::HashMap;

/// Messages from arrays (`$1`-`$8`, `$20`-`$25`); each message written comes back with a
/// NULL holder, each ingest event refused as a duplicate with the id of the message holding
/// its entry (as of the statement's snapshot). An ingest event with a de-duplication key
/// (`$22`-`$24`, NULL without) is written only when `taken` inserts its entry or replaces
/// one that expired by the event's creation time; entries are taken in key order, so two
/// batches sharing keys wait for each other instead of deadlocking. Destinations are written only for
/// messages that were, each marked (`flow`) when its endpoint is flow-controlled: one probe
/// of the normally empty `flow_endpoints` per row. The probe holds a key-share lock on a
/// listed endpoint's row until commit, so an update that unlists the endpoint waits and
/// then re-marks these rows (`endpoints.rs`). `$18` is the notification channel, `$19`
/// whether any written destination is left unclaimed (marked rows included: their owner
/// may be another node).
const INSERT_SQL: &str = "WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::bigint[], $20::bigint[], $21::text[], $22::text[],
            $23::text[], $24::bigint[], $25::text[])
            AS i(id, app_id, event_id, event_type, payload, channels, tags, created_at,
                payload_expires_at, forward, dedup_source, dedup_event, dedup_expires_at,
                traceparent)
    ), taken AS (
        INSERT INTO ingest_dedup (source_id, event_id, msg_id, expires_at)
        SELECT dedup_source, dedup_event, id, dedup_expires_at FROM input
        WHERE dedup_source IS NOT NULL
        ORDER BY dedup_source, dedup_event
        ON CONFLICT (source_id, event_id) DO UPDATE SET msg_id = EXCLUDED.msg_id,
            expires_at = EXCLUDED.expires_at
        WHERE ingest_dedup.expires_at
            <= (SELECT created_at FROM input WHERE input.id = EXCLUDED.msg_id)
        RETURNING msg_id
    ), held AS (
        SELECT i.id, d.msg_id AS holder FROM input i
        JOIN ingest_dedup d ON d.source_id = i.dedup_source AND d.event_id = i.dedup_event
        WHERE d.expires_at > i.created_at
            AND NOT EXISTS (SELECT 1 FROM taken WHERE taken.msg_id = i.id)
    ), msg AS (
        INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, tags,
            created_at, payload_expires_at, forward, traceparent)
        SELECT id, app_id, event_id, event_type, payload, channels, tags, created_at,
            payload_expires_at, forward, traceparent
        FROM input
        WHERE dedup_source IS NULL OR id IN (SELECT msg_id FROM taken)
        ON CONFLICT DO NOTHING
        RETURNING id
    ), dests AS (
        INSERT INTO message_destinations (msg_id, endpoint_id, app_id, status, attempt_count,
            next_attempt_at, last_attempt_at, trigger, lease_owner, flow)
        SELECT d.*, CASE WHEN EXISTS (SELECT 1 FROM flow_endpoints f
                WHERE f.endpoint_id = d.endpoint_id FOR KEY SHARE) THEN 1 ELSE 0 END
        FROM unnest($9::text[], $10::text[], $11::text[], $12::smallint[],
            $13::bigint[], $14::bigint[], $15::bigint[], $16::smallint[], $17::text[])
            AS d(msg_id, endpoint_id, app_id, status, attempt_count, next_attempt_at,
                last_attempt_at, trigger, lease_owner)
        JOIN msg ON msg.id = d.msg_id
        RETURNING status, lease_owner
    ), notified AS (
        SELECT pg_notify($18, '') FROM dests
        WHERE dests.status = 1 AND dests.lease_owner IS NULL AND $19::boolean
        LIMIT 1
    )
    SELECT r.id, r.holder
    FROM (SELECT id, NULL::text AS holder FROM msg UNION ALL SELECT id, holder FROM held) r,
        (SELECT count(*) FROM notified) AS n";

/// Writes one batch; returns, per message id settled, `None` when it was written and the
/// holder's id when it was refused as a duplicate.
pub(super) async fn write(
    client: &Client,
    channel: &str,
    batch: &[Pending],
) -> StoreResult<HashMap<String, Option<String>>> {
    let mut m = MessageColumns::default();
    let mut d = DestinationColumns::default();
    for p in batch {
        m.push(p)?;
        for dest in &p.dests {
            d.push(dest);
        }
    }
    let wake_others = batch
        .iter()
        .flat_map(|p| &p.dests)
        .any(|dest| dest.status == DeliveryStatus::Pending && dest.lease_owner.is_none());
    let rows = query(
        client,
        INSERT_SQL,
        &[
            &m.id,
            &m.app_id,
            &m.event_id,
            &m.event_type,
            &m.payload,
            &m.channels,
            &m.tags,
            &m.created_at,
            &d.msg_id,
            &d.endpoint_id,
            &d.app_id,
            &d.status,
            &d.attempt_count,
            &d.next_attempt_at,
            &d.last_attempt_at,
            &d.trigger,
            &d.lease_owner,
            &channel,
            &wake_others,
            &m.payload_expires_at,
            &m.forward,
            &m.dedup_source,
            &m.dedup_event,
            &m.dedup_expires_at,
            &m.traceparent,
        ],
        "inserting messages",
    )
    .await?;
    rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
}

#[derive(Default)]
struct MessageColumns<'a> {
    id: Vec<&'a str>,
    app_id: Vec<&'a str>,
    event_id: Vec<Option<&'a str>>,
    event_type: Vec<&'a str>,
    payload: Vec<Option<&'a str>>,
    channels: Vec<Option<String>>,
    tags: Vec<Option<String>>,
    created_at: Vec<i64>,
    payload_expires_at: Vec<Option<i64>>,
    forward: Vec<Option<&'a str>>,
    dedup_source: Vec<Option<&'a str>>,
    dedup_event: Vec<Option<&'a str>>,
    dedup_expires_at: Vec<Option<i64>>,
    traceparent: Vec<Option<String>>,
}

impl<'a> MessageColumns<'a> {
    fn push(&mut self, p: &'a Pending) -> StoreResult<()> {
        let msg = &p.msg;
        self.id.push(msg.id.as_str());
        self.app_id.push(msg.app_id.as_str());
        self.event_id.push(msg.event_id.as_deref());
        self.event_type.push(&msg.event_type);
        self.payload.push(msg.payload.as_deref());
        self.channels.push(to_json_opt(msg.channels.as_ref())?);
        self.tags.push(to_json_opt(msg.tags.as_ref())?);
        self.created_at.push(ms(msg.created_at));
        self.payload_expires_at.push(ms_opt(msg.payload_expires_at));
        self.forward
            .push(p.ingest.as_ref().map(|i| i.forward.as_str()));
        let dedup = p.dedup();
        self.dedup_source.push(dedup.map(|d| d.source_id.as_str()));
        self.dedup_event.push(dedup.map(|d| d.event_id.as_str()));
        self.dedup_expires_at.push(dedup.map(|d| ms(d.expires_at)));
        self.traceparent.push(msg.trace.map(|t| t.to_traceparent()));
        Ok(())
    }
}

/// Destinations as column arrays (also used by `ingest.rs`).
#[derive(Default)]
pub(super) struct DestinationColumns<'a> {
    pub(super) msg_id: Vec<&'a str>,
    pub(super) endpoint_id: Vec<&'a str>,
    pub(super) app_id: Vec<&'a str>,
    pub(super) status: Vec<i16>,
    pub(super) attempt_count: Vec<i64>,
    pub(super) next_attempt_at: Vec<Option<i64>>,
    pub(super) last_attempt_at: Vec<Option<i64>>,
    pub(super) trigger: Vec<i16>,
    pub(super) lease_owner: Vec<Option<&'a str>>,
}

impl<'a> DestinationColumns<'a> {
    pub(super) fn push(&mut self, d: &'a MessageDestination) {
        self.msg_id.push(d.msg_id.as_str());
        self.endpoint_id.push(d.endpoint_id.as_str());
        self.app_id.push(d.app_id.as_str());
        self.status.push(status_code(d.status));
        self.attempt_count.push(i64::from(d.attempt_count));
        self.next_attempt_at.push(ms_opt(d.next_attempt_at));
        self.last_attempt_at.push(ms_opt(d.last_attempt_at));
        self.trigger.push(trigger_code(d.trigger));
        self.lease_owner.push(d.lease_owner.as_deref());
    }
}
