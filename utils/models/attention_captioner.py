"""The captioner of notebook 07: an LSTM that looks at a grid of image features at every word.

"Show, Attend and Tell" (Xu et al. 2015) on the shapes world. Notebook 06's captioner sees the
image once, as one summary vector; this one keeps the encoder's 8 x 8 grid of features
(``utils.models.encoder``, L = 64 locations of D features) and, before each word, chooses where
to look.

    AttentionCaptioner        the model: forward (teacher forcing), loss, start_state / step
    AttentionState, AttentionRun   a decoding step's state, everything a teacher-forced pass computed
    check_attention_model     ValueError unless the model is an AttentionCaptioner

Its neighbours: one soft-attention step in torch and the locations' coordinates are in
``utils.models.grid``, captions with their attention maps in ``utils.models.captions``, the
shipped checkpoints in ``utils.models.attention_checkpoints``.

Shapes: N captions (or images), T steps, L locations, D grid features, D' = D + 2 values per
location (the features and the location's (x, y), see below), W word-vector size, H hidden
units, A attention units, V words.

One step t (row vectors; the course's LSTM gate order i, f, o, g, as utils.layers.lstm):

    q_t      = h_{t-1}  or  [h_{t-1}, W_embed[y_{t-1}]]         (N, Q)   the query (``query=``)
    alpha_t  = attention(q_t, values)                           (N, L)   where to look
    z_t      = sum_i alpha_ti values_i                          (N, D')  what is seen
    beta_t   = sigmoid(h_{t-1} @ w_beta + b_beta)               (N, 1)   gate (Xu et al. 4.2.1)
    z~_t     = beta_t * z_t                                     (N, D')  (z_t when gate=False)
    a_t      = W_embed[y_{t-1}] @ Wx + z~_t @ Wz + h_{t-1} @ Wh + b     (N, 4H)
    h_t, c_t = LSTM update of a_t                                (N, H)
    scores_t = h_t @ W_vocab + b_vocab [+ z~_t @ W_zvocab]       (N, V)   (context_to_output)

and h_0 = tanh(mean_i grid_i @ W_init_h + b_init_h), c_0 = tanh(mean_i grid_i @ W_init_c +
b_init_c): the initial state comes from the average of the grid features (Xu et al. sec. 3.1.2).

The attention, ``attention=``:
- "soft": additive attention, alpha_t = softmax_i(w_a . tanh(values_i @ Wa_v + q_t @ Wa_h))
  (``utils.models.grid.attention_step_torch``, the numpy ``utils.layers.attention``); z_t is
  the expectation of the values under alpha_t. Differentiable: trained by backpropagation.
- "hard": the same alpha_t is a distribution over locations; the model looks at ONE location
  s_t, z_t = values_{s_t}. In training (``model.train()``, or ``sample=True``) s_t is sampled
  from alpha_t and the attention is trained with REINFORCE (``utils.training.attention``). At
  test time (eval mode: decoding, captions, the widget) s_t is the most probable location,
  argmax_i alpha_ti: deterministic, like greedy decoding of the words.
- "uniform": alpha_t = 1/L everywhere, z_t the mean of the values: the same model with nothing
  to learn about where to look (a baseline). It has no attention parameters.

The query, ``query=``:
- "hidden" (Xu et al.): q_t = h_{t-1}, the state before the previous word y_{t-1} was read.
  When that word narrows down what comes next ("the small red ..." -> look at the red object
  for "circle"), the attention cannot know it: h_{t-1} only knew the distribution it predicted
  y_{t-1} from, so it must guess again which object the caption is about.
- "hidden_word": q_t = [h_{t-1}, W_embed[y_{t-1}]], the previous word joins the query (in the
  spirit of Lu et al. 2017, "Knowing when to look", whose spatial attention is computed after
  the LSTM has read the word). Wa_h is then (H + W, A). Not the paper's choice: on the shapes
  world it aligns the maps with the named objects far better (utils.analysis.attention); the
  shipped checkpoints record which query they use.

Positions, ``positions=``: with True (default) every location's value is its D features
followed by the (x, y) coordinates of its cell centre, in [-1, 1], so that the context z_t keeps
where it looked (CoordConv; why: ``utils.models.grid``).
"""
import math
from collections import namedtuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils import validate
from utils.models.captioner import token_ids
from utils.models.captioner_numpy import init_captioner_params
from utils.models.cells import lstm_recurrence
from utils.models.grid import ATTENTION_PARAMS, POSITION_CHANNELS, attend, location_coordinates

