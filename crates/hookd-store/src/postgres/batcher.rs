//! Group commit for new messages: concurrent `create_message` and `create_ingest_message`
//! calls are written together, a batch per statement, so a busy node pays one round trip
//! and one commit for many messages instead of one each. (One commit per message would
//! also serialise on the notification: PostgreSQL commits notifying transactions one at a
//! time.)
//!
//! Callers queue their message and wait. The batcher task takes whatever has queued (at
//! most [`MAX_BATCH`]) and writes it on a pooled connection, with up to [`IN_FLIGHT`]
//! batches at once so one slow commit never idles the rest. Each message keeps its own
//! outcome: a message whose `(app, eventId)` is taken is skipped by `ON CONFLICT DO
//! NOTHING` (its destinations with it) and answered `Conflict("eventId")`, and an ingest
//! event whose de-duplication entry is held is skipped and answered `Duplicate`, while the
//! rest of its batch is written. A failed statement fails every message of its batch, none
//! of which was written.
//!
//! An upsert may touch a row once per statement, so a batch holding two events with one
//! de-duplication key is written in rounds (the later event then finds the entry held).
//! Ingest events with an event id (whose conflict would skip the message after its entry
//! was taken) and the rare event the batch cannot settle (its entry's holder committed
//! after the statement's snapshot) are written alone by `ingest.rs`.

use super::codec::{ms, ms_opt, pool_error, status_code, to_json_opt, trigger_code};
use super::ingest;
use super::query::query;
use crate::{IngestDedup, IngestWrite, StoreError, StoreResult};
use deadpool_postgres::Pool;
use hookd_core::ids::MsgId;
use hookd_core::model::{DeliveryStatus, Message, MessageDestination};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Most messages written per statement.
const MAX_BATCH: usize = 128;
/// Batches written at once (each holds one pooled connection while it runs).
const IN_FLIGHT: usize = 4;
/// Messages waiting for the batcher before callers wait to queue theirs.
const QUEUE: usize = 4096;

/// What an ingest event adds to a message.
struct Ingest {
    forward: String,
    dedup: Option<IngestDedup>,
}

struct Pending {
    msg: Message,
    dests: Vec<MessageDestination>,
    /// `None` for a message of the API.
    ingest: Option<Ingest>,
    reply: oneshot::Sender<StoreResult<IngestWrite>>,
}

impl Pending {
    fn dedup(&self) -> Option<&IngestDedup> {
        self.ingest.as_ref().and_then(|i| i.dedup.as_ref())
    }
}

/// The handle the store writes new messages through; the task stops when it is dropped.
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
        match self.submit(msg, dests, None).await? {
            IngestWrite::Created => Ok(()),
            IngestWrite::Duplicate(_) => Err(StoreError::Other(anyhow::anyhow!(
                "a message without a de-duplication key was answered as a duplicate"
            ))),
        }
    }

    /// Writes an ingest event (see [`crate::Store::create_ingest_message`]).
    pub async fn insert_ingest(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        forward: &str,
        dedup: Option<&IngestDedup>,
    ) -> StoreResult<IngestWrite> {
        let ingest = Ingest {
            forward: forward.to_owned(),
            dedup: dedup.cloned(),
        };
        self.submit(msg, dests, Some(ingest)).await
    }

    async fn submit(
        &self,
        msg: &Message,
        dests: &[MessageDestination],
        ingest: Option<Ingest>,
    ) -> StoreResult<IngestWrite> {
        let (reply, done) = oneshot::channel();
        let pending = Pending {
            msg: msg.clone(),
            dests: dests.to_vec(),
            ingest,
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
            let (batched, alone): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|p| p.ingest.is_none() || p.msg.event_id.is_none());
            for round in rounds(batched) {
                write_round(&pool, &channel, round).await;
            }
            for p in alone {
                write_alone(&pool, &channel, p).await;
            }
            drop(slot);
        });
    }
}

/// Splits a batch so no round holds one de-duplication key twice, keeping arrival order
/// for each key.
fn rounds(batch: Vec<Pending>) -> Vec<Vec<Pending>> {
    /// A round: the (source, event id) keys it holds, and its messages.
    type Round = (HashSet<(String, String)>, Vec<Pending>);
    let mut rounds: Vec<Round> = Vec::new();
    for p in batch {
        let key = p
            .dedup()
            .map(|d| (d.source_id.as_str().to_owned(), d.event_id.clone()));
        // After the last round holding the key, so a later retry never goes first.
        let after = key
            .as_ref()
            .and_then(|k| rounds.iter().rposition(|(keys, _)| keys.contains(k)))
            .map_or(0, |i| i + 1);
        if after == rounds.len() {
            rounds.push((HashSet::new(), Vec::new()));
        }
        let (keys, items) = &mut rounds[after];
        keys.extend(key);
        items.push(p);
    }
    rounds.into_iter().map(|(_, items)| items).collect()
}

