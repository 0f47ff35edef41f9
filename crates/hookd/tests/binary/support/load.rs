//! Load for fault tests: [`Sender`] sends messages one after another until stopped,
//! recording what was accepted, how the rest was refused, and the slowest answer;
//! [`all_arrived`] waits until a receiver has every accepted message.

use hookd_testkit::receiver::delivered;
use hookd_testkit::{Api, Receiver};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What a [`Sender`] saw.
#[derive(Debug, Default)]
pub struct Sent {
    /// Ids of the messages answered 202.
    pub accepted: Vec<String>,
    /// Refusals by `"<status> <code>"` (`"no answer"` when the request itself failed).
    pub refused: BTreeMap<String, usize>,
    /// The longest any request took to be answered.
    pub slowest: Duration,
}

impl Sent {
    pub fn refused_total(&self) -> usize {
        self.refused.values().sum()
    }
}

pub struct Sender {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Sent>,
}

impl Sender {
    /// Starts sending `test.event` messages numbered from `first` to `app`.
    pub fn start(api: Api, app: String, first: usize) -> Sender {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut sent = Sent::default();
            let mut i = first;
            while !flag.load(Ordering::Relaxed) {
                let body = serde_json::json!({"eventType": "test.event", "payload": {"i": i}});
                let asked = Instant::now();
                let answer = api.try_call("POST", &format!("/app/{app}/msg"), body).await;
                sent.slowest = sent.slowest.max(asked.elapsed());
                match answer {
                    Some((202, m)) => sent.accepted.push(m["id"].as_str().unwrap().to_owned()),
                    Some((status, body)) => {
                        let code = body["code"].as_str().unwrap_or("-").to_owned();
                        *sent.refused.entry(format!("{status} {code}")).or_default() += 1;
                    }
                    None => *sent.refused.entry("no answer".into()).or_default() += 1,
                }
                i += 1;
            }
            sent
        });
        Sender { stop, task }
    }

    pub async fn finish(self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// Waits until `rx` has received every message of `ids` on `/hook`.
pub async fn all_arrived(rx: &Receiver, ids: &[String], limit: Duration) {
    rx.wait_until("every accepted message arrived", limit, |got| {
        let got = delivered(got);
        ids.iter()
            .all(|id| got.contains_key(&(id.clone(), "/hook".to_owned())))
    })
    .await;
}
