//! The `evaluate` stage end to end: a model trained by esteira-train on a synthetic table with
//! a planted signal, evaluated through `StageContext` and a real `LocalStore`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use esteira_core::{ArtifactStore, ContentHash, InputArtifact, LocalStore, Stage, StageContext, StageOutcome};
use esteira_evaluate::{EvaluateStage, Evaluation, register};
use esteira_train::{CvParams, GridEntry, LofParams, TrainParams, train};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Students whose pass probability rises with income and is higher for one group: a planted
/// signal of roughly the study's strength, plus a column that is pure noise.
fn students(n: usize, seed: u64) -> RecordBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut sexo, mut raca, mut renda, mut descricao) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let s = if rng.random_bool(0.5) { "F" } else { "M" };
        let r = ["Branca", "Parda", "Preta"][rng.random_range(0..3)];
        let income: f64 = rng.random_range(0.0..5.0);
        let logit = 0.4 + 0.9 * (income - 2.5) + if s == "F" { 0.8 } else { -0.2 };
        let passed = rng.random_bool(1.0 / (1.0 + (-logit).exp()));
        sexo.push(s);
        raca.push(r);
        renda.push((income * 100.0).round() / 100.0);
        descricao.push(if passed { "APROVADO" } else { "FALHOU" });
    }
    RecordBatch::try_from_iter([
        ("sexo", Arc::new(StringArray::from(sexo)) as ArrayRef),
        ("raca", Arc::new(StringArray::from(raca)) as ArrayRef),
        ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
        ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
    ])
    .unwrap()
}

fn params(grid: Vec<GridEntry>) -> TrainParams {
    TrainParams {
        derived: BTreeMap::new(),
        categorical: vec!["sexo".into(), "raca".into()],
        numeric: vec!["renda".into()],
        lof: LofParams { enabled: esteira_train::LofMode::Off, ..LofParams::default() },
        cv: CvParams { folds: 3, ..CvParams::default() },
        grid,
        ..TrainParams::default()
    }
}

fn run_stage(
    store: &Arc<LocalStore>,
    model_json: &[u8],
    train: &RecordBatch,
    test: &RecordBatch,
    stage_params: serde_json::Value,
) -> StageOutcome {
    let model = store.put_bytes(model_json).unwrap();
    let put_table = |t: &RecordBatch| {
        let mut parquet = Vec::new();
        esteira_core::table::write_parquet(&mut parquet, &t.schema(), std::slice::from_ref(t)).unwrap();
        store.put_bytes(&parquet).unwrap()
    };
    let (train, table) = (put_table(train), put_table(test));
    let input = |hash: ContentHash| InputArtifact { hash, path: store.object_path(&hash).unwrap() };
    let inputs = BTreeMap::from([
        ("model".to_owned(), input(model)),
        ("test".to_owned(), input(table)),
        ("train".to_owned(), input(train)),
    ]);
    let mut registry = esteira_core::Registry::new();
    register(&mut registry).unwrap();
    let stage = registry.build("evaluate", stage_params).unwrap();
    let mut ctx = StageContext::new("evaluate", inputs, stage.outputs(), Arc::clone(store) as Arc<dyn ArtifactStore>);
    stage.run(&mut ctx).unwrap();
    ctx.finish().unwrap()
}

fn read(store: &LocalStore, out: &StageOutcome, name: &str) -> Vec<u8> {
    std::fs::read(store.object_path(&out.outputs[name]).unwrap()).unwrap()
}

