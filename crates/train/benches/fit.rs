//! Fit-time and memory benchmark: `cargo bench -p esteira-train --bench fit` (add
//! `--profile dev` for a quick run: this crate and smartcore are opt-level 3 there too).
//!
//! 1. logistic regression on 1M rows x 30 features: our L-BFGS (the train stage's default
//!    solver), smartcore's LBFGS (`solver = "smartcore"`) and scikit-learn's lbfgs on the same
//!    data when python3 + scikit-learn exist, with the largest coefficient difference between
//!    them;
//! 2. random forest (smartcore trees, as the train stage builds them) on a smaller set;
//! 3. LOF on 100k two-dimensional points with many duplicates (integer ages, rounded incomes);
//! 4. the whole `train` (features, LOF, 5-fold CV over 3 alphas, threshold, final fit) on a
//!    UFRN-sized table (11.5k rows) and at 10x;
//! 5. the default pipeline's train params (`esteira.toml`: LOF chosen by CV, class weights,
//!    quartile bins, 3 alphas x 5 grouped folds) on students with 1-3 enrolment rows sharing
//!    their features, at `synth --scale 100` size (300k students, ~600k rows), on a rayon pool
//!    of one thread and on the global pool (the two models must be the same bytes).
//!
//! Each step prints wall time, CPU time of the whole process (every thread) and peak memory (the
//! process's VmHWM, reset before each step through /proc/self/clear_refs). Sizes can be scaled
//! down with ESTEIRA_BENCH_ROWS (LR rows) and ESTEIRA_BENCH_STUDENTS (step 5);
//! ESTEIRA_BENCH_ONLY=lr runs only step 1, ESTEIRA_BENCH_ONLY=pipeline only step 5.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use esteira_train::Solver::{Lbfgs, Smartcore};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

fn reset_peak() {
    let _ = esteira_testkit::procstat::reset_peak_rss();
}

fn peak_mb() -> f64 {
    esteira_testkit::procstat::peak_rss() as f64 / (1024.0 * 1024.0)
}

/// CPU nanoseconds of this process so far, every thread, ended ones too (`/proc/self/stat`'s
/// utime + stime, in clock ticks of 10 ms).
fn process_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| <[&str]>::get(&fields, i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime: fields 14 and 15 of the line, 11 and 12 (from 0) after the name.
    (ticks(11) + ticks(12)) * 10_000_000
}

/// When a step started: wall clock and process CPU.
#[derive(Clone, Copy)]
struct Start(Instant, u64);

fn now() -> Start {
    Start(Instant::now(), process_cpu_ns())
}

fn report(what: &str, start: Start) {
    let cpu = (process_cpu_ns() - start.1) as f64 / 1e9;
    println!(
        "{what:<66} {:>7.2} s wall {cpu:>7.2} s CPU   peak RSS {:>6.0} MB",
        start.0.elapsed().as_secs_f64(),
        peak_mb()
    );
}

/// Rows of `cols` features (standard-normal-ish) and labels from a planted logistic model.
fn dense_data(rows: usize, cols: usize, seed: u64) -> (Vec<f64>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f64> = (0..cols).map(|j| if j % 3 == 0 { 0.5 } else { -0.2 } / (1.0 + j as f64 / 10.0)).collect();
    let mut x = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let mut z = 1.2;
        for wj in &w {
            let v = (0..4).map(|_| rng.random::<f64>()).sum::<f64>() * 1.732 - 3.464;
            z += wj * v;
            x.push(v);
        }
        y.push(u32::from(rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())));
    }
    (x, y)
}

