# Computes the scikit-learn literals in src/lbfgs.rs: python3 tests/data/lbfgs_fixture.py
# The rows are the `fixture` function of src/lbfgs.rs's tests, rebuilt here.
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression


def data(rows):
    X, y = [], []
    for i in range(rows):
        a = ((i * 37) % 101) / 50.0 - 1.0
        b = ((i * 53) % 97) / 48.0 - 1.0
        c = 1.0 if i % 3 == 0 else 0.0
        d = ((i * 29) % 89) / 20.0
        X.append([a, b, c, d])
        z = 0.4 + 1.5 * a - 2.0 * b + 0.8 * c - 0.3 * d
        u = ((i * 7919) % 1000) / 1000.0
        y.append(1 if u < 1.0 / (1.0 + np.exp(-z)) else 0)
    return np.array(X), np.array(y)


print("sklearn", sklearn.__version__)
X, y = data(200)
for alpha in [1.0, 10.0]:
    for tol in [1e-4, 1e-12]:
        m = LogisticRegression(C=1 / alpha, solver="lbfgs", tol=tol, max_iter=10000).fit(X, y)
        print(f"alpha {alpha} tol {tol} n_iter {m.n_iter_[0]}")
        print("  coef", ", ".join(repr(float(v)) for v in m.coef_[0]), "intercept", repr(float(m.intercept_[0])))


# class_weight="balanced" literals of src/lbfgs.rs's `agrees_with_scikit_learn_class_weight_balanced`:
# the same rows with the outcome shifted so that about a fifth is positive (the study's imbalance,
# mirrored), fitted with LogisticRegression(class_weight="balanced", C=1/alpha).
def imbalanced(rows):
    X, _ = data(rows)
    y = []
    for i, (a, b, c, d) in enumerate(X):
        z = -1.6 + 1.5 * a - 2.0 * b + 0.8 * c - 0.3 * d
        u = ((i * 7919) % 1000) / 1000.0
        y.append(1 if u < 1.0 / (1.0 + np.exp(-z)) else 0)
    return X, np.array(y)


X, y = imbalanced(200)
print("imbalanced: positives", int(y.sum()), "of", len(y))
for alpha in [1.0, 10.0]:
    for tol in [1e-4, 1e-12]:
        m = LogisticRegression(C=1 / alpha, class_weight="balanced", solver="lbfgs", tol=tol, max_iter=10000).fit(X, y)
        print(f"balanced alpha {alpha} tol {tol} n_iter {m.n_iter_[0]}")
        print("  coef", ", ".join(repr(float(v)) for v in m.coef_[0]), "intercept", repr(float(m.intercept_[0])))