ATTENTION_MODES = ("soft", "hard", "uniform")
QUERIES = ("hidden", "hidden_word")

AttentionState = namedtuple("AttentionState", ["h", "c", "values", "keys", "alpha", "beta"])
AttentionState.__doc__ = """The decoding state of an AttentionCaptioner (batch on dim 0 of every field).

h, c: (B, H) the LSTM state. values: (B, L, D') what each location holds. keys: (B, L, A)
values @ Wa_v, computed once per image (None for "uniform"). alpha: (B, L) the attention of the
last step (the map that produced the last word; zeros before the first step). beta: (B, 1) the
gate of the last step (ones without a gate, and before the first step).
"""

AttentionRun = namedtuple("AttentionRun", ["scores", "alphas", "betas", "locations",
                                           "location_log_probs", "entropies"])
AttentionRun.__doc__ = """Everything a teacher-forced pass computed (AttentionCaptioner.run).

scores: (N, T, V) unnormalised next-word scores. alphas: (N, T, L) attention distributions.
betas: (N, T) gate values (ones without a gate). locations: (N, T) long, the location each step
looked at ("hard" only, else None). location_log_probs: (N, T) log alpha_t[s_t] of those
locations ("hard" only, else None). entropies: (N, T) entropy of alpha_t in nats.
"""


