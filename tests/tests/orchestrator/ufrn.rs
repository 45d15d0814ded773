//! The UFRN pipeline (`esteira.toml`) end to end on the bundled sample, through the real CLI.

use std::path::Path;

use crate::common::{Bed, copy_dir, statuses_in};

/// A temp project with the repository's pipeline file, suites and sample.
fn project() -> Bed {
    Bed::ufrn()
}

#[test]
fn the_ufrn_pipeline_runs_caches_and_reproduces() {
    let b = project();
    let out = b.esteira(&["run"]).ok();
    let statuses = b.statuses("latest");
    assert_eq!(statuses.len(), 12, "{}", out.stdout);
    for (stage, status) in &statuses {
        assert_eq!(status, "ran", "{stage}: {}", out.stdout);
    }
    let r = b.record("latest");
    let ev = &r["stages"]["evaluate"]["metrics"];
    let bal = ev["balanced_accuracy"].as_f64().unwrap();
    let auc = ev["roc_auc"].as_f64().unwrap();
    assert!(bal > 0.5, "balanced accuracy {bal}");
    assert!(auc > 0.5, "ROC AUC {auc}");
    assert_eq!(ev["baseline_balanced_accuracy"].as_f64().unwrap(), 0.5);

    // The merge keeps only students with a socio-economic record and an enrolment; preprocess
    // drops INDEFERIDO: the row counts say so.
    let merge = &r["stages"]["merge"]["metrics"];
    let pre = &r["stages"]["preprocess"]["metrics"];
    assert!(pre["rows_out"].as_u64().unwrap() < pre["rows_in"].as_u64().unwrap());
    assert!(merge.to_string().contains("unmatched"), "{merge}");

    // Outputs are there for people to open.
    let report = b.latest("evaluate", "report.html");
    assert!(report.contains("<svg"), "report has inline charts");
    assert!(!report.contains("http://") || report.contains("http://www.w3.org/2000/svg"));
    assert!(b.store().join("latest/check_raw/report.html").is_file());
    assert!(b.store().join("latest/train/model.json").is_file());

    // Batch scoring from the shell with the run's model.
    b.write(
        "rows.csv",
        "sexo;ano_nascimento;raca;estado_origem;cidade_origem;renda;area_conhecimento;possui_auxilio_alimentacao;possui_auxilio_transporte;possui_auxilio_residencia_moradia;grau_academico\n\
         F;1999;Pardo;Rio Grande do Norte;NATAL;1500;Ciências da Saúde;true;false;false;BACHARELADO\n\
         M;1985;Branco;Paraíba;JOÃO PESSOA;9000;Engenharias;false;false;false;BACHARELADO\n",
    );
    let scored = b.esteira(&["predict", "rows.csv"]).ok();
    let lines: Vec<&str> = scored.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", scored.stdout);
    assert!(lines[0].contains("probability_APROVADO"), "{}", lines[0]);
    // The run's evaluate stage fitted a Platt calibrator for this model: predict adds its chance
    // after the decision, and it is the calibrator applied to the model's probability.
    assert!(lines[0].ends_with(";decision;calibrated_probability_APROVADO"), "{}", lines[0]);
    let cal: serde_json::Value = serde_json::from_str(&b.latest("evaluate", "calibration.json")).unwrap();
    let (a, k) = (cal["platt"]["intercept"].as_f64().unwrap(), cal["platt"]["slope"].as_f64().unwrap());
    let header: Vec<&str> = lines[0].split(';').collect();
    let p_col = header.iter().position(|h| *h == "probability_APROVADO").unwrap();
    for row in &lines[1..] {
        let cells: Vec<&str> = row.split(';').collect();
        let decision = cells[cells.len() - 2];
        assert!(decision == "APROVADO" || decision == "FALHOU", "{row}");
        let p: f64 = cells[p_col].parse().unwrap();
        let calibrated: f64 = cells[cells.len() - 1].parse().unwrap();
        let expected = 1.0 / (1.0 + (-(a + k * (p / (1.0 - p)).ln())).exp());
        assert!((calibrated - expected).abs() < 1e-9, "{row}: {calibrated} vs {expected}");
    }

    // Second run: everything cached, same outputs; it is the first run again (no new record).
    let second = b.run(&[]);
    for (stage, status) in statuses_in(&second) {
        assert_eq!(status, "cached", "{stage}");
    }
    assert_eq!(r["stages"]["evaluate"]["outputs"], second["stages"]["evaluate"]["outputs"]);
    assert_eq!(second["id"], r["id"]);
    assert_eq!(b.record("latest"), r);

    // Every stage re-executed without the cache gives the same bytes.
    let rep = b.esteira(&["reproduce", r["id"].as_str().unwrap()]);
    assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
    assert!(rep.stdout.contains("reproduced"), "{}", rep.stdout);
    let results: Vec<&str> = rep.stdout.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(results.iter().filter(|r| **r == "identical").count(), 8, "{}", rep.stdout);
    assert_eq!(results.iter().filter(|r| **r == "external").count(), 4, "{}", rep.stdout);
}

