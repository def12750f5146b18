"""Checks of notebook 06 (image captioning).

Forward layers are compared with the references in utils.layers; backward layers get the cache
of the reference forward (so its layout is fixed: word embedding ``(x, (V, D))``, temporal
affine ``(x, w)``) and are compared with the reference gradients and numerical gradients. The
loss check recognises the classic masking and averaging mistakes; the captioning-loss check
compares a student's whole pipeline with ``utils.models.captioner_numpy.captioning_loss``. The
checks of the decoding exercises are in ``utils.checks.decode_loop`` and
``utils.checks.beam_search``.
Shapes are chosen with N, T, D, V, M all different so that swapped axes fail.
"""
import numpy as np

from utils.checks.core import (CheckFailed, as_numpy, call_student, close_enough, exercise_check, expect_array,
                               expect_tuple, expect_unchanged, passed)
from utils.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array
from utils.layers import lstm_forward, rnn_forward, temporal_affine_forward, temporal_softmax_loss
from utils.layers.embedding import word_embedding_backward, word_embedding_forward
from utils.models.captioner_numpy import captioning_loss, init_captioner_params

EMBED_CASES = [(3, 5, 7, 4), (2, 6, 4, 9)]      # (N, T, V, D)
AFFINE_CASES = [(3, 4, 5, 6), (2, 7, 3, 2)]     # (N, T, D, M)
LOSS_CASES = [(4, 6, 5), (3, 5, 8)]             # (N, T, V)


def _ids(rng, N, T, V):
    """(N, T) ids in [0, V) that use id 0 and id V-1 and repeat some ids."""
    x = rng.integers(0, V, size=(N, T))
    x[0, 0], x[-1, -1] = 0, V - 1
    x[0, 1:3] = x[-1, 0]          # repeated ids: their gradients must add up
    return x


# --------------------------------------------------------------------------- word embedding
@exercise_check
def check_word_embedding_forward(student_fn, seed=0):
    """Check ``word_embedding_forward(x, W) -> (out, cache)``: out[n, t] = W[x[n, t]]."""
    name = "word_embedding_forward"
    rng = np.random.default_rng(seed)
    for N, T, V, D in EMBED_CASES:
        x, W = _ids(rng, N, T, V), rng.normal(size=(V, D))
        x_copy, W_copy = x.copy(), W.copy()
        out = expect_tuple(name, call_student(name, student_fn, x_copy, W_copy), ("out", "cache"))[0]
        expect_unchanged(name, x, x_copy, "x")
        expect_unchanged(name, W, W_copy, "W")
        expected, _ = word_embedding_forward(x, W)
        try:
            expect_array(name, out, expected, what=f"out (case N={N}, T={T}, V={V}, D={D})", rtol=1e-12)
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\nout[n, t] is row x[n, t] of W: integer indexing W[x] gives "
                              f"all (N, T, D) rows at once.") from None
    passed(name, f"looks up the right rows on {len(EMBED_CASES)} random cases, repeated ids included")


@exercise_check
def check_word_embedding_backward(student_fn, seed=1):
    """Check ``word_embedding_backward(dout, cache) -> dW`` on the reference forward's cache
    ``(x, (V, D))``, with repeated and unused word ids, against numerical gradients."""
    name = "word_embedding_backward"
    rng = np.random.default_rng(seed)
    for N, T, V, D in EMBED_CASES:
        x, W = _ids(rng, N, T, V), rng.normal(size=(V, D))
        dout = rng.normal(size=(N, T, D))
        _, cache = word_embedding_forward(x, W)
        dout_copy = dout.copy()
        dW = call_student(name, student_fn, dout_copy, cache)
        expect_unchanged(name, dout, dout_copy, "dout")
        expected = word_embedding_backward(dout, cache)
        numeric = eval_numerical_gradient_array(lambda W_: word_embedding_forward(x, W_)[0], W.copy(), dout)
        label = f"dW (case N={N}, T={T}, V={V}, D={D}"
        try:
            expect_array(name, dW, numeric, what=label + ", vs numerical gradient)", rtol=1e-7)
        except CheckFailed as exc:
            buffered = np.zeros((V, D))
            buffered[x] += dout
            hint = ("\nIt matches `dW[x] += dout` (or `dW[x] = dout`): with a repeated id, numpy's buffered fancy "
                    "indexing keeps only one of its contributions. A word used k times must collect "
                    "all k gradients: use np.add.at(dW, x, dout)." if close_enough(dW, buffered) else
                    "\ndW[v] is the sum of dout[n, t] over every (n, t) with x[n, t] == v; rows of "
                    "unused words stay zero.")
            raise CheckFailed(f"{exc}{hint}") from None
        expect_array(name, dW, expected, what=label + ", vs the reference)", rtol=1e-9)
    passed(name, f"matches numerical gradients on {len(EMBED_CASES)} random cases with repeated "
                 f"and unused words (relative error < 1e-7)")


