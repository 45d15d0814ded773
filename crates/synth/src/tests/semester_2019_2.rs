//! The 2019.2 semester: the same students, their own semester tables, and planted differences
//! that a pooled logistic fit with semester interactions recovers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use esteira_inference::{Clusters, Covariance, Design, LogitOptions, fit_logit};

use super::{Row, is_hex_id, records};
use crate::*;

fn semester_tables(config: &SynthConfig, semester: Semester) -> (SynthSummary, TableWriters<Vec<u8>>) {
    let mut tables = TableWriters::<Vec<u8>>::default();
    let summary = generate_semester_to_writers(config, semester, &mut tables).unwrap();
    (summary, tables)
}

#[test]
fn semester_2019_2_has_the_same_students_and_its_own_tables() {
    let config = SynthConfig { scale: 0.1, seed: 11 };
    let mut remote = TableWriters::<Vec<u8>>::default();
    generate_to_writers(&config, &mut remote).unwrap();
    let (remote_again, remote_semester) = semester_tables(&config, Semester::S20205);
    assert_eq!(remote_semester.matriculas, remote.matriculas, "2020.5 is the default semester");
    assert_eq!(remote_again.discentes_rows, 1_200);
    let (summary, before) = semester_tables(&config, Semester::S20192);
    assert_eq!(before.discentes, remote.discentes, "the same students");
    assert_eq!(before.cursos, remote.cursos);
    assert_ne!(before.socio, remote.socio);

    let discentes = records(DISCENTES_FILE, &before.discentes, DISCENTES_HEADER);
    let entry: BTreeMap<&str, u32> =
        discentes.iter().map(|d| (d["id_discente"].as_str(), d["ano_ingresso"].parse().unwrap())).collect();
    let socio = records(SOCIO_FILE_2019_2, &before.socio, SOCIO_HEADER);
    assert!(socio.iter().all(|r| r["ano"] == "2019" && r["periodo"] == "2"), "the record is dated 2019.2");
    assert!(socio.iter().all(|r| entry[r["id_discente"].as_str()] < 2020), "no record of later entrants");
    let matriculas = records(MATRICULAS_FILE_2019_2, &before.matriculas, MATRICULAS_HEADER);
    assert!(matriculas.iter().all(|m| is_hex_id(&m["discente"]) && entry[m["discente"].as_str()] < 2020));
    let enrolments: BTreeSet<(&str, &str)> =
        matriculas.iter().map(|m| (m["id_turma"].as_str(), m["discente"].as_str())).collect();
    assert_eq!(enrolments.len() as u64, summary.enrolments);
    assert_eq!(socio.len() as u64, summary.socio_rows);
    assert_eq!(matriculas.len() as u64, summary.matricula_rows);
    assert_eq!(summary.table_bytes[1], before.socio.len() as u64);
    let students_2019: BTreeSet<&str> = socio.iter().map(|r| r["id_discente"].as_str()).collect();
    let remote_socio = records(SOCIO_FILE, &remote.socio, SOCIO_HEADER);
    let students_2020: BTreeSet<&str> = remote_socio.iter().map(|r| r["id_discente"].as_str()).collect();
    assert!(students_2019.is_subset(&students_2020), "2019.2 records are of students with a 2020.1 record");
    assert!(students_2020.len() > students_2019.len() + 100, "2020 entrants have no 2019.2 record");
    let indeferido = matriculas.iter().filter(|m| m["descricao"] == "INDEFERIDO").count() as u64;
    assert_eq!(indeferido, summary.indeferido, "a turned-down request has one row");
    let share = indeferido as f64 / summary.enrolments as f64;
    assert!((share - ASSUMED_2019_2_INDEFERIDO_SHARE).abs() < 0.04, "INDEFERIDO share {share}");

    assert_eq!("2019.2".parse::<Semester>().unwrap(), Semester::S20192);
    assert_eq!(Semester::S20192.as_str(), "2019.2");
    assert!("2021.1".parse::<Semester>().unwrap_err().to_string().contains("2021.1"));
    assert_eq!(Semester::S20192.table_files()[3], MATRICULAS_FILE_2019_2);
}

#[test]
fn generate_semester_writes_the_2019_2_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig { scale: 0.05, seed: 4 };
    generate_semester(&config, Semester::S20192, dir.path()).unwrap();
    let (_, tables) = semester_tables(&config, Semester::S20192);
    assert_eq!(std::fs::read(dir.path().join(SOCIO_FILE_2019_2)).unwrap(), tables.socio);
    assert_eq!(std::fs::read(dir.path().join(MATRICULAS_FILE_2019_2)).unwrap(), tables.matriculas);
    assert!(!dir.path().join(SOCIO_FILE).exists());
}

