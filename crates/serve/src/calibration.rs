//! The calibrated chance: the Platt calibrator the evaluate stage (version 6 on) writes as its
//! `calibration` output beside the model it evaluated, read and checked like any user data.
//!
//! Class balancing in training fits the model as if both classes were equally frequent, which
//! pulls every probability towards one half: right for ranking and for the trained threshold,
//! wrong as a chance. The calibrator maps a model probability `p` to
//! `1 / (1 + exp(−(intercept + slope · logit(p))))`, fitted on the training split, which undoes
//! that pull without changing the order of the rows. The format is esteira-evaluate's
//! `Calibrator` (`esteira-calibrator/1`); this crate cannot depend on that stage crate, so it
//! reads the JSON itself, and the tests pin the two against each other through the formula.

use crate::ServeError;
use esteira_core::{ArtifactStore, ContentHash, RunRecord};

/// The `format` of the calibrator this crate reads.
pub const CALIBRATOR_FORMAT: &str = "esteira-calibrator/1";
/// The evaluate stage's output holding the calibrator.
pub const CALIBRATION_OUTPUT: &str = "calibration";

/// The clipping evaluate applies before the logit, so a score of exactly 0 or 1 stays finite.
const CLIP: f64 = 1e-12;

/// Platt scaling: `intercept + slope · logit(p)` through the logistic function.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Platt {
    /// `a`.
    pub intercept: f64,
    /// `b`.
    pub slope: f64,
}

impl Platt {
    /// The calibrated probability of a model probability `p` (of the positive class).
    pub fn apply(&self, p: f64) -> f64 {
        let p = p.clamp(CLIP, 1.0 - CLIP);
        let z = self.intercept + self.slope * (p / (1.0 - p)).ln();
        1.0 / (1.0 + (-z).exp())
    }
}

/// Whether the served model has a calibrated probability, and where it came from or why not.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Calibration {
    /// A Platt calibrator from the evaluate stage of the model's run.
    Platt {
        /// The map.
        platt: Platt,
        /// The evaluate stage that wrote it.
        stage: String,
        /// The `calibration` object's hash.
        hash: ContentHash,
        /// Training rows it was fitted on.
        fitted_rows: u64,
    },
    /// None: only the model's probability is shown.
    Unavailable {
        /// Why (an older run, a withheld calibrator, `--no-calibration` …).
        reason: String,
    },
}

impl Calibration {
    pub(crate) fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable { reason: reason.into() }
    }

    /// The calibrated probability of a model probability, when there is a calibrator.
    pub fn apply(&self, p: f64) -> Option<f64> {
        match self {
            Self::Platt { platt, .. } => Some(platt.apply(p)),
            Self::Unavailable { .. } => None,
        }
    }

    /// The map, when there is one.
    pub fn platt(&self) -> Option<&Platt> {
        match self {
            Self::Platt { platt, .. } => Some(platt),
            Self::Unavailable { .. } => None,
        }
    }

    /// Why there is no calibrated probability, when there is none.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Platt { .. } => None,
            Self::Unavailable { reason } => Some(reason),
        }
    }

    /// The card of the calibration (model card and predict answers).
    pub(crate) fn card(&self) -> serde_json::Value {
        match self {
            Self::Platt { platt, stage, hash, fitted_rows } => serde_json::json!({
                "available": true,
                "method": "platt",
                "intercept": platt.intercept,
                "slope": platt.slope,
                "fitted_rows": fitted_rows,
                "stage": stage,
                "hash": hash.to_hex(),
                "reason": null,
            }),
            Self::Unavailable { reason } => serde_json::json!({ "available": false, "reason": reason }),
        }
    }
}

/// The fields of esteira-evaluate's `Calibrator` this version reads.
struct RawCalibrator {
    method: String,
    /// `(intercept, slope)`.
    platt: Option<(f64, f64)>,
    withheld: Option<String>,
    positive_class: String,
    fitted_rows: u64,
}

/// A calibrator file that cannot be used, naming the field.
fn refused(file: &str, field: &str, message: impl Into<String>) -> ServeError {
    ServeError::Calibration { file: file.to_owned(), field: field.to_owned(), message: message.into() }
}

