"""Reference layers in numpy, written as forward/backward pairs.

Every ``*_forward`` returns ``(out, cache)`` (the LSTM step returns ``(next_h, next_c, cache)``:
its output is the pair of states) and every ``*_backward`` takes ``(dout, cache)`` and returns
the gradients of its inputs, in the order the forward took them. Shapes follow the batched
row-vector convention: a minibatch of N sequences, T steps, D input features, H hidden units,
V output classes.

    common.py    softmax, sigmoid, temporal_affine_forward/_backward, output_projection
    losses.py    step_losses (one sequence), temporal_softmax_loss (a padded minibatch)
    sampling.py  temperature_probs, sample_index
    rnn.py       vanilla RNN step and sequence, forward and backward
    lstm.py      LSTM step and sequence, forward and backward
    gru.py       GRU step and sequence, forward and backward
"""
from utils.layers.common import (  # noqa: F401
    output_projection,
    sigmoid,
    softmax,
    temporal_affine_backward,
    temporal_affine_forward,
)
from utils.layers.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward  # noqa: F401
from utils.layers.losses import step_losses, temporal_softmax_loss  # noqa: F401
from utils.layers.lstm import (  # noqa: F401
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from utils.layers.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward  # noqa: F401
from utils.layers.sampling import sample_index, temperature_probs  # noqa: F401