#[test]
fn the_bundled_2019_2_sample_is_what_the_generator_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-2019.2");
    if !dir.exists() {
        eprintln!("no bundled 2019.2 sample at {}: nothing to compare", dir.display());
        return;
    }
    let (_, tables) = semester_tables(&SynthConfig::default(), Semester::S20192);
    for (name, bytes) in [(SOCIO_FILE_2019_2, &tables.socio), (MATRICULAS_FILE_2019_2, &tables.matriculas)] {
        let committed = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(&committed == bytes, "data/sample-2019.2/{name} differs from the generator: regenerate it");
    }
}

/// One decided enrolment as the pipeline would see it (socio-economic rows collapsed per student).
struct Decided {
    student: String,
    after: bool,
    approved: bool,
    levels: BTreeMap<&'static str, String>,
}

const COLUMNS: [&str; 8] = [
    "sexo",
    "raca",
    "area_conhecimento",
    "grau_academico",
    "possui_auxilio_alimentacao",
    "possui_auxilio_residencia_moradia",
    "renda_quartile",
    "age_band",
];

fn decided(tables: &TableWriters<Vec<u8>>, socio_file: &'static str, after: bool) -> Vec<Decided> {
    let courses: BTreeMap<String, (Option<String>, Option<String>)> =
        courses::table_courses().unwrap().into_iter().map(|c| (c.id, (c.area, c.grau))).collect();
    let discentes = records(DISCENTES_FILE, &tables.discentes, DISCENTES_HEADER);
    let discentes: BTreeMap<&str, &Row> = discentes.iter().map(|r| (r["id_discente"].as_str(), r)).collect();
    let socio_rows = records(socio_file, &tables.socio, SOCIO_HEADER);
    let mut socio: BTreeMap<&str, (Row, bool, bool)> = BTreeMap::new();
    for r in &socio_rows {
        let entry = socio.entry(r["id_discente"].as_str()).or_insert_with(|| (r.clone(), false, false));
        entry.1 |= r["possui_auxilio_alimentacao"] == "true";
        entry.2 |= r["possui_auxilio_residencia_moradia"] == "true";
    }
    let matriculas = records("matriculas", &tables.matriculas, MATRICULAS_HEADER);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for m in &matriculas {
        let id = m["discente"].as_str();
        if m["descricao"] == "INDEFERIDO" || !seen.insert((m["id_turma"].as_str(), id)) {
            continue;
        }
        let (Some(d), Some((s, alimentacao, residencia))) = (discentes.get(id), socio.get(id)) else { continue };
        let renda: f64 = s["renda"].parse().unwrap();
        let age = 2020 - d["ano_nascimento"].parse::<i32>().unwrap();
        let (area, grau) = courses.get(&s["id_curso"]).cloned().unwrap_or((None, None));
        let flag = |b: bool| if b { "true" } else { "false" }.to_owned();
        let raca = if d["raca"].is_empty() { "Não Informado".to_owned() } else { d["raca"].clone() };
        let levels = BTreeMap::from([
            ("sexo", d["sexo"].clone()),
            ("raca", raca),
            ("area_conhecimento", area.unwrap_or_else(|| "Outra".into())),
            ("grau_academico", grau.unwrap_or_else(|| "OUTRO".into())),
            ("possui_auxilio_alimentacao", flag(*alimentacao)),
            ("possui_auxilio_residencia_moradia", flag(*residencia)),
            ("renda_quartile", [1016.0, 1725.0, 3117.0].iter().filter(|&&b| renda >= b).count().to_string()),
            (
                "age_band",
                (if age < 20 {
                    "<20"
                } else if age < 25 {
                    "20-24"
                } else if age < 30 {
                    "25-29"
                } else {
                    "30+"
                })
                .into(),
            ),
        ]);
        out.push(Decided { student: id.to_owned(), after, approved: m["descricao"].starts_with("APROVADO"), levels });
    }
    out
}

