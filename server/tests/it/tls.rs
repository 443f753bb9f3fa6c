//! TLS on and off, and mutual TLS accepting and refusing clients, against
//! the real server binary with certificates made by rcgen in the test.

use jubilant_client::{BlockingClient, ClientConfig, Pem, TlsConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::support::{ServerProcess, TempDir};

/// Writes a CA, a server certificate for 127.0.0.1/localhost and a client
/// certificate as PEM files into `dir`.
pub fn write_pki(dir: &std::path::Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "jubilant test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["jubectl".to_owned()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
}

pub fn tls_config(dir: &std::path::Path, with_client_cert: bool) -> TlsConfig {
    let mut tls = TlsConfig::new(Pem::File(dir.join("ca.pem")));
    tls.server_name = Some("localhost".into());
    if with_client_cert {
        tls.client_cert_pem = Some(Pem::File(dir.join("client.pem")));
        tls.client_key_pem = Some(Pem::File(dir.join("client.key")));
    }
    tls
}

fn client(server: &ServerProcess, tls: Option<TlsConfig>) -> Result<BlockingClient, jubilant_client::ClientError> {
    let mut config = ClientConfig::new(server.addr.to_string());
    config.tls = tls;
    config.max_retries = 0;
    config.connect_timeout = std::time::Duration::from_secs(5);
    config.request_timeout = std::time::Duration::from_secs(5);
    let c = BlockingClient::connect(config)?;
    c.ping()?;
    Ok(c)
}

#[test]
fn tls_serves_tls_clients_and_refuses_plaintext() {
    let dir = TempDir::new("tls");
    write_pki(&dir.0);
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        dir.0.join("server.pem").display(),
        dir.0.join("server.key").display()
    );
    let server = ServerProcess::start(&dir.0.join("db"), Some(&config));
    let c = client(&server, Some(tls_config(&dir.0, false))).unwrap();
    c.set(b"k", b"v", None).unwrap();
    assert_eq!(c.get(b"k").unwrap().unwrap().value, b"v");
    assert!(client(&server, None).is_err(), "a plaintext client was served by a TLS server");
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("tls: on"), "{log}");
}

#[test]
fn plaintext_is_the_default() {
    let dir = TempDir::new("plain");
    let server = ServerProcess::start(&dir.0.join("db"), None);
    let c = client(&server, None).unwrap();
    c.set(b"k", b"v", None).unwrap();
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("tls: off") && log.contains("auth: off"), "{log}");
}

#[test]
fn mutual_tls_accepts_a_client_certificate_and_refuses_its_absence() {
    let dir = TempDir::new("mtls");
    write_pki(&dir.0);
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
        dir.0.join("server.pem").display(),
        dir.0.join("server.key").display(),
        dir.0.join("ca.pem").display()
    );
    let server = ServerProcess::start(&dir.0.join("db"), Some(&config));
    let c = client(&server, Some(tls_config(&dir.0, true))).unwrap();
    c.set(b"k", b"v", None).unwrap();
    assert!(client(&server, Some(tls_config(&dir.0, false))).is_err(), "a client without a certificate was served");
}
