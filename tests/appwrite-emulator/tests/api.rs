//! Behaviour tests against a spawned emulator, using reqwest as the client.

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

    /// `POST /v1/account` as a browser would send it: project header only, no API key.
    async fn account(&self, body: Value) -> (StatusCode, Value) {
        let rb = self
            .http
            .post(format!("{}/account", self.emu.endpoint()))
            .header("X-Appwrite-Project", self.emu.project())
            .json(&body);
        self.send(rb).await
    }

    async fn labels(&self, user: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.req(Method::PUT, &format!("/users/{user}/labels"))
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
        ..SeedUser::default()
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
        ..SeedUser::default()
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
    // The web SDK fetches with `credentials: 'include'`: the origin must be mirrored (not `*`)
    // and credentials allowed, or the browser drops the answer.
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://127.0.0.1:9999"
    );
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-appwrite-project"), "{allowed}");
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

#[tokio::test]
async fn update_labels_replaces_all() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "u1", "email": "a@b.com"}))
        .await;
    let before = api.emu.user("u1").unwrap();
    api.emu.advance_clock(Duration::from_secs(5));
    let (status, user) = api
        .labels(
            "u1",
            json!({"labels": ["vip", "oidcgoogle", "Team42", "vip"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    // Duplicates are dropped, order kept.
    assert_eq!(user["labels"], json!(["vip", "oidcgoogle", "Team42"]));
    assert_eq!(user["$id"], "u1");
    assert_eq!(user["email"], "a@b.com");
    assert_ne!(user["$updatedAt"], before["$updatedAt"]);
    assert_eq!(user["$createdAt"], before["$createdAt"]);
    let (status, got) = api.send(api.req(Method::GET, "/users/u1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, user);

    // A second call replaces, it does not merge.
    let (status, user) = api.labels("u1", json!({"labels": ["x"]})).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["labels"], json!(["x"]));
    let long = "A".repeat(36);
    let (status, user) = api.labels("u1", json!({"labels": [long]})).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["labels"], json!([long]));
    let max: Vec<String> = (0..1000).map(|i| format!("l{i}")).collect();
    let (status, user) = api.labels("u1", json!({"labels": max})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["labels"].as_array().unwrap().len(), 1000);
    let (status, user) = api.labels("u1", json!({"labels": []})).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["labels"], json!([]));
}

#[tokio::test]
async fn update_labels_errors() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "u1"})).await;
    api.labels("u1", json!({"labels": ["keep"]})).await;
    let too_many: Vec<String> = (0..1001).map(|i| format!("l{i}")).collect();
    for body in [
        json!({"labels": ["a-b"]}),
        json!({"labels": ["oidc:google"]}),
        json!({"labels": ["with space"]}),
        json!({"labels": ["under_score"]}),
        json!({"labels": ["é"]}),
        json!({"labels": [""]}),
        json!({"labels": ["a".repeat(37)]}),
        json!({"labels": ["ok", 1]}),
        json!({"labels": "vip"}),
        json!({"labels": {"a": "b"}}),
        json!({"labels": too_many}),
        json!({"labels": null}),
        json!({}),
    ] {
        let (status, resp) = api.labels("u1", body.clone()).await;
        assert_error(status, &resp, 400, "general_argument_invalid");
        assert!(
            resp["message"].as_str().unwrap().contains("labels"),
            "{body}: {resp}"
        );
    }
    // Appwrite's own words: its validator's description, allow-list and all.
    let (_, resp) = api.labels("u1", json!({"labels": ["read-only"]})).await;
    assert_eq!(
        resp["message"],
        "Invalid `labels` param: Value must a valid array no longer than 1000 items and Value \
         must be a valid string and at least 1 chars and no longer than 36 chars and only \
         consist of '0, 1, 2, 3, 4, 5, 6, 7, 8, 9, A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, \
         P, Q, R, S, T, U, V, W, X, Y, Z, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, \
         s, t, u, v, w, x, y, z' chars"
    );
    let (_, resp) = api.labels("u1", json!({})).await;
    assert_eq!(resp["message"], "Param \"labels\" is not optional.");
    // Unknown body field.
    let (status, resp) = api.labels("u1", json!({"labels": ["a"], "extra": 1})).await;
    assert_error(status, &resp, 400, "general_argument_invalid");
    // Nothing was changed by the failed calls.
    assert_eq!(api.emu.user("u1").unwrap()["labels"], json!(["keep"]));

    let (status, resp) = api.labels("ghost", json!({"labels": ["vip"]})).await;
    assert_error(status, &resp, 404, "user_not_found");
    let (status, resp) = api.labels("_bad", json!({"labels": ["vip"]})).await;
    assert_error(status, &resp, 400, "general_argument_invalid");

    // Key-only route: no key is a guest without users.write.
    let rb = api
        .http
        .put(format!("{}/users/u1/labels", api.emu.endpoint()))
        .header("X-Appwrite-Project", api.emu.project())
        .json(&json!({"labels": ["admin"]}));
    let (status, resp) = api.send(rb).await;
    assert_error(status, &resp, 401, "general_unauthorized_scope");
    assert!(resp["message"].as_str().unwrap().contains("users.write"));
    assert_eq!(api.emu.user("u1").unwrap()["labels"], json!(["keep"]));
}

