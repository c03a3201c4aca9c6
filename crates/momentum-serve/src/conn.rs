//! The connections: accepted, served by hyper's HTTP/1 with a bounded time for each request
//! head, and closed at the stop.
//!
//! This is axum's `serve` with a timer: axum builds hyper's connections without one, so
//! hyper's header read timeout never fires, and a client that sends part of a request head
//! and then nothing held its connection forever (and, at `SIGTERM`, the whole drain). Here the
//! head of every request must arrive within `serve.header_timeout_seconds`, counted from the
//! connection's start or, on a kept-alive connection, from the previous answer: a connection
//! that is silent or idle that long is closed (without an answer; hyper sends none for it).
//! The connections are hyper's own HTTP/1, not hyper-util's automatic version detection
//! (axum's choice), which reads a connection's first bytes with no timeout at all; HTTP/2 is
//! not built anyway.
//!
//! At the stop the listener is dropped (a new connection is refused) and every connection
//! without a request in flight is closed at once: one that has not sent a whole head yet, and
//! a kept-alive one between requests. A connection whose request is in flight is answered,
//! then closed; [`serve`] returns when the last connection has closed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Serves `router` on `listener` until `stopped` turns true, then closes the idle connections,
/// lets the requests in flight be answered and returns once every connection has closed. A
/// request head must arrive within `header_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    stopped: watch::Receiver<bool>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // Each connection holds a receiver; the sender's `closed` is the last one ending.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = crate::until_stopped(stopped.clone()) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = connection(&http, stream, router.clone(), stopped.clone());
                let open = open_rx.clone();
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!("connection from {peer}: {err}");
                    }
                    drop(open);
                });
            }
            Err(err) => accept_failed(err).await,
        }
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
}

/// One connection, served until the client or hyper closes it, or until the stop when no
/// request is in flight on it.
fn connection(
    http: &http1::Builder,
    stream: TcpStream,
    router: Router,
    stopped: watch::Receiver<bool>,
) -> impl Future<Output = hyper::Result<()>> + Send + 'static {
    // Whether hyper has handed a request to the router on this connection. Until it has, no
    // request is in flight (hyper calls the router as soon as it has read a head). After,
    // hyper knows: its graceful shutdown closes a connection between requests at once.
    let dispatched = Arc::new(AtomicBool::new(false));
    let service = {
        let dispatched = Arc::clone(&dispatched);
        let router = TowerToHyperService::new(router);
        service_fn(move |request| {
            dispatched.store(true, Ordering::Relaxed);
            router.call(request)
        })
    };
    let connection = http.serve_connection(TokioIo::new(stream), service);
    async move {
        let mut connection = std::pin::pin!(connection);
        // Biased: the connection is polled before the stop is looked at, so a head received
        // by then is read and its request answered.
        tokio::select! {
            biased;
            served = connection.as_mut() => return served,
            () = crate::until_stopped(stopped) => {}
        }
        if !dispatched.load(Ordering::Relaxed) {
            return Ok(());
        }
        connection.as_mut().graceful_shutdown();
        connection.await
    }
}

/// An accept that failed: a connection reset before it was accepted is skipped; anything else
/// (out of file descriptors) is logged and the next accept waits a second, as axum's does.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("cannot accept a connection: {err}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