#[test]
fn a_changed_split_seed_reruns_from_segregate_only() {
    let b = project();
    b.esteira(&["run", "--until", "segregate"]).ok();
    let toml = std::fs::read_to_string(b.path().join("esteira.toml")).unwrap();
    b.write("esteira.toml", &toml.replace("test_fraction = 0.3, seed = 42", "test_fraction = 0.3, seed = 7"));
    let status = b.esteira(&["status", "--until", "segregate"]).ok();
    assert!(status.stdout.contains("param `seed` changed: 42 -> 7"), "{}", status.stdout);
    b.esteira(&["run", "--until", "segregate"]).ok();
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st["segregate"], "ran");
    assert_eq!(st["merge"], "cached");
    assert_eq!(st["preprocess"], "cached");
    assert_eq!(st["train"], "skipped");
}

/// `esteira_synth::PLANTED_DIFFERENCES` (column, level, reference, log OR 2020.5 − log OR 2019.2),
/// the changes the synthetic 2019.2 sample was generated with (data/sample-2019.2/README.md).
const PLANTED: [(&str, &str, &str, f64); 6] = [
    ("sexo", "M", "F", -0.35),
    ("raca", "Negro", "Pardo", -0.5),
    ("area_conhecimento", "Ciências Exatas e da Terra", "Ciências da Saúde", -0.6),
    ("grau_academico", "LICENCIATURA", "BACHARELADO", -0.4),
    ("possui_auxilio_alimentacao", "true", "false", -0.6),
    ("possui_auxilio_residencia_moradia", "true", "false", -0.7),
];

