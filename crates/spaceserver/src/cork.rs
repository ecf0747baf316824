//! An HTTP/2 connection's writes held back to the end of its task's turn, so that what
//! the connection's streams produce together reaches the socket as one write.
//!
//! An HTTP/2 connection is one task that writes what its streams' tasks hand it, and h2
//! flushes after every data frame of more than a few hundred bytes. Under load the
//! streams' tasks run one after another, tokio runs the task a task wakes next, and the
//! connection's task flushed what each stream gave it as it came: the answer to a write
//! and the watch event the same write makes for the same client (a syncer's create in its
//! WEC, its status in its mailbox) went out as two TLS records in two `writev` calls, read
//! with two wake-ups. Counted at 1,000 WECs, the WEC server made 64,000 writes for about as
//! many messages, and the kernel's side of each (TCP on loopback, waking the reader) was a
//! tenth of the server's CPU.
//!
//! [`Corked`] sits under TLS. Once [`Corked::cork`]ed, writes collect in its buffer and a
//! flush only asks for the task to be polled again, behind the tasks already waiting to
//! run (the stream tasks the same event woke, which meanwhile hand the connection their
//! frames). The buffer is written out by the first flush after the task has read from the
//! connection again: h2 reads before it writes on every poll, so that is the next poll;
//! an idle connection waits for nothing but that one turn. [`LONGEST`] bounds the wait
//! should a poll not read, and [`HOLD`] the buffer.
//!
//! Only HTTP/2 is corked: its task always flushes at the end of a poll. HTTP/1.1 goes
//! straight through. The server corks the connections that chose h2 by ALPN; so do the
//! clients of `orrery-spaces`, whose connections multiplex a process's requests and
//! watches (the simulated clusters' one connection carries every WEC's status writes).

use bytes::{Buf, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this much held back, a write first writes what is held: the buffer stays small,
/// and a large answer goes out as it is produced.
const HOLD: usize = 64 * 1024;

/// The room a batch starts with: a few watch events and answers.
const BATCH: usize = 16 * 1024;

/// The longest a flush is held back, should the task not read in between.
const LONGEST: Duration = Duration::from_millis(2);

/// A byte stream whose flushes, once corked, wait for the task's next poll
/// ([the module's documentation](self)).
#[derive(Debug)]
pub struct Corked<S> {
    inner: S,
    corked: bool,
    held: BytesMut,
    /// Since when a flush of what is held has been acknowledged without writing it.
    owed: Option<Instant>,
    /// Whether the task has read since then: the next flush writes.
    ripe: bool,
}

impl<S> Corked<S> {
    /// `inner`, uncorked: every write goes straight through.
    pub fn new(inner: S) -> Self {
        Self { inner, corked: false, held: BytesMut::new(), owed: None, ripe: false }
    }

    /// From here on, writes wait for a flush, and flushes for the next poll.
    pub fn cork(&mut self) {
        self.corked = true;
    }

    /// Corks the stream if its connection chose HTTP/2 (`alpn`, the protocol TLS agreed
    /// on): only h2's task flushes at the end of every poll.
    pub fn cork_if_h2(&mut self, alpn: Option<&[u8]>) {
        if alpn == Some(b"h2") {
            self.cork();
        }
    }
}

/// What a client's connection reports about itself: the TCP stream's.
impl hyper_util::client::legacy::connect::Connection for Corked<tokio::net::TcpStream> {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.inner.connected()
    }
}

