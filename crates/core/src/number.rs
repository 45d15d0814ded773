//! The one way esteira reads a number written as text: the preprocess stage's casts, the train
//! stage's numeric columns and every entry point of the server (JSON strings, CSV cells, the
//! form) call [`parse_number`] or [`parse_integer`], so a value means the same thing wherever it
//! is read.
//!
//! # The policy
//!
//! The canonical spelling is the UFRN portal's: ASCII digits, an optional sign, `.` as the
//! decimal point and no thousands separators (`268`, `1500`, `994`, `5.9`, `-0.25`), with an
//! optional exponent (`1e3`, `2.5E-4`) as programs write large and small values. Other spellings
//! are read only where they can mean one number, and otherwise rejected with an error that says
//! why — never guessed:
//!
//! - Surrounding whitespace (Unicode too) is ignored; blank text is a missing value (`Ok(None)`),
//!   not an error.
//! - One leading `+` or `-`. `-0` reads as `0`: no negative zero reaches a table or a model.
//! - A single `,` is a decimal comma, as people in Brazil write: `1,5`, `1500,50`, `0,125`.
//!   A separator may lack digits on one side (`.5`, `5.`, `,5`).
//! - **Ambiguous, rejected**: exactly one `.` or `,`, followed by exactly three digits, after a
//!   one-to-three-digit integer part that does not start with `0` (`1.000`, `1.500`, `12,345`,
//!   `-999.000`), with no exponent. That is 1500 with the separator grouping thousands (Brazilian
//!   `1.500`, English `1,500`) and 1.5 with it as a decimal separator; the error
//!   ([`NumberError::Ambiguous`]) gives both readings. Anything else with one separator is a
//!   decimal: `0.125`, `1500.500`, `1.5000`, `1,50`, `1.500e0`.
//! - **Thousands separators** are read only where nothing else fits: with both separators, the
//!   last one, written once, is the decimal separator and the other groups the integer part
//!   (`1.500,50` and `1,500.50` are 1500.5, `1.234.567,8` is 1234567.8); a separator written more
//!   than once with no other is a grouping (`1.234.567` is 1234567). Groups must be a first group
//!   of one to three digits not starting with `0` and then groups of exactly three
//!   ([`NumberError::BadGrouping`] otherwise: `1.50,5`, `12.34.567`); no exponent with grouping.
//! - Not numbers ([`NumberError::Invalid`]): `NaN`, `inf`, `infinity` (any case), hexadecimal,
//!   `1_000`, inner spaces (`1 500`), digits other than ASCII's, two signs, a sign or separator
//!   with no digit, an exponent with no digit, any other character.
//! - A value beyond ±[`f64::MAX`] (`1e309`, a 400-digit integer) is [`NumberError::OutOfRange`];
//!   long digit strings within range are read, correctly rounded, as `str::parse` would read
//!   their canonical spelling. Values below the smallest subnormal read as `0`.
//!
//! [`parse_integer`] reads the same spellings (so `1.000` is ambiguous there too) and accepts
//! only whole numbers written without a decimal separator or exponent (`1994`, `1.234.567`; not
//! `1994.0`, [`NumberError::NotInteger`]) that fit an `i64`.
//!
//! ```
//! use esteira_core::{NumberError, parse_integer, parse_number};
//! assert_eq!(parse_number(" 1500 "), Ok(Some(1500.0)));
//! assert_eq!(parse_number("5.9"), Ok(Some(5.9)));
//! assert_eq!(parse_number("1,5"), Ok(Some(1.5)));
//! assert_eq!(parse_number("1.500,50"), Ok(Some(1500.5)));
//! assert_eq!(parse_number(""), Ok(None));
//! assert!(matches!(parse_number("1.500"), Err(NumberError::Ambiguous { .. })));
//! assert_eq!(parse_number("NaN"), Err(NumberError::Invalid));
//! assert_eq!(parse_integer("994"), Ok(Some(994)));
//! assert_eq!(parse_integer("1994.0"), Err(NumberError::NotInteger));
//! ```

use std::fmt;

