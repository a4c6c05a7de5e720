//! Outbound HTTPS to a self-hosted Appwrite and provider behind a private CA (`[tls]
//! extra_ca_file`). The test makes its own CA with rcgen, serves the Appwrite emulator and a
//! provider's discovery and JWKS over TLS on loopback with a certificate from that CA, and checks
//! that the gateway fails closed without the CA and reaches both with it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use appwrite_emulator::{Emulator, EmulatorConfig};
use axum::Json;
use axum::routing::get;
use idp_bridge::clock::SystemClock;
use idp_bridge::config::Config;
use idp_bridge::login::user_id::IdKey;
use idp_bridge::startup::Application;
use mock_op::MockOp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::helpers::{APP, PROVIDER, browser, listening_on, mock_config};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, free_port};

/// A private CA and a server certificate it issued for `localhost` and `127.0.0.1`.
struct PrivateCa {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl PrivateCa {
    fn new() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "idp-bridge test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(
            ca_params,
            rcgen::KeyPair::generate().expect("ca key"),
        )
        .expect("ca cert");

        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf params");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf cert");

        let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der())
            .expect("leaf key der");
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .expect("server config");
        Self {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    }
}

/// Terminates TLS on a loopback port and relays the plain bytes to `upstream`.
struct TlsFront {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TlsFront {
    async fn bind(ca: &PrivateCa) -> (TcpListener, TlsAcceptor) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind front");
        (listener, TlsAcceptor::from(ca.server.clone()))
    }

    fn serve(listener: TcpListener, acceptor: TlsAcceptor, upstream: SocketAddr) -> Self {
        let addr = listener.local_addr().expect("front addr");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust the CA aborts the handshake here.
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self { addr, task }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An Appwrite emulator and an OpenID provider (discovery + JWKS), both reached only over TLS
/// with a certificate of the private CA.
struct Upstreams {
    ca: PrivateCa,
    emulator: Emulator,
    appwrite_front: TlsFront,
    provider_front: TlsFront,
    _mock: MockOp,
    _provider_server: JoinHandle<()>,
}

impl Upstreams {
    async fn spawn() -> Self {
        let ca = PrivateCa::new();
        let emulator = Emulator::spawn(EmulatorConfig::default()).await;
        let (listener, acceptor) = TlsFront::bind(&ca).await;
        let appwrite_front = TlsFront::serve(listener, acceptor, emulator.addr());

        // The provider's documents name its https URL, so bind the front first. The keys are
        // mock-op's (a real JWKS), served from this https issuer.
        let mock = MockOp::spawn(mock_config()).await;
        let jwks: Value = browser()
            .get(format!("{}/jwks", mock.base_url()))
            .send()
            .await
            .expect("mock-op jwks")
            .json()
            .await
            .expect("jwks json");
        let (listener, acceptor) = TlsFront::bind(&ca).await;
        let issuer = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let router = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route("/jwks", get(move || async move { Json(jwks) }));
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let plain_addr = plain.local_addr().expect("addr");
        let provider_server = tokio::spawn(async move {
            let _ = axum::serve(plain, router).await;
        });
        let provider_front = TlsFront::serve(listener, acceptor, plain_addr);
        Self {
            ca,
            emulator,
            appwrite_front,
            provider_front,
            _mock: mock,
            _provider_server: provider_server,
        }
    }

    fn config(&self, tls_section: &str) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:8080"

[appwrite]
endpoint = "https://127.0.0.1:{appwrite}/v1"
project = "{project}"
api_key = "{api_key}"
timeout_ms = 2000

[redirect]
allowed = ["{APP}"]

[mapping]
id_key = "{id_key}"

{tls_section}

[providers.{PROVIDER}]
type = "oidc"
issuer = "https://127.0.0.1:{provider}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"#,
            appwrite = self.appwrite_front.addr.port(),
            provider = self.provider_front.addr.port(),
            project = self.emulator.project(),
            api_key = self.emulator.api_key(),
            id_key = IdKey::generate().expect("random id key"),
        )
    }
}

