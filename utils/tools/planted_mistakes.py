"""Planted mistakes: typical student errors, applied to the solutions and run through the self-check.

    python -m utils.tools.planted_mistakes [--notebook NN] [--jobs 2] [--list]

The catalogue below is data: one record per mistake, naming the notebook, the exercise (the
function the student writes), the kind of mistake in a few words, and an edit ``old -> new`` of
that exercise's solution code (the text between ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` in solutions/NN_*.ipynb). The mistakes are the ones students make: a wrong sign, a
missing tanh or sigmoid or its derivative, W instead of W.T, an off-by-one in the time loop,
a sum instead of a mean, the softmax over the wrong axis, a forgotten mask or bias, a gradient
assigned instead of accumulated over time, the gates in torch's order, a hidden state that is
not carried, a temperature multiplied instead of divided...

For each mistake the command copies the lecture with every solution pasted in
(``utils.tools.notebooks.lecture_with_answers``), plants the one edit (it must apply exactly
once, inside that exercise's solution code), runs the student self-check on the copy in a fresh
process (``utils.tools.selfcheck.run_selfcheck``; ``--jobs`` of them at a time, each starts a
kernel) and classifies the result: **caught** when the self-check's line for that exercise says
"wrong" with a message naming the exercise; **missed** for anything else (passed, not reached,
or another exercise failing instead). It prints one line per mistake, a table per exercise and
"caught C of P planted", and exits 1 if any mistake was missed. The whole catalogue takes
8 to 12 minutes on a 2-core CPU with ``--jobs 2``; tests/test_planted_catalogue.py runs a
representative subset (one mistake per exercise, see ``representative``) and checks that the
whole catalogue still applies.

Notebooks 01 to 08 are covered (00's warm-up softmax is left to tests/test_planted_mistakes_01_03.py).
Notebook 08 (VQA) was still being written when its mistakes were added: if its solution code
changes, tests/test_planted_catalogue.py names every edit that no longer applies.
"""
import argparse
import ast
import concurrent.futures
import io
import multiprocessing
import sys
import tempfile
import time
from collections import namedtuple

import nbformat

from utils.tools.notebooks import lecture_with_answers
from utils.tools.selfcheck import run_selfcheck

Mistake = namedtuple("Mistake", "notebook exercise kind old new")
Mistake.__doc__ = """One planted mistake: edit ``old -> new`` of ``exercise``'s solution code in ``notebook``."""

Outcome = namedtuple("Outcome", "mistake status detail caught seconds")
Outcome.__doc__ = """What the self-check said about one planted mistake: the status and message
of the exercise's line (status "error" when the self-check itself could not run)."""

NB01, NB02, NB03, NB04 = "01_rnn_basics.ipynb", "02_char_rnn.ipynb", "03_bptt.ipynb", "04_gradient_flow.ipynb"
NB05, NB06, NB07 = "05_lstm_gru.ipynb", "06_image_captioning.ipynb", "07_attention_captioning.ipynb"
NB08 = "08_vqa.ipynb"

