//! The UFRN pipeline (`esteira.toml`) end to end on the bundled sample, through the real CLI.

mod common;

use std::path::Path;

use common::Bed;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A temp project with the repository's pipeline file, suites and sample.
fn project() -> Bed {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let b = Bed::new();
    std::fs::copy(root.join("esteira.toml"), b.path().join("esteira.toml")).unwrap();
    copy_dir(&root.join("suites"), &b.path().join("suites"));
    copy_dir(&root.join("data/sample"), &b.path().join("data/sample"));
    b
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
    for row in &lines[1..] {
        assert!(row.ends_with("APROVADO") || row.ends_with("FALHOU"), "{row}");
    }

    // Second run: everything cached, same outputs.
    b.esteira(&["run"]).ok();
    let second = b.record("latest");
    for (stage, status) in b.statuses("latest") {
        assert_eq!(status, "cached", "{stage}");
    }
    assert_eq!(r["stages"]["evaluate"]["outputs"], second["stages"]["evaluate"]["outputs"]);

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
