//! The real course table (embedded verbatim) and the courses students are assigned to: real
//! undergraduate courses weighted so area and degree shares match the marginals, and synthetic
//! non-undergraduate courses whose ids are deliberately absent from the course table.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use crate::error::SynthError;
use crate::marginals::{Marginals, categorical, field_error};
use crate::sample::Categorical;

/// The real `cursos-de-graduacao.csv` from the UFRN portal, byte for byte (`;`, quoted, CRLF).
pub const EMBEDDED_COURSES_CSV: &str = include_str!("../data/cursos-de-graduacao.csv");

/// A course a student can be enrolled in.
#[derive(Debug, Clone)]
pub(crate) struct Course {
    pub(crate) id: String,
    pub(crate) name: String,
    /// `None` for courses missing from the course table (their area is unknown after the join).
    pub(crate) area: Option<String>,
    pub(crate) grau: Option<String>,
}

/// Splits one line of the portal CSV format: every field quoted, `;` between fields, `""` for a
/// literal quote. The embedded table never has newlines inside fields.
fn split_quoted_line(line: &str, line_number: usize) -> Result<Vec<String>, SynthError> {
    let err = |message: &str| SynthError::CourseTable { line: line_number, message: message.to_owned() };
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        if chars.next() != Some('"') {
            return Err(err("expected a quoted field"));
        }
        let mut field = String::new();
        loop {
            match chars.next() {
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                Some('"') => break,
                Some(c) => field.push(c),
                None => return Err(err("unterminated quoted field")),
            }
        }
        fields.push(field);
        match chars.next() {
            Some(';') => {}
            None => return Ok(fields),
            Some(_) => return Err(err("expected `;` after a quoted field")),
        }
    }
}

/// Parses the embedded course table into its real undergraduate courses.
pub(crate) fn table_courses() -> Result<Vec<Course>, SynthError> {
    let mut lines = EMBEDDED_COURSES_CSV.split("\r\n").filter(|l| !l.is_empty());
    let header = split_quoted_line(lines.next().unwrap_or_default(), 1)?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| SynthError::CourseTable { line: 1, message: format!("missing column `{name}`") })
    };
    let (id, name, area, grau) =
        (column("id_curso")?, column("nome")?, column("area_conhecimento")?, column("grau_academico")?);
    let mut courses = Vec::new();
    for (index, line) in lines.enumerate() {
        let fields = split_quoted_line(line, index + 2)?;
        if fields.len() != header.len() {
            return Err(SynthError::CourseTable {
                line: index + 2,
                message: format!("{} fields, header has {}", fields.len(), header.len()),
            });
        }
        courses.push(Course {
            id: fields[id].clone(),
            name: fields[name].clone(),
            area: Some(fields[area].clone()).filter(|a| !a.is_empty()),
            grau: Some(fields[grau].clone()).filter(|g| !g.is_empty()),
        });
    }
    Ok(courses)
}

/// Synthetic courses of the other levels (technical, graduate...). Their ids are not in the course
/// table, as in the real data where only undergraduate courses are listed, so after the left join
/// their area and degree are missing (about 11 % of enrolments, matching the real missing share).
const OTHER_LEVEL_COURSES: &[(&str, &[&str])] = &[
    (
        "TÉCNICO",
        &[
            "TÉCNICO EM INFORMÁTICA PARA INTERNET",
            "TÉCNICO EM ENFERMAGEM",
            "TÉCNICO EM MÚSICA",
            "TÉCNICO EM GUIA DE TURISMO",
        ],
    ),
    (
        "TÉCNICO INTEGRADO",
        &[
            "TÉCNICO INTEGRADO EM AGROPECUÁRIA",
            "TÉCNICO INTEGRADO EM INFORMÁTICA",
            "TÉCNICO INTEGRADO EM AGROINDÚSTRIA",
        ],
    ),
    (
        "MESTRADO",
        &[
            "PROGRAMA DE PÓS-GRADUAÇÃO EM ENGENHARIA ELÉTRICA E DE COMPUTAÇÃO",
            "PROGRAMA DE PÓS-GRADUAÇÃO EM EDUCAÇÃO",
            "PROGRAMA DE PÓS-GRADUAÇÃO EM CIÊNCIAS DA SAÚDE",
            "PROGRAMA DE PÓS-GRADUAÇÃO EM ESTUDOS DA LINGUAGEM",
        ],
    ),
    (
        "DOUTORADO",
        &[
            "PROGRAMA DE PÓS-GRADUAÇÃO EM FÍSICA",
            "PROGRAMA DE PÓS-GRADUAÇÃO EM EDUCAÇÃO",
            "PROGRAMA DE PÓS-GRADUAÇÃO EM QUÍMICA",
        ],
    ),
    ("LATO SENSU", &["ESPECIALIZAÇÃO EM GESTÃO PÚBLICA", "ESPECIALIZAÇÃO EM SAÚDE DA FAMÍLIA"]),
    ("MÉDIO", &["ENSINO MÉDIO"]),
];

/// First id of the synthetic courses; checked at start-up not to collide with the table.
const OTHER_LEVEL_FIRST_ID: u64 = 9_900_001;

/// Samples the course of a student given the student's level.
#[derive(Debug)]
pub(crate) struct CourseSampler {
    undergraduate: Categorical<Course>,
    other_levels: BTreeMap<String, Vec<Course>>,
    fallback_other: Vec<Course>,
    table_ids: BTreeSet<String>,
}

/// The level whose courses are in the course table.
pub(crate) const UNDERGRADUATE: &str = "GRADUAÇÃO";

