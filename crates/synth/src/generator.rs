//! The streaming generator: one student at a time, each student's rows written to the four
//! tables immediately, so memory does not grow with the scale.

use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::aid::Aids;
use crate::courses::{EMBEDDED_COURSES_CSV, UNDERGRADUATE};
use crate::csv::CsvWriter;
use crate::error::SynthError;
use crate::marginals::{Marginals, categorical};
use crate::outcome::{INDEFERIDO, OutcomeModel, is_approved, is_graded, planted_difference};
use crate::profile::{DIRTY_SEXO, ProfileSampler, Student};
use crate::sample::{Categorical, poisson, standard_normal};
use crate::{
    ASSUMED_2019_2_APPROVAL_RATE, ASSUMED_2019_2_INDEFERIDO_SHARE, CURSOS_FILE, DISCENTES_FILE, DISCENTES_HEADER,
    MATRICULAS_FILE, MATRICULAS_FILE_2019_2, MATRICULAS_HEADER, SOCIO_FILE, SOCIO_FILE_2019_2, SOCIO_HEADER, Semester,
    SynthConfig, SynthSummary, TableWriters,
};

/// Students (rows of discentes) at scale 1. With the real 11 238 students who have a
/// socio-economic row, about 6 % of the students have none.
const STUDENTS_AT_SCALE_1: f64 = 12_000.0;
/// Share of students with at least one 2020.5 enrolment; the rest of the real enrolment count is
/// spread over them, so students have several enrolments each (about 2.4 on average).
const ENROLLED_SHARE: f64 = 0.42;
const MAX_ENROLMENTS: u32 = 10;
/// Classes (turmas) offered at scale 1; enrolments pick among them.
const TURMAS_AT_SCALE_1: f64 = 1_500.0;
const FIRST_TURMA_ID: u64 = 57_400_001;
/// Share of graded enrolments with a make-up exam.
const REPOSICAO_SHARE: f64 = 0.03;
/// Assessment units of a graded enrolment: the portal has one row per unit.
const UNITS: &[(usize, f64)] = &[(1, 0.15), (2, 0.25), (3, 0.6)];
const FORMA_INGRESSO_UNDERGRADUATE: &[(&str, f64)] = &[
    ("SiSU", 0.85),
    ("REINGRESSO DE SEGUNDO CICLO", 0.05),
    ("TRANSFERÊNCIA VOLUNTÁRIA", 0.04),
    ("PROCESSO SELETIVO", 0.04),
    ("PORTADOR DE DIPLOMA", 0.02),
];
const FORMA_INGRESSO_OTHER: &str = "PROCESSO SELETIVO";
/// Share of the merged table's students with an implausible birth year (the real data's minimum,
/// 994, is one such row in about 11 500).
const DIRTY_BIRTH_YEAR_RATE: f64 = 1e-4;
/// **Assumed** share of the students (who had entered by 2019.2) with at least one 2019.2
/// enrolment: a regular semester, not the optional remote one.
const ENROLLED_SHARE_2019_2: f64 = 0.5;
/// First class id of 2019.2 (2020.5's start at [`FIRST_TURMA_ID`]).
const FIRST_TURMA_ID_2019_2: u64 = 55_100_001;
/// Key-derivation context of the 2019.2 draws' seed: they come from their own stream, so the
/// 2020.5 stream (and so the students and the discentes table) is the same for both semesters.
const SEED_2019_2_CONTEXT: &str = "esteira-synth v1 semester 2019.2";
/// Key-derivation context of the student ids.
const STUDENT_ID_CONTEXT: &str = "esteira-synth v1 id_discente";

/// The 2019.2 stream's seed, derived from the run's seed with BLAKE3.
fn seed_2019_2(seed: u64) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(SEED_2019_2_CONTEXT);
    hasher.update(&seed.to_le_bytes());
    *hasher.finalize().as_bytes()
}

/// The anonymised id of student number `index`: 32 lowercase hex digits, like the portal's
/// (`2513138981f724002af56e36b6a7b190`), derived from the seed and the index with BLAKE3.
pub(crate) fn student_id(seed: u64, index: u64) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(STUDENT_ID_CONTEXT);
    hasher.update(&seed.to_le_bytes());
    hasher.update(&index.to_le_bytes());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// Places a fixed number of dirty values on students who reach the preprocessed table (a
