//! Deterministic UFRN-format sample data at any scale.
//!
//! `esteira-synth` writes the four raw tables of the UFRN open-data portal that the esteira
//! pipeline reads, in the portal's exact dialect (`;`-separated, every field double-quoted,
//! UTF-8, CRLF line ends):
//!
//! | file | content |
//! |---|---|
//! | [`DISCENTES_FILE`] | one row per student: social data ([`DISCENTES_HEADER`]) |
//! | [`SOCIO_FILE`] | socio-economic record of 2020.1, one row per assistance programme held ([`SOCIO_HEADER`]) |
//! | [`CURSOS_FILE`] | the **real** course table, byte for byte |
//! | [`MATRICULAS_FILE`] | enrolments of the 2020.5 semester, one row per enrolment and assessment unit ([`MATRICULAS_HEADER`]) |
//!
//! The formats are the real tables': `id_discente` (and `discente` in the enrolment table) is an
//! anonymised 32-digit lowercase hexadecimal string, derived here from the seed and the student's
//! index with BLAKE3; a student holding several assistance programmes has one socio-economic row
//! per programme, identical except that each has exactly its own `possui_auxilio_*` flag true
//! (2.3 % of the students with a record have two or three rows); graded enrolments have one row
//! per unit (`unidade` 1..3 with `nota`, `faltas_unidade`, `media_final`); `renda` is a whole
//! number of reais.
//!
//! Values are drawn from aggregate figures of the real data ([`Marginals`], embedded): category
//! shares, income and birth-year quantiles, outcome shares and approval rates by group. The
//! outcome depends on the profile through a planted logistic model whose group approval rates
//! match the real ones, so a model trained on the sample finds a signal of the real strength
//! (ROC AUC around 0.6). Like the real data, some students have no socio-economic row,
//! non-undergraduate courses are missing from the course table, about 28 % of enrolments are
//! `INDEFERIDO`, and a few values are dirty: an empty `raca` or `estado_origem`, and — planted on
//! students who reach the preprocessed table (a socio-economic row and a decided enrolment), at the
//! real share rounded up, so every sample has them — `sexo = "false"` and the birth year 994.
//!
//! Same [`SynthConfig`] ⇒ byte-identical files. Rows are streamed to the writers, so memory does
//! not grow with [`SynthConfig::scale`]; output size grows linearly (scale 1 ≈ 12 000 students,
//! 11 200 with a socio-economic record in 11 500 rows, 11 500 enrolments after the pipeline's
//! joins).
//!
//! ```
//! use esteira_synth::{SynthConfig, TableWriters, generate, generate_to_writers, DISCENTES_FILE};
//!
//! let config = SynthConfig { scale: 0.02, seed: 2020 };
//!
//! // In memory.
//! let mut tables = TableWriters::<Vec<u8>>::default();
//! let summary = generate_to_writers(&config, &mut tables)?;
//! assert_eq!(summary.discentes_rows, 240);
//! assert!(tables.discentes.starts_with(b"\"id_discente\";\"nome_discente\";"));
//! assert_eq!(summary.dirty_sexo_students, 1, "planted at the real rate, rounded up");
//!
//! // Or as files; the same config gives the same bytes.
//! let dir = tempfile::tempdir()?;
//! generate(&config, dir.path())?;
//! assert_eq!(std::fs::read(dir.path().join(DISCENTES_FILE))?, tables.discentes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod aid;
mod courses;
mod csv;
mod error;
mod generator;
mod marginals;
mod outcome;
mod profile;
mod sample;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use courses::EMBEDDED_COURSES_CSV;
pub use error::SynthError;
pub use marginals::{EMBEDDED_MARGINALS_JSON, Marginals};

/// File name of the students table (the portal's "discentes" resource).
pub const DISCENTES_FILE: &str = "discentes.csv";
/// File name of the 2020.1 socio-economic table.
pub const SOCIO_FILE: &str = "dados-socio-economicos-discentes-2020.1.csv";
/// File name of the course table (the real one, embedded).
pub const CURSOS_FILE: &str = "cursos-de-graduacao.csv";
/// File name of the 2020.5 enrolment table.
pub const MATRICULAS_FILE: &str = "matricula-componente-20205.csv";
/// The four file names, in the order of [`SynthSummary::table_bytes`].
pub const TABLE_FILES: [&str; 4] = [DISCENTES_FILE, SOCIO_FILE, CURSOS_FILE, MATRICULAS_FILE];

