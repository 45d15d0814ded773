//! temp
use esteira_evaluate::charts::*;
use esteira_evaluate::metrics::*;
fn main() {
    let y: Vec<bool> = (0..300).map(|i| (i * 7919) % 13 < 9).collect();
    let s: Vec<f64> = y.iter().enumerate().map(|(i, &t)| (((i * 31) % 17) as f64 / 17.0 + if t { 0.2 } else { 0.0 }) / 1.2).collect();
    let roc = roc_curve(&y, &s).unwrap();
    let pr = precision_recall_curve(&y, &s).unwrap();
    let cm = confusion_matrix(&y, &decide(&s, 0.5)).unwrap();
    let bars: Vec<OddsRatioBar> = ["sexo: M", "raca: Parda (vs Branca)", "renda", "idade", "area_conhecimento: Ciências Exatas e da Terra", "possui_auxilio_alimentacao"].iter().zip([0.8, 1.1, 1.3, 0.6, 2.5, 0.95]).map(|(l, o)| OddsRatioBar { label: l.to_string(), odds_ratio: o }).collect();
    std::fs::write("/tmp/c_conf.svg", confusion_heatmap_svg(&cm, "FALHOU", "APROVADO").unwrap()).unwrap();
    std::fs::write("/tmp/c_roc.svg", roc_svg(&roc, roc_auc(&y, &s).unwrap()).unwrap()).unwrap();
    std::fs::write("/tmp/c_pr.svg", pr_svg(&pr, average_precision(&y, &s).unwrap(), 0.69).unwrap()).unwrap();
    std::fs::write("/tmp/c_or1.svg", odds_ratio_svg(&bars[..1], "Odds ratios of APROVADO", "").unwrap()).unwrap();
    std::fs::write("/tmp/c_or.svg", odds_ratio_svg(&bars, "Odds ratios of APROVADO", "").unwrap()).unwrap();
}
