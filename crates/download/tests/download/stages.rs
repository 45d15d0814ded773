//! The `fetch` and `merge` stages run as the orchestrator runs them: a real store, a context,
//! previous cache records for revalidation.

#[path = "stages/merge_rules.rs"]
mod merge_rules;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::common::{Reply, TestServer};
use arrow::array::{Array, StringArray};
use esteira_core::{
    ArtifactStore, CacheRecord, ContentHash, InputArtifact, LocalStore, Registry, Stage, StageContext, StageOutcome,
    cache_key,
};
use serde_json::json;

fn store() -> (tempfile::TempDir, Arc<LocalStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("store")).unwrap());
    (dir, store)
}

fn build(kind: &str, params: serde_json::Value) -> Box<dyn Stage> {
    let mut registry = Registry::new();
    esteira_download::register(&mut registry).unwrap();
    registry.build(kind, params).unwrap()
}

/// Runs a stage; `previous` is the last outcome of the same stage (as the orchestrator would
/// hand it over from the cache).
fn run(
    stage: &dyn Stage,
    store: &Arc<LocalStore>,
    inputs: BTreeMap<String, InputArtifact>,
    previous: Option<&StageOutcome>,
    offline: bool,
    base_dir: &Path,
) -> Result<StageOutcome, String> {
    let hashes: BTreeMap<String, ContentHash> = inputs.iter().map(|(k, v)| (k.clone(), v.hash)).collect();
    let key = cache_key(stage.kind(), stage.version(), &stage.params(), &hashes);
    let previous = previous.map(|o| CacheRecord {
        key,
        kind: stage.kind().into(),
        version: stage.version().into(),
        params: stage.params(),
        inputs: hashes.clone(),
        outputs: o.outputs.clone(),
        metrics: o.metrics.clone(),
        state: o.state.clone(),
        duration_ms: 1.0,
        run_id: "r0".into(),
        stage: "s".into(),
    });
    let store_dyn: Arc<dyn ArtifactStore> = store.clone();
    let mut ctx = StageContext::new("s", inputs, stage.outputs(), store_dyn)
        .with_previous(previous)
        .with_offline(offline)
        .with_base_dir(base_dir);
    stage.run(&mut ctx).map_err(|e| e.to_string())?;
    ctx.finish().map_err(|e| e.to_string())
}

fn object(store: &LocalStore, outcome: &StageOutcome, name: &str) -> Vec<u8> {
    std::fs::read(store.object_path(&outcome.outputs[name]).unwrap()).unwrap()
}

#[test]
fn fetch_stage_downloads_then_revalidates_with_304() {
    let server = TestServer::start(|_, req| {
        if req.header("if-none-match") == Some("\"e1\"") {
            Reply::new(304, "")
        } else {
            Reply::new(200, "a;b\r\n1;2\r\n")
                .header("ETag", "\"e1\"")
                .header("Last-Modified", "Tue, 01 Dec 2020 10:00:00 GMT")
        }
    });
    let (dir, store) = store();
    let stage = build("fetch", json!({"url": server.url, "backoff_ms": 10}));
    assert!(stage.volatile());
    assert_eq!(stage.outputs()[0].file_name(), "data.csv");
    assert_eq!(stage.params()["retries"], 4, "defaults are filled");

    let first = run(stage.as_ref(), &store, BTreeMap::new(), None, false, dir.path()).unwrap();
    assert!(!first.reused);
    assert_eq!(object(&store, &first, "data"), b"a;b\r\n1;2\r\n");
    assert_eq!(first.metrics["http_status"], 200);
    assert_eq!(first.metrics["bytes"], 10);
    assert_eq!(first.state["etag"], "\"e1\"");

    let second = run(stage.as_ref(), &store, BTreeMap::new(), Some(&first), false, dir.path()).unwrap();
    assert!(second.reused, "a 304 counts as cached");
    assert_eq!(second.outputs, first.outputs);
    assert_eq!(second.metrics["http_status"], 304);
    assert_eq!(second.state["etag"], "\"e1\"", "validators carried to the next run");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("if-modified-since"), Some("Tue, 01 Dec 2020 10:00:00 GMT"));
}

