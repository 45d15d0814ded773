//! A deterministic synthetic table with the columns of the original study's preprocessed data.

#![allow(dead_code, reason = "shared by the tests and the benchmark; each uses a part")]

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// A small linear congruential generator: fixed sequence, no dependency.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn students_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let i = |n: &str| Field::new(n, DataType::Int64, false);
    let b = |n: &str| Field::new(n, DataType::Boolean, false);
    Arc::new(Schema::new(vec![
        s("sexo"),
        i("ano_nascimento"),
        s("raca"),
        s("estado_origem"),
        s("cidade_origem"),
        i("renda"),
        b("possui_auxilio_alimentacao"),
        b("possui_auxilio_transporte"),
        b("possui_auxilio_residencia_moradia"),
        s("grau_academico"),
        s("area_conhecimento"),
        s("descricao"),
    ]))
}

/// `rows` rows in batches of `batch_rows`, all values plausible for the study.
pub fn students(rows: usize, batch_rows: usize, seed: u64) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = students_schema();
    let mut rng = Lcg::new(seed);
    let racas = ["Branca", "Parda", "Preta", "Amarela", "Indígena", "Não Informado"];
    let estados = ["Rio Grande do Norte", "Paraíba", "Pernambuco", "Ceará", "São Paulo"];
    let cidades: Vec<String> = (0..300).map(|i| format!("Cidade {i:03}")).collect();
    let graus = ["BACHARELADO", "LICENCIATURA", "TECNOLÓGICO"];
    let areas = [
        "Ciências Exatas e da Terra",
        "Ciências Humanas",
        "Engenharias",
        "Ciências da Saúde",
        "Linguística, Letras e Artes",
    ];
    let descricoes = ["APROVADO", "APROVADO", "APROVADO", "APROVADO", "FALHOU", "REPROVADO POR NOTA E FALTA"];
    let mut batches = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = batch_rows.min(rows - done);
        let mut pick = |opts: &[&str]| -> Vec<String> {
            (0..n).map(|_| opts[rng.below(opts.len() as u64) as usize].to_owned()).collect()
        };
        let sexo = pick(&["F", "M"]);
        let raca = pick(&racas);
        let estado = pick(&estados);
        let grau = pick(&graus);
        let area = pick(&areas);
        let descricao = pick(&descricoes);
        let cidade: Vec<String> = (0..n).map(|_| cidades[rng.below(300) as usize].clone()).collect();
        let ano: Vec<i64> = (0..n).map(|_| 2003 - (rng.below(20) + rng.below(22)) as i64).collect();
        let renda: Vec<i64> = (0..n).map(|_| (rng.below(3000) * rng.below(4) + rng.below(1500)) as i64).collect();
        let flag = |rng: &mut Lcg, p: u64| -> BooleanArray { (0..n).map(|_| Some(rng.below(100) < p)).collect() };
        let alimentacao = flag(&mut rng, 20);
        let transporte = flag(&mut rng, 10);
        let residencia = flag(&mut rng, 5);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(sexo)),
            Arc::new(Int64Array::from(ano)),
            Arc::new(StringArray::from(raca)),
            Arc::new(StringArray::from(estado)),
            Arc::new(StringArray::from(cidade)),
            Arc::new(Int64Array::from(renda)),
            Arc::new(alimentacao),
            Arc::new(transporte),
            Arc::new(residencia),
            Arc::new(StringArray::from(grau)),
            Arc::new(StringArray::from(area)),
            Arc::new(StringArray::from(descricao)),
        ];
        batches.push(RecordBatch::try_new(Arc::clone(&schema), cols).expect("columns match the schema"));
        done += n;
    }
    (schema, batches)
}
