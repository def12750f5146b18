"""How far back does a trained character model look? Connectivity |d output_t / d input_(t-k)|.

    connectivity   mean norm of the gradient of the log-probability a CharLM gives the true next
                   character at step t with respect to the input it read k steps earlier

The measurement follows Madsen (2019, "Visualizing memorization in RNNs", Distill), who shows
it as a static picture; notebook 05 computes it for the vanilla RNN, LSTM and GRU it trains.
"""
import numpy as np
import torch

from utils import validate
from utils.course import model_device, torch_threads


def connectivity(model, ids, length=100, windows=64, seed=0):
    """Mean ||d log p(x_(t+1) | x_1..x_t) / d e_(t-k)|| for k = 0 .. length - 1.

    model: a utils.models.char_lm.CharLM with an embedding (embed_size not None);
    ids: (N,) character ids of a text the model did not train on; length: how many steps each
    window has, the largest k + 1; windows: how many windows of length + 1 ids, at random
    positions (seeded by seed); e_s is the embedding vector of the character read at step s.
    The model reads each window from a zero state and predicts its last character; the gradient
    of that one log-probability with respect to every input embedding says how much each
    earlier character moved the prediction.
    Returns: (length,) array, entry k = the mean over windows of the gradient norm k steps back.
    """
    fname = "connectivity"
    if getattr(model, "embed", None) is None:
        raise ValueError(f"{fname}: the model needs an embedding layer (a CharLM with embed_size)")
    length = validate.int_in_range(fname, "length", length, 1, 2000)
    windows = validate.positive_int(fname, "windows", windows, 4096)
    ids = validate.int_array(fname, "ids", ids, ndim=1, low=0, high=model.embed.num_embeddings)
    if ids.ndim != 1 or len(ids) < length + 2:
        raise ValueError(f"{fname}: ids must be a 1-D sequence of more than length + 1 = {length + 1} ids")
    rng = np.random.default_rng(validate.seed("connectivity", seed))
    starts = rng.integers(0, len(ids) - length - 1, size=windows)
    batch = ids[starts[:, None] + np.arange(length + 1)]  # (W, length + 1)
    x = torch.from_numpy(batch[:, :-1]).to(model_device(model))  # (W, length)
    target = torch.from_numpy(batch[:, -1]).to(x.device)  # (W,)
    was_training = model.training
    model.eval()
    try:
        # cuDNN cannot run an RNN's backward in eval mode; the plain kernels can (GPU only)
        with torch_threads(1), torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            emb = model.embed(x).detach().requires_grad_(True)  # (W, length, E)
            out, _ = model.rnn(emb)  # (W, length, H)
            log_p = torch.log_softmax(model.head(out[:, -1]), dim=-1)  # (W, V)
            log_p.gather(1, target[:, None]).sum().backward()
    finally:
        model.train(was_training)
    norms = emb.grad.norm(dim=2).cpu().numpy()  # (W, length): step s of each window
    return norms.mean(axis=0)[::-1].copy()  # entry k: k steps before the prediction
