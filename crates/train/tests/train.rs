//! End-to-end tests of the public API and the stage, on small synthetic tables with a planted
//! signal.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use esteira_core::{ArtifactStore, InputArtifact, LocalStore, Stage, StageContext};
use esteira_testkit::pairwise_auc;
use esteira_train::{
    Balance, GridEntry, GridPoint, InputKind, LofMode, LogisticParams, Model, Solver, ThresholdRule, TrainError,
    TrainParams, TrainStage, predict, predict_detailed, train,
};
use rand::{Rng, SeedableRng};

/// Students with 1-3 enrolment rows each. P(APROVADO) rises with the food grant and income
/// and falls with age; about 80 % pass.
fn synthetic(students: usize, seed: u64) -> RecordBatch {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut id, mut sexo, mut raca, mut ano, mut estado, mut renda, mut aux, mut out) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for s in 0..students {
        let sx = if rng.random::<f64>() < 0.52 { "F" } else { "M" };
        let rc = ["Pardo", "Branco", "Negro", "Não Informado"][rng.random_range(0..4)];
        let year: i64 = 2002 - (rng.random::<f64>().powi(2) * 35.0) as i64;
        let st = if rng.random::<f64>() < 0.9 { "Rio Grande do Norte" } else { "Paraíba" };
        let income = (rng.random::<f64>() * 3000.0).round();
        let grant = rng.random::<f64>() < 0.3;
        for _ in 0..rng.random_range(1..=3) {
            let z = 1.2 + 1.5 * f64::from(u8::from(grant)) + 0.0006 * (income - 1500.0) - 0.06 * (2000.0 - year as f64);
            let p = 1.0 / (1.0 + (-z).exp());
            id.push(format!("d{s}"));
            sexo.push((rng.random::<f64>() > 0.02).then_some(sx));
            raca.push(rc);
            ano.push((rng.random::<f64>() > 0.03).then_some(year));
            estado.push(st);
            renda.push((rng.random::<f64>() > 0.05).then_some(income));
            aux.push(grant);
            out.push(if rng.random::<f64>() < p { "APROVADO" } else { "FALHOU" });
        }
    }
    RecordBatch::try_from_iter([
        ("id_discente", Arc::new(StringArray::from(id)) as ArrayRef),
        ("sexo", Arc::new(StringArray::from(sexo)) as ArrayRef),
        ("raca", Arc::new(StringArray::from(raca)) as ArrayRef),
        ("ano_nascimento", Arc::new(Int64Array::from(ano)) as ArrayRef),
        ("estado_origem", Arc::new(StringArray::from(estado)) as ArrayRef),
        ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
        ("possui_auxilio_alimentacao", Arc::new(BooleanArray::from(aux)) as ArrayRef),
        ("descricao", Arc::new(StringArray::from(out)) as ArrayRef),
    ])
    .unwrap()
}

fn params() -> TrainParams {
    TrainParams {
        group: Some("id_discente".into()),
        categorical: ["sexo", "raca", "local_ou_de_fora", "possui_auxilio_alimentacao"].map(str::to_owned).to_vec(),
        numeric: vec!["idade".into(), "renda".into()],
        cv: esteira_train::CvParams { folds: 3, ..Default::default() },
        ..TrainParams::default()
    }
}

fn labels(batch: &RecordBatch) -> Vec<bool> {
    let col = batch.column_by_name("descricao").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    col.iter().map(|v| v == Some("APROVADO")).collect()
}

#[test]
fn logistic_regression_beats_chance_on_held_out_rows() {
    let trained = train(&params(), &[synthetic(600, 1)], "h").unwrap();
    let test = synthetic(400, 2);
    let p = predict(&trained.model, std::slice::from_ref(&test)).unwrap();
    let y = labels(&test);
    let a = pairwise_auc(&y, &p);
    assert!(a > 0.7, "held-out AUC {a}");
    // The threshold is not the all-APROVADO decision: both classes are predicted.
    let t = trained.model.threshold();
    let predicted_pos = p.iter().filter(|&&v| v >= t).count();
    assert!(predicted_pos > 0 && predicted_pos < p.len(), "threshold {t} predicts one class");
    assert_eq!(trained.model.algorithm(), "logistic_regression");
    assert_eq!(trained.cv.points.len(), 3);
    assert!(trained.cv.points.iter().all(|c| c.scores.len() == 3 && c.mean > 0.6));
    // The grant's odds ratio for passing is > 1 and names its reference category.
    let effects = trained.model.feature_effects().unwrap();
    let grant = effects.iter().find(|e| e.feature == "possui_auxilio_alimentacao=true").unwrap();
    assert!(grant.odds_ratio > 1.5, "{grant:?}");
    assert_eq!(grant.reference.as_deref(), Some("false"));
    assert!(!effects.iter().any(|e| e.column == "id_discente" || e.column == "ano_nascimento"));
}

