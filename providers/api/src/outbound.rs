//! Outbound HTTPS: which certificate authorities the gateway trusts, and the one builder of the
//! HTTP clients that reach Appwrite and the identity providers.
//!
//! Trust is the system's store (read with `rustls-native-certs`: `SSL_CERT_FILE`,
//! `SSL_CERT_DIR`, or the distribution's bundle such as `/etc/ssl/certs/ca-certificates.crt`),
//! plus the certificates of an optional PEM bundle (`[tls] extra_ca_file` in the gateway). The
//! bundled Mozilla roots (`webpki-roots`) are used only when the system store yields no usable
//! certificate (a `scratch` or distroless image without one), so that an operator who trims the
//! system store gets exactly that store. TLS is rustls on ring; nothing here uses OpenSSL.
//! Must not: follow redirects (an answer could send the request anywhere).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why the outbound TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The extra CA file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file named by the configuration.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The extra CA file is not valid PEM.
    #[error("{} is not a valid PEM file: {reason}", .path.display())]
    Pem {
        /// The file named by the configuration.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The extra CA file holds no `-----BEGIN CERTIFICATE-----` section.
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", .path.display())]
    NoCertificate {
        /// The file named by the configuration.
        path: PathBuf,
    },
    /// A certificate in the extra CA file cannot be a trust anchor.
    #[error("{}: certificate {index} is not a usable CA certificate: {reason}", .path.display())]
    BadCertificate {
        /// The file named by the configuration.
        path: PathBuf,
        /// 1-based position of the certificate in the file.
        index: usize,
        /// What the certificate parser said.
        reason: String,
    },
    /// rustls refused the settings (cannot happen with ring's defaults; reported, not unwrapped).
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// Where the base trust anchors came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootsSource {
    /// The operating system's store.
    System,
    /// The bundled Mozilla roots, because the system store had no usable certificate.
    Bundled,
}

/// The TLS settings of every outbound HTTPS connection; cheap to clone.
#[derive(Clone)]
pub struct OutboundTls {
    config: Arc<rustls::ClientConfig>,
    source: RootsSource,
    base_roots: usize,
    extra_roots: usize,
}

impl fmt::Debug for OutboundTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundTls")
            .field("source", &self.source)
            .field("base_roots", &self.base_roots)
            .field("extra_roots", &self.extra_roots)
            .finish()
    }
}

impl OutboundTls {
    /// The system's roots (or the bundled ones, see the module docs), plus every certificate of
    /// `extra_ca_file` when given.
    ///
    /// # Errors
    /// When the file cannot be read, is not PEM, holds no certificate, or holds a certificate
    /// that cannot be a trust anchor. Each error names the file.
    pub fn new(extra_ca_file: Option<&Path>) -> Result<Self, TlsError> {
        let (base, source) = base_roots();
        let mut roots = base.clone();
        let base_roots = roots.len();
        if let Some(path) = extra_ca_file {
            for (index, der) in read_ca_file(path)?.into_iter().enumerate() {
                roots.add(der).map_err(|e| TlsError::BadCertificate {
                    path: path.to_path_buf(),
                    index: index + 1,
                    reason: e.to_string(),
                })?;
            }
        }
        let extra_roots = roots.len() - base_roots;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // What reqwest sets itself when it builds the TLS config (HTTP/2 and HTTP/1.1).
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            source: *source,
            base_roots,
            extra_roots,
        })
    }

    /// Where the base roots came from.
    pub fn source(&self) -> RootsSource {
        self.source
    }

    /// How many trust anchors came from the system (or the bundle), and how many from the
    /// extra CA file.
    pub fn root_counts(&self) -> (usize, usize) {
        (self.base_roots, self.extra_roots)
    }

    /// A client builder that trusts these roots, follows no redirect, and gives up on a
    /// connection or a request after `timeout`. Callers add their own user agent and pool knobs.
    pub fn client_builder(&self, timeout: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(&self.config))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
    }
}

/// The system's roots, loaded once per process; the bundled roots when the system has none.
fn base_roots() -> &'static (RootCertStore, RootsSource) {
    static ROOTS: OnceLock<(RootCertStore, RootsSource)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "part of the system certificate store cannot be read");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::warn!(
                ignored,
                "certificates of the system store that are not usable trust anchors were skipped"
            );
        }
        if added > 0 {
            return (roots, RootsSource::System);
        }
        tracing::warn!(
            "the system certificate store has no usable certificate; using the bundled Mozilla roots"
        );
        let mut bundled = RootCertStore::empty();
        bundled.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        (bundled, RootsSource::Bundled)
    })
}

/// Every certificate of a PEM file, in file order.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        certs.push(cert.map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?);
    }
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write");
        file
    }

    #[test]
    fn no_extra_file_builds_from_the_system_or_the_bundle() {
        let tls = OutboundTls::new(None).expect("builds");
        let (base, extra) = tls.root_counts();
        assert!(base > 0);
        assert_eq!(extra, 0);
        tls.client_builder(Duration::from_secs(1))
            .build()
            .expect("reqwest accepts the preconfigured rustls config");
    }

    #[test]
    fn a_missing_file_names_the_file_and_the_reason() {
        let err = OutboundTls::new(Some(Path::new("/nonexistent/ca.pem"))).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("cannot read /nonexistent/ca.pem"), "{text}");
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let file = file_with(
            "just some text\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        );
        let err = OutboundTls::new(Some(file.path())).expect_err("refused");
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    }

    #[test]
    fn a_certificate_that_is_not_der_is_refused() {
        let file = file_with("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let err = OutboundTls::new(Some(file.path())).expect_err("refused");
        assert!(
            matches!(err, TlsError::BadCertificate { index: 1, .. }),
            "{err}"
        );
    }
}