/// Columns of [`DISCENTES_FILE`]. `nome_discente` is a placeholder (`DISCENTE SINTÉTICO <id>`).
pub const DISCENTES_HEADER: &[&str] = &[
    "id_discente",
    "nome_discente",
    "sexo",
    "ano_nascimento",
    "raca",
    "estado_origem",
    "cidade_origem",
    "estado",
    "municipio",
    "nivel_ensino",
    "forma_ingresso",
    "ano_ingresso",
    "periodo_ingresso",
    "cotista",
    "curso",
    "tipo_cota",
    "descricao_tipo_cota",
    "id_curso",
];
/// Columns of [`SOCIO_FILE`]. Flags are `true`/`false`; `renda` is a whole number of reais. A student
/// has one row per assistance programme held (each with only that programme's flag true), or
/// one row with every flag false.
pub const SOCIO_HEADER: &[&str] = &[
    "id_discente",
    "ano",
    "periodo",
    "renda",
    "possui_bolsa_pesquisa",
    "possui_auxilio_alimentacao",
    "possui_auxilio_transporte",
    "possui_auxilio_residencia_moradia",
    "id_curso",
];
/// Columns of [`MATRICULAS_FILE`]. `discente` is the student id; `descricao` is the outcome. A
/// graded enrolment has one row per unit (`unidade`, `nota`, `faltas_unidade` vary; the unit
/// rows' `faltas_unidade` add up to `numero_total_faltas`); other outcomes have one row with the
/// unit columns empty.
pub const MATRICULAS_HEADER: &[&str] = &[
    "id_turma",
    "discente",
    "id_curso",
    "unidade",
    "nota",
    "reposicao",
    "faltas_unidade",
    "media_final",
    "numero_total_faltas",
    "descricao",
];

/// File name of the 2019.2 socio-economic table ([`Semester::S20192`]; same columns as [`SOCIO_FILE`]).
pub const SOCIO_FILE_2019_2: &str = "dados-socio-economicos-discentes-2019.2.csv";
/// File name of the 2019.2 enrolment table ([`Semester::S20192`]; same columns as [`MATRICULAS_FILE`]).
pub const MATRICULAS_FILE_2019_2: &str = "matricula-componente-20192.csv";

/// Which semester's socio-economic and enrolment tables are generated. The students (the
/// discentes table) and the course table are the same for both: same config, same bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Semester {
    /// 2020.5, the first remote semester (the socio-economic record of 2020.1): the bundled
    /// sample, calibrated on the real aggregate figures.
    #[default]
    #[serde(rename = "2020.5")]
    S20205,
    /// 2019.2, the last semester before the pandemic (its own socio-economic record). Students
    /// who entered in 2020 or later have no 2019.2 rows. The outcome model is 2020.5's with the
    /// [`PLANTED_DIFFERENCES`] taken off and its intercept shifted to the *assumed*
    /// [`ASSUMED_2019_2_APPROVAL_RATE`]; requests are turned down at the *assumed*
    /// [`ASSUMED_2019_2_INDEFERIDO_SHARE`].
    #[serde(rename = "2019.2")]
    S20192,
}

impl Semester {
    /// The semester as UFRN writes it (`2020.5`, `2019.2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S20205 => "2020.5",
            Self::S20192 => "2019.2",
        }
    }

    /// The four file names of this semester, in the order of [`SynthSummary::table_bytes`].
    pub fn table_files(self) -> [&'static str; 4] {
        match self {
            Self::S20205 => TABLE_FILES,
            Self::S20192 => [DISCENTES_FILE, SOCIO_FILE_2019_2, CURSOS_FILE, MATRICULAS_FILE_2019_2],
        }
    }
}

impl std::str::FromStr for Semester {
    type Err = SynthError;

    fn from_str(s: &str) -> Result<Self, SynthError> {
        match s {
            "2020.5" => Ok(Self::S20205),
            "2019.2" => Ok(Self::S20192),
            other => Err(SynthError::InvalidSemester { value: other.chars().take(40).collect() }),
        }
    }
}

/// A planted change between the semesters: the log odds ratio of approval of `level` against
/// `reference` (in `column`, spelled as in the pipeline's preprocessed table) is
/// `log_odds_ratio` higher in 2020.5 than in 2019.2. It is the difference of the *conditional*
/// effects (given the per-student random effect of the outcome model); a fit that ignores that
/// effect estimates a population-averaged difference about 8 % smaller (the usual attenuation
/// by `1/√(1 + 0.35·0.7²)`). Every other level and characteristic has no planted change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlantedDifference {
    /// The characteristic (a column of the preprocessed table).
    pub column: &'static str,
    /// The level whose effect changed.
    pub level: &'static str,
    /// The level it is compared with (the most frequent one, so the comparison's default).
    pub reference: &'static str,
    /// log OR(2020.5) − log OR(2019.2).
    pub log_odds_ratio: f64,
}

