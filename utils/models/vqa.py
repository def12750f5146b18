"""The visual question answering models of notebook 08 (torch).

An image and a question in, an answer out. The image goes through the course's frozen CNN
(``utils.models.encoder``): its summary vector v (N, P) or its grid of features (N, L, D). The
question goes through an LSTM over word embeddings; its last hidden state is q (N, H).

    QuestionEncoder          word embeddings + LSTM -> q, the state after the last word
    PriorBaseline            the most frequent training answer of each question type
    QuestionOnly, ImageOnly  a classifier that sees only q (the language prior) or only v
    normalise_image          the summary vector l2-normalised (times sqrt(P)), as every model reads it
    FusionClassifier         v and q fused by concatenation [v, q] or by an elementwise product
                             tanh(v W_v + b_v) * tanh(q W_q + b_q) (Antol et al. 2015), then
                             fully connected layers over the A answers (``num_answers`` of
                             every classifier, by default NUM_ANSWERS, the shapes world's 42)
    StackedAttention         question-guided attention over the grid, 1 or more hops (Yang et
                             al. 2016): u_0 = q; each hop p = softmax_i(w_P . tanh(V_i W_I +
                             u W_Q + b_A)), u <- u + sum_i p_i V_i; then the classifier on u
    Visual7W                 multiple choice (Zhu et al. 2016): the image vector mapped by W_i
                             is the LSTM's first input, then the words mapped by W_w; at every
                             step the LSTM attends over the grid; candidate k is scored by
                             a_k . (h_T + v W_o), a_k the candidate's embedding
    AttentionHop, relative_offsets   one hop's parameters; where the previous hop looked
    build_model, MODEL_KINDS, is_multiple_choice   a model of each kind

Batches, checkpoints and one typed question are in ``utils.models.vqa_io``, the grid's
coordinates, boxes and one attention hop in torch (``attention_hop_torch``) in
``utils.models.grid``. Every model takes one batch dict (``vqa_io.batch_tensors``) and returns a dict: "scores" (N, A) over
the answer vocabulary (Visual7W: (N, 4) over the candidates) and "attention" (N, hops, L) or
(N, T+1, L) for Visual7W, or None. Shapes: N questions, T words, L = 64 grid locations, D
features per location (plus 2 coordinates: each location's (x, y) in [-1, 1], CoordConv, as
in notebook 07), P = 256 summary size, H hidden units, K hidden units of an attention layer.
"""
import math

import numpy as np
import torch
from torch import nn

from utils.course import seeded
from utils import validate
from utils.data import shapes_language as language
from utils.data import shapes_questions
from utils.data.vqa import answer_word_ids
from utils.models.grid import box_cells, location_coordinates, with_coordinates

MODEL_KINDS = ("question_only", "image_only", "concat", "product", "san1", "san2", "visual7w")
NUM_ANSWERS = len(shapes_questions.answer_vocab())


class QuestionEncoder(nn.Module):
    """Word embeddings (V, W) and an LSTM (W -> H); returns the hidden state after the last
    word of each question, (N, H) (padding after it is never read)."""

    def __init__(self, vocab_size, wordvec_dim, hidden_dim):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, wordvec_dim, padding_idx=0)
        self.lstm = nn.LSTM(wordvec_dim, hidden_dim, batch_first=True)

    def forward(self, question, lengths):
        states, _ = self.lstm(self.embed(question))                        # (N, T, H)
        last = (lengths - 1).clamp(min=0)
        return states[torch.arange(len(question), device=question.device), last]   # (N, H)


def normalise_image(v):
    """The summary vector l2-normalised (Antol et al.'s "norm I"), scaled by sqrt(P) so that its
    entries have a root mean square of 1: (N, P) -> (N, P). The encoder's raw summary entries
    reach 20, enough to saturate a tanh before any training."""
    if not isinstance(v, torch.Tensor) or v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"normalise_image: v must be a non-empty (N, P) tensor, got {validate.shown(v)}")
    validate.finite_numbers("normalise_image", "v", v)
    return v * math.sqrt(v.shape[-1]) / v.norm(dim=-1, keepdim=True).clamp(min=1e-6)


def _mlp(inputs, hidden, outputs, dropout=0.0):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, outputs))


