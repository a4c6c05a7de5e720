//! The route table ([`ROUTES`]) and the router built from it.
//!
//! The router is generated from the table, so the emulator serves exactly the routes listed
//! there; the contract test checks the table (and live responses) against the OpenAPI specs.

mod account;
mod call;
mod jwts;
mod sessions;
mod tokens;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::error::AppwriteError;
use crate::state::Shared;

/// The emulated operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /v1/users`
    UsersList,
    /// `POST /v1/users`
    UsersCreate,
    /// `GET /v1/users/{userId}`
    UsersGet,
    /// `POST /v1/users/{userId}/tokens`
    UsersCreateToken,
    /// `PATCH /v1/users/{userId}/verification`
    UsersUpdateEmailVerification,
    /// `PUT /v1/users/{userId}/labels`
    UsersUpdateLabels,
    /// `POST /v1/users/{userId}/jwts`
    UsersCreateJwt,
    /// `GET /v1/users/{userId}/sessions`
    UsersListSessions,
    /// `DELETE /v1/users/{userId}/sessions`
    UsersDeleteSessions,
    /// `GET /v1/account` (client, with `X-Appwrite-JWT`)
    AccountGet,
    /// `POST /v1/account` (client)
    AccountCreate,
    /// `PATCH /v1/account/email` (client, with a session or `X-Appwrite-JWT`)
    AccountUpdateEmail,
    /// `POST /v1/account/sessions/token`
    AccountCreateSession,
    /// `POST /v1/account/tokens/email` (client)
    AccountCreateEmailToken,
    /// `POST /v1/account/tokens/magic-url` (client)
    AccountCreateMagicUrlToken,
    /// `POST /v1/account/tokens/phone` (client)
    AccountCreatePhoneToken,
}

/// One emulated route, described in the terms of the OpenAPI spec it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// Which operation handles it.
    pub operation: Operation,
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// HTTP method (upper case).
    pub method: &'static str,
    /// Path template as in the spec (no `/v1` prefix), e.g. `/users/{userId}`.
    pub path: &'static str,
    /// `"server"` or `"client"`: which spec file documents it.
    pub spec: &'static str,
    /// API-key scope required (server routes), `None` for client routes.
    pub scope: Option<&'static str>,
    /// Path parameters the emulator reads.
    pub path_params: &'static [&'static str],
    /// Query parameters the emulator accepts (array params without `[]`).
    pub query_params: &'static [&'static str],
    /// JSON body fields the emulator accepts.
    pub body_params: &'static [&'static str],
    /// Status of a successful answer.
    pub success_status: u16,
    /// `components.schemas` name of the successful answer; empty for a 204 without a body.
    pub response_schema: &'static str,
}

impl RouteSpec {
    /// The path as served, with the `/v1` prefix.
    pub fn served_path(&self) -> String {
        format!("/v1{}", self.path)
    }
}

/// Every route the emulator serves.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        operation: Operation::UsersList,
        operation_id: "usersList",
        method: "GET",
        path: "/users",
        spec: "server",
        scope: Some("users.read"),
        path_params: &[],
        query_params: &["queries", "search", "total"],
        body_params: &[],
        success_status: 200,
        response_schema: "userList",
    },
    RouteSpec {
        operation: Operation::UsersCreate,
        operation_id: "usersCreate",
        method: "POST",
        path: "/users",
        spec: "server",
        scope: Some("users.write"),
        path_params: &[],
        query_params: &[],
        body_params: &["userId", "email", "phone", "password", "name"],
        success_status: 201,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::UsersGet,
        operation_id: "usersGet",
        method: "GET",
        path: "/users/{userId}",
        spec: "server",
        scope: Some("users.read"),
        path_params: &["userId"],
        query_params: &[],
        body_params: &[],
        success_status: 200,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::UsersCreateToken,
        operation_id: "usersCreateToken",
        method: "POST",
        path: "/users/{userId}/tokens",
        spec: "server",
        scope: Some("users.write"),
        path_params: &["userId"],
        query_params: &[],
        body_params: &["length", "expire"],
        success_status: 201,
        response_schema: "token",
    },
    RouteSpec {
        operation: Operation::UsersUpdateEmailVerification,
        operation_id: "usersUpdateEmailVerification",
        method: "PATCH",
        path: "/users/{userId}/verification",
        spec: "server",
        scope: Some("users.write"),
        path_params: &["userId"],
        query_params: &[],
        body_params: &["emailVerification"],
        success_status: 200,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::UsersUpdateLabels,
        operation_id: "usersUpdateLabels",
        method: "PUT",
        path: "/users/{userId}/labels",
        spec: "server",
        scope: Some("users.write"),
        path_params: &["userId"],
        query_params: &[],
        body_params: &["labels"],
        success_status: 200,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::UsersCreateJwt,
        operation_id: "usersCreateJWT",
        method: "POST",
        path: "/users/{userId}/jwts",
        spec: "server",
        scope: Some("users.write"),
        path_params: &["userId"],
        query_params: &[],
        body_params: &["sessionId", "duration"],
        success_status: 201,
        response_schema: "jwt",
    },
    RouteSpec {
        operation: Operation::UsersListSessions,
        operation_id: "usersListSessions",
        method: "GET",
        path: "/users/{userId}/sessions",
        spec: "server",
        scope: Some("users.read"),
        path_params: &["userId"],
        query_params: &["total"],
        body_params: &[],
        success_status: 200,
        response_schema: "sessionList",
    },
    RouteSpec {
        operation: Operation::UsersDeleteSessions,
        operation_id: "usersDeleteSessions",
        method: "DELETE",
        path: "/users/{userId}/sessions",
        spec: "server",
        scope: Some("users.write"),
        path_params: &["userId"],
        query_params: &[],
        body_params: &[],
        success_status: 204,
        response_schema: "",
    },
    RouteSpec {
        operation: Operation::AccountGet,
        operation_id: "accountGet",
        method: "GET",
        path: "/account",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &[],
        success_status: 200,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::AccountCreate,
        operation_id: "accountCreate",
        method: "POST",
        path: "/account",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &["userId", "email", "password", "name"],
        success_status: 201,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::AccountUpdateEmail,
        operation_id: "accountUpdateEmail",
        method: "PATCH",
        path: "/account/email",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &["email", "password"],
        success_status: 200,
        response_schema: "user",
    },
    RouteSpec {
        operation: Operation::AccountCreateSession,
        operation_id: "accountCreateSession",
        method: "POST",
        path: "/account/sessions/token",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &["userId", "secret"],
        success_status: 201,
        response_schema: "session",
    },
    RouteSpec {
        operation: Operation::AccountCreateEmailToken,
        operation_id: "accountCreateEmailToken",
        method: "POST",
        path: "/account/tokens/email",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &["userId", "email", "phrase"],
        success_status: 201,
        response_schema: "token",
    },
    RouteSpec {
        operation: Operation::AccountCreateMagicUrlToken,
        operation_id: "accountCreateMagicURLToken",
        method: "POST",
        path: "/account/tokens/magic-url",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &["userId", "email", "url", "phrase"],
        success_status: 201,
        response_schema: "token",
    },
    RouteSpec {
        operation: Operation::AccountCreatePhoneToken,
        operation_id: "accountCreatePhoneToken",
        method: "POST",
        path: "/account/tokens/phone",
        spec: "client",
        scope: None,
        path_params: &[],
        query_params: &[],
        body_params: &["userId", "phone"],
        success_status: 201,
        response_schema: "token",
    },
];