#[test]
fn logistic_model_beats_the_baseline_and_outputs_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    let training = students(600, 1);
    let trained =
        train(&params(vec![GridEntry::LogisticRegression { alpha: vec![1.0] }]), std::slice::from_ref(&training), "t")
            .unwrap();
    let model_json = trained.model.to_json();
    let test = students(400, 2);
    let stage_params = serde_json::json!({"bootstrap": 200, "seed": 5, "permutation_repeats": 2});
    let out = run_stage(&store, &model_json, &training, &test, stage_params.clone());

    let eval: Evaluation = serde_json::from_slice(&read(&store, &out, "metrics")).unwrap();
    let s = &eval.scores;
    assert_eq!(s.rows, 400);
    assert!(s.model.balanced_accuracy > 0.6, "balanced accuracy {}", s.model.balanced_accuracy);
    assert!(s.intervals.balanced_accuracy.unwrap().lower > 0.5);
    assert!(s.model.roc_auc.unwrap() > 0.65);
    assert_eq!(s.baseline.metrics.balanced_accuracy, 0.5);
    assert_eq!(s.baseline.prior_source, esteira_evaluate::PriorSource::Training);
    assert_eq!(out.metrics["balanced_accuracy"], serde_json::json!(s.model.balanced_accuracy));

    // The study's question: income and sex carry the signal, race none.
    let effects = eval.odds_ratios.as_ref().unwrap();
    assert!(effects.iter().any(|e| e.column == "sexo" && e.reference.is_some()));
    let renda = effects.iter().find(|e| e.column == "renda").unwrap();
    assert!(renda.odds_ratio > 1.5, "{renda:?}");
    let imp = &eval.permutation_importance;
    assert_eq!(imp[0].column, "renda", "{imp:?}");
    let raca = imp.iter().find(|c| c.column == "raca").unwrap();
    assert!(raca.mean_drop < imp[0].mean_drop / 4.0, "{imp:?}");

    // The inference model recovers the planted effects within their intervals: M against F is
    // -1.0 on the log-odds scale, race none (no group column here: naive errors).
    let fx = eval.effects.as_ref().unwrap();
    assert_eq!(fx.covariance, esteira_inference::Covariance::Naive);
    assert!(fx.converged && fx.warnings.is_empty(), "{:?}", fx.warnings);
    let m = fx.effects.iter().find(|e| e.name == "sexo=M").unwrap();
    let u = m.naive.unwrap();
    assert!(u.ci_low < -1.0 && -1.0 < u.ci_high, "{m:?}");
    assert_eq!(m.excludes_one(fx.covariance), Some(true));
    for e in fx.effects.iter().filter(|e| e.feature == "raca") {
        let u = e.naive.unwrap();
        assert!(u.ci_low < 0.0 && 0.0 < u.ci_high, "{e:?}");
    }
    let inference: Option<esteira_evaluate::Effects> =
        serde_json::from_slice(&read(&store, &out, "inference")).unwrap();
    assert_eq!(inference.as_ref(), Some(fx));
    // Calibration: Platt fitted on the training rows, ECE with an interval.
    let c = &eval.calibration;
    assert!(c.platt.is_some() && c.platt_rows == 600, "{:?}", c.withheld);
    let i = c.model.ece_interval.unwrap();
    assert!(i.lower <= i.upper && (0.0..=1.0).contains(&c.model.ece));
    assert_eq!(c.model.reliability.iter().map(|b| b.count).sum::<usize>(), 400);
    let calibrator: esteira_evaluate::Calibrator = serde_json::from_slice(&read(&store, &out, "calibration")).unwrap();
    assert_eq!(calibrator.platt, c.platt);
    assert_eq!(out.metrics["ece"], serde_json::json!(c.model.ece));

    let html = String::from_utf8(read(&store, &out, "report")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("<svg") && html.contains("majority baseline") && html.contains("renda"));
    assert!(html.contains("inference model") && html.contains("Are the probabilities calibrated?"));
    assert!(html.contains("&#10033;") && html.contains("Platt scaling"));
    for chart in ["confusion", "roc", "pr", "effects", "reliability"] {
        assert!(read(&store, &out, chart).starts_with(b"<svg"), "{chart}");
    }

    let (schema, batches) = esteira_core::table::read_parquet(&store.object_path(&out.outputs["predictions"]).unwrap())
        .unwrap()
        .into_parts();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 400);
    for col in ["sexo", "descricao", "true_class", "probability_APROVADO", "predicted_class"] {
        assert!(schema.index_of(col).is_ok(), "{col}");
    }

    let again = run_stage(&store, &model_json, &training, &test, stage_params);
    assert_eq!(out.outputs, again.outputs, "same inputs and params must give byte-identical outputs");
}

#[test]
fn random_forest_has_no_odds_ratios_but_still_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    let grid = vec![GridEntry::RandomForest {
        n_trees: vec![15],
        max_depth: vec![4],
        min_samples_leaf: vec![5],
        max_samples: vec![0],
    }];
    let training = students(300, 3);
    let trained = train(&params(grid), std::slice::from_ref(&training), "t").unwrap();
    let out =
        run_stage(&store, &trained.model.to_json(), &training, &students(200, 4), serde_json::json!({"bootstrap": 50}));
    let eval: Evaluation = serde_json::from_slice(&read(&store, &out, "metrics")).unwrap();
    assert_eq!(eval.algorithm, "random_forest");
    assert!(eval.odds_ratios.is_none());
    assert!(!eval.permutation_importance.is_empty());
    // The inference model reads the forest's design all the same; its calibration is withheld.
    assert!(eval.effects.as_ref().is_some_and(|fx| !fx.effects.is_empty()));
    assert!(eval.calibration.platt.is_none() && eval.calibration.withheld.as_deref().unwrap().contains("overfitted"));
    let effects = String::from_utf8(read(&store, &out, "effects")).unwrap();
    assert!(effects.contains("intervals"), "{effects}");
}

