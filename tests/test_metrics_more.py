"""MindSpore 2.x's further metrics: confusion matrices, ROC/auc, Dice, perplexity, cosine similarity, BLEU, surface
distances, and the names()/get_metric_fn/set_indexes helpers, against scikit-learn, scipy, hand computations and the
values MindSpore's documentation prints for its examples."""

from collections import Counter

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import cdist, directed_hausdorff

import funcad.train as train
from funcad import Tensor, nn
from funcad.train import (
    ROC,
    BleuScore,
    ConfusionMatrix,
    ConfusionMatrixMetric,
    CosineSimilarity,
    Dice,
    HausdorffDistance,
    MeanSurfaceDistance,
    Metric,
    OcclusionSensitivity,
    Perplexity,
    RootMeanSquareDistance,
    auc,
    get_metric_fn,
    names,
    rearrange_inputs,
)

IMG_X = np.array([[3, 0, 1], [1, 3, 0], [1, 0, 2]])
IMG_Y = np.array([[0, 2, 1], [1, 2, 1], [0, 0, 1]])


# ---------------------------------------------------------------- MindSpore documentation examples


def test_doc_examples_print_mindspore_s_values():
    metric = ConfusionMatrix(num_classes=2, normalize="no_norm", threshold=0.5)
    metric.update(Tensor(np.array([1, 0, 1, 0])), Tensor(np.array([1, 0, 0, 1])))
    np.testing.assert_array_equal(metric.eval(), [[1.0, 1.0], [1.0, 1.0]])

    metric = ConfusionMatrixMetric(skip_channel=True, metric_name="tpr", calculation_method=False, decrease="mean")
    metric.update(Tensor(np.array([[[0], [1]], [[1], [0]]])), Tensor(np.array([[[0], [1]], [[0], [1]]])))
    out = metric.eval()
    assert out.shape == (1,) and out[0] == pytest.approx(0.5)

    metric = Dice(smooth=1e-5)
    metric.update(Tensor(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]])), Tensor(np.array([[0, 1], [1, 0], [0, 1]])))
    assert metric.eval() == pytest.approx(0.20467791371802546, rel=1e-12)

    metric = Perplexity(ignore_label=None)
    metric.update(Tensor(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]])), Tensor(np.array([1, 0, 1])))
    assert metric.eval() == pytest.approx(2.231443166940565, rel=1e-12)

    metric = CosineSimilarity()
    metric.update(np.array([[1, 3, 4, 7], [2, 4, 2, 5], [3, 1, 5, 8]]))
    np.testing.assert_allclose(metric.eval(), [[0.0, 0.94025615, 0.95162452], [0.94025615, 0.0, 0.86146098],
                                               [0.95162452, 0.86146098, 0.0]], atol=1e-8)

    metric = BleuScore()
    metric.update([["i", "have", "a", "pen", "on", "my", "desk"]],
                  [[["i", "have", "a", "pen", "in", "my", "desk"], ["there", "is", "a", "pen", "on", "the", "desk"]]])
    assert metric.eval() == pytest.approx(0.5946035575013605, rel=1e-12)

    for metric, printed in ((HausdorffDistance(), 1.4142135623730951), (MeanSurfaceDistance(symmetric=False), 0.8047378541243649),
                            (RootMeanSquareDistance(symmetric=False), 1.0000000000000002)):
        metric.update(Tensor(IMG_X), Tensor(IMG_Y), 0)
        assert metric.eval() == pytest.approx(printed, rel=1e-12), type(metric).__name__