#[test]
fn fetch_stage_offline() {
    let server = TestServer::start(|_, _| Reply::new(200, "x;y\n"));
    let (dir, store) = store();
    let stage = build("fetch", json!({"url": server.url}));
    let err = run(stage.as_ref(), &store, BTreeMap::new(), None, true, dir.path()).unwrap_err();
    assert_eq!(err, format!("offline and no previous fetch of {}", server.url));
    assert!(server.requests().is_empty());

    let online = run(stage.as_ref(), &store, BTreeMap::new(), None, false, dir.path()).unwrap();
    let offline = run(stage.as_ref(), &store, BTreeMap::new(), Some(&online), true, dir.path()).unwrap();
    assert!(offline.reused);
    assert_eq!(offline.outputs, online.outputs);
    assert_eq!(server.requests().len(), 1, "offline made no request");
}

#[test]
fn fetch_stage_with_pinned_checksum_skips_the_network_once_stored() {
    let server = TestServer::start(|_, _| Reply::new(200, "pinned;body\n"));
    let (dir, store) = store();
    let sum = blake3::hash(b"pinned;body\n").to_hex().to_string();
    let stage = build("fetch", json!({"url": server.url, "checksum": sum.to_uppercase()}));
    assert_eq!(stage.params()["checksum"], sum, "normalised to lowercase");
    let first = run(stage.as_ref(), &store, BTreeMap::new(), None, false, dir.path()).unwrap();
    assert_eq!(first.outputs["data"].to_hex(), sum);
    let second = run(stage.as_ref(), &store, BTreeMap::new(), Some(&first), false, dir.path()).unwrap();
    assert!(second.reused);
    assert_eq!(server.requests().len(), 1);

    let wrong = build("fetch", json!({"url": server.url, "checksum": "0".repeat(64)}));
    let err = run(wrong.as_ref(), &store, BTreeMap::new(), None, false, dir.path()).unwrap_err();
    assert!(err.contains("checksum mismatch"), "{err}");
}

#[test]
fn fetch_stage_file_source_uses_size_and_mtime() {
    let (dir, store) = store();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let file = dir.path().join("data/cursos.csv");
    std::fs::write(&file, "a;b\n1;2\n").unwrap();
    let stage = build("fetch", json!({"url": "file:data/cursos.csv"}));
    let first = run(stage.as_ref(), &store, BTreeMap::new(), None, false, dir.path()).unwrap();
    assert!(!first.reused);
    assert_eq!(object(&store, &first, "data"), b"a;b\n1;2\n");
    assert_eq!(first.state["file_size"], 8);

    let second = run(stage.as_ref(), &store, BTreeMap::new(), Some(&first), true, dir.path()).unwrap();
    assert!(second.reused, "unchanged file is reused (offline is fine for files)");

    // Same size, different content and mtime: copied again.
    std::fs::write(&file, "a;b\n3;4\n").unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(later).unwrap();
    let third = run(stage.as_ref(), &store, BTreeMap::new(), Some(&first), false, dir.path()).unwrap();
    assert!(!third.reused);
    assert_eq!(object(&store, &third, "data"), b"a;b\n3;4\n");

    let missing = build("fetch", json!({"url": "file:data/nope.csv"}));
    let err = run(missing.as_ref(), &store, BTreeMap::new(), None, false, dir.path()).unwrap_err();
    assert!(err.contains("data/nope.csv"), "{err}");
}

#[test]
fn fetch_stage_runs_on_a_blocking_thread_of_a_multi_thread_runtime() {
    let server = TestServer::start(|_, _| Reply::new(200, "k;v\n"));
    let (dir, store) = store();
    let stage = build("fetch", json!({"url": server.url}));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let base = dir.path().to_path_buf();
    let outcome = rt
        .block_on(async move {
            tokio::task::spawn_blocking(move || run(stage.as_ref(), &store, BTreeMap::new(), None, false, &base))
                .await
                .unwrap()
        })
        .unwrap();
    assert_eq!(outcome.metrics["http_status"], 200);
}