/// socio-economic row and an enrolment that was not turned down), so a sample always exercises
/// the pipeline's handling of them. The `j`-th value is due at student index
/// `(j + phase_quarters / 4) · students / total` and goes to the first such student from there on.
#[derive(Debug)]
struct Planting {
    total: u64,
    placed: u64,
    students: u64,
    phase_quarters: u64,
}

impl Planting {
    /// `rate` is the value's share of the students in the merged table, of whom about
    /// `expected_joined` are drawn: the count is rounded up, so any positive rate plants one.
    fn new(rate: f64, expected_joined: f64, students: u64, phase_quarters: u64) -> Self {
        let total = if rate > 0.0 { ((rate * expected_joined).ceil() as u64).clamp(1, students) } else { 0 };
        Self { total, placed: 0, students, phase_quarters }
    }

    /// Whether the student at `index` gets the value.
    fn take(&mut self, index: u64, joined: bool) -> bool {
        if !joined || self.placed >= self.total {
            return false;
        }
        let due = (u128::from(4 * self.placed + self.phase_quarters) * u128::from(self.students))
            / (4 * u128::from(self.total));
        let take = u128::from(index) >= due;
        self.placed += u64::from(take);
        take
    }
}

/// Everything precomputed from the marginals; reusable across runs.
#[derive(Debug)]
pub(crate) struct Generator {
    profiles: ProfileSampler,
    model: OutcomeModel,
    forma_ingresso: Categorical<&'static str>,
    units: Categorical<usize>,
    socio_share: f64,
    extra_enrolments_mean: f64,
    dirty_sexo_share: f64,
    dirty_birth_year: Option<i32>,
}

/// The writers of the 2020.5 draws: discentes, and the semester tables (`S`: an `io::Sink` when
/// 2019.2 is generated, whose tables come from [`Before`]).
struct Tables<D: Write, S: Write> {
    discentes: CsvWriter<D>,
    socio: CsvWriter<S>,
    matriculas: CsvWriter<S>,
}

/// [`TableWriters`] with the semester tables' writers of another type than the shared tables'.
struct SplitWriters<D: Write, S: Write> {
    discentes: D,
    cursos: D,
    socio: S,
    matriculas: S,
}

/// The 2019.2 tables being written, their own random stream and counts.
struct Before<W: Write> {
    rng: ChaCha8Rng,
    socio: CsvWriter<W>,
    matriculas: CsvWriter<W>,
    summary: SynthSummary,
    intercept_shift: f64,
}

/// The dirty values still to plant in one run.
struct Plantings {
    sexo: Planting,
    birth_year: Planting,
}

impl Generator {
    pub(crate) fn new(marginals: &Marginals) -> Result<Self, SynthError> {
        let profiles = ProfileSampler::new(marginals)?;
        let model = OutcomeModel::calibrate(marginals, &profiles)?;
        let rows = &marginals.rows;
        let with_socio = rows.discentes_with_socio_2020_1 as f64;
        let socio_share = (with_socio / STUDENTS_AT_SCALE_1).min(1.0);
        let enrolments_per_student = rows.enrolment_rows_2020_5 as f64 / with_socio;
        let (_, dirty_birth_year) = marginals.ano_nascimento_quantile_fn()?;
        Ok(Self {
            profiles,
            model,
            forma_ingresso: categorical("forma_ingresso", FORMA_INGRESSO_UNDERGRADUATE.iter().copied())?,
            units: categorical("units", UNITS.iter().copied())?,
            socio_share,
            extra_enrolments_mean: (enrolments_per_student / ENROLLED_SHARE - 1.0).max(0.0),
            dirty_sexo_share: marginals.discentes_share("sexo", DIRTY_SEXO)?,
            dirty_birth_year: dirty_birth_year.map(|year| year.round() as i32),
        })
    }

