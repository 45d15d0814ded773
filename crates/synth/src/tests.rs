//! End-to-end tests: generate, parse the CSV back, and check what the pipeline relies on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use crate::*;

mod semester_2019_2;

/// Parses the portal dialect strictly: CRLF line ends, every field quoted, `;` separators.
fn parse(table: &str, bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{table}: not UTF-8: {e}"));
    assert!(text.ends_with("\r\n"), "{table}: last line not CRLF-terminated");
    let mut lines = text[..text.len() - 2].split("\r\n");
    let split = |line: &str| -> Vec<String> {
        assert!(!line.contains('\n') && !line.contains('\r'), "{table}: bare line break in {line:?}");
        assert!(line.len() >= 2 && line.starts_with('"') && line.ends_with('"'), "{table}: unquoted field in {line:?}");
        line[1..line.len() - 1].split("\";\"").map(str::to_owned).collect()
    };
    let header = split(lines.next().unwrap());
    let rows: Vec<Vec<String>> = lines.map(split).collect();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{table}: ragged row {row:?}");
    }
    (header, rows)
}

struct Parsed {
    summary: SynthSummary,
    raw: TableWriters<Vec<u8>>,
    discentes: Vec<BTreeMap<String, String>>,
    socio: Vec<BTreeMap<String, String>>,
    matriculas: Vec<BTreeMap<String, String>>,
}

fn records(table: &str, bytes: &[u8], expected_header: &[&str]) -> Vec<BTreeMap<String, String>> {
    let (header, rows) = parse(table, bytes);
    assert_eq!(header, expected_header, "{table}: header");
    rows.into_iter().map(|row| header.iter().cloned().zip(row).collect()).collect()
}

/// Scale 1, seed 2020 (the bundled sample), generated and parsed once for all tests.
fn scale_one() -> &'static Parsed {
    static PARSED: OnceLock<Parsed> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut tables = TableWriters::<Vec<u8>>::default();
        let summary = generate_to_writers(&SynthConfig::default(), &mut tables).unwrap();
        assert_eq!(tables.cursos, EMBEDDED_COURSES_CSV.as_bytes(), "the course table is copied byte for byte");
        Parsed {
            summary,
            discentes: records(DISCENTES_FILE, &tables.discentes, DISCENTES_HEADER),
            socio: records(SOCIO_FILE, &tables.socio, SOCIO_HEADER),
            matriculas: records(MATRICULAS_FILE, &tables.matriculas, MATRICULAS_HEADER),
            raw: tables,
        }
    })
}

fn share(rows: &[BTreeMap<String, String>], column: &str, value: &str) -> f64 {
    rows.iter().filter(|r| r[column] == value).count() as f64 / rows.len() as f64
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let run = |seed| {
        let mut tables = TableWriters::<Vec<u8>>::default();
        generate_to_writers(&SynthConfig { scale: 0.2, seed }, &mut tables).unwrap();
        tables
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.discentes, b.discentes);
    assert_eq!(a.socio, b.socio);
    assert_eq!(a.matriculas, b.matriculas);
    assert_eq!(a.cursos, b.cursos);
    assert_ne!(a.discentes, c.discentes);
    assert_ne!(a.matriculas, c.matriculas);
}

#[test]
fn generate_writes_the_same_bytes_as_the_writers_and_no_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig { scale: 0.1, seed: 3 };
    let summary = generate(&config, &dir.path().join("out")).unwrap();
    let mut tables = TableWriters::<Vec<u8>>::default();
    assert_eq!(generate_to_writers(&config, &mut tables).unwrap(), summary);
    let expected = [&tables.discentes, &tables.socio, &tables.cursos, &tables.matriculas];
    for (name, bytes) in TABLE_FILES.iter().zip(expected) {
        assert_eq!(&std::fs::read(dir.path().join("out").join(name)).unwrap(), bytes, "{name}");
    }
    let names: BTreeSet<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, TABLE_FILES.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(summary.total_bytes(), expected.iter().map(|b| b.len() as u64).sum::<u64>());
}

#[test]
fn invalid_scales_are_rejected() {
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_SCALE * 2.0] {
        let err = generate_to_writers(&SynthConfig { scale, seed: 1 }, &mut TableWriters::<Vec<u8>>::default());
        assert!(matches!(err, Err(SynthError::InvalidScale { .. })), "scale {scale}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(generate(&SynthConfig { scale: 0.0, seed: 1 }, dir.path()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written on a bad config");
}

