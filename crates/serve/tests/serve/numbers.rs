//! Training and serving read numbers written as text the same way (`esteira_core::parse_number`):
//! the same spelling gives the same feature value and probability through the train stage's path
//! and every serving entry point, and an ambiguous spelling is refused by all with one message.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::Float64Type;
use esteira_core::{NumberError, parse_number};
use esteira_serve::AppState;
use esteira_train::{Model, TrainError, predict, train};
use serde_json::{Value, json};

use crate::fixture::{self, Running, client, library_probability, sample_row};

const HEADER: &str = "sexo;ano_nascimento;raca;renda;possui_auxilio_alimentacao;possui_auxilio_residencia_moradia;\
                      possui_auxilio_transporte;grau_academico;area_conhecimento;estado_origem";

fn model_a() -> Model {
    Model::from_json(&fixture::models().a).unwrap()
}

/// The sample row as a `;`-separated CSV line, with `renda` and `ano_nascimento` as given.
fn csv_line(renda: &str, ano: &str) -> String {
    format!("F;{ano};Pardo;{renda};true;false;false;BACHARELADO;Ciências da Saúde;Paraíba")
}

/// The sample row with `renda` and `ano_nascimento` replaced.
fn row_with(renda: Value, ano: Value) -> Value {
    let mut row = sample_row();
    row["renda"] = renda;
    row["ano_nascimento"] = ano;
    row
}

async fn api_probability(c: &reqwest::Client, base: &str, row: &Value) -> f64 {
    let res = c.post(format!("{base}/api/predict")).json(row).send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{row}: {body}");
    body["predictions"][0]["probabilities"]["APROVADO"].as_f64().unwrap()
}

async fn csv_probability(c: &reqwest::Client, base: &str, line: &str) -> f64 {
    let res = c.post(format!("{base}/api/predict.csv")).body(format!("{HEADER}\n{line}\n")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{line}");
    let out = res.text().await.unwrap();
    out.lines().nth(1).unwrap().split(';').nth(10).unwrap().parse().unwrap()
}

async fn form_probability(c: &reqwest::Client, base: &str, renda: &str, ano: &str) -> f64 {
    let mut form: Vec<(String, String)> = sample_row()
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    for (k, v) in &mut form {
        match k.as_str() {
            "renda" => renda.clone_into(v),
            "ano_nascimento" => ano.clone_into(v),
            _ => {}
        }
    }
    let page = c.post(format!("{base}/")).form(&form).send().await.unwrap().text().await.unwrap();
    let at = page.find("id=\"p-positive\" data-value=\"").unwrap_or_else(|| panic!("{renda}: {page}"));
    let rest = &page[at + "id=\"p-positive\" data-value=\"".len()..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_point_scores_a_spelling_as_training_reads_it() {
    let f = fixture::store();
    let state = AppState::load(f.store.clone(), None, None).unwrap();
    let srv = Running::start(state).await;
    let c = client();
    let model = model_a();
    // (renda as text, its number, ano_nascimento as text, its number)
    for (renda, value, ano, year) in [
        ("1800.5", 1800.5, "1999", 1999.0),
        ("1800,5", 1800.5, " 1999 ", 1999.0),
        ("1.800,50", 1800.5, "+1999", 1999.0),
        ("1,800.5", 1800.5, "1999.0", 1999.0),
        ("268", 268.0, "994", 994.0),
        ("0,125", 0.125, "2001,", 2001.0),
        ("1,5e3", 1500.0, "2.0e3", 2000.0),
        ("-0", 0.0, "1.999e3", 1999.0),
    ] {
        // Training's path: text columns read by the train stage's code.
        let trained = library_probability(&model, &row_with(json!(renda), json!(ano)));
        let typed = library_probability(&model, &row_with(json!(value), json!(year)));
        assert_eq!(trained, typed, "{renda} / {ano}");
        // Serving: a JSON number, a JSON string, a CSV cell and a form field.
        let number = api_probability(&c, &srv.base, &row_with(json!(value), json!(year))).await;
        let string = api_probability(&c, &srv.base, &row_with(json!(renda), json!(ano))).await;
        let csv = csv_probability(&c, &srv.base, &csv_line(renda, ano)).await;
        let form = form_probability(&c, &srv.base, renda, ano).await;
        assert_eq!([number, string, csv, form], [trained; 4], "{renda} / {ano}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_value_gets_the_same_error_everywhere() {
    let f = fixture::store();
    let state = AppState::load(f.store.clone(), None, None).unwrap();
    let srv = Running::start(state).await;
    let c = client();
    let model = model_a();
    for (field, bad) in [("renda", "1.500"), ("renda", "1,500"), ("ano_nascimento", "1.999"), ("renda", "1.50,5")] {
        let words = parse_number(bad).unwrap_err().to_string();
        let expected = format!("{bad:?}: {words}");
        let mut row = sample_row();
        row[field] = json!(bad);

        // Training's path (the same code reads the training split).
        let single = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v])) };
        let batch = RecordBatch::try_from_iter(
            row.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), single(&v.as_str().map_or_else(|| v.to_string(), str::to_owned)))),
        )
        .unwrap();
        match predict(&model, &[batch]) {
            Err(TrainError::BadValue { column, row: 1, value, message }) => {
                assert_eq!((column.as_str(), value.as_str(), message.as_str()), (field, bad, words.as_str()));
            }
            other => panic!("{bad}: {other:?}"),
        }

        // The JSON API.
        let res = c.post(format!("{}/api/predict", srv.base)).json(&row).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert_eq!(body["errors"][0]["message"], expected.as_str(), "{body}");

        // The CSV endpoint.
        let line = if field == "renda" { csv_line(bad, "1999") } else { csv_line("1800.5", bad) };
        let res =
            c.post(format!("{}/api/predict.csv", srv.base)).body(format!("{HEADER}\n{line}\n")).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!((body["line"].as_u64(), body["field"].as_str()), (Some(2), Some(field)), "{body}");
        assert_eq!(body["errors"][0]["value"], bad, "{body}");
        assert_eq!(body["errors"][0]["message"], expected.as_str(), "{body}");

        // The form, in Portuguese.
        let form: Vec<(String, String)> = row
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or(&v.to_string()).into()))
            .collect();
        let res = c.post(format!("{}/", srv.base)).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        let portuguese = if bad == "1.50,5" { "agrupar de três em três" } else { "é ambíguo" };
        assert!(page.contains(portuguese), "{bad}: {page}");
        assert!(!page.contains("p-positive"), "{bad}");
    }
    assert!(matches!(parse_number("1.500"), Err(NumberError::Ambiguous { .. })));
    srv.stop().await;
}

