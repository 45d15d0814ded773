//! Each step's success and failure cases through the public `apply`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use esteira_preprocess::{PreprocessError, Preprocessed, Spec, apply, apply_stream, input_columns};
use serde_json::json;

fn table(cols: Vec<(&str, ArrayRef)>) -> (SchemaRef, RecordBatch) {
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    (schema, batch)
}

fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn spec(steps: serde_json::Value) -> Spec {
    let mut recipe = serde_json::Map::new();
    recipe.insert("steps".into(), steps);
    serde_json::from_value(recipe.into()).unwrap()
}

fn run(steps: serde_json::Value, cols: Vec<(&str, ArrayRef)>) -> Result<Preprocessed, PreprocessError> {
    let (schema, batch) = table(cols);
    apply(&spec(steps), &schema, vec![batch])
}

fn one(out: &Preprocessed) -> RecordBatch {
    esteira_core::table::concat(&out.schema, &out.batches).unwrap()
}

fn texts(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    b.column_by_name(name).unwrap().as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect()
}

fn outcome() -> ArrayRef {
    strs(&[Some("APROVADO"), Some("INDEFERIDO"), Some("REPROVADO"), None, Some("APROVADO POR NOTA")])
}

#[test]
fn select_keeps_the_declared_order() {
    let out =
        run(json!([{ "select": ["b", "a"] }]), vec![("a", strs(&[Some("1")])), ("b", strs(&[Some("2")]))]).unwrap();
    let names: Vec<&String> = out.schema.fields().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["b", "a"]);
    assert_eq!(texts(&one(&out), "b"), [Some("2".to_owned())]);
}

#[test]
fn select_lists_missing_and_available_columns() {
    let err = run(json!([{ "select": ["a", "x", "y"] }]), vec![("a", strs(&[])), ("b", strs(&[]))]).unwrap_err();
    assert_eq!(err.to_string(), "step 1 (select): no column named `x`, `y` (available: `a`, `b`)");
}

#[test]
fn later_steps_see_only_selected_columns() {
    let err = run(json!([{ "select": ["a"] }, { "fill": { "b": "?" } }]), vec![("a", strs(&[])), ("b", strs(&[]))])
        .unwrap_err();
    assert_eq!(err.to_string(), "step 2 (fill): no column named `b` (available: `a`)");
}

#[test]
fn cast_parses_each_type_and_counts_outcomes() {
    let out = run(
        json!([{ "cast": { "i": "int64", "f": "float64", "b": "bool", "n": "utf8" } }]),
        vec![
            ("i", strs(&[Some("1998"), Some(" 2001 "), None])),
            ("f", strs(&[Some("1234,5"), Some("0.25"), Some("")])),
            ("b", strs(&[Some("t"), Some("False"), Some("true")])),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ],
    )
    .unwrap();
    let b = one(&out);
    let i = b.column_by_name("i").unwrap().as_primitive::<Int64Type>();
    assert_eq!(i.iter().collect::<Vec<_>>(), [Some(1998), Some(2001), None]);
    let f = b.column_by_name("f").unwrap().as_primitive::<Float64Type>();
    assert_eq!(f.iter().collect::<Vec<_>>(), [Some(1234.5), Some(0.25), None]);
    let bools = b.column_by_name("b").unwrap().as_boolean();
    assert_eq!(bools.iter().collect::<Vec<_>>(), [Some(true), Some(false), Some(true)]);
    assert_eq!(texts(&b, "n"), [Some("1".to_owned()), Some("2".to_owned()), Some("3".to_owned())]);
    let m = out.report.metrics();
    assert_eq!(m["step01.cast.i.ok"], 2);
    assert_eq!(m["step01.cast.i.null"], 1);
    assert_eq!(m["step01.cast.f.null"], 1, "blank text is null, not an error");
    assert_eq!(out.schema.field_with_name("f").unwrap().data_type(), &DataType::Float64);
}