# ------------------------------------------------------------------------------ the model
class AttentionCaptioner(nn.Module):
    """An LSTM captioner with soft, hard or uniform attention over a grid of image features.

    vocab_size V, feature_dim D (features per grid location), num_locations L, wordvec_dim W,
    hidden_dim H, attention_dim A: positive ints.
    attention: "soft", "hard" or "uniform"; query: "hidden" or "hidden_word" (module docstring).
    gate: multiply the context by beta_t = sigmoid(h_{t-1} @ w_beta + b_beta) (Xu et al. 4.2.1).
    context_to_output: the next-word scores also see the context (z~_t @ W_zvocab).
    positions: append each location's (x, y) to its features (module docstring).
    seed: the initial weights are drawn from np.random.default_rng(seed) (float32), so a seed
        gives the same model; the language-model part (W_embed, Wx, Wh, b, W_vocab, b_vocab,
        and Wz) is ``captioner.init_captioner_params`` with the context as the image input.
    null_id, start_id, end_id: ids of <NULL>, <START>, <END> (shapes_language's 0, 1, 2).

    Parameters: W_embed (V, W); Wx (W, 4H); Wz (D', 4H); Wh (H, 4H); b (4H,); W_vocab (H, V);
    b_vocab (V,); W_init_h, W_init_c (D, H); b_init_h, b_init_c (H,); soft and hard: Wa_h (Q, A)
    with Q = H ("hidden") or H + W ("hidden_word"), Wa_v (D', A), w_a (A,); gate: w_beta (H,),
    b_beta (1,); context_to_output: W_zvocab (D', V).
    """

    def __init__(self, vocab_size, feature_dim, num_locations=64, wordvec_dim=32, hidden_dim=128,
                 attention_dim=64, attention="soft", query="hidden", gate=True,
                 context_to_output=True, positions=True, seed=0, null_id=0, start_id=1, end_id=2):
        super().__init__()
        fname = "AttentionCaptioner"
        V = validate.positive_int(fname, "vocab_size", vocab_size)
        D = validate.positive_int(fname, "feature_dim", feature_dim)
        L = validate.positive_int(fname, "num_locations", num_locations)
        W = validate.positive_int(fname, "wordvec_dim", wordvec_dim)
        H = validate.positive_int(fname, "hidden_dim", hidden_dim)
        A = validate.positive_int(fname, "attention_dim", attention_dim)
        validate.one_of(fname, "attention", attention, ATTENTION_MODES)
        validate.one_of(fname, "query", query, QUERIES)
        for name, flag in (("gate", gate), ("context_to_output", context_to_output),
                           ("positions", positions)):
            if not isinstance(flag, bool):
                raise ValueError(f"{fname}: {name} must be True or False, got {validate.shown(flag)}")
        seed = validate.int_in_range(fname, "seed", seed, 0)
        self.vocab_size, self.feature_dim, self.num_locations = V, D, L
        self.wordvec_dim, self.hidden_dim, self.attention_dim = W, H, A
        self.attention, self.query, self.gate = attention, query, gate
        self.context_to_output = context_to_output
        self.positions, self.seed = positions, seed
        for name, value in (("null_id", null_id), ("start_id", start_id), ("end_id", end_id)):
            setattr(self, name, validate.int_in_range(fname, name, value, 0, V - 1))
        if positions:
            location_coordinates(L)  # refuses a non-square L
        Dv = self.value_dim
        params = init_captioner_params(V, Dv, W, H, cell="lstm", conditioning="every_step", seed=seed)
        params["Wz"] = params.pop("W_img")                          # (D', 4H): the context's weights
        rng = np.random.default_rng([seed, 7])
        params["W_init_h"] = rng.normal(scale=1 / math.sqrt(D), size=(D, H))
        params["b_init_h"] = np.zeros(H)
        params["W_init_c"] = rng.normal(scale=1 / math.sqrt(D), size=(D, H))
        params["b_init_c"] = np.zeros(H)
        if attention != "uniform":
            Q = H + (W if query == "hidden_word" else 0)          # the query's size
            params["Wa_h"] = rng.normal(scale=1 / math.sqrt(Q), size=(Q, A))
            params["Wa_v"] = rng.normal(scale=1 / math.sqrt(Dv), size=(Dv, A))
            params["w_a"] = rng.normal(scale=1 / math.sqrt(A), size=(A,))
        if gate:
            params["w_beta"] = rng.normal(scale=1 / math.sqrt(H), size=(H,))
            params["b_beta"] = np.zeros(1)
        if context_to_output:
            params["W_zvocab"] = rng.normal(scale=1 / math.sqrt(Dv), size=(Dv, V))
        for name, value in params.items():
            self.register_parameter(name, nn.Parameter(torch.tensor(value, dtype=torch.float32)))
        if positions:
            self.register_buffer("coordinates", location_coordinates(L), persistent=False)

    @property
    def value_dim(self):
        """D' = D (+ 2 with positions): what one location contributes to the context."""
        return self.feature_dim + (POSITION_CHANNELS if self.positions else 0)

    def config(self):
        """The arguments that rebuild this module: ``AttentionCaptioner(**model.config())``."""
        return {"vocab_size": self.vocab_size, "feature_dim": self.feature_dim,
                "num_locations": self.num_locations, "wordvec_dim": self.wordvec_dim,
                "hidden_dim": self.hidden_dim, "attention_dim": self.attention_dim,
                "attention": self.attention, "query": self.query, "gate": self.gate,
                "context_to_output": self.context_to_output, "positions": self.positions,
                "seed": self.seed, "null_id": self.null_id, "start_id": self.start_id,
                "end_id": self.end_id}

    def attention_parameters(self):
        """The parameters that decide where to look: list of (name, Parameter); empty for "uniform"."""
        return [(name, getattr(self, name)) for name in ATTENTION_PARAMS if hasattr(self, name)]

    # -- arguments
    def _grid(self, fname, grid):
        grid = torch.from_numpy(grid) if isinstance(grid, np.ndarray) else grid
        validate.shapes(fname, "grid: N L D", grid, kind="torch", L=self.num_locations, D=self.feature_dim)
        return grid.to(device=self.W_embed.device, dtype=self.W_embed.dtype)

    def _tokens(self, fname, name, ids, ndim):
        return token_ids(fname, name, ids, ndim, self.vocab_size, self.W_embed.device)

    # -- the pieces of a step
    def _values_and_keys(self, grid):
        """values (N, L, D') and keys values @ Wa_v (N, L, A) (None for "uniform")."""
        values = grid
        if self.positions:
            coords = self.coordinates.to(grid.dtype).expand(grid.shape[0], -1, -1)
            values = torch.cat([grid, coords], dim=2)
        keys = None if self.attention == "uniform" else values @ self.Wa_v
        return values, keys

    def _initial(self, grid):
        """h0, c0 (N, H) from the mean of the grid features."""
        mean = grid.mean(dim=1)                                       # (N, D)
        return (torch.tanh(torch.addmm(self.b_init_h, mean, self.W_init_h)),
                torch.tanh(torch.addmm(self.b_init_c, mean, self.W_init_c)))

    def _step(self, x, ax, h, c, values, keys, sample, generator, expected=None):
        """One step from the previous word's vector x (N, W) and ax = x @ Wx + b (N, 4H).
        expected: "hard" only, None or (N,) bool: rows that take the expected (soft) context.
        Returns h, c, scores (N, V), alpha (N, L), beta (N, 1), location (N,) or None,
        log alpha[location] (N,) or None."""
        N, L = values.shape[0], values.shape[1]
        location = location_log_prob = None
        if self.attention == "uniform":
            alpha = values.new_full((N, L), 1.0 / L)
            context = values.mean(dim=1)
        else:
            query = h if self.query == "hidden" else torch.cat([h, x], dim=1)
            soft_context, alpha = attend(query, values, keys, self.Wa_h, self.w_a)
            if self.attention == "soft":
                context = soft_context
            else:
                if sample:
                    location = torch.multinomial(alpha.detach(), 1, generator=generator)[:, 0]
                else:
                    location = alpha.detach().argmax(dim=1)
                rows = torch.arange(N, device=values.device)
                context = values[rows, location]                       # (N, D') one location
                location_log_prob = torch.log(alpha[rows, location].clamp_min(1e-30))
                if expected is not None:                               # Xu et al. sec. 4.1
                    context = torch.where(expected.unsqueeze(1), soft_context, context)
        if self.gate:
            beta = torch.sigmoid(h @ self.w_beta.unsqueeze(1) + self.b_beta)   # (N, 1)
            context = beta * context
        else:
            beta = values.new_ones(N, 1)
        h_new, c_new = lstm_recurrence(torch.addmm(ax, context, self.Wz), h, c, self.Wh,
                                       self.hidden_dim)
        scores = torch.addmm(self.b_vocab, h_new, self.W_vocab)         # (N, V)
        if self.context_to_output:
            scores = torch.addmm(scores, context, self.W_zvocab)
        return h_new, c_new, scores, alpha, beta, location, location_log_prob

    # -- teacher forcing
    def run(self, grid, captions_in, sample=None, generator=None, expected=None):
        """A teacher-forced pass that returns everything it computed (an AttentionRun).

        grid: (N, L, D) float grid features. captions_in: (N, T) int ids (<START> w_1 ...).
        sample: "hard" only: sample each step's location from alpha (True) or take its argmax
            (False); None samples in train mode and takes the argmax in eval mode.
        generator: a torch.Generator for the sampled locations (None: torch's global one).
        expected: "hard" only: None, or (N,) bool, the rows whose context is the expectation
            sum_i alpha_i values_i instead of one location (Xu et al. sec. 4.1 set the sampled
            location to its expected value for half of the images, to train the attention
            through backpropagation too); their locations are still drawn and returned.
        Returns: AttentionRun(scores (N, T, V), alphas (N, T, L), betas (N, T), locations
            (N, T) or None, location_log_probs (N, T) or None, entropies (N, T)).
        """
        fname = "AttentionCaptioner.run"
        grid = self._grid(fname, grid)
        captions_in = self._tokens(fname, "captions_in", captions_in, 2)
        if captions_in.shape[0] != grid.shape[0]:
            raise ValueError(f"{fname}: captions_in must have one row per grid, got "
                             f"{captions_in.shape[0]} rows for {grid.shape[0]} grids")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"{fname}: generator must be a torch.Generator or None, "
                             f"got {validate.shown(generator)}")
        if expected is not None:
            if not isinstance(expected, torch.Tensor) or expected.dtype != torch.bool \
                    or tuple(expected.shape) != (grid.shape[0],):
                raise ValueError(f"{fname}: expected must be None or a bool tensor of shape "
                                 f"({grid.shape[0]},), got {validate.shown(expected)}")
            expected = expected.to(grid.device) if self.attention == "hard" else None
        sample = self.training if sample is None else bool(sample)
        values, keys = self._values_and_keys(grid)
        h, c = self._initial(grid)
        x = F.embedding(captions_in, self.W_embed)                      # (N, T, W)
        ax = x @ self.Wx + self.b                                        # (N, T, 4H), hoisted
        out = {k: [] for k in ("scores", "alphas", "betas", "locations", "logp")}
        for t in range(ax.shape[1]):
            h, c, scores, alpha, beta, location, logp = self._step(x[:, t], ax[:, t], h, c, values,
                                                                   keys, sample, generator, expected)
            for key, value in zip(out, (scores, alpha, beta[:, 0], location, logp)):
                out[key].append(value)
        alphas = torch.stack(out["alphas"], dim=1)                      # (N, T, L)
        entropies = -(alphas * torch.log(alphas.clamp_min(1e-30))).sum(dim=2)
        hard = self.attention == "hard"
        return AttentionRun(torch.stack(out["scores"], dim=1), alphas,
                            torch.stack(out["betas"], dim=1),
                            torch.stack(out["locations"], dim=1) if hard else None,
                            torch.stack(out["logp"], dim=1) if hard else None, entropies)

    def forward(self, grid, captions_in, sample=None, generator=None, expected=None):
        """Scores and attention maps under teacher forcing.

        grid: (N, L, D) float grid features. captions_in: (N, T) int ids (the caption rows
            without their last column). sample, generator, expected: as ``run`` (hard).
        Returns: scores (N, T, V) unnormalised, alphas (N, T, L) (each row sums to 1).
        """
        found = self.run(grid, captions_in, sample=sample, generator=generator, expected=expected)
        return found.scores, found.alphas

    def loss_parts(self, grid, captions, doubly_stochastic=0.0, sample=None, generator=None,
                   expected=None):
        """The loss and its parts, so that the regulariser can be watched on its own.

        grid: (N, L, D). captions: (N, T + 1) int ids (<START> ... <END> <NULL>...).
        doubly_stochastic: lambda >= 0 of the regulariser (Xu et al. sec. 4.2.1)
            lambda * sum_i (1 - sum_t alpha_ti)^2, averaged over the N captions, where t runs
            over the steps whose target is not <NULL> (padding looks nowhere).
        sample, generator, expected: as ``run`` (hard attention: the words' loss given the
            locations).
        Returns: dict with "loss" (scalar tensor: nll + regulariser), "nll" (scalar: cross-entropy
            summed over the real steps and averaged over N, as Captioner.loss), "regulariser"
            (scalar, lambda included), "caption_nll" (N,): -log p(caption n | its locations),
            "mask" (N, T) float, and "run" (the AttentionRun).
        """
        fname = "AttentionCaptioner.loss"
        lam = validate.finite_number(fname, "doubly_stochastic", doubly_stochastic, low=0)
        captions = self._tokens(fname, "captions", captions, 2)
        if captions.shape[1] < 2:
            raise ValueError(f"{fname}: captions must have shape (N, T + 1) with T >= 1, "
                             f"got {tuple(captions.shape)}")
        found = self.run(grid, captions[:, :-1], sample=sample, generator=generator,
                         expected=expected)
        targets = captions[:, 1:]                                        # (N, T)
        mask = (targets != self.null_id).to(found.scores.dtype)
        losses = F.cross_entropy(found.scores.transpose(1, 2), targets, reduction="none")
        caption_nll = (losses * mask).sum(dim=1)                          # (N,)
        nll = caption_nll.mean()
        looked = (found.alphas * mask.unsqueeze(2)).sum(dim=1)            # (N, L) sum over t
        regulariser = lam * ((1.0 - looked) ** 2).sum(dim=1).mean()
        return {"loss": nll + regulariser, "nll": nll, "regulariser": regulariser,
                "caption_nll": caption_nll, "mask": mask, "run": found}

    def loss(self, grid, captions, doubly_stochastic=0.0, sample=None, generator=None,
             expected=None):
        """The teacher-forced loss: a scalar tensor, nll + the doubly stochastic regulariser.

        grid: (N, L, D); captions: (N, T + 1) int ids. See ``loss_parts`` for the arguments
        and the parts (for "hard" attention this is the words' loss given sampled locations;
        the attention's REINFORCE term is added by utils.training.attention).
        """
        return self.loss_parts(grid, captions, doubly_stochastic, sample, generator, expected)["loss"]

    # -- decoding, one token at a time (utils.models.decoding's step_fn protocol)
    def start_state(self, grid):
        """The decoding state before the first word: an AttentionState (batch on dim 0).

        grid: (B, L, D) float grid features. alpha starts at zeros (no word yet), beta at ones.
        """
        grid = self._grid("AttentionCaptioner.start_state", grid)
        values, keys = self._values_and_keys(grid)
        h, c = self._initial(grid)
        B, L = grid.shape[0], grid.shape[1]
        return AttentionState(h, c, values, keys, grid.new_zeros(B, L), grid.new_ones(B, 1))

    def step(self, prev_tokens, state):
        """One decoding step: prev_tokens (B,) ids fed in, state from start_state or step.

        Returns: (log_probs (B, V), new AttentionState); new_state.alpha (B, L) is the
        attention that produced this step's word and new_state.beta (B, 1) its gate. "hard"
        attention looks at the argmax location here (module docstring). Run it under
        torch.no_grad() (eval_mode).
        """
        prev_tokens = self._tokens("AttentionCaptioner.step", "prev_tokens", prev_tokens, 1)
        if not isinstance(state, AttentionState):
            raise ValueError(f"AttentionCaptioner.step: state must be the AttentionState of "
                             f"start_state or step, got {validate.shown(state)}")
        x = F.embedding(prev_tokens, self.W_embed)                      # (B, W)
        h, c, scores, alpha, beta, _, _ = self._step(x, torch.addmm(self.b, x, self.Wx), state.h,
                                                     state.c, state.values, state.keys, False, None)
        return torch.log_softmax(scores, dim=1), AttentionState(h, c, state.values, state.keys,
                                                                alpha, beta)


# ------------------------------------------------------------------------------ its users' check
def check_attention_model(fname, model):
    """ValueError unless model is an AttentionCaptioner (any mode); returns it."""
    if not isinstance(model, AttentionCaptioner):
        raise ValueError(f"{fname}: model must be an AttentionCaptioner (soft, hard or uniform "
                         f"attention; notebook 06's Captioner has no attention maps), "
                         f"got {validate.shown(model)}")
    return model