    pub(crate) fn write<W: Write>(
        &self,
        config: &SynthConfig,
        semester: Semester,
        writers: &mut TableWriters<W>,
    ) -> Result<SynthSummary, SynthError> {
        match semester {
            Semester::S20205 => {
                let mut all = SplitWriters {
                    discentes: &mut writers.discentes,
                    cursos: &mut writers.cursos,
                    socio: &mut writers.socio,
                    matriculas: &mut writers.matriculas,
                };
                self.write_tables::<_, _, std::io::Sink>(config, &mut all, None)
            }
            Semester::S20192 => {
                let mut socio = CsvWriter::new(&mut writers.socio, SOCIO_FILE_2019_2);
                let mut matriculas = CsvWriter::new(&mut writers.matriculas, MATRICULAS_FILE_2019_2);
                socio.row(SOCIO_HEADER)?;
                matriculas.row(MATRICULAS_HEADER)?;
                let mut before = Before {
                    rng: ChaCha8Rng::from_seed(seed_2019_2(config.seed)),
                    socio,
                    matriculas,
                    summary: SynthSummary::default(),
                    intercept_shift: self.model.shift_for_2019_2(&self.profiles, ASSUMED_2019_2_APPROVAL_RATE),
                };
                let mut discentes_and_cursos = SplitWriters {
                    discentes: &mut writers.discentes,
                    cursos: &mut writers.cursos,
                    socio: std::io::sink(),
                    matriculas: std::io::sink(),
                };
                let shared = self.write_tables(config, &mut discentes_and_cursos, Some(&mut before))?;
                before.socio.flush()?;
                before.matriculas.flush()?;
                let mut summary = before.summary;
                summary.discentes_rows = shared.discentes_rows;
                summary.cursos_rows = shared.cursos_rows;
                summary.dirty_sexo_students = shared.dirty_sexo_students;
                summary.dirty_birth_year_students = shared.dirty_birth_year_students;
                summary.socio_rows = before.socio.rows() - 1;
                summary.matricula_rows = before.matriculas.rows() - 1;
                summary.table_bytes =
                    [shared.table_bytes[0], before.socio.bytes(), shared.table_bytes[2], before.matriculas.bytes()];
                Ok(summary)
            }
        }
    }

    /// Writes discentes and cursos to `writers` and 2020.5's semester tables to its `socio` and
    /// `matriculas` writers; with `before`, also draws and writes each student's 2019.2 rows
    /// there (from its own stream, after the student's 2020.5 draws).
    fn write_tables<D: Write, S: Write, B: Write>(
        &self,
        config: &SynthConfig,
        writers: &mut SplitWriters<D, S>,
        mut before: Option<&mut Before<B>>,
    ) -> Result<SynthSummary, SynthError> {
        let students = (STUDENTS_AT_SCALE_1 * config.scale).round().max(1.0) as u64;
        let turmas = (TURMAS_AT_SCALE_1 * config.scale).round().max(50.0) as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut summary = SynthSummary::default();
        let expected_joined = students as f64 * self.socio_share * ENROLLED_SHARE;
        let birth_year_rate = if self.dirty_birth_year.is_some() { DIRTY_BIRTH_YEAR_RATE } else { 0.0 };
        let mut plantings = Plantings {
            sexo: Planting::new(self.dirty_sexo_share, expected_joined, students, 2),
            birth_year: Planting::new(birth_year_rate, expected_joined, students, 1),
        };

        let mut cursos = CsvWriter::new(&mut writers.cursos, CURSOS_FILE);
        cursos.raw(EMBEDDED_COURSES_CSV.as_bytes())?;
        cursos.flush()?;
        summary.cursos_rows = EMBEDDED_COURSES_CSV.split("\r\n").filter(|l| !l.is_empty()).count() as u64 - 1;
        summary.table_bytes[2] = cursos.bytes();

        let mut tables = Tables {
            discentes: CsvWriter::new(&mut writers.discentes, DISCENTES_FILE),
            socio: CsvWriter::new(&mut writers.socio, SOCIO_FILE),
            matriculas: CsvWriter::new(&mut writers.matriculas, MATRICULAS_FILE),
        };
        tables.discentes.row(DISCENTES_HEADER)?;
        tables.socio.row(SOCIO_HEADER)?;
        tables.matriculas.row(MATRICULAS_HEADER)?;

        for index in 0..students {
            let id = student_id(config.seed, index);
            let (student, has_socio) =
                self.student(&mut rng, &mut tables, &mut summary, &mut plantings, index, &id, turmas)?;
            if let Some(before) = before.as_deref_mut() {
                self.student_2019_2(before, &student, has_socio, &id, turmas)?;
            }
        }
        tables.discentes.flush()?;
        for table in [&mut tables.socio, &mut tables.matriculas] {
            table.flush()?;
        }
        summary.discentes_rows = tables.discentes.rows() - 1;
        summary.socio_rows = tables.socio.rows() - 1;
        summary.matricula_rows = tables.matriculas.rows() - 1;
        summary.table_bytes[0] = tables.discentes.bytes();
        summary.table_bytes[1] = tables.socio.bytes();
        summary.table_bytes[3] = tables.matriculas.bytes();
        tracing::debug!(?summary, "synthetic UFRN tables written");
        Ok(summary)
    }

