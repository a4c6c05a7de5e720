//! The Redis store's vocabulary with the server: which command failed ([`Op`], for the error
//! messages) and how a reply is read (`SET … NX`, `INFO memory`) and a duration written (`PX`).
//! Pure functions of a reply: no connection, no key, no sealing.
//! Must not: put a reply's content in a message (only its kind); take a reply it does not know
//! for a success.

use std::fmt;
use std::time::Duration;

use redis::Value;

use crate::store::StoreError;

/// Which command failed, for the error message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Put,
    Take,
    Admit,
    Release,
    FirstUse,
    Forget,
    RecordSession,
    FindSession,
    Ping,
    Info,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Put => "SET NX (new login)",
            Self::Take => "GETDEL (callback)",
            Self::Admit => "EVAL (open-login budget)",
            Self::Release => "ZREM (open-login budget)",
            Self::FirstUse => "SET NX (replay cache)",
            Self::Forget => "DEL (replay cache)",
            Self::RecordSession => "SET (provider session)",
            Self::FindSession => "GET (provider session)",
            Self::Ping => "PING",
            Self::Info => "INFO memory",
        })
    }
}

/// What a `SET … NX` reply says: `OK`, the key was written (`true`); nil, it existed already
/// (`false`). Any other reply (a proxy or a server that answers something else) is not taken
/// as a write: for the replay cache that would accept an assertion on doubt.
pub(super) fn set_nx(reply: Value) -> Result<bool, StoreError> {
    match reply {
        Value::Okay => Ok(true),
        Value::SimpleString(text) if text == "OK" => Ok(true),
        Value::Nil => Ok(false),
        other => Err(StoreError::Unavailable(format!(
            "unexpected reply to SET NX ({})",
            reply_kind(&other)
        ))),
    }
}

/// The kind of a reply, for messages (never its content).
fn reply_kind(reply: &Value) -> &'static str {
    match reply {
        Value::Int(_) => "an integer",
        Value::BulkString(_) => "a bulk string",
        Value::SimpleString(_) => "a simple string",
        Value::Array(_) | Value::Set(_) | Value::Map(_) => "a collection",
        Value::ServerError(_) => "an error",
        _ => "another type",
    }
}

/// The text of each node in an `INFO memory` answer: one text, or (from a cluster) one per
/// node. A reply of another kind is `None`: a node that does not say.
pub(super) fn info_texts(info: &Value, out: &mut Vec<Option<String>>) {
    let text = match info {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => text.clone(),
        Value::Array(values) | Value::Set(values) => {
            return values.iter().for_each(|v| info_texts(v, out));
        }
        Value::Map(pairs) => return pairs.iter().for_each(|(_, v)| info_texts(v, out)),
        _ => return out.push(None),
    };
    out.push(Some(text));
}

/// The `maxmemory_policy:` of one node's `INFO memory` text; `None` when it names none (a node
/// that does not say is not taken to keep its keys).
pub(super) fn eviction_policy(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("maxmemory_policy:"))
        .map(str::to_string)
}

/// `duration` in whole milliseconds, for `PX`.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
