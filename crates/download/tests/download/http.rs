//! The fetch functions against real HTTP servers on 127.0.0.1.

use std::time::{Duration, Instant};

use super::common::{Reply, TestServer, body, ranged};
use esteira_download::{
    CsvOptions, DownloadError, FetchOptions, FetchOutcome, FetchReport, Validators, fetch_to_vec, read_csv,
};

fn quick() -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..FetchOptions::default()
    }
}

fn fetched(outcome: FetchOutcome) -> FetchReport {
    match outcome {
        FetchOutcome::Fetched(r) => r,
        FetchOutcome::NotModified { .. } => panic!("unexpected 304"),
    }
}

#[test]
fn normal_download_streams_and_hashes() {
    let full = body(300_000);
    let served = full.clone();
    let server = TestServer::start(move |_, _| Reply::new(200, served.clone()).header("ETag", "\"v1\""));
    let (bytes, outcome) = fetch_to_vec(&server.url, &quick()).unwrap();
    let report = fetched(outcome);
    assert_eq!(bytes, full);
    assert_eq!(report.status, Some(200));
    assert_eq!(report.bytes, 300_000);
    assert_eq!((report.attempts, report.resumed, report.restarted), (1, 0, 0));
    assert_eq!(report.hash.to_hex(), blake3::hash(&full).to_hex().to_string());
    assert_eq!(report.validators.etag.as_deref(), Some("\"v1\""));
}