fn method_filter(method: &str) -> MethodFilter {
    match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PATCH" => MethodFilter::PATCH,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        other => panic!("ROUTES uses unsupported method {other}"),
    }
}

fn handler(operation: Operation, filter: MethodFilter) -> MethodRouter<Arc<Shared>> {
    match operation {
        Operation::UsersList => on(filter, users::list),
        Operation::UsersCreate => on(filter, users::create),
        Operation::UsersGet => on(filter, users::get),
        Operation::UsersCreateToken => on(filter, users::create_token),
        Operation::UsersUpdateEmailVerification => on(filter, users::update_email_verification),
        Operation::UsersUpdateLabels => on(filter, users::update_labels),
        Operation::UsersCreateJwt => on(filter, jwts::create),
        Operation::UsersListSessions => on(filter, sessions::list),
        Operation::UsersDeleteSessions => on(filter, sessions::delete_all),
        Operation::AccountGet => on(filter, jwts::get_account),
        Operation::AccountCreate => on(filter, account::create),
        Operation::AccountUpdateEmail => on(filter, account::update_email),
        Operation::AccountCreateSession => on(filter, account::create_session),
        Operation::AccountCreateEmailToken => tokens::handler(tokens::Kind::Email, filter),
        Operation::AccountCreateMagicUrlToken => tokens::handler(tokens::Kind::MagicUrl, filter),
        Operation::AccountCreatePhoneToken => tokens::handler(tokens::Kind::Phone, filter),
    }
}

async fn route_not_found() -> Response {
    AppwriteError::route_not_found().into_response()
}

/// Builds the API router (without middleware) from [`ROUTES`]. Unknown paths and known paths
/// with another method answer 404 `general_route_not_found`, as Appwrite does.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router: Router<Arc<Shared>> = Router::new();
    for route in ROUTES {
        router = router.route(
            &route.served_path(),
            // The route's spec travels with the request, for the `Call` extractor.
            handler(route.operation, method_filter(route.method)).layer(Extension(route)),
        );
    }
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(route_not_found)
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        for r in ROUTES {
            // Panics on a method the router cannot serve.
            method_filter(r.method);
            assert!(
                r.path.starts_with('/') && !r.path.starts_with("/v1"),
                "{r:?}"
            );
            assert!(matches!(r.spec, "server" | "client"), "{r:?}");
            assert_eq!(r.scope.is_some(), r.spec == "server", "{r:?}");
            for p in r.path_params {
                assert!(r.path.contains(&format!("{{{p}}}")), "{r:?}");
            }
        }
        // The router builds (axum panics on conflicting routes).
        let _ = router(Arc::new(Shared::new(crate::EmulatorConfig::default())));
    }

    #[test]
    fn every_operation_has_exactly_one_entry() {
        for op in [
            Operation::UsersList,
            Operation::UsersCreate,
            Operation::UsersGet,
            Operation::UsersCreateToken,
            Operation::UsersUpdateEmailVerification,
            Operation::UsersUpdateLabels,
            Operation::UsersCreateJwt,
            Operation::UsersListSessions,
            Operation::UsersDeleteSessions,
            Operation::AccountGet,
            Operation::AccountCreate,
            Operation::AccountUpdateEmail,
            Operation::AccountCreateSession,
            Operation::AccountCreateEmailToken,
            Operation::AccountCreateMagicUrlToken,
            Operation::AccountCreatePhoneToken,
        ] {
            assert_eq!(
                ROUTES.iter().filter(|r| r.operation == op).count(),
                1,
                "{op:?}"
            );
        }
    }
}
