//! Converting columns to the `cast` step's target types, and parsing text into numbers and
//! booleans.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow::compute::{CastOptions, can_cast_types, cast, cast_with_options};
use arrow::datatypes::{ArrowNativeType, DataType, Float64Type, Int64Type};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::CastType;

/// The outcome of parsing one text value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed<T> {
    /// A value.
    Value(T),
    /// Blank text: read as null, not as an error (CSV readers disagree on `""` vs empty).
    Blank,
    /// Text that is not a value of the type.
    Invalid,
}

/// `str::trim` only when an end is not plain ASCII: most values need no trimming and the
/// Unicode-aware trim is a measurable share of a cast.
fn trim(text: &str) -> &str {
    let plain = |b: u8| b.is_ascii() && !b.is_ascii_whitespace();
    match text.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => text,
        [only] if plain(*only) => text,
        _ => text.trim(),
    }
}

/// Parses an integer: optional sign and decimal digits, surrounding whitespace ignored.
pub fn parse_int64(text: &str) -> Parsed<i64> {
    let t = trim(text);
    if t.is_empty() {
        return Parsed::Blank;
    }
    t.parse::<i64>().map_or(Parsed::Invalid, Parsed::Value)
}

/// Parses a boolean from exactly `true`, `false`, `t`, `f`, `True` or `False`.
pub fn parse_bool(text: &str) -> Parsed<bool> {
    match trim(text) {
        "" => Parsed::Blank,
        "true" | "t" | "True" => Parsed::Value(true),
        "false" | "f" | "False" => Parsed::Value(false),
        _ => Parsed::Invalid,
    }
}

/// Parses a finite float. Besides Rust's float syntax (`1725`, `-0.5`, `1e3`), one comma is read
/// as the decimal separator (`1234,5`, `0,75`) unless the value could equally be an English
/// thousands grouping: a comma followed by exactly three digits after a 1–3 digit integer part
/// that does not start with 0 (`1,234`, `12,500`) is rejected as ambiguous. Values mixing `.`
/// and `,`, or with several commas, are rejected. NaN and infinities are rejected.
pub fn parse_float64(text: &str) -> Parsed<f64> {
    let t = trim(text);
    if t.is_empty() {
        return Parsed::Blank;
    }
    if let Some(v) = fast_decimal(t.as_bytes()) {
        return Parsed::Value(v);
    }
    let v = if let Some((int, frac)) = t.split_once(',') {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int.strip_prefix(['-', '+']).unwrap_or(int)) || !digits(frac) || ambiguous_comma(t) {
            return Parsed::Invalid;
        }
        format!("{int}.{frac}").parse::<f64>()
    } else {
        t.parse::<f64>()
    };
    match v {
        Ok(v) if v.is_finite() => Parsed::Value(v),
        _ => Parsed::Invalid,
    }
}

/// `1,234` could be 1.234 (Brazilian) or 1234 (English).
fn ambiguous_comma(t: &str) -> bool {
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
    let Some((int, frac)) = unsigned.split_once(',') else { return false };
    (1..=3).contains(&int.len())
        && !int.starts_with('0')
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 3
        && frac.bytes().all(|b| b.is_ascii_digit())
}

const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// The common case `[+-]digits[.,digits]` with at most 15 digits, without the general parser:
/// an integer below 2^53 divided by an exact power of ten is one correctly rounded IEEE
/// operation, so the result equals `str::parse`'s (Clinger's fast path).
fn fast_decimal(b: &[u8]) -> Option<f64> {
    let (neg, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut i = 0usize;
    while i < rest.len() && rest[i].is_ascii_digit() {
        mantissa = mantissa * 10 + u64::from(rest[i] - b'0');
        digits += 1;
        if digits > 15 {
            return None;
        }
        i += 1;
    }
    let int_digits = i;
    if int_digits == 0 {
        return None;
    }
    let mut frac = 0usize;
    if i < rest.len() {
        let sep = rest[i];
        if sep != b'.' && sep != b',' {
            return None;
        }
        i += 1;
        while i < rest.len() && rest[i].is_ascii_digit() {
            mantissa = mantissa * 10 + u64::from(rest[i] - b'0');
            digits += 1;
            frac += 1;
            if digits > 15 {
                return None;
            }
            i += 1;
        }
        if frac == 0 || i != rest.len() {
            return None;
        }
        if sep == b',' && frac == 3 && int_digits <= 3 && rest[0] != b'0' {
            return None;
        }
    }
    let v = mantissa as f64 / POW10[frac];
    Some(if neg { -v } else { v })
}

/// A converted column.
pub(crate) struct Converted {
    pub array: ArrayRef,
    /// Positions whose (non-null) value did not convert; null in `array`.
    pub failed: Vec<usize>,
    /// Values that were null (or blank text) before the cast.
    pub was_null: u64,
    /// Values converted.
    pub ok: u64,
}

pub(crate) fn is_string_like(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string_like(v),
        _ => false,
    }
}