# --------------------------------------------------------------------------- temporal affine
@exercise_check
def check_temporal_affine_forward(student_fn, seed=2):
    """Check ``temporal_affine_forward(x, w, b) -> (out, cache)``: out = x @ w + b at every step."""
    name = "temporal_affine_forward"
    rng = np.random.default_rng(seed)
    for N, T, D, M in AFFINE_CASES:
        x, w, b = rng.normal(size=(N, T, D)), rng.normal(size=(D, M)), rng.normal(size=M)
        copies = [x.copy(), w.copy(), b.copy()]
        out = expect_tuple(name, call_student(name, student_fn, *copies), ("out", "cache"))[0]
        for before, after, what in zip((x, w, b), copies, ("x", "w", "b")):
            expect_unchanged(name, before, after, what)
        expected, _ = temporal_affine_forward(x, w, b)
        try:
            expect_array(name, out, expected, what=f"out (case N={N}, T={T}, D={D}, M={M})", rtol=1e-10)
        except CheckFailed as exc:
            hint = ("\nThe bias is missing: out = x @ w + b." if close_enough(out, x @ w) else
                    "\nThe same w and b apply at every step t: out[:, t] = x[:, t] @ w + b; "
                    "x @ w does all steps at once (matmul broadcasts over N and T).")
            raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"matches the reference on {len(AFFINE_CASES)} random cases")


@exercise_check
def check_temporal_affine_backward(student_fn, seed=3):
    """Check ``temporal_affine_backward(dout, cache) -> (dx, dw, db)`` on the reference
    forward's cache ``(x, w)``, against numerical gradients."""
    name = "temporal_affine_backward"
    names = ("dx", "dw", "db")
    rng = np.random.default_rng(seed)
    for N, T, D, M in AFFINE_CASES:
        x, w, b = rng.normal(size=(N, T, D)), rng.normal(size=(D, M)), rng.normal(size=M)
        dout = rng.normal(size=(N, T, M))
        _, cache = temporal_affine_forward(x, w, b)
        dout_copy = dout.copy()
        got = expect_tuple(name, call_student(name, student_fn, dout_copy, cache), names)
        expect_unchanged(name, dout, dout_copy, "dout")
        inputs = [x, w, b]
        for k, (g, what) in enumerate(zip(got, names)):
            def f(value, k=k):
                args = [a.copy() for a in inputs]
                args[k] = value
                return temporal_affine_forward(*args)[0]
            numeric = eval_numerical_gradient_array(f, inputs[k].copy(), dout)
            try:
                expect_array(name, g, numeric, what=f"{what} (case N={N}, T={T}, D={D}, M={M}, "
                             f"vs numerical gradient)", rtol=1e-7)
            except CheckFailed as exc:
                hint = {"dx": "\ndx[:, t] = dout[:, t] @ w.T at every step.",
                        "dw": "\nThe same w is used at every step of every caption: dw sums "
                              "x[n, t] outer dout[n, t] over both n and t.",
                        "db": "\nb is added at every step of every caption: db sums dout over "
                              "axes 0 and 1, shape (M,)."}[what]
                raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"dx, dw and db match numerical gradients on {len(AFFINE_CASES)} random cases "
                 f"(relative error < 1e-7)")


# ------------------------------------------------------------------------------ masked loss
def _loss_variants(scores, y, mask):
    """Losses and gradients of the classic mistakes, to name the one a student made."""
    N, T, V = scores.shape
    full = np.ones_like(mask)
    loss, dscores = temporal_softmax_loss(scores, y, mask)
    loss_nomask, d_nomask = temporal_softmax_loss(scores, y, full)
    return {
        "average over steps": (loss * N / (N * T), dscores * N / (N * T)),
        "average over real words": (loss * N / mask.sum(), dscores * N / mask.sum()),
        "no mask": (loss_nomask, d_nomask),
        "mask in loss only": (loss, d_nomask),
        "no average": (loss * N, dscores * N),
    }


_LOSS_HINTS = {
    "average over steps": "you divided by N * T (every step of every caption); the loss is summed "
                          "over time and averaged over the N captions only: divide by N",
    "average over real words": "you divided by the number of real (unmasked) words; the course's "
                               "loss sums over time and averages over the N captions: divide by N",
    "no mask": "padding counts: multiply each step's loss (and its gradient) by mask, so <NULL> "
               "targets add nothing",
    "mask in loss only": "the loss is right but the gradient still flows into padded steps: "
                         "multiply dscores by mask too (mask[:, :, None])",
    "no average": "you summed over the captions too; divide the loss and the gradient by N",
}


