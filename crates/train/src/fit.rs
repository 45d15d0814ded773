//! Training end to end: features, outlier removal, model selection by cross-validation,
//! threshold choice on a held-out split, final fit.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::design::Design;
use crate::estimator::{Estimator, cores};
use crate::features::FeatureSpec;
use crate::lbfgs::balanced_class_weights;
use crate::model::{FORMAT_VERSION, Model, TrainingSummary};
use crate::params::{Balance, CvMetric, GridPoint, LofMode, Solver, ThresholdRule, TrainParams};
use crate::{TrainError, columns, lof, scores, split};
use esteira_core::{MAX_EXCERPT_CHARS, excerpt};

/// Cross-validation scores of one grid point with one LOF setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvPoint {
    /// The hyper-parameters.
    pub point: GridPoint,
    /// Whether LOF removed outliers from each fold's training rows.
    pub lof: bool,
    /// The score on each fold, in fold order.
    pub scores: Vec<f64>,
    /// Mean of `scores`.
    pub mean: f64,
    /// Population standard deviation of `scores`.
    pub std: f64,
}

/// The `cv` output: every grid point's fold scores and which one won.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// The metric compared.
    pub metric: CvMetric,
    /// Number of folds.
    pub folds: usize,
    /// Rows in each fold.
    pub fold_rows: Vec<usize>,
    /// One entry per grid point and LOF setting (LOF first), grid points in declaration order.
    pub points: Vec<CvPoint>,
    /// Index in `points` of the chosen one (highest mean; the first on ties).
    pub selected: usize,
}

/// What [`train`] returns.
#[derive(Debug)]
pub struct Trained {
    /// The model artifact.
    pub model: Model,
    /// The cross-validation scores.
    pub cv: CvReport,
    /// Metrics for the run record (counts and scores).
    pub metrics: BTreeMap<String, f64>,
}

/// What cross-validation chooses among.
#[derive(Debug, Clone)]
struct Candidate {
    point: GridPoint,
    lof: bool,
}

struct Labels {
    y: Vec<bool>,
    negative: String,
}

fn read_labels(params: &TrainParams, batches: &[RecordBatch]) -> Result<Labels, TrainError> {
    let target = &params.target;
    let mut y = Vec::with_capacity(columns::row_count(batches));
    let mut negative = params.negative_class.clone();
    columns::for_each_text(batches, target, |row, v| {
        let bad = |value: &str, message: String| TrainError::BadValue {
            column: target.clone(),
            row: row + 1,
            value: value.to_owned(),
            message,
        };
        let v = v.ok_or_else(|| bad("", "the outcome is missing".into()))?;
        if v == params.positive_class {
            y.push(true);
        } else if let Some(neg) = &negative {
            if v != neg {
                return Err(bad(
                    v,
                    format!(
                        "the outcome must be `{}` or `{}` (map outcomes in preprocess)",
                        params.positive_class,
                        excerpt(neg, MAX_EXCERPT_CHARS)
                    ),
                ));
            }
            y.push(false);
        } else {
            negative = Some(v.to_owned());
            y.push(false);
        }
        Ok(())
    })?;
    let negative = match negative {
        Some(n) if y.iter().any(|&l| !l) => n,
        _ => {
            return Err(TrainError::Data(format!(
                "column `{target}` holds only the positive class `{}`: nothing to learn",
                params.positive_class
            )));
        }
    };
    if !y.iter().any(|&l| l) {
        return Err(TrainError::Data(format!(
            "column `{target}` never holds the positive class `{}` (positive_class param)",
            params.positive_class
        )));
    }
    Ok(Labels { y, negative })
}

fn read_groups(params: &TrainParams, batches: &[RecordBatch], n: usize) -> Result<Vec<usize>, TrainError> {
    let Some(group) = &params.group else {
        return Ok((0..n).collect());
    };
    // Ids by first appearance: deterministic; the map is only for lookup.
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(n);
    columns::for_each_text(batches, group, |row, v| {
        let v = v.ok_or_else(|| TrainError::BadValue {
            column: group.clone(),
            row: row + 1,
            value: String::new(),
            message: "the group key is missing".into(),
        })?;
        let next = ids.len();
        out.push(*ids.entry(v.to_owned()).or_insert(next));
        Ok(())
    })?;
    Ok(out)
}

fn score(metric: CvMetric, y: &[bool], p: &[f64], minority_positive: bool) -> f64 {
    match metric {
        CvMetric::RocAuc => scores::roc_auc(y, p),
        CvMetric::BalancedAccuracy => scores::balanced_accuracy(y, p, 0.5),
        CvMetric::MinorityF1 => scores::f1(y, p, 0.5, minority_positive),
    }
}

fn pick<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| v[i]).collect()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}

