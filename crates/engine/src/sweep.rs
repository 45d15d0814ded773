//! `esteira sweep`: a grid of `-S` overrides run as one DAG, one run record per variant.
//!
//! Each variant is the pipeline with its overrides. A stage is the same in two variants when
//! its kind, params and upstream stages are (so its cache key will be): such a stage is one
//! node of the sweep's DAG, executed once; a stage that differs gets one node per distinct form,
//! named `STAGE-N`. The sweep's DAG runs through the ordinary runner (its `-j`, cache, executor
//! and failure handling: a failed node skips only what depends on it), then each variant gets a
//! run record under the ordinary stage names, tagged with the sweep ([`SweepTag`]), which
//! `runs show`, `runs compare`, `reproduce` and `export` take like any run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use esteira_core::store::CacheStore;
use esteira_core::{
    ArtifactStore, ContentHash, LocalStore, Registry, RunRecord, RunStatus, StageRecord, StageStatus, SweepTag,
};
use serde_json::Value;

use crate::EngineError;
use crate::dag::Dag;
use crate::pipeline::{Override, Pipeline, Source, StageDecl};
use crate::progress::Reporter;
use crate::runner::{RunOptions, RunOutcome, new_run_id, run};

/// Most variants one sweep may have.
pub const MAX_VARIANTS: usize = 1000;

/// One `-S STAGE.KEY=V1,V2,…` of a sweep: the param and its values (TOML texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// `stage.key[.sub]`.
    pub key: String,
    /// Each value as given (a `A..B` range expanded to its integers).
    pub values: Vec<String>,
}

impl Axis {
    /// Parses `STAGE.KEY=V1,V2,…`: values are TOML, split at top-level commas (not inside
    /// brackets, braces or quotes); `A..B` is the integers from A to B inclusive. Each value is
    /// checked as `--set` checks one.
    pub fn parse(arg: &str) -> Result<Self, EngineError> {
        let bad = |why: String| EngineError::Usage(format!("-S {}: {why}", esteira_core::excerpt(arg, 120)));
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(bad("expected STAGE.KEY=VALUE[,VALUE…]".into()));
        };
        let key = key.trim().to_owned();
        let mut values = Vec::new();
        for part in split_top_level(raw).map_err(bad)? {
            match range(&part) {
                Some(Ok((a, b))) => {
                    if b < a || b - a >= MAX_VARIANTS as i64 {
                        return Err(bad(format!(
                            "range {part}: expected A..B with A <= B and at most {MAX_VARIANTS} values"
                        )));
                    }
                    values.extend((a..=b).map(|i| i.to_string()));
                }
                Some(Err(why)) => return Err(bad(why)),
                None => values.push(part),
            }
        }
        if values.is_empty() {
            return Err(bad("no values".into()));
        }
        for v in &values {
            Override::parse(&format!("{key}={v}"))?;
        }
        let distinct: BTreeSet<&String> = values.iter().collect();
        if distinct.len() != values.len() {
            return Err(bad("a value is given twice".into()));
        }
        Ok(Self { key, values })
    }
}

/// `A..B` as integers, when the text is a range (`None`: it is not one).
fn range(s: &str) -> Option<Result<(i64, i64), String>> {
    let (a, b) = s.split_once("..")?;
    let (a, b) = (a.trim(), b.trim());
    let int = |t: &str| t.parse::<i64>().ok();
    match (int(a), int(b)) {
        (Some(a), Some(b)) => Some(Ok((a, b))),
        _ if a.chars().chain(b.chars()).all(|c| c.is_ascii_digit() || c == '-') => {
            Some(Err(format!("range {s}: expected integers A..B")))
        }
        _ => None,
    }
}

/// Splits `s` at commas outside `[]`, `{}` and quotes.
fn split_top_level(s: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if quote.is_some() || depth != 0 {
        return Err("unbalanced quotes or brackets".into());
    }
    parts.push(current.trim().to_owned());
    if parts.iter().any(String::is_empty) {
        return Err("an empty value (two commas in a row, or a trailing comma)".into());
    }
    Ok(parts)
}

/// One variant: its `STAGE.KEY=VALUE` overrides, in axis order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The overrides.
    pub sets: Vec<String>,
}