/// Why text is not a number under the [module's policy](self).
///
/// The message ([`Display`](fmt::Display)) does not repeat the text: callers name the field,
/// row and value (cut with [`excerpt`](crate::excerpt)) around it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum NumberError {
    /// Not a number in any accepted spelling (`abc`, `NaN`, `inf`, `1 500`, `--1`, `1e`).
    Invalid,
    /// One separator followed by three digits: a thousands grouping or a decimal separator.
    Ambiguous {
        /// The separator, `.` or `,`.
        separator: char,
        /// The value if the separator groups thousands (`1.500` → 1500).
        grouped: f64,
        /// The value if it is the decimal separator (`1.500` → 1.5).
        decimal: f64,
    },
    /// Thousands separators that do not group the integer part in threes (`1.50,5`).
    BadGrouping,
    /// Beyond the range of the type (`1e309` for a float, `9223372036854775808` for an integer).
    OutOfRange,
    /// A decimal separator or an exponent where a whole number was expected ([`parse_integer`]).
    NotInteger,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str("not a number"),
            Self::Ambiguous { separator, grouped, decimal } => write!(
                f,
                "ambiguous number: {grouped} if `{separator}` separates thousands, {decimal} if it is the decimal \
                 separator; write {grouped} or {decimal}"
            ),
            Self::BadGrouping => f.write_str(
                "not a number: thousands separators must group the integer part in threes \
                 (1.234.567,89 or 1,234,567.89)",
            ),
            Self::OutOfRange => f.write_str("number out of range"),
            Self::NotInteger => f.write_str("not a whole number written without decimals or exponent"),
        }
    }
}

impl std::error::Error for NumberError {}

/// Reads text as a finite `f64` under the [module's policy](self): `Ok(None)` for blank text,
/// an error saying why for text that is not one number.
#[inline]
pub fn parse_number(text: &str) -> Result<Option<f64>, NumberError> {
    if let Some(v) = fast_decimal(text.as_bytes()) {
        return Ok(Some(v));
    }
    let t = trim(text);
    if t.is_empty() {
        return Ok(None);
    }
    general_number(t).map(Some)
}

/// Reads text as an `i64` under the [module's policy](self): the same spellings as
/// [`parse_number`], written as a whole number (no decimal separator, no exponent).
#[inline]
pub fn parse_integer(text: &str) -> Result<Option<i64>, NumberError> {
    if let Some(v) = fast_int(text.as_bytes()) {
        return Ok(Some(v));
    }
    let t = trim(text);
    if t.is_empty() {
        return Ok(None);
    }
    let n = lex(t)?;
    if n.point || n.exponent.is_some() {
        return Err(NumberError::NotInteger);
    }
    // Accumulated on the negative side so that i64::MIN fits.
    let mut v: i64 = 0;
    for &d in n.int.iter().filter(|b| b.is_ascii_digit()) {
        v = v.checked_mul(10).and_then(|v| v.checked_sub(i64::from(d - b'0'))).ok_or(NumberError::OutOfRange)?;
    }
    if n.negative { Ok(Some(v)) } else { v.checked_neg().map(Some).ok_or(NumberError::OutOfRange) }
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

const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// The common case `[+-]digits[.,digits]`, at most 15 digits, no whitespace, not ambiguous,
/// without the general path: an integer below 2^53 divided by an exact power of ten is one
/// correctly rounded IEEE operation, so the result equals `str::parse`'s (Clinger's fast path).
/// `None` sends the text to the general path, which decides everything this does not.
#[inline]
fn fast_decimal(b: &[u8]) -> Option<f64> {
    let (neg, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut i = 0usize;
    while i < rest.len() && rest[i].is_ascii_digit() {
        if i == 15 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(rest[i] - b'0');
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
            if int_digits + frac == 15 {
                return None;
            }
            mantissa = mantissa * 10 + u64::from(rest[i] - b'0');
            frac += 1;
            i += 1;
        }
        if frac == 0 || i != rest.len() || (frac == 3 && int_digits <= 3 && rest[0] != b'0') {
            return None;
        }
    }
    let v = mantissa as f64 / POW10[frac];
    // `0.0 - v`, not `-v`: `-0` reads as 0 (IEEE 754: 0 - 0 is +0).
    Some(if neg { 0.0 - v } else { v })
}

/// Plain `[+-]digits` (at most 18 digits, so no overflow) as [`parse_integer`] reads it.
#[inline]
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

/// A number's parts as written, checked against the policy but not yet converted.
#[derive(Debug)]
struct Lexed<'a> {
    negative: bool,
    /// Integer digits, possibly with a grouping separator between groups.
    int: &'a [u8],
    /// Fraction digits.
    frac: &'a [u8],
    /// Whether a decimal separator was written (`5.` has one and no fraction digits).
    point: bool,
    /// The exponent's `[+-]digits`.
    exponent: Option<&'a [u8]>,
}

