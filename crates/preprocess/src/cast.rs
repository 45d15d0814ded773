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

/// Parses an integer with [`esteira_core::parse_integer`], the workspace's one reading of
/// numbers: whitespace ignored, blank text [`Parsed::Blank`], a whole number written without
/// decimals (`1994`, `+7`, `1.234.567`); `1.000` is ambiguous, `1.0` is not an integer.
#[inline]
pub fn parse_int64(text: &str) -> Parsed<i64> {
    match esteira_core::parse_integer(text) {
        Ok(Some(v)) => Parsed::Value(v),
        Ok(None) => Parsed::Blank,
        Err(_) => Parsed::Invalid,
    }
}

/// Parses a boolean from exactly `true`, `false`, `t`, `f`, `True` or `False`.
pub fn parse_bool(text: &str) -> Parsed<bool> {
    match text.trim() {
        "" => Parsed::Blank,
        "true" | "t" | "True" => Parsed::Value(true),
        "false" | "f" | "False" => Parsed::Value(false),
        _ => Parsed::Invalid,
    }
}

/// Parses a finite float with [`esteira_core::parse_number`], the workspace's one reading of
/// numbers (the train stage and the server read text the same way): the portal's `1725`,
/// `5.9`, `-0.5`, `1e3`; a decimal comma `1234,5`; both separators `1.234,5`; but one separator
/// before exactly three digits (`1.234`, `12,500`) is rejected as ambiguous, and so are NaN,
/// infinities and values beyond `f64`. Blank text is [`Parsed::Blank`].
#[inline]
pub fn parse_float64(text: &str) -> Parsed<f64> {
    match esteira_core::parse_number(text) {
        Ok(Some(v)) => Parsed::Value(v),
        Ok(None) => Parsed::Blank,
        Err(_) => Parsed::Invalid,
    }
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
            CastType::Int64 => parse_primitive::<Int64Type, _>(text, parse_int64),
            CastType::Float64 => parse_primitive::<Float64Type, _>(text, parse_float64),
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

/// Parses each value with `parse` (generic, so that it and esteira-core's fast paths inline
/// into this loop).
fn parse_primitive<T, F>(text: &StringArray, parse: F) -> Converted
where
    T: arrow::datatypes::ArrowPrimitiveType,
    F: Fn(&str) -> Parsed<T::Native>,
{
    let n = text.len();
    let mut values = vec![T::Native::default(); n];
    let mut valid = Validity::new(n);
    let mut failed = Vec::new();
    let mut was_null = 0u64;
    let nulls = text.nulls().filter(|n| n.null_count() > 0);
    for (i, slot) in values.iter_mut().enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            was_null += 1;
            continue;
        }
        match parse(text.value(i)) {
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
    fn floats_are_read_by_the_one_number_parser() {
        for (text, want) in [
            ("1725", 1725.0),
            (" 1725.50 ", 1725.5),
            ("5.9", 5.9),
            ("1234,5", 1234.5),
            ("0,75", 0.75),
            ("-3,25", -3.25),
            ("1234,567", 1234.567),
            ("0,123", 0.123),
            ("1.234,5", 1234.5),
            ("1e3", 1000.0),
            ("+.5", 0.5),
            ("123456789012345678", 123_456_789_012_345_678.0),
        ] {
            assert_eq!(parse_float64(text), Parsed::Value(want), "{text}");
        }
        for text in ["1,234", "1.234", "12,500", "-999,000", "1.000", "1,2,3", "abc", "NaN", "inf", "1e400", ","] {
            assert_eq!(parse_float64(text), Parsed::Invalid, "{text}");
        }
        assert_eq!(parse_float64("   "), Parsed::Blank);
        assert!(matches!(parse_float64("-0"), Parsed::Value(v) if v.is_sign_positive()));
    }

    proptest::proptest! {
        #[test]
        fn floats_agree_with_the_standard_parser(
            int in 0u64..100_000_000, frac in 0u64..10_000_000, width in 1usize..8, neg: bool,
        ) {
            let text = format!("{}{int}.{frac:0width$}", if neg { "-" } else { "" });
            let comma = text.replace('.', ",");
            let want = text.parse::<f64>().unwrap();
            let want = if want == 0.0 { 0.0 } else { want };
            // `.` and `,` read the same number, unless one separator before three digits makes
            // it ambiguous.
            let ambiguous = (1..=3).contains(&int.to_string().len()) && int != 0 && width == 3;
            let expect = if ambiguous { Parsed::Invalid } else { Parsed::Value(want) };
            proptest::prop_assert_eq!(parse_float64(&text), expect);
            proptest::prop_assert_eq!(parse_float64(&comma), expect);
        }

        #[test]
        fn ints_agree_with_the_standard_parser(text in "[ +-]?[0-9]{0,20}[ a]?") {
            let want = match text.trim() {
                "" => Parsed::Blank,
                t => t.parse::<i64>().map_or(Parsed::Invalid, Parsed::Value),
            };
            proptest::prop_assert_eq!(parse_int64(&text), want);
        }
    }

    #[test]
    fn trims_ascii_and_unicode_whitespace() {
        assert_eq!(parse_int64("\u{a0}7"), Parsed::Value(7));
        assert_eq!(parse_float64(" 12\t"), Parsed::Value(12.0));
        assert_eq!(parse_bool("\u{a0}t\u{2003}"), Parsed::Value(true));
    }

    #[test]
    fn fast_bool_agrees_with_parse_bool() {
        for text in ["true", "t", "True", "false", "f", "False", "TRUE", " t", ""] {
            if let Some(v) = fast_bool(text.as_bytes()) {
                assert_eq!(parse_bool(text), Parsed::Value(v), "{text}");
            }
        }
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(parse_int64(" -12 "), Parsed::Value(-12));
        assert_eq!(parse_int64("1.0"), Parsed::Invalid);
        assert_eq!(parse_int64("1.000"), Parsed::Invalid);
        assert_eq!(parse_int64("1.234.567"), Parsed::Value(1_234_567));
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
