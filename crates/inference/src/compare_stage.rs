//! The `compare` stage: did a characteristic matter more in one semester than in another?
//!
//! Inputs `before` and `after` are two preprocessed tables with the same columns (the study:
//! 2019.2, the last semester before the pandemic, and 2020.5, the first remote one). On the
//! pooled rows it fits, with [`fit_logit`] clustered by student, the inference model
//!
//! ```text
//! logit P(pass) = α + δ·after + Σ_k β_k x_k + Σ_k γ_k (after · x_k)
//! ```
//!
//! with one `x_k` per numeric column (standardised on the pooled rows) and per non-reference
//! level of each categorical column (the reference: the pooled data's most frequent level, ties
//! to the first in byte order, unless `references` names one). Per characteristic it reports the
//! odds ratio before (`exp β`), after (`exp(β + γ)`, from the same model parameterised with a
//! `before` indicator instead, so its clustered interval is exact) and their ratio `exp γ` with
//! its clustered 95 % interval and p-value, Holm and Benjamini–Hochberg adjusted over the family
//! of every reported ratio; and the raw pass rates of the level and its reference in each
//! semester (numerics: above vs at or below the pooled median), their gap and whether it widened.
//!
//! ```toml
//! [stages.compare]
//! kind = "compare"
//! inputs = { before = "preprocess_2019_2.table", after = "preprocess_2020_5.table" }
//! [stages.compare.params]          # every key optional; these are the defaults
//! target = "descricao"
//! positive_class = "APROVADO"      # every other value is a failure; a missing one is an error
//! group = "id_discente"            # the clusters (a student's enrolments in both semesters)
//! reference_year = 2020
//! derived = { idade = { kind = "age", from = "ano_nascimento" }, local_ou_de_fora = { kind = "equals", from = "estado_origem", value = "Rio Grande do Norte" } }
//! categorical = ["sexo", "raca", "area_conhecimento", "grau_academico", "local_ou_de_fora",
//!                "possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia"]
//! numeric = ["idade", "renda"]
//! references = {}                  # e.g. { raca = "Branco" }
//! scaling = "standard"             # or "none"
//! min_level_rows = 20              # rarer levels (in either semester) leave the comparison, with their rows
//! labels = { before = "before", after = "after" }
//! ```
//!
//! Missing numeric values are imputed with the pooled median (counted in the report); a missing
//! categorical value is the level `(missing)`. Outputs: `comparison.json` and `report.html` (a
//! table and an SVG forest plot of the ratios), both deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use esteira_core::{
    CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, escape_html, excerpt,
    parse_number, parse_params,
};
use esteira_train::Derived;
use serde::{Deserialize, Serialize};

use crate::{
    Adjustment, Clusters, Coefficient, Covariance, Design, FitWarning, InferenceError, LogitOptions, LogitReport,
    adjust_p_values, fit_logit,
};

/// The stage kind in pipeline files.
pub const KIND: &str = "compare";
/// The level a missing categorical value gets.
pub const MISSING_LEVEL: &str = "(missing)";
/// Name of the semester indicator in the design.
const AFTER: &str = "after";
const BEFORE: &str = "before";

/// How numeric columns enter the design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareScaling {
    /// `(x − mean) / sd` on the pooled rows (population sd; a constant column is only centred):
    /// odds ratios per standard deviation.
    Standard,
    /// As they are: odds ratios per unit.
    None,
}

/// How the two semesters are called in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Labels {
    /// The `before` input's label.
    pub before: String,
    /// The `after` input's label.
    pub after: String,
}

impl Default for Labels {
    fn default() -> Self {
        Self { before: BEFORE.into(), after: AFTER.into() }
    }
}

/// Params of the `compare` stage (see the module docs for the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareParams {
    /// The outcome column.
    pub target: String,
    /// The outcome value that is a pass.
    pub positive_class: String,
    /// The cluster column (a student).
    pub group: String,
    /// The year ages are computed at (`age` derived columns).
    pub reference_year: i64,
    /// Derived columns, as esteira-train's.
    pub derived: BTreeMap<String, Derived>,
    /// Categorical characteristics (raw or derived).
    pub categorical: Vec<String>,
    /// Numeric characteristics (raw or derived).
    pub numeric: Vec<String>,
    /// Reference level per categorical column (default: the pooled data's most frequent).
    pub references: BTreeMap<String, String>,
    /// How numerics are scaled.
    pub scaling: CompareScaling,
    /// Levels with fewer rows than this in either semester are left out, with their rows.
    pub min_level_rows: usize,
    /// The semesters' names in the report.
    pub labels: Labels,
}

impl Default for CompareParams {
    fn default() -> Self {
        let train = esteira_train::TrainParams::default();
        Self {
            target: train.target,
            positive_class: train.positive_class,
            group: "id_discente".into(),
            reference_year: train.reference_year,
            derived: train.derived,
            categorical: train.categorical,
            numeric: train.numeric,
            references: BTreeMap::new(),
            scaling: CompareScaling::Standard,
            min_level_rows: 20,
            labels: Labels::default(),
        }
    }
}

