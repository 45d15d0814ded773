//! Assistance programmes (*auxílios*): which ones a student holds, and how the socio-economic
//! table lists them.
//!
//! The real 2020.1 table has **one row per programme a student holds**: a student with food and
//! housing aid has two rows, identical in every column except the `possui_auxilio_*` flags, one
//! with `possui_auxilio_alimentacao = true` and one with `possui_auxilio_residencia_moradia =
//! true`. Students with no programme have one row with every flag false. 2.3 % of the students
//! have two or three rows; `rows.socio_rows / rows.discentes_with_socio_2020_1` of the marginals
//! (11 508 / 11 238) says how many extra rows there are, which fixes how many have three.
//!
//! The marginals' flag shares are shares of *rows*; they are turned into shares of students
//! (a row per programme held), and the eight combinations of programmes get shares that keep
//! every flag's row share, the share of students with several programmes, and the extra-row
//! count. How the students with two programmes split among the three pairs is not known: it is
//! taken proportional to the product of the two programmes' shares.

use rand::Rng;

use crate::error::SynthError;
use crate::marginals::{Marginals, categorical, field_error};
use crate::sample::Categorical;

/// The flag columns of the programmes, in the socio-economic table's column order; bit `i` of
/// [`Aids`] is programme `AID_COLUMNS[i]`. (`possui_bolsa_pesquisa` is a flag too, but never
/// true in the real 2020.1 table; it is drawn per student and repeated on all their rows.)
pub(crate) const AID_COLUMNS: [&str; 3] =
    ["possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia"];

/// Index of `possui_auxilio_alimentacao` in [`AID_COLUMNS`].
pub(crate) const ALIMENTACAO: usize = 0;
/// Index of `possui_auxilio_residencia_moradia` in [`AID_COLUMNS`].
pub(crate) const RESIDENCIA_MORADIA: usize = 2;

/// Share of the students with a socio-economic record who hold two or three programmes, and
/// so have two or three rows (real 2020.1 table: 2.3 %).
pub(crate) const MULTI_AID_SHARE: f64 = 0.023;

/// A set of programmes: bit `i` is [`AID_COLUMNS`]`[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Aids(u8);

impl Aids {
    const ALL: u8 = 0b111;

    fn single(programme: usize) -> Self {
        Self(1 << programme)
    }

    /// Whether programme number `programme` (an index into [`AID_COLUMNS`]) is in the set.
    pub(crate) fn has(self, programme: usize) -> bool {
        self.0 & (1 << programme) != 0
    }

    /// How many rows the student has in the socio-economic table (1 for no programme).
    pub(crate) fn socio_rows(self) -> u32 {
        self.0.count_ones().max(1)
    }

    /// The flags of each of the student's socio-economic rows: one row per programme held, each
    /// with exactly its own flag true; one row with no flag when the set is empty.
    pub(crate) fn rows(self) -> impl Iterator<Item = Self> {
        let none = (self.0 == 0).then_some(Self(0));
        none.into_iter().chain((0..AID_COLUMNS.len()).filter(move |&i| self.has(i)).map(Self::single))
    }
}

/// Draws a student's programmes given their income quartile.
#[derive(Debug)]
pub(crate) struct AidSampler {
    by_quartile: Vec<Categorical<Aids>>,
}

impl AidSampler {
    /// `weights[q]` is the relative likelihood of holding any programme in income quartile `q`
    /// (mean 1, so the overall shares are kept when the quartiles are equally likely).
    pub(crate) fn new(m: &Marginals, weights: [f64; 4]) -> Result<Self, SynthError> {
        let shares = combination_shares(m)?;
        let with_aid = 1.0 - shares[0];
        let mut by_quartile = Vec::with_capacity(weights.len());
        for (q, weight) in weights.into_iter().enumerate() {
            if weight * with_aid > 1.0 {
                return Err(field_error(
                    "socio.possui_auxilio_*",
                    &format!("{with_aid:.3} of students hold a programme: too many for income quartile {}", q + 1),
                ));
            }
            let table = (0..=Aids::ALL).map(|mask| {
                let share = shares[usize::from(mask)];
                (Aids(mask), if mask == 0 { 1.0 - weight * with_aid } else { weight * share })
            });
            by_quartile.push(categorical("socio.possui_auxilio_*", table)?);
        }
        Ok(Self { by_quartile })
    }

    /// The programmes of a student in income quartile `quartile` (0..=3).
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R, quartile: usize) -> Aids {
        *self.by_quartile[quartile.min(self.by_quartile.len() - 1)].sample(rng)
    }
}

