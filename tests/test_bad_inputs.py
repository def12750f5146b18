"""Bad inputs to the public utils API get a clear ValueError that names the function called.

The walk (tests/api_walk.py) spoils one argument of a valid example call at a time. A function
passes when every spoilt call raises ValueError (or a subclass) whose message names the
function, and the argument where it can. One test also proves every function a notebook imports
from utils has an example here, so a new function cannot skip the walk.
"""
import ast
import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from tests.api_walk import Example, Fixtures, spoilt_calls

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
F = Fixtures()
R = np.random.default_rng


def ex(module, name, make, **options):
    return Example(module, name, make, **options)


def ax():
    return plt.subplots()[1]


ANY_RANK = "works elementwise or along the last axis, whatever the rank"
NO_ROWS = "an empty batch (0 rows) gives an empty result; a row with no scores is refused"
EXAMPLES = [
    # --- course
    ex("utils.course", "record_results", lambda f: (("02_char_rnn", "cpu"), {"loss": 1.5})),
    ex("utils.course", "scaled_budget", lambda f: (("cpu", 1, 2), {}),
       accepts={("cpu", m): "any value: the budget is the caller's" for m in ("negative", "fractional", "string")}
       | {("accelerator", m): "any value: the budget is the caller's" for m in ("negative", "fractional", "string")}),
    ex("utils.course", "setup_notebook", lambda f: ((), {"seed": 0, "device": "cpu", "quiet": True})),
    ex("utils.course", "torch_threads", lambda f: ((1,), {})),
    ex("utils.course", "pinned_packages", lambda f: ((str(REPO_ROOT / "requirements.txt"),), {})),
    ex("utils.course", "eval_mode", lambda f: ((f.char_lm,), {}), fixed={"model"},
       names=("eval_mode",)),
    # --- layers
    ex("utils.layers", "rnn_forward", lambda f: (f.rnn_inputs, {})),
    ex("utils.layers", "rnn_backward", lambda f: ((np.ones((2, 3, 5)), f.rnn_cache[1]), {}), fixed={"cache"}),
    ex("utils.layers", "lstm_forward", lambda f: (f.lstm_inputs, {})),
    ex("utils.layers", "lstm_backward", lambda f: ((np.ones((2, 3, 5)), f.lstm_cache[1]), {}), fixed={"cache"}),
    ex("utils.layers", "lstm_step_forward",
       lambda f: ((f.lstm_inputs[0][:, 0], f.lstm_inputs[1], np.zeros((2, 5))) + f.lstm_inputs[2:], {})),
    ex("utils.layers", "temporal_affine_forward", lambda f: (f.affine[0], {})),
    ex("utils.layers", "temporal_affine_backward", lambda f: ((np.ones((2, 3, 6)), f.affine[1][1]), {}),
       fixed={"cache"}),
    ex("utils.layers", "temporal_softmax_loss",
       lambda f: ((R(0).normal(size=(2, 3, 5)), np.array([[1, 2, 0], [3, 4, 0]])),
                  {"mask": np.array([[True, True, False], [True, True, True]])})),
    ex("utils.layers", "step_losses", lambda f: ((R(0).normal(size=(3, 5)), np.array([1, 2, 0])), {})),
    ex("utils.layers", "softmax", lambda f: ((R(0).normal(size=(2, 5)),), {}),
       accepts={("scores", "extra axis"): ANY_RANK, ("scores", "empty"): NO_ROWS}),
    ex("utils.layers.common", "softmax", lambda f: ((R(0).normal(size=(2, 5)),), {}),
       accepts={("scores", "extra axis"): ANY_RANK, ("scores", "empty"): NO_ROWS}),
    ex("utils.layers", "sigmoid", lambda f: ((R(0).normal(size=(2, 5)),), {}),
       accepts={("x", "extra axis"): ANY_RANK, ("x", "empty"): NO_ROWS}),
    ex("utils.layers", "sample_index", lambda f: ((np.array([0.2, 0.3, 0.5]), R(0)), {}), fixed={"rng"}),
    ex("utils.layers.sampling", "temperature_probs", lambda f: ((R(0).normal(size=5),), {"temperature": 0.5}),
       accepts={("scores", "extra axis"): ANY_RANK}),
    ex("utils.layers.vqa", "attention_hop_forward",
       lambda f: ((R(0).normal(size=(2, 4)), R(1).normal(size=(2, 3, 4)), R(2).normal(size=(4, 5)),
                   R(3).normal(size=(4, 5)), R(4).normal(size=5), R(5).normal(size=5)), {})),
    ex("utils.layers.vqa", "multiple_choice_loss",
       lambda f: ((R(0).normal(size=(2, 4, 3)), np.array([3, 1]), R(1).normal(size=(2, 5, 3)),
                   R(2).normal(size=(2, 3)), np.array([4, 0])), {})),
    ex("utils.layers.vqa", "product_fusion_forward",
       lambda f: ((R(0).normal(size=(2, 4)), R(1).normal(size=(2, 3)), R(2).normal(size=(4, 5)),
                   R(3).normal(size=5), R(4).normal(size=(3, 5)), R(5).normal(size=5)), {})),
    # --- gradcheck
    ex("utils.gradcheck", "rel_error", lambda f: ((np.ones(3), np.ones(3) * 1.01), {}),
       accepts={("x", "extra axis"): "any two arrays of the same shape",
                ("y", "extra axis"): "broadcasts like x - y"}),
    ex("utils.gradcheck", "eval_numerical_gradient", lambda f: ((lambda x: float(np.sum(x ** 2)), np.ones(3)), {}),
       fixed={"f"}, accepts={("x", "extra axis"): "f takes arrays of any shape"}),
    # --- data
    ex("utils.data.adding", "adding_problem", lambda f: ((4, 5), {"rng": R(0)}), fixed={"rng"}),
    ex("utils.data.captions", "caption_dataset", lambda f: (("val", 2, f.shapes_vocab), {"captions_per_scene": 2, "start": 0}),
       fixed={"vocab"}),
    ex("utils.data.captions", "caption_references", lambda f: ((f.scenes,), {"kind": "sampled", "count": 2}),
       fixed={"scenes"}),
    ex("utils.data.hello", "hello_data", lambda f: ((), {})),
    ex("utils.data.shapes_questions", "answer_vocab", lambda f: ((), {})),
    ex("utils.data.shapes_language", "build_vocab", lambda f: ((), {})),
    ex("utils.data.shapes", "make_scenes", lambda f: (("val", 2), {"start": 0})),
    ex("utils.data.shapes_language", "captions", lambda f: ((f.scenes[0],), {"count": 2, "rng_or_seed": 0}),
       fixed={"scene"}),
    ex("utils.data.shapes_questions", "questions", lambda f: ((f.scenes[0],), {"rng_or_seed": 0}), fixed={"scene"}),
    ex("utils.data.shapes_questions", "question_set", lambda f: (("val", 12), {"start": 0})),
    ex("utils.data.text", "CharVocab", lambda f: ((f.vocab_text,), {})),
    ex("utils.data.text", "load_shakespeare", lambda f: ((), {"max_chars": 1000})),
    ex("utils.data.text", "make_streams", lambda f: ((f.ids, 2), {})),
    ex("utils.data.text", "iter_chunks", lambda f: ((f.ids[:40].reshape(2, 20), 5), {})),
    ex("utils.data.text", "split_by_position", lambda f: ((f.ids,), {"val_fraction": 0.1})),
    ex("utils.data.text", "split_train_val_heldout", lambda f: ((f.ids, 200), {"val_chars": 40, "val_blocks": 2})),
    # --- analysis
    ex("utils.analysis.cell_trace", "correlations", lambda f: ((R(0).normal(size=(6, 3)), np.arange(6.0)), {})),
    ex("utils.analysis.cell_trace", "inside_brackets", lambda f: ((f.vocab_text,), {})),
    ex("utils.analysis.cell_trace", "line_position", lambda f: ((f.vocab_text,), {})),
    ex("utils.analysis.cell_trace", "speaker_lines", lambda f: ((f.vocab_text,), {})),
    ex("utils.analysis.cell_trace", "word_position", lambda f: ((f.vocab_text,), {})),
    ex("utils.analysis.cell_trace", "lstm_cell_trace", lambda f: ((f.char_lm, f.char_vocab, "ROMEO"), {"layer": 0}),
       fixed={"model", "vocab"}),
    ex("utils.analysis.clipping", "clip_by_global_norm", lambda f: (([np.ones(3), np.ones((2, 2))], 1.0), {})),
    ex("utils.analysis.clipping", "clip_by_value", lambda f: (([np.ones(3), np.ones((2, 2))], 1.0), {})),
    ex("utils.analysis.clipping", "one_unit_rnn", lambda f: ((1.0,), {"b": -0.2, "length": 5, "h0": 0.5, "target": 0.8})),
    ex("utils.analysis.clipping", "descend_one_unit", lambda f: ((1.0, 0.1, 3), {"max_step": 1.0, "length": 5})),
    ex("utils.analysis.connectivity", "connectivity",
       lambda f: ((f.char_lm_embedded, f.ids), {"length": 5, "windows": 2, "seed": 0}), fixed={"model"}),
    ex("utils.analysis.gradient_flow", "gradient_norms_reference",
       lambda f: ((np.tanh(R(0).normal(size=(2, 4, 3))), R(1).normal(size=(3, 3)), R(2).normal(size=(2, 3))), {})),
    ex("utils.analysis.gradient_flow", "gradient_norms_through_time",
       lambda f: ((), {"cell": "lstm", "radius": 1.0, "input_scale": 1.0, "length": 5, "hidden_size": 4,
                       "forget_bias": 1.0, "batch_size": 2, "seed": 0}),
       accepts={("forget_bias", "negative"): "a negative forget bias is a valid experiment"}),
    ex("utils.analysis.gradient_flow", "log_gradient_norms",
       lambda f: (("vanilla", f.cell_weights, R(0).normal(size=(2, 5, 4))), {"seed": 0})),
    ex("utils.analysis.probes", "probe_table",
       lambda f: ((f.features[0].numpy(), f.scenes, f.features[0].numpy(), f.scenes), {}),
       fixed={"train_scenes", "test_scenes"}),
    ex("utils.analysis.vqa", "accuracy_by_type", lambda f: ((f.vqa[0]["answer"].copy(), f.vqa[0]), {}), fixed={"data"}),
    ex("utils.analysis.vqa", "confusion", lambda f: ((f.vqa[0]["answer"].copy(), f.vqa[0], "count"), {}), fixed={"data"}),
    ex("utils.analysis.vqa", "attention_hits",
       lambda f: ((np.full((12, 2, 64), 1 / 64), f.vqa[0]), {"hop": 1}), fixed={"data"}),
    ex("utils.analysis.vqa", "attention_vs_answer",
       lambda f: ((f.vqa[0]["answer"].copy(), np.full((12, 2, 64), 1 / 64), f.vqa[0]), {"hop": 1, "examples": 2}),
       fixed={"data"}),
    ex("utils.analysis.vqa", "parameter_count", lambda f: ((f.vqa_model,), {}), fixed={"model"}),
    ex("utils.analysis.vqa", "accuracy_table",
       lambda f: (({"m": {"test": {"attribute": 0.5, "overall": 0.5}}},), {"digits": 3})),
    ex("utils.analysis.attention", "attention_correctness",
       lambda f: ((f.attention_captioner, "val", 2), {"start": 0, "max_length": 4, "captions_per_scene": 2}),
       fixed={"model"}),
    ex("utils.analysis.attention", "ablation_measures",
       lambda f: ((f.attention_captioner, f.features[1][:2], f.attention_captions_array), {"correctness_scenes": 2}),
       fixed={"model"}),
    ex("utils.analysis.seed_spread", "load_seed_spread", lambda f: (("attention",), {})),
    ex("utils.analysis.seed_spread", "spread_lines",
       lambda f: (({"a": {"0": {"x": 0.5}, "1": {"x": 0.7}}}, "x"), {"digits": 2})),
    ex("utils.analysis.attention", "object_cells", lambda f: ((f.scenes[0],), {"grid_side": 8})),
    ex("utils.analysis.bleu", "bleu_statistics", lambda f: (([["a red circle ."]], ["a red square ."]), {"max_n": 4})),
    ex("utils.analysis.captions", "caption_claims", lambda f: ((f.scenes[0], "a red circle ."), {}), fixed={"scene"},
       accepts={("caption", "empty"): "an empty caption is a (bad) caption: it claims nothing true"}),
    ex("utils.analysis.captions", "evaluate_bleu", lambda f: ((f.captioner, "val", 2), {"start": 0, "max_length": 4}),
       fixed={"model"}),
    ex("utils.analysis.captions", "evaluate_errors", lambda f: ((f.captioner, "val", 2), {"start": 0, "max_length": 4}),
       fixed={"model"}),
    ex("utils.data.formats", "tokenize_caption", lambda f: (("A dog, running.",), {}),
       accepts={("text", "empty"): "an empty caption has no words"}),
    ex("utils.data.formats", "build_vocab_from_captions", lambda f: ((["a dog", "two cats"],), {"min_count": 1})),
    # --- models
    ex("utils.models.adding", "vanilla_adding_model", lambda f: ((4, 1.0), {"seed": 0})),
    ex("utils.models.cells", "LSTMFromEquations", lambda f: ((3, 4), {})),
    ex("utils.models.cells", "GRUFromEquations", lambda f: ((3, 4), {})),
    ex("utils.models.cells", "count_parameters", lambda f: ((torch.nn.Linear(2, 3),), {})),
    ex("utils.models.cells", "weights_from_module", lambda f: ((torch.nn.LSTM(3, 4),), {"layer": 0}), fixed={"rnn"}),
    ex("utils.models.cells", "copy_lstm_from_torch", lambda f: ((f.lstm_ours, torch.nn.LSTM(3, 4)), {}),
       fixed={"ours", "lstm"}),
    ex("utils.models.cells", "copy_gru_from_torch", lambda f: ((f.gru_ours, torch.nn.GRU(3, 4)), {}),
       fixed={"ours", "gru"}),
    ex("utils.models.char_lm", "CharLM", lambda f: ((10, 8), {"num_layers": 1, "cell": "lstm", "embed_size": 4, "dropout": 0.0})),
    ex("utils.models.char_lm", "bigram_nats_per_char", lambda f: ((f.ids[:100], f.ids[100:150], len(f.char_vocab)), {"alpha": 0.1})),
    ex("utils.models.char_lm", "evaluate_nats_per_char",
       lambda f: ((f.char_lm, f.ids[:100]), {"batch_size": 2, "seq_len": 8, "device": "cpu"}), fixed={"model"}),
    ex("utils.models.char_lm", "generate", lambda f: ((f.char_lm, f.char_vocab, "RO", 5), {"temperature": 1.0, "rng": R(0)}),
       fixed={"model", "vocab", "rng", "probs_fn", "sample_fn"}),
    ex("utils.models.char_lm", "sample", lambda f: ((f.char_lm, f.char_vocab, "RO", 5), {"temperature": 1.0}),
       fixed={"model", "vocab"}),
    ex("utils.models.char_lm", "detach_state", lambda f: (((torch.zeros(1, 2, 3), torch.zeros(1, 2, 3)),), {}),
       accepts={(f"state[{i}]", m): "any tensor state: detaching changes nothing else" for i in (0, 1)
                for m in ("extra axis", "empty", "NaN")}),
    ex("utils.models.decoding", "decode_loop",
       lambda f: ((lambda prev, s: (np.log(np.full((len(prev), 4), 0.25)), s), np.zeros((2, 1)), 2, 0, 1, 4),
                  {"temperature": 1.0, "generator": R(0)}), fixed={"step_fn", "state", "generator"}),
    ex("utils.models.beam_search", "beam_search",
       lambda f: ((lambda prev, s: (np.log(np.full((len(prev), 4), 0.25)), s), np.zeros((2, 1)), 0, 1, 4, 2),
                  {"length_penalty": 1.0}), fixed={"step_fn", "state", "select", "batch_size"}),
    ex("utils.models.decoding", "select_state", lambda f: (((torch.zeros(3, 4), torch.zeros(3, 4)), np.array([0, 2])), {}),
       accepts={(f"state[{i}]", "NaN"): "rows are copied, not computed with" for i in (0, 1)}),
    ex("utils.models.encoder", "cached_features", lambda f: (("val", 2), {"start": 0})),
    ex("utils.models.encoder", "load_encoder", lambda f: ((), {"device": "cpu"})),
    ex("utils.models.hello", "init_hello_params", lambda f: ((), {"hidden_size": 3, "seed": 0})),
    ex("utils.models.hello", "hello_scores", lambda f: ((f.hello_params, np.eye(4)[[0, 1, 2]][None]), {})),
    ex("utils.models.hello", "hello_generate", lambda f: ((f.hello_params,), {"first": "h", "steps": 3, "temperature": 1.0, "rng": R(0)}),
       fixed={"rng", "probs_fn", "sample_fn"}),
    ex("utils.models.captioner", "Captioner", lambda f: ((20, 16), {"wordvec_dim": 4, "hidden_dim": 8, "cell": "lstm", "conditioning": "init", "seed": 0})),
    ex("utils.models.captioner_numpy", "init_captioner_params", lambda f: ((20, 16), {"wordvec_dim": 4, "hidden_dim": 8, "cell": "lstm", "conditioning": "init", "seed": 0})),
    ex("utils.models.captioner_numpy", "captioning_loss",
       lambda f: ((f.captioner_params, R(0).normal(size=(2, 16)), np.array([[1, 5, 6, 2], [1, 7, 2, 0]])), {"null_id": 0})),
    ex("utils.models.captions", "caption_greedy", lambda f: ((f.captioner, f.features[0], f.shapes_vocab), {"max_length": 4}),
       fixed={"model", "vocab"}),
    ex("utils.models.captions", "caption_sample", lambda f: ((f.captioner, f.features[0], f.shapes_vocab), {"max_length": 4, "temperature": 1.0, "generator": torch.Generator().manual_seed(0)}),
       fixed={"model", "vocab", "generator"}),
    ex("utils.models.captions", "caption_beam", lambda f: ((f.captioner, f.features[0], f.shapes_vocab), {"max_length": 4, "beam_size": 2, "length_penalty": 0.0}),
       fixed={"model", "vocab"}, accepts={("length_penalty", "negative"): "a negative penalty favours short captions"}),
    ex("utils.models.captioner", "load_captioner", lambda f: ((), {"path": None})),
    ex("utils.models.attention_captioner", "AttentionCaptioner", lambda f: ((20, 16), {"num_locations": 4, "wordvec_dim": 4, "hidden_dim": 8, "attention_dim": 4})),
    ex("utils.models.captions", "caption_with_attention", lambda f: ((f.attention_captioner, f.features[1][:1], f.shapes_vocab), {"max_length": 4}),
       fixed={"model", "vocab"}),
    ex("utils.models.captions", "attention_captions", lambda f: ((f.attention_captioner, f.features[1], f.shapes_vocab), {"max_length": 4, "batch_size": 2}),
       fixed={"model", "vocab"}),
    ex("utils.models.attention_checkpoints", "load_attention_captioner", lambda f: ((), {"path": None, "attention": "soft"})),
    ex("utils.models.vqa", "PriorBaseline", lambda f: ((), {})),
    ex("utils.models.grid", "box_cells", lambda f: ((torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]),), {}),
       accepts={("boxes", "extra axis"): "boxes (..., 4): any leading axes",
                ("boxes", "empty"): "no boxes give no masks, shape (0, L)"}),
    ex("utils.models.vqa", "normalise_image", lambda f: ((torch.randn(2, 256),), {})),
    ex("utils.models.vqa_io", "batch_tensors", lambda f: ((f.vqa[0], np.arange(3), f.vqa[1], f.vqa[2]), {}), fixed={"data"}),
    ex("utils.models.vqa", "build_model", lambda f: (("san1", 30), {"hidden_dim": 8, "wordvec_dim": 4})),
    ex("utils.models.vqa_io", "load_vqa_model", lambda f: ((), {"kind": "san1", "path": None})),
    ex("utils.models.vqa_io", "answer_question", lambda f: ((f.vqa_model, f.vqa[1][0], f.vqa[2][0], "what colour is the square ?"), {"top": 3}),
       fixed={"model"}, accepts={("summary", "extra axis"): "(P,) or (1, P): one scene either way",
                                 ("grid", "extra axis"): "(L, D) or (1, L, D): one scene either way"}),
    ex("utils.models.weights", "make_cell_weights", lambda f: (("lstm",), {"hidden_size": 4, "input_size": 3, "radius": 1.0, "input_scale": 1.0, "forget_bias": 1.0, "seed": 0}),
       accepts={("forget_bias", "negative"): "a negative forget bias is a valid experiment"}),
    ex("utils.models.weights", "singular_values", lambda f: ((R(0).normal(size=(3, 3)),), {})),
    ex("utils.models.weights", "spectral_radius", lambda f: ((R(0).normal(size=(3, 3)),), {})),
    # --- training (tiny budgets: a spoilt argument that slips through costs little)
    ex("utils.training.adding", "initial_gradient_norm", lambda f: ((), {"length": 3, "hidden_size": 4, "radius": 1.0, "batches": 1, "batch_size": 2, "seed": 0})),
    ex("utils.training.adding", "train_adding", lambda f: ((), {"cell": "lstm", "length": 4, "steps": 2, "hidden_size": 4, "batch_size": 2, "lr": 0.01, "clip_norm": 1.0, "forget_bias": 1.0, "seed": 0, "eval_every": 1, "test_size": 4, "device": "cpu", "threads": 1, "progress": False}),
       accepts={("forget_bias", "negative"): "a negative forget bias is a valid experiment"}),
    ex("utils.training.adding", "train_rnn_sgd", lambda f: ((), {"length": 3, "steps": 2, "hidden_size": 4, "radius": 1.0, "lr": 0.1, "clip": lambda g: g, "batch_size": 2, "seed": 0, "progress": False}),
       fixed={"clip"}),
    ex("utils.training.attention", "default_budget", lambda f: (("cpu",), {})),
    ex("utils.training.attention", "training_data", lambda f: ((2,), {"captions_per_scene": 2, "split": "val"})),
    ex("utils.training.attention", "train_attention_captioner",
       lambda f: ((f.attention_captioner, f.features[1], f.attention_captions_array), {"steps": 1, "batch_size": 2, "lr": 0.01, "progress": False, "image_index": np.array([0, 1])}),
       fixed={"model"}),
    ex("utils.training.attention", "reinforce_gradient_variance",
       lambda f: ((f.hard_attention_captioner, f.features[1], f.attention_captions_array), {"samples": 2, "image_index": np.array([0, 1]), "seed": 0}),
       fixed={"model"}),
    ex("utils.layers.attention", "doubly_stochastic_regulariser",
       lambda f: ((np.full((2, 3, 4), 0.25), np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), 1.0), {})),
    ex("utils.training.attention", "reinforce_surrogate",
       lambda f: ((-torch.ones(2), torch.log_softmax(torch.zeros(2, 3, 4), dim=2), torch.zeros(2, 3, dtype=torch.long),
                   torch.ones(2, 3), -1.0), {})),
    ex("utils.training.attention", "reinforce_terms",
       lambda f: ((f.hard_attention_captioner.loss_parts(f.features[1][:2], torch.from_numpy(f.attention_captions_array),
                                                         sample=True), -1.0), {}), fixed={"parts"}),
    ex("utils.training.captioning", "default_budget", lambda f: (("cpu",), {})),
    ex("utils.training.captioning", "train_captioner",
       lambda f: ((f.captioner, f.features[0], f.attention_captions_array), {"steps": 1, "batch_size": 2, "lr": 0.01, "progress": False, "image_index": np.array([0, 1])}),
       fixed={"model"}),
    ex("utils.training.char_lm", "default_budget", lambda f: (("cpu",), {})),
    ex("utils.training.char_lm", "comparison_budget", lambda f: (("cpu",), {})),
    ex("utils.training.char_lm", "train_char_lm",
       lambda f: ((f.char_lm, f.ids[:200], f.ids[200:260], f.char_vocab), {"time_budget_s": 5.0, "batch_size": 2, "seq_len": 8, "lr": 0.01, "device": "cpu", "max_steps": 1, "progress": False, "log": lambda *a: None}),
       fixed={"model", "vocab", "log"}),
    ex("utils.training.hello", "train_hello", lambda f: ((f.hello_params,), {"steps": 2, "lr": 0.3})),
    ex("utils.training.tbptt", "compare_strategies",
       lambda f: (({"k1=k2=4": (4, 4)}, f.ids[:80].reshape(2, 40), f.ids[80:120], len(f.char_vocab)), {"hidden_size": 4, "lr": 0.01, "device": "cpu", "evals": 1, "progress": False})),
    ex("utils.training.vqa", "default_budget", lambda f: (("cpu",), {})),
    ex("utils.training.vqa", "vqa_data", lambda f: (("val", 12), {"start": 0})),
    ex("utils.training.vqa", "predict", lambda f: ((f.vqa_model, f.vqa[0], f.vqa[1], f.vqa[2]), {"batch_size": 4}),
       fixed={"model", "data"}),
    ex("utils.training.vqa", "train_vqa", lambda f: ((f.vqa_model, f.vqa[0], f.vqa[1], f.vqa[2]), {"steps": 1, "batch_size": 4, "lr": 0.002, "progress": False}),
       fixed={"model", "data"}),
    # --- viz
    ex("utils.viz.attention", "attention_widget", lambda f: ((f.attention_captioner, f.scenes), {"grid": f.features[1], "vocab": f.shapes_vocab, "scene": 0, "max_length": 4}),
       fixed={"model", "scenes", "vocab"}),
    ex("utils.viz.attention", "draw_attention_strip",
       lambda f: ((f.scenes[0], ["a", "red", "circle"], np.full((3, 64), 1 / 64), np.array([0.5, 0.6, 0.7])), {"ncols": 3}),
       fixed={"scene"}),
    ex("utils.viz.attention", "draw_training_curves", lambda f: ((f.attention_histories,), {"window": 2}), fixed={"histories"}),
    ex("utils.viz.cells", "cell_widget", lambda f: ((f.vocab_text[:20], np.tanh(R(0).normal(size=(20, 3)))), {"start_cell": 0})),
    ex("utils.viz.cells", "draw_cell_text", lambda f: ((f.vocab_text[:20], np.tanh(R(0).normal(size=20))), {"max_chars": 20, "width": 10})),
    ex("utils.viz.diagrams", "draw_bptt_graph", lambda f: ((), {"steps": 3})),
    ex("utils.viz.diagrams", "draw_char_lm_graph", lambda f: ((), {"word": "hello"})),
    ex("utils.viz.diagrams", "draw_lstm_cell", lambda f: ((), {})),
    ex("utils.viz.diagrams", "draw_sequence_patterns", lambda f: ((), {})),
    ex("utils.viz.diagrams", "draw_tbptt_mask", lambda f: ((), {"T": 12, "k1": 3, "k2": 3})),
    ex("utils.viz.diagrams", "tbptt_widget", lambda f: ((), {})),
    ex("utils.viz.generation", "draw_next_char_distribution",
       lambda f: ((f.char_lm, f.char_vocab), {"prefix": "RO", "temperature": 1.0, "top": 5, "n_chars": 5, "seed": 0}),
       fixed={"model", "vocab"}),
    ex("utils.viz.generation", "sampling_widget", lambda f: ((f.char_lm, f.char_vocab), {"prefix": "RO"}), fixed={"model", "vocab"}),
    ex("utils.viz.gradient_flow", "draw_gradient_flow",
       lambda f: ((), {"radius": 1.0, "input_scale": 1.0, "length": 5, "cell": "vanilla", "forget_bias": 1.0, "hidden_size": 4, "seed": 0}),
       accepts={("forget_bias", "negative"): "a negative forget bias is a valid experiment"}),
    ex("utils.viz.gradient_flow", "gradient_flow_widget",
       lambda f: ((), {"radius": 1.0, "input_scale": 1.0, "length": 5, "cell": "vanilla", "forget_bias": 1.0}),
       accepts={("forget_bias", "negative"): "a negative forget bias is a valid experiment"}),
    ex("utils.viz.gradient_flow", "plot_log_norms", lambda f: ((f.axes, np.linspace(0, -3, 5)), {"label": "vanilla", "color": "C0", "style": "-"}),
       fixed={"ax"}),
    ex("utils.viz.figure", "show", lambda f: ((plt.figure(), "an empty figure of the bad-input walk"), {}), fixed={"fig"}),
    ex("utils.viz.shapes", "describe_scene", lambda f: ((f.scenes[0],), {}), fixed={"scene"}),
    ex("utils.viz.shapes", "draw_scene", lambda f: ((f.axes, f.scenes[0]), {"title": "scene"}), fixed={"ax", "scene"}),
    ex("utils.viz.shapes", "draw_scenes", lambda f: ((f.scenes,), {"texts": ["one", "two"], "ncols": 2, "width": 20}),
       fixed={"scenes"}),
    ex("utils.viz.vqa", "draw_confusion", lambda f: ((["a", "b"], np.array([[3, 1], [0, 2]])), {"title": "t"})),
    ex("utils.viz.vqa", "draw_examples",
       lambda f: ((f.scenes, f.vqa[0], np.array([0, 1]), f.vqa[0]["answer"].copy(), np.full((12, 2, 64), 1 / 64)), {}),
       fixed={"scenes", "data"}, accepts={("rows", "empty"): "no rows: it prints '(no such question)', as for a filter that matched none"}),
    ex("utils.viz.vqa", "draw_type_accuracy",
       lambda f: (({"m": {"test": {t: 0.5 for t in ("attribute", "position", "count", "compare", "relational", "pointing", "overall")}}},), {"split": "test"})),
    ex("utils.viz.vqa", "vqa_widget", lambda f: ((f.vqa_model, f.scenes, f.vqa[1], f.vqa[2]), {"scene": 0, "question": 0}),
       fixed={"model", "scenes"}),
    ex("utils.viz.widgets", "draw_tanh_unit", lambda f: ((), {"w": 1.0, "b": 0.0}),
       accepts={}),
    ex("utils.viz.widgets", "tanh_unit_widget", lambda f: ((), {})),
]
BY_NAME = {e.qualname: e for e in EXAMPLES}
# Functions that pass an argument on unchecked: the message names the public function that
# checks it instead of the one called. Written down so the list can only shrink.
PASSED_ON = {
    "utils.analysis.attention.attention_correctness": ("caption_with_attention",),
    "utils.analysis.captions.evaluate_bleu": ("caption_greedy", "cached_features"),
    "utils.analysis.captions.evaluate_errors": ("caption_greedy", "cached_features"),
    "utils.analysis.clipping.descend_one_unit": ("one_unit_rnn",),
    "utils.analysis.gradient_flow.gradient_norms_through_time": ("make_cell_weights",),
    "utils.course.setup_notebook": ("pick_device",),
    "utils.models.adding.vanilla_adding_model": ("AddingModel", "random_recurrent_matrix"),
    "utils.models.captioner.Captioner": ("init_captioner_params",),
    "utils.models.char_lm.evaluate_nats_per_char": ("iter_chunks",),
    "utils.models.char_lm.generate": ("temperature_probs",),
    "utils.models.vqa.build_model": ("StackedAttention",),
    "utils.training.adding.initial_gradient_norm":
        ("AddingModel", "random_recurrent_matrix", "vanilla_adding_model", "adding_problem"),
    "utils.training.adding.train_adding": ("torch_threads", "AddingModel"),
    "utils.training.adding.train_rnn_sgd":
        ("AddingModel", "random_recurrent_matrix", "vanilla_adding_model", "adding_problem"),
    "utils.training.char_lm.train_char_lm": ("random_batch", "evaluate_nats_per_char"),
    "utils.training.tbptt.compare_strategies": ("CharLM",),
    "utils.training.vqa.predict": ("batch_tensors",),
    "utils.training.vqa.train_vqa": ("batch_tensors",),
    "utils.training.vqa.vqa_data": ("question_set", "vqa_arrays"),
    "utils.viz.diagrams.draw_tbptt_mask": ("tbptt_gradient_mask",),
    "utils.viz.generation.draw_next_char_distribution": ("next_char_probs",),
    "utils.viz.gradient_flow.draw_gradient_flow": ("make_cell_weights",),
}
# Text a figure shows as given: an empty title or the number 3 as a label is the caller's choice.
SHOWN_AS_GIVEN = {"title", "label"}
# Imported by a notebook but not walked, with the reason.
NOT_WALKED = {
    "utils.models.cells.lstm_recurrence":
        "the inner step of LSTMFromEquations, called T times per batch and timed against "
        "nn.LSTM in 05, which also prints its source: LSTMFromEquations.forward checks the shapes "
        "of x and of the state once per sequence instead",
    **{f"utils.data.formats.{name}": "the loaders of real caption and VQA files: tests/test_formats.py "
       "breaks their files one field at a time and checks each message names the file and the field"
       for name in ("load_coco_captions", "load_vqa", "write_examples")},
}


