//! The calibrated chance: the evaluate stage's `calibration` output of the model's run, applied
//! by the JSON API, the CSV API, the form and `predict_from_store`, checked against the formula
//! written out in the fixture; its absence; and calibration files that cannot be used.

use esteira_core::ArtifactStore;
use esteira_serve::{AppState, Calibration, LoadedModel, ServeError};
use esteira_train::Model;
use serde_json::{Value, json};

use crate::fixture::{self, Cal, PLATT, Running, client, library_probability, platt_by_hand, sample_row};

fn model_a() -> Model {
    Model::from_json(&fixture::models().a).unwrap()
}

fn form_of(row: &Value) -> Vec<(String, String)> {
    row.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect()
}

fn csv_of(rows: &[Value]) -> String {
    let cols: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    let mut s = cols.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(";");
    for r in rows {
        let vals: Vec<String> = cols
            .iter()
            .map(|c| r[c.as_str()].as_str().map_or_else(|| r[c.as_str()].to_string(), str::to_owned))
            .collect();
        s.push('\n');
        s.push_str(&vals.join(";"));
    }
    s.push('\n');
    s
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calibrated_chance_is_platt_of_the_model_probability() {
    let f = fixture::store();
    let srv = Running::start(AppState::load(f.store.clone(), None, None).unwrap()).await;
    let c = client();
    let model = model_a();
    let (a, b) = PLATT;
    let mut r2 = sample_row();
    r2["possui_auxilio_alimentacao"] = json!("false");
    r2["renda"] = json!(300);
    let rows = [sample_row(), r2];

    let body: Value =
        c.post(format!("{}/api/predict", srv.base)).json(&json!(rows)).send().await.unwrap().json().await.unwrap();
    let preds = body["predictions"].as_array().unwrap();
    let mut calibrated = Vec::new();
    for (row, pred) in rows.iter().zip(preds) {
        let p = library_probability(&model, row);
        assert_eq!(pred["probabilities"]["APROVADO"].as_f64().unwrap(), p);
        let cal = pred["calibrated_probability"].as_f64().unwrap();
        assert!(close(cal, platt_by_hand(a, b, p)), "{cal} vs {}", platt_by_hand(a, b, p));
        // The made-up map moves every probability: a formula ignoring it would show.
        assert!((cal - p).abs() > 1e-3, "{cal} {p}");
        // The decision stays the model's: its threshold was chosen on the model's probabilities.
        assert_eq!(pred["decision"], if p >= model.threshold() { "APROVADO" } else { "FALHOU" });
        calibrated.push(cal);
    }
    let cal = &body["calibration"];
    assert_eq!(cal["available"], true, "{cal}");
    assert_eq!((cal["intercept"].as_f64(), cal["slope"].as_f64()), (Some(a), Some(b)));
    assert_eq!(cal["method"], "platt");
    assert_eq!(cal["stage"], "evaluate");
    assert_eq!(cal["fitted_rows"], 583);
    assert_eq!(cal["hash"], f.calibration.unwrap().to_hex());
    let card: Value = c.get(format!("{}/api/model", srv.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(&card["calibration"], cal);

    // The CSV API: a column after `decision`.
    let out =
        c.post(format!("{}/api/predict.csv", srv.base)).body(csv_of(&rows)).send().await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with(";decision;calibrated_probability_APROVADO"), "{}", lines[0]);
    for (line, want) in lines[1..].iter().zip(&calibrated) {
        let got: f64 = line.rsplit(';').next().unwrap().parse().unwrap();
        assert_eq!(got, *want, "{line}");
    }

    // The form: both probabilities and why they differ.
    let page = c.post(format!("{}/", srv.base)).form(&form_of(&rows[0])).send().await.unwrap().text().await.unwrap();
    let p = library_probability(&model, &rows[0]);
    assert!(page.contains(&format!("id=\"p-positive\" data-value=\"{p}\"")), "{page}");
    assert!(page.contains(&format!("id=\"p-calibrated\" data-value=\"{}\"", calibrated[0])), "{page}");
    assert!(page.contains("Probabilidade do modelo") && page.contains("Probabilidade calibrada"));
    assert!(page.contains("id=\"calibration-note\">Por que diferem") && page.contains("pesos de classe"), "{page}");
    assert!(page.contains("Platt (a = 0,350, b = 1,800)"), "{page}");
    srv.stop().await;

    // `esteira predict`: the same column, and it says which calibration it used.
    let input = f.dir.path().join("in.csv");
    std::fs::write(&input, csv_of(&rows)).unwrap();
    let mut out = Vec::new();
    let (n, used) =
        esteira_serve::predict_from_store_with(&f.dir.path().join("artifacts"), None, None, &input, &mut out, true)
            .unwrap();
    assert_eq!(n, 2);
    assert!(matches!(used, Calibration::Platt { .. }), "{used:?}");
    let out = String::from_utf8(out).unwrap();
    let got: Vec<f64> = out.lines().skip(1).map(|l| l.rsplit(';').next().unwrap().parse().unwrap()).collect();
    assert_eq!(got, calibrated);
}

async fn one_prediction(srv: &Running) -> Value {
    let body: Value = client()
        .post(format!("{}/api/predict", srv.base))
        .json(&sample_row())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_calibrator_only_the_model_probability_is_shown() {
    // An evaluate stage before version 6 wrote no `calibration` output.
    let f = fixture::store_with(Cal::None);
    let srv = Running::start(AppState::load(f.store.clone(), None, None).unwrap()).await;
    let body = one_prediction(&srv).await;
    let pred = &body["predictions"][0];
    assert!(pred["calibrated_probability"].is_null(), "{pred}");
    assert_eq!(pred["probabilities"]["APROVADO"].as_f64().unwrap(), library_probability(&model_a(), &sample_row()));
    assert_eq!(body["calibration"]["available"], false);
    let reason = body["calibration"]["reason"].as_str().unwrap();
    assert!(reason.contains("no `calibration` output") && reason.contains(&f.run_ok), "{reason}");
    let page = client()
        .post(format!("{}/", srv.base))
        .form(&form_of(&sample_row()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"p-positive\"") && !page.contains("id=\"p-calibrated\""), "{page}");
    assert!(page.contains("Sem probabilidade calibrada") && page.contains("no `calibration` output"), "{page}");
    let out = client()
        .post(format!("{}/api/predict.csv", srv.base))
        .body(csv_of(&[sample_row()]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(out.lines().next().unwrap().ends_with(";decision"), "{out}");
    srv.stop().await;

    // A calibrator the evaluate stage withheld (a random forest's).
    let withheld = fixture::calibrator_json(0.0, 1.0).replace(
        "\"platt\": {\n    \"intercept\": 0.0,\n    \"slope\": 1.0\n  },\n  \"withheld\": null",
        "\"platt\": null,\n  \"withheld\": \"a random forest's probabilities on its own training rows are overfitted\"",
    );
    assert!(withheld.contains("\"platt\": null"), "{withheld}");
    let f = fixture::store_with(Cal::Bytes(withheld.as_bytes()));
    let loaded = LoadedModel::load(f.store.as_ref(), None, None).unwrap();
    let reason = loaded.calibration.reason().unwrap();
    assert!(reason.contains("withheld") && reason.contains("random forest"), "{reason}");
    let srv = Running::start(AppState::new(f.store.clone(), loaded)).await;
    assert!(one_prediction(&srv).await["predictions"][0]["calibrated_probability"].is_null());
    srv.stop().await;

    // A model whose run's evaluate stage failed: no calibrator to take.
    let f = fixture::store();
    let b = LoadedModel::load(f.store.as_ref(), None, Some(&f.model_b.to_hex())).unwrap();
    let reason = b.calibration.reason().unwrap();
    assert!(reason.contains("no `evaluate` stage that evaluated this model"), "{reason}");
}

fn load_error(bytes: &[u8]) -> String {
    let f = fixture::store_with(Cal::Bytes(bytes));
    let e = AppState::load(f.store.clone(), None, None).unwrap_err();
    assert!(matches!(e, ServeError::Calibration { .. }), "{e:?}");
    let m = e.to_string();
    // The message names the object, the stage and the run, and the way past it.
    assert!(m.contains("`calibration` output of stage `evaluate`") && m.contains(&f.run_ok), "{m}");
    assert!(m.contains("--no-calibration"), "{m}");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_calibration_file_is_refused_naming_it() {
    let m = load_error(b"{\"format\": \"esteira-calibrator/1\", \"method\": \"pla");
    assert!(m.contains("not JSON"), "{m}");
    let good = fixture::calibrator_json(0.35, 1.8);
    let m = load_error(good.replace("\"slope\": 1.8", "\"slope\": \"1.8\"").as_bytes());
    assert!(m.contains("field `platt.slope`"), "{m}");
    let m = load_error(good.replace("\"intercept\": 0.35", "\"intercept\": 1e999").as_bytes());
    assert!(m.contains("out of range"), "{m}");
    let m = load_error(good.replace("\"intercept\": 0.35,\n", "").as_bytes());
    assert!(m.contains("field `platt.intercept`: missing"), "{m}");
    let m = load_error(good.replace("APROVADO", "FALHOU").as_bytes());
    assert!(m.contains("field `positive_class`") && m.contains("another model"), "{m}");
    let m = load_error(good.replace("calibrator/1", "calibrator/9").as_bytes());
    assert!(m.contains("field `format`") && m.contains("calibrator/9"), "{m}");

    // `predict` refuses too, writing nothing; without calibration both serve the model alone.
    let f = fixture::store_with(Cal::Bytes(b"[]"));
    let input = f.dir.path().join("in.csv");
    std::fs::write(&input, csv_of(&[sample_row()])).unwrap();
    let root = f.dir.path().join("artifacts");
    let mut out = Vec::new();
    let e = esteira_serve::predict_from_store(&root, None, None, &input, &mut out).unwrap_err();
    assert!(matches!(e, ServeError::Calibration { .. }) && out.is_empty(), "{e}");
    let (n, used) = esteira_serve::predict_from_store_with(&root, None, None, &input, &mut out, false).unwrap();
    assert_eq!(n, 1);
    assert!(used.reason().unwrap().contains("--no-calibration"), "{used:?}");
    let srv = Running::start(AppState::load_with(f.store.clone(), None, None, false).unwrap()).await;
    assert!(one_prediction(&srv).await["predictions"][0]["calibrated_probability"].is_null());
    srv.stop().await;

    // Bytes changed on disk after they were stored: the object no longer hashes to its name.
    let f = fixture::store();
    let path = f.store.object_path(&f.calibration.unwrap()).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    std::fs::write(&path, good.replace("1.8", "9.8")).unwrap();
    let e = LoadedModel::load(f.store.as_ref(), None, None).unwrap_err();
    assert!(matches!(e, ServeError::Calibration { .. }) && e.to_string().contains("corrupt"), "{e}");
}