#[test]
fn fetch_params_are_checked() {
    let mut registry = Registry::new();
    esteira_download::register(&mut registry).unwrap();
    let err = registry.build("fetch", json!({"url": "ftp://x/y"})).err().unwrap().to_string();
    assert!(err.contains("param `url`") && err.contains("unsupported source"), "{err}");
    let err = registry.build("fetch", json!({"url": "https://x/y", "checksum": "abc"})).err().unwrap().to_string();
    assert!(err.contains("param `checksum`"), "{err}");
    let err = registry.build("fetch", json!({"url": "https://x/y", "retry": 3})).err().unwrap().to_string();
    assert!(err.contains("unknown field `retry`"), "{err}");
}

#[test]
fn fetch_size_like_params_have_upper_bounds() {
    // `timeout_secs = 1e300` was accepted, and `Duration::from_secs_f64` panicked when the stage
    // ran; a billion retries or a day of backoff ran "forever".
    let mut registry = Registry::new();
    esteira_download::register(&mut registry).unwrap();
    let cases = [
        ("timeout_secs", json!(1e300), "3600"),
        ("timeout_secs", json!(3601), "3600"),
        ("retries", json!(1_000_000_000), "100"),
        ("backoff_ms", json!(86_400_000), "60000"),
        ("max_bytes", json!(1_u64 << 41), "1099511627776"),
    ];
    for (key, value, limit) in cases {
        let mut params = json!({"url": "https://x/y"});
        params[key] = value.clone();
        let Err(esteira_core::CoreError::Param { key: named, message, .. }) = registry.build("fetch", params) else {
            panic!("{key} = {value} accepted");
        };
        assert_eq!(named, key);
        assert!(message.contains(limit), "{key}: {message}");
    }
    let at_bounds = json!({"url": "https://x/y", "timeout_secs": esteira_download::MAX_TIMEOUT_SECS,
        "retries": esteira_download::MAX_RETRIES, "backoff_ms": esteira_download::MAX_BACKOFF_MS,
        "max_bytes": esteira_download::MAX_FETCH_BYTES});
    registry.build("fetch", at_bounds).unwrap();
}

// ---------------------------------------------------------------- merge

fn input(store: &LocalStore, bytes: &[u8]) -> InputArtifact {
    let hash = store.put_bytes(bytes).unwrap();
    InputArtifact { hash, path: store.object_path(&hash).unwrap() }
}

const DISCENTES: &str = "\"id_discente\";\"sexo\";\"id_curso\";\"extra\"\r\n\
\"1\";\"F\";\"10\";\"a\"\r\n\
\"2\";\"M\";\"20\";\"b\"\r\n\
\"3\";\"F\";\"99\";\"c\"\r\n\
\"4\";\"M\";\"10\";\"d\"\r\n";

const SOCIO: &str = "\"id_discente\";\"renda\"\r\n\"1\";\"1.5\"\r\n\"2\";\"\"\r\n\"4\";\"3\"\r\n\"7\";\"9\"\r\n";

const CURSOS: &str =
    "\"id_curso\";\"area_conhecimento\";\"nome\"\r\n\"10\";\"Ciências Exatas\";\"X\"\r\n\"20\";\"Saúde\";\"Y\"\r\n";

// Student 1 has a duplicated enrolment row; student 2 has two different ones; 3 has no socio.
const MATRICULAS: &str = "\"id_turma\";\"discente\";\"descricao\"\r\n\
\"t1\";\"1\";\"APROVADO\"\r\n\
\"t1\";\"1\";\"APROVADO\"\r\n\
\"t2\";\"2\";\"REPROVADO\"\r\n\
\"t3\";\"2\";\"APROVADO\"\r\n\
\"t4\";\"3\";\"APROVADO\"\r\n";