impl Variant {
    /// The swept params' values, as JSON.
    pub fn params(&self) -> Result<BTreeMap<String, Value>, EngineError> {
        self.sets
            .iter()
            .map(|s| {
                let o = Override::parse(s)?;
                Ok((format!("{}.{}", o.stage, o.path.join(".")), o.value))
            })
            .collect()
    }
}

/// The variants of `axes`: their cartesian product (the last axis varies fastest), or with
/// `zip` the i-th value of every axis together (axes of one value go with every variant).
pub fn variants(axes: &[Axis], zip: bool) -> Result<Vec<Variant>, EngineError> {
    let keys: BTreeSet<&str> = axes.iter().map(|a| a.key.as_str()).collect();
    if keys.len() != axes.len() {
        return Err(EngineError::Usage("-S: a param is swept twice".into()));
    }
    let out: Vec<Variant> = if zip {
        let lens: BTreeSet<usize> = axes.iter().map(|a| a.values.len()).filter(|&n| n > 1).collect();
        if lens.len() > 1 {
            let shown: Vec<String> = axes.iter().map(|a| format!("{} has {}", a.key, a.values.len())).collect();
            return Err(EngineError::Usage(format!(
                "--zip: the swept params need as many values each ({})",
                shown.join(", ")
            )));
        }
        let n = lens.first().copied().unwrap_or(1);
        (0..n)
            .map(|i| Variant {
                sets: axes
                    .iter()
                    .map(|a| format!("{}={}", a.key, a.values[if a.values.len() == 1 { 0 } else { i }]))
                    .collect(),
            })
            .collect()
    } else {
        let total = axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.values.len())).unwrap_or(usize::MAX);
        if total > MAX_VARIANTS {
            return Err(EngineError::Usage(format!("the grid has {total} variants; at most {MAX_VARIANTS}")));
        }
        let mut out = vec![Variant { sets: Vec::new() }];
        for a in axes {
            out = out
                .into_iter()
                .flat_map(|v| {
                    a.values.iter().map(move |x| {
                        let mut sets = v.sets.clone();
                        sets.push(format!("{}={x}", a.key));
                        Variant { sets }
                    })
                })
                .collect();
        }
        out
    };
    if out.len() > MAX_VARIANTS {
        return Err(EngineError::Usage(format!("{} variants; at most {MAX_VARIANTS}", out.len())));
    }
    Ok(out)
}

/// A sweep ready to run: the DAG of every variant's stages, and where each variant's stages are
/// in it.
pub struct Sweep {
    /// The sweep's name.
    pub name: String,
    /// The variants.
    pub variants: Vec<Variant>,
    /// The swept params and their values.
    pub axes: Vec<Axis>,
    /// The DAG of all variants, shared stages once.
    pub dag: Dag,
    /// Per variant: its stage name -> the node in [`Sweep::dag`].
    pub nodes: Vec<BTreeMap<String, String>>,
    /// Per variant: its stages in their order.
    pub orders: Vec<Vec<String>>,
}