#[test]
fn output_grows_linearly_with_scale() {
    let run = |scale| {
        let mut tables = TableWriters::<Vec<u8>>::default();
        generate_to_writers(&SynthConfig { scale, seed: 5 }, &mut tables).unwrap()
    };
    let small = run(0.25);
    let big = &scale_one().summary;
    assert_eq!(small.discentes_rows, 3_000);
    assert_eq!(big.discentes_rows, 12_000);
    assert_eq!(small.cursos_rows, 120);
    assert_eq!(big.cursos_rows, 120);
    for (name, s, b) in [
        ("socio", small.socio_rows, big.socio_rows),
        ("matricula rows", small.matricula_rows, big.matricula_rows),
        ("enrolments", small.enrolments, big.enrolments),
        ("bytes", small.total_bytes() - small.table_bytes[2], big.total_bytes() - big.table_bytes[2]),
    ] {
        let ratio = b as f64 / s as f64;
        assert!((ratio - 4.0).abs() < 0.3, "{name}: {b} / {s} = {ratio}");
    }
}

#[test]
fn scale_one_matches_the_real_sizes() {
    let s = &scale_one().summary;
    assert!((s.students_with_socio as f64 - 11_238.0).abs() < 200.0, "{s:?}");
    assert!((s.socio_rows as f64 - 11_508.0).abs() < 250.0, "{s:?}");
    assert!((s.joined_enrolments as f64 - 11_543.0).abs() < 600.0, "{s:?}");
    let without_course = s.joined_enrolments_without_course as f64 / s.joined_enrolments as f64;
    assert!((without_course - 0.107).abs() < 0.02, "missing course share {without_course}");
}

#[test]
fn category_shares_are_close_to_the_marginals() {
    let p = scale_one();
    for (column, value, expected) in [
        ("sexo", "F", 0.52416),
        ("raca", "Pardo", 0.47628),
        ("raca", "Branco", 0.3495),
        ("estado_origem", "Rio Grande do Norte", 0.90407),
        ("cidade_origem", "NATAL", 0.48071),
        ("cotista", "t", 0.53033),
        ("nivel_ensino", "GRADUAÇÃO", 0.8932),
        ("ano_ingresso", "2019", 0.25278),
    ] {
        let actual = share(&p.discentes, column, value);
        assert!((actual - expected).abs() < 0.015, "{column}={value}: {actual} vs {expected}");
    }
    let alimentacao = share(&p.socio, "possui_auxilio_alimentacao", "true");
    assert!((alimentacao - 0.12139).abs() < 0.012, "auxilio alimentacao {alimentacao}");
    assert_eq!(share(&p.socio, "possui_bolsa_pesquisa", "false"), 1.0);
    let mut rendas: Vec<f64> = p.socio.iter().map(|r| r["renda"].parse().unwrap()).collect();
    rendas.sort_by(f64::total_cmp);
    let quartile = |q: f64| rendas[(q * rendas.len() as f64) as usize];
    assert!((quartile(0.5) - 1725.0).abs() < 120.0 && (quartile(0.75) - 3117.0).abs() < 250.0);
}

/// Rows as the pipeline sees them: discentes ⋈ socio ⋈ matriculas on the student, one row per
/// enrolment, INDEFERIDO dropped. Returns (discente row, socio row, approved) triples.
type Row = BTreeMap<String, String>;
/// A joined enrolment: its discente row, its socio row, and whether it was approved.
type Joined<'a> = (&'a Row, &'a Row, bool);

fn joined(p: &Parsed) -> Vec<Joined<'_>> {
    // One socio row per student: a student's rows differ only in the programme flags, which the
    // callers do not read.
    let discentes: BTreeMap<&str, _> = p.discentes.iter().map(|r| (r["id_discente"].as_str(), r)).collect();
    let socio: BTreeMap<&str, _> = p.socio.iter().map(|r| (r["id_discente"].as_str(), r)).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for m in &p.matriculas {
        let id = m["discente"].as_str();
        if m["descricao"] == "INDEFERIDO" || !seen.insert((m["id_turma"].as_str(), id)) {
            continue;
        }
        if let (Some(d), Some(s)) = (discentes.get(id), socio.get(id)) {
            out.push((*d, *s, m["descricao"].starts_with("APROVADO")));
        }
    }
    out
}

fn rate<'a>(rows: impl Iterator<Item = &'a Joined<'a>>) -> f64 {
    let (mut n, mut approved) = (0.0, 0.0);
    for (_, _, a) in rows {
        n += 1.0;
        approved += f64::from(u8::from(*a));
    }
    approved / n
}

