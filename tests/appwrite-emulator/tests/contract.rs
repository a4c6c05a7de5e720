//! Contract test: the emulator against Appwrite's 1.8.1 OpenAPI specs.
//!
//! The specs come from `fixtures/appwrite-openapi-subset.json`, the part of Appwrite's published
//! server and client OpenAPI documents that the emulator serves (its operations and every schema
//! they reference, the error schema, and the list of all paths and methods), regenerated from
//! Appwrite's spec files with `scripts/gen-appwrite-fixture SERVER_SPEC CLIENT_SPEC`.
//!
//! 1. Every entry of `ROUTES` exists in its spec with that method and operationId, and every
//!    parameter the emulator accepts (path, query, body) is declared by that operation.
//! 2. The router serves exactly the table: table routes are routed, and every other
//!    method/path of both specs answers 404 `general_route_not_found`.
//! 3. Every JSON body the emulator really produces (successes and errors) only has fields the
//!    referenced schema declares, has all of the schema's required fields, and uses the
//!    declared JSON types (except `error.code`, an integer in real Appwrite responses).

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use appwrite_emulator::{
    ApiKey, Emulator, EmulatorConfig, Fault, FaultScope, ROUTES, RouteSpec, SeedUser,
};
use reqwest::{Client, Method};
use serde_json::{Value, json};

const REGENERATE: &str = "regenerate it with `scripts/gen-appwrite-fixture SERVER_SPEC CLIENT_SPEC` \
     (Appwrite's open-api3-<version>-server.json and -client.json)";

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/appwrite-openapi-subset.json")
}

