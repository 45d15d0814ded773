//! Timings of the evaluate stage's work on a large synthetic test split.
//!
//! `cargo bench -p esteira-evaluate --bench evaluate` (rows: `ESTEIRA_BENCH_ROWS`, default
//! 256 000, the test split at `synth --scale 100`). Each step prints its wall time and the CPU
//! time of the whole process (every thread), so a parallel step shows both; steps run on
//! rayon's global pool (`RAYON_NUM_THREADS=1` for one thread). With `ESTEIRA_BENCH_OUT=dir` the
//! report, metrics and charts are written there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use esteira_evaluate::metrics::{average_precision, decide, log_loss, roc_auc};
use esteira_evaluate::{EvaluateParams, bootstrap_intervals, evaluate_model, permutation_importance};
use esteira_train::{CvParams, GridEntry, LofParams, TrainParams, predict, train};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn students(n: usize, seed: u64) -> RecordBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let areas = ["Ciências Exatas e da Terra", "Ciências Humanas", "Ciências da Saúde", "Engenharias", "Linguística"];
    let (mut sexo, mut raca, mut area, mut renda, mut idade, mut descricao) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let s = if rng.random_bool(0.5) { "F" } else { "M" };
        let r = ["Branca", "Parda", "Preta", "Amarela", "Indígena"][rng.random_range(0..5)];
        let a = areas[rng.random_range(0..areas.len())];
        let income: f64 = rng.random_range(0.0..5.0);
        let age: f64 = rng.random_range(18.0..45.0);
        // Weak signal, about the study's strength (ROC AUC near 0.62), 80 % passing.
        let logit = 1.45 + 0.25 * (income - 2.5) + if s == "F" { 0.2 } else { -0.2 } - 0.015 * (age - 25.0);
        descricao.push(if rng.random_bool(1.0 / (1.0 + (-logit).exp())) { "APROVADO" } else { "FALHOU" });
        sexo.push(s);
        raca.push(r);
        area.push(a);
        renda.push((income * 100.0).round() / 100.0);
        idade.push(age.round());
    }
    RecordBatch::try_from_iter([
        ("sexo", Arc::new(StringArray::from(sexo)) as ArrayRef),
        ("raca", Arc::new(StringArray::from(raca)) as ArrayRef),
        ("area_conhecimento", Arc::new(StringArray::from(area)) as ArrayRef),
        ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
        ("idade", Arc::new(Float64Array::from(idade)) as ArrayRef),
        ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
    ])
    .expect("bench table")
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

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let (start, cpu) = (Instant::now(), process_cpu_ns());
    let out = f();
    let cpu = (process_cpu_ns() - cpu) as f64 / 1e6;
    println!("{label:<52} {:>9.1} ms wall {cpu:>9.1} ms CPU", start.elapsed().as_secs_f64() * 1e3);
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes with --list.
    }
    let rows: usize = std::env::var("ESTEIRA_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(256_000);
    let params = TrainParams {
        derived: BTreeMap::new(),
        categorical: vec!["sexo".into(), "raca".into(), "area_conhecimento".into()],
        numeric: vec!["renda".into(), "idade".into()],
        lof: LofParams { enabled: esteira_train::LofMode::Off, ..LofParams::default() },
        cv: CvParams { folds: 3, ..CvParams::default() },
        grid: vec![GridEntry::LogisticRegression { alpha: vec![1.0] }],
        ..TrainParams::default()
    };
    let model =
        timed("train (20k rows, setup)", || train(&params, &[students(20_000, 1)], "bench").expect("train").model);
    let test = students(rows, 2);
    println!("test split: {rows} rows, {} threads", rayon::current_num_threads());
    let scores = timed("predict (dense matrix)", || predict(&model, std::slice::from_ref(&test)).expect("predict"));
    let encoded = timed("encode + probabilities (what evaluate scores with)", || {
        let e = model.encode(std::slice::from_ref(&test)).expect("encode");
        let p = e.probabilities().expect("probabilities");
        assert_eq!(p, scores, "the encoded scores are predict's");
        e
    });
    let y = esteira_evaluate::labels(&test, "descricao", "APROVADO", "FALHOU").expect("labels");
    timed("roc_auc", || roc_auc(&y, &scores).expect("auc"));
    timed("average_precision", || average_precision(&y, &scores).expect("ap"));
    timed("log_loss", || log_loss(&y, &scores).expect("log loss"));
    let pred = decide(&scores, model.threshold());
    timed("bootstrap_intervals (1000 resamples)", || {
        bootstrap_intervals(&y, &scores, &pred, 1000, 0).expect("bootstrap")
    });
    let columns: Vec<String> = model.input_columns().into_iter().map(|c| c.name).collect();
    let generic = timed("permutation_importance, re-predicting tables (5 repeats)", || {
        permutation_importance(&test, &columns, &y, 5, 0, |b| Ok(predict(&model, std::slice::from_ref(b))?))
            .expect("importance")
    });
    timed("one column permuted, scored from the encoding", || {
        let order: Vec<u32> = (0..rows as u32).rev().collect();
        encoded.probabilities_permuted("renda", &order).expect("permuted")
    });
    let out = timed("evaluate_model (bootstrap 1000, permutation 5)", || {
        evaluate_model(&model, &test.schema(), std::slice::from_ref(&test), &EvaluateParams::default())
            .expect("evaluate")
    });
    assert_eq!(out.evaluation.permutation_importance, generic, "the fast importance is the generic one");
    let s = &out.evaluation.scores;
    println!(
        "balanced accuracy {:.3} (baseline {:.3}), ROC AUC {:.3}, report {} KiB",
        s.model.balanced_accuracy,
        s.baseline.metrics.balanced_accuracy,
        s.model.roc_auc.unwrap_or(f64::NAN),
        out.report_html.len() / 1024
    );
    if let Ok(dir) = std::env::var("ESTEIRA_BENCH_OUT") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).expect("output dir");
        std::fs::write(dir.join("report.html"), &out.report_html).expect("write");
        std::fs::write(dir.join("metrics.json"), serde_json::to_vec_pretty(&out.evaluation).expect("json"))
            .expect("write");
        for (name, svg) in [
            ("confusion", &out.charts.confusion),
            ("roc", &out.charts.roc),
            ("pr", &out.charts.pr),
            ("effects", &out.charts.effects),
        ] {
            std::fs::write(dir.join(format!("{name}.svg")), svg).expect("write");
        }
    }
}