/// Runs scikit-learn on the same data; returns its coefficients followed by the intercept.
fn sklearn_lr(x: &[f64], y: &[u32], rows: usize, cols: usize, alpha: f64) -> Option<Vec<f64>> {
    let dir = std::env::temp_dir().join(format!("esteira-bench-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return None;
    }
    let (xp, yp) = (dir.join("x.f64"), dir.join("y.f64"));
    let write = |p: &std::path::Path, v: &mut dyn Iterator<Item = f64>| -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
        for a in v {
            f.write_all(&a.to_le_bytes())?;
        }
        f.flush()
    };
    if write(&xp, &mut x.iter().copied()).is_err() || write(&yp, &mut y.iter().map(|&v| f64::from(v))).is_err() {
        return None;
    }
    let script = format!(
        r#"
import time, resource, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.fromfile("{x}", dtype="<f8").reshape({rows}, {cols}); y = np.fromfile("{y}", dtype="<f8")
t = time.perf_counter()
m = LogisticRegression(C={c}, solver="lbfgs", max_iter=1000).fit(X, y)
dt = time.perf_counter() - t
print(f"{{'scikit-learn lbfgs LogisticRegression (same data)':<58}} {{dt:>9.2f}} s   peak RSS {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:>7.0f}} MB (python process)")
print("  sklearn n_iter", int(m.n_iter_[0]), "intercept", float(m.intercept_[0]), "coef[:3]", [float(v) for v in m.coef_[0][:3]])
print("COEF", " ".join(repr(float(v)) for v in list(m.coef_[0]) + [m.intercept_[0]]))
"#,
        x = xp.display(),
        y = yp.display(),
        c = 1.0 / alpha,
    );
    let mut coef = None;
    match std::process::Command::new("python3").arg("-c").arg(script).output() {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                match line.strip_prefix("COEF ") {
                    Some(v) => coef = v.split(' ').map(str::parse).collect::<Result<Vec<f64>, _>>().ok(),
                    None => println!("{line}"),
                }
            }
        }
        Ok(out) => println!(
            "scikit-learn comparison skipped: {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        ),
        Err(e) => println!("scikit-learn comparison skipped: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    coef
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (u, v)| m.max((u - v).abs()))
}

fn bench_lr(rows: usize) {
    let cols = 30;
    let alpha = 1.0;
    let (x, y) = dense_data(rows, cols, 1);
    let sklearn = sklearn_lr(&x, &y, rows, cols, alpha);

    let labels: Vec<bool> = y.iter().map(|&v| v == 1).collect();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let options = esteira_train::LbfgsOptions { threads, ..Default::default() };
    reset_peak();
    let start = now();
    let fit = esteira_train::fit_logistic_lbfgs(&x, cols, &labels, alpha, &options).expect("fit");
    report(&format!("esteira L-BFGS fit {rows} x {cols}, {threads} threads"), start);
    println!(
        "  ours n_iter {} evaluations {} stop {:?} intercept {} coef[:3] {:?}",
        fit.iterations,
        fit.evaluations,
        fit.stop,
        fit.intercept,
        &fit.coefficients[..3]
    );
    let ours: Vec<f64> = fit.coefficients.iter().copied().chain([fit.intercept]).collect();

    reset_peak();
    let start = now();
    let m = DenseMatrix::new(rows, cols, x, false).expect("shape");
    let lr = LogisticRegression::fit(&m, &y, LogisticRegressionParameters::default().with_alpha(alpha)).expect("fit");
    report(&format!("smartcore LogisticRegression fit {rows} x {cols}"), start);
    let c = lr.coefficients();
    println!(
        "  smartcore intercept {} coef[:3] {:?}",
        lr.intercept().get((0, 0)),
        [c.get((0, 0)), c.get((0, 1)), c.get((0, 2))]
    );
    let smartcore: Vec<f64> = (0..cols).map(|j| *c.get((0, j))).chain([*lr.intercept().get((0, 0))]).collect();
    println!("  max |ours - smartcore| over coefficients and intercept: {:.2e}", max_diff(&ours, &smartcore));
    if let Some(sk) = sklearn {
        println!("  max |ours - scikit-learn|: {:.2e}", max_diff(&ours, &sk));
        println!("  max |smartcore - scikit-learn|: {:.2e}", max_diff(&smartcore, &sk));
    }
}

