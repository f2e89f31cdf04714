//! HTTPS for the portal's own listener, with rustls. Handshakes run in their own tasks so a
//! slow or silent client cannot hold up the accept loop.
use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio::{net::TcpListener, net::TcpStream, sync::mpsc};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} holds no PEM certificate; give the server certificate first, then its chain")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1 expected; encrypted keys are not supported)")]
    NoKey { path: PathBuf },
    #[error("{path} is not readable PEM: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("the certificate and key were rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate and key, ready to accept connections.
#[derive(Clone)]
pub struct TlsAcceptorConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsAcceptorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAcceptorConfig")
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_owned(), source })
}

impl TlsAcceptorConfig {
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<TlsAcceptorConfig, TlsError> {
        let cert_pem = read(cert_path)?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|error| TlsError::Pem { path: cert_path.to_owned(), message: error.to_string() })?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate { path: cert_path.to_owned() });
        }
        let key_pem = read(key_path)?;
        let key: PrivateKeyDer<'static> = match PrivateKeyDer::from_pem_slice(&key_pem) {
            Ok(key) => key,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => return Err(TlsError::NoKey { path: key_path.to_owned() }),
            Err(error) => return Err(TlsError::Pem { path: key_path.to_owned(), message: error.to_string() }),
        };
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptorConfig { acceptor: TlsAcceptor::from(Arc::new(config)) })
    }
}

/// An `axum::serve::Listener` that yields finished TLS connections.
pub struct TlsListener {
    local_addr: io::Result<SocketAddr>,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, tls: TlsAcceptorConfig) -> TlsListener {
        let local_addr = listener.local_addr();
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Small responses (JSON, a page's head) go out at once, not after Nagle's delay.
                let _ = stream.set_nodelay(true);
                let acceptor = tls.acceptor.clone();
                let handshakes = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = handshakes.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
                if sender.is_closed() {
                    break;
                }
            }
        });
        TlsListener { local_addr, ready }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The acceptor task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match &self.local_addr {
            Ok(addr) => Ok(*addr),
            Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
        }
    }
}