    /// Draws student number `index` and writes all of their rows.
    #[allow(clippy::too_many_arguments)] // the run's state, threaded through one call per student
    fn student<D: Write, S: Write>(
        &self,
        rng: &mut ChaCha8Rng,
        tables: &mut Tables<D, S>,
        summary: &mut SynthSummary,
        plantings: &mut Plantings,
        index: u64,
        id: &str,
        turmas: u64,
    ) -> Result<(Student<'_>, bool), SynthError> {
        let mut student = self.profiles.sample(rng);
        let forma_ingresso =
            if student.nivel_ensino == UNDERGRADUATE { *self.forma_ingresso.sample(rng) } else { FORMA_INGRESSO_OTHER };
        let has_socio = rng.random::<f64>() < self.socio_share;
        let enrolments = if rng.random::<f64>() < ENROLLED_SHARE {
            (1 + poisson(rng, self.extra_enrolments_mean)).min(MAX_ENROLMENTS) as usize
        } else {
            0
        };
        // Whether each request to enrol was turned down does not depend on the profile, so it is
        // drawn first: dirty values are planted on students with a decided enrolment, which
        // survive the preprocessing's INDEFERIDO filter.
        let turned_down: Vec<bool> = (0..enrolments).map(|_| self.model.draw_indeferido(rng)).collect();
        let joined = has_socio && turned_down.contains(&false);
        if plantings.sexo.take(index, joined) {
            student.sexo = DIRTY_SEXO;
            summary.dirty_sexo_students += 1;
        }
        if let Some(year) = self.dirty_birth_year
            && plantings.birth_year.take(index, joined)
        {
            student.ano_nascimento = year;
            summary.dirty_birth_year_students += 1;
        }
        write_discente(&mut tables.discentes, id, index, &student, forma_ingresso)?;

        let socio_rows = u64::from(student.aids.socio_rows());
        if has_socio {
            for aids in student.aids.rows() {
                write_socio(&mut tables.socio, id, &student, aids)?;
            }
            summary.students_with_socio += 1;
            match socio_rows {
                2 => summary.students_with_two_socio_rows += 1,
                3 => summary.students_with_three_socio_rows += 1,
                _ => {}
            }
        } else {
            summary.students_without_socio += 1;
        }

        if enrolments == 0 {
            return Ok((student, has_socio));
        }
        let eta = self.model.linear_predictor(&student);
        let student_effect = standard_normal(rng);
        let mut taken: Vec<u64> = Vec::with_capacity(enrolments);
        while taken.len() < enrolments {
            let turma = rng.random_range(0..turmas);
            if !taken.contains(&turma) {
                taken.push(turma);
            }
        }
        let in_course_table = self.profiles.courses.in_table(&student.course.id);
        for (turma, turned_down) in taken.into_iter().zip(turned_down) {
            let outcome = if turned_down { INDEFERIDO } else { self.model.draw_decided(rng, eta, student_effect) };
            summary.enrolments += 1;
            summary.indeferido += u64::from(outcome == INDEFERIDO);
            if has_socio {
                summary.joined_enrolments += 1;
                summary.joined_enrolments_without_course += u64::from(!in_course_table);
                summary.naive_join_extra_rows += socio_rows - 1;
            }
            self.enrolment(rng, &mut tables.matriculas, &(FIRST_TURMA_ID + turma).to_string(), id, &student, outcome)?;
        }
        Ok((student, has_socio))
    }

