//! A remote that is down or failing: bounded retries, `Unavailable`, and the layered store
//! carrying on with the local store only. No S3 server needed: a closed loopback port and a
//! loopback server that answers every request with 503.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use esteira_core::{ArtifactStore, ContentHash, LocalStore};
use esteira_remote::{BackoffConfig, LayeredStore, RemoteError, RemoteOptions, RemoteStore, RetryConfig, Shared};

use crate::common::{one, record, settings};

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn fast_retries(max_retries: usize) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            base: 2.0,
        },
        max_retries,
        retry_timeout: Duration::from_secs(30),
    }
}

fn remote_at(endpoint: &str, retry: RetryConfig) -> RemoteStore {
    let mut opts = RemoteOptions::without_env(settings(endpoint));
    opts.retry = retry;
    opts.connect_timeout = Duration::from_secs(2);
    RemoteStore::open("s3://esteira-tests/down", &opts).unwrap()
}

/// A server answering every request with `503 Service Unavailable`; counts requests.
fn always_503() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    // One request: headers up to the blank line (our requests here have no body).
                    let mut line = String::new();
                    let mut headers = 0;
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        headers += 1;
                    }
                    if headers == 0 {
                        return;
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                    let body = "<Error><Code>ServiceUnavailable</Code></Error>";
                    let answer = format!(
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nContent-Type: application/xml\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, count)
}

#[test]
fn a_closed_port_is_unavailable_after_bounded_retries() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let key = ContentHash::of_bytes(b"k");
    // esteira's default policy (5 retries, backoff up to 3 s).
    let remote = remote_at(&endpoint, esteira_remote::default_retry());
    let t0 = Instant::now();
    let err = remote.get_cache_record(&key).unwrap_err();
    println!("closed port, default retries: {err} after {:.1} s", t0.elapsed().as_secs_f64());
    assert!(err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("after 5 retries"), "{err}");
    let err = remote.ping().unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = remote.get_object(&key, &dir.path().join("x")).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times() {
    let (endpoint, count) = always_503();
    let remote = remote_at(&endpoint, fast_retries(3));
    let err = remote.get_cache_record(&ContentHash::of_bytes(b"k")).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 4, "one request and 3 retries");
    let err = remote.object_info(&ContentHash::of_bytes(b"o")).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 8);
}

#[test]
fn the_layered_store_degrades_to_local_only() {
    let (endpoint, count) = always_503();
    let remote = remote_at(&endpoint, fast_retries(2));
    let dir = tempfile::tempdir().unwrap();
    let store = LayeredStore::new(LocalStore::open(dir.path()).unwrap(), Some(remote), false);
    let h = store.put_bytes(b"computed here").unwrap();
    let r = record("k", serde_json::json!({}), BTreeMap::new(), one("out", h), "run");
    // A miss, not an error; then the remote is off for the rest of the process.
    assert_eq!(store.cache_entry(&r.key).unwrap(), None);
    assert!(store.active_remote().is_none());
    let asked = count.load(Ordering::SeqCst);
    assert_eq!(asked, 3);
    assert_eq!(store.cache_put_shared(&r, &[]).unwrap(), Shared::LocalOnly);
    assert_eq!(store.cache_entry(&r.key).unwrap().unwrap().record, r);
    assert!(!store.contains(&ContentHash::of_bytes(b"elsewhere")));
    assert_eq!(count.load(Ordering::SeqCst), asked, "no request once the remote is off");

    // connect() finds out before the first stage.
    let (endpoint, count) = always_503();
    let remote = remote_at(&endpoint, fast_retries(1));
    let store = LayeredStore::connect(LocalStore::open(dir.path()).unwrap(), Some(remote), false).unwrap();
    assert!(store.active_remote().is_none());
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn refused_credentials_are_not_an_outage() {
    let Some(ep) = crate::common::endpoint() else { return };
    let mut s = settings(&ep);
    s.retain(|(k, _)| k != "aws_secret_access_key");
    s.push(("aws_secret_access_key".into(), "wrong".into()));
    let remote = RemoteStore::open("s3://esteira-tests/denied", &RemoteOptions::without_env(s)).unwrap();
    let err = remote.ping().unwrap_err();
    assert!(matches!(err, RemoteError::Denied { .. }), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = LayeredStore::connect(LocalStore::open(dir.path()).unwrap(), Some(remote), false).unwrap_err();
    assert!(matches!(err, RemoteError::Denied { .. }), "{err}");
    // A bucket that does not exist is a configuration error too.
    let missing =
        RemoteStore::open("s3://esteira-no-such-bucket/x", &RemoteOptions::without_env(settings(&ep))).unwrap();
    let err = missing.ping().unwrap_err();
    assert!(matches!(err, RemoteError::Config { .. }), "{err}");
}