CATALOGUE = tuple(Mistake(*fields) for fields in (
    # ------------------------------------------------------------------ 01 RNN basics
    (NB01, "rnn_step_forward", "missing tanh",
     "next_h = np.tanh(prev_h @ Wh + x @ Wx + b)", "next_h = prev_h @ Wh + x @ Wx + b"),
    (NB01, "rnn_step_forward", "forgotten bias", "x @ Wx + b)", "x @ Wx)"),
    (NB01, "rnn_step_forward", "transposed weight", "prev_h @ Wh ", "prev_h @ Wh.T "),
    (NB01, "rnn_step_forward", "ReLU instead of tanh", "np.tanh(", "np.maximum(0, "),
    (NB01, "rnn_forward", "off-by-one in the time loop", "for t in range(T):", "for t in range(T - 1):"),
    (NB01, "rnn_forward", "hidden state not carried",
     "prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)\n        h[:, t, :] = prev_h",
     "next_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)\n        h[:, t, :] = next_h"),
    (NB01, "rnn_forward", "h0 ignored", "prev_h = np.zeros((N, H)) if h0 is None else h0",
     "prev_h = np.zeros((N, H))"),
    (NB01, "rnn_forward", "stores the state before the step",
     "prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)\n        h[:, t, :] = prev_h",
     "h[:, t, :] = prev_h\n        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)"),
    (NB01, "output_projection", "forgotten bias", "return h @ Wy + by", "return h @ Wy"),
    (NB01, "output_projection", "tanh on the scores", "return h @ Wy + by", "return np.tanh(h @ Wy + by)"),
    (NB01, "output_projection", "last step only (many-to-one)", "return h @ Wy + by",
     "return h[:, -1] @ Wy + by"),
    # ------------------------------------------------------------------ 02 char-level LM
    (NB02, "step_losses", "wrong sign", "return -log_probs[", "return log_probs["),
    (NB02, "step_losses", "softmax over the wrong axis", "np.exp(shifted).sum(axis=1, keepdims=True)",
     "np.exp(shifted).sum(axis=0, keepdims=True)"),
    (NB02, "step_losses", "averaging instead of one loss per step",
     "-log_probs[np.arange(len(targets)), targets]", "-log_probs[np.arange(len(targets)), targets].mean()"),
    (NB02, "step_losses", "no max shift (overflows)",
     "shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores"),
    (NB02, "step_losses", "targets indexed as whole columns",
     "log_probs[np.arange(len(targets)), targets]", "log_probs[:, targets].sum(axis=0)"),
    (NB02, "temperature_probs", "temperature multiplied instead of divided",
     "scores / temperature", "scores * temperature"),
    (NB02, "temperature_probs", "temperature ignored", "softmax(scores / temperature)", "softmax(scores)"),
    (NB02, "temperature_probs", "temperature after the softmax",
     "softmax(scores / temperature)", "softmax(scores) / temperature"),
    (NB02, "sample_index", "argmax instead of sampling",
     "int(rng.choice(len(probs), p=probs))", "int(np.argmax(probs))"),
    (NB02, "sample_index", "uniform choice", "rng.choice(len(probs), p=probs)", "rng.choice(len(probs))"),
    (NB02, "sample_index", "off-by-one: last index never drawn",
     "rng.choice(len(probs), p=probs)", "rng.choice(len(probs) - 1, p=probs[:-1] / probs[:-1].sum())"),
    # ------------------------------------------------------------------ 03 BPTT
    (NB03, "rnn_step_backward", "missing tanh derivative", "da = dnext_h * (1 - next_h ** 2)", "da = dnext_h"),
    (NB03, "rnn_step_backward", "tanh' at the previous state", "(1 - next_h ** 2)", "(1 - prev_h ** 2)"),
    (NB03, "rnn_step_backward", "wrong sign in tanh'", "(1 - next_h ** 2)", "(next_h ** 2 - 1)"),
    (NB03, "rnn_step_backward", "W instead of W.T", "dprev_h = da @ Wh.T", "dprev_h = da @ Wh"),
    (NB03, "rnn_step_backward", "transposed weight gradient", "dWh = prev_h.T @ da", "dWh = da.T @ prev_h"),
    (NB03, "rnn_step_backward", "averaging instead of summing over the batch",
     "db = da.sum(axis=0)", "db = da.mean(axis=0)"),
    (NB03, "rnn_backward", "gradient not accumulated over time", "dWh += dWh_t", "dWh = dWh_t"),
    (NB03, "rnn_backward", "bias gradient not accumulated", "db += db_t", "db = db_t"),
    (NB03, "rnn_backward", "gradient from later steps dropped", "dh[:, t] + dprev", "dh[:, t]"),
    (NB03, "rnn_backward", "walks forwards in time", "for t in reversed(range(T)):", "for t in range(T):"),
    (NB03, "rnn_backward", "off-by-one in the time loop", "reversed(range(T))", "reversed(range(1, T))"),
    (NB03, "make_streams", "interleaved instead of contiguous",
     ".reshape(batch_size, L)", ".reshape(L, batch_size).T"),
    (NB03, "make_streams", "drops the start instead of the end", "ids[: L * batch_size]", "ids[-L * batch_size:]"),
    (NB03, "make_streams", "rounds the length up", "L = len(ids) // batch_size",
     "L = -(-len(ids) // batch_size)"),
    (NB03, "tbptt_epoch", "hidden state not carried", "logits, state = model(x, state)",
     "logits, state = model(x, None)"),
    (NB03, "tbptt_epoch", "state not detached", "state = detach_state(state)", "state = state"),
    (NB03, "tbptt_epoch", "gradients never zeroed", "optimizer.zero_grad()", "pass"),
    (NB03, "tbptt_epoch", "no optimizer step", "optimizer.step()", "pass"),
    (NB03, "tbptt_epoch", "targets not shifted (predicts its input)", "y.reshape(-1))", "x.reshape(-1))"),
    # ------------------------------------------------------------------ 04 gradient flow
    (NB04, "gradient_norms", "missing tanh derivative", "d = (d * (1 - h[:, t] ** 2)) @ Wh.T", "d = d @ Wh.T"),
    (NB04, "gradient_norms", "W instead of W.T", "** 2)) @ Wh.T", "** 2)) @ Wh"),
    (NB04, "gradient_norms", "tanh' of the earlier state", "h[:, t] ** 2", "h[:, t - 1] ** 2"),
    (NB04, "gradient_norms", "off-by-one in the time loop", "range(T - 1, 0, -1)", "range(T - 2, 0, -1)"),
    (NB04, "gradient_norms", "norm over the whole batch",
     "norms[:, t - 1] = np.linalg.norm(d, axis=1)", "norms[:, t - 1] = np.linalg.norm(d)"),
    (NB04, "scale_to_spectral_radius", "largest singular value instead of |eigenvalue|",
     "rho = np.max(np.abs(np.linalg.eigvals(W)))", "rho = np.linalg.norm(W, 2)"),
    (NB04, "scale_to_spectral_radius", "ratio inverted", "W * (radius / rho)", "W * (rho / radius)"),
    (NB04, "scale_to_spectral_radius", "no absolute value (largest real part)",
     "np.max(np.abs(np.linalg.eigvals(W)))", "np.max(np.linalg.eigvals(W).real)"),
    (NB04, "clip_by_global_norm", "each array clipped alone", "clipped = [g * scale for g in grads]",
     "clipped = [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]"),
    (NB04, "clip_by_global_norm", "always rescaled (no min with 1)",
     "min(1.0, max_norm / total_norm)", "max_norm / total_norm"),
    (NB04, "clip_by_global_norm", "missing square root",
     "np.sqrt(sum(np.sum(g ** 2) for g in grads))", "sum(np.sum(g ** 2) for g in grads)"),
    (NB04, "clip_by_global_norm", "sum of norms instead of the joint norm",
     "np.sqrt(sum(np.sum(g ** 2) for g in grads))", "sum(np.linalg.norm(g) for g in grads)"),
    (NB04, "clip_by_global_norm", "scale inverted", "max_norm / total_norm)", "total_norm / max_norm)"),
    # ------------------------------------------------------------------ 05 LSTM and GRU
    (NB05, "lstm_step_forward", "torch's gate order (i, f, g, o)",
     "i, f, o = sig[:, :H], sig[:, H:2 * H], sig[:, 2 * H:]\n    g = np.tanh(a[:, 3 * H:])",
     "i, f, g = sig[:, :H], sig[:, H:2 * H], np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])"),
    (NB05, "lstm_step_forward", "missing tanh of the cell", "next_h = o * tanh_c", "next_h = o * next_c"),
    (NB05, "lstm_step_forward", "sigmoid instead of tanh for g", "g = np.tanh(", "g = sigmoid("),
    (NB05, "lstm_step_forward", "forget gate ignored", "next_c = f * prev_c + i * g", "next_c = prev_c + i * g"),
    (NB05, "lstm_step_forward", "forgotten bias", "a = x @ Wx + prev_h @ Wh + b", "a = x @ Wx + prev_h @ Wh"),
    (NB05, "lstm_step_backward", "missing tanh' of the cell",
     "dnext_h * o * (1.0 - tanh_c ** 2)", "dnext_h * o"),
    (NB05, "lstm_step_backward", "cell gradient misses the path through h",
     "dc = dnext_c + dnext_h * o * (1.0 - tanh_c ** 2)", "dc = dnext_c"),
    (NB05, "lstm_step_backward", "missing sigmoid derivative", "df * f * (1 - f)", "df * f"),
    (NB05, "lstm_step_backward", "missing tanh' of g", "dg * (1 - g ** 2)", "dg"),
    (NB05, "lstm_step_backward", "wrong gate order in da",
     "do * o * (1 - o),\n                         dg * (1 - g ** 2)]", "dg * (1 - g ** 2),\n                         do * o * (1 - o)]"),
    (NB05, "lstm_step_backward", "transposed weight gradient", "dWh = prev_h.T @ da", "dWh = da.T @ prev_h"),
    (NB05, "lstm_forward", "cell state not carried",
     "prev_h, prev_c, step_cache = lstm_step_forward(", "prev_h, _, step_cache = lstm_step_forward("),
    (NB05, "lstm_forward", "off-by-one in the time loop", "for t in range(T):", "for t in range(T - 1):"),
    (NB05, "lstm_forward", "h0 ignored", "prev_h = np.zeros((N, H)) if h0 is None else h0",
     "prev_h = np.zeros((N, H))"),
    (NB05, "lstm_backward", "gradient not accumulated over time", "dWx += dWx_t", "dWx = dWx_t"),
    (NB05, "lstm_backward", "cell gradient not carried", "dh[:, t] + dprev_h, dprev_c, cache[t])",
     "dh[:, t] + dprev_h, np.zeros((N, H)), cache[t])"),
    (NB05, "lstm_backward", "hidden gradient not carried", "dh[:, t] + dprev_h,", "dh[:, t],"),
    (NB05, "lstm_backward", "off-by-one in the time loop", "reversed(range(T))", "reversed(range(1, T))"),
    (NB05, "lstm_backward", "dh0 from the cell gradient", "dh0 = dprev_h", "dh0 = dprev_c"),
    (NB05, "gru_step", "update gate swapped", "next_h = (1 - z) * n + z * h", "next_h = z * n + (1 - z) * h"),
    (NB05, "gru_step", "reset gate before the product (Cho et al.)", "r * ah[:, 2 * H:]",
     "(r * h) @ Wh[:, 2 * H:] + bh[2 * H:]"),
    (NB05, "gru_step", "reset gate missing", "r * ah[:, 2 * H:]", "ah[:, 2 * H:]"),
    (NB05, "gru_step", "r and z blocks swapped",
     "r = torch.sigmoid(ax[:, :H] + ah[:, :H])\n    z = torch.sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
     "z = torch.sigmoid(ax[:, :H] + ah[:, :H])\n    r = torch.sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])"),
    (NB05, "gru_step", "forgotten hidden bias", "ah = h @ Wh + bh", "ah = h @ Wh"),
    # ------------------------------------------------------------------ 06 image captioning
    (NB06, "word_embedding_forward", "ids taken as 1-based", "out = W[x]", "out = W[x - 1]"),
    (NB06, "word_embedding_forward", "axes swapped", "out = W[x]", "out = W[x.T]"),
    (NB06, "word_embedding_backward", "buffered fancy indexing (repeats lost)",
     "np.add.at(dW, x, dout)", "dW[x] += dout"),
    (NB06, "word_embedding_backward", "assigned instead of accumulated", "np.add.at(dW, x, dout)", "dW[x] = dout"),
    (NB06, "word_embedding_backward", "averaged over the batch",
     "np.add.at(dW, x, dout)", "np.add.at(dW, x, dout / x.shape[0])"),
    (NB06, "temporal_affine_forward", "forgotten bias", "out = x @ w + b", "out = x @ w"),
    (NB06, "temporal_affine_forward", "transposed weight", "out = x @ w + b", "out = x @ w.T + b"),
    (NB06, "temporal_affine_backward", "averaging instead of summing (db)",
     "db = dout.sum(axis=(0, 1))", "db = dout.mean(axis=(0, 1))"),
    (NB06, "temporal_affine_backward", "db summed over the batch only",
     "db = dout.sum(axis=(0, 1))", "db = dout.sum(axis=0)"),
    (NB06, "temporal_affine_backward", "W instead of W.T", "dx = dout @ w.T", "dx = dout @ w"),
    (NB06, "temporal_affine_backward", "transposed weight gradient",
     'dw = np.einsum("ntd,ntm->dm", x, dout)', 'dw = np.einsum("ntd,ntm->md", x, dout)'),
    (NB06, "temporal_softmax_loss", "forgotten mask", "m_flat = y.reshape(-1), mask.reshape(-1)",
     "m_flat = y.reshape(-1), np.ones(N * T)"),
    (NB06, "temporal_softmax_loss", "mask in the loss only", "dflat *= m_flat[:, None] / N", "dflat /= N"),
    (NB06, "temporal_softmax_loss", "averaged over N * T steps", "y_flat]) / N", "y_flat]) / (N * T)"),
    (NB06, "temporal_softmax_loss", "gradient not averaged (sum)", "dflat *= m_flat[:, None] / N",
     "dflat *= m_flat[:, None]"),
    (NB06, "temporal_softmax_loss", "wrong sign in the gradient",
     "dflat[np.arange(N * T), y_flat] -= 1", "dflat[np.arange(N * T), y_flat] += 1"),
    (NB06, "temporal_softmax_loss", "softmax over the wrong axis",
     "np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)"),
    (NB06, "captioning_loss", "targets not shifted",
     "captions[:, :-1], captions[:, 1:]", "captions[:, :-1], captions[:, :-1]"),
    (NB06, "captioning_loss", "mask from the inputs", "mask = captions_out != null_id",
     "mask = captions_in != null_id"),
    (NB06, "captioning_loss", "forgotten mask", "mask = captions_out != null_id",
     "mask = np.ones(captions_out.shape, dtype=bool)"),
    (NB06, "captioning_loss", "image not fed to h0",
     'h0 = features @ params["W_proj"] + params["b_proj"]',
     'h0 = np.zeros((features.shape[0], params["Wh"].shape[0]))'),
    (NB06, "captioning_loss", "averaging instead of summing (b_proj)",
     'grads["b_proj"] = dh0.sum(axis=0)', 'grads["b_proj"] = dh0.mean(axis=0)'),
    (NB06, "beam_search", "keeps one hypothesis (greedy)",
     "elif len(new_beams) < beam_size:", "elif len(new_beams) < 1:"),
    (NB06, "beam_search", "ranked in ascending order (wrong sign)",
     "np.argsort(-totals, axis=None", "np.argsort(totals, axis=None"),
    (NB06, "beam_search", "no length normalisation at the end",
     "max(finished, key=lambda f: f[1] / f[2] ** length_penalty)", "max(finished, key=lambda f: f[1])"),
    (NB06, "beam_search", "state rows not reordered",
     "state = select_state(state, np.array(keep_rows))", "state = state"),
    (NB06, "beam_search", "END does not stop a hypothesis", "if w == end_id:", "if False and w == end_id:"),
    (NB06, "beam_search", "finished hypotheses dropped",
     "finished.append((beams[r][0], float(totals[r, w]), len(tokens)))", "pass"),
    (NB06, "decode_loop", "START not fed (NULL instead)", "prev = np.full(batch_size, start_id)",
     "prev = np.zeros(batch_size, dtype=int)"),
    (NB06, "decode_loop", "argmax over the wrong axis", "log_probs.argmax(axis=1)", "log_probs.argmax(axis=0)"),
    (NB06, "decode_loop", "state not carried", "log_probs, state = step_fn(prev, state)",
     "log_probs, new_state = step_fn(prev, state)"),
    (NB06, "decode_loop", "chosen word not fed back", "prev = words", "pass"),
    (NB06, "decode_loop", "goes on after END", "for i in np.flatnonzero(~finished):", "for i in range(batch_size):"),
    (NB06, "decode_loop", "END kept in the caption",
     "finished[i] = True\n            else:\n                captions[i].append(int(words[i]))",
     "finished[i] = True\n            captions[i].append(int(words[i]))"),
    (NB06, "decode_loop", "START kept in the caption", "captions = [[] for _ in range(batch_size)]",
     "captions = [[start_id] for _ in range(batch_size)]"),
    (NB06, "decode_loop", "one step short of max_length", "range(max_length)", "range(max_length - 1)"),
    (NB06, "decode_loop", "one step past max_length", "range(max_length)", "range(max_length + 1)"),
    (NB06, "decode_loop", "stops when the first row finishes", "if finished.all():", "if finished.any():"),
    (NB06, "decode_loop", "tie broken towards the highest id", "words = log_probs.argmax(axis=1)",
     'words = np.argsort(log_probs, axis=1, kind="stable")[:, -1]'),
    (NB06, "decode_loop", "END's log-probability left out",
     "totals[i] += log_probs[i, words[i]]\n            if words[i] == end_id:\n                finished[i] = True\n"
     "            else:\n",
     "if words[i] == end_id:\n                finished[i] = True\n            else:\n"
     "                totals[i] += log_probs[i, words[i]]\n"),
    (NB06, "decode_loop", "temperature ignored", "/ temperature)", ")"),
    (NB06, "decode_loop", "temperature multiplied instead of divided", "/ temperature)", "* temperature)"),
    (NB06, "decode_loop", "argmax instead of sampling",
     "words = np.array([generator.choice(len(row), p=row) for row in p])", "words = p.argmax(axis=1)"),
    (NB06, "decode_loop", "draws from the global RNG", "generator.choice(", "np.random.choice("),
    (NB06, "decode_loop", "a generator of its own per row", "generator.choice(len(row), p=row) for row in p",
     "np.random.default_rng(i).choice(len(row), p=row) for i, row in enumerate(p)"),
    # ------------------------------------------------------------------ 07 attention captioning
    (NB07, "soft_attention_forward", "softmax over the wrong axis",
     "alpha = softmax(u @ w_a)", "alpha = softmax((u @ w_a).T).T"),
    (NB07, "soft_attention_forward", "missing tanh", "u = np.tanh(V @ Wa_v", "u = (V @ Wa_v"),
    (NB07, "soft_attention_forward", "summing instead of a weighted average",
     'context = np.einsum("nl,nld->nd", alpha, V)', "context = V.sum(axis=1)"),
    (NB07, "soft_attention_forward", "plain mean instead of a weighted average",
     'context = np.einsum("nl,nld->nd", alpha, V)', "context = V.mean(axis=1)"),
    (NB07, "soft_attention_forward", "scores instead of weights",
     'np.einsum("nl,nld->nd", alpha, V)', 'np.einsum("nl,nld->nd", u @ w_a, V)'),
    (NB07, "soft_attention_forward", "cache holds the scores instead of u",
     "cache = (h_prev, V, Wa_h, Wa_v, w_a, u, alpha)", "cache = (h_prev, V, Wa_h, Wa_v, w_a, u @ w_a, alpha)"),
    (NB07, "soft_attention_backward", "missing tanh derivative",
     "dpre = de[:, :, None] * w_a * (1 - u ** 2)", "dpre = de[:, :, None] * w_a"),
    (NB07, "soft_attention_backward", "dalpha ignored", "dalpha_total = dalpha_total + dalpha",
     "dalpha_total = dalpha_total"),
    (NB07, "soft_attention_backward", "dV misses the keys' path", "dV = dV + dpre @ Wa_v.T", "dV = dV"),
    (NB07, "soft_attention_backward", "softmax backward without the normaliser",
     "de = alpha * (dalpha_total - (alpha * dalpha_total).sum(axis=1, keepdims=True))",
     "de = alpha * dalpha_total"),
    (NB07, "soft_attention_backward", "averaging instead of summing over locations",
     "dproj_h = dpre.sum(axis=1)", "dproj_h = dpre.mean(axis=1)"),
    (NB07, "doubly_stochastic_regulariser", "factor 2 of the square missing", "-2.0 * lam / N", "-lam / N"),
    (NB07, "doubly_stochastic_regulariser", "sign of dalphas flipped", "dalphas = -2.0", "dalphas = 2.0"),
    (NB07, "doubly_stochastic_regulariser", "mask applied to the loss only", "gap[:, None, :] * mask[:, :, None]",
     "np.broadcast_to(gap[:, None, :], alphas.shape)"),
    (NB07, "doubly_stochastic_regulariser", "padding steps counted", "(alphas * mask[:, :, None]).sum(axis=1)",
     "alphas.sum(axis=1)"),
    (NB07, "doubly_stochastic_regulariser", "summed over the locations instead of the steps",
     "(alphas * mask[:, :, None]).sum(axis=1)", "(alphas * mask[:, :, None]).sum(axis=2)"),
    (NB07, "doubly_stochastic_regulariser", "not averaged over the captions", "loss = lam * (gap ** 2).sum() / N",
     "loss = lam * (gap ** 2).sum()"),
    (NB07, "doubly_stochastic_regulariser", "gradient not averaged over the captions", "-2.0 * lam / N *",
     "-2.0 * lam *"),
    (NB07, "doubly_stochastic_regulariser", "lambda missing", "loss = lam * (gap ** 2).sum() / N",
     "loss = (gap ** 2).sum() / N"),
    (NB07, "reinforce_surrogate", "sign of the surrogate flipped",
     "surrogate = -log_likelihood - advantage", "surrogate = log_likelihood + advantage"),
    (NB07, "reinforce_surrogate", "sign of the location term flipped",
     "- advantage * log_p_locations", "+ advantage * log_p_locations"),
    (NB07, "reinforce_surrogate", "baseline not subtracted",
     "advantage = (log_likelihood - baseline).detach()", "advantage = log_likelihood.detach()"),
    (NB07, "reinforce_surrogate", "baseline added instead of subtracted",
     "advantage = (log_likelihood - baseline).detach()", "advantage = (log_likelihood + baseline).detach()"),
    (NB07, "reinforce_surrogate", "baseline subtracted from the words' term",
     "surrogate = -log_likelihood - advantage * log_p_locations",
     "surrogate = -(log_likelihood - baseline) - log_likelihood.detach() * log_p_locations"),
    (NB07, "reinforce_surrogate", "log-probability of the likeliest location, not the sampled one",
     "log_alpha.gather(2, locations.unsqueeze(2))", "log_alpha.gather(2, log_alpha.argmax(dim=2, keepdim=True))"),
    (NB07, "reinforce_surrogate", "log-probability summed over every location",
     "chosen = log_alpha.gather(2, locations.unsqueeze(2)).squeeze(2)", "chosen = log_alpha.sum(dim=2)"),
    (NB07, "reinforce_surrogate", "padding steps counted", "(chosen * mask).sum(dim=1)", "chosen.sum(dim=1)"),
    (NB07, "reinforce_surrogate", "no stop-gradient on the reward",
     "advantage = (log_likelihood - baseline).detach()", "advantage = log_likelihood - baseline"),
    (NB07, "reinforce_surrogate", "words' term detached too",
     "surrogate = -log_likelihood - advantage", "surrogate = -log_likelihood.detach() - advantage"),
    (NB07, "reinforce_surrogate", "words' term missing",
     "surrogate = -log_likelihood - advantage * log_p_locations", "surrogate = -advantage * log_p_locations"),
    (NB07, "reinforce_surrogate", "location term missing",
     "surrogate = -log_likelihood - advantage * log_p_locations", "surrogate = -log_likelihood"),
    (NB07, "reinforce_surrogate", "averaged over the captions", "surrogate = -log_likelihood - advantage * log_p_locations",
     "surrogate = (-log_likelihood - advantage * log_p_locations).mean()"),
    (NB07, "reinforce_surrogate", "the whole surrogate detached",
     "surrogate = -log_likelihood - advantage * log_p_locations",
     "surrogate = (-log_likelihood - advantage * log_p_locations).detach()"),
    # ------------------------------------------------------------------ 08 VQA
    (NB08, "product_fusion_forward", "missing tanh", "a = np.tanh(v @ W_v + b_v)", "a = v @ W_v + b_v"),
    (NB08, "product_fusion_forward", "forgotten bias", "b = np.tanh(q @ W_q + b_q)", "b = np.tanh(q @ W_q)"),
    (NB08, "product_fusion_forward", "sum instead of product", "f = a * b", "f = a + b"),
    (NB08, "product_fusion_forward", "cache with the two factors swapped",
     "cache = (v, q, W_v, W_q, a, b)", "cache = (v, q, W_v, W_q, b, a)"),
    (NB08, "product_fusion_backward", "missing tanh derivative", "dpre_v = df * b * (1 - a ** 2)",
     "dpre_v = df * b"),
    (NB08, "product_fusion_backward", "factors of the product swapped", "dpre_v = df * b * (1 - a ** 2)",
     "dpre_v = df * a * (1 - a ** 2)"),
    (NB08, "product_fusion_backward", "averaging instead of summing (db_v)",
     "dpre_v.sum(axis=0)", "dpre_v.mean(axis=0)"),
    (NB08, "product_fusion_backward", "W instead of W.T", "dpre_q @ W_q.T", "dpre_q @ W_q"),
    (NB08, "multiple_choice_loss", "last padded step instead of the last real one",
     "h_T = states[rows, lengths]", "h_T = states[:, -1]"),
    (NB08, "multiple_choice_loss", "off by one in the length", "h_T = states[rows, lengths]",
     "h_T = states[rows, lengths - 1]"),
    (NB08, "multiple_choice_loss", "softmax over the wrong axis",
     "max(axis=1, keepdims=True)               # stable softmax over the K candidates\n"
     "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
     "max(axis=0, keepdims=True)               # stable softmax over the K candidates\n"
     "    log_p = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))"),
    (NB08, "multiple_choice_loss", "shifted by each column's largest score",
     "shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores - scores.max(axis=0, keepdims=True)"),
    (NB08, "multiple_choice_loss", "loss averaged over the candidates",
     "loss = -log_p[rows, correct].mean()", "loss = -log_p[rows, correct].sum() / answers.shape[1]"),
    (NB08, "multiple_choice_loss", "missing scale", " / np.sqrt(states.shape[2])", ""),
    (NB08, "multiple_choice_loss", "wrong candidate index", "log_p[rows, correct]", "log_p[rows, 0]"),
    (NB08, "attention_hop_forward", "softmax over the wrong axis", "p = softmax(h @ w_P)",
     "p = softmax((h @ w_P).T).T"),
    (NB08, "attention_hop_forward", "forgotten residual", "u_next = u + np.einsum(", "u_next = np.einsum("),
    (NB08, "attention_hop_forward", "missing tanh", "h = np.tanh(V @ W_I", "h = (V @ W_I"),
    (NB08, "attention_hop_forward", "cache holds u_next instead of u",
     "cache = (u, V, W_I, W_Q, w_P, h, p)", "cache = (u_next, V, W_I, W_Q, w_P, h, p)"),
    (NB08, "attention_hop_forward", "forgotten bias", "(u @ W_Q + b_A)", "(u @ W_Q)"),
    (NB08, "attention_hop_backward", "missing tanh derivative",
     "dpre = de[:, :, None] * w_P * (1 - h ** 2)", "dpre = de[:, :, None] * w_P"),
    (NB08, "attention_hop_backward", "residual's gradient missing", "du = du_next + dquery @ W_Q.T",
     "du = dquery @ W_Q.T"),
    (NB08, "attention_hop_backward", "dp ignored", "dp_total = dp_total + dp", "dp_total = dp_total"),
    (NB08, "attention_hop_backward", "dV misses the keys' path",
     "dV = p[:, :, None] * du_next[:, None, :] + dpre @ W_I.T", "dV = p[:, :, None] * du_next[:, None, :]"),
    (NB08, "attention_hop_backward", "averaging instead of summing (db_A)",
     "db_A = dquery.sum(axis=0)", "db_A = dquery.mean(axis=0)"),
))

