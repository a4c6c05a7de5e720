//! One contract for every `TransactionStore` backend: each behaviour the trait promises is
//! written once, as an async function taking a fresh store, and runs against every backend (the
//! memory store, and the Redis store on a real `redis-server` of its own per test).
//!
//! A new backend adds one line at the bottom: `contract!(name: opener);`, where `opener` is an
//! async function returning a [`Subject`] (the store, its clock, whatever keeps it alive).
//! A new behaviour is an async function `fn(&Subject)` and its name in the list of
//! [`contract!`].
//!
//! The contract holds only what every backend promises. What one backend does its own way
//! stays in that backend's tests: the memory store's byte budget, its capped replay cache and
//! its open-login gauge (src/store/memory.rs), the expiry of session records by the gateway's
//! clock (src/store/session.rs), and Redis outages, eviction policy and sealing (redis.rs).
//! Time moves only when a case says so ([`ManualClock`]): the stores judge a login's deadline
//! by the gateway's clock, so no case sleeps.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use idp_bridge::clock::{Clock, ManualClock};
use idp_bridge::return_urls::{AllowList, ReturnState};
use idp_bridge::store::memory::MemoryStore;
use idp_bridge::store::redis::RedisStore;
use idp_bridge::store::session::SessionKey;
use idp_bridge::store::transaction::{LoginTransaction, StateKey};
use idp_bridge::store::{MAX_REPLAY_WINDOW, StoreError, TransactionStore};
use idp_provider_api::{LoginData, ReplayKey};

use crate::redis::store_settings;
use crate::redis_server::RedisServer;

/// How long a login lives in every store under contract.
const TTL: Duration = Duration::from_secs(600);
/// How many logins every store under contract holds open at most.
const CAP: u64 = 3;

/// A store under contract: fresh, holding at most [`CAP`] open logins that live [`TTL`], on a
/// clock that moves only when a case moves it.
pub struct Subject {
    store: Arc<dyn TransactionStore>,
    clock: Arc<ManualClock>,
    /// What the store needs alive (its Redis server), dropped with it.
    _backend: Option<RedisServer>,
}

/// The in-process store.
async fn memory() -> Subject {
    let clock = Arc::new(ManualClock::default());
    Subject {
        store: Arc::new(MemoryStore::new(TTL, CAP, clock.clone())),
        clock,
        _backend: None,
    }
}

/// The shared store, on a `redis-server` of its own.
async fn redis() -> Subject {
    let server = RedisServer::start().await;
    let settings = store_settings(&server);
    let clock = Arc::new(ManualClock::default());
    let store = RedisStore::open(&settings, TTL, CAP, clock.clone()).expect("store");
    Subject {
        store: Arc::new(store),
        clock,
        _backend: Some(server),
    }
}

/// Runs every case of the contract against the backend `opener` opens, one test per case.
macro_rules! contract {
    ($backend:ident: $opener:ident) => {
        contract!(@cases $backend: $opener;
            a_login_comes_back_as_it_was_put,
            a_login_is_taken_once,
            an_unknown_login_is_none,
            logins_under_distinct_keys_are_independent,
            a_login_lives_its_ttl_by_the_gateway_clock,
            a_login_past_its_ttl_is_gone,
            concurrent_takes_of_one_login_get_it_once,
            the_cap_refuses_new_logins_and_a_take_makes_room,
            an_assertion_is_used_once,
            distinct_replay_keys_are_independent,
            concurrent_uses_of_one_assertion_admit_exactly_one,
            a_replay_window_beyond_the_limit_is_refused,
            a_forgotten_assertion_is_a_first_use_again,
            forgetting_an_unknown_assertion_is_no_error,
            a_session_record_names_its_subject,
            a_session_record_replaces_the_earlier_one,
            distinct_sessions_are_independent,
            a_healthy_store_answers_ping,
        );
    };
    (@cases $backend:ident: $opener:ident; $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::$opener().await).await;
                }
            )*
        }
    };
}

contract!(memory: memory);
contract!(redis: redis);