    /// Draws and writes the 2019.2 rows of a student (drawn for 2020.5, `has_socio` there): none
    /// for students who entered in 2020 or later; otherwise the same socio-economic record as
    /// 2020.1 (dated 2019.2: an assumption, incomes and programmes did not change) and
    /// enrolments drawn from the 2019.2 outcome model, with their own per-student random effect.
    fn student_2019_2<W: Write>(
        &self,
        before: &mut Before<W>,
        student: &Student<'_>,
        has_socio: bool,
        id: &str,
        turmas: u64,
    ) -> Result<(), SynthError> {
        let entered_later = student.ano_ingresso.parse::<u32>().is_ok_and(|year| year >= 2020);
        let has_socio = has_socio && !entered_later;
        let summary = &mut before.summary;
        let socio_rows = u64::from(student.aids.socio_rows());
        if has_socio {
            for aids in student.aids.rows() {
                write_socio_dated(&mut before.socio, id, student, aids, "2019", "2")?;
            }
            summary.students_with_socio += 1;
            match socio_rows {
                2 => summary.students_with_two_socio_rows += 1,
                3 => summary.students_with_three_socio_rows += 1,
                _ => {}
            }
        } else {
            summary.students_without_socio += 1;
        }
        if entered_later {
            return Ok(());
        }
        let rng = &mut before.rng;
        let enrolments = if rng.random::<f64>() < ENROLLED_SHARE_2019_2 {
            (1 + poisson(rng, self.extra_enrolments_mean)).min(MAX_ENROLMENTS) as usize
        } else {
            0
        };
        if enrolments == 0 {
            return Ok(());
        }
        let eta = self.model.linear_predictor(student) - planted_difference(student) + before.intercept_shift;
        let student_effect = standard_normal(rng);
        let mut taken: Vec<u64> = Vec::with_capacity(enrolments);
        while taken.len() < enrolments {
            let turma = rng.random_range(0..turmas);
            if !taken.contains(&turma) {
                taken.push(turma);
            }
        }
        let in_course_table = self.profiles.courses.in_table(&student.course.id);
        for turma in taken {
            let outcome = if rng.random::<f64>() < ASSUMED_2019_2_INDEFERIDO_SHARE {
                INDEFERIDO
            } else {
                self.model.draw_decided(rng, eta, student_effect)
            };
            summary.enrolments += 1;
            summary.indeferido += u64::from(outcome == INDEFERIDO);
            if has_socio {
                summary.joined_enrolments += 1;
                summary.joined_enrolments_without_course += u64::from(!in_course_table);
                summary.naive_join_extra_rows += socio_rows - 1;
            }
            let turma = (FIRST_TURMA_ID_2019_2 + turma).to_string();
            self.enrolment(rng, &mut before.matriculas, &turma, id, student, outcome)?;
        }
        Ok(())
    }

    /// Writes one enrolment: one row per assessment unit for graded outcomes, one row otherwise.
    /// The columns the merge keeps (turma, student, reposicao, outcome, absences) are equal
    /// across the unit rows, so the merge's duplicate removal leaves one row per enrolment. The
    /// unit rows' `faltas_unidade` add up to `numero_total_faltas`.
    fn enrolment<W: Write>(
        &self,
        rng: &mut ChaCha8Rng,
        out: &mut CsvWriter<W>,
        turma: &str,
        id: &str,
        student: &Student<'_>,
        outcome: &str,
    ) -> Result<(), SynthError> {
        let course = student.course.id.as_str();
        if !is_graded(outcome) {
            return out.row(&[turma, id, course, "", "", "f", "", "", "", outcome]);
        }
        let approved = is_approved(outcome);
        let with_absences = outcome.contains("FALTA");
        let spread = if approved {
            18.0
        } else if with_absences {
            25.0
        } else {
            15.0
        };
        let top = if approved { 100.0 } else { 49.0 };
        let bottom = if approved { 50.0 } else { 0.0 };
        let media = (top - (standard_normal(rng) * spread).abs()).round().clamp(bottom, top) as u32;
        let faltas = if with_absences {
            16 + poisson(rng, 10.0)
        } else if approved {
            poisson(rng, 2.0)
        } else {
            poisson(rng, 6.0)
        };
        let reposicao = if rng.random::<f64>() < REPOSICAO_SHARE { "t" } else { "f" };
        let (media_text, faltas_text) = (tenths(media), faltas.to_string());
        let units = *self.units.sample(rng);
        let mut faltas_by_unit = [0_u32; 3];
        for _ in 0..faltas {
            faltas_by_unit[rng.random_range(0..units)] += 1;
        }
        for (unit, faltas_unidade) in faltas_by_unit.iter().enumerate().take(units) {
            // Unit grades scatter around the final average, which is what the outcome rests on.
            let nota = (f64::from(media) + standard_normal(rng) * 12.0).round().clamp(0.0, 100.0);
            let (unit, nota, faltas_unidade) =
                ((unit + 1).to_string(), tenths(nota as u32), faltas_unidade.to_string());
            out.row(&[
                turma,
                id,
                course,
                &unit,
                &nota,
                reposicao,
                &faltas_unidade,
                &media_text,
                &faltas_text,
                outcome,
            ])?;
        }
        Ok(())
    }
}

