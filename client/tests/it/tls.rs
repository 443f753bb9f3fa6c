use std::sync::Arc;

use jubilant_client::{Client, ClientError, Pem, TlsConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::mock::{MockServer, config, kv_handler};

/// A CA, a server certificate for "localhost" and a client certificate,
/// all made fresh for the test.
struct Pki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    server_der: CertificateDer<'static>,
    server_key: KeyPair,
    client_pem: String,
    client_key_pem: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn pki() -> Pki {
    let ca = ca("jubilant test CA");
    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["jubectl".to_owned()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca).unwrap();
    Pki {
        ca_der: ca.der().clone(),
        ca_pem: ca.pem(),
        server_der: server.der().clone(),
        server_key,
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

fn acceptor(pki: &Pki, require_client_cert: bool) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.serialize_der()));
    let config = builder.with_single_cert(vec![pki.server_der.clone()], key).unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn tls_config(pki: &Pki) -> TlsConfig {
    let mut tls = TlsConfig::new(Pem::Bytes(pki.ca_pem.clone().into_bytes()));
    tls.server_name = Some("localhost".to_owned());
    tls
}

#[tokio::test]
async fn tls_round_trip() {
    let pki = pki();
    let server = MockServer::start_tls(kv_handler(), acceptor(&pki, false)).await;
    let mut config = config(&server.addr());
    config.tls = Some(tls_config(&pki));
    let client = Client::connect(config).await.unwrap();
    client.set(b"a", b"1", None).await.unwrap();
    assert_eq!(client.get(b"a").await.unwrap().unwrap().value, b"1");
    client.ping().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_with_certificate_files() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca = write("ca.pem", &pki.ca_pem);
    let cert = write("client.pem", &pki.client_pem);
    let key = write("client.key", &pki.client_key_pem);

    let server = MockServer::start_tls(kv_handler(), acceptor(&pki, true)).await;
    let mut config = config(&server.addr());
    let mut tls = TlsConfig::new(Pem::File(ca));
    tls.server_name = Some("localhost".to_owned());
    tls.client_cert_pem = Some(Pem::File(cert));
    tls.client_key_pem = Some(Pem::File(key));
    config.tls = Some(tls);
    let client = Client::connect(config).await.unwrap();
    client.set(b"m", b"tls", None).await.unwrap();
    assert_eq!(client.get(b"m").await.unwrap().unwrap().value, b"tls");
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_certificate() {
    let pki = pki();
    let server = MockServer::start_tls(kv_handler(), acceptor(&pki, true)).await;
    let mut config = config(&server.addr());
    config.tls = Some(tls_config(&pki));
    config.max_retries = 1;
    // With TLS 1.3 the server's refusal may arrive after the client's side
    // of the handshake completed: either connect or the first request fails.
    let outcome = match Client::connect(config).await {
        Ok(client) => client.ping().await.map(|_| ()),
        Err(error) => Err(error),
    };
    let error = outcome.unwrap_err();
    assert!(error.is_connection_error() || matches!(error, ClientError::Tls(_)), "{error}");
}

#[tokio::test]
async fn server_signed_by_another_ca_is_refused() {
    let pki = pki();
    let server = MockServer::start_tls(kv_handler(), acceptor(&pki, false)).await;
    let mut config = config(&server.addr());
    let mut tls = TlsConfig::new(Pem::Bytes(ca("another CA").pem().into_bytes()));
    tls.server_name = Some("localhost".to_owned());
    config.tls = Some(tls);
    let error = Client::connect(config).await.unwrap_err();
    assert!(matches!(&error, ClientError::Tls(message) if message.contains("handshake")), "{error}");
}

#[tokio::test]
async fn unreadable_ca_file_is_a_tls_error() {
    let mut config = config("127.0.0.1:1");
    config.tls = Some(TlsConfig::new(Pem::File("/nonexistent/ca.pem".into())));
    let error = Client::connect(config).await.unwrap_err();
    assert!(matches!(&error, ClientError::Tls(message) if message.contains("/nonexistent/ca.pem")), "{error}");
}
