//! Regression tests of the hardening issue: request size and error caps, timeouts, which
//! objects are served, and one policy for unknown categories.

use std::time::Duration;

use esteira_core::{ArtifactStore, CacheRecord, ContentHash, RunStatus};
use esteira_serve::AppState;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixture::{self, Running, client, sample_row};

use esteira_serve::{DEFAULT_MAX_ROWS as MAX_ROWS, MAX_ERRORS, Timeouts};

/// A server with the default limits (2 MiB bodies).
async fn start_default(f: &fixture::Fixture) -> Running {
    Running::start(AppState::load(f.store.clone(), None, None).unwrap()).await
}

/// `[{},{},…]` with `n` empty objects.
fn empty_rows(n: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(3 * n + 2);
    body.push(b'[');
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{}");
    }
    body.push(b']');
    body
}

async fn post(c: &reqwest::Client, url: String, body: Vec<u8>) -> (u16, Vec<u8>) {
    let res = c.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap().to_vec())
}

async fn input_count(c: &reqwest::Client, base: &str) -> usize {
    let card: Value = c.get(format!("{base}/api/model")).send().await.unwrap().json().await.unwrap();
    card["inputs"].as_array().unwrap().len()
}

const CSV_HEADER: &str = "id;sexo;ano_nascimento;raca;renda;possui_auxilio_alimentacao;possui_auxilio_residencia_moradia;\
                          possui_auxilio_transporte;grau_academico;area_conhecimento;estado_origem";
