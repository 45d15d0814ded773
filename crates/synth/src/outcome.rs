//! The planted relation between profile and outcome, and the detailed enrolment outcome.
//!
//! P(approved | profile, student) = sigmoid(intercept + Σ effect[factor][level] + σ·z), with z a
//! per-student standard normal (enrolments of one student are correlated, as in the real data).
//! The effects are *raked*: starting from the real log-odds differences, they are adjusted on a
//! fixed calibration sample of profiles until every group's expected approval rate (integrated
//! over z) matches the real rate in `approved_rate_by`. Small groups (e.g. `sexo = false`, n = 5)
//! are shrunk toward the overall rate first so a rate of 100 % does not become an infinite effect.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::PLANTED_DIFFERENCES;
use crate::aid::{ALIMENTACAO, RESIDENCIA_MORADIA};
use crate::error::SynthError;
use crate::marginals::{Marginals, categorical};
use crate::profile::{ProfileSampler, REFERENCE_YEAR, Student};
use crate::sample::{Categorical, logit, sigmoid};

/// The factors of `approved_rate_by` that carry a planted effect.
const FACTORS: [&str; 8] = [
    "sexo",
    "raca",
    "area_conhecimento",
    "grau_academico",
    "possui_auxilio_alimentacao",
    "possui_auxilio_residencia_moradia",
    "renda_quartile",
    "age_band_in_2020",
];

/// Standard deviation of the per-student random effect on the log-odds scale.
const STUDENT_EFFECT_SD: f64 = 0.7;
/// Pseudo-rows at the overall rate added to each group before raking.
const SHRINKAGE_ROWS: f64 = 30.0;
/// The calibration sample is fixed, so the planted model is the same for every seed and scale.
const CALIBRATION_SEED: u64 = 0x00E5_7E1A;
const CALIBRATION_PROFILES: usize = 10_000;
const RAKING_ROUNDS: usize = 12;
/// Three-point Gauss–Hermite rule for E[f(z)], z ~ N(0, 1): exact for polynomials up to degree 5.
const QUADRATURE: [(f64, f64); 3] =
    [(0.0, 2.0 / 3.0), (1.732_050_807_568_877_2, 1.0 / 6.0), (-1.732_050_807_568_877_2, 1.0 / 6.0)];

/// How approvals and failures split into the portal's detailed outcomes. The marginals only give
/// the mapped outcome (APROVADO / FALHOU / INDEFERIDO); these splits are assumptions.
const APPROVED_OUTCOMES: &[(&str, f64)] = &[("APROVADO", 0.9), ("APROVADO POR NOTA", 0.1)];
const FAILED_OUTCOMES: &[(&str, f64)] = &[
    ("REPROVADO", 0.35),
    ("REPROVADO POR MÉDIA E POR FALTAS", 0.2),
    ("CANCELADO", 0.25),
    ("EXCLUIDA", 0.199),
    ("REPROVADO POR NOTA E FALTA", 0.001),
];
/// The outcome of a request to enrol that was turned down.
pub(crate) const INDEFERIDO: &str = "INDEFERIDO";
/// Bisection rounds of the 2019.2 intercept shift (the bracket shrinks to 2⁻⁶⁰ of its width).
const SHIFT_ROUNDS: usize = 60;

#[derive(Debug)]
struct Factor {
    levels: BTreeMap<String, usize>,
    targets: Vec<Option<f64>>,
    effects: Vec<f64>,
}

impl Factor {
    fn index(&mut self, level: &str) -> usize {
        if let Some(&i) = self.levels.get(level) {
            return i;
        }
        let i = self.effects.len();
        self.levels.insert(level.to_owned(), i);
        self.targets.push(None);
        self.effects.push(0.0);
        i
    }
}

fn bool_level(flag: bool) -> &'static str {
    if flag { "True" } else { "False" }
}