#[test]
fn random_forest_beats_chance_and_is_deterministic() {
    let mut params = params();
    params.grid = vec![GridEntry::RandomForest {
        n_trees: vec![15],
        max_depth: vec![6],
        min_samples_leaf: vec![5],
        max_samples: vec![0],
    }];
    params.cv.folds = 2;
    let data = synthetic(250, 3);
    let a = train(&params, std::slice::from_ref(&data), "h").unwrap();
    let b = train(&params, &[data], "h").unwrap();
    assert_eq!(a.model.to_json(), b.model.to_json());
    assert_eq!(a.model.algorithm(), "random_forest");
    assert!(a.model.feature_effects().is_none());
    let test = synthetic(300, 4);
    let p = predict(&Model::from_json(&a.model.to_json()).unwrap(), std::slice::from_ref(&test)).unwrap();
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(pairwise_auc(&labels(&test), &p) > 0.65);
}

#[test]
fn random_forest_trees_can_grow_from_row_subsets() {
    let mut params = params();
    params.grid = vec![GridEntry::RandomForest {
        n_trees: vec![15],
        max_depth: vec![6],
        min_samples_leaf: vec![5],
        max_samples: vec![150],
    }];
    params.cv.folds = 2;
    let data = synthetic(250, 3);
    let a = train(&params, std::slice::from_ref(&data), "h").unwrap();
    let b = train(&params, std::slice::from_ref(&data), "h").unwrap();
    assert_eq!(a.model.to_json(), b.model.to_json());
    assert!(a.metrics.contains_key("cv_random_forest_trees_15_depth_6_leaf_5_samples_150_roc_auc"), "{:?}", a.metrics);
    let json = String::from_utf8(a.model.to_json()).unwrap();
    assert!(json.contains("\"max_samples\": 150"));
    let test = synthetic(300, 4);
    let p = predict(&Model::from_json(json.as_bytes()).unwrap(), std::slice::from_ref(&test)).unwrap();
    assert!(pairwise_auc(&labels(&test), &p) > 0.6);
    // Without a subset the artifact has no max_samples field (format 2 forests read the same).
    params.grid = vec![GridEntry::RandomForest {
        n_trees: vec![3],
        max_depth: vec![4],
        min_samples_leaf: vec![5],
        max_samples: vec![0],
    }];
    let whole = train(&params, std::slice::from_ref(&data), "h").unwrap();
    assert!(!String::from_utf8(whole.model.to_json()).unwrap().contains("max_samples"));
    let err =
        TrainStage::from_params(serde_json::json!({"grid": [{"algorithm": "random_forest", "max_samples": [1]}]}))
            .unwrap_err();
    assert!(err.to_string().contains("grid.max_samples"), "{err}");
}

#[test]
fn same_seed_gives_identical_bytes_and_a_new_seed_does_not() {
    let data = synthetic(300, 5);
    let a = train(&params(), std::slice::from_ref(&data), "h").unwrap().model.to_json();
    let b =
        train(&params(), &[data.slice(0, 100), data.slice(100, data.num_rows() - 100)], "h").unwrap().model.to_json();
    assert_eq!(a, b);
    let round_trip = Model::from_json(&a).unwrap().to_json();
    assert_eq!(a, round_trip);
    let mut other = params();
    other.seed = 7;
    assert_ne!(a, train(&other, &[data], "h").unwrap().model.to_json());
}

#[test]
fn predicts_rows_with_unseen_categories_and_nulls() {
    let model = train(&params(), &[synthetic(300, 6)], "h").unwrap().model;
    let row = RecordBatch::try_from_iter([
        ("sexo", Arc::new(StringArray::from(vec![Some("Outro"), None])) as ArrayRef),
        ("raca", Arc::new(StringArray::from(vec![None, Some("Indígena")])) as ArrayRef),
        ("ano_nascimento", Arc::new(Int64Array::from(vec![None, Some(1999)])) as ArrayRef),
        ("estado_origem", Arc::new(StringArray::from(vec![None, Some("Ignorado/exterior")])) as ArrayRef),
        ("renda", Arc::new(StringArray::from(vec![Some(""), Some("1200,5")])) as ArrayRef),
        ("possui_auxilio_alimentacao", Arc::new(BooleanArray::from(vec![None, Some(true)])) as ArrayRef),
    ])
    .unwrap();
    let pred = predict_detailed(&model, &[row]).unwrap();
    assert_eq!(pred.probabilities.len(), 2);
    assert!(pred.probabilities.iter().all(|p| p.is_finite() && *p > 0.0 && *p < 1.0));
    assert_eq!(pred.unseen, BTreeMap::from([("raca".to_owned(), 1), ("sexo".to_owned(), 1)]));
}