/// Starts a gateway with `config` and answers its `/readyz` status and body.
async fn readyz(config: &str) -> (StatusCode, Value) {
    let config =
        Config::from_toml(config).unwrap_or_else(|e| panic!("test config is invalid: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway = format!("http://{}", listener.local_addr().expect("addr"));
    let app =
        Application::with_listener(config, listener, Arc::new(SystemClock)).expect("build gateway");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let response = browser()
        .get(format!("{gateway}/readyz"))
        .send()
        .await
        .expect("readyz");
    let status = response.status();
    let body = response.json().await.expect("json");
    let _ = stop.send(());
    (status, body)
}

fn pem_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write");
    file
}

#[tokio::test]
async fn without_the_private_ca_appwrite_and_the_provider_are_unreachable() {
    let up = Upstreams::spawn().await;
    let (status, body) = readyz(&up.config("")).await;
    // Unreachable dependencies are reported, and the instance stays in service.
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_ne!(body["checks"]["appwrite"], "ok", "{body}");
    assert_ne!(
        body["checks"][format!("provider:{PROVIDER}")],
        "ok",
        "{body}"
    );
    assert!(
        up.emulator.calls().is_empty(),
        "no request may reach Appwrite over an untrusted connection"
    );
}

#[tokio::test]
async fn with_extra_ca_file_appwrite_and_the_provider_are_reached_over_tls() {
    let up = Upstreams::spawn().await;
    let ca = pem_file(&up.ca.ca_pem);
    let section = format!(
        "[tls]\nextra_ca_file = {:?}",
        ca.path().display().to_string()
    );
    let (status, body) = readyz(&up.config(&section)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["appwrite"], "ok", "{body}");
    assert_eq!(
        body["checks"][format!("provider:{PROVIDER}")],
        "ok",
        "{body}"
    );
    assert!(
        !up.emulator.calls().is_empty(),
        "the emulator answered through TLS"
    );
}

#[tokio::test]
async fn check_config_names_extra_ca_file_when_it_is_unusable() {
    let up = Upstreams::spawn().await;
    let no_cert = pem_file("not a certificate\n");
    let cases = [
        (
            "/nonexistent/company-ca.pem".to_string(),
            "cannot read /nonexistent/company-ca.pem",
        ),
        (
            no_cert.path().display().to_string(),
            "holds no PEM certificate",
        ),
    ];
    for (path, reason) in cases {
        let section = format!("[tls]\nextra_ca_file = {path:?}");
        let problems = match Config::from_toml(&up.config(&section)) {
            Ok(_) => panic!("extra_ca_file = {path:?} was accepted"),
            Err(e) => e.problems(),
        };
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("tls.extra_ca_file") && p.contains(reason)),
            "{path}: {problems:?}"
        );
    }
}

/// The real binary with the private CA as its whole system store (`SSL_CERT_FILE`) and no
/// `[tls]` section: the system store is what it trusts.
#[tokio::test]
async fn the_binary_trusts_the_system_store() {
    let up = Upstreams::spawn().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("system-ca.pem");
    std::fs::write(&ca, &up.ca.ca_pem).expect("write ca");
    let empty_dir = dir.path().join("certs");
    std::fs::create_dir(&empty_dir).expect("certs dir");
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let config = listening_on(port, &up.config(""));
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("write config");
    let _child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("SSL_CERT_FILE", &ca)
        .env("SSL_CERT_DIR", &empty_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start idp-bridge");
    let client = browser();
    let mut last = None;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{gateway}/readyz")).send().await {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            if status == StatusCode::OK {
                assert_eq!(body["checks"]["appwrite"], "ok", "{body}");
                assert_eq!(
                    body["checks"][format!("provider:{PROVIDER}")],
                    "ok",
                    "{body}"
                );
                return;
            }
            last = Some((status, body));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the gateway never became ready through the system store: {last:?}");
}