/// Shares of the eight combinations of programmes among students with a socio-economic record,
/// indexed by [`Aids`] bit mask.
pub(crate) fn combination_shares(m: &Marginals) -> Result<[f64; 8], SynthError> {
    let students = m.rows.discentes_with_socio_2020_1 as f64;
    // Extra rows per student: each student with k >= 2 programmes adds k - 1 rows.
    let extra = (m.rows.socio_rows as f64 / students - 1.0).max(0.0);
    let several = MULTI_AID_SHARE.min(extra);
    let three = (extra - several).min(several);
    let two = several - three;

    let mut per_student = [0.0; 3];
    for (share, column) in per_student.iter_mut().zip(AID_COLUMNS) {
        // Shares of rows -> shares of students: there are (1 + extra) rows per student.
        *share = m.socio_true_share(column)? * (1.0 + extra);
    }
    let mut shares = [0.0; 8];
    shares[usize::from(Aids::ALL)] = three;
    let pairs = [0b011_u8, 0b101, 0b110];
    let pair_weight = |mask: u8| -> f64 { (0..3).filter(|&i| Aids(mask).has(i)).map(|i| per_student[i]).product() };
    let total_weight: f64 = pairs.iter().map(|&p| pair_weight(p)).sum();
    if two > 0.0 && total_weight <= 0.0 {
        return Err(field_error(
            "socio.possui_auxilio_*",
            "students hold several programmes, but at most one is ever held",
        ));
    }
    for pair in pairs {
        shares[usize::from(pair)] = if two > 0.0 { two * pair_weight(pair) / total_weight } else { 0.0 };
    }
    for (i, column) in AID_COLUMNS.iter().enumerate() {
        let with_others: f64 = (1..=Aids::ALL)
            .filter(|&mask| mask.count_ones() > 1 && Aids(mask).has(i))
            .map(|mask| shares[usize::from(mask)])
            .sum();
        let alone = per_student[i] - with_others;
        if alone < -1e-12 {
            return Err(field_error(
                &format!("socio.{column}"),
                &format!("share too small for the students who hold it with another programme ({with_others:.4})"),
            ));
        }
        shares[1 << i] = alone.max(0.0);
    }
    let none = 1.0 - shares[1..].iter().sum::<f64>();
    if none < 0.0 {
        return Err(field_error("socio.possui_auxilio_*", "programme shares add up to more than all students"));
    }
    shares[0] = none;
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rows_have_one_flag_each() {
        assert_eq!(Aids(0).rows().collect::<Vec<_>>(), [Aids(0)]);
        assert_eq!(Aids(0b101).rows().collect::<Vec<_>>(), [Aids(0b001), Aids(0b100)]);
        assert_eq!(Aids(0b111).rows().count(), 3);
        for mask in 0..=Aids::ALL {
            let rows: Vec<Aids> = Aids(mask).rows().collect();
            assert_eq!(rows.len() as u32, Aids(mask).socio_rows());
            assert!(rows.iter().all(|r| r.0.count_ones() == u32::from(mask != 0)));
            assert_eq!(rows.iter().fold(0, |acc, r| acc | r.0), mask, "the rows' flags OR-ed give the set");
        }
    }

    #[test]
    fn combination_shares_keep_the_real_figures() {
        let m = Marginals::embedded().unwrap();
        let shares = combination_shares(&m).unwrap();
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(shares.iter().all(|&s| s >= 0.0), "{shares:?}");
        let several: f64 = (0..8).filter(|m: &usize| m.count_ones() > 1).map(|m| shares[m]).sum();
        assert!((several - 0.023).abs() < 1e-12, "{several}");
        // Rows per student: 1 + Σ (k - 1) · share(k programmes) = 11 508 / 11 238.
        let rows: f64 = (0..8).map(|m: usize| f64::from(m.count_ones().max(1)) * shares[m]).sum();
        assert!((rows - 11_508.0 / 11_238.0).abs() < 1e-12, "{rows}");
        // Each flag's share of rows is the real one.
        for (i, (column, real)) in AID_COLUMNS.iter().zip([0.12139, 0.02103, 0.06204]).enumerate() {
            let holders: f64 = (0..8).filter(|&m| Aids(m as u8).has(i)).map(|m| shares[m]).sum();
            assert!((holders / rows - real).abs() < 1e-9, "{column}: {}", holders / rows);
        }
    }

    #[test]
    fn income_weights_keep_the_overall_shares() {
        let m = Marginals::embedded().unwrap();
        let shares = combination_shares(&m).unwrap();
        let sampler = AidSampler::new(&m, [2.0, 1.3, 0.5, 0.2]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 200_000;
        let mut counts = [0_u32; 8];
        let mut poor_with_aid = 0;
        for k in 0..n {
            let aids = sampler.sample(&mut rng, k % 4);
            counts[usize::from(aids.0)] += 1;
            poor_with_aid += u32::from(k % 4 == 0 && aids.0 != 0);
        }
        for mask in 0..8 {
            let share = f64::from(counts[mask]) / f64::from(n as u32);
            assert!((share - shares[mask]).abs() < 0.004, "combination {mask:03b}: {share} vs {}", shares[mask]);
        }
        let poor = f64::from(poor_with_aid) / (f64::from(n as u32) / 4.0);
        assert!((poor - 2.0 * (1.0 - shares[0])).abs() < 0.01, "aid in the lowest quartile {poor}");
    }

    #[test]
    fn inconsistent_marginals_are_errors() {
        let mut value: serde_json::Value = serde_json::from_str(crate::EMBEDDED_MARGINALS_JSON).unwrap();
        value["socio"]["possui_auxilio_transporte"]["true"] = serde_json::json!(0.0001);
        let m = Marginals::from_json(&value.to_string()).unwrap();
        // 2.3 % hold several programmes; with almost no transport aid, the pairs with it are tiny
        // but the three-programme students (0.1 %) need it more often than it is held.
        let err = combination_shares(&m).unwrap_err().to_string();
        assert!(err.contains("possui_auxilio_transporte"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(crate::EMBEDDED_MARGINALS_JSON).unwrap();
        value["socio"]["possui_auxilio_alimentacao"]["true"] = serde_json::json!(0.9);
        let m = Marginals::from_json(&value.to_string()).unwrap();
        assert!(AidSampler::new(&m, [2.0, 1.3, 0.5, 0.2]).is_err());
    }
}
