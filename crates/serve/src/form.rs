//! The prediction form ("what would my chance of passing have been?"), in Portuguese like the
//! original study's app. Plain HTML form POST: it works without JavaScript.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use esteira_train::{InputColumn, InputKind};

use crate::calibration::Calibration;
use crate::html::{Nav, esc, metric_value, num_pt, page, pct_pt};
use crate::load::LoadedModel;
use crate::rows::FieldError;

/// The order fields appear in, as in the original form; columns not listed follow.
const ORDER: [&str; 10] = [
    "sexo",
    "ano_nascimento",
    "raca",
    "renda",
    "possui_auxilio_alimentacao",
    "possui_auxilio_residencia_moradia",
    "possui_auxilio_transporte",
    "grau_academico",
    "area_conhecimento",
    "estado_origem",
];

/// The Portuguese label of a raw column.
pub(crate) fn label(column: &str) -> &str {
    match column {
        "sexo" => "Sexo",
        "ano_nascimento" => "Ano de nascimento",
        "raca" => "Raça",
        "renda" => "Renda familiar (R$)",
        "possui_auxilio_alimentacao" => "Auxílio alimentação",
        "possui_auxilio_residencia_moradia" => "Auxílio moradia",
        "possui_auxilio_transporte" => "Auxílio transporte",
        "possui_bolsa_pesquisa" => "Bolsa de pesquisa",
        "grau_academico" => "Grau acadêmico",
        "area_conhecimento" => "Área de conhecimento",
        "estado_origem" => "Estado de origem",
        "cidade_origem" => "Cidade de origem",
        other => other,
    }
}

/// Headline test metrics with Portuguese names, in display order.
const METRICS: [(&str, &str); 6] = [
    ("balanced_accuracy", "Acurácia balanceada"),
    ("roc_auc", "ROC AUC"),
    ("accuracy", "Acurácia"),
    ("f1_macro", "F1 macro"),
    ("baseline_balanced_accuracy", "Acurácia balanceada da linha de base (classe majoritária)"),
    ("rows", "Linhas de teste"),
];

fn ordered(columns: &[InputColumn]) -> Vec<&InputColumn> {
    let mut out: Vec<&InputColumn> = ORDER.iter().filter_map(|n| columns.iter().find(|c| c.name == *n)).collect();
    out.extend(columns.iter().filter(|c| !ORDER.contains(&c.name.as_str())));
    out
}

/// Codes read better in words: yes/no flags, and sex as the portal codes it.
fn option_label<'a>(column: &str, categories: &[String], value: &'a str) -> &'a str {
    let boolean = categories.iter().all(|c| c == "true" || c == "false");
    match (boolean, column, value) {
        (true, _, "true") => "Sim",
        (true, _, "false") => "Não",
        (false, "sexo", "F") => "Feminino",
        (false, "sexo", "M") => "Masculino",
        _ => value,
    }
}

/// The answer to a submitted form.
pub(crate) struct Outcome {
    /// P(positive class).
    pub(crate) probability: f64,
    /// What the model did with the row (imputations, extrapolation).
    pub(crate) notes: Vec<String>,
}

fn field_html(c: &InputColumn, value: Option<&str>, error: Option<&FieldError>) -> String {
    let id = format!("f-{}", c.name);
    let mut s = format!(
        "<div class=\"field{}\"><label for=\"{}\">{}</label>",
        if error.is_some() { " bad" } else { "" },
        esc(&id),
        esc(label(&c.name))
    );
    match &c.kind {
        InputKind::Categorical { categories } => {
            let _ = write!(
                s,
                "<select id=\"{0}\" name=\"{1}\" required><option value=\"\">— escolha —</option>",
                esc(&id),
                esc(&c.name)
            );
            for cat in categories {
                let sel = if value == Some(cat.as_str()) { " selected" } else { "" };
                let _ = write!(
                    s,
                    "<option value=\"{}\"{sel}>{}</option>",
                    esc(cat),
                    esc(option_label(&c.name, categories, cat))
                );
            }
            s.push_str("</select>");
        }
        InputKind::Numeric { min, max, median } => {
            let _ = write!(
                s,
                "<input id=\"{}\" name=\"{}\" type=\"number\" step=\"any\" required value=\"{}\" placeholder=\"ex.: {}\">\
                 <div class=\"hint\">no treino: de {} a {}</div>",
                esc(&id),
                esc(&c.name),
                esc(value.unwrap_or("")),
                esc(&median.to_string()),
                esc(&min.to_string()),
                esc(&max.to_string()),
            );
        }
    }
    if let Some(e) = error {
        let _ = write!(s, "<div class=\"err\" role=\"alert\">{}</div>", esc(&e.mensagem));
    }
    s.push_str("</div>");
    s
}