/// A login started now by `subject`'s clock, returning to `path`, with the app's `state`.
fn login(subject: &Subject, path: &str) -> LoginTransaction {
    let allowed = AllowList::parse(&["http://127.0.0.1:3000/".to_string()]).expect("list");
    let target = |param, url: &str| allowed.check(param, Some(url)).expect("allowed");
    LoginTransaction {
        provider: "corp".into(),
        data: LoginData::new(format!("{{\"nonce\":\"{path}\",\"pkce_verifier\":\"v\"}}")),
        success: target("success", &format!("http://127.0.0.1:3000/{path}")),
        failure: target("failure", "http://127.0.0.1:3000/failed"),
        state: ReturnState::parse(Some("app state")).expect("valid"),
        created_at: subject.clock.now(),
    }
}

/// Puts a login under `state`'s key.
async fn put(subject: &Subject, state: &str) -> Result<(), StoreError> {
    let login = login(subject, state);
    subject.store.put(StateKey::of(state), login).await
}

/// Takes the login of `state`: its success URL, `None` when there is none.
async fn take(subject: &Subject, state: &str) -> Option<String> {
    let taken = subject
        .store
        .take(&StateKey::of(state))
        .await
        .expect("take");
    taken.map(|login| login.success.as_str().to_string())
}

fn millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

async fn a_login_comes_back_as_it_was_put(subject: &Subject) {
    let before = login(subject, "done");
    let key = StateKey::of("s-1");
    subject
        .store
        .put(key.clone(), before.clone())
        .await
        .expect("put");
    let after = subject
        .store
        .take(&key)
        .await
        .expect("take")
        .expect("found");
    assert_eq!(after.provider, before.provider);
    assert_eq!(after.data.expose(), before.data.expose());
    assert_eq!(after.success, before.success);
    assert_eq!(after.failure, before.failure);
    assert_eq!(after.state, before.state);
    // A shared store keeps the creation time in milliseconds.
    assert_eq!(millis(after.created_at), millis(before.created_at));
}

async fn a_login_is_taken_once(subject: &Subject) {
    put(subject, "s-1").await.expect("put");
    assert!(take(subject, "s-1").await.is_some(), "first take");
    assert_eq!(take(subject, "s-1").await, None, "second take");
}

async fn an_unknown_login_is_none(subject: &Subject) {
    assert_eq!(take(subject, "never-put").await, None);
}

async fn logins_under_distinct_keys_are_independent(subject: &Subject) {
    put(subject, "s-1").await.expect("put");
    put(subject, "s-2").await.expect("put");
    assert_eq!(
        take(subject, "s-2").await.as_deref(),
        Some("http://127.0.0.1:3000/s-2")
    );
    assert_eq!(
        take(subject, "s-1").await.as_deref(),
        Some("http://127.0.0.1:3000/s-1")
    );
}

async fn a_login_lives_its_ttl_by_the_gateway_clock(subject: &Subject) {
    put(subject, "s-1").await.expect("put");
    // A millisecond short of it: a shared store keeps the creation time in milliseconds, so
    // it may read a login up to a millisecond older than it is.
    subject.clock.advance(TTL - Duration::from_millis(1));
    assert!(take(subject, "s-1").await.is_some());
}

async fn a_login_past_its_ttl_is_gone(subject: &Subject) {
    put(subject, "s-1").await.expect("put");
    subject.clock.advance(TTL + Duration::from_millis(1));
    assert_eq!(take(subject, "s-1").await, None);
}

async fn concurrent_takes_of_one_login_get_it_once(subject: &Subject) {
    put(subject, "race").await.expect("put");
    let takes: Vec<_> = (0..16)
        .map(|_| {
            let store = subject.store.clone();
            tokio::spawn(async move { store.take(&StateKey::of("race")).await.expect("take") })
        })
        .collect();
    let mut found = 0;
    for take in takes {
        found += usize::from(take.await.expect("task").is_some());
    }
    assert_eq!(found, 1);
}

async fn the_cap_refuses_new_logins_and_a_take_makes_room(subject: &Subject) {
    for n in 0..CAP {
        put(subject, &format!("s-{n}")).await.expect("room");
    }
    let refused = put(subject, "one-too-many").await;
    assert!(matches!(refused, Err(StoreError::Full(CAP))), "{refused:?}");
    assert!(take(subject, "s-0").await.is_some());
    put(subject, "after-a-take").await.expect("room again");
    // The refused login was never stored.
    assert_eq!(take(subject, "one-too-many").await, None);
}

/// An assertion acceptable for five more minutes by `subject`'s clock.
fn until(subject: &Subject) -> SystemTime {
    subject.clock.now() + Duration::from_secs(300)
}