fn age_band(ano_nascimento: i32) -> &'static str {
    match REFERENCE_YEAR - ano_nascimento {
        ..20 => "<20",
        20..=24 => "20-24",
        25..=29 => "25-29",
        _ => "30+",
    }
}

/// The level of `student` for factor number `factor` of [`FACTORS`] (None: no effect, e.g. the
/// area of a course missing from the course table).
fn factor_level<'s>(student: &'s Student<'_>, factor: usize) -> Option<&'s str> {
    match factor {
        0 => Some(student.sexo),
        1 => Some(student.raca),
        2 => student.course.area.as_deref(),
        3 => student.course.grau.as_deref(),
        // The student holds the programme (any of their socio-economic rows has the flag).
        4 => Some(bool_level(student.aids.has(ALIMENTACAO))),
        5 => Some(bool_level(student.aids.has(RESIDENCIA_MORADIA))),
        6 => Some(["q1", "q2", "q3", "q4"][student.renda_quartile.min(3)]),
        _ => Some(age_band(student.ano_nascimento)),
    }
}

/// The planted outcome model plus the detailed-outcome vocabularies.
#[derive(Debug)]
pub(crate) struct OutcomeModel {
    intercept: f64,
    factors: Vec<Factor>,
    indeferido_share: f64,
    approved: Categorical<&'static str>,
    failed: Categorical<&'static str>,
}

impl OutcomeModel {
    pub(crate) fn calibrate(m: &Marginals, sampler: &ProfileSampler) -> Result<Self, SynthError> {
        let (indeferido_share, overall) = m.outcome_rates()?;
        let intercept = logit(overall);
        let mut factors: Vec<Factor> = FACTORS
            .iter()
            .map(|name| {
                let mut factor = Factor { levels: BTreeMap::new(), targets: Vec::new(), effects: Vec::new() };
                for (level, rate) in m.approved_rate_by.get(*name).into_iter().flatten() {
                    let n = rate.n as f64;
                    let shrunk = (rate.approved_rate * n + overall * SHRINKAGE_ROWS) / (n + SHRINKAGE_ROWS);
                    let i = factor.index(level);
                    factor.targets[i] = Some(shrunk);
                    factor.effects[i] = logit(shrunk) - intercept;
                }
                factor
            })
            .collect();

        let mut rng = ChaCha8Rng::seed_from_u64(CALIBRATION_SEED);
        let profiles: Vec<[Option<usize>; FACTORS.len()]> = (0..CALIBRATION_PROFILES)
            .map(|_| {
                let student = sampler.sample(&mut rng);
                std::array::from_fn(|f| factor_level(&student, f).map(|level| factors[f].index(level)))
            })
            .collect();

        for _ in 0..RAKING_ROUNDS {
            for f in 0..FACTORS.len() {
                let mut sums = vec![(0.0, 0.0); factors[f].effects.len()];
                for levels in &profiles {
                    if let Some(level) = levels[f] {
                        let eta = intercept + linear_part(&factors, levels);
                        let entry = &mut sums[level];
                        entry.0 += expected_approval(eta);
                        entry.1 += 1.0;
                    }
                }
                let factor = &mut factors[f];
                for (level, (p_sum, count)) in sums.into_iter().enumerate() {
                    if let (Some(target), true) = (factor.targets[level], count > 0.0) {
                        factor.effects[level] += logit(target) - logit(p_sum / count);
                        factor.effects[level] = factor.effects[level].clamp(-4.0, 4.0);
                    }
                }
            }
        }
        tracing::debug!(intercept, factors = FACTORS.len(), "planted outcome model calibrated");
        Ok(Self {
            intercept,
            factors,
            indeferido_share,
            approved: categorical("approved outcomes", APPROVED_OUTCOMES.iter().copied())?,
            failed: categorical("failed outcomes", FAILED_OUTCOMES.iter().copied())?,
        })
    }