/// A model trained on numbers written as text (Brazilian grouping, decimal commas, the portal's
/// spelling, whitespace) is the model trained on the same numbers as floats.
#[test]
fn training_on_text_numbers_gives_the_model_trained_on_floats() {
    let floats = fixture::synthetic(400, 1);
    let renda = floats.column_by_name("renda").unwrap().as_primitive::<Float64Type>();
    let spelled: StringArray = renda
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.unwrap();
            let whole = v as i64;
            Some(match i % 5 {
                0 => format!("{v}"),
                1 => format!("{whole},0"),
                2 if whole >= 1000 => format!("{}.{:03},00", whole / 1000, whole % 1000),
                3 if whole >= 1000 => format!("{},{:03}.0", whole / 1000, whole % 1000),
                _ => format!(" {whole} "),
            })
        })
        .collect();
    let schema = floats.schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .zip(floats.columns())
        .map(|(f, c)| if f.name() == "renda" { Arc::new(spelled.clone()) as ArrayRef } else { c.clone() })
        .collect();
    let text = RecordBatch::try_from_iter(schema.fields().iter().map(|f| f.name().as_str()).zip(columns)).unwrap();
    let params = fixture::params();
    let a = train(&params, &[floats], "same").unwrap().model.to_json();
    let b = train(&params, std::slice::from_ref(&text), "same").unwrap().model.to_json();
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());

    // One ambiguous value in the training split stops training, naming it.
    let mut values: Vec<Option<String>> = spelled.iter().map(|v| v.map(str::to_owned)).collect();
    values[7] = Some("2.500".into());
    let columns: Vec<ArrayRef> = text
        .columns()
        .iter()
        .zip(schema.fields())
        .map(
            |(c, f)| {
                if f.name() == "renda" { Arc::new(StringArray::from(values.clone())) as ArrayRef } else { c.clone() }
            },
        )
        .collect();
    let bad = RecordBatch::try_from_iter(schema.fields().iter().map(|f| f.name().as_str()).zip(columns)).unwrap();
    let e = train(&params, &[bad], "bad").unwrap_err().to_string();
    assert!(
        e.contains("column `renda`, row 8: value \"2.500\": ambiguous number: 2500 if `.` separates thousands"),
        "{e}"
    );
}