const CSV_ROW: &str = "F;1999;Pardo;1800,5;true;false;false;BACHARELADO;Ciências da Saúde;Paraíba";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_megabyte_list_of_empty_rows_gets_a_small_413() {
    let f = fixture::store();
    let srv = start_default(&f).await;
    let c = client();
    let body = empty_rows(666_666);
    assert!(body.len() < esteira_serve::DEFAULT_BODY_LIMIT);
    let (status, bytes) = post(&c, format!("{}/api/predict", srv.base), body).await;
    assert_eq!(status, 413);
    assert!(bytes.len() < 4096, "{} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"], "too_many_rows");
    assert_eq!(v["max_rows"], MAX_ROWS);
    assert!(v["message"].as_str().unwrap().contains("10000"), "{v}");
    // The server is fine afterwards.
    assert_eq!(c.get(format!("{}/healthz", srv.base)).send().await.unwrap().status(), 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_capped_and_counted() {
    let f = fixture::store();
    let srv = start_default(&f).await;
    let c = client();
    let inputs = input_count(&c, &srv.base).await;

    // At the row cap, every field of every row missing: the first errors and the total.
    let (status, bytes) = post(&c, format!("{}/api/predict", srv.base), empty_rows(MAX_ROWS)).await;
    assert_eq!(status, 422);
    assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"], "validation");
    assert_eq!(v["error_count"], MAX_ROWS * inputs);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), MAX_ERRORS);
    assert_eq!((errors[0]["row"].as_u64(), errors[inputs]["row"].as_u64()), (Some(0), Some(1)));
    assert!(v["message"].as_str().unwrap().contains(&(MAX_ROWS * inputs).to_string()), "{v}");
    // One row more is refused before any row is checked.
    let (status, _) = post(&c, format!("{}/api/predict", srv.base), empty_rows(MAX_ROWS + 1)).await;
    assert_eq!(status, 413);

    // The CSV endpoint: the same caps, errors named by line and column.
    let mut csv = format!("{CSV_HEADER}\n");
    for i in 0..MAX_ROWS {
        csv.push_str(&format!("{i};F;muito;Pardo;1800;true;false;false;BACHARELADO;Ciências da Saúde;Paraíba\n"));
    }
    let (status, bytes) = post(&c, format!("{}/api/predict.csv", srv.base), csv.clone().into_bytes()).await;
    assert_eq!(status, 422);
    assert!(bytes.len() < 64 * 1024, "{} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error_count"], MAX_ROWS);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), MAX_ERRORS);
    assert_eq!((errors[0]["line"].as_u64(), errors[0]["field"].as_str()), (Some(2), Some("ano_nascimento")));
    assert_eq!(errors[99]["line"], 101);
    csv.push_str(&format!("x;{CSV_ROW}\n"));
    let (status, bytes) = post(&c, format!("{}/api/predict.csv", srv.base), csv.into_bytes()).await;
    assert_eq!(status, 413);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"], "too_many_rows");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_categories_are_rejected_by_every_entry_point() {
    let f = fixture::store();
    let srv = start_default(&f).await;
    let c = client();

    // JSON: a per-row error naming the row and the field.
    let mut bad = sample_row();
    bad["sexo"] = json!("Zzz");
    let (status, bytes) =
        post(&c, format!("{}/api/predict", srv.base), serde_json::to_vec(&json!([sample_row(), bad])).unwrap()).await;
    assert_eq!(status, 422);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((v["errors"][0]["row"].as_u64(), v["errors"][0]["field"].as_str()), (Some(1), Some("sexo")));

    // CSV over HTTP: the line and the column, nothing scored.
    let csv = format!("{CSV_HEADER}\n1;{CSV_ROW}\n2;{}\n", CSV_ROW.replacen('F', "Zzz", 1));
    let (status, bytes) = post(&c, format!("{}/api/predict.csv", srv.base), csv.clone().into_bytes()).await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&bytes));
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((v["line"].as_u64(), v["field"].as_str()), (Some(3), Some("sexo")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("\"Zzz\""), "{v}");
    srv.stop().await;

    // `esteira predict`: the same error, and no output at all.
    let input = f.dir.path().join("unknown.csv");
    std::fs::write(&input, &csv).unwrap();
    let mut out = Vec::new();
    let e =
        esteira_serve::predict_from_store(&f.dir.path().join("artifacts"), None, None, &input, &mut out).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("line 3") && msg.contains("sexo") && msg.contains("\"Zzz\""), "{msg}");
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    // The library function (one pass, as for standard input): nothing written for a first chunk
    // with an invalid row; scored chunks before the first invalid one stay written, and the
    // error says so.
    let model = esteira_train::Model::from_json(&fixture::models().a).unwrap();
    let mut out = Vec::new();
    assert!(matches!(
        esteira_serve::predict_csv(&model, csv.as_bytes(), &mut out),
        Err(esteira_serve::ServeError::CsvValues { total: 1, written: 0, .. })
    ));
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    let mut long = format!("{CSV_HEADER}\n");
    for i in 0..5000 {
        long.push_str(&format!("{i};{CSV_ROW}\n"));
    }
    long.push_str(&format!("x;{}\n", CSV_ROW.replacen('F', "Zzz", 1)));
    let mut out = Vec::new();
    let e = esteira_serve::predict_csv(&model, long.as_bytes(), &mut out).unwrap_err();
    assert!(matches!(e, esteira_serve::ServeError::CsvValues { written: 4096, .. }), "{e}");
    assert!(e.to_string().contains("4096 row(s) had already been written when line 5002 was read"), "{e}");
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 4097);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_objects_a_stage_produced_are_served() {
    let f = fixture::store();
    // A newer run whose check stage read /etc/passwd through a `file:` input.
    let secret = f.store.put_bytes(b"root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let result = f.store.put_bytes(b"{\"success\": false}\n").unwrap();
    let mut run = f.store.run_get(&f.run_failed).unwrap();
    run.id = "20261103T100000Z-e5f6".into();
    run.status = RunStatus::Failed;
    let mut check = run.stages["check_clean"].clone();
    check.input_sources = [("table".to_owned(), "file:/etc/passwd".to_owned())].into();
    check.inputs = [("table".to_owned(), secret)].into();
    check.outputs = [("result".to_owned(), result)].into();
    check.output_files = [("result".to_owned(), "result.json".to_owned())].into();
    run.stages.insert("check_passwd".into(), check);
    run.order.push("check_passwd".into());
    f.store.run_put(&run).unwrap();
    // An output only a cache record lists (its run record was collected).
    let cached = f.store.put_bytes(b"{\"cached\": true}\n").unwrap();
    f.store
        .cache_put(&CacheRecord {
            key: ContentHash::of_bytes(b"a cache key"),
            kind: "check".into(),
            version: "1".into(),
            params: json!({}),
            inputs: [("table".to_owned(), secret)].into(),
            outputs: [("result".to_owned(), cached)].into(),
            metrics: std::collections::BTreeMap::default(),
            state: Value::Null,
            duration_ms: 1.0,
            run_id: "20251001T000000Z-gone".into(),
            stage: "check_old".into(),
        })
        .unwrap();
    let srv = start_default(&f).await;
    let c = client();
    for q in ["", "?download=1"] {
        let res = c.get(format!("{}/artifacts/{secret}{q}", srv.base)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{q}");
        assert!(!res.text().await.unwrap().contains("root:x:0:0"));
    }
    for h in [result, cached, f.report, f.model_a] {
        assert_eq!(c.get(format!("{}/artifacts/{h}", srv.base)).send().await.unwrap().status(), 200, "{h}");
    }
    srv.stop().await;
}

/// Bounds a test step that a broken server would never finish (far above the timeouts below, so
/// a slow machine does not fail the test).
const SAFETY: Duration = Duration::from_secs(60);

/// Reads until the peer closes (`Ok(bytes)`), or the safety bound passes (`Err`).
async fn read_until_closed(s: &mut TcpStream) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    match tokio::time::timeout(SAFETY, s.read_to_end(&mut out)).await {
        Ok(_) => Ok(out),
        Err(_) => Err("the server kept the connection open"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed() {
    let f = fixture::store();
    let short = Duration::from_millis(300);
    let timeouts = Timeouts { header_read: short, request: short, idle: short };
    let srv = Running::start_with(AppState::load(f.store.clone(), None, None).unwrap(), timeouts).await;
    let addr = srv.base.trim_start_matches("http://").to_owned();

    // A request head that never ends.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n").await.unwrap();
    read_until_closed(&mut s).await.unwrap();

    // A body that never ends: 408.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /api/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut s).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A keep-alive connection that goes quiet after its answer (two requests on it first).
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\nGET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut s).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    // Kept alive, then closed for idleness (not by the answers).
    assert!(!answer.to_ascii_lowercase().contains("connection: close"), "{answer}");

    // The server is fine afterwards.
    let res = client().get(format!("{}/healthz", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

/// Log lines written by a `tracing` subscriber, for tests.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of serving the fixture's store on `addr` (stopped as soon as it listens).
fn log_of_serving_on(f: &fixture::Fixture, addr: &str) -> String {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let opts = esteira_serve::ServeOptions {
        addr: addr.parse().unwrap(),
        ..esteira_serve::ServeOptions::new(f.dir.path().join("artifacts"))
    };
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(esteira_serve::serve_until(opts, |_, _| {}, async {})).unwrap();
    });
    String::from_utf8(log.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn listening_beyond_loopback_is_warned_about() {
    let f = fixture::store();
    let log = log_of_serving_on(&f, "0.0.0.0:0");
    assert!(log.contains("WARN") && log.contains("not a loopback address"), "{log}");
    let log = log_of_serving_on(&f, "127.0.0.1:0");
    assert!(log.contains("listening") && !log.contains("WARN"), "{log}");
}
