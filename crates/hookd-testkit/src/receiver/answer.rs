//! A scripted answer: the status, headers and body a receiver sends back, after a delay
//! or once its gate opens.

use bytes::Bytes;
use std::time::Duration;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// `ok` unless scripted.
    pub body: Bytes,
    /// Waited before answering (on the runtime's clock: a paused clock pauses it too).
    pub delay: Duration,
    /// Answer only once the receiver's gate is open ([`Receiver::open_gate`]).
    pub held: bool,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Bytes::from_static(b"ok"),
            delay: Duration::ZERO,
            held: false,
        }
    }

    /// `200`.
    pub fn ok() -> Answer {
        Answer::status(200)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Answer {
        self.body = body.into();
        self
    }

    /// `Retry-After: {seconds}`.
    pub fn retry_after(self, seconds: u64) -> Answer {
        self.header("retry-after", seconds.to_string())
    }

    pub fn delay(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }

    pub fn held(mut self) -> Answer {
        self.held = true;
        self
    }
}
