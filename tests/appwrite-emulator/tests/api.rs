//! Behaviour tests against a spawned emulator, using reqwest as the client.

use std::time::Duration;

use appwrite_emulator::{ApiKey, Emulator, EmulatorConfig, Fault, FaultScope, SeedUser};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Api {
    emu: Emulator,
    http: Client,
}

impl Api {
    async fn new() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    async fn with(config: EmulatorConfig) -> Self {
        Self {
            emu: Emulator::spawn(config).await,
            http: Client::new(),
        }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.emu.endpoint(), path))
            .header("X-Appwrite-Project", self.emu.project())
            .header("X-Appwrite-Key", self.emu.api_key())
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("request failed");
        let status = resp.status();
        let body = resp.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    async fn create_user(&self, body: Value) -> (StatusCode, Value) {
        self.send(self.req(Method::POST, "/users").json(&body))
            .await
    }

    async fn token(&self, user: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.req(Method::POST, &format!("/users/{user}/tokens"))
                .json(&body),
        )
        .await
    }

    async fn session(&self, user: &str, secret: &str) -> (StatusCode, Value) {
        let rb = self
            .http
            .post(format!("{}/account/sessions/token", self.emu.endpoint()))
            .header("X-Appwrite-Project", self.emu.project())
            .json(&json!({"userId": user, "secret": secret}));
        self.send(rb).await
    }
}

fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_type: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["type"], want_type, "{body}");
    assert_eq!(body["code"], want_status, "{body}");
    assert_eq!(body["version"], "1.8.1");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn is_appwrite_time(s: &str) -> bool {
    // 2020-10-15T06:38:00.000+00:00
    s.len() == 29 && s.ends_with("+00:00") && &s[10..11] == "T" && &s[19..20] == "."
}