NOTEBOOKS = tuple(dict.fromkeys(m.notebook for m in CATALOGUE))  # in catalogue order


def representative(catalogue=CATALOGUE):
    """The first mistake of every exercise: a subset that touches each check once."""
    return tuple({(m.notebook, m.exercise): m for m in reversed(catalogue)}.values())[::-1]


def plant(mistake, directory):
    """Write the lecture of ``mistake.notebook`` into ``directory`` with the solutions pasted in
    and the mistake planted in its exercise. Returns the path. Raises ValueError if the edit does
    not occur exactly once in that exercise's solution code or leaves it invalid Python."""
    path = lecture_with_answers(mistake.notebook, directory, {mistake.old: mistake.new},
                                exercise=mistake.exercise)
    for cell in nbformat.read(path, as_version=4).cells:  # a mistake is code that runs, not a typo
        if cell.cell_type == "code" and f"def {mistake.exercise}(" in cell.source:
            try:
                ast.parse(cell.source)
            except SyntaxError as exc:
                raise ValueError(f"{mistake.notebook}: the planted {mistake.exercise} is not valid "
                                 f"Python ({exc.msg}, line {exc.lineno})") from None
    return path


def classify(mistake, summary):
    """(status, detail, caught) of a mistake from the self-check's {exercise: (status, detail)}.

    Caught: the exercise's own line says "wrong" and its message names the exercise.
    """
    status, detail = summary.get(mistake.exercise, ("missing", "the self-check has no line for it"))
    if status == "passed":
        others = [name for name, (s, _) in summary.items() if s != "passed"]
        if others:
            detail = f"(only {', '.join(others)} failed)"
    return status, detail, status == "wrong" and mistake.exercise in detail


