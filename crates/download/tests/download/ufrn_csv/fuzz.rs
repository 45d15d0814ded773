//! Fuzzing the portal CSV reader with proptest: arbitrary bytes, and near-valid files (quoted
//! fields, doubled quotes, delimiters and line ends inside quotes, BOM, Windows-1252 bytes)
//! with random edits, read as `utf-8`, `windows-1252` or `auto`. Errors are fine; a panic is a
//! failure, and so is a result that depends on how the reader hands over the bytes (one read or a
//! trickle of small ones), or an `auto` read that disagrees with a `utf-8` one.
//!
//! Each target runs 256 cases, or `PROPTEST_CASES`, and prints how many inputs it ran.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use esteira_download::{CsvEncoding, CsvOptions, DownloadError, InvalidUtf8, TextEncoding, read_csv};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Hands `bytes` over `chunk` bytes at a time, as a slow network does.
struct Trickle<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// Reads `bytes` whole and trickled; both must give the same table or the same error.
fn check(bytes: &[u8], options: &CsvOptions, chunk: usize) -> Result<(), TestCaseError> {
    let whole = read_csv(bytes, "fuzz.csv", options);
    let trickled = read_csv(Trickle { rest: bytes, chunk: chunk.max(1) }, "fuzz.csv", options);
    match (whole, trickled) {
        (Ok(a), Ok(b)) => {
            prop_assert_eq!(&a.table.schema, &b.table.schema);
            prop_assert_eq!(a.encoding, b.encoding);
            prop_assert_eq!(a.bytes, bytes.len() as u64);
            prop_assert!(a.table.batches.iter().all(|batch| batch.schema() == a.table.schema));
            prop_assert_eq!(a.table.concat().map_err(|e| e.to_string()), b.table.concat().map_err(|e| e.to_string()));
        }
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
        (a, b) => prop_assert!(false, "whole read: {:?}\ntrickled: {:?}", a.map(|t| t.table), b.map(|t| t.table)),
    }
    if options.encoding == CsvEncoding::Auto {
        check_encodings_agree(bytes, options)?;
    }
    Ok(())
}

fn config() -> Config {
    // `Config::default()` reads PROPTEST_CASES; without it, 256 cases. XorShift: an unoptimised
    // ChaCha would take most of the time.
    Config { failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() }
}

/// Runs `test` on `strategy` and prints how many inputs passed.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let ran = AtomicU64::new(0);
    let mut runner = TestRunner::new(config());
    let result = runner.run(&strategy, |value| {
        test(value)?;
        ran.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!("fuzz {name}: {} inputs, no panic", ran.load(Ordering::Relaxed));
}

fn options() -> impl Strategy<Value = CsvOptions> {
    let delimiter = prop_oneof![8 => Just(b';'), 1 => Just(b','), 1 => any::<u8>()];
    let encoding =
        prop_oneof![2 => Just(CsvEncoding::Auto), 1 => Just(CsvEncoding::Utf8), 1 => Just(CsvEncoding::Windows1252)];
    (delimiter, prop_oneof![Just(65_536usize), 0usize..4], encoding)
        .prop_map(|(delimiter, batch_rows, encoding)| CsvOptions { delimiter, batch_rows, encoding })
}

/// `auto` and `utf-8` agree: where `auto` falls back to Windows-1252, `utf-8` fails naming the
/// same byte; where `auto` keeps UTF-8, `utf-8` gives the same table.
fn check_encodings_agree(bytes: &[u8], options: &CsvOptions) -> Result<(), TestCaseError> {
    let auto = read_csv(bytes, "fuzz.csv", &CsvOptions { encoding: CsvEncoding::Auto, ..*options });
    let strict = read_csv(bytes, "fuzz.csv", &CsvOptions { encoding: CsvEncoding::Utf8, ..*options });
    match (auto, strict) {
        (Ok(a), Ok(s)) => {
            prop_assert_eq!(a.invalid_utf8, None);
            prop_assert_eq!(a.table.concat().map_err(|e| e.to_string()), s.table.concat().map_err(|e| e.to_string()));
        }
        (Ok(a), Err(DownloadError::InvalidUtf8 { offset, line, column, byte, .. })) => {
            prop_assert_eq!(a.encoding, TextEncoding::Windows1252);
            prop_assert_eq!(a.invalid_utf8, Some(InvalidUtf8 { offset, line, column, byte }));
            prop_assert_eq!(bytes.get(offset as usize), Some(&byte));
        }
        (Err(a), Err(s)) if !matches!(s, DownloadError::InvalidUtf8 { .. }) => {
            prop_assert_eq!(a.to_string(), s.to_string());
        }
        (Err(_), Err(_)) => {}
        (a, s) => prop_assert!(false, "auto: {:?}\nutf-8: {:?}", a.map(|t| t.table), s.map(|t| t.table)),
    }
    Ok(())
}

#[test]
fn arbitrary_bytes_never_panic() {
    let bytes = prop::collection::vec(any::<u8>(), 0..2048);
    fuzz("csv arbitrary bytes", (bytes, options(), 1usize..64), |(bytes, options, chunk)| {
        check(&bytes, &options, chunk)
    });
}

/// One field as the portal writes it, or almost.
fn field() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(
        prop_oneof![
            6 => prop::char::range('a', 'z').prop_map(|c| c.to_string().into_bytes()),
            1 => Just(b";".to_vec()),
            1 => Just(b"\"".to_vec()),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b"\n".to_vec()),
            1 => Just("ÇÃ".as_bytes().to_vec()),
            1 => Just(b"\xC7\xC3".to_vec()), // Windows-1252 ÇÃ: not UTF-8
            1 => any::<u8>().prop_map(|b| vec![b]),
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat());
    (text, 0u8..4).prop_map(|(text, style)| match style {
        // Quoted, inner quotes doubled: valid whatever the text holds.
        0 | 1 => {
            let mut out = b"\"".to_vec();
            for &b in &text {
                out.push(b);
                if b == b'"' {
                    out.push(b'"');
                }
            }
            out.push(b'"');
            out
        }
        // Bare: valid unless the text holds a delimiter, quote or line end.
        2 => text,
        // Quoted without doubling: often invalid.
        _ => [b"\"".as_slice(), &text, b"\""].concat(),
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), prop_oneof![Just(b'"'), Just(b';'), Just(b'\r'), Just(b'\n'), any::<u8>()])
            .prop_map(|(at, b)| Edit::Replace(at, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *edit {
        Edit::Insert(i, b) => {
            let i = at(i, bytes.len() + 1);
            bytes.insert(i, b);
        }
        Edit::Delete(i) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes.remove(i);
        }
        Edit::Replace(i, b) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes[i] = b;
        }
        Edit::Truncate(i) => bytes.truncate(at(i, bytes.len() + 1)),
        Edit::Delete(_) | Edit::Replace(..) => {}
    }
}

