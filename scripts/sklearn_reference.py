#!/usr/bin/env python3
"""scikit-learn reference for esteira's train/evaluate stages (issue 6, "Quality and performance").

Fits the issue's reference model on the SAME train/test split esteira produced and prints its test
ROC AUC and balanced accuracy beside the majority baseline and esteira's own figures:

    LogisticRegression(class_weight="balanced"), lbfgs, C = 1
    numeric  (idade = reference_year - ano_nascimento, renda): median imputation + StandardScaler
    categorical (as listed in the pipeline file's train stage, incl. local_ou_de_fora =
             estado_origem == "Rio Grande do Norte"): most-frequent imputation + one-hot (drop first,
             unseen categories -> all zeros)
    decision at probability 0.5 (what sklearn's predict does)

Run (from the repository root, after `esteira run`):

    pip install scikit-learn pandas pyarrow
    python3 scripts/sklearn_reference.py
    python3 scripts/sklearn_reference.py --split DIR --metrics FILE -c PIPELINE.toml

`--split` is a directory holding train.parquet and test.parquet (default artifacts/latest/segregate),
`--metrics` esteira's evaluate metrics.json (default artifacts/latest/evaluate/metrics.json; skipped if
missing), `-c` the pipeline file whose [stages.train.params] name the features (default esteira.toml).

As an esteira `command` stage (what scripts/split_sweep.py adds to the pipeline), it reads the
features from esteira's model.json, so that `-S train.…` overrides reach it too, and writes the
reference's test metrics as JSON:

    python3 sklearn_reference.py --stage MODEL.json TRAIN.parquet TEST.parquet OUT.json
"""

import argparse
import json
import resource
import sys
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# esteira-train's defaults, used when the pipeline file does not declare these keys.
DEFAULT_DERIVED = {
    "idade": {"kind": "age", "from": "ano_nascimento"},
    "local_ou_de_fora": {"kind": "equals", "from": "estado_origem", "value": "Rio Grande do Norte"},
}


def train_params(pipeline_file: Path) -> dict:
    with open(pipeline_file, "rb") as f:
        doc = tomllib.load(f)
    return doc["stages"]["train"]["params"]


def params_from_model(model: dict) -> dict:
    """The feature params `features` takes, from esteira's model.json (its `features` section
    names each feature's source column and derivation)."""
    f = model["features"]
    derived, year = {}, 2020
    for c in f["numeric"] + f["categorical"]:
        src = c["source"]
        if src["kind"] == "age":
            derived[c["name"]] = {"kind": "age", "from": src["column"]}
            year = src["reference_year"]
        elif src["kind"] == "equals":
            derived[c["name"]] = {"kind": "equals", "from": src["column"], "value": src["value"]}
        elif src["kind"] != "column" or src["column"] != c["name"]:
            raise SystemExit(f"model.json: feature {c['name']!r} has a source this script does not know: {src}")
    return {"numeric": [c["name"] for c in f["numeric"]], "categorical": [c["name"] for c in f["categorical"]],
            "derived": derived, "reference_year": year,
            "target": model["target"], "positive_class": model["positive_class"]}


def reference_metrics(train: pd.DataFrame, test: pd.DataFrame, params: dict, max_iter: int = 1000) -> dict:
    """The reference model fitted on `train`: its test ROC AUC and balanced accuracy (at 0.5)."""
    target, positive = params.get("target", "descricao"), params.get("positive_class", "APROVADO")
    y_train, y_test = (train[target] == positive).to_numpy(), (test[target] == positive).to_numpy()
    model, _ = fit_reference(features(train, params), y_train, params, max_iter)
    x_test = features(test, params)
    proba = model.predict_proba(x_test)[:, list(model.classes_).index(True)]
    return {"roc_auc": roc_auc_score(y_test, proba),
            "balanced_accuracy": balanced_accuracy_score(y_test, model.predict(x_test))}


def stage(model_json: Path, train: Path, test: Path, out: Path) -> int:
    params = params_from_model(json.loads(model_json.read_text()))
    metrics = reference_metrics(pd.read_parquet(train), pd.read_parquet(test), params)
    out.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return 0