fn metrics_html(loaded: &LoadedModel) -> String {
    let mut s = String::from("<h2>Desempenho no conjunto de teste</h2>");
    match &loaded.evaluation {
        Some(ev) => {
            s.push_str("<table id=\"metrics\">");
            for (key, name) in METRICS {
                if let Some(v) = ev.metrics.get(key) {
                    let shown = metric_value(v).replace('.', ",");
                    let _ = write!(
                        s,
                        "<tr><th>{}</th><td class=\"num\" data-metric=\"{}\">{}</td></tr>",
                        esc(name),
                        esc(key),
                        esc(&shown)
                    );
                }
            }
            s.push_str("</table>");
            if let Some(r) = &loaded.run_id {
                let _ = write!(
                    s,
                    "<p class=\"notes\">Do estágio <code>{}</code> da execução <a href=\"/runs/{}\">{}</a>.</p>",
                    esc(&ev.stage),
                    esc(r),
                    esc(r)
                );
            }
        }
        None => s.push_str("<p class=\"notes\">Não há avaliação registrada para este modelo.</p>"),
    }
    s
}

fn caveat(loaded: &LoadedModel) -> String {
    let bal = loaded
        .evaluation
        .as_ref()
        .and_then(|e| e.metrics.get("balanced_accuracy"))
        .and_then(serde_json::Value::as_f64)
        .map(|b| format!(" (acurácia balanceada no teste: {})", num_pt(b, 2)))
        .unwrap_or_default();
    format!(
        "<p class=\"caveat\" id=\"caveat\">Atenção: é uma estimativa estatística treinada com dados da UFRN de 2020.5; \
         mostra associações entre perfil e resultado, não causas, e erra com frequência{bal}. \
         Não use para decidir nada sobre uma pessoa.</p>"
    )
}

fn result_html(loaded: &LoadedModel, outcome: &Outcome) -> String {
    let m = &loaded.model;
    let (pos, neg) = (m.positive_class(), m.negative_class());
    let p = outcome.probability;
    let decision = if p >= m.threshold() { pos } else { neg };
    let bar = |id: &str, class: &str, name: &str, v: f64| {
        format!(
            "<div class=\"bar\"><span>P({})</span><div class=\"track\"><div class=\"fill {class}\" style=\"width:{:.2}%\"></div></div>\
             <span class=\"value\" id=\"{id}\" data-value=\"{v}\">{}</span></div>",
            esc(name),
            (v * 100.0).clamp(0.0, 100.0),
            pct_pt(v)
        )
    };
    let mut s =
        String::from("<section class=\"card\" id=\"resultado\"><h2>Resultado</h2><h3>Probabilidade do modelo</h3>");
    s.push_str(&bar("p-positive", "pos", pos, p));
    s.push_str(&bar("p-negative", "neg", neg, 1.0 - p));
    match &loaded.calibration {
        Calibration::Platt { .. } => {
            let c = loaded.calibration.apply(p).unwrap_or(p);
            s.push_str("<h3>Probabilidade calibrada</h3>");
            s.push_str(&bar("p-calibrated", "cal", pos, c));
            // Why the two differ, in one line: the reader should take the calibrated one as the chance.
            s.push_str(
                "<p class=\"notes\" id=\"calibration-note\">Por que diferem: no treino as classes pesam o mesmo \
                 (pesos de classe), o que puxa as probabilidades do modelo para 50 %; a calibrada (escala de Platt, \
                 ajustada nos dados de treino) desfaz esse desvio e é a que se lê como chance.</p>",
            );
        }
        Calibration::Unavailable { reason } => {
            let _ = write!(
                s,
                "<p class=\"notes\" id=\"calibration-note\">Sem probabilidade calibrada para este modelo ({}); \
                 mostra-se só a probabilidade do modelo, que os pesos de classe do treino puxam para 50 %.</p>",
                esc(reason)
            );
        }
    }
    let _ = write!(
        s,
        "<p class=\"decision\">Decisão do modelo: <strong id=\"decision\">{}</strong> \
         <span class=\"notes\">(decide {} quando P({}) do modelo ≥ {}, o limiar escolhido no treino)</span></p>",
        esc(decision),
        esc(pos),
        esc(pos),
        num_pt(m.threshold(), 3)
    );
    if !outcome.notes.is_empty() {
        s.push_str("<ul class=\"notes\">");
        for n in &outcome.notes {
            let _ = write!(s, "<li>{}</li>", esc(n));
        }
        s.push_str("</ul>");
    }
    s.push_str(&caveat(loaded));
    s.push_str("</section>");
    s
}