fn merge_params() -> serde_json::Value {
    json!({
        "base": "discentes",
        "base_columns": ["id_discente", "sexo", "id_curso"],
        "joins": [
            {"input": "socio", "how": "inner", "on": ["id_discente"]},
            {"input": "cursos", "how": "left", "on": ["id_curso"], "columns": ["area_conhecimento"]},
            {"input": "matriculas", "how": "inner", "on": ["id_discente"],
             "columns": ["id_turma", "descricao"], "rename": {"discente": "id_discente"}},
        ],
    })
}

fn column(batch: &arrow::array::RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_owned())).collect()
}

fn merge_inputs(store: &LocalStore, cursos: &[u8]) -> BTreeMap<String, InputArtifact> {
    BTreeMap::from([
        ("discentes".to_owned(), input(store, DISCENTES.as_bytes())),
        ("socio".to_owned(), input(store, SOCIO.as_bytes())),
        ("cursos".to_owned(), input(store, cursos)),
        ("matriculas".to_owned(), input(store, MATRICULAS.as_bytes())),
    ])
}

#[test]
fn merge_stage_gives_exactly_the_rows_the_joins_imply() {
    let (dir, store) = store();
    // Course 20 is missing from the course table: the left join keeps its rows with nulls.
    let cursos_without_20 = "\"id_curso\";\"area_conhecimento\";\"nome\"\r\n\"10\";\"Ciências Exatas\";\"X\"\r\n";
    let inputs = merge_inputs(&store, cursos_without_20.as_bytes());
    let stage = build("merge", merge_params());
    assert_eq!(stage.inputs(), ["cursos", "discentes", "matriculas", "socio"]);
    let out = run(stage.as_ref(), &store, inputs, None, false, dir.path()).unwrap();

    let (schema, batches) =
        esteira_core::table::read_parquet(&store.object_path(&out.outputs["table"]).unwrap()).unwrap().into_parts();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id_discente", "sexo", "id_curso", "renda", "area_conhecimento", "id_turma", "descricao"]);
    let b = esteira_core::table::concat(&schema, &batches).unwrap();
    // discentes ⋈ socio: 1, 2, 4. ⋈ matriculas: 1 (t1 twice), 2 (t2, t3); 4 has none.
    // The duplicated t1 row is dropped: 3 rows.
    assert_eq!(b.num_rows(), 3);
    assert_eq!(column(&b, "id_discente"), [Some("1"), Some("2"), Some("2")].map(|s| s.map(String::from)));
    assert_eq!(column(&b, "id_turma"), [Some("t1"), Some("t2"), Some("t3")].map(|s| s.map(String::from)));
    assert_eq!(column(&b, "area_conhecimento"), [Some("Ciências Exatas".to_owned()), None, None]);
    assert_eq!(column(&b, "renda"), [Some("1.5".to_owned()), None, None], "empty CSV field is null");

    assert_eq!(out.metrics["rows_in"], 4);
    assert_eq!(out.metrics["rows_out"], 3);
    assert_eq!(out.metrics["duplicates_dropped"], 1);
    let joins = out.metrics["joins"].as_array().unwrap();
    assert_eq!(joins[0]["input"], "socio");
    assert_eq!(joins[0]["out_rows"], 3);
    assert_eq!(joins[0]["unmatched_left_keys"], 1); // student 3
    assert_eq!(joins[0]["unmatched_right_rows"], 1); // socio row of student 7
    assert_eq!(joins[1]["how"], "left");
    assert_eq!(joins[1]["out_rows"], 3);
    assert_eq!(joins[1]["unmatched_left_rows"], 1); // student 2's course 20
    assert_eq!(joins[2]["out_rows"], 4);
    assert_eq!(joins[2]["unmatched_left_rows"], 1); // student 4
    assert!(joins.iter().all(|j| j["blank_key_left_rows"] == 0 && j["blank_key_right_rows"] == 0), "{joins:?}");

    // Deterministic: the same inputs give the same bytes.
    let again =
        run(stage.as_ref(), &store, merge_inputs(&store, cursos_without_20.as_bytes()), None, false, dir.path())
            .unwrap();
    assert_eq!(again.outputs, out.outputs);
}

