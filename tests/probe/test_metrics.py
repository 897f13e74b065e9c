import numpy as np
import pytest
from scipy import stats

from posenc.probe.metrics import mae, mean_ci, spearman


def test_spearman_hand_cases():
    t = np.arange(16.0).reshape(4, 4)
    assert spearman(t**3, t) == pytest.approx(1.0)
    assert spearman(-t, t) == pytest.approx(-1.0)
    assert spearman(np.full((4, 4), 0.3), t) == 0.0  # constant prediction: printed as 0 in the paper
    # a constant up to float rounding (bilinear upsampling of a constant map) still counts as constant
    assert spearman(np.full((4, 4), 0.3) + np.eye(4) * 1e-9, t) == 0.0


def test_spearman_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    target = np.repeat(np.linspace(0, 1, 20), 20).reshape(20, 20)  # many ties, like the H map
    pred = np.round(target + rng.normal(0, 0.3, target.shape), 1)  # ties in the prediction too
    assert spearman(pred, target) == pytest.approx(
        stats.spearmanr(pred.ravel(), target.ravel()).statistic, abs=1e-12
    )


def test_mae_hand_case():
    assert mae(np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.5, 0.0])) == pytest.approx(2 / 3)


def test_mean_ci_matches_t_interval():
    values = [0.70, 0.74, 0.69, 0.75]
    mean, half = mean_ci(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values))
    assert half == pytest.approx((hi - lo) / 2)
    m1, h1 = mean_ci([0.5])
    assert m1 == 0.5 and np.isnan(h1)
