//! The report's charts as SVG strings, drawn with plotters' SVG backend.
//!
//! No font is loaded: plotters estimates text sizes and the browser renders the `<text>`
//! elements, so the bytes depend only on the data (every coordinate is an integer pixel).

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::EvaluateError;
use crate::metrics::{ConfusionMatrix, PrCurve, RocCurve};

const FONT: &str = "sans-serif";
const MODEL_COLOUR: RGBColor = RGBColor(31, 119, 180);
const BASELINE_COLOUR: RGBColor = RGBColor(150, 150, 150);
const HEAT_LOW: RGBColor = RGBColor(247, 251, 255);
const HEAT_HIGH: RGBColor = RGBColor(8, 48, 107);

/// Drops points that move less than a thousandth of the unit square (well under a pixel) from
/// the last point kept, keeping the first and the last: a test split of 100 000 rows would
/// otherwise put 100 000 vertices in the SVG without changing a pixel.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    const TOLERANCE: f64 = 1e-3;
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(4096));
    for (k, &(x, y)) in points.iter().enumerate() {
        let keep = match out.last() {
            None => true,
            Some(&(lx, ly)) => k + 1 == points.len() || (x - lx).abs() > TOLERANCE || (y - ly).abs() > TOLERANCE,
        };
        if keep {
            out.push((x, y));
        }
    }
    out
}

/// One row of the odds-ratio chart.
#[derive(Debug, Clone, PartialEq)]
pub struct OddsRatioBar {
    /// The label shown on the axis.
    pub label: String,
    /// The odds ratio (must be positive and finite to be drawn).
    pub odds_ratio: f64,
    /// Its confidence interval (low, high): drawn as a whisker, the row a forest plot's.
    pub interval: Option<(f64, f64)>,
}

fn chart_err<E: std::fmt::Debug>(chart: &'static str) -> impl Fn(E) -> EvaluateError {
    move |e| EvaluateError::Chart { chart, message: format!("{e:?}") }
}

fn render(
    chart: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), EvaluateError>,
) -> Result<String, EvaluateError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err(chart))?;
        draw(&root)?;
        root.present().map_err(chart_err(chart))?;
    }
    Ok(buf)
}

/// A chart over probabilities, 0 to 1 across and 0 to `y_max` up, in the layout the ROC, PR and
/// reliability charts share.
fn unit_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    chart: &'static str,
    caption: &str,
    y_max: f64,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>, EvaluateError> {
    ChartBuilder::on(root)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..y_max)
        .map_err(chart_err(chart))
}

fn heat_colour(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * v).round() as u8;
    RGBColor(mix(HEAT_LOW.0, HEAT_HIGH.0), mix(HEAT_LOW.1, HEAT_HIGH.1), mix(HEAT_LOW.2, HEAT_HIGH.2))
}

fn text_style(size: u32, colour: RGBColor, h: HPos) -> TextStyle<'static> {
    let font: FontDesc<'static> = (FONT, f64::from(size)).into_font();
    font.color(&colour).pos(Pos::new(h, VPos::Center))
}