# ------------------------------------------------------------------------------ models
class VQAModel(nn.Module):
    """What every model shares: its config, the question encoder, the count of parameters."""

    kind = None

    def __init__(self, vocab_size, summary_dim, feature_dim, wordvec_dim, hidden_dim, seed, num_answers=None):
        super().__init__()
        fname = type(self).__name__
        self.vocab_size = validate.positive_int(fname, "vocab_size", vocab_size)
        self.summary_dim = validate.positive_int(fname, "summary_dim", summary_dim)
        self.feature_dim = validate.positive_int(fname, "feature_dim", feature_dim)
        self.wordvec_dim = validate.positive_int(fname, "wordvec_dim", wordvec_dim)
        self.hidden_dim = validate.positive_int(fname, "hidden_dim", hidden_dim)
        self.seed = validate.int_in_range(fname, "seed", seed, 0)  # build_model seeds the weights with it
        # A: the classifiers' output size (None: a model that scores candidates instead)
        self.num_answers = None if num_answers is None else validate.positive_int(fname, "num_answers", num_answers)

    def config(self):
        return {"kind": self.kind, "vocab_size": self.vocab_size, "summary_dim": self.summary_dim,
                "feature_dim": self.feature_dim, "wordvec_dim": self.wordvec_dim,
                "hidden_dim": self.hidden_dim, "seed": self.seed,
                **({} if self.num_answers is None else {"num_answers": self.num_answers}), **self._extra_config()}

    def _extra_config(self):
        return {}

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())


class QuestionOnly(VQAModel):
    """The language prior: an MLP on the question vector q alone."""

    kind = "question_only"

    def __init__(self, vocab_size, summary_dim=256, feature_dim=64, wordvec_dim=32, hidden_dim=128,
                 seed=0, num_answers=NUM_ANSWERS):
        super().__init__(vocab_size, summary_dim, feature_dim, wordvec_dim, hidden_dim, seed, num_answers)
        self.question = QuestionEncoder(vocab_size, wordvec_dim, hidden_dim)
        self.classifier = _mlp(hidden_dim, hidden_dim, self.num_answers)

    def forward(self, batch):
        q = self.question(batch["question"], batch["lengths"])             # (N, H)
        return {"scores": self.classifier(q), "attention": None}


class ImageOnly(VQAModel):
    """An MLP on the image's summary vector alone (it never reads the question)."""

    kind = "image_only"

    def __init__(self, vocab_size, summary_dim=256, feature_dim=64, wordvec_dim=32, hidden_dim=128,
                 seed=0, num_answers=NUM_ANSWERS):
        super().__init__(vocab_size, summary_dim, feature_dim, wordvec_dim, hidden_dim, seed, num_answers)
        self.classifier = _mlp(summary_dim, hidden_dim, self.num_answers)

    def forward(self, batch):
        return {"scores": self.classifier(normalise_image(batch["summary"])), "attention": None}


class FusionClassifier(VQAModel):
    """Summary vector v and question vector q, fused, then an MLP over the answers.

    fusion "concat": f = [v, q]                                        (N, P + H)
    fusion "product": f = tanh(v @ W_v + b_v) * tanh(q @ W_q + b_q)   (N, E) (Antol et al. 2015)
    fused_dim: E (product only).
    """

    kind = "fusion"

    def __init__(self, vocab_size, fusion="concat", summary_dim=256, feature_dim=64, wordvec_dim=32,
                 hidden_dim=128, fused_dim=128, seed=0, num_answers=NUM_ANSWERS):
        super().__init__(vocab_size, summary_dim, feature_dim, wordvec_dim, hidden_dim, seed, num_answers)
        self.fusion = validate.one_of("FusionClassifier", "fusion", fusion, ("concat", "product"))
        self.kind = fusion
        self.fused_dim = validate.positive_int("FusionClassifier", "fused_dim", fused_dim)
        self.question = QuestionEncoder(vocab_size, wordvec_dim, hidden_dim)
        if fusion == "product":
            self.project_image = nn.Linear(summary_dim, fused_dim)        # W_v, b_v
            self.project_question = nn.Linear(hidden_dim, fused_dim)      # W_q, b_q
            width = fused_dim
        else:
            width = summary_dim + hidden_dim
        self.classifier = _mlp(width, hidden_dim, self.num_answers)

    def _extra_config(self):
        return {"fusion": self.fusion, "fused_dim": self.fused_dim}

    def fuse(self, v, q):
        """f from the raw summary v (N, P) (normalised here) and q (N, H)."""
        v = normalise_image(v)
        if self.fusion == "product":
            return torch.tanh(self.project_image(v)) * torch.tanh(self.project_question(q))
        return torch.cat([v, q], dim=1)

    def forward(self, batch):
        q = self.question(batch["question"], batch["lengths"])             # (N, H)
        return {"scores": self.classifier(self.fuse(batch["summary"], q)), "attention": None}