/// Splits trimmed, non-empty text into its parts, applying every rule of the policy.
fn lex(t: &str) -> Result<Lexed<'_>, NumberError> {
    let b = t.as_bytes();
    let (negative, rest) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let (mantissa, exponent) = match rest.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => {
            let exp = &rest[e + 1..];
            let digits = exp.strip_prefix(b"+").or_else(|| exp.strip_prefix(b"-")).unwrap_or(exp);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(NumberError::Invalid);
            }
            (&rest[..e], Some(exp))
        }
        None => (rest, None),
    };
    let (mut dots, mut commas, mut digits) = (0usize, 0usize, 0usize);
    for &c in mantissa {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            b',' => commas += 1,
            _ => return Err(NumberError::Invalid),
        }
    }
    if digits == 0 {
        return Err(NumberError::Invalid);
    }
    let at = |sep: u8| mantissa.iter().rposition(|&c| c == sep);
    let (int, frac, point, grouping) = match (dots, commas) {
        (0, 0) => (mantissa, &mantissa[..0], false, None),
        (1, 0) | (0, 1) => {
            let sep = if dots == 1 { b'.' } else { b',' };
            let p = at(sep).unwrap_or(0);
            let (int, frac) = (&mantissa[..p], &mantissa[p + 1..]);
            if exponent.is_none() && (1..=3).contains(&int.len()) && int[0] != b'0' && frac.len() == 3 {
                return Err(ambiguous(negative, int, frac, sep));
            }
            (int, frac, true, None)
        }
        (_, 0) => (mantissa, &mantissa[..0], false, Some(b'.')),
        (0, _) => (mantissa, &mantissa[..0], false, Some(b',')),
        _ => {
            // Both: the last separator is the decimal one and must be written once.
            let (dot, comma) = (at(b'.').unwrap_or(0), at(b',').unwrap_or(0));
            let (p, decimal_count, group) = if dot > comma { (dot, dots, b',') } else { (comma, commas, b'.') };
            if decimal_count != 1 {
                return Err(NumberError::BadGrouping);
            }
            (&mantissa[..p], &mantissa[p + 1..], true, Some(group))
        }
    };
    if let Some(sep) = grouping
        && (exponent.is_some() || !grouped_in_threes(int, sep))
    {
        return Err(NumberError::BadGrouping);
    }
    Ok(Lexed { negative, int, frac, point, exponent })
}

/// `1.234.567`: a first group of 1–3 digits not starting with 0, then groups of exactly 3.
fn grouped_in_threes(int: &[u8], sep: u8) -> bool {
    let mut groups = int.split(|&c| c == sep);
    let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()) && g[0] != b'0');
    first_ok && groups.all(|g| g.len() == 3)
}

/// Both readings of `int` `sep` `frac` (at most six ASCII digits: both parse).
fn ambiguous(negative: bool, int: &[u8], frac: &[u8], sep: u8) -> NumberError {
    let (sign, int, frac) =
        (if negative { "-" } else { "" }, String::from_utf8_lossy(int), String::from_utf8_lossy(frac));
    let read = |s: String| s.parse::<f64>().unwrap_or(f64::NAN);
    NumberError::Ambiguous {
        separator: char::from(sep),
        grouped: read(format!("{sign}{int}{frac}")),
        decimal: read(format!("{sign}{int}.{frac}")),
    }
}