    /// The student's log-odds of approval without the per-student random effect.
    pub(crate) fn linear_predictor(&self, student: &Student<'_>) -> f64 {
        let mut eta = self.intercept;
        for (f, factor) in self.factors.iter().enumerate() {
            if let Some(&i) = factor_level(student, f).and_then(|level| factor.levels.get(level)) {
                eta += factor.effects[i];
            }
        }
        eta
    }

    /// Draws one enrolment's detailed outcome for a student with log-odds `eta` and random effect
    /// `student_effect` (a standard normal draw made once per student).
    #[cfg(test)]
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R, eta: f64, student_effect: f64) -> &'static str {
        if self.draw_indeferido(rng) { INDEFERIDO } else { self.draw_decided(rng, eta, student_effect) }
    }

    /// Whether a request to enrol is turned down (`INDEFERIDO`); independent of the profile.
    pub(crate) fn draw_indeferido<R: Rng + ?Sized>(&self, rng: &mut R) -> bool {
        rng.random::<f64>() < self.indeferido_share
    }

    /// The detailed outcome of an enrolment that was not turned down, for a student with log-odds
    /// `eta` and random effect `student_effect` (a standard normal draw made once per student).
    pub(crate) fn draw_decided<R: Rng + ?Sized>(&self, rng: &mut R, eta: f64, student_effect: f64) -> &'static str {
        let p = sigmoid(eta + STUDENT_EFFECT_SD * student_effect);
        if rng.random::<f64>() < p { self.approved.sample(rng) } else { self.failed.sample(rng) }
    }
}

/// The value of `column` for `student` as the pipeline's preprocessed table spells it (flags
/// `true`/`false`, the course's area and degree; `None` for a course missing from the course
/// table, which the pipeline fills in but which carries no planted effect).
pub(crate) fn preprocessed_value<'s>(student: &'s Student<'_>, column: &str) -> Option<&'s str> {
    let flag = |programme: usize| Some(if student.aids.has(programme) { "true" } else { "false" });
    match column {
        "sexo" => Some(student.sexo),
        "raca" => Some(student.raca),
        "area_conhecimento" => student.course.area.as_deref(),
        "grau_academico" => student.course.grau.as_deref(),
        "possui_auxilio_alimentacao" => flag(ALIMENTACAO),
        "possui_auxilio_residencia_moradia" => flag(RESIDENCIA_MORADIA),
        _ => None,
    }
}

/// Σ of the [`PLANTED_DIFFERENCES`] that apply to `student`: how much higher the student's
/// log-odds of approval are in 2020.5 than in 2019.2, beyond the common intercept shift.
pub(crate) fn planted_difference(student: &Student<'_>) -> f64 {
    PLANTED_DIFFERENCES
        .iter()
        .filter(|d| preprocessed_value(student, d.column) == Some(d.level))
        .map(|d| d.log_odds_ratio)
        .sum()
}

impl OutcomeModel {
    /// The 2019.2 model's intercept shift: the log-odds of a 2019.2 enrolment are
    /// `linear_predictor − planted_difference + shift`, with the shift chosen (by bisection) so
    /// that the expected approval rate over the fixed calibration profiles is `approval_rate`.
    pub(crate) fn shift_for_2019_2(&self, sampler: &ProfileSampler, approval_rate: f64) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(CALIBRATION_SEED);
        let etas: Vec<f64> = (0..CALIBRATION_PROFILES)
            .map(|_| {
                let student = sampler.sample(&mut rng);
                self.linear_predictor(&student) - planted_difference(&student)
            })
            .collect();
        let rate = |shift: f64| etas.iter().map(|eta| expected_approval(eta + shift)).sum::<f64>() / etas.len() as f64;
        let (mut low, mut high) = (-8.0, 8.0);
        for _ in 0..SHIFT_ROUNDS {
            let mid = f64::midpoint(low, high);
            if rate(mid) < approval_rate {
                low = mid;
            } else {
                high = mid;
            }
        }
        f64::midpoint(low, high)
    }
}

