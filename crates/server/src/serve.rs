//! Serving the router on a TCP listener: per-connection timeouts, a connection cap and graceful
//! shutdown.
//!
//! Each connection is served by hyper's HTTP/1 connection with a header-read timeout, so a
//! client that never finishes its request head is dropped. A kept-alive connection with no
//! request in flight and nothing received for [`ServeConfig::idle_timeout`] is closed. At most
//! [`ServeConfig::max_connections`] are open at once: beyond it the server stops accepting (new
//! clients wait in the kernel's backlog) until one closes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::app::{AppState, app};

/// Timeouts and the connection cap of the listener (`[server]` in `rampart.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeConfig {
    /// Time a client has to send a complete request line and headers, counted from when the
    /// server starts waiting for them (the connection opened, or the previous response was sent).
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in flight that receives nothing for this long is
    /// closed (the header-read timeout also bounds it).
    pub idle_timeout: Duration,
    /// Most connections open at once; beyond it the server accepts no more until one closes.
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig { header_read_timeout: Duration::from_secs(10), idle_timeout: Duration::from_secs(60), max_connections: 1024 }
    }
}

/// Serves the API on `listener` with the default [`ServeConfig`] until `shutdown` completes,
/// then finishes the requests in flight (each of which answers only after its events are
/// committed).
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
    serve_with(listener, state, ServeConfig::default(), shutdown).await
}

/// [`serve`] with these timeouts and connection cap.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let router = app(state);
    let max = u32::try_from(config.max_connections.max(1)).unwrap_or(u32::MAX >> 3).min(Semaphore::MAX_PERMITS as u32);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // Beyond the cap, wait for a connection to close before accepting another.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.map_err(io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of files, or a connection reset before it was accepted: the listener
                    // itself is fine; wait a moment rather than spin.
                    tracing::warn!(error = %error, "cannot accept a connection; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (router, stop) = (router.clone(), stop_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, peer, router, config, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    // Tell every connection to finish its request in flight and close, then wait for all.
    let _ = stop_tx.send(true);
    let _all = slots.acquire_many(max).await.map_err(io::Error::other)?;
    Ok(())
}

/// What the idle check knows of one connection.
#[derive(Debug, Default)]
struct Activity {
    /// Bytes received so far.
    received: AtomicU64,
    /// Requests whose response is not ready yet.
    in_flight: AtomicUsize,
    /// Milliseconds since the connection opened when it last became idle.
    idle_since_ms: AtomicU64,
    /// `received` when it last became idle.
    received_when_idle: AtomicU64,
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, router: Router, config: ServeConfig, mut stop: watch::Receiver<bool>) {
    let opened = Instant::now();
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Counted { inner: stream, activity: activity.clone() });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let (router, activity) = (router.clone(), service_activity.clone());
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        async move {
            let response = router.oneshot(request.map(Body::new)).await;
            activity.received_when_idle.store(activity.received.load(Ordering::SeqCst), Ordering::SeqCst);
            activity.idle_since_ms.store(elapsed_ms(opened), Ordering::SeqCst);
            activity.in_flight.fetch_sub(1, Ordering::SeqCst);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(config.header_read_timeout).keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        let idle_deadline = opened + Duration::from_millis(activity.idle_since_ms.load(Ordering::SeqCst)) + config.idle_timeout;
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(error = %error, peer = %peer, "connection closed with an error");
                }
                return;
            }
            changed = stop.changed(), if !closing => {
                if changed.is_err() || *stop.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(idle_deadline), if !closing => {
                let received = activity.received.load(Ordering::SeqCst);
                if activity.in_flight.load(Ordering::SeqCst) > 0 {
                    // A request is being handled: check again one idle period from now.
                    activity.idle_since_ms.store(elapsed_ms(opened), Ordering::SeqCst);
                } else if received != activity.received_when_idle.load(Ordering::SeqCst) {
                    // Bytes of a next request arrived: the header-read timeout governs it; check
                    // again one idle period from now.
                    activity.received_when_idle.store(received, Ordering::SeqCst);
                    activity.idle_since_ms.store(elapsed_ms(opened), Ordering::SeqCst);
                } else if Instant::now() >= opened + Duration::from_millis(activity.idle_since_ms.load(Ordering::SeqCst)) + config.idle_timeout {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                // Else a request finished since the deadline was set: the loop sets a later one.
            }
        }
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A stream that counts the bytes it receives, for the idle check.
struct Counted {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.activity.received.fetch_add(read as u64, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