#[test]
fn input_columns_describe_the_raw_form() {
    let model = train(&params(), &[synthetic(200, 8)], "h").unwrap().model;
    let cols = model.input_columns();
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ano_nascimento", "renda", "sexo", "raca", "estado_origem", "possui_auxilio_alimentacao"]);
    let InputKind::Numeric { min, max, median } = cols[0].kind else { panic!("{:?}", cols[0]) };
    assert!(min >= 1967.0 && max <= 2002.0 && min <= median && median <= max);
    assert_eq!(
        cols[4].kind,
        InputKind::Categorical { categories: vec!["Paraíba".into(), "Rio Grande do Norte".into()] }
    );
    assert_eq!(model.target(), "descricao");
    assert_eq!((model.positive_class(), model.negative_class()), ("APROVADO", "FALHOU"));
}

#[test]
fn unknown_format_version_is_rejected_clearly() {
    let model = train(&params(), &[synthetic(150, 9)], "h").unwrap().model;
    let json = String::from_utf8(model.to_json()).unwrap();
    // Literal, not FORMAT_VERSION: bumping the version must be a deliberate edit here too.
    assert!(json.contains("\"format_version\": 3,"));
    let v4 = json.replacen("\"format_version\": 3", "\"format_version\": 4", 1);
    let msg = Model::from_json(v4.as_bytes()).unwrap_err().to_string();
    assert!(msg.contains("format_version 4") && msg.contains("only versions 1 to 3"), "{msg}");
    let msg = Model::from_json(b"{\"target\": \"x\"}").unwrap_err().to_string();
    assert!(msg.contains("format_version missing"), "{msg}");
    assert!(matches!(Model::from_json(b"{not json"), Err(TrainError::ModelJson { line: 1, .. })));
}

#[test]
fn lof_removal_is_counted_and_can_be_disabled() {
    let data = synthetic(300, 10);
    let with = train(&params(), std::slice::from_ref(&data), "h").unwrap();
    let mut off = params();
    off.lof.enabled = LofMode::Off;
    let without = train(&off, &[data], "h").unwrap();
    assert_eq!(without.model.training().outliers_removed, 0);
    let removed = with.model.training().outliers_removed;
    assert!(removed < with.model.training().rows / 10, "{removed}");
    assert_eq!(with.metrics["outliers_removed"], removed as f64);
}

#[test]
fn lof_cv_tries_both_settings_on_the_same_folds_and_scores_every_held_out_row() {
    let data = synthetic(300, 10);
    let mut p = params();
    p.lof.enabled = LofMode::Cv;
    let t = train(&p, std::slice::from_ref(&data), "h").unwrap();
    // Every grid point once with LOF and once without; folds cover all rows (held-out rows are
    // never filtered, new rows would not be either).
    assert_eq!(t.cv.points.len(), 6);
    assert_eq!(t.cv.points.iter().filter(|c| c.lof).count(), 3);
    assert_eq!(t.cv.fold_rows.iter().sum::<usize>(), data.num_rows());
    for alpha in ["0.1", "1", "10"] {
        for suffix in ["lof", "no_lof"] {
            assert!(t.metrics.contains_key(&format!("cv_logistic_regression_alpha_{alpha}_{suffix}_roc_auc")));
        }
    }
    let best = &t.cv.points[t.cv.selected];
    assert!(t.cv.points.iter().all(|c| c.mean <= best.mean));
    assert_eq!(t.metrics["lof_applied"], f64::from(u8::from(best.lof)));
    assert_eq!(t.model.training().outliers_removed > 0, best.lof);
    // Fixed settings keep the plain labels, and the setting is read from TOML as written.
    let on = train(&params(), std::slice::from_ref(&data), "h").unwrap();
    assert_eq!(on.cv.fold_rows.iter().sum::<usize>(), data.num_rows());
    assert!(on.cv.points.iter().all(|c| c.lof) && on.metrics["lof_applied"] == 1.0);
    assert!(on.metrics.contains_key("cv_logistic_regression_alpha_1_roc_auc"));
    let stage = TrainStage::from_params(serde_json::json!({"lof": {"enabled": "cv"}})).unwrap();
    assert_eq!(stage.params()["lof"]["enabled"], "cv");
    let stage = TrainStage::from_params(serde_json::json!({"lof": {"enabled": false}})).unwrap();
    assert_eq!(stage.params()["lof"]["enabled"], false);
    let err = TrainStage::from_params(serde_json::json!({"lof": {"enabled": "maybe"}})).unwrap_err();
    assert!(err.to_string().contains("lof.enabled") && err.to_string().contains("\"cv\""), "{err}");
}

