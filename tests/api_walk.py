"""The bad-input walk over the public utils API that the notebooks import.

Every function a notebook imports from utils (checks excepted: they take a student's function
and have their own tests) gets one small, valid example call below. The walk then spoils one
argument at a time (see ``bad_variants``: an extra axis, a NaN, an empty array, strings where
numbers belong, a negative or fractional size, a NaN scalar, a number where text belongs) and
expects a ValueError whose message names the function the student called. An argument that is
rightly allowed to take one of those values is listed in the example's ``accepts`` with the
reason, so every exemption is written down and reviewed.
"""
import functools
import math
import numbers

import numpy as np
import torch


class Example:
    """A valid call of ``module.name`` and the spoilt values it rightly accepts.

    make: fixtures -> (args tuple, kwargs dict), small enough to run in well under a second
        when an argument is spoilt and the function fails to notice it.
    accepts: {(argument, mutation): reason}; argument is the parameter name (or
        ``name[key]`` for an entry of a dict argument, ``name[i]`` for a tuple's entry).
    fixed: arguments the walk leaves alone (objects it cannot spoil meaningfully).
    names: names one of which the message must start with (default: the function's name).
    """

    def __init__(self, module, name, make, accepts=None, fixed=(), names=None):
        self.module, self.name, self.make = module, name, make
        self.accepts = accepts or {}
        self.fixed = set(fixed)
        self.names = names or (name,)

    @property
    def qualname(self):
        return f"{self.module}.{self.name}"

    def function(self):
        import importlib
        return getattr(importlib.import_module(self.module), self.name)


def bad_variants(value):
    """[(mutation, spoilt value)] for one argument value; [] when the walk has nothing to try."""
    out = []
    if isinstance(value, bool) or value is None:
        return out
    if isinstance(value, torch.Tensor):
        if value.ndim:
            out.append(("extra axis", value[None]))
            out.append(("empty", value[:0]))
        if value.is_floating_point() and value.numel():
            spoilt = value.clone()
            spoilt.view(-1)[0] = float("nan")
            out.append(("NaN", spoilt))
        elif value.numel():
            spoilt = value.clone()
            spoilt.view(-1)[0] = -1
            out.append(("negative", spoilt))
        return out
    if isinstance(value, np.ndarray):
        if value.ndim:
            out.append(("extra axis", value[None]))
            out.append(("empty", value[:0]))
        out.append(("strings", np.full(value.shape, "a")))
        if np.issubdtype(value.dtype, np.floating) and value.size:
            spoilt = value.copy()
            spoilt.flat[0] = np.nan
            out.append(("NaN", spoilt))
        elif np.issubdtype(value.dtype, np.integer) and value.size:
            spoilt = value.copy()
            spoilt.flat[0] = -1
            out.append(("negative", spoilt))
            out.append(("fractional", value + 0.5))
        return out
    if isinstance(value, numbers.Integral):
        return [("negative", -1), ("fractional", 2.5), ("string", str(value))]
    if isinstance(value, numbers.Real):
        return [("NaN", math.nan), ("string", str(value))]
    if isinstance(value, str):
        return [("empty", ""), ("number", 3)]
    return out


def spoilt_calls(example, fixtures):
    """Yield (argument, mutation, args, kwargs) for every spoilt variant of the example call."""
    import inspect
    args, kwargs = example.make(fixtures)
    signature = inspect.signature(example.function())
    bound = signature.bind(*args, **kwargs)
    for name, value in bound.arguments.items():
        if name in example.fixed:
            continue
        parts = [(name, value, None)]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            parts = [(f"{name}[{k}]", v, k) for k, v in value.items()]
        elif isinstance(value, tuple) and not hasattr(value, "_fields"):
            parts = [(f"{name}[{i}]", v, i) for i, v in enumerate(value)]
        for label, part, key in parts:
            for mutation, spoilt in bad_variants(part):
                if key is None:
                    new = spoilt
                elif isinstance(value, dict):
                    new = {**value, key: spoilt}
                else:
                    new = value[:key] + (spoilt,) + value[key + 1:]
                call = signature.bind(*args, **kwargs)
                call.arguments[name] = new
                yield label, mutation, call.args, call.kwargs


