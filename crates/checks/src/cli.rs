//! What `esteira checks validate|profile` do, as functions the CLI calls.

use std::path::Path;

use crate::result::{EXIT_BAD_INPUT, ValidationResult};
use crate::{
    CheckError, ProfileOptions, Suite, is_parquet, profile, read_csv, read_table_file, render_html,
    validate_and_profile,
};

/// `esteira checks validate TABLE --suite SUITE [-o result.json] [--html report.html]`:
/// reads the table (Parquet, or CSV by content) and the suite, validates, and writes the
/// result JSON and the HTML report where asked. Errors are bad input (exit status 2); the
/// returned result's [`ValidationResult::exit_code`] is 0 or 1.
pub fn run_validate(
    table: &Path,
    suite: &Path,
    json_out: Option<&Path>,
    html_out: Option<&Path>,
) -> Result<ValidationResult, CheckError> {
    let suite = Suite::from_path(suite)?;
    let bytes = std::fs::read(table).map_err(|e| CheckError::io(table, e))?;
    let (result, columns) = if is_parquet(&bytes) {
        drop(bytes);
        crate::validate::validate_parquet(table, &suite)?
    } else {
        let (schema, batches) = read_csv(&bytes, &table.display().to_string())?.into_parts();
        validate_and_profile(&schema, &batches, &suite)
    };
    if let Some(p) = json_out {
        std::fs::write(p, result.to_json()).map_err(|e| CheckError::io(p, e))?;
    }
    if let Some(p) = html_out {
        std::fs::write(p, render_html(&result, &columns)).map_err(|e| CheckError::io(p, e))?;
    }
    Ok(result)
}

/// `esteira checks profile TABLE -o suite.json`: proposes a tolerant suite and writes it.
pub fn run_profile(table: &Path, out: &Path, options: &ProfileOptions) -> Result<Suite, CheckError> {
    let (schema, batches) = read_table_file(table)?.into_parts();
    let suite = profile(&schema, &batches, options)?;
    std::fs::write(out, suite.to_json()).map_err(|e| CheckError::io(out, e))?;
    Ok(suite)
}

/// The exit status of `checks validate`: 0 passed, 1 an expectation failed, 2 bad input.
pub fn exit_code(outcome: &Result<ValidationResult, CheckError>) -> u8 {
    match outcome {
        Ok(r) => r.exit_code(),
        Err(_) => EXIT_BAD_INPUT,
    }
}

/// A short text summary for a terminal: the verdict line, then one line per failed expectation.
pub fn summary(result: &ValidationResult) -> String {
    let st = &result.statistics;
    let mut s = format!(
        "{} {}: {}/{} expectations met\n",
        if result.success { "PASSED" } else { "FAILED" },
        result.suite_name(),
        st.successful_expectations,
        st.evaluated_expectations
    );
    for (i, r) in result.failed() {
        let detail = if r.exception_info.raised_exception {
            format!("error: {}", r.exception_info.exception_message.as_deref().unwrap_or("?"))
        } else if let Some(v) = r.observed_value() {
            format!("observed {v}")
        } else if let Some(u) = r.unexpected_count() {
            format!("{u} unexpected values")
        } else {
            String::new()
        };
        s.push_str(&format!("  {}: {detail}\n", r.label(i)));
    }
    s
}
