"""Training the 'hello' model: full-batch gradient descent with the reference layers, forward and backward."""
from utils import validate
from utils.data.hello import hello_data
from utils.layers import (rnn_backward, rnn_forward, temporal_affine_backward, temporal_affine_forward,
                          temporal_softmax_loss)
from utils.models.hello import check_hello_params


def train_hello(params, steps=300, lr=0.3):
    """Full-batch gradient descent on "hello". Returns the list of losses (nats, summed over steps)."""
    check_hello_params("train_hello", params)
    steps = validate.positive_int("train_hello", "steps", steps)
    lr = validate.positive_number("train_hello", "lr", lr)
    x, y = hello_data()
    losses = []
    for _ in range(steps):
        h, rnn_cache = rnn_forward(x, None, params["Wx"], params["Wh"], params["b"])
        scores, affine_cache = temporal_affine_forward(h, params["Wy"], params["by"])
        loss, dscores = temporal_softmax_loss(scores, y)
        dh, dWy, dby = temporal_affine_backward(dscores, affine_cache)
        _, _, dWx, dWh, db = rnn_backward(dh, rnn_cache)
        for key, grad in zip(("Wx", "Wh", "b", "Wy", "by"), (dWx, dWh, db, dWy, dby)):
            params[key] -= lr * grad
        losses.append(loss)
    return losses