/// Fits `point` on the balanced `rows` of `design` (from `start`, see
/// [`Estimator::fit_rows`]) and returns the fit and P(positive) for `eval_rows`.
#[allow(clippy::too_many_arguments)]
fn fit_and_score(
    params: &TrainParams,
    point: &GridPoint,
    design: &Design,
    y: &[bool],
    rows: &[usize],
    eval_rows: &[usize],
    stream: u64,
    threads: usize,
    start: Option<&[f64]>,
) -> Result<(Estimator, Vec<f64>), TrainError> {
    let balance = params.balance.effective(point, params.logistic.solver);
    let fit_rows = split::balanced_rows(rows, y, balance, &mut split::rng(params.seed, stream));
    let seed = params.seed.wrapping_add(stream);
    let weighted = balance == Balance::Weight;
    let est = Estimator::fit_rows(point, &params.logistic, design, &fit_rows, y, weighted, seed, threads, start)?;
    let p = est.predict_rows(design, eval_rows)?;
    Ok((est, p))
}

/// Trains a model on `batches` (the training split). `data_hash` identifies the training data
/// inside the artifact (the stage passes the input's content hash). The work runs on rayon's
/// thread pool (the global one, or the one this is called in); the result is the same bits
/// whatever its size.
pub fn train(params: &TrainParams, batches: &[RecordBatch], data_hash: &str) -> Result<Trained, TrainError> {
    params.validate()?;
    let n = columns::row_count(batches);
    if n == 0 {
        return Err(TrainError::Data("the training table has no rows".into()));
    }
    let Labels { y, negative } = read_labels(params, batches)?;
    let groups = read_groups(params, batches, n)?;
    let features = FeatureSpec::fit(params, batches)?;
    let design = Design::new(&features.encode(batches)?);
    tracing::debug!(rows = n, patterns = design.patterns(), "distinct feature rows");
    let mut metrics = BTreeMap::new();

    let pos = y.iter().filter(|&&l| l).count();
    let minority_positive = pos * 2 < n;
    for (class, is_pos) in [(&params.positive_class, true), (&negative, false)] {
        let mut gs: Vec<usize> = (0..n).filter(|&i| y[i] == is_pos).map(|i| groups[i]).collect();
        gs.sort_unstable();
        gs.dedup();
        if gs.len() < params.cv.folds {
            return Err(TrainError::Data(format!(
                "class `{}` has {} {}; cv.folds = {} needs at least that many",
                excerpt(class, MAX_EXCERPT_CHARS),
                gs.len(),
                if params.group.is_some() { "groups" } else { "rows" },
                params.cv.folds
            )));
        }
    }
    // Outliers: LOF over the scaled numeric columns only (the one-hot columns are not a space
    // where density means anything), always fitted on the rows a model is then fitted on.
    let n_num = features.numeric.len();
    let lof_on = |rows: &[usize]| -> Vec<usize> {
        if n_num == 0 {
            return rows.to_vec();
        }
        let lof_scores =
            lof::lof_scores_at(design.lof_points(), n_num, |r| design.lof_point_of(rows[r]), rows.len(), params.lof.k);
        rows.iter().zip(&lof_scores).filter(|(_, s)| **s <= params.lof.max_score).map(|(&i, _)| i).collect()
    };
    let all: Vec<usize> = (0..n).collect();

    // Model selection: the same stratified, grouped folds for every candidate. A fold is scored
    // on all its rows: new rows are never filtered, so neither are held-out ones.
    let folds = params.cv.folds;
    let parts = split::assign_parts(&y, &groups, &vec![1.0 / folds as f64; folds], &mut split::rng(params.seed, 1));
    let fold_rows: Vec<Vec<usize>> = (0..folds).map(|f| (0..n).filter(|&i| parts[i] == f).collect()).collect();
    // LOF measures density over the numeric columns: without any there is nothing to remove.
    let lof_candidates = if n_num == 0 { &[false][..] } else { params.lof.enabled.candidates() };
    // Training rows of each (LOF setting, fold), LOF refitted on each fold's own training rows.
    let fold_train: Vec<Vec<usize>> = (0..lof_candidates.len() * folds)
        .into_par_iter()
        .map(|t| {
            let (lof, fold) = (lof_candidates[t / folds], t % folds);
            let rows: Vec<usize> = (0..n).filter(|&i| parts[i] != fold).collect();
            if lof { lof_on(&rows) } else { rows }
        })
        .collect();
    let points = params.grid_points();
    let candidates: Vec<Candidate> = lof_candidates
        .iter()
        .flat_map(|&lof| points.iter().map(move |p| Candidate { point: p.clone(), lof }))
        .collect();
    let label = |c: &Candidate| match params.lof.enabled {
        LofMode::Cv => format!("{}_{}", c.point.label(), if c.lof { "lof" } else { "no_lof" }),
        LofMode::On | LofMode::Off => c.point.label(),
    };
    let resampled: Vec<String> = points
        .iter()
        .filter(|p| params.balance.effective(p, params.logistic.solver) != params.balance)
        .map(GridPoint::label)
        .collect();
    if !resampled.is_empty() {
        tracing::info!(
            points = ?resampled,
            solver = params.logistic.solver.as_str(),
            "balance = \"weight\" needs our L-BFGS logistic regression: these grid points oversample instead"
        );
    }
    // One task per (LOF setting, fold), independent of the others. Inside it the grid points
    // run in declaration order, and each logistic regression fitted by our L-BFGS starts from
    // the previous one's solution on the same rows (a warm start along the alpha path: the
    // optima of nearby alphas are close, so later fits take a few iterations).
    let warm =
        |p: &GridPoint| matches!(p, GridPoint::LogisticRegression { .. }) && params.logistic.solver == Solver::Lbfgs;
    let chains: Vec<Vec<Result<(f64, bool), TrainError>>> = (0..lof_candidates.len() * folds)
        .into_par_iter()
        .map(|chain| {
            let fold = chain % folds;
            let train_rows = &fold_train[chain];
            let y_fold = pick(&y, &fold_rows[fold]);
            let mut start: Option<Vec<f64>> = None;
            let mut out = Vec::with_capacity(points.len());
            for point in &points {
                let from = if warm(point) { start.as_deref() } else { None };
                let fitted = fit_and_score(
                    params,
                    point,
                    &design,
                    &y,
                    train_rows,
                    &fold_rows[fold],
                    1000 + fold as u64,
                    cores(),
                    from,
                );
                out.push(fitted.and_then(|(est, probs)| {
                    if warm(point) {
                        start = est.parameters();
                    }
                    let fold_score = score(params.cv.metric, &y_fold, &probs, minority_positive);
                    if fold_score.is_nan() {
                        return Err(TrainError::Data(format!(
                            "fold {} holds a single class: use fewer cv.folds",
                            fold + 1
                        )));
                    }
                    Ok((fold_score, est.not_converged()))
                }));
            }
            out
        })
        .collect();
    // Back to (candidate, fold) order: candidates are (LOF setting, grid point).
    let mut chains: Vec<std::vec::IntoIter<Result<(f64, bool), TrainError>>> =
        chains.into_iter().map(Vec::into_iter).collect();
    let results: Vec<Result<(f64, bool), TrainError>> = (0..candidates.len() * folds)
        .map(|task| {
            let (cand, fold) = (task / folds, task % folds);
            let chain = (cand / points.len()) * folds + fold;
            chains[chain].next().unwrap_or_else(|| Err(TrainError::Data("a cross-validation fit is missing".into())))
        })
        .collect();
    let mut cv_points = Vec::with_capacity(candidates.len());
    let mut results = results.into_iter();
    let mut not_converged = 0usize;
    for cand in &candidates {
        let fold_results = results.by_ref().take(folds).collect::<Result<Vec<(f64, bool)>, TrainError>>()?;
        not_converged += fold_results.iter().filter(|r| r.1).count();
        let scores_: Vec<f64> = fold_results.into_iter().map(|r| r.0).collect();
        let (mean, std) = mean_std(&scores_);
        metrics.insert(format!("cv_{}_{}", label(cand), params.cv.metric.as_str()), mean);
        cv_points.push(CvPoint { point: cand.point.clone(), lof: cand.lof, scores: scores_, mean, std });
    }
    let mut selected = 0;
    for (i, c) in cv_points.iter().enumerate() {
        if c.mean > cv_points[selected].mean {
            selected = i;
        }
    }
    let Candidate { point: best, lof: use_lof } = candidates[selected].clone();
    tracing::info!(selected = %label(&candidates[selected]), score = cv_points[selected].mean, "grid point chosen");
    let filter = |rows: Vec<usize>| if use_lof { lof_on(&rows) } else { rows };

    // Threshold: fit on part of the training rows, sweep on the held-out rest. The final model's
    // rows (every inlier) are found at the same time.
    let vf = params.validation_fraction;
    let val_parts = split::assign_parts(&y, &groups, &[1.0 - vf, vf], &mut split::rng(params.seed, 2));
    let val_rows: Vec<usize> = (0..n).filter(|&i| val_parts[i] == 1).collect();
    let y_val = pick(&y, &val_rows);
    if !(y_val.iter().any(|&l| l) && y_val.iter().any(|&l| !l)) {
        return Err(TrainError::Data(
            "the threshold validation split holds a single class: raise validation_fraction".into(),
        ));
    }
    let (fit_rows, inliers) = rayon::join(|| filter((0..n).filter(|&i| val_parts[i] == 0).collect()), || filter(all));
    // The threshold fit and the final fit are independent too.
    let balance = params.balance.effective(&best, params.logistic.solver);
    let final_fit = || {
        let all_rows = split::balanced_rows(&inliers, &y, balance, &mut split::rng(params.seed, 3));
        let estimator = Estimator::fit_rows(
            &best,
            &params.logistic,
            &design,
            &all_rows,
            &y,
            balance == Balance::Weight,
            params.seed.wrapping_add(3),
            cores(),
            None,
        )?;
        Ok::<_, TrainError>((all_rows.len(), estimator))
    };
    let (threshold_fit, final_fit) =
        rayon::join(|| fit_and_score(params, &best, &design, &y, &fit_rows, &val_rows, 2000, cores(), None), final_fit);
    let (threshold_est, p_val) = threshold_fit?;
    let (rows_fitted, estimator) = final_fit?;
    not_converged += usize::from(threshold_est.not_converged());
    let threshold = match params.threshold {
        ThresholdRule::Fixed => 0.5,
        ThresholdRule::BalancedAccuracy => {
            scores::best_threshold(&y_val, &p_val, |tp, fp, tn, fn_| {
                f64::midpoint(tp / (tp + fn_).max(1.0), tn / (tn + fp).max(1.0))
            })
            .0
        }
        ThresholdRule::MinorityF1 => {
            scores::best_threshold(&y_val, &p_val, |tp, fp, tn, fn_| {
                let (hits, false_alarms, misses) = if minority_positive { (tp, fp, fn_) } else { (tn, fn_, fp) };
                2.0 * hits / (2.0 * hits + false_alarms + misses).max(1.0)
            })
            .0
        }
    };
    let outliers_removed = n - inliers.len();
    tracing::info!(rows = n, lof = use_lof, outliers_removed, "local outlier factor applied");
    let y_in = pick(&y, &inliers);
    let pos_in = y_in.iter().filter(|&&l| l).count();
    let class_counts =
        BTreeMap::from([(params.positive_class.clone(), pos_in), (negative.clone(), y_in.len() - pos_in)]);
    metrics.insert("threshold".into(), threshold);
    metrics.insert("validation_roc_auc".into(), scores::roc_auc(&y_val, &p_val));
    metrics.insert("validation_balanced_accuracy".into(), scores::balanced_accuracy(&y_val, &p_val, threshold));
    metrics.insert("validation_minority_f1".into(), scores::f1(&y_val, &p_val, threshold, minority_positive));

    if balance == Balance::Weight {
        let [neg, pos] = balanced_class_weights(&y_in);
        metrics.insert("class_weight_positive".into(), pos);
        metrics.insert("class_weight_negative".into(), neg);
    }
    not_converged += usize::from(estimator.not_converged());
    if points.iter().any(|p| matches!(p, GridPoint::LogisticRegression { .. })) {
        // Every logistic fit of the run (CV folds, threshold split, final) that stopped short.
        metrics.insert("fits_not_converged".into(), not_converged as f64);
    }
    if let Some((_, Some(c))) = estimator.solver() {
        metrics.insert("final_fit_iterations".into(), c.iterations as f64);
        metrics.insert("final_fit_converged".into(), f64::from(u8::from(c.stop.converged())));
    }
    let p_train = estimator.predict_rows(&design, &inliers)?;
    metrics.insert("train_roc_auc".into(), scores::roc_auc(&y_in, &p_train));
    metrics.insert("train_balanced_accuracy".into(), scores::balanced_accuracy(&y_in, &p_train, threshold));
    metrics.insert(format!("cv_best_{}", params.cv.metric.as_str()), cv_points[selected].mean);
    metrics.insert("rows".into(), n as f64);
    metrics.insert("outliers_removed".into(), outliers_removed as f64);
    metrics.insert("lof_applied".into(), f64::from(u8::from(use_lof)));
    metrics.insert("cv_folds".into(), folds as f64);
    metrics.insert("rows_fitted".into(), rows_fitted as f64);
    metrics.retain(|_, v| v.is_finite());

    let feature_names = features.feature_names().into_iter().map(|f| f.0).collect();
    let model = Model {
        format_version: FORMAT_VERSION,
        target: params.target.clone(),
        positive_class: params.positive_class.clone(),
        negative_class: negative,
        group: params.group.clone(),
        features,
        feature_names,
        estimator,
        threshold,
        threshold_rule: params.threshold,
        training: TrainingSummary {
            data_hash: data_hash.to_owned(),
            rows: n,
            outliers_removed,
            class_counts,
            selected: best,
            cv_metric: params.cv.metric,
            seed: params.seed,
            metrics: metrics.clone(),
        },
    };
    let cv = CvReport {
        metric: params.cv.metric,
        folds,
        fold_rows: fold_rows.iter().map(Vec::len).collect(),
        points: cv_points,
        selected,
    };
    Ok(Trained { model, cv, metrics })
}