impl CompareParams {
    fn validate(&self) -> Result<(), (String, String)> {
        let mut seen = std::collections::BTreeSet::new();
        for c in self.categorical.iter().chain(&self.numeric) {
            if !seen.insert(c.as_str()) {
                return Err(("categorical".into(), format!("column `{}` is listed twice", excerpt(c, 80))));
            }
            if c == &self.target || c == &self.group {
                return Err(("categorical".into(), format!("`{}` is the target or the group", excerpt(c, 80))));
            }
        }
        if self.categorical.is_empty() && self.numeric.is_empty() {
            return Err(("categorical".into(), "no characteristic to compare".into()));
        }
        if let Some(c) = self.references.keys().find(|c| !self.categorical.contains(c)) {
            return Err(("references".into(), format!("`{}` is not a categorical column", excerpt(c, 80))));
        }
        if self.labels.before == self.labels.after {
            return Err(("labels".into(), "the two semesters need different labels".into()));
        }
        Ok(())
    }
}

/// Raw pass rates of a level and its reference in one semester.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRates {
    /// Rows of the level (numerics: above the pooled median).
    pub rows: usize,
    /// Their pass rate (`None` without rows).
    pub rate: Option<f64>,
    /// Rows of the reference (numerics: at or below the pooled median).
    pub reference_rows: usize,
    /// Their pass rate.
    pub reference_rate: Option<f64>,
    /// `rate − reference_rate`.
    pub gap: Option<f64>,
}

/// An odds ratio with its clustered interval (`None` when the fit withheld it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OddsRatio {
    /// `exp` of the coefficient.
    pub odds_ratio: Option<f64>,
    /// The coefficient (log odds ratio).
    pub log_odds_ratio: Option<f64>,
    /// Clustered standard error of the coefficient.
    pub std_error: Option<f64>,
    /// Lower end of the odds ratio's interval.
    pub low: Option<f64>,
    /// Upper end.
    pub high: Option<f64>,
    /// Two-sided p-value (clustered).
    pub p_value: Option<f64>,
    /// What became of the coefficient (`estimated`, `aliased`, `separated`, `not_estimated`).
    pub status: String,
}

/// One compared characteristic: a numeric column, or a level of a categorical one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Characteristic {
    /// The column.
    pub column: String,
    /// The level (categorical), `None` for a numeric column.
    pub level: Option<String>,
    /// The reference level (categorical).
    pub reference: Option<String>,
    /// What one unit is: `per standard deviation (…)`, `per unit`, or `vs <reference>`.
    pub unit: String,
    /// The odds ratio in the `before` semester.
    pub before: OddsRatio,
    /// The odds ratio in the `after` semester.
    pub after: OddsRatio,
    /// after / before: `exp γ`, with its interval and p-value.
    pub ratio: OddsRatio,
    /// `ratio.p_value`, Holm-adjusted over every reported ratio.
    pub p_holm: Option<f64>,
    /// `ratio.p_value`, Benjamini–Hochberg-adjusted over every reported ratio.
    pub p_bh: Option<f64>,
    /// Raw pass rates in `before`.
    pub pass_before: PassRates,
    /// Raw pass rates in `after`.
    pub pass_after: PassRates,
    /// `pass_after.gap − pass_before.gap`.
    pub gap_change: Option<f64>,
    /// Whether the gap is wider (in absolute value) after than before.
    pub gap_widened: Option<bool>,
}

/// A level left out of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedLevel {
    /// The column.
    pub column: String,
    /// The level.
    pub level: String,
    /// Its rows in `before`.
    pub before_rows: usize,
    /// Its rows in `after`.
    pub after_rows: usize,
}

/// The `comparison.json` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The `before` semester's label.
    pub before: String,
    /// The `after` semester's label.
    pub after: String,
    /// Rows fitted from `before`.
    pub before_rows: usize,
    /// Rows fitted from `after`.
    pub after_rows: usize,
    /// Rows left out (rare levels), per input.
    pub excluded_rows: BTreeMap<String, usize>,
    /// The rare levels left out.
    pub excluded_levels: Vec<ExcludedLevel>,
    /// Missing numeric values imputed with the pooled median, per column.
    pub imputed: BTreeMap<String, usize>,
    /// Pooled mean and standard deviation of each numeric column (the scaling).
    pub numeric_scaling: BTreeMap<String, (f64, f64)>,
    /// Distinct groups (students) among the fitted rows.
    pub students: usize,
    /// Pass rate of `before`.
    pub pass_rate_before: Option<f64>,
    /// Pass rate of `after`.
    pub pass_rate_after: Option<f64>,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// The family the adjusted p-values are over.
    pub adjustment_family: String,
    /// The semester indicator's odds ratio (after vs before, at the references and the means).
    pub semester: OddsRatio,
    /// Per characteristic.
    pub characteristics: Vec<Characteristic>,
    /// Whether both fits converged.
    pub converged: bool,
    /// The fits' warnings (the `after`-indicator fit's, then any new ones of the other).
    pub warnings: Vec<FitWarning>,
}

/// Input `before`, `after` (Parquet) -> `comparison` (JSON), `report` (HTML).
#[derive(Debug, Clone)]
pub struct CompareStage {
    params: Params<CompareParams>,
}