def test_roc_and_auc_doc_examples():
    metric = ROC(pos_label=2)
    metric.update(Tensor(np.array([3, 1, 4, 2])), Tensor(np.array([0, 1, 2, 3])))
    fpr, tpr, thresholds = metric.eval()
    np.testing.assert_allclose(fpr, [0.0, 0.0, 1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(tpr, [0.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(thresholds, [5, 4, 3, 2, 1])

    metric = ROC(class_num=4)
    metric.update(Tensor(np.array([[0.28, 0.55, 0.15, 0.05], [0.10, 0.20, 0.05, 0.05], [0.20, 0.05, 0.15, 0.05],
                                   [0.05, 0.05, 0.05, 0.75]])), Tensor(np.array([0, 1, 2, 3])))
    fpr, tpr, thresholds = metric.eval()
    expected_fpr = [[0, 0, 1 / 3, 2 / 3, 1], [0, 1 / 3, 1 / 3, 1], [0, 1 / 3, 1], [0, 0, 1]]
    expected_tpr = [[0, 1, 1, 1, 1], [0, 0, 1, 1], [0, 1, 1], [0, 1, 1]]
    expected_thr = [[1.28, 0.28, 0.2, 0.1, 0.05], [1.55, 0.55, 0.2, 0.05], [1.15, 0.15, 0.05], [1.75, 0.75, 0.05]]
    for got, want in zip((fpr, tpr, thresholds), (expected_fpr, expected_tpr, expected_thr)):
        assert len(got) == 4
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w)

    metric = ROC(pos_label=2)
    metric.update(np.array([[3, 0, 1], [1, 3, 0], [1, 0, 2]]), np.array([[0, 2, 1], [1, 2, 1], [0, 0, 1]]))
    fpr, tpr, _ = metric.eval()
    assert auc(fpr, tpr) == pytest.approx(0.5357142857142857, rel=1e-12)


def test_rearrange_inputs_and_set_indexes_doc_examples():
    class RearrangeInputsExample:
        def __init__(self):
            self._indexes = None

        @property
        def indexes(self):
            return getattr(self, "_indexes", None)

        def set_indexes(self, indexes):
            self._indexes = indexes
            return self

        @rearrange_inputs
        def update(self, *inputs):
            return inputs

    assert RearrangeInputsExample().set_indexes([1, 0]).update(5, 9) == (9, 5)

    class MyMAE(Metric):  # as MindSpore's example writes it: update is not decorated, so indexes do not apply
        def clear(self):
            self._abs_error_sum, self._samples_num = 0, 0

        def update(self, *inputs):
            y_pred, y = inputs[0].asnumpy(), inputs[1].asnumpy()
            self._abs_error_sum += np.abs(y - y_pred).sum()
            self._samples_num += y.shape[0]

        def eval(self):
            return self._abs_error_sum / self._samples_num

    x = Tensor(np.array([[0.1, 0.2, 0.6, 0.9], [0.1, 0.2, 0.6, 0.9]], np.float32))
    y = Tensor(np.array([[0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]], np.float32))
    y2 = Tensor(np.array([[0.1, 0.25, 0.7, 0.9], [0.1, 0.25, 0.7, 0.9]], np.float32))
    metric = MyMAE().set_indexes([0, 2])
    metric.clear()
    metric.update(x, y, y2)
    assert metric.eval() == pytest.approx(1.399999976158142, rel=1e-6)
    assert metric.indexes == [0, 2]

    class PickingMAE(MyMAE):
        update = rearrange_inputs(MyMAE.update)

    metric = PickingMAE().set_indexes([0, 2])
    metric.update(x, y, y2)
    assert metric.eval() == pytest.approx((0.05 + 0.1) * 2 / 2, rel=1e-6)  # x against y2


def test_built_in_metrics_follow_set_indexes_and_call_evaluates_one_batch():
    cm = ConfusionMatrix(3).set_indexes([2, 0])
    cm.update(np.array([0, 1, 2]), "ignored", np.array([0, 2, 2]))  # y_pred [0, 2, 2], y [0, 1, 2]
    np.testing.assert_array_equal(cm.eval(), [[1, 0, 0], [0, 0, 1], [0, 0, 1]])
    mae = train.MAE().set_indexes([1, 0])
    assert mae(np.array([1.0, 2.0]), np.array([1.5, 2.5])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"ConfusionMatrix.update: indexes \[2, 0\] pick beyond the 2 inputs"):
        cm.update(np.array([0]), np.array([0]))
    with pytest.raises(ValueError, match=r"Dice.set_indexes: indexes must be a list of ints, got \(0, 1\)"):
        Dice().set_indexes((0, 1))
    with pytest.raises(ValueError, match="list of ints"):
        Dice().set_indexes([0, True])


def test_names_and_get_metric_fn():
    assert names() == ["F1", "acc", "accuracy", "auc", "bleu_score", "confusion_matrix", "confusion_matrix_metric", "cosine_similarity",
                       "dice", "hausdorff_distance", "loss", "mae", "mean_surface_distance", "mse", "occlusion_sensitivity", "perplexity",
                       "precision", "recall", "roc", "root_mean_square_distance", "top_1_accuracy", "top_5_accuracy", "topk"]
    assert train.names is names and train.get_metric_fn is get_metric_fn
    for name in names():
        if name != "auc":
            factory = get_metric_fn(name, 3) if name in ("confusion_matrix", "topk") else get_metric_fn(name)
            assert isinstance(factory, Metric), name
    assert isinstance(get_metric_fn("F1"), train.F1) and isinstance(get_metric_fn("f1"), train.F1)
    cm = get_metric_fn("confusion_matrix", num_classes=4, normalize="all")
    assert isinstance(cm, ConfusionMatrix) and (cm.num_classes, cm.normalize) == (4, "all")
    assert get_metric_fn("auc", np.array([0.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx(0.5)
    for error in (KeyError, ValueError):
        with pytest.raises(error, match="unknown metric 'rouge'; valid names: F1, acc"):
            get_metric_fn("rouge")


# ---------------------------------------------------------------- confusion matrices against scikit-learn


@pytest.mark.parametrize("normalize,sk", [("no_norm", None), ("target", "true"), ("prediction", "pred"), ("all", "all")])
def test_confusion_matrix_equals_scikit_learn_over_batches(normalize, sk):
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(0)
    scores, labels = rng.random((50, 5)), rng.integers(0, 4, 50)  # class 4 is never a label: an empty row
    metric = ConfusionMatrix(5, normalize=normalize)
    for part in (slice(0, 20), slice(20, 50)):
        metric.update(Tensor(scores[part]), labels[part])
    want = confusion_matrix(labels, scores.argmax(1), labels=range(5), normalize=sk)
    np.testing.assert_allclose(metric.eval(), want, atol=1e-12)
    one = ConfusionMatrix(5, normalize=normalize)
    one.update(scores, labels)
    np.testing.assert_allclose(one.eval(), metric.eval(), atol=1e-12)
    metric.clear()
    with pytest.raises(RuntimeError, match="ConfusionMatrix.eval: no batch"):
        metric.eval()


def test_confusion_matrix_thresholds_float_predictions_and_takes_segmentation_scores():
    from sklearn.metrics import confusion_matrix

    probs, labels = np.array([0.1, 0.5, 0.49, 0.9, 0.7]), np.array([0, 1, 1, 0, 1])
    metric = ConfusionMatrix(2, threshold=0.6)
    metric.update(probs, labels)
    np.testing.assert_array_equal(metric.eval(), confusion_matrix(labels, (probs >= 0.6).astype(int)))
    rng = np.random.default_rng(1)
    scores, masks = rng.random((2, 3, 4, 4)), rng.integers(0, 3, (2, 4, 4))
    metric = ConfusionMatrix(3)
    metric.update(scores, masks)
    np.testing.assert_array_equal(metric.eval(), confusion_matrix(masks.ravel(), scores.argmax(1).ravel(), labels=range(3)))


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="ConfusionMatrix: num_classes must be a positive int, got 0"):
        ConfusionMatrix(0)
    with pytest.raises(ValueError, match="ConfusionMatrix: normalize must be one of .*got 'label'"):
        ConfusionMatrix(2, normalize="label")
    with pytest.raises(TypeError, match="ConfusionMatrix: threshold must be a float, got '0.5'"):
        ConfusionMatrix(2, threshold="0.5")
    metric = ConfusionMatrix(2)
    with pytest.raises(RuntimeError, match="ConfusionMatrix.eval: no batch was given to update"):
        metric.eval()
    with pytest.raises(ValueError, match=r"ConfusionMatrix: y_pred \(3,\) must have y's shape \(4,\)"):
        metric.update(np.array([0, 1, 1]), np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"ConfusionMatrix: y must hold class indices in \[0, 2\), got values in \[0, 2\]"):
        metric.update(np.array([0, 1, 1]), np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="ConfusionMatrix.update takes 2 inputs, got 1"):
        metric.update(np.array([0]))


def _one_hot(labels, classes):
    return np.eye(classes)[labels]


@pytest.mark.parametrize("name,reference", [
    ("sensitivity", lambda y, p: __import__("sklearn.metrics").metrics.recall_score(y, p)),
    ("precision", lambda y, p: __import__("sklearn.metrics").metrics.precision_score(y, p)),
    ("f1 score", lambda y, p: __import__("sklearn.metrics").metrics.f1_score(y, p)),
    ("matthews correlation coefficient", lambda y, p: __import__("sklearn.metrics").metrics.matthews_corrcoef(y, p)),
    ("balanced_accuracy", lambda y, p: __import__("sklearn.metrics").metrics.balanced_accuracy_score(y, p)),
    ("specificity", lambda y, p: __import__("sklearn.metrics").metrics.recall_score(y, p, pos_label=0)),
    ("accuracy", lambda y, p: __import__("sklearn.metrics").metrics.accuracy_score(y, p)),
    ("fowlkes_mallows_index", lambda y, p: np.sqrt(__import__("sklearn.metrics").metrics.precision_score(y, p)
                                                   * __import__("sklearn.metrics").metrics.recall_score(y, p))),
])
def test_confusion_matrix_metric_on_binary_classification_equals_scikit_learn(name, reference):
    rng = np.random.default_rng(2)
    labels, predicted = rng.integers(0, 2, 80), rng.integers(0, 2, 80)
    metric = ConfusionMatrixMetric(skip_channel=False, metric_name=name)  # drops channel 0: the positive class's counts
    for part in (slice(0, 30), slice(30, 80)):
        metric.update(_one_hot(predicted[part], 2), Tensor(_one_hot(labels[part], 2)))
    out = metric.eval()
    assert out.shape == (1,)
    assert out[0] == pytest.approx(reference(labels, predicted), rel=1e-12)


def test_confusion_matrix_metric_rates_by_hand_and_skip_channel():
    # every channel counted: tp=3, fp=1, tn=6, fn=2 over two one-hot rows of 3 classes and one 2-pixel image
    y_pred = np.array([[[1, 0], [0, 1], [0, 0]], [[0, 0], [1, 1], [0, 0]]])
    y = np.array([[[1, 0], [0, 0], [1, 0]], [[0, 1], [1, 1], [0, 0]]])
    tp, fp, tn, fn = 3, 1, 6, 2
    by_hand = {"tpr": tp / (tp + fn), "tnr": tn / (tn + fp), "ppv": tp / (tp + fp), "npv": tn / (tn + fn), "miss_rate": fn / (fn + tp),
               "fall_out": fp / (fp + tn), "fdr": fp / (fp + tp), "false omission rate": fn / (fn + tn), "threat_score": tp / (tp + fn + fp),
               "informedness": tp / (tp + fn) + tn / (tn + fp) - 1, "markedness": tp / (tp + fp) + tn / (tn + fn) - 1}
    tpr, tnr = tp / (tp + fn), tn / (tn + fp)
    by_hand["prevalence_threshold"] = (np.sqrt(tpr * (1 - tnr)) + tnr - 1) / (tpr + tnr - 1)
    for name, want in by_hand.items():
        metric = ConfusionMatrixMetric(metric_name=name)
        metric.update(y_pred, y)
        assert metric.eval()[0] == pytest.approx(want, rel=1e-12), name
    dropped = ConfusionMatrixMetric(skip_channel=False, metric_name="tpr")  # channel 0 dropped: tp=2, fn=1
    dropped.update(y_pred, y)
    assert dropped.eval()[0] == pytest.approx(2 / 3)


def test_confusion_matrix_metric_per_sample_mean_equals_per_image_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    y_pred, y = rng.integers(0, 2, (6, 3, 5, 5)), rng.integers(0, 2, (6, 3, 5, 5))
    y[0, 1] = 0
    y_pred[0, 1] = 0  # an empty class in an image: F1 undefined there and left out
    per_image = np.array([[f1_score(y[b, c].ravel(), y_pred[b, c].ravel(), zero_division=np.nan) for c in range(3)] for b in range(6)])
    want = np.nanmean(np.nanmean(per_image, axis=1))
    metric = ConfusionMatrixMetric(metric_name="f1", calculation_method=True, decrease="mean")
    metric.update(y_pred[:2], y[:2])
    metric.update(y_pred[2:], y[2:])
    assert metric.eval() == pytest.approx(want, rel=1e-12)
    by_class = ConfusionMatrixMetric(metric_name="f1", calculation_method=True, decrease="mean_batch")
    by_class.update(y_pred[:4], y[:4])
    by_class.update(y_pred[4:], y[4:])
    np.testing.assert_allclose(by_class.eval(), np.nanmean(per_image, axis=0), rtol=1e-12)


def test_confusion_matrix_metric_errors():
    with pytest.raises(ValueError, match="ConfusionMatrixMetric: unknown metric_name 'dice'"):
        ConfusionMatrixMetric(metric_name="dice")
    with pytest.raises(ValueError, match="ConfusionMatrixMetric: decrease must be one of .*got 'max'"):
        ConfusionMatrixMetric(decrease="max")
    with pytest.raises(TypeError, match="ConfusionMatrixMetric: skip_channel must be a bool, got 1"):
        ConfusionMatrixMetric(skip_channel=1)
    metric = ConfusionMatrixMetric()
    with pytest.raises(RuntimeError, match="ConfusionMatrixMetric.eval: no batch"):
        metric.eval()
    with pytest.raises(ValueError, match=r"ConfusionMatrixMetric: y_pred \(2, 3\) and y \(2, 2\) must have the same shape"):
        metric.update(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="ConfusionMatrixMetric: y must be binarised"):
        metric.update(np.zeros((2, 2)), np.array([[0, 2], [1, 0]]))


# ---------------------------------------------------------------- ROC and auc against scikit-learn


def test_binary_roc_and_auc_equal_scikit_learn_over_batches():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(4)
    scores, labels = np.round(rng.random(60), 1), rng.integers(0, 2, 60)  # rounded: ties
    metric = ROC()
    metric.update(Tensor(scores[:25]), Tensor(labels[:25]))
    metric.update(scores[25:], labels[25:])
    fpr, tpr, thresholds = metric.eval()
    sk_fpr, sk_tpr, sk_thr = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thr[1:])
    assert thresholds[0] == pytest.approx(scores.max() + 1)
    assert auc(fpr, tpr) == pytest.approx(roc_auc_score(labels, scores), rel=1e-12)
    metric.clear()
    with pytest.raises(RuntimeError, match="ROC.eval: no batch"):
        metric.eval()


def test_multiclass_roc_equals_one_vs_rest_scikit_learn():
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(5)
    scores, labels = rng.random((40, 3)), rng.integers(0, 3, 40)
    metric = ROC(class_num=3)
    metric.update(scores[:15], labels[:15])
    metric.update(scores[15:], labels[15:])
    fpr, tpr, _ = metric.eval()
    for c in range(3):
        sk_fpr, sk_tpr, _ = roc_curve(labels == c, scores[:, c], drop_intermediate=False)
        np.testing.assert_allclose(fpr[c], sk_fpr)
        np.testing.assert_allclose(tpr[c], sk_tpr)


def test_auc_equals_scikit_learn_and_follows_direction_and_reorder():
    from sklearn.metrics import auc as sk_auc

    x, y = np.array([0.0, 0.2, 0.5, 0.5, 1.0]), np.array([0.0, 0.4, 0.6, 0.8, 1.0])
    assert auc(x, y) == pytest.approx(sk_auc(x, y))
    assert auc(x[::-1], y[::-1]) == pytest.approx(sk_auc(x, y))
    shuffled = np.array([3, 0, 4, 1, 2])
    assert auc(x[shuffled], y[shuffled], reorder=True) == pytest.approx(sk_auc(x, y))
    with pytest.raises(ValueError, match="auc: x must be increasing or decreasing"):
        auc(x[shuffled], y[shuffled])
    with pytest.raises(ValueError, match="auc: x and y must have the same length, got 5 and 4"):
        auc(x, y[:4])
    with pytest.raises(ValueError, match="auc: at least 2 points are needed, got 1"):
        auc(x[:1], y[:1])
    with pytest.raises(ValueError, match=r"auc: x must be 1-D \(or a column\), got shape \(2, 2\)"):
        auc(np.zeros((2, 2)), np.zeros(4))


def test_roc_errors():
    with pytest.raises(TypeError, match="ROC: class_num must be an int or None, got 2.0"):
        ROC(class_num=2.0)
    with pytest.raises(ValueError, match="ROC: multiclass scores .* need pos_label None, got 1"):
        ROC(class_num=2, pos_label=1).update(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"ROC: class_num must equal the number of classes in y_pred \(3, 2\), got 3"):
        ROC(class_num=3).update(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="ROC: binary inputs .* need class_num None or 1, got 3"):
        ROC(class_num=3).update(np.zeros(3), np.zeros(3))
    metric = ROC()
    metric.update(np.array([0.2, 0.4]), np.array([1, 1]))
    with pytest.raises(ValueError, match="ROC.eval: the labels hold no negative sample"):
        metric.eval()
    with pytest.raises(ValueError, match=r"ROC: binary y_pred \(2,\) and y \(3,\) must have the same shape"):
        metric.update(np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------- Dice, perplexity, cosine similarity, BLEU


def test_dice_by_hand_accumulates_batch_coefficients_over_samples():
    rng = np.random.default_rng(6)
    a, b = rng.random((4, 5)), rng.integers(0, 2, (4, 5)).astype(float)

    def coefficient(p, t):
        return 2 * np.sum(p * t) / (np.sum(p * p) + np.sum(t * t) + 1e-5)

    metric = Dice()
    for i in range(4):
        metric.update(a[i:i + 1], b[i:i + 1])
    assert metric.eval() == pytest.approx(np.mean([coefficient(a[i], b[i]) for i in range(4)]), rel=1e-12)
    metric.clear()
    metric.update(a[:1], b[:1])
    metric.update(a[1:], b[1:])
    assert metric.eval() == pytest.approx((coefficient(a[:1], b[:1]) + coefficient(a[1:], b[1:])) / 4, rel=1e-12)
    assert Dice()(b, b) == pytest.approx(2 * np.sum(b) / (2 * np.sum(b) + 1e-5) / 4)
    with pytest.raises(ValueError, match=r"Dice: y_pred \(4, 5\) and y \(4, 4\) must have the same shape"):
        metric.update(a, b[:, :4])
    with pytest.raises(ValueError, match="Dice: smooth must be a positive float, got 0"):
        Dice(smooth=0)
    with pytest.raises(RuntimeError, match="Dice.eval: no batch"):
        Dice().eval()


def test_perplexity_equals_exp_of_scikit_learn_log_loss_over_batches():
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(7)
    probs = rng.random((30, 4)) + 0.05
    probs /= probs.sum(1, keepdims=True)
    labels = rng.integers(0, 4, 30)
    metric = Perplexity()
    metric.update(probs[:10], labels[:10])
    metric.update(Tensor(probs[10:]), Tensor(labels[10:]))
    assert metric.eval() == pytest.approx(np.exp(log_loss(labels, probs, labels=range(4))), rel=1e-10)
    ignoring = Perplexity(ignore_label=2)
    ignoring.update(probs.reshape(3, 10, 4), labels.reshape(3, 10))  # a (batch, time) layout
    kept = labels != 2
    assert ignoring.eval() == pytest.approx(np.exp(-np.mean(np.log(probs[kept, labels[kept]]))), rel=1e-12)
    with pytest.raises(RuntimeError, match=r"Perplexity: labels \(29,\) must hold one class index per row of preds \(30, 4\)"):
        metric.update(probs, labels[:29])
    with pytest.raises(ValueError, match=r"Perplexity: labels must be class indices in \[0, 4\), got values in \[0, 4\]"):
        metric.update(probs[:2], np.array([0, 4]))
    with pytest.raises(TypeError, match="Perplexity: ignore_label must be an int or None, got 0.5"):
        Perplexity(ignore_label=0.5)
    only_ignored = Perplexity(ignore_label=1)
    only_ignored.update(probs[:2], np.array([1, 1]))
    with pytest.raises(RuntimeError, match="Perplexity.eval: no .*label"):
        only_ignored.eval()


@pytest.mark.parametrize("similarity,reduction,zero_diagonal", [("cosine", "none", True), ("dot", "sum", False), ("cosine", "mean", False)])
def test_cosine_similarity_equals_scikit_learn_with_rows_stacked_over_batches(similarity, reduction, zero_diagonal):
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(8)
    rows = rng.standard_normal((7, 5))
    want = cosine_similarity(rows) if similarity == "cosine" else rows @ rows.T
    if zero_diagonal:
        np.fill_diagonal(want, 0)
    want = {"none": want, "sum": want.sum(-1), "mean": want.mean(-1)}[reduction]
    metric = CosineSimilarity(similarity, reduction, zero_diagonal)
    metric.update(rows[:3])
    metric.update(Tensor(rows[3:]))
    np.testing.assert_allclose(metric.eval(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(metric.eval(), want, rtol=1e-12, atol=1e-12)  # eval leaves the state alone


def test_cosine_similarity_errors():
    with pytest.raises(ValueError, match="CosineSimilarity: similarity must be one of 'dot', 'cosine', got 'l2'"):
        CosineSimilarity(similarity="l2")
    with pytest.raises(ValueError, match="CosineSimilarity: reduction must be one of"):
        CosineSimilarity(reduction="max")
    with pytest.raises(TypeError, match="CosineSimilarity: zero_diagonal must be a bool"):
        CosineSimilarity(zero_diagonal="yes")
    metric = CosineSimilarity()
    with pytest.raises(ValueError, match=r"CosineSimilarity: inputs must be a matrix \(N, D\), got shape \(3,\)"):
        metric.update(np.ones(3))
    metric.update(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"CosineSimilarity: every batch must have 3 features, got shape \(2, 4\)"):
        metric.update(np.ones((2, 4)))
    with pytest.raises(RuntimeError, match="CosineSimilarity.eval: no batch"):
        CosineSimilarity().eval()


def _bleu_by_hand(candidates, references, n_gram, smooth=False):
    matched, total, c, r = np.zeros(n_gram), np.zeros(n_gram), 0, 0
    for cand, refs in zip(candidates, references):
        c += len(cand)
        r += sorted((abs(len(ref) - len(cand)), i, len(ref)) for i, ref in enumerate(refs))[0][2]
        for n in range(1, n_gram + 1):
            grams = Counter(tuple(cand[i:i + n]) for i in range(len(cand) - n + 1))
            for gram, count in grams.items():
                most = max(sum(tuple(ref[i:i + n]) == gram for i in range(len(ref) - n + 1)) for ref in refs)
                matched[n - 1] += min(count, most)
                total[n - 1] += count
    if matched.min() == 0:
        return 0.0
    precisions = (matched + 1) / (total + 1) if smooth else matched / total
    return (1.0 if c > r else np.exp(1 - r / c)) * np.prod(precisions) ** (1 / n_gram)


@pytest.mark.parametrize("n_gram,smooth", [(4, False), (2, False), (3, True), (1, False)])
def test_bleu_equals_a_by_hand_count_over_batches(n_gram, smooth):
    candidates = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "runs", "in", "the", "park", "today"], ["hello", "there"]]
    references = [[["the", "cat", "is", "on", "the", "mat"], ["there", "is", "a", "cat", "on", "the", "mat"]],
                  [["a", "dog", "runs", "in", "a", "park"], ["the", "dog", "is", "running", "in", "the", "park", "today"]],
                  [["hello", "there", "friend"]]]
    metric = BleuScore(n_gram=n_gram, smooth=smooth)
    metric.update(candidates[:1], references[:1])
    metric.update(candidates[1:], references[1:])
    want = _bleu_by_hand(candidates, references, n_gram, smooth)
    assert want > 0
    assert metric.eval() == pytest.approx(want, rel=1e-12)
    one = BleuScore(n_gram=n_gram, smooth=smooth)
    one.update(candidates, references)
    assert one.eval() == pytest.approx(metric.eval(), rel=1e-12)


def test_bleu_errors_and_zero_score():
    with pytest.raises(ValueError, match="BleuScore: n_gram must be in \\[1, 4\\], got 5"):
        BleuScore(n_gram=5)
    with pytest.raises(TypeError, match="BleuScore: smooth must be a bool, got 1"):
        BleuScore(smooth=1)
    metric = BleuScore()
    with pytest.raises(RuntimeError, match="BleuScore.eval: no batch"):
        metric.eval()
    with pytest.raises(ValueError, match="BleuScore: candidate_corpus and reference_corpus must have the same length, got 1 and 2"):
        metric.update([["a"]], [[["a"]], [["b"]]])
    metric.update([["a", "b"]], [[["c", "d"]]])
    assert metric.eval() == 0.0


# ---------------------------------------------------------------- surface distances against scipy.spatial


def _surface_points(mask):
    return np.argwhere(mask ^ ndimage.binary_erosion(mask))


def _blobs(seed):
    rng = np.random.default_rng(seed)
    pred, true = np.zeros((20, 24), int), np.zeros((20, 24), int)
    pred[3:12, 4:15] = 1
    true[5:15, 7:19] = 1
    pred[rng.integers(0, 20, 6), rng.integers(0, 24, 6)] = 1
    return pred, true


def test_surface_distances_equal_scipy_point_set_distances():
    pred, true = _blobs(9)
    a, b = _surface_points(pred == 1), _surface_points(true == 1)
    forward, backward = cdist(a, b).min(1), cdist(b, a).min(1)
    hd = HausdorffDistance()
    hd.update(pred, true, 1)
    assert hd.eval() == pytest.approx(max(directed_hausdorff(a, b)[0], directed_hausdorff(b, a)[0]), rel=1e-12)
    directed = HausdorffDistance(directed=True, crop=False)
    directed.update(pred, true, 1)
    assert directed.eval() == pytest.approx(directed_hausdorff(a, b)[0], rel=1e-12)
    p95 = HausdorffDistance(percentile=95.0)
    p95.update(pred, true, 1)
    assert p95.eval() == pytest.approx(max(np.percentile(forward, 95), np.percentile(backward, 95)), rel=1e-12)
    for symmetric in (False, True):
        msd, rmsd = MeanSurfaceDistance(symmetric=symmetric), RootMeanSquareDistance(symmetric=symmetric)
        msd.update(Tensor(pred), Tensor(true), 1)
        rmsd.update(pred, true, 1)
        ways = (forward, backward) if symmetric else (forward,)
        assert msd.eval() == pytest.approx(np.mean([w.mean() for w in ways]), rel=1e-12)
        assert rmsd.eval() == pytest.approx(np.sqrt(np.mean([np.mean(w ** 2) for w in ways])), rel=1e-12)


@pytest.mark.parametrize("metric_name,ord_", [("taxicab", 1), ("chessboard", np.inf)])
def test_surface_distances_with_taxicab_and_chessboard_metrics(metric_name, ord_):
    pred, true = _blobs(10)
    a, b = _surface_points(pred == 1), _surface_points(true == 1)
    forward = np.min(np.linalg.norm(a[:, None] - b[None], ord=ord_, axis=-1), axis=1)
    msd = MeanSurfaceDistance(distance_metric=metric_name)
    msd.update(pred, true, 1)
    assert msd.eval() == pytest.approx(forward.mean(), rel=1e-12)
    hd = HausdorffDistance(distance_metric=metric_name, directed=True)
    hd.update(pred.astype(bool), true.astype(bool), 1)  # bool arrays are the masks
    assert hd.eval() == pytest.approx(forward.max())


def test_surface_distances_keep_the_last_image_and_report_inf_without_surface():
    pred, true = _blobs(11)
    metric = MeanSurfaceDistance()
    metric.update(IMG_X, IMG_Y, 0)
    metric.update(pred, true, 1)
    alone = MeanSurfaceDistance()
    alone.update(pred, true, 1)
    assert metric.eval() == alone.eval()
    empty = HausdorffDistance()
    empty.update(np.zeros((4, 4)), np.pad(np.ones((2, 2)), 1), 1)
    assert empty.eval() == np.inf
    for cls in (HausdorffDistance, MeanSurfaceDistance, RootMeanSquareDistance):
        name = cls.__name__
        with pytest.raises(RuntimeError, match=f"{name}.eval: no batch"):
            cls().eval()
        with pytest.raises(ValueError, match=f"{name}: label_idx 7 occurs in neither y_pred nor y"):
            cls().update(IMG_X, IMG_Y, 7)
        with pytest.raises(TypeError, match=f"{name}: label_idx \\(input 2\\) must be an int or float, got '0'"):
            cls().update(IMG_X, IMG_Y, "0")
        with pytest.raises(ValueError, match=rf"{name}: y_pred \(3, 3\) and y \(3, 2\) must be non-empty images of the same shape"):
            cls().update(IMG_X, IMG_Y[:, :2], 0)
        with pytest.raises(ValueError, match=f"{name}: distance_metric must be one of .*got 'cosine'"):
            cls(distance_metric="cosine")
        with pytest.raises(ValueError, match=f"{name}.update takes 3 inputs, got 2"):
            cls().update(IMG_X, IMG_Y)
    with pytest.raises(ValueError, match="HausdorffDistance: percentile must be None or in \\[0, 100\\], got 101"):
        HausdorffDistance(percentile=101)


# ---------------------------------------------------------------- occlusion sensitivity


class _DenseNet(nn.Cell):
    def __init__(self, weight, bias):
        super().__init__()
        self.dense = nn.Dense(weight.shape[1], weight.shape[0], weight_init=Tensor(weight), bias_init=Tensor(bias))

    def construct(self, x):
        return self.dense(x.reshape(x.shape[0], -1))


def test_occlusion_sensitivity_doc_example():
    model = _DenseNet(np.array([[0.1, 0.8, 0.1, 0.1], [1, 1, 1, 1]], np.float32), np.array([0.3, 0.6], np.float32))
    metric = OcclusionSensitivity()
    metric.update(model, np.array([[0.1, 0.2, 0.3, 0.4]], np.float32), np.array(1).astype(np.int32))
    np.testing.assert_allclose(metric.eval(), [0.29999995, 0.6, 1.0, 0.9], rtol=1e-6)


@pytest.mark.parametrize("margin,n_batch,b_box", [(1, 128, None), (2, 3, None), ([1, 2], 5, [1, 3, 0, 2])])
def test_occlusion_sensitivity_of_a_linear_model_by_hand(margin, n_batch, b_box):
    rng = np.random.default_rng(12)
    weight, bias, image = rng.standard_normal((3, 20)).astype(np.float32), np.zeros(3, np.float32), rng.random((1, 4, 5)).astype(np.float32)
    metric = OcclusionSensitivity(pad_val=0.5, margin=margin, n_batch=n_batch, b_box=b_box)
    metric.update(_DenseNet(weight, bias), Tensor(image), 2)
    rows, cols = (range(1, 4), range(0, 3)) if b_box else (range(4), range(5))
    m0, m1 = (margin, margin) if isinstance(margin, int) else margin
    want = np.zeros((len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            covered = image[0].copy()
            covered[max(0, r - m0):r + m0, max(0, c - m1):c + m1] = 0.5
            want[i, j] = weight[2] @ image[0].ravel() - weight[2] @ covered.ravel()  # the bias cancels
    np.testing.assert_allclose(metric.eval(), want, rtol=1e-4, atol=1e-5)


def test_occlusion_sensitivity_errors():
    model = _DenseNet(np.ones((2, 4), np.float32), np.zeros(2, np.float32))
    with pytest.raises(RuntimeError, match=r"OcclusionSensitivity: x \(input 1\) must be one input of shape \(1, ...\), got \(2, 4\)"):
        OcclusionSensitivity().update(model, np.ones((2, 4)), 1)
    with pytest.raises(ValueError, match="OcclusionSensitivity: margin must be a non-negative int or a list of them, got -1"):
        OcclusionSensitivity(margin=-1)
    with pytest.raises(ValueError, match=r"OcclusionSensitivity: b_box \[0, 5\] must lie within the input's shape \(4,\)"):
        OcclusionSensitivity(b_box=[0, 5]).update(model, np.ones((1, 4)), 1)
    with pytest.raises(TypeError, match="OcclusionSensitivity: model \\(input 0\\) must be a Cell or callable, got int"):
        OcclusionSensitivity().update(3, np.ones((1, 4)), 1)
    with pytest.raises(RuntimeError, match="OcclusionSensitivity.eval: no batch"):
        OcclusionSensitivity().eval()
