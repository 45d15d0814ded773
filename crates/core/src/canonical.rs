//! Canonical JSON and cache keys.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ContentHash;

/// JSON with object keys sorted at every level and no insignificant whitespace, so equal
/// values always give equal bytes whatever map type produced them.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The cache key of a stage execution: BLAKE3 of the canonical JSON of
/// `{kind, version, params, inputs: {name: hash}}`.
pub fn cache_key(kind: &str, version: &str, params: &Value, inputs: &BTreeMap<String, ContentHash>) -> ContentHash {
    let inputs: serde_json::Map<String, Value> =
        inputs.iter().map(|(k, v)| (k.clone(), Value::String(v.to_hex()))).collect();
    let doc = serde_json::json!({
        "kind": kind,
        "version": version,
        "params": params,
        "inputs": inputs,
    });
    ContentHash::of_bytes(canonical_json(&doc).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":[1,{"q":1,"p":2}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":[1,{"p":2,"q":1}],"y":2},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":[1,{"p":2,"q":1}],"y":2},"b":1}"#);
    }

    #[test]
    fn key_changes_with_each_part() {
        let i = BTreeMap::from([("x".to_owned(), ContentHash::of_bytes(b"1"))]);
        let base = cache_key("k", "1", &serde_json::json!({"a": 1}), &i);
        assert_ne!(base, cache_key("k", "2", &serde_json::json!({"a": 1}), &i));
        assert_ne!(base, cache_key("k", "1", &serde_json::json!({"a": 2}), &i));
        let j = BTreeMap::from([("x".to_owned(), ContentHash::of_bytes(b"2"))]);
        assert_ne!(base, cache_key("k", "1", &serde_json::json!({"a": 1}), &j));
    }
}
