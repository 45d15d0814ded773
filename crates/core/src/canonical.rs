//! Canonical JSON and cache keys.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ContentHash;

/// JSON with object keys sorted at every level and no insignificant whitespace, so equal
/// values always give equal bytes whatever map type produced them.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    // Only serde_json's own output and ASCII punctuation went in.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        other => write_scalar(other, out),
    }
}

/// A string, number, bool or null as serde_json writes it, straight into the buffer.
fn write_scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing a string or a `Value` scalar into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The cache key of a stage execution: BLAKE3 of the canonical JSON of
/// `{kind, version, params, inputs: {name: hash}}`.
pub fn cache_key(kind: &str, version: &str, params: &Value, inputs: &BTreeMap<String, ContentHash>) -> ContentHash {
    // The canonical form of that document written directly, its keys in sorted order
    // (`inputs`, `kind`, `params`, `version`), rather than built as a `Value` first: a no-op
    // run works out one key a stage, and the copy of the params was most of the cost.
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"inputs\":{");
    for (i, (name, hash)) in inputs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_scalar(name.as_str(), &mut out);
        out.push(b':');
        write_scalar(hash.to_hex().as_str(), &mut out);
    }
    out.extend_from_slice(b"},\"kind\":");
    write_scalar(kind, &mut out);
    out.extend_from_slice(b",\"params\":");
    write_canonical(params, &mut out);
    out.extend_from_slice(b",\"version\":");
    write_scalar(version, &mut out);
    out.push(b'}');
    ContentHash::of_bytes(&out)
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
    fn key_is_the_hash_of_the_canonical_document() {
        let inputs = BTreeMap::from([
            ("z\"q".to_owned(), ContentHash::of_bytes(b"1")),
            ("a".to_owned(), ContentHash::of_bytes(b"2")),
        ]);
        let params = serde_json::json!({"run": ["cp", "é\n"], "b": {"y": 1.5, "x": null}, "a": true});
        let doc = serde_json::json!({
            "kind": "k\\",
            "version": "3",
            "params": params,
            "inputs": inputs.iter().map(|(k, v)| (k.clone(), Value::String(v.to_hex()))).collect::<serde_json::Map<_, _>>(),
        });
        assert_eq!(cache_key("k\\", "3", &params, &inputs), ContentHash::of_bytes(canonical_json(&doc).as_bytes()));
        let empty = serde_json::json!({"inputs": {}, "kind": "k", "params": {}, "version": "1"});
        assert_eq!(
            cache_key("k", "1", &serde_json::json!({}), &BTreeMap::new()),
            ContentHash::of_bytes(canonical_json(&empty).as_bytes())
        );
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