fn linear_part(factors: &[Factor], levels: &[Option<usize>; FACTORS.len()]) -> f64 {
    factors.iter().zip(levels).filter_map(|(factor, level)| level.map(|l| factor.effects[l])).sum()
}

/// E[sigmoid(eta + σ z)] over the per-student effect z.
fn expected_approval(eta: f64) -> f64 {
    QUADRATURE.iter().map(|(z, w)| w * sigmoid(eta + STUDENT_EFFECT_SD * z)).sum()
}

/// Whether an outcome is the mapped APROVADO class.
pub(crate) fn is_approved(outcome: &str) -> bool {
    APPROVED_OUTCOMES.iter().any(|(o, _)| *o == outcome)
}

/// Whether an enrolment with this outcome went through assessment (has grades and absences).
pub(crate) fn is_graded(outcome: &str) -> bool {
    is_approved(outcome) || outcome.starts_with("REPROVADO")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (Marginals, ProfileSampler) {
        let m = Marginals::embedded().unwrap();
        let sampler = ProfileSampler::new(&m).unwrap();
        (m, sampler)
    }

    /// Area under the ROC curve of `scores` for binary `labels` (ties count one half).
    fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let (mut rank_sum, mut i) = (0.0, 0);
        while i < order.len() {
            let mut j = i;
            while j < order.len() && scores[order[j]] == scores[order[i]] {
                j += 1;
            }
            let mid_rank = (i + j + 1) as f64 / 2.0;
            rank_sum += order[i..j].iter().filter(|&&k| labels[k]).count() as f64 * mid_rank;
            i = j;
        }
        let positives = labels.iter().filter(|&&l| l).count() as f64;
        let negatives = labels.len() as f64 - positives;
        (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
    }

    #[test]
    fn raking_reproduces_the_group_rates() {
        let (m, sampler) = fixture();
        let model = OutcomeModel::calibrate(&m, &sampler).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(CALIBRATION_SEED);
        let students: Vec<Student<'_>> = (0..CALIBRATION_PROFILES).map(|_| sampler.sample(&mut rng)).collect();
        for (f, name) in FACTORS.iter().enumerate() {
            for (level, rate) in &m.approved_rate_by[*name] {
                if rate.n < 300 {
                    continue;
                }
                let group: Vec<f64> = students
                    .iter()
                    .filter(|s| factor_level(s, f) == Some(level.as_str()))
                    .map(|s| expected_approval(model.linear_predictor(s)))
                    .collect();
                let mean = group.iter().sum::<f64>() / group.len() as f64;
                assert!((mean - rate.approved_rate).abs() < 0.01, "{name}={level}: {mean} vs {}", rate.approved_rate);
            }
        }
    }

    #[test]
    fn planted_signal_has_the_real_strength() {
        let (m, sampler) = fixture();
        let model = OutcomeModel::calibrate(&m, &sampler).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        while scores.len() < 20_000 {
            let student = sampler.sample(&mut rng);
            let eta = model.linear_predictor(&student);
            let student_effect = crate::sample::standard_normal(&mut rng);
            let outcome = model.draw(&mut rng, eta, student_effect);
            if outcome != INDEFERIDO {
                scores.push(eta);
                labels.push(is_approved(outcome));
            }
        }
        let approved = labels.iter().filter(|&&l| l).count() as f64 / labels.len() as f64;
        assert!((approved - 0.809).abs() < 0.015, "approval rate {approved}");
        // The real data's logistic regression reaches about 0.62; the true planted score should
        // do about as well (it is the best any model on these features can do).
        let auc = roc_auc(&scores, &labels);
        assert!((0.57..0.70).contains(&auc), "planted AUC {auc}");
    }

    #[test]
    fn roc_auc_is_right_on_a_small_case() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), 0.75);
    }
}
