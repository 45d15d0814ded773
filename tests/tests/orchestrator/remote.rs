//! The team cache end to end: `run --remote`, `status`, `push` and `pull` of the real CLI
//! against a real S3 server — Ceph's RADOS gateway from `.ci/ceph-up.sh` at
//! `ESTEIRA_TEST_S3_ENDPOINT` (loopback only). Without it each test prints `SKIPPED: no S3`
//! and passes, unless `ESTEIRA_REQUIRE_S3=1`. Each test creates its own bucket. The outage
//! test needs no server.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use esteira_core::ContentHash;
use esteira_remote::{HASH_METADATA, RemoteOptions, RemoteStore};
use esteira_testkit::s3::{endpoint, keys};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::signer::{Method, Signer};
use object_store::{Attribute, Attributes, ObjectStore};

use super::PIPELINE;
use crate::common::{Bed, Out, statuses_in};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

static BUCKETS: AtomicU64 = AtomicU64::new(0);

/// A test's own bucket on the test server.
pub(super) struct S3 {
    endpoint: String,
    bucket: String,
}

impl S3 {
    pub(super) fn new(test: &str) -> Option<Self> {
        let endpoint = endpoint()?;
        let n = BUCKETS.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let bucket = format!("e2e-{test}-{}-{}-{n}", std::process::id(), nanos % 1_000_000_000);
        assert!(bucket.len() <= 63, "{bucket}");
        let s3 = Self { endpoint, bucket };
        s3.create_bucket();
        Some(s3)
    }

    pub(super) fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The AWS environment of the test server, and nothing inherited that could point elsewhere.
    pub(super) fn env(&self, c: &mut Command) {
        let (key, secret) = keys();
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("AWS_") || k.starts_with("ESTEIRA_REMOTE")) {
                c.env_remove(k);
            }
        }
        c.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true");
    }

    fn raw(&self) -> AmazonS3 {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (key, secret) = keys();
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_access_key_id(key)
            .with_secret_access_key(secret)
            .with_region("us-east-1")
            .with_allow_http(true)
            .with_bucket_name(&self.bucket)
            .build()
            .unwrap()
    }

    /// esteira-remote's view of `prefix` (listings for the assertions).
    fn remote(&self, prefix: &str) -> RemoteStore {
        let (key, secret) = keys();
        let settings = [
            ("aws_endpoint", self.endpoint.clone()),
            ("aws_access_key_id", key),
            ("aws_secret_access_key", secret),
            ("aws_region", "us-east-1".to_owned()),
            ("aws_allow_http", "true".to_owned()),
        ];
        let opts = RemoteOptions::without_env(settings.map(|(k, v)| (k.to_owned(), v)));
        RemoteStore::open(&self.url(prefix), &opts).unwrap()
    }

    /// Every key in the bucket, sorted.
    fn keys(&self) -> Vec<String> {
        use futures_util::TryStreamExt;
        let metas: Vec<object_store::ObjectMeta> = runtime().block_on(self.raw().list(None).try_collect()).unwrap();
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        keys
    }

    fn put(&self, key: &str, bytes: Vec<u8>, attributes: Attributes) {
        let opts = object_store::PutOptions { attributes, ..object_store::PutOptions::default() };
        runtime().block_on(self.raw().put_opts(&object_store::path::Path::from(key), bytes.into(), opts)).unwrap();
    }

    fn get(&self, key: &str) -> Vec<u8> {
        runtime().block_on(async {
            let r = object_store::ObjectStoreExt::get(&self.raw(), &object_store::path::Path::from(key)).await.unwrap();
            r.bytes().await.unwrap().to_vec()
        })
    }

    /// object_store has no bucket API: a PUT on the bucket's URL, presigned by object_store
    /// and sent over a plain loopback connection.
    fn create_bucket(&self) {
        let root = object_store::path::Path::from("");
        let url = runtime().block_on(self.raw().signed_url(Method::PUT, &root, Duration::from_secs(300))).unwrap();
        let host = url.host_str().unwrap().to_owned();
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
        assert_eq!(answer.split_whitespace().nth(1), Some("200"), "creating bucket {}: {answer}", self.bucket);
    }
}

fn out(o: Output) -> Out {
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Out { code: o.status.code().unwrap_or(-1), stdout: text(o.stdout), stderr: text(o.stderr) }
}

