"""The image captioner of notebook 06 in numpy: a CNN summary vector into an RNN language model.

One model, written twice with the same parameter names and equations: here the numpy
reference, built from utils.layers; the torch module that trains and decodes is
``utils.models.captioner.Captioner``.

    param_shapes, init_captioner_params, describe_params   the parameters: shapes, initial values, check
    captioning_loss                                         the teacher-forced loss and every gradient

Shapes: N images (or captions), P image features (the encoder's summary vector), W word-vector
size, H hidden units, V words, T time steps; k = 1 gate block for "vanilla", 4 for "lstm"
(course order i, f, o, g, as utils.layers.lstm).

The equations (row vectors, as in utils.layers). A caption row is <START> w_1 ... w_L <END>
<NULL>...; with teacher forcing the inputs are captions[:, :-1] and the targets captions[:, 1:]:

    x_t    = W_embed[input_t]                                   (N, W)   word embedding
    a_t    = x_t @ Wx + h_{t-1} @ Wh + b  [+ v @ W_img]         (N, kH)  gate pre-activations
    h_t    = tanh(a_t)  (vanilla)   or the LSTM update of a_t  (N, H)
    scores = h_t @ W_vocab + b_vocab                            (N, V)
    loss   = sum over t and n of -log softmax(scores)[target] where target != <NULL>, / N

The image is v (N, P): the encoder's summary vectors, standardised per dimension by the torch
model (``Captioner.fit_feature_normalisation``; the numpy reference takes v as given). How v
enters, ``conditioning``:
- "init" (Karpathy & Fei-Fei; CS231n): h_0 = v @ W_proj + b_proj, the image sets the initial
  hidden state (the LSTM's initial cell state is 0) and is never seen again;
- "every_step" (Mao et al.'s m-RNN style): h_0 = 0 and a third weight matrix W_img (P, kH) adds
  v @ W_img to the gate pre-activation of every step. The numpy reference implements it by
  concatenating v to each step's input, [x_t, v] @ [[Wx], [W_img]] = x_t @ Wx + v @ W_img,
  so the unchanged rnn/lstm layers compute it and their dWx holds dWx and dW_img stacked.

Parameters (dict keys of the numpy model = parameter names of the torch module):
    W_embed (V, W); Wx (W, kH); Wh (H, kH); b (kH,); W_vocab (H, V); b_vocab (V,);
    "init": W_proj (P, H), b_proj (H,);   "every_step": W_img (P, kH).
"""
import math

import numpy as np

from utils import validate
from utils.layers import (lstm_backward, lstm_forward, rnn_backward, rnn_forward,
                          temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss)
from utils.layers.embedding import word_embedding_backward, word_embedding_forward

CAPTIONER_CELLS = ("vanilla", "lstm")
CONDITIONINGS = ("init", "every_step")
GATE_BLOCKS = {"vanilla": 1, "lstm": 4}
DEFAULT_HIDDEN = 128


def param_shapes(vocab_size, feature_dim, wordvec_dim, hidden_dim, cell="lstm",
                 conditioning="init"):
    """The shape of every parameter: dict name -> tuple (see the module docstring)."""
    V, P, W, H = vocab_size, feature_dim, wordvec_dim, hidden_dim
    kH = GATE_BLOCKS[cell] * H
    found = {"W_embed": (V, W), "Wx": (W, kH), "Wh": (H, kH), "b": (kH,),
             "W_vocab": (H, V), "b_vocab": (V,)}
    if conditioning == "init":
        found.update(W_proj=(P, H), b_proj=(H,))
    else:
        found.update(W_img=(P, kH))
    return found