/// A portal-style file: optional BOM, a header of 1-5 quoted names, 0-8 records of as many
/// fields (sometimes one more or one less), CRLF, LF or CR line ends, then 0-3 random edits.
fn near_valid() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::collection::vec("[a-z_]{1,6}", 1..5);
    (names, any::<bool>(), prop_oneof![Just("\r\n"), Just("\n"), Just("\r")], any::<bool>())
        .prop_flat_map(|(names, bom, eol, final_eol)| {
            let width = names.len();
            let records = prop::collection::vec(
                (
                    prop::collection::vec(field(), width..=width),
                    prop_oneof![10 => Just(0i8), 1 => Just(-1), 1 => Just(1)],
                ),
                0..8,
            );
            (Just((names, bom, eol, final_eol)), records, prop::collection::vec(edit(), 0..3))
        })
        .prop_map(|((names, bom, eol, final_eol), records, edits)| {
            let mut out = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            let header: Vec<Vec<u8>> = names.iter().map(|n| format!("\"{n}\"").into_bytes()).collect();
            out.extend_from_slice(&header.join(&b';'));
            for (mut fields, ragged) in records {
                match ragged {
                    -1 => {
                        fields.pop();
                    }
                    1 => fields.push(b"\"extra\"".to_vec()),
                    _ => {}
                }
                out.extend_from_slice(eol.as_bytes());
                out.extend_from_slice(&fields.join(&b';'));
            }
            if final_eol {
                out.extend_from_slice(eol.as_bytes());
            }
            for e in &edits {
                apply(&mut out, e);
            }
            out
        })
}

#[test]
fn near_valid_files_never_panic() {
    fuzz("csv near-valid", (near_valid(), options(), 1usize..64), |(bytes, options, chunk)| {
        check(&bytes, &options, chunk)
    });
}

#[test]
fn near_valid_files_mostly_parse() {
    // The generator is worth its name: a good share of its inputs are valid files, so the
    // edits and bad fields land inside files the reader gets far into (a check of the strategy,
    // not of the reader; a fixed seed, so never flaky).
    let config = Config { cases: 200, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let ok = AtomicU64::new(0);
    runner
        .run(&near_valid(), |bytes| {
            // `auto`: the generator plants Windows-1252 bytes on purpose.
            let auto = CsvOptions { encoding: CsvEncoding::Auto, ..CsvOptions::default() };
            if read_csv(&bytes[..], "fuzz.csv", &auto).is_ok() {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    let ok = ok.load(Ordering::Relaxed);
    assert!(ok >= 20, "only {ok} of 200 near-valid inputs parsed");
}