/// The confusion matrix as a heat map normalised by true class to [0, 1] (as the study drew
/// it), each cell labelled with its share and its count. Rows are the true class, columns the
/// prediction, both ordered `[negative, positive]`.
pub fn confusion_heatmap_svg(cm: &ConfusionMatrix, negative: &str, positive: &str) -> Result<String, EvaluateError> {
    const CHART: &str = "confusion";
    let (left, top, cell) = (170i32, 70i32, 130i32);
    let shares = cm.normalised_by_true();
    let counts = cm.counts();
    let names = [negative, positive];
    render(CHART, (560, 420), |root| {
        let err = chart_err(CHART);
        root.draw(&Text::new(
            "Confusion matrix (share of each true class)",
            (280, 24),
            text_style(18, BLACK, HPos::Center),
        ))
        .map_err(&err)?;
        for (r, row) in shares.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let (x, y) = (left + cell * c as i32, top + cell * r as i32);
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], heat_colour(v).filled())).map_err(&err)?;
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], BLACK.stroke_width(1))).map_err(&err)?;
                let ink = if v > 0.5 { WHITE } else { BLACK };
                let centre = (x + cell / 2, y + cell / 2);
                root.draw(&Text::new(format!("{v:.2}"), (centre.0, centre.1 - 10), text_style(22, ink, HPos::Center)))
                    .map_err(&err)?;
                root.draw(&Text::new(
                    format!("n = {}", counts[r][c]),
                    (centre.0, centre.1 + 16),
                    text_style(13, ink, HPos::Center),
                ))
                .map_err(&err)?;
            }
            let y = top + cell * r as i32 + cell / 2;
            root.draw(&Text::new(names[r].to_owned(), (left - 10, y), text_style(14, BLACK, HPos::Right)))
                .map_err(&err)?;
        }
        for (c, name) in names.iter().enumerate() {
            let x = left + cell * c as i32 + cell / 2;
            root.draw(&Text::new((*name).to_owned(), (x, top + 2 * cell + 16), text_style(14, BLACK, HPos::Center)))
                .map_err(&err)?;
        }
        root.draw(&Text::new(
            "predicted class",
            (left + cell, top + 2 * cell + 40),
            text_style(14, BLACK, HPos::Center),
        ))
        .map_err(&err)?;
        root.draw(&Text::new("true class", (20, top + cell), text_style(14, BLACK, HPos::Left))).map_err(&err)?;
        // Colour bar: ten steps from 0 to 1.
        let (bx, bh) = (left + 2 * cell + 30, 2 * cell / 10);
        for step in 0..10 {
            let v = 1.0 - (f64::from(step) + 0.5) / 10.0;
            let y = top + bh * step;
            root.draw(&Rectangle::new([(bx, y), (bx + 18, y + bh)], heat_colour(v).filled())).map_err(&err)?;
        }
        root.draw(&Rectangle::new([(bx, top), (bx + 18, top + 10 * bh)], BLACK.stroke_width(1))).map_err(&err)?;
        root.draw(&Text::new("1", (bx + 24, top), text_style(12, BLACK, HPos::Left))).map_err(&err)?;
        root.draw(&Text::new("0", (bx + 24, top + 10 * bh), text_style(12, BLACK, HPos::Left))).map_err(&err)?;
        Ok(())
    })
}