#[test]
fn the_semester_comparison_recovers_the_planted_differences() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let b = Bed::new();
    std::fs::create_dir_all(b.path().join("pipelines")).unwrap();
    std::fs::copy(root.join("pipelines/ufrn-compare.toml"), b.path().join("pipelines/ufrn-compare.toml")).unwrap();
    copy_dir(&root.join("suites"), &b.path().join("suites"));
    copy_dir(&root.join("data/sample"), &b.path().join("data/sample"));
    copy_dir(&root.join("data/sample-2019.2"), &b.path().join("data/sample-2019.2"));
    let out = b.esteira(&["run", "-c", "pipelines/ufrn-compare.toml"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let c: serde_json::Value = serde_json::from_str(&b.latest("compare", "comparison.json")).unwrap();
    assert_eq!((c["before"].as_str(), c["after"].as_str()), (Some("2019.2"), Some("2020.5")));
    assert!(c["converged"].as_bool().unwrap(), "{c}");
    let (before_rows, after_rows) = (c["before_rows"].as_u64().unwrap(), c["after_rows"].as_u64().unwrap());
    assert!(before_rows > 5_000 && after_rows > 5_000, "{before_rows} / {after_rows}");
    let characteristics = c["characteristics"].as_array().unwrap();
    let find = |column: &str, level: &str| {
        characteristics
            .iter()
            .find(|ch| ch["column"] == column && ch["level"] == level)
            .unwrap_or_else(|| panic!("{column}={level} not compared"))
    };

    // A logit without the generator's per-student random effect (sd 0.7) estimates
    // population-averaged effects, about 8 % smaller.
    let attenuation = 1.0 / (1.0 + 0.346 * 0.49_f64).sqrt();
    let mut covered = 0;
    for (column, level, reference, planted) in PLANTED {
        let ch = find(column, level);
        assert_eq!(ch["reference"], reference, "{column}: the reference is the most frequent level");
        let ratio = &ch["ratio"];
        let (or, low, high) =
            (ratio["odds_ratio"].as_f64().unwrap(), ratio["low"].as_f64().unwrap(), ratio["high"].as_f64().unwrap());
        let expected = (planted * attenuation).exp();
        eprintln!("{column}={level}: planted ratio {expected:.3}, estimated {or:.3} [{low:.3}, {high:.3}]");
        assert!(or < 1.0, "{column}={level}: the sign of the planted change ({or})");
        covered += usize::from(low <= expected && expected <= high);
        if planted <= -0.5 {
            assert!(low <= expected && expected <= high, "{column}={level}: {expected} not in [{low}, {high}]");
        }
        // OR after = OR before × ratio (the two parameterisations of one model).
        let before = ch["before"]["odds_ratio"].as_f64().unwrap();
        let after = ch["after"]["odds_ratio"].as_f64().unwrap();
        assert!((after / before / or - 1.0).abs() < 1e-5, "{column}={level}: {after} / {before} vs {or}");
    }
    assert!(covered >= PLANTED.len() - 1, "{covered} of {} planted ratios covered", PLANTED.len());

    // Characteristics without a planted change: most intervals contain 1.
    let unplanted: Vec<&serde_json::Value> = characteristics
        .iter()
        .filter(|ch| !PLANTED.iter().any(|(column, level, ..)| ch["column"] == *column && ch["level"] == *level))
        .filter(|ch| ch["ratio"]["low"].is_f64())
        .collect();
    let with_one = unplanted
        .iter()
        .filter(|ch| ch["ratio"]["low"].as_f64().unwrap() <= 1.0 && 1.0 <= ch["ratio"]["high"].as_f64().unwrap())
        .count();
    assert!(with_one * 10 >= unplanted.len() * 8, "{with_one} of {} unplanted intervals contain 1", unplanted.len());

    // Multiple comparisons: adjusted p-values are never below the raw ones; Holm is stricter.
    for ch in characteristics {
        let Some(p) = ch["ratio"]["p_value"].as_f64() else { continue };
        let (holm, bh) = (ch["p_holm"].as_f64().unwrap(), ch["p_bh"].as_f64().unwrap());
        assert!(holm >= p && bh >= p && holm >= bh && holm <= 1.0, "{ch}");
    }
    // Raw pass rates per group and the gap change.
    let ch = find("possui_auxilio_residencia_moradia", "true");
    let gap = |s: &str| ch[s]["gap"].as_f64().unwrap();
    assert!((ch["gap_change"].as_f64().unwrap() - (gap("pass_after") - gap("pass_before"))).abs() < 1e-12);

    let report = b.latest("compare", "report.html");
    assert!(report.contains("<svg") && report.contains("Ciências Exatas e da Terra"), "forest plot and table");
    assert!(report.contains("2019.2") && report.contains("Holm"));

    // Deterministic: a second run is all cache hits.
    let second = b.run(&["-c", "pipelines/ufrn-compare.toml"]);
    for (stage, record) in second["stages"].as_object().unwrap() {
        assert_eq!(record["status"], "cached", "{stage}");
    }
}

/// The default and the portal pipelines on tables in the real portal's format
/// (`tests/data/ufrn-real-format`: hex ids, a row per aid programme, unit rows, `renda = "268"`,
/// `ano_nascimento = "994"`, `sexo = "false"`), from fetch through every check at its declared
/// severity. (28 students are too few to train on: the run stops after the checks.)
#[test]
fn both_ufrn_pipelines_pass_their_checks_on_real_format_tables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for pipeline in ["esteira.toml", "pipelines/ufrn-portal.toml"] {
        let b = Bed::new();
        copy_dir(&root.join("suites"), &b.path().join("suites"));
        copy_dir(&root.join("tests/data/ufrn-real-format"), &b.path().join("real"));
        let mut text = std::fs::read_to_string(root.join(pipeline)).unwrap();
        // Point the four fetches at the fixtures, by stage, and the suites at the copies. (The
        // portal file fetches over HTTPS: no test may reach the network.)
        let file_of = |stage: &str| match stage {
            "[stages.fetch_discentes]" => "discentes.csv",
            "[stages.fetch_socio]" => "dados-socio-economicos-discentes-2020.1.csv",
            "[stages.fetch_cursos]" => "cursos-de-graduacao.csv",
            "[stages.fetch_matriculas]" => "matricula-componente-20205.csv",
            other => panic!("{pipeline}: a fetch in {other} this test does not know"),
        };
        let mut lines: Vec<String> = Vec::new();
        let mut stage = String::new();
        for line in text.lines() {
            if line.starts_with("[stages.") {
                line.clone_into(&mut stage);
            }
            let fixed = if line.contains("url = ") {
                format!("params = {{ url = \"file:real/{}\" }}", file_of(&stage))
            } else {
                line.replace("file:../suites/", "file:suites/")
                    .replace("store = \"../artifacts\"", "store = \"artifacts\"")
            };
            lines.push(fixed);
        }
        text = lines.join("\n");
        b.write("esteira.toml", &text);
        let out = b.esteira(&["run", "--until", "check_clean"]);
        assert_eq!(out.code, 0, "{pipeline}:\n{}\n{}", out.stdout, out.stderr);
        let r = b.record("latest");
        for stage in ["merge", "check_raw", "preprocess", "check_clean"] {
            assert_eq!(r["stages"][stage]["status"], "ran", "{pipeline}: {stage}: {}", out.stdout);
        }
        // Every aid row of a student counts once, with all the aids it names.
        let joins = &r["stages"]["merge"]["metrics"]["joins"];
        let socio = joins.as_array().unwrap().iter().find(|j| j["input"] == "socio").unwrap();
        assert_eq!(socio["aggregate"]["keys_with_2_rows"], 3, "{socio}");
        assert_eq!(socio["aggregate"]["keys_with_3_or_more_rows"], 1, "{socio}");
        assert_eq!(socio["multiplied"], false, "{socio}");
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(b.store().join("latest/check_raw/result.json")).unwrap())
                .unwrap();
        assert_eq!(raw["success"], true, "{pipeline}: {raw}");
        // And the merge says so in words, next to the table.
        let report = std::fs::read_to_string(b.store().join("latest/merge/report.md")).unwrap();
        assert!(report.contains("3 keys had 2 rows, 1 had 3 or more"), "{report}");
        assert!(report.contains("`one_to_one`, held"), "{report}");
    }
}