class AttentionHop(nn.Module):
    """The parameters of one hop: W_I (d, K), W_Q (d, K), b_A (K,), w_P (K,); with relative=True
    also W_R (3, K): each location's offset (dx, dy) from where the previous hop looked, and
    its distance, join the scores: h_i = tanh(V_i W_I + r_i W_R + u W_Q + b_A)."""

    def __init__(self, dim, attention_dim, relative=False, relative_scale=2.0):
        super().__init__()
        self.W_I = nn.Parameter(torch.randn(dim, attention_dim) / math.sqrt(dim))
        self.W_Q = nn.Parameter(torch.randn(dim, attention_dim) / math.sqrt(dim))
        self.b_A = nn.Parameter(torch.zeros(attention_dim))
        self.w_P = nn.Parameter(torch.randn(attention_dim) / math.sqrt(attention_dim))
        if relative:
            self.W_R = nn.Parameter(torch.randn(3, attention_dim) * relative_scale)

    def forward(self, u, V, offsets=None):
        keys = V @ self.W_I                                                     # (N, L, K)
        if offsets is not None:
            keys = keys + offsets @ self.W_R
        h = torch.tanh(keys + (u @ self.W_Q + self.b_A).unsqueeze(1))           # (N, L, K)
        p = torch.softmax(h @ self.w_P, dim=1)                                  # (N, L)
        return u + torch.bmm(p.unsqueeze(1), V).squeeze(1), p


def relative_offsets(p, coordinates):
    """(N, L, 3): for each location, (dx, dy) from the centre of mass of the attention p (N, L)
    over the locations' coordinates (L, 2), and the distance sqrt(dx^2 + dy^2)."""
    centre = p @ coordinates                                                   # (N, 2)
    delta = coordinates.unsqueeze(0) - centre.unsqueeze(1)                     # (N, L, 2)
    return torch.cat([delta, delta.pow(2).sum(-1, keepdim=True).add(1e-6).sqrt()], dim=2)


class StackedAttention(VQAModel):
    """Stacked attention (Yang et al. 2016) on the grid, guided by the question.

    The grid becomes V = tanh(grid @ W_g + xy @ W_xy + b_g) (N, L, H), in the question's space,
    xy the location's coordinates (their weights start large, std ``position_scale``, so that
    where a location is weighs as much as what it holds); u_0 = q; each of ``hops`` hops
    refines u (``AttentionHop``). The answer: an MLP on u_hops (with_summary=True: on
    [u_hops, v], the summary vector joining).

    relative=True (not in Yang et al.): from the second hop on, each location's score also
    sees its offset from where the previous hop looked (``relative_offsets``), so "the object
    closest to the red object" is a function of the scores (without it, an additive score
    cannot compare the distance of two locations).
    """

    kind = "san"

    def __init__(self, vocab_size, hops=2, summary_dim=256, feature_dim=64, wordvec_dim=32,
                 hidden_dim=128, attention_dim=64, with_summary=False, num_locations=64, position_scale=2.0,
                 relative=True, seed=0, num_answers=NUM_ANSWERS):
        super().__init__(vocab_size, summary_dim, feature_dim, wordvec_dim, hidden_dim, seed, num_answers)
        self.hops = validate.positive_int("StackedAttention", "hops", hops, maximum=4)
        self.kind = f"san{self.hops}"
        self.attention_dim = validate.positive_int("StackedAttention", "attention_dim", attention_dim)
        self.with_summary = bool(with_summary)
        self.position_scale = validate.finite_number("StackedAttention", "position_scale", position_scale, low=0)
        self.num_locations = validate.positive_int("StackedAttention", "num_locations", num_locations)
        self.question = QuestionEncoder(vocab_size, wordvec_dim, hidden_dim)
        self.project_grid = nn.Linear(feature_dim, hidden_dim)
        self.project_position = nn.Linear(2, hidden_dim, bias=False)
        nn.init.normal_(self.project_position.weight, std=position_scale)
        self.relative = bool(relative)
        self.hop_layers = nn.ModuleList(AttentionHop(hidden_dim, attention_dim, relative=relative and k > 0)
                                        for k in range(self.hops))
        self.classifier = _mlp(hidden_dim + (summary_dim if with_summary else 0), hidden_dim, self.num_answers)
        self.register_buffer("coordinates", location_coordinates(num_locations), persistent=False)

    def _extra_config(self):
        return {"hops": self.hops, "attention_dim": self.attention_dim,
                "with_summary": self.with_summary, "num_locations": self.num_locations,
                "position_scale": self.position_scale, "relative": self.relative}

    def forward(self, batch):
        u = self.question(batch["question"], batch["lengths"])                            # (N, H)
        V = torch.tanh(self.project_grid(batch["grid"]) + self.project_position(self.coordinates))  # (N, L, H)
        maps = []
        for k, hop in enumerate(self.hop_layers):
            offsets = relative_offsets(maps[-1], self.coordinates) if self.relative and k else None
            u, p = hop(u, V, offsets)
            maps.append(p)
        features = torch.cat([u, normalise_image(batch["summary"])], dim=1) if self.with_summary else u
        return {"scores": self.classifier(features), "attention": torch.stack(maps, dim=1)}


