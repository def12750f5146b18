"""Training the 'hello' model of notebook 02: full-batch gradient descent, gradients by autograd.

Notebook 02 comes before the backward passes are derived (03 for the RNN, 06 for the loss), so
the gradients here come from torch's autograd on the same equations, in float64; notebook 03
shows that its own BPTT gives the same numbers.
"""
import torch
import torch.nn.functional as F

from utils import validate
from utils.data.hello import hello_data
from utils.models.hello import check_hello_params

_KEYS = ("Wx", "Wh", "b", "Wy", "by")


def train_hello(params, steps=300, lr=0.3):
    """Full-batch gradient descent on "hello", updating ``params`` (numpy arrays) in place.

    params: the dict of utils.models.hello (Wx (D, H), Wh (H, H), b (H,), Wy (H, V), by (V,)).
    Returns: the list of losses (nats, summed over the steps of a sequence, averaged over sequences).
    """
    check_hello_params("train_hello", params)
    steps = validate.positive_int("train_hello", "steps", steps)
    lr = validate.positive_number("train_hello", "lr", lr)
    x, y = hello_data()                                          # (N, T, V) one-hot, (N, T) ids
    cpu = torch.device("cpu")  # numpy parameters in and out, a tiny model: the CPU is the right place
    x, y = torch.from_numpy(x).double(), torch.from_numpy(y).long()
    weights = {k: torch.tensor(params[k], dtype=torch.float64, device=cpu, requires_grad=True) for k in _KEYS}
    N, T = y.shape
    losses = []
    for _ in range(steps):
        h, states = torch.zeros(N, weights["Wh"].shape[0], dtype=torch.float64, device=cpu), []
        for t in range(T):
            h = torch.tanh(h @ weights["Wh"] + x[:, t] @ weights["Wx"] + weights["b"])
            states.append(h)
        scores = torch.stack(states, dim=1) @ weights["Wy"] + weights["by"]        # (N, T, V)
        loss = F.cross_entropy(scores.reshape(N * T, -1), y.reshape(-1), reduction="sum") / N
        for w in weights.values():
            w.grad = None
        loss.backward()
        with torch.no_grad():
            for w in weights.values():
                w -= lr * w.grad
        losses.append(loss.item())
    for k in _KEYS:
        params[k][...] = weights[k].detach().numpy()
    return losses