/// Reads a calibrator (`bytes` of `file`) for a model whose positive class is `positive_class`:
/// `Ok(Ok(…))` a usable map, `Ok(Err(reason))` one the evaluate stage withheld, `Err` a file
/// that is not a calibrator this version can apply.
pub(crate) fn parse(
    bytes: &[u8],
    file: &str,
    positive_class: &str,
) -> Result<Result<(Platt, u64), String>, ServeError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| refused(file, ".", format!("not JSON (line {}, column {}): {e}", e.line(), e.column())))?;
    // The format first: a newer evaluate may write fields this version would misread.
    match value.get("format").map(|f| (f, f.as_str())) {
        Some((_, Some(CALIBRATOR_FORMAT))) => {}
        Some((f, _)) => {
            return Err(refused(
                file,
                "format",
                format!("{} is not {CALIBRATOR_FORMAT:?}, the format this version reads", excerpt_json(f)),
            ));
        }
        None => return Err(refused(file, "format", format!("missing (expected {CALIBRATOR_FORMAT:?})"))),
    }
    // Read by hand rather than through serde: every refusal names its field's path, and fields
    // a later evaluate adds are ignored (a change of meaning comes with a new `format`).
    let get = |key: &str| value.get(key).ok_or_else(|| refused(file, key, "missing"));
    let text = |key: &str| -> Result<String, ServeError> {
        let v = get(key)?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| refused(file, key, format!("expected text, got {}", excerpt_json(v))))
    };
    let raw_platt = match get("platt")? {
        serde_json::Value::Null => None,
        serde_json::Value::Object(o) => {
            let number = |key: &str| -> Result<f64, ServeError> {
                let path = format!("platt.{key}");
                let v = o.get(key).ok_or_else(|| refused(file, &path, "missing"))?;
                v.as_f64().ok_or_else(|| refused(file, &path, format!("expected a number, got {}", excerpt_json(v))))
            };
            Some((number("intercept")?, number("slope")?))
        }
        other => {
            return Err(refused(
                file,
                "platt",
                format!("expected {{\"intercept\", \"slope\"}} or null, got {}", excerpt_json(other)),
            ));
        }
    };
    let withheld = match get("withheld")? {
        serde_json::Value::Null => None,
        serde_json::Value::String(w) => Some(w.clone()),
        other => return Err(refused(file, "withheld", format!("expected text or null, got {}", excerpt_json(other)))),
    };
    let fitted = get("fitted_rows")?;
    let fitted_rows = fitted.as_u64().ok_or_else(|| {
        refused(file, "fitted_rows", format!("expected a count of rows, got {}", excerpt_json(fitted)))
    })?;
    let raw = RawCalibrator {
        method: text("method")?,
        platt: raw_platt,
        withheld,
        positive_class: text("positive_class")?,
        fitted_rows,
    };
    if raw.method != "platt" {
        return Err(refused(
            file,
            "method",
            format!(
                "{:?} is not a method this version applies (only \"platt\")",
                esteira_core::excerpt(&raw.method, 40)
            ),
        ));
    }
    if raw.positive_class != positive_class {
        return Err(refused(
            file,
            "positive_class",
            format!(
                "{:?}, but the model's positive class is {positive_class:?}: it calibrates another model",
                esteira_core::excerpt(&raw.positive_class, 40)
            ),
        ));
    }
    let Some((intercept, slope)) = raw.platt else {
        return Ok(Err(raw.withheld.unwrap_or_else(|| "the evaluate stage gave no reason".to_owned())));
    };
    for (field, v) in [("platt.intercept", intercept), ("platt.slope", slope)] {
        // serde_json refuses 1e999 and NaN already; checked here too because a non-finite map
        // would answer 0, 1 or NaN for everyone, whatever reads the file.
        if !v.is_finite() {
            return Err(refused(file, field, format!("{v} is not a finite number")));
        }
    }
    if raw.fitted_rows == 0 {
        return Err(refused(file, "fitted_rows", "0: a calibrator fitted on no rows"));
    }
    Ok(Ok((Platt { intercept, slope }, raw.fitted_rows)))
}

fn excerpt_json(v: &serde_json::Value) -> String {
    esteira_core::excerpt(&v.to_string(), 40).into_owned()
}