def init_captioner_params(vocab_size, feature_dim, wordvec_dim=32, hidden_dim=DEFAULT_HIDDEN,
                          cell="lstm", conditioning="init", seed=0):
    """Random initial parameters of the captioner (CS231n's scheme), float64 numpy.

    vocab_size V, feature_dim P, wordvec_dim W, hidden_dim H: positive ints.
    cell: "vanilla" or "lstm"; conditioning: "init" or "every_step" (module docstring).
    seed: int >= 0 for np.random.default_rng.
    Returns: dict name -> array: W_embed (V, W) ~ N(0, 1/100); Wx (W, kH) ~ N(0, 1/W);
        Wh (H, kH) ~ N(0, 1/H); b (kH,) zeros, except the LSTM forget-gate block set to 1 (the
        cell state is kept at first); W_vocab (H, V) ~ N(0, 1/H); b_vocab (V,) zeros; and
        W_proj (P, H) ~ N(0, 1/P), b_proj (H,) zeros for "init", or W_img (P, kH) ~ N(0, 1/P)
        for "every_step".
    """
    fname = "init_captioner_params"
    V = validate.positive_int(fname, "vocab_size", vocab_size)
    P = validate.positive_int(fname, "feature_dim", feature_dim)
    W = validate.positive_int(fname, "wordvec_dim", wordvec_dim)
    H = validate.positive_int(fname, "hidden_dim", hidden_dim)
    validate.one_of(fname, "cell", cell, CAPTIONER_CELLS)
    validate.one_of(fname, "conditioning", conditioning, CONDITIONINGS)
    rng = np.random.default_rng(validate.seed(fname, seed))
    shapes_ = param_shapes(V, P, W, H, cell, conditioning)
    fan_in = {"W_embed": 100.0, "Wx": W, "Wh": H, "W_vocab": H, "W_proj": P, "W_img": P}
    params = {}
    for name, shape in shapes_.items():   # fixed order: the same seed gives the same weights
        if name in fan_in:
            params[name] = rng.normal(scale=1.0 / math.sqrt(fan_in[name]), size=shape)
        else:
            params[name] = np.zeros(shape)
    if cell == "lstm":
        params["b"][H:2 * H] = 1.0  # forget gate open at first
    return params


def describe_params(fname, params):
    """(cell, conditioning, sizes dict V, P, W, H) read from a parameter dict, checked.

    Raises ValueError naming the first missing key or wrong shape.
    """
    if not isinstance(params, dict):
        raise ValueError(f"{fname}: params must be a dict of arrays, got {validate.shown(params)}")
    for key in ("W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"):
        if key not in params:
            raise ValueError(f"{fname}: params must hold {key!r}, got keys {sorted(params)}")
    has_proj, has_img = "W_proj" in params, "W_img" in params
    if has_proj == has_img:
        raise ValueError(f"{fname}: params must hold either 'W_proj' and 'b_proj' (conditioning "
                         f"'init') or 'W_img' (conditioning 'every_step'), got keys {sorted(params)}")
    conditioning = "init" if has_proj else "every_step"
    if np.ndim(params["W_embed"]) != 2:
        raise ValueError(f"{fname}: params['W_embed'] must have shape (V, W), "
                         f"got {np.shape(params['W_embed'])}")
    V, W = np.shape(params["W_embed"])
    Wh = np.shape(params["Wh"])
    if len(Wh) != 2 or Wh[0] < 1 or Wh[1] not in (Wh[0], 4 * Wh[0]):
        raise ValueError(f"{fname}: params['Wh'] must have shape (H, H) (vanilla) or (H, 4H) "
                         f"(lstm), got {Wh}")
    H = Wh[0]
    cell = "vanilla" if Wh[1] == H else "lstm"
    image_key = "W_proj" if has_proj else "W_img"
    if np.ndim(params[image_key]) != 2:
        raise ValueError(f"{fname}: params[{image_key!r}] must be a matrix with P rows, "
                         f"got shape {np.shape(params[image_key])}")
    P = np.shape(params[image_key])[0]
    wanted = param_shapes(V, P, W, H, cell, conditioning)
    for key, shape in wanted.items():
        if key not in params:
            raise ValueError(f"{fname}: params must hold {key!r} for conditioning "
                             f"{conditioning!r}, got keys {sorted(params)}")
        if tuple(np.shape(params[key])) != shape:
            raise ValueError(f"{fname}: params[{key!r}] must have shape {shape} for a {cell} "
                             f"captioner with V={V}, P={P}, W={W}, H={H}, "
                             f"got {tuple(np.shape(params[key]))}")
        validate.finite_numbers(fname, f"params[{key!r}]", params[key])
    extra = set(params) - set(wanted)
    if extra:
        raise ValueError(f"{fname}: params must hold only {sorted(wanted)}, got extra keys {sorted(extra)}")
    return cell, conditioning, {"V": V, "P": P, "W": W, "H": H}