/// Writes one round and answers each of its callers.
async fn write_round(pool: &Pool, channel: &str, round: Vec<Pending>) {
    let result = write(pool, channel, &round).await;
    for p in round {
        let answer = match &result {
            Ok(written) => match written.get(p.msg.id.as_str()) {
                Some(None) => Ok(IngestWrite::Created),
                Some(Some(holder)) => {
                    Ok(IngestWrite::Duplicate(MsgId::from_trusted(holder.clone())))
                }
                // Its entry's holder committed after the snapshot: try it alone.
                None if p.dedup().is_some() => {
                    write_alone(pool, channel, p).await;
                    continue;
                }
                None => Err(StoreError::Conflict("eventId")),
            },
            Err(e) => Err(copy_error(e)),
        };
        let _ = p.reply.send(answer);
    }
}

/// Writes an ingest event in a statement of its own.
async fn write_alone(pool: &Pool, channel: &str, p: Pending) {
    let answer = async {
        let ingest = p.ingest.as_ref().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("only ingest events are written alone"))
        })?;
        let client = pool.get().await.map_err(pool_error)?;
        ingest::insert_message(
            &client,
            channel,
            &p.msg,
            &p.dests,
            &ingest.forward,
            ingest.dedup.as_ref(),
        )
        .await
    }
    .await;
    let _ = p.reply.send(answer);
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

/// Messages from arrays (`$1`-`$8`, `$20`-`$24`); each message written comes back with a
/// NULL holder, each ingest event refused as a duplicate with the id of the message holding
/// its entry (as of the statement's snapshot). An ingest event with a de-duplication key
/// (`$22`-`$24`, NULL without) is written only when `taken` inserts its entry or replaces
/// one that expired by the event's creation time. Destinations are written only for
/// messages that were, each marked (`flow`) when its endpoint is flow-controlled: one probe
/// of the normally empty `flow_endpoints` per row. The probe holds a key-share lock on a
/// listed endpoint's row until commit, so an update that unlists the endpoint waits and
/// then re-marks these rows (`endpoints.rs`). `$18` is the notification channel, `$19`
/// whether any written destination is left unclaimed (marked rows included: their owner
/// may be another node).
const INSERT_SQL: &str = "WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::bigint[], $20::bigint[], $21::text[], $22::text[],
            $23::text[], $24::bigint[])
            AS i(id, app_id, event_id, event_type, payload, channels, tags, created_at,
                payload_expires_at, forward, dedup_source, dedup_event, dedup_expires_at)
    ), taken AS (
        INSERT INTO ingest_dedup (source_id, event_id, msg_id, expires_at)
        SELECT dedup_source, dedup_event, id, dedup_expires_at FROM input
        WHERE dedup_source IS NOT NULL
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
            created_at, payload_expires_at, forward)
        SELECT id, app_id, event_id, event_type, payload, channels, tags, created_at,
            payload_expires_at, forward
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
async fn write(
    pool: &Pool,
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
            &m.forward,
            &m.dedup_source,
            &m.dedup_event,
            &m.dedup_expires_at,
        ],
        "inserting messages",
    )
    .await?;
    rows.iter()
        .map(|r| Ok((super::codec::col(r, 0)?, super::codec::col(r, 1)?)))
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
    forward: Vec<Option<&'a str>>,
    dedup_source: Vec<Option<&'a str>>,
    dedup_event: Vec<Option<&'a str>>,
    dedup_expires_at: Vec<Option<i64>>,
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

#[cfg(test)]
mod tests {
    use super::{rounds, Ingest, Pending};
    use crate::IngestDedup;
    use hookd_core::ids::{AppId, MsgId, SourceId};
    use hookd_core::model::Message;
    use hookd_core::Timestamp;

    fn pending(key: Option<&str>) -> Pending {
        let at = Timestamp::from_millis(0);
        let msg = Message {
            id: MsgId::generate_at(at),
            app_id: AppId::generate_at(at),
            event_id: None,
            event_type: "e".into(),
            payload: None,
            channels: None,
            tags: None,
            created_at: at,
            payload_expires_at: None,
        };
        let ingest = key.map(|k| Ingest {
            forward: "{}".into(),
            dedup: Some(IngestDedup {
                source_id: SourceId::from_trusted("src_1".into()),
                event_id: k.into(),
                expires_at: at,
            }),
        });
        Pending {
            msg,
            dests: Vec::new(),
            ingest,
            reply: tokio::sync::oneshot::channel().0,
        }
    }

    fn keys(round: &[Pending]) -> Vec<Option<&str>> {
        round
            .iter()
            .map(|p| p.dedup().map(|d| d.event_id.as_str()))
            .collect()
    }

    #[test]
    fn a_key_appears_once_per_round_and_its_events_keep_their_order() {
        let batch = ["a", "b", "a", "-", "a", "b", "c"]
            .map(|k| pending((k != "-").then_some(k)))
            .into_iter()
            .collect::<Vec<_>>();
        let first_a = batch[0].msg.id.clone();
        let rounds = rounds(batch);
        let keys: Vec<_> = rounds.iter().map(|r| keys(r)).collect();
        assert_eq!(
            keys,
            [
                vec![Some("a"), Some("b"), None, Some("c")],
                vec![Some("a"), Some("b")],
                vec![Some("a")],
            ]
        );
        assert_eq!(rounds[0][0].msg.id, first_a);
    }
}