impl<S: AsyncWrite + Unpin> Corked<S> {
    /// Writes out everything held.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.held.advance(n);
        }
        // Not kept between batches: 10,000 idle connections would each keep their
        // largest batch's room.
        self.held = BytesMut::new();
        Poll::Ready(Ok(()))
    }

    /// Holds `bufs` back, making room for a batch as it starts; returns their length.
    fn hold(&mut self, bufs: &[io::IoSlice<'_>]) -> usize {
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        if self.held.capacity() == 0 {
            self.held.reserve(n.max(BATCH));
        }
        for buf in bufs {
            self.held.extend_from_slice(buf);
        }
        n
    }

    /// Room for more: what is held is written out first when it is past [`HOLD`].
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.held.len() >= HOLD {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Corked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.ripe = self.owed.is_some();
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Corked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if !self.corked {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        ready!(self.poll_room(cx))?;
        Poll::Ready(Ok(self.hold(&[io::IoSlice::new(buf)])))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.corked {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        ready!(self.poll_room(cx))?;
        Poll::Ready(Ok(self.hold(bufs)))
    }

    fn is_write_vectored(&self) -> bool {
        self.corked || self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.held.is_empty() {
            let due = self.ripe || self.owed.is_some_and(|since| since.elapsed() >= LONGEST);
            if !due {
                self.owed.get_or_insert_with(Instant::now);
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_drain(cx))?;
        }
        self.owed = None;
        self.ripe = false;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A waker that counts its wakes.
    fn counting_waker() -> (std::task::Waker, Arc<AtomicUsize>) {
        struct Count(Arc<AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(AtomicUsize::new(0));
        (std::task::Waker::from(Arc::new(Count(count.clone()))), count)
    }

    /// What has reached the far end so far.
    fn arrived(far: &mut DuplexStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while let Some(Ok(n)) = futures::FutureExt::now_or_never(far.read(&mut buf)) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    /// A corked stream and the far end of its pipe, which holds `capacity` bytes.
    fn corked(capacity: usize) -> (Corked<DuplexStream>, DuplexStream) {
        let (near, far) = tokio::io::duplex(capacity);
        let mut stream = Corked::new(near);
        stream.cork();
        (stream, far)
    }

    fn poll_read_once(corked: &mut Corked<DuplexStream>, cx: &mut Context<'_>) {
        let mut space = [0u8; 16];
        let _ = Pin::new(corked).poll_read(cx, &mut ReadBuf::new(&mut space));
    }

    /// Only a connection that chose HTTP/2 is corked.
    #[test]
    fn only_h2_is_corked() {
        for (alpn, corks) in [(Some(&b"h2"[..]), true), (Some(b"http/1.1"), false), (None, false)] {
            let mut stream = Corked::new(tokio::io::duplex(16).0);
            stream.cork_if_h2(alpn);
            assert_eq!(stream.corked, corks, "{alpn:?}");
        }
    }

    #[tokio::test]
    async fn uncorked_writes_go_straight_through() {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let mut stream = Corked::new(near);
        stream.write_all(b"now").await.expect("write");
        assert_eq!(arrived(&mut far), b"now");
    }

    /// A corked flush acknowledges, asks to be polled again and writes nothing; the first
    /// flush after a read writes everything held, in order, at once.
    #[test]
    fn a_flush_writes_once_the_task_has_read_again() {
        let (mut stream, mut far) = corked(1 << 16);
        let (waker, woken) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut pinned = Pin::new(&mut stream);
        assert!(matches!(pinned.as_mut().poll_flush(&mut cx), Poll::Ready(Ok(()))), "nothing held");
        assert_eq!(woken.load(Ordering::SeqCst), 0, "and nothing to come back for");
        for part in [&b"one "[..], b"two "] {
            assert!(matches!(pinned.as_mut().poll_write(&mut cx, part), Poll::Ready(Ok(4))));
            assert!(matches!(pinned.as_mut().poll_flush(&mut cx), Poll::Ready(Ok(()))));
        }
        assert!(woken.load(Ordering::SeqCst) >= 1, "asks to be polled again");
        assert_eq!(arrived(&mut far), b"", "held within the turn");
        poll_read_once(&mut stream, &mut cx);
        let mut pinned = Pin::new(&mut stream);
        assert!(matches!(pinned.as_mut().poll_write(&mut cx, b"three"), Poll::Ready(Ok(5))));
        assert!(matches!(pinned.as_mut().poll_flush(&mut cx), Poll::Ready(Ok(()))));
        assert_eq!(arrived(&mut far), b"one two three");
        assert!(matches!(pinned.as_mut().poll_write(&mut cx, b"four"), Poll::Ready(Ok(4))));
        assert!(matches!(pinned.as_mut().poll_flush(&mut cx), Poll::Ready(Ok(()))));
        assert_eq!(arrived(&mut far), b"", "a new batch waits for the next read");
    }

    /// A task that never reads again still gets its bytes out, [`LONGEST`] later.
    #[test]
    fn a_flush_is_held_back_no_longer_than_the_longest() {
        let (mut stream, mut far) = corked(1 << 16);
        let (waker, _) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut pinned = Pin::new(&mut stream);
        assert!(matches!(pinned.as_mut().poll_write(&mut cx, b"late"), Poll::Ready(Ok(4))));
        let started = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "never written");
            assert!(matches!(pinned.as_mut().poll_flush(&mut cx), Poll::Ready(Ok(()))));
            got = arrived(&mut far);
        }
        assert_eq!(got, b"late");
        assert!(started.elapsed() >= LONGEST);
    }

    /// Past [`HOLD`], a write writes out what is held first; a shutdown writes the rest.
    #[tokio::test]
    async fn a_large_write_goes_out_as_it_comes() {
        let (mut stream, mut far) = corked(4 * HOLD);
        let chunk = vec![7u8; HOLD];
        stream.write_all(&chunk).await.expect("write");
        stream.write_all(&chunk).await.expect("write");
        let mut got = vec![0u8; HOLD];
        far.read_exact(&mut got).await.expect("the first chunk, unflushed");
        assert_eq!(got, chunk);
        stream.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        far.read_to_end(&mut rest).await.expect("read");
        assert_eq!(rest, chunk);
    }
}