#[test]
fn numeric_bins_are_fitted_on_training_rows_and_travel_in_the_artifact() {
    let data = synthetic(300, 16);
    let plain = train(&params(), std::slice::from_ref(&data), "h").unwrap().model;
    let p = TrainParams { numeric_bins: 4, ..params() };
    let binned = train(&p, std::slice::from_ref(&data), "h").unwrap().model;
    // Two numeric columns, 3 cuts each (birth years are integers, but 4 quartiles still differ).
    assert_eq!(binned.feature_names().len(), plain.feature_names().len() + 6);
    assert!(binned.feature_names().iter().any(|f| f.starts_with("idade >= ")), "{:?}", binned.feature_names());
    let effects = binned.feature_effects().unwrap();
    let bin = effects.iter().find(|e| e.feature.starts_with("renda [")).unwrap();
    assert_eq!(bin.column, "renda");
    assert!(bin.reference.as_deref().unwrap().starts_with("< "));
    let again = Model::from_json(&binned.to_json()).unwrap();
    assert_eq!(again.to_json(), binned.to_json());
    let probs = predict(&again, std::slice::from_ref(&data)).unwrap();
    assert_eq!(probs, predict(&binned, &[data]).unwrap());
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn bad_targets_and_params_are_named() {
    let data = synthetic(100, 11);
    let mut p = params();
    p.negative_class = Some("REPROVADO".into());
    let msg = train(&p, std::slice::from_ref(&data), "h").unwrap_err().to_string();
    assert!(msg.contains("column `descricao`, row") && msg.contains("REPROVADO"), "{msg}");
    let mut p = params();
    p.categorical.push("id_discente".into());
    let msg = train(&p, std::slice::from_ref(&data), "h").unwrap_err().to_string();
    assert!(msg.contains("group key `id_discente` is never a feature"), "{msg}");
    let mut p = params();
    p.numeric.push("ano_nascimento".into());
    let msg = train(&p, &[data], "h").unwrap_err().to_string();
    assert!(msg.contains("derived.idade"), "{msg}");
    let err = TrainStage::from_params(serde_json::json!({"cv": {"folds": 5, "metrik": "x"}})).unwrap_err();
    assert!(err.to_string().contains("metrik"), "{err}");
}

#[test]
fn stage_writes_model_and_cv_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    let data = synthetic(200, 12);
    let parquet = esteira_core::table::write_parquet(Vec::new(), &data.schema(), &[data]).unwrap();
    let hash = store.put_bytes(&parquet).unwrap();
    let toml_params = serde_json::json!({
        "group": "id_discente",
        "categorical": ["sexo", "raca", "local_ou_de_fora", "possui_auxilio_alimentacao"],
        "numeric": ["idade", "renda"],
        "scaling": "min_max",
        "lof": {"enabled": true, "k": 10},
        "threshold": "minority_f1",
        "cv": {"folds": 3, "metric": "balanced_accuracy"},
        "seed": 3,
        "balance": "weight",
        "grid": [{"algorithm": "logistic_regression", "alpha": [1.0, 5.0]}]
    });
    let stage = TrainStage::from_params(toml_params).unwrap();
    assert_eq!(stage.params()["lof"]["max_score"], 1.5);
    let inputs =
        BTreeMap::from([("train".to_owned(), InputArtifact { hash, path: store.object_path(&hash).unwrap() })]);
    let mut ctx = StageContext::new("train", inputs, stage.outputs(), store.clone());
    stage.run(&mut ctx).unwrap();
    let out = ctx.finish().unwrap();
    let model = Model::from_json(&std::fs::read(store.object_path(&out.outputs["model"]).unwrap()).unwrap()).unwrap();
    assert_eq!(model.training().data_hash, hash.to_hex());
    let cv: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.object_path(&out.outputs["cv"]).unwrap()).unwrap()).unwrap();
    assert_eq!(cv["points"].as_array().unwrap().len(), 2);
    assert_eq!(cv["metric"], "balanced_accuracy");
    assert!(out.metrics.contains_key("cv_logistic_regression_alpha_5_balanced_accuracy"));
    assert!(out.metrics.contains_key("outliers_removed"));
    assert_eq!(out.metrics["balance"], "weight");
}