class Fixtures:
    """Small shared inputs, made once on first use."""

    @functools.cached_property
    def vocab_text(self):
        return "ROMEO: to be, or not to be [aside]\nJULIET: that is the question.\n"

    @functools.cached_property
    def char_vocab(self):
        from utils.data.text import CharVocab
        return CharVocab(self.vocab_text)

    @functools.cached_property
    def char_lm(self):
        from utils.models.char_lm import CharLM
        return CharLM(len(self.char_vocab), 8)

    @functools.cached_property
    def ids(self):
        return self.char_vocab.encode(self.vocab_text * 4)

    @functools.cached_property
    def shapes_vocab(self):
        from utils.data.shapes_language import build_vocab
        return build_vocab()

    @functools.cached_property
    def scenes(self):
        from utils.data.shapes import make_scenes
        return make_scenes("val", 2)

    @functools.cached_property
    def features(self):
        from utils.models.encoder import cached_features
        return cached_features("val", 2)

    @functools.cached_property
    def captioner(self):
        from utils.models.captioner import Captioner
        return Captioner(len(self.shapes_vocab), 256, wordvec_dim=8, hidden_dim=16)

    @functools.cached_property
    def attention_captioner(self):
        from utils.models.attention_captioner import AttentionCaptioner
        return AttentionCaptioner(len(self.shapes_vocab), 64, wordvec_dim=8, hidden_dim=16,
                                  attention_dim=8)

    @functools.cached_property
    def hard_attention_captioner(self):
        from utils.models.attention_captioner import AttentionCaptioner
        return AttentionCaptioner(len(self.shapes_vocab), 64, wordvec_dim=8, hidden_dim=16,
                                  attention_dim=8, attention="hard")

    @functools.cached_property
    def attention_histories(self):
        """{'hard': history} of two training steps of the small hard-attention model."""
        from utils.training.attention import train_attention_captioner
        history = train_attention_captioner(
            self.hard_attention_captioner, self.features[1], self.attention_captions_array,
            steps=2, batch_size=2, lr=0.01, progress=False, image_index=np.array([0, 1]),
            log=lambda *a: None)
        return {"hard": history}

    @functools.cached_property
    def vqa(self):
        from utils.training.vqa import vqa_data
        return vqa_data("val", 12)

    @functools.cached_property
    def vqa_model(self):
        from utils.models.vqa import build_model
        return build_model("san1", len(self.shapes_vocab), hidden_dim=16, wordvec_dim=8)

    @functools.cached_property
    def hello_params(self):
        from utils.models.hello import init_hello_params
        return init_hello_params()

    @functools.cached_property
    def rnn_cache(self):
        from utils.layers import rnn_forward
        x, h0, Wx, Wh, b = self.rnn_inputs
        return rnn_forward(x, h0, Wx, Wh, b)

    @functools.cached_property
    def rnn_inputs(self):
        rng = np.random.default_rng(0)
        return (rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5)), rng.normal(size=(4, 5)),
                rng.normal(size=(5, 5)) * 0.3, rng.normal(size=5))

    @functools.cached_property
    def lstm_inputs(self):
        rng = np.random.default_rng(1)
        return (rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5)), rng.normal(size=(4, 20)),
                rng.normal(size=(5, 20)) * 0.3, rng.normal(size=20))

    @functools.cached_property
    def lstm_cache(self):
        from utils.layers import lstm_forward
        return lstm_forward(*self.lstm_inputs)

    @functools.cached_property
    def affine(self):
        from utils.layers import temporal_affine_forward
        rng = np.random.default_rng(2)
        x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 6)), rng.normal(size=6)
        return (x, w, b), temporal_affine_forward(x, w, b)

    @functools.cached_property
    def char_lm_embedded(self):
        from utils.models.char_lm import CharLM
        return CharLM(len(self.char_vocab), 8, embed_size=4)

    @functools.cached_property
    def cell_weights(self):
        from utils.models.weights import make_cell_weights
        return make_cell_weights("vanilla", hidden_size=4, input_size=4)

    @functools.cached_property
    def lstm_ours(self):
        from utils.models.cells import LSTMFromEquations
        return LSTMFromEquations(3, 4)

    @functools.cached_property
    def gru_ours(self):
        from utils.models.cells import GRUFromEquations
        return GRUFromEquations(3, 4)

    @functools.cached_property
    def captioner_params(self):
        from utils.models.captioner_numpy import init_captioner_params
        return init_captioner_params(len(self.shapes_vocab), 16, wordvec_dim=4, hidden_dim=8)

    @functools.cached_property
    def attention_captions_array(self):
        """(2, 5) word ids: <START> w w w <END>, one caption per scene."""
        return np.array([[1, 5, 6, 7, 2], [1, 8, 9, 2, 0]])

    @property
    def axes(self):
        import matplotlib.pyplot as plt
        return plt.subplots()[1]