#[test]
fn cast_error_lists_unparsable_numbers_with_input_row_numbers() {
    // The filter drops rows 1 and 3 first: row numbers still refer to the input table.
    let err = run(
        json!([
            { "filter": { "column": "k", "eq": "y" } },
            { "cast": { "renda": "float64" } },
        ]),
        vec![
            ("k", strs(&[Some("n"), Some("y"), Some("n"), Some("y"), Some("y"), Some("y")])),
            ("renda", strs(&[Some("oops"), Some("1500"), Some("x"), Some("abc"), Some("1,234"), Some("2,5")])),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"step 2 (cast): column `renda`: 2 values do not parse as float64: row 4 "abc", row 5 "1,234"; set on_error = "null" or "drop" to accept them"#
    );
}

#[test]
fn cast_error_lists_at_most_twenty_values_across_batches() {
    let values: Vec<String> = (0..30).map(|i| format!("x{i}")).collect();
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true)]));
    let batches: Vec<RecordBatch> = values
        .chunks(7)
        .map(|c| RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(c.to_vec()))]).unwrap())
        .collect();
    let err = apply(&spec(json!([{ "cast": { "n": "int64" } }])), &schema, batches).unwrap_err();
    let PreprocessError::Cast { count, ref examples, .. } = err else { panic!("{err}") };
    assert_eq!(count, 30);
    assert_eq!(examples.len(), 20);
    assert_eq!(examples[19], (20, "x19".to_owned()));
    assert!(err.to_string().contains(r#"row 20 "x19" and 10 more; set on_error"#), "{err}");
}

#[test]
fn cast_error_in_an_earlier_step_wins_even_if_found_later() {
    let schema =
        Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true), Field::new("b", DataType::Utf8, true)]));
    let batch = |a: &str, b: &str| {
        RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![a])), Arc::new(StringArray::from(vec![b]))],
        )
        .unwrap()
    };
    let steps = spec(json!([{ "cast": { "a": "int64" } }, { "cast": { "b": "int64" } }]));
    let err = apply(&steps, &schema, vec![batch("1", "bad-b"), batch("bad-a", "2")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"step 1 (cast): column `a`: 1 value does not parse as int64: row 2 "bad-a"; set on_error = "null" or "drop" to accept them"#
    );
}

#[test]
fn cast_null_and_drop_policies() {
    let cols = || {
        vec![
            ("a", strs(&[Some("1"), Some("x"), Some("3"), Some("y")])),
            ("b", strs(&[Some("t"), Some("t"), Some("?"), Some("f")])),
        ]
    };
    let out = run(json!([{ "cast": { "a": { "type": "int64", "on_error": "null" } } }]), cols()).unwrap();
    assert_eq!(one(&out).column(0).null_count(), 2);
    assert_eq!(out.report.metrics()["step01.cast.a.set_null"], 2);

    let out = run(
        json!([{ "cast": { "a": { "type": "int64", "on_error": "drop" }, "b": { "type": "bool", "on_error": "drop" } } }]),
        cols(),
    )
    .unwrap();
    let b = one(&out);
    assert_eq!(b.column(0).as_primitive::<Int64Type>().values().to_vec(), [1]);
    let m = out.report.metrics();
    assert_eq!((m["step01.cast.a.dropped"], m["step01.cast.b.dropped"]), (2, 1));
    assert_eq!((m["step01.cast.rows_in"], m["step01.cast.rows_out"]), (4, 1));
}

#[test]
fn cast_rejects_impossible_types_before_reading_rows() {
    let err =
        run(json!([{ "cast": { "f": "bool" } }]), vec![("f", Arc::new(arrow::array::Float64Array::from(vec![1.0])))])
            .unwrap_err();
    assert_eq!(err.to_string(), "step 1 (cast): column `f` (Float64): cannot be cast to bool");
}

#[test]
fn filter_predicates_and_nulls() {
    let col = || vec![("d", outcome())];
    let kept = |steps: serde_json::Value| texts(&one(&run(steps, col()).unwrap()), "d");
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(kept(json!([{ "filter": { "column": "d", "eq": "APROVADO" } }])), [s("APROVADO")]);
    assert_eq!(
        kept(json!([{ "filter": { "column": "d", "ne": "APROVADO" } }])),
        [s("INDEFERIDO"), s("REPROVADO"), None, s("APROVADO POR NOTA")]
    );
    assert_eq!(
        kept(json!([{ "filter": { "column": "d", "in": ["REPROVADO", "APROVADO"] } }])),
        [s("APROVADO"), s("REPROVADO")]
    );
    assert_eq!(
        kept(json!([{ "filter": { "column": "d", "not_in": ["INDEFERIDO"] } }])),
        [s("APROVADO"), s("REPROVADO"), None, s("APROVADO POR NOTA")]
    );
    assert_eq!(kept(json!([{ "filter": { "column": "d", "is_null": true } }])), [None]);
    assert_eq!(kept(json!([{ "filter": { "column": "d", "is_not_null": true } }])).len(), 4);
    let out = run(json!([{ "filter": { "column": "d", "not_in": ["INDEFERIDO"] } }]), col()).unwrap();
    let m = out.report.metrics();
    assert_eq!((m["step01.filter.rows_in"], m["step01.filter.rows_out"]), (5, 4));
}

