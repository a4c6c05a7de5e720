//! Unit tests of the Redis store's reply readers (the store itself is tested against a real
//! `redis-server` in tests/integration/redis.rs).

use super::*;

#[test]
fn every_node_must_name_its_eviction_policy() {
    let node = |text: &str| Value::BulkString(text.as_bytes().to_vec());
    let read = |info: Value| {
        let mut texts = Vec::new();
        info_texts(&info, &mut texts);
        texts
            .iter()
            .map(|text| text.as_deref().and_then(eviction_policy))
            .collect::<Vec<_>>()
    };
    let keeps = "# Memory\r\nused_memory:1\r\nmaxmemory_policy:noeviction\r\n";
    assert_eq!(read(node(keeps)), vec![Some("noeviction".to_string())]);
    let cluster = Value::Map(vec![
        (node("a:7000"), node(keeps)),
        (node("b:7001"), node("# Memory\r\nused_memory:1\r\n")),
        (node("c:7002"), Value::Int(1)),
    ]);
    assert_eq!(
        read(cluster),
        vec![Some("noeviction".to_string()), None, None],
        "a node that names no policy, or answers something else, is not one that keeps keys"
    );
}

#[test]
fn only_ok_is_a_write_and_only_nil_is_an_existing_key() {
    assert!(set_nx(Value::Okay).expect("OK"));
    assert!(set_nx(Value::SimpleString("OK".into())).expect("+OK"));
    assert!(!set_nx(Value::Nil).expect("nil"));
    for other in [
        Value::Int(1),
        Value::BulkString(b"OK".to_vec()),
        Value::SimpleString("QUEUED".into()),
        Value::Array(vec![]),
    ] {
        let error = set_nx(other).expect_err("neither OK nor nil");
        assert!(error.to_string().contains("unexpected reply"), "{error}");
    }
}