def notebook_imports():
    """{module.name} of every callable a solution notebook imports from utils (checks aside)."""
    import importlib
    import inspect
    found = set()
    for path in sorted((REPO_ROOT / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "\n".join(line for line in "".join(cell["source"]).splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils") \
                        and not node.module.startswith("utils.checks"):
                    for alias in node.names:
                        obj = getattr(importlib.import_module(node.module), alias.name)
                        if callable(obj) and not inspect.ismodule(obj) and not (
                                inspect.isclass(obj) and issubclass(obj, BaseException)):
                            found.add(f"{node.module}.{alias.name}")
    return found


def test_every_function_a_notebook_imports_has_an_example():
    missing = sorted(notebook_imports() - set(BY_NAME) - set(NOT_WALKED))
    assert not missing, f"add an Example to tests/test_bad_inputs.py for: {missing}"


@pytest.mark.parametrize("qualname", sorted(BY_NAME))
def test_example_call_is_valid(qualname):
    example = BY_NAME[qualname]
    args, kwargs = example.make(F)
    example.function()(*args, **kwargs)
    plt.close("all")


def clear_message(message, example):
    """True when the message says which function refused what: "<function>: x must be ..., got ...".

    The message starts with the name of the function the student called (or one of the
    example's ``names``, or a function it passes the argument on to, listed in PASSED_ON), a
    method of it ("Captioner.forward") allowed, and a colon; then it says what was expected
    and what came.
    """
    called = "|".join(re.escape(name) for name in example.names + PASSED_ON.get(example.qualname, ()))
    named = re.match(rf"(?:{called})(?:\.\w+)?: ", message) is not None
    says_what = any(word in message for word in (
        "must", "expected", "need", "should", "got", "found", "use ", "unknown", "empty", "too few"))
    return named and says_what


@pytest.mark.parametrize("qualname", sorted(BY_NAME))
def test_bad_inputs_raise_a_clear_value_error(qualname):
    example = BY_NAME[qualname]
    function = example.function()
    problems, tried, passed_on = [], 0, set()
    for argument, mutation, args, kwargs in spoilt_calls(example, F):
        if (argument, mutation) in example.accepts or (argument in SHOWN_AS_GIVEN and mutation in ("empty", "number")):
            continue
        tried += 1
        try:
            function(*args, **kwargs)
        except ValueError as error:
            if not clear_message(str(error), example):
                problems.append(f"{argument} {mutation}: unclear message: {error}")
            passed_on.add(str(error).split(":")[0].split(".")[0])
        except Exception as error:  # noqa: BLE001 (the point is to report any other kind)
            problems.append(f"{argument} {mutation}: {type(error).__name__} instead of ValueError: "
                            f"{str(error)[:150]}")
        else:
            problems.append(f"{argument} {mutation}: accepted")
        finally:
            plt.close("all")
    problems += [f"PASSED_ON lists {name}, which no message names any more: remove it"
                 for name in sorted(set(PASSED_ON.get(qualname, ())) - passed_on)]
    assert not problems, f"{qualname} ({tried} spoilt calls):\n  " + "\n  ".join(problems)
