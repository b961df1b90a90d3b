//! TLS for the HTTPS binding (rustls with the `ring` provider): a configured certificate and key,
//! or a self-signed certificate generated for development, and optional client-certificate
//! authentication against a CA bundle (DM Security 1.2 §5.1: transport-level client authentication).

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// TLS set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// A certificate chain and key in PEM, as files or generated.
#[derive(Debug, Clone)]
pub struct CertificatePem {
    /// The certificate chain, leaf first.
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

/// Generates a self-signed certificate for `names` (DNS names or IP addresses), for development.
pub fn self_signed(names: &[String]) -> Result<CertificatePem, TlsError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(CertificatePem { cert_pem: certified.cert.pem(), key_pem: certified.key_pair.serialize_pem() })
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path)
        .map_err(|e| TlsError::Pem { path: path.display().to_string(), message: e.to_string() })
}

/// Reads a certificate chain and key from PEM files.
pub fn load(cert: &Path, key: &Path) -> Result<CertificatePem, TlsError> {
    Ok(CertificatePem { cert_pem: read(cert)?, key_pem: read(key)? })
}

/// Builds the rustls server configuration; with `client_ca_pem`, clients must present a
/// certificate issued by one of those CAs.
pub fn server_config(pem: &CertificatePem, client_ca_pem: Option<&str>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| TlsError::Pem { path: what.to_string(), message: e.to_string() };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", &e))?;
    if chain.is_empty() {
        return Err(TlsError::Pem { path: "certificate".into(), message: "no certificate in the PEM".into() });
    }
    let key = PrivateKeyDer::from_pem_slice(pem.key_pem.as_bytes())
        .or_else(|_| PrivatePkcs8KeyDer::from_pem_slice(pem.key_pem.as_bytes()).map(PrivateKeyDer::Pkcs8))
        .map_err(|e| bad("key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(cert.map_err(|e| bad("client CA", &e))?).map_err(|e| TlsError::Rustls(e.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(Arc::new(config))
}