class Visual7W(VQAModel):
    """Multiple choice with an attention LSTM (Zhu et al. 2016), four candidates per question.

    Inputs of the LSTM: x_0 = v @ W_i (the summary vector), then x_t = W_embed[w_t] @ W_w for
    the question's words, all of size W. Before each step the LSTM attends over the grid with
    its previous state (additive attention, as notebook 07): z_t = sum_i alpha_ti values_i,
    and reads [x_t, z_t]. After the last word, h_T.
    Candidates: an answer's embedding is the mean of its words' embeddings (so "red circle" is
    embedded from "red" and "circle", also for pairs never seen as answers), mapped by W_a; a
    pointing candidate in the scene is a box: the mean of the grid values of the cells inside
    it, mapped by W_b (a candidate object not in the scene: an empty box, zeros).
    Score of candidate k: a_k . (h_T + v @ W_o) / sqrt(H) (the scale keeps the first scores
    near zero, as a softmax likes them).
    """

    kind = "visual7w"

    def __init__(self, vocab_size, summary_dim=256, feature_dim=64, wordvec_dim=32, hidden_dim=128,
                 attention_dim=64, num_locations=64, seed=0):
        super().__init__(vocab_size, summary_dim, feature_dim, wordvec_dim, hidden_dim, seed)
        self.attention_dim = validate.positive_int("Visual7W", "attention_dim", attention_dim)
        self.num_locations = validate.positive_int("Visual7W", "num_locations", num_locations)
        W, H, A, Dv = wordvec_dim, hidden_dim, attention_dim, feature_dim + 2
        self.embed = nn.Embedding(vocab_size, W, padding_idx=0)
        self.W_i = nn.Linear(summary_dim, W)
        self.W_w = nn.Linear(W, W)
        self.cell = nn.LSTMCell(W + Dv, H)
        self.Wa_h = nn.Linear(H, A)
        self.Wa_v = nn.Linear(Dv, A, bias=False)
        self.w_a = nn.Linear(A, 1, bias=False)
        self.W_a = nn.Linear(W, H)
        self.W_b = nn.Linear(Dv, H)
        self.W_o = nn.Linear(summary_dim, H, bias=False)
        self.register_buffer("coordinates", location_coordinates(num_locations), persistent=False)
        self.register_buffer("answer_words", torch.from_numpy(answer_word_ids(language.build_vocab())),
                             persistent=False)

    def _extra_config(self):
        return {"attention_dim": self.attention_dim, "num_locations": self.num_locations}

    def candidate_embeddings(self, batch, values):
        """(N, 4, H): text candidates from their words, pointing candidates from their boxes."""
        words = self.answer_words[batch["candidates"]]                        # (N, 4, 2)
        mask = (words != 0).float().unsqueeze(-1)                              # (N, 4, 2, 1)
        text = (self.embed(words) * mask).sum(2) / mask.sum(2).clamp(min=1)     # (N, 4, W)
        text = self.W_a(text)                                                  # (N, 4, H)
        cells = box_cells(batch["candidate_boxes"])                            # (N, 4, L)
        pooled = cells @ values / cells.sum(-1, keepdim=True).clamp(min=1)     # (N, 4, D')
        boxes = self.W_b(pooled)                                               # (N, 4, H)
        pointing = (batch["qtype"] == shapes_questions.QUESTION_TYPES.index("pointing")).view(-1, 1, 1)
        return torch.where(pointing, boxes, text)

    def read(self, batch):
        """The model up to its scores: "states" (N, T+1, H), the LSTM's state after the image
        (index 0) and after each word t (index t; past a question's length it has read padding),
        "answers" (N, 4, H) the candidates' embeddings a_k, "image" (N, H) the term v @ W_o,
        "attention" (N, T+1, L). ``multiple_choice_loss`` (utils.layers.vqa) is the rest."""
        values = with_coordinates(batch["grid"], self.coordinates)            # (N, L, D')
        keys = self.Wa_v(values)                                               # (N, L, A)
        question = batch["question"]
        N, T = question.shape
        image = normalise_image(batch["summary"])                              # (N, P)
        inputs = [self.W_i(image)]                                             # x_0 (N, W)
        words = self.W_w(self.embed(question))                                 # (N, T, W)
        inputs += list(words.unbind(1))
        h = values.new_zeros(N, self.hidden_dim)
        c = values.new_zeros(N, self.hidden_dim)
        states, maps = [], []
        for x in inputs:
            e = self.w_a(torch.tanh(keys + self.Wa_h(h).unsqueeze(1))).squeeze(-1)   # (N, L)
            alpha = torch.softmax(e, dim=1)
            z = torch.bmm(alpha.unsqueeze(1), values).squeeze(1)               # (N, D')
            h, c = self.cell(torch.cat([x, z], dim=1), (h, c))
            states.append(h)
            maps.append(alpha)
        return {"states": torch.stack(states, dim=1), "answers": self.candidate_embeddings(batch, values),
                "image": self.W_o(image), "attention": torch.stack(maps, dim=1)}

    def forward(self, batch):
        out = self.read(batch)
        rows = torch.arange(len(out["states"]), device=out["states"].device)
        last = out["states"][rows, batch["lengths"]]                           # (N, H): step t read word t
        final = last + out["image"]                                            # (N, H)
        scores = torch.einsum("nkh,nh->nk", out["answers"], final) / math.sqrt(self.hidden_dim)   # (N, 4)
        return {"scores": scores, "attention": out["attention"]}