def run_mistake(mistake):
    """Plant one mistake in a temporary copy of the lecture and run the self-check on it.

    Meant to run in a process of its own (the self-check runs pytest and a kernel in-process).
    Returns: an Outcome.
    """
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="planted-") as tmp:
            _, summary = run_selfcheck(plant(mistake, tmp), out=io.StringIO())
    except Exception as exc:  # one broken run must not stop the catalogue
        return Outcome(mistake, "error", f"{type(exc).__name__}: {exc}", False, time.monotonic() - start)
    status, detail, caught = classify(mistake, summary)
    return Outcome(mistake, status, detail, caught, time.monotonic() - start)


def run_catalogue(mistakes, jobs=2, on_outcome=None):
    """Run ``mistakes`` through the self-check, ``jobs`` at a time, each in a fresh process.

    on_outcome: called with each Outcome, in catalogue order, as soon as it is known.
    Returns: the list of Outcomes in catalogue order.
    """
    context = multiprocessing.get_context("spawn")
    outcomes = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                max_tasks_per_child=1) as pool:
        for outcome in pool.map(run_mistake, mistakes):
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    return outcomes


def _short(notebook):
    return notebook[:2]


def outcome_line(outcome):
    """One line: notebook, exercise, kind, caught/missed, the self-check's first message line."""
    m = outcome.mistake
    verdict = "caught" if outcome.caught else f"MISSED ({outcome.status})"
    detail = outcome.detail.splitlines()[0] if outcome.detail else ""
    return f"{_short(m.notebook)}  {m.exercise:<25} {m.kind:<46} {verdict:<8}  {detail}"