impl Sweep {
    /// Builds the sweep of `pipeline` over `variants`: each variant's pipeline is validated (a
    /// bad value is an error naming the variant's overrides), then identical stages are merged.
    pub fn plan(
        name: String,
        pipeline: &Pipeline,
        axes: Vec<Axis>,
        variants: Vec<Variant>,
        registry: &Registry,
    ) -> Result<Self, EngineError> {
        let mut forms: BTreeMap<String, Vec<ContentHash>> = BTreeMap::new();
        let mut decls: BTreeMap<(String, ContentHash), (StageDecl, usize)> = BTreeMap::new();
        let mut variant_forms: Vec<BTreeMap<String, ContentHash>> = Vec::new();
        let mut orders = Vec::new();
        for (i, v) in variants.iter().enumerate() {
            let mut p = pipeline.clone();
            let overrides = v.sets.iter().map(|s| Override::parse(s)).collect::<Result<Vec<_>, _>>()?;
            p.apply_overrides(&overrides)?;
            let dag = Dag::build(p, registry)
                .map_err(|e| EngineError::Usage(format!("variant {} ({}): {e}", i + 1, v.sets.join(" "))))?;
            let mut sig: BTreeMap<String, ContentHash> = BTreeMap::new();
            for name in &dag.order {
                let d = &dag.nodes[name].decl;
                let inputs: BTreeMap<&String, String> = d
                    .inputs
                    .iter()
                    .map(|(k, s)| {
                        let from = match s {
                            Source::Stage { stage, output } => format!("stage:{}:{output}", sig[stage].to_hex()),
                            Source::File(f) => format!("file:{}", f.display()),
                        };
                        (k, from)
                    })
                    .collect();
                let after: Vec<String> = d.after.iter().map(|a| sig[a].to_hex()).collect();
                let form = serde_json::json!({"kind": d.kind, "params": d.params, "inputs": inputs, "after": after});
                let h = ContentHash::of_bytes(esteira_core::canonical_json(&form).as_bytes());
                sig.insert(name.clone(), h);
                let seen = forms.entry(name.clone()).or_default();
                if !seen.contains(&h) {
                    seen.push(h);
                    decls.insert((name.clone(), h), (d.clone(), i));
                }
            }
            orders.push(dag.order.clone());
            variant_forms.push(sig);
        }
        // The node name of each (stage, form): the stage's own when it has one form.
        let taken: BTreeSet<&String> = pipeline.stages.keys().collect();
        let mut node_of: BTreeMap<(String, ContentHash), String> = BTreeMap::new();
        for (stage, hs) in &forms {
            for (j, h) in hs.iter().enumerate() {
                let node = if hs.len() == 1 {
                    stage.clone()
                } else {
                    let mut n = format!("{stage}-{}", j + 1);
                    while taken.contains(&n) {
                        n = format!("{n}-sweep");
                    }
                    n
                };
                node_of.insert((stage.clone(), *h), node);
            }
        }
        let mut stages = BTreeMap::new();
        for ((stage, h), (decl, i)) in &decls {
            let rename = |s: &str| node_of[&(s.to_owned(), variant_forms[*i][s])].clone();
            let mut d = decl.clone();
            d.name.clone_from(&node_of[&(stage.clone(), *h)]);
            for src in d.inputs.values_mut() {
                if let Source::Stage { stage: up, .. } = src {
                    *up = rename(up);
                }
            }
            d.after = d.after.iter().map(|a| rename(a)).collect();
            stages.insert(d.name.clone(), d);
        }
        let mut combined = pipeline.clone();
        combined.stages = stages;
        let dag = Dag::build(combined, registry)?;
        let nodes = variant_forms
            .iter()
            .map(|sig| sig.iter().map(|(s, h)| (s.clone(), node_of[&(s.clone(), *h)].clone())).collect())
            .collect();
        Ok(Self { name, variants, axes, dag, nodes, orders })
    }

    /// How many nodes the sweep's DAG has, and how many stages its variants have in all.
    pub fn sizes(&self) -> (usize, usize) {
        (self.dag.nodes.len(), self.orders.iter().map(Vec::len).sum())
    }

    /// The tag of the sweep's own run.
    fn tag(&self) -> SweepTag {
        SweepTag {
            name: self.name.clone(),
            variant: None,
            params: self
                .axes
                .iter()
                .map(|a| {
                    let vals: Vec<Value> = a
                        .values
                        .iter()
                        .filter_map(|v| Override::parse(&format!("{}={v}", a.key)).ok().map(|o| o.value))
                        .collect();
                    (a.key.clone(), Value::Array(vals))
                })
                .collect(),
        }
    }
}

/// What [`run_sweep`] did.
pub struct SweepOutcome {
    /// The sweep's own run (all variants' stages together).
    pub run: RunOutcome,
    /// One record per variant, in variant order.
    pub variants: Vec<RunRecord>,
}