#[test]
fn class_weights_need_no_random_draws() {
    let data = synthetic(400, 16);
    let base = TrainParams {
        balance: Balance::Weight,
        threshold: ThresholdRule::Fixed,
        grid: vec![GridEntry::LogisticRegression { alpha: vec![1.0] }],
        ..params()
    };
    let a = train(&base, std::slice::from_ref(&data), "h").unwrap();
    // scikit-learn's "balanced": n / (2 n_c) over the rows fitted, which are the inliers as they are.
    let counts = &a.model.training().class_counts;
    let (pos, neg) = (counts["APROVADO"] as f64, counts["FALHOU"] as f64);
    let n = pos + neg;
    assert_eq!(a.metrics["class_weight_positive"], n / (2.0 * pos));
    assert_eq!(a.metrics["class_weight_negative"], n / (2.0 * neg));
    assert_eq!(a.metrics["rows_fitted"], n);
    // Another seed changes the folds and the validation split, never the final fit: the same
    // coefficients to the bit (oversampling draws other rows, so its coefficients move).
    let coef = |t: &esteira_train::Trained| {
        t.model.feature_effects().unwrap().iter().map(|e| e.coefficient.to_bits()).collect::<Vec<u64>>()
    };
    let b = train(&TrainParams { seed: 7, ..base.clone() }, std::slice::from_ref(&data), "h").unwrap();
    assert_eq!(coef(&a), coef(&b));
    let over = TrainParams { balance: Balance::Oversample, ..base.clone() };
    let c = train(&over, std::slice::from_ref(&data), "h").unwrap();
    let d = train(&TrainParams { seed: 7, ..over }, std::slice::from_ref(&data), "h").unwrap();
    assert_ne!(coef(&c), coef(&d));
    assert!(!c.metrics.contains_key("class_weight_positive"));
    // Weighting moves the decision towards the minority class as oversampling does: both
    // classes are predicted at 0.5.
    let p = predict(&a.model, std::slice::from_ref(&data)).unwrap();
    let predicted_pos = p.iter().filter(|&&v| v >= 0.5).count();
    assert!(predicted_pos > 0 && predicted_pos < p.len());
}

#[test]
fn weight_falls_back_to_oversampling_where_the_fitter_has_no_weights() {
    let data = synthetic(200, 17);
    let forest = TrainParams {
        grid: vec![GridEntry::RandomForest {
            n_trees: vec![5],
            max_depth: vec![4],
            min_samples_leaf: vec![5],
            max_samples: vec![0],
        }],
        cv: esteira_train::CvParams { folds: 2, ..Default::default() },
        ..params()
    };
    let smartcore = TrainParams {
        grid: vec![GridEntry::LogisticRegression { alpha: vec![1.0] }],
        logistic: LogisticParams { solver: Solver::Smartcore, ..LogisticParams::default() },
        ..forest.clone()
    };
    for p in [forest, smartcore] {
        let point = &p.grid_points()[0];
        assert_eq!(Balance::Weight.effective(point, p.logistic.solver), Balance::Oversample);
        let weighted = train(&TrainParams { balance: Balance::Weight, ..p.clone() }, std::slice::from_ref(&data), "h");
        let oversampled = train(&TrainParams { balance: Balance::Oversample, ..p }, std::slice::from_ref(&data), "h");
        let (weighted, oversampled) = (weighted.unwrap(), oversampled.unwrap());
        assert_eq!(weighted.model.to_json(), oversampled.model.to_json());
        assert!(!weighted.metrics.contains_key("class_weight_positive"));
    }
    let lbfgs = GridPoint::LogisticRegression { alpha: 1.0 };
    assert_eq!(Balance::Weight.effective(&lbfgs, Solver::Lbfgs), Balance::Weight);
    assert_eq!(Balance::Undersample.effective(&lbfgs, Solver::Smartcore), Balance::Undersample);
    let err = TrainStage::from_params(serde_json::json!({"balance": "weights"})).unwrap_err();
    assert!(err.to_string().contains("weights"), "{err}");
}

