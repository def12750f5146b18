"""How `make grade` decides each exercise: the course's check, run in the grader's process on
fresh inputs, against the student's function running in the sandbox.

``CASES`` has one entry per exercise function of solutions/ (tests/test_grade_hostile.py
lists them from the ``### BEGIN SOLUTION`` markers and compares). An entry names the check
of utils.checks that judges the exercise and the student's functions it takes. The grader
calls that check, undecorated, with ``utils.tools.sandbox_remote.Remote`` functions in place of the
student's: every call sends plain data (arrays, numbers) to the sandbox, runs the student's
function there, and brings its result back as plain data. The check's reference, its expected
values and its comparison run here, where the student's code never ran.

Fresh inputs. Every check takes ``seed``; the grader draws it from os.urandom once per
grading run (the gradebook records it), so the inputs differ from the self-check's (seed 0..5),
whose expected outputs a student release may carry. The two checks whose cases are fixed by
hand (``make_streams``, ``beam_search``) also get ``fresh`` cases drawn from that seed.

Objects that are not plain data travel as recipes (``ENCODERS``): a CharLM as its sizes and
weights, an SGD optimizer as its learning rate over that model; the runner builds them with
course code inside the sandbox and sends the trained weights back. A numpy Generator travels
as its state, a torch tensor as its values (autograd through the student's function asks the
sandbox for the vector-Jacobian product), a decoder step function as a callback the grader
answers.
"""
import ast
import contextlib
import importlib
import io
import sys
import threading
from dataclasses import dataclass, field

import numpy as np

from utils.checks.core import CheckFailed, ExerciseNotImplemented, call_student, expect_array
from utils.tools.nbgrader_meta import NBGRADER_KEY
from utils.tools.notebooks import check_name
from utils.tools.sandbox import SandboxDied


@dataclass(frozen=True)
class Case:
    """How one exercise is graded: ``check`` ("module.function") takes ``functions`` (the
    student's, by name) and ``seed``; ``fresh`` adds cases drawn from the seed."""
    check: str
    functions: tuple
    seeded: bool = True
    fresh: object = None
    kwargs: dict = field(default_factory=dict)


def _fresh_make_streams(student_fn, seed):
    from utils.data.text import make_streams  # the reference, loaded only to grade
    name = "make_streams"
    rng = np.random.default_rng(seed)
    for _ in range(4):
        length, batch = int(rng.integers(5, 120)), int(rng.integers(1, 9))
        batch = min(batch, length)
        ids = rng.permutation(length * 3)[:length] + 1
        got = call_student(name, student_fn, ids.copy(), batch)
        expect_array(name, got, make_streams(ids, batch),
                     what=f"streams for {length} ids in {batch} streams", rtol=0)


def _fresh_beam_search(student_fn, seed):
    from utils.checks.beam_search import END, START, _rnn_model  # the check's own random models
    from utils.models.beam_search import beam_search_one  # the reference, loaded only to grade
    name = "beam_search"
    rng = np.random.default_rng(seed)
    for _ in range(3):
        model_seed, beam = int(rng.integers(2 ** 31)), int(rng.integers(1, 5))
        alpha = float(rng.choice([0.0, 0.5, 1.0]))
        step, state = _rnn_model(model_seed)
        tokens, score = beam_search_one(step, state, START, END, 7, beam, length_penalty=alpha)
        step, state = _rnn_model(model_seed)
        got = call_student(name, student_fn, step, state, START, END, 7, beam, length_penalty=alpha)
        try:
            got_tokens = [int(t) for t in np.asarray(got[0]).reshape(-1)]
            got_score = float(np.asarray(got[1]).reshape(()))
        except (TypeError, ValueError, IndexError, KeyError):
            raise CheckFailed(f"{name}: should return (tokens, score), got {type(got).__name__}") from None
        label = f"a random RNN, beam {beam}, length_penalty {alpha:g}"
        if got_tokens != list(tokens) or not np.isclose(got_score, score, rtol=1e-7, atol=1e-9):
            raise CheckFailed(f"{name}: on {label} the best caption is {list(tokens)} (score "
                              f"{score:.4f}), you returned {got_tokens} (score {got_score:.4f})")