/// The planted differences between 2019.2 and 2020.5: what the remote semester did to each
/// group, invented (not known from the real data) and large enough for a sample of the real size
/// to detect them. Negative: the group did worse, relative to its reference, in 2020.5.
pub const PLANTED_DIFFERENCES: &[PlantedDifference] = &[
    PlantedDifference { column: "sexo", level: "M", reference: "F", log_odds_ratio: -0.35 },
    PlantedDifference { column: "raca", level: "Negro", reference: "Pardo", log_odds_ratio: -0.5 },
    PlantedDifference {
        column: "area_conhecimento",
        level: "Ciências Exatas e da Terra",
        reference: "Ciências da Saúde",
        log_odds_ratio: -0.6,
    },
    PlantedDifference {
        column: "grau_academico",
        level: "LICENCIATURA",
        reference: "BACHARELADO",
        log_odds_ratio: -0.4,
    },
    PlantedDifference { column: "possui_auxilio_alimentacao", level: "true", reference: "false", log_odds_ratio: -0.6 },
    PlantedDifference {
        column: "possui_auxilio_residencia_moradia",
        level: "true",
        reference: "false",
        log_odds_ratio: -0.7,
    },
];

/// **Assumed** approval rate of decided 2019.2 enrolments (the real one is not in the aggregate
/// figures the generator uses): a little below 2020.5's 80.9 %, whose remote rules were lenient.
pub const ASSUMED_2019_2_APPROVAL_RATE: f64 = 0.78;
/// **Assumed** share of 2019.2 requests to enrol that were turned down (INDEFERIDO; 2020.5's
/// 27.7 % reflects the remote semester's limited places).
pub const ASSUMED_2019_2_INDEFERIDO_SHARE: f64 = 0.1;

/// The largest accepted scale (about 120 million students).
pub const MAX_SCALE: f64 = 10_000.0;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthConfig {
    /// Size factor: 1 is about the real size, 100 a hundred times more. Any value in (0, 10 000].
    pub scale: f64,
    /// Seed of the ChaCha8 stream all draws come from.
    pub seed: u64,
}

impl Default for SynthConfig {
    /// The bundled sample's configuration: scale 1, seed 2020.
    fn default() -> Self {
        Self { scale: 1.0, seed: 2020 }
    }
}

impl SynthConfig {
    /// Checks that the scale is usable.
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.scale.is_finite() && self.scale > 0.0 && self.scale <= MAX_SCALE {
            Ok(())
        } else {
            Err(SynthError::InvalidScale { value: self.scale, max: MAX_SCALE })
        }
    }
}

/// Counts of what was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SynthSummary {
    /// Data rows of [`DISCENTES_FILE`] (one per student).
    pub discentes_rows: u64,
    /// Data rows of [`SOCIO_FILE`]: one per student with a record, plus one per programme beyond
    /// the first of students holding several.
    pub socio_rows: u64,
    /// Data rows of [`CURSOS_FILE`].
    pub cursos_rows: u64,
    /// Data rows of [`MATRICULAS_FILE`] (one per assessment unit of each enrolment).
    pub matricula_rows: u64,
    /// Students of the discentes table with a socio-economic row.
    pub students_with_socio: u64,
    /// Students of the discentes table without one (dropped by the inner join).
    pub students_without_socio: u64,
    /// Students with two socio-economic rows (two assistance programmes).
    pub students_with_two_socio_rows: u64,
    /// Students with three socio-economic rows (three assistance programmes).
    pub students_with_three_socio_rows: u64,
    /// Students given `sexo = "false"` (all have a socio-economic row and a decided enrolment).
    pub dirty_sexo_students: u64,
    /// Students given the implausible birth year of the marginals (994; all have a socio-economic
    /// row and a decided enrolment).
    pub dirty_birth_year_students: u64,
    /// Enrolments (not rows) in the enrolment table.
    pub enrolments: u64,
    /// Enrolments whose outcome is `INDEFERIDO`.
    pub indeferido: u64,
    /// Enrolments of students with a socio-economic record: the rows the pipeline's merge should
    /// produce once it collapses the socio-economic table to one row per student (flags OR-ed)
    /// and drops exact duplicates.
    pub joined_enrolments: u64,
    /// The extra rows a merge that does *not* collapse the socio-economic table produces: each
    /// enrolment of a student with k socio-economic rows appears k times, with contradicting flags.
    pub naive_join_extra_rows: u64,
    /// Of those, enrolments whose `id_curso` is not in the course table (area unknown after the
    /// left join; about 11 % as in the real data).
    pub joined_enrolments_without_course: u64,
    /// Bytes written per table, in the order of [`TABLE_FILES`].
    pub table_bytes: [u64; 4],
}