#[test]
fn approval_depends_on_the_profile_in_the_real_direction() {
    let p = scale_one();
    let rows = joined(p);
    let overall = rate(rows.iter());
    assert!((overall - 0.809).abs() < 0.02, "overall approval {overall}");
    let female = rate(rows.iter().filter(|(d, _, _)| d["sexo"] == "F"));
    let male = rate(rows.iter().filter(|(d, _, _)| d["sexo"] == "M"));
    assert!(female > male, "F {female} vs M {male}");
    let renda = |r: &BTreeMap<String, String>| r["renda"].parse::<f64>().unwrap();
    let poor = rate(rows.iter().filter(|(_, s, _)| renda(s) < 1016.0));
    let rich = rate(rows.iter().filter(|(_, s, _)| renda(s) >= 3117.0));
    assert!(rich > poor + 0.03, "q4 {rich} vs q1 {poor}");
    let courses = courses::table_courses().unwrap();
    let area: BTreeMap<&str, &str> = courses.iter().filter_map(|c| Some((c.id.as_str(), c.area.as_deref()?))).collect();
    let by_area = |name: &str| rate(rows.iter().filter(|(_, s, _)| area.get(s["id_curso"].as_str()) == Some(&name)));
    let (saude, letras) = (by_area("Ciências da Saúde"), by_area("Linguística, Letras e Artes"));
    assert!(saude > letras + 0.08, "Saúde {saude} vs Letras {letras}");
    assert!((saude - 0.8766).abs() < 0.04 && (letras - 0.7155).abs() < 0.05, "Saúde {saude}, Letras {letras}");
}

fn is_hex_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn ids_are_32_lowercase_hex_digits_derived_from_seed_and_index() {
    let p = scale_one();
    let discente_ids: BTreeSet<&str> = p.discentes.iter().map(|r| r["id_discente"].as_str()).collect();
    assert_eq!(discente_ids.len(), p.discentes.len(), "student ids are unique");
    for id in p.discentes.iter().map(|r| &r["id_discente"]).chain(p.socio.iter().map(|r| &r["id_discente"])) {
        assert!(is_hex_id(id), "{id:?}");
    }
    for m in &p.matriculas {
        assert!(discente_ids.contains(m["discente"].as_str()), "enrolment of an unknown student {}", m["discente"]);
    }
    assert_eq!(p.discentes[0]["id_discente"], generator::student_id(2020, 0));
    assert_eq!(p.discentes[11_999]["id_discente"], generator::student_id(2020, 11_999));
    assert_ne!(generator::student_id(2020, 0), generator::student_id(2021, 0), "the seed changes the ids");
    assert!(!p.discentes[0]["nome_discente"].contains(&p.discentes[0]["id_discente"]));
}

