"""Top-k accuracy, Precision, Recall and the confusion matrix by hand; the metrics in fit."""

import numpy as np
import pytest

from tinyvid import layers, metrics
from tinyvid.metrics import Precision, Recall, TopKCategoricalAccuracy
from tinyvid.models import Sequential
from tinyvid.utils import set_random_seed, to_categorical

Y_TRUE = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
Y_PRED = np.array([[0.5, 0.3, 0.2], [0.5, 0.5, 0.0], [0.1, 0.6, 0.3]])


def test_top_k_categorical_accuracy_by_hand():
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(Y_TRUE, Y_PRED, k=1),
                                  [0, 1, 0])  # a tie with the k-th highest counts as in
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(Y_TRUE, Y_PRED, k=2),
                                  [1, 1, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy([1, 0, 2], Y_PRED, 1),
                                  [0, 1, 0])
    metric = TopKCategoricalAccuracy(k=1)
    metric.update_state(Y_TRUE, Y_PRED)
    metric.update_state(Y_TRUE[:1], Y_PRED[1:2])  # label 1, scores tie between 0 and 1
    assert metric.result() == pytest.approx(2 / 4) and metric.name == "top_k_categorical_accuracy"
    with pytest.raises(ValueError, match="TopKCategoricalAccuracy: invalid value for argument `k`"):
        TopKCategoricalAccuracy(k=0)


def test_precision_and_recall_accumulate_over_batches_with_threshold_one_half():
    precision, recall = Precision(), Recall()
    batches = [([1, 0, 1, 1], [0.9, 0.6, 0.4, 0.5]),  # TP 1 (0.9); FP 1 (0.6); FN 2 (0.4, 0.5)
               ([0, 1], [0.2, 0.7])]  # TP 1
    for y_true, y_pred in batches:
        precision.update_state(y_true, y_pred)
        recall.update_state(y_true, y_pred)
    assert precision.result() == pytest.approx(2 / 3) and recall.result() == pytest.approx(2 / 4)
    precision.reset_state()
    assert precision.result() == 0.0  # nothing predicted positive: 0, not a division by zero
    several = Precision(thresholds=[0.3, 0.8])
    several.update_state(*batches[0])
    assert several.result() == pytest.approx([3 / 4, 1.0])
    by_class = Recall(class_id=2)
    by_class.update_state(Y_TRUE, Y_PRED)
    assert by_class.result() == 0.0  # class 2's one sample scored 0.3
    top = Precision(top_k=1)
    top.update_state(Y_TRUE, Y_PRED)  # kept: 0.5 (wrong), 0.5 and 0.5 (one right), 0.6 (wrong)
    assert top.result() == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="Precision: invalid value for argument `thresholds`"):
        Precision(thresholds=1.5)


def test_metric_objects_and_names_in_compile_and_fit():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 4)).astype(np.float32), to_categorical(rng.integers(0, 3, 20), 3)
    model = Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=["top_k_categorical_accuracy", Precision(), "recall",
                           TopKCategoricalAccuracy(k=1, name="top1")])
    history = model.fit(x, y, batch_size=5, epochs=2, verbose=0)
    assert {"top_k_categorical_accuracy", "precision", "recall", "top1"} <= set(history.history)
    assert history.history["top_k_categorical_accuracy"] == [1.0, 1.0]  # 3 classes, k = 5
    predictions = model.predict(x, verbose=0)
    expected = Precision()
    expected.update_state(y, predictions)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["precision"] == pytest.approx(expected.result())
    assert logs["top1"] == pytest.approx(np.mean(np.argmax(predictions, 1) == np.argmax(y, 1)))


def test_confusion_matrix_by_hand():
    matrix = metrics.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], num_classes=3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    from_scores = metrics.confusion_matrix(Y_TRUE, Y_PRED, num_classes=3)  # argmax of each
    np.testing.assert_array_equal(from_scores, [[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    assert matrix.dtype == np.int64 and metrics.confusion_matrix([], [], 2).sum() == 0
    with pytest.raises(ValueError, match=r"`y_pred` must hold class indices in \[0, 3\)"):
        metrics.confusion_matrix([0], [3], num_classes=3)
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 1"):
        metrics.confusion_matrix([0, 1], [1], num_classes=3)


def test_plot_confusion_matrix_writes_a_png_atomically(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "confusion.png"
    written = metrics.plot_confusion_matrix([[3, 1], [0, 4]], ["circle", "square"], path)
    assert written == str(path) and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]  # no temporary left
    with pytest.raises(ValueError, match="one row per class name"):
        metrics.plot_confusion_matrix([[1, 2]], ["a"], path)