def features(df: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The raw columns plus esteira's derived ones; categoricals as strings with NaN kept missing."""
    out = pd.DataFrame(index=df.index)
    derived = params.get("derived", DEFAULT_DERIVED)
    year = params.get("reference_year", 2020)
    for name in params["numeric"]:
        spec = derived.get(name)
        src = df[spec["from"]] if spec and spec["kind"] == "age" else df[name]
        # float64, so that a nullable Int64 column's <NA> becomes NaN for the imputer.
        num = pd.to_numeric(src, errors="coerce").astype("float64")
        out[name] = year - num if spec and spec["kind"] == "age" else num
    for name in params["categorical"]:
        spec = derived.get(name)
        if spec and spec["kind"] == "equals":
            src = df[spec["from"]]
            # As esteira: a missing source stays missing (then imputed), it is not "false".
            col = (src == spec["value"]).map({True: "true", False: "false"}).astype(object)
            col[src.isna()] = np.nan
        else:
            col = _as_text(df[name])
        out[name] = col
    return out


def _as_text(src: pd.Series) -> pd.Series:
    """Values as text, booleans as "true"/"false", missing kept missing (vectorised where the
    column is of one kind: a per-value lambda took seconds at scale 100)."""
    col = src.astype(object)
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind == "boolean":
        return col.map({True: "true", False: "false"}).astype(object)
    if kind in ("string", "empty"):
        return col
    if "mixed" in kind:
        return col.map(lambda v: v if pd.isna(v) else str(v).lower() if isinstance(v, bool) else str(v))
    present = col.notna()
    col[present] = col[present].astype(str)
    return col


def reference_pipeline(params: dict, max_iter: int = 1000, tol: float = 1e-4) -> Pipeline:
    """The issue's reference model, unfitted: the feature steps of `features`' columns, then
    `LogisticRegression(class_weight="balanced")` (C = 1; the step is named "model", so a grid
    sets `model__C`). Shared with scripts/pandas_baseline.py."""
    return Pipeline([
        ("features", ColumnTransformer([
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
             params["numeric"]),
            ("categorical", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                      ("onehot", OneHotEncoder(drop="first", handle_unknown="ignore"))]),
             params["categorical"]),
        ])),
        ("model", LogisticRegression(class_weight="balanced", max_iter=max_iter, tol=tol)),
    ])


def fit_reference(x_train: pd.DataFrame, y_train, params: dict, max_iter: int = 1000):
    """The issue's reference model fitted on `x_train`; returns it and (features, fit) seconds."""
    model = reference_pipeline(params, max_iter)
    t0 = time.perf_counter()
    x_fit = model.named_steps["features"].fit_transform(x_train)
    t_features = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.named_steps["model"].fit(x_fit, y_train)
    return model, (t_features, time.perf_counter() - t0)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--stage":
        if len(sys.argv) != 6:
            raise SystemExit("usage: sklearn_reference.py --stage MODEL.json TRAIN.parquet TEST.parquet OUT.json")
        warnings.filterwarnings("ignore", message="Found unknown categories")
        return stage(*map(Path, sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="artifacts/latest/segregate", type=Path)
    ap.add_argument("--metrics", default="artifacts/latest/evaluate/metrics.json", type=Path)
    ap.add_argument("-c", "--config", default="esteira.toml", type=Path)
    ap.add_argument("--max-iter", default=1000, type=int, help="lbfgs iterations (sklearn's default is 100)")
    args = ap.parse_args()

    # Unseen test categories become all zeros, as in esteira; no need to warn about it.
    warnings.filterwarnings("ignore", message="Found unknown categories")
    params = train_params(args.config)
    target, positive = params.get("target", "descricao"), params.get("positive_class", "APROVADO")
    t0 = time.perf_counter()
    train = pd.read_parquet(args.split / "train.parquet")
    test = pd.read_parquet(args.split / "test.parquet")
    t_read = time.perf_counter() - t0
    x_train, x_test = features(train, params), features(test, params)
    y_train, y_test = (train[target] == positive).to_numpy(), (test[target] == positive).to_numpy()

    model, timings = fit_reference(x_train, y_train, params, args.max_iter)
    t_features, t_fit = timings
    proba = model.predict_proba(x_test)[:, list(model.classes_).index(True)]
    pred = model.predict(x_test)  # threshold 0.5
    n_features = model.named_steps["features"].transform(x_test.head(1)).shape[1]

    majority = y_train.mean() >= 0.5
    ref = {"roc_auc": roc_auc_score(y_test, proba), "balanced_accuracy": balanced_accuracy_score(y_test, pred)}
    base = {"roc_auc": 0.5, "balanced_accuracy": balanced_accuracy_score(y_test, np.full(len(y_test), majority))}

    print(f"split: {args.split}  train {len(train)} rows, test {len(test)} rows, "
          f"{y_test.mean():.3f} {positive} in test; {n_features} model features")
    print(f"sklearn: read {t_read:.2f} s, features {t_features:.2f} s, lbfgs fit {t_fit:.2f} s "
          f"({model.named_steps['model'].n_iter_[0]} lbfgs iterations), "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    cols = ["sklearn reference", "majority baseline"]
    esteira = None
    if args.metrics.exists():
        m = json.loads(args.metrics.read_text())["model"]
        esteira = {"roc_auc": m["roc_auc"], "balanced_accuracy": m["balanced_accuracy"]}
        cols.append("esteira")
    print(f"{'test metric':<20}" + "".join(f"{c:>20}" for c in cols))
    for k in ("roc_auc", "balanced_accuracy"):
        row = [ref[k], base[k]] + ([esteira[k]] if esteira else [])
        print(f"{k:<20}" + "".join(f"{v:>20.5f}" for v in row))
    if esteira:
        ok = all(esteira[k] >= ref[k] for k in ref)
        below = [k for k in ref if esteira[k] < ref[k]]
        print("verdict: esteira " + ("meets or beats the reference on both metrics" if ok
                                     else "is BELOW the reference on " + " and ".join(below)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