#[test]
fn lbfgs_is_the_default_and_matches_smartcore() {
    let data = synthetic(500, 13);
    // smartcore takes no weights: compare the solvers on the same (oversampled) rows, whatever
    // the default.
    let params = || TrainParams { balance: Balance::Oversample, ..params() };
    let ours = train(&params(), std::slice::from_ref(&data), "h").unwrap();
    assert_eq!(ours.model.solver(), Some(Solver::Lbfgs));
    let json = String::from_utf8(ours.model.to_json()).unwrap();
    assert!(json.contains("\"solver\": \"lbfgs\"") && json.contains("\"stop\": \"gradient\""), "{json}");
    assert_eq!(ours.metrics["fits_not_converged"], 0.0);
    assert_eq!(ours.metrics["final_fit_converged"], 1.0);
    let mut sc = params();
    sc.logistic.solver = Solver::Smartcore;
    let theirs = train(&sc, std::slice::from_ref(&data), "h").unwrap();
    assert_eq!(theirs.model.solver(), Some(Solver::Smartcore));
    assert!(!String::from_utf8(theirs.model.to_json()).unwrap().contains("\"convergence\""));
    assert!(!theirs.metrics.contains_key("final_fit_iterations"));
    // Same folds, same objective: CV scores agree closely at scikit-learn's default tol...
    for (a, b) in ours.cv.points.iter().zip(&theirs.cv.points) {
        assert!((a.mean - b.mean).abs() < 1e-3, "{} vs {}", a.mean, b.mean);
    }
    assert_eq!(ours.model.training().selected, theirs.model.training().selected);
    // ...and the coefficients to 1e-4 once ours is run to smartcore's tightness.
    let mut tight = params();
    tight.logistic = LogisticParams { tol: 1e-8, ..LogisticParams::default() };
    let tight = train(&tight, std::slice::from_ref(&data), "h").unwrap();
    let coef = |m: &Model| m.feature_effects().unwrap().iter().map(|e| e.coefficient).collect::<Vec<f64>>();
    let (a, b) = (coef(&tight.model), coef(&theirs.model));
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-4), "{a:?}\n{b:?}");
    let loose = coef(&ours.model);
    assert!(loose.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-2), "{loose:?}\n{b:?}");
}

#[test]
fn non_convergence_is_a_metric_not_an_error() {
    let mut p = params();
    p.logistic.max_iter = 2;
    let t = train(&p, &[synthetic(300, 14)], "h").unwrap();
    // 3 alphas x 3 folds + the threshold split + the final fit.
    assert_eq!(t.metrics["fits_not_converged"], 11.0);
    assert_eq!((t.metrics["final_fit_converged"], t.metrics["final_fit_iterations"]), (0.0, 2.0));
    assert!(String::from_utf8(t.model.to_json()).unwrap().contains("\"stop\": \"max_iter\""));
    let err = TrainStage::from_params(serde_json::json!({"logistic": {"max_iter": 0}})).unwrap_err();
    assert!(err.to_string().contains("logistic.max_iter"), "{err}");
    let err = TrainStage::from_params(serde_json::json!({"logistic": {"solver": "newton"}})).unwrap_err();
    assert!(err.to_string().contains("newton"), "{err}");
}

#[test]
fn format_1_artifacts_still_load_as_smartcore_models() {
    let mut p = params();
    p.logistic.solver = Solver::Smartcore;
    let data = synthetic(200, 15);
    let model = train(&p, std::slice::from_ref(&data), "h").unwrap().model;
    let v3 = String::from_utf8(model.to_json()).unwrap();
    assert!(!v3.contains("bin_edges"));
    // A format 1 artifact is a format 3 one without bins (format 2) nor the solver fields.
    let v1 = v3.replacen("\"format_version\": 3", "\"format_version\": 1", 1).replacen(
        "\"solver\": \"smartcore\",\n",
        "",
        1,
    );
    assert!(!v1.contains("solver"));
    let old = Model::from_json(v1.as_bytes()).unwrap();
    assert_eq!(old.solver(), Some(Solver::Smartcore));
    assert_eq!(predict(&old, std::slice::from_ref(&data)).unwrap(), predict(&model, &[data]).unwrap());
    assert_eq!(old.to_json(), model.to_json());
}