fn load_fixture() -> Value {
    let path = fixture_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; {REGENERATE}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

struct Specs {
    server: Value,
    client: Value,
}

impl Specs {
    fn load() -> Self {
        let mut fixture = load_fixture();
        let specs = Self {
            server: fixture["server"].take(),
            client: fixture["client"].take(),
        };
        // Every ROUTES operation must be in the fixture: a route added to the table without
        // regenerating the fixture fails here, by name.
        for route in ROUTES {
            let found = specs.of(route)["paths"]
                .as_object()
                .into_iter()
                .flat_map(|paths| paths.values())
                .filter_map(Value::as_object)
                .flat_map(|item| item.values())
                .any(|op| op["operationId"] == route.operation_id);
            assert!(
                found,
                "operation {} ({} {}, {} spec) of ROUTES is missing from {}; {REGENERATE}",
                route.operation_id,
                route.method,
                route.path,
                route.spec,
                fixture_path().display()
            );
        }
        specs
    }

    /// Every path template of the whole spec (not only the served ones).
    fn all_paths(spec: &Value) -> Vec<String> {
        spec["x-all-paths"]
            .as_object()
            .map(|paths| paths.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn of(&self, route: &RouteSpec) -> &Value {
        match route.spec {
            "server" => &self.server,
            "client" => &self.client,
            other => panic!("unknown spec {other}"),
        }
    }

    fn operation(&self, route: &RouteSpec) -> &Value {
        let op = &self.of(route)["paths"][route.path][route.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} is not in the {} spec",
            route.method,
            route.path,
            route.spec
        );
        op
    }
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    let s = &spec["components"]["schemas"][name];
    assert!(s.is_object(), "schema {name} missing");
    s
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
}

#[test]
fn table_matches_spec() {
    let specs = Specs::load();
    assert_eq!(specs.server["info"]["version"], "1.8.1");
    assert!(!ROUTES.is_empty());
    let mut seen = BTreeSet::new();
    for route in ROUTES {
        assert!(
            seen.insert((route.method, route.path)),
            "duplicate {route:?}"
        );
        let op = specs.operation(route);
        let what = format!("{} {}", route.method, route.path);
        assert_eq!(op["operationId"], route.operation_id, "{what}");
        if let Some(scope) = route.scope {
            assert_eq!(op["x-appwrite"]["scope"], scope, "{what}: scope");
            let security = op["security"].to_string();
            assert!(security.contains("\"Key\""), "{what}: not a key route");
        }

        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let declared = |kind: &str| -> BTreeSet<String> {
            params
                .iter()
                .filter(|p| p["in"] == kind)
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        };
        let spec_path = declared("path");
        let ours: BTreeSet<String> = route.path_params.iter().map(|s| s.to_string()).collect();
        assert_eq!(ours, spec_path, "{what}: path params");
        let spec_query = declared("query");
        for q in route.query_params {
            assert!(
                spec_query.contains(*q),
                "{what}: query param {q} not in spec"
            );
        }
        let body = &op["requestBody"]["content"]["application/json"]["schema"];
        let props = body["properties"].as_object();
        for b in route.body_params {
            assert!(
                props.is_some_and(|p| p.contains_key(*b)),
                "{what}: body field {b} not in spec"
            );
        }
        for required in body["required"].as_array().into_iter().flatten() {
            let required = required.as_str().unwrap();
            assert!(
                route.body_params.contains(&required),
                "{what}: spec requires body field {required} the emulator does not accept"
            );
        }
        if route.body_params.is_empty() {
            assert!(
                props.is_none_or(|p| p.is_empty()) || route.method == "GET",
                "{what}"
            );
        }

        let response = &op["responses"][route.success_status.to_string()];
        assert!(
            response.is_object(),
            "{what}: no {} response",
            route.success_status
        );
        if route.response_schema.is_empty() {
            // A 204: the spec documents no body, and the table names no schema.
            assert_eq!(
                route.success_status, 204,
                "{what}: only a 204 has no schema"
            );
            assert!(
                response.get("content").is_none(),
                "{what}: the spec has a body"
            );
            continue;
        }
        let schema_ref = &response["content"]["application/json"]["schema"];
        assert_eq!(ref_name(schema_ref), Some(route.response_schema), "{what}");
        schema(specs.of(route), route.response_schema);
    }
}

/// Turns `/users/{userId}/tokens` into a concrete path.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// True when `path` matches `template` segment by segment.
fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
}

async fn route_not_found(client: &Client, emu: &Emulator, method: &str, path: &str) -> bool {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let resp = client
        .request(method, format!("{}{}", emu.endpoint(), path))
        .header("X-Appwrite-Project", emu.project())
        .header("X-Appwrite-Key", emu.api_key())
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    status == 404 && body["type"] == "general_route_not_found"
}

#[tokio::test]
async fn router_serves_exactly_the_table() {
    let specs = Specs::load();
    let emu = Emulator::spawn(EmulatorConfig::default()).await;
    let client = Client::new();

    for route in ROUTES {
        let path = concrete(route.path);
        assert!(
            !route_not_found(&client, &emu, route.method, &path).await,
            "{} {} is in ROUTES but not routed",
            route.method,
            route.path
        );
        for other in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let in_table = ROUTES
                .iter()
                .any(|r| r.method == other && matches_template(r.path, &path));
            if !in_table {
                assert!(
                    route_not_found(&client, &emu, other, &path).await,
                    "{other} {path} is routed but not in ROUTES"
                );
            }
        }
    }

    // Every other method on every path of both specs is unknown to the emulator.
    let mut checked = 0;
    for spec in [&specs.server, &specs.client] {
        for template in Specs::all_paths(spec) {
            let path = concrete(&template);
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                let in_table = ROUTES
                    .iter()
                    .any(|r| r.method == method && matches_template(r.path, &path));
                if in_table {
                    continue;
                }
                assert!(
                    route_not_found(&client, &emu, method, &path).await,
                    "{method} {path} answered but is not in ROUTES"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} method/path pairs checked");
}

/// Checks `value` against schema `name` of `spec`, recursing into `$ref`s.
fn check(spec: &Value, name: &str, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = schema(spec, name);
    let Some(obj) = value.as_object() else {
        problems.push(format!("{at}: expected a {name} object, got {value}"));
        return;
    };
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for required in schema["required"].as_array().into_iter().flatten() {
        let r = required.as_str().unwrap();
        if !obj.contains_key(r) {
            problems.push(format!("{at}: required field {r} of {name} missing"));
        }
    }
    for (key, v) in obj {
        let Some(prop) = props.get(key) else {
            problems.push(format!("{at}: field {key} not in schema {name}"));
            continue;
        };
        let here = format!("{at}.{key}");
        if v.is_null() {
            if prop["nullable"] != true && prop["x-nullable"] != true {
                problems.push(format!("{here}: null but not nullable"));
            }
            continue;
        }
        if let Some(r) = ref_name(prop) {
            check(spec, r, v, &here, problems);
            continue;
        }
        let ty = prop["type"].as_str().unwrap_or("");
        // Real Appwrite sends error.code as an integer although the spec says string.
        let code_exception = name == "error" && key == "code" && v.is_u64();
        let ok = code_exception
            || match ty {
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "array" => v.is_array(),
                "object" => v.is_object(),
                _ => true,
            };
        if !ok {
            problems.push(format!("{here}: {v} is not a {ty}"));
        }
        if let (Some(items), Some(r)) = (v.as_array(), ref_name(&prop["items"])) {
            for (i, item) in items.iter().enumerate() {
                check(spec, r, item, &format!("{here}[{i}]"), problems);
            }
        }
    }
}

struct Live {
    emu: Emulator,
    http: Client,
}

impl Live {
    /// A call with the API key (server routes) and a JSON body.
    async fn server(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, true, Some(body)).await
    }

    /// A call without a key (client routes) and a JSON body.
    async fn client(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, false, Some(body)).await
    }

    /// A client call as the owner of `jwt` (`X-Appwrite-JWT`), without the key.
    async fn as_account(
        &self,
        method: Method,
        path: &str,
        jwt: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.emu.endpoint(), path))
            .header("X-Appwrite-Project", self.emu.project())
            .header("X-Appwrite-JWT", jwt);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// `POST /v1/users` with the API key.
    async fn create_user(&self, body: Value) -> (u16, Value) {
        self.call(Method::POST, "/users", true, Some(body)).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: bool,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.emu.endpoint(), path))
            .header("X-Appwrite-Project", self.emu.project());
        if key {
            rb = rb.header("X-Appwrite-Key", self.emu.api_key());
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        // A 204 has no body: `Null`. Every other answer must be JSON.
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }
}