def summary_lines(outcomes):
    """A table per exercise (planted, caught), per notebook subtotals, and the total line."""
    rows, lines = {}, []
    for o in outcomes:
        row = rows.setdefault((o.mistake.notebook, o.mistake.exercise), [0, 0])
        row[0] += 1
        row[1] += o.caught
    lines.append(f"{'nb':<4}{'exercise':<26}{'planted':>8}{'caught':>8}")
    for notebook in dict.fromkeys(nb for nb, _ in rows):
        for (nb, exercise), (planted, caught) in rows.items():
            if nb == notebook:
                lines.append(f"{_short(nb):<4}{exercise:<26}{planted:>8}{caught:>8}"
                             + ("" if planted == caught else "   <- missed some"))
        planted = sum(p for (nb, _), (p, _) in rows.items() if nb == notebook)
        caught = sum(c for (nb, _), (_, c) in rows.items() if nb == notebook)
        lines.append(f"{_short(notebook):<4}{'(notebook)':<26}{planted:>8}{caught:>8}")
    n_caught = sum(o.caught for o in outcomes)
    lines.append(f"caught {n_caught} of {len(outcomes)} planted")
    return lines


def select(catalogue=CATALOGUE, notebooks=None):
    """The mistakes of the notebooks numbered in ``notebooks`` (e.g. ["01", "05"]); all if None."""
    if not notebooks:
        return tuple(catalogue)
    wanted = {str(n).zfill(2) for n in notebooks}
    return tuple(m for m in catalogue if _short(m.notebook) in wanted)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plant typical student mistakes in the solutions "
                                                 "and check that the self-check catches each one.")
    parser.add_argument("--notebook", action="append", metavar="NN",
                        help="only this notebook's mistakes, e.g. 05 (may be repeated)")
    parser.add_argument("--jobs", type=int, default=2, help="self-checks at a time (default 2)")
    parser.add_argument("--list", action="store_true", help="print the catalogue and stop")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    mistakes = select(CATALOGUE, args.notebook)
    if not mistakes:
        print(f"no planted mistakes for notebook {', '.join(args.notebook)}; the catalogue covers "
              f"{', '.join(_short(nb) for nb in NOTEBOOKS)}", file=sys.stderr)
        return 2
    if args.list:
        for m in mistakes:
            print(f"{_short(m.notebook)}  {m.exercise:<25} {m.kind:<46} {m.old!r} -> {m.new!r}")
        print(f"{len(mistakes)} mistakes")
        return 0
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in mistakes:  # fail fast on an edit that no longer applies
            try:
                plant(m, tmp)
            except ValueError as exc:
                problems.append(f"{_short(m.notebook)} {m.exercise} ({m.kind}): {exc}")
    if problems:
        print("these mistakes cannot be planted (did the solution change?):", *problems, sep="\n  ",
              file=sys.stderr)
        return 2
    print(f"planting {len(mistakes)} mistakes, {args.jobs} self-checks at a time...", flush=True)
    start = time.monotonic()
    outcomes = run_catalogue(mistakes, jobs=args.jobs,
                             on_outcome=lambda o: print(outcome_line(o), flush=True))
    print()
    print(*summary_lines(outcomes), sep="\n")
    print(f"({time.monotonic() - start:.0f} s)")
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