/// The calibration of `model` (positive class `positive_class`) in `run`: the `calibration`
/// output of the evaluate stage that was fed this exact model. A calibrator of another model
/// would be wrong for this one, so unlike the test metrics there is no fallback to a lone
/// evaluate stage with other inputs.
pub(crate) fn of_run(
    store: &dyn ArtifactStore,
    run: Option<&RunRecord>,
    model: &ContentHash,
    positive_class: &str,
) -> Result<Calibration, ServeError> {
    let Some(run) = run else {
        return Ok(Calibration::unavailable(
            "no run lists this model, so no evaluate stage fitted a calibrator for it",
        ));
    };
    let evaluate = crate::record::stages_in_order(run).into_iter().find(|(_, s)| {
        s.kind == crate::EVALUATE_KIND && crate::record::usable(s) && s.inputs.values().any(|h| h == model)
    });
    let Some((stage, record)) = evaluate else {
        return Ok(Calibration::unavailable(format!(
            "run {} has no `{}` stage that evaluated this model",
            run.id,
            crate::EVALUATE_KIND
        )));
    };
    let Some(hash) = record.outputs.get(CALIBRATION_OUTPUT).copied() else {
        return Ok(Calibration::unavailable(format!(
            "the `{}` stage `{stage}` of run {} (version {}) has no `{CALIBRATION_OUTPUT}` output; \
             evaluate writes one from version 6: rerun the pipeline",
            crate::EVALUATE_KIND,
            run.id,
            record.version
        )));
    };
    let file = format!("the `{CALIBRATION_OUTPUT}` output of stage `{stage}` in run {} (object {hash})", run.id);
    let bytes = crate::record::read_verified(store, &hash).map_err(|e| refused(&file, ".", e.to_string()))?;
    let calibration = match parse(&bytes, &file, positive_class)? {
        Ok((platt, fitted_rows)) => Calibration::Platt { platt, stage: stage.to_owned(), hash, fitted_rows },
        Err(withheld) => Calibration::unavailable(format!("the `{stage}` stage withheld it: {withheld}")),
    };
    Ok(calibration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(platt: &str) -> String {
        format!(
            "{{\"format\": \"esteira-calibrator/1\", \"method\": \"platt\", \"platt\": {platt}, \
             \"withheld\": null, \"positive_class\": \"APROVADO\", \"fitted_rows\": 10}}"
        )
    }

    fn message(bytes: &str) -> String {
        parse(bytes.as_bytes(), "cal.json", "APROVADO").err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn reads_the_evaluate_format_and_applies_the_formula() {
        let (platt, rows) =
            parse(file("{\"intercept\": 0.5, \"slope\": 2.0}").as_bytes(), "f", "APROVADO").unwrap().unwrap();
        assert_eq!(rows, 10);
        let p: f64 = 0.3;
        let want = 1.0 / (1.0 + (-(0.5 + 2.0 * (p / (1.0 - p)).ln())).exp());
        assert!((platt.apply(p) - want).abs() < 1e-15);
        assert!((Platt { intercept: 0.0, slope: 1.0 }.apply(0.25) - 0.25).abs() < 1e-15);
        // Scores of exactly 0 and 1 are clipped, so the log odds stay finite.
        assert!(platt.apply(0.0) > 0.0 && platt.apply(1.0).is_finite());
    }

    #[test]
    fn a_withheld_calibrator_says_why() {
        let bytes = file("null").replace("\"withheld\": null", "\"withheld\": \"a random forest's\"");
        assert_eq!(parse(bytes.as_bytes(), "f", "APROVADO").unwrap(), Err("a random forest's".to_owned()));
    }

    #[test]
    fn bad_files_are_refused_naming_the_field() {
        let m = message("{\"format\": ");
        assert!(m.contains("cal.json") && m.contains("not JSON"), "{m}");
        let m = message(&file("{\"intercept\": 1e999, \"slope\": 1.0}"));
        assert!(m.contains("cal.json") && m.contains("out of range"), "{m}");
        let m = message(&file("{\"intercept\": 0.1, \"slope\": NaN}"));
        assert!(m.contains("cal.json"), "{m}");
        let m = message(&file("{\"intercept\": 0.1, \"slope\": \"2\"}"));
        assert!(m.contains("platt.slope"), "{m}");
        let m = message(&file("{\"intercept\": null, \"slope\": 1.0}"));
        assert!(m.contains("platt.intercept"), "{m}");
        let m = message(&file("{\"slope\": 1.0}"));
        assert!(m.contains("field `platt.intercept`: missing"), "{m}");
        let m = message(&file("[0.1, 1.0]"));
        assert!(m.contains("field `platt`"), "{m}");
        let m = message(&file("null").replace("\"fitted_rows\": 10", "\"fitted_rows\": -3"));
        assert!(m.contains("field `fitted_rows`"), "{m}");
        let m = message(&file("{}").replace("esteira-calibrator/1", "esteira-calibrator/2"));
        assert!(m.contains("format") && m.contains("esteira-calibrator/2"), "{m}");
        let platt = "{\"intercept\": 0.1, \"slope\": 1.0}";
        let m = message(&file(platt).replace("\"method\": \"platt\"", "\"method\": \"isotonic\""));
        assert!(m.contains("method") && m.contains("isotonic"), "{m}");
        let m = message(&file("{\"intercept\": 0.1, \"slope\": 1.0}").replace("APROVADO", "FALHOU"));
        assert!(m.contains("positive_class") && m.contains("FALHOU"), "{m}");
        let m = message("[1, 2]");
        assert!(m.contains("format"), "{m}");
    }
}