pub(crate) fn target_type(to: CastType) -> DataType {
    match to {
        CastType::Int64 => DataType::Int64,
        CastType::Float64 => DataType::Float64,
        CastType::Bool => DataType::Boolean,
        CastType::Utf8 => DataType::Utf8,
    }
}

/// Whether a column of type `from` can be cast to `to` at all (checked before any data).
pub(crate) fn castable(from: &DataType, to: CastType) -> bool {
    let target = target_type(to);
    if from == &target || is_string_like(from) {
        return true;
    }
    match to {
        // Floats to booleans would need a rule for 0.5; only integers 0 and 1 are accepted.
        CastType::Bool => from.is_integer(),
        _ => can_cast_types(from, &target),
    }
}

/// Casts a column; values that do not convert become null and are listed in `failed`.
pub(crate) fn convert(array: &ArrayRef, to: CastType) -> Result<Converted, ArrowError> {
    let target = target_type(to);
    let from = array.data_type();
    if from == &target {
        let nulls = array.null_count();
        return Ok(Converted {
            array: Arc::clone(array),
            failed: Vec::new(),
            was_null: nulls as u64,
            ok: (array.len() - nulls) as u64,
        });
    }
    if is_string_like(from) {
        let text = cast(array, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        return Ok(match to {
            CastType::Int64 => parse_primitive::<Int64Type>(text, fast_int, parse_int64),
            CastType::Float64 => parse_primitive::<Float64Type>(text, fast_decimal, parse_float64),
            CastType::Bool => parse_booleans(text),
            CastType::Utf8 => text_column(text),
        });
    }
    if to == CastType::Int64 && from.is_floating() {
        return Ok(floats_to_int(&cast(array, &DataType::Float64)?));
    }
    if to == CastType::Bool && from.is_integer() {
        return Ok(ints_to_bool(&cast(array, &DataType::Int64)?));
    }
    let out = cast_with_options(array, &target, &CastOptions { safe: true, ..Default::default() })?;
    let failed: Vec<usize> = (0..array.len()).filter(|&i| array.is_valid(i) && out.is_null(i)).collect();
    let was_null = array.null_count() as u64;
    let ok = (array.len() - out.null_count()) as u64;
    Ok(Converted { array: out, failed, was_null, ok })
}

/// The text of one value, for error messages.
pub(crate) fn value_text(array: &dyn Array, i: usize) -> String {
    if let Some(s) = array.as_string_opt::<i32>() {
        return s.value(i).to_owned();
    }
    match ArrayFormatter::try_new(array, &FormatOptions::default()) {
        Ok(f) => f.value(i).to_string(),
        Err(_) => "<unprintable>".to_owned(),
    }
}

fn text_column(text: &StringArray) -> Converted {
    // A string type other than Utf8 (or a dictionary): the cast to Utf8 already did the work.
    let nulls = text.null_count();
    Converted {
        array: Arc::new(text.clone()),
        failed: Vec::new(),
        was_null: nulls as u64,
        ok: (text.len() - nulls) as u64,
    }
}

/// Plain `[+-]digits` (at most 18 digits, so no overflow) as `parse_int64` reads it. Text that
/// needs trimming or is anything else takes the general path.
fn fast_int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(if neg { -v } else { v })
}