@exercise_check
def check_temporal_softmax_loss(student_fn, seed=4):
    """Check ``temporal_softmax_loss(scores, y, mask) -> (loss, dscores)``: cross-entropy summed
    over the unmasked steps and averaged over N; dscores compared with numerical gradients."""
    name = "temporal_softmax_loss"
    rng = np.random.default_rng(seed)
    for N, T, V in LOSS_CASES:
        scores = rng.normal(scale=2.0, size=(N, T, V))
        y = rng.integers(0, V, size=(N, T))
        lengths = rng.integers(1, T + 1, size=N)
        lengths[0], lengths[-1] = T, 2                    # one full row, one mostly padding
        mask = np.arange(T)[None, :] < lengths[:, None]   # (N, T): True on real words
        copies = [scores.copy(), y.copy(), mask.copy()]
        loss, dscores = expect_tuple(name, call_student(name, student_fn, *copies), ("loss", "dscores"))
        for before, after, what in zip((scores, y, mask), copies, ("scores", "y", "mask")):
            expect_unchanged(name, before, after, what)
        ref_loss, ref_d = temporal_softmax_loss(scores, y, mask)
        variants = _loss_variants(scores, y, mask)
        label = f"case N={N}, T={T}, V={V}, {int((~mask).sum())} padded steps"
        try:
            got_loss = float(np.asarray(as_numpy(loss)).reshape(()))
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: loss should be one number, got {type(loss).__name__} "
                              f"{getattr(loss, 'shape', '')}") from None
        if not np.isclose(got_loss, ref_loss, rtol=1e-8, atol=0):
            known = next((k for k, (v, _) in variants.items() if k != "mask in loss only"
                          and np.isclose(got_loss, v, rtol=1e-8)), None)
            hint = _LOSS_HINTS[known] if known else ("loss = -(1/N) * sum over n and t of "
                                                     "mask[n, t] * log softmax(scores[n, t])[y[n, t]]")
            raise CheckFailed(f"{name}: loss is {got_loss:.6g}, expected {ref_loss:.6g} ({label}).\n"
                              f"{hint}")
        try:
            expect_array(name, dscores, ref_d, what=f"dscores ({label})", rtol=1e-7)
        except CheckFailed as exc:
            # the loss is right here, so a gradient without the mask is "mask in loss only"
            known = next((k for k in ("mask in loss only", "average over steps", "average over real words",
                                      "no average") if close_enough(dscores, variants[k][1], 1e-7)), None)
            hint = _LOSS_HINTS[known] if known else ("dscores = (softmax(scores) - onehot(y)) * "
                                                     "mask[:, :, None] / N")
            raise CheckFailed(f"{exc}\n{hint}") from None
        numeric = eval_numerical_gradient(lambda s: temporal_softmax_loss(s, y, mask)[0], scores.copy())
        expect_array(name, dscores, numeric, what=f"dscores ({label}, vs numerical gradient)", rtol=1e-5)
    passed(name, f"loss and dscores match on {len(LOSS_CASES)} padded minibatches: masked steps "
                 f"count for nothing and the sum over time is averaged over N")


# ----------------------------------------------------------------------------- captioning loss
def _captions_with_padding(rng, N, T1, V):
    """(N, T1) rows <START> words <END> <NULL>...: one full row, one short one."""
    captions = np.zeros((N, T1), dtype=np.int64)
    lengths = rng.integers(1, T1 - 1, size=N)
    lengths[0], lengths[-1] = T1 - 2, 1
    for n, L in enumerate(lengths):
        captions[n, 0] = 1
        captions[n, 1:1 + L] = rng.integers(3, V, size=L)
        captions[n, 1 + L] = 2
    return captions


def _variant_loss(params, features, captions, cell, conditioning, variant):
    """The loss of a classic mistake (forward only), to recognise it."""
    x_in, y = captions[:, :-1], captions[:, 1:]
    mask = y != 0
    if variant == "mask from inputs":
        mask = x_in != 0
    elif variant == "no mask":
        mask = np.ones_like(mask)
    elif variant == "no shift":
        y = captions[:, :-1]
        mask = y != 0
    N, T = x_in.shape
    x, _ = word_embedding_forward(x_in, params["W_embed"])
    Wx = params["Wx"]
    if conditioning == "init":
        h0 = features @ params["W_proj"] + params["b_proj"]
        if variant == "zero h0":
            h0 = np.zeros_like(h0)
    else:
        h0 = None
        x = np.concatenate([x, np.broadcast_to(features[:, None], (N, T, features.shape[1]))], axis=2)
        Wx = np.concatenate([Wx, params["W_img"]], axis=0)
    forward = rnn_forward if cell == "vanilla" else lstm_forward
    h, _ = forward(x, h0, Wx, params["Wh"], params["b"])
    scores, _ = temporal_affine_forward(h, params["W_vocab"], params["b_vocab"])
    return temporal_softmax_loss(scores, y, mask)[0]


