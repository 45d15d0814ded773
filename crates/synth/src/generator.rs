//! The streaming generator: one student at a time, each student's rows written to the four
//! tables immediately, so memory does not grow with the scale.

use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::courses::{EMBEDDED_COURSES_CSV, UNDERGRADUATE};
use crate::csv::CsvWriter;
use crate::error::SynthError;
use crate::marginals::{Marginals, categorical};
use crate::outcome::{INDEFERIDO, OutcomeModel, is_approved, is_graded};
use crate::profile::{ProfileSampler, Student};
use crate::sample::{Categorical, poisson, standard_normal};
use crate::{
    CURSOS_FILE, DISCENTES_FILE, DISCENTES_HEADER, MATRICULAS_FILE, MATRICULAS_HEADER, SOCIO_FILE, SOCIO_HEADER,
    SynthConfig, SynthSummary, TableWriters,
};

/// Student slots (rows of discentes) at scale 1. With the real 11 238 students who have a
/// socio-economic row, about 6 % of the students have none.
const STUDENTS_AT_SCALE_1: f64 = 12_000.0;
/// Share of students with at least one 2020.5 enrolment; the rest of the real enrolment count is
/// spread over them, so students have several enrolments each (about 2.4 on average).
const ENROLLED_SHARE: f64 = 0.42;
const MAX_ENROLMENTS: u32 = 10;
/// Classes (turmas) offered at scale 1; enrolments pick among them.
const TURMAS_AT_SCALE_1: f64 = 1_500.0;
const FIRST_TURMA_ID: u64 = 57_400_001;
const FIRST_STUDENT_ID: u64 = 400_000;
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

/// Everything precomputed from the marginals; reusable across runs.
#[derive(Debug)]
pub(crate) struct Generator {
    profiles: ProfileSampler,
    model: OutcomeModel,
    forma_ingresso: Categorical<&'static str>,
    units: Categorical<usize>,
    socio_share: f64,
    duplicate_socio_share: f64,
    orphan_socio_per_student: f64,
    extra_enrolments_mean: f64,
}

struct Tables<W: Write> {
    discentes: CsvWriter<W>,
    socio: CsvWriter<W>,
    matriculas: CsvWriter<W>,
}

impl Generator {
    pub(crate) fn new(marginals: &Marginals) -> Result<Self, SynthError> {
        let profiles = ProfileSampler::new(marginals)?;
        let model = OutcomeModel::calibrate(marginals, &profiles)?;
        let rows = &marginals.rows;
        let with_socio = rows.discentes_with_socio_2020_1 as f64;
        let socio_share = (with_socio / STUDENTS_AT_SCALE_1).min(1.0);
        // Extra socio rows beyond one per student: half exact duplicates (the merge drops them),
        // half rows of students absent from discentes (the inner join drops them).
        let extra_socio = (rows.socio_rows as f64 / with_socio - 1.0).max(0.0);
        let enrolments_per_student = rows.enrolment_rows_2020_5 as f64 / with_socio;
        Ok(Self {
            profiles,
            model,
            forma_ingresso: categorical("forma_ingresso", FORMA_INGRESSO_UNDERGRADUATE.iter().copied())?,
            units: categorical("units", UNITS.iter().copied())?,
            socio_share,
            duplicate_socio_share: extra_socio / 2.0,
            orphan_socio_per_student: extra_socio / 2.0 * socio_share,
            extra_enrolments_mean: (enrolments_per_student / ENROLLED_SHARE - 1.0).max(0.0),
        })
    }