#[test]
fn server_error_then_success_is_retried() {
    let full = body(1000);
    let served = full.clone();
    let server =
        TestServer::start(move |n, _| if n == 0 { Reply::new(500, "oops") } else { Reply::new(200, served.clone()) });
    let (bytes, outcome) = fetch_to_vec(&server.url, &quick()).unwrap();
    assert_eq!(bytes, full);
    assert_eq!(fetched(outcome).attempts, 2);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn persistent_server_error_fails_after_retries() {
    let server = TestServer::start(|_, _| Reply::new(503, "down"));
    let options = FetchOptions { retries: 2, ..quick() };
    let err = fetch_to_vec(&server.url, &options).unwrap_err();
    assert!(matches!(err, DownloadError::Transfer { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

#[test]
fn client_error_is_not_retried() {
    let server = TestServer::start(|_, _| Reply::new(404, "no"));
    let err = fetch_to_vec(&server.url, &quick()).unwrap_err();
    assert!(matches!(err, DownloadError::HttpStatus { status: 404, attempts: 1, .. }), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn dropped_connection_resumes_with_range() {
    let full = body(200_000);
    let served = full.clone();
    let server = TestServer::start(move |n, req| {
        if n == 0 { ranged(&served, req, "\"abc\"").cut_after(70_000) } else { ranged(&served, req, "\"abc\"") }
    });
    let (bytes, outcome) = fetch_to_vec(&server.url, &quick()).unwrap();
    let report = fetched(outcome);
    assert_eq!(bytes, full);
    assert_eq!((report.attempts, report.resumed, report.restarted), (2, 1, 0));
    let reqs = server.requests();
    // The resumption asks for the same resource again.
    assert!(reqs.iter().all(|r| r.method == "GET" && server.url.ends_with(&r.path)), "{reqs:?}");
    assert_eq!(reqs[0].header("range"), None);
    assert_eq!(reqs[1].header("range"), Some("bytes=70000-"));
    // The resume is guarded: a changed resource would be sent whole.
    assert_eq!(reqs[1].header("if-range"), Some("\"abc\""));
    assert_eq!(report.hash.to_hex(), blake3::hash(&full).to_hex().to_string());
}

#[test]
fn server_ignoring_range_restarts_from_scratch() {
    let full = body(100_000);
    let served = full.clone();
    let server = TestServer::start(move |n, _| {
        let r = Reply::new(200, served.clone()).header("ETag", "\"x\"");
        if n == 0 { r.cut_after(40_000) } else { r }
    });
    let (bytes, outcome) = fetch_to_vec(&server.url, &quick()).unwrap();
    let report = fetched(outcome);
    // No duplicated prefix: the sink started over.
    assert_eq!(bytes.len(), full.len());
    assert_eq!(bytes, full);
    assert_eq!((report.attempts, report.resumed, report.restarted), (2, 0, 1));
    assert_eq!(server.requests()[1].header("range"), Some("bytes=40000-"));
}

#[test]
fn short_body_against_content_length_fails_clearly() {
    // The server always promises 100 bytes more than it sends.
    let server = TestServer::start(|_, _| Reply::new(200, body(5000)).content_length(5100));
    let options = FetchOptions { retries: 2, ..quick() };
    let err = fetch_to_vec(&server.url, &options).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DownloadError::Transfer { attempts: 3, .. }), "{msg}");
    assert!(msg.contains("5000 of 5100 bytes"), "{msg}");
}

#[test]
fn slow_server_hits_the_timeout() {
    let server = TestServer::start(|_, _| Reply::new(200, "late").delay(Duration::from_secs(3)));
    let options = FetchOptions { timeout: Duration::from_millis(300), retries: 1, ..quick() };
    let err = fetch_to_vec(&server.url, &options).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DownloadError::Transfer { attempts: 2, .. }), "{msg}");
    assert!(msg.contains("timed out"), "{msg}");
}

#[test]
fn stall_in_the_middle_of_the_body_hits_the_idle_timeout_then_resumes() {
    // Headers and part of the body arrive, then nothing: the idle timeout (not a total
    // deadline) fires, and the next attempt resumes where the body stopped.
    let full = body(10_000);
    let served = full.clone();
    let server = TestServer::start(move |n, req| {
        let r = ranged(&served, req, "\"s\"");
        if n == 0 { r.cut_after(4_000).stall(Duration::from_secs(3)) } else { r }
    });
    let options = FetchOptions { timeout: Duration::from_millis(400), ..quick() };
    let (bytes, outcome) = fetch_to_vec(&server.url, &options).unwrap();
    assert_eq!(bytes, full);
    let report = fetched(outcome);
    assert_eq!((report.attempts, report.resumed), (2, 1));
    assert_eq!(server.requests()[1].header("range"), Some("bytes=4000-"));
}

#[test]
fn too_many_requests_honours_retry_after() {
    let server = TestServer::start(|n, _| {
        if n == 0 { Reply::new(429, "slow down").header("Retry-After", "1") } else { Reply::new(200, "ok") }
    });
    let started = Instant::now();
    let (bytes, outcome) = fetch_to_vec(&server.url, &quick()).unwrap();
    assert_eq!(bytes, b"ok");
    assert_eq!(fetched(outcome).attempts, 2);
    // The backoff alone is at most 50 ms here: waiting a second means Retry-After was used.
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
}

#[test]
fn retry_after_beyond_the_cap_fails_instead_of_waiting() {
    let server = TestServer::start(|_, _| Reply::new(429, "later").header("Retry-After", "86400"));
    let err = fetch_to_vec(&server.url, &quick()).unwrap_err().to_string();
    assert!(err.contains("retry after 86400 s"), "{err}");
}

#[test]
fn html_page_with_200_is_fetched_then_rejected_by_the_parser() {
    // Documented choice: fetch stores what the server sent (it is the raw artifact, and a
    // source need not be CSV); the CSV reader gives the clear error.
    let page = "<!DOCTYPE html>\n<html><head><title>Manutenção</title></head><body>Portal em manutenção</body></html>";
    let server = TestServer::start(move |_, _| Reply::new(200, page).header("Content-Type", "text/html"));
    let (bytes, outcome) = fetch_to_vec(&server.url, &quick()).unwrap();
    assert_eq!(fetched(outcome).status, Some(200));
    let err = read_csv(&bytes[..], &server.url, &CsvOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: not a CSV table: it looks like an HTML", server.url)), "{err}");
}

#[test]
fn conditional_request_gets_not_modified() {
    let server = TestServer::start(|_, req| {
        if req.header("if-none-match") == Some("\"v7\"") {
            Reply::new(304, "").header("ETag", "\"v7\"")
        } else {
            Reply::new(200, "fresh").header("ETag", "\"v8\"")
        }
    });
    let options = FetchOptions {
        validators: Some(Validators {
            etag: Some("\"v7\"".into()),
            last_modified: Some("Tue, 01 Dec 2020 10:00:00 GMT".into()),
        }),
        ..quick()
    };
    let (bytes, outcome) = fetch_to_vec(&server.url, &options).unwrap();
    assert!(bytes.is_empty());
    assert_eq!(
        outcome,
        FetchOutcome::NotModified {
            validators: Validators { etag: Some("\"v7\"".into()), last_modified: None },
            attempts: 1
        }
    );
    let req = &server.requests()[0];
    assert_eq!(req.header("if-modified-since"), Some("Tue, 01 Dec 2020 10:00:00 GMT"));
    // A changed resource comes back whole.
    let options =
        FetchOptions { validators: Some(Validators { etag: Some("\"v6\"".into()), last_modified: None }), ..quick() };
    let (bytes, outcome) = fetch_to_vec(&server.url, &options).unwrap();
    assert_eq!(bytes, b"fresh");
    assert_eq!(fetched(outcome).validators.etag.as_deref(), Some("\"v8\""));
}

#[test]
fn checksum_mismatch_fails_loudly() {
    let server = TestServer::start(|_, _| Reply::new(200, "tampered"));
    let expected = blake3::hash(b"original").to_hex().to_string();
    let options = FetchOptions { checksum: Some(expected.clone()), ..quick() };
    let err = fetch_to_vec(&server.url, &options).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DownloadError::ChecksumMismatch { bytes: 8, .. }), "{msg}");
    assert!(msg.contains(&expected) && msg.contains(&blake3::hash(b"tampered").to_hex().to_string()), "{msg}");
    // The right checksum passes.
    let options = FetchOptions { checksum: Some(blake3::hash(b"tampered").to_hex().to_string()), ..quick() };
    assert!(fetch_to_vec(&server.url, &options).is_ok());
}

#[test]
fn size_cap_is_enforced_from_content_length() {
    let server = TestServer::start(|_, _| Reply::new(200, body(10_000)));
    let options = FetchOptions { max_bytes: Some(4096), ..quick() };
    let err = fetch_to_vec(&server.url, &options).unwrap_err().to_string();
    assert!(err.contains("larger than max_bytes = 4096") && err.contains("10000"), "{err}");
}

#[test]
fn connection_refused_is_retried_then_reported() {
    // Bind then drop a listener: the port is (very likely) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/x.csv");
    let options = FetchOptions { retries: 1, ..quick() };
    let err = fetch_to_vec(&url, &options).unwrap_err();
    assert!(matches!(err, DownloadError::Transfer { attempts: 2, .. }), "{err}");
}

#[test]
fn file_sources_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, b"a;b\n1;2\n").unwrap();
    let (bytes, outcome) = fetch_to_vec(&format!("file://{}", path.display()), &quick()).unwrap();
    assert_eq!(bytes, b"a;b\n1;2\n");
    assert_eq!(fetched(outcome).status, None);
}
