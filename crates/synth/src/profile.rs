//! One student's social and socio-economic profile, drawn from the marginals.
//!
//! Columns are drawn independently from their real shares, except for these couplings, which keep
//! rows plausible without moving any marginal: the city of origin depends on the state of origin;
//! the residence depends on the origin; race-based quota types (L2, L6, L10, L14) only go to
//! black, brown and indigenous students; `cotista` is `t` exactly when there is a quota type;
//! entry period `0` is the integrated technical level; the course depends on the level; and the
//! assistance programmes are likelier at low incomes ([`crate::aid`]).
//!
//! Profiles are clean: the real data's dirty values (`sexo = "false"`, an implausible birth year)
//! are planted by the generator on a fixed number of students ([`DIRTY_SEXO`]).

use std::collections::BTreeMap;

use rand::Rng;

use crate::aid::{AidSampler, Aids};
use crate::courses::{Course, CourseSampler};
use crate::error::SynthError;
use crate::marginals::{Marginals, categorical, field_error};
use crate::sample::{Categorical, QuantileFn};

const RIO_GRANDE_DO_NORTE: &str = "Rio Grande do Norte";
const NAO_INFORMADO_ESTADO: &str = "Não Informado";
const NAO_INFORMADO_CIDADE: &str = "NÃO INFORMADO";
const INTEGRATED_TECHNICAL: &str = "TÉCNICO INTEGRADO";
const INTEGRATED_PERIOD: &str = "0";

/// Races whose students may use the race-based quota types.
const PPI_RACES: &[&str] = &["Pardo", "Negro", "Indígena"];
const PPI_QUOTAS: &[&str] = &["L2", "L6", "L10", "L14"];

/// The published meaning of each quota type (Lei 12.711/2012 and UFRN's regional bonus), shortened.
const QUOTA_DESCRIPTIONS: &[(&str, &str)] = &[
    ("A1", "Argumento de inclusão: ensino médio cursado em escola do Rio Grande do Norte"),
    ("L1", "Renda familiar bruta per capita até 1,5 salário mínimo e ensino médio em escola pública"),
    ("L2", "Pretos, pardos ou indígenas, renda per capita até 1,5 salário mínimo, ensino médio em escola pública"),
    ("L5", "Independentemente da renda, ensino médio integralmente em escola pública"),
    ("L6", "Pretos, pardos ou indígenas, independentemente da renda, ensino médio em escola pública"),
    ("L9", "Com deficiência, renda per capita até 1,5 salário mínimo, ensino médio em escola pública"),
    ("L10", "Com deficiência, pretos, pardos ou indígenas, renda até 1,5 salário mínimo, escola pública"),
    ("L13", "Com deficiência, independentemente da renda, ensino médio em escola pública"),
    ("L14", "Com deficiência, pretos, pardos ou indígenas, independentemente da renda, escola pública"),
];

/// (state, capital, another city): where students from outside Rio Grande do Norte come from
/// when their city is not among the listed ones.
const STATES: &[(&str, &str, &str)] = &[
    ("Acre", "RIO BRANCO", "CRUZEIRO DO SUL"),
    ("Alagoas", "MACEIÓ", "ARAPIRACA"),
    ("Amapá", "MACAPÁ", "SANTANA"),
    ("Amazonas", "MANAUS", "PARINTINS"),
    ("Bahia", "SALVADOR", "FEIRA DE SANTANA"),
    ("Ceará", "FORTALEZA", "JUAZEIRO DO NORTE"),
    ("Distrito Federal", "BRASÍLIA", "TAGUATINGA"),
    ("Espírito Santo", "VITÓRIA", "VILA VELHA"),
    ("Goiás", "GOIÂNIA", "ANÁPOLIS"),
    ("Maranhão", "SÃO LUÍS", "IMPERATRIZ"),
    ("Mato Grosso", "CUIABÁ", "RONDONÓPOLIS"),
    ("Mato Grosso do Sul", "CAMPO GRANDE", "DOURADOS"),
    ("Minas Gerais", "BELO HORIZONTE", "UBERLÂNDIA"),
    ("Pará", "BELÉM", "SANTARÉM"),
    ("Paraíba", "JOÃO PESSOA", "CAMPINA GRANDE"),
    ("Paraná", "CURITIBA", "LONDRINA"),
    ("Pernambuco", "RECIFE", "CARUARU"),
    ("Piauí", "TERESINA", "PARNAÍBA"),
    ("Rio de Janeiro", "RIO DE JANEIRO", "NITERÓI"),
    ("Rio Grande do Sul", "PORTO ALEGRE", "CAXIAS DO SUL"),
    ("Rondônia", "PORTO VELHO", "JI-PARANÁ"),
    ("Roraima", "BOA VISTA", "CARACARAÍ"),
    ("Santa Catarina", "FLORIANÓPOLIS", "JOINVILLE"),
    ("São Paulo", "SÃO PAULO", "CAMPINAS"),
    ("Sergipe", "ARACAJU", "LAGARTO"),
    ("Tocantins", "PALMAS", "ARAGUAÍNA"),
];

