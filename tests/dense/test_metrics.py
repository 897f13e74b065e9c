import numpy as np
from sklearn.metrics import fbeta_score, jaccard_score

from posenc.dense.metrics import BETA2, SaliencyScores, SegmentationScores, adaptive_f, f_curve


def test_perfect_and_empty_saliency_predictions():
    gt = np.zeros((10, 10), bool)
    gt[2:6, 3:8] = True
    scores = SaliencyScores()
    perfect = scores.add(gt.astype(float), gt)
    assert perfect["max_f"] == 1.0 and perfect["mae"] == 0.0 and perfect["adaptive_f"] == 1.0
    empty = scores.add(np.zeros((10, 10)), gt)
    assert empty["mae"] == gt.mean() == 0.2
    result = scores.result()
    assert result["mae"] == 0.1 and result["n_images"] == 2


def test_f_curve_matches_sklearn_at_every_threshold():
    rng = np.random.default_rng(0)
    gt = rng.uniform(size=(32, 32)) < 0.3
    pred = np.clip(gt * 0.5 + rng.uniform(size=(32, 32)) * 0.6, 0, 1)
    curve = f_curve(pred, gt)
    levels = np.round(pred * 255)
    for t in (1, 60, 128, 200, 254):
        expected = fbeta_score(gt.ravel(), (levels >= t).ravel(), beta=np.sqrt(BETA2), zero_division=0)
        assert np.isclose(curve[t], expected)
    assert np.isclose(
        adaptive_f(pred, gt), fbeta_score(gt.ravel(), (pred >= 2 * pred.mean()).ravel(), beta=np.sqrt(BETA2))
    )


def test_max_f_is_the_maximum_of_the_mean_curve_over_images():
    gt_a = np.array([[True, False], [False, False]])
    gt_b = np.array([[True, True], [False, False]])
    pred_a = np.array([[0.9, 0.2], [0.2, 0.2]])
    pred_b = np.array([[0.9, 0.5], [0.1, 0.1]])
    scores = SaliencyScores()
    scores.add(pred_a, gt_a), scores.add(pred_b, gt_b)
    mean = (f_curve(pred_a, gt_a) + f_curve(pred_b, gt_b)) / 2
    assert scores.result()["max_f"] == mean.max()
    # at thresholds 129..230 image a is perfect, image b finds 1 of 2 salient pixels at full precision
    recall_b = 0.5
    f_b = (1 + BETA2) * recall_b / (BETA2 + recall_b)
    assert np.isclose(mean[150], (1 + f_b) / 2) and mean[100] == 1.0


def test_miou_matches_sklearn_and_ignores_border_pixels():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 4, size=(3, 20, 20))
    pred = np.where(rng.uniform(size=gt.shape) < 0.7, gt, rng.integers(0, 4, size=gt.shape))
    scores = SegmentationScores(classes=3)
    for g, p in zip(gt, pred):
        scores.add(p, g)
    assert np.isclose(scores.result()["miou"], jaccard_score(gt.ravel(), pred.ravel(), average="macro"))
    ignored = gt.copy()
    ignored[:, :5] = 255  # VOC borders: left out of every class
    with_ignore = SegmentationScores(classes=3)
    for g, p in zip(ignored, pred):
        with_ignore.add(p, g)
    keep = ignored != 255
    assert np.isclose(with_ignore.result()["miou"], jaccard_score(gt[keep], pred[keep], average="macro"))


def test_a_class_absent_from_truth_and_prediction_does_not_count():
    scores = SegmentationScores(classes=5)
    scores.add(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [1, 0]]))
    # background IoU 1/2, class 1 IoU 2/3, classes 2..5 absent
    assert np.isclose(scores.result()["miou"], (1 / 2 + 2 / 3) / 2)
