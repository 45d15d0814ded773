//! The `merge` stage: the raw tables joined into one, as declared in the pipeline file (the
//! params, with an example: [`MergeParams`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use esteira_core::{CoreError, OutputSpec, Params, Stage, StageContext, StageError, parse_params};
use serde::{Deserialize, Serialize};

use crate::aggregate::{AggregateParams, AggregateStats};
use crate::csv::{CsvEncoding, CsvOptions, InvalidUtf8, TextEncoding, read_csv};
use crate::dedup::drop_duplicates;
use crate::join::{Cardinality, JoinSpec, JoinStats, JoinType, RightSide, index_keys, prepare_right, probe, select};
use crate::keys::{EncodedKeys, KeyGroups};
use crate::{DownloadError, Table};

/// Params of the `merge` stage: the raw tables joined into one, as the pipeline file declares.
///
/// ```toml
/// [stages.merge.params]
/// base = "discentes"
/// base_columns = ["id_discente", "sexo", "ano_nascimento"]   # optional: all columns by default
/// drop_duplicates = true                                      # the default
/// encoding = "utf-8"                                          # or "windows-1252", "auto"
///
/// [[stages.merge.params.joins]]
/// input = "socio"
/// how = "inner"                                               # or "left"
/// on = ["id_discente"]
/// validate = "one_to_one"      # one_to_one | one_to_many | many_to_one | many_to_many; optional
/// columns = ["id_discente", "renda", "possui_auxilio_alimentacao"]   # optional: all by default
/// [stages.merge.params.joins.aggregate]   # optional: this input to one row per `on` key first
/// any = ["possui_auxilio_alimentacao"]    # boolean flags (true/false/t/f), OR-ed
/// first = []                              # taken from the key's first row
///
/// [[stages.merge.params.joins]]
/// input = "matriculas"
/// on = ["id_discente"]
/// columns = ["id_turma", "discente", "descricao"]
/// rename = { discente = "id_discente" }                       # old name -> new name
/// ```
///
/// Each join's `columns` and `rename` use the input's own column names; `on` and `aggregate` use
/// the names after renaming, and `on` must exist on both sides. Key columns are brought along
/// even when `columns` leaves them out, and appear once in the output (from the left side).
///
/// - **`aggregate`** collapses the input to one row per key before the join
///   ([`aggregate`](crate::aggregate())): `any` columns are OR-ed, `first` columns come from the
///   key's first row, and every other brought column must hold one value per key, else the stage
///   fails naming the input, the key, the column and two differing values. Rows keep the order of
///   each key's first row, and the join's right-side figures are those of the collapsed input.
///   The UFRN socio-economic table needs it: one row per aid programme a student holds.
/// - **`validate`** declares the join's cardinality, as pandas' `merge(validate=…)`: *left* is the
///   table so far, *right* this input; `one_to_one` needs each key at most once on both sides,
///   `one_to_many` on the left, `many_to_one` on the right. A join that breaks it fails, naming the
///   join, the side, an example key and its row count. Without `validate` nothing is checked, but
///   a join that multiplies rows (a left row matching several right rows) is warned about in the
///   log; declaring `one_to_many` or `many_to_many` says it is meant.
/// - **`encoding`** is how CSV inputs are decoded (Parquet inputs are Arrow already): `utf-8`
///   fails on the first invalid byte, naming its byte offset, line and column; `windows-1252`
///   decodes every byte as a character; `auto` is UTF-8 when the whole file is, else the whole file
///   as Windows-1252 with a warning naming the file and its first invalid byte (the `encodings`
///   metric says which each input got, `invalid_utf8` where `auto` found that byte).
///
/// Metrics: `rows_in`, `rows_out`, `duplicates_dropped`, `encodings` (input → `utf-8`,
/// `windows-1252` or `parquet`), `invalid_utf8` (only when `auto` read an input as Windows-1252:
/// input → `offset`, `line`, `column`, `byte`), and `joins`, one entry per join: its `input`, `how`,
/// `validate`, the [`JoinStats`] (rows and distinct keys on each side, keys repeated on each side
/// and the most rows one key has, rows out, `multiplied`, `extra_rows`, blank keys, unmatched
/// rows), and with `aggregate` the [`AggregateStats`](crate::AggregateStats) (rows in and out,
/// keys, keys with 2 and with 3 or more rows, flags set by later rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeParams {
    /// The input every join is applied to, in order.
    pub base: String,
    /// Columns kept from the base (all when absent).
    #[serde(default)]
    pub base_columns: Option<Vec<String>>,
    /// Renames applied to the base's columns (old name -> new name).
    #[serde(default)]
    pub base_rename: BTreeMap<String, String>,
    /// The joins, applied in order.
    #[serde(default)]
    pub joins: Vec<JoinParams>,
    /// Drop rows that are exact duplicates of an earlier row, after the joins.
    #[serde(default = "default_true")]
    pub drop_duplicates: bool,
    /// The CSV field separator for inputs that are CSV.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// How CSV inputs are decoded: `utf-8` (checked; the default), `windows-1252` or `auto`.
    #[serde(default)]
    pub encoding: CsvEncoding,
}