/// Rio Grande do Norte towns outside the listed top cities, sharing the rest of the state's mass.
const RN_OTHER_TOWNS: &[&str] = &[
    "EXTREMOZ",
    "SÃO GONÇALO DO AMARANTE",
    "NÍSIA FLORESTA",
    "GOIANINHA",
    "CERRO CORÁ",
    "LAJES",
    "ANGICOS",
    "SÃO JOSÉ DO SERIDÓ",
    "FLORÂNIA",
    "TANGARÁ",
    "MONTE ALEGRE",
    "LAGOA NOVA",
    "SERRA NEGRA DO NORTE",
    "AREIA BRANCA",
    "UMARIZAL",
    "MARTINS",
    "SÃO RAFAEL",
    "IELMO MARINHO",
    "POÇO BRANCO",
    "BAÍA FORMOSA",
];

/// Towns with a UFRN campus, where students who moved to study live.
const CAMPUS_TOWNS: &[(&str, f64)] = &[
    ("NATAL", 0.78),
    ("PARNAMIRIM", 0.06),
    ("CAICÓ", 0.05),
    ("CURRAIS NOVOS", 0.04),
    ("MACAÍBA", 0.03),
    ("SANTA CRUZ", 0.02),
    ("MOSSORÓ", 0.02),
];

/// Relative likelihood of holding any assistance programme by income quartile (mean 1, so the
/// overall shares are kept): assistance goes mostly to low-income students.
const ASSISTANCE_BY_INCOME_QUARTILE: [f64; 4] = [2.0, 1.3, 0.5, 0.2];

/// The real data's dirty `sexo` value: the text `false` (a boolean that leaked into the column).
/// Never drawn; the generator plants it at its real share.
pub(crate) const DIRTY_SEXO: &str = "false";

/// Reference year for ages (the 2020.5 semester).
pub(crate) const REFERENCE_YEAR: i32 = 2020;

/// A student's profile. Strings borrow from the sampler's tables.
#[derive(Debug, Clone)]
pub(crate) struct Student<'a> {
    pub(crate) sexo: &'a str,
    pub(crate) ano_nascimento: i32,
    pub(crate) raca: &'a str,
    pub(crate) estado_origem: &'a str,
    pub(crate) cidade_origem: &'a str,
    pub(crate) estado: &'a str,
    pub(crate) municipio: &'a str,
    pub(crate) nivel_ensino: &'a str,
    pub(crate) ano_ingresso: &'a str,
    pub(crate) periodo_ingresso: &'a str,
    pub(crate) tipo_cota: &'a str,
    pub(crate) descricao_tipo_cota: &'a str,
    pub(crate) course: &'a Course,
    pub(crate) renda: u64,
    /// 0..=3, by the real income quartiles.
    pub(crate) renda_quartile: usize,
    pub(crate) possui_bolsa_pesquisa: bool,
    /// The assistance programmes held: one socio-economic row each.
    pub(crate) aids: Aids,
}

impl Student<'_> {
    pub(crate) fn cotista(&self) -> &'static str {
        if self.tipo_cota.is_empty() { "f" } else { "t" }
    }
}

/// Draws student profiles.
#[derive(Debug)]
pub(crate) struct ProfileSampler {
    sexo: Categorical<String>,
    raca: Categorical<String>,
    estado_origem: Categorical<String>,
    cidade_by_estado: BTreeMap<String, Categorical<String>>,
    campus_towns: Categorical<&'static str>,
    nivel_ensino: Categorical<String>,
    ano_ingresso: Categorical<String>,
    periodo_ingresso: Categorical<String>,
    ppi_quota_given_ppi_race: f64,
    ppi_quotas: Option<Categorical<String>>,
    other_quota_share: f64,
    other_quotas: Option<Categorical<String>>,
    quota_descriptions: BTreeMap<String, String>,
    birth_year: QuantileFn,
    renda: QuantileFn,
    renda_quartile_bounds: [f64; 3],
    bolsa_pesquisa_share: f64,
    aids: AidSampler,
    pub(crate) courses: CourseSampler,
}

fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    rng.random::<f64>() < p
}

impl ProfileSampler {
    pub(crate) fn new(m: &Marginals) -> Result<Self, SynthError> {
        let estado_shares = m.discentes_shares("estado_origem")?;
        let cidade_shares = m.discentes_shares("cidade_origem")?;

        let (ppi_quotas, other_quotas, ppi_share, other_share) = quota_tables(m)?;
        let ppi_race_share: f64 = PPI_RACES.iter().map(|r| m.discentes_share("raca", r)).sum::<Result<f64, _>>()?;
        let ppi_quota_given_ppi_race = if ppi_race_share > 0.0 { ppi_share / ppi_race_share } else { 0.0 };
        if ppi_quota_given_ppi_race + other_share > 1.0 + 1e-9 {
            return Err(field_error(
                "discentes.tipo_cota",
                "race-based quota shares exceed the share of eligible races",
            ));
        }
        let quota_descriptions =
            QUOTA_DESCRIPTIONS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>();
        let mut all_quota_descriptions = quota_descriptions;
        for quota in m.discentes_shares("tipo_cota")?.keys().filter(|k| !k.is_empty()) {
            all_quota_descriptions.entry(quota.clone()).or_insert_with(|| format!("Cota {quota}"));
        }

        let periodo = m.discentes_shares("periodo_ingresso")?;
        let periodo_ingresso = categorical(
            "discentes.periodo_ingresso",
            periodo.iter().filter(|(k, _)| k.as_str() != INTEGRATED_PERIOD).map(|(k, v)| (k.clone(), *v)),
        )?;

        let (birth_year, _dirty) = m.ano_nascimento_quantile_fn()?;
        let quartile = |p| m.renda_quantile(p);
        let sexo = m.discentes_shares("sexo")?;
        Ok(Self {
            sexo: categorical(
                "discentes.sexo",
                sexo.iter().filter(|(k, _)| k.as_str() != DIRTY_SEXO).map(|(k, v)| (k.clone(), *v)),
            )?,
            raca: m.discentes_categorical("raca")?,
            estado_origem: m.discentes_categorical("estado_origem")?,
            cidade_by_estado: city_tables(estado_shares, cidade_shares)?,
            campus_towns: categorical("campus towns", CAMPUS_TOWNS.iter().copied())?,
            nivel_ensino: m.discentes_categorical("nivel_ensino")?,
            ano_ingresso: m.discentes_categorical("ano_ingresso")?,
            periodo_ingresso,
            ppi_quota_given_ppi_race,
            ppi_quotas,
            other_quota_share: other_share,
            other_quotas,
            quota_descriptions: all_quota_descriptions,
            birth_year,
            renda: m.renda_quantile_fn()?,
            renda_quartile_bounds: [quartile(0.25)?, quartile(0.5)?, quartile(0.75)?],
            bolsa_pesquisa_share: m.socio_true_share("possui_bolsa_pesquisa")?,
            aids: AidSampler::new(m, ASSISTANCE_BY_INCOME_QUARTILE)?,
            courses: CourseSampler::new(m)?,
        })
    }

    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Student<'_> {
        let sexo = self.sexo.sample(rng);
        let raca = self.raca.sample(rng);
        let estado_origem = self.estado_origem.sample(rng).as_str();
        let cidade_origem = self.cidade_by_estado.get(estado_origem).map_or("", |c| c.sample(rng).as_str());
        let (estado, municipio) = self.residence(rng, estado_origem, cidade_origem);
        let nivel_ensino = self.nivel_ensino.sample(rng).as_str();
        let periodo_ingresso =
            if nivel_ensino == INTEGRATED_TECHNICAL { INTEGRATED_PERIOD } else { self.periodo_ingresso.sample(rng) };
        let tipo_cota = self.quota(rng, raca);
        let descricao_tipo_cota = self.quota_descriptions.get(tipo_cota).map_or("", String::as_str);
        let ano_nascimento = self.birth_year.sample(rng).round() as i32;
        let course = self.courses.sample(rng, nivel_ensino);
        let renda_value = self.renda.sample(rng).round().max(0.0);
        let renda_quartile = self.renda_quartile_bounds.iter().filter(|&&b| renda_value >= b).count();
        Student {
            sexo,
            ano_nascimento,
            raca,
            estado_origem,
            cidade_origem,
            estado,
            municipio,
            nivel_ensino,
            ano_ingresso: self.ano_ingresso.sample(rng),
            periodo_ingresso,
            tipo_cota,
            descricao_tipo_cota,
            course,
            renda: renda_value as u64,
            renda_quartile,
            possui_bolsa_pesquisa: chance(rng, self.bolsa_pesquisa_share),
            aids: self.aids.sample(rng, renda_quartile),
        }
    }

    fn residence<'a, R: Rng + ?Sized>(
        &'a self,
        rng: &mut R,
        estado_origem: &'a str,
        cidade_origem: &'a str,
    ) -> (&'a str, &'a str) {
        let campus = |rng: &mut R| (RIO_GRANDE_DO_NORTE, *self.campus_towns.sample(rng));
        match estado_origem {
            RIO_GRANDE_DO_NORTE if cidade_origem != NAO_INFORMADO_CIDADE && chance(rng, 0.6) => {
                (estado_origem, cidade_origem)
            }
            // Missing origin: half of these rows also lack the residence (dirty but real-looking).
            "" if chance(rng, 0.5) => ("", ""),
            RIO_GRANDE_DO_NORTE | NAO_INFORMADO_ESTADO | "Ignorado/exterior" | "" => campus(rng),
            _ if chance(rng, 0.25) => (estado_origem, cidade_origem),
            _ => campus(rng),
        }
    }

    fn quota<'a, R: Rng + ?Sized>(&'a self, rng: &mut R, raca: &str) -> &'a str {
        let u = rng.random::<f64>();
        let ppi_cut = if PPI_RACES.contains(&raca) { self.ppi_quota_given_ppi_race } else { 0.0 };
        if u < ppi_cut {
            self.ppi_quotas.as_ref().map_or("", |q| q.sample(rng).as_str())
        } else if u < ppi_cut + self.other_quota_share {
            self.other_quotas.as_ref().map_or("", |q| q.sample(rng).as_str())
        } else {
            ""
        }
    }
}