def captioning_loss(params, features, captions, null_id=0, cell="lstm", conditioning="init"):
    """Teacher-forced loss of the numpy captioner and the gradient of every parameter.

    params: dict from init_captioner_params (its shapes must fit cell and conditioning).
    features: (N, P) image feature vectors v (e.g. standardised summary vectors of the encoder).
    captions: (N, T + 1) int word ids, each row <START> words <END> then <NULL> padding.
    null_id: the <NULL> id; targets equal to it do not count.
    cell: "vanilla" or "lstm"; conditioning: "init" or "every_step" (module docstring).
    Returns: loss (float): cross-entropy summed over the T steps and averaged over the N
        captions; grads: dict with the same keys and shapes as params.

    Forward: word_embedding -> (h0 from features | features concatenated to every input) ->
    rnn/lstm over T steps -> temporal_affine -> temporal_softmax_loss with the mask
    targets != null_id. Backward: the same layers' backward functions, in reverse.
    """
    fname = "captioning_loss"
    validate.one_of(fname, "cell", cell, CAPTIONER_CELLS)
    validate.one_of(fname, "conditioning", conditioning, CONDITIONINGS)
    got_cell, got_cond, sizes = describe_params(fname, params)
    if (got_cell, got_cond) != (cell, conditioning):
        raise ValueError(f"{fname}: params must be those of a {cell} captioner with conditioning "
                         f"{conditioning!r}, got the parameters of a {got_cell} captioner with "
                         f"conditioning {got_cond!r}")
    V, P, W = sizes["V"], sizes["P"], sizes["W"]
    N, P = validate.shapes(fname, "features: N P", features, P=P)
    features = validate.float_array(fname, "features", features)
    captions = validate.int_array(fname, "captions", captions, ndim=2, low=0, high=V)
    if captions.shape[0] != N or captions.shape[1] < 2:
        raise ValueError(f"{fname}: captions must have shape ({N}, T + 1) with T >= 1 (one row "
                         f"per feature vector), got {captions.shape}")
    null_id = validate.int_in_range(fname, "null_id", null_id, 0, V - 1)
    if (cell, conditioning) == ("lstm", "init"):  # notebook 06's exercise
        # BEGIN REFERENCE captioning_loss
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]            # (N, T) each
        mask = captions_out != null_id                                            # (N, T)
        h0 = features @ params["W_proj"] + params["b_proj"]                       # (N, H)
        x, embed_cache = word_embedding_forward(captions_in, params["W_embed"])  # (N, T, W)
        h, lstm_cache = lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"])
        scores, affine_cache = temporal_affine_forward(h, params["W_vocab"], params["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}  # backward: the same layers in reverse order
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, affine_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = lstm_backward(dh, lstm_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        grads["W_proj"] = features.T @ dh0                                        # (P, H)
        grads["b_proj"] = dh0.sum(axis=0)                                         # (H,)
        # END REFERENCE
        return float(loss), grads
    T = captions.shape[1] - 1

    captions_in, captions_out = captions[:, :-1], captions[:, 1:]      # (N, T) each
    mask = captions_out != null_id                                      # (N, T)
    x, embed_cache = word_embedding_forward(captions_in, params["W_embed"])   # (N, T, W)
    if conditioning == "init":
        h0 = features @ params["W_proj"] + params["b_proj"]             # (N, H)
        inputs, Wx = x, params["Wx"]
    else:
        h0 = None                                                       # zeros
        inputs = np.concatenate([x, np.broadcast_to(features[:, None, :], (N, T, P))], axis=2)
        Wx = np.concatenate([params["Wx"], params["W_img"]], axis=0)    # (W + P, kH)
    forward, backward = (rnn_forward, rnn_backward) if cell == "vanilla" else (lstm_forward, lstm_backward)
    h, rnn_cache = forward(inputs, h0, Wx, params["Wh"], params["b"])  # (N, T, H)
    scores, affine_cache = temporal_affine_forward(h, params["W_vocab"], params["b_vocab"])  # (N, T, V)
    loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, affine_cache)
    dinputs, dh0, dWx, grads["Wh"], grads["b"] = backward(dh, rnn_cache)
    if conditioning == "init":
        grads["Wx"] = dWx
        grads["W_proj"] = features.T @ dh0                              # (P, H)
        grads["b_proj"] = dh0.sum(axis=0)                               # (H,)
        dx = dinputs
    else:
        grads["Wx"], grads["W_img"] = dWx[:W], dWx[W:]                  # the stacked rows
        dx = dinputs[:, :, :W]                                          # the image part: frozen
    grads["W_embed"] = word_embedding_backward(dx, embed_cache)
    return float(loss), {key: grads[key] for key in params}
