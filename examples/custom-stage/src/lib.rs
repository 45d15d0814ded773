//! A stage kind of your own, `wordcount`: the words of a text input counted into a Parquet
//! table (`word`, `count`; most frequent first, ties by word), which shipped stages can then
//! read like any other table (`pipeline.toml` filters it with `preprocess`).
//!
//! Everything here comes through the `esteira` package: the [`Stage`] contract, the
//! [`StageContext`] a stage reads and writes through, and [`Params`] (params parsed and
//! serialised once, when the stage is built: a bad param is an error naming its key). `src/main.rs` hands [`register`] to `esteira::cli::main_with`.
//!
//! ```
//! let mut registry = esteira::registry::builtin();
//! esteira_example_custom_stage::register(&mut registry).unwrap();
//! assert!(registry.kinds().any(|k| k == "wordcount"));
//! ```

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use esteira::{CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory};
use serde::{Deserialize, Serialize};

/// The kind, as pipeline files name it.
pub const KIND: &str = "wordcount";

/// What can go wrong counting words.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WordCountError {
    /// The input is not UTF-8 text.
    #[error("input `text` is not UTF-8 text (first bad byte at offset {offset})")]
    NotText {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// Building the output table failed.
    #[error("building the counts table: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The stage's params, as written under `[stages.NAME.params]`; absent keys take the defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WordCountParams {
    /// Words with fewer characters are not counted.
    pub min_length: usize,
    /// Count `The` and `the` as one word.
    pub lowercase: bool,
}

impl Default for WordCountParams {
    fn default() -> Self {
        Self { min_length: 1, lowercase: true }
    }
}

/// The `wordcount` stage: input `text`, output `counts` (Parquet).
#[derive(Debug)]
pub struct WordCountStage {
    params: Params<WordCountParams>,
}

impl WordCountStage {
    /// Builds the stage from its params table.
    pub fn from_params(params: serde_json::Value) -> Result<Self, CoreError> {
        Ok(Self { params: Params::parse(KIND, params)? })
    }
}

/// The words of `text` (runs of letters and digits) and how often each occurs, most frequent
/// first and ties in word order: the row order is part of the output's bytes, so it is fixed.
pub fn count_words(text: &str, params: &WordCountParams) -> Vec<(String, u64)> {
    // A BTreeMap, not a HashMap: its order never depends on a hasher's seed.
    let mut counts = BTreeMap::<String, u64>::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= params.min_length.max(1)) {
        let word = if params.lowercase { word.to_lowercase() } else { word.to_owned() };
        *counts.entry(word).or_default() += 1;
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    // Stable sort on the count alone keeps the map's word order among ties.
    rows.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    rows
}

/// The counts as an Arrow table (`word` text, `count` unsigned).
pub fn counts_table(rows: &[(String, u64)]) -> Result<RecordBatch, WordCountError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("word", DataType::Utf8, false),
        Field::new("count", DataType::UInt64, false),
    ]));
    let words = StringArray::from_iter_values(rows.iter().map(|(w, _)| w.as_str()));
    let counts = UInt64Array::from_iter_values(rows.iter().map(|(_, c)| *c));
    Ok(RecordBatch::try_new(schema, vec![Arc::new(words), Arc::new(counts)])?)
}

impl Stage for WordCountStage {
    fn kind(&self) -> &'static str {
        KIND
    }

    // Bump when the same params and text would give other bytes (e.g. a new word rule).
    fn version(&self) -> &'static str {
        "1"
    }

    fn inputs(&self) -> Vec<String> {
        vec!["text".to_owned()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("counts", "parquet")]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let bytes = ctx.read_bytes("text")?;
        let text = std::str::from_utf8(&bytes).map_err(|e| WordCountError::NotText { offset: e.valid_up_to() })?;
        let rows = count_words(text, &self.params);
        tracing::debug!(stage = ctx.stage_name(), distinct = rows.len(), "counted words");
        let table = counts_table(&rows)?;
        // The workspace's Parquet rules: fixed writer properties (write_table) and 8192-row
        // batches, so the bytes depend on the rows alone.
        let schema = table.schema();
        let batches = esteira::esteira_core::table::rechunk(&schema, &[table], 8192)?;
        ctx.write_table("counts", &schema, &batches)?;
        ctx.metric("words", rows.iter().map(|(_, c)| c).sum::<u64>());
        ctx.metric("distinct", rows.len());
        Ok(())
    }
}

/// Adds the `wordcount` kind to `registry`; refused if a kind of that name is already there.
pub fn register(registry: &mut Registry) -> Result<(), CoreError> {
    registry.register(StageFactory {
        kind: KIND,
        summary: "count the words of a text input into a Parquet table (word, count), most frequent first",
        build: |params| Ok(Box::new(WordCountStage::from_params(params)?)),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_ordered_by_frequency_then_word() {
        let p = WordCountParams::default();
        let rows = count_words("b a B c, a; b", &p);
        assert_eq!(rows, [("b".to_owned(), 3), ("a".to_owned(), 2), ("c".to_owned(), 1)]);
    }

    #[test]
    fn short_words_are_skipped_and_case_kept_on_request() {
        let p = WordCountParams { min_length: 2, lowercase: false };
        let rows = count_words("I saw The the ox", &p);
        assert_eq!(rows, [("The".to_owned(), 1), ("ox".to_owned(), 1), ("saw".to_owned(), 1), ("the".to_owned(), 1)]);
    }

    #[test]
    fn a_bad_param_names_its_key() {
        let err = WordCountStage::from_params(serde_json::json!({ "min_length": "three" })).unwrap_err();
        assert!(err.to_string().contains("param `min_length`"), "{err}");
        let err = WordCountStage::from_params(serde_json::json!({ "min_lenght": 3 })).unwrap_err();
        assert!(err.to_string().contains("min_lenght"), "{err}");
    }

    #[test]
    fn defaults_are_part_of_the_params() {
        let s = WordCountStage::from_params(serde_json::Value::Null).unwrap();
        assert_eq!(s.params(), serde_json::json!({ "min_length": 1, "lowercase": true }));
    }
}
