//! BLAKE3 content hashes: the identity of every object in the store.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CoreError;

/// The BLAKE3 hash of an object's bytes, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// Hashes a byte slice.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Hashes everything a reader yields, streaming (constant memory).
    pub fn of_reader(mut reader: impl Read) -> io::Result<Self> {
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Self(*hasher.finalize().as_bytes()))
    }

    /// Hashes a file. Large files are memory-mapped by BLAKE3's own reader when that is faster.
    pub fn of_file(path: &Path) -> Result<Self, CoreError> {
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_reader(std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?)
            .map_err(|e| CoreError::io(path, e))?;
        Ok(Self(*hasher.finalize().as_bytes()))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The full hex form.
    pub fn to_hex(&self) -> String {
        // By table, not `write!` per byte: store paths and keys spell hashes all the time.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        s
    }

    /// The first 12 hex digits, for tables and logs.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.short())
    }
}

impl FromStr for ContentHash {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // By hand rather than `u8::from_str_radix` per pair, which also takes a sign ("+f"):
        // a no-op run parses a few hundred of these from cache entries and run records.
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let bad = || CoreError::BadHash(s.to_owned());
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = (nibble(pair[0]).ok_or_else(bad)? << 4) | nibble(pair[1]).ok_or_else(bad)?;
        }
        Ok(Self(out))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, so the hex is read from the input in place rather than copied to a String.
        struct Hex;
        impl serde::de::Visitor<'_> for Hex {
            type Value = ContentHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 64-digit hex BLAKE3 hash")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ContentHash, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Hex)
    }
}

/// A writer that hashes what passes through it, e.g. while streaming a download to disk.
pub struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner, hasher: blake3::Hasher::new(), written: 0 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The hash of everything written so far, and the inner writer.
    pub fn finish(self) -> (ContentHash, W) {
        (ContentHash(*self.hasher.finalize().as_bytes()), self.inner)
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = ContentHash::of_bytes(b"esteira");
        let parsed: ContentHash = h.to_hex().parse().unwrap();
        assert_eq!(h, parsed);
        assert_eq!(h.short().len(), 12);
        // Lowercase, two digits a byte, as BLAKE3 spells it.
        assert_eq!(h.to_hex(), blake3::hash(b"esteira").to_hex().as_str());
        let bytes = ContentHash::of_bytes(&[0x0f, 0xa0]);
        assert_eq!(bytes.to_hex(), blake3::hash(&[0x0f, 0xa0]).to_hex().as_str());
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("xyz".parse::<ContentHash>().is_err());
        assert!("g".repeat(64).parse::<ContentHash>().is_err());
        // A sign is not a digit, though `u8::from_str_radix` would take "+f".
        assert!(format!("+f{}", "0".repeat(62)).parse::<ContentHash>().is_err());
        // 64 bytes that are not 64 characters.
        assert!(format!("é{}", "0".repeat(62)).parse::<ContentHash>().is_err());
        let upper = ContentHash::of_bytes(b"x").to_hex().to_uppercase();
        assert_eq!(upper.parse::<ContentHash>().unwrap(), ContentHash::of_bytes(b"x"));
    }

    #[test]
    fn deserializes_from_json_text_in_place_and_names_bad_hashes() {
        let h = ContentHash::of_bytes(b"esteira");
        let parsed: ContentHash = serde_json::from_str(&format!("\"{}\"", h.to_hex())).unwrap();
        assert_eq!(parsed, h);
        let err = serde_json::from_str::<ContentHash>("\"abc\"").unwrap_err().to_string();
        assert!(err.contains("abc"), "{err}");
        assert!(serde_json::from_str::<ContentHash>("17").is_err());
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data = vec![7u8; 200_000];
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (h, inner) = w.finish();
        assert_eq!(inner.len(), data.len());
        assert_eq!(h, ContentHash::of_bytes(&data));
        assert_eq!(h, ContentHash::of_reader(&data[..]).unwrap());
    }
}
