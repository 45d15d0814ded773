//! The merge's rules for real data: `aggregate` (one row per key before a join), each join's
//! fan-out in the metrics and a warning when a join multiplies rows, declared cardinalities
//! (`validate`), and the `encoding` of CSV inputs. On tiny tables written here and on the
//! hand-written real-format UFRN tables (`tests/data/ufrn-real-format/`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, RecordBatch};
use esteira_core::{ArtifactStore, InputArtifact, LocalStore, Registry};
use esteira_download::{
    AggregateParams, Cardinality, CsvOptions, JoinSpec, JoinType, MergeParams, Table, aggregate, join, join_with,
    merge_tables, read_csv, select,
};
use serde_json::json;

use super::{build, column, input, run, store};

use crate::common::ufrn_merge;

/// A shared log buffer: what a scoped subscriber writes, from any thread it is dispatched on.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` under its own subscriber and returns what it logged, including what the stage
/// logged on the worker threads it fanned out to (it carries its caller's dispatcher there).
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let log = capture.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    (out, String::from_utf8_lossy(&log).into_owned())
}

fn csv(name: &str, text: &str) -> Table {
    read_csv(text.as_bytes(), name, &CsvOptions::default()).unwrap().table
}

fn strings(t: &Table, name: &str) -> Vec<Option<String>> {
    column(&t.concat().unwrap(), name)
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

fn output(store: &LocalStore, outcome: &esteira_core::StageOutcome) -> RecordBatch {
    let (schema, batches) =
        esteira_core::table::read_parquet(&store.object_path(&outcome.outputs["table"]).unwrap()).unwrap().into_parts();
    esteira_core::table::concat(&schema, &batches).unwrap()
}

// ---------------------------------------------------------------- aggregate

/// Student 1 holds three aids (one row each, the portal's spelling `true`/`false`), student 2
/// two (`t`/`f`, one of them null), student 3 one; `ano` differs across student 2's rows.
const SOCIO: &str = "id_discente;ano;renda;alim;transp;resid\n\
1;2020;268;true;false;false\n\
2;2019;0;f;;f\n\
1;2020;268;false;true;false\n\
3;2020;900;false;false;false\n\
2;2020;0;f;t;f\n\
1;2020;268;false;false;true\n";

fn socio_aggregate(first: &[&str]) -> AggregateParams {
    AggregateParams {
        any: ["alim", "transp", "resid"].map(String::from).to_vec(),
        first: first.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn aggregate_ors_flags_and_takes_first_values() {
    let on = ["id_discente".to_owned()];
    let (t, stats) = aggregate(csv("socio", SOCIO), "socio", &on, &socio_aggregate(&["ano"])).unwrap();
    // One row per key, in the order of each key's first row.
    assert_eq!(strings(&t, "id_discente"), some(&["1", "2", "3"]));
    assert_eq!(strings(&t, "alim"), some(&["true", "f", "false"]));
    assert_eq!(strings(&t, "transp"), some(&["true", "t", "false"]), "the true value keeps its spelling");
    assert_eq!(strings(&t, "resid"), some(&["true", "f", "false"]));
    assert_eq!(strings(&t, "ano"), some(&["2020", "2019", "2020"]), "first row's value");
    assert_eq!(strings(&t, "renda"), some(&["268", "0", "900"]));
    assert_eq!((stats.rows_in, stats.rows_out, stats.keys), (6, 3, 3));
    assert_eq!((stats.keys_with_2_rows, stats.keys_with_3_or_more_rows, stats.max_rows_per_key), (1, 1, 3));
    assert_eq!(
        stats.flags_from_later_rows,
        BTreeMap::from([("alim".into(), 0), ("resid".into(), 1), ("transp".into(), 2)])
    );

    // A flag null in every row stays null; null-key rows are kept as they are.
    let t = csv("s", "k;f;v\n1;;a\n;t;b\n1;;a\n;f;c\n");
    let params = AggregateParams { any: vec!["f".into()], first: vec![] };
    let (t, stats) = aggregate(t, "s", &["k".to_owned()], &params).unwrap();
    assert_eq!(strings(&t, "f"), [None, Some("t".into()), Some("f".into())]);
    assert_eq!(strings(&t, "v"), some(&["a", "b", "c"]));
    assert_eq!((stats.rows_out, stats.null_key_rows, stats.keys), (3, 2, 1));
}

#[test]
fn aggregate_conflicts_name_the_input_key_column_and_values() {
    let on = ["id_discente".to_owned()];
    // `ano` is neither `first` nor `any`: student 2's two values are an error.
    let err = aggregate(csv("socio", SOCIO), "socio", &on, &socio_aggregate(&[])).unwrap_err().to_string();
    assert_eq!(
        err,
        "aggregate of `socio` by id_discente: id_discente = \"2\" has different values in column `ano`: \
         \"2019\" (row 2) and \"2020\" (row 5); list the column in `aggregate.first` to take the first row's \
         value (or in `aggregate.any` if it is a flag)"
    );
    // Null against a value is a difference too.
    let t = csv("s", "k;v\n1;x\n1;\n");
    let err = aggregate(t, "s", &["k".to_owned()], &AggregateParams::default()).unwrap_err().to_string();
    assert!(err.contains("k = \"1\" has different values in column `v`: \"x\" (row 1) and null (row 2)"), "{err}");
    // A flag that is not one, even on a key with a single row.
    let t = csv("s", "k;f\n1;true\n2;sim\n");
    let params = AggregateParams { any: vec!["f".into()], first: vec![] };
    let err = aggregate(t, "s", &["k".to_owned()], &params).unwrap_err().to_string();
    assert!(
        err.ends_with("column `f`, row 2 (k = \"2\"): \"sim\" is not a boolean flag (true, false, t or f)"),
        "{err}"
    );
    // Columns that do not exist, or are listed twice.
    let err = aggregate(
        csv("s", "k;f\n1;t\n"),
        "s",
        &["k".to_owned()],
        &AggregateParams { any: vec!["g".into()], first: vec![] },
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("s: no column `g`"), "{err}");
    let params = AggregateParams { any: vec!["f".into()], first: vec!["f".into()] };
    let err = aggregate(csv("s", "k;f\n1;t\n"), "s", &["k".to_owned()], &params).unwrap_err().to_string();
    assert!(err.contains("`f` is in both `aggregate.any` and `aggregate.first`"), "{err}");
}

#[test]
fn the_join_aggregates_as_aggregate_does() {
    // The merge aggregates inside the join, on the join's own index of the right keys: same
    // rows, figures and errors as aggregating first and joining after.
    let tables = real_tables();
    let students =
        select(&tables["discentes"], "discentes", Some(&["id_discente".into(), "sexo".into()]), &BTreeMap::new())
            .unwrap();
    let on = ["id_discente".to_owned()];
    let params = AggregateParams {
        any: ["possui_bolsa_pesquisa", "possui_auxilio_alimentacao", "possui_auxilio_transporte"]
            .map(String::from)
            .to_vec(),
        first: vec!["possui_auxilio_residencia_moradia".into()],
    };
    let (socio, agg_alone) = aggregate(tables["socio"].clone(), "socio", &on, &params).unwrap();
    let (joined_after, stats_after) = join(&students, "discentes", &socio, "socio", &on, JoinType::Inner).unwrap();
    let spec =
        JoinSpec { on: &on, how: JoinType::Inner, validate: Some(Cardinality::OneToOne), aggregate: Some(&params) };
    let (joined, stats, agg) = join_with(&students, "discentes", &tables["socio"], "socio", &spec).unwrap();
    assert_eq!(joined.concat().unwrap(), joined_after.concat().unwrap());
    assert_eq!(stats, stats_after);
    assert_eq!(agg.as_ref(), Some(&agg_alone));
    assert_eq!(
        (agg_alone.rows_in, agg_alone.rows_out, agg_alone.flags_from_later_rows["possui_auxilio_transporte"]),
        (31, 26, 2)
    );
    // `first`: student 01's residence flag is its first row's, false.
    let b = joined.concat().unwrap();
    let ids = column(&b, "id_discente");
    let row = ids.iter().position(|id| id.as_deref() == Some("b38b2cfc1a136b5e057de14b0c3262c0")).unwrap();
    assert_eq!(column(&b, "possui_auxilio_residencia_moradia")[row].as_deref(), Some("false"));

    // Two keys with differing values: the error names the first differing row in table order,
    // whichever key came first.
    let t = csv("s", "k;v\n1;a\n2;x\n2;y\n1;b\n");
    let left = csv("l", "k;w\n1;p\n2;q\n");
    let on = ["k".to_owned()];
    let none = AggregateParams::default();
    let alone = aggregate(t.clone(), "s", &on, &none).unwrap_err().to_string();
    let spec = JoinSpec { on: &on, how: JoinType::Left, validate: None, aggregate: Some(&none) };
    let fused = join_with(&left, "l", &t, "s", &spec).unwrap_err().to_string();
    assert_eq!(alone, fused);
    assert!(alone.contains("k = \"2\" has different values in column `v`: \"x\" (row 2) and \"y\" (row 3)"), "{alone}");
}

#[test]
fn aggregate_params_are_checked_when_the_pipeline_is_read() {
    let mut registry = Registry::new();
    esteira_download::register(&mut registry).unwrap();
    let params = |aggregate: serde_json::Value| {
        json!({"base": "d", "joins": [{"input": "s", "on": ["id_discente"], "rename": {"discente": "id_discente"},
            "columns": ["discente", "alim"], "aggregate": aggregate}]})
    };
    let cases = [
        (json!({"any": ["id_discente"]}), "joins[0].aggregate.any", "is a key"),
        (json!({"any": ["alim"], "first": ["alim"]}), "joins[0].aggregate.first", "both"),
        (json!({"first": ["renda"]}), "joins[0].aggregate.first", "not among the columns the join brings"),
        (json!({"all": ["alim"]}), "joins[0].aggregate", "unknown field `all`"),
    ];
    for (aggregate, key, message) in cases {
        let err = registry.build("merge", params(aggregate.clone())).err().unwrap().to_string();
        assert!(err.contains(key) && err.contains(message), "{aggregate}: {err}");
    }
    registry.build("merge", params(json!({"any": ["alim"]}))).unwrap();
    let err = registry
        .build("merge", json!({"base": "d", "joins": [{"input": "s", "on": ["k"], "validate": "one_to_few"}]}))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("joins[0].validate") && err.contains("one_to_many"), "{err}");
}

// ---------------------------------------------------------------- fan-out and cardinality

const STUDENTS: &str = "id_discente;sexo\n1;F\n2;M\n3;F\n";
/// Student 1 has two socio rows (the portal's one row per aid), 3 has none, 4 is not a student.
const SOCIO_SMALL: &str = "id_discente;alim;transp\n1;true;false\n2;false;false\n1;false;true\n4;false;false\n";
const ENROLMENTS: &str = "id_turma;discente\nt1;1\nt2;1\nt3;2\nt4;2\nt5;2\n";

fn small_inputs(store: &LocalStore) -> BTreeMap<String, InputArtifact> {
    BTreeMap::from([
        ("discentes".to_owned(), input(store, STUDENTS.as_bytes())),
        ("socio".to_owned(), input(store, SOCIO_SMALL.as_bytes())),
        ("matriculas".to_owned(), input(store, ENROLMENTS.as_bytes())),
    ])
}

#[test]
fn a_join_that_multiplies_rows_is_counted_and_warned_about() {
    let (dir, store) = store();
    let stage = build(
        "merge",
        json!({"base": "discentes", "drop_duplicates": false,
               "joins": [{"input": "socio", "on": ["id_discente"]}]}),
    );
    let (out, log) = logged(|| run(stage.as_ref(), &store, small_inputs(&store), None, false, dir.path()));
    let out = out.unwrap();
    let j = &out.metrics["joins"][0];
    // Student 1 comes out twice, with contradicting flags.
    assert_eq!(column(&output(&store, &out), "id_discente"), some(&["1", "1", "2"]));
    assert_eq!(
        (j["left_rows"].as_u64(), j["right_rows"].as_u64(), j["out_rows"].as_u64()),
        (Some(3), Some(4), Some(3))
    );
    assert_eq!(
        (j["left_keys"].as_u64(), j["right_keys"].as_u64(), j["matched_keys"].as_u64()),
        (Some(3), Some(3), Some(2))
    );
    assert_eq!((j["left_keys_repeated"].as_u64(), j["max_left_rows_per_key"].as_u64()), (Some(0), Some(1)));
    assert_eq!((j["right_keys_repeated"].as_u64(), j["max_right_rows_per_key"].as_u64()), (Some(1), Some(2)));
    assert_eq!((j["multiplied_left_rows"].as_u64(), j["extra_rows"].as_u64()), (Some(1), Some(1)));
    assert_eq!(j["multiplied"], true);
    assert!(j.get("validate").is_none() && j.get("aggregate").is_none(), "{j}");
    // Out rows (3) do not exceed left rows (3) here (student 3 is dropped): the warning is about
    // left rows matching several right rows, which it names.
    assert!(log.contains("WARN") && log.contains("the join multiplies rows"), "{log}");
    assert!(log.contains("1 left row(s) matched several right rows (1 keys repeat in `socio`, up to 2 rows)"), "{log}");
    assert!(log.contains("[joins.aggregate]"), "{log}");

    // Aggregated first: one row per student, and nothing to warn about.
    let stage = build(
        "merge",
        json!({"base": "discentes", "joins": [{"input": "socio", "on": ["id_discente"], "validate": "one_to_one",
               "aggregate": {"any": ["alim", "transp"]}}]}),
    );
    let (out, log) = logged(|| run(stage.as_ref(), &store, small_inputs(&store), None, false, dir.path()));
    let out = out.unwrap();
    let b = output(&store, &out);
    assert_eq!(column(&b, "id_discente"), some(&["1", "2"]));
    assert_eq!((column(&b, "alim"), column(&b, "transp")), (some(&["true", "false"]), some(&["true", "false"])));
    let j = &out.metrics["joins"][0];
    assert_eq!(
        (j["multiplied"].as_bool(), j["extra_rows"].as_u64(), j["right_rows"].as_u64()),
        (Some(false), Some(0), Some(3))
    );
    assert_eq!(j["validate"], "one_to_one");
    assert_eq!(j["aggregate"]["rows_in"], 4);
    assert_eq!(j["aggregate"]["keys_with_2_rows"], 1);
    assert_eq!(j["aggregate"]["flags_from_later_rows"]["transp"], 1);
    assert!(!log.contains("multiplies"), "{log}");

    // A declared one-to-many join multiplies rows by design: logged, not warned.
    let stage = build(
        "merge",
        json!({"base": "discentes", "joins": [{"input": "matriculas", "on": ["id_discente"],
               "validate": "one_to_many", "rename": {"discente": "id_discente"}}]}),
    );
    let (out, log) = logged(|| run(stage.as_ref(), &store, small_inputs(&store), None, false, dir.path()));
    let j = &out.unwrap().metrics["joins"][0];
    assert_eq!(
        (j["out_rows"].as_u64(), j["extra_rows"].as_u64(), j["multiplied_left_rows"].as_u64()),
        (Some(5), Some(3), Some(2))
    );
    assert!(!log.contains("WARN"), "{log}");
    assert!(log.contains("INFO") && log.contains("2 left row(s) matched several right rows"), "{log}");
}

#[test]
fn broken_cardinalities_fail_naming_the_join_side_key_and_rows() {
    let (dir, store) = store();
    let merge = |validate: &str, input: &str, base: &str| {
        let mut params =
            json!({"base": base, "joins": [{"input": input, "on": ["id_discente"], "validate": validate}]});
        if base == "matriculas" {
            params["base_rename"] = json!({"discente": "id_discente"});
        }
        let stage = build("merge", params);
        run(stage.as_ref(), &store, small_inputs(&store), None, false, dir.path())
    };
    // Right side: student 1 has two socio rows.
    for validate in ["one_to_one", "many_to_one"] {
        let err = merge(validate, "socio", "discentes").unwrap_err();
        assert_eq!(
            err,
            format!(
                "inner join of `socio` onto `discentes`: validate = \"{validate}\" needs each key at most once in \
                 the right table (`socio`), but id_discente = \"1\" has 2 rows there (1 key(s) repeat, up to 2 \
                 rows); collapse the input to one row per key with [joins.aggregate]"
            )
        );
    }
    merge("one_to_many", "socio", "discentes").unwrap();
    merge("many_to_many", "socio", "discentes").unwrap();
    // Left side: the enrolments as the base, students joined onto them.
    for validate in ["one_to_one", "one_to_many"] {
        let err = merge(validate, "discentes", "matriculas").unwrap_err();
        assert!(
            err.starts_with(&format!(
                "inner join of `discentes` onto `matriculas`: validate = \"{validate}\" needs each key at most once \
                 in the left table (`matriculas`), but id_discente = \"1\" has 2 rows there (2 key(s) repeat, up to \
                 3 rows)"
            )),
            "{err}"
        );
    }
    merge("many_to_one", "discentes", "matriculas").unwrap();
}

// ---------------------------------------------------------------- the real-format tables

fn real_format(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/ufrn-real-format").join(file)
}

fn real_tables() -> BTreeMap<String, Table> {
    [
        ("discentes", "discentes.csv"),
        ("socio", "dados-socio-economicos-discentes-2020.1.csv"),
        ("cursos", "cursos-de-graduacao.csv"),
        ("matriculas", "matricula-componente-20205.csv"),
    ]
    .into_iter()
    .map(|(name, file)| {
        let bytes = std::fs::read(real_format(file)).unwrap();
        (name.to_owned(), read_csv(&bytes[..], name, &CsvOptions::default()).unwrap().table)
    })
    .collect()
}

#[test]
fn real_format_tables_give_one_row_per_enrolment() {
    // Students 01 (three aid rows), 02, 03 and 23 (two each): collapsed, each enrolment once
    // with every aid the student holds (tests/data/ufrn-real-format/README.md: 35 rows).
    let params: MergeParams = serde_json::from_value(ufrn_merge::ufrn_merge_params()).unwrap();
    let (table, report) = merge_tables(&params, real_tables()).unwrap();
    assert_eq!(table.num_rows(), 35, "{report:#?}");
    let socio = report.joins[0].aggregate.as_ref().unwrap();
    assert_eq!((socio.rows_in, socio.keys, socio.rows_out), (31, 26, 26));
    assert_eq!((socio.keys_with_2_rows, socio.keys_with_3_or_more_rows, socio.max_rows_per_key), (3, 1, 3));
    assert_eq!(socio.flags_from_later_rows["possui_auxilio_alimentacao"], 0);
    assert_eq!(socio.flags_from_later_rows["possui_auxilio_transporte"], 2); // 01, 03
    assert_eq!(socio.flags_from_later_rows["possui_auxilio_residencia_moradia"], 3); // 01, 02, 23
    assert!(report.joins.iter().all(|j| j.stats.blank_key_left_rows == 0), "{report:#?}");
    let b = table.concat().unwrap();
    let ids = column(&b, "id_discente");
    let student_01 = Some("b38b2cfc1a136b5e057de14b0c3262c0".to_owned());
    let rows: Vec<usize> = (0..b.num_rows()).filter(|&i| ids[i] == student_01).collect();
    assert!(!rows.is_empty());
    for flag in ["possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia"] {
        let values = column(&b, flag);
        assert!(rows.iter().all(|&i| values[i].as_deref() == Some("true")), "{flag}: {values:?}");
    }
    // One row per (class, student): the key suites/raw.json checks.
    let turmas = column(&b, "id_turma");
    let mut pairs: Vec<_> = turmas.iter().zip(&ids).collect();
    pairs.sort();
    let before = pairs.len();
    pairs.dedup();
    assert_eq!(pairs.len(), before);

    // The original study's join: 45 rows, the extra ones with contradicting flags.
    let mut naive = ufrn_merge::ufrn_merge_params();
    for join in naive["joins"].as_array_mut().unwrap() {
        join.as_object_mut().unwrap().remove("aggregate");
        join.as_object_mut().unwrap().remove("validate");
    }
    let naive: MergeParams = serde_json::from_value(naive).unwrap();
    let ((table, report), log) = logged(|| merge_tables(&naive, real_tables()).unwrap());
    assert_eq!(table.num_rows(), 45, "{report:#?}");
    let socio = &report.joins[0].stats;
    assert_eq!((socio.right_keys_repeated, socio.max_right_rows_per_key, socio.extra_rows), (4, 3, 5));
    assert!(log.contains("the join multiplies rows"), "{log}");
    // And declaring the cardinalities the study assumed catches it: the socio join first, or,
    // with that one undeclared, the enrolment join (each student once on its left side).
    let mut strict = ufrn_merge::ufrn_merge_params();
    strict["joins"][0].as_object_mut().unwrap().remove("aggregate");
    let strict: MergeParams = serde_json::from_value(strict).unwrap();
    let err = merge_tables(&strict, real_tables()).unwrap_err().to_string();
    assert!(
        err.contains(
            "needs each key at most once in the right table (`socio`), but id_discente = \
             \"b38b2cfc1a136b5e057de14b0c3262c0\" has 3 rows there (4 key(s) repeat, up to 3 rows)"
        ),
        "{err}"
    );
    let mut later = ufrn_merge::ufrn_merge_params();
    later["joins"][0].as_object_mut().unwrap().remove("aggregate");
    later["joins"][0].as_object_mut().unwrap().remove("validate");
    let later: MergeParams = serde_json::from_value(later).unwrap();
    let err = merge_tables(&later, real_tables()).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "inner join of `matriculas` onto `discentes+socio+cursos`: validate = \"one_to_many\" \
         needs each key at most once in the left table"
        ),
        "{err}"
    );
    // Every join's right side is selected and prepared before the first join runs; its errors
    // still come in join order. Without the rename, `matriculas` has no `id_discente` to join
    // on: with the socio join failing too, that one is reported; alone, the missing key is.
    let mut no_rename = ufrn_merge::ufrn_merge_params();
    assert_eq!(no_rename["joins"][2]["input"], "matriculas");
    no_rename["joins"][2].as_object_mut().unwrap().remove("rename");
    let mut both = no_rename.clone();
    both["joins"][0].as_object_mut().unwrap().remove("aggregate");
    let both: MergeParams = serde_json::from_value(both).unwrap();
    let err = merge_tables(&both, real_tables()).unwrap_err().to_string();
    assert!(err.contains("needs each key at most once in the right table (`socio`)"), "{err}");
    let missing: MergeParams = serde_json::from_value(no_rename).unwrap();
    let err = merge_tables(&missing, real_tables()).unwrap_err().to_string();
    assert!(err.starts_with("matriculas: no column `id_discente` (columns: id_turma, discente,"), "{err}");
}