fn tenths(value: u32) -> String {
    format!("{}.{}", value / 10, value % 10)
}

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn write_discente<W: Write>(
    out: &mut CsvWriter<W>,
    id: &str,
    index: u64,
    s: &Student<'_>,
    forma_ingresso: &str,
) -> Result<(), SynthError> {
    let nome = format!("DISCENTE SINTÉTICO {}", index + 1);
    let ano_nascimento = s.ano_nascimento.to_string();
    out.row(&[
        id,
        &nome,
        s.sexo,
        &ano_nascimento,
        s.raca,
        s.estado_origem,
        s.cidade_origem,
        s.estado,
        s.municipio,
        s.nivel_ensino,
        forma_ingresso,
        s.ano_ingresso,
        s.periodo_ingresso,
        s.cotista(),
        &s.course.name,
        s.tipo_cota,
        s.descricao_tipo_cota,
        &s.course.id,
    ])
}

/// One socio-economic row of the student, with the programme flags `aids` (one of their rows).
fn write_socio<W: Write>(out: &mut CsvWriter<W>, id: &str, s: &Student<'_>, aids: Aids) -> Result<(), SynthError> {
    write_socio_dated(out, id, s, aids, "2020", "1")
}

/// [`write_socio`] for the record of year `ano`, period `periodo`.
fn write_socio_dated<W: Write>(
    out: &mut CsvWriter<W>,
    id: &str,
    s: &Student<'_>,
    aids: Aids,
    ano: &str,
    periodo: &str,
) -> Result<(), SynthError> {
    let renda = s.renda.to_string();
    let [alimentacao, transporte, residencia] = [0, 1, 2].map(|i| flag(aids.has(i)));
    out.row(&[
        id,
        ano,
        periodo,
        &renda,
        flag(s.possui_bolsa_pesquisa),
        alimentacao,
        transporte,
        residencia,
        &s.course.id,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plantings_are_rounded_up_spread_and_wait_for_an_eligible_student() {
        let mut sexo = Planting::new(0.000_43, 4_720.0, 12_000, 2);
        assert_eq!(sexo.total, 3, "0.043 % of 4 720 is 2.03, rounded up");
        let placed: Vec<u64> = (0..12_000).filter(|&i| sexo.take(i, true)).collect();
        assert_eq!(placed, [2_000, 6_000, 10_000]);
        // A due value waits for the next student who reaches the preprocessed table.
        let mut year = Planting::new(1e-4, 4_720.0, 12_000, 1);
        assert_eq!(year.total, 1);
        // Due at 3 000; the first eligible student after that is 3 101 (= 7 · 443).
        let placed: Vec<u64> = (0..12_000).filter(|&i| year.take(i, i % 7 == 0 && i > 3_100)).collect();
        assert_eq!(placed, [3_101]);
        assert_eq!(Planting::new(0.0, 4_720.0, 12_000, 1).total, 0);
        assert_eq!(Planting::new(0.5, 100.0, 10, 1).total, 10, "never more than the students");
    }

    #[test]
    fn student_ids_are_32_hex_digits_and_depend_on_seed_and_index() {
        let id = student_id(2020, 0);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{id}");
        assert_ne!(id, student_id(2020, 1));
        assert_ne!(id, student_id(2021, 0));
        assert_eq!(id, student_id(2020, 0));
    }
}
