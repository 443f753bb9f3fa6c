//! Turns a [`TlsConfig`] into a rustls connector and the name to verify.
//!
//! The connector uses the `ring` provider explicitly rather than the
//! process-wide default, so the client works whether or not the program
//! installed a default provider, and whichever providers other crates in
//! the build enable.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

use crate::config::{Pem, TlsConfig};
use crate::error::{ClientError, Result};

/// Largest PEM input read from a file: far above any certificate chain,
/// small enough that a wrong path (a device, a log) cannot exhaust memory.
const MAX_PEM_FILE_BYTES: u64 = 1 << 20;

/// A connector and the server name every handshake verifies.
pub(crate) struct Tls {
    pub(crate) connector: TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

/// Builds the connector for `tls`; `default_host` is the server name when
/// the configuration names none.
pub(crate) fn build(tls: &TlsConfig, default_host: &str) -> Result<Tls> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let ca_pem = read_pem(&tls.ca_pem, "CA certificates")?;
    for cert in CertificateDer::pem_slice_iter(&ca_pem) {
        let cert = cert.map_err(|e| ClientError::Tls(format!("parse CA certificates: {e}")))?;
        roots.add(cert).map_err(|e| ClientError::Tls(format!("add CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError::Tls("no CA certificate in the CA PEM".to_owned()));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(format!("choose protocol versions: {e}")))?
        .with_root_certificates(roots);
    let config = match (&tls.client_cert_pem, &tls.client_key_pem) {
        (Some(cert_pem), Some(key_pem)) => {
            let cert_pem = read_pem(cert_pem, "client certificate")?;
            let chain = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| ClientError::Tls(format!("parse client certificate: {e}")))?;
            if chain.is_empty() {
                return Err(ClientError::Tls("no certificate in the client certificate PEM".to_owned()));
            }
            let key_pem = read_pem(key_pem, "client key")?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| ClientError::Tls(format!("parse client key: {e}")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| ClientError::Tls(format!("use client key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(ClientError::Config("a client certificate needs its key, and a key its certificate".into())),
    };
    let name = tls.server_name.as_deref().unwrap_or(default_host);
    let server_name =
        ServerName::try_from(name.to_owned()).map_err(|e| ClientError::Tls(format!("server name {name:?}: {e}")))?;
    Ok(Tls { connector: TlsConnector::from(Arc::new(config)), server_name })
}

fn read_pem(pem: &Pem, what: &str) -> Result<Vec<u8>> {
    match pem {
        Pem::Bytes(bytes) => Ok(bytes.clone()),
        Pem::File(path) => {
            use std::io::Read;
            let file = std::fs::File::open(path)
                .map_err(|e| ClientError::Tls(format!("open {what} {}: {e}", path.display())))?;
            let mut bytes = Vec::new();
            file.take(MAX_PEM_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| ClientError::Tls(format!("read {what} {}: {e}", path.display())))?;
            if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_PEM_FILE_BYTES {
                return Err(ClientError::Tls(format!(
                    "{what} {} is larger than {MAX_PEM_FILE_BYTES} bytes",
                    path.display()
                )));
            }
            Ok(bytes)
        }
    }
}
