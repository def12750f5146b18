"""utils.analysis.probes: the linear probe reads what is linearly there, and nothing else."""
import numpy as np
import pytest

from utils.analysis.probes import linear_probe, logistic_probe, probe_table, scene_properties
from utils.data.shapes import COLOURS, make_scenes


def _one_hot_features(scenes, rng, noise=0.1):
    """Features that hold colour presence linearly, plus noise dimensions."""
    props = scene_properties(scenes)
    cols = [props[f"has {c}"][0] for c in COLOURS]
    return np.stack(cols, axis=1) + noise * rng.normal(size=(len(scenes), len(COLOURS))), \
        rng.normal(size=(len(scenes), 20))


def test_probe_finds_a_linear_property_and_not_a_random_one():
    rng = np.random.default_rng(0)
    train, test = make_scenes("train", 300), make_scenes("val", 200)
    (f_train, n_train), (f_test, n_test) = _one_hot_features(train, rng), _one_hot_features(test, rng)
    y_train = scene_properties(train)["has red"][0]
    y_test = scene_properties(test)["has red"][0]
    assert linear_probe(f_train, y_train, f_test, y_test) > 0.95
    majority = max(np.mean(y_test), 1 - np.mean(y_test))
    assert linear_probe(n_train, y_train, n_test, y_test) < majority + 0.1


def test_properties_match_the_metadata():
    scenes = make_scenes("test", 20)
    props = scene_properties(scenes)
    for k, scene in enumerate(scenes):
        leftmost = min(scene.objects, key=lambda o: o.centre[0])
        assert COLOURS[props["colour of the leftmost object"][0][k]] == leftmost.colour
        assert props["has red"][0][k] == any(o.colour == "red" for o in scene.objects)


def test_probe_table_rows_and_bad_input():
    rng = np.random.default_rng(1)
    train, test = make_scenes("train", 100), make_scenes("val", 50)
    rows = probe_table(rng.normal(size=(100, 8)), train, rng.normal(size=(50, 8)), test)
    assert {r[0] for r in rows} >= {"has red", "number of objects"}
    assert all(len(r) == 4 and all(0 <= a <= 1 for a in r[1:]) for r in rows)
    with pytest.raises(ValueError, match=r"^linear_probe: test_features must have shape \(M, P\) = \(2, 3\), got \(2, 5\)$"):
        linear_probe(np.zeros((4, 3)), [0, 1, 0, 1], np.zeros((2, 5)), [0, 1])
    with pytest.raises(ValueError, match=r"^linear_probe: train_labels must have shape \(N,\) = \(4,\), got \(3,\)$"):
        linear_probe(np.zeros((4, 3)), [0, 1, 0], np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="scene_properties"):
        scene_properties([])


def test_the_logistic_probe_reads_an_ordered_middle_class_that_least_squares_loses():
    """Three classes in order along one direction (a count): one-vs-rest least squares fits a
    line to the middle class's 0/1 targets, which is flat, and loses it; softmax does not."""
    rng = np.random.default_rng(0)
    def data(n):
        labels = rng.integers(0, 3, size=n)
        features = np.column_stack([labels + rng.normal(scale=0.15, size=n), rng.normal(size=(n, 3))])
        return features, labels
    (f, y), (ft, yt) = data(600), data(300)
    least_squares, logistic = linear_probe(f, y, ft, yt), logistic_probe(f, y, ft, yt)
    assert logistic > 0.95 and least_squares < 0.8, (least_squares, logistic)
    with pytest.raises(ValueError, match=r"^logistic_probe: test_features must have shape"):
        logistic_probe(f, y, ft[:, :2], yt)