/// The ROC curve with the chance diagonal (what the majority baseline scores).
pub fn roc_svg(curve: &RocCurve, auc: f64) -> Result<String, EvaluateError> {
    const CHART: &str = "roc";
    render(CHART, (520, 480), |root| {
        let err = chart_err(CHART);
        let mut chart = unit_chart(root, CHART, "ROC curve", 1.0)?;
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BASELINE_COLOUR.stroke_width(1)))
            .map_err(&err)?
            .label("chance / majority baseline (AUC = 0.50)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BASELINE_COLOUR.stroke_width(1)));
        let points: Vec<(f64, f64)> = curve.fpr.iter().copied().zip(curve.tpr.iter().copied()).collect();
        chart
            .draw_series(LineSeries::new(thin(&points), MODEL_COLOUR.stroke_width(2)))
            .map_err(&err)?
            .label(format!("model (AUC = {auc:.3})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], MODEL_COLOUR.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(&err)?;
        Ok(())
    })
}

/// The precision-recall curve drawn step-wise (what average precision sums) with the
/// prevalence line (the precision of any constant score).
pub fn pr_svg(curve: &PrCurve, average_precision: f64, prevalence: f64) -> Result<String, EvaluateError> {
    const CHART: &str = "pr";
    render(CHART, (520, 480), |root| {
        let err = chart_err(CHART);
        let mut chart = unit_chart(root, CHART, "Precision-recall curve", 1.02)?;
        chart
            .configure_mesh()
            .x_desc("recall")
            .y_desc("precision")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(LineSeries::new([(0.0, prevalence), (1.0, prevalence)], BASELINE_COLOUR.stroke_width(1)))
            .map_err(&err)?
            .label(format!("baseline: prevalence = {prevalence:.3}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BASELINE_COLOUR.stroke_width(1)));
        // matplotlib's drawstyle="steps-post" over the points in sklearn's order.
        let mut steps = Vec::with_capacity(curve.recall.len() * 2);
        for (k, (&r, &p)) in curve.recall.iter().zip(&curve.precision).enumerate() {
            if k > 0 {
                steps.push((r, curve.precision[k - 1]));
            }
            steps.push((r, p));
        }
        chart
            .draw_series(LineSeries::new(thin(&steps), MODEL_COLOUR.stroke_width(2)))
            .map_err(&err)?
            .label(format!("model (AP = {average_precision:.3})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], MODEL_COLOUR.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(&err)?;
        Ok(())
    })
}

/// A horizontal odds-ratio chart on a log scale, one row per bar (the first at the top). A bar
/// without an interval is drawn from 1 (no association) to the odds ratio, above 1 in blue and
/// below in orange; a bar with one is a forest-plot row: the point and its interval as a
/// whisker, coloured only when the interval excludes 1 (grey otherwise), with the figures at the
/// right. `note` is drawn instead when there is nothing to show (e.g. a random forest has no
/// coefficients).
pub fn odds_ratio_svg(bars: &[OddsRatioBar], title: &str, note: &str) -> Result<String, EvaluateError> {
    const CHART: &str = "effects";
    let positive = |v: f64| v.is_finite() && v > 0.0;
    let bars: Vec<&OddsRatioBar> = bars
        .iter()
        .filter(|b| positive(b.odds_ratio) && b.interval.is_none_or(|(l, h)| positive(l) && positive(h)))
        .collect();
    if bars.is_empty() {
        return render(CHART, (640, 120), |root| {
            let err = chart_err(CHART);
            root.draw(&Text::new(title.to_owned(), (320, 30), text_style(18, BLACK, HPos::Center))).map_err(&err)?;
            root.draw(&Text::new(note.to_owned(), (320, 70), text_style(14, BLACK, HPos::Center))).map_err(&err)?;
            Ok(())
        });
    }
    let n = bars.len();
    // The x axis is ln(odds ratio) on a linear scale, labelled with the ratios themselves at
    // round values: plotters' own log axis leaves narrow ranges (0.8 to 1.3) unlabelled.
    let ends = |b: &&OddsRatioBar| {
        let (l, h) = b.interval.unwrap_or((b.odds_ratio, b.odds_ratio));
        [b.odds_ratio.ln(), l.ln(), h.ln()]
    };
    let lo = bars.iter().flat_map(ends).fold(0.0_f64, f64::min);
    let hi = bars.iter().flat_map(ends).fold(0.0_f64, f64::max);
    let pad = ((hi - lo) * 0.08).max(0.05);
    let (lo, hi) = (lo - pad, hi + pad);
    let ticks = ratio_ticks(lo.exp(), hi.exp());
    let longest = bars.iter().map(|b| b.label.chars().count()).max().unwrap_or(0);
    let label_area = (longest as i32 * 7 + 20).clamp(80, 380);
    let figures_area = if bars.iter().any(|b| b.interval.is_some()) { 150 } else { 0 };
    let (width, height) = (label_area + 500 + figures_area, 100 + 26 * n as i32);
    render(CHART, (width as u32, height as u32), |root| {
        let err = chart_err(CHART);
        let (plot, figures) = root.split_horizontally(width - figures_area);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(label_area)
            .build_cartesian_2d(lo..hi, -0.5..(n as f64 - 0.5))
            .map_err(&err)?;
        chart.configure_mesh().disable_mesh().x_labels(0).y_labels(0).draw().map_err(&err)?;
        let grid = RGBColor(225, 225, 225);
        for &t in &ticks {
            let (x, y) = (t.ln(), -0.5);
            let line = if t == 1.0 { BLACK.stroke_width(1) } else { grid.stroke_width(1) };
            chart.draw_series([PathElement::new([(x, y), (x, n as f64 - 0.5)], line)]).map_err(&err)?;
            let (px, py) = chart.backend_coord(&(x, y));
            root.draw(&Text::new(format_ratio(t), (px, py + 14), text_style(12, BLACK, HPos::Center))).map_err(&err)?;
        }
        let (axis_mid, axis_y) = chart.backend_coord(&(f64::midpoint(lo, hi), -0.5));
        root.draw(&Text::new(
            "odds ratio (log scale; 1 = no association)",
            (axis_mid, axis_y + 34),
            text_style(13, BLACK, HPos::Center),
        ))
        .map_err(&err)?;
        let orange = RGBColor(255, 127, 14);
        for (i, bar) in bars.iter().enumerate() {
            let row = (n - 1 - i) as f64;
            let x = bar.odds_ratio.ln();
            match bar.interval {
                None => {
                    let colour = if bar.odds_ratio >= 1.0 { MODEL_COLOUR } else { orange };
                    chart
                        .draw_series([
                            PathElement::new([(0.0, row), (x, row)], colour.stroke_width(4)).into_dyn(),
                            Circle::new((x, row), 4, colour.filled()).into_dyn(),
                        ])
                        .map_err(&err)?;
                }
                Some((l, h)) => {
                    let colour = match (l > 1.0, h < 1.0) {
                        (true, _) => MODEL_COLOUR,
                        (_, true) => orange,
                        _ => BASELINE_COLOUR,
                    };
                    let (pl, ph) = (l.ln(), h.ln());
                    let (px, py) = chart.backend_coord(&(x, row));
                    chart
                        .draw_series([
                            PathElement::new([(pl, row), (ph, row)], colour.stroke_width(2)).into_dyn(),
                            PathElement::new([(pl, row - 0.2), (pl, row + 0.2)], colour.stroke_width(2)).into_dyn(),
                            PathElement::new([(ph, row - 0.2), (ph, row + 0.2)], colour.stroke_width(2)).into_dyn(),
                        ])
                        .map_err(&err)?;
                    root.draw(&Rectangle::new([(px - 4, py - 4), (px + 4, py + 4)], colour.filled())).map_err(&err)?;
                    figures
                        .draw(&Text::new(
                            format!("{:.2} ({:.2} – {:.2})", bar.odds_ratio, l, h),
                            (8, py),
                            text_style(12, BLACK, HPos::Left),
                        ))
                        .map_err(&err)?;
                }
            }
            let (px, py) = chart.backend_coord(&(lo, row));
            root.draw(&Text::new(bar.label.clone(), (px - 8, py), text_style(12, BLACK, HPos::Right))).map_err(&err)?;
        }
        Ok(())
    })
}

/// The reliability diagram: observed against mean predicted rate of the positive class per
/// probability bin (one line per set of probabilities, e.g. the model's and the calibrated
/// ones), the diagonal a perfectly calibrated model follows, and each bin's row count as a bar
/// along the bottom (the model's, scaled to the largest).
pub fn reliability_svg(
    series: &[(&str, &[crate::calibration::ReliabilityBin])],
    positive: &str,
) -> Result<String, EvaluateError> {
    const CHART: &str = "reliability";
    let colours = [MODEL_COLOUR, RGBColor(44, 160, 44), RGBColor(255, 127, 14)];
    render(CHART, (520, 500), |root| {
        let err = chart_err(CHART);
        let mut chart = unit_chart(root, CHART, "Reliability diagram", 1.02)?;
        chart
            .configure_mesh()
            .x_desc(format!("mean predicted P({positive})"))
            .y_desc(format!("observed share {positive}"))
            .light_line_style(WHITE)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(&err)?;
        if let Some((_, bins)) = series.first() {
            let most = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
            let bar = RGBColor(215, 222, 232);
            chart
                .draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
                    let h = 0.15 * b.count as f64 / most;
                    Rectangle::new([(b.lower + 0.005, 0.0), (b.upper - 0.005, h)], bar.filled())
                }))
                .map_err(&err)?
                .label("rows per bin (scaled)")
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 20, y + 4)], bar.filled()));
        }
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BASELINE_COLOUR.stroke_width(1)))
            .map_err(&err)?
            .label("perfectly calibrated")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BASELINE_COLOUR.stroke_width(1)));
        for (k, (name, bins)) in series.iter().enumerate() {
            let colour = colours[k % colours.len()];
            let points: Vec<(f64, f64)> =
                bins.iter().filter_map(|b| Some((b.mean_predicted?, b.observed_rate?))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(&err)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled()))).map_err(&err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(&err)?;
        Ok(())
    })
}