impl SynthSummary {
    /// Total bytes written.
    pub fn total_bytes(&self) -> u64 {
        self.table_bytes.iter().sum()
    }
}

/// One writer per table.
#[derive(Debug, Default)]
pub struct TableWriters<W: Write> {
    /// Receives [`DISCENTES_FILE`].
    pub discentes: W,
    /// Receives [`SOCIO_FILE`].
    pub socio: W,
    /// Receives [`CURSOS_FILE`].
    pub cursos: W,
    /// Receives [`MATRICULAS_FILE`].
    pub matriculas: W,
}

/// Generates the four tables of 2020.5 into `writers` (flushed, not closed), from the embedded
/// marginals.
pub fn generate_to_writers<W: Write>(
    config: &SynthConfig,
    writers: &mut TableWriters<W>,
) -> Result<SynthSummary, SynthError> {
    generate_with_marginals(config, &Marginals::embedded()?, writers)
}

/// Like [`generate_to_writers`], for `semester`: with [`Semester::S20192`], `writers.socio` and
/// `writers.matriculas` receive [`SOCIO_FILE_2019_2`] and [`MATRICULAS_FILE_2019_2`], and the
/// discentes and course tables are byte-identical to 2020.5's of the same config. The summary's
/// socio-economic and enrolment counts are the semester's.
pub fn generate_semester_to_writers<W: Write>(
    config: &SynthConfig,
    semester: Semester,
    writers: &mut TableWriters<W>,
) -> Result<SynthSummary, SynthError> {
    config.validate()?;
    generator::Generator::new(&Marginals::embedded()?)?.write(config, semester, writers)
}

/// Like [`generate_to_writers`], from other marginals (same format as [`EMBEDDED_MARGINALS_JSON`]).
pub fn generate_with_marginals<W: Write>(
    config: &SynthConfig,
    marginals: &Marginals,
    writers: &mut TableWriters<W>,
) -> Result<SynthSummary, SynthError> {
    config.validate()?;
    generator::Generator::new(marginals)?.write(config, Semester::S20205, writers)
}

/// Generates the four tables as files named [`TABLE_FILES`] in `out_dir` (created if missing).
/// Files are written under temporary names and renamed when all four are complete, so a failed
/// run leaves no partial table behind under a final name.
pub fn generate(config: &SynthConfig, out_dir: &Path) -> Result<SynthSummary, SynthError> {
    generate_semester(config, Semester::S20205, out_dir)
}

/// Like [`generate`], for `semester`: the files are named [`Semester::table_files`].
pub fn generate_semester(config: &SynthConfig, semester: Semester, out_dir: &Path) -> Result<SynthSummary, SynthError> {
    config.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|source| SynthError::Io { path: out_dir.to_path_buf(), source })?;
    let names = semester.table_files();
    let partial: Vec<PathBuf> = names.iter().map(|name| out_dir.join(format!(".{name}.partial"))).collect();
    let result = write_partial_files(config, semester, &partial);
    if result.is_err() {
        for path in &partial {
            // Best effort: the original error is what the caller needs to see.
            let _ = std::fs::remove_file(path);
        }
        return result;
    }
    for (path, name) in partial.iter().zip(names) {
        let target = out_dir.join(name);
        std::fs::rename(path, &target).map_err(|source| SynthError::Io { path: target, source })?;
    }
    result
}

fn write_partial_files(
    config: &SynthConfig,
    semester: Semester,
    paths: &[PathBuf],
) -> Result<SynthSummary, SynthError> {
    let open = |path: &PathBuf| {
        File::create(path)
            .map(|f| BufWriter::with_capacity(1 << 16, f))
            .map_err(|source| SynthError::Io { path: path.clone(), source })
    };
    let mut writers = TableWriters {
        discentes: open(&paths[0])?,
        socio: open(&paths[1])?,
        cursos: open(&paths[2])?,
        matriculas: open(&paths[3])?,
    };
    let summary = generate_semester_to_writers(config, semester, &mut writers)?;
    let TableWriters { discentes, socio, cursos, matriculas } = writers;
    for (writer, path) in [discentes, socio, cursos, matriculas].into_iter().zip(paths) {
        let file = writer.into_inner().map_err(|e| SynthError::Io { path: path.clone(), source: e.into_error() })?;
        file.sync_all().map_err(|source| SynthError::Io { path: path.clone(), source })?;
    }
    Ok(summary)
}
