//! Aggregate figures of the real UFRN data (`data/marginals.json`, embedded) that the generator
//! draws from: category shares, quantiles, outcome shares, approval rates by group, row counts.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::SynthError;
use crate::sample::{Categorical, QuantileFn};

/// The marginals shipped with the crate, a copy of `shared/data/ufrn/marginals.json`.
pub const EMBEDDED_MARGINALS_JSON: &str = include_str!("../data/marginals.json");

/// Row counts of the real data at scale 1.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RowCounts {
    pub(crate) discentes_with_socio_2020_1: u64,
    pub(crate) socio_rows: u64,
    pub(crate) enrolment_rows_2020_5: u64,
}

/// The approval rate (INDEFERIDO excluded) of one group and how many rows it rests on.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct GroupRate {
    pub(crate) approved_rate: f64,
    pub(crate) n: u64,
}

type Shares = BTreeMap<String, f64>;

/// Parsed marginals. Unknown fields in the JSON are ignored, so the file can carry notes.
#[derive(Debug, Clone, Deserialize)]
pub struct Marginals {
    pub(crate) rows: RowCounts,
    pub(crate) discentes: BTreeMap<String, Shares>,
    pub(crate) ano_nascimento_quantiles: Shares,
    pub(crate) socio: BTreeMap<String, Shares>,
    pub(crate) renda_quantiles: Shares,
    pub(crate) area_conhecimento_of_enrolments: Shares,
    pub(crate) grau_academico_of_enrolments: Shares,
    pub(crate) outcome_2020_5_after_mapping: Shares,
    pub(crate) approved_rate_by: BTreeMap<String, BTreeMap<String, GroupRate>>,
}

impl Marginals {
    /// The marginals embedded in the crate.
    pub fn embedded() -> Result<Self, SynthError> {
        Self::from_json(EMBEDDED_MARGINALS_JSON)
    }

    /// Parses marginals in the format of `data/marginals.json`.
    pub fn from_json(json: &str) -> Result<Self, SynthError> {
        let marginals: Self = serde_json::from_str(json)
            .map_err(|e| SynthError::Marginals { field: "(document)".into(), message: e.to_string() })?;
        marginals.validate()?;
        Ok(marginals)
    }

    fn validate(&self) -> Result<(), SynthError> {
        if self.rows.discentes_with_socio_2020_1 == 0 {
            return Err(field_error("rows.discentes_with_socio_2020_1", "must be positive"));
        }
        for (table, columns) in [("discentes", &self.discentes), ("socio", &self.socio)] {
            for (column, shares) in columns {
                for (value, share) in shares {
                    if !(share.is_finite() && *share >= 0.0) {
                        return Err(field_error(&format!("{table}.{column}.{value}"), "share must be >= 0"));
                    }
                }
            }
        }
        for (factor, groups) in &self.approved_rate_by {
            for (level, rate) in groups {
                if !(0.0..=1.0).contains(&rate.approved_rate) {
                    return Err(field_error(&format!("approved_rate_by.{factor}.{level}"), "rate outside [0, 1]"));
                }
            }
        }
        Ok(())
    }

    /// Shares of one column of the discentes table.
    pub(crate) fn discentes_shares(&self, column: &str) -> Result<&Shares, SynthError> {
        self.discentes.get(column).ok_or_else(|| field_error(&format!("discentes.{column}"), "missing"))
    }

    /// One share of the discentes table (0 when the value is not listed).
    pub(crate) fn discentes_share(&self, column: &str, value: &str) -> Result<f64, SynthError> {
        Ok(self.discentes_shares(column)?.get(value).copied().unwrap_or(0.0))
    }

    /// A categorical sampler over one discentes column.
    pub(crate) fn discentes_categorical(&self, column: &str) -> Result<Categorical<String>, SynthError> {
        let shares = self.discentes_shares(column)?;
        categorical(&format!("discentes.{column}"), shares.iter().map(|(k, v)| (k.clone(), *v)))
    }

    /// The share of `true` in a socio-economic flag column.
    pub(crate) fn socio_true_share(&self, column: &str) -> Result<f64, SynthError> {
        let shares = self.socio.get(column).ok_or_else(|| field_error(&format!("socio.{column}"), "missing"))?;
        Ok(shares.get("true").copied().unwrap_or(0.0))
    }

    pub(crate) fn renda_quantile_fn(&self) -> Result<QuantileFn, SynthError> {
        // Above the 90th percentile incomes are heavy-tailed; interpolate those segments on the log
        // scale so the mean stays near the real one instead of being dragged up by a straight line.
        QuantileFn::new(quantile_knots("renda_quantiles", &self.renda_quantiles)?, 0.9)
            .map_err(|m| field_error("renda_quantiles", &m))
    }