/// The param error of `params` as (key, message); panics if they are accepted.
fn param_error(params: serde_json::Value) -> (String, String) {
    match TrainStage::from_params(params) {
        Err(esteira_core::CoreError::Param { key, message, .. }) => (key, message),
        Err(other) => panic!("not a param error: {other}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn size_like_params_have_upper_bounds_checked_when_parsed() {
    // Each of these used to be accepted and, when run, to allocate (rows x k neighbours, a
    // hundred million grid points) or loop far beyond any use.
    let huge = 1_000_000_000_000_u64;
    let rf = |key: &str, value: serde_json::Value| {
        let mut entry = serde_json::json!({"algorithm": "random_forest"});
        entry[key] = serde_json::json!([value]);
        serde_json::json!({ "grid": [entry] })
    };
    let cases = [
        (serde_json::json!({"lof": {"k": huge}}), "lof.k", "1000"),
        (serde_json::json!({"cv": {"folds": huge}}), "cv.folds", "100"),
        (serde_json::json!({"logistic": {"max_iter": huge}}), "logistic.max_iter", "100000"),
        (serde_json::json!({"numeric_bins": huge}), "numeric_bins", "100"),
        (rf("n_trees", serde_json::json!(60_000)), "grid[0].n_trees", "10000"),
        (rf("max_depth", serde_json::json!(60_000)), "grid[0].max_depth", "1000"),
        (rf("min_samples_leaf", serde_json::json!(huge)), "grid[0].min_samples_leaf", "1000000000"),
        (rf("max_samples", serde_json::json!(huge)), "grid[0].max_samples", "1000000000"),
    ];
    for (params, key, limit) in cases {
        let (k, message) = param_error(params);
        assert_eq!(k, key, "{message}");
        assert!(message.contains(limit), "{key}: {message}");
    }
    // The grid's size is checked before it is expanded: 100^4 points would be 3 GB of points.
    let values: Vec<u64> = (1..=100).collect();
    let grid = serde_json::json!({"grid": [{"algorithm": "random_forest", "n_trees": values, "max_depth": values,
        "min_samples_leaf": values, "max_samples": (2..=101).collect::<Vec<u64>>()}]});
    let (key, message) = param_error(grid);
    assert_eq!(key, "grid");
    assert!(message.contains("100000000 models") && message.contains("1000"), "{message}");
    let alphas: Vec<f64> = (0..1001).map(f64::from).collect();
    assert_eq!(
        param_error(serde_json::json!({"grid": [{"algorithm": "logistic_regression", "alpha": alphas}]})).0,
        "grid"
    );
    // The bounds themselves are accepted.
    let at_bounds = serde_json::json!({"lof": {"k": esteira_train::MAX_LOF_K}, "cv": {"folds": esteira_train::MAX_CV_FOLDS},
        "logistic": {"max_iter": esteira_train::MAX_LOGISTIC_ITER}, "grid": [{"algorithm": "random_forest",
        "n_trees": [esteira_train::MAX_TREES], "max_depth": [esteira_train::MAX_TREE_DEPTH],
        "min_samples_leaf": [esteira_train::MAX_TREE_ROWS], "max_samples": [esteira_train::MAX_TREE_ROWS]}]});
    TrainStage::from_params(at_bounds).unwrap();
}

#[test]
fn values_too_large_to_scale_name_the_column_and_row() {
    // A `renda` of 1e308 passes every check of the clean suite; two of them overflow the mean,
    // every scaled value was NaN, LOF then removed every row and the error blamed "a single
    // class". One overflows the variance: the column was silently scaled to zeros.
    let data = synthetic(300, 18);
    let renda: Vec<Option<f64>> = data
        .column_by_name("renda")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| if i == 6 { Some(1e308) } else { v })
        .collect();
    let with_renda = |renda: Vec<Option<f64>>| {
        let mut columns = data.columns().to_vec();
        columns[data.schema().index_of("renda").unwrap()] = Arc::new(Float64Array::from(renda));
        RecordBatch::try_new(data.schema(), columns).unwrap()
    };
    let mut two = renda.clone();
    two[8] = Some(1e308);
    for renda in [two, renda.clone()] {
        let err = train(&params(), &[with_renda(renda)], "h").unwrap_err().to_string();
        assert!(err.contains("column `renda`, row 7: value \"100000000"), "{err}");
        assert!(err.contains("cannot be scaled") && err.contains("standard deviation"), "{err}");
        assert!(!err.contains("single class"), "{err}");
    }
    // min-max scaling copes with 1e308, not with a range from -1.5e308 to 1e308.
    let mut both = renda.clone();
    both[9] = Some(-1.5e308);
    let p = TrainParams { scaling: esteira_train::Scaling::MinMax, ..params() };
    let err = train(&p, &[with_renda(both)], "h").unwrap_err().to_string();
    assert!(err.contains("column `renda`, row 10: value \"-15000000"), "{err}");
    assert!(err.contains("cannot be scaled") && err.contains("range"), "{err}");
    // A later row is scored: 1e308 scaled by the training statistics is finite.
    let model = train(&params(), &[synthetic(300, 19)], "h").unwrap().model;
    let p = predict(&model, &[with_renda(renda)]).unwrap();
    assert!(p.iter().all(|v| v.is_finite()));
}

#[test]
fn huge_values_in_error_messages_are_cut() {
    // A 1 MB class name (a header pasted into a cell) is echoed as 200 characters.
    let data = synthetic(50, 20);
    let huge = "X".repeat(1 << 20);
    let i = data.schema().index_of("descricao").unwrap();
    let mut columns = data.columns().to_vec();
    let outcomes: Vec<&str> = (0..data.num_rows()).map(|r| ["APROVADO", "FALHOU", &huge][r.min(2)]).collect();
    columns[i] = Arc::new(StringArray::from(outcomes));
    let data = RecordBatch::try_new(data.schema(), columns).unwrap();
    let err = train(&params(), &[data], "h").unwrap_err().to_string();
    assert!(err.len() < 1_000, "{} bytes: {}", err.len(), &err[..300]);
    assert!(err.contains("row 3") && err.contains("chars]"), "{err}");
}

/// `train` on a rayon pool of `threads` threads: the model and CV report as bytes.
fn train_in_pool(params: &TrainParams, data: &RecordBatch, threads: usize) -> (Vec<u8>, Vec<u8>) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let trained = pool.install(|| train(params, std::slice::from_ref(data), "h")).unwrap();
    (trained.model.to_json(), serde_json::to_vec(&trained.cv).unwrap())
}