#[tokio::test]
async fn account_create_with_password() {
    let api = Api::new().await;
    let (status, user) = api
        .account(json!({"userId": "oidc-google-123", "email": "Victim@Example.COM", "password": "hunter2hunter2", "name": "Mallory"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["$id"], "oidc-google-123");
    assert_eq!(user["email"], "victim@example.com");
    assert_eq!(user["name"], "Mallory");
    assert_eq!(user["labels"], json!([]));
    assert_eq!(user["status"], true);
    assert_eq!(user["emailVerification"], false);
    assert_eq!(user["phone"], "");
    assert_eq!(user["prefs"], json!({}));
    assert_eq!(user["targets"], json!([]));
    let pw_update = user["passwordUpdate"].as_str().unwrap();
    assert!(!pw_update.is_empty());
    assert!(is_appwrite_time(pw_update), "{pw_update}");
    assert!(is_appwrite_time(user["accessedAt"].as_str().unwrap()));
    // The client (account) model never carries the hash.
    for f in ["password", "hash", "hashOptions"] {
        assert!(user.get(f).is_none(), "{f}: {user}");
    }
    // Stored with the password: the server view shows it.
    let stored = api.emu.user("oidc-google-123").unwrap();
    assert_eq!(stored["passwordUpdate"], user["passwordUpdate"]);
    assert_eq!(stored["labels"], json!([]));
    assert!(stored["password"].as_str().is_some_and(|p| !p.is_empty()));
    assert_eq!(stored["hash"], "sha");
    let (status, got) = api
        .send(api.req(Method::GET, "/users/oidc-google-123"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!got["passwordUpdate"].as_str().unwrap().is_empty());
    assert_eq!(got["labels"], json!([]));
    // No session is created by registering.
    assert_eq!(api.emu.sessions_count(), 0);
    assert_eq!(api.emu.users_count(), 1);

    // unique(), name optional.
    let (status, user) = api
        .account(json!({"userId": "unique()", "email": "x@y.com", "password": "12345678"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["$id"].as_str().unwrap().len(), 20);
    assert_eq!(user["name"], "");
    let (status, user) = api
        .account(
            json!({"userId": "u3", "email": "z@y.com", "password": "p".repeat(256), "name": null}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");

    // The call is a client call: it shows up in the log without needing a key.
    let calls = api.emu.calls();
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].path, "/v1/account");
    assert_eq!(calls[0].status, 201);
}

#[tokio::test]
async fn account_create_validation() {
    let api = Api::new().await;
    let ok = |extra: Value| {
        let mut body = json!({"userId": "u1", "email": "a@b.com", "password": "password123"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    for (body, param) in [
        (ok(json!({"userId": null})), "userId"),
        (ok(json!({"userId": "_bad"})), "userId"),
        (ok(json!({"userId": "a".repeat(37)})), "userId"),
        (ok(json!({"userId": 7})), "userId"),
        (ok(json!({"email": null})), "email"),
        (ok(json!({"email": ""})), "email"),
        (ok(json!({"email": "not-an-email"})), "email"),
        (ok(json!({"password": null})), "password"),
        (ok(json!({"password": "short12"})), "password"),
        (ok(json!({"password": "p".repeat(257)})), "password"),
        (ok(json!({"password": 12345678})), "password"),
        (ok(json!({"name": "n".repeat(129)})), "name"),
        (ok(json!({"phone": "+14155550100"})), "phone"),
        (ok(json!({"labels": ["admin"]})), "labels"),
    ] {
        let (status, resp) = api.account(body.clone()).await;
        assert_error(status, &resp, 400, "general_argument_invalid");
        assert!(
            resp["message"].as_str().unwrap().contains(param),
            "{body}: {resp}"
        );
    }
    assert_eq!(api.emu.users_count(), 0);

    // Wrong project.
    let rb = api
        .http
        .post(format!("{}/account", api.emu.endpoint()))
        .header("X-Appwrite-Project", "other")
        .json(&ok(json!({})));
    let (status, resp) = api.send(rb).await;
    assert_error(status, &resp, 404, "project_not_found");

    // Only POST and GET (`accountGet`, with a JWT) are served on /account.
    for m in [Method::PATCH, Method::DELETE] {
        let (status, resp) = api.send(api.req(m, "/account")).await;
        assert_error(status, &resp, 404, "general_route_not_found");
    }
    let (status, _) = api.account(ok(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn account_create_conflicts_are_409() {
    let api = Api::new().await;
    api.create_user(json!({"userId": "server-made", "email": "taken@example.com"}))
        .await;
    for body in [
        json!({"userId": "server-made", "email": "new@example.com", "password": "password123"}),
        json!({"userId": "other", "email": "TAKEN@example.com", "password": "password123"}),
    ] {
        let (status, resp) = api.account(body).await;
        assert_error(status, &resp, 409, "user_already_exists");
    }
    assert_eq!(api.emu.users_count(), 1);

    // Pre-creation: an attacker registers the id the gateway would later use; the gateway's
    // POST /v1/users with that id then hits 409 and must not treat the account as its own.
    let (status, user) = api
        .account(json!({"userId": "oidc-google-42", "email": "attacker@evil.test", "password": "password123"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let (status, resp) = api
        .create_user(json!({"userId": "oidc-google-42", "email": "victim@example.com"}))
        .await;
    assert_error(status, &resp, 409, "user_already_exists");
    let stored = api.emu.user("oidc-google-42").unwrap();
    assert_eq!(stored["email"], "attacker@evil.test");
    assert!(!stored["passwordUpdate"].as_str().unwrap().is_empty());
    // Same id or email again through the account route.
    let (status, resp) = api
        .account(json!({"userId": "oidc-google-42", "email": "again@evil.test", "password": "password123"}))
        .await;
    assert_error(status, &resp, 409, "user_already_exists");
    let (status, resp) = api
        .account(
            json!({"userId": "fresh", "email": "Attacker@Evil.test", "password": "password123"}),
        )
        .await;
    assert_error(status, &resp, 409, "user_already_exists");
    assert_eq!(api.emu.users_count(), 2);
}

impl Api {
    /// A client token route (`account/tokens/email`, `/magic-url`, `/phone`), no API key.
    async fn client_token(&self, route: &str, body: Value) -> (StatusCode, Value) {
        let rb = self
            .http
            .post(format!("{}/account/tokens/{route}", self.emu.endpoint()))
            .header("X-Appwrite-Project", self.emu.project())
            .json(&body);
        self.send(rb).await
    }
}

#[tokio::test]
async fn client_token_routes_create_an_account_with_the_chosen_id() {
    let api = Api::new().await;
    for (route, id, body) in [
        (
            "email",
            "squat-email",
            json!({"userId": "squat-email", "email": "Mallory@Evil.example"}),
        ),
        (
            "magic-url",
            "squat-magic",
            json!({"userId": "squat-magic", "email": "m2@evil.example", "url": "https://app.example/"}),
        ),
        (
            "phone",
            "squat-phone",
            json!({"userId": "squat-phone", "phone": "+15555550123"}),
        ),
    ] {
        let (status, token) = api.client_token(route, body).await;
        assert_eq!(status, StatusCode::CREATED, "{route}: {token}");
        assert_eq!(token["userId"], id, "{route}");
        assert_eq!(
            token["secret"], "",
            "{route}: the secret goes to the address"
        );
        let user = api.emu.user(id).expect("account created");
        assert_eq!(user["passwordUpdate"], "", "{route}: no password");
        assert_eq!(user["emailVerification"], false, "{route}");
        assert_eq!(user["labels"], json!([]), "{route}");
        // The owner of the address gets a secret that opens a session.
        let message = api
            .emu
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.user_id == id)
            .expect("sent");
        let expected_len = if route == "magic-url" { 64 } else { 6 };
        assert_eq!(message.secret.len(), expected_len, "{route}");
        let (status, session) = api.session(id, &message.secret).await;
        assert_eq!(status, StatusCode::CREATED, "{route}: {session}");
        assert_eq!(session["userId"], id);
    }
    assert_eq!(
        api.emu.user("squat-email").expect("user")["email"],
        "mallory@evil.example"
    );
    assert_eq!(
        api.emu.user("squat-phone").expect("user")["phone"],
        "+15555550123"
    );
}

#[tokio::test]
async fn client_token_routes_ignore_the_id_when_the_address_is_taken() {
    let api = Api::new().await;
    api.emu.seed_user(SeedUser {
        id: "owner".into(),
        email: Some("owner@example.com".into()),
        phone: Some("+15555550100".into()),
        ..SeedUser::default()
    });
    let (status, token) = api
        .client_token(
            "email",
            json!({"userId": "other", "email": "OWNER@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(token["userId"], "owner", "the chosen id is ignored");
    let (status, token) = api
        .client_token("phone", json!({"userId": "other", "phone": "+15555550100"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(token["userId"], "owner");
    assert!(api.emu.user("other").is_none());
    assert_eq!(api.emu.users_count(), 1);
    // A new address with an id that is taken: 409.
    let (status, body) = api
        .client_token(
            "email",
            json!({"userId": "owner", "email": "new@example.com"}),
        )
        .await;
    assert_error(status, &body, 409, "user_already_exists");
}

#[tokio::test]
async fn client_token_routes_validate_their_input() {
    let api = Api::new().await;
    for (route, body, param) in [
        (
            "email",
            json!({"userId": "a", "email": "not-an-email"}),
            "email",
        ),
        (
            "email",
            json!({"userId": "_bad", "email": "a@b.com"}),
            "userId",
        ),
        (
            "magic-url",
            json!({"userId": "a", "email": "a@b.com", "url": "javascript:alert(1)"}),
            "url",
        ),
        (
            "phone",
            json!({"userId": "a", "phone": "5555550123"}),
            "phone",
        ),
    ] {
        let (status, resp) = api.client_token(route, body).await;
        assert_error(status, &resp, 400, "general_argument_invalid");
        assert!(
            resp["message"].as_str().unwrap_or_default().contains(param),
            "{route}: {resp}"
        );
    }
    let (status, resp) = api.client_token("email", json!({"email": "a@b.com"})).await;
    assert_error(status, &resp, 400, "general_argument_invalid");
    assert_eq!(api.emu.users_count(), 0);
}

#[tokio::test]
async fn seeded_users_can_hold_a_password_a_phone_and_labels() {
    let api = Api::new().await;
    api.emu.seed_user(SeedUser {
        id: "seeded".into(),
        password: Some("correct horse".into()),
        phone: Some("+15555550199".into()),
        labels: vec!["admin".into()],
        ..SeedUser::default()
    });
    let user = api.emu.user("seeded").expect("seeded");
    assert_ne!(user["passwordUpdate"], "");
    assert_eq!(user["phone"], "+15555550199");
    assert_eq!(user["labels"], json!(["admin"]));
}

impl Api {
    async fn jwt(&self, user: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.req(Method::POST, &format!("/users/{user}/jwts"))
                .json(&body),
        )
        .await
    }

    /// `GET /v1/account` as an app's backend calls it with a user's JWT.
    async fn account_with_jwt(&self, jwt: Option<&str>) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .get(format!("{}/account", self.emu.endpoint()))
            .header("X-Appwrite-Project", self.emu.project());
        if let Some(jwt) = jwt {
            rb = rb.header("X-Appwrite-JWT", jwt);
        }
        self.send(rb).await
    }
}

#[tokio::test]
async fn a_jwt_names_its_user_until_it_expires() {
    let api = Api::new().await;
    let (status, _) = api
        .create_user(json!({"userId": "alice", "email": "alice@example.com", "name": "Alice"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = api.jwt("alice", json!({"duration": 60})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let jwt = body["jwt"].as_str().expect("jwt").to_owned();
    assert_eq!(jwt.split('.').count(), 3, "a JWT has three parts");

    let (status, account) = api.account_with_jwt(Some(&jwt)).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["$id"], "alice");
    assert_eq!(account["email"], "alice@example.com");
    assert!(account.get("password").is_none());

    api.emu.advance_clock(Duration::from_secs(61));
    let (status, body) = api.account_with_jwt(Some(&jwt)).await;
    assert_error(status, &body, 401, "user_jwt_invalid");
}

#[tokio::test]
async fn forged_or_missing_jwts_and_blocked_users_are_refused() {
    let api = Api::new().await;
    api.emu.seed_user(SeedUser {
        id: "bob".into(),
        status: false,
        ..SeedUser::default()
    });
    let (status, body) = api.jwt("bob", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let jwt = body["jwt"].as_str().expect("jwt").to_owned();
    let (status, body) = api.account_with_jwt(Some(&jwt)).await;
    assert_error(status, &body, 403, "user_blocked");

    // The same payload with another signature was not issued by the project.
    let (head, _) = jwt.rsplit_once('.').expect("three parts");
    let forged = format!("{head}.c2lnbmF0dXJl");
    let (status, body) = api.account_with_jwt(Some(&forged)).await;
    assert_error(status, &body, 401, "user_jwt_invalid");

    let (status, body) = api.account_with_jwt(None).await;
    assert_error(status, &body, 401, "general_unauthorized_scope");

    let (status, body) = api.jwt("nobody", json!({})).await;
    assert_error(status, &body, 404, "user_not_found");
    let (status, body) = api.jwt("bob", json!({"duration": 3601})).await;
    assert_error(status, &body, 400, "general_argument_invalid");
}

#[tokio::test]
async fn a_users_sessions_are_listed_and_ended_with_the_right_scopes() {
    let config = EmulatorConfig {
        keys: vec![
            EmulatorConfig::default().keys[0].clone(),
            ApiKey {
                secret: "reader".into(),
                scopes: vec!["users.read".into()],
                expired: false,
            },
        ],
        ..EmulatorConfig::default()
    };
    let api = Api::with(config).await;
    for user in ["u1", "u2"] {
        api.create_user(json!({ "userId": user })).await;
        for _ in 0..2 {
            let (_, token) = api.token(user, json!({})).await;
            let secret = token["secret"].as_str().expect("secret").to_owned();
            let (status, body) = api.session(user, &secret).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
    assert_eq!(
        (api.emu.sessions_of("u1"), api.emu.sessions_of("u2")),
        (2, 2)
    );

    let (status, list) = api.send(api.req(Method::GET, "/users/u1/sessions")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2);
    let sessions = list["sessions"].as_array().expect("sessions");
    assert!(
        sessions
            .iter()
            .all(|s| s["userId"] == "u1" && s["current"] == false)
    );
    assert!(
        sessions.iter().all(|s| s["secret"] == ""),
        "no secret in a list"
    );

    // users.write ends sessions; users.read alone may only list them.
    let reader = |method: Method| {
        api.http
            .request(method, format!("{}/users/u1/sessions", api.emu.endpoint()))
            .header("X-Appwrite-Project", api.emu.project())
            .header("X-Appwrite-Key", "reader")
    };
    let (status, body) = api.send(reader(Method::DELETE)).await;
    assert_error(status, &body, 401, "general_unauthorized_scope");
    assert!(body["message"].as_str().unwrap().contains("users.write"));
    assert_eq!(api.send(reader(Method::GET)).await.0, StatusCode::OK);
    assert_eq!(
        api.emu.sessions_of("u1"),
        2,
        "a refused delete ends nothing"
    );

    let response = api
        .req(Method::DELETE, "/users/u1/sessions")
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        response.bytes().await.expect("body").is_empty(),
        "204 has no body"
    );
    assert_eq!(
        (api.emu.sessions_of("u1"), api.emu.sessions_of("u2")),
        (0, 2)
    );
    let (_, list) = api.send(api.req(Method::GET, "/users/u1/sessions")).await;
    assert_eq!(list["total"], 0);

    for method in [Method::GET, Method::DELETE] {
        let (status, body) = api.send(api.req(method, "/users/ghost/sessions")).await;
        assert_error(status, &body, 404, "user_not_found");
    }
}