impl CourseSampler {
    pub(crate) fn new(marginals: &Marginals) -> Result<Self, SynthError> {
        let courses = table_courses()?;
        let weights = rake_course_weights(
            &courses,
            &marginals.area_conhecimento_of_enrolments,
            &marginals.grau_academico_of_enrolments,
        );
        let table_ids: BTreeSet<String> = courses.iter().map(|c| c.id.clone()).collect();
        let undergraduate = categorical("area_conhecimento_of_enrolments", courses.into_iter().zip(weights))?;

        let mut next_id = OTHER_LEVEL_FIRST_ID;
        let mut other_levels = BTreeMap::new();
        for (level, names) in OTHER_LEVEL_COURSES {
            let mut level_courses = Vec::new();
            for name in *names {
                let id = next_id.to_string();
                next_id += 1;
                if table_ids.contains(&id) {
                    return Err(field_error(
                        "cursos",
                        &format!("synthetic course id {id} collides with the course table"),
                    ));
                }
                level_courses.push(Course { id, name: (*name).to_owned(), area: None, grau: None });
            }
            other_levels.insert((*level).to_owned(), level_courses);
        }
        let fallback_other = other_levels.get("TÉCNICO").cloned().unwrap_or_default();
        Ok(Self { undergraduate, other_levels, fallback_other, table_ids })
    }

    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R, nivel_ensino: &str) -> &Course {
        if nivel_ensino == UNDERGRADUATE {
            return self.undergraduate.sample(rng);
        }
        let pool = self.other_levels.get(nivel_ensino).filter(|p| !p.is_empty()).unwrap_or(&self.fallback_other);
        &pool[rng.random_range(0..pool.len())]
    }

    /// Whether an id is in the real course table (used by tests and the summary).
    pub(crate) fn in_table(&self, id: &str) -> bool {
        self.table_ids.contains(id)
    }
}

/// Weights per course such that sampling courses reproduces both the area shares and the degree
/// (grau) shares of enrolments: iterative proportional fitting of a product of an area factor and
/// a degree factor. Courses whose area or degree has no target share get weight 0.
fn rake_course_weights(
    courses: &[Course],
    area_targets: &BTreeMap<String, f64>,
    grau_targets: &BTreeMap<String, f64>,
) -> Vec<f64> {
    let target_of = |targets: &BTreeMap<String, f64>, key: Option<&String>| {
        key.and_then(|k| targets.get(k)).copied().filter(|t| *t > 0.0)
    };
    let mut weights: Vec<f64> = courses
        .iter()
        .map(|c| {
            let has_targets = target_of(area_targets, c.area.as_ref()).is_some()
                && target_of(grau_targets, c.grau.as_ref()).is_some();
            if has_targets { 1.0 } else { 0.0 }
        })
        .collect();
    for _ in 0..50 {
        for (targets, key) in [
            (area_targets, (|c: &Course| c.area.clone()) as fn(&Course) -> Option<String>),
            (grau_targets, |c: &Course| c.grau.clone()),
        ] {
            let mut sums: BTreeMap<String, f64> = BTreeMap::new();
            for (course, w) in courses.iter().zip(&weights) {
                if let Some(k) = key(course) {
                    *sums.entry(k).or_default() += w;
                }
            }
            // Only the levels present in the table compete for the target mass.
            let present: f64 = sums.keys().filter_map(|k| targets.get(k)).sum();
            let total: f64 = sums.values().sum();
            for (course, w) in courses.iter().zip(weights.iter_mut()) {
                let (Some(k), true) = (key(course), *w > 0.0) else { continue };
                let target = targets.get(&k).copied().unwrap_or(0.0) / present;
                let current = sums.get(&k).copied().unwrap_or(0.0) / total;
                if current > 0.0 {
                    *w *= target / current;
                }
            }
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_real_course_table_parses_with_accents() {
        let courses = table_courses().unwrap();
        assert_eq!(courses.len(), 120);
        assert!(
            courses
                .iter()
                .any(|c| c.name == "ADMINISTRAÇÃO" && c.area.as_deref() == Some("Ciências Sociais Aplicadas"))
        );
    }

    #[test]
    fn split_quoted_line_handles_escapes_and_reports_errors() {
        assert_eq!(split_quoted_line(r#""a";"b""c";"""#, 1).unwrap(), vec!["a", "b\"c", ""]);
        let err = split_quoted_line(r#""a";b"#, 7).unwrap_err().to_string();
        assert!(err.contains("line 7"), "{err}");
        assert!(split_quoted_line(r#""a"#, 1).is_err());
    }

    #[test]
    fn raked_course_weights_reproduce_area_and_degree_shares() {
        let marginals = Marginals::embedded().unwrap();
        let sampler = CourseSampler::new(&marginals).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 60_000;
        let mut areas: BTreeMap<String, u32> = BTreeMap::new();
        let mut graus: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..n {
            let course = sampler.sample(&mut rng, UNDERGRADUATE);
            assert!(sampler.in_table(&course.id));
            *areas.entry(course.area.clone().unwrap()).or_default() += 1;
            *graus.entry(course.grau.clone().unwrap()).or_default() += 1;
        }
        let share = |counts: &BTreeMap<String, u32>, k: &str| f64::from(counts[k]) / f64::from(n);
        assert!((share(&areas, "Ciências da Saúde") - 0.242).abs() < 0.01);
        assert!((share(&areas, "Engenharias") - 0.119).abs() < 0.01);
        assert!((share(&graus, "LICENCIATURA") - 0.221).abs() < 0.015, "{graus:?}");
        let other = sampler.sample(&mut rng, "MESTRADO");
        assert!(!sampler.in_table(&other.id) && other.area.is_none());
    }
}
