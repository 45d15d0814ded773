#!/usr/bin/env python3
"""The UFRN study as a pandas + scikit-learn script: the baseline esteira is timed against.

It does the work of esteira's DAG "the way the original study did", in one process, reading the
same pipeline file so that it follows the DAG's params rather than a copy of them:

    read      the four `;`-separated portal CSVs (pd.read_csv, dtypes inferred as pandas does)
    merge     the merge stage's params: base ⋈ each join (`how`, `on`, `columns`, `rename`, and
              when declared `aggregate` (one row per key: `any` OR-ed, `first`, the rest checked
              to hold one value per key) and `validate` (pandas' merge(validate=…))), then
              drop_duplicates; rows with a blank key never match (pandas would match NaN to NaN)
    preprocess the preprocess stage's steps: select, cast (int64/float64/bool, on_error
              error/null/drop), filter (eq/ne/in/not_in/is_null/is_not_null), map (unmapped
              error/keep/drop), fill
    split     the segregate stage's params: test_fraction, seed, stratified on the target and,
              when `group` is set, grouped like esteira's: each group (student) takes its
              majority class (ties: the smallest), and train_test_split splits the *groups*
              stratified on it (so 30 % of students, not exactly 30 % of rows)
    train     the train stage's logistic-regression grid (C = 1/alpha, as esteira's alpha is the L2
              strength on the summed log loss), class_weight="balanced", median imputation +
              StandardScaler, most-frequent imputation + one-hot (scripts/sklearn_reference.py's
              feature code and model), GridSearchCV with `cv.folds` folds scored by `cv.metric`
              (grouped folds built the same way as the split when `group` is set), refit on the
              whole training split
    evaluate  test ROC AUC and balanced accuracy at 0.5 (plus the majority baseline); bootstrap
              intervals only with --bootstrap N (default 0: none)

What it does NOT do that esteira's stages do: Great Expectations checks, the quartile bins beside
the scaled numbers (`numeric_bins`), LOF (`lof`), a tuned threshold, permutation importance, odds
ratios, charts, the HTML report, and anything on disk but this script's JSON.

Prints one JSON object (phase -> wall_s, cpu_s, peak_rss_mb, plus rows and metrics) on stdout, for
scripts/bench_compare.py; a readable summary goes to stderr. CPU time is the process's (all
threads); a phase's peak RSS is the VmHWM after resetting it at the phase start (Linux), so phases
are measured separately.

    python3 scripts/pandas_baseline.py --data DIR [-c esteira.toml] [--n-jobs 1] [--bootstrap 0]
"""

import argparse
import json
import os
import sys
import time

T_START = time.perf_counter()
CPU_START = time.process_time()

import tomllib  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree
import sklearn_reference as ref  # noqa: E402

TRUE_TEXT = {"true", "t", "True"}
FALSE_TEXT = {"false", "f", "False"}


# ── measuring ───────────────────────────────────────────────────────────────────────────────

def _vm(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Phases:
    """Wall, CPU and peak RSS of each phase, in order."""

    def __init__(self):
        self.out = {"startup": {"wall_s": time.perf_counter() - T_START,
                                "cpu_s": time.process_time() - CPU_START,
                                "peak_rss_mb": _vm("VmHWM:")}}
        self.peak_reset = True

    def run(self, name, fn, *args):
        self.peak_reset = _reset_peak() and self.peak_reset
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn(*args)
        self.out[name] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                          "peak_rss_mb": _vm("VmHWM:")}
        print(f"  {name:<11} {self.out[name]['wall_s']:8.2f} s wall {self.out[name]['cpu_s']:8.2f} s CPU "
              f"{self.out[name]['peak_rss_mb']:8.0f} MB peak", file=sys.stderr)
        return result


# ── read + merge ────────────────────────────────────────────────────────────────────────────

def fetch_paths(doc: dict, pipeline_dir: Path, data: Path | None) -> dict:
    """Merge input name -> CSV path, through the fetch stages' `file:` URLs (or --data DIR)."""
    merge = doc["stages"]["merge"]
    paths = {}
    for name, source in merge["inputs"].items():
        stage = source.split(".", 1)[0]
        url = doc["stages"][stage]["params"]["url"]
        if not url.startswith("file:"):
            raise SystemExit(f"fetch stage `{stage}` reads {url}: the baseline reads local files only")
        path = Path(url[len("file:"):])
        paths[name] = (data / path.name) if data else (pipeline_dir / path)
    return paths