#[test]
fn students_have_one_socio_row_per_assistance_programme() {
    let p = scale_one();
    let mut by_student: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for row in &p.socio {
        by_student.entry(row["id_discente"].as_str()).or_default().push(row);
    }
    assert_eq!(by_student.len() as u64, p.summary.students_with_socio);
    let flags = ["possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia"];
    let mut counts = [0_u64; 4];
    for (id, rows) in &by_student {
        counts[rows.len()] += 1;
        if rows.len() == 1 {
            continue;
        }
        let mut seen = BTreeSet::new();
        for row in rows {
            let true_flags: Vec<&str> = flags.iter().copied().filter(|f| row[*f] == "true").collect();
            assert_eq!(true_flags.len(), 1, "{id}: a row of a student with several programmes has one flag");
            assert!(seen.insert(true_flags[0]), "{id}: each programme once");
            let strip = |r: &Row| -> Vec<(String, String)> {
                r.iter().filter(|(k, _)| !flags.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            assert_eq!(strip(row), strip(rows[0]), "{id}: rows differ only in the programme flags");
        }
    }
    assert_eq!(counts[2], p.summary.students_with_two_socio_rows);
    assert_eq!(counts[3], p.summary.students_with_three_socio_rows);
    assert_eq!(counts[1] + 2 * counts[2] + 3 * counts[3], p.socio.len() as u64);
    assert!(counts[3] > 0, "some students hold all three programmes");
    // 2.3 % of the students have several rows, as in the real table; the rows per student are
    // the real 11 508 / 11 238.
    let several = (counts[2] + counts[3]) as f64 / by_student.len() as f64;
    assert!((several - 0.023).abs() < 0.004, "students with several rows: {several}");
    let rows_per_student = p.socio.len() as f64 / by_student.len() as f64;
    assert!((rows_per_student - 11_508.0 / 11_238.0).abs() < 0.005, "{rows_per_student}");
    // Flag shares are shares of rows, as in the marginals.
    for (flag, real) in flags.iter().zip([0.12139, 0.02103, 0.06204]) {
        let actual = share(&p.socio, flag, "true");
        assert!((actual - real).abs() < 0.012, "{flag}: {actual} vs {real}");
    }
}

#[test]
fn the_data_is_dirty_and_incomplete_like_the_real_one() {
    let p = scale_one();
    let socio_ids: BTreeSet<&str> = p.socio.iter().map(|r| r["id_discente"].as_str()).collect();
    let discente_ids: BTreeSet<&str> = p.discentes.iter().map(|r| r["id_discente"].as_str()).collect();
    let without_socio = discente_ids.difference(&socio_ids).count();
    assert_eq!(without_socio as u64, p.summary.students_without_socio);
    assert!(without_socio > 300, "students without socio: {without_socio}");
    assert!(socio_ids.is_subset(&discente_ids), "no socio rows of unknown students");

    let table: BTreeSet<String> = courses::table_courses().unwrap().into_iter().map(|c| c.id).collect();
    let missing = p.discentes.iter().filter(|r| !table.contains(&r["id_curso"])).count();
    assert!(missing > 600, "students whose course is not in the course table: {missing}");

    let indeferido = p.matriculas.iter().filter(|r| r["descricao"] == "INDEFERIDO").count();
    assert!(indeferido > 1_000 && indeferido as u64 == p.summary.indeferido);
    let outcomes: BTreeSet<&str> = p.matriculas.iter().map(|r| r["descricao"].as_str()).collect();
    for expected in
        ["APROVADO", "APROVADO POR NOTA", "REPROVADO", "REPROVADO POR MÉDIA E POR FALTAS", "CANCELADO", "EXCLUIDA"]
    {
        assert!(outcomes.contains(expected), "outcome {expected} missing");
    }
    assert!(share(&p.discentes, "estado_origem", "") > 0.0, "empty estado_origem");
    for r in &p.socio {
        assert!(!r["renda"].is_empty() && r["renda"].bytes().all(|b| b.is_ascii_digit()), "renda {:?}", r["renda"]);
    }
}

#[test]
fn dirty_values_are_planted_on_students_of_the_merged_table() {
    let p = scale_one();
    // Real shares of merged rows, rounded up over the ~4 700 students that reach the merge:
    // sexo "false" 0.043 % -> 3 students, birth year 994 1 in 10 000 -> 1.
    assert_eq!(p.summary.dirty_sexo_students, 3);
    assert_eq!(p.summary.dirty_birth_year_students, 1);
    let rows = joined(p);
    let dirty_sexo: BTreeSet<&str> =
        rows.iter().filter(|(d, _, _)| d["sexo"] == "false").map(|(d, _, _)| d["id_discente"].as_str()).collect();
    assert_eq!(dirty_sexo.len(), 3, "every planted student reaches the merged table with a decided enrolment");
    assert_eq!(p.discentes.iter().filter(|d| d["sexo"] == "false").count(), 3);
    let dirty_year = rows.iter().filter(|(d, _, _)| d["ano_nascimento"] == "994").count();
    assert!(dirty_year >= 1, "the birth year 994 reaches the preprocessing");
    assert_eq!(p.discentes.iter().filter(|d| d["ano_nascimento"] == "994").count(), 1);
    let sexes: BTreeSet<&str> = p.discentes.iter().map(|r| r["sexo"].as_str()).collect();
    assert_eq!(sexes, BTreeSet::from(["F", "M", "false"]));
}

#[test]
fn enrolments_have_one_row_per_unit() {
    let p = scale_one();
    // Each enrolment's unit rows agree on what the merge keeps, so deduplication leaves one row.
    let mut kept: BTreeMap<(&str, &str), (&str, &str, &str)> = BTreeMap::new();
    let mut units: BTreeMap<(&str, &str), (Vec<u32>, u32)> = BTreeMap::new();
    for m in &p.matriculas {
        let key = (m["id_turma"].as_str(), m["discente"].as_str());
        let value = (m["reposicao"].as_str(), m["descricao"].as_str(), m["numero_total_faltas"].as_str());
        assert_eq!(*kept.entry(key).or_insert(value), value);
        if m["unidade"].is_empty() {
            assert!(m["faltas_unidade"].is_empty() && m["nota"].is_empty() && m["media_final"].is_empty());
            assert!(["INDEFERIDO", "CANCELADO", "EXCLUIDA"].contains(&m["descricao"].as_str()), "{m:?}");
            continue;
        }
        let entry = units.entry(key).or_default();
        entry.0.push(m["unidade"].parse().unwrap());
        entry.1 += m["faltas_unidade"].parse::<u32>().unwrap();
        assert!(m["numero_total_faltas"].parse::<u32>().unwrap() >= entry.1);
    }
    assert_eq!(kept.len() as u64, p.summary.enrolments);
    assert!(p.matriculas.len() as u64 > p.summary.enrolments, "several unit rows per graded enrolment");
    let total_faltas: BTreeMap<(&str, &str), u32> = p
        .matriculas
        .iter()
        .filter(|m| !m["unidade"].is_empty())
        .map(|m| ((m["id_turma"].as_str(), m["discente"].as_str()), m["numero_total_faltas"].parse().unwrap()))
        .collect();
    let mut three_units = 0;
    for (key, (unit_numbers, faltas)) in &units {
        assert_eq!(unit_numbers, &(1..=unit_numbers.len() as u32).collect::<Vec<_>>(), "{key:?}: units 1..n");
        assert!(unit_numbers.len() <= 3);
        assert_eq!(*faltas, total_faltas[key], "{key:?}: faltas_unidade add up to numero_total_faltas");
        three_units += usize::from(unit_numbers.len() == 3);
    }
    assert!(three_units > units.len() / 2, "most graded enrolments have three units");
}

#[test]
fn the_bundled_sample_is_what_the_generator_writes() {
    // data/sample in the workspace is generated with the default config; if the generator
    // changes, regenerate it (see data/sample/README.md) so the default pipeline stays honest.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    if !dir.exists() {
        eprintln!("no bundled sample at {}: nothing to compare", dir.display());
        return;
    }
    let raw = &scale_one().raw;
    for (name, bytes) in TABLE_FILES.iter().zip([&raw.discentes, &raw.socio, &raw.cursos, &raw.matriculas]) {
        let committed = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(&committed == bytes, "data/sample/{name} differs from `generate(scale 1, seed 2020)`: regenerate it");
    }
}

#[test]
fn the_real_format_fixtures_have_the_generators_columns_and_the_real_quirks() {
    // tests/data/ufrn-real-format holds hand-written tables with the real tables' quirks; the
    // generator must write the same columns, and the fixtures must keep their quirks.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/ufrn-real-format");
    if !dir.exists() {
        eprintln!("no fixtures at {}: nothing to compare", dir.display());
        return;
    }
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let discentes = records(DISCENTES_FILE, &read(DISCENTES_FILE), DISCENTES_HEADER);
    let socio = records(SOCIO_FILE, &read(SOCIO_FILE), SOCIO_HEADER);
    let matriculas = records(MATRICULAS_FILE, &read(MATRICULAS_FILE), MATRICULAS_HEADER);
    let cursos = String::from_utf8(read(CURSOS_FILE)).unwrap();
    let real_lines: BTreeSet<&str> = EMBEDDED_COURSES_CSV.split("\r\n").collect();
    assert!(cursos.split("\r\n").all(|line| real_lines.contains(line)), "course rows are copied from the real table");

    for id in discentes.iter().map(|r| &r["id_discente"]).chain(socio.iter().map(|r| &r["id_discente"])) {
        assert!(is_hex_id(id), "{id:?}");
    }
    assert!(matriculas.iter().all(|m| is_hex_id(&m["discente"])));
    let mut rows_per_student: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &socio {
        *rows_per_student.entry(row["id_discente"].as_str()).or_default() += 1;
        assert!(row["renda"].bytes().all(|b| b.is_ascii_digit()), "renda {:?}", row["renda"]);
    }
    assert!(rows_per_student.values().any(|&n| n == 3), "a student with three aid rows");
    assert!(socio.iter().any(|r| r["renda"] == "268"));
    assert!(discentes.iter().any(|r| r["ano_nascimento"] == "994"));
    assert!(discentes.iter().any(|r| r["sexo"] == "false"));
    let units: BTreeSet<&str> = matriculas.iter().map(|m| m["unidade"].as_str()).collect();
    assert_eq!(units, BTreeSet::from(["", "1", "2", "3"]));
}