#[test]
fn a_pooled_fit_recovers_the_planted_differences() {
    // Scale 3 of each semester (about 25 000 decided enrolments each), the generator's outcome
    // model form (income quartiles and age bands), fitted with the semester's interactions.
    let config = SynthConfig { scale: 3.0, seed: 77 };
    let (_, remote) = semester_tables(&config, Semester::S20205);
    let (_, before) = semester_tables(&config, Semester::S20192);
    let mut rows = decided(&before, SOCIO_FILE_2019_2, false);
    let before_rows = rows.len();
    rows.extend(decided(&remote, SOCIO_FILE, true));
    assert!(before_rows > 20_000 && rows.len() - before_rows > 20_000, "{before_rows} / {}", rows.len());
    let rate = |after: bool| {
        let group: Vec<&Decided> = rows.iter().filter(|r| r.after == after).collect();
        group.iter().filter(|r| r.approved).count() as f64 / group.len() as f64
    };
    assert!((rate(false) - ASSUMED_2019_2_APPROVAL_RATE).abs() < 0.02, "2019.2 approval {}", rate(false));
    assert!((rate(true) - 0.809).abs() < 0.02, "2020.5 approval {}", rate(true));

    // Levels: the most frequent is the reference; rare ones (the dirty sexo, small races) are dropped.
    let mut counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for r in &rows {
        for (c, l) in &r.levels {
            *counts.entry((c, l.clone())).or_default() += 1;
        }
    }
    rows.retain(|r| r.levels.iter().all(|(c, l)| counts[&(*c, l.clone())] >= 300));
    let mut dummies: Vec<(&str, String)> = Vec::new();
    for column in COLUMNS {
        let levels: Vec<(&str, usize)> = counts
            .iter()
            .filter(|((c, _), n)| *c == column && **n >= 300)
            .map(|((_, l), n)| (l.as_str(), *n))
            .collect();
        let reference = levels.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).unwrap().0;
        if let Some(planted) = PLANTED_DIFFERENCES.iter().find(|d| d.column == column) {
            assert_eq!(planted.reference, reference, "{column}: the planted reference is the most frequent level");
        }
        dummies.extend(levels.iter().filter(|(l, _)| *l != reference).map(|(l, _)| (column, (*l).to_owned())));
    }
    let mut names = vec!["after".to_owned()];
    names.extend(dummies.iter().map(|(c, l)| format!("{c}={l}")));
    names.extend(dummies.iter().map(|(c, l)| format!("after x {c}={l}")));
    let mut x = Vec::with_capacity(rows.len() * names.len());
    for r in &rows {
        let after = f64::from(u8::from(r.after));
        x.push(after);
        let main: Vec<f64> = dummies.iter().map(|(c, l)| f64::from(u8::from(&r.levels[c] == l))).collect();
        x.extend(&main);
        x.extend(main.iter().map(|v| v * after));
    }
    let y: Vec<bool> = rows.iter().map(|r| r.approved).collect();
    let clusters = Clusters::from_keys(&rows.iter().map(|r| r.student.as_str()).collect::<Vec<_>>());
    let design = Design::new(&x, rows.len(), &names).unwrap();
    let report = fit_logit(&design, &y, Some(&clusters), &LogitOptions::default()).unwrap();
    assert!(report.converged, "{:?}", report.warnings);

    // The fit ignores the per-student random effect, so it estimates population-averaged effects,
    // attenuated by about 1/√(1 + 0.35·0.7²).
    let attenuation = 1.0 / (1.0 + 0.346 * 0.49_f64).sqrt();
    for planted in PLANTED_DIFFERENCES {
        let name = format!("after x {}={}", planted.column, planted.level);
        let c = report.coefficient(&name).unwrap_or_else(|| panic!("{name} missing"));
        let u = c.uncertainty(Covariance::Clustered).unwrap();
        let expected = planted.log_odds_ratio * attenuation;
        eprintln!(
            "{name}: planted {} (attenuated {expected:.3}), estimated {:.3} [{:.3}, {:.3}]",
            planted.log_odds_ratio,
            c.estimate.unwrap(),
            u.ci_low,
            u.ci_high
        );
        assert!(
            u.ci_low <= expected && expected <= u.ci_high,
            "{name}: {expected} not in [{}, {}]",
            u.ci_low,
            u.ci_high
        );
        assert!(u.ci_high < 0.0, "{name}: the planted decrease is detected");
    }
    // Levels without a planted difference: no interaction, within 3.3 standard errors (about 1 in
    // 1 000 per level by chance; the seed is fixed).
    for c in report.coefficients.iter().filter(|c| c.name.starts_with("after x ")) {
        let planted = PLANTED_DIFFERENCES.iter().any(|d| c.name == format!("after x {}={}", d.column, d.level));
        let u = c.uncertainty(Covariance::Clustered).unwrap();
        if !planted {
            assert!(
                c.estimate.unwrap().abs() < 3.3 * u.std_error,
                "{}: {} ± {}",
                c.name,
                c.estimate.unwrap(),
                u.std_error
            );
        }
    }
}
