#!/usr/bin/env python3
"""statsmodels reference fits for esteira-inference's tests (crates/inference/tests/statsmodels.rs).

Generates small datasets deterministically (numpy's PCG64 with fixed seeds), fits

    statsmodels.api.Logit(y, sm.add_constant(X)).fit(cov_type="cluster", cov_kwds={"groups": g})
    statsmodels.api.Logit(y, sm.add_constant(X)).fit()                       # naive (nonrobust)

with statsmodels' defaults (Newton, maxiter 35, tol 1e-8; the cluster covariance's default small-sample
correction G/(G-1) * (N-1)/(N-K); normal p-values and 95 % intervals, as Logit's use_t=False), and writes
the data and the results to crates/inference/tests/data/statsmodels_fixtures.json.

Datasets (rows are enrolments, groups students with 1-6 enrolments sharing a random effect):

- basic       600-odd rows, 4 columns (2 continuous, 2 binary)
- wide        ~2000 rows, 8 columns (a 4-level one-hot block, numerics, a cluster-level covariate)
- collinear   a near-collinear pair (x2 = x1 + 0.002 noise): fitted, large standard errors
- aliased     an exactly collinear column (x3 = x1 - x2): statsmodels' Newton meets a singular Hessian;
              the reference is the fit without x3 (what esteira drops)
- quasi       quasi-separation: every row with d = 1 passes. statsmodels runs to maxiter with a huge
              coefficient for d; the reference for the other coefficients is the fit on the d = 0 rows
              without d (the limit of the MLE; what esteira reports)
- complete    complete separation (y = x > 0): statsmodels warns of perfect separation

Each dataset's "statsmodels_warnings" lists the warning categories (and a summary's separation note) that
statsmodels emitted. Covariates are rounded to 6 decimals before fitting, so the JSON holds the exact data; statsmodels'
non-finite results (NaN standard errors) are written as null.

Run from the repository root (numpy, scipy and statsmodels; `pip install statsmodels`):

    python3 scripts/inference_fixtures.py            # rewrites the JSON
    python3 scripts/inference_fixtures.py --check    # exits 1 if the JSON differs from a fresh run
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

OUT = Path(__file__).resolve().parent.parent / "crates" / "inference" / "tests" / "data" / "statsmodels_fixtures.json"


def clusters(rng, n_target):
    """Group ids 0.. with 1-6 rows each, about n_target rows in all."""
    sizes = []
    while sum(sizes) < n_target:
        sizes.append(int(rng.integers(1, 7)))
    return np.repeat(np.arange(len(sizes)), sizes)


def draw_y(rng, eta):
    return (rng.random(eta.shape[0]) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)


def basic():
    rng = np.random.default_rng(20201)
    g = clusters(rng, 600)
    n, u = g.shape[0], rng.normal(0.0, 1.0, g.max() + 1)
    x1 = rng.normal(0.0, 1.0, n) + 0.8 * rng.normal(0.0, 1.0, g.max() + 1)[g]
    x2 = rng.normal(0.0, 1.0, n)
    x3 = (rng.random(n) < 0.3).astype(float)
    x4 = (rng.random(g.max() + 1) < 0.5).astype(float)[g]
    X = np.column_stack([x1, x2, x3, x4])
    eta = 0.3 + 0.6 * x1 - 0.4 * x2 + 0.5 * x3 - 0.7 * x4 + u[g]
    return "basic", ["x1", "x2", "x3", "x4"], X, g, rng, eta


def wide():
    rng = np.random.default_rng(20202)
    g = clusters(rng, 2000)
    n, k = g.shape[0], g.max() + 1
    u = rng.normal(0.0, 0.8, k)
    area = rng.choice(4, size=k, p=[0.4, 0.3, 0.2, 0.1])[g]
    onehot = np.column_stack([(area == a).astype(float) for a in (1, 2, 3)])
    idade = rng.normal(0.0, 1.0, k)[g]
    renda = rng.lognormal(0.0, 0.6, n)
    renda = (renda - renda.mean()) / renda.std()
    aux = (rng.random(k) < 0.25).astype(float)[g]
    noise = rng.normal(0.0, 1.0, n)
    sexo = (rng.random(k) < 0.5).astype(float)[g]
    X = np.column_stack([onehot, idade, renda, aux, noise, sexo])
    eta = -0.2 + onehot @ np.array([0.4, -0.3, 0.8]) - 0.5 * idade + 0.3 * renda + 0.6 * aux + 0.2 * sexo + u[g]
    names = ["area=B", "area=C", "area=D", "idade", "renda", "auxilio", "ruido", "sexo=M"]
    return "wide", names, X, g, rng, eta


def collinear():
    rng = np.random.default_rng(20203)
    g = clusters(rng, 800)
    n = g.shape[0]
    u = rng.normal(0.0, 0.7, g.max() + 1)
    x1 = rng.normal(0.0, 1.0, n)
    x2 = x1 + 0.002 * rng.normal(0.0, 1.0, n)
    x3 = rng.normal(0.0, 1.0, n)
    X = np.column_stack([x1, x2, x3])
    eta = 0.1 + 0.8 * x1 - 0.5 * x3 + u[g]
    return "collinear", ["x1", "x2", "x3"], X, g, rng, eta


def aliased():
    rng = np.random.default_rng(20204)
    g = clusters(rng, 500)
    n = g.shape[0]
    x1 = rng.normal(0.0, 1.0, n)
    x2 = (rng.random(n) < 0.4).astype(float)
    x1 = np.round(x1, 6)
    x3 = x1 - x2  # exact in binary: x2 is 0 or 1
    x4 = rng.normal(0.0, 1.0, n)
    X = np.column_stack([x1, x2, x3, x4])
    eta = -0.3 + 0.7 * x1 + 0.9 * x2 - 0.4 * x4 + rng.normal(0.0, 0.5, g.max() + 1)[g]
    return "aliased", ["x1", "x2", "x3", "x4"], X, g, rng, eta


def quasi():
    rng = np.random.default_rng(20205)
    g = clusters(rng, 700)
    n = g.shape[0]
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    d = (rng.random(n) < 0.15).astype(float)
    X = np.column_stack([x1, d, x2])
    eta = -0.2 + 0.7 * x1 - 0.5 * x2 + rng.normal(0.0, 0.6, g.max() + 1)[g]
    return "quasi", ["x1", "d", "x2"], X, g, rng, eta


def complete():
    rng = np.random.default_rng(20206)
    g = clusters(rng, 300)
    n = g.shape[0]
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    X = np.column_stack([x1, x2])
    return "complete", ["x1", "x2"], X, g, rng, None


def fit(y, X, g):
    """Cluster and naive fits with statsmodels' defaults; warnings caught by category name."""
    caught = []
    out = {}
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            exog = sm.add_constant(X, has_constant="add")
            rc = sm.Logit(y, exog).fit(disp=0, cov_type="cluster", cov_kwds={"groups": g})
            rn = sm.Logit(y, exog).fit(disp=0)
            ci_c, ci_n = rc.conf_int(), rn.conf_int()
            out = {
                "params": rc.params.tolist(),
                "bse_cluster": rc.bse.tolist(),
                "bse_naive": rn.bse.tolist(),
                "pvalues_cluster": rc.pvalues.tolist(),
                "pvalues_naive": rn.pvalues.tolist(),
                "conf_int_cluster": ci_c.tolist(),
                "conf_int_naive": ci_n.tolist(),
                "llf": float(rc.llf),
                "converged": bool(rc.mle_retvals["converged"]),
                "iterations": int(rc.mle_retvals["iterations"]),
                "n_groups": int(len(np.unique(g))),
                "holm_cluster": multipletests(rc.pvalues[1:], method="holm")[1].tolist(),
                "fdr_bh_cluster": multipletests(rc.pvalues[1:], method="fdr_bh")[1].tolist(),
            }
            note = rc.summary().extra_txt or ""
            note = note if isinstance(note, str) else " ".join(note)
            if "separation" in note.lower():
                caught.append("summary: " + note.split(":")[0].strip())
        except Exception as e:  # noqa: BLE001 (statsmodels' failure is what we record)
            caught.append(f"error: {type(e).__name__}: {e}")
    caught = sorted({type(x.message).__name__ for x in w} | set(caught))
    return out, caught


