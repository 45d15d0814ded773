//! The real course table from the UFRN portal (tests/data/cursos-de-graduacao.csv: quoted,
//! `;`, CRLF, UTF-8 accents), and a Windows-1252 re-encoding of it.

#[path = "ufrn_csv/fuzz.rs"]
mod fuzz;

use std::path::PathBuf;

use arrow::array::{Array, RecordBatch, StringArray};
use esteira_download::{CsvOptions, TextEncoding, read_csv, read_csv_file};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cursos-de-graduacao.csv")
}

fn value(b: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let a = b.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    a.is_valid(row).then(|| a.value(row).to_owned())
}

#[test]
fn real_course_table_parses_with_accents() {
    let parsed = read_csv_file(&fixture(), &CsvOptions::default()).unwrap();
    assert_eq!(parsed.encoding, TextEncoding::Utf8);
    let t = &parsed.table;
    assert_eq!(t.num_rows(), 120);
    assert_eq!(t.schema.fields().len(), 22);
    assert_eq!(t.column_names()[..3], ["id_curso", "nome", "id_coordenador"]);
    assert!(t.schema.fields().iter().all(|f| f.data_type() == &arrow::datatypes::DataType::Utf8 && f.is_nullable()));
    let b = t.concat().unwrap();
    assert_eq!(value(&b, "id_curso", 0).as_deref(), Some("2000004"));
    assert_eq!(value(&b, "nome", 0).as_deref(), Some("ADMINISTRAÇÃO"));
    assert_eq!(
        value(&b, "unidade_responsavel", 0).as_deref(),
        Some("FACULDADE DE ENGENHARIA, LETRAS E CIÊNCIAS SOCIAIS DO SERIDÓ - FELCS")
    );
    assert_eq!(value(&b, "area_conhecimento", 0).as_deref(), Some("Ciências Sociais Aplicadas"));
    assert_eq!(value(&b, "website", 0), None, "\"\" is null");
    assert_eq!(value(&b, "nome", 119).as_deref(), Some("ZOOTECNIA"));
    assert_eq!(value(&b, "municipio", 119).as_deref(), Some("MACAÍBA"));
    // 348 fields of the file are "" (counted independently of this reader).
    let nulls: usize = b.columns().iter().map(Array::null_count).sum();
    assert_eq!(nulls, 348);
    // No value keeps its quotes or a stray CR.
    for c in b.columns() {
        let s = c.as_any().downcast_ref::<StringArray>().unwrap();
        assert!(s.iter().flatten().all(|v| !v.contains('"') && !v.contains('\r')));
    }
}

#[test]
fn windows_1252_re_encoding_parses_to_the_same_values() {
    let utf8 = std::fs::read_to_string(fixture()).unwrap();
    let (latin, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&utf8);
    assert!(!unmappable, "every character of the table exists in Windows-1252");
    assert!(std::str::from_utf8(&latin).is_err(), "the re-encoding is really not UTF-8");
    let a = read_csv(utf8.as_bytes(), "utf8", &CsvOptions::default()).unwrap();
    // Small batches: the fallback must also re-decode batches read before the first accent.
    let b = read_csv(&latin[..], "latin", &CsvOptions { batch_rows: 7, ..CsvOptions::default() }).unwrap();
    assert_eq!(b.encoding, TextEncoding::Windows1252);
    assert_eq!(a.table.schema, b.table.schema);
    assert_eq!(a.table.concat().unwrap(), b.table.concat().unwrap());
}

#[test]
fn lf_line_ends_and_no_bom_change_nothing() {
    let crlf = std::fs::read(fixture()).unwrap();
    let text = String::from_utf8(crlf.clone()).unwrap();
    let mut lf = b"\xEF\xBB\xBF".to_vec();
    lf.extend_from_slice(text.replace("\r\n", "\n").as_bytes());
    let a = read_csv(&crlf[..], "crlf", &CsvOptions::default()).unwrap();
    let b = read_csv(&lf[..], "lf", &CsvOptions::default()).unwrap();
    assert_eq!(a.table.concat().unwrap(), b.table.concat().unwrap());
}

#[test]
fn truncated_download_is_a_clear_error() {
    // A body cut inside a quoted field on line 61.
    let bytes = std::fs::read(fixture()).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    let line_61 = text.match_indices("\r\n").nth(59).unwrap().0 + 2;
    // Two bytes into the second field's quoted text.
    let second_field = line_61 + text[line_61..].match_indices('"').nth(2).unwrap().0;
    let cut = &bytes[..second_field + 3];
    let err = read_csv(cut, "cursos.csv", &CsvOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with("cursos.csv: line 61: field"), "{err}");
    assert!(err.contains("never closed"), "{err}");
}
