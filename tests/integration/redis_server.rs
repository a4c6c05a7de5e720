//! A private `redis-server` for a test: its own temporary directory and Unix socket (no port to
//! race for under nextest), no persistence, killed on drop. It can be killed and started again
//! on the same socket, as an outage and a recovery look to the gateway.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The `redis-server` binary: `REDIS_SERVER` or the one on `PATH` (Debian's package in CI).
fn binary() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

/// A test's own Redis.
pub struct RedisServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// With TLS: the port of its TLS listener (the Unix socket stays, for the test's own use).
    tls_port: Option<u16>,
}

impl RedisServer {
    /// Starts a server and waits until it answers `PING`.
    pub async fn start() -> Self {
        let mut server = Self::reserve();
        server.restart().await;
        server
    }

    /// A server's place (directory and socket) without the server: the gateway can be started
    /// first, as when Redis is away at startup. [`RedisServer::restart`] starts it.
    pub fn reserve() -> Self {
        Self {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            tls_port: None,
        }
    }

    /// A server that also listens with TLS on a loopback port, its certificate (for
    /// `localhost`) issued by a CA made here; the CA's PEM file is [`RedisServer::ca_file`].
    #[allow(dead_code)]
    pub async fn start_tls() -> Self {
        let mut server = Self::reserve();
        let ca = rcgen::CertifiedIssuer::self_signed(
            {
                let mut params =
                    rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                params
            },
            rcgen::KeyPair::generate().expect("ca key"),
        )
        .expect("ca");
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("leaf");
        let dir = server.dir.path();
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
        std::fs::write(dir.join("cert.pem"), leaf.pem()).expect("write cert");
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write key");
        server.tls_port = Some(free_tcp_port());
        server.restart().await;
        server
    }

    /// The CA that issued a TLS server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server's process id, while it runs (benches/store.rs reads its CPU time).
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("r.sock")
    }

    /// `unix:///…/r.sock` (or `rediss://localhost:PORT` with TLS), for `[store] redis_url`.
    pub fn url(&self) -> String {
        match self.tls_port {
            Some(port) => format!("rediss://localhost:{port}"),
            None => format!("unix://{}", self.socket().display()),
        }
    }

    /// Stops the server at once (SIGKILL): connections drop, nothing is saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// (Re)starts the server on the same socket, empty, and waits until it answers `PING`.
    pub async fn restart(&mut self) {
        self.kill();
        let socket = self.socket();
        let dir = self.dir.path();
        let tls_port = self.tls_port.map(|p| p.to_string());
        let file = |name: &str| dir.join(name).display().to_string();
        let (cert, key, ca) = (file("cert.pem"), file("key.pem"), file("ca.pem"));
        let mut args = vec!["--port", "0", "--unixsocketperm", "700"];
        if let Some(port) = &tls_port {
            args.extend(["--tls-port", port, "--tls-cert-file", &cert]);
            args.extend(["--tls-key-file", &key, "--tls-ca-cert-file", &ca]);
            args.extend(["--tls-auth-clients", "no"]);
        }
        args.push("--unixsocket");
        self.child = Some(spawn(dir, &args, &socket));
        wait_for_ping(self.dir.path(), || async {
            match tokio::net::UnixStream::connect(&socket).await {
                Ok(stream) => answers_ping(stream).await,
                Err(_) => false,
            }
        })
        .await;
    }

    /// A client connection, for a test to look into Redis or to pause it.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test redis")
    }

    /// Every key and its value, sorted by key: a string as it is, a sorted set as its members,
    /// one per line.
    pub async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut connection = self.connection().await;
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut connection)
            .await
            .expect("KEYS");
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("TYPE");
            let value: Vec<u8> = match kind.as_str() {
                "zset" => {
                    let members: Vec<String> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut connection)
                        .await
                        .expect("ZRANGE");
                    members.join("\n").into_bytes()
                }
                _ => redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .expect("GET"),
            };
            out.push((key, value));
        }
        out
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `redis-server` in `dir` (its working directory and log) with `args` and `last`, no
/// persistence.
fn spawn(dir: &Path, args: &[&str], last: &Path) -> Child {
    Command::new(binary())
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(args)
        .arg(last)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} (install redis-server): {e}", binary()))
}

/// Polls `pings` until it holds (5 s at most); panics with the server's log otherwise.
async fn wait_for_ping<F, Fut>(dir: &Path, pings: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if pings().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "redis-server did not answer PING:\n{}",
        std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
    );
}

/// Whether the server at the other end of `stream` answers `PING`.
async fn answers_ping(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> bool {
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut reply).await.is_ok()
        && &reply == b"+PONG\r\n"
}

/// A Redis Cluster of three masters on loopback TCP ports (a cluster needs ports: each node's
/// bus listens on its port + 10000), its slots spread by `redis-cli --cluster create`.
pub struct RedisCluster {
    nodes: Vec<(u16, Child)>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts the nodes, joins them, and waits until every node reports `cluster_state:ok`.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut nodes = Vec::new();
        for port in cluster_ports(3) {
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir(&node_dir).expect("node dir");
            let port_text = port.to_string();
            let args = [
                "--bind",
                "127.0.0.1",
                "--port",
                &port_text,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
            ];
            let child = spawn(&node_dir, &args, &node_dir.join("nodes.conf"));
            wait_for_ping(&node_dir, || async move {
                match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    Ok(stream) => answers_ping(stream).await,
                    Err(_) => false,
                }
            })
            .await;
            nodes.push((port, child));
        }
        let cluster = Self { nodes, _dir: dir };
        let addresses: Vec<String> = cluster.ports().map(|p| format!("127.0.0.1:{p}")).collect();
        let create = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            create.status.success(),
            "{}",
            String::from_utf8_lossy(&create.stdout)
        );
        for _ in 0..200 {
            let mut ok = true;
            for port in cluster.ports() {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut cluster.node(port).await)
                    .await
                    .expect("CLUSTER INFO");
                ok &= info.contains("cluster_state:ok");
            }
            if ok {
                return cluster;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the cluster did not become ready");
    }

    /// The nodes' ports.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes.iter().map(|(port, _)| *port)
    }

    /// A connection to one node (not cluster-aware).
    pub async fn node(&self, port: u16) -> redis::aio::MultiplexedConnection {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to a cluster node")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free loopback port.
fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `n` free loopback ports whose cluster bus ports (+10000) are free too.
fn cluster_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    while ports.len() < n {
        let port = free_tcp_port();
        let bus_free =
            port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
        if bus_free && !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}