#[test]
fn filter_on_numbers_and_type_mismatch() {
    let col = || vec![("n", Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(2)])) as ArrayRef)];
    let out = run(json!([{ "filter": { "column": "n", "eq": 2 } }]), col()).unwrap();
    assert_eq!(out.report.rows_out, 2);
    let out = run(json!([{ "filter": { "column": "n", "in": [1.0, 2] } }]), col()).unwrap();
    assert_eq!(out.report.rows_out, 3);
    let err = run(json!([{ "filter": { "column": "n", "eq": "2" } }]), col()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"step 1 (filter): column `n` (Int64): the constant "2" is a string, which does not fit this column"#
    );
}

#[test]
fn map_replaces_values() {
    let out = run(
        json!([
            { "filter": { "column": "d", "is_not_null": true } },
            { "filter": { "column": "d", "ne": "INDEFERIDO" } },
            { "map": { "column": "d", "values": {
                "APROVADO": "APROVADO", "APROVADO POR NOTA": "APROVADO", "REPROVADO": "FALHOU" } } },
        ]),
        vec![("d", outcome())],
    )
    .unwrap();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(texts(&one(&out), "d"), [s("APROVADO"), s("FALHOU"), s("APROVADO")]);
    assert_eq!(out.report.metrics()["step03.map.d.mapped"], 3);
}

#[test]
fn map_error_lists_unmapped_values_and_counts() {
    let d = strs(&[Some("APROVADO"), Some("TRANCADO"), None, Some("TRANCADO"), Some("CANCELADO"), Some("TRANCADO")]);
    let err =
        run(json!([{ "map": { "column": "d", "values": { "APROVADO": "APROVADO" } } }]), vec![("d", d)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"step 1 (map): column `d`: 3 values are not in the mapping: "TRANCADO" (3 rows), null (1 row), "CANCELADO" (1 row); add them to `values` or set unmapped = "keep" or "drop""#
    );
}

#[test]
fn map_keep_and_drop() {
    let d = || vec![("d", strs(&[Some("A"), Some("B"), None]))];
    let out = run(json!([{ "map": { "column": "d", "values": { "A": "x" }, "unmapped": "keep" } }]), d()).unwrap();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(texts(&one(&out), "d"), [s("x"), s("B"), None]);
    assert_eq!(out.report.metrics()["step01.map.d.kept"], 2);
    let out = run(json!([{ "map": { "column": "d", "values": { "A": "x" }, "unmapped": "drop" } }]), d()).unwrap();
    assert_eq!(texts(&one(&out), "d"), [s("x")]);
    assert_eq!(out.report.metrics()["step01.map.d.dropped"], 2);
}

#[test]
fn fill_replaces_nulls_and_checks_types() {
    let cols = || {
        vec![
            ("raca", strs(&[None, Some("Pardo"), None])),
            ("n", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef),
            ("b", Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])) as ArrayRef),
            ("x", Arc::new(arrow::array::Float64Array::from(vec![None, Some(2.5), None])) as ArrayRef),
        ]
    };
    let out = run(json!([{ "fill": { "raca": "Não Informado", "n": 0, "b": false, "x": -1 } }]), cols()).unwrap();
    let b = one(&out);
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(texts(&b, "raca"), [s("Não Informado"), s("Pardo"), s("Não Informado")]);
    assert_eq!(b.column(1).as_primitive::<Int64Type>().values().to_vec(), [1, 0, 3]);
    assert_eq!(b.column(2).null_count(), 0);
    assert_eq!(b.column(3).as_primitive::<Float64Type>().values().to_vec(), [-1.0, 2.5, -1.0]);
    assert!(!out.schema.field(0).is_nullable());
    assert_eq!(out.report.metrics()["step01.fill.raca.filled"], 2);
    let err = run(json!([{ "fill": { "n": "zero" } }]), cols()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"step 1 (fill): column `n` (Int64): the constant "zero" is a string, which does not fit this column"#
    );
}