def dataset(make):
    name, columns, X, g, rng, eta = make()
    X = np.round(X, 6)
    if name == "aliased":
        X[:, 2] = X[:, 0] - X[:, 1]
    if eta is None:
        y = (X[:, 0] > 0).astype(np.int64)
    else:
        y = draw_y(rng, eta)
    if name == "quasi":
        y[X[:, 1] == 1.0] = 1
    full, warned = fit(y, X, g)
    entry = {
        "name": name,
        "columns": columns,
        "rows": int(X.shape[0]),
        "x": X.ravel().tolist(),
        "y": y.tolist(),
        "groups": g.tolist(),
        "statsmodels_warnings": warned,
        "full": full,
    }
    # The reference esteira is compared with where the full fit is not identified.
    if name == "aliased":
        keep = [0, 1, 3]
        ref, ref_warned = fit(y, X[:, keep], g)
        entry["reference"] = {"rows": "all", "columns": [columns[j] for j in keep], "fit": ref, "warnings": ref_warned}
    elif name == "quasi":
        rows = X[:, 1] == 0.0
        keep = [0, 2]
        ref, ref_warned = fit(y[rows], X[rows][:, keep], g[rows])
        entry["reference"] = {
            "rows": "d == 0",
            "row_mask": rows.astype(int).tolist(),
            "columns": [columns[j] for j in keep],
            "fit": ref,
            "warnings": ref_warned,
        }
    return entry


def finite(v):
    """JSON has no NaN or infinity: statsmodels' non-finite results become null."""
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    if isinstance(v, list):
        return [finite(x) for x in v]
    if isinstance(v, dict):
        return {k: finite(x) for k, x in v.items()}
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed JSON instead of writing it")
    args = ap.parse_args()
    doc = {
        "generator": "scripts/inference_fixtures.py",
        "statsmodels": statsmodels.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "datasets": [dataset(m) for m in (basic, wide, collinear, aliased, quasi, complete)],
    }
    text = json.dumps(finite(doc), indent=None, separators=(",", ":"), allow_nan=False) + "\n"
    if args.check:
        same = OUT.exists() and OUT.read_text() == text
        print("fixtures up to date" if same else f"{OUT} differs from a fresh run")
        sys.exit(0 if same else 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    for d in doc["datasets"]:
        print(f"{d['name']:10} rows {d['rows']:5}  groups {d['full'].get('n_groups', '-')!s:5}  warnings {d['statsmodels_warnings']}")
    print(f"wrote {OUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