/// The form page: empty, re-shown with errors, or with the result of a submission.
pub(crate) fn render(
    loaded: &LoadedModel,
    columns: &[InputColumn],
    values: &BTreeMap<String, String>,
    errors: &[FieldError],
    outcome: Option<&Outcome>,
) -> String {
    let m = &loaded.model;
    let mut body = String::from(
        "<h1>Qual teria sido a minha chance de ser aprovado em 2020.5?</h1>\
         <p class=\"notes\">Preencha o perfil socioeconômico como no cadastro da UFRN. O modelo estima a probabilidade \
         de aprovação nas disciplinas do primeiro semestre remoto (2020.5).</p>",
    );
    if let Some(o) = outcome {
        body.push_str(&result_html(loaded, o));
    }
    if !errors.is_empty() {
        body.push_str("<p class=\"err\" id=\"form-errors\">Corrija os campos marcados abaixo.</p>");
    }
    body.push_str("<div class=\"grid\"><section class=\"card\"><form method=\"post\" action=\"/\" id=\"perfil\"><div class=\"fields\">");
    for c in ordered(columns) {
        let err = errors.iter().find(|e| e.field == c.name);
        body.push_str(&field_html(c, values.get(&c.name).map(String::as_str), err));
    }
    body.push_str(
        "</div><button type=\"submit\" id=\"calcular\">Calcular</button></form></section><aside class=\"card\">",
    );
    let _ = write!(
        body,
        "<h2>Modelo</h2><table><tr><th>Algoritmo</th><td>{}</td></tr>\
         <tr><th>Limiar de decisão</th><td class=\"num\">{}</td></tr>\
         <tr><th>Artefato</th><td><a class=\"mono\" href=\"/api/model\" title=\"{}\">{}</a></td></tr>",
        esc(m.algorithm()),
        num_pt(m.threshold(), 3),
        loaded.hash,
        loaded.hash.short(),
    );
    match &loaded.calibration {
        Calibration::Platt { platt, .. } => {
            let _ = write!(
                body,
                "<tr><th>Calibração</th><td id=\"calibration\">Platt (a = {}, b = {})</td></tr>",
                num_pt(platt.intercept, 3),
                num_pt(platt.slope, 3)
            );
        }
        Calibration::Unavailable { .. } => {
            body.push_str("<tr><th>Calibração</th><td id=\"calibration\">indisponível</td></tr>");
        }
    }
    if let Some(r) = &loaded.run_id {
        let _ = write!(body, "<tr><th>Execução</th><td><a class=\"mono\" href=\"/runs/{0}\">{0}</a></td></tr>", esc(r));
    }
    body.push_str("</table>");
    body.push_str(&metrics_html(loaded));
    if outcome.is_none() {
        body.push_str(&caveat(loaded));
    }
    body.push_str("</aside></div>");
    page("Previsão", Nav::Predict, &body)
}