type QuotaTables = (Option<Categorical<String>>, Option<Categorical<String>>, f64, f64);

/// Splits the quota types into race-based ones and the rest, with their total shares.
fn quota_tables(m: &Marginals) -> Result<QuotaTables, SynthError> {
    let shares = m.discentes_shares("tipo_cota")?;
    let pick = |ppi: bool| {
        shares
            .iter()
            .filter(move |(k, _)| !k.is_empty() && PPI_QUOTAS.contains(&k.as_str()) == ppi)
            .map(|(k, v)| (k.clone(), *v))
    };
    let ppi_share: f64 = pick(true).map(|(_, v)| v).sum();
    let other_share: f64 = pick(false).map(|(_, v)| v).sum();
    Ok((Categorical::new(pick(true)), Categorical::new(pick(false)), ppi_share, other_share))
}

fn state_of_listed_city(city: &str) -> &'static str {
    STATES
        .iter()
        .find(|(_, capital, other)| *capital == city || *other == city)
        .map_or(RIO_GRANDE_DO_NORTE, |(state, _, _)| state)
}

/// For each state of origin, the distribution of the city of origin: the listed cities of that
/// state keep their real share (so NATAL's overall share is right), the rest goes to other towns.
fn city_tables(
    estados: &BTreeMap<String, f64>,
    cidades: &BTreeMap<String, f64>,
) -> Result<BTreeMap<String, Categorical<String>>, SynthError> {
    let mut tables = BTreeMap::new();
    for (estado, &estado_share) in estados {
        if estado_share <= 0.0 {
            continue;
        }
        let mut weights: Vec<(String, f64)> = Vec::new();
        let mut remainder_towns: Vec<&str> = Vec::new();
        match estado.as_str() {
            "" => weights.push((String::new(), 1.0)),
            NAO_INFORMADO_ESTADO | "Ignorado/exterior" => weights.push((NAO_INFORMADO_CIDADE.to_owned(), 1.0)),
            _ => {
                for (cidade, &share) in cidades {
                    if cidade != NAO_INFORMADO_CIDADE && state_of_listed_city(cidade) == estado {
                        weights.push((cidade.clone(), share / estado_share));
                    }
                }
                if estado == RIO_GRANDE_DO_NORTE {
                    // "NÃO INFORMADO" cities beyond the "Não Informado" states belong to local students.
                    let unknown_elsewhere = estados.get(NAO_INFORMADO_ESTADO).copied().unwrap_or(0.0)
                        + estados.get("Ignorado/exterior").copied().unwrap_or(0.0);
                    let unknown = cidades.get(NAO_INFORMADO_CIDADE).copied().unwrap_or(0.0) - unknown_elsewhere;
                    weights.push((NAO_INFORMADO_CIDADE.to_owned(), unknown.max(0.0) / estado_share));
                    remainder_towns.extend(RN_OTHER_TOWNS);
                } else if let Some((_, capital, other)) = STATES.iter().find(|(s, _, _)| s == estado) {
                    remainder_towns.extend([*capital, *other]);
                } else {
                    remainder_towns.push(NAO_INFORMADO_CIDADE);
                }
                // Leave at least 15 % to the other towns so no state is a single city.
                let listed: f64 = weights.iter().map(|(_, w)| w).sum();
                if listed > 0.85 {
                    for (_, w) in &mut weights {
                        *w *= 0.85 / listed;
                    }
                }
                let rest = 1.0 - weights.iter().map(|(_, w)| w).sum::<f64>();
                let per_town = rest / remainder_towns.len() as f64;
                weights.extend(remainder_towns.iter().map(|t| ((*t).to_owned(), per_town)));
            }
        }
        tables.insert(estado.clone(), categorical(&format!("discentes.cidade_origem ({estado})"), weights)?);
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aid::ALIMENTACAO;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn shares_of<'a>(values: impl Iterator<Item = &'a str>) -> (BTreeMap<&'a str, f64>, f64) {
        let mut counts: BTreeMap<&str, f64> = BTreeMap::new();
        let mut n = 0.0;
        for v in values {
            *counts.entry(v).or_default() += 1.0;
            n += 1.0;
        }
        for c in counts.values_mut() {
            *c /= n;
        }
        (counts, n)
    }

    #[test]
    fn profiles_follow_the_marginals_and_couplings() {
        let m = Marginals::embedded().unwrap();
        let sampler = ProfileSampler::new(&m).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let students: Vec<Student<'_>> = (0..30_000).map(|_| sampler.sample(&mut rng)).collect();

        let (cidades, _) = shares_of(students.iter().map(|s| s.cidade_origem));
        assert!((cidades["NATAL"] - 0.4807).abs() < 0.015, "NATAL {}", cidades["NATAL"]);
        let (cotas, _) = shares_of(students.iter().map(|s| s.tipo_cota));
        assert!((cotas[""] - 0.4697).abs() < 0.015);
        assert!((cotas["L2"] - 0.1585).abs() < 0.01);
        for s in &students {
            assert_eq!(s.cotista() == "t", !s.tipo_cota.is_empty());
            if PPI_QUOTAS.contains(&s.tipo_cota) {
                assert!(PPI_RACES.contains(&s.raca), "{} with {}", s.raca, s.tipo_cota);
            }
            assert_eq!(s.periodo_ingresso == "0", s.nivel_ensino == INTEGRATED_TECHNICAL);
            if s.estado_origem == "São Paulo" {
                assert!(["SÃO PAULO", "CAMPINAS"].contains(&s.cidade_origem), "{}", s.cidade_origem);
            }
        }
        // Income: median near the real 1725, and assistance concentrated at low incomes.
        let mut rendas: Vec<u64> = students.iter().map(|s| s.renda).collect();
        rendas.sort_unstable();
        let median = rendas[rendas.len() / 2];
        assert!((1600..1850).contains(&median), "median renda {median}");
        let aid_rate = |q: usize| {
            let group: Vec<_> = students.iter().filter(|s| s.renda_quartile == q).collect();
            group.iter().filter(|s| s.aids.has(ALIMENTACAO)).count() as f64 / group.len() as f64
        };
        assert!(aid_rate(0) > 2.0 * aid_rate(3));
        // Shares of students (a student with several programmes has a row for each, so the
        // real row share 0.1214 is a student share of 0.1243).
        let overall = students.iter().filter(|s| s.aids.has(ALIMENTACAO)).count() as f64 / 30_000.0;
        assert!((overall - 0.1243).abs() < 0.01, "auxilio alimentacao {overall}");
        assert!(students.iter().all(|s| s.sexo != DIRTY_SEXO), "dirty values are planted, never drawn");
    }
}
