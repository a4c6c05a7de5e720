//! `[store] backend = "redis"`: several real gateway processes (`idp-bridge serve`) share one
//! real `redis-server`, the scriptable OpenID provider and the Appwrite emulator. A login
//! started on one instance finishes on another; a login is taken once across instances; an
//! assertion is used once across instances; Redis away or paused gives 503 with nothing minted,
//! and the gateways recover without a restart; Redis holds nothing readable, and a value that
//! was tampered with, moved, or sealed with a key the gateway lacks is an unknown login; key
//! rotation keeps logins in flight. No log holds a key, a state, a code or a secret.

use std::time::{Duration, Instant};

use appwrite_emulator::{Emulator, EmulatorConfig};
use mock_op::MockOp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::helpers::{
    FAILURE, Options, SUCCESS, Served, assert_no_secret_in, browser, config_toml, create_session,
    location, mock_config, param, without_query,
};
use crate::idp::free_port;
use crate::redis_server::{RedisCluster, RedisServer};
use crate::signed_assertion::{HOOK_SECRET, hmac_signature, now};

/// A fresh `encryption_keys` entry, `"<id>:<base64>"`.
pub fn new_key(id: &str) -> String {
    idp_bridge::store::seal::generate(id).expect("random key")
}

/// The settings of a store on `redis` (the default prefix, a fresh key), for tests that open
/// a `RedisStore` themselves.
pub fn store_settings(redis: &RedisServer) -> idp_bridge::store::RedisSettings {
    use idp_bridge::store::{RedisSettings, RedisUrl, seal::SealKeys};
    RedisSettings {
        url: RedisUrl::parse(&redis.url()).expect("url"),
        cluster: false,
        key_prefix: "idp-bridge:".into(),
        timeout: Duration::from_millis(500),
        keys: SealKeys::parse(&[new_key("k1")]).expect("keys"),
        high_water_percent: 80,
    }
}

/// The key material of an entry (what must never be logged).
fn material(entry: &str) -> &str {
    entry.split_once(':').expect("id:key").1
}

/// What the instances share: Appwrite, the IdP, Redis, the id key, and the public URL (that of
/// the first instance; a load balancer in production).
pub struct Shared {
    pub emulator: Emulator,
    pub mock: MockOp,
    pub redis: RedisServer,
    /// `[store] redis_url`: `redis`'s, unless a test points the gateways elsewhere.
    redis_url: String,
    /// `[store] max_open_transactions` of the gateways (the helpers' default unless a test
    /// sets it before starting them).
    pub max_open_transactions: u64,
    id_key: String,
    public_port: u16,
}

/// One gateway process.
pub struct Gateway {
    pub served: Served,
    port: u16,
}

impl Gateway {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `url` (a gateway URL, such as the callback the IdP sends the browser to) sent to this
    /// instance instead, as a load balancer may do.
    pub fn here(&self, url: &Url) -> String {
        let mut url = url.clone();
        url.set_port(Some(self.port)).expect("port");
        url.to_string()
    }

    fn start_url(&self) -> String {
        format!(
            "{}/v1/auth/corp/start?success={SUCCESS}&failure={FAILURE}",
            self.url()
        )
    }
}

impl Shared {
    pub async fn new(redis: RedisServer) -> Self {
        Self {
            emulator: Emulator::spawn(EmulatorConfig::default()).await,
            mock: MockOp::spawn(mock_config()).await,
            redis_url: redis.url(),
            redis,
            max_open_transactions: Options::mock().max_open_transactions,
            id_key: idp_bridge::login::mapping::IdKey::generate().expect("id key"),
            public_port: free_port(),
        }
    }

    /// A gateway on the public port (`first`) or a port of its own, sealing with `keys`, with
    /// `store_extra` lines in `[store]`; the `hook` provider takes HMAC assertions.
    pub async fn gateway(&self, first: bool, keys: &[&str], store_extra: &str) -> Gateway {
        self.gateway_with_env(first, keys, store_extra, &[]).await
    }

