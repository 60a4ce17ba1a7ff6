//! The HTTP/1.1 accept loop.
//!
//! Like `axum::serve`, plus the limits a public-facing service needs against
//! slow or abusive clients ([`Limits`]): at most `max_connections` open
//! connections (more are closed at once); request headers read within
//! `header_timeout` (also the longest a kept-alive connection may sit idle);
//! every request finished within `request_timeout` (in the router); and
//! every write to a client making progress within `write_timeout`, so a
//! client that pipelines requests and never reads the answers loses its
//! connection instead of holding it. On shutdown, connections get
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
    /// A write to a client that makes no progress for this long (the client
    /// stopped reading) closes the connection.
    pub write_timeout: Duration,
    /// On shutdown, how long connections may take to finish their requests.
    pub shutdown_timeout: Duration,
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
    // `closing` asks connections to finish; `closed` drops those that have not.
    let (closing_tx, closing_rx) = watch::channel(false);
    let (closed_tx, closed_rx) = watch::channel(false);
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
        let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
        let service = TowerToHyperService::new(app.clone());
        let (mut closing, mut closed) = (closing_rx.clone(), closed_rx.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closing.changed() => conn.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closed.changed() => {} // dropping the connection closes it
            }
        });
    }
    // Let connections finish the requests they have, for a while; then close
    // what is left and wait for those tasks to let go of their permits.
    let _ = closing_tx.send(true);
    let all = max_connections as u32;
    if tokio::time::timeout(limits.shutdown_timeout, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = max_connections - permits.available_permits(),
            "closing connections still open after the shutdown timeout"
        );
        let _ = closed_tx.send(true);
        let _ = permits.acquire_many(all).await;
    }
    Ok(())
}

/// A client connection whose writes must make progress: a write (or flush)
/// that stays blocked for `timeout`, because the client does not read what
/// it is sent, fails with `TimedOut`, and hyper then drops the connection.
/// The kernel reports a socket writable again only once a good share of its
/// send buffer has drained, so a client reading a trickle does not reset
/// the deadline either.
struct WriteDeadline<S> {
    io: S,
    timeout: Duration,
    /// Armed while a write is blocked.
    blocked: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(io: S, timeout: Duration) -> WriteDeadline<S> {
        WriteDeadline {
            io,
            timeout,
            blocked: None,
        }
    }

    /// Tracks one poll of a write: progress disarms the deadline, a blocked
    /// write arms it (once) and fails when it passes.
    fn track<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.blocked = None;
            return poll;
        }
        let timeout = self.timeout;
        let deadline = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the answer for the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
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

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.track(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.track(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.track(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.track(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    /// A peer that never reads: writes fill the pipe, then time out.
    #[tokio::test]
    async fn a_blocked_write_times_out() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let mut io = WriteDeadline::new(ours, Duration::from_millis(50));
        let chunk = [0u8; 4096];
        let err = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Err(e) = io.write(&chunk).await {
                    return e;
                }
            }
        })
        .await
        .expect("the write deadline fires");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    /// A peer that reads: writes keep going however long it all takes.
    #[tokio::test]
    async fn progress_resets_the_deadline() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let mut total = 0;
            while total < 4096 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                total += tokio::io::AsyncReadExt::read(&mut theirs, &mut buf)
                    .await
                    .unwrap();
            }
        });
        let mut io = WriteDeadline::new(ours, Duration::from_millis(30));
        io.write_all(&[1u8; 4096])
            .await
            .expect("progress keeps it alive");
        reader.await.unwrap();
    }
}