#[test]
fn merge_accepts_parquet_inputs_and_can_keep_duplicates() {
    let (dir, store) = store();
    // The course table as Parquet, as an upstream stage would write it.
    let cursos = esteira_download::read_csv(CURSOS.as_bytes(), "cursos", &esteira_download::CsvOptions::default())
        .unwrap()
        .table;
    let parquet = esteira_core::table::write_parquet(Vec::new(), &cursos.schema, &cursos.batches).unwrap();
    let inputs = merge_inputs(&store, &parquet);
    let mut params = merge_params();
    params["drop_duplicates"] = json!(false);
    let stage = build("merge", params);
    let out = run(stage.as_ref(), &store, inputs, None, false, dir.path()).unwrap();
    assert_eq!(out.metrics["rows_out"], 4);
    assert_eq!(out.metrics["duplicates_dropped"], 0);
    let (schema, batches) =
        esteira_core::table::read_parquet(&store.object_path(&out.outputs["table"]).unwrap()).unwrap().into_parts();
    let b = esteira_core::table::concat(&schema, &batches).unwrap();
    assert_eq!(column(&b, "area_conhecimento")[3].as_deref(), Some("Saúde"));
}

#[test]
fn merge_errors_name_the_table_and_column() {
    let (dir, store) = store();
    let mut params = merge_params();
    params["joins"][0]["on"] = json!(["id_aluno"]);
    let stage = build("merge", params);
    let err =
        run(stage.as_ref(), &store, merge_inputs(&store, CURSOS.as_bytes()), None, false, dir.path()).unwrap_err();
    assert!(err.contains("no column `id_aluno`"), "{err}");
    assert!(err.contains("discentes"), "{err}");

    // A ragged input is reported with its input name and line.
    let mut inputs = merge_inputs(&store, CURSOS.as_bytes());
    inputs.insert("socio".into(), input(&store, b"\"id_discente\";\"renda\"\r\n\"1\";\"2\"\r\n\"3\"\r\n"));
    let stage = build("merge", merge_params());
    let err = run(stage.as_ref(), &store, inputs, None, false, dir.path()).unwrap_err();
    assert_eq!(err, "input `socio`: line 3: ragged row: 1 field(s), but the header has 2 column(s)");

    let mut registry = Registry::new();
    esteira_download::register(&mut registry).unwrap();
    let err = registry.build("merge", json!({"base": "a", "joins": [{"input": "b", "how": "outer", "on": ["k"]}]}));
    let err = err.err().unwrap().to_string();
    assert!(err.contains("joins[0].how"), "{err}");
}

#[test]
fn merge_reports_rows_with_empty_join_keys() {
    // One enrolment in four has an empty student id: the inner join dropped it, and the merge's
    // metrics said nothing about why.
    let (dir, store) = store();
    let matriculas = "\"id_turma\";\"discente\";\"descricao\"\r\n\
\"t1\";\"1\";\"APROVADO\"\r\n\
\"t2\";\"\";\"REPROVADO\"\r\n\
\"t3\";\"2\";\"APROVADO\"\r\n\
\"t4\";\"4\";\"APROVADO\"\r\n";
    let mut inputs = merge_inputs(&store, CURSOS.as_bytes());
    inputs.insert("matriculas".into(), input(&store, matriculas.as_bytes()));
    let params = json!({
        "base": "matriculas",
        "base_rename": {"discente": "id_discente"},
        "joins": [{"input": "discentes", "how": "inner", "on": ["id_discente"], "columns": ["sexo"]}],
    });
    let stage = build("merge", params);
    let out = run(stage.as_ref(), &store, inputs, None, false, dir.path()).unwrap();
    assert_eq!(out.metrics["rows_out"], 3);
    let joins = out.metrics["joins"].as_array().unwrap();
    assert_eq!(joins[0]["blank_key_left_rows"], 1, "{joins:?}");
    assert_eq!(joins[0]["blank_key_right_rows"], 0, "{joins:?}");
    assert_eq!(joins[0]["unmatched_left_rows"], 1, "{joins:?}");
}