    pub(crate) fn write<W: Write>(
        &self,
        config: &SynthConfig,
        writers: &mut TableWriters<W>,
    ) -> Result<SynthSummary, SynthError> {
        let students = (STUDENTS_AT_SCALE_1 * config.scale).round().max(1.0) as u64;
        let turmas = (TURMAS_AT_SCALE_1 * config.scale).round().max(50.0) as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut summary = SynthSummary::default();

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

        let mut next_id = FIRST_STUDENT_ID;
        for _ in 0..students {
            next_id += rng.random_range(1..=3);
            self.student(&mut rng, &mut tables, &mut summary, next_id, turmas, true)?;
            if rng.random::<f64>() < self.orphan_socio_per_student {
                next_id += rng.random_range(1..=3);
                self.student(&mut rng, &mut tables, &mut summary, next_id, turmas, false)?;
            }
        }
        for table in [&mut tables.discentes, &mut tables.socio, &mut tables.matriculas] {
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

    /// Draws one student and writes all of their rows. `in_discentes = false` makes a student who
    /// only appears in the socio-economic (and maybe the enrolment) table.
    fn student<W: Write>(
        &self,
        rng: &mut ChaCha8Rng,
        tables: &mut Tables<W>,
        summary: &mut SynthSummary,
        id: u64,
        turmas: u64,
        in_discentes: bool,
    ) -> Result<(), SynthError> {
        let student = self.profiles.sample(rng);
        let id = id.to_string();
        if in_discentes {
            let forma_ingresso = if student.nivel_ensino == UNDERGRADUATE {
                *self.forma_ingresso.sample(rng)
            } else {
                FORMA_INGRESSO_OTHER
            };
            write_discente(&mut tables.discentes, &id, &student, forma_ingresso)?;
        }

        let has_socio = !in_discentes || rng.random::<f64>() < self.socio_share;
        if has_socio {
            let copies = if in_discentes && rng.random::<f64>() < self.duplicate_socio_share { 2 } else { 1 };
            for _ in 0..copies {
                write_socio(&mut tables.socio, &id, &student)?;
            }
            if in_discentes {
                summary.students_with_socio += 1;
            } else {
                summary.socio_orphans += 1;
            }
        } else {
            summary.students_without_socio += 1;
        }

        if rng.random::<f64>() >= ENROLLED_SHARE {
            return Ok(());
        }
        let count = (1 + poisson(rng, self.extra_enrolments_mean)).min(MAX_ENROLMENTS) as usize;
        let eta = self.model.linear_predictor(&student);
        let student_effect = standard_normal(rng);
        let mut taken: Vec<u64> = Vec::with_capacity(count);
        while taken.len() < count {
            let turma = rng.random_range(0..turmas);
            if !taken.contains(&turma) {
                taken.push(turma);
            }
        }
        for turma in taken {
            let outcome = self.model.draw(rng, eta, student_effect);
            summary.enrolments += 1;
            summary.indeferido += u64::from(outcome == INDEFERIDO);
            if in_discentes && has_socio {
                summary.joined_enrolments += 1;
                summary.joined_enrolments_without_course +=
                    u64::from(!self.profiles.courses.in_table(&student.course.id));
            }
            self.enrolment(rng, &mut tables.matriculas, &(FIRST_TURMA_ID + turma).to_string(), &id, &student, outcome)?;
        }
        Ok(())
    }

    /// Writes one enrolment: one row per assessment unit for graded outcomes, one row otherwise.
    /// The columns the merge keeps (turma, student, reposicao, outcome, absences) are equal
    /// across the unit rows, so the merge's duplicate removal leaves one row per enrolment.
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
            return out.row(&[turma, id, course, "", "", "f", "", "", outcome]);
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
        let (media_text, faltas) = (tenths(media), faltas.to_string());
        let units = *self.units.sample(rng);
        for unit in 1..=units {
            // Unit grades scatter around the final average, which is what the outcome rests on.
            let nota = (f64::from(media) + standard_normal(rng) * 12.0).round().clamp(0.0, 100.0);
            let (unit, nota) = (unit.to_string(), tenths(nota as u32));
            out.row(&[turma, id, course, &unit, &nota, reposicao, &media_text, &faltas, outcome])?;
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
    s: &Student<'_>,
    forma_ingresso: &str,
) -> Result<(), SynthError> {
    let nome = format!("DISCENTE SINTÉTICO {id}");
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

fn write_socio<W: Write>(out: &mut CsvWriter<W>, id: &str, s: &Student<'_>) -> Result<(), SynthError> {
    let renda = s.renda.to_string();
    out.row(&[
        id,
        "2020",
        "1",
        &renda,
        flag(s.possui_bolsa_pesquisa),
        flag(s.possui_auxilio_alimentacao),
        flag(s.possui_auxilio_transporte),
        flag(s.possui_auxilio_residencia_moradia),
        &s.course.id,
    ])
}
