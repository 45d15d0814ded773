//! The real course table from the UFRN portal (tests/data/cursos-de-graduacao.csv: quoted,
//! `;`, CRLF, UTF-8 accents), and a Windows-1252 re-encoding of it.

#[path = "ufrn_csv/fuzz.rs"]
mod fuzz;

use std::path::PathBuf;

use arrow::array::{Array, RecordBatch, StringArray};
use esteira_download::{CsvEncoding, CsvOptions, InvalidUtf8, TextEncoding, read_csv, read_csv_file};

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
    let auto = CsvOptions { batch_rows: 7, encoding: CsvEncoding::Auto, ..CsvOptions::default() };
    let b = read_csv(&latin[..], "latin", &auto).unwrap();
    assert_eq!(b.encoding, TextEncoding::Windows1252);
    assert_eq!(a.table.schema, b.table.schema);
    assert_eq!(a.table.concat().unwrap(), b.table.concat().unwrap());
    // The first accent is the Ç of ADMINISTRAÇÃO, the second field of line 2.
    let first = latin.iter().position(|&b| b >= 0x80).unwrap() as u64;
    assert_eq!(b.invalid_utf8, Some(InvalidUtf8 { offset: first, line: 2, column: 2, byte: 0xC7 }));
    // Declared, the same values and no check.
    let declared = CsvOptions { encoding: CsvEncoding::Windows1252, ..CsvOptions::default() };
    let c = read_csv(&latin[..], "latin", &declared).unwrap();
    assert_eq!((c.encoding, c.invalid_utf8), (TextEncoding::Windows1252, None));
    assert_eq!(a.table.concat().unwrap(), c.table.concat().unwrap());
    // The default, UTF-8, refuses the file and says where.
    let err = read_csv(&latin[..], "latin", &CsvOptions::default()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "latin: line 2, column 2 (`nome`): invalid UTF-8 at byte offset {first} (byte 0xC7); if the file is \
             Windows-1252, set the merge param encoding = \"windows-1252\" (or \"auto\")"
        )
    );
}

#[test]
fn one_invalid_byte_in_a_large_table_is_an_error_not_mojibake() {
    // One stray byte deep in a multi-batch table used to re-decode every value as Windows-1252
    // without a word. Now `utf-8` names the byte, and `auto` (which still decodes the whole file
    // as Windows-1252) names it in a warning and in the result.
    let mut text = "\"id\";\"nome\"\r\n".to_owned();
    for i in 0..5_000 {
        text.push_str(&format!("\"{i}\";\"JOÃO {i}\"\r\n"));
    }
    let mut bytes = text.into_bytes();
    let line = 4_000u64;
    let needle = format!("\"JOÃO {}\"", line - 2).into_bytes();
    // The Ã (C3 83) of that record's name loses its continuation byte.
    let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap() + 3;
    bytes[at + 1] = b'X';
    let small = CsvOptions { batch_rows: 1_000, ..CsvOptions::default() };
    let err = read_csv(&bytes[..], "t.csv", &small).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("t.csv: line {line}, column 2 (`nome`): invalid UTF-8 at byte offset {at}")),
        "{err}"
    );
    let auto = read_csv(&bytes[..], "t.csv", &CsvOptions { encoding: CsvEncoding::Auto, ..small }).unwrap();
    assert_eq!(auto.invalid_utf8.map(|i| (i.offset, i.line)), Some((at as u64, line)));
    let b = auto.table.concat().unwrap();
    assert_eq!(value(&b, "nome", 0).as_deref(), Some("JOÃƒO 0"), "the whole file is decoded as Windows-1252");
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
