//! The `LISTEN` connection behind [`due_signal`](crate::Store::due_signal).
//!
//! Writes that leave work for any node (`create_message` with an unclaimed pending
//! destination, `requeue`) call `pg_notify(channel, '')` in their own statement, so the
//! notification goes out only if they commit. One dedicated connection per store (not
//! from the pool: a pooled connection is shared and may be recycled) listens on the
//! channel; its driver raises the signal on each notification.
//!
//! When that connection drops, a task reconnects with backoff and raises the signal once
//! after it listens again: notifications sent while it was away are lost, so the poller
//! should look. The task ends when the store is dropped.

use super::codec::short_reason;
use super::connect::{Session, Target};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The first pause before reconnecting after a failed attempt, doubled up to the cap.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Channel names are identifiers: at most 63 bytes.
const MAX_CHANNEL: usize = 63;

/// The channel of the store whose tables live in `schema`: stores in different schemas
/// of one database (tests, several installations) do not wake each other.
pub(super) fn channel_name(schema: &str) -> String {
    if schema == "public" {
        return "hookd_due".to_owned();
    }
    let mut name = String::from("hookd_due_");
    name.extend(
        schema
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(MAX_CHANNEL - name.len()),
    );
    name
}

/// Starts listening on `session` (waiting until the server confirms, so no notification
/// sent after this returns is missed), then keeps a listening connection until `stop`.
pub(super) async fn start(
    target: Target,
    session: Session,
    channel: String,
    due: Arc<Notify>,
    stop: CancellationToken,
) -> Result<(), tokio_postgres::Error> {
    listen(&session, &channel).await?;
    tokio::spawn(run(target, session, channel, due, stop));
    Ok(())
}

async fn listen(session: &Session, channel: &str) -> Result<(), tokio_postgres::Error> {
    // The name is made of [a-z0-9_] only (see `channel_name`), so quoting is enough.
    session
        .client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .await
}

async fn run(
    target: Target,
    mut session: Session,
    channel: String,
    due: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                session.driver.abort();
                return;
            }
            ended = &mut session.driver => match ended {
                Ok(Ok(())) => tracing::warn!("the PostgreSQL LISTEN connection closed"),
                Ok(Err(e)) => tracing::warn!(
                    error = %short_reason(&e),
                    "the PostgreSQL LISTEN connection failed"
                ),
                Err(e) => tracing::warn!(error = %e, "the PostgreSQL LISTEN task failed"),
            },
        }
        match reconnect(&target, &channel, &due, &stop).await {
            Some(fresh) => session = fresh,
            None => return,
        }
        tracing::info!("the PostgreSQL LISTEN connection is back");
        // Notifications sent while it was away are lost: have the poller look.
        due.notify_one();
    }
}

/// Connects and listens again, retrying with backoff; `None` once `stop` is cancelled.
async fn reconnect(
    target: &Target,
    channel: &str,
    due: &Arc<Notify>,
    stop: &CancellationToken,
) -> Option<Session> {
    let mut backoff = BACKOFF_START;
    loop {
        let attempt = async {
            let session = target.open(due.clone()).await?;
            listen(&session, channel).await?;
            Ok::<_, tokio_postgres::Error>(session)
        };
        tokio::select! {
            _ = stop.cancelled() => return None,
            result = attempt => match result {
                Ok(session) => return Some(session),
                Err(e) => tracing::warn!(
                    error = %short_reason(&e),
                    retry_in_ms = backoff.as_millis() as u64,
                    "reconnecting the PostgreSQL LISTEN connection failed"
                ),
            },
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::channel_name;

    #[test]
    fn channel_names_are_per_schema_sanitised_and_short() {
        assert_eq!(channel_name("public"), "hookd_due");
        assert_eq!(channel_name("hookd_t_1a2b"), "hookd_due_hookd_t_1a2b");
        assert_eq!(channel_name("Tenant-\"A\" é"), "hookd_due_tenant__a___");
        let long = channel_name(&"x".repeat(200));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with("hookd_due_xxx"));
    }
}
