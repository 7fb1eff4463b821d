//! The accept loop: TCP (or TLS) connections served as HTTP/1.1 with WebSocket
//! upgrades.
//!
//! Our own rather than `axum::serve`, for two protections it does not give: a caller
//! must finish its TLS handshake and its request head within
//! `ingest.handshake_timeout_s` (a slowloris client that trickles a byte at a time is dropped, not kept forever),
//! and `wss://` without a proxy in front.

use std::convert::Infallible;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use crate::config::TlsConfig;

/// A TLS configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or holds no usable PEM item.
    #[error("TLS {what} {path}: {why}")]
    File {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        why: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Load the certificate chain and key into an acceptor.
///
/// # Errors
/// [`TlsError`] when a file is missing, empty or the pair is unusable.
pub fn tls_acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let open = |what, path: &Path| {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| TlsError::File {
                what,
                path: path.to_owned(),
                why: e.to_string(),
            })
    };
    let bad = |what, path: &Path, why: String| TlsError::File {
        what,
        path: path.to_owned(),
        why,
    };
    let certs = CertificateDer::pem_reader_iter(open("certificate", &tls.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", &tls.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(
            "certificate",
            &tls.cert,
            "no CERTIFICATE in the file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_reader(open("key", &tls.key)?)
        .map_err(|e| bad("key", &tls.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accept connections until `stop` is cancelled, then let each finish the request it
/// is serving; returns once every HTTP connection has ended (or `grace` has passed). (Upgraded WebSockets
/// are tracked by the caller: they leave this loop's care once upgraded.)
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    stop: CancellationToken,
    handshake: Duration,
    grace: Duration,
) {
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let conn = Conn {
            peer,
            tls: tls.clone(),
            app: app.clone(),
            stop: stop.clone(),
            handshake,
        };
        connections.spawn(conn.serve(tcp));
    }
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after the grace period.");
    }
}

/// One accepted connection and what serving it needs.
struct Conn {
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Router,
    stop: CancellationToken,
    handshake: Duration,
}

impl Conn {
    async fn serve(self, tcp: TcpStream) {
        // Verdicts are small writes that must leave at once: no Nagle delay.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set.");
        }
        let Some(acceptor) = self.tls.clone() else {
            return self.http(tcp).await;
        };
        match tokio::time::timeout(self.handshake, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => self.http(stream).await,
            Ok(Err(e)) => {
                crate::server::limits::refused("tls_handshake");
                tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed.");
            }
            Err(_) => {
                crate::server::limits::refused("handshake_timeout");
                tracing::debug!(peer = %self.peer, "TLS handshake timed out.");
            }
        }
    }

    async fn http<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Conn {
            peer,
            app,
            stop,
            handshake,
            ..
        } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move {
                Ok::<_, Infallible>(
                    app.call(request.map(Body::new))
                        .await
                        .unwrap_or_else(|never| match never {}),
                )
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(handshake);
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    if e.is_timeout() {
                        crate::server::limits::refused("handshake_timeout");
                    }
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error.");
                }
            }
            _ = stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }
}