impl CompareStage {
    /// Builds the stage from pipeline-file params; errors name the offending key.
    pub fn from_params(params: serde_json::Value) -> Result<Self, CoreError> {
        let p: CompareParams = parse_params(KIND, params)?;
        p.validate().map_err(|(key, message)| CoreError::Param { kind: KIND.into(), key, message })?;
        Ok(Self { params: Params::new(KIND, p)? })
    }
}

impl Stage for CompareStage {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn inputs(&self) -> Vec<String> {
        vec![BEFORE.to_owned(), AFTER.to_owned()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("comparison", "json"), OutputSpec::new("report", "html")]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let (_, before) = ctx.read_table(BEFORE)?.into_parts();
        let (_, after) = ctx.read_table(AFTER)?.into_parts();
        ctx.progress().set_message("fitting the pooled model");
        let comparison = compare_tables(&before, &after, &self.params)?;
        ctx.metric("rows_before", comparison.before_rows);
        ctx.metric("rows_after", comparison.after_rows);
        ctx.metric("characteristics", comparison.characteristics.len());
        let significant = comparison.characteristics.iter().filter(|c| c.p_holm.is_some_and(|p| p < 0.05)).count();
        ctx.metric("ratios_significant_holm", significant);
        ctx.write_json("comparison", &comparison)?;
        ctx.write_bytes("report", render_html(&comparison).as_bytes())?;
        Ok(())
    }
}

/// Registers the `compare` kind.
pub fn register(registry: &mut Registry) -> Result<(), CoreError> {
    registry.register(StageFactory {
        kind: KIND,
        summary: "odds ratios of each characteristic in two semesters and their ratio (pooled logit, clustered)",
        build: |params| Ok(Box::new(CompareStage::from_params(params)?)),
    })?;
    Ok(())
}

// ── reading ──────────────────────────────────────────────────────────────────────────────

fn missing_column(batches: &[RecordBatch], name: &str) -> InferenceError {
    let available = batches
        .first()
        .map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    InferenceError::MissingColumn { column: name.to_owned(), available }
}

/// A column as text: blank is missing; non-text columns are read as their Arrow text.
fn text_column(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<String>>, InferenceError> {
    let mut out = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let col = batch.column_by_name(name).ok_or_else(|| missing_column(batches, name))?;
        let strings = arrow::compute::cast(col, &DataType::Utf8)
            .map_err(|e| InferenceError::Arrow { what: format!("reading column `{name}` as text"), source: e })?;
        out.extend(
            strings.as_string::<i32>().iter().map(|v| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)),
        );
    }
    Ok(out)
}

/// A column as numbers: blank and NaN are missing; text is read by [`parse_number`].
fn number_column(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>, InferenceError> {
    let mut out = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let col = batch.column_by_name(name).ok_or_else(|| missing_column(batches, name))?;
        let start = out.len();
        let bad = |row: usize, value: &str, message: String| InferenceError::BadValue {
            column: name.to_owned(),
            row,
            value: excerpt(value, 80).into_owned(),
            message,
        };
        if matches!(col.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            for (i, v) in text_column(std::slice::from_ref(batch), name)?.into_iter().enumerate() {
                out.push(match v {
                    None => None,
                    Some(s) => parse_number(&s).map_err(|e| bad(start + i + 1, &s, e.to_string()))?,
                });
            }
            continue;
        }
        let cast = arrow::compute::cast(col, &DataType::Float64)
            .map_err(|e| InferenceError::Arrow { what: format!("reading column `{name}` as numbers"), source: e })?;
        for (i, v) in cast.as_primitive::<Float64Type>().iter().enumerate() {
            if let Some(x) = v.filter(|x| x.is_infinite()) {
                return Err(bad(start + i + 1, &x.to_string(), "not a finite number".into()));
            }
            out.push(v.filter(|x| !x.is_nan()));
        }
    }
    Ok(out)
}

/// One input's rows: outcome, group and the characteristics' raw values.
struct Semester {
    passed: Vec<bool>,
    group: Vec<String>,
    categorical: Vec<Vec<String>>,
    numeric: Vec<Vec<Option<f64>>>,
}