_CAPTION_HINTS = {
    "no mask": "the <NULL> padding is counted: mask = (captions_out != NULL)",
    "mask from inputs": "the mask must come from the targets captions[:, 1:], not the inputs "
                        "(the step whose input is <END> has a <NULL> target)",
    "no shift": "inputs and targets must be shifted by one: captions_in = captions[:, :-1], "
                "captions_out = captions[:, 1:] (predict the NEXT word)",
    "zero h0": "the image never reaches the RNN: h0 = features @ W_proj + b_proj",
}


@exercise_check(earlier=("word_embedding_forward", "temporal_affine_forward", "temporal_softmax_loss",
                         "temporal_affine_backward", "word_embedding_backward"))
def check_captioning_loss(student_fn, cell="lstm", conditioning="init", seed=5):
    """Check ``captioning_loss(params, features, captions) -> (loss, grads)`` against the
    reference ``utils.models.captioner_numpy.captioning_loss`` (loss and every gradient).

    cell, conditioning: the model the student built ("lstm"/"vanilla", "init"/"every_step").
    """
    name = "captioning_loss"
    rng = np.random.default_rng(seed)
    for N, T1, V, P, W, H in ((3, 7, 10, 6, 4, 5), (4, 5, 8, 3, 5, 4)):
        params = init_captioner_params(V, P, W, H, cell=cell, conditioning=conditioning, seed=seed)
        params = {k: v + rng.normal(scale=0.3, size=v.shape) for k, v in params.items()}
        features = rng.normal(size=(N, P))
        captions = _captions_with_padding(rng, N, T1, V)
        copies = {k: v.copy() for k, v in params.items()}
        loss, grads = expect_tuple(name, call_student(name, student_fn, copies, features.copy(),
                                                      captions.copy()), ("loss", "grads"))
        for key in params:
            expect_unchanged(name, params[key], copies[key], f"params[{key!r}]")
        ref_loss, ref_grads = captioning_loss(params, features, captions, cell=cell,
                                              conditioning=conditioning)
        label = f"{cell}, conditioning {conditioning!r}, N={N}, T={T1 - 1}, V={V}"
        try:
            got_loss = float(np.asarray(as_numpy(loss)).reshape(()))
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: loss should be one number, got {type(loss).__name__}") from None
        if not np.isclose(got_loss, ref_loss, rtol=1e-8, atol=0):
            variants = ("no mask", "mask from inputs", "no shift") + (("zero h0",) if conditioning == "init" else ())
            known = next((v for v in variants if np.isclose(
                got_loss, _variant_loss(params, features, captions, cell, conditioning, v), rtol=1e-8)), None)
            hint = _CAPTION_HINTS[known] if known else (
                "embed captions[:, :-1], run the RNN from h0, score every step with the temporal "
                "affine layer, and apply temporal_softmax_loss to captions[:, 1:] with the mask")
            raise CheckFailed(f"{name}: loss is {got_loss:.6g}, expected {ref_loss:.6g} ({label}).\n{hint}")
        if not isinstance(grads, dict) or set(grads) != set(params):
            got_keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise CheckFailed(f"{name}: grads should be a dict with the keys of params "
                              f"{sorted(params)}, got {got_keys}")
        for key in params:
            try:
                expect_array(name, grads[key], ref_grads[key], what=f"grads[{key!r}] ({label})", rtol=1e-7)
            except CheckFailed as exc:
                hint = {"W_embed": "\nThe embedding's gradient comes from dx, the first output of "
                                   "the RNN's backward (word_embedding_backward(dx, cache)).",
                        "W_proj": "\nh0 = features @ W_proj + b_proj: dW_proj = features.T @ dh0.",
                        "b_proj": "\ndb_proj = dh0.sum(axis=0).",
                        "W_img": "\nThe image is concatenated to every step's input: dW_img is "
                                 "the rows of dWx that multiply it."}.get(key, "")
                raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"loss and all {len(params)} gradients match the reference "
                 f"({cell}, conditioning {conditioning!r}) on 2 padded minibatches")