#[test]
fn bad_params_and_bad_tables_are_clear_errors() {
    let mut registry = esteira_core::Registry::new();
    register(&mut registry).unwrap();
    let err = registry.build("evaluate", serde_json::json!({"bootstrapp": 10})).err().unwrap().to_string();
    assert!(err.contains("bootstrapp"), "{err}");
    let stage = EvaluateStage::from_params(serde_json::Value::Null).unwrap();
    assert_eq!(stage.params()["bootstrap"], 1000);
    assert_eq!(stage.params()["permutation_repeats"], 5);

    let trained =
        train(&params(vec![GridEntry::LogisticRegression { alpha: vec![1.0] }]), &[students(200, 1)], "t").unwrap();
    let test = students(10, 2).project(&[0, 1, 2]).unwrap();
    let err = esteira_evaluate::evaluate_model(
        &trained.model,
        &test.schema(),
        &[test],
        &esteira_evaluate::EvaluateParams::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`descricao`") && err.contains("missing"), "{err}");
}

#[test]
fn size_like_params_have_upper_bounds_checked_when_parsed() {
    // `bootstrap = 1000000000000` used to abort the process ("memory allocation failed") when
    // the stage ran; now the pipeline file is rejected, naming the key.
    let huge = 1_000_000_000_000_u64;
    for (key, limit) in [
        ("bootstrap", esteira_evaluate::MAX_BOOTSTRAP),
        ("permutation_repeats", esteira_evaluate::MAX_PERMUTATION_REPEATS),
        ("chart_effects", esteira_evaluate::MAX_CHART_EFFECTS),
    ] {
        let Err(err) = EvaluateStage::from_params(serde_json::json!({ key: huge })) else {
            panic!("{key} = {huge} accepted");
        };
        let esteira_core::CoreError::Param { key: named, message, .. } = &err else { panic!("{err}") };
        assert_eq!(named, key);
        assert!(message.contains(&limit.to_string()), "{message}");
        EvaluateStage::from_params(serde_json::json!({ key: limit })).unwrap();
    }
    // The library functions check too (they are public).
    let err = esteira_evaluate::bootstrap_intervals(&[true, false], &[0.9, 0.1], &[true, false], usize::MAX, 0);
    assert!(err.unwrap_err().to_string().contains("param `bootstrap`"));
}

#[test]
fn a_huge_class_value_is_cut_in_the_error() {
    // A 1 MB cell in the target column used to be repeated whole in the error.
    let test = students(20, 2);
    let huge = "Z".repeat(1 << 20);
    let mut outcomes: Vec<&str> = vec!["APROVADO"; test.num_rows()];
    outcomes[3] = &huge;
    let mut columns = test.columns().to_vec();
    columns[3] = Arc::new(StringArray::from(outcomes));
    let test = RecordBatch::try_new(test.schema(), columns).unwrap();
    let err = esteira_evaluate::labels(&test, "descricao", "APROVADO", "FALHOU").unwrap_err().to_string();
    assert!(err.len() < 1_000 && err.contains("row 3") && err.contains("chars]"), "{}", &err[..err.len().min(400)]);
}

#[test]
fn thread_count_does_not_change_a_byte_and_the_fast_importance_is_the_generic_one() {
    let data = students(3000, 31);
    let test = students(20_000, 32);
    for grid in [
        GridEntry::LogisticRegression { alpha: vec![1.0] },
        GridEntry::RandomForest {
            n_trees: vec![6],
            max_depth: vec![5],
            min_samples_leaf: vec![5],
            max_samples: vec![0],
        },
    ] {
        let model = train(&params(vec![grid]), std::slice::from_ref(&data), "h").unwrap().model;
        let evaluate = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let p = esteira_evaluate::EvaluateParams { bootstrap: 200, seed: 3, ..Default::default() };
            let out = pool
                .install(|| {
                    esteira_evaluate::evaluate_model_on(
                        &model,
                        &test.schema(),
                        std::slice::from_ref(&test),
                        std::slice::from_ref(&data),
                        &p,
                    )
                })
                .unwrap();
            assert!(out.evaluation.effects.is_some());
            let charts = format!("{}{}", out.charts.effects, out.charts.reliability);
            (
                serde_json::to_vec(&out.evaluation).unwrap(),
                out.report_html + &charts,
                out.evaluation.permutation_importance,
            )
        };
        let one = evaluate(1);
        let three = evaluate(3);
        assert_eq!(one.0, three.0, "{}: metrics", model.algorithm());
        assert_eq!(one.1, three.1, "{}: report", model.algorithm());
        // The importance scored from the model's encoding is the public, table-rebuilding one.
        let y = esteira_evaluate::labels(&test, "descricao", "APROVADO", "FALHOU").unwrap();
        let columns: Vec<String> = model.input_columns().into_iter().map(|c| c.name).collect();
        let generic = esteira_evaluate::permutation_importance(&test, &columns, &y, 5, 3, |b| {
            Ok(esteira_train::predict(&model, std::slice::from_ref(b))?)
        })
        .unwrap();
        assert_eq!(one.2, generic, "{}: importance", model.algorithm());
        assert_eq!(generic.len(), 3);
    }
}