/// One join of a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinParams {
    /// The input joined onto the table so far.
    pub input: String,
    /// `inner` (default) or `left`.
    #[serde(default = "default_how")]
    pub how: JoinType,
    /// Key columns (names after renaming).
    pub on: Vec<String>,
    /// Columns brought from the input (its own names; all when absent). Keys are implied.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Renames of the input's columns (old name -> new name).
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// The cardinality the join must have (nothing checked when absent).
    #[serde(default)]
    pub validate: Option<Cardinality>,
    /// Collapse the input to one row per `on` key before the join.
    #[serde(default)]
    pub aggregate: Option<AggregateParams>,
}

fn default_true() -> bool {
    true
}
fn default_delimiter() -> String {
    ";".into()
}
fn default_how() -> JoinType {
    JoinType::Inner
}

/// One join's figures, as recorded in the `joins` metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReport {
    /// The input joined.
    pub input: String,
    /// How.
    pub how: JoinType,
    /// The declared cardinality, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Cardinality>,
    /// Row and key counts.
    #[serde(flatten)]
    pub stats: JoinStats,
    /// What the input's aggregation did, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<AggregateStats>,
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeReport {
    /// Rows of the base table.
    pub rows_in: usize,
    /// Each join, in order.
    pub joins: Vec<JoinReport>,
    /// Exact duplicate rows dropped.
    pub duplicates_dropped: usize,
    /// Rows in the result.
    pub rows_out: usize,
}

impl MergeParams {
    /// The input names the merge reads, sorted, each once.
    pub fn input_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            std::iter::once(self.base.clone()).chain(self.joins.iter().map(|j| j.input.clone())).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The CSV options implied by the params.
    pub fn csv_options(&self) -> CsvOptions {
        CsvOptions {
            delimiter: self.delimiter.as_bytes().first().copied().unwrap_or(b';'),
            encoding: self.encoding,
            ..CsvOptions::default()
        }
    }
}

