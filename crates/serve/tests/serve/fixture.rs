//! A real store for the tests: models trained with esteira-train on synthetic UFRN-shaped rows,
//! real objects, and run records shaped like the orchestrator's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use esteira_core::{ArtifactStore, ContentHash, LocalStore, RunRecord, RunStatus, StageRecord, StageStatus};
use esteira_serve::{AppState, Server, Timeouts};
use esteira_testkit::{XorShift, pairwise_auc};
use esteira_train::{Model, TrainParams, predict, train};

/// Uniform draws in [0, 1) for synthetic rows.
struct Rng(XorShift);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0.next_f64()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[((self.next() * xs.len() as f64) as usize).min(xs.len() - 1)]
    }
}

pub const AREAS: [&str; 4] = ["Ciências Exatas e da Terra", "Ciências da Saúde", "Ciências Humanas", "Engenharias"];

/// Students with 1-2 enrolment rows; passing depends on the food grant, income and age.
pub fn synthetic(students: usize, seed: u64) -> RecordBatch {
    let mut rng = Rng(XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1));
    let mut cols: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
    let (mut ano, mut renda) = (Vec::new(), Vec::new());
    for s in 0..students {
        let sexo = rng.pick(&["F", "M"]);
        let raca = rng.pick(&["Pardo", "Branco", "Negro", "Não Informado"]);
        let year = 2002 - (rng.next().powi(2) * 30.0) as i64;
        let estado = if rng.next() < 0.85 { "Rio Grande do Norte" } else { rng.pick(&["Paraíba", "Ceará"]) };
        let income = (rng.next() * 4000.0).round();
        let food = rng.next() < 0.3;
        let transport = rng.next() < 0.1;
        let housing = rng.next() < 0.1;
        let area = rng.pick(&AREAS);
        let grau = rng.pick(&["BACHARELADO", "LICENCIATURA"]);
        for _ in 0..=usize::from(rng.next() < 0.5) {
            let z = 1.0 + 1.4 * f64::from(u8::from(food)) + 0.0005 * (income - 2000.0) - 0.05 * (2000.0 - year as f64);
            let p = 1.0 / (1.0 + (-z).exp());
            let outcome = if rng.next() < p { "APROVADO" } else { "FALHOU" };
            for (k, v) in [
                ("id_discente", format!("d{seed}-{s}")),
                ("sexo", sexo.to_owned()),
                ("raca", raca.to_owned()),
                ("estado_origem", estado.to_owned()),
                ("area_conhecimento", area.to_owned()),
                ("grau_academico", grau.to_owned()),
                ("possui_auxilio_alimentacao", food.to_string()),
                ("possui_auxilio_transporte", transport.to_string()),
                ("possui_auxilio_residencia_moradia", housing.to_string()),
                ("descricao", outcome.to_owned()),
            ] {
                cols.entry(k).or_default().push(Some(v));
            }
            ano.push(Some(year));
            renda.push(Some(income));
        }
    }
    let mut fields: Vec<(&str, ArrayRef)> =
        cols.into_iter().map(|(k, v)| (k, Arc::new(StringArray::from(v)) as ArrayRef)).collect();
    fields.push(("ano_nascimento", Arc::new(Int64Array::from(ano)) as ArrayRef));
    fields.push(("renda", Arc::new(Float64Array::from(renda)) as ArrayRef));
    RecordBatch::try_from_iter(fields).unwrap()
}

pub fn params() -> TrainParams {
    TrainParams {
        group: Some("id_discente".into()),
        cv: esteira_train::CvParams { folds: 3, ..Default::default() },
        ..TrainParams::default()
    }
}

/// Model artifacts (JSON bytes), trained once per test process.
pub struct Models {
    /// The default params' model.
    pub a: Vec<u8>,
    /// A second model (fewer features) for the newer, failed run.
    pub b: Vec<u8>,
}

