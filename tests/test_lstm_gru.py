"""Notebook 05: numpy LSTM/GRU layers, PyTorch cells, the adding problem, cell visualisation,
the checks, and planted mistakes (each exercise's check must fail on at least two)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from utils.checks.core import CheckFailed  # noqa: E402
from utils.checks.lstm_gru import (LSTM_SLIPS, _lstm_step_backward_with, check_gru_step,  # noqa: E402
                                   check_lstm_backward, check_lstm_forward, check_lstm_step_backward,
                                   check_lstm_step_forward)
from utils.gradcheck import eval_numerical_gradient_array, rel_error  # noqa: E402
from utils.layers import (gru_backward, gru_forward, lstm_backward, lstm_forward, lstm_step_backward,  # noqa: E402
                          lstm_step_forward, sigmoid)
from utils.models.cells import GRUFromEquations, LSTMFromEquations, copy_gru_from_torch, copy_lstm_from_torch, gru_step, weights_from_module


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _params(rng, N, D, H):
    return [rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H)),
            rng.normal(scale=0.6, size=(D, 4 * H)), rng.normal(scale=0.6, size=(H, 4 * H)),
            rng.normal(scale=0.5, size=4 * H)]


# ------------------------------------------------------------------------ numpy references
def test_sigmoid_is_stable_and_correct():
    x = np.array([-1000.0, -3.0, 0.0, 3.0, 1000.0])
    with np.errstate(over="raise"):
        y = sigmoid(x)
    np.testing.assert_allclose(y, [0.0, 1 / (1 + np.exp(3)), 0.5, 1 / (1 + np.exp(-3)), 1.0])


def test_lstm_backward_matches_numerical_gradients():
    rng = np.random.default_rng(0)
    N, D, H, T = 2, 3, 4, 5
    args = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(scale=0.5, size=(D, 4 * H)),
            rng.normal(scale=0.5, size=(H, 4 * H)), rng.normal(size=4 * H)]
    h, cache = lstm_forward(*args)
    dh = rng.normal(size=h.shape)
    grads = lstm_backward(dh, cache)
    for k in range(5):
        def f(value, k=k):
            a = list(args)
            a[k] = value
            return lstm_forward(*a)[0]
        assert rel_error(grads[k], eval_numerical_gradient_array(f, args[k].copy(), dh)) < 1e-6


def test_numpy_layers_match_torch_nn():
    torch.manual_seed(0)
    D, H, N, T = 5, 6, 3, 7
    x = np.random.default_rng(1).normal(size=(N, T, D))
    h0 = np.random.default_rng(2).normal(size=(N, H))
    lstm = nn.LSTM(D, H, batch_first=True).double()
    _, W = weights_from_module(lstm)
    Wx, Wh, b = W["Wx"], W["Wh"], W["b"]
    with torch.no_grad():
        expected, _ = lstm(torch.tensor(x), (torch.tensor(h0)[None], torch.zeros(1, N, H, dtype=torch.float64)))
    np.testing.assert_allclose(lstm_forward(x, h0, Wx, Wh, b)[0], expected.numpy(), atol=1e-12)
    gru = nn.GRU(D, H, batch_first=True).double()
    with torch.no_grad():
        expected, _ = gru(torch.tensor(x), torch.tensor(h0)[None])
    got = gru_forward(x, h0, gru.weight_ih_l0.detach().numpy().T, gru.weight_hh_l0.detach().numpy().T,
                      gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy())[0]
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-12)


def test_gru_backward_matches_numerical_gradients():
    rng = np.random.default_rng(3)
    N, T, D, H = 2, 4, 3, 5
    args = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), 0.5 * rng.normal(size=(D, 3 * H)),
            0.5 * rng.normal(size=(H, 3 * H)), rng.normal(size=3 * H), rng.normal(size=3 * H)]
    h, cache = gru_forward(*args)
    dh = rng.normal(size=h.shape)
    grads = gru_backward(dh, cache)
    assert len(grads) == len(args)
    for k, (arg, grad) in enumerate(zip(args, grads)):
        def f(a, k=k):
            return gru_forward(*(args[:k] + [a] + args[k + 1:]))[0]
        assert rel_error(grad, eval_numerical_gradient_array(f, arg.copy(), dh)) < 1e-5, k


def test_numpy_layers_reject_wrong_shapes():
    rng = np.random.default_rng(0)
    x, h, c, Wx, Wh, b = _params(rng, 2, 3, 4)
    with pytest.raises(ValueError, match="lstm_step_forward: Wx"):
        lstm_step_forward(x, h, c, Wx.T, Wh, b)
    with pytest.raises(ValueError, match="lstm_step_forward: prev_c"):
        lstm_step_forward(x, h, c[:, :3], Wx, Wh, b)
    with pytest.raises(ValueError, match="lstm_forward: x"):
        lstm_forward(x, None, Wx, Wh, b)
    with pytest.raises(ValueError, match="gru_step_forward: bh"):
        from utils.layers import gru_step_forward
        gru_step_forward(x, h, rng.normal(size=(3, 12)), rng.normal(size=(4, 12)), np.zeros(12), np.zeros(4))


# ------------------------------------------------------------------------- torch cells
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_torch_cells_match_nn_after_copy(dtype, tol):
    torch.manual_seed(0)
    D, H, B, T = 7, 9, 3, 12
    x = torch.randn(B, T, D, dtype=dtype)
    h0, c0 = torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype)
    ref = nn.LSTM(D, H, batch_first=True).to(dtype)
    ours = copy_lstm_from_torch(LSTMFromEquations(D, H).to(dtype), ref)
    out_ref, (_, c_ref) = ref(x, (h0[None], c0[None]))
    out_ours, (_, c_ours) = ours(x, (h0, c0))
    assert (out_ref - out_ours).abs().max() < tol and (c_ref[0] - c_ours).abs().max() < tol
    gref = nn.GRU(D, H, batch_first=True).to(dtype)
    gours = copy_gru_from_torch(GRUFromEquations(D, H).to(dtype), gref)
    assert (gref(x, h0[None])[0] - gours(x, h0)[0]).abs().max() < tol


def test_lstm_gate_order_is_mapped_by_name():
    torch.manual_seed(0)
    ref = nn.LSTM(2, 3)
    with torch.no_grad():  # mark torch's g block (rows 2H..3H) so we can find it
        ref.weight_hh_l0.zero_()
        ref.weight_hh_l0[6:9] = 1.0
    ours = copy_lstm_from_torch(LSTMFromEquations(2, 3), ref)
    assert torch.all(ours.Wh[:, 9:] == 1.0) and torch.all(ours.Wh[:, :9] == 0.0)  # course g is last


def test_copy_and_modules_reject_bad_input():
    with pytest.raises(ValueError, match="sizes differ"):
        copy_lstm_from_torch(LSTMFromEquations(3, 4), nn.LSTM(3, 5))
    with pytest.raises(TypeError, match="nn.GRU"):
        copy_gru_from_torch(GRUFromEquations(3, 4), nn.LSTM(3, 4))
    with pytest.raises(ValueError, match="one-layer"):
        copy_lstm_from_torch(LSTMFromEquations(3, 4), nn.LSTM(3, 4, num_layers=2))
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMFromEquations(3, 0)
    with pytest.raises(ValueError, match=r"^LSTMFromEquations.forward: x must have shape \(B, T, D\) = "
                                         r"\(2, 5, 3\), got \(2, 5, 4\)$"):
        LSTMFromEquations(3, 4)(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="c0"):
        LSTMFromEquations(3, 4)(torch.randn(2, 5, 3), (torch.zeros(2, 4), torch.zeros(2, 5)))
    with pytest.raises(ValueError, match="Wx"):
        gru_step(torch.randn(2, 3), torch.randn(2, 4), torch.randn(4, 12), torch.randn(4, 12),
                 torch.zeros(12), torch.zeros(12))
    with pytest.raises(ValueError, match="layer"):
        weights_from_module(nn.LSTM(3, 4), layer=1)


# ------------------------------------------------------------------- gradient flow, trained
def test_weights_from_module_reproduces_the_modules():
    from utils.models.cells import cell_step as _step, weights_from_module

    torch.manual_seed(0)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    for module in (nn.RNN(3, 4, batch_first=True), nn.LSTM(3, 4, batch_first=True), nn.GRU(3, 4, batch_first=True)):
        module = module.double()
        cell, W = weights_from_module(module)
        Wt = {k: torch.tensor(v) for k, v in W.items()}
        state = tuple(torch.zeros(2, 4, dtype=torch.float64) for _ in range(2 if cell == "lstm" else 1))
        outs = []
        for t in range(6):
            state = _step(cell, Wt, x[:, t], state)
            outs.append(state[0])
        with torch.no_grad():
            expected, _ = module(x)
        assert torch.allclose(torch.stack(outs, 1), expected, atol=1e-12), cell
    with pytest.raises(TypeError, match="nn.RNN"):
        weights_from_module(nn.Linear(3, 4))


def test_forget_bias_keeps_the_cell_gradient():
    from utils.analysis.gradient_flow import gradient_norms_through_time

    low = gradient_norms_through_time("lstm", 1.0, 1.0, length=80, forget_bias=0.0)["log10_c"][0]
    high = gradient_norms_through_time("lstm", 1.0, 1.0, length=80, forget_bias=5.0)["log10_c"][0]
    assert high > -1.0 > -10.0 > low


# --------------------------------------------------------------------- the adding problem
def test_adding_problem_data():
    from utils.data.adding import adding_problem

    x, y = adding_problem(50, 20, rng=0)
    assert x.shape == (50, 20, 2) and y.shape == (50,) and x.dtype == np.float32
    assert np.all(x[..., 1].sum(axis=1) == 2)
    assert np.all(x[:, :10, 1].sum(axis=1) == 1) and np.all(x[:, 10:, 1].sum(axis=1) == 1)
    np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(adding_problem(5, 8, rng=3)[0], adding_problem(5, 8, rng=3)[0])
    for n, length, match in [(0, 10, "n"), (3, 1, "length"), (3, -4, "length"), (2.5, 10, "n")]:
        with pytest.raises(ValueError, match=match):
            adding_problem(n, length)


def test_train_adding_short_run_and_bad_input():
    from utils.models.adding import AddingModel
    from utils.training.adding import train_adding

    model, hist = train_adding("gru", length=12, steps=10, eval_every=5, test_size=50, progress=False)
    assert hist["step"] == [5, 10] and np.isfinite(hist["final_test_mse"])
    assert hist["baseline_mse"] == pytest.approx(1 / 6, abs=0.05)
    assert torch.allclose(AddingModel("lstm", 8, forget_bias=2.0).rnn.bias_ih_l0[8:16], torch.full((8,), 2.0))
    with pytest.raises(ValueError, match="cell"):
        train_adding("transformer", steps=1, progress=False)
    with pytest.raises(ValueError, match="lr"):
        train_adding("lstm", steps=1, lr=0.0, progress=False)
    with pytest.raises(ValueError, match="steps"):
        train_adding("lstm", steps=-3, progress=False)


# -------------------------------------------------------------------- cell visualisation
def test_cell_trace_matches_the_model_and_features():
    from utils.analysis.cell_trace import best_cells, inside_brackets, line_position, lstm_cell_trace
    from utils.viz.cells import cell_html, draw_cell_text
    from utils.models.char_lm import CharLM
    from utils.data.text import CharVocab

    text = "ab [cd]\nefg\n[h] ij"
    vocab = CharVocab(text)
    torch.manual_seed(0)
    model = CharLM(len(vocab), 6, num_layers=2, cell="lstm", embed_size=4)
    trace = lstm_cell_trace(model, vocab, text, layer=1)
    with torch.no_grad():
        out, _ = model.rnn(model.embed(torch.from_numpy(np.asarray(vocab.encode(text)))[None]))
    np.testing.assert_allclose(trace["h"], out[0].double().numpy(), atol=1e-6)
    np.testing.assert_array_equal(line_position("ab\ncd"), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(inside_brackets("a[b]c"), [0, 1, 1, 1, 0])
    cells = best_cells(np.stack([np.arange(5.0), -np.arange(5.0) ** 2], axis=1), np.arange(5.0), top=2)
    assert cells[0][0] == 0 and cells[0][1] == pytest.approx(1.0)
    assert len(draw_cell_text(text, trace["c"][:, 0]).axes) == 1
    assert cell_html("a<b", np.array([1.0, 0.0, -1.0])).count("<span") == 3
    with pytest.raises(ValueError, match=r"^draw_cell_text: values must have shape \(T,\) = \(\d+,\), got \(3,\)$"):
        draw_cell_text(text, np.zeros(3))
    with pytest.raises(ValueError, match="constant"):
        best_cells(np.zeros((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="layer"):
        lstm_cell_trace(model, vocab, text, layer=2)


# ------------------------------------------------------------ checks and planted mistakes
def test_checks_accept_the_references(capsys):
    check_lstm_step_forward(lstm_step_forward)
    check_lstm_step_backward(lstm_step_forward, lstm_step_backward)
    check_lstm_forward(lstm_forward)
    check_lstm_backward(lstm_forward, lstm_backward)
    check_gru_step(gru_step)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith("✓") for line in lines)


def _step_generic(x, prev_h, prev_c, Wx, Wh, b, order="ifog", use_i=True, tanh_c=True):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    blocks = {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(order)}
    i, f, o = sigmoid(blocks["i"]), sigmoid(blocks["f"]), sigmoid(blocks["o"])
    g = np.tanh(blocks["g"])
    c = f * prev_c + (i * g if use_i else g)
    return o * (np.tanh(c) if tanh_c else c), c, None


@pytest.mark.parametrize("kwargs, hint", [({"order": "ifgo"}, "o and g blocks exchanged"),
                                          ({"use_i": False}, "next_c"),
                                          ({"tanh_c": False}, "next_h = o \\* tanh")])
def test_lstm_step_forward_check_catches_mistakes(kwargs, hint):
    with pytest.raises(CheckFailed, match="lstm_step_forward") as info:
        check_lstm_step_forward(lambda *a: _step_generic(*a, **kwargs))
    assert hint.replace("\\", "") in str(info.value)


def _backward_variant(mistake):
    def backward(dnext_h, dnext_c, cache):
        dx, dprev_h, dprev_c, dWx, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache)
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
        if mistake == "no f":
            dprev_c = dprev_c / f
        elif mistake == "no h path":
            dprev_c = dnext_c * f
        elif mistake == "dWh transposed":
            dWh = dWh.copy()
            H = Wh.shape[0]
            dWh[:, :H] = dWh[:, :H].T
        return dx, dprev_h, dprev_c, dWx, dWh, db
    return backward


@pytest.mark.parametrize("mistake", ["no f", "no h path", "dWh transposed"])
def test_lstm_step_backward_check_catches_mistakes(mistake):
    with pytest.raises(CheckFailed, match="lstm_step_backward"):
        check_lstm_step_backward(lstm_step_forward, _backward_variant(mistake))


@pytest.mark.parametrize("slip", sorted(LSTM_SLIPS))
def test_lstm_step_backward_check_names_the_derivation_slip(slip):
    """Each slip of a student who derives the LSTM backward alone fails, and the message names its idea."""
    caches = {}

    def forward(*args):
        out = lstm_step_forward(*args)
        caches[id(out[2])] = args
        return out

    def derived(dnext_h, dnext_c, cache):
        return _lstm_step_backward_with(slip, dnext_h, dnext_c, caches[id(cache)])

    with pytest.raises(CheckFailed, match="lstm_step_backward") as info:
        check_lstm_step_backward(forward, derived)
    assert LSTM_SLIPS[slip] in str(info.value)
    assert "dprev_c = " not in str(info.value)  # an idea, not the line


def test_lstm_step_backward_check_sends_back_to_a_wrong_forward():
    wrong_forward = lambda *a: _step_generic(*a, tanh_c=False)  # noqa: E731
    with pytest.raises(CheckFailed, match="fix lstm_step_forward first"):
        check_lstm_step_backward(wrong_forward, lstm_step_backward)


def _forward_without_carried_c(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = Wh.shape[0]
    h = np.zeros((N, H)) if h0 is None else h0
    out = np.zeros((N, T, H))
    for t in range(T):
        h, _, _ = lstm_step_forward(x[:, t], h, np.zeros((N, H)), Wx, Wh, b)
        out[:, t] = h
    return out, None


def _forward_ignoring_h0(x, h0, Wx, Wh, b):
    return lstm_forward(x, None, Wx, Wh, b)


@pytest.mark.parametrize("wrong", [_forward_without_carried_c, _forward_ignoring_h0])
def test_lstm_forward_check_catches_mistakes(wrong):
    with pytest.raises(CheckFailed, match="lstm_forward"):
        check_lstm_forward(wrong)


def _backward_not_carrying_c(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, _, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, np.zeros((N, H)), cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def _backward_not_accumulating(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx, dWh, db = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
    return dx, dprev_h, dWx, dWh, db


@pytest.mark.parametrize("wrong", [_backward_not_carrying_c, _backward_not_accumulating])
def test_lstm_backward_check_catches_mistakes(wrong):
    with pytest.raises(CheckFailed, match="lstm_backward"):
        check_lstm_backward(lstm_forward, wrong)


def _gru_variant(mistake):
    def step(x, h, Wx, Wh, bx, bh):
        H = h.shape[1]
        ax, ah = x @ Wx + bx, h @ Wh + (0 if mistake == "no bh" else bh)
        r = torch.sigmoid(ax[:, :H] + ah[:, :H])
        z = torch.sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        if mistake == "reset first":
            n = torch.tanh(ax[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + bh[2 * H:])
        else:
            n = torch.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        if mistake == "z swapped":
            return z * n + (1 - z) * h
        return (1 - z) * n + z * h
    return step


@pytest.mark.parametrize("mistake, hint", [("z swapped", "update gate is swapped"),
                                           ("reset first", "Cho et al."),
                                           ("no bh", "both biases")])
def test_gru_step_check_catches_mistakes(mistake, hint):
    with pytest.raises(CheckFailed, match="gru_step") as info:
        check_gru_step(_gru_variant(mistake))
    assert hint in str(info.value)


def test_gru_step_check_wants_a_tensor():
    with pytest.raises(CheckFailed, match="torch tensor"):
        check_gru_step(lambda x, h, *a: h.numpy())


# ------------------------------------------------ notebook 05: paths, connectivity, cell properties
def test_cell_state_path_alone_is_the_product_of_forget_gates():
    from utils.analysis.gradient_flow import gradient_norms_through_time
    from utils.layers import sigmoid
    res = gradient_norms_through_time("lstm", radius=1e-6, input_scale=0.0, length=51, forget_bias=2.0)
    # no input and no recurrence: every forget gate is sigmoid(2) exactly
    slope = np.diff(res["log10_c_direct"])
    np.testing.assert_allclose(slope, -np.log10(sigmoid(2.0)), rtol=1e-6)
    assert res["log10_c"][0] >= res["log10_c_direct"][0] - 1e-9


def test_connectivity_of_a_model_that_sees_only_the_last_character():
    from utils.analysis.connectivity import connectivity
    from utils.models.char_lm import CharLM
    torch.manual_seed(0)
    model = CharLM(5, 8, cell="vanilla", embed_size=3)
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()  # no memory: only the current character matters
    ids = np.random.default_rng(0).integers(0, 5, size=300)
    reach = connectivity(model, ids, length=10, windows=16)
    assert reach.shape == (10,) and reach[0] > 0 and np.all(reach[1:] == 0)
    model = CharLM(5, 8, cell="lstm", embed_size=3)
    reach = connectivity(model, ids, length=10, windows=16)
    assert np.all(reach > 0) and model.training  # the mode is restored
    with pytest.raises(ValueError, match="embedding"):
        connectivity(CharLM(5, 8), ids)


def test_speaker_lines_and_word_position():
    from utils.analysis.cell_trace import correlations, speaker_lines, word_position
    text = "ACT I.\n\nHam.\nWho is there?\n\nOTHELLO.\n[Enter X.]\nGo.\n"
    marks = "".join("^" if v else "." for v in speaker_lines(text))
    assert marks[text.index("Ham."):text.index("Who")] == "^" * 5
    assert marks[text.index("OTHELLO."):text.index("[")] == "^" * 9
    assert "^" not in marks[:text.index("Ham.")] and "^" not in marks[text.index("["):]
    np.testing.assert_array_equal(word_position("Who is"), [0, 1, 2, 0, 0, 1])
    A = np.stack([np.arange(6.0), np.zeros(6)], axis=1)
    np.testing.assert_allclose(correlations(A, np.arange(6.0)), [1.0, 0.0])
