//! Reading a configuration table into its typed struct with every value of the wrong type
//! reported at once, each in plain words (`expected a list of URLs, found text`).
//!
//! serde stops at the first value that does not fit. [`read`] reports that value under its
//! full key, takes it out of the table and reads again, so one run names every bad value, and
//! the caller still checks the rest of the table (a removed value takes its default). A
//! message never repeats a value: it may be a secret. serde's messages have a fixed shape
//! (`invalid type: string "x", expected u64`); [`in_words`] rewrites the ones a configuration
//! meets and keeps any other as it is.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::ConfigProblem;

/// How every message about a value that should have been a list starts: the gateway adds,
/// for a value set by an environment variable, how a list is written there.
pub const EXPECTED_LIST: &str = "expected a list";

/// List keys by name, with what their items are and two made-up items to show the syntax.
const LISTS: &[(&str, &str, &str)] = &[
    ("allowed", "URLs", r#""https://a/", "https://b/""#),
    ("cors_origins", "origins", r#""https://a", "https://b""#),
    (
        "trusted_proxies",
        "CIDR ranges",
        r#""10.0.0.0/8", "192.168.0.0/16""#,
    ),
    ("scopes", "scopes", r#""openid", "email""#),
    ("allowed_algs", "algorithm names", r#""RS256", "ES256""#),
    ("email_domains", "domains", r#""a.io", "b.io""#),
    ("custom_domains", "domains", r#""login.a.io", "login.b.io""#),
    ("encryption_keys", "keys", r#""k1:...", "k2:...""#),
    (
        "public_keys",
        "PEM public keys",
        r#""-----BEGIN PUBLIC KEY-----...", "...""#,
    ),
    ("hmac_secrets", "secrets", r#""...", "...""#),
];

/// The items of list key `name` and an example of them, for messages.
pub fn list_items(name: &str) -> (&'static str, &'static str) {
    LISTS
        .iter()
        .find(|(key, _, _)| *key == name)
        .map_or(("values", r#""a", "b""#), |(_, noun, example)| {
            (noun, example)
        })
}

/// What reading a table gave.
#[derive(Debug)]
pub struct Read<T> {
    /// The typed value, unless a required key is missing or a value cannot be taken out; the
    /// bad values are absent from it (they took their defaults).
    pub value: Option<T>,
    /// One problem per value of the wrong type (or missing required key), in plain words.
    pub problems: Vec<ConfigProblem>,
}

/// Reads `table` into `T`, reporting every value that does not fit under `prefix` + its path
/// (`providers.corp` + `scopes` → `providers.corp.scopes`; an empty prefix for the file).
pub fn read<T: DeserializeOwned>(prefix: &str, mut table: Value) -> Read<T> {
    let mut problems = Vec::new();
    loop {
        let error = match serde_path_to_error::deserialize::<_, T>(table.clone()) {
            Ok(value) => {
                return Read {
                    value: Some(value),
                    problems,
                };
            }
            Err(error) => error,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let message = error.into_inner().to_string();
        let key = join(prefix, &segments);
        // Each pass takes one value out, so the loop ends; a missing key cannot be taken out.
        let removed = match message.strip_prefix("missing field `") {
            Some(rest) => {
                let field = rest.trim_end_matches('`');
                problems.push(ConfigProblem::new(join_key(&key, field), "is required"));
                false
            }
            None => {
                problems.push(ConfigProblem::new(&key, in_words(&key, &message)));
                remove(&mut table, &segments)
            }
        };
        if !removed {
            return Read {
                value: None,
                problems,
            };
        }
    }
}

fn join(prefix: &str, segments: &[Segment]) -> String {
    let mut key = prefix.to_string();
    for segment in segments {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                key = join_key(&key, name);
            }
            Segment::Unknown => key = join_key(&key, "?"),
        }
    }
    key
}

fn join_key(key: &str, name: &str) -> String {
    if key.is_empty() {
        name.to_string()
    } else {
        format!("{key}.{name}")
    }
}

/// Takes the value at `segments` out of `tree`; false when there is none (or the path is the
/// whole tree).
fn remove(tree: &mut Value, segments: &[Segment]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = tree;
    for segment in parents {
        let next = match (segment, node) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    match (last, node) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// serde's message about the value at `key`, in plain words and without the value.
pub fn in_words(key: &str, message: &str) -> String {
    let name = key
        .rsplit('.')
        .next()
        .unwrap_or(key)
        .split('[')
        .next()
        .unwrap_or("");
    let typed = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    if let Some((found, expected)) = typed.and_then(|rest| rest.split_once(", expected ")) {
        return format!(
            "{}, found {}",
            expected_in_words(name, expected),
            found_in_words(found)
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((variant, expected)) = rest.split_once("`, expected ")
    {
        let expected = expected.trim_start_matches("one of ").replace('`', "\"");
        return format!("{variant:?} is not one of {expected}");
    }
    if message.starts_with("data did not match any variant of untagged enum") {
        let (items, example) = list_items(name);
        return format!(
            "{EXPECTED_LIST} of {items}, or one text with one per line; write a list in brackets: {name} = [{example}]"
        );
    }
    message.to_string()
}

fn expected_in_words(name: &str, expected: &str) -> String {
    let whole = |range: &str| format!("expected a whole number{range}");
    match expected {
        "a sequence" => {
            let (items, example) = list_items(name);
            format!("{EXPECTED_LIST} of {items} (in brackets: {name} = [{example}])")
        }
        "a boolean" => "expected true or false".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => whole(""),
        "u8" => whole(" from 0 to 255"),
        "u16" => whole(" from 0 to 65535"),
        "u32" => whole(" from 0 to 4294967295"),
        "u64" | "u128" | "usize" => whole(", 0 or more"),
        "f32" | "f64" => "expected a number".into(),
        "a map" => "expected a table".into(),
        other if other.starts_with("struct ") => "expected a table".into(),
        other => match other.strip_prefix("a string") {
            Some(rest) => format!("expected text in quotes{rest}"),
            None => format!("expected {other}"),
        },
    }
}

fn found_in_words(found: &str) -> &'static str {
    // `Secret` reports "a number" and "a boolean" itself, without the value.
    let kinds: [(&str, &str); 10] = [
        ("integer `-", "a negative number"),
        ("integer", "a whole number"),
        ("floating point", "a decimal number"),
        ("a number", "a number"),
        ("string", "text"),
        ("boolean", "true or false"),
        ("a boolean", "true or false"),
        ("sequence", "a list"),
        ("map", "a table"),
        ("unit", "nothing"),
    ];
    kinds
        .iter()
        .find(|(prefix, _)| found.starts_with(prefix))
        .map_or("a value of another type", |(_, words)| words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Section {
        allowed: Vec<String>,
        length: u32,
        enabled: bool,
        secret: Option<crate::Secret<String>>,
        delivery: Option<Delivery>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Delivery {
        Query,
        Fragment,
    }

    #[derive(Debug, Deserialize)]
    struct Required {
        #[allow(dead_code)]
        issuer: String,
    }

    #[test]
    fn every_bad_value_is_reported_in_words_and_the_rest_is_read() {
        let table = json!({
            "allowed": "https://only.one/",
            "length": "sixty-four",
            "enabled": "yes",
            "secret": 1234,
            "delivery": "post",
        });
        let read: Read<Section> = read("redirect", table);
        let text: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                r#"redirect.allowed: expected a list of URLs (in brackets: allowed = ["https://a/", "https://b/"]), found text"#,
                r#"redirect.delivery: "post" is not one of "query" or "fragment""#,
                "redirect.enabled: expected true or false, found text",
                "redirect.length: expected a whole number from 0 to 4294967295, found text",
                "redirect.secret: expected text in quotes (quote values that look like numbers, or use the _file key), found a number",
            ]
        );
        let section = read.value.expect("the rest reads");
        assert!(section.allowed.is_empty() && section.length == 0);
        assert!(
            !text
                .iter()
                .any(|t| t.contains("only.one") || t.contains("1234")),
            "values are never repeated: {text:?}"
        );
    }

    #[test]
    fn list_items_and_negative_numbers_are_named() {
        let read: Read<Section> = read("", json!({"allowed": ["https://a/", 7], "length": -1}));
        let text: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "allowed[1]: expected text in quotes, found a whole number",
                "length: expected a whole number from 0 to 4294967295, found a negative number",
            ]
        );
        assert_eq!(read.value.expect("read").allowed, ["https://a/"]);
    }

    #[test]
    fn a_missing_required_key_ends_the_reading() {
        let read: Read<Required> = read("providers.corp", json!({}));
        assert!(read.value.is_none());
        let text: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["providers.corp.issuer: is required"]);
    }
}
