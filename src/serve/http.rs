//! The daemon's HTTP endpoint: `/healthz`, `/readyz`, `/metrics`. A few lines of HTTP/1.1 on a
//! tokio listener (GET only, one request per connection) rather than a server framework: the
//! `hyper` server features would rebuild hyper and everything above it, Polars' object store
//! included, for three plain-text pages.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the endpoint serves; implemented by the daemon.
pub trait Pages: Send + Sync + 'static {
    /// `/readyz`: `Ok(text)` when ready, `Err(why not)` otherwise.
    fn ready(&self) -> impl Future<Output = Result<String, String>> + Send;
    /// `/metrics`, in the Prometheus text format.
    fn metrics(&self) -> String;
}

/// Serves until `shutdown` resolves.
pub async fn serve<P: Pages>(
    listener: TcpListener,
    pages: Arc<P>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let pages = pages.clone();
                    tokio::spawn(async move {
                        if let Err(error) = handle(stream, &*pages).await {
                            tracing::debug!(%peer, %error, "http connection");
                        }
                    });
                }
                Err(error) => tracing::warn!(%error, "accepting a connection"),
            },
        }
    }
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

async fn handle<P: Pages>(mut stream: TcpStream, pages: &P) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    // The request head only; a slow or oversized one is dropped.
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return Ok(());
    }
    let head = String::from_utf8_lossy(&request);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/healthz") => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
        ("GET", "/readyz") => match pages.ready().await {
            Ok(text) => (200, "text/plain; charset=utf-8", text),
            Err(why) => (503, "text/plain; charset=utf-8", why),
        },
        ("GET", "/metrics") => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            pages.metrics(),
        ),
        ("GET", _) => (404, "text/plain; charset=utf-8", "not found\n".into()),
        _ => (405, "text/plain; charset=utf-8", "GET only\n".into()),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