def read_tables(paths: dict, params: dict) -> dict:
    sep = params.get("delimiter", ";")
    encoding = params.get("encoding", "utf-8")
    tables = {}
    for name, path in paths.items():
        if encoding == "auto":
            try:
                tables[name] = pd.read_csv(path, sep=sep, encoding="utf-8")
            except UnicodeDecodeError:
                tables[name] = pd.read_csv(path, sep=sep, encoding="cp1252")
        else:
            tables[name] = pd.read_csv(path, sep=sep, encoding="cp1252" if encoding == "windows-1252" else encoding)
    return tables


def as_bool(s: pd.Series) -> pd.Series:
    """Text true/false/t/f/True/False (or booleans) as a nullable boolean; other text fails."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    text = s.astype(object)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    is_true, is_false = text.isin(TRUE_TEXT) | (text == True), text.isin(FALSE_TEXT) | (text == False)  # noqa: E712
    out[is_true], out[is_false] = True, False
    bad = s.notna() & ~is_true & ~is_false
    if bad.any():
        raise ValueError(f"column {s.name}: {int(bad.sum())} values are not booleans, e.g. {s[bad].iloc[0]!r}")
    return out


def aggregate(t: pd.DataFrame, on: list, spec: dict, name: str) -> pd.DataFrame:
    """One row per key, as esteira's merge `aggregate`: `any` OR-ed, `first` from the first row,
    every other column checked to hold one value per key; null keys kept as they are."""
    null_key = t[on].isna().any(axis=1)
    keyed, loose = t[~null_key], t[null_key]
    g = keyed.groupby(on, sort=False)
    out = g.nth(0)
    any_cols, first_cols = spec.get("any", []), spec.get("first", [])
    others = [c for c in t.columns if c not in on and c not in any_cols and c not in first_cols]
    if others:
        counts = g[others].nunique(dropna=False).max()
        bad = counts[counts > 1]
        if len(bad):
            raise ValueError(f"aggregate of `{name}`: columns {list(bad.index)} hold several values per key")
    if any_cols:
        flags = keyed[any_cols].apply(as_bool).groupby([keyed[k] for k in on], sort=False).any()
        out = out.set_index(on)
        out[any_cols] = flags.loc[out.index].to_numpy()
        out = out.reset_index()[list(t.columns)]
    return pd.concat([out, loose], ignore_index=True)


def merge_tables(tables: dict, params: dict) -> pd.DataFrame:
    df = tables[params["base"]]
    if params.get("base_columns"):
        df = df[params["base_columns"]]
    df = df.rename(columns=params.get("base_rename", {}))
    for j in params.get("joins", []):
        t, rename, on = tables[j["input"]], j.get("rename", {}), j["on"]
        if j.get("columns"):
            back = {new: old for old, new in rename.items()}
            keys = [back.get(k, k) for k in on]
            t = t[list(dict.fromkeys(j["columns"] + keys))]
        t = t.rename(columns=rename)
        if "aggregate" in j:
            t = aggregate(t, on, j["aggregate"], j["input"])
        t = t.dropna(subset=on)  # esteira never matches a blank key; pandas would match NaN to NaN
        # Non-key columns both sides have come once, from the left (as esteira's key columns do).
        t = t[[c for c in t.columns if c in on or c not in df.columns]]
        kw = {"validate": j["validate"].replace("_to_", ":").replace("one", "1").replace("many", "m")} \
            if j.get("validate") else {}
        df = df.merge(t, on=on, how=j.get("how", "inner"), **kw)
    if params.get("drop_duplicates", True):
        df = df.drop_duplicates(ignore_index=True)
    return df


# ── preprocess ──────────────────────────────────────────────────────────────────────────────

def cast(df: pd.DataFrame, cols: dict) -> pd.DataFrame:
    drop = pd.Series(False, index=df.index)
    for col, spec in cols.items():
        to, on_error = (spec, "error") if isinstance(spec, str) else (spec["type"], spec.get("on_error", "error"))
        s = df[col]
        if to == "bool":
            if on_error != "error":
                raise SystemExit(f"cast of `{col}`: on_error = {on_error} for bool is not in the baseline")
            df[col] = as_bool(s)
            continue
        num = pd.to_numeric(s, errors="coerce")  # no decimal comma, unlike esteira's parser
        if to == "int64":
            num = num.where(num == np.floor(num))
            out = num.astype("Int64")
        elif to == "float64":
            out = num.astype("float64")
        else:
            raise SystemExit(f"cast of `{col}` to {to} is not in the baseline")
        failed = s.notna() & num.isna()
        if failed.any() and on_error == "error":
            raise ValueError(f"cast of `{col}` to {to}: {int(failed.sum())} values do not convert, "
                             f"e.g. {s[failed].iloc[0]!r}")
        if on_error == "drop":
            drop |= failed
        df[col] = out
    return df[~drop] if drop.any() else df


def preprocess(df: pd.DataFrame, steps: list) -> pd.DataFrame:
    for step in steps:
        (kind, spec), = step.items()
        if kind == "select":
            df = df[spec].copy()
        elif kind == "cast":
            df = cast(df, spec)
        elif kind == "filter":
            s = df[spec["column"]]
            ops = {k: v for k, v in spec.items() if k != "column"}
            (op, v), = ops.items()
            keep = {"eq": lambda: s == v, "ne": lambda: (s != v) | s.isna(), "in": lambda: s.isin(v),
                    "not_in": lambda: ~s.isin(v), "is_null": lambda: s.isna(),
                    "is_not_null": lambda: s.notna()}[op]()
            df = df[keep.fillna(False).astype(bool)]
        elif kind == "map":
            col, unmapped = spec["column"], spec.get("unmapped", "error")
            mapped = df[col].map(spec["values"])
            missing = mapped.isna()
            if missing.any():
                if unmapped == "error":
                    raise ValueError(f"map of `{col}`: unmapped values "
                                     f"{df.loc[missing, col].value_counts(dropna=False).head(5).to_dict()}")
                if unmapped == "keep":
                    mapped = mapped.where(~missing, df[col])
                else:
                    df, mapped = df[~missing], mapped[~missing]
            df = df.assign(**{col: mapped})
        elif kind == "fill":
            df = df.fillna(spec)
        else:
            raise SystemExit(f"preprocess step `{kind}` is not in the baseline")
    return df.reset_index(drop=True)


# ── split ───────────────────────────────────────────────────────────────────────────────────

def group_labels(y: pd.Series, groups: pd.Series) -> pd.Series:
    """Each group's majority class (ties: the smallest class), as esteira's grouped split."""
    counts = pd.crosstab(groups, y)
    return counts.idxmax(axis=1)  # idxmax takes the first column of a tie; columns are sorted


def split(df: pd.DataFrame, p: dict):
    target, frac, seed = p["target"], p.get("test_fraction", 0.3), p.get("seed", 0)
    if p.get("group"):
        labels = group_labels(df[target], df[p["group"]])
        _, test_groups = train_test_split(labels.index.to_numpy(), test_size=frac, random_state=seed,
                                          stratify=labels.to_numpy() if p.get("stratify", True) else None)
        is_test = df[p["group"]].isin(test_groups).to_numpy()
        return df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)
    return train_test_split(df, test_size=frac, random_state=seed,
                            stratify=df[target] if p.get("stratify", True) else None)


def cv_folds(y: np.ndarray, groups, k: int, seed: int):
    """k folds; with groups, the groups are dealt stratified on their majority class."""
    if groups is None:
        return StratifiedKFold(k, shuffle=True, random_state=seed)
    labels = group_labels(pd.Series(y), pd.Series(groups))
    ids = labels.index.to_numpy()
    folds = []
    for _, held in StratifiedKFold(k, shuffle=True, random_state=seed).split(ids, labels.to_numpy()):
        mask = pd.Series(groups).isin(ids[held]).to_numpy()
        folds.append((np.flatnonzero(~mask), np.flatnonzero(mask)))
    return folds


# ── train + evaluate ────────────────────────────────────────────────────────────────────────

def train(train_df: pd.DataFrame, p: dict, n_jobs: int):
    target, positive = p.get("target", "descricao"), p.get("positive_class", "APROVADO")
    alphas = [a for g in p.get("grid", [{"algorithm": "logistic_regression", "alpha": [0.1, 1.0, 10.0]}])
              if g["algorithm"] == "logistic_regression" for a in g.get("alpha", [0.1, 1.0, 10.0])]
    logistic = p.get("logistic", {})
    cv = p.get("cv", {})
    x = ref.features(train_df, p)
    y = (train_df[target] == positive).to_numpy()
    groups = train_df[p["group"]].to_numpy() if p.get("group") else None
    search = GridSearchCV(
        ref.reference_pipeline(p, logistic.get("max_iter", 1000), logistic.get("tol", 1e-4)),
        {"model__C": [1.0 / a if a > 0 else 1e12 for a in alphas]},
        scoring=cv.get("metric", "roc_auc"), cv=cv_folds(y, groups, cv.get("folds", 5), p.get("seed", 0)),
        n_jobs=n_jobs, refit=True)
    search.fit(x, y)
    return search


def bootstrap(y, proba, pred, n: int, seed: int):
    rng = np.random.default_rng(seed)
    auc, bal = [], []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if y[i].all() or not y[i].any():
            continue
        auc.append(roc_auc_score(y[i], proba[i]))
        bal.append(balanced_accuracy_score(y[i], pred[i]))
    q = lambda v: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]  # noqa: E731
    return {"roc_auc_95": q(auc), "balanced_accuracy_95": q(bal)}


def evaluate(search, test_df: pd.DataFrame, p: dict, train_pos_share: float, n_boot: int):
    target, positive = p.get("target", "descricao"), p.get("positive_class", "APROVADO")
    x = ref.features(test_df, p)
    y = (test_df[target] == positive).to_numpy()
    model = search.best_estimator_
    proba = model.predict_proba(x)[:, list(model.classes_).index(True)]
    pred = proba >= 0.5
    out = {"roc_auc": float(roc_auc_score(y, proba)), "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
           "majority_balanced_accuracy": float(balanced_accuracy_score(y, np.full(len(y), train_pos_share >= 0.5)))}
    if n_boot:
        out.update(bootstrap(y, proba, pred, n_boot, 42))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default="esteira.toml", type=Path, help="the pipeline file (its params)")
    ap.add_argument("--data", type=Path, help="directory of the four CSVs (default: the fetch stages' file: URLs)")
    ap.add_argument("--n-jobs", type=int, default=1, help="GridSearchCV's n_jobs (default 1, sklearn's default)")
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples of the test metrics (default 0)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Found unknown categories")

    with open(args.config, "rb") as f:
        doc = tomllib.load(f)
    stages = doc["stages"]
    merge_p, steps = stages["merge"]["params"], stages["preprocess"]["params"]["steps"]
    seg_p, train_p = stages["segregate"]["params"], stages["train"]["params"]

    ph = Phases()
    print("pandas + scikit-learn baseline:", file=sys.stderr)
    tables = ph.run("read", read_tables, fetch_paths(doc, args.config.resolve().parent, args.data), merge_p)
    rows = {f"read_{k}": len(v) for k, v in tables.items()}
    merged = ph.run("merge", merge_tables, tables, merge_p)
    del tables
    rows["merged"] = len(merged)
    clean = ph.run("preprocess", preprocess, merged, steps)
    del merged
    rows["clean"] = len(clean)
    train_df, test_df = ph.run("split", split, clean, seg_p)
    del clean
    rows.update(train=len(train_df), test=len(test_df))
    search = ph.run("train", train, train_df, train_p, args.n_jobs)
    pos = float((train_df[train_p.get("target", "descricao")] == train_p.get("positive_class", "APROVADO")).mean())
    metrics = ph.run("evaluate", evaluate, search, test_df, train_p, pos, args.bootstrap)
    cv = {f"C={c:g}": float(s) for c, s in zip(search.cv_results_["param_model__C"],
                                                 search.cv_results_["mean_test_score"])}
    print(f"  rows {rows}\n  cv {cv}, best C={search.best_params_['model__C']:g}\n  test {metrics}", file=sys.stderr)
    # The resets lower the process's high-water mark (and so its ru_maxrss), so the whole
    # process's peak is the largest phase's.
    total = {"wall_s": time.perf_counter() - T_START, "cpu_s": time.process_time() - CPU_START,
             "peak_rss_mb": max(v["peak_rss_mb"] for v in ph.out.values())}
    json.dump({"phases": ph.out, "total_in_process": total, "peak_reset_per_phase": ph.peak_reset,
               "rows": rows, "cv": cv, "metrics": metrics, "n_jobs": args.n_jobs, "bootstrap": args.bootstrap,
               "versions": {"pandas": pd.__version__, "sklearn": __import__("sklearn").__version__,
                            "numpy": np.__version__, "python": sys.version.split()[0]},
               "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