CASES = {
    # 00
    "softmax": Case("utils.checks.welcome.check_softmax", ("softmax",)),
    # 01
    "rnn_step_forward": Case("utils.checks.rnn_basics.check_rnn_step_forward", ("rnn_step_forward",)),
    "rnn_forward": Case("utils.checks.rnn_basics.check_rnn_forward", ("rnn_forward",)),
    "output_projection": Case("utils.checks.rnn_basics.check_output_projection", ("output_projection",)),
    # 02
    "step_losses": Case("utils.checks.char_rnn.check_step_losses", ("step_losses",)),
    "temperature_probs": Case("utils.checks.char_rnn.check_temperature_probs", ("temperature_probs",)),
    "sample_index": Case("utils.checks.char_rnn.check_sample_index", ("sample_index",)),
    # 03
    "rnn_step_backward": Case("utils.checks.bptt.check_rnn_step_backward", ("rnn_step_backward",)),
    "rnn_backward": Case("utils.checks.bptt.check_rnn_backward", ("rnn_backward",)),
    "make_streams": Case("utils.checks.bptt.check_make_streams", ("make_streams",), seeded=False,
                         fresh=_fresh_make_streams),
    "tbptt_epoch": Case("utils.checks.bptt.check_tbptt_epoch", ("tbptt_epoch",)),
    # 04
    "gradient_norms": Case("utils.checks.gradient_flow.check_gradient_norms", ("gradient_norms",)),
    "scale_to_spectral_radius": Case("utils.checks.gradient_flow.check_scale_to_spectral_radius",
                                     ("scale_to_spectral_radius",)),
    "clip_by_global_norm": Case("utils.checks.gradient_flow.check_clip_by_global_norm",
                                ("clip_by_global_norm",)),
    # 05
    "lstm_step_forward": Case("utils.checks.lstm_gru.check_lstm_step_forward", ("lstm_step_forward",)),
    "lstm_step_backward": Case("utils.checks.lstm_gru.check_lstm_step_backward",
                               ("lstm_step_forward", "lstm_step_backward")),
    "lstm_forward": Case("utils.checks.lstm_gru.check_lstm_forward", ("lstm_forward",)),
    "lstm_backward": Case("utils.checks.lstm_gru.check_lstm_backward", ("lstm_forward", "lstm_backward")),
    "gru_step": Case("utils.checks.lstm_gru.check_gru_step", ("gru_step",)),
    # 06
    "word_embedding_forward": Case("utils.checks.captioning.check_word_embedding_forward",
                                   ("word_embedding_forward",)),
    "word_embedding_backward": Case("utils.checks.captioning.check_word_embedding_backward",
                                    ("word_embedding_backward",)),
    "temporal_affine_forward": Case("utils.checks.captioning.check_temporal_affine_forward",
                                    ("temporal_affine_forward",)),
    "temporal_affine_backward": Case("utils.checks.captioning.check_temporal_affine_backward",
                                     ("temporal_affine_backward",)),
    "temporal_softmax_loss": Case("utils.checks.captioning.check_temporal_softmax_loss",
                                  ("temporal_softmax_loss",)),
    "captioning_loss": Case("utils.checks.captioning.check_captioning_loss", ("captioning_loss",)),
    "decode_loop": Case("utils.checks.decode_loop.check_decode_loop", ("decode_loop",)),
    "beam_search": Case("utils.checks.beam_search.check_beam_search", ("beam_search",), seeded=False,
                        fresh=_fresh_beam_search),
    # 07
    "soft_attention_forward": Case("utils.checks.attention.check_soft_attention_forward",
                                   ("soft_attention_forward",)),
    "soft_attention_backward": Case("utils.checks.attention.check_soft_attention_backward",
                                    ("soft_attention_backward",)),
    "doubly_stochastic_regulariser": Case("utils.checks.attention_losses.check_doubly_stochastic_regulariser",
                                          ("doubly_stochastic_regulariser",)),
    "reinforce_surrogate": Case("utils.checks.attention_losses.check_reinforce_surrogate",
                                ("reinforce_surrogate",)),
    # 08
    "product_fusion_forward": Case("utils.checks.vqa.check_product_fusion_forward",
                                   ("product_fusion_forward",)),
    "product_fusion_backward": Case("utils.checks.vqa.check_product_fusion_backward",
                                    ("product_fusion_backward",)),
    "multiple_choice_loss": Case("utils.checks.vqa.check_multiple_choice_loss", ("multiple_choice_loss",)),
    "attention_hop_forward": Case("utils.checks.vqa.check_attention_hop_forward", ("attention_hop_forward",)),
    "attention_hop_backward": Case("utils.checks.vqa.check_attention_hop_backward",
                                   ("attention_hop_backward",)),
}


def _char_lm_recipe(model, state):
    return {"recipe": "char_lm",
            "kwargs": {"vocab_size": model.vocab_size, "hidden_size": model.hidden_size,
                       "num_layers": model.num_layers, "cell": model.cell,
                       "embed_size": model.embed_size, "dropout": float(model.drop.p)},
            "state": {k: {"__nd__": _nd(v.detach().cpu().numpy())} for k, v in model.state_dict().items()}}


def _sgd_recipe(optimizer, state):
    params = {id(p) for group in optimizer.param_groups for p in group["params"]}
    owner = next((key for key, m in state["built"].items() if hasattr(m, "parameters")
                  and {id(p) for p in m.parameters()} == params), None)
    if owner is None or len(optimizer.param_groups) != 1 or optimizer.param_groups[0].get("momentum"):
        raise TypeError("only plain SGD over a model sent in the same call can travel")
    return {"recipe": "sgd", "lr": float(optimizer.param_groups[0]["lr"]), "of": owner}