/// The exact spellings `parse_bool` accepts, without trimming. Slice patterns compare the
/// bytes inline; matching on byte-string literals called `memcmp` per value.
fn fast_bool(b: &[u8]) -> Option<bool> {
    // Whole-word compares: one load and two compares per value instead of a byte at a time.
    const TRUE: u32 = u32::from_le_bytes(*b"true");
    const TRUE_CAP: u32 = u32::from_le_bytes(*b"True");
    const ALSE: u32 = u32::from_le_bytes(*b"alse");
    match b.len() {
        4 => {
            let w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (w == TRUE || w == TRUE_CAP).then_some(true)
        }
        5 => ((b[0] == b'f' || b[0] == b'F') && u32::from_le_bytes([b[1], b[2], b[3], b[4]]) == ALSE).then_some(false),
        1 => match b[0] {
            b't' => Some(true),
            b'f' => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Validity bits packed a word at a time (arrow's bit order on a little-endian word), with no
/// per-value builder call; `None` when every value is valid, as `NullBufferBuilder` gives.
struct Validity {
    words: Vec<u64>,
    len: usize,
}

impl Validity {
    fn new(len: usize) -> Self {
        Self { words: vec![0; len.div_ceil(64)], len }
    }

    #[inline]
    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    fn buffer(self) -> BooleanBuffer {
        let bytes: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        BooleanBuffer::new(Buffer::from_vec(bytes), 0, self.len)
    }

    fn finish(self, invalid: u64) -> Option<NullBuffer> {
        (invalid > 0).then(|| NullBuffer::new(self.buffer()))
    }
}

/// Parses each value, trying `fast` on the raw bytes first: it accepts only text that `parse`
/// would read the same way (no surrounding whitespace), so the result is `parse`'s.
fn parse_primitive<T>(
    text: &StringArray,
    fast: fn(&[u8]) -> Option<T::Native>,
    parse: fn(&str) -> Parsed<T::Native>,
) -> Converted
where
    T: arrow::datatypes::ArrowPrimitiveType,
{
    let n = text.len();
    let mut values = vec![T::Native::default(); n];
    let mut valid = Validity::new(n);
    let mut failed = Vec::new();
    let mut was_null = 0u64;
    let offsets = text.value_offsets();
    let data = text.value_data();
    let nulls = text.nulls().filter(|n| n.null_count() > 0);
    for (i, slot) in values.iter_mut().enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            was_null += 1;
            continue;
        }
        let bytes = &data[offsets[i].as_usize()..offsets[i + 1].as_usize()];
        let parsed = match fast(bytes) {
            Some(v) => Parsed::Value(v),
            None => parse(text.value(i)),
        };
        match parsed {
            Parsed::Value(v) => {
                *slot = v;
                valid.set(i);
            }
            Parsed::Blank => was_null += 1,
            Parsed::Invalid => failed.push(i),
        }
    }
    let ok = n as u64 - was_null - failed.len() as u64;
    let nulls = valid.finish(was_null + failed.len() as u64);
    let array = arrow::array::PrimitiveArray::<T>::new(values.into(), nulls);
    Converted { array: Arc::new(array), failed, was_null, ok }
}

fn parse_booleans(text: &StringArray) -> Converted {
    let n = text.len();
    let offsets = text.value_offsets();
    let data = text.value_data();
    let mut values = Validity::new(n);
    let mut valid = Validity::new(n);
    let mut failed = Vec::new();
    let mut was_null = 0u64;
    let nulls = text.nulls().filter(|n| n.null_count() > 0);
    for i in 0..n {
        if nulls.is_some_and(|n| n.is_null(i)) {
            was_null += 1;
            continue;
        }
        let bytes = &data[offsets[i].as_usize()..offsets[i + 1].as_usize()];
        let parsed = match fast_bool(bytes) {
            Some(v) => Parsed::Value(v),
            None => parse_bool(text.value(i)),
        };
        match parsed {
            Parsed::Value(v) => {
                if v {
                    values.set(i);
                }
                valid.set(i);
            }
            Parsed::Blank => was_null += 1,
            Parsed::Invalid => failed.push(i),
        }
    }
    let ok = n as u64 - was_null - failed.len() as u64;
    let nulls = valid.finish(was_null + failed.len() as u64);
    Converted { array: Arc::new(BooleanArray::new(values.buffer(), nulls)), failed, was_null, ok }
}

fn floats_to_int(array: &ArrayRef) -> Converted {
    let floats = array.as_primitive::<Float64Type>();
    let mut failed = Vec::new();
    // 2^63 as f64 is exact; anything at or beyond it does not fit.
    let limit = 9_223_372_036_854_775_808.0_f64;
    let out: Int64Array = (0..floats.len())
        .map(|i| {
            if floats.is_null(i) {
                return None;
            }
            let v = floats.value(i);
            if v.fract() == 0.0 && v >= -limit && v < limit {
                Some(v as i64)
            } else {
                failed.push(i);
                None
            }
        })
        .collect();
    let was_null = floats.null_count() as u64;
    let ok = floats.len() as u64 - was_null - failed.len() as u64;
    Converted { array: Arc::new(out), failed, was_null, ok }
}

fn ints_to_bool(array: &ArrayRef) -> Converted {
    let ints = array.as_primitive::<Int64Type>();
    let mut failed = Vec::new();
    let out: BooleanArray = (0..ints.len())
        .map(|i| {
            if ints.is_null(i) {
                return None;
            }
            match ints.value(i) {
                0 => Some(false),
                1 => Some(true),
                _ => {
                    failed.push(i);
                    None
                }
            }
        })
        .collect();
    let was_null = ints.null_count() as u64;
    let ok = ints.len() as u64 - was_null - failed.len() as u64;
    Converted { array: Arc::new(out), failed, was_null, ok }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Float64Array;

    #[test]
    fn floats_accept_decimal_commas_only_when_unambiguous() {
        for (text, want) in [
            ("1725", 1725.0),
            (" 1725.50 ", 1725.5),
            ("1234,5", 1234.5),
            ("0,75", 0.75),
            ("-3,25", -3.25),
            ("1234,567", 1234.567),
            ("0,123", 0.123),
            ("1e3", 1000.0),
            ("+.5", 0.5),
            ("123456789012345678", 123_456_789_012_345_678.0),
        ] {
            assert_eq!(parse_float64(text), Parsed::Value(want), "{text}");
        }
        for text in ["1,234", "12,500", "-999,000", "1.234,5", "1,2,3", "abc", "NaN", "inf", "1e400", "1,", ","] {
            assert_eq!(parse_float64(text), Parsed::Invalid, "{text}");
        }
        assert_eq!(parse_float64("   "), Parsed::Blank);
    }

    #[test]
    fn fast_path_agrees_with_the_standard_parser() {
        for text in ["0.1", "0.3", "123.456", "999999999999999", "0.00000000000001", "-7.0", "42", "3.14159265358979"] {
            assert_eq!(fast_decimal(text.as_bytes()), Some(text.parse::<f64>().unwrap()), "{text}");
        }
        assert_eq!(fast_decimal(b"1234567890123456"), None);
    }

    proptest::proptest! {
        #[test]
        fn fast_path_is_exact(int in 0u64..100_000_000, frac in 0u64..10_000_000, width in 1usize..8, neg: bool) {
            let text = format!("{}{int}.{frac:0width$}", if neg { "-" } else { "" });
            let comma = text.replace('.', ",");
            let want = text.parse::<f64>().unwrap();
            proptest::prop_assert_eq!(parse_float64(&text), Parsed::Value(want));
            // A decimal comma reads the same number unless it is ambiguous.
            if !ambiguous_comma(&comma) {
                proptest::prop_assert_eq!(parse_float64(&comma), Parsed::Value(want));
            }
        }
    }

    #[test]
    fn trims_ascii_and_unicode_whitespace() {
        assert_eq!(trim("x"), "x");
        assert_eq!(trim(" 12\t"), "12");
        assert_eq!(trim("\u{a0}12\u{2003}"), "12");
        assert_eq!(trim("é"), "é");
        assert_eq!(parse_int64("\u{a0}7"), Parsed::Value(7));
    }

    #[test]
    fn fast_paths_agree_with_the_parsers() {
        for text in
            ["0", "-0", "+7", "-12", "123456789012345678", "1234567890123456789", "", "+", "-", "1a", " 1", "1.0"]
        {
            if let Some(v) = fast_int(text.as_bytes()) {
                assert_eq!(parse_int64(text), Parsed::Value(v), "{text}");
            }
        }
        assert_eq!(fast_int(b"-123456789012345678"), Some(-123_456_789_012_345_678));
        assert_eq!(fast_int(b"1234567890123456789"), None);
        for text in ["true", "t", "True", "false", "f", "False", "TRUE", " t", ""] {
            if let Some(v) = fast_bool(text.as_bytes()) {
                assert_eq!(parse_bool(text), Parsed::Value(v), "{text}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_int_matches_parse(text in "[ +-]?[0-9]{0,20}[ a]?") {
            if let Some(v) = fast_int(text.as_bytes()) {
                proptest::prop_assert_eq!(parse_int64(&text), Parsed::Value(v));
            }
        }
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(parse_int64(" -12 "), Parsed::Value(-12));
        assert_eq!(parse_int64("1.0"), Parsed::Invalid);
        assert_eq!(parse_int64(""), Parsed::Blank);
        for (t, b) in [("true", true), ("t", true), ("True", true), ("false", false), ("f", false), ("False", false)] {
            assert_eq!(parse_bool(t), Parsed::Value(b));
        }
        assert_eq!(parse_bool("TRUE"), Parsed::Invalid);
        assert_eq!(parse_bool("1"), Parsed::Invalid);
    }

    #[test]
    fn converts_non_text_columns() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.0), Some(2.5), None]));
        let c = convert(&floats, CastType::Int64).unwrap();
        assert_eq!(c.failed, vec![1]);
        assert_eq!((c.ok, c.was_null), (1, 1));
        assert_eq!(c.array.as_primitive::<Int64Type>().value(0), 2);

        let ints: ArrayRef = Arc::new(Int64Array::from(vec![0, 1, 2]));
        let c = convert(&ints, CastType::Bool).unwrap();
        assert_eq!(c.failed, vec![2]);
        let c = convert(&ints, CastType::Utf8).unwrap();
        assert_eq!(c.array.as_string::<i32>().value(2), "2");
        assert_eq!(value_text(ints.as_ref(), 2), "2");
        assert!(!castable(&DataType::Float64, CastType::Bool));
    }
}
