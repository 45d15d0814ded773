//! The S3 server the tests use (`ESTEIRA_TEST_S3_ENDPOINT`, loopback only), its bucket, a
//! fresh prefix per test, raw S3 access for tampering, and record builders.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use esteira_core::{CacheRecord, ContentHash, cache_key};
use esteira_remote::{RemoteOptions, RemoteStore};
pub use esteira_testkit::s3::endpoint;
use esteira_testkit::s3::keys;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::signer::{Method, Signer};

/// The bucket every test uses (each under its own prefix).
pub const BUCKET: &str = "esteira-tests";

/// Settings for `endpoint`, ignoring the environment (so nothing else is ever contacted).
pub fn settings(endpoint: &str) -> Vec<(String, String)> {
    let (key, secret) = keys();
    [
        ("aws_endpoint", endpoint.to_owned()),
        ("aws_access_key_id", key),
        ("aws_secret_access_key", secret),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_allow_http", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn options(endpoint: &str) -> RemoteOptions {
    RemoteOptions::without_env(settings(endpoint))
}

static PREFIXES: AtomicU64 = AtomicU64::new(0);

/// A prefix no other test (or earlier run) uses.
pub fn fresh_prefix(test: &str) -> String {
    let n = PREFIXES.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{test}-{}-{nanos}-{n}", std::process::id())
}

/// A test's remote: the shared bucket (created if needed) under a fresh prefix.
pub struct TestRemote {
    pub endpoint: String,
    pub url: String,
    pub prefix: String,
}

impl TestRemote {
    pub fn new(test: &str) -> Option<Self> {
        let endpoint = endpoint()?;
        ensure_bucket(&endpoint);
        let prefix = fresh_prefix(test);
        Some(Self { url: format!("s3://{BUCKET}/{prefix}"), endpoint, prefix })
    }

    pub fn open(&self) -> RemoteStore {
        RemoteStore::open(&self.url, &options(&self.endpoint)).unwrap()
    }

    pub fn open_with(&self, opts: &RemoteOptions) -> RemoteStore {
        RemoteStore::open(&self.url, opts).unwrap()
    }

    /// The bucket through object_store directly, for writing what esteira never would.
    pub fn raw(&self) -> Raw {
        Raw { s3: Arc::new(raw_s3(&self.endpoint)), prefix: self.prefix.clone() }
    }
}

fn raw_s3(endpoint: &str) -> AmazonS3 {
    // As RemoteStore::open does: reqwest is built without a TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (key, secret) = keys();
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_access_key_id(key)
        .with_secret_access_key(secret)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Raw access to the test bucket (keys relative to the test's prefix).
pub struct Raw {
    s3: Arc<AmazonS3>,
    prefix: String,
}

impl Raw {
    fn path(&self, key: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}/{key}", self.prefix))
    }

    /// Overwrites `key` with `bytes`, with `attributes` (none: what any S3 tool would do).
    pub fn put(&self, key: &str, bytes: Vec<u8>, attributes: object_store::Attributes) {
        let opts = object_store::PutOptions { attributes, ..object_store::PutOptions::default() };
        runtime().block_on(self.s3.put_opts(&self.path(key), bytes.into(), opts)).unwrap();
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        runtime().block_on(async {
            match object_store::ObjectStoreExt::get(&*self.s3, &self.path(key)).await {
                Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("{e}"),
            }
        })
    }

    /// Every key under the prefix (relative to it).
    pub fn keys(&self) -> Vec<String> {
        use futures_util::TryStreamExt;
        let root = object_store::path::Path::from(self.prefix.as_str());
        let metas: Vec<object_store::ObjectMeta> = runtime().block_on(self.s3.list(Some(&root)).try_collect()).unwrap();
        let mut keys: Vec<String> = metas
            .into_iter()
            .map(|m| m.location.as_ref().strip_prefix(&format!("{}/", self.prefix)).unwrap().to_owned())
            .collect();
        keys.sort();
        keys
    }
}

/// Creates the test bucket unless it exists: object_store has no bucket API, so a PUT on the
/// bucket's URL, presigned by object_store and sent over a plain loopback TCP connection.
fn ensure_bucket(endpoint: &str) {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let s3 = raw_s3(endpoint);
        let root = object_store::path::Path::from("");
        let url = runtime().block_on(s3.signed_url(Method::PUT, &root, Duration::from_secs(300))).unwrap();
        let host = url.host_str().unwrap();
        assert!(host == "127.0.0.1" || host == "localhost", "{url}");
        let port = url.port().unwrap_or(80);
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(conn, "PUT {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        let status = answer.split_whitespace().nth(1).unwrap_or_default().to_owned();
        assert!(
            status == "200" || (status == "409" && answer.contains("BucketAlreadyExists")),
            "creating bucket {BUCKET}: {answer}"
        );
    });
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A cache record of kind `kind` with `inputs` and `outputs`, for `run_id`.
pub fn record(
    kind: &str,
    params: serde_json::Value,
    inputs: BTreeMap<String, ContentHash>,
    outputs: BTreeMap<String, ContentHash>,
    run_id: &str,
) -> CacheRecord {
    CacheRecord {
        key: cache_key(kind, "1", &params, &inputs),
        kind: kind.to_owned(),
        version: "1".to_owned(),
        params,
        inputs,
        outputs,
        metrics: BTreeMap::from([("rows".to_owned(), serde_json::json!(3))]),
        state: serde_json::Value::Null,
        duration_ms: 12.5,
        run_id: run_id.to_owned(),
        stage: kind.to_owned(),
    }
}

pub fn one(name: &str, hash: ContentHash) -> BTreeMap<String, ContentHash> {
    BTreeMap::from([(name.to_owned(), hash)])
}
