//! The workload's pure rules: which endpoints a message goes to, the channel that routes
//! it there, the request body, and which deliveries the receiver fails once.
//!
//! Everything here is deterministic and free of I/O, so the receiver and the senders
//! agree without talking to each other, and a run can be repeated exactly.

/// Event type of every benchmark message.
pub const EVENT_TYPE: &str = "bench.event";

/// How messages map to endpoints: message `j` goes to the `fanout` endpoints starting at
/// `j % endpoints`, wrapping around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    endpoints: u32,
    fanout: u32,
}

impl Routing {
    /// A routing over `endpoints` endpoints with `fanout` destinations per message.
    /// Callers validate `1 <= fanout <= endpoints` first.
    pub fn new(endpoints: u32, fanout: u32) -> Self {
        debug_assert!(fanout >= 1 && fanout <= endpoints);
        Self { endpoints, fanout }
    }

    /// Destinations per message.
    pub fn fanout(&self) -> u32 {
        self.fanout
    }

    /// The endpoint indices message `index` is sent to.
    pub fn destinations(&self, index: u64) -> impl Iterator<Item = u32> {
        let start = self.start(index);
        let endpoints = self.endpoints;
        (0..self.fanout).map(move |k| (start + k) % endpoints)
    }

    /// Whether endpoint `endpoint` is one of message `index`'s destinations.
    pub fn is_destination(&self, index: u64, endpoint: u32) -> bool {
        if endpoint >= self.endpoints {
            return false;
        }
        let offset = (endpoint + self.endpoints - self.start(index)) % self.endpoints;
        offset < self.fanout
    }

    fn start(&self, index: u64) -> u32 {
        // The remainder is below `endpoints`, a u32.
        (index % u64::from(self.endpoints)) as u32
    }
}

/// The channel endpoint `endpoint` subscribes to; a message carries one per destination.
pub fn channel(endpoint: u32) -> String {
    format!("c{endpoint}")
}

/// The JSON payload of message `index`: `{"i":<index>,"pad":"xxx…"}`, padded to exactly
/// `bytes` bytes when `bytes` is at least the unpadded size.
pub fn payload(index: u64, bytes: usize) -> String {
    let head = format!(r#"{{"i":{index},"pad":""#);
    let tail = r#""}"#;
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut out = String::with_capacity(head.len() + pad + tail.len());
    out.push_str(&head);
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str(tail);
    out
}

/// The `POST /api/v1/app/{app}/msg` body for message `index`.
pub fn message_body(routing: &Routing, index: u64, payload_bytes: usize) -> String {
    let channels: Vec<String> = routing
        .destinations(index)
        .map(|ep| format!("\"{}\"", channel(ep)))
        .collect();
    format!(
        r#"{{"eventType":"{EVENT_TYPE}","payload":{},"channels":[{}]}}"#,
        payload(index, payload_bytes),
        channels.join(",")
    )
}

/// Whether the receiver answers 500 to the first attempt of `(msg_id, endpoint)`: a
/// hash of both, read as a fraction of `u64::MAX`, falls below `rate`.
pub fn fails_first_attempt(msg_id: &str, endpoint: u32, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    let h = fnv1a(msg_id.as_bytes()) ^ u64::from(endpoint).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // Mixing the endpoint in after FNV leaves low-entropy high bits; one more round spreads it.
    let h = splitmix64(h);
    (h as f64 / u64::MAX as f64) < rate
}

/// FNV-1a: a fast, stable hash (the same in every run, unlike std's `RandomState`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_fanout_message_j_goes_to_endpoint_j_mod_e() {
        let r = Routing::new(3, 1);
        let got: Vec<Vec<u32>> = (0..5).map(|j| r.destinations(j).collect()).collect();
        assert_eq!(got, vec![vec![0], vec![1], vec![2], vec![0], vec![1]]);
    }

    #[test]
    fn fanout_takes_consecutive_endpoints_and_wraps() {
        let r = Routing::new(4, 3);
        assert_eq!(r.destinations(0).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(r.destinations(2).collect::<Vec<_>>(), vec![2, 3, 0]);
        assert_eq!(r.destinations(7).collect::<Vec<_>>(), vec![3, 0, 1]);
    }

    #[test]
    fn is_destination_agrees_with_destinations() {
        let r = Routing::new(5, 2);
        for j in 0..20 {
            let dests: Vec<u32> = r.destinations(j).collect();
            for ep in 0..6 {
                assert_eq!(
                    r.is_destination(j, ep),
                    dests.contains(&ep),
                    "j={j} ep={ep}"
                );
            }
        }
    }

    #[test]
    fn message_body_names_one_channel_per_destination() {
        let body = message_body(&Routing::new(3, 2), 2, 64);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["eventType"], EVENT_TYPE);
        assert_eq!(v["channels"], serde_json::json!(["c2", "c0"]));
        assert_eq!(v["payload"]["i"], 2);
    }

    #[test]
    fn payload_is_padded_to_the_requested_size() {
        for (index, bytes) in [(0, 1024), (123_456_789, 1024), (7, 20), (7, 100_000)] {
            let p = payload(index, bytes);
            assert_eq!(p.len(), bytes, "index {index}");
            let v: serde_json::Value = serde_json::from_str(&p).unwrap();
            assert_eq!(v["i"], index);
        }
    }

    #[test]
    fn payload_smaller_than_its_skeleton_stays_valid_json() {
        let p = payload(42, 1);
        assert_eq!(p, r#"{"i":42,"pad":""}"#);
    }

    #[test]
    fn fail_selection_is_deterministic_and_close_to_the_rate() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("msg_{i:026}")).collect();
        let picked = ids
            .iter()
            .filter(|id| fails_first_attempt(id, 3, 0.1))
            .count();
        assert!((1_700..2_300).contains(&picked), "{picked} of 20000");
        for id in &ids[..100] {
            assert_eq!(
                fails_first_attempt(id, 3, 0.1),
                fails_first_attempt(id, 3, 0.1)
            );
        }
        assert!(!ids.iter().any(|id| fails_first_attempt(id, 0, 0.0)));
        assert!(ids.iter().all(|id| fails_first_attempt(id, 0, 1.0)));
    }
}