pub fn models() -> &'static Models {
    static M: OnceLock<Models> = OnceLock::new();
    M.get_or_init(|| {
        let data = synthetic(400, 1);
        let a = train(&params(), std::slice::from_ref(&data), "train-a").unwrap().model.to_json();
        let mut pb = params();
        pb.categorical.retain(|c| c != "raca" && c != "area_conhecimento");
        let b = train(&pb, &[data], "train-b").unwrap().model.to_json();
        Models { a, b }
    })
}

/// Test metrics of a model on fresh synthetic rows, computed here (not hard-coded).
fn test_metrics(model: &Model) -> BTreeMap<String, serde_json::Value> {
    let test = synthetic(150, 2);
    let p = predict(model, std::slice::from_ref(&test)).unwrap();
    let y: Vec<bool> = test
        .column_by_name("descricao")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .map(|v| v == Some("APROVADO"))
        .collect();
    let t = model.threshold();
    let (mut tp, mut tn, mut pos, mut neg) = (0.0, 0.0, 0.0, 0.0);
    for (&yi, &pi) in y.iter().zip(&p) {
        if yi {
            pos += 1.0;
            tp += f64::from(u8::from(pi >= t));
        } else {
            neg += 1.0;
            tn += f64::from(u8::from(pi < t));
        }
    }
    BTreeMap::from([
        ("rows".to_owned(), serde_json::json!(y.len())),
        ("accuracy".to_owned(), serde_json::json!((tp + tn) / (pos + neg))),
        ("balanced_accuracy".to_owned(), serde_json::json!(f64::midpoint(tp / pos, tn / neg))),
        ("roc_auc".to_owned(), serde_json::json!(pairwise_auc(&y, &p))),
        ("baseline_balanced_accuracy".to_owned(), serde_json::json!(0.5)),
    ])
}

fn stage(
    kind: &str,
    status: StageStatus,
    sources: &[(&str, &str)],
    inputs: &[(&str, ContentHash)],
    outputs: &[(&str, ContentHash, &str)],
    window: (f64, f64),
) -> StageRecord {
    StageRecord {
        kind: kind.into(),
        version: "1".into(),
        params: serde_json::json!({}),
        key: Some(ContentHash::of_bytes(kind.as_bytes())),
        status,
        input_sources: sources.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        inputs: inputs.iter().map(|(k, h)| ((*k).to_owned(), *h)).collect(),
        outputs: outputs.iter().map(|(k, h, _)| ((*k).to_owned(), *h)).collect(),
        output_files: outputs.iter().map(|(k, _, f)| ((*k).to_owned(), (*f).to_owned())).collect(),
        output_media: BTreeMap::new(),
        metrics: BTreeMap::new(),
        start_ms: window.0,
        end_ms: window.1,
        error: None,
        remote_hit: false,
        job: None,
    }
}

/// What a test gets: a store with two runs and the hashes in it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Arc<LocalStore>,
    /// The older, succeeded run (model A, evaluated).
    pub run_ok: String,
    /// The newer, failed run (model B trained, evaluation failed).
    pub run_failed: String,
    pub model_a: ContentHash,
    pub model_b: ContentHash,
    pub report: ContentHash,
    pub check_report: ContentHash,
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// The `calibration` output of the succeeded run's evaluate stage, when it has one.
    pub calibration: Option<ContentHash>,
}

/// The Platt map of the fixture's calibrator (`a`, `b`): made up, not fitted; a slope away from
/// 1 and an intercept away from 0 so a formula that swapped or dropped one would show.
pub const PLATT: (f64, f64) = (0.35, 1.8);

/// The calibrator as evaluate 6 writes it (`esteira-calibrator/1`, serde_json pretty).
pub fn calibrator_json(intercept: f64, slope: f64) -> String {
    format!(
        "{{\n  \"format\": \"esteira-calibrator/1\",\n  \"method\": \"platt\",\n  \"platt\": {{\n    \
         \"intercept\": {intercept:?},\n    \"slope\": {slope:?}\n  }},\n  \"withheld\": null,\n  \
         \"positive_class\": \"APROVADO\",\n  \"fitted_rows\": 583\n}}"
    )
}

