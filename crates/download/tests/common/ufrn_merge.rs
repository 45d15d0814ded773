//! The UFRN study's merge (../shared/DESIGN.md, "The UFRN pipeline"), as merge-stage params.

/// Params of the merge of the four portal tables.
pub fn ufrn_merge_params() -> serde_json::Value {
    serde_json::json!({
        "base": "discentes",
        "base_columns": ["id_discente", "sexo", "ano_nascimento", "raca", "estado_origem", "cidade_origem",
            "estado", "municipio", "nivel_ensino", "ano_ingresso", "periodo_ingresso", "cotista", "curso",
            "tipo_cota", "descricao_tipo_cota"],
        "joins": [
            {"input": "socio", "how": "inner", "on": ["id_discente"],
             "columns": ["id_discente", "ano", "periodo", "renda", "possui_bolsa_pesquisa",
                "possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia",
                "id_curso"]},
            {"input": "cursos", "how": "left", "on": ["id_curso"],
             "columns": ["id_curso", "area_conhecimento", "grau_academico"]},
            {"input": "matriculas", "how": "inner", "on": ["id_discente"],
             "columns": ["id_turma", "discente", "reposicao", "descricao", "numero_total_faltas"],
             "rename": {"discente": "id_discente"}},
        ],
        "drop_duplicates": true,
    })
}