#[test]
fn output_does_not_depend_on_how_rows_are_batched() {
    let steps = spec(json!([
        { "filter": { "column": "d", "not_in": ["INDEFERIDO"] } },
        { "map": { "column": "d", "values": { "APROVADO": "A", "APROVADO POR NOTA": "A", "REPROVADO": "F" }, "unmapped": "keep" } },
        { "fill": { "d": "?" } },
    ]));
    let (schema, whole) = table(vec![("d", outcome())]);
    let a = apply(&steps, &schema, vec![whole.clone()]).unwrap();
    let b = apply(&steps, &schema, vec![whole.slice(0, 2), whole.slice(2, 0), whole.slice(2, 3)]).unwrap();
    assert_eq!(one(&a), one(&b));
    assert_eq!(a.report, b.report);
}

#[test]
fn mismatched_batches_are_an_error_not_a_panic() {
    let (schema, _) = table(vec![("d", strs(&[]))]);
    let (_, other) = table(vec![("n", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]);
    let err = apply(&spec(json!([{ "select": ["d"] }])), &schema, vec![other]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input batch 0 does not match the table schema: column `d` is Int64, the schema says Utf8"
    );
}

#[test]
fn huge_values_are_cut_in_error_messages() {
    // Twenty 1 MB cells used to make a 20 MB error line (and run record).
    let huge: Vec<String> = (0..25).map(|i| format!("{i}{}", "x".repeat(1 << 20))).collect();
    let column = || Arc::new(StringArray::from(huge.clone())) as ArrayRef;
    let err = run(json!([{ "cast": { "n": "int64" } }]), vec![("n", column())]).unwrap_err().to_string();
    assert!(err.len() < 10_000, "{} bytes", err.len());
    assert!(err.contains(r#"row 20 "19xxx"#) && err.contains("chars]") && err.contains("and 5 more"), "{err}");
    let err = run(json!([{ "map": { "column": "n", "values": { "a": "b" } } }]), vec![("n", column())])
        .unwrap_err()
        .to_string();
    assert!(err.len() < 10_000 && err.contains("chars]"), "{} bytes", err.len());
    // A table whose column names are huge: the list of available columns is cut too.
    let cols: Vec<(&str, ArrayRef)> = huge.iter().map(|name| (name.as_str(), strs(&[]))).collect();
    let err = run(json!([{ "select": ["renda"] }]), cols).unwrap_err().to_string();
    assert!(err.len() < 2_000 && err.contains("no column named `renda`"), "{} bytes", err.len());
}

#[test]
fn a_leading_select_reads_only_its_columns_and_gives_the_same_table() {
    let (schema, whole) = table(vec![
        ("a", strs(&[Some("x"), Some("y"), None])),
        ("d", outcome().slice(0, 3)),
        ("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
    ]);
    let steps = spec(json!([{ "select": ["n", "a", "n"] }, { "fill": { "a": "?" } }]));
    // A name twice is the recipe's error, as it always was.
    assert!(input_columns(&steps, &schema).is_err());
    let steps = spec(json!([{ "select": ["n", "a"] }, { "fill": { "a": "?" } }]));
    assert_eq!(input_columns(&steps, &schema).unwrap(), Some(vec![0, 2]));
    assert_eq!(input_columns(&spec(json!([{ "fill": { "a": "?" } }])), &schema).unwrap(), None);
    assert!(input_columns(&spec(json!([{ "select": ["nope"] }])), &schema).is_err());

    // Given only the columns it reads, batch by batch, the recipe makes the same table.
    let read = [0, 2];
    let projected = Arc::new(schema.project(&read).unwrap());
    let batches = [whole.slice(0, 1), whole.slice(1, 2)].map(|b| Ok::<_, PreprocessError>(b.project(&read).unwrap()));
    let streamed = apply_stream(&steps, &projected, batches).unwrap();
    let full = apply(&steps, &schema, vec![whole.clone()]).unwrap();
    assert_eq!(one(&streamed), one(&full));
    assert_eq!(streamed.report, full.report);

    // A batch that cannot be read ends the run with that error.
    let broken = std::io::Error::other("the reader failed at batch 1");
    let failing = [Ok(whole.clone()), Err(esteira_core::CoreError::io(std::path::Path::new("t.parquet"), broken))];
    let err = apply_stream(&steps, &schema, failing).unwrap_err().to_string();
    assert!(err.contains("the reader failed at batch 1"), "{err}");
}