/// What the succeeded run's evaluate stage recorded as its `calibration` output.
#[derive(Clone, Copy)]
pub enum Cal<'a> {
    /// An evaluate stage before version 6: no such output.
    None,
    /// These bytes.
    Bytes(&'a [u8]),
}

pub const REPORT_HTML: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Evaluation</title></head>\
    <body><h1>Evaluation report</h1><p>balanced accuracy in the table below</p></body></html>\n";

/// A new store with the two runs; the succeeded one's evaluate stage wrote the [`PLATT`]
/// calibrator.
pub fn store() -> Fixture {
    let cal = calibrator_json(PLATT.0, PLATT.1);
    store_with(Cal::Bytes(cal.as_bytes()))
}

/// [`store`] with another `calibration` output (or none).
pub fn store_with(cal: Cal<'_>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("artifacts")).unwrap());
    let m = models();
    let model_a = store.put_bytes(&m.a).unwrap();
    let model_b = store.put_bytes(&m.b).unwrap();
    let table = store.put_bytes(b"PAR1 pretend parquet train split").unwrap();
    let test = store.put_bytes(b"PAR1 pretend parquet test split").unwrap();
    let cv = store.put_bytes(b"{\"folds\": 3}\n").unwrap();
    let report = store.put_bytes(REPORT_HTML.as_bytes()).unwrap();
    let check_report = store
        .put_bytes(b"<!DOCTYPE html><html><body><h1>Data check: 12 of 12 expectations met</h1></body></html>\n")
        .unwrap();
    let check_result = store.put_bytes(b"{\"success\": true}\n").unwrap();
    let metrics = test_metrics(&Model::from_json(&m.a).unwrap());
    let metrics_obj = store.put_bytes(&serde_json::to_vec_pretty(&metrics).unwrap()).unwrap();
    let calibration = match cal {
        Cal::None => None,
        Cal::Bytes(b) => Some(store.put_bytes(b).unwrap()),
    };

    let record = |id: &str, status: RunStatus, model: ContentHash, evaluated: bool| {
        let mut stages = BTreeMap::new();
        stages.insert(
            "check_clean".to_owned(),
            stage(
                "check",
                StageStatus::Cached,
                &[("table", "file:data/clean.parquet")],
                &[("table", table)],
                &[
                    ("table", table, "table.parquet"),
                    ("result", check_result, "result.json"),
                    ("report", check_report, "report.html"),
                ],
                (0.0, 40.0),
            ),
        );
        stages.insert(
            "segregate".to_owned(),
            stage(
                "segregate",
                StageStatus::Cached,
                &[("table", "check_clean.table")],
                &[("table", table)],
                &[("train", table, "train.parquet"), ("test", test, "test.parquet")],
                (40.0, 90.0),
            ),
        );
        let mut train = stage(
            "train",
            StageStatus::Ran,
            &[("train", "segregate.train")],
            &[("train", table)],
            &[("model", model, "model.json"), ("cv", cv, "cv.json")],
            (90.0, 1500.0),
        );
        train.metrics.insert("algorithm".into(), serde_json::json!("logistic_regression"));
        stages.insert("train".to_owned(), train);
        let mut eval_outputs: Vec<(&str, ContentHash, &str)> = Vec::new();
        if evaluated {
            eval_outputs.extend([("metrics", metrics_obj, "metrics.json"), ("report", report, "report.html")]);
            eval_outputs.extend(calibration.map(|h| ("calibration", h, "calibration.json")));
        }
        let mut evaluate = stage(
            "evaluate",
            if evaluated { StageStatus::Ran } else { StageStatus::Failed },
            &[("model", "train.model"), ("test", "segregate.test")],
            &[("model", model), ("test", test)],
            &eval_outputs,
            (1500.0, 1900.0),
        );
        if evaluated {
            evaluate.metrics = metrics.clone();
        } else {
            evaluate.error = Some("evaluate: the test split has no FALHOU rows".into());
        }
        stages.insert("evaluate".to_owned(), evaluate);
        RunRecord {
            id: id.to_owned(),
            status,
            pipeline: "esteira.toml".into(),
            config_hash: ContentHash::of_bytes(id.as_bytes()),
            esteira_version: "0.1.0".into(),
            build: esteira_core::store::BuildInfo::default(),
            command: "esteira run".into(),
            host: "test-host".into(),
            started_at: format!(
                "{}-{}-{}T{}:{}:{}Z",
                &id[..4],
                &id[4..6],
                &id[6..8],
                &id[9..11],
                &id[11..13],
                &id[13..15]
            ),
            ended_at: None,
            order: ["check_clean", "segregate", "train", "evaluate"].map(str::to_owned).to_vec(),
            overrides: Vec::new(),
            sweep: None,
            stages,
        }
    };
    let run_ok = "20261101T100000Z-a1b2".to_owned();
    let run_failed = "20261102T100000Z-c3d4".to_owned();
    store.run_put(&record(&run_ok, RunStatus::Succeeded, model_a, true)).unwrap();
    store.run_put(&record(&run_failed, RunStatus::Failed, model_b, false)).unwrap();
    Fixture { dir, store, run_ok, run_failed, model_a, model_b, report, check_report, metrics, calibration }
}