/// Runs the merge declared by `params` on `tables` (input name -> table). The tables are
/// consumed: each is released after its last join, so columns nobody selected are freed early.
pub fn merge_tables(
    params: &MergeParams,
    mut tables: BTreeMap<String, Table>,
) -> Result<(Table, MergeReport), DownloadError> {
    let available = tables.keys().cloned().collect::<Vec<_>>().join(", ");
    let missing = |name: &str| DownloadError::Join {
        context: "merge".into(),
        message: format!("no input table named `{name}` (inputs: {available})"),
    };
    // Step of each input's last use: 0 for the base, i + 1 for join i.
    let mut last_use: BTreeMap<&str, usize> = BTreeMap::from([(params.base.as_str(), 0)]);
    for (i, j) in params.joins.iter().enumerate() {
        last_use.insert(&j.input, i + 1);
    }
    let mut take = |name: &str, step: usize| -> Result<Table, DownloadError> {
        let table = if last_use.get(name) == Some(&step) { tables.remove(name) } else { tables.get(name).cloned() };
        table.ok_or_else(|| missing(name))
    };
    let base = take(&params.base, 0)?;
    let mut report = MergeReport { rows_in: base.num_rows(), ..MergeReport::default() };
    let mut acc = select(&base, &params.base, params.base_columns.as_deref(), &params.base_rename)?;
    drop(base);
    let mut acc_name = params.base.clone();
    // Every join's right side selected (columns nobody selected freed now), made one array a
    // column and its keys encoded, on all cores: none of it needs the table so far. An error
    // waits for its join's turn, so errors come in join order.
    let mut rights = Vec::with_capacity(params.joins.len());
    for (step, j) in params.joins.iter().enumerate() {
        rights.push(take(&j.input, step + 1).and_then(|right| select_right(&right, j)));
    }
    let prepared: Vec<Result<(RightSide, EncodedKeys), DownloadError>> = {
        use rayon::prelude::*;
        rights
            .into_par_iter()
            .zip(params.joins.par_iter())
            .map(|(right, j)| right.and_then(|r| prepare_right(r, &j.input, &j.on)))
            .collect()
    };
    // The sides go to their probes (and are freed there); the keys stay for the indexes.
    let (mut sides, mut encoded) = (Vec::with_capacity(prepared.len()), Vec::with_capacity(prepared.len()));
    for p in prepared {
        let (side, keys) = match p {
            Ok((side, keys)) => (Ok(side), Some(keys)),
            Err(e) => (Err(e), None),
        };
        sides.push(side);
        encoded.push(keys);
    }
    let index_of = |i: usize| encoded[i].as_ref().and_then(index_keys);
    // The later joins' indexes need nothing of the first join, so they are built while it
    // runs: the matrículas index (the last join's, 2.4 M keys at `synth --scale 100`) is the
    // largest piece of single-core work in a merge of the portal's tables.
    let mut later: std::vec::IntoIter<Option<KeyGroups<'_>>> = Vec::new().into_iter();
    let last = params.joins.len().saturating_sub(1);
    for (step, (j, side)) in params.joins.iter().zip(sides).enumerate() {
        // Duplicates are dropped by the last join, before it gathers them.
        let dedup = params.drop_duplicates && step == last;
        let spec = JoinSpec { on: &j.on, how: j.how, validate: j.validate, aggregate: j.aggregate.as_ref() };
        let right = side.and_then(|side| match &encoded[step] {
            Some(keys) => Ok((side, keys)),
            None => Err(DownloadError::Join { context: "merge".into(), message: "a join lost its keys".into() }),
        });
        let (joined, stats, aggregated, dropped) = if step == 0 {
            // The probe logs (warnings about the join) where the merge's own logs go, on
            // whichever thread runs it.
            let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
            let (first, built) = rayon::join(
                || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        probe(acc, &acc_name, right, index_of(0), &j.input, &spec, dedup)
                    })
                },
                || {
                    use rayon::prelude::*;
                    (1..params.joins.len()).into_par_iter().map(index_of).collect::<Vec<_>>()
                },
            );
            later = built.into_iter();
            first?
        } else {
            probe(acc, &acc_name, right, later.next().flatten(), &j.input, &spec, dedup)?
        };
        if let Some(agg) = &aggregated {
            tracing::info!(input = %j.input, rows_in = agg.rows_in, rows_out = agg.rows_out,
                keys_with_2_rows = agg.keys_with_2_rows, keys_with_3_or_more_rows = agg.keys_with_3_or_more_rows,
                "aggregated to one row per key");
        }
        tracing::info!(input = %j.input, how = j.how.as_str(), rows = stats.out_rows,
            unmatched = stats.unmatched_left_rows, extra = stats.extra_rows, "join");
        report.joins.push(JoinReport {
            input: j.input.clone(),
            how: j.how,
            validate: j.validate,
            stats,
            aggregate: aggregated,
        });
        acc = joined;
        acc_name = format!("{acc_name}+{}", j.input);
        report.duplicates_dropped = dropped;
    }
    if params.drop_duplicates && params.joins.is_empty() {
        let (deduped, dropped) = drop_duplicates(acc)?;
        report.duplicates_dropped = dropped;
        acc = deduped;
    }
    report.rows_out = acc.num_rows();
    Ok((acc, report))
}

/// A join's input with the columns it brings: its `columns` (all when absent) and its keys,
/// renamed.
fn select_right(right: &Table, j: &JoinParams) -> Result<Table, DownloadError> {
    let columns = j.columns.as_ref().map(|cols| {
        let mut cols = cols.clone();
        for key in &j.on {
            // The input's own name for the key: the one renamed to it, or the key itself.
            let source = j.rename.iter().find(|(_, to)| *to == key).map_or(key, |(from, _)| from);
            if !cols.contains(source) {
                cols.push(source.clone());
            }
        }
        cols
    });
    select(right, &j.input, columns.as_deref(), &j.rename)
}

/// Reads a table from a file: Parquet when it starts with the `PAR1` magic, else a portal CSV.
/// `name` labels it in errors.
pub fn read_table_file(path: &Path, name: &str, csv: &CsvOptions) -> Result<Table, DownloadError> {
    read_input_file(path, name, csv).map(|input| input.table)
}

/// A table read by [`read_input_file`], and how its bytes were decoded.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The rows.
    pub table: Table,
    /// `utf-8`, `windows-1252` (the names of the `encoding` param) or `parquet`.
    pub encoding: &'static str,
    /// With `encoding = "auto"`, where a CSV stopped being UTF-8 (it was then read as
    /// Windows-1252 throughout).
    pub invalid_utf8: Option<InvalidUtf8>,
}