fn read_semester(batches: &[RecordBatch], p: &CompareParams, input: &str) -> Result<Semester, InferenceError> {
    let in_input = |e: InferenceError| InferenceError::Shape(format!("input `{input}`: {e}"));
    let target = text_column(batches, &p.target).map_err(in_input)?;
    let mut passed = Vec::with_capacity(target.len());
    for (row, v) in target.iter().enumerate() {
        match v {
            Some(v) => passed.push(*v == p.positive_class),
            None => {
                return Err(in_input(InferenceError::BadValue {
                    column: p.target.clone(),
                    row: row + 1,
                    value: String::new(),
                    message: "the outcome is missing".into(),
                }));
            }
        }
    }
    let mut group = Vec::with_capacity(target.len());
    for (row, v) in text_column(batches, &p.group).map_err(in_input)?.into_iter().enumerate() {
        group.push(v.ok_or_else(|| {
            in_input(InferenceError::BadValue {
                column: p.group.clone(),
                row: row + 1,
                value: String::new(),
                message: "the group is missing".into(),
            })
        })?);
    }
    let mut categorical = Vec::new();
    for c in &p.categorical {
        let values = match p.derived.get(c) {
            Some(Derived::Equals { from, value }) => text_column(batches, from)
                .map_err(in_input)?
                .into_iter()
                .map(|v| v.map(|s| if s == *value { "true" } else { "false" }.to_owned()))
                .collect(),
            Some(Derived::Age { from }) => number_column(batches, from)
                .map_err(in_input)?
                .into_iter()
                .map(|v| v.map(|y| ((p.reference_year as f64) - y).to_string()))
                .collect(),
            _ => text_column(batches, c).map_err(in_input)?,
        };
        categorical.push(values.into_iter().map(|v| v.unwrap_or_else(|| MISSING_LEVEL.to_owned())).collect());
    }
    let mut numeric = Vec::new();
    for c in &p.numeric {
        let values = match p.derived.get(c) {
            Some(Derived::Age { from }) => number_column(batches, from)
                .map_err(in_input)?
                .into_iter()
                .map(|v| v.map(|y| (p.reference_year as f64) - y))
                .collect(),
            Some(Derived::Equals { from, value }) => text_column(batches, from)
                .map_err(in_input)?
                .into_iter()
                .map(|v| v.map(|s| f64::from(u8::from(s == *value))))
                .collect(),
            _ => number_column(batches, c).map_err(in_input)?,
        };
        numeric.push(values);
    }
    Ok(Semester { passed, group, categorical, numeric })
}

// ── the comparison ───────────────────────────────────────────────────────────────────────

fn rate(passed: impl Iterator<Item = bool>) -> (usize, Option<f64>) {
    let (mut n, mut k) = (0usize, 0usize);
    for p in passed {
        n += 1;
        k += usize::from(p);
    }
    (n, (n > 0).then(|| k as f64 / n as f64))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        f64::midpoint(values[n / 2 - 1], values[n / 2])
    }
}

fn odds_ratio(c: Option<&Coefficient>) -> OddsRatio {
    let status = c.map_or_else(
        || "missing".to_owned(),
        |c| {
            serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
                .unwrap_or_default()
        },
    );
    let u = c.and_then(|c| c.uncertainty(Covariance::Clustered));
    OddsRatio {
        odds_ratio: c.and_then(|c| c.odds_ratio),
        log_odds_ratio: c.and_then(|c| c.estimate),
        std_error: u.map(|u| u.std_error),
        low: u.map(|u| u.odds_ratio_low),
        high: u.map(|u| u.odds_ratio_high),
        p_value: u.map(|u| u.p_value),
        status,
    }
}

/// What each design column is: a numeric column (index) or a categorical level.
enum Term {
    Numeric(usize),
    Level(usize, String),
}

