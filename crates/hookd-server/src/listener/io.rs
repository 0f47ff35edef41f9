//! The socket as hyper sees it.
//!
//! - Reads tell the connection that a request head has started ([`Conn::on_read`]).
//! - Writes while no request is with the router can only be hyper answering a head it
//!   could not parse (400, 414 or 431, with an empty body): such a response is replaced
//!   by the same status with the JSON `code`/`detail` body every other error has, and
//!   the connection closes (as hyper closes it after such an error anyway).
//! - Writes that find the socket full, and flushes, are reported for the write-stall rule
//!   and for the end of a response.

use super::conn::{Conn, Phase};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub(crate) struct Io {
    stream: TcpStream,
    conn: Arc<Conn>,
    /// The JSON error response written in place of hyper's own, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

impl Io {
    pub(crate) fn new(stream: TcpStream, conn: Arc<Conn>) -> Self {
        Self {
            stream,
            conn,
            replacement: None,
        }
    }

    /// The socket, unless it carries (part of) a replacement already.
    pub(crate) fn into_unanswered(self) -> Option<TcpStream> {
        self.replacement.is_none().then_some(self.stream)
    }

    /// Takes hyper's own error response (`head` is its first bytes, `len` its size) and
    /// queues the JSON one instead; later writes of hyper's are dropped too.
    fn replace(&mut self, head: &[u8], len: usize) -> Poll<io::Result<usize>> {
        if self.replacement.is_none() {
            let status = head
                .get(9..12)
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(400);
            self.replacement = Some((super::error_response(status), 0));
        }
        Poll::Ready(Ok(len))
    }

    /// Writes out the queued replacement, if any.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, sent)) = &mut self.replacement {
            while *sent < bytes.len() {
                let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*sent..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *sent += n;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// True when hyper writes on its own account: nothing is with the router.
    fn answers_itself(&self) -> bool {
        self.replacement.is_some() || matches!(self.conn.phase(), Phase::Waiting | Phase::Head)
    }

    fn note_write(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Pending => self.conn.on_write(true),
            Poll::Ready(Ok(n)) if *n > 0 => self.conn.on_write(false),
            Poll::Ready(_) => {}
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.on_read();
        }
        result
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.answers_itself() {
            return this.replace(buf, buf.len());
        }
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.note_write(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.answers_itself() {
            let head: Vec<u8> = bufs
                .iter()
                .flat_map(|b| b.iter().copied())
                .take(12)
                .collect();
            return this.replace(&head, bufs.iter().map(|b| b.len()).sum());
        }
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.note_write(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        this.conn.on_flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
