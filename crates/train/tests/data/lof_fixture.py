# Computes the LOF literals in src/lof.rs: python3 tests/data/lof_fixture.py
import numpy as np
from sklearn.neighbors import LocalOutlierFactor
import sklearn

# Distinct points (no distance ties), one far outlier.
a = [(0.0, 0.0), (1.0, 0.3), (0.4, 1.1), (1.7, 1.2), (2.3, 0.1), (0.9, 2.2), (3.1, 1.9), (2.6, 3.3),
     (1.4, 3.9), (4.2, 0.7), (3.8, 2.8), (0.2, 3.1), (5.0, 4.6), (2.0, 2.05), (12.0, 9.5)]
# Clusters of exact duplicates (which duplicate is the neighbour cannot change a score) and
# points near them, the case the original study hit with unscaled, repeated values.
b = [(0.0, 0.0)] * 6 + [(1.0, 1.0)] * 5 + [(0.5, 0.25), (3.0, 0.5), (0.0, 2.0), (2.5, 2.5)]
print("sklearn", sklearn.__version__)
for name, pts, k in [("distinct k=3", a, 3), ("distinct k=5", a, 5), ("duplicates k=4", b, 4)]:
    X = np.array(pts)
    lof = LocalOutlierFactor(n_neighbors=k).fit(X)
    print(name, "offset", lof.offset_)
    print(", ".join(repr(float(v)) for v in -lof.negative_outlier_factor_))
    print("outliers", [i for i, p in enumerate(lof.fit_predict(X)) if p == -1])