fn bench_rf(rows: usize, trees: u16) {
    let cols = 30;
    let (x, y) = dense_data(rows, cols, 2);
    let m = DenseMatrix::new(rows, cols, x, false).expect("shape");
    reset_peak();
    let start = now();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per = usize::from(trees).div_ceil(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (m, y) = (&m, &y);
            s.spawn(move || {
                for i in t * per..((t + 1) * per).min(usize::from(trees)) {
                    let p = RandomForestClassifierParameters::default()
                        .with_n_trees(1)
                        .with_max_depth(10)
                        .with_min_samples_leaf(5)
                        .with_seed(i as u64);
                    RandomForestClassifier::fit(m, y, p).expect("fit");
                }
            });
        }
    });
    report(&format!("random forest {trees} trees (depth 10) {rows} x {cols}, {threads} threads"), start);
}

fn bench_lof(n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut pts = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let age = (18.0 + rng.random::<f64>().powi(2) * 45.0).round();
        let income = (rng.random::<f64>().powi(3) * 20.0).round() * 250.0;
        pts.push((age - 25.0) / 8.0);
        pts.push((income - 1500.0) / 1200.0);
    }
    reset_peak();
    let start = now();
    let scores = esteira_train::lof_scores(&pts, 2, 20);
    let flagged = scores.iter().filter(|&&s| s > 1.5).count();
    report(&format!("LOF k=20 on {n} 2-d points (many duplicates): {flagged} flagged"), start);
}

fn ufrn_like(rows: usize) -> RecordBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let pick = |rng: &mut ChaCha8Rng, xs: &[&'static str]| xs[rng.random_range(0..xs.len())];
    let (mut id, mut sexo, mut raca, mut area, mut grau, mut estado, mut ano, mut renda) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut a1, mut a2, mut a3, mut out) = (vec![], vec![], vec![], vec![]);
    for i in 0..rows {
        let aux = rng.random::<f64>() < 0.25;
        let year = 2002 - (rng.random::<f64>().powi(2) * 40.0) as i64;
        let income = (rng.random::<f64>().powi(3) * 20.0).round() * 250.0;
        let z = 1.3 + 0.6 * f64::from(u8::from(aux)) - 0.03 * (2002 - year) as f64 + 0.0001 * income;
        id.push(format!("d{}", i / 2));
        sexo.push(pick(&mut rng, &["F", "M"]));
        raca.push(pick(&mut rng, &["Pardo", "Branco", "Negro", "Não Informado", "Amarelo", "Indígena"]));
        area.push(pick(
            &mut rng,
            &[
                "Ciências Exatas",
                "Ciências Humanas",
                "Ciências da Saúde",
                "Engenharias",
                "Linguística",
                "Ciências Sociais Aplicadas",
                "Ciências Biológicas",
                "Multidisciplinar",
            ],
        ));
        grau.push(pick(&mut rng, &["BACHARELADO", "LICENCIATURA", "TECNÓLOGO"]));
        estado.push(if rng.random::<f64>() < 0.9 { "Rio Grande do Norte" } else { "Paraíba" });
        ano.push(year);
        renda.push(income);
        a1.push(if aux { "true" } else { "false" });
        a2.push(pick(&mut rng, &["true", "false", "false"]));
        a3.push(pick(&mut rng, &["true", "false", "false", "false"]));
        out.push(if rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()) { "APROVADO" } else { "FALHOU" });
    }
    let s = |v: Vec<&'static str>| Arc::new(StringArray::from(v)) as ArrayRef;
    RecordBatch::try_from_iter([
        ("id_discente", Arc::new(StringArray::from(id)) as ArrayRef),
        ("sexo", s(sexo)),
        ("raca", s(raca)),
        ("area_conhecimento", s(area)),
        ("grau_academico", s(grau)),
        ("estado_origem", s(estado)),
        ("ano_nascimento", Arc::new(Int64Array::from(ano)) as ArrayRef),
        ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
        ("possui_auxilio_alimentacao", s(a1)),
        ("possui_auxilio_transporte", s(a2)),
        ("possui_auxilio_residencia_moradia", s(a3)),
        ("descricao", s(out)),
    ])
    .expect("batch")
}