    /// [`Shared::gateway`] with more environment variables.
    async fn gateway_with_env(
        &self,
        first: bool,
        keys: &[&str],
        store_extra: &str,
        env: &[(&str, &std::path::Path)],
    ) -> Gateway {
        let port = if first { self.public_port } else { free_port() };
        let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
        let options = Options {
            id_key: self.id_key.clone(),
            max_open_transactions: self.max_open_transactions,
            store_extra: format!(
                "backend = \"redis\"\nredis_url = \"{}\"\nencryption_keys = [{}]\n{store_extra}",
                self.redis_url,
                keys.join(", ")
            ),
            extra_toml: format!(
                "[providers.hook]\ntype = \"signed_assertion\"\nformat = \"hmac\"\n\
                 hmac_secrets = [\"{HOOK_SECRET}\"]\n"
            ),
            ..Options::mock()
        };
        let public = format!("http://127.0.0.1:{}", self.public_port);
        let config = config_toml(&public, &self.mock.issuer(), &self.emulator, &options);
        Gateway {
            served: Served::start_with_env(port, &config, env).await,
            port,
        }
    }

    /// The IdP's answer to a login that `start` sent to it: the callback URL, on the public
    /// instance.
    pub fn authorize(&self, to_idp: &Url, sub: &str) -> Url {
        let answer = self
            .mock
            .authorize(to_idp.as_str(), sub)
            .unwrap_or_else(|e| panic!("mock-op refused: {e}"));
        Url::parse(&answer.redirect_to).expect("callback URL")
    }

    /// The Redis key of the login whose authorization URL is `to_idp`.
    fn redis_key(to_idp: &Url) -> String {
        let state = param(to_idp, "state").expect("state");
        format!(
            "idp-bridge:tx:{}",
            data_encoding::HEXLOWER.encode(&Sha256::digest(state.as_bytes()))
        )
    }

    pub fn minted(&self) -> usize {
        self.emulator.tokens().len()
    }
}

/// `GET` with `client`; the response.
pub async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.expect("request")
}

/// Starts a login at `gateway` with `client`; where the gateway sends the browser.
pub async fn start(client: &reqwest::Client, gateway: &Gateway) -> Url {
    let response = get(client, &gateway.start_url()).await;
    assert_eq!(response.status(), StatusCode::FOUND, "start redirects");
    location(&response)
}

/// Checks that `response` is the 503 page of an outage, with `Retry-After` and no redirect.
#[track_caller]
fn assert_unavailable(response: &reqwest::Response, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{what} answers 503"
    );
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"5"[..]),
        "{what} says when to retry"
    );
    assert!(response.headers().get("location").is_none(), "{what}");
}

/// Checks that the browser landed on the success page with a secret that makes a session.
pub async fn assert_logged_in(shared: &Shared, response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND);
    let landed = location(&response);
    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    let user_id = param(&landed, "userId").expect("userId");
    let secret = param(&landed, "secret").expect("secret");
    let (status, session) = create_session(&shared.emulator, &user_id, &secret).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    secret
}

/// A whole login: start at `from`, the IdP, the callback at `to`.
async fn login(shared: &Shared, from: &Gateway, to: &Gateway) -> String {
    let client = browser();
    let to_idp = start(&client, from).await;
    let callback = shared.authorize(&to_idp, "alice");
    assert_logged_in(shared, get(&client, &to.here(&callback)).await).await
}

/// `POST /v1/auth/hook/exchange` of a fresh (or the given) HMAC assertion at `gateway`.
pub async fn exchange(gateway: &Gateway, jti: &str) -> reqwest::Response {
    let body = json!({"sub": "hook-user", "jti": jti}).to_string();
    let signature = hmac_signature(HOOK_SECRET, now(), body.as_bytes());
    reqwest::Client::new()
        .post(format!("{}/v1/auth/hook/exchange", gateway.url()))
        .header("Content-Type", "application/json")
        .header("X-Bridge-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("exchange")
}

/// Polls `check` (every 200 ms, at most `seconds`) until it holds.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: not within {seconds} s");
}

