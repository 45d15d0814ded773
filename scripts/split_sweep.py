#!/usr/bin/env python3
"""Is esteira's model better or worse than the scikit-learn reference, beyond one split's luck?

One test split of the bundled sample holds ~2 500 rows, so its ROC AUC moves by ±0.025 from the
draw alone. This script re-runs the pipeline with N different segregate seeds (each a different
grouped, stratified 70/30 split of the same data), fits scikit-learn_reference's model on each
split, and prints per-seed and mean differences (esteira − reference) with a paired 95 % interval.

    python3 scripts/split_sweep.py                         # 20 seeds, esteira.toml as it is
    python3 scripts/split_sweep.py --seeds 10 --set 'lof = { enabled = true, k = 20 }'

`--set` replaces one `key = ...` line of the train stage's params in a temporary copy of the
pipeline file (written beside it and removed after), e.g. to compare LOF settings. The pipeline's
store must be `artifacts` beside the file (as in esteira.toml). Needs the `esteira` binary
(default target/release/esteira) and scikit-learn, pandas, pyarrow.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
import sklearn_reference as ref  # noqa: E402


def section(text: str, header: str) -> tuple[int, int]:
    """Start and end of a TOML table's body: from its header to the next table header."""
    start = text.index(header) + len(header)
    nxt = re.search(r"^\[", text[start:], re.M)
    return start, start + nxt.start() if nxt else len(text)


def variant(text: str, seed: int, sets: list[str]) -> str:
    a, b = section(text, "[stages.segregate]")
    body, n = re.subn(r"\bseed = \d+", f"seed = {seed}", text[a:b], count=1)
    if n != 1:
        raise SystemExit("could not find the segregate stage's `seed = N` in the pipeline file")
    text = text[:a] + body + text[b:]
    for s in sets:
        key = s.split("=", 1)[0].strip()
        a, b = section(text, "[stages.train.params]")
        m = re.compile(rf"^{re.escape(key)} = .*$", re.M).search(text, a, b)
        if not m:
            raise SystemExit(f"no `{key} = ...` line in [stages.train.params]")
        text = text[: m.start()] + s + text[m.end():]
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default="esteira.toml", type=Path)
    ap.add_argument("--seeds", default=20, type=int)
    ap.add_argument("--first-seed", default=1, type=int)
    ap.add_argument("--set", action="append", default=[], help="replace a train param line, e.g. 'lof = ...'")
    ap.add_argument("--esteira", default="target/release/esteira")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Found unknown categories")

    base = args.config.read_text()
    tmp = args.config.with_name(".split-sweep.toml")
    params = ref.train_params(args.config)
    target, positive = params.get("target", "descricao"), params.get("positive_class", "APROVADO")
    diffs = {"roc_auc": [], "balanced_accuracy": []}
    print(f"{'seed':>4} {'esteira auc':>12} {'ref auc':>8} {'esteira bacc':>13} {'ref bacc':>9}")
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            tmp.write_text(variant(base, seed, args.set))
            subprocess.run([args.esteira, "run", "-q", "-c", str(tmp)], check=True, stdout=subprocess.DEVNULL)
            art = tmp.parent / "artifacts" / "latest"
            m = json.loads((art / "evaluate" / "metrics.json").read_text())["model"]
            train = pd.read_parquet(art / "segregate" / "train.parquet")
            test = pd.read_parquet(art / "segregate" / "test.parquet")
            y_train, y_test = (train[target] == positive).to_numpy(), (test[target] == positive).to_numpy()
            model, _ = ref.fit_reference(ref.features(train, params), y_train, params)
            x_test = ref.features(test, params)
            proba = model.predict_proba(x_test)[:, list(model.classes_).index(True)]
            r = {"roc_auc": roc_auc_score(y_test, proba),
                 "balanced_accuracy": balanced_accuracy_score(y_test, model.predict(x_test))}
            for k in diffs:
                diffs[k].append(m[k] - r[k])
            print(f"{seed:>4} {m['roc_auc']:>12.4f} {r['roc_auc']:>8.4f} "
                  f"{m['balanced_accuracy']:>13.4f} {r['balanced_accuracy']:>9.4f}")
    finally:
        tmp.unlink(missing_ok=True)
    for k, d in diffs.items():
        mean = statistics.fmean(d)
        half = 1.96 * statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
        wins = sum(x >= 0 for x in d)
        print(f"{k}: esteira − reference mean {mean:+.4f} (95 % CI {mean - half:+.4f} … {mean + half:+.4f}), "
              f"esteira ≥ reference on {wins}/{len(d)} splits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
