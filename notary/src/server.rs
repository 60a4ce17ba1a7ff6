//! The HTTP/1.1 accept loop.
//!
//! Like `axum::serve`, plus the limits a public-facing service needs against
//! slow or abusive clients ([`Limits`]): at most `max_connections` open
//! connections (more are closed at once); request headers read within
//! `header_timeout` (also the longest a kept-alive connection may sit idle);
//! every request finished within `request_timeout` (in the router); and a
//! client whose answers back up must read them at a minimum rate
//! ([`WriteDeadline`]), so a client that reads nothing, or a trickle, loses
//! its connection instead of holding it; the kernel buffers at most
//! [`SEND_BUFFER`] (doubled) for each; and no connection lives longer than
//! `max_connection_age` plus `shutdown_timeout`. On shutdown, connections get
//! `shutdown_timeout` to finish what they are answering, then are closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Sleep;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// A client must send a request's headers within this time.
    pub header_timeout: Duration,
    /// A request (body upload and answer included) must finish within this time.
    pub request_timeout: Duration,
    /// Once a client's answers back up, it must read at least
    /// [`MIN_READ_RATE`] in every window of this length until it has caught
    /// up, or the connection is closed ([`WriteDeadline`]).
    pub write_timeout: Duration,
    /// On shutdown, how long connections may take to finish their requests.
    pub shutdown_timeout: Duration,
    /// A connection older than this finishes its request and is closed.
    pub max_connection_age: Duration,
    /// Request bodies held in memory at once, in bytes, across all connections.
    pub upload_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            max_connection_age: Duration::from_secs(600),
            upload_budget: 64 << 20,
        }
    }
}

pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max_connections = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    // Tells every connection to finish.
    let (closing_tx, closing_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(
                max_connections,
                "connection refused: too many open connections"
            );
            continue; // dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        cap_send_buffer(&stream);
        let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
        let service = TowerToHyperService::new(app.clone());
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                // A client that sends its request and then shuts down its
                // side (`nc -N`) still gets the answer: a submission may
                // have been appended for it.
                .half_close(true)
                .serve_connection(io, service);
            tokio::pin!(conn);
            let aged = tokio::time::sleep(limits.max_connection_age);
            tokio::pin!(aged);
            // However a client behaves, it keeps no connection for ever: on
            // shutdown, or at its maximum age, a connection finishes the
            // request in hand, for at most the shutdown timeout, and is
            // closed (by being dropped).
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closing.changed() => {}
                _ = &mut aged => {}
            }
            conn.as_mut().graceful_shutdown();
            if tokio::time::timeout(limits.shutdown_timeout, conn.as_mut())
                .await
                .is_err()
            {
                tracing::debug!("closing a connection that did not finish in time");
            }
        });
    }
    // Every connection finishes, or is closed, within the shutdown timeout:
    // wait for all of them to let go of their permits.
    let _ = closing_tx.send(true);
    let _ = permits.acquire_many(max_connections as u32).await;
    Ok(())
}

/// What the kernel may buffer for one client's socket (Linux doubles it):
/// without a cap, send buffers grow to megabytes per connection for clients
/// that do not read, outside any budget of the process.
const SEND_BUFFER: libc::c_int = 256 * 1024;