/// [`read_table_file`], also saying how the file was decoded.
pub fn read_input_file(path: &Path, name: &str, csv: &CsvOptions) -> Result<InputFile, DownloadError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| DownloadError::io(name, e))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DownloadError::io(name, e)),
        }
    }
    if got == 4 && &magic == b"PAR1" {
        let (schema, batches) = esteira_core::table::read_parquet(path)?.into_parts();
        return Ok(InputFile { table: Table::new(schema, batches), encoding: "parquet", invalid_utf8: None });
    }
    let file = std::fs::File::open(path).map_err(|e| DownloadError::io(name, e))?;
    let parsed = read_csv(file, name, csv)?;
    let encoding = match parsed.encoding {
        TextEncoding::Utf8 => CsvEncoding::Utf8.name(),
        TextEncoding::Windows1252 => CsvEncoding::Windows1252.name(),
    };
    Ok(InputFile { table: parsed.table, encoding, invalid_utf8: parsed.invalid_utf8 })
}

/// Joins several inputs (portal CSV or Parquet) into the `table` output, as its
/// [`MergeParams`] say.
#[derive(Debug, Clone)]
pub struct MergeStage {
    params: Params<MergeParams>,
}

impl MergeStage {
    /// Builds the stage from pipeline-file params.
    pub fn from_params(value: serde_json::Value) -> Result<Self, CoreError> {
        let params: MergeParams = parse_params("merge", value)?;
        let bad = |key: String, message: String| CoreError::Param { kind: "merge".into(), key, message };
        if params.delimiter.len() != 1 || !params.delimiter.is_ascii() || params.delimiter == "\"" {
            return Err(bad("delimiter".into(), format!("{:?} is not a single ASCII character", params.delimiter)));
        }
        for (i, j) in params.joins.iter().enumerate() {
            if j.on.is_empty() {
                return Err(bad(format!("joins[{i}].on"), "at least one key column is needed".into()));
            }
            if let Some(agg) = &j.aggregate {
                check_aggregate(j, agg)
                    .map_err(|(list, message)| bad(format!("joins[{i}].aggregate.{list}"), message))?;
            }
        }
        Ok(Self { params: Params::new("merge", params)? })
    }

    /// The typed params.
    pub fn params_typed(&self) -> &MergeParams {
        &self.params
    }
}

