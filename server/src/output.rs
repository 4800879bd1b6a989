//! A client's replies that its socket has not taken yet (Redis's reply
//! list). A client may pipeline requests without reading replies until it
//! has sent them all, as redis-py's and Jedis's pipelines do; if the server
//! stopped reading while a reply waited for the socket, both sides would
//! wait for each other once the kernel buffers filled. So, as Redis, a
//! connection keeps reading and executing while replies wait here, bounded
//! by `client-output-buffer-limit normal` (unlimited by default, as Redis)
//! and counted in `used_memory` like any allocation.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::connection::ClientIo;

/// Bytes of replies waiting for the socket, in order.
#[derive(Debug, Default)]
pub struct PendingOutput {
    bytes: BytesMut,
}

/// What [`PendingOutput::read_or_write`] did.
pub enum SocketEvent {
    /// Read this many bytes (0: the client closed the connection).
    Read(usize),
    /// Wrote some waiting reply bytes.
    Wrote,
}

impl PendingOutput {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Hands `reply` to the socket without waiting for it: what the socket
    /// does not take at once (or everything, while older bytes wait) is kept,
    /// after the bytes already waiting.
    pub fn send(&mut self, stream: &mut impl ClientIo, reply: &[u8]) -> io::Result<()> {
        let mut taken = 0;
        if self.bytes.is_empty() {
            let mut cx = Context::from_waker(Waker::noop());
            while taken < reply.len() {
                match Pin::new(&mut *stream).poll_write(&mut cx, &reply[taken..]) {
                    Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                    Poll::Ready(Ok(n)) => taken += n,
                    Poll::Ready(Err(e)) => return Err(e),
                    Poll::Pending => break,
                }
            }
        }
        self.bytes.extend_from_slice(&reply[taken..]);
        Ok(())
    }

    /// `reply` after the waiting bytes, all written before returning (for
    /// replies the client waits for before it sends more: the last before a
    /// block, a sync, a pause or a close).
    pub async fn write_all(&mut self, stream: &mut impl ClientIo, reply: &[u8]) -> io::Result<()> {
        self.send(stream, reply)?;
        self.flush(stream).await
    }

    /// Waits until every waiting byte is written.
    pub async fn flush(&mut self, stream: &mut impl ClientIo) -> io::Result<()> {
        if !self.bytes.is_empty() {
            stream.write_all(&self.bytes).await?;
            self.bytes.clear();
        }
        Ok(())
    }

    /// Reads more requests into `buf`; while replies wait, also writes them
    /// as the socket takes them, whichever comes first.
    pub async fn read_or_write(
        &mut self,
        stream: &mut impl ClientIo,
        buf: &mut BytesMut,
    ) -> io::Result<SocketEvent> {
        if self.bytes.is_empty() {
            return stream.read_buf(buf).await.map(SocketEvent::Read);
        }
        std::future::poll_fn(|cx| {
            match Pin::new(&mut *stream).poll_write(cx, &self.bytes) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.bytes.advance(n);
                    return Poll::Ready(Ok(SocketEvent::Wrote));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            poll_read_into(stream, cx, buf).map_ok(SocketEvent::Read)
        })
        .await
    }
}

/// At most this much is read at a time while replies wait.
const READ_WHILE_WAITING: usize = 64 * 1024;

/// Reads what is available into the spare capacity of `buf` (zeroed first:
/// this path runs only while replies wait, so its cost does not matter).
fn poll_read_into(
    stream: &mut impl ClientIo,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let filled = buf.len();
    let spare = (buf.capacity() - filled).clamp(1, READ_WHILE_WAITING);
    buf.resize(filled + spare, 0);
    let mut read = ReadBuf::new(&mut buf[filled..]);
    let polled = Pin::new(&mut *stream).poll_read(cx, &mut read);
    let n = read.filled().len();
    buf.truncate(filled + n);
    polled.map_ok(|()| n)
}

/// One class of `client-output-buffer-limit` (normal or pubsub), as
/// atomics the paths that queue replies read.
#[derive(Debug, Default)]
pub struct OutputLimits {
    hard_bytes: AtomicU64,
    soft_bytes: AtomicU64,
    soft_seconds: AtomicU64,
}

impl OutputLimits {
    /// Reads `class` from the canonical directive value
    /// (`normal 0 0 0 slave … pubsub 33554432 8388608 60`).
    pub fn configure(&self, directive: &str, class: &str) {
        let words: Vec<&str> = directive.split_whitespace().collect();
        let Some(class) = words.chunks(4).find(|c| c.len() == 4 && c[0] == class) else {
            return;
        };
        let number = |text: &str| text.parse::<u64>().unwrap_or(0);
        self.hard_bytes.store(number(class[1]), Ordering::Relaxed);
        self.soft_bytes.store(number(class[2]), Ordering::Relaxed);
        self.soft_seconds.store(number(class[3]), Ordering::Relaxed);
    }

    /// Redis's `checkClientOutputBufferLimits`: the hard limit at once, the
    /// soft limit once it has been exceeded continuously for longer than its
    /// seconds (`soft_since_ms` remembers when that started, 0 = not now).
    pub fn exceeded(&self, queued: usize, soft_since_ms: &AtomicU64) -> bool {
        let queued = queued as u64;
        let hard = self.hard_bytes.load(Ordering::Relaxed);
        if hard != 0 && queued >= hard {
            return true;
        }
        let soft = self.soft_bytes.load(Ordering::Relaxed);
        if soft == 0 || queued < soft {
            // Loaded first: the common case writes nothing to a shared line.
            if soft_since_ms.load(Ordering::Relaxed) != 0 {
                soft_since_ms.store(0, Ordering::Relaxed);
            }
            return false;
        }
        let now = ferrite_storage::now_ms().max(1);
        match soft_since_ms.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => false,
            Err(since) => {
                let seconds = self.soft_seconds.load(Ordering::Relaxed);
                now.saturating_sub(since) / 1000 > seconds
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_needs_its_seconds() {
        let limits = OutputLimits::default();
        limits.configure("normal 0 0 0 pubsub 100 10 0", "pubsub");
        let since = AtomicU64::new(0);
        assert!(!limits.exceeded(5, &since));
        assert!(!limits.exceeded(10, &since), "first time over soft");
        assert_ne!(since.load(Ordering::Relaxed), 0);
        assert!(!limits.exceeded(9, &since));
        assert_eq!(since.load(Ordering::Relaxed), 0);
        assert!(limits.exceeded(100, &since), "hard limit");
        let since = AtomicU64::new(ferrite_storage::now_ms() - 2_000);
        assert!(limits.exceeded(10, &since), "soft limit for over 0 s");
    }
}