/// Compares the two tables as the module docs say. Errors: a missing column, an unreadable
/// value, a missing outcome or group, no rows, a fit that cannot run.
pub fn compare_tables(
    before: &[RecordBatch],
    after: &[RecordBatch],
    p: &CompareParams,
) -> Result<Comparison, InferenceError> {
    let sem = [read_semester(before, p, BEFORE)?, read_semester(after, p, AFTER)?];

    // Levels: counts per semester; rare ones leave the comparison with their rows.
    let mut excluded_levels = Vec::new();
    let mut keep_rows: [Vec<bool>; 2] = [vec![true; sem[0].passed.len()], vec![true; sem[1].passed.len()]];
    let mut counts: Vec<BTreeMap<&str, [usize; 2]>> = Vec::new();
    for (k, column) in p.categorical.iter().enumerate() {
        let mut c: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
        for (s, semester) in sem.iter().enumerate() {
            for v in &semester.categorical[k] {
                c.entry(v.as_str()).or_default()[s] += 1;
            }
        }
        for (level, n) in &c {
            if n[0] < p.min_level_rows || n[1] < p.min_level_rows {
                excluded_levels.push(ExcludedLevel {
                    column: column.clone(),
                    level: (*level).to_owned(),
                    before_rows: n[0],
                    after_rows: n[1],
                });
            }
        }
        counts.push(c);
    }
    for (s, semester) in sem.iter().enumerate() {
        for (k, column) in p.categorical.iter().enumerate() {
            for (row, v) in semester.categorical[k].iter().enumerate() {
                if excluded_levels.iter().any(|e| e.column == *column && e.level == *v) {
                    keep_rows[s][row] = false;
                }
            }
        }
    }
    let excluded_rows = BTreeMap::from([
        (p.labels.before.clone(), keep_rows[0].iter().filter(|k| !**k).count()),
        (p.labels.after.clone(), keep_rows[1].iter().filter(|k| !**k).count()),
    ]);

    // References and the design's terms.
    let mut terms = Vec::new();
    let mut references = Vec::new();
    for (k, column) in p.categorical.iter().enumerate() {
        let kept: Vec<(&str, usize)> = counts[k]
            .iter()
            .filter(|(l, _)| !excluded_levels.iter().any(|e| e.column == *column && e.level == **l))
            .map(|(l, n)| (*l, n[0] + n[1]))
            .collect();
        let reference = match p.references.get(column) {
            Some(r) if kept.iter().any(|(l, _)| l == r) => r.clone(),
            Some(r) => {
                return Err(InferenceError::Shape(format!(
                    "references.{column}: level `{}` is not among the compared levels",
                    excerpt(r, 80)
                )));
            }
            // Most frequent; ties to the first in byte order (BTreeMap order, strict `>`).
            None => kept
                .iter()
                .fold(None::<(&str, usize)>, |best, &(l, n)| match best {
                    Some((_, m)) if m >= n => best,
                    _ => Some((l, n)),
                })
                .map(|(l, _)| l.to_owned())
                .unwrap_or_default(),
        };
        terms.extend(kept.iter().filter(|(l, _)| *l != reference).map(|(l, _)| Term::Level(k, (*l).to_owned())));
        references.push(reference);
    }
    terms.extend((0..p.numeric.len()).map(Term::Numeric));

    // Pooled numerics: median imputation, then scaling.
    let mut imputed = BTreeMap::new();
    let mut numeric_scaling = BTreeMap::new();
    let mut numeric: [Vec<Vec<f64>>; 2] = [Vec::new(), Vec::new()];
    let mut medians = Vec::new();
    for (k, column) in p.numeric.iter().enumerate() {
        let mut present: Vec<f64> = (0..2)
            .flat_map(|s| {
                sem[s].numeric[k].iter().zip(&keep_rows[s]).filter(|(_, keep)| **keep).filter_map(|(v, _)| *v)
            })
            .collect();
        let med = median(&mut present);
        medians.push(med);
        let mut missing = 0;
        let mut filled: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for s in 0..2 {
            for (v, keep) in sem[s].numeric[k].iter().zip(&keep_rows[s]) {
                if *keep {
                    missing += usize::from(v.is_none());
                    filled[s].push(v.unwrap_or(med));
                }
            }
        }
        let n = (filled[0].len() + filled[1].len()).max(1) as f64;
        let mean = filled.iter().flatten().sum::<f64>() / n;
        let sd = (filled.iter().flatten().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let (shift, scale) = match p.scaling {
            CompareScaling::Standard => (mean, if sd > 0.0 { sd } else { 1.0 }),
            CompareScaling::None => (0.0, 1.0),
        };
        for (s, f) in filled.into_iter().enumerate() {
            numeric[s].push(f.into_iter().map(|x| (x - shift) / scale).collect());
        }
        imputed.insert(column.clone(), missing);
        numeric_scaling.insert(column.clone(), (mean, sd));
    }

    // The pooled rows: before's kept rows, then after's.
    let keep = &keep_rows;
    let rows: Vec<(usize, usize)> =
        (0..2).flat_map(|s| (0..keep[s].len()).filter(move |&r| keep[s][r]).map(move |r| (s, r))).collect();
    if rows.is_empty() {
        return Err(InferenceError::Shape("no rows to compare".into()));
    }
    let kept_index: [Vec<usize>; 2] = std::array::from_fn(|s| {
        let mut next = 0;
        keep_rows[s]
            .iter()
            .map(|&k| {
                let i = next;
                next += usize::from(k);
                i
            })
            .collect()
    });
    let term_name = |t: &Term| match t {
        Term::Numeric(k) => p.numeric[*k].clone(),
        Term::Level(k, l) => format!("{}={l}", p.categorical[*k]),
    };
    let value = |t: &Term, s: usize, r: usize| match t {
        Term::Numeric(k) => numeric[s][*k][kept_index[s][r]],
        Term::Level(k, l) => f64::from(u8::from(sem[s].categorical[*k][r] == *l)),
    };
    let y: Vec<bool> = rows.iter().map(|&(s, r)| sem[s].passed[r]).collect();
    let groups: Vec<&str> = rows.iter().map(|&(s, r)| sem[s].group[r].as_str()).collect();
    let clusters = Clusters::from_keys(&groups);
    let options = LogitOptions::default();

    // Two parameterisations of one model: the indicator of `after` (main effects = before's),
    // and of `before` (main effects = after's).
    let fit = |indicator: &str, is_on: usize| -> Result<LogitReport, InferenceError> {
        let mut names = vec![indicator.to_owned()];
        names.extend(terms.iter().map(term_name));
        names.extend(terms.iter().map(|t| format!("{indicator} × {}", term_name(t))));
        let mut x = Vec::with_capacity(rows.len() * names.len());
        for &(s, r) in &rows {
            let on = f64::from(u8::from(s == is_on));
            x.push(on);
            let start = x.len();
            x.extend(terms.iter().map(|t| value(t, s, r)));
            for j in 0..terms.len() {
                x.push(x[start + j] * on);
            }
        }
        fit_logit(&Design::new(&x, rows.len(), &names)?, &y, Some(&clusters), &options)
    };
    let with_after = fit(AFTER, 1)?;
    let with_before = fit(BEFORE, 0)?;

    let mut characteristics = Vec::new();
    for t in &terms {
        let name = term_name(t);
        let ratio = odds_ratio(with_after.coefficient(&format!("{AFTER} × {name}")));
        let (column, level, reference, unit) = match t {
            Term::Numeric(k) => {
                let unit = match p.scaling {
                    CompareScaling::Standard => {
                        format!("per standard deviation ({:.4})", numeric_scaling[&p.numeric[*k]].1)
                    }
                    CompareScaling::None => "per unit".to_owned(),
                };
                (p.numeric[*k].clone(), None, None, unit)
            }
            Term::Level(k, l) => (
                p.categorical[*k].clone(),
                Some(l.clone()),
                Some(references[*k].clone()),
                format!("vs {}", references[*k]),
            ),
        };
        let pass = |s: usize| {
            let sel = |want_level: bool| {
                rate((0..sem[s].passed.len()).filter(|&r| keep_rows[s][r]).filter_map(|r| {
                    let in_level = match t {
                        Term::Numeric(k) => sem[s].numeric[*k][r].unwrap_or(medians[*k]) > medians[*k],
                        Term::Level(k, l) => sem[s].categorical[*k][r] == *l,
                    };
                    let in_reference = match t {
                        Term::Numeric(_) => !in_level,
                        Term::Level(k, _) => sem[s].categorical[*k][r] == references[*k],
                    };
                    let take = if want_level { in_level } else { in_reference };
                    take.then_some(sem[s].passed[r])
                }))
            };
            let ((rows, rate), (reference_rows, reference_rate)) = (sel(true), sel(false));
            let gap = rate.zip(reference_rate).map(|(a, b)| a - b);
            PassRates { rows, rate, reference_rows, reference_rate, gap }
        };
        let (pass_before, pass_after) = (pass(0), pass(1));
        let gap_change = pass_after.gap.zip(pass_before.gap).map(|(a, b)| a - b);
        let gap_widened = pass_after.gap.zip(pass_before.gap).map(|(a, b)| a.abs() > b.abs());
        characteristics.push(Characteristic {
            column,
            level,
            reference,
            unit,
            before: odds_ratio(with_after.coefficient(&name)),
            after: odds_ratio(with_before.coefficient(&name)),
            ratio,
            p_holm: None,
            p_bh: None,
            pass_before,
            pass_after,
            gap_change,
            gap_widened,
        });
    }
    let family: Vec<(usize, f64)> =
        characteristics.iter().enumerate().filter_map(|(i, c)| c.ratio.p_value.map(|p| (i, p))).collect();
    let raw: Vec<f64> = family.iter().map(|f| f.1).collect();
    let holm = adjust_p_values(&raw, Adjustment::Holm)?;
    let bh = adjust_p_values(&raw, Adjustment::BenjaminiHochberg)?;
    for (j, (i, _)) in family.iter().enumerate() {
        characteristics[*i].p_holm = Some(holm[j]);
        characteristics[*i].p_bh = Some(bh[j]);
    }
    let mut warnings = with_after.warnings.clone();
    for w in &with_before.warnings {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    let kept_rates = |s: usize| rate((0..sem[s].passed.len()).filter(|&r| keep_rows[s][r]).map(|r| sem[s].passed[r]));
    let ((before_rows, pass_rate_before), (after_rows, pass_rate_after)) = (kept_rates(0), kept_rates(1));
    Ok(Comparison {
        before: p.labels.before.clone(),
        after: p.labels.after.clone(),
        before_rows,
        after_rows,
        excluded_rows,
        excluded_levels,
        imputed,
        numeric_scaling,
        students: clusters.count(),
        pass_rate_before,
        pass_rate_after,
        confidence: with_after.confidence,
        adjustment_family: format!(
            "the {} ratios below (interaction p-values, clustered by `{}`)",
            family.len(),
            p.group
        ),
        semester: odds_ratio(with_after.coefficient(AFTER)),
        characteristics,
        converged: with_after.converged && with_before.converged,
        warnings,
    })
}

// ── the report ───────────────────────────────────────────────────────────────────────────

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.digits$}"))
}