/// (name, data offset, size) of every member of a plain tar.
fn tar_members(tar: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at] != 0 {
        let name = String::from_utf8_lossy(&tar[at..at + 100]).trim_end_matches('\0').to_owned();
        let size = String::from_utf8_lossy(&tar[at + 124..at + 136]).trim_matches(['\0', ' ']).to_owned();
        let size = usize::from_str_radix(&size, 8).unwrap();
        out.push((name, at + 512, size));
        at += 512 + size.div_ceil(512) * 512;
    }
    out
}

#[test]
fn the_default_pipeline_reproduces_from_a_bundle_elsewhere_and_its_model_from_its_hash() {
    let b = project();
    b.esteira(&["run"]).ok();
    let r = b.record("latest");

    // The export is deterministic and prints its own hash.
    let bundle = b.path().join("ufrn.tar");
    let out = b.esteira(&["export", "latest", "-o", bundle.to_str().unwrap()]).ok();
    let bytes = std::fs::read(&bundle).unwrap();
    let hash = esteira_core::ContentHash::of_bytes(&bytes).to_hex();
    assert!(out.stdout.contains(&format!("blake3 {hash}")), "{}", out.stdout);
    let again = b.path().join("again.tar");
    b.esteira(&["export", "latest", "-o", again.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(&again).unwrap(), bytes, "the same run gives the same bundle bytes");
    let zst = b.path().join("ufrn.tar.zst");
    b.esteira(&["export", "latest", "-o", zst.to_str().unwrap()]).ok();
    assert!(std::fs::metadata(&zst).unwrap().len() < bytes.len() as u64 / 2);

    // A reviewer's machine: an empty directory, a fresh store, no pipeline file, no data.
    for file in [&bundle, &zst] {
        let reviewer = Bed::new();
        let store = reviewer.path().join("store");
        let rep =
            reviewer.esteira(&["reproduce", "--bundle", file.to_str().unwrap(), "--store", store.to_str().unwrap()]);
        assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
        let results: Vec<&str> = rep.stdout.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
        assert_eq!(results.iter().filter(|r| **r == "identical").count(), 8, "{}", rep.stdout);
        assert_eq!(results.iter().filter(|r| **r == "external").count(), 4, "{}", rep.stdout);
        assert!(rep.stdout.contains("reproduced"), "{}", rep.stdout);
        // The reproduction is a run of the reviewer's store: its model is found by its hash.
        let model = r["stages"]["train"]["outputs"]["model"].as_str().unwrap();
        let show = reviewer.esteira(&["--store", store.to_str().unwrap(), "show", model]).ok();
        assert!(show.stdout.contains("produced by stage `train`"), "{}", show.stdout);
    }

    // The served model (the newest run's train.model) from its hash alone.
    let model = r["stages"]["train"]["outputs"]["model"].as_str().unwrap();
    let rep = b.esteira(&["reproduce", &model[..12]]);
    assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
    let identical = rep.stdout.lines().filter(|l| l.contains(" identical ")).count();
    assert_eq!(identical, 6, "merge, check_raw, preprocess, check_clean, segregate, train:\n{}", rep.stdout);
    assert!(!rep.stdout.contains("evaluate"), "evaluate is not in the model's lineage:\n{}", rep.stdout);
    let show = b.esteira(&["show", model]).ok();
    assert!(show.stdout.contains("└── segregate.train"), "{}", show.stdout);

    // A tampered bundle is refused, naming the member.
    let members = tar_members(&bytes);
    let reviewer = Bed::new();
    let check = |bad: &[u8], want: &str| {
        let path = reviewer.path().join("bad.tar");
        std::fs::write(&path, bad).unwrap();
        let store = reviewer.path().join(format!("store-{}", want.len()));
        let rep =
            reviewer.esteira(&["reproduce", "--bundle", path.to_str().unwrap(), "--store", store.to_str().unwrap()]);
        assert_ne!(rep.code, 0, "{}", rep.stdout);
        assert!(rep.stderr.contains(want), "want {want:?}:\n{}", rep.stderr);
    };
    let (object, at, size) = members.iter().find(|m| m.0.starts_with("objects/")).unwrap().clone();
    let mut edited = bytes.clone();
    edited[at + size / 2] ^= 0x20;
    check(&edited, &format!("bundle member {object} was altered"));
    let run_json = members.iter().find(|m| m.0 == "run.json").unwrap();
    let mut edited = bytes.clone();
    edited[run_json.1 + 10] ^= 0x01;
    check(&edited, "bundle member run.json was altered");
    let mut cut = bytes[..at - 512].to_vec();
    cut.extend_from_slice(&bytes[at + size.div_ceil(512) * 512..]);
    check(&cut, &format!("bundle member {object} is missing"));
}

/// Every stage's outputs in a run record.
fn outputs_of(r: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    statuses_in(r).into_iter().map(|(s, _)| (s.clone(), r["stages"][&s]["outputs"].clone())).collect()
}

/// The UFRN pipeline's outputs are the same bytes on 1 thread (one stage at a time, a rayon pool
/// of one) and on several, and — when `ESTEIRA_OTHER_BUILD` names an esteira binary built with
/// the other profile (`cargo build --release -p esteira`) — from that build too: it reproduces
/// this build's bundle bit for bit.
#[test]
fn the_default_pipeline_gives_the_same_bytes_on_one_thread_and_several_and_from_another_build_bundle() {
    let many = project();
    many.esteira(&["run", "-j", "4"]).ok();
    let one = project();
    let out = one.cmd(&["run", "-j", "1"]).env("RAYON_NUM_THREADS", "1").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(outputs_of(&one.record("latest")), outputs_of(&many.record("latest")));

    let Some(other) = std::env::var_os("ESTEIRA_OTHER_BUILD") else { return };
    let bundle = many.path().join("ufrn.tar");
    many.esteira(&["export", "latest", "-o", bundle.to_str().unwrap()]).ok();
    let reviewer = Bed::new();
    let out = std::process::Command::new(other)
        .args(["reproduce", "--bundle", bundle.to_str().unwrap(), "--store", "store"])
        .current_dir(reviewer.path())
        .env("ESTEIRA_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.contains(" identical ")).count(), 8, "{stdout}");
}

/// The study's answer on the sample: effects of the inference model with intervals clustered by
/// student, and calibration before and after Platt scaling, in every output that carries them.
#[test]
fn the_evaluation_reports_effects_with_clustered_intervals_and_calibration() {
    let b = project();
    b.esteira(&["run"]).ok();
    for file in ["inference.json", "calibration.json", "reliability.svg", "effects.svg", "metrics.json"] {
        assert!(b.store().join("latest/evaluate").join(file).is_file(), "{file}");
    }
    let m: serde_json::Value = serde_json::from_str(&b.latest("evaluate", "metrics.json")).unwrap();
    assert_eq!(m["format"], "esteira-evaluate-metrics/3");

    // Effects: clustered by the model's group, fewer clusters than rows, each estimated effect
    // inside its own interval; the inference output is metrics.json's `effects`.
    let fx = &m["effects"];
    assert_eq!(fx, &serde_json::from_str::<serde_json::Value>(&b.latest("evaluate", "inference.json")).unwrap());
    assert_eq!(fx["group"], "id_discente");
    assert_eq!(fx["covariance"], "clustered");
    assert_eq!(fx["converged"], true);
    let (rows, clusters) = (fx["rows_used"].as_u64().unwrap(), fx["clusters"].as_u64().unwrap());
    assert!(1 < clusters && clusters < rows, "{clusters} clusters of {rows} rows");
    let effects = fx["effects"].as_array().unwrap();
    assert!(effects.iter().any(|e| e["feature"] == "renda") && effects.iter().any(|e| e["feature"] == "sexo"));
    let mut excluding = 0;
    for e in effects.iter().filter(|e| e["status"] == "estimated") {
        let (c, n) = (&e["clustered"], &e["naive"]);
        let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k}: {e}"));
        let est = e["estimate"].as_f64().unwrap();
        assert!(f(c, "ci_low") <= est && est <= f(c, "ci_high"), "{e}");
        assert!(f(c, "odds_ratio_low") > 0.0 && f(c, "odds_ratio_high").is_finite(), "{e}");
        assert!(f(c, "std_error") > 0.0 && f(n, "std_error") > 0.0, "{e}");
        assert!(f(e, "p_holm") >= f(c, "p_value"), "{e}");
        excluding += usize::from(f(c, "odds_ratio_low") > 1.0 || f(c, "odds_ratio_high") < 1.0);
    }
    // Withheld coefficients carry no numbers.
    for e in effects.iter().filter(|e| e["status"] != "estimated") {
        assert!(e["estimate"].is_null() && e["clustered"].is_null(), "{e}");
    }
    let r = b.record("latest");
    let ev = &r["stages"]["evaluate"]["metrics"];
    assert_eq!(ev["effects_excluding_one"].as_u64().unwrap(), excluding as u64);

    // Calibration on the test split: the reliability table counts every test row; Platt
    // scaling (fitted on the training split) is offered for the logistic regression, and the
    // class-weighted model's probabilities are the worse calibrated.
    let c = &m["calibration"];
    let test_rows = m["rows"].as_u64().unwrap();
    let counted: u64 = c["model"]["reliability"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, test_rows);
    let ece = c["model"]["ece"].as_f64().unwrap();
    let (lo, hi) =
        (c["model"]["ece_interval"]["lower"].as_f64().unwrap(), c["model"]["ece_interval"]["upper"].as_f64().unwrap());
    assert!((0.0..=1.0).contains(&ece) && lo <= hi, "{c}");
    assert_eq!(c["model"]["brier_score"], m["model"]["brier_score"]);
    let calibrated = c["calibrated"]["ece"].as_f64().unwrap();
    assert!(calibrated < ece, "Platt ECE {calibrated} vs {ece}");
    assert_eq!(ev["ece"].as_f64().unwrap(), ece);
    let calibrator: serde_json::Value = serde_json::from_str(&b.latest("evaluate", "calibration.json")).unwrap();
    assert_eq!(calibrator["format"], "esteira-calibrator/1");
    assert_eq!(calibrator["platt"], c["platt"]);

    let report = b.latest("evaluate", "report.html");
    assert!(report.contains("inference model") && report.contains("clustered by <code>id_discente</code>"));
    assert!(report.contains("Are the probabilities calibrated?") && report.contains("Platt scaling"));
    assert!(b.latest("evaluate", "effects.svg").contains("95 % intervals"));
    assert!(b.latest("evaluate", "reliability.svg").contains("Reliability diagram"));
}