def _nd(array):
    from utils.tools.sandbox_runner import encode_array  # the wire format has one definition
    return encode_array(array)["__nd__"]


def encoders():
    """{type: recipe} for the course objects a check hands to a student's function."""
    import torch  # the grader has the whole course; loaded here, when the first exercise is graded
    from utils.models.char_lm import CharLM  # as above
    return {CharLM: _char_lm_recipe, torch.optim.SGD: _sgd_recipe}


# --- the student's code that runs in the sandbox ----------------------------------------------

def exercise_cells(lecture):
    """grade_ids of the exercise cells of a lecture (nbgrader: code cells with a solution)."""
    return [c.metadata[NBGRADER_KEY]["grade_id"] for c in lecture.cells if c.cell_type == "code"
            and c.metadata.get(NBGRADER_KEY, {}).get("solution")]


def sandbox_program(submission, lecture):
    """The cells the sandbox runs: [(label, source)], in the lecture's order.

    An exercise cell is the student's (found by its grade_id; the lecture's placeholder when
    the student deleted it); every other code cell of the lecture before it gives only its
    top-level import lines (the lecture's, never the student's copy), so the exercise finds
    the names it imports (numpy as np, torch...). No check cell, demonstration or training
    runs in the sandbox.
    """
    mine = {}
    for cell in submission.cells:
        grade_id = cell.get("metadata", {}).get(NBGRADER_KEY, {}).get("grade_id")
        if cell.get("cell_type") == "code" and grade_id and grade_id not in mine:
            mine[grade_id] = cell.get("source", "")
    exercises = set(exercise_cells(lecture))
    program = []
    for index, cell in enumerate(lecture.cells):
        if cell.cell_type != "code" or check_name(cell):
            continue
        grade_id = cell.metadata.get(NBGRADER_KEY, {}).get("grade_id", f"cell-{index}")
        if grade_id in exercises:
            source = mine.get(grade_id, cell.source)
            program.append((grade_id, source if isinstance(source, str) else "".join(source)))
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        imports = [ast.get_source_segment(cell.source, node) for node in tree.body
                   if isinstance(node, (ast.Import, ast.ImportFrom)) and not _for_display(node)]
        if imports:
            program.append((f"imports of {grade_id}", "\n".join(
                f"try:\n    {line}\nexcept Exception:\n    pass" for line in imports)))
    return program


DISPLAY_MODULES = ("matplotlib", "utils.viz", "ipywidgets", "IPython", "tqdm")  # no exercise uses them


def _for_display(node):
    """Whether an import statement only loads figures or widgets (seconds saved per sandbox)."""
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    return all(any(n == m or n.startswith(m + ".") for m in DISPLAY_MODULES) for n in names)


# --- a verdict ------------------------------------------------------------------------------

class _PerThreadStdout:
    """sys.stdout that a grading thread can capture without taking the others' lines."""

    def __init__(self, default):
        self.default, self.local = default, threading.local()

    def __getattr__(self, name):
        return getattr(getattr(self.local, "buffer", None) or self.default, name)

    def write(self, text):
        return (getattr(self.local, "buffer", None) or self.default).write(text)

    def flush(self):
        (getattr(self.local, "buffer", None) or self.default).flush()


_stdout_lock = threading.Lock()


@contextlib.contextmanager
def _captured():
    with _stdout_lock:
        if not isinstance(sys.stdout, _PerThreadStdout):
            sys.stdout = _PerThreadStdout(sys.stdout)
    buffer = io.StringIO()
    sys.stdout.local.buffer = buffer
    try:
        yield buffer
    finally:
        sys.stdout.local.buffer = None


def _first_line(text):
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def grade_exercise(name, remote, seed):
    """(passed, message) for exercise ``name``: its check, here, on the sandboxed functions.

    message: the check's success line, or ``<error type>: <first line of its message>``.
    Raises SandboxDied when the sandbox stops (a limit): the caller marks the row.
    """
    case = CASES[name]
    module, function = case.check.rsplit(".", 1)
    check = getattr(importlib.import_module(module), function)
    check = getattr(check, "__wrapped__", check)  # undecorated: an unsolved exercise fails
    functions = [remote.function(f) for f in case.functions]
    kwargs = dict(case.kwargs, **({"seed": seed} if case.seeded else {}))
    with _captured() as out:
        try:
            check(*functions, **kwargs)
            if case.fresh is not None:
                case.fresh(*functions, seed=seed)
        except SandboxDied:
            raise
        except (CheckFailed, ExerciseNotImplemented) as exc:
            return False, f"{type(exc).__name__}: {_first_line(exc)}"
        except Exception as exc:  # what the student returned broke the check: a wrong answer
            return False, f"CheckFailed: {name}: {type(exc).__name__}: {_first_line(exc)}"
    return True, _first_line(out.getvalue())