# ------------------------------------------------------------------------------ building
def build_model(kind, vocab_size, **sizes):
    """A model of MODEL_KINDS with the given sizes (keyword arguments of its class)."""
    validate.one_of("build_model", "kind", kind, MODEL_KINDS)
    with seeded(validate.int_in_range("build_model", "seed", sizes.get("seed", 0), 0)):
        if kind == "question_only":
            return QuestionOnly(vocab_size, **sizes)
        if kind == "image_only":
            return ImageOnly(vocab_size, **sizes)
        if kind in ("concat", "product"):
            return FusionClassifier(vocab_size, fusion=kind, **sizes)
        if kind in ("san1", "san2"):
            return StackedAttention(vocab_size, hops=int(kind[-1]), **sizes)
        return Visual7W(vocab_size, **sizes)


def is_multiple_choice(model):
    return getattr(model, "kind", None) == "visual7w"


class PriorBaseline:
    """The most frequent training answer of each question type (ties: the first in
    answer_vocab order). ``fit(qtype, answer)`` with (M,) int arrays; ``predict(qtype)``."""

    kind = "prior"

    def fit(self, qtype, answer):
        self.table = np.zeros(len(shapes_questions.QUESTION_TYPES), dtype=np.int64)
        for t in range(len(shapes_questions.QUESTION_TYPES)):
            counts = np.bincount(answer[qtype == t], minlength=NUM_ANSWERS)
            self.table[t] = int(np.argmax(counts))
        return self

    def predict(self, qtype):
        return self.table[np.asarray(qtype)]