/// A running Redis and two instances A (on the public port) and B sealing with one key `k1`.
async fn two_instances() -> (Shared, String, Gateway, Gateway) {
    let shared = Shared::new(RedisServer::start().await).await;
    let k1 = new_key("k1");
    let a = shared.gateway(true, &[&k1], "").await;
    let b = shared.gateway(false, &[&k1], "").await;
    (shared, k1, a, b)
}

async fn status_of(url: String) -> StatusCode {
    get(&browser(), &url).await.status()
}

/// Checks that neither `key` nor `value` reveals the login's `state`, `nonce`, URLs or data.
#[track_caller]
fn assert_nothing_readable(key: &str, value: &[u8], state: &str, nonce: &str) {
    for needle in [
        state,
        nonce,
        "127.0.0.1:3000",
        "/app/",
        "pkce",
        "verifier",
        "nonce",
        "\"provider\"",
    ] {
        let found = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !found(key.as_bytes()) && !found(value),
            "{needle:?} is readable in Redis"
        );
    }
}

#[tokio::test]
async fn a_login_started_on_one_instance_finishes_on_another_and_redis_holds_nothing_readable() {
    let (shared, k1, a, b) = two_instances().await;

    // The app's own state is sealed with the login and comes back on the other instance.
    let app_state = "app-state-sealed-in-redis";
    let client = browser();
    let response = get(&client, &format!("{}&state={app_state}", a.start_url())).await;
    assert_eq!(response.status(), StatusCode::FOUND, "start redirects");
    let to_idp = location(&response);
    let state = param(&to_idp, "state").expect("state");
    let nonce = param(&to_idp, "nonce").expect("nonce");

    // Redis holds one login, under the hash of its state, and the fleet's count of open logins
    // (a prefix of that hash); none of the login's parts, the app's state included, is readable.
    let dump = shared.redis.dump().await;
    assert_eq!(dump.len(), 2, "{dump:?}");
    let (open, member) = &dump[0];
    let (key, value) = &dump[1];
    assert_eq!(*key, Shared::redis_key(&to_idp));
    assert_eq!(&value[..4], b"\x01\x02k1", "sealed with k1");
    assert_eq!(open, "idp-bridge:open");
    assert_eq!(member, &key.as_bytes()["idp-bridge:tx:".len()..][..32]);
    for (key, value) in &dump {
        assert_nothing_readable(key, value, &state, &nonce);
        assert_nothing_readable(key, value, app_state, &nonce);
    }

    let callback = shared.authorize(&to_idp, "alice");
    let code = param(&callback, "code").expect("code");
    let landed = get(&client, &b.here(&callback)).await;
    assert_eq!(
        param(&location(&landed), "state").as_deref(),
        Some(app_state)
    );
    let secret = assert_logged_in(&shared, landed).await;
    assert_eq!(shared.minted(), 1);
    assert!(
        shared.redis.dump().await.is_empty(),
        "the login was taken, and left the count"
    );

    // And the other way round.
    login(&shared, &b, &a).await;

    let logs = format!("{}{}", a.served.stop().await, b.served.stop().await);
    assert!(logs.contains("login succeeded"), "{logs}");
    assert_no_secret_in(
        &logs,
        &[
            ("encryption key", material(&k1)),
            ("state", &state),
            ("app state", app_state),
            ("nonce", &nonce),
            ("authorization code", &code),
            ("minted secret", &secret),
            ("id key", &shared.id_key),
        ],
    );
}

#[tokio::test]
async fn concurrent_callbacks_on_two_instances_take_the_login_once() {
    let (shared, _, a, b) = two_instances().await;
    for round in 1..=5 {
        let client = browser();
        let callback = shared.authorize(&start(&client, &a).await, "alice");
        let (to_a, to_b) = (a.here(&callback), b.here(&callback));
        let (on_a, on_b) = tokio::join!(get(&client, &to_a), get(&client, &to_b));
        let mut statuses = [on_a.status(), on_b.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::FOUND, StatusCode::BAD_REQUEST],
            "round {round}: one callback wins, the other finds no login"
        );
        let winner = if on_a.status() == StatusCode::FOUND {
            on_a
        } else {
            on_b
        };
        assert_logged_in(&shared, winner).await;
        assert_eq!(shared.minted(), round, "one token per login");
    }
}

