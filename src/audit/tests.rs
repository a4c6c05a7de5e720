use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt as _;

use super::file::{FileStatus, layer};
use super::*;

/// A writer into a shared buffer, as the audit file's writer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `emit` with the audit file layer writing into a buffer; its lines.
fn audit_lines(emit: impl FnOnce()) -> Vec<Value> {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(layer(buffer.clone()));
    tracing::subscriber::with_default(subscriber, emit);
    buffer.lines()
}

fn origin() -> Origin {
    Origin {
        client_ip: "192.0.2.7".into(),
        request_id: "req-1".into(),
    }
}

fn known() -> Known {
    Known {
        issuer: Some("https://idp.example.test".into()),
        subject: Some("alice".into()),
        email: Some("alice@example.test".into()),
        user_id: Some("u123".into()),
        created_user: true,
        linked_user: false,
    }
}

#[test]
fn a_decision_is_one_line_of_exactly_its_fields_and_the_email_only_when_asked() {
    let (origin, known) = (origin(), known());
    let decision = Decision {
        event: EventKind::Login,
        provider: "corp",
        origin: &origin,
        known: &known,
        failure: None,
    };
    let plain = audit_lines(|| {
        Audit::default().record(&decision);
        tracing::info!(target: "idp_bridge::login", "not an audit event");
    });
    assert_eq!(plain.len(), 1, "{plain:?}");
    let mut line = plain[0].clone();
    let timestamp = line["timestamp"].as_str().expect("timestamp").to_string();
    assert!(
        timestamp.ends_with('Z') && timestamp.contains('T'),
        "{timestamp}"
    );
    line.as_object_mut().map(|o| o.remove("timestamp"));
    assert_eq!(
        line,
        json!({
            "event": "login", "outcome": "success", "provider": "corp",
            "issuer": "https://idp.example.test", "subject": "alice", "user_id": "u123",
            "client_ip": "192.0.2.7", "request_id": "req-1",
            "created_user": true, "linked_user": false,
        })
    );
    let with_email = AuditConfig {
        include_email: true,
        ..AuditConfig::default()
    };
    let lines = audit_lines(|| Audit::new(&with_email).record(&decision));
    assert_eq!(lines[0]["email"], "alice@example.test");
}

#[test]
fn a_failure_names_its_type_and_rule_and_leaves_unknown_fields_out() {
    let origin = origin();
    let known = Known::default();
    let lines = audit_lines(|| {
        Audit::default().record(&Decision {
            event: EventKind::Exchange,
            provider: "hook",
            origin: &origin,
            known: &known,
            failure: Some(Failure {
                error_type: "access_denied",
                rule: Some("email_domains"),
            }),
        });
    });
    let line = &lines[0];
    assert_eq!(
        (&line["outcome"], &line["error_type"], &line["rule"]),
        (
            &json!("failure"),
            &json!("access_denied"),
            &json!("email_domains")
        )
    );
    for absent in ["issuer", "subject", "user_id", "email"] {
        assert!(line.get(absent).is_none(), "{absent} in {line}");
    }
}

#[test]
fn logout_events_fit_the_published_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/reference/audit-event.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("urn:idp-bridge:audit-event:1", schema)
        .expect("resource");
    let index = compiler
        .compile("urn:idp-bridge:audit-event:1", &mut schemas)
        .expect("compiles");
    let origin = origin();
    let found = Known {
        email: None,
        created_user: false,
        ..known()
    };
    let sid_only = Known::default();
    let lines = audit_lines(|| {
        let audit = Audit::default();
        let logout = |known, failure| Decision {
            event: EventKind::Logout,
            provider: "corp",
            origin: &origin,
            known,
            failure,
        };
        audit.record(&logout(&found, None));
        audit.record(&logout(&sid_only, None));
        let bad = Failure {
            error_type: "logout_token_invalid",
            rule: None,
        };
        audit.record(&logout(&sid_only, Some(bad)));
    });
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["event"], "logout");
        if let Err(error) = schemas.validate(line, index) {
            panic!("{error:#}\n{line}");
        }
    }
    // And the schema can fail: a logout never creates a user.
    let mut created = lines[0].clone();
    created["created_user"] = json!(true);
    assert!(schemas.validate(&created, index).is_err());
}

#[test]
fn the_audit_file_is_created_for_the_gateway_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let file = super::file::start::<tracing_subscriber::Registry>(&path).expect("opens");
    let status: FileStatus = file.status.clone();
    assert_eq!((status.write_failures(), status.dropped_lines()), (0, 0));
    drop(file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .expect("created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