    /// Birth-year quantiles with an implausible minimum (the real data has a year 994 typo)
    /// replaced by a plausible one; the typo itself is returned separately as a dirty value.
    pub(crate) fn ano_nascimento_quantile_fn(&self) -> Result<(QuantileFn, Option<f64>), SynthError> {
        let mut knots = quantile_knots("ano_nascimento_quantiles", &self.ano_nascimento_quantiles)?;
        let mut dirty = None;
        if knots[0].1 < PLAUSIBLE_BIRTH_YEAR_MIN {
            dirty = Some(knots[0].1);
            knots[0].1 = PLAUSIBLE_BIRTH_YEAR_MIN.min(knots[1].1);
        }
        let quantiles = QuantileFn::new(knots, 1.0).map_err(|m| field_error("ano_nascimento_quantiles", &m))?;
        Ok((quantiles, dirty))
    }

    /// A quantile read from `renda_quantiles` (e.g. 0.25).
    pub(crate) fn renda_quantile(&self, p: f64) -> Result<f64, SynthError> {
        let knots = quantile_knots("renda_quantiles", &self.renda_quantiles)?;
        knots
            .iter()
            .find(|(q, _)| (q - p).abs() < 1e-9)
            .map(|(_, v)| *v)
            .ok_or_else(|| field_error("renda_quantiles", &format!("no knot at {p}")))
    }

    /// Share of INDEFERIDO among enrolments, and the approval rate among the rest.
    pub(crate) fn outcome_rates(&self) -> Result<(f64, f64), SynthError> {
        let shares = &self.outcome_2020_5_after_mapping;
        let get = |k: &str| {
            shares.get(k).copied().ok_or_else(|| field_error(&format!("outcome_2020_5_after_mapping.{k}"), "missing"))
        };
        let indeferido = get("INDEFERIDO")?;
        let approved = get("APROVADO")?;
        let total: f64 = shares.values().sum();
        let decided = total - indeferido;
        if !(decided > 0.0 && indeferido >= 0.0) {
            return Err(field_error("outcome_2020_5_after_mapping", "no decided outcomes"));
        }
        Ok((indeferido / total, approved / decided))
    }
}

const PLAUSIBLE_BIRTH_YEAR_MIN: f64 = 1955.0;

pub(crate) fn field_error(field: &str, message: &str) -> SynthError {
    SynthError::Marginals { field: field.to_owned(), message: message.to_owned() }
}

pub(crate) fn categorical<T>(
    field: &str,
    pairs: impl IntoIterator<Item = (T, f64)>,
) -> Result<Categorical<T>, SynthError> {
    Categorical::new(pairs).ok_or_else(|| field_error(field, "no positive share"))
}

fn quantile_knots(field: &str, quantiles: &Shares) -> Result<Vec<(f64, f64)>, SynthError> {
    let mut knots = Vec::with_capacity(quantiles.len());
    for (p, v) in quantiles {
        let p: f64 = p.parse().map_err(|_| field_error(&format!("{field}.{p}"), "key is not a probability"))?;
        knots.push((p, *v));
    }
    knots.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(knots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_marginals_parse_and_give_the_real_rates() {
        let m = Marginals::embedded().unwrap();
        assert_eq!(m.rows.discentes_with_socio_2020_1, 11_238);
        let (indeferido, approved) = m.outcome_rates().unwrap();
        assert!((indeferido - 0.277).abs() < 0.001);
        assert!((approved - 0.809).abs() < 0.001, "approved {approved}");
        let (birth, dirty) = m.ano_nascimento_quantile_fn().unwrap();
        assert_eq!(dirty, Some(994.0));
        assert_eq!(birth.value_at(0.5), 1998.0);
        assert!(birth.value_at(0.0) >= PLAUSIBLE_BIRTH_YEAR_MIN);
        assert_eq!(m.renda_quantile(0.75).unwrap(), 3117.0);
    }

    #[test]
    fn bad_marginals_are_errors_naming_the_field() {
        let err = Marginals::from_json("{}").unwrap_err().to_string();
        assert!(err.contains("missing field"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(EMBEDDED_MARGINALS_JSON).unwrap();
        value["discentes"]["sexo"]["F"] = serde_json::json!(-1.0);
        let err = Marginals::from_json(&value.to_string()).unwrap_err().to_string();
        assert!(err.contains("discentes.sexo.F"), "{err}");
    }
}