#[tokio::test]
async fn an_assertion_used_on_one_instance_is_refused_on_another() {
    let (shared, _, a, b) = two_instances().await;

    let first = exchange(&a, "jti-shared-0123456789").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_replayed(exchange(&b, "jti-shared-0123456789").await).await;
    assert_eq!(shared.minted(), 1);
    let keys: Vec<String> = shared
        .redis
        .dump()
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("idp-bridge:replay:"), "{keys:?}");
    assert!(!keys[0].contains("jti-shared"), "only a hash of the jti");
}

#[tokio::test]
async fn redis_away_gives_503_and_mints_nothing_and_the_gateway_recovers_without_a_restart() {
    // Redis is away when the gateway starts: it starts anyway, not ready.
    let mut shared = Shared::new(RedisServer::reserve()).await;
    let k1 = new_key("k1");
    let a = shared.gateway(true, &[&k1], "").await;
    let ready = format!("{}/readyz", a.url());
    assert_eq!(
        status_of(ready.clone()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_unavailable(&get(&browser(), &a.start_url()).await, "start");
    let refused = exchange(&a, "jti-away-0123456789").await;
    assert_unavailable(&refused, "exchange");
    let error: Value = refused.json().await.expect("json");
    assert_eq!(error["type"], "store_unavailable", "{error}");

    // Redis arrives: logins work, with no restart.
    shared.redis.restart().await;
    let start_url = a.start_url();
    eventually(10, "start works once Redis is up", || {
        let url = start_url.clone();
        async move { status_of(url).await == StatusCode::FOUND }
    })
    .await;
    login(&shared, &a, &a).await;
    eventually(10, "/readyz is 200 once Redis is up", || {
        let url = ready.clone();
        async move { status_of(url).await == StatusCode::OK }
    })
    .await;

    // Redis dies with a login in flight: its callback, new starts and exchanges get 503.
    let client = browser();
    let callback = shared.authorize(&start(&client, &a).await, "alice");
    shared.redis.kill();
    assert_unavailable(&get(&client, callback.as_str()).await, "callback");
    assert_unavailable(&get(&browser(), &a.start_url()).await, "start");
    assert_unavailable(&exchange(&a, "jti-down-0123456789").await, "exchange");
    assert_eq!(shared.minted(), 1, "nothing minted while Redis is down");
    eventually(10, "/readyz is 503 while Redis is down", || {
        let url = ready.clone();
        async move { status_of(url).await == StatusCode::SERVICE_UNAVAILABLE }
    })
    .await;

    // Back on the same address: the old login died with Redis (400), new logins work.
    shared.redis.restart().await;
    eventually(10, "start works once Redis is back", || {
        let url = start_url.clone();
        async move { status_of(url).await == StatusCode::FOUND }
    })
    .await;
    assert_eq!(
        get(&client, callback.as_str()).await.status(),
        StatusCode::BAD_REQUEST
    );
    login(&shared, &a, &a).await;
    assert_eq!(
        exchange(&a, "jti-back-0123456789").await.status(),
        StatusCode::OK
    );
    assert_eq!(shared.minted(), 3);
    let logs = a.served.stop().await;
    assert!(logs.contains("transaction store unavailable"), "{logs}");
    assert_no_secret_in(&logs, &[("encryption key", material(&k1))]);
}

#[tokio::test]
async fn a_paused_redis_times_out_into_503_within_the_command_timeout() {
    let shared = Shared::new(RedisServer::start().await).await;
    let k1 = new_key("k1");
    let a = shared.gateway(true, &[&k1], "redis_timeout_ms = 300").await;
    let client = browser();
    let callback = shared.authorize(&start(&client, &a).await, "alice");

    // Redis holds every write (the login's budget script and `SET` at start, its `GETDEL` at
    // the callback) for a minute: far longer than the test runs, so an answer comes from the
    // gateway's own timeout, not from the pause's end. A `WRITE` pause, unlike `ALL`, lets
    // `CLIENT UNPAUSE` through, which ends it below: nothing waits for it to run out.
    let mut pauser = shared.redis.connection().await;
    let () = ::redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query_async(&mut pauser)
        .await
        .expect("CLIENT PAUSE");
    let asked = [
        ("start", a.start_url(), "login could not start"),
        ("callback", callback.to_string(), "callback failed"),
    ];
    for (what, url, failed) in asked {
        let response = get(&client, &url).await;
        assert_unavailable(&response, what);
        // Why, rather than how long it took: a command Redis held timed out (at the gateway's
        // own `redis_timeout_ms` deadline, or at the Redis client's response timeout, which is
        // set to the same 300 ms and may fire in the same tick).
        let logs = a.served.wait_for_log(failed, 1).await;
        let line = logs
            .lines()
            .find(|line| line.contains(failed))
            .expect("the failure line");
        assert!(
            line.contains("transaction store unavailable")
                && (line.contains("took longer than store.redis_timeout_ms (300 ms)")
                    || line.contains("failed: timed out")),
            "{what}: not the command timeout: {line}"
        );
    }
    assert_eq!(shared.minted(), 0);

    // Once the pause ends, logins work again, on the same connection or a new one.
    let () = ::redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async(&mut pauser)
        .await
        .expect("CLIENT UNPAUSE");
    login(&shared, &a, &a).await;
    assert_eq!(shared.minted(), 1);
}

#[tokio::test]
async fn tampered_moved_or_foreign_values_are_unknown_logins() {
    let shared = Shared::new(RedisServer::start().await).await;
    let (k1, k3) = (new_key("k1"), new_key("k3"));
    let a = shared.gateway(true, &[&k1], "").await;
    let c = shared.gateway(false, &[&k3], "").await;
    let client = browser();
    let mut logins = Vec::new();
    for _ in 0..4 {
        let to_idp = start(&client, &a).await;
        logins.push((
            Shared::redis_key(&to_idp),
            shared.authorize(&to_idp, "alice"),
        ));
    }
    let mut redis = shared.redis.connection().await;
    let values: Vec<Vec<u8>> = ::redis::cmd("MGET")
        .arg(&logins[0].0)
        .arg(&logins[1].0)
        .query_async(&mut redis)
        .await
        .expect("MGET");
    // Tampered: one bit of the ciphertext flipped.
    let mut tampered = values[0].clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let () = ::redis::cmd("SET")
        .arg(&logins[0].0)
        .arg(tampered)
        .arg("KEEPTTL")
        .query_async(&mut redis)
        .await
        .expect("SET");
    // Moved: login 1's value written under login 2's key.
    let () = ::redis::cmd("SET")
        .arg(&logins[2].0)
        .arg(&values[1])
        .arg("KEEPTTL")
        .query_async(&mut redis)
        .await
        .expect("SET");

    let unknown = |response: reqwest::Response, what: &'static str| async move {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let page = response.text().await.expect("page");
        assert!(
            page.contains("unknown, expired or already finished"),
            "{what}: {page}"
        );
    };
    unknown(get(&client, &a.here(&logins[0].1)).await, "tampered").await;
    unknown(get(&client, &a.here(&logins[2].1)).await, "moved").await;
    // Sealed with k1; instance C only has k3.
    unknown(get(&client, &c.here(&logins[3].1)).await, "foreign key").await;
    assert_eq!(shared.minted(), 0, "nothing minted");
    // The untouched login still works.
    assert_logged_in(&shared, get(&client, &a.here(&logins[1].1)).await).await;
    let logs = a.served.logs();
    assert!(logs.contains("a stored login does not open"), "{logs}");
}

#[tokio::test]
async fn rotating_the_encryption_key_keeps_logins_in_flight() {
    let shared = Shared::new(RedisServer::start().await).await;
    let (k1, k2) = (new_key("k1"), new_key("k2"));
    let old = shared.gateway(true, &[&k1], "").await;
    let rotated = shared.gateway(false, &[&k2, &k1], "").await;

    // Started on an instance still on [k1], finished on one already on [k2, k1].
    login(&shared, &old, &rotated).await;

    // The rotated instance seals with k2: an instance without k2 cannot open it.
    let client = browser();
    let to_idp = start(&client, &rotated).await;
    let dump = shared.redis.dump().await;
    let (_, login) = dump
        .iter()
        .find(|(key, _)| key.starts_with("idp-bridge:tx:"))
        .expect("the login");
    assert_eq!(&login[..4], b"\x01\x02k2", "sealed with the first key");
    let callback = shared.authorize(&to_idp, "alice");
    assert_eq!(
        get(&client, &old.here(&callback)).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(shared.minted(), 1);
}

#[tokio::test]
async fn a_redis_cluster_shares_logins_and_used_assertions_across_instances() {
    let cluster = RedisCluster::start().await;
    let mut shared = Shared::new(RedisServer::reserve()).await;
    let first = cluster.ports().next().expect("a node");
    // One node's address: the client learns the others (and the slots) from it.
    shared.redis_url = format!("redis://127.0.0.1:{first}");
    let k1 = new_key("k1");
    let a = shared.gateway(true, &[&k1], "redis_cluster = true").await;
    let b = shared.gateway(false, &[&k1], "redis_cluster = true").await;

    // Twelve logins in flight: their keys hash to slots all over the cluster.
    let client = browser();
    let mut callbacks = Vec::new();
    for _ in 0..12 {
        callbacks.push(shared.authorize(&start(&client, &a).await, "alice"));
    }
    let mut nodes_with_keys = 0;
    for port in cluster.ports() {
        let keys: usize = ::redis::cmd("DBSIZE")
            .query_async(&mut cluster.node(port).await)
            .await
            .expect("DBSIZE");
        nodes_with_keys += usize::from(keys > 0);
    }
    assert!(nodes_with_keys >= 2, "keys on {nodes_with_keys} node(s)");
    for callback in &callbacks {
        assert_logged_in(&shared, get(&client, &b.here(callback)).await).await;
        assert_eq!(
            get(&client, &a.here(callback)).await.status(),
            StatusCode::BAD_REQUEST,
            "taken once"
        );
    }
    assert_eq!(shared.minted(), 12);

    assert_eq!(
        exchange(&a, "jti-cluster-0123456789").await.status(),
        StatusCode::OK
    );
    assert_replayed(exchange(&b, "jti-cluster-0123456789").await).await;
    assert_eq!(shared.minted(), 13);
}

/// An exchange refused as a replay: not an outage or any other refusal.
async fn assert_replayed(replay: reqwest::Response) {
    assert_ne!(replay.status(), StatusCode::OK);
    let error: Value = replay.json().await.expect("json");
    assert_eq!(error["type"], "assertion_replayed", "{error}");
}

#[tokio::test]
async fn rediss_urls_talk_tls_and_trust_the_system_store() {
    let shared = Shared::new(RedisServer::start_tls().await).await;
    let k1 = new_key("k1");
    let certs = tempfile::tempdir().expect("an empty certificate directory");
    let ca = shared.redis.ca_file();
    let trusting = [
        ("SSL_CERT_FILE", ca.as_path()),
        ("SSL_CERT_DIR", certs.path()),
    ];
    let a = shared.gateway_with_env(true, &[&k1], "", &trusting).await;
    login(&shared, &a, &a).await;

    // Without the CA in its trust store, the gateway refuses the server's certificate.
    let system = [("SSL_CERT_DIR", certs.path())];
    let b = shared.gateway_with_env(false, &[&k1], "", &system).await;
    assert_unavailable(&get(&browser(), &b.start_url()).await, "start");
    assert!(
        b.served.logs().contains("transaction store unavailable"),
        "{}",
        b.served.logs()
    );
}

/// A reload that adds a `[redirect].allowed` entry serves it with a Redis store too, and one
/// that removes it stops the logins in flight to it: a stored login's URLs are checked against
/// the list of the configuration serving the callback, not the one the store was opened with
/// (a reload never replaces the store).
#[tokio::test]
async fn a_redirect_url_added_by_a_reload_is_served_with_a_redis_store() {
    let shared = Shared::new(RedisServer::start().await).await;
    let gateway = shared.gateway(true, &[&new_key("k1")], "").await;
    let added = "http://127.0.0.1:4000/other/";
    let config = std::fs::read_to_string(gateway.served.path()).expect("config");
    let widened = config.replacen("allowed = [\"", &format!("allowed = [\"{added}\", \""), 1);
    assert_ne!(widened, config);
    gateway.served.rewrite(&widened);
    gateway.served.signal("HUP");
    let logs = gateway.served.wait_for_log("config reload", 1).await;
    assert!(logs.contains("config reloaded"), "{logs}");

    let client = browser();
    let success = format!("{added}done");
    let start = format!(
        "{}/v1/auth/corp/start?success={success}&failure={FAILURE}",
        gateway.url()
    );
    let response = get(&client, &start).await;
    assert_eq!(response.status(), StatusCode::FOUND, "start redirects");
    let callback = shared.authorize(&location(&response), "alice");
    let response = get(&client, &gateway.here(&callback)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let landed = location(&response);
    assert_eq!(without_query(&landed), success, "{landed}");
    assert!(param(&landed, "secret").is_some(), "{landed}");

    // A login to the added URL is in flight when a reload takes the URL away again: it ends
    // at the 400 page, as with the memory store, and nothing is minted.
    let response = get(&client, &start).await;
    let callback = shared.authorize(&location(&response), "alice");
    gateway.served.rewrite(&config);
    gateway.served.signal("HUP");
    let logs = gateway.served.wait_for_log("config reload", 2).await;
    assert_eq!(logs.matches("config reloaded").count(), 2, "{logs}");
    let minted = shared.minted();
    let response = get(&client, &gateway.here(&callback)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    assert_eq!(shared.minted(), minted, "nothing was minted");
}

/// Instances judge an assertion by their own clocks, but a shared replay entry expires on the
/// writer's: an instance whose clock runs ahead records a window that is too short for one that
/// runs behind, which would still accept the assertion after its entry is gone. The store keeps
/// every entry [`CLOCK_SKEW_ALLOWANCE`] longer than its writer's clock asks.
#[tokio::test]
async fn a_used_assertion_stays_used_for_an_instance_whose_clock_runs_behind() {
    use idp_bridge::clock::{Clock, ManualClock, SystemClock};
    use idp_bridge::store::TransactionStore;
    use idp_bridge::store::redis::{CLOCK_SKEW_ALLOWANCE, RedisStore};
    use idp_provider_api::ReplayKey;

    let redis = RedisServer::start().await;
    let settings = store_settings(&redis);
    let ttl = Duration::from_secs(600);
    // Instance A's clock is a minute ahead of instance B's (the real one).
    let ahead = ManualClock::default();
    ahead.advance(Duration::from_secs(60));
    let a = RedisStore::open(&settings, ttl, 100, std::sync::Arc::new(ahead)).expect("store a");
    let b =
        RedisStore::open(&settings, ttl, 100, std::sync::Arc::new(SystemClock)).expect("store b");

    // An assertion acceptable for 30 more seconds by B's clock (already past it by A's).
    let key = ReplayKey::new("hook", "jti", b"jti-skew-0123456789");
    let until = SystemClock.now() + Duration::from_secs(30);
    assert!(a.first_use(&key, until).await.expect("a"), "first use at A");

    // By A's clock the assertion is already past, and without the allowance the entry would
    // live the 1 s minimum. Rather than wait for such an entry to expire, read how long Redis
    // (whose clock is B's, the real one) keeps it: past the 30 s B still accepts the assertion,
    // and by the whole allowance.
    let mut connection = redis.connection().await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(a.replay_key(&key))
        .query_async(&mut connection)
        .await
        .expect("PTTL");
    let kept = Duration::from_millis(u64::try_from(pttl).expect("a deadline"));
    let accepted_by_b = until
        .duration_since(SystemClock.now())
        .expect("B still accepts the assertion");
    assert!(
        kept > accepted_by_b,
        "kept {kept:?}, B accepts the assertion for {accepted_by_b:?} more"
    );
    let floor = CLOCK_SKEW_ALLOWANCE - Duration::from_secs(5);
    assert!(kept >= floor, "kept {kept:?}");
    assert!(
        !b.first_use(&key, until).await.expect("b"),
        "B, whose clock still accepts the assertion, must see it used"
    );
    // Forgotten at B (a logout that failed after spending it), it is a first use again at A.
    b.forget(&key).await.expect("forget");
    assert!(
        a.first_use(&key, until).await.expect("a again"),
        "forgotten"
    );
}

/// Under any `maxmemory-policy` but `noeviction`, a flood of logins could push used
/// assertions' entries out of Redis and let the assertions be used again: the gateway refuses
/// assertions (503) and is not ready until Redis keeps its keys, and recovers by itself.
#[tokio::test]
async fn a_redis_that_evicts_keys_refuses_assertions_and_is_not_ready() {
    let shared = Shared::new(RedisServer::start().await).await;
    let mut connection = shared.redis.connection().await;
    let set_policy = |policy: &'static str| {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("SET").arg("maxmemory-policy").arg(policy);
        cmd
    };
    let () = set_policy("volatile-lru")
        .query_async(&mut connection)
        .await
        .expect("CONFIG SET");
    let a = shared.gateway(true, &[&new_key("k1")], "").await;
    assert_unavailable(&exchange(&a, "jti-evict-0123456789").await, "exchange");
    assert_eq!(shared.minted(), 0);
    assert_eq!(
        status_of(format!("{}/readyz", a.url())).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(
        a.served.logs().contains("maxmemory-policy volatile-lru"),
        "{}",
        a.served.logs()
    );

    let () = set_policy("noeviction")
        .query_async(&mut connection)
        .await
        .expect("CONFIG SET");
    assert_eq!(
        exchange(&a, "jti-evict-0123456789").await.status(),
        StatusCode::OK
    );
    assert_eq!(shared.minted(), 1);
}

/// The Redis password rides in `redis_url`: whatever fails (nothing listening, a refused
/// connection, readiness), it reaches neither the log nor a page.
#[tokio::test]
async fn the_redis_password_reaches_neither_the_log_nor_a_page() {
    let mut shared = Shared::new(RedisServer::start().await).await;
    let password = "pw-0123456789-never-logged";
    shared.redis_url = format!("redis://:{password}@127.0.0.1:{}/0", free_port());
    let a = shared.gateway(true, &[&new_key("k1")], "").await;
    let start = get(&browser(), &a.start_url()).await;
    assert_unavailable(&start, "start");
    let page = start.text().await.expect("page");
    let ready = get(&browser(), &format!("{}/readyz", a.url())).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let readyz = ready.text().await.expect("readyz");
    let body: Value = serde_json::from_str(&readyz).expect("JSON");
    assert_eq!(body["status"], "not_ready", "{body}");
    assert_eq!(body["checks"]["store"], "failed", "{body}");
    let cause = body["errors"]["store"].as_str().unwrap_or_default();
    assert!(cause.contains("Redis"), "/readyz says why: {body}");
    let metrics = get(&browser(), &format!("{}/metrics", a.url()))
        .await
        .text()
        .await
        .expect("metrics");
    assert!(metrics.contains("\nidp_bridge_store_up 0\n"), "{metrics}");
    let logs = a.served.logs();
    assert!(logs.contains("transaction store unavailable"), "{logs}");
    for text in [&page, &readyz, &metrics, &logs] {
        assert!(!text.contains(password), "{text}");
    }
}