fn bench_train(rows: usize, grid: Vec<esteira_train::GridEntry>, solver: esteira_train::Solver, what: &str) {
    let batch = ufrn_like(rows);
    let logistic = esteira_train::LogisticParams { solver, ..Default::default() };
    let params = esteira_train::TrainParams { group: Some("id_discente".into()), grid, logistic, ..Default::default() };
    reset_peak();
    let start = now();
    let trained = esteira_train::train(&params, &[batch], "bench").expect("train");
    report(&format!("train() {what} on {rows} UFRN-like rows"), start);
    let m = &trained.metrics;
    println!(
        "  chosen {}, cv {:.5}, validation balanced accuracy {:.5}, outliers removed {}",
        trained.model.training().selected.label(),
        m.get("cv_best_roc_auc").copied().unwrap_or(f64::NAN),
        m.get("validation_balanced_accuracy").copied().unwrap_or(f64::NAN),
        trained.model.training().outliers_removed
    );
}

/// `students` students with 1-3 enrolment rows each that share every feature (as the portal's
/// tables do), and an outcome per row.
fn students_like(students: usize) -> RecordBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let pick = |rng: &mut ChaCha8Rng, xs: &[&'static str]| xs[rng.random_range(0..xs.len())];
    let areas = [
        "Ciências Exatas",
        "Ciências Humanas",
        "Ciências da Saúde",
        "Engenharias",
        "Linguística",
        "Ciências Sociais Aplicadas",
        "Ciências Biológicas",
        "Multidisciplinar",
    ];
    let races = ["Pardo", "Branco", "Negro", "Não Informado", "Amarelo", "Indígena"];
    let mut cols: [Vec<&'static str>; 9] = Default::default();
    let (mut id, mut ano, mut renda) = (vec![], vec![], vec![]);
    for s in 0..students {
        let aux = rng.random::<f64>() < 0.25;
        let year = 2002 - (rng.random::<f64>().powi(2) * 40.0) as i64;
        // Whole reais, skewed: a few thousand distinct values, as the portal's incomes.
        let income = (rng.random::<f64>().powi(3) * 8000.0).round();
        let fixed = [
            pick(&mut rng, &["F", "M"]),
            pick(&mut rng, &races),
            pick(&mut rng, &areas),
            pick(&mut rng, &["BACHARELADO", "LICENCIATURA", "TECNÓLOGO"]),
            if rng.random::<f64>() < 0.9 { "Rio Grande do Norte" } else { "Paraíba" },
            if aux { "true" } else { "false" },
            pick(&mut rng, &["true", "false", "false"]),
            pick(&mut rng, &["true", "false", "false", "false"]),
        ];
        let z = 1.3 + 0.6 * f64::from(u8::from(aux)) - 0.03 * (2002 - year) as f64 + 0.0001 * income;
        for _ in 0..rng.random_range(1..=3) {
            id.push(format!("d{s}"));
            ano.push(year);
            renda.push(income);
            for (c, v) in cols.iter_mut().zip(fixed) {
                c.push(v);
            }
            cols[8].push(if rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()) { "APROVADO" } else { "FALHOU" });
        }
    }
    let names = [
        "sexo",
        "raca",
        "area_conhecimento",
        "grau_academico",
        "estado_origem",
        "possui_auxilio_alimentacao",
        "possui_auxilio_transporte",
        "possui_auxilio_residencia_moradia",
        "descricao",
    ];
    let mut arrays: Vec<(&str, ArrayRef)> = vec![
        ("id_discente", Arc::new(StringArray::from(id)) as ArrayRef),
        ("ano_nascimento", Arc::new(Int64Array::from(ano)) as ArrayRef),
        ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
    ];
    for (name, c) in names.into_iter().zip(cols) {
        arrays.push((name, Arc::new(StringArray::from(c)) as ArrayRef));
    }
    RecordBatch::try_from_iter(arrays).expect("batch")
}