/// A running server on 127.0.0.1 with a free port.
pub struct Running {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn start(state: AppState) -> Self {
        Self::start_with(state, Timeouts::default()).await
    }

    pub async fn start_with(state: AppState, timeouts: Timeouts) -> Self {
        let server = Server::bind(state, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap().with_timeouts(timeouts);
        let addr = server.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self { base: format!("http://{addr}"), stop: Some(tx), task: Some(task) }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A valid form row (all raw columns of model A) as strings.
pub fn sample_row() -> serde_json::Value {
    serde_json::json!({
        "sexo": "F",
        "ano_nascimento": 1999,
        "raca": "Pardo",
        "renda": 1800.5,
        "possui_auxilio_alimentacao": "true",
        "possui_auxilio_residencia_moradia": "false",
        "possui_auxilio_transporte": "false",
        "grau_academico": "BACHARELADO",
        "area_conhecimento": "Ciências da Saúde",
        "estado_origem": "Paraíba",
    })
}

/// The calibrated probability of `p`, written out here from the formula evaluate documents
/// (`1 / (1 + exp(−(a + b·logit(p))))`, `p` clipped to `[1e-12, 1 − 1e-12]`), not from serve's code.
pub fn platt_by_hand(a: f64, b: f64, p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let logit = (p / (1.0 - p)).ln();
    1.0 / (1.0 + (-(a + b * logit)).exp())
}

/// The library's probability for a JSON row (numbers as Float64, text as Utf8).
pub fn library_probability(model: &Model, row: &serde_json::Value) -> f64 {
    let obj = row.as_object().unwrap();
    let mut fields: Vec<(&str, ArrayRef)> = Vec::new();
    for (k, v) in obj {
        let arr: ArrayRef = match v {
            serde_json::Value::Number(n) if n.is_i64() => Arc::new(Int64Array::from(vec![n.as_i64()])),
            serde_json::Value::Number(n) => Arc::new(Float64Array::from(vec![n.as_f64()])),
            serde_json::Value::String(s) => Arc::new(StringArray::from(vec![Some(s.as_str())])),
            serde_json::Value::Null => Arc::new(StringArray::from(vec![None::<&str>])),
            other => panic!("{other}"),
        };
        fields.push((k.as_str(), arr));
    }
    let batch = RecordBatch::try_from_iter(fields).unwrap();
    predict(model, &[batch]).unwrap()[0]
}