#[tokio::test]
async fn create_and_get_user() {
    let api = Api::new().await;
    let (status, user) = api
        .create_user(
            json!({"userId": "oidc-google-1", "email": "Alice@Example.COM", "name": "Alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["$id"], "oidc-google-1");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Alice");
    assert_eq!(user["status"], true);
    assert_eq!(user["emailVerification"], false);
    assert_eq!(user["phoneVerification"], false);
    assert_eq!(user["mfa"], false);
    assert_eq!(user["phone"], "");
    assert_eq!(user["labels"], json!([]));
    assert_eq!(user["targets"], json!([]));
    assert_eq!(user["prefs"], json!({}));
    assert_eq!(user["passwordUpdate"], "");
    assert_eq!(user["accessedAt"], "");
    for f in ["$createdAt", "$updatedAt", "registration"] {
        assert!(
            is_appwrite_time(user[f].as_str().unwrap()),
            "{f}: {}",
            user[f]
        );
    }
    assert!(user.get("password").is_none());

    let (status, got) = api.send(api.req(Method::GET, "/users/oidc-google-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, user);
    assert_eq!(api.emu.user("oidc-google-1"), Some(user));
    assert_eq!(api.emu.users_count(), 1);

    let (status, body) = api.send(api.req(Method::GET, "/users/nobody")).await;
    assert_error(status, &body, 404, "user_not_found");
}

#[tokio::test]
async fn unique_id_and_optional_fields() {
    let api = Api::new().await;
    let (status, user) = api
        .create_user(json!({"userId": "unique()", "email": null, "phone": "+14155550100", "password": "correct horse", "name": null}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["$id"].as_str().unwrap();
    assert_eq!(id.len(), 20);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(user["email"], "");
    assert_eq!(user["phone"], "+14155550100");
    assert_eq!(user["name"], "");
    assert!(user["password"].is_string());
    assert!(is_appwrite_time(user["passwordUpdate"].as_str().unwrap()));
}

#[tokio::test]
async fn id_rule_violations() {
    let api = Api::new().await;
    for bad in [
        "",
        "_x",
        ".x",
        "-x",
        "a:b",
        "with space",
        "é",
        &"a".repeat(37),
    ] {
        let (status, body) = api.create_user(json!({"userId": bad})).await;
        assert_error(status, &body, 400, "general_argument_invalid");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid `userId` param: "),
            "{body}"
        );
    }
    let (status, body) = api.create_user(json!({"userId": "a".repeat(36)})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api.create_user(json!({"name": "no id"})).await;
    assert_error(status, &body, 400, "general_argument_invalid");
    let (status, body) = api.create_user(json!({"userId": 42})).await;
    assert_error(status, &body, 400, "general_argument_invalid");
    // Path IDs follow the same rule.
    let (status, body) = api.send(api.req(Method::GET, "/users/_bad")).await;
    assert_error(status, &body, 400, "general_argument_invalid");
    assert_eq!(api.emu.users_count(), 1);
}

#[tokio::test]
async fn field_validation() {
    let api = Api::new().await;
    for (body, param) in [
        (json!({"userId": "u1", "email": "not-an-email"}), "email"),
        (json!({"userId": "u1", "email": ""}), "email"),
        (json!({"userId": "u1", "phone": "4155550100"}), "phone"),
        (json!({"userId": "u1", "phone": "+0155550100"}), "phone"),
        (json!({"userId": "u1", "password": "short"}), "password"),
        (json!({"userId": "u1", "name": "n".repeat(129)}), "name"),
        (json!({"userId": "u1", "labels": ["x"]}), "labels"),
    ] {
        let (status, resp) = api.create_user(body).await;
        assert_error(status, &resp, 400, "general_argument_invalid");
        assert!(resp["message"].as_str().unwrap().contains(param), "{resp}");
    }
    let (status, resp) = api
        .create_user(json!({"userId": "u1", "name": "n".repeat(128)}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resp}");
}

#[tokio::test]
async fn duplicates_are_409() {
    let api = Api::new().await;
    let (s, _) = api
        .create_user(json!({"userId": "u1", "email": "a@b.com", "phone": "+14155550100"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for body in [
        json!({"userId": "u1"}),
        json!({"userId": "u2", "email": "A@B.COM"}),
        json!({"userId": "u3", "phone": "+14155550100"}),
    ] {
        let (status, resp) = api.create_user(body).await;
        assert_error(status, &resp, 409, "user_already_exists");
    }
    // A seeded user clashes too.
    api.emu.seed_user(SeedUser {
        id: "seeded".into(),
        email: Some("Seeded@Example.com".into()),
        name: "S".into(),
        email_verification: true,
        status: true,
    });
    let (status, resp) = api
        .create_user(json!({"userId": "u9", "email": "seeded@example.com"}))
        .await;
    assert_error(status, &resp, 409, "user_already_exists");
    assert_eq!(api.emu.users_count(), 2);
}

#[tokio::test]
async fn list_by_email_with_json_queries() {
    let api = Api::new().await;
    for (id, email) in [("u1", "a@b.com"), ("u2", "c@d.com"), ("u3", "e@f.com")] {
        api.create_user(json!({"userId": id, "email": email})).await;
    }
    let q = [
        (
            "queries[]",
            r#"{"method":"equal","attribute":"email","values":["c@d.com"]}"#,
        ),
        ("queries[]", r#"{"method":"limit","values":[1]}"#),
    ];
    let (status, body) = api.send(api.req(Method::GET, "/users").query(&q)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1);
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    assert_eq!(body["users"][0]["$id"], "u2");

    // No match.
    let q = [(
        "queries[]",
        r#"{"method":"equal","attribute":"email","values":["x@y.com"]}"#,
    )];
    let (_, body) = api.send(api.req(Method::GET, "/users").query(&q)).await;
    assert_eq!(body, json!({"total": 0, "users": []}));

    // Several values are OR-ed; limit/offset page; total counts all matches.
    let q = [
        (
            "queries[]",
            r#"{"method":"equal","attribute":"$id","values":["u1","u3"]}"#,
        ),
        ("queries[]", r#"{"method":"limit","values":[1]}"#),
        ("queries[]", r#"{"method":"offset","values":[1]}"#),
    ];
    let (_, body) = api.send(api.req(Method::GET, "/users").query(&q)).await;
    assert_eq!(body["total"], 2);
    assert_eq!(body["users"][0]["$id"], "u3");

    // total=false → 0.
    let (_, body) = api
        .send(api.req(Method::GET, "/users").query(&[("total", "false")]))
        .await;
    assert_eq!(body["total"], 0);
    assert_eq!(body["users"].as_array().unwrap().len(), 3);

    // Boolean attributes.
    let q = [(
        "queries[]",
        r#"{"method":"equal","attribute":"emailVerification","values":[false]}"#,
    )];
    let (_, body) = api.send(api.req(Method::GET, "/users").query(&q)).await;
    assert_eq!(body["total"], 3);

    // Every call was recorded with its raw query.
    let calls = api.emu.calls();
    let list = calls.iter().find(|c| c.method == "GET").unwrap();
    assert_eq!(list.path, "/v1/users");
    assert!(list.query.contains("queries%5B%5D="), "{}", list.query);
    assert_eq!(list.status, 200);
}

#[tokio::test]
async fn bad_queries_are_400() {
    let api = Api::new().await;
    for bad in [
        "not json",
        r#"equal("email", ["a@b.com"])"#,
        r#"{"method":"equal","attribute":"password","values":["x"]}"#,
        r#"{"method":"search","attribute":"email","values":["x"]}"#,
    ] {
        let (status, body) = api
            .send(api.req(Method::GET, "/users").query(&[("queries[]", bad)]))
            .await;
        assert_error(status, &body, 400, "general_query_invalid");
    }
    let (status, body) = api
        .send(api.req(Method::GET, "/users").query(&[("total", "maybe")]))
        .await;
    assert_error(status, &body, 400, "general_argument_invalid");
    let (status, body) = api
        .send(api.req(Method::GET, "/users").query(&[("filter", "x")]))
        .await;
    assert_error(status, &body, 400, "general_argument_invalid");
}

#[tokio::test]
async fn auth_errors() {
    let config = EmulatorConfig {
        project: "p1".into(),
        keys: vec![
            ApiKey {
                secret: "reader".into(),
                scopes: vec!["users.read".into()],
                expired: false,
            },
            ApiKey {
                secret: "old".into(),
                scopes: vec!["users.read".into(), "users.write".into()],
                expired: true,
            },
        ],
    };
    let api = Api::with(config).await;
    let url = format!("{}/users", api.emu.endpoint());

    // Unknown key = guest.
    let rb = api
        .http
        .get(&url)
        .header("X-Appwrite-Project", "p1")
        .header("X-Appwrite-Key", "nope");
    let (status, body) = api.send(rb).await;
    assert_error(status, &body, 401, "general_unauthorized_scope");
    assert_eq!(
        body["message"],
        r#"User (role: guests) missing scopes (["users.read"])"#
    );

    // No key at all = guest.
    let (status, body) = api
        .send(api.http.get(&url).header("X-Appwrite-Project", "p1"))
        .await;
    assert_error(status, &body, 401, "general_unauthorized_scope");

    // A key without users.write cannot create.
    let rb = api
        .http
        .post(&url)
        .header("X-Appwrite-Project", "p1")
        .header("X-Appwrite-Key", "reader")
        .json(&json!({"userId": "x"}));
    let (status, body) = api.send(rb).await;
    assert_error(status, &body, 401, "general_unauthorized_scope");
    assert!(body["message"].as_str().unwrap().contains("users.write"));

    // ...but can read.
    let rb = api
        .http
        .get(&url)
        .header("X-Appwrite-Project", "p1")
        .header("X-Appwrite-Key", "reader");
    assert_eq!(api.send(rb).await.0, StatusCode::OK);

    // Expired key.
    let rb = api
        .http
        .get(&url)
        .header("X-Appwrite-Project", "p1")
        .header("X-Appwrite-Key", "old");
    let (status, body) = api.send(rb).await;
    assert_error(status, &body, 401, "project_key_expired");

    // Wrong or missing project.
    let rb = api
        .http
        .get(&url)
        .header("X-Appwrite-Project", "p2")
        .header("X-Appwrite-Key", "reader");
    let (status, body) = api.send(rb).await;
    assert_error(status, &body, 404, "project_not_found");
    let (status, body) = api
        .send(api.http.get(&url).header("X-Appwrite-Key", "reader"))
        .await;
    assert_error(status, &body, 404, "project_not_found");
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let api = Api::new().await;
    for (m, p) in [
        (Method::GET, "/nope"),
        (Method::DELETE, "/users"),
        (Method::PUT, "/users/u1"),
        (Method::GET, "/account/sessions/token"),
    ] {
        let (status, body) = api.send(api.req(m, p)).await;
        assert_error(status, &body, 404, "general_route_not_found");
    }
    let (status, body) = api
        .send(api.http.get(format!("http://{}/", api.emu.addr())))
        .await;
    assert_error(status, &body, 404, "general_route_not_found");
}

#[tokio::test]
async fn token_to_session_once() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "u1", "email": "a@b.com"}))
        .await;
    let (status, token) = api.token("u1", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 6);
    assert!(secret.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    assert_eq!(token["userId"], "u1");
    assert_eq!(token["phrase"], "");
    assert!(is_appwrite_time(token["expire"].as_str().unwrap()));
    assert_eq!(
        api.emu.tokens(),
        vec![appwrite_emulator::TokenRecord {
            user_id: "u1".into(),
            length: 6,
            expire_seconds: 900,
            consumed: false
        }]
    );

    // Wrong secret first: 401 and the token survives.
    let wrong = if secret == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, body) = api.session("u1", wrong).await;
    assert_error(status, &body, 401, "user_invalid_token");
    // Unknown user.
    let (status, body) = api.session("ghost", &secret).await;
    assert_error(status, &body, 401, "user_invalid_token");

    let resp = api
        .http
        .post(format!("{}/account/sessions/token", api.emu.endpoint()))
        .header("X-Appwrite-Project", api.emu.project())
        .json(&json!({"userId": "u1", "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("a_session_demo-project=")),
        "{cookies:?}"
    );
    let session: Value = resp.json().await.unwrap();
    assert_eq!(session["userId"], "u1");
    assert_eq!(session["provider"], "token");
    assert_eq!(session["factors"], json!(["token"]));
    assert_eq!(session["current"], true);
    assert_eq!(session["secret"], "");
    assert_eq!(session["ip"], "127.0.0.1");
    assert!(api.emu.tokens()[0].consumed);
    assert_eq!(api.emu.sessions_count(), 1);
    assert!(
        !api.emu.user("u1").unwrap()["accessedAt"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    // Single use.
    let (status, body) = api.session("u1", &secret).await;
    assert_error(status, &body, 401, "user_invalid_token");

    // Presenting the session cookie again is "session already exists".
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("a_session_demo-project="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (_, token2) = api.token("u1", json!({"length": 16})).await;
    let rb = api
        .http
        .post(format!("{}/account/sessions/token", api.emu.endpoint()))
        .header("X-Appwrite-Project", api.emu.project())
        .header("Cookie", cookie)
        .json(&json!({"userId": "u1", "secret": token2["secret"]}));
    let (status, body) = api.send(rb).await;
    assert_error(status, &body, 401, "user_session_already_exists");

    // Session route checks the project too.
    let rb = api
        .http
        .post(format!("{}/account/sessions/token", api.emu.endpoint()))
        .header("X-Appwrite-Project", "other")
        .json(&json!({"userId": "u1", "secret": token2["secret"]}));
    let (status, body) = api.send(rb).await;
    assert_error(status, &body, 404, "project_not_found");
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "u1"})).await;
    let (_, token) = api.token("u1", json!({"length": 32, "expire": 60})).await;
    let secret = token["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32);
    api.emu.advance_clock(Duration::from_secs(61));
    let (status, body) = api.session("u1", &secret).await;
    assert_error(status, &body, 401, "user_invalid_token");
    assert!(!api.emu.tokens()[0].consumed);

    // A fresh token minted on the moved clock still works.
    let (_, token) = api.token("u1", json!({"expire": 60})).await;
    let (status, _) = api.session("u1", token["secret"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn token_params_out_of_range() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "u1"})).await;
    for body in [
        json!({"length": 3}),
        json!({"length": 129}),
        json!({"expire": 59}),
        json!({"expire": 31_536_001}),
        json!({"length": "6"}),
        json!({"length": 6.5}),
    ] {
        let (status, resp) = api.token("u1", body.clone()).await;
        assert_error(status, &resp, 400, "general_argument_invalid");
    }
    for body in [
        json!({"length": 4, "expire": 60}),
        json!({"length": 128, "expire": 31_536_000}),
    ] {
        let (status, resp) = api.token("u1", body).await;
        assert_eq!(status, StatusCode::CREATED, "{resp}");
    }
    let (status, resp) = api.token("ghost", json!({})).await;
    assert_error(status, &resp, 404, "user_not_found");
}

#[tokio::test]
async fn blocked_user_cannot_log_in() {
    let api = Api::new().await;
    api.emu.seed_user(SeedUser {
        id: "blocked".into(),
        email: None,
        name: "B".into(),
        email_verification: false,
        status: false,
    });
    let (_, token) = api.token("blocked", json!({})).await;
    let (status, body) = api
        .session("blocked", token["secret"].as_str().unwrap())
        .await;
    assert_error(status, &body, 403, "user_blocked");
    assert!(!api.emu.tokens()[0].consumed);
}

#[tokio::test]
async fn update_email_verification() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "u1", "email": "a@b.com"}))
        .await;
    let (status, user) = api
        .send(
            api.req(Method::PATCH, "/users/u1/verification")
                .json(&json!({"emailVerification": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["emailVerification"], true);
    assert_eq!(api.emu.user("u1").unwrap()["emailVerification"], true);
    let (status, body) = api
        .send(
            api.req(Method::PATCH, "/users/u1/verification")
                .json(&json!({})),
        )
        .await;
    assert_error(status, &body, 400, "general_argument_invalid");
    let (status, body) = api
        .send(
            api.req(Method::PATCH, "/users/u2/verification")
                .json(&json!({"emailVerification": true})),
        )
        .await;
    assert_error(status, &body, 404, "user_not_found");
}

#[tokio::test]
async fn fault_status_codes() {
    let api = Api::new().await;
    api.emu.inject(Fault::Status(503), FaultScope::Next(1));
    let (status, body) = api.send(api.req(Method::GET, "/users")).await;
    assert_error(status, &body, 503, "general_service_disabled");
    assert_eq!(
        api.send(api.req(Method::GET, "/users")).await.0,
        StatusCode::OK
    );

    api.emu.inject(Fault::Status(500), FaultScope::Next(1));
    let (status, body) = api.send(api.req(Method::GET, "/users")).await;
    assert_error(status, &body, 500, "general_server_error");

    api.emu.inject(Fault::Status(429), FaultScope::Always);
    for _ in 0..2 {
        let resp = api.req(Method::GET, "/users").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(resp.headers().contains_key(h), "{h}");
        }
        let body: Value = resp.json().await.unwrap();
        assert_error(
            StatusCode::TOO_MANY_REQUESTS,
            &body,
            429,
            "general_rate_limit_exceeded",
        );
    }
    api.emu.clear_faults();

    // Route scope: only POST /users, twice.
    api.emu.inject(
        Fault::Status(500),
        FaultScope::Route {
            method: "POST",
            path_prefix: "/v1/users".into(),
            times: Some(2),
        },
    );
    assert_eq!(
        api.send(api.req(Method::GET, "/users")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.create_user(json!({"userId": "u1"})).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        api.create_user(json!({"userId": "u1"})).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        api.create_user(json!({"userId": "u1"})).await.0,
        StatusCode::CREATED
    );

    let statuses: Vec<u16> = api.emu.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![503, 200, 500, 429, 429, 200, 500, 500, 201]);
    api.emu.clear_calls();
    assert!(api.emu.calls().is_empty());
}

#[tokio::test]
async fn fault_latency() {
    let api = Api::new().await;
    api.emu.inject(
        Fault::Latency(Duration::from_millis(300)),
        FaultScope::Next(1),
    );
    let start = std::time::Instant::now();
    let (status, _) = api.send(api.req(Method::GET, "/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(300));

    // A client timeout shorter than the latency fires.
    api.emu
        .inject(Fault::Latency(Duration::from_secs(5)), FaultScope::Next(1));
    let err = api
        .req(Method::GET, "/users")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");

    let start = std::time::Instant::now();
    assert_eq!(
        api.send(api.req(Method::GET, "/users")).await.0,
        StatusCode::OK
    );
    assert!(start.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn fault_drop_closes_connection() {
    let api = Api::new().await;
    // Warm a keep-alive connection first, so the drop hits a pooled connection.
    assert_eq!(
        api.send(api.req(Method::GET, "/users")).await.0,
        StatusCode::OK
    );
    api.emu.inject(Fault::Drop, FaultScope::Next(1));
    let err = api.req(Method::GET, "/users").send().await.unwrap_err();
    assert!(!err.is_timeout());
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let text = format!("{err:?}");
    // hyper's IncompleteMessage: "connection closed before message completed".
    assert!(text.contains("IncompleteMessage"), "{text}");
    // The server still serves afterwards.
    assert_eq!(
        api.send(api.req(Method::GET, "/users")).await.0,
        StatusCode::OK
    );
    let statuses: Vec<u16> = api.emu.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![200, 0, 200]);

    // Drop on a route, with a fresh connection each time.
    api.emu.inject(
        Fault::Drop,
        FaultScope::Route {
            method: "POST",
            path_prefix: "/account".into(),
            times: None,
        },
    );
    let fresh = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    for _ in 0..2 {
        let err = fresh
            .post(format!("{}/account/sessions/token", api.emu.endpoint()))
            .header("X-Appwrite-Project", api.emu.project())
            .json(&json!({"userId": "u", "secret": "s"}))
            .send()
            .await
            .unwrap_err();
        assert!(!err.is_timeout(), "{err:?}");
        assert!(format!("{err:?}").contains("IncompleteMessage"), "{err:?}");
    }
}

#[tokio::test]
async fn cors_preflight_for_browser_demo() {
    let api = Api::new().await;
    let resp = api
        .http
        .request(
            Method::OPTIONS,
            format!("{}/account/sessions/token", api.emu.endpoint()),
        )
        .header("Origin", "http://127.0.0.1:9999")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-appwrite-project",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(resp.headers().contains_key("access-control-allow-headers"));
    assert!(
        !resp
            .headers()
            .contains_key("access-control-allow-credentials")
    );
}

#[tokio::test]
async fn dropping_emulator_stops_server() {
    let emu = Emulator::spawn(EmulatorConfig::default()).await;
    let endpoint = emu.endpoint();
    drop(emu);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = Client::new()
        .get(format!("{endpoint}/users"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}
