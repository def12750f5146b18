"""Linear probes: what a frozen feature vector holds, read out by the simplest possible classifier.

A probe fits a linear map from features to one property on training scenes and measures it on
other scenes. High probe accuracy says the property is there in linear form, ready for the next
model (the captioner's W_proj, the VQA model's fusion) to use.

    scene_properties   per-scene labels read from the metadata (which colours, shapes, how many...)
    linear_probe       least-squares one-vs-rest classifier; accuracy on held-out features
    logistic_probe     softmax (multinomial logistic) classifier; accuracy on held-out features
    probe_table        every property of scene_properties, probed at once by both
"""
import numpy as np
import torch
import torch.nn.functional as F

from utils import validate
from utils.data.shapes import COLOURS, SHAPES, Scene


def scene_properties(scenes):
    """Labels of every scene for probing, from the metadata.

    scenes: list of N Scene.
    Returns: dict name -> (labels (N,) int array, class names): "has <colour>" (no/yes) for each
    colour, "has <shape>" for each shape, "number of objects", "colour of the leftmost object",
    "shape of the largest object" (ties: the first listed).
    """
    scenes = list(scenes)
    if not scenes or not all(isinstance(s, Scene) for s in scenes):
        raise ValueError(f"scene_properties: scenes must be a non-empty list of Scene, "
                         f"got {validate.shown(scenes)}")
    props = {}
    for colour in COLOURS:
        props[f"has {colour}"] = (np.array([any(o.colour == colour for o in s.objects) for s in scenes],
                                           dtype=np.int64), ("no", "yes"))
    for shape in SHAPES:
        props[f"has {shape}"] = (np.array([any(o.shape == shape for o in s.objects) for s in scenes],
                                          dtype=np.int64), ("no", "yes"))
    counts = sorted({len(s.objects) for s in scenes})
    props["number of objects"] = (np.array([counts.index(len(s.objects)) for s in scenes]),
                                  tuple(str(c) for c in counts))
    props["colour of the leftmost object"] = (
        np.array([COLOURS.index(min(s.objects, key=lambda o: o.centre[0]).colour) for s in scenes]), COLOURS)
    props["shape of the largest object"] = (
        np.array([SHAPES.index(max(s.objects, key=lambda o: o.box[2] - o.box[0]).shape) for s in scenes]), SHAPES)
    return props


def _probe_data(fname, train_features, train_labels, test_features, test_labels):
    """Both probes' inputs, checked: features standardised with the training mean and spread
    (float64), labels as ints. Returns Z (N, P), y (N,), Zt (M, P), yt (M,), K classes."""
    validate.shapes(fname, "train_features: N P, train_labels: N, test_features: M P, test_labels: M",
                    train_features, train_labels, test_features, test_labels)
    X = validate.float_array(fname, "train_features", train_features)
    Xt = validate.float_array(fname, "test_features", test_features)
    y = validate.int_array(fname, "train_labels", train_labels, low=0)
    yt = validate.int_array(fname, "test_labels", test_labels, low=0)
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-8
    return (X - mean) / std, y, (Xt - mean) / std, yt, int(max(y.max(), yt.max())) + 1


def linear_probe(train_features, train_labels, test_features, test_labels, ridge=1e-3):
    """Fit a linear one-vs-rest classifier by ridge least squares; return its test accuracy.

    train_features (N, P), train_labels (N,) ints in [0, K); test_features (M, P), test_labels (M,).
    ridge: L2 penalty (> 0) on the weights, so that the fit is well posed when P > N.
    Features are standardised with the training mean and spread. Returns: accuracy, a float in [0, 1].
    """
    Z, y, Zt, yt, K = _probe_data("linear_probe", train_features, train_labels, test_features, test_labels)
    ridge = validate.positive_number("linear_probe", "ridge", ridge)
    Z1 = np.hstack([Z, np.ones((len(Z), 1))])
    targets = np.eye(K)[y]  # (N, K) one-hot
    W = np.linalg.solve(Z1.T @ Z1 + ridge * len(Z) * np.eye(Z1.shape[1]), Z1.T @ targets)
    predicted = (np.hstack([Zt, np.ones((len(Zt), 1))]) @ W).argmax(axis=1)
    return float(np.mean(predicted == yt))


def logistic_probe(train_features, train_labels, test_features, test_labels, l2=1e-3, steps=200):
    """Fit a softmax classifier (multinomial logistic regression); return its test accuracy.

    train_features (N, P), train_labels (N,) ints in [0, K); test_features (M, P), test_labels (M,).
    l2: penalty on the squared weights (mean over the N scenes plus l2 * |W|^2); steps: L-BFGS
    iterations, full batch, float64, from zero weights (deterministic). Features are
    standardised with the training mean and spread, as in linear_probe. Unlike a least-squares
    fit of each class against the rest, it cannot lose a middle class of an ordered property.
    Returns: accuracy, a float in [0, 1].
    """
    fname = "logistic_probe"
    Z, y, Zt, yt, K = _probe_data(fname, train_features, train_labels, test_features, test_labels)
    l2, steps = validate.positive_number(fname, "l2", l2), validate.positive_int(fname, "steps", steps)
    Z, y, Zt = torch.from_numpy(Z), torch.from_numpy(y), torch.from_numpy(Zt)
    W = torch.zeros(Z.shape[1], K, dtype=torch.float64, requires_grad=True)  # device: numpy in, numpy out
    b = torch.zeros(K, dtype=torch.float64, requires_grad=True)  # device: beside W, on the CPU
    optimizer = torch.optim.LBFGS([W, b], max_iter=steps, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = F.cross_entropy(Z @ W + b, y) + l2 * (W ** 2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    with torch.no_grad():
        return float(np.mean((Zt @ W + b).argmax(dim=1).numpy() == yt))


def probe_table(train_features, train_scenes, test_features, test_scenes):
    """Probe every property of scene_properties with both probes; also the majority-class baseline.

    Returns: list of (property, least-squares probe accuracy, logistic probe accuracy,
    majority-class accuracy on the test scenes).
    """
    train_props = scene_properties(train_scenes)
    test_props = scene_properties(test_scenes)
    validate.shapes("probe_table", "train_features: N P, test_features: M P", train_features, test_features,
                    N=len(train_scenes), M=len(test_scenes))
    rows = []
    for name, (labels, _) in train_props.items():
        test_labels = test_props[name][0]
        if name == "number of objects":  # class indices depend on the counts present: use counts
            labels = np.array([len(s.objects) for s in train_scenes])
            test_labels = np.array([len(s.objects) for s in test_scenes])
        majority = np.bincount(labels).argmax()
        rows.append((name, linear_probe(train_features, labels, test_features, test_labels),
                     logistic_probe(train_features, labels, test_features, test_labels),
                     float(np.mean(test_labels == majority))))
    return rows