/// Runs the sweep's DAG, then writes one run record per variant (under the store lock).
/// `base_sets` are overrides every variant has (none today: every `-S` of a sweep is an axis).
pub fn run_sweep(
    sweep: Sweep,
    layers: &Arc<dyn CacheStore>,
    opts: &RunOptions,
    reporter: &Arc<Reporter>,
) -> Result<SweepOutcome, EngineError> {
    let mut opts = opts.clone();
    opts.sweep = Some(sweep.tag());
    // `--force STAGE` means every node of that stage.
    opts.force = opts.force.iter().flat_map(|f| sweep.nodes.iter().filter_map(move |m| m.get(f).cloned())).collect();
    let dag = Arc::new(sweep.dag);
    let outcome = run(&dag, layers, &opts, reporter)?;
    let store: &LocalStore = layers.local();
    let _lock = store.lock(&opts.command, opts.lock_wait)?;
    let mut records = Vec::new();
    for (i, v) in sweep.variants.iter().enumerate() {
        let mut r = variant_record(&outcome.record, &sweep.nodes[i], &sweep.orders[i]);
        r.id = new_run_id(store);
        r.overrides.clone_from(&v.sets);
        r.sweep = Some(SweepTag { name: sweep.name.clone(), variant: Some(i), params: v.params()? });
        store.run_put(&r)?;
        records.push(r);
    }
    Ok(SweepOutcome { run: outcome, variants: records })
}

/// A variant's record cut from the sweep's: its stages under their own names.
fn variant_record(all: &RunRecord, nodes: &BTreeMap<String, String>, order: &[String]) -> RunRecord {
    let back: BTreeMap<&str, &str> = nodes.iter().map(|(s, n)| (n.as_str(), s.as_str())).collect();
    let stages: BTreeMap<String, StageRecord> = order
        .iter()
        .filter_map(|s| {
            let mut rec = all.stages.get(&nodes[s])?.clone();
            for src in rec.input_sources.values_mut() {
                if let Some((up, output)) = src.split_once('.')
                    && !src.starts_with("file:")
                    && let Some(orig) = back.get(up)
                {
                    *src = format!("{orig}.{output}");
                }
            }
            Some((s.clone(), rec))
        })
        .collect();
    let ok = |s: &StageRecord| matches!(s.status, StageStatus::Ran | StageStatus::Cached);
    let status = if all.status == RunStatus::Interrupted && !stages.values().all(ok) {
        RunStatus::Interrupted
    } else if stages.values().all(ok) && stages.len() == order.len() {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    RunRecord { status, order: order.to_vec(), stages, ..all.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_split_at_top_level_commas_and_expand_ranges() {
        let a = Axis::parse("train.alpha=0.1, 1,10").unwrap();
        assert_eq!(a.values, ["0.1", "1", "10"]);
        let a = Axis::parse("segregate.seed=1..3").unwrap();
        assert_eq!(a.values, ["1", "2", "3"]);
        let a = Axis::parse("train.lof={ enabled = true, k = 10 },{ enabled = false, k = 20 }").unwrap();
        assert_eq!(a.values.len(), 2);
        let a = Axis::parse("x.y=[1, 2],\"a,b\"").unwrap();
        assert_eq!(a.values, ["[1, 2]", "\"a,b\""]);
        for bad in ["train.alpha", "train.alpha=", "train.alpha=1,,2", "x.y=[1,2", "x.y=5..1", "x.y=1,1", "alpha=1"] {
            assert!(Axis::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variants_are_the_product_or_the_zip() {
        let a = Axis::parse("a.x=1,2,3").unwrap();
        let b = Axis::parse("b.y=7,8").unwrap();
        let v = variants(&[a.clone(), b.clone()], false).unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].sets, ["a.x=1", "b.y=7"]);
        assert_eq!(v[1].sets, ["a.x=1", "b.y=8"]);
        assert!(variants(&[a.clone(), b], true).is_err(), "3 and 2 values do not zip");
        let c = Axis::parse("c.z=5").unwrap();
        let v = variants(&[a.clone(), c], true).unwrap();
        assert_eq!(
            v.iter().map(|v| v.sets.join(" ")).collect::<Vec<_>>(),
            ["a.x=1 c.z=5", "a.x=2 c.z=5", "a.x=3 c.z=5"]
        );
        assert!(variants(&[a.clone(), a], false).is_err(), "a param swept twice");
        let big = [Axis::parse("a.x=1..100").unwrap(), Axis::parse("b.y=1..11").unwrap()];
        assert!(variants(&big, false).unwrap_err().to_string().contains("1100 variants"));
    }
}