/// `esteira ARGS` in `b` with the test server's environment.
fn esteira(b: &Bed, s3: &S3, args: &[&str]) -> Out {
    let mut c = b.cmd(args);
    s3.env(&mut c);
    out(c.output().unwrap())
}

/// `esteira run --json --store STORE ARGS` with the test server's environment; must succeed.
fn run_json(b: &Bed, s3: &S3, store: &str, args: &[&str]) -> (serde_json::Value, Out) {
    let mut all = vec!["run", "--json", "--store", store];
    all.extend_from_slice(args);
    let o = esteira(b, s3, &all).ok();
    (serde_json::from_str(&o.stdout).unwrap(), o)
}

/// Stage name -> outputs of a run record.
fn outputs(r: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    r["stages"].as_object().unwrap().iter().map(|(n, s)| (n.clone(), s["outputs"].clone())).collect()
}

fn remote_hits(r: &serde_json::Value) -> BTreeSet<String> {
    r["stages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["remote_hit"].as_bool() == Some(true))
        .map(|(n, _)| n.clone())
        .collect()
}

/// A project with the repository's default pipeline, suites and sample.
fn ufrn() -> Bed {
    Bed::ufrn()
}

/// The demo pipeline with quick sleeps.
fn demo() -> Bed {
    let b = Bed::new();
    b.write("esteira.toml", &PIPELINE.replace("ms = 400", "ms = 1"));
    b.write("data/in.txt", "hello world");
    b
}

fn cache_keys(keys: &[String]) -> Vec<&String> {
    keys.iter().filter(|k| k.contains("/cache/")).collect()
}

#[test]
fn a_second_store_runs_the_default_pipeline_from_the_remote_with_identical_outputs() {
    let Some(s3) = S3::new("ufrn") else { return };
    let b = ufrn();
    let url = s3.url("team");
    let (first, o) = run_json(&b, &s3, "a", &["--remote", &url]);
    assert!(statuses_in(&first).iter().all(|(_, s)| s == "ran"), "{}", o.stdout);
    let uploaded = s3.keys();
    assert_eq!(cache_keys(&uploaded).len(), 12, "{uploaded:?}");

    // `status` from an empty store sees what the run will find, downloading nothing.
    let st = esteira(&b, &s3, &["status", "--store", "b", "--remote", &url]).ok();
    assert!(st.stdout.contains("0 stage(s) would run"), "{}", st.stdout);
    assert!(st.stdout.contains(&format!("from the remote {url}")), "{}", st.stdout);
    assert!(!b.path().join("b/cache").exists() || std::fs::read_dir(b.path().join("b/cache")).unwrap().count() == 0);

    // Another machine: an empty local store, the same remote. Everything is a hit.
    let (second, o) = run_json(&b, &s3, "b", &["--remote", &url]);
    assert!(statuses_in(&second).iter().all(|(_, s)| s == "cached"), "{}\n{}", o.stdout, o.stderr);
    assert_eq!(outputs(&second), outputs(&first));
    assert_eq!(remote_hits(&second).len(), 12, "{second}");
    assert_eq!(s3.keys(), uploaded, "a run of hits uploads nothing");
    let report = std::fs::read(b.path().join("b/latest/evaluate/report.html")).unwrap();
    assert_eq!(report, std::fs::read(b.path().join("a/latest/evaluate/report.html")).unwrap());
    // The summary counts them and says what came down.
    let plain = esteira(&b, &s3, &["runs", "show", "latest", "--store", "b"]).ok();
    assert!(plain.stdout.contains("12 cached (12 from the remote)"), "{}", plain.stdout);
    assert!(plain.stdout.contains("cached (remote)"), "{}", plain.stdout);
    assert!(plain.stdout.contains("[train] train cached (from the remote)"), "{}", plain.stdout);

    // Now local: a third run needs the remote for nothing.
    let (third, _) = run_json(&b, &s3, "b", &["--remote", &url]);
    assert!(remote_hits(&third).is_empty(), "{third}");
}

#[test]
fn eight_racing_runs_leave_one_record_per_key_and_consistent_objects() {
    let Some(s3) = S3::new("race") else { return };
    let b = Bed::new();
    // A nondeterministic stage: every racer computes other bytes under the same key, so only
    // the conditional create decides, and losers must adopt the winner's outputs.
    b.write(
        "esteira.toml",
        r#"
[stages.src]
kind = "test.source"
params = { text = "race" }

[stages.clock]
kind = "test.nondet"
inputs = { in = "src.out" }

[stages.up]
kind = "test.upper"
inputs = { in = "clock.out" }
"#,
    );
    let url = s3.url("race");
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let mut c = b.cmd(&["run", "--json", "--store", &format!("s{i}"), "--remote", &url]);
            s3.env(&mut c);
            c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let records: Vec<serde_json::Value> = racers
        .into_iter()
        .map(|c| {
            let o = out(c.wait_with_output().unwrap()).ok();
            serde_json::from_str(&o.stdout).unwrap()
        })
        .collect();
    // Every run ends with the same outputs: the winner's.
    let first = outputs(&records[0]);
    for r in &records {
        assert_eq!(outputs(r), first, "{r}");
    }
    let keys: BTreeSet<String> = records
        .iter()
        .flat_map(|r| r["stages"].as_object().unwrap().values().map(|s| s["key"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let remote = s3.remote("race");
    let remote_keys: BTreeSet<String> = remote.list_cache_keys().unwrap().iter().map(ContentHash::to_hex).collect();
    assert_eq!(remote_keys, keys, "exactly one record per key");
    // Every object a remote record names is there and hashes to its name.
    let dir = tempfile::tempdir().unwrap();
    for key in remote.list_cache_keys().unwrap() {
        let entry = remote.get_cache_record(&key).unwrap().unwrap();
        for (name, hash) in &entry.record.outputs {
            let size = remote.get_object(hash, &dir.path().join(hash.to_hex())).unwrap();
            assert_eq!(Some(size), entry.meta.get(name).map(|m| m.size));
            assert_eq!(Some(&serde_json::json!(hash.to_hex())), first[&entry.record.stage].get(name));
        }
    }
    // And each local store holds the winner's record.
    for i in 0..8 {
        let r = serde_json::from_str::<serde_json::Value>(
            &esteira(&b, &s3, &["run", "--json", "--store", &format!("s{i}")]).ok().stdout,
        )
        .unwrap();
        assert!(statuses_in(&r).iter().all(|(_, s)| s == "cached"), "store s{i}: {r}");
        assert_eq!(outputs(&r), first);
    }
}

#[test]
fn a_corrupted_remote_object_is_detected_and_its_stage_recomputed() {
    let Some(s3) = S3::new("corrupt") else { return };
    let b = demo();
    let url = s3.url("c");
    let (first, _) = run_json(&b, &s3, "a", &["--remote", &url]);
    let hash = first["stages"]["up"]["outputs"]["out"].as_str().unwrap().to_owned();
    let key = format!("c/objects/{}/{hash}", &hash[..2]);
    // Bit rot behind the metadata: same size, same recorded hash, other bytes.
    let mut bad = s3.get(&key);
    bad[0] ^= 0x20;
    s3.put(&key, bad, Attributes::from_iter([(Attribute::Metadata(HASH_METADATA.into()), hash.clone())]));

    let (second, o) = run_json(&b, &s3, "b", &["--remote", &url]);
    assert_eq!(second["stages"]["up"]["status"], "ran", "{}", o.stderr);
    assert!(o.stderr.contains("corrupt"), "{}", o.stderr);
    assert_eq!(outputs(&second), outputs(&first));
    assert_eq!(std::fs::read_to_string(b.path().join("b/latest/up/out.txt")).unwrap(), "HELLO WORLD!");
    // The recomputed object went up again: a third store gets the right bytes.
    let (third, o) = run_json(&b, &s3, "c", &["--remote", &url]);
    assert!(statuses_in(&third).iter().all(|(_, s)| s == "cached"), "{}", o.stderr);
    assert_eq!(remote_hits(&third).len(), 5);
    assert_eq!(std::fs::read_to_string(b.path().join("c/latest/up/out.txt")).unwrap(), "HELLO WORLD!");
}

#[test]
fn a_remote_that_is_down_is_a_warning_and_a_local_run() {
    // A port nobody listens on (no server needed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s3 = S3 { endpoint: format!("http://127.0.0.1:{port}"), bucket: "down".into() };
    let b = demo();
    let started = std::time::Instant::now();
    let o = esteira(&b, &s3, &["run", "--remote", "s3://down/x"]).ok();
    assert!(o.stdout.contains("5 ran, 0 cached"), "{}", o.stdout);
    assert!(o.stderr.contains("continuing with the local store only"), "{}", o.stderr);
    assert!(o.stderr.contains("s3://down/x"), "{}", o.stderr);
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    // The local store works as ever.
    let again = esteira(&b, &s3, &["run", "--remote", "s3://down/x"]).ok();
    assert!(again.stdout.contains("nothing ran"), "{}", again.stdout);
}

#[test]
fn read_only_uploads_nothing_and_the_flag_beats_the_environment_and_the_file() {
    let Some(s3) = S3::new("readonly") else { return };
    let b = demo();
    // The pipeline file names one prefix, the environment another, the flag a third.
    let text = std::fs::read_to_string(b.path().join("esteira.toml")).unwrap();
    b.write(
        "esteira.toml",
        &text.replace("name = \"demo\"", &format!("name = \"demo\"\nremote = \"{}\"", s3.url("file"))),
    );
    run_json(&b, &s3, "a", &[]);
    assert!(!s3.keys().is_empty() && s3.keys().iter().all(|k| k.starts_with("file/")), "{:?}", s3.keys());
    let mut c = b.cmd(&["run", "--store", "b"]);
    s3.env(&mut c);
    out(c.env("ESTEIRA_REMOTE", s3.url("env")).output().unwrap()).ok();
    assert!(s3.keys().iter().any(|k| k.starts_with("env/")));
    let mut c = b.cmd(&["run", "--store", "c", "--remote", &s3.url("flag")]);
    s3.env(&mut c);
    out(c.env("ESTEIRA_REMOTE", s3.url("env")).output().unwrap()).ok();
    assert!(s3.keys().iter().any(|k| k.starts_with("flag/")));

    // Read-only: hits come down, what runs stays local.
    let before = s3.keys();
    b.write("data/in.txt", "changed");
    let (r, o) = run_json(&b, &s3, "d", &["--remote-read-only"]);
    assert_eq!(r["stages"]["up"]["status"], "ran", "{}", o.stdout);
    assert!(remote_hits(&r).contains("src"), "{r}");
    assert_eq!(s3.keys(), before, "read-only uploaded something");
    let mut c = b.cmd(&["run", "--store", "e"]);
    s3.env(&mut c);
    b.write("data/in.txt", "changed again");
    out(c.env("ESTEIRA_REMOTE_READ_ONLY", "1").output().unwrap()).ok();
    assert_eq!(s3.keys(), before, "ESTEIRA_REMOTE_READ_ONLY=1 uploaded something");
}

#[test]
fn push_and_pull_move_a_run_between_two_stores() {
    let Some(s3) = S3::new("pushpull") else { return };
    let b = demo();
    let url = s3.url("runs");
    // A run made without the remote, pushed afterwards.
    let (made, _) = run_json(&b, &s3, "a", &[]);
    assert!(s3.keys().is_empty());
    let pushed = esteira(&b, &s3, &["push", "--store", "a", "--remote", &url]).ok();
    let id = made["id"].as_str().unwrap();
    assert!(pushed.stdout.contains(&format!("pushed run {id} to {url}")), "{}", pushed.stdout);
    assert!(pushed.stdout.contains("5 cache record(s) created"), "{}", pushed.stdout);
    let again = esteira(&b, &s3, &["push", "--store", "a", "--remote", &url, id]).ok();
    assert!(again.stdout.contains("0 object(s) uploaded"), "{}", again.stdout);

    let pulled = esteira(&b, &s3, &["pull", "--store", "b", "--remote", &url]).ok();
    assert!(pulled.stdout.contains(&format!("pulled run {id} from {url}")), "{}", pulled.stdout);
    assert!(pulled.stdout.contains("5 cache record(s) written"), "{}", pulled.stdout);
    let shown = esteira(&b, &s3, &["runs", "show", id, "--store", "b", "--json"]).ok();
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(outputs(&shown), outputs(&made));
    // The pulled store runs from its own cache, without the remote.
    let (local, _) = run_json(&b, &s3, "b", &[]);
    assert!(statuses_in(&local).iter().all(|(_, s)| s == "cached"), "{local}");
    assert!(remote_hits(&local).is_empty());

    // Without a remote, push says how to give one.
    let none = esteira(&b, &s3, &["push", "--store", "a"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("--remote s3://BUCKET/PREFIX"), "{}", none.stderr);
    // A run the remote does not have is named.
    let missing = esteira(&b, &s3, &["pull", "--store", "b", "--remote", &s3.url("elsewhere")]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}