fn cap_send_buffer(stream: &tokio::net::TcpStream) {
    use std::os::fd::AsRawFd as _;
    // SAFETY: SO_SNDBUF takes one int, for the socket `stream` owns.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&SEND_BUFFER as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Least a client whose answers back up must read: in every `write_timeout`
/// window, this many bytes per second of the window.
pub const MIN_READ_RATE: usize = 16 * 1024;
/// Answers a client may leave unread in its socket's send queue before it
/// must keep up with [`MIN_READ_RATE`].
pub const MAX_BACKLOG: usize = 256 * 1024;
/// How often, in bytes written, the send queue is looked at while nothing
/// is backed up (a fraction of [`MAX_BACKLOG`], so a backlog is seen early).
const BACKLOG_CHECK: usize = 32 * 1024;
/// A send queue at or below this many bytes counts as drained.
const DRAINED: usize = 16 * 1024;

/// A client connection that must read what it is sent.
///
/// Once answers back up — a write blocks because the socket's send buffer is
/// full, or more than [`MAX_BACKLOG`] bytes sit unread in the send queue — a
/// window of `timeout` starts. By its end the client must have taken at
/// least [`MIN_READ_RATE`] × `timeout` bytes off the send queue (what was
/// written, minus what is still queued: bytes its side has received), or
/// the next write fails with `TimedOut` and hyper drops the connection.
/// Windows follow each other until the queue has drained, that is, until
/// the client has caught up. A client that reads nothing, or a trickle, thus
/// loses its connection within a window or two, however it paces its
/// requests; one that downloads a large answer slowly but steadily does not.
struct WriteDeadline<S> {
    io: S,
    timeout: Duration,
    /// Bytes written to the socket so far.
    written: usize,
    /// `written` at which to look at the send queue again.
    next_check: usize,
    window: Option<Window>,
}

struct Window {
    ends: Pin<Box<Sleep>>,
    /// `written` and the send queue's length when the window began.
    written: usize,
    queued: usize,
}

/// How many bytes written to a socket its peer has not yet acknowledged.
trait SendQueue {
    fn unsent(&self) -> usize;
}

impl SendQueue for tokio::net::TcpStream {
    fn unsent(&self) -> usize {
        use std::os::fd::AsRawFd as _;
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int for a valid socket descriptor,
        // which `self` owns for the duration of the call.
        let ok = unsafe { libc::ioctl(self.as_raw_fd(), libc::TIOCOUTQ, &mut queued) } == 0;
        if ok {
            queued.max(0) as usize
        } else {
            0
        }
    }
}

impl<S: SendQueue> WriteDeadline<S> {
    fn new(io: S, timeout: Duration) -> WriteDeadline<S> {
        WriteDeadline {
            io,
            timeout,
            written: 0,
            next_check: 0,
            window: None,
        }
    }

    /// Tracks one poll of a write (`written` bytes if it went through).
    fn track<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
        written: impl FnOnce(&T) -> usize,
    ) -> Poll<io::Result<T>> {
        let blocked = match &poll {
            Poll::Ready(Ok(value)) => {
                self.written += written(value);
                false
            }
            Poll::Ready(Err(_)) => return poll,
            Poll::Pending => true,
        };
        // The queue's length costs a system call: while nothing is backed
        // up, look at it only once per [`BACKLOG_CHECK`] bytes written.
        if self.window.is_none() && !blocked && self.written < self.next_check {
            return poll;
        }
        self.next_check = self.written + BACKLOG_CHECK;
        let queued = self.io.unsent();
        if self.window.is_none() && (blocked || queued > MAX_BACKLOG) {
            self.window = Some(Window {
                ends: Box::pin(tokio::time::sleep(self.timeout)),
                written: self.written,
                queued,
            });
        }
        let Some(window) = &mut self.window else {
            return poll;
        };
        // Poll the timer even when not blocked, so that it wakes this task.
        if window.ends.as_mut().poll(cx).is_pending() {
            return poll;
        }
        if queued <= DRAINED && !blocked {
            self.window = None; // caught up
            return poll;
        }
        let taken =
            (self.written - window.written) as i128 - queued as i128 + window.queued as i128;
        let least = MIN_READ_RATE as u128 * self.timeout.as_millis() / 1000;
        if taken < least as i128 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client reads its answers too slowly (or not at all)",
            )));
        }
        // Enough this time; the next window starts now.
        window
            .ends
            .as_mut()
            .reset(tokio::time::Instant::now() + self.timeout);
        let _ = window.ends.as_mut().poll(cx);
        window.written = self.written;
        window.queued = queued;
        poll
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + SendQueue + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.track(cx, poll, |n| *n)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.track(cx, poll, |n| *n)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.track(cx, poll, |()| 0)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.track(cx, poll, |()| 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair of sockets on loopback: ours (wrapped) and theirs.
    async fn pair(timeout: Duration) -> (WriteDeadline<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let theirs = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        (WriteDeadline::new(ours, timeout), theirs)
    }

    /// Reads `bytes` every 100 ms until the socket closes.
    fn read_a_trickle(mut theirs: TcpStream, bytes: usize) {
        tokio::spawn(async move {
            let mut buf = vec![0u8; bytes];
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if theirs.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
            }
        });
    }

    /// Writes until the write fails; returns the error and the bytes written.
    async fn write_until_error(
        io: &mut WriteDeadline<TcpStream>,
        total: usize,
    ) -> Option<io::Error> {
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0;
        while written < total {
            match io.write(&chunk).await {
                Ok(n) => written += n,
                Err(e) => return Some(e),
            }
        }
        None
    }

    #[tokio::test]
    async fn a_peer_that_never_reads_times_out() {
        let (mut io, _theirs) = pair(Duration::from_millis(200)).await;
        let err = tokio::time::timeout(
            Duration::from_secs(10),
            write_until_error(&mut io, usize::MAX),
        )
        .await
        .expect("the deadline fires")
        .expect("the write fails");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_peer_that_reads_a_trickle_times_out() {
        let (mut io, theirs) = pair(Duration::from_millis(200)).await;
        // 512 bytes every 100 ms: 5 KB/s, under the 16 KB/s minimum.
        read_a_trickle(theirs, 512);
        let err = tokio::time::timeout(
            Duration::from_secs(30),
            write_until_error(&mut io, usize::MAX),
        )
        .await
        .expect("the deadline fires")
        .expect("the write fails");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    /// Answers written at a pace the socket absorbs, never blocking, but
    /// read at a trickle: the backlog alone starts the clock.
    #[tokio::test]
    async fn a_backlog_read_at_a_trickle_times_out_without_blocking() {
        let (mut io, theirs) = pair(Duration::from_secs(1)).await;
        // 1 KB every 100 ms: 10 KB/s, under the minimum of 16 KB/s.
        read_a_trickle(theirs, 1024);
        // 16 KB every 100 ms: the queue grows by ~150 KB/s.
        let started = std::time::Instant::now();
        let mut longest = Duration::ZERO;
        let err = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let write = std::time::Instant::now();
                if let Err(e) = io.write_all(&[0u8; 16 * 1024]).await {
                    return e;
                }
                longest = longest.max(write.elapsed());
            }
        })
        .await
        .expect("the deadline fires");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        // No write blocked for long: the backlog alone started the clock.
        assert!(
            longest < Duration::from_millis(50),
            "a write blocked {longest:?}"
        );
    }

    #[tokio::test]
    async fn a_peer_that_reads_steadily_is_served_however_long_it_takes() {
        let (mut io, mut theirs) = pair(Duration::from_millis(100)).await;
        let total = 32 << 20;
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            while got < total {
                // About 40 MB/s: far above the minimum, far below loopback.
                tokio::time::sleep(Duration::from_millis(1)).await;
                got += theirs.read(&mut buf).await.unwrap();
            }
        });
        assert!(write_until_error(&mut io, total).await.is_none());
        reader.await.unwrap();
    }
}
