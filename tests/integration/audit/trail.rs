//! Reading a run's audit trail: the events of the audit file, each checked against the
//! published schema, and the same events among the JSON log's `audit` lines.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The published schema of an audit event, compiled.
pub struct AuditSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl AuditSchema {
    /// Compiles docs/reference/audit-event.schema.json (no network: the schema has no remote
    /// reference).
    pub fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join("reference")
            .join("audit-event.schema.json");
        let text = std::fs::read_to_string(&path).expect("the audit schema");
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let location = "urn:idp-bridge:audit-event:1";
        compiler
            .add_resource(location, schema)
            .expect("add the schema");
        let index = compiler
            .compile(location, &mut schemas)
            .unwrap_or_else(|e| panic!("the audit schema does not compile: {e}"));
        Self { schemas, index }
    }

    /// Panics, naming the event and why, when `event` breaks the schema.
    #[track_caller]
    pub fn check(&self, event: &Value) {
        if let Err(error) = self.schemas.validate(event, self.index) {
            panic!("audit event breaks the schema: {error:#}\n{event}");
        }
    }
}

/// The audit events of a run: the lines of the audit file, each checked against the schema and
/// found, in the same order and with the same fields, among the `audit` lines of the JSON log
/// (whose `fields` are the event, the `timestamp` the line's own).
pub fn audit_events(logs: &str, file: &str) -> Vec<Value> {
    let schema = AuditSchema::load();
    let from_file: Vec<Value> = file
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let from_log = logged_events(logs);
    for event in from_file.iter().chain(&from_log) {
        schema.check(event);
    }
    let without_time = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.as_object_mut().map(|o| o.remove("timestamp"));
                e
            })
            .collect()
    };
    assert_eq!(
        without_time(&from_file),
        without_time(&from_log),
        "the audit file and the log hold the same events"
    );
    from_file
}

/// The audit events among the `audit` lines of a JSON log: a line's event is its `fields`,
/// stamped with the line's own `timestamp`. Not checked against the schema.
pub fn logged_events(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "audit")
        .map(|line| {
            let mut event = line["fields"].clone();
            event["timestamp"] = line["timestamp"].clone();
            event
        })
        .collect()
}

/// The events of each request id; a request id with no event is absent.
pub fn by_request(events: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for event in events {
        let id = event["request_id"]
            .as_str()
            .expect("request_id")
            .to_string();
        map.entry(id).or_default().push(event.clone());
    }
    map
}
