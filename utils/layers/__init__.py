"""Reference layers in numpy, written as forward/backward pairs.

Every ``*_forward`` returns ``(out, cache)`` and every ``*_backward`` takes ``(dout, cache)``
and returns the gradients of its inputs, in the order the forward took them. Shapes follow
the batched row-vector convention: a minibatch of N sequences, T steps, D input features,
H hidden units, V output classes.
"""
from utils.layers.common import softmax, step_losses  # noqa: F401
from utils.layers.rnn import (  # noqa: F401
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)
from utils.layers.lstm import (  # noqa: F401
    gru_forward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)
