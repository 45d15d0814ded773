//! Type names as GE's pandas backend reports them, mapped from Arrow types.
//!
//! | Arrow type | observed name | also accepted in `type_list` / `type_` |
//! |---|---|---|
//! | Int64 (Int8/16/32, UInt8/16/32/64 likewise, by width) | `int64` | `int`, `int_`, `long`, `longlong`, `intp`, `i8`, `Int64`, `Int64Dtype` |
//! | Float64 (Float32/16 by width) | `float64` | `float`, `float_`, `double`, `f8`, `Float64`, `Float64Dtype` |
//! | Boolean | `bool` | `bool_`, `boolean`, `BooleanDtype`, `?` |
//! | Utf8, LargeUtf8, Utf8View, dictionary of strings | `object` | `object_`, `O`, `str`, `string`, `string_`, `str_`, `StringDtype`, `dtype('O')` |
//! | Timestamp | `datetime64[ns]` | `datetime64`, `M8`, `datetime`, `DatetimeTZDtype` |
//! | Date32/Date64 | `object` (pandas keeps dates as Python objects) | as strings |
//! | anything else | Arrow's name in lower case | — |
//!
//! Matching is exact on the name (case-sensitive, as numpy's `np.dtype(name)` is), so SQL or
//! Spark names in a suite (`INTEGER`, `StringType`) match nothing, exactly as on pandas.

use arrow::datatypes::DataType;

/// The pandas dtype name of an Arrow type (what `expect_column_values_to_be_of_type` reports).
pub fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 | DataType::Null => "float64".into(),
        DataType::Boolean => "bool".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Date32 | DataType::Date64 => {
            "object".into()
        }
        DataType::Dictionary(_, v) => type_name(v),
        DataType::Timestamp(_, _) => "datetime64[ns]".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// Whether `name` (from a suite) names the column's type.
pub fn type_matches(data_type: &DataType, name: &str) -> bool {
    let observed = type_name(data_type);
    if name == observed {
        return true;
    }
    let aliases: &[&str] = match observed.as_str() {
        "int64" => &["int", "int_", "long", "longlong", "intp", "i8", "Int64", "Int64Dtype"],
        "int32" => &["intc", "i4", "Int32", "Int32Dtype"],
        "int16" => &["short", "i2", "Int16", "Int16Dtype"],
        "int8" => &["byte", "i1", "Int8", "Int8Dtype"],
        "uint64" => &["uint", "ulonglong", "uintp", "u8", "UInt64", "UInt64Dtype"],
        "uint32" => &["uintc", "u4", "UInt32", "UInt32Dtype"],
        "uint16" => &["ushort", "u2", "UInt16", "UInt16Dtype"],
        "uint8" => &["ubyte", "u1", "UInt8", "UInt8Dtype"],
        "float64" => &["float", "float_", "double", "f8", "Float64", "Float64Dtype"],
        "float32" => &["single", "f4", "Float32", "Float32Dtype"],
        "float16" => &["half", "f2"],
        "bool" => &["bool_", "boolean", "BooleanDtype", "?"],
        "object" => &["object_", "O", "str", "string", "string_", "str_", "StringDtype", "dtype('O')"],
        "datetime64[ns]" => &["datetime64", "M8", "M8[ns]", "datetime", "DatetimeTZDtype"],
        _ => &[],
    };
    aliases.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_names() {
        assert_eq!(type_name(&DataType::Int64), "int64");
        assert_eq!(type_name(&DataType::Utf8), "object");
        assert!(type_matches(&DataType::Int64, "int"));
        assert!(!type_matches(&DataType::Int64, "INTEGER"));
        assert!(type_matches(&DataType::Boolean, "bool_"));
        assert!(type_matches(&DataType::Utf8, "str"));
        assert!(!type_matches(&DataType::Utf8, "StringType"));
        assert!(!type_matches(&DataType::Float64, "int64"));
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert!(type_matches(&dict, "object"));
    }
}