/// The default pipeline's train params (`esteira.toml`'s `[stages.train.params]`).
fn default_pipeline_params() -> esteira_train::TrainParams {
    esteira_train::TrainParams {
        group: Some("id_discente".into()),
        categorical: [
            "sexo",
            "raca",
            "area_conhecimento",
            "grau_academico",
            "local_ou_de_fora",
            "possui_auxilio_alimentacao",
            "possui_auxilio_transporte",
            "possui_auxilio_residencia_moradia",
        ]
        .map(str::to_owned)
        .to_vec(),
        numeric: vec!["idade".into(), "renda".into()],
        numeric_bins: 4,
        lof: esteira_train::LofParams { enabled: esteira_train::LofMode::Cv, k: 20, max_score: 1.5 },
        balance: esteira_train::Balance::Weight,
        threshold: esteira_train::ThresholdRule::Fixed,
        cv: esteira_train::CvParams { folds: 5, metric: esteira_train::CvMetric::RocAuc },
        seed: 42,
        logistic: esteira_train::LogisticParams { solver: Lbfgs, max_iter: 500, tol: 1e-4 },
        grid: vec![esteira_train::GridEntry::LogisticRegression { alpha: vec![0.1, 1.0, 10.0] }],
        ..Default::default()
    }
}

fn bench_default_pipeline(students: usize) {
    let batch = students_like(students);
    let rows = batch.num_rows();
    let params = default_pipeline_params();
    let mut models = Vec::new();
    for threads in [1, rayon::current_num_threads()] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        reset_peak();
        let start = now();
        let trained =
            pool.install(|| esteira_train::train(&params, std::slice::from_ref(&batch), "bench")).expect("train");
        report(&format!("train() default pipeline params, {rows} rows, {threads} thread(s)"), start);
        let m = &trained.metrics;
        println!(
            "  chosen {}{}, cv ROC AUC {:.5}, validation ROC AUC {:.5}, final fit {} iterations",
            trained.model.training().selected.label(),
            if m.get("lof_applied") == Some(&1.0) { " with LOF" } else { "" },
            m.get("cv_best_roc_auc").copied().unwrap_or(f64::NAN),
            m.get("validation_roc_auc").copied().unwrap_or(f64::NAN),
            m.get("final_fit_iterations").copied().unwrap_or(f64::NAN),
        );
        models.push(trained.model.to_json());
    }
    assert!(models.windows(2).all(|w| w[0] == w[1]), "the model depends on the thread count");
    println!("  same model bytes on 1 and {} threads", rayon::current_num_threads());
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list.
    }
    let rows = std::env::var("ESTEIRA_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let students = std::env::var("ESTEIRA_BENCH_STUDENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    match std::env::var("ESTEIRA_BENCH_ONLY").as_deref() {
        Ok("lr") => return bench_lr(rows),
        Ok("pipeline") => return bench_default_pipeline(students),
        _ => {}
    }
    bench_lof(100_000);
    bench_rf(20_000, 50);
    let lr = vec![esteira_train::GridEntry::LogisticRegression { alpha: vec![0.1, 1.0, 10.0] }];
    bench_train(11_500, lr.clone(), Lbfgs, "LR (lbfgs), 3 alphas x 5 folds");
    bench_train(11_500, lr.clone(), Smartcore, "LR (smartcore), 3 alphas x 5 folds");
    let rf = vec![esteira_train::GridEntry::RandomForest {
        n_trees: vec![50],
        max_depth: vec![10],
        min_samples_leaf: vec![5],
        max_samples: vec![0],
    }];
    bench_train(11_500, rf, Lbfgs, "RF 50 trees x 5 folds");
    bench_train(115_000, lr.clone(), Lbfgs, "LR (lbfgs), 3 alphas x 5 folds");
    bench_train(115_000, lr, Smartcore, "LR (smartcore), 3 alphas x 5 folds");
    bench_default_pipeline(students);
    bench_lr(rows);
}
