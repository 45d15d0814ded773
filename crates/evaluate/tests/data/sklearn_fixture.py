"""Computes the literals in src/metrics.rs tests with scikit-learn (run: python3 sklearn_fixture.py)."""
import warnings

import numpy as np
import sklearn
from sklearn import metrics as m

warnings.simplefilter("ignore")
print("# scikit-learn", sklearn.__version__)

y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0], dtype=bool)
s = np.array([0.9, 0.1, 0.8, 0.4, 0.4, 0.35, 0.4, 0.0, 1.0, 0.65, 0.65, 0.2, 0.7, 1e-20, 0.55, 0.65, 0.3,
              0.99999999999, 0.5, 0.5])
threshold = 0.4  # a tie with three scores: the decision is score >= threshold


def dump(name, y, s, threshold):
    p = s >= threshold
    print(f"## {name}")
    print("accuracy", repr(m.accuracy_score(y, p)))
    print("balanced_accuracy", repr(m.balanced_accuracy_score(y, p)))
    pr, rc, f1, sup = m.precision_recall_fscore_support(y, p, zero_division=0)
    print("per-class [neg, pos] precision", [repr(float(v)) for v in pr], "recall", [repr(float(v)) for v in rc],
          "f1", [repr(float(v)) for v in f1], "support", [int(v) for v in sup])
    for avg in ("macro", "weighted"):
        print(avg, [repr(float(v)) for v in m.precision_recall_fscore_support(y, p, average=avg, zero_division=0)[:3]])
    print("roc_auc", repr(m.roc_auc_score(y, s)))
    print("average_precision", repr(m.average_precision_score(y, s)))
    print("log_loss", repr(m.log_loss(y, s)))
    print("brier", repr(m.brier_score_loss(y, s)))
    print("confusion", m.confusion_matrix(y, p).tolist())
    print("confusion_true", [[repr(float(v)) for v in r] for r in m.confusion_matrix(y, p, normalize="true")])
    fpr, tpr, thr = m.roc_curve(y, s)
    print("roc fpr", [repr(float(v)) for v in fpr])
    print("roc tpr", [repr(float(v)) for v in tpr])
    print("roc thr", [repr(float(v)) for v in thr])
    prec, rec, thr = m.precision_recall_curve(y, s)
    print("pr precision", [repr(float(v)) for v in prec])
    print("pr recall", [repr(float(v)) for v in rec])
    print("pr thr", [repr(float(v)) for v in thr])


dump("fixture", y, s, threshold)
# The majority-class ("prior") baseline on the same labels: a constant score, every row positive.
dump("constant", y, np.full(len(y), 0.6), 0.5)
# Confident mistakes: log loss clips to [eps, 1 - eps] with eps = np.finfo(float64).eps.
y3 = np.array([1, 0, 1, 0, 1], dtype=bool)
s3 = np.array([0.0, 1.0, 1e-300, 1e-300, 0.75])
print("## extreme log_loss", repr(m.log_loss(y3, s3)), "brier", repr(m.brier_score_loss(y3, s3)),
      "roc_auc", repr(m.roc_auc_score(y3, s3)), "average_precision", repr(m.average_precision_score(y3, s3)))