async fn first_use(subject: &Subject, key: &ReplayKey) -> bool {
    let until = until(subject);
    subject
        .store
        .first_use(key, until)
        .await
        .expect("first_use")
}

async fn an_assertion_is_used_once(subject: &Subject) {
    let key = ReplayKey::new("backend", "jti", b"abc");
    assert!(first_use(subject, &key).await, "first use");
    assert!(!first_use(subject, &key).await, "second use");
    assert!(!first_use(subject, &key).await, "third use");
}

async fn distinct_replay_keys_are_independent(subject: &Subject) {
    let key = ReplayKey::new("backend", "jti", b"abc");
    assert!(first_use(subject, &key).await);
    for other in [
        ReplayKey::new("other", "jti", b"abc"),
        ReplayKey::new("backend", "jti", b"abd"),
    ] {
        assert!(first_use(subject, &other).await, "{other:?}");
    }
}

async fn concurrent_uses_of_one_assertion_admit_exactly_one(subject: &Subject) {
    let key = ReplayKey::new("backend", "jti", b"race");
    let until = until(subject);
    let uses: Vec<_> = (0..32)
        .map(|_| {
            let store = subject.store.clone();
            tokio::spawn(async move { store.first_use(&key, until).await.expect("use") })
        })
        .collect();
    let mut firsts = 0;
    for task in uses {
        firsts += usize::from(task.await.expect("task"));
    }
    assert_eq!(firsts, 1);
}

async fn a_replay_window_beyond_the_limit_is_refused(subject: &Subject) {
    let key = ReplayKey::new("backend", "jti", b"long");
    let until = subject.clock.now() + MAX_REPLAY_WINDOW + Duration::from_secs(1);
    let refused = subject.store.first_use(&key, until).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    // Nothing was recorded: a window within the limit is a first use.
    assert!(first_use(subject, &key).await);
}

async fn a_forgotten_assertion_is_a_first_use_again(subject: &Subject) {
    let key = ReplayKey::new("backend", "jti", b"retry");
    let other = ReplayKey::new("backend", "jti", b"kept");
    assert!(first_use(subject, &key).await);
    assert!(first_use(subject, &other).await);
    subject.store.forget(&key).await.expect("forget");
    assert!(
        first_use(subject, &key).await,
        "a forgotten key is a first use again"
    );
    assert!(!first_use(subject, &key).await, "and then spent again");
    assert!(
        !first_use(subject, &other).await,
        "forget drops only its own key"
    );
}

async fn forgetting_an_unknown_assertion_is_no_error(subject: &Subject) {
    let key = ReplayKey::new("backend", "jti", b"never-used");
    subject.store.forget(&key).await.expect("forget");
    assert!(first_use(subject, &key).await);
}

fn session(sid: &str) -> SessionKey {
    SessionKey::of("corp", "https://op.example", sid)
}

async fn subject_of(subject: &Subject, key: &SessionKey) -> Option<String> {
    subject
        .store
        .session_subject(key)
        .await
        .expect("session_subject")
}

async fn record(subject: &Subject, key: &SessionKey, who: &str) {
    let ttl = Duration::from_secs(3600);
    subject
        .store
        .record_session(key, who, ttl)
        .await
        .expect("record");
}

async fn a_session_record_names_its_subject(subject: &Subject) {
    assert_eq!(subject_of(subject, &session("s-1")).await, None);
    record(subject, &session("s-1"), "alice").await;
    assert_eq!(
        subject_of(subject, &session("s-1")).await.as_deref(),
        Some("alice")
    );
    // Reading does not consume it.
    assert_eq!(
        subject_of(subject, &session("s-1")).await.as_deref(),
        Some("alice")
    );
}

async fn a_session_record_replaces_the_earlier_one(subject: &Subject) {
    record(subject, &session("s-1"), "alice").await;
    record(subject, &session("s-1"), "bob").await;
    assert_eq!(
        subject_of(subject, &session("s-1")).await.as_deref(),
        Some("bob")
    );
}

async fn distinct_sessions_are_independent(subject: &Subject) {
    record(subject, &session("s-1"), "alice").await;
    for other in [
        session("s-2"),
        SessionKey::of("corp2", "https://op.example", "s-1"),
        SessionKey::of("corp", "https://other.example", "s-1"),
    ] {
        assert_eq!(subject_of(subject, &other).await, None, "{other:?}");
    }
}

async fn a_healthy_store_answers_ping(subject: &Subject) {
    subject.store.ping().await.expect("ping");
}