#[tokio::test]
async fn live_responses_match_schemas() {
    let specs = Specs::load();
    let config = EmulatorConfig {
        keys: vec![
            EmulatorConfig::default().keys[0].clone(),
            ApiKey {
                secret: "expired".into(),
                scopes: vec![],
                expired: true,
            },
        ],
        ..EmulatorConfig::default()
    };
    let live = Live {
        emu: Emulator::spawn(config).await,
        http: Client::new(),
    };
    let route = |method: &str, path: &str| {
        ROUTES
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("{method} {path} not in ROUTES"))
    };
    let mut problems = Vec::new();
    let mut successes = BTreeSet::new();
    let mut check_ok = |r: &RouteSpec, (status, body): (u16, Value), problems: &mut Vec<String>| {
        assert_eq!(status, r.success_status, "{} {}: {body}", r.method, r.path);
        if r.response_schema.is_empty() {
            assert_eq!(
                body,
                Value::Null,
                "{} {}: a 204 has no body",
                r.method,
                r.path
            );
        } else {
            check(
                specs.of(r),
                r.response_schema,
                &body,
                r.operation_id,
                problems,
            );
        }
        successes.insert(r.operation_id);
        body
    };

    // Successes: every route, with as many optional fields filled as possible.
    let create = route("POST", "/users");
    check_ok(
        create,
        live.create_user(json!({"userId": "u1", "email": "a@b.com", "phone": "+14155550100", "password": "password123", "name": "A"})).await,
        &mut problems,
    );
    check_ok(
        create,
        live.create_user(json!({"userId": "unique()"})).await,
        &mut problems,
    );
    live.emu.seed_user(SeedUser {
        id: "seeded".into(),
        email: Some("s@example.com".into()),
        name: "S".into(),
        email_verification: true,
        status: true,
        ..SeedUser::default()
    });
    let list = check_ok(
        route("GET", "/users"),
        live.call(Method::GET, "/users?total=true&search=&queries%5B%5D=%7B%22method%22%3A%22limit%22%2C%22values%22%3A%5B10%5D%7D", true, None).await,
        &mut problems,
    );
    assert_eq!(list["users"].as_array().unwrap().len(), 3);
    check_ok(
        route("GET", "/users/{userId}"),
        live.call(Method::GET, "/users/u1", true, None).await,
        &mut problems,
    );
    check_ok(
        route("PATCH", "/users/{userId}/verification"),
        live.server(
            Method::PATCH,
            "/users/u1/verification",
            json!({"emailVerification": true}),
        )
        .await,
        &mut problems,
    );
    let labelled = check_ok(
        route("PUT", "/users/{userId}/labels"),
        live.server(
            Method::PUT,
            "/users/u1/labels",
            json!({"labels": ["vip", "oidcgoogle"]}),
        )
        .await,
        &mut problems,
    );
    assert_eq!(labelled["labels"], json!(["vip", "oidcgoogle"]));
    let account = check_ok(
        route("POST", "/account"),
        live.client(Method::POST, "/account", json!({"userId": "acct1", "email": "acct@example.com", "password": "password123", "name": "Acct"})).await,
        &mut problems,
    );
    assert!(!account["passwordUpdate"].as_str().unwrap().is_empty());
    check_ok(
        route("POST", "/account"),
        live.client(
            Method::POST,
            "/account",
            json!({"userId": "unique()", "email": "acct2@example.com", "password": "password123"}),
        )
        .await,
        &mut problems,
    );
    let token = check_ok(
        route("POST", "/users/{userId}/tokens"),
        live.server(
            Method::POST,
            "/users/u1/tokens",
            json!({"length": 64, "expire": 600}),
        )
        .await,
        &mut problems,
    );
    let session_route = route("POST", "/account/sessions/token");
    let (_, second) = live
        .call(Method::POST, "/users/u1/tokens", true, Some(json!({})))
        .await;
    // Without an API key the session secret is empty; with one it is filled in.
    for (with_key, token) in [(false, token), (true, second)] {
        let session = check_ok(
            session_route,
            live.call(
                Method::POST,
                "/account/sessions/token",
                with_key,
                Some(json!({"userId": "u1", "secret": token["secret"]})),
            )
            .await,
            &mut problems,
        );
        assert_eq!(
            session["secret"].as_str().unwrap().is_empty(),
            !with_key,
            "{session}"
        );
    }
    // u1's two sessions: listed, then all ended.
    let listed = check_ok(
        route("GET", "/users/{userId}/sessions"),
        live.call(Method::GET, "/users/u1/sessions?total=true", true, None)
            .await,
        &mut problems,
    );
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(live.emu.sessions_of("u1"), 2);
    check_ok(
        route("DELETE", "/users/{userId}/sessions"),
        live.call(Method::DELETE, "/users/u1/sessions", true, None)
            .await,
        &mut problems,
    );
    assert_eq!(live.emu.sessions_of("u1"), 0);
    let (_, after) = live
        .call(Method::GET, "/users/u1/sessions", true, None)
        .await;
    assert_eq!(after["total"], 0, "{after}");
    live.emu.inject(
        Fault::Latency(Duration::from_millis(1)),
        FaultScope::Next(1),
    );
    check_ok(
        route("GET", "/users"),
        live.call(Method::GET, "/users", true, None).await,
        &mut problems,
    );
    for (path, body) in [
        (
            "/account/tokens/email",
            json!({"userId": "tok1", "email": "tok1@example.com", "phrase": true}),
        ),
        (
            "/account/tokens/magic-url",
            json!({"userId": "tok2", "email": "tok2@example.com", "url": "https://app.example.com/"}),
        ),
        (
            "/account/tokens/phone",
            json!({"userId": "tok3", "phone": "+15555550123"}),
        ),
    ] {
        let token = check_ok(
            route("POST", path),
            live.call(Method::POST, path, false, Some(body)).await,
            &mut problems,
        );
        assert_eq!(
            token["secret"], "",
            "{path}: the secret goes to the address"
        );
    }
    let jwt = check_ok(
        route("POST", "/users/{userId}/jwts"),
        live.server(
            Method::POST,
            "/users/u1/jwts",
            json!({"sessionId": "recent", "duration": 60}),
        )
        .await,
        &mut problems,
    );
    let jwt = jwt["jwt"].as_str().expect("jwt");
    let account = check_ok(
        route("GET", "/account"),
        live.as_account(Method::GET, "/account", jwt, None).await,
        &mut problems,
    );
    assert_eq!(account["$id"], "u1");
    let email = json!({"email": "u1-new@example.com", "password": "password123"});
    let changed = check_ok(
        route("PATCH", "/account/email"),
        live.as_account(Method::PATCH, "/account/email", jwt, Some(email))
            .await,
        &mut problems,
    );
    assert_eq!(changed["emailVerification"], false);
    let all: BTreeSet<&str> = ROUTES.iter().map(|r| r.operation_id).collect();
    assert_eq!(successes, all, "not every route was exercised");

    // Errors: every kind the emulator produces, against components.schemas.error.
    let mut errors = BTreeSet::new();
    let mut check_err = |(status, body): (u16, Value), want: &str, problems: &mut Vec<String>| {
        assert_eq!(body["type"], want, "{body}");
        assert_eq!(body["code"], status, "{body}");
        check(&specs.server, "error", &body, want, problems);
        check(&specs.client, "error", &body, want, problems);
        errors.insert(want.to_owned());
    };
    check_err(
        live.call(Method::GET, "/nope", true, None).await,
        "general_route_not_found",
        &mut problems,
    );
    check_err(
        live.call(Method::GET, "/users", false, None).await,
        "general_unauthorized_scope",
        &mut problems,
    );
    check_err(
        live.call(Method::GET, "/users/ghost", true, None).await,
        "user_not_found",
        &mut problems,
    );
    check_err(
        live.create_user(json!({"userId": "u1"})).await,
        "user_already_exists",
        &mut problems,
    );
    check_err(
        live.create_user(json!({"userId": "_bad"})).await,
        "general_argument_invalid",
        &mut problems,
    );
    check_err(
        live.server(Method::PUT, "/users/u1/labels", json!({"labels": ["a-b"]}))
            .await,
        "general_argument_invalid",
        &mut problems,
    );
    check_err(
        live.server(Method::PUT, "/users/ghost/labels", json!({"labels": []}))
            .await,
        "user_not_found",
        &mut problems,
    );
    for method in [Method::GET, Method::DELETE] {
        check_err(
            live.call(method, "/users/ghost/sessions", true, None).await,
            "user_not_found",
            &mut problems,
        );
    }
    check_err(
        live.call(
            Method::POST,
            "/account",
            false,
            Some(
                json!({"userId": "acct1", "email": "other@example.com", "password": "password123"}),
            ),
        )
        .await,
        "user_already_exists",
        &mut problems,
    );
    check_err(
        live.client(
            Method::POST,
            "/account",
            json!({"userId": "acct9", "email": "acct9@example.com", "password": "short"}),
        )
        .await,
        "general_argument_invalid",
        &mut problems,
    );
    let (_, jwt) = live.server(Method::POST, "/users/u1/jwts", json!({})).await;
    let jwt = jwt["jwt"].as_str().expect("jwt");
    for (email, password, want) in [
        (
            "u1-other@example.com",
            "wrong-password",
            "user_invalid_credentials",
        ),
        ("s@example.com", "password123", "user_email_already_exists"),
    ] {
        let body = json!({"email": email, "password": password});
        check_err(
            live.as_account(Method::PATCH, "/account/email", jwt, Some(body))
                .await,
            want,
            &mut problems,
        );
    }
    check_err(
        live.call(Method::GET, "/users?queries%5B%5D=nope", true, None)
            .await,
        "general_query_invalid",
        &mut problems,
    );
    check_err(
        live.client(
            Method::POST,
            "/account/sessions/token",
            json!({"userId": "u1", "secret": "bad"}),
        )
        .await,
        "user_invalid_token",
        &mut problems,
    );
    // A wrong project, then a project with an unknown key.
    for (project, key, want) in [
        ("wrong", None, "project_not_found"),
        (live.emu.project(), Some("expired"), "project_key_expired"),
    ] {
        let mut request = live
            .http
            .get(format!("{}/users", live.emu.endpoint()))
            .header("X-Appwrite-Project", project);
        if let Some(key) = key {
            request = request.header("X-Appwrite-Key", key);
        }
        let resp = request.send().await.unwrap();
        check_err(
            (resp.status().as_u16(), resp.json().await.unwrap()),
            want,
            &mut problems,
        );
    }
    live.emu.seed_user(SeedUser {
        id: "blocked".into(),
        email: None,
        name: String::new(),
        email_verification: false,
        status: false,
        ..SeedUser::default()
    });
    let (_, token) = live
        .call(Method::POST, "/users/blocked/tokens", true, Some(json!({})))
        .await;
    check_err(
        live.client(
            Method::POST,
            "/account/sessions/token",
            json!({"userId": "blocked", "secret": token["secret"]}),
        )
        .await,
        "user_blocked",
        &mut problems,
    );
    for (status, want) in [
        (429, "general_rate_limit_exceeded"),
        (500, "general_server_error"),
        (503, "general_service_disabled"),
        (502, "general_unknown"),
    ] {
        live.emu.inject(Fault::Status(status), FaultScope::Next(1));
        check_err(
            live.call(Method::GET, "/users", true, None).await,
            want,
            &mut problems,
        );
    }
    assert!(errors.len() >= 16, "{errors:?}");

    assert!(
        problems.is_empty(),
        "schema violations:\n{}",
        problems.join("\n")
    );
}

/// The checker itself must be able to fail.
#[test]
fn checker_catches_violations() {
    let specs = Specs::load();
    let mut problems = Vec::new();
    check(
        &specs.server,
        "token",
        &json!({"$id": "x", "bogus": 1}),
        "t",
        &mut problems,
    );
    assert!(problems.iter().any(|p| p.contains("bogus")));
    assert!(problems.iter().any(|p| p.contains("required field secret")));
    let mut problems = Vec::new();
    check(
        &specs.server,
        "userList",
        &json!({"total": "1", "users": [{"$id": 1}]}),
        "l",
        &mut problems,
    );
    assert!(problems.iter().any(|p| p.contains("total")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("users[0].$id")),
        "{problems:?}"
    );
}