fn interval(o: &OddsRatio) -> String {
    match (o.odds_ratio, o.low, o.high) {
        (Some(or), Some(lo), Some(hi)) => format!("{or:.3} [{lo:.3}, {hi:.3}]"),
        (Some(or), _, _) => format!("{or:.3}"),
        _ => format!("— ({})", o.status),
    }
}

fn label(c: &Characteristic) -> String {
    match &c.level {
        Some(l) => format!("{} = {l}", c.column),
        None => c.column.clone(),
    }
}

/// A forest plot of the ratios (log scale) with their intervals, hand-written SVG.
fn forest_svg(c: &Comparison) -> String {
    let shown: Vec<(&Characteristic, f64, f64, f64)> = c
        .characteristics
        .iter()
        .filter_map(|ch| Some((ch, ch.ratio.odds_ratio?, ch.ratio.low?, ch.ratio.high?)))
        .filter(|(_, r, lo, hi)| r.is_finite() && lo.is_finite() && hi.is_finite() && *lo > 0.0)
        .collect();
    let (label_w, plot_w, row_h, top) = (330.0, 420.0, 22.0, 30.0);
    let height = top + row_h * shown.len() as f64 + 40.0;
    let (mut lo, mut hi) = (0.5f64.ln(), 2.0f64.ln());
    for (_, _, l, h) in &shown {
        lo = lo.min(l.ln());
        hi = hi.max(h.ln());
    }
    let (lo, hi) = (lo.max(-5.0), hi.min(5.0));
    let x = |v: f64| label_w + (v.ln().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12">"#,
        w = label_w + plot_w + 20.0
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="16" text-anchor="middle">odds ratio {} / {} (log scale, {:.0} % interval)</text>"#,
        label_w + plot_w / 2.0,
        escape_html(&c.after),
        escape_html(&c.before),
        c.confidence * 100.0
    );
    let one = x(1.0);
    let bottom = top + row_h * shown.len() as f64;
    let _ = write!(
        s,
        r##"<line x1="{one:.1}" y1="{top}" x2="{one:.1}" y2="{bottom}" stroke="#888" stroke-dasharray="4 3"/>"##
    );
    for (i, (ch, r, l, h)) in shown.iter().enumerate() {
        let y = top + row_h * (i as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 4.0,
            escape_html(&label(ch))
        );
        let _ = write!(s, r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#333"/>"##, x(*l), x(*h));
        let fill = if ch.p_holm.is_some_and(|p| p < 0.05) { "#c0392b" } else { "#2c3e50" };
        let _ = write!(s, r#"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{fill}"/>"#, x(*r) - 4.0, y - 4.0);
    }
    for tick in [0.25, 0.5, 1.0, 2.0, 4.0] {
        let v = f64::ln(tick);
        if v >= lo && v <= hi {
            let tx = x(tick);
            let _ = write!(
                s,
                r##"<line x1="{tx:.1}" y1="{bottom}" x2="{tx:.1}" y2="{:.1}" stroke="#333"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{tick}</text>"##,
                bottom + 5.0,
                bottom + 18.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The HTML report: a summary, the forest plot and the table.
pub fn render_html(c: &Comparison) -> String {
    let (b, a) = (escape_html(&c.before), escape_html(&c.after));
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{b} vs {a}</title><style>\
         body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:13px}}\
         td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
         .sig{{color:#c0392b;font-weight:bold}}</style></head><body>\n<h1>Did the characteristics matter more in {a} than in {b}?</h1>\n"
    );
    let _ = writeln!(
        s,
        "<p>{} rows of {b} (pass rate {}), {} rows of {a} (pass rate {}), {} students; one logistic model on the pooled rows \
         with a semester indicator and its interaction with every characteristic, standard errors clustered by student. \
         Odds ratio of the semester at the references: {}. Adjusted p-values (Holm, Benjamini–Hochberg) are over {}.{}</p>",
        c.before_rows,
        num(c.pass_rate_before, 3),
        c.after_rows,
        num(c.pass_rate_after, 3),
        c.students,
        interval(&c.semester),
        escape_html(&c.adjustment_family),
        if c.converged { "" } else { " <b>A fit did not converge.</b>" }
    );
    if !c.excluded_levels.is_empty() {
        s.push_str("<p>Left out (too few rows in a semester): ");
        let items: Vec<String> = c
            .excluded_levels
            .iter()
            .map(|e| {
                format!("{} = {} ({} / {})", escape_html(&e.column), escape_html(&e.level), e.before_rows, e.after_rows)
            })
            .collect();
        s.push_str(&items.join("; "));
        s.push_str(".</p>\n");
    }
    if !c.warnings.is_empty() {
        s.push_str("<ul>");
        for w in &c.warnings {
            let _ = write!(s, "<li>{}</li>", escape_html(&w.to_string()));
        }
        s.push_str("</ul>\n");
    }
    s.push_str(&forest_svg(c));
    let _ = write!(
        s,
        "\n<table><tr><th>characteristic</th><th>unit</th><th>OR {b}</th><th>OR {a}</th><th>ratio {a}/{b}</th>\
         <th>p</th><th>p Holm</th><th>p BH</th><th>pass-rate gap {b}</th><th>gap {a}</th><th>gap change</th><th>widened</th></tr>\n"
    );
    for ch in &c.characteristics {
        let sig = if ch.p_holm.is_some_and(|p| p < 0.05) { " class=\"sig\"" } else { "" };
        let _ = writeln!(
            s,
            "<tr{sig}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&label(ch)),
            escape_html(&ch.unit),
            interval(&ch.before),
            interval(&ch.after),
            interval(&ch.ratio),
            num(ch.ratio.p_value, 4),
            num(ch.p_holm, 4),
            num(ch.p_bh, 4),
            num(ch.pass_before.gap, 3),
            num(ch.pass_after.gap, 3),
            num(ch.gap_change, 3),
            ch.gap_widened.map_or("—", |w| if w { "yes" } else { "no" }),
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    /// A semester of `students` × 3 enrolments: `g` in {a (60 %), b, rare (2 rows)}, `x` numeric,
    /// log-odds 0.5 + effect_b·[g = b] + 0.3·x, drawn by a fixed LCG.
    fn semester(students: usize, effect_b: f64, seed: u64, id_prefix: &str) -> RecordBatch {
        let mut state = seed;
        let mut uniform = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut ids, mut g, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for s in 0..students {
            let level = if s < 2 {
                "rare <b>"
            } else if uniform() < 0.6 {
                "a"
            } else {
                "b"
            };
            let xv = uniform() * 4.0 - 2.0;
            for _ in 0..3 {
                let eta = 0.5 + if level == "b" { effect_b } else { 0.0 } + 0.3 * xv;
                let pass = uniform() < 1.0 / (1.0 + (-eta).exp());
                ids.push(format!("{id_prefix}{s}"));
                g.push(level.to_owned());
                x.push(if s == 5 { None } else { Some(xv) });
                y.push(if pass { "APROVADO" } else { "FALHOU" }.to_owned());
            }
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("id_discente", DataType::Utf8, false),
            Field::new("g", DataType::Utf8, false),
            Field::new("x", DataType::Float64, true),
            Field::new("descricao", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(g)),
            Arc::new(Float64Array::from(x)),
            Arc::new(StringArray::from(y)),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn params() -> CompareParams {
        CompareParams {
            derived: BTreeMap::new(),
            categorical: vec!["g".into()],
            numeric: vec!["x".into()],
            labels: Labels { before: "2019.2".into(), after: "2020.5".into() },
            ..CompareParams::default()
        }
    }

    #[test]
    fn the_interaction_recovers_a_planted_change_and_p_values_are_adjusted() {
        // b's log odds ratio is +0.2 before and −0.8 after: a planted change of −1.
        let before = [semester(1_500, 0.2, 1, "s")];
        let after = [semester(1_500, -0.8, 2, "s")];
        let c = compare_tables(&before, &after, &params()).unwrap();
        assert!(c.converged, "{:?}", c.warnings);
        assert_eq!(c.excluded_levels.len(), 1, "the rare level leaves the comparison");
        assert_eq!(c.excluded_rows["2019.2"], 6);
        assert_eq!(c.before_rows, 4_494);
        assert_eq!(c.imputed["x"], 6, "a student's missing x, in both semesters");
        let b = c.characteristics.iter().find(|ch| ch.level.as_deref() == Some("b")).unwrap();
        assert_eq!(b.reference.as_deref(), Some("a"), "the most frequent level");
        let (lo, hi) = (b.ratio.low.unwrap().ln(), b.ratio.high.unwrap().ln());
        assert!(lo < -1.0 && -1.0 < hi && hi < 0.0, "ratio interval [{lo}, {hi}]");
        let (or_before, or_after) = (b.before.odds_ratio.unwrap(), b.after.odds_ratio.unwrap());
        assert!((or_after / or_before / b.ratio.odds_ratio.unwrap() - 1.0).abs() < 1e-6);
        assert!(b.before.low.unwrap() < 0.2_f64.exp() && 0.2_f64.exp() < b.before.high.unwrap());
        assert!(b.pass_after.gap.unwrap() < b.pass_before.gap.unwrap() && b.gap_widened == Some(true));
        let x = c.characteristics.iter().find(|ch| ch.column == "x").unwrap();
        assert!(x.ratio.low.unwrap() < 1.0 && 1.0 < x.ratio.high.unwrap(), "no change planted on x");
        assert!(x.unit.starts_with("per standard deviation"));
        for ch in &c.characteristics {
            let p = ch.ratio.p_value.unwrap();
            assert!(ch.p_holm.unwrap() >= p && ch.p_bh.unwrap() >= p && ch.p_holm.unwrap() >= ch.p_bh.unwrap());
        }
        assert_eq!(c.students, 1_500 - 2);

        // Deterministic, and the report escapes user text.
        let again = compare_tables(&before, &after, &params()).unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), serde_json::to_string(&again).unwrap());
        let html = render_html(&c);
        assert_eq!(html, render_html(&again));
        assert!(html.contains("<svg") && html.contains("rare &lt;b&gt;") && !html.contains("rare <b>"));
    }

    #[test]
    fn references_ties_and_bad_inputs() {
        let before = [semester(300, 0.0, 3, "s")];
        let after = [semester(300, 0.0, 4, "s")];
        let mut p = params();
        p.references = BTreeMap::from([("g".to_owned(), "b".to_owned())]);
        let c = compare_tables(&before, &after, &p).unwrap();
        assert_eq!(c.characteristics[0].level.as_deref(), Some("a"));
        p.references = BTreeMap::from([("g".to_owned(), "zzz".to_owned())]);
        assert!(compare_tables(&before, &after, &p).unwrap_err().to_string().contains("zzz"));

        let mut p = params();
        p.numeric = vec!["nope".into()];
        let e = compare_tables(&before, &after, &p).unwrap_err().to_string();
        assert!(e.contains("`nope`") && e.contains("input `before`"), "{e}");

        let bad = |value: serde_json::Value| CompareStage::from_params(value).unwrap_err().to_string();
        assert!(bad(serde_json::json!({ "numeric": ["idade", "idade"] })).contains("twice"));
        assert!(bad(serde_json::json!({ "references": { "renda": "x" } })).contains("not a categorical"));
        assert!(bad(serde_json::json!({ "labels": { "before": "a", "after": "a" } })).contains("different labels"));
        assert!(bad(serde_json::json!({ "nonsense": 1 })).contains("nonsense"));
        assert!(CompareStage::from_params(serde_json::json!({})).is_ok());
    }
}