/// Round odds ratios to label between `lo` and `hi`: powers of 1-2-5 when they give at least
/// three ticks, otherwise finer steps around 1.
fn ratio_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const COARSE: [f64; 13] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];
    const FINE: [f64; 14] = [0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 4.0];
    let inside = |set: &[f64]| set.iter().copied().filter(|&t| t >= lo && t <= hi).collect::<Vec<_>>();
    let coarse = inside(&COARSE);
    if coarse.len() >= 3 { coarse } else { inside(&FINE) }
}

fn format_ratio(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 || (v * 10.0).fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{precision_recall_curve, roc_curve};

    fn sample() -> (Vec<bool>, Vec<f64>) {
        let y = vec![true, false, true, true, false, false, true, false];
        let s = vec![0.9, 0.2, 0.6, 0.4, 0.4, 0.1, 0.8, 0.7];
        (y, s)
    }

    #[test]
    fn charts_are_svg_and_byte_stable() {
        let (y, s) = sample();
        let roc = roc_curve(&y, &s).unwrap();
        let pr = precision_recall_curve(&y, &s).unwrap();
        let cm = ConfusionMatrix { tn: 30, fp: 10, fn_: 20, tp: 140 };
        let bars = vec![
            OddsRatioBar { label: "sexo: M".into(), odds_ratio: 0.8, interval: None },
            OddsRatioBar { label: "renda".into(), odds_ratio: 1.3, interval: None },
        ];
        let forest = vec![
            OddsRatioBar { label: "sexo: M vs F".into(), odds_ratio: 0.8, interval: Some((0.7, 0.9)) },
            OddsRatioBar { label: "raca: Preta vs Branca".into(), odds_ratio: 1.1, interval: Some((0.9, 1.3)) },
        ];
        let bins = crate::calibration::reliability(&y, &s, 5).unwrap();
        let draw = || {
            [
                confusion_heatmap_svg(&cm, "FALHOU", "APROVADO").unwrap(),
                roc_svg(&roc, 0.8).unwrap(),
                pr_svg(&pr, 0.8, 0.5).unwrap(),
                odds_ratio_svg(&bars, "Odds ratios", "").unwrap(),
                odds_ratio_svg(&[], "Odds ratios", "no coefficients").unwrap(),
                odds_ratio_svg(&forest, "Odds ratios with 95 % intervals", "").unwrap(),
                reliability_svg(&[("model", &bins)], "APROVADO").unwrap(),
            ]
        };
        let first = draw();
        assert_eq!(first, draw());
        for svg in &first {
            assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
            assert!(svg.trim_end().ends_with("</svg>"));
        }
        assert!(first[0].contains("0.75") && first[0].contains("n = 140") && first[0].contains("APROVADO"));
        assert!(first[1].contains("AUC = 0.800"));
        assert!(first[3].contains("sexo: M") && first[3].contains("renda"));
        assert_eq!(ratio_ticks(0.7, 1.4), vec![0.7, 0.8, 0.9, 1.0, 1.1, 1.25]);
        assert_eq!(ratio_ticks(0.15, 3.0), vec![0.2, 0.5, 1.0, 2.0]);
        assert!(first[4].contains("no coefficients"));
        assert!(first[5].contains("0.80 (0.70 – 0.90)") && first[5].contains("raca: Preta vs Branca"));
        // Excluding 1: coloured; including it: grey.
        assert!(first[5].contains("#1F77B4") || first[5].contains("#FF7F0E"), "{}", first[5]);
        assert!(first[6].contains("Reliability diagram") && first[6].contains("perfectly calibrated"));
    }

    #[test]
    fn thinning_keeps_ends_and_visible_moves() {
        let dense: Vec<(f64, f64)> = (0..=10_000).map(|i| (f64::from(i) / 10_000.0, 0.5)).collect();
        let thinned = thin(&dense);
        assert!(thinned.len() < 1100, "{}", thinned.len());
        assert_eq!(thinned.first(), Some(&(0.0, 0.5)));
        assert_eq!(thinned.last(), Some(&(1.0, 0.5)));
        assert_eq!(
            thin(&[(0.0, 0.0), (0.0, 0.5), (0.0, 0.5001), (1.0, 1.0)]),
            vec![(0.0, 0.0), (0.0, 0.5), (1.0, 1.0)]
        );
    }

    #[test]
    fn heat_colour_spans_the_scale() {
        assert_eq!(heat_colour(0.0), HEAT_LOW);
        assert_eq!(heat_colour(1.0), HEAT_HIGH);
        assert_eq!(heat_colour(7.0), HEAT_HIGH);
    }
}
