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

use super::batch_insert::write;
use super::conns::Conns;
use super::ingest;
use crate::deadline::within;
use crate::{IngestDedup, IngestWrite, StoreError, StoreResult};
use hookd_core::ids::MsgId;
use hookd_core::model::{Message, MessageDestination};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Most messages written per statement.
const MAX_BATCH: usize = 128;
/// Batches written at once (each holds one pooled connection while it runs).
const IN_FLIGHT: usize = 4;
/// Messages waiting for the batcher before callers wait to queue theirs.
const QUEUE: usize = 4096;

/// What an ingest event adds to a message.
pub(super) struct Ingest {
    pub(super) forward: String,
    pub(super) dedup: Option<IngestDedup>,
}

/// A message waiting for its batch, and where to send its outcome.
pub(super) struct Pending {
    pub(super) msg: Message,
    pub(super) dests: Vec<MessageDestination>,
    /// `None` for a message of the API.
    pub(super) ingest: Option<Ingest>,
    reply: oneshot::Sender<StoreResult<IngestWrite>>,
}

impl Pending {
    pub(super) fn dedup(&self) -> Option<&IngestDedup> {
        self.ingest.as_ref().and_then(|i| i.dedup.as_ref())
    }
}

/// The handle the store writes new messages through; the task stops when it is dropped.
pub(super) struct MessageBatcher {
    queue: mpsc::Sender<Pending>,
    /// A caller waits this long at most for its batch (queueing included).
    limit: std::time::Duration,
}

impl MessageBatcher {
    /// Starts the batcher task. `channel` is the `NOTIFY` channel raised when a batch
    /// leaves work unclaimed.
    pub fn start(conns: Conns, channel: String) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let limit = conns.limit();
        tokio::spawn(run(conns, channel, rx));
        Self { queue, limit }
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
        // Given up at the deadline, a message still queued is dropped unwritten (see
        // `run`); one whose batch is being written may still commit.
        within(self.limit, "the database", async {
            self.queue.send(pending).await.map_err(|_| stopped())?;
            done.await.map_err(|_| stopped())?
        })
        .await
    }
}

async fn run(conns: Conns, channel: String, mut rx: mpsc::Receiver<Pending>) {
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
        // A caller that gave up (its deadline passed) was told 503: its message must not
        // be written behind its back.
        batch.retain(|p: &Pending| !p.reply.is_closed());
        let (conns, channel) = (conns.clone(), channel.clone());
        tokio::spawn(async move {
            let (batched, alone): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|p| p.ingest.is_none() || p.msg.event_id.is_none());
            for round in rounds(batched) {
                write_round(&conns, &channel, round).await;
            }
            for p in alone {
                write_alone(&conns, &channel, p).await;
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
async fn write_round(conns: &Conns, channel: &str, round: Vec<Pending>) {
    let started = std::time::Instant::now();
    conns.metrics().committing();
    let result = conns.call(async |c| write(c, channel, &round).await).await;
    conns
        .metrics()
        .committed(round.len(), started.elapsed(), result.is_ok());
    let mut unsettled = Vec::new();
    for p in round {
        let answer = match &result {
            Ok(written) => match written.get(p.msg.id.as_str()) {
                Some(None) => Ok(IngestWrite::Created),
                Some(Some(holder)) => {
                    Ok(IngestWrite::Duplicate(MsgId::from_trusted(holder.clone())))
                }
                // Its entry's holder committed after the snapshot: tried alone below.
                None if p.dedup().is_some() => {
                    unsettled.push(p);
                    continue;
                }
                None => Err(StoreError::Conflict("eventId")),
            },
            Err(e) => Err(e.share()),
        };
        let _ = p.reply.send(answer);
    }
    for p in unsettled {
        write_alone(conns, channel, p).await;
    }
}

/// Writes an ingest event in a statement of its own.
async fn write_alone(conns: &Conns, channel: &str, p: Pending) {
    let answer = async {
        let ingest = p.ingest.as_ref().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("only ingest events are written alone"))
        })?;
        conns
            .call(async |c| {
                ingest::insert_message(
                    c,
                    channel,
                    &p.msg,
                    &p.dests,
                    &ingest.forward,
                    ingest.dedup.as_ref(),
                )
                .await
            })
            .await
    }
    .await;
    let _ = p.reply.send(answer);
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
            trace: None,
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
