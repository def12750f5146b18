"""Small recurrent models of the adding problem (utils.data.adding): a recurrent layer and a read-out.

    AddingModel            nn.RNN / nn.LSTM / nn.GRU followed by a linear read-out of the last state
    vanilla_adding_model   an untrained vanilla AddingModel whose W_hh has a chosen spectral radius
    evaluate_adding        test mean squared error
"""
import torch
from torch import nn

from utils import validate
from utils.course import eval_mode, model_device, seeded
from utils.models.cells import CELL_MODULES, CELLS, TORCH_LSTM_GATES
from utils.models.weights import random_recurrent_matrix

class AddingModel(nn.Module):
    """A recurrent layer (torch's nn.RNN with tanh, nn.LSTM or nn.GRU) and a linear read-out.

    cell: "vanilla", "lstm" or "gru"; hidden_size: H; input_size: D (2 for the adding problem);
    forget_bias: initial bias of the LSTM forget gate (the sum of torch's two biases for that
    gate; ignored by the other cells; None keeps torch's default initialisation).
    forward(x (B, T, D)) -> predictions (B,), read from the last hidden state.
    """

    def __init__(self, cell="lstm", hidden_size=32, input_size=2, forget_bias=1.0):
        super().__init__()
        validate.choice_of_cell("AddingModel", cell, CELLS)
        H = validate.positive_int("AddingModel", "hidden_size", hidden_size)
        D = validate.positive_int("AddingModel", "input_size", input_size)
        self.cell = cell
        self.rnn = CELL_MODULES[cell](D, H, batch_first=True)
        if cell == "lstm" and forget_bias is not None:
            fb = validate.finite_number("AddingModel", "forget_bias", forget_bias)
            f = TORCH_LSTM_GATES.index("f")  # the forget gate's row block in torch's order
            with torch.no_grad():
                self.rnn.bias_ih_l0[f * H:(f + 1) * H] = fb
                self.rnn.bias_hh_l0[f * H:(f + 1) * H] = 0.0
        self.head = nn.Linear(H, 1)

    def forward(self, x):
        validate.shapes("AddingModel.forward", "x: B T D", x, D=self.rnn.input_size, kind="torch", finite=False)
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1]).squeeze(-1)  # (B,)


def vanilla_adding_model(hidden_size, radius, seed=0):
    """An untrained vanilla-RNN AddingModel whose recurrent matrix has a chosen spectral radius.

    hidden_size: H; radius: finite > 0; seed: seeds torch (the other weights) and the
    recurrent matrix, utils.models.weights.random_recurrent_matrix(H, radius, seed).
    Returns: the AddingModel; its rnn.weight_hh_l0 (H, H) is that matrix transposed
    (torch stores W_hh for column vectors).
    """
    with seeded(validate.seed("vanilla_adding_model", seed)):
        model = AddingModel("vanilla", hidden_size)
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(torch.from_numpy(
            random_recurrent_matrix(hidden_size, radius, seed).T.copy()))
    return model


def evaluate_adding(model, x, y, batch_size=1000):
    """Mean squared error of the model on (x (N, T, D), y (N,)), numpy or torch. Returns a float."""
    device = model_device(model)
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    total = 0.0
    with eval_mode(model):
        for start in range(0, len(x), batch_size):
            pred = model(x[start:start + batch_size].to(device)).cpu()
            total += float(((pred - y[start:start + batch_size]) ** 2).sum())
    return total / len(x)