#[test]
fn thread_count_does_not_change_a_byte() {
    // The default pipeline's shape: LOF chosen by CV, class weights, several alphas, bins, and
    // enough rows for several loss chunks per fit.
    let data = synthetic(3000, 21);
    let p = TrainParams {
        lof: esteira_train::LofParams { enabled: LofMode::Cv, ..Default::default() },
        balance: Balance::Weight,
        numeric_bins: 4,
        threshold: ThresholdRule::BalancedAccuracy,
        grid: vec![GridEntry::LogisticRegression { alpha: vec![0.1, 1.0, 10.0] }],
        ..params()
    };
    let one = train_in_pool(&p, &data, 1);
    assert_eq!(one, train_in_pool(&p, &data, 2));
    assert_eq!(one, train_in_pool(&p, &data, 5));
    // Forests and oversampling too.
    let rf = TrainParams {
        grid: vec![GridEntry::RandomForest {
            n_trees: vec![8],
            max_depth: vec![6],
            min_samples_leaf: vec![5],
            max_samples: vec![0],
        }],
        ..p
    };
    let data = synthetic(600, 22);
    assert_eq!(train_in_pool(&rf, &data, 1), train_in_pool(&rf, &data, 3));
}

#[test]
fn encoded_rows_score_as_predict_with_any_column_permuted() {
    let data = synthetic(800, 23);
    let rf = GridEntry::RandomForest {
        n_trees: vec![5],
        max_depth: vec![5],
        min_samples_leaf: vec![3],
        max_samples: vec![0],
    };
    for grid in [GridEntry::LogisticRegression { alpha: vec![1.0] }, rf] {
        let p = TrainParams { numeric_bins: 3, grid: vec![grid], ..params() };
        let model = train(&p, std::slice::from_ref(&data), "h").unwrap().model;
        let test = synthetic(300, 24);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let encoded = model.encode(std::slice::from_ref(&test)).unwrap();
        let plain = predict_detailed(&model, std::slice::from_ref(&test)).unwrap();
        assert_eq!(bits(&encoded.probabilities().unwrap()), bits(&plain.probabilities));
        assert_eq!(encoded.unseen(), &plain.unseen);
        // A reversal with a twist: every row takes another row's value.
        let rows = test.num_rows() as u32;
        let order: Vec<u32> = (0..rows).map(|i| (i * 7 + 3) % rows).collect();
        let schema = test.schema();
        for column in
            ["sexo", "raca", "ano_nascimento", "estado_origem", "renda", "possui_auxilio_alimentacao", "id_discente"]
        {
            let index = schema.index_of(column).unwrap();
            let mut arrays = test.columns().to_vec();
            arrays[index] =
                arrow::compute::take(test.column(index), &arrow::array::UInt32Array::from(order.clone()), None)
                    .unwrap();
            let permuted = RecordBatch::try_new(schema.clone(), arrays).unwrap();
            let expected = predict(&model, &[permuted]).unwrap();
            let got = encoded.probabilities_permuted(column, &order).unwrap();
            assert_eq!(bits(&got), bits(&expected), "{} column {column}", model.algorithm());
        }
        assert!(encoded.probabilities_permuted("renda", &order[1..]).is_err());
    }
}