/// Everything [`fast_decimal`] leaves: the text rewritten in its canonical spelling and read by
/// `str::parse` (correctly rounded, any length).
fn general_number(t: &str) -> Result<f64, NumberError> {
    let n = lex(t)?;
    let mut canonical = String::with_capacity(t.len() + 2);
    if n.negative {
        canonical.push('-');
    }
    canonical.extend(n.int.iter().filter(|b| b.is_ascii_digit()).map(|&b| char::from(b)));
    if canonical.len() == usize::from(n.negative) {
        canonical.push('0');
    }
    if !n.frac.is_empty() {
        canonical.push('.');
        canonical.extend(n.frac.iter().map(|&b| char::from(b)));
    }
    if let Some(exp) = n.exponent {
        canonical.push('e');
        canonical.extend(exp.iter().map(|&b| char::from(b)));
    }
    match canonical.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(if v == 0.0 { 0.0 } else { v }),
        Ok(_) => Err(NumberError::OutOfRange),
        // Unreachable: the canonical spelling is valid Rust float syntax.
        Err(_) => Err(NumberError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> f64 {
        match parse_number(text) {
            Ok(Some(v)) => v,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn portal_spellings() {
        for (text, want) in [
            ("268", 268.0),
            ("1500", 1500.0),
            ("994", 994.0),
            ("2004", 2004.0),
            ("5.9", 5.9),
            ("8.1", 8.1),
            ("10.0", 10.0),
            ("0.125", 0.125),
            ("1500.50", 1500.5),
            ("1500.500", 1500.5),
            ("1.5000", 1.5),
            ("-3", -3.0),
            ("-0.25", -0.25),
            ("0", 0.0),
            ("007", 7.0),
        ] {
            assert_eq!(ok(text), want, "{text}");
        }
    }

    #[test]
    fn decimal_commas() {
        for (text, want) in [
            ("1,5", 1.5),
            ("1500,50", 1500.5),
            ("1500,5", 1500.5),
            ("0,75", 0.75),
            ("0,125", 0.125),
            ("-3,25", -3.25),
            ("1234,567", 1234.567),
            ("1,50", 1.5),
            ("1,5000", 1.5),
        ] {
            assert_eq!(ok(text), want, "{text}");
        }
    }

    #[test]
    fn one_separator_before_three_digits_is_ambiguous() {
        for (text, sep, grouped, decimal) in [
            ("1.000", '.', 1000.0, 1.0),
            ("1.500", '.', 1500.0, 1.5),
            ("1,500", ',', 1500.0, 1.5),
            ("12.345", '.', 12345.0, 12.345),
            ("-999,000", ',', -999_000.0, -999.0),
            ("+1.000", '.', 1000.0, 1.0),
            (" 1,000 ", ',', 1000.0, 1.0),
        ] {
            assert_eq!(parse_number(text), Err(NumberError::Ambiguous { separator: sep, grouped, decimal }), "{text}");
            assert_eq!(parse_integer(text), Err(NumberError::Ambiguous { separator: sep, grouped, decimal }), "{text}");
        }
        let message = parse_number("1.500").unwrap_err().to_string();
        assert_eq!(
            message,
            "ambiguous number: 1500 if `.` separates thousands, 1.5 if it is the decimal separator; write 1500 or 1.5"
        );
        // A leading zero, more integer digits, other fraction lengths or an exponent: a decimal.
        assert_eq!(ok("0.500"), 0.5);
        assert_eq!(ok("0,500"), 0.5);
        assert_eq!(ok("1000.500"), 1000.5);
        assert_eq!(ok("1.50"), 1.5);
        assert_eq!(ok("1.500e0"), 1.5);
        assert_eq!(ok(".500"), 0.5);
    }

    #[test]
    fn thousands_separators_only_where_unambiguous() {
        for (text, want) in [
            ("1.500,50", 1500.5),
            ("1,500.50", 1500.5),
            ("1.234.567,89", 1_234_567.89),
            ("1,234,567.89", 1_234_567.89),
            ("1.234.567", 1_234_567.0),
            ("1,234,567", 1_234_567.0),
            ("-1.500,5", -1500.5),
            ("999.999,999", 999_999.999),
            ("1.500,", 1500.0),
        ] {
            assert_eq!(ok(text), want, "{text}");
        }
        for text in
            ["1.50,5", "12.34,5", "1.500.50,5", "0.500,5", "1.5.0", "1,2,3", "1.500,5,0", "1,500.5.0", ".500,5", "1.5."]
        {
            assert_eq!(parse_number(text), Err(NumberError::BadGrouping), "{text}");
        }
        assert_eq!(parse_number("1.234.567e3"), Err(NumberError::BadGrouping));
        assert_eq!(parse_number("1.500,5e3"), Err(NumberError::BadGrouping));
        assert_eq!(parse_integer("1.234.567"), Ok(Some(1_234_567)));
        assert_eq!(parse_integer("1.500,50"), Err(NumberError::NotInteger));
    }

    #[test]
    fn signs_zero_and_whitespace() {
        assert_eq!(ok("+7"), 7.0);
        assert_eq!(ok("+1.5"), 1.5);
        for text in ["-0", "-0.0", "-0,0", "+0", "-0e5", "-000", "-0.000", "1e-400", "-1e-400"] {
            let v = ok(text);
            assert!(v == 0.0 && v.is_sign_positive(), "{text}: {v:?}");
        }
        assert_eq!(ok(" 12 "), 12.0);
        assert_eq!(ok("\t5.9\n"), 5.9);
        assert_eq!(ok("\u{a0}12\u{2003}"), 12.0);
        for blank in ["", " ", "\t\r\n", "\u{a0}"] {
            assert_eq!(parse_number(blank), Ok(None), "{blank:?}");
            assert_eq!(parse_integer(blank), Ok(None), "{blank:?}");
        }
        assert_eq!(parse_integer("-0"), Ok(Some(0)));
        assert_eq!(parse_integer("+7"), Ok(Some(7)));
        assert_eq!(parse_integer(" -12 "), Ok(Some(-12)));
    }

    #[test]
    fn separators_without_digits_on_one_side() {
        assert_eq!(ok(".5"), 0.5);
        assert_eq!(ok(",5"), 0.5);
        assert_eq!(ok("-.5"), -0.5);
        assert_eq!(ok("5."), 5.0);
        assert_eq!(ok("5,"), 5.0);
        assert_eq!(parse_integer("5."), Err(NumberError::NotInteger));
    }

    #[test]
    fn exponents() {
        assert_eq!(ok("1e3"), 1000.0);
        assert_eq!(ok("2.5E-4"), 2.5e-4);
        assert_eq!(ok("1,5e3"), 1500.0);
        assert_eq!(ok("1,50E+03"), 1500.0);
        assert_eq!(ok("1e308"), 1e308);
        assert_eq!(ok("-1e308"), -1e308);
        assert_eq!(ok("1.7976931348623157e308"), f64::MAX);
        assert_eq!(ok("5e-324"), 5e-324);
        assert_eq!(ok("1e0000000000000000000000000003"), 1000.0);
        for text in ["1e309", "-1e309", "1.8e308", "1e99999999999999999999"] {
            assert_eq!(parse_number(text), Err(NumberError::OutOfRange), "{text}");
        }
        assert_eq!(parse_integer("1e3"), Err(NumberError::NotInteger));
    }

    #[test]
    fn not_numbers() {
        for text in [
            "abc",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "+inf",
            "Infinity",
            "infinity",
            "0x10",
            "1_000",
            "1 500",
            "1\u{a0}500",
            "--1",
            "+-1",
            "-+1",
            "1-",
            "1+",
            "-",
            "+",
            ".",
            ",",
            ".,",
            "e3",
            "1e",
            "1e+",
            "1e-",
            "1e3.5",
            "1e3e4",
            "١٢",
            "１２",
            "1²",
            "12a",
            "R$ 12",
            "12%",
            "(12)",
            "1'000",
            "١",
        ] {
            assert_eq!(parse_number(text), Err(NumberError::Invalid), "{text}");
            assert_eq!(parse_integer(text), Err(NumberError::Invalid), "{text}");
        }
        assert_eq!(NumberError::Invalid.to_string(), "not a number");
    }

    #[test]
    fn very_long_digit_strings() {
        let big = format!("1{}", "0".repeat(400));
        assert_eq!(parse_number(&big), Err(NumberError::OutOfRange));
        assert_eq!(parse_integer(&big), Err(NumberError::OutOfRange));
        assert_eq!(ok(&format!("1{}", "0".repeat(100))), 1e100);
        assert_eq!(ok(&format!("{}1", "0".repeat(10_000))), 1.0);
        assert_eq!(parse_integer(&format!("{}1", "0".repeat(10_000))), Ok(Some(1)));
        assert_eq!(ok(&format!("0.{}1", "0".repeat(300))), 1e-301);
        // Correctly rounded past 17 significant digits, as the canonical spelling reads.
        let long = "3.14159265358979323846264338327950288419716939937510";
        assert_eq!(ok(long), long.parse::<f64>().unwrap());
        assert_eq!(ok(&long.replace('.', ",")), long.parse::<f64>().unwrap());
        assert_eq!(ok("1234567890123456789"), 1_234_567_890_123_456_789.0);
        assert_eq!(ok("9007199254740993"), 9_007_199_254_740_992.0);
        // A megabyte of digits is read in linear time, and out of range.
        assert_eq!(parse_number(&"9".repeat(1 << 20)), Err(NumberError::OutOfRange));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("1994"), Ok(Some(1994)));
        assert_eq!(parse_integer("994"), Ok(Some(994)));
        assert_eq!(parse_integer("9223372036854775807"), Ok(Some(i64::MAX)));
        assert_eq!(parse_integer("-9223372036854775808"), Ok(Some(i64::MIN)));
        assert_eq!(parse_integer("9.223.372.036.854.775.807"), Ok(Some(i64::MAX)));
        assert_eq!(parse_integer("9223372036854775808"), Err(NumberError::OutOfRange));
        assert_eq!(parse_integer("-9223372036854775809"), Err(NumberError::OutOfRange));
        for text in ["1.0", "1994.0", "1,5", "2.5", "1e3", "0.125", "1.500,00"] {
            assert_eq!(parse_integer(text), Err(NumberError::NotInteger), "{text}");
        }
    }

    /// A small generator, so that core needs no test dependency.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn fast_paths_agree_with_the_general_path() {
        let mut s = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            let r = next(&mut s);
            let int = r % 10u64.pow((r >> 8) as u32 % 12);
            let width = (r >> 12) as usize % 9;
            let frac = (r >> 16) % 10u64.pow(width as u32);
            let sign = ["", "-", "+"][(r >> 40) as usize % 3];
            let sep = if (r >> 45) & 1 == 0 { '.' } else { ',' };
            let text = if width == 0 { format!("{sign}{int}") } else { format!("{sign}{int}{sep}{frac:0width$}") };
            let fast = fast_decimal(text.as_bytes());
            let general = general_number(&text);
            if let Some(v) = fast {
                assert_eq!(Ok(v), general, "{text}");
                assert_eq!(v.to_bits(), general.unwrap().to_bits(), "{text}");
                let canonical = text.replace(',', ".");
                let want = canonical.parse::<f64>().unwrap();
                assert_eq!(v, if want == 0.0 { 0.0 } else { want }, "{text}");
            }
            assert_eq!(parse_number(&text), general.map(Some), "{text}");
            if let Some(v) = fast_int(text.as_bytes()) {
                assert_eq!(parse_integer(&text), Ok(Some(v)), "{text}");
            }
        }
        assert_eq!(fast_decimal(b"1234567890123456"), None);
        assert_eq!(fast_decimal(b"123456789012345"), Some(123_456_789_012_345.0));
        assert_eq!(fast_decimal(b"1.500"), None);
        assert_eq!(fast_int(b"1234567890123456789"), None);
        assert_eq!(fast_int(b"-123456789012345678"), Some(-123_456_789_012_345_678));
    }

    #[test]
    fn errors_read_as_sentences() {
        let e = parse_number("1,000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ambiguous number: 1000 if `,` separates thousands, 1 if it is the decimal separator; write 1000 or 1"
        );
        assert!(parse_number("1.50,5").unwrap_err().to_string().contains("in threes"));
        assert_eq!(parse_number("1e309").unwrap_err().to_string(), "number out of range");
        assert!(parse_integer("1.0").unwrap_err().to_string().contains("whole number"));
    }
}
