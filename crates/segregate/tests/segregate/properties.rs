//! Property tests of the split and the folds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use esteira_segregate::{
    SegregateParams, Split, SplitOptions, group_train_test_split, split_table, stratified_group_kfold,
    stratified_kfold, train_test_split,
};
use proptest::prelude::*;

/// Labels with 1–5 classes of at least 2 rows each, in random order.
fn labels() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(2usize..60, 1..5)
        .prop_map(|counts| {
            counts.iter().enumerate().flat_map(|(c, &n)| std::iter::repeat_n(c as u8, n)).collect::<Vec<u8>>()
        })
        .prop_shuffle()
}

/// (labels, group keys): labels mostly follow the group, as enrolments follow a student.
fn grouped() -> impl Strategy<Value = (Vec<u8>, Vec<u16>)> {
    (4usize..300, 1u16..40, 2u8..4).prop_flat_map(|(n, spread, k)| {
        (prop::collection::vec((0..spread.max(2) * 4, any::<bool>(), 0..k), n), Just(k)).prop_map(|(rows, k)| {
            let groups: Vec<u16> = rows.iter().map(|r| r.0).collect();
            let labels: Vec<u8> =
                rows.iter().map(|&(g, noisy, c)| if noisy { c } else { (g % u16::from(k)) as u8 }).collect();
            (labels, groups)
        })
    })
}

fn counts(labels: &[u8]) -> BTreeMap<u8, usize> {
    let mut m = BTreeMap::new();
    for &l in labels {
        *m.entry(l).or_default() += 1;
    }
    m
}

