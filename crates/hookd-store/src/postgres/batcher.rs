//! Group commit for new messages: concurrent `create_message` calls are written together,
//! a batch per statement, so a busy node pays one round trip and one commit for many
//! messages instead of one each.
//!
//! Callers queue their message and wait. The batcher task takes whatever has queued (at
//! most [`MAX_BATCH`]) and writes it on a pooled connection, with up to [`IN_FLIGHT`]
//! batches at once so one slow commit never idles the rest. Each message keeps its own
//! outcome: a message whose `(app, eventId)` is taken is skipped by `ON CONFLICT DO
//! NOTHING` (its destinations with it) and answered `Conflict("eventId")`, while the rest of
//! its batch is written. A failed statement fails every message of its batch, none of which
//! was written.

use super::codec::{ms, ms_opt, pool_error, status_code, to_json_opt, trigger_code};
use super::query::query;
use crate::{StoreError, StoreResult};
use deadpool_postgres::Pool;
use hookd_core::model::{DeliveryStatus, Message, MessageDestination};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Most messages written per statement.
const MAX_BATCH: usize = 128;
/// Batches written at once (each holds one pooled connection while it runs).
const IN_FLIGHT: usize = 4;
/// Messages waiting for the batcher before callers wait to queue theirs.
const QUEUE: usize = 4096;

struct Pending {
    msg: Message,
    dests: Vec<MessageDestination>,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// The handle `create_message` uses; the task stops when it is dropped.
pub(super) struct MessageBatcher {
    queue: mpsc::Sender<Pending>,
}

impl MessageBatcher {
    /// Starts the batcher task. `channel` is the `NOTIFY` channel raised when a batch
    /// leaves work unclaimed.
    pub fn start(pool: Pool, channel: String) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, channel, rx));
        Self { queue }
    }

    /// Writes the message and its destinations; returns once committed.
    pub async fn insert(&self, msg: &Message, dests: &[MessageDestination]) -> StoreResult<()> {
        let (reply, done) = oneshot::channel();
        let pending = Pending {
            msg: msg.clone(),
            dests: dests.to_vec(),
            reply,
        };
        let stopped = || StoreError::Unavailable("the message writer has stopped".into());
        self.queue.send(pending).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }
}

async fn run(pool: Pool, channel: String, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let channel: Arc<str> = channel.into();
    loop {
        // Wait for a free slot first, so messages keep gathering while all are busy.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let (pool, channel) = (pool.clone(), channel.clone());
        tokio::spawn(async move {
            let result = write(&pool, &channel, &batch).await;
            for p in batch {
                let answer = match &result {
                    Ok(written) if written.contains(p.msg.id.as_str()) => Ok(()),
                    Ok(_) => Err(StoreError::Conflict("eventId")),
                    Err(e) => Err(copy_error(e)),
                };
                let _ = p.reply.send(answer);
            }
            drop(slot);
        });
    }
}

/// A batch's failure, given to each of its callers.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict(key) => StoreError::Conflict(key),
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        StoreError::Other(cause) => StoreError::Other(anyhow::anyhow!("{cause:#}")),
    }
}

/// Messages from arrays; the ids of those written come back, so a conflicting message is
/// told apart. Destinations are written only for messages that were, each marked (`flow`)
/// when its endpoint is flow-controlled: one probe of the normally empty `flow_endpoints`
/// per row. The probe holds a key-share lock on a listed endpoint's row until commit, so an
/// update that unlists the endpoint waits and then re-marks these rows (`endpoints.rs`).
/// `$18` is the notification channel, `$19` whether any written destination is left
/// unclaimed (marked rows included: their owner may be another node), `$20` the payloads'
/// expiry times.
const INSERT_SQL: &str = "WITH msg AS (
        INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, tags,
            created_at, payload_expires_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::bigint[], $20::bigint[])
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
    SELECT id FROM msg, (SELECT count(*) FROM notified) AS n";

/// Writes one batch; returns the ids of the messages written.
async fn write(pool: &Pool, channel: &str, batch: &[Pending]) -> StoreResult<HashSet<String>> {
    let mut m = MessageColumns::default();
    let mut d = DestinationColumns::default();
    for p in batch {
        m.push(&p.msg)?;
        for dest in &p.dests {
            d.push(dest);
        }
    }
    let wake_others = batch
        .iter()
        .flat_map(|p| &p.dests)
        .any(|dest| dest.status == DeliveryStatus::Pending && dest.lease_owner.is_none());
    let client = pool.get().await.map_err(pool_error)?;
    let rows = query(
        &client,
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
        ],
        "inserting messages",
    )
    .await?;
    rows.iter()
        .map(|r| super::codec::col::<String>(r, 0))
        .collect()
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
}

impl<'a> MessageColumns<'a> {
    fn push(&mut self, msg: &'a Message) -> StoreResult<()> {
        self.id.push(msg.id.as_str());
        self.app_id.push(msg.app_id.as_str());
        self.event_id.push(msg.event_id.as_deref());
        self.event_type.push(&msg.event_type);
        self.payload.push(msg.payload.as_deref());
        self.channels.push(to_json_opt(msg.channels.as_ref())?);
        self.tags.push(to_json_opt(msg.tags.as_ref())?);
        self.created_at.push(ms(msg.created_at));
        self.payload_expires_at.push(ms_opt(msg.payload_expires_at));
        Ok(())
    }
}

/// A batch's destinations as column arrays (also used by `ingest.rs`).
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