/// What can be said about a join's `aggregate` before any table is read: each column once, no
/// key, and (when the join lists its `columns`) only columns it brings. The error names the list.
fn check_aggregate(j: &JoinParams, agg: &AggregateParams) -> Result<(), (&'static str, String)> {
    // The names the join brings, after renaming (`None`: all of the input's).
    let brought: Option<Vec<&str>> = j.columns.as_ref().map(|cols| {
        cols.iter()
            .map(|c| j.rename.get(c).map_or(c.as_str(), String::as_str))
            .chain(j.on.iter().map(String::as_str))
            .collect()
    });
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (list, names) in [("any", &agg.any), ("first", &agg.first)] {
        for name in names {
            if j.on.contains(name) {
                return Err((list, format!("`{name}` is a key (`on`): it is one value per key already")));
            }
            if let Some(other) = seen.insert(name, list) {
                return Err((list, format!("`{name}` is listed in both `{other}` and `{list}`, or twice")));
            }
            if let Some(brought) = &brought
                && !brought.contains(&name.as_str())
            {
                return Err((
                    list,
                    format!(
                        "`{name}` is not among the columns the join brings (names after `rename`): {}",
                        brought.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Stage for MergeStage {
    fn kind(&self) -> &'static str {
        "merge"
    }

    fn version(&self) -> &'static str {
        // 2: the `joins` metric counts rows with blank keys (`blank_key_left_rows`,
        //    `blank_key_right_rows`); the table is unchanged.
        // 3: CSV inputs are read as checked UTF-8 by default (`encoding`): a file that is not
        //    UTF-8 fails instead of being decoded silently as Windows-1252; the `joins` metric has
        //    each join's fan-out (keys and rows per key on each side, `multiplied`, `extra_rows`)
        //    and an `encodings` metric is added; `validate` and `aggregate` are new params. The
        //    table is unchanged for UTF-8 inputs and params without the new keys.
        // 4: a `report` output (report.md) says in words what each join and aggregation did.
        "4"
    }

    fn inputs(&self) -> Vec<String> {
        self.params.input_names()
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("table", "parquet"), OutputSpec::new("report", "md")]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let csv = self.params.csv_options();
        let mut tables = BTreeMap::new();
        let mut encodings = BTreeMap::new();
        let mut invalid_utf8 = BTreeMap::new();
        let mut paths = Vec::new();
        for name in self.inputs() {
            paths.push((ctx.input(&name)?.path.clone(), name));
        }
        ctx.progress().set_message("reading inputs");
        // The inputs are independent files: read them on all cores. The first error in input
        // order is the one reported, whatever finished first.
        // Their warnings go where the stage's own logs go: the caller's dispatcher, carried.
        let read: Vec<Result<InputFile, DownloadError>> = {
            use rayon::prelude::*;
            let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
            paths
                .par_iter()
                .map(|(path, name)| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        read_input_file(path, &format!("input `{name}`"), &csv)
                    })
                })
                .collect()
        };
        for ((_, name), read) in paths.into_iter().zip(read) {
            let read = read?;
            encodings.insert(name.clone(), read.encoding);
            if let Some(at) = read.invalid_utf8 {
                invalid_utf8.insert(name.clone(), at);
            }
            tables.insert(name, read.table);
        }
        ctx.metric("encodings", &encodings);
        if !invalid_utf8.is_empty() {
            ctx.metric("invalid_utf8", &invalid_utf8);
        }
        ctx.progress().set_message("joining");
        let (table, report) = merge_tables(&self.params, tables)?;
        ctx.metric("rows_in", report.rows_in);
        ctx.metric("rows_out", report.rows_out);
        ctx.metric("duplicates_dropped", report.duplicates_dropped);
        ctx.metric("joins", &report.joins);
        let schema = Arc::clone(&table.schema);
        ctx.write_table("table", &schema, &table.batches)?;
        ctx.write_bytes("report", render_report(&self.params, &report).as_bytes())?;
        Ok(())
    }
}

/// The merge in words, for people: each join's rows, keys and fan-out, and what each aggregation
/// collapsed (for the UFRN socio table: how many students had several aid rows, and how they
/// count). Deterministic: only counts and names from the params.
pub fn render_report(params: &MergeParams, report: &MergeReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("# Merge\n\n");
    let _ = writeln!(out, "Base table `{}`: {} rows.\n", params.base, report.rows_in);
    for (join, spec) in report.joins.iter().zip(&params.joins) {
        let st = &join.stats;
        let _ = writeln!(
            out,
            "## {} join of `{}` on {}\n",
            join.how.as_str(),
            join.input,
            spec.on.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
        );
        if let (Some(agg), Some(ap)) = (&join.aggregate, &spec.aggregate) {
            let _ = writeln!(
                out,
                "- collapsed first to one row per key: {} rows became {} ({} keys had 2 rows, {} had 3 or more, \
                 at most {} rows for one key); {} OR-ed{}, every other column required equal.",
                agg.rows_in,
                agg.rows_out,
                agg.keys_with_2_rows,
                agg.keys_with_3_or_more_rows,
                agg.max_rows_per_key,
                if ap.any.is_empty() { "no flags".to_owned() } else { ap.any.join(", ") },
                if ap.first.is_empty() {
                    String::new()
                } else {
                    format!(", first row's value of {}", ap.first.join(", "))
                },
            );
        }
        let _ = writeln!(
            out,
            "- {} rows on the left ({} distinct keys, {} repeated), {} on the right ({} distinct keys, {} repeated); \
             {} rows out.",
            st.left_rows,
            st.left_keys,
            st.left_keys_repeated,
            st.right_rows,
            st.right_keys,
            st.right_keys_repeated,
            st.out_rows
        );
        let _ = writeln!(
            out,
            "- unmatched: {} left rows ({} keys), {} right rows; blank keys: {} left, {} right.",
            st.unmatched_left_rows,
            st.unmatched_left_keys,
            st.unmatched_right_rows,
            st.blank_key_left_rows,
            st.blank_key_right_rows
        );
        let declared = join.validate.map_or_else(|| "none declared".to_owned(), |v| format!("`{}`, held", v.as_str()));
        let fan = if st.multiplied {
            format!("{} left rows matched several right rows ({} extra rows)", st.multiplied_left_rows, st.extra_rows)
        } else {
            "no left row matched more than one right row".to_owned()
        };
        let _ = writeln!(out, "- cardinality: {declared}; {fan}.\n");
    }
    let _ = writeln!(
        out,
        "{} exact duplicate rows dropped; {} rows in the merged table.",
        report.duplicates_dropped, report.rows_out
    );
    out
}
