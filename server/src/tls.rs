//! TLS: certificates and keys from PEM files, optional client
//! certificates (mutual TLS), and the acceptor a reload swaps.

use std::sync::Arc;

use anyhow::Context;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// Installs the process-wide crypto provider (once; later calls are no-ops).
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the acceptor from the configured files.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    install_crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert)
        .with_context(|| format!("read certificate {}", config.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parse certificate {}", config.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate found", config.cert.display());
    }
    let key =
        PrivateKeyDer::from_pem_file(&config.key).with_context(|| format!("read key {}", config.key.display()))?;
    let builder = rustls::ServerConfig::builder();
    let server = match &config.client_ca {
        None => builder.with_no_client_auth().with_single_cert(certs, key),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).with_context(|| format!("read client CA {}", ca.display()))? {
                roots.add(cert.with_context(|| format!("parse client CA {}", ca.display()))?)?;
            }
            let verifier =
                WebPkiClientVerifier::builder(Arc::new(roots)).build().context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier).with_single_cert(certs, key)
        }
    }
    .context("certificate and key do not match")?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The acceptor in effect; a reload that re-reads the certificate files
/// swaps in a new one, and connections accepted after that use it.
pub struct SwappableAcceptor(arc_swap::ArcSwap<TlsAcceptor>);

impl std::fmt::Debug for SwappableAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwappableAcceptor")
    }
}

impl SwappableAcceptor {
    /// Starts with `acceptor`.
    #[must_use]
    pub fn new(acceptor: TlsAcceptor) -> SwappableAcceptor {
        SwappableAcceptor(arc_swap::ArcSwap::from_pointee(acceptor))
    }

    /// The acceptor for a new connection.
    #[must_use]
    pub fn current(&self) -> Arc<TlsAcceptor> {
        self.0.load_full()
    }

    /// Puts `acceptor` in effect.
    pub fn replace(&self, acceptor: TlsAcceptor) {
        self.0.store(Arc::new(acceptor));
    }
}
