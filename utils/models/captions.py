"""Captions from the trained captioners of notebooks 06 and 07: the decoders of
``utils.models.decoding`` and ``utils.models.beam_search`` driven through each model's
``start_state`` and ``step``, words out.

    caption_greedy, caption_sample, caption_beam   a Captioner's captions as strings
    caption_with_attention    an AttentionCaptioner's greedy captions, with the attention map
                              and the probability of each word
    attention_captions        an AttentionCaptioner's greedy captions as strings (for BLEU)
"""
import numpy as np
import torch

from utils import validate
from utils.course import eval_mode
from utils.data import shapes_language as language
from utils.models import decoding
from utils.models.attention_captioner import check_attention_model
from utils.models.beam_search import beam_search
from utils.models.captioner import Captioner


# ------------------------------------------------------------------------------ notebook 06
def _vocab_and_length(fname, model, vocab, max_length):
    """ValueError unless vocab is the WordVocab of the model's words; max_length checked."""
    if not isinstance(vocab, language.WordVocab) or len(vocab) != model.vocab_size:
        raise ValueError(f"{fname}: vocab must be the WordVocab of the model's "
                         f"{model.vocab_size} words, got {validate.shown(vocab)}")
    return validate.positive_int(fname, "max_length", max_length)


def _captioner_args(fname, model, features, vocab, max_length):
    if not isinstance(model, Captioner):
        raise ValueError(f"{fname}: model must be a Captioner, got {validate.shown(model)}")
    max_length = _vocab_and_length(fname, model, vocab, max_length)
    return model._check_features(fname, features), max_length


def _words(vocab, rows):
    """Token lists -> strings with WordVocab.decode (<NULL> and <START> skipped)."""
    return [vocab.decode(np.asarray(row, dtype=np.int64)) for row in rows]


def caption_greedy(model, features, vocab, max_length=20):
    """Greedy captions: the most probable word at every step.

    model: a Captioner. features: (B, P) image features (torch or numpy). vocab: its WordVocab.
    max_length: at most this many tokens per caption, <END> included (>= 1).
    Returns: list of B strings (words joined by spaces, no <START>/<END>; a <NULL> or <START>
        the model emits is skipped, as WordVocab.decode does).
    """
    features, max_length = _captioner_args("caption_greedy", model, features, vocab, max_length)
    with eval_mode(model):
        rows, _ = decoding.greedy_decode(model.step, model.start_state(features), model.start_id,
                                         model.end_id, max_length)
    return _words(vocab, rows)


def caption_sample(model, features, vocab, max_length=20, temperature=1.0, generator=None):
    """Sampled captions: each word drawn from softmax(log p / temperature).

    model, features (B, P), vocab, max_length: as caption_greedy.
    temperature: finite and > 0 (1 samples the model itself; lower is closer to greedy).
    generator: a seeded torch.Generator or np.random.Generator (required, for reproducibility).
    Returns: list of B strings.
    """
    fname = "caption_sample"
    features, max_length = _captioner_args(fname, model, features, vocab, max_length)
    temperature = validate.temperature(fname, temperature)
    if not isinstance(generator, (torch.Generator, np.random.Generator)):
        raise ValueError(f"{fname}: generator must be a seeded torch.Generator or "
                         f"np.random.default_rng(seed), got {validate.shown(generator)}")
    with eval_mode(model):
        rows, _ = decoding.sample_decode(model.step, model.start_state(features), model.start_id,
                                         model.end_id, max_length, temperature=temperature,
                                         generator=generator)
    return _words(vocab, rows)


def caption_beam(model, features, vocab, max_length=20, beam_size=3, length_penalty=0.0):
    """Beam-search captions, one image after the other.

    model, features (B, P), vocab, max_length: as caption_greedy.
    beam_size: hypotheses kept per step (>= 1; 1 is greedy when length_penalty is 0).
    length_penalty: alpha >= 0, hypotheses ranked by log_prob / length ** alpha
        (see utils.models.beam_search).
    Returns: list of B strings.
    """
    fname = "caption_beam"
    features, max_length = _captioner_args(fname, model, features, vocab, max_length)
    beam_size = validate.positive_int(fname, "beam_size", beam_size)
    length_penalty = validate.finite_number(fname, "length_penalty", length_penalty, low=0)
    with eval_mode(model):
        rows, _ = beam_search(model.step, model.start_state(features), model.start_id, model.end_id,
                              max_length, beam_size, length_penalty=length_penalty)
    return _words(vocab, rows)


# ------------------------------------------------------------------------------ notebook 07
def _attention_args(fname, model, grid, vocab, max_length):
    check_attention_model(fname, model)
    max_length = _vocab_and_length(fname, model, vocab, max_length)
    return model._grid(fname, grid), max_length


def caption_with_attention(model, grid, vocab, max_length=20):
    """Greedy captions with the attention map and the probability of every word.

    model: an AttentionCaptioner. grid: (B, L, D) grid features (torch or numpy).
    vocab: its WordVocab. max_length: at most this many tokens per caption, <END> included.
    Returns: list of B tuples (words, alphas, word_probs): words, a list of T_i strings (no
        <START>/<END>, as WordVocab.decode); alphas (T_i, L) float numpy, the attention map
        that produced each word; word_probs (T_i,) float numpy, the model's probability of
        each word when it was chosen. "hard" attention looks at the argmax location.
    """
    grid, max_length = _attention_args("caption_with_attention", model, grid, vocab, max_length)
    record = []

    def step(prev_tokens, state):
        log_probs, state = model.step(prev_tokens, state)
        record.append((log_probs.exp().cpu().numpy(), state.alpha.cpu().numpy()))
        return log_probs, state

    with eval_mode(model):
        rows, _ = decoding.greedy_decode(step, model.start_state(grid), model.start_id,
                                         model.end_id, max_length)
    found = []
    for i, tokens in enumerate(rows):
        keep = [(t, token) for t, token in enumerate(tokens)
                if token not in (model.null_id, model.start_id)]   # as WordVocab.decode
        words = [vocab.id_to_word[token] for _, token in keep]
        alphas = np.array([record[t][1][i] for t, _ in keep]).reshape(len(keep), grid.shape[1])
        probs = np.array([record[t][0][i, token] for t, token in keep], dtype=np.float64)
        found.append((words, alphas.astype(np.float64), probs))
    return found


def attention_captions(model, grid, vocab, max_length=20, batch_size=256):
    """Greedy captions as strings, batch by batch (what BLEU and the error analysis read).

    model: an AttentionCaptioner. grid: (B, L, D). vocab: its WordVocab.
    max_length: tokens per caption, <END> included. batch_size: images decoded at once.
    Returns: list of B strings.
    """
    fname = "attention_captions"
    grid, max_length = _attention_args(fname, model, grid, vocab, max_length)
    batch_size = validate.positive_int(fname, "batch_size", batch_size)
    out = []
    with eval_mode(model):
        for start in range(0, len(grid), batch_size):
            rows, _ = decoding.greedy_decode(model.step, model.start_state(grid[start:start + batch_size]),
                                             model.start_id, model.end_id, max_length)
            out.extend(vocab.decode(np.asarray(row, dtype=np.int64)) for row in rows)
    return out
