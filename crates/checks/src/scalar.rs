//! Single column values, sets of them, and comparisons with JSON bounds.

use std::cmp::Ordering;

use serde_json::Value;

// Fx hashing (rustc-hash): hash-map order never reaches an output, every map is drained
// into a sorted vector.
pub(crate) use rustc_hash::{FxHashMap, FxHashSet};

/// An owned, non-missing value of a column.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A borrowed, non-missing value of a column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowRef<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'a str),
}

impl Scalar {
    pub(crate) fn as_ref(&self) -> RowRef<'_> {
        match self {
            Self::Int(i) => RowRef::Int(*i),
            Self::Float(f) => RowRef::Float(*f),
            Self::Bool(b) => RowRef::Bool(*b),
            Self::Str(s) => RowRef::Str(s),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        self.as_ref().to_json()
    }

    /// Total order within one column (all values of one kind).
    pub(crate) fn total_cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a.cmp(b),
            (Self::Float(a), Self::Float(b)) => a.total_cmp(b),
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Bool(_) => 0,
            Self::Int(_) => 1,
            Self::Float(_) => 2,
            Self::Str(_) => 3,
        }
    }
}

impl RowRef<'_> {
    pub(crate) fn to_json(self) -> Value {
        match self {
            Self::Int(i) => Value::from(i),
            Self::Float(f) => json_f64(f),
            Self::Bool(b) => Value::Bool(b),
            Self::Str(s) => Value::String(s.to_owned()),
        }
    }

    /// Compares with a JSON bound; `None` when the kinds cannot be compared (Python would raise
    /// a `TypeError`).
    pub(crate) fn cmp_bound(self, bound: &Value) -> Option<Ordering> {
        match (self, bound) {
            (Self::Str(s), Value::String(b)) => Some(s.cmp(b.as_str())),
            (Self::Int(i), Value::Number(n)) => match n.as_i64() {
                Some(b) => Some(i.cmp(&b)),
                None => (i as f64).partial_cmp(&n.as_f64()?),
            },
            (Self::Float(f), Value::Number(n)) => f.partial_cmp(&n.as_f64()?),
            (Self::Bool(b), Value::Number(n)) => f64::from(u8::from(b)).partial_cmp(&n.as_f64()?),
            _ => None,
        }
    }
}

/// A JSON number for a float (NaN and infinities, which JSON lacks, become null).
pub(crate) fn json_f64(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Whether `value` lies within bounds (inclusive unless strict; a missing bound is open).
/// `Err` names a bound that cannot be compared with the value.
pub(crate) fn within(
    value: RowRef<'_>,
    min: Option<&Value>,
    max: Option<&Value>,
    strict_min: bool,
    strict_max: bool,
) -> Result<bool, String> {
    let cmp =
        |b: &Value| value.cmp_bound(b).ok_or_else(|| format!("cannot compare {} with bound {b}", value.to_json()));
    if let Some(b) = min {
        let o = cmp(b)?;
        if o == Ordering::Less || (strict_min && o == Ordering::Equal) {
            return Ok(false);
        }
    }
    if let Some(b) = max {
        let o = cmp(b)?;
        if o == Ordering::Greater || (strict_max && o == Ordering::Equal) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A set of values to test column values against, built for one column kind so a lookup is
/// one hash probe. Values of another kind never match (pandas' `isin` semantics).
#[derive(Debug, Default)]
pub(crate) struct ScalarSet {
    ints: FxHashSet<i64>,
    floats: FxHashSet<u64>,
    bools: [bool; 2],
    strs: FxHashSet<String>,
}

fn float_key(f: f64) -> u64 {
    // -0.0 == 0.0 in Python.
    if f == 0.0 { 0 } else { f.to_bits() }
}

impl ScalarSet {
    /// From a JSON `value_set`. Numbers match ints and floats by value; booleans match
    /// booleans (and 0/1, as in Python).
    pub(crate) fn from_json(values: &[Value]) -> Self {
        let mut set = Self::default();
        for v in values {
            match v {
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        set.ints.insert(i);
                        set.floats.insert(float_key(i as f64));
                        if i == 0 || i == 1 {
                            set.bools[i as usize] = true;
                        }
                    } else if let Some(f) = n.as_f64() {
                        set.floats.insert(float_key(f));
                        if f.fract() == 0.0 && f.abs() < 9.2e18 {
                            set.ints.insert(f as i64);
                        }
                        if f == 0.0 || f == 1.0 {
                            set.bools[f as usize] = true;
                        }
                    }
                }
                Value::Bool(b) => {
                    set.bools[usize::from(*b)] = true;
                    set.ints.insert(i64::from(*b));
                    set.floats.insert(float_key(f64::from(u8::from(*b))));
                }
                Value::String(s) => {
                    set.strs.insert(s.clone());
                }
                _ => {}
            }
        }
        set
    }

    /// From column values (all of one kind).
    pub(crate) fn from_scalars<'a>(values: impl IntoIterator<Item = &'a Scalar>) -> Self {
        let mut set = Self::default();
        for v in values {
            match v {
                Scalar::Int(i) => {
                    set.ints.insert(*i);
                }
                Scalar::Float(f) => {
                    set.floats.insert(float_key(*f));
                }
                Scalar::Bool(b) => set.bools[usize::from(*b)] = true,
                Scalar::Str(s) => {
                    set.strs.insert(s.clone());
                }
            }
        }
        set
    }

    #[inline]
    pub(crate) fn contains(&self, v: RowRef<'_>) -> bool {
        match v {
            RowRef::Int(i) => self.ints.contains(&i),
            RowRef::Float(f) => self.floats.contains(&float_key(f)),
            RowRef::Bool(b) => self.bools[usize::from(b)],
            RowRef::Str(s) => self.strs.contains(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounds_are_inclusive_unless_strict_and_null_is_open() {
        let v = RowRef::Int(5);
        assert!(within(v, Some(&json!(5)), Some(&json!(5)), false, false).unwrap());
        assert!(!within(v, Some(&json!(5)), None, true, false).unwrap());
        assert!(!within(v, None, Some(&json!(5)), false, true).unwrap());
        assert!(within(v, None, None, true, true).unwrap());
        assert!(within(RowRef::Float(4.5), Some(&json!(4)), Some(&json!(4.5)), false, false).unwrap());
        assert!(within(RowRef::Str("b"), Some(&json!("a")), Some(&json!("c")), false, false).unwrap());
        assert!(within(RowRef::Str("b"), Some(&json!(1)), None, false, false).is_err());
    }

    #[test]
    fn sets_match_like_python() {
        let s = ScalarSet::from_json(&[json!(1), json!(2.5), json!("x"), json!(false)]);
        assert!(s.contains(RowRef::Int(1)));
        assert!(s.contains(RowRef::Float(1.0)));
        assert!(s.contains(RowRef::Float(2.5)));
        assert!(!s.contains(RowRef::Int(2)));
        assert!(s.contains(RowRef::Str("x")));
        assert!(!s.contains(RowRef::Str("1")));
        assert!(s.contains(RowRef::Bool(false)));
        assert!(s.contains(RowRef::Bool(true)), "1 == True in Python");
        assert!(s.contains(RowRef::Int(0)), "0 == False in Python");
    }
}