fn check_partition(split: &Split, n: usize) -> Result<(), TestCaseError> {
    prop_assert!(split.train.windows(2).all(|w| w[0] < w[1]), "train not ascending");
    prop_assert!(split.test.windows(2).all(|w| w[0] < w[1]), "test not ascending");
    let train: BTreeSet<usize> = split.train.iter().copied().collect();
    prop_assert!(split.test.iter().all(|i| !train.contains(i)), "a row on both sides");
    let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
    all.sort_unstable();
    prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn stratified_split_is_proportional_per_class(labels in labels(), f in 0.05f64..0.95, seed: u64) {
        let opts = SplitOptions { test_fraction: f, seed, stratify: true };
        let split = train_test_split(&labels, &opts).unwrap();
        check_partition(&split, labels.len())?;
        let test_labels: Vec<u8> = split.test.iter().map(|&i| labels[i]).collect();
        let tc = counts(&test_labels);
        let mut unconstrained = true;
        for (c, n) in counts(&labels) {
            let t = tc.get(&c).copied().unwrap_or(0);
            let exact = f * n as f64;
            prop_assert!((t as f64 - exact).abs() <= 1.0 + 1e-9, "class {c}: {t} of {n} at {f}");
            prop_assert!(t >= 1 && t < n, "class {c}: {t} of {n} leaves a side empty");
            unconstrained &= exact >= 1.0 && exact <= n as f64 - 1.0;
        }
        if unconstrained {
            let exact = f * labels.len() as f64;
            prop_assert!((split.test.len() as f64 - exact).abs() <= 0.5 + 1e-9, "{} vs {exact}", split.test.len());
        }
        prop_assert_eq!(&train_test_split(&labels, &opts).unwrap(), &split, "not deterministic");
    }

    #[test]
    fn plain_split_takes_the_rounded_share(labels in labels(), f in 0.05f64..0.95, seed: u64) {
        let opts = SplitOptions { test_fraction: f, seed, stratify: false };
        let split = train_test_split(&labels, &opts).unwrap();
        check_partition(&split, labels.len())?;
        let want = ((f * labels.len() as f64).round() as usize).clamp(1, labels.len() - 1);
        prop_assert_eq!(split.test.len(), want);
    }

    #[test]
    fn grouped_split_keeps_groups_whole((labels, groups) in grouped(), f in 0.1f64..0.9, seed: u64, stratify: bool) {
        let classes = counts(&labels);
        prop_assume!(!stratify || classes.values().all(|&n| n >= 2));
        let n_groups = groups.iter().collect::<BTreeSet<_>>().len();
        prop_assume!(n_groups >= 2);
        let opts = SplitOptions { test_fraction: f, seed, stratify };
        let split = group_train_test_split(&labels, &groups, &opts).unwrap();
        check_partition(&split, labels.len())?;
        let test_groups: BTreeSet<u16> = split.test.iter().map(|&i| groups[i]).collect();
        prop_assert!(split.train.iter().all(|&i| !test_groups.contains(&groups[i])), "a group on both sides");
        prop_assert!(!split.train.is_empty() && !split.test.is_empty());
        let mut sizes = BTreeMap::new();
        for g in &groups {
            *sizes.entry(g).or_insert(0usize) += 1;
        }
        let max_group = sizes.values().copied().max().unwrap_or(1);
        let strata = if stratify { classes.len() } else { 1 };
        let exact = f * labels.len() as f64;
        prop_assert!(
            (split.test.len() as f64 - exact).abs() <= (strata * max_group) as f64 + 1.0,
            "{} test rows for {exact}", split.test.len()
        );
        prop_assert_eq!(&group_train_test_split(&labels, &groups, &opts).unwrap(), &split);
    }

    #[test]
    fn table_split_matches_the_slice_split(labels in labels(), f in 0.1f64..0.9, seed: u64, cut in 0usize..300) {
        let names: Vec<String> = labels.iter().map(|l| format!("class-{l}")).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("row", DataType::Int64, false),
            Field::new("y", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![
            Arc::new(Int64Array::from_iter_values(0..labels.len() as i64)),
            Arc::new(StringArray::from(names.clone())),
        ]).unwrap();
        let cut = cut.min(labels.len());
        let batches = vec![batch.slice(0, cut), batch.slice(cut, labels.len() - cut)];
        let params = SegregateParams { test_fraction: f, seed, ..SegregateParams::new("y") };
        let out = split_table(&schema, batches, &params).unwrap();
        let rows = |bs: &[RecordBatch]| -> Vec<usize> {
            bs.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).map(|v| v as usize).collect()
        };
        let want = train_test_split(&names, &params.options()).unwrap();
        prop_assert_eq!(rows(&out.test), want.test);
        prop_assert_eq!(rows(&out.train), want.train);
        prop_assert_eq!(out.report.rows.test as usize, out.test.iter().map(RecordBatch::num_rows).sum::<usize>());
    }

    #[test]
    fn kfold_balances_classes_and_sizes(labels in labels(), k in 2usize..6, seed: u64) {
        prop_assume!(labels.len() >= k);
        let folds = stratified_kfold(&labels, k, seed).unwrap();
        prop_assert_eq!(folds.len(), k);
        let mut seen = vec![0u8; labels.len()];
        for f in &folds {
            check_partition(&Split { train: f.train.clone(), test: f.test.clone() }, labels.len())?;
            for &i in &f.test {
                seen[i] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&s| s == 1), "a row held out twice or never");
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        for c in counts(&labels).keys() {
            let per: Vec<usize> = folds.iter().map(|f| f.test.iter().filter(|&&i| labels[i] == *c).count()).collect();
            prop_assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1, "class {c}: {per:?}");
        }
        prop_assert_eq!(stratified_kfold(&labels, k, seed).unwrap(), folds);
    }

    #[test]
    fn group_kfold_keeps_groups_whole((labels, groups) in grouped(), k in 2usize..5, seed: u64) {
        let n_groups = groups.iter().collect::<BTreeSet<_>>().len();
        prop_assume!(n_groups >= k);
        let folds = stratified_group_kfold(&labels, &groups, k, seed).unwrap();
        let mut fold_of_group: BTreeMap<u16, usize> = BTreeMap::new();
        let mut held = 0;
        for (fi, f) in folds.iter().enumerate() {
            check_partition(&Split { train: f.train.clone(), test: f.test.clone() }, labels.len())?;
            held += f.test.len();
            for &i in &f.test {
                let prev = fold_of_group.insert(groups[i], fi);
                prop_assert!(prev.is_none() || prev == Some(fi), "group {} in two folds", groups[i]);
            }
        }
        prop_assert_eq!(held, labels.len());
        prop_assert!(folds.iter().all(|f| !f.test.is_empty()), "an empty fold");
        prop_assert_eq!(stratified_group_kfold(&labels, &groups, k, seed).unwrap(), folds);
    }
}
