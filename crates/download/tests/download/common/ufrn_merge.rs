//! The UFRN study's merge (../shared/DESIGN.md, "The UFRN pipeline"), as merge-stage params.

/// Params of the merge of the four portal tables, the socio-economic table collapsed to one row
/// per student (its flags OR-ed) and each join's cardinality declared.
pub fn ufrn_merge_params() -> serde_json::Value {
    serde_json::json!({
        "base": "discentes",
        "base_columns": ["id_discente", "sexo", "ano_nascimento", "raca", "estado_origem", "cidade_origem",
            "estado", "municipio", "nivel_ensino", "ano_ingresso", "periodo_ingresso", "cotista", "curso",
            "tipo_cota", "descricao_tipo_cota"],
        "joins": [
            // One row per aid programme a student holds: collapsed to one row per student.
            {"input": "socio", "how": "inner", "on": ["id_discente"], "validate": "one_to_one",
             "columns": ["id_discente", "ano", "periodo", "renda", "possui_bolsa_pesquisa",
                "possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia",
                "id_curso"],
             "aggregate": {"any": ["possui_bolsa_pesquisa", "possui_auxilio_alimentacao",
                "possui_auxilio_transporte", "possui_auxilio_residencia_moradia"]}},
            {"input": "cursos", "how": "left", "on": ["id_curso"], "validate": "many_to_one",
             "columns": ["id_curso", "area_conhecimento", "grau_academico"]},
            {"input": "matriculas", "how": "inner", "on": ["id_discente"], "validate": "one_to_many",
             "columns": ["id_turma", "discente", "reposicao", "descricao", "numero_total_faltas"],
             "rename": {"discente": "id_discente"}},
        ],
        "drop_duplicates": true,
    })
}
