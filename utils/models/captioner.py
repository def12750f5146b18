"""The image captioner of notebook 06 in torch: a CNN summary vector into an RNN language model.

    token_ids                        word ids checked, as a long tensor (the attention captioner's too)
    Captioner                        the torch module (training, decoding one token at a time)
    save_captioner, load_captioner   the checkpoint (weights, config, vocabulary)

The model, its shapes, equations and parameter names are those of the numpy reference,
``utils.models.captioner_numpy`` (its docstring states them); captions as strings come from
``utils.models.captions``. The image is v (N, P): the encoder's summary vectors, standardised
per dimension by the torch model (``Captioner.fit_feature_normalisation``, with two buffers,
feature_mean (P,) and feature_std (P,); the numpy reference takes v as given). With conditioning
"every_step" the torch module concatenates v to every input before its fused layer, as the
reference does, and its one-step decoder adds v @ W_img (computed once per caption) to each step.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from utils import validate
from utils.data import shapes_language as language
from utils.models import checkpoints
from utils.models import encoder as image_encoder
from utils.models.captioner_numpy import DEFAULT_HIDDEN, describe_params, init_captioner_params
from utils.models.cells import lstm_recurrence, torch_blocks_to_course

DEFAULT_CHECKPOINT = checkpoints.shipped_path("captioner", "captioner")
REBUILD_COMMAND = "python -m utils.tools.train_captioner"


# ------------------------------------------------------------------------------ torch model
def token_ids(fname, name, ids, ndim, vocab_size, device):
    """Word ids (numpy or torch, any integer dtype) as a long tensor on device, or a ValueError.

    ndim: 2 for captions (N, T), 1 for one word per row (B,). Every id must lie in
    [0, vocab_size).
    """
    if isinstance(ids, np.ndarray):
        ids = torch.from_numpy(ids)
    if not isinstance(ids, torch.Tensor) or ids.ndim != ndim or ids.is_floating_point() \
            or ids.is_complex() or ids.dtype == torch.bool:
        shape = "(N, T)" if ndim == 2 else "(B,)"
        raise ValueError(f"{fname}: {name} must be an integer tensor of shape {shape}, "
                         f"got {validate.shown(ids)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{fname}: {name} must lie in [0, {vocab_size}), got values "
                         f"from {int(ids.min())} to {int(ids.max())}")
    return ids.to(device=device, dtype=torch.long)


class Captioner(nn.Module):
    """The captioner in torch, with the numpy reference's parameters and equations.

    vocab_size V, feature_dim P, wordvec_dim W, hidden_dim H: positive ints.
    cell: "vanilla" or "lstm"; conditioning: "init" or "every_step" (module docstring).
    seed: the initial weights are ``init_captioner_params(..., seed=seed)`` (float32), so a
        seed gives the same model in numpy and torch.
    null_id, start_id, end_id: the ids of <NULL>, <START> and <END> (shapes_language's 0, 1, 2).

    Speed: the parameters are stored in the course's layout (those names, gate order i, f, o,
    g), and ``forward`` hands them to torch's fused ``nn.LSTM`` / ``nn.RNN`` kernel through
    ``torch.func.functional_call`` (transposed, gate blocks reordered by
    ``utils.models.cells.torch_blocks_to_course``, torch's second bias held at zero). On a CPU
    thread that is 2-2.5x faster, forward and backward, than a python loop over the steps
    (H = 128 and 192, batch 64, 19 steps: 17 vs 40 ms and 33 vs 66 ms). ``step``, used for
    decoding, is the equations line by line (utils.models.cells.lstm_recurrence).
    """

    def __init__(self, vocab_size, feature_dim, wordvec_dim=32, hidden_dim=DEFAULT_HIDDEN,
                 cell="lstm", conditioning="init", seed=0, null_id=0, start_id=1, end_id=2):
        super().__init__()
        params = init_captioner_params(vocab_size, feature_dim, wordvec_dim, hidden_dim, cell,
                                       conditioning, seed)
        self._setup(params, cell, conditioning, null_id, start_id, end_id, torch.float32)

    def _setup(self, params, cell, conditioning, null_id, start_id, end_id, dtype):
        fname = "Captioner"
        V, W = params["W_embed"].shape
        self.vocab_size, self.wordvec_dim = int(V), int(W)
        self.hidden_dim = int(params["Wh"].shape[0])
        self.feature_dim = int(params["W_proj" if conditioning == "init" else "W_img"].shape[0])
        self.cell, self.conditioning = cell, conditioning
        for name, value in (("null_id", null_id), ("start_id", start_id), ("end_id", end_id)):
            setattr(self, name, validate.int_in_range(fname, name, value, 0, self.vocab_size - 1))
        for name, value in params.items():
            self.register_parameter(name, nn.Parameter(torch.tensor(value, dtype=dtype)))
        # v = (features - feature_mean) / feature_std; identity until fit_feature_normalisation
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim, dtype=dtype))
        self.register_buffer("feature_std", torch.ones(self.feature_dim, dtype=dtype))
        # torch's fused layer whose weights forward() swaps for ours; kept in a tuple so that it is
        # not a submodule (its own, unused parameters stay out of parameters() and state_dict())
        inputs = self.wordvec_dim + (self.feature_dim if conditioning == "every_step" else 0)
        layer = nn.LSTM if cell == "lstm" else nn.RNN
        self._fused = (layer(inputs, self.hidden_dim, batch_first=True),)

    @classmethod
    def from_numpy(cls, params, null_id=0, start_id=1, end_id=2, dtype=torch.float32):
        """A Captioner holding copies of numpy parameters (the cell and conditioning are read
        from their keys and shapes). dtype: torch.float32 (training) or torch.float64 (exact
        comparisons with the numpy reference)."""
        cell, conditioning, _ = describe_params("Captioner.from_numpy", params)
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model._setup({k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, cell,
                     conditioning, null_id, start_id, end_id, dtype)
        return model

    @torch.no_grad()
    def fit_feature_normalisation(self, features, min_std=1e-3):
        """Standardise the image features from now on with the statistics of ``features``.

        features: (M, P) training features (e.g. the encoder's summary vectors, whose entries
            are ReLU outputs of size ~5 and norms ~90: as they are, h_0 = v @ W_proj would start
            far too large). Sets the buffers feature_mean = mean over rows and feature_std = std
            over rows (entries below min_std, e.g. dead ReLU units, become 1), so that
            v = (features - feature_mean) / feature_std has mean 0 and std 1 per dimension.
        The numpy reference (captioning_loss) takes v itself; to_numpy returns the parameters
        only, and from_numpy starts with the identity (mean 0, std 1).
        Returns: self.
        """
        features = self._check_features("Captioner.fit_feature_normalisation", features)
        if len(features) < 2:
            raise ValueError("Captioner.fit_feature_normalisation: features must have at least 2 "
                             f"rows, got {len(features)}")
        std = features.std(dim=0)
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_std.copy_(torch.where(std < min_std, torch.ones_like(std), std))
        return self

    def to_numpy(self):
        """The parameters as a dict of float64 numpy arrays, the layout captioning_loss takes
        (it takes the standardised features v; see fit_feature_normalisation)."""
        return {name: p.detach().cpu().double().numpy().copy() for name, p in self.named_parameters()}

    def config(self):
        """Everything that rebuilds this module's shapes: dict of ints and strings."""
        return {"vocab_size": self.vocab_size, "feature_dim": self.feature_dim,
                "wordvec_dim": self.wordvec_dim, "hidden_dim": self.hidden_dim, "cell": self.cell,
                "conditioning": self.conditioning, "null_id": self.null_id,
                "start_id": self.start_id, "end_id": self.end_id}

    def extra_repr(self):
        c = self.config()
        return (f"V={c['vocab_size']}, P={c['feature_dim']}, W={c['wordvec_dim']}, "
                f"H={c['hidden_dim']}, cell={c['cell']!r}, conditioning={c['conditioning']!r}")

    # -- shapes
    def _check_features(self, fname, features):
        features = torch.from_numpy(features) if isinstance(features, np.ndarray) else features
        validate.shapes(fname, "features: N P", features, kind="torch", P=self.feature_dim)
        return features.to(device=self.W_embed.device, dtype=self.W_embed.dtype)

    def _tokens(self, fname, name, ids, ndim):
        return token_ids(fname, name, ids, ndim, self.vocab_size, self.W_embed.device)

    # -- the recurrence
    def _cell(self, ax, h, c):
        """One step from the input part ax (B, kH) = x @ Wx + b [+ v @ W_img]: new (h, c)."""
        if self.cell == "lstm":
            return lstm_recurrence(ax, h, c, self.Wh, self.hidden_dim)
        return torch.tanh(torch.addmm(ax, h, self.Wh)), None

    def _image(self, features):
        """v = (features - feature_mean) / feature_std, (N, P): what the image gives the RNN."""
        return (features - self.feature_mean) / self.feature_std

    def _initial(self, v):
        """(h0, c0, image term) for v (N, P); c0 None for vanilla, image term None for init."""
        N, H = v.shape[0], self.hidden_dim
        zeros = v.new_zeros(N, H)
        c0 = zeros if self.cell == "lstm" else None
        if self.conditioning == "init":
            return torch.addmm(self.b_proj, v, self.W_proj), c0, None
        return zeros, c0, v @ self.W_img

    def forward(self, features, captions_in):
        """Scores of every next word under teacher forcing.

        features: (N, P) float image features (raw: the model standardises them with its
            feature_mean and feature_std buffers). captions_in: (N, T) int word ids (the
            caption rows without their last column: <START> w_1 ... ).
        Returns: scores (N, T, V), unnormalised (apply log_softmax for probabilities).
        """
        fname = "Captioner.forward"
        v = self._image(self._check_features(fname, features))       # (N, P)
        captions_in = self._tokens(fname, "captions_in", captions_in, 2)
        if captions_in.shape[0] != v.shape[0]:
            raise ValueError(f"{fname}: captions_in must have one row per feature vector, "
                             f"got {captions_in.shape[0]} rows for {v.shape[0]} vectors")
        h0, c0, _ = self._initial(v)
        x = F.embedding(captions_in, self.W_embed)                    # (N, T, W)
        Wx = self.Wx
        if self.conditioning == "every_step":                          # [x_t, v] @ [[Wx], [W_img]]
            N, T, _ = x.shape
            x = torch.cat([x, v[:, None, :].expand(N, T, self.feature_dim)], dim=2)
            Wx = torch.cat([self.Wx, self.W_img], dim=0)               # (W + P, kH)
        hidden = self._fused_layer(x, Wx, h0, c0)                      # (N, T, H)
        return hidden @ self.W_vocab + self.b_vocab                    # (N, T, V)

    def _fused_layer(self, x, Wx, h0, c0):
        """All T steps of the recurrence with torch's fused kernel, on our parameters.

        x: (N, T, D_in); Wx: (D_in, kH) course layout. Returns the hidden states (N, T, H).
        torch wants (kH, D_in) weights with the LSTM gate rows in its order i, f, g, o; the
        course's i, f, o, g differs by swapping the last two blocks, a swap that is its own
        inverse, so torch_blocks_to_course maps course -> torch as well as torch -> course.
        """
        weights = {"weight_ih_l0": torch_blocks_to_course(Wx.t(), self.cell),
                   "weight_hh_l0": torch_blocks_to_course(self.Wh.t(), self.cell),
                   "bias_ih_l0": torch_blocks_to_course(self.b, self.cell),
                   "bias_hh_l0": self.b.new_zeros(self.b.shape)}       # torch adds two biases
        layer = self._fused[0]
        state = (h0[None], c0[None]) if self.cell == "lstm" else h0[None]
        hidden, _ = functional_call(layer, weights, (x.contiguous(), state))
        return hidden

    def loss(self, features, captions):
        """The teacher-forced loss, as captioning_loss: a scalar tensor.

        features: (N, P); captions: (N, T + 1) int ids (<START> ... <END> <NULL>...).
        Cross-entropy of captions[:, 1:] given captions[:, :-1], summed over the steps whose
        target is not <NULL> and averaged over the N captions.
        """
        fname = "Captioner.loss"
        captions = self._tokens(fname, "captions", captions, 2)
        if captions.shape[1] < 2:
            raise ValueError(f"{fname}: captions must have shape (N, T + 1) with T >= 1, "
                             f"got {tuple(captions.shape)}")
        scores = self(features, captions[:, :-1])                      # (N, T, V)
        targets = captions[:, 1:]                                      # (N, T)
        losses = F.cross_entropy(scores.transpose(1, 2), targets, reduction="none")  # (N, T)
        mask = (targets != self.null_id).to(losses.dtype)
        return (losses * mask).sum() / captions.shape[0]

    # -- decoding, one token at a time (utils.models.decoding's step_fn protocol)
    def start_state(self, features):
        """The decoding state before the first word: a tuple (h (B, H), c (B, H) or None,
        image term (B, kH) or None), batch on dim 0 (so decoding.select_state reorders it)."""
        return self._initial(self._image(self._check_features("Captioner.start_state", features)))

    def step(self, prev_tokens, state):
        """One decoding step: prev_tokens (B,) ids fed in, state from start_state or step.

        Returns: (log_probs (B, V), new state). Run it under torch.no_grad() (eval_mode).
        """
        prev_tokens = self._tokens("Captioner.step", "prev_tokens", prev_tokens, 1)
        h, c, image = state
        ax = torch.addmm(self.b, F.embedding(prev_tokens, self.W_embed), self.Wx)  # (B, kH)
        if image is not None:
            ax = ax + image
        h, c = self._cell(ax, h, c)
        scores = torch.addmm(self.b_vocab, h, self.W_vocab)           # (B, V)
        return torch.log_softmax(scores, dim=1), (h, c, image)


# ------------------------------------------------------------------------------ checkpoint
def save_captioner(model, vocab, path=None, meta=None):
    """Write a Captioner to a checkpoint file (models.checkpoints.write_checkpoint).

    model: a Captioner. vocab: the WordVocab it was trained with (its words are stored, so a
        later load can refuse another vocabulary). path: file to write (default
        datasets/captioner/captioner.pt; folders are created). meta: optional dict of plain
        values (str, int, float, bool, None, lists and dicts of them): recipe, scores...
    Returns: the Path written. Stores {"state_dict" (float32), "config", "vocab", "meta"}.
    """
    fname = "save_captioner"
    if not isinstance(model, Captioner):
        raise ValueError(f"{fname}: model must be a Captioner, got {validate.shown(model)}")
    if not isinstance(vocab, language.WordVocab) or len(vocab) != model.vocab_size:
        raise ValueError(f"{fname}: vocab must be the WordVocab of the model's "
                         f"{model.vocab_size} words, got {validate.shown(vocab)}")
    return checkpoints.write_checkpoint(fname, model, DEFAULT_CHECKPOINT if path is None else path, vocab, meta)


def load_captioner(path=None, vocab=None, device="cpu", check_encoder=True):
    """Load a Captioner saved by save_captioner, in eval mode.

    path: the checkpoint (default datasets/captioner/captioner.pt).
    vocab: the WordVocab the caller will decode with; None compares with
        shapes_language.build_vocab(). The stored words must equal its words, id for id.
    device: where to put the model.
    check_encoder: when the checkpoint's meta names the encoder it was trained with
        ("encoder_sha256") and the shipped encoder checkpoint exists, refuse a captioner whose
        encoder has been retrained since (its features would mean nothing to it).
    Returns: the Captioner (float32), with attributes ``vocab`` (the WordVocab) and
        ``checkpoint_meta`` (the meta dict saved with it).
    Raises models.checkpoints.CheckpointError (a FileNotFoundError and a ValueError) when the
    file is missing, corrupt, does not fit this code, or was trained with another vocabulary or
    encoder; each message names the command that rebuilds it.
    """
    fname = "load_captioner"
    path = checkpoints.as_path(fname, path, DEFAULT_CHECKPOINT)
    if vocab is None:
        vocab = language.build_vocab()
    elif not isinstance(vocab, language.WordVocab):
        raise ValueError(f"{fname}: vocab must be a shapes_language.WordVocab or None, "
                         f"got {validate.shown(vocab)}")
    checkpoint = checkpoints.read_checkpoint(fname, path, REBUILD_COMMAND, "captioner checkpoint", vocab)
    config = checkpoint["config"]
    try:
        state = dict(checkpoint["state_dict"])
        buffers = {k: state.pop(k) for k in ("feature_mean", "feature_std")}
        params = {k: v.double().numpy() for k, v in state.items()}
        model = Captioner.from_numpy(params, null_id=config["null_id"],
                                     start_id=config["start_id"], end_id=config["end_id"])
        model.load_state_dict({**model.state_dict(), **buffers}, strict=True)
        if model.config() != config:
            raise ValueError(f"config {config} does not match the weights ({model.config()})")
    except (KeyError, ValueError, AttributeError, TypeError) as error:
        raise checkpoints.load_failed(fname, path, REBUILD_COMMAND, "Captioner", error) from None
    wanted = checkpoint["meta"].get("encoder_sha256")
    if check_encoder and wanted and image_encoder.DEFAULT_CHECKPOINT.is_file():
        current = checkpoints.weights_digest(image_encoder.load_checkpoint()["state_dict"])
        if current != wanted:
            raise checkpoints.CheckpointError(
                f"{fname}: {path} was trained on the features of another image encoder (encoder weights "
                f"{wanted[:12]}..., the shipped encoder is {current[:12]}...); "
                + checkpoints.rebuild_hint(REBUILD_COMMAND, path))
    model.vocab = vocab
    model.checkpoint_meta = checkpoint["meta"]
    model.eval()
    return model.to(device)
