//! HTTP tests against the real server on 127.0.0.1.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use esteira_core::{ArtifactStore, ContentHash};
use esteira_serve::{AppState, LoadedModel, ServeError};
use esteira_train::Model;
use serde_json::{Value, json};

use crate::fixture::{self, Running, client, library_probability, sample_row};

fn model_a() -> Model {
    Model::from_json(&fixture::models().a).unwrap()
}

async fn start(f: &fixture::Fixture) -> Running {
    let state = AppState::load(f.store.clone(), None, None).unwrap().with_body_limit(64 * 1024);
    Running::start(state).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_round_trip_equals_the_library() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let model = model_a();
    let row = sample_row();
    let res = c.post(format!("{}/api/predict", srv.base)).json(&row).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let p = body["predictions"][0]["probabilities"]["APROVADO"].as_f64().unwrap();
    assert_eq!(p, library_probability(&model, &row));
    assert_eq!(body["predictions"][0]["probabilities"]["FALHOU"].as_f64().unwrap(), 1.0 - p);
    let decision = if p >= model.threshold() { "APROVADO" } else { "FALHOU" };
    assert_eq!(body["predictions"][0]["decision"], decision);
    assert_eq!(body["model_hash"], f.model_a.to_hex());
    assert_eq!(body["run_id"], f.run_ok.as_str());
    assert_eq!(body["threshold"].as_f64().unwrap(), model.threshold());

    // A list, with extra columns of the preprocessed table, text numbers and a null.
    let mut r2 = sample_row();
    r2["renda"] = json!("950,25");
    r2["sexo"] = json!("M");
    r2["id_discente"] = json!("d1");
    r2["descricao"] = json!("FALHOU");
    let mut r3 = sample_row();
    r3["renda"] = Value::Null;
    r3["ano_nascimento"] = json!(1960);
    let res = c.post(format!("{}/api/predict", srv.base)).json(&json!([row, r2, r3])).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let preds = body["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 3);
    assert_eq!(preds[0]["probabilities"]["APROVADO"].as_f64().unwrap(), p);
    let mut r2_lib = r2.clone();
    r2_lib["renda"] = json!(950.25);
    assert_eq!(preds[1]["probabilities"]["APROVADO"].as_f64().unwrap(), library_probability(&model, &r2_lib));
    assert_eq!(preds[2]["probabilities"]["APROVADO"].as_f64().unwrap(), library_probability(&model, &r3));
    assert_eq!(body["ignored_fields"], json!(["descricao", "id_discente"]));
    let notes = preds[2]["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().starts_with("renda: missing, imputed")), "{notes:?}");
    assert!(notes.iter().any(|n| n.as_str().unwrap().contains("outside the training range")), "{notes:?}");
    srv.stop().await;
}

async fn errors_of(c: &reqwest::Client, base: &str, body: &str) -> (u16, Value) {
    let res = c
        .post(format!("{base}/api/predict"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

fn fields(v: &Value) -> Vec<(u64, String)> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_error_is_422_and_names_the_field() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let base = srv.base.as_str();

    // Missing field, unparseable number, unknown category, wrong JSON types — all reported at once.
    let mut bad = sample_row();
    bad.as_object_mut().unwrap().remove("sexo");
    bad["renda"] = json!("muito");
    bad["raca"] = json!("Marciano");
    bad["grau_academico"] = json!(["BACHARELADO"]);
    bad["ano_nascimento"] = json!(true);
    let (status, v) = errors_of(&c, base, &bad.to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(v["error"], "validation");
    let mut got = fields(&v);
    got.sort();
    let mut want: Vec<(u64, String)> =
        ["sexo", "renda", "raca", "grau_academico", "ano_nascimento"].iter().map(|f| (0, (*f).to_owned())).collect();
    want.sort();
    assert_eq!(got, want);
    let msg = |field: &str| {
        v["errors"].as_array().unwrap().iter().find(|e| e["field"] == field).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(msg("sexo").contains("missing"), "{}", msg("sexo"));
    assert!(msg("renda").contains("expected a number, got \"muito\""), "{}", msg("renda"));
    assert!(
        msg("raca").contains("\"Marciano\" is not a category") && msg("raca").contains("\"Pardo\""),
        "{}",
        msg("raca")
    );
    assert!(msg("grau_academico").contains("got a JSON array"), "{}", msg("grau_academico"));
    assert!(msg("ano_nascimento").contains("expected a number, got true"), "{}", msg("ano_nascimento"));

    // Errors carry the row index in a list; a non-object row is named.
    let mut second = sample_row();
    second["estado_origem"] = json!("Atlântida");
    let (status, v) = errors_of(&c, base, &json!([sample_row(), second, 7]).to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&v), [(1, "estado_origem".to_owned()), (2, String::new())]);

    // An empty list, a scalar body.
    for body in ["[]", "42", "\"x\""] {
        let (status, v) = errors_of(&c, base, body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{body}");
    }
    // Not JSON at all: 400 with the position.
    let (status, v) = errors_of(&c, base, "{\"sexo\": ").await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "invalid_json");
    assert!(v["message"].as_str().unwrap().contains("line 1"), "{v}");

    // The form: 422 page with the Portuguese message next to the field.
    let res = c
        .post(format!("{base}/"))
        .form(&[("sexo", "F"), ("ano_nascimento", "abc"), ("raca", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("esperava um número"), "{page}");
    assert!(page.contains("obrigatório"));
    assert!(!page.contains("id=\"resultado\""));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_get_413() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let rows: Vec<Value> = (0..2000).map(|_| sample_row()).collect();
    let big = serde_json::to_vec(&rows).unwrap();
    assert!(big.len() > 64 * 1024);
    let res = c.post(format!("{}/api/predict", srv.base)).body(big.clone()).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "too_large");
    assert!(v["message"].as_str().unwrap().contains("65536"));
    let res = c.post(format!("{}/api/predict.csv", srv.base)).body(big.clone()).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let form_body = format!("sexo={}", "F".repeat(70_000));
    let res = c
        .post(format!("{}/", srv.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // The server is fine afterwards.
    let res = c.get(format!("{}/healthz", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_runs_artifacts_and_paths_are_404() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let res = c.get(format!("{}/runs/19990101T000000Z-zzzz", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"not-found\"") && page.contains("no such run"), "{page}");
    // A prefix both runs share is ambiguous: also not a page.
    let res = c.get(format!("{}/runs/2026", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let absent = ContentHash::of_bytes(b"never stored");
    for path in [format!("/artifacts/{absent}"), "/artifacts/zz".into(), "/nope".into()] {
        let res = c.get(format!("{}{path}", srv.base)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = c.get(format!("{}/api/nope", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "not_found");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_all_get_their_own_answer() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let model = model_a();
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let (c, base) = (c.clone(), srv.base.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for j in 0..25u32 {
                let mut row = sample_row();
                row["renda"] = json!(f64::from(i * 100 + j * 7));
                row["ano_nascimento"] = json!(1975 + i64::from((i + j) % 28));
                let res = c.post(format!("{base}/api/predict")).json(&row).send().await.unwrap();
                assert_eq!(res.status(), 200);
                let v: Value = res.json().await.unwrap();
                out.push((row, v["predictions"][0]["probabilities"]["APROVADO"].as_f64().unwrap()));
            }
            out
        }));
    }
    let mut n = 0;
    for t in tasks {
        for (row, p) in t.await.unwrap() {
            assert_eq!(p, library_probability(&model, &row), "{row}");
            n += 1;
        }
    }
    assert_eq!(n, 400);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_card_and_health() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let card: Value = c.get(format!("{}/api/model", srv.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(card["model_hash"], f.model_a.to_hex());
    assert_eq!(card["run_id"], f.run_ok.as_str());
    assert_eq!(card["train_stage"], "train");
    assert_eq!(card["positive_class"], "APROVADO");
    let inputs = card["inputs"].as_array().unwrap();
    let names: Vec<&str> = inputs.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names[..2], ["ano_nascimento", "renda"]);
    assert!(names.contains(&"estado_origem") && names.contains(&"area_conhecimento"));
    let area = inputs.iter().find(|i| i["name"] == "area_conhecimento").unwrap();
    let mut areas = fixture::AREAS.map(str::to_owned).to_vec();
    areas.sort();
    assert_eq!(area["categories"], json!(areas));
    assert_eq!(area["label"], "Área de conhecimento");
    let metrics: BTreeMap<String, Value> = serde_json::from_value(card["test_metrics"].clone()).unwrap();
    assert_eq!(metrics, f.metrics);
    assert_eq!(card["evaluation"]["report_hash"], f.report.to_hex());
    assert!(
        card["feature_effects"].as_array().unwrap().iter().any(|e| e["feature"] == "possui_auxilio_alimentacao=true")
    );
    let health: Value = c.get(format!("{}/healthz", srv.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status": "ok", "model_hash": f.model_a.to_hex()}));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_endpoint_scores_and_reports_bad_lines() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let model = model_a();
    let header = "id;sexo;ano_nascimento;raca;renda;possui_auxilio_alimentacao;possui_auxilio_residencia_moradia;\
                  possui_auxilio_transporte;grau_academico;area_conhecimento;estado_origem";
    let csv = format!(
        "{header}\r\n1;F;1999;Pardo;1800,5;true;false;false;BACHARELADO;Ciências da Saúde;Paraíba\r\n\
         2;\"M\";1990;Branco;;false;false;true;LICENCIATURA;Engenharias;\"Rio Grande do Norte\"\r\n"
    );
    // A byte-order mark, as spreadsheet exports write, does not hide the first column.
    let res = c.post(format!("{}/api/predict.csv", srv.base)).body(format!("\u{feff}{csv}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let out = res.text().await.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        format!("{header};probability_APROVADO;probability_FALHOU;decision;calibrated_probability_APROVADO")
    );
    let p: f64 = lines[1].split(';').nth(11).unwrap().parse().unwrap();
    assert_eq!(p, library_probability(&model, &sample_row()));
    // Same rows, comma-separated: same probabilities, comma output.
    let comma = csv.replace(';', ",").replace("1800,5", "1800.5");
    let out2 = c.post(format!("{}/api/predict.csv", srv.base)).body(comma).send().await.unwrap().text().await.unwrap();
    let p2: f64 = out2.lines().nth(1).unwrap().split(',').nth(11).unwrap().parse().unwrap();
    assert_eq!(p, p2);

    let bad = format!("{header}\n1;F;1999;Pardo;muito;true;false;false;BACHARELADO;Engenharias;Paraíba\n");
    let res = c.post(format!("{}/api/predict.csv", srv.base)).body(bad).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!((v["line"].as_u64(), v["field"].as_str()), (Some(2), Some("renda")), "{v}");
    let res = c.post(format!("{}/api/predict.csv", srv.base)).body("id;sexo\n1;F\n").send().await.unwrap();
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("ano_nascimento"), "{v}");
    let ragged = format!("{header}\n1;F;1999\n");
    let res = c.post(format!("{}/api/predict.csv", srv.base)).body(ragged).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["line"], 2);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_shows_the_probability_without_javascript() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let page = c.get(format!("{}/", srv.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<form method=\"post\" action=\"/\""));
    assert!(!page.contains("<script"));
    for label in [
        "Sexo",
        "Ano de nascimento",
        "Raça",
        "Renda familiar",
        "Auxílio alimentação",
        "Auxílio moradia",
        "Auxílio transporte",
        "Grau acadêmico",
        "Área de conhecimento",
        "Estado de origem",
    ] {
        assert!(page.contains(label), "{label}");
    }
    // Choices come from the model.
    assert!(page.contains("<option value=\"Ciências Humanas\">Ciências Humanas</option>"));
    assert!(page.contains("<option value=\"true\">Sim</option>"));
    let row = sample_row();
    let form: Vec<(String, String)> = row
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    let res = c.post(format!("{}/", srv.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let p = library_probability(&model_a(), &row);
    assert!(page.contains(&format!("id=\"p-positive\" data-value=\"{p}\"")), "{page}");
    assert!(page.contains(&format!("id=\"p-negative\" data-value=\"{}\"", 1.0 - p)));
    assert!(page.contains("id=\"decision\"") && page.contains("id=\"caveat\""));
    assert!(page.contains("data-metric=\"balanced_accuracy\""));
    // The submitted values stay selected.
    assert!(page.contains("<option value=\"Paraíba\" selected>"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_browser_lists_runs_and_serves_artifacts() {
    let f = fixture::store();
    let srv = start(&f).await;
    let c = client();
    let list = c.get(format!("{}/runs", srv.base)).send().await.unwrap().text().await.unwrap();
    let (i_new, i_old) = (list.find(&f.run_failed).unwrap(), list.find(&f.run_ok).unwrap());
    assert!(i_new < i_old, "newest first");
    let shown = format!("{:.3}", f.metrics["balanced_accuracy"].as_f64().unwrap());
    assert!(list.contains(&shown), "headline metric {shown}");

    let page = c.get(format!("{}/runs/{}", srv.base, &f.run_ok[..12])).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    for s in ["stage-check_clean", "stage-segregate", "stage-train", "stage-evaluate"] {
        assert!(page.contains(&format!("id=\"{s}\"")), "{s}");
    }
    assert!(page.contains(&format!("/artifacts/{}?download=1", f.model_a)));
    assert!(page.contains(&format!("<iframe class=\"report\" src=\"/artifacts/{}\"", f.report)));
    assert!(page.contains(&format!("<iframe class=\"report\" src=\"/artifacts/{}\"", f.check_report)));
    assert!(page.contains("<svg") && page.contains("aria-label=\"pipeline DAG\""));
    let failed = c.get(format!("{}/runs/{}", srv.base, f.run_failed)).send().await.unwrap().text().await.unwrap();
    assert!(failed.contains("the test split has no FALHOU rows"));

    let res = c.get(format!("{}/artifacts/{}", srv.base, f.report)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(res.text().await.unwrap(), fixture::REPORT_HTML);
    let res = c.get(format!("{}/artifacts/{}?download=1", srv.base, f.model_a)).send().await.unwrap();
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"train-model.json\"");
    assert_eq!(res.bytes().await.unwrap().as_ref(), fixture::models().a.as_slice());
    srv.stop().await;
}

/// A failed stage's kept outputs (a failed check's report) are in its run record: the run page
/// links them and `/artifacts` serves them as produced objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_stages_kept_outputs_are_linked_and_served() {
    let f = fixture::store();
    let kept = f.store.put_bytes(b"<!DOCTYPE html><html><body><h1>FAILED - clean</h1></body></html>\n").unwrap();
    let mut run = f.store.run_get(&f.run_failed).unwrap();
    run.id = "20261103T100000Z-e5f6".into();
    let chk = run.stages.get_mut("check_clean").unwrap();
    chk.status = esteira_core::StageStatus::Failed;
    chk.outputs = BTreeMap::from([("report".to_owned(), kept)]);
    chk.error = Some("stage `check_clean`: suite `clean` failed 1 of 12 expectations".into());
    f.store.run_put(&run).unwrap();
    let srv = start(&f).await;
    let c = client();
    let page = c.get(format!("{}/runs/{}", srv.base, run.id)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("written before the stage failed"), "{page}");
    assert!(page.contains(&format!("/artifacts/{kept}?download=1")), "{page}");
    assert!(page.contains(&format!("<iframe class=\"report\" src=\"/artifacts/{kept}\"")), "{page}");
    let res = c.get(format!("{}/artifacts/{kept}?download=1", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"check_clean-report.html\"");
    assert!(res.text().await.unwrap().contains("FAILED - clean"));
    srv.stop().await;
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_change_the_store() {
    let f = fixture::store();
    let before = snapshot(f.dir.path());
    let srv = start(&f).await;
    let c = client();
    for path in
        ["/", "/runs", "/api/model", "/healthz", &format!("/runs/{}", f.run_ok), &format!("/artifacts/{}", f.report)]
    {
        assert_eq!(c.get(format!("{}{path}", srv.base)).send().await.unwrap().status(), 200, "{path}");
    }
    c.post(format!("{}/api/predict", srv.base)).json(&sample_row()).send().await.unwrap();
    c.post(format!("{}/api/predict", srv.base)).body("{").send().await.unwrap();
    srv.stop().await;
    assert_eq!(before, snapshot(f.dir.path()));
}

#[test]
fn model_choice_latest_succeeded_run_or_model_prefix() {
    let f = fixture::store();
    let store: Arc<dyn ArtifactStore> = f.store.clone();
    // Default: the newest run failed, so the older succeeded run's model.
    let l = LoadedModel::load(store.as_ref(), None, None).unwrap();
    assert_eq!((l.hash, l.run_id.as_deref()), (f.model_a, Some(f.run_ok.as_str())));
    assert_eq!(l.evaluation.as_ref().unwrap().metrics, f.metrics);
    // A chosen run, even a failed one, serves its model; it has no evaluation.
    let l = LoadedModel::load(store.as_ref(), Some("latest"), None).unwrap();
    assert_eq!((l.hash, l.run_id.as_deref()), (f.model_b, Some(f.run_failed.as_str())));
    assert!(l.evaluation.is_none());
    // A model by hash prefix.
    let l = LoadedModel::load(store.as_ref(), None, Some(&f.model_b.to_hex()[..10])).unwrap();
    assert_eq!((l.hash, l.train_stage.as_deref()), (f.model_b, Some("train")));
    // A model and a run that did not train it.
    let e = LoadedModel::load(store.as_ref(), Some(&f.run_ok), Some(&f.model_b.to_hex())).unwrap_err();
    assert!(e.to_string().contains("did not train this model"), "{e}");
    for (q, want) in
        [("xyz", "hex digits"), ("ffffffffffffffff", "no stage of the 2 run(s) in the store produced it as a model")]
    {
        let e = LoadedModel::load(store.as_ref(), None, Some(q)).unwrap_err();
        assert!(e.to_string().contains(want), "{q}: {e}");
    }
    assert!(matches!(LoadedModel::load(store.as_ref(), Some("1999"), None), Err(ServeError::Core(_))));
}

#[test]
fn a_corrupted_model_is_refused() {
    let f = fixture::store();
    let path = f.store.object_path(&f.model_a).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let i = bytes.iter().position(u8::is_ascii_digit).unwrap();
    bytes[i] = if bytes[i] == b'9' { b'8' } else { b'9' };
    std::fs::write(&path, bytes).unwrap();
    let e = LoadedModel::load(f.store.as_ref(), None, None).unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
}

#[test]
fn predict_from_store_scores_a_file() {
    let f = fixture::store();
    let input = f.dir.path().join("in.csv");
    let row = sample_row();
    let cols: Vec<&String> = row.as_object().unwrap().keys().collect();
    let vals: Vec<String> =
        row.as_object().unwrap().values().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
    std::fs::write(
        &input,
        format!("{}\n{}\n", cols.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","), vals.join(",")),
    )
    .unwrap();
    let mut out = Vec::new();
    let n = esteira_serve::predict_from_store(&f.dir.path().join("artifacts"), None, None, &input, &mut out).unwrap();
    assert_eq!(n, 1);
    let out = String::from_utf8(out).unwrap();
    let p: f64 = out.lines().nth(1).unwrap().split(',').nth(cols.len()).unwrap().parse().unwrap();
    assert_eq!(p, library_probability(&model_a(), &row));
    let e = esteira_serve::predict_from_store(&f.dir.path().join("nope"), None, None, &input, Vec::new()).unwrap_err();
    assert!(e.to_string().contains("not an esteira store"), "{e}");
}

/// `/sweeps/NAME`: the comparison page of a sweep's variants (their latest runs), linked from
/// each variant's run page; an unknown sweep is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_has_a_comparison_page() {
    use esteira_core::{ArtifactStore, SweepTag};
    let f = fixture::store();
    let base = f.store.run_get(&f.run_ok).unwrap();
    for (i, (id, alpha)) in [("20261104T100000Z-aaaa", 0.1), ("20261104T100001Z-bbbb", 10.0)].into_iter().enumerate() {
        let mut run = base.clone();
        run.id = id.into();
        run.sweep = Some(SweepTag {
            name: "alphas".into(),
            variant: Some(i),
            params: [("train.alpha".to_owned(), serde_json::json!(alpha))].into(),
        });
        let stage = run.stages.values_mut().next().unwrap();
        for (k, v) in [("roc_auc", 0.7 + alpha / 100.0), ("roc_auc_lower", 0.68), ("roc_auc_upper", 0.8)] {
            stage.metrics.insert(k.into(), serde_json::json!(v));
        }
        f.store.run_put(&run).unwrap();
    }
    let srv = start(&f).await;
    let c = client();
    let res = c.get(format!("{}/sweeps/alphas", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("20261104T100000Z-aaaa") && page.contains("20261104T100001Z-bbbb"), "{page}");
    assert!(page.contains("train.alpha") && page.contains("<svg"), "{page}");
    let run = c.get(format!("{}/runs/20261104T100001Z-bbbb", srv.base)).send().await.unwrap().text().await.unwrap();
    assert!(run.contains("href=\"/sweeps/alphas\"") && run.contains("variant 2"), "{run}");
    let res = c.get(format!("{}/sweeps/nope", srv.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    srv.stop().await;
}