// ---------------------------------------------------------------- encoding

#[test]
fn merge_encoding_param() {
    let (dir, store) = store();
    // A Windows-1252 course table (Ç = C7, Ã = C3, Í = CD).
    let cursos = b"id_curso;area\n10;CI\xCANCIAS\n20;ADMINISTRA\xC7\xC3O\n".to_vec();
    let students = "id_discente;id_curso\n1;10\n2;20\n";
    let inputs = || {
        BTreeMap::from([
            ("discentes".to_owned(), input(&store, students.as_bytes())),
            ("cursos".to_owned(), input(&store, &cursos)),
        ])
    };
    let params = |encoding: Option<&str>| {
        let mut p = json!({"base": "discentes", "joins": [{"input": "cursos", "how": "left", "on": ["id_curso"]}]});
        if let Some(e) = encoding {
            p["encoding"] = json!(e);
        }
        p
    };
    // The default: UTF-8, and the error says where the file is not.
    let stage = build("merge", params(None));
    assert_eq!(stage.params()["encoding"], "utf-8", "the default is filled");
    let err = run(stage.as_ref(), &store, inputs(), None, false, dir.path()).unwrap_err();
    assert_eq!(
        err,
        "input `cursos`: line 2, column 2 (`area`): invalid UTF-8 at byte offset 19 (byte 0xCA); if the file is \
         Windows-1252, set the merge param encoding = \"windows-1252\" (or \"auto\")"
    );
    // Declared: decoded, no warning.
    let stage = build("merge", params(Some("windows-1252")));
    let (out, log) = logged(|| run(stage.as_ref(), &store, inputs(), None, false, dir.path()));
    let out = out.unwrap();
    assert_eq!(column(&output(&store, &out), "area"), some(&["CIÊNCIAS", "ADMINISTRAÇÃO"]));
    assert_eq!(out.metrics["encodings"], json!({"cursos": "windows-1252", "discentes": "windows-1252"}));
    assert!(!out.metrics.contains_key("invalid_utf8"));
    assert!(!log.contains("WARN"), "{log}");
    // auto: the same values, and a warning naming the file and the byte.
    let stage = build("merge", params(Some("auto")));
    let (out, log) = logged(|| run(stage.as_ref(), &store, inputs(), None, false, dir.path()));
    let out = out.unwrap();
    assert_eq!(column(&output(&store, &out), "area"), some(&["CIÊNCIAS", "ADMINISTRAÇÃO"]));
    assert_eq!(out.metrics["encodings"], json!({"cursos": "windows-1252", "discentes": "utf-8"}));
    assert_eq!(out.metrics["invalid_utf8"], json!({"cursos": {"offset": 19, "line": 2, "column": 2, "byte": 0xCA}}));
    assert!(
        log.contains("WARN")
            && log.contains("input `cursos`: not valid UTF-8 at byte offset 19 (line 2, column 2 `area`"),
        "{log}"
    );
    let mut registry = Registry::new();
    esteira_download::register(&mut registry).unwrap();
    let err = registry.build("merge", params(Some("latin1"))).err().unwrap().to_string();
    assert!(err.contains("encoding") && err.contains("windows-1252"), "{err}");
    // Parquet inputs are Arrow already.
    let table = read_csv(students.as_bytes(), "d", &CsvOptions::default()).unwrap().table;
    let parquet = esteira_core::table::write_parquet(Vec::new(), &table.schema, &table.batches).unwrap();
    let mut with_parquet = inputs();
    with_parquet.insert("discentes".into(), input(&store, &parquet));
    let stage = build("merge", params(Some("windows-1252")));
    let out = run(stage.as_ref(), &store, with_parquet, None, false, dir.path()).unwrap();
    assert_eq!(out.metrics["encodings"]["discentes"], "parquet");
    assert!(output(&store, &out).column_by_name("area").unwrap().null_count() == 0);
}
