"""Training the attention captioner of notebook 07: backpropagation (soft) and REINFORCE (hard).

    train_attention_captioner      Adam on minibatches of (grid, caption) pairs; for hard
                                   attention the REINFORCE estimate below, with a moving-average
                                   baseline and an entropy bonus
    reinforce_surrogate            the per-caption surrogate loss whose gradient is the
                                   REINFORCE estimate (the reference of notebook 07's exercise)
    reinforce_gradient_variance    how noisy the REINFORCE gradient of the attention parameters
                                   is, with and without a baseline, at fixed parameters
    training_data                  grid features, captions and their scene index for a split
    AttentionRecipe                one run's data, sizes and steps, typed; presets CPU_RECIPE,
                                   ACCELERATOR_RECIPE, TINY_RECIPE, CHECKPOINT_RECIPE
    new_captioner                  an untrained captioner of a recipe's sizes
    default_budget                 the recipe of notebook 07's live run on a device

Hard attention (Xu et al. 2015, sec. 4.1). For one caption y with sampled locations
s = (s_1, ..., s_T), s_t ~ alpha_t, the loss is L = -log p(y | s) and the attention is trained
to maximise E_s[log p(y | s)]. Its gradient has two parts (Williams 1992):

    grad = E_s[ grad log p(y | s)  +  (r(s) - b) * grad log p(s) ],   r(s) = log p(y | s)

the first through the words (backpropagation given the locations), the second through the
choice of locations (the score function: locations that made the caption likely become more
probable). Any baseline b that does not depend on s leaves the expectation unchanged and, well
chosen (close to the mean reward), shrinks its variance; here b is a moving average of the
mean reward of past minibatches. An entropy bonus lambda_e * H[alpha_t] keeps the attention
from collapsing onto one location too early. In code the estimate is the gradient of the
surrogate loss

    -log p(y | s) + doubly stochastic term - (r(s) - b) * sum_t log alpha_t[s_t] - lambda_e * sum_t H[alpha_t]

with r(s) - b held constant (detached), averaged over the minibatch. Xu et al. also set, for
half of the images, the sampled location to its expected value (the soft context), so that
the attention also learns by backpropagation: ``expected_fraction`` (0 is pure REINFORCE).
"""
import dataclasses
import math

import numpy as np
import torch

from utils import validate
from utils.course import as_device, scaled_budget
from utils.data import shapes
from utils.data import shapes_language as language
from utils.data.captions import caption_dataset
from utils.models import encoder as image_encoder
from utils.models.attention_captioner import AttentionCaptioner, check_attention_model
from utils.training.minibatches import (as_tensor, caption_lengths, caption_rows, loop_settings,
                                        train_on_captions)


def _data(fname, model, grid, captions, image_index):
    """grid (S, L, D) float32, captions (M, T + 1) long, image_index (M,) long, checked."""
    grid = as_tensor(fname, "grid", grid, torch.float32)
    captions = as_tensor(fname, "captions", captions, torch.long)
    L, D = model.num_locations, model.feature_dim
    if grid.ndim != 3 or tuple(grid.shape[1:]) != (L, D) or len(grid) == 0:
        raise ValueError(f"{fname}: grid must have shape (S, {L}, {D}), got {tuple(grid.shape)}")
    return grid, captions, caption_rows(fname, grid, captions, image_index, model.vocab_size, "grid")


def reinforce_surrogate(log_likelihood, log_alpha, locations, mask, baseline):
    """The per-caption surrogate loss of hard attention: its gradient is the REINFORCE estimate.

    log_likelihood: (N,) float tensor, log p(y_n | s_n) of each caption given its sampled
        locations (differentiable: it trains the words, and it is the reward r_n).
    log_alpha: (N, T, L) float tensor, log alpha_t of every step (differentiable).
    locations: (N, T) int64 tensor, the sampled location s_t of each step, in [0, L).
    mask: (N, T) float tensor, 1 on a caption's real steps, 0 on padding.
    baseline: float b, the same for every caption (it must not depend on the samples).
    Returns: (N,) tensor, -log p(y_n | s_n) - (r_n - b) * sum_t mask_nt log alpha_t[s_t], with
        r_n - b held constant (no gradient flows through the reward into the location term).
    """
    fname = "reinforce_surrogate"
    tensors = {"log_likelihood": (log_likelihood, 1), "log_alpha": (log_alpha, 3),
               "locations": (locations, 2), "mask": (mask, 2)}
    for name, (value, ndim) in tensors.items():
        if not isinstance(value, torch.Tensor) or value.ndim != ndim:
            raise ValueError(f"{fname}: {name} must be a torch tensor with {ndim} axes, "
                             f"got {validate.shown(value)}")
    N, T, L = log_alpha.shape
    for name, value, shape in (("log_likelihood", log_likelihood, (N,)), ("locations", locations, (N, T)),
                               ("mask", mask, (N, T))):
        if tuple(value.shape) != shape:
            raise ValueError(f"{fname}: {name} must have shape {shape} (N, T, L from log_alpha), "
                             f"got {tuple(value.shape)}")
    for name in ("log_likelihood", "log_alpha", "mask"):
        if not torch.isfinite(tensors[name][0]).all():
            raise ValueError(f"{fname}: {name} must hold finite numbers, got {validate.shown(tensors[name][0])}")
    if locations.dtype != torch.long or (N * T and (locations.min() < 0 or locations.max() >= L)):
        raise ValueError(f"{fname}: locations must be int64 in [0, {L}), got {validate.shown(locations)}")
    baseline = validate.finite_number(fname, "baseline", baseline)
    # BEGIN REFERENCE reinforce_surrogate
    chosen = log_alpha.gather(2, locations.unsqueeze(2)).squeeze(2)  # (N, T) log alpha_t[s_t]
    log_p_locations = (chosen * mask).sum(dim=1)                       # (N,) log p(s), real steps only
    advantage = (log_likelihood - baseline).detach()                   # (N,) r - b, held constant
    surrogate = -log_likelihood - advantage * log_p_locations          # (N,)
    # END REFERENCE
    return surrogate


def reinforce_terms(parts, baseline, rows=None):
    """The REINFORCE pieces of a hard-attention minibatch (``model.loss_parts(..., sample=True)``).

    parts: the dict of AttentionCaptioner.loss_parts. baseline: float b (or a (N,) tensor).
    rows: None, or (N,) bool: the captions whose locations were sampled (the others, with the
        expected context, get no score-function term).
    Returns: (score_term, reward (N,), location_log_prob (N,), entropy (N,)): score_term is
        -(1/N) sum_n (r_n - b) * log p(s_n) over the sampled rows, a scalar whose gradient is
        the score-function estimate;
        reward r_n = log p(caption n | s_n) (detached); location_log_prob = sum_t log
        alpha_t[s_t] and entropy = sum_t H[alpha_t], both over the caption's real steps.
    """
    if not isinstance(baseline, torch.Tensor):
        baseline = validate.finite_number("reinforce_terms", "baseline", baseline)
    run, mask = parts["run"], parts["mask"]
    reward = -parts["caption_nll"].detach()                               # (N,)
    location_log_prob = (run.location_log_probs * mask).sum(dim=1)       # (N,)
    entropy = (run.entropies * mask).sum(dim=1)                           # (N,)
    weight = (reward - baseline) if rows is None else (reward - baseline) * rows.to(reward.dtype)
    score_term = -(weight * location_log_prob).mean()
    return score_term, reward, location_log_prob, entropy


def train_attention_captioner(model, grid, captions, *, steps, batch_size, lr, device="cpu", seed=0,
                              doubly_stochastic=0.0, progress=True, image_index=None, clip_norm=5.0,
                              schedule="cosine", entropy_bonus=0.01, baseline_decay=0.9,
                              expected_fraction=0.0, log_every=None, log=print):
    """Train an AttentionCaptioner with Adam (soft / uniform: backpropagation; hard: REINFORCE).

    model: an AttentionCaptioner (trained in place, left in train mode on ``device``).
    grid: (M, L, D) grid features, row m for caption m; or, with image_index, (S, L, D), one row
        per scene. captions: (M, T + 1) int ids: <START> words <END> <NULL>...
    steps: Adam steps; batch_size: captions per step (random, without replacement within an
        epoch); lr: Adam's learning rate; device: where to train.
    seed: seeds the minibatch order and the sampled locations (the weights come from the model).
    doubly_stochastic: lambda >= 0 of the regulariser lambda * sum_i (1 - sum_t alpha_ti)^2.
    progress: a tqdm bar. image_index: optional (M,) ints, the grid row of each caption.
    clip_norm: gradient clipping by global norm (None: none).
    schedule: "constant" or "cosine" (the learning rate decays to 0 over the steps).
    entropy_bonus: lambda_e >= 0, hard attention only (module docstring).
    expected_fraction: in [0, 1], hard only: the share of each minibatch's captions whose
        context is the expectation sum_i alpha_i values_i (trained by backpropagation, no
        score-function term) instead of a sampled location. Xu et al. (sec. 4.1) used 0.5;
        0 is pure REINFORCE.
    baseline_decay: in [0, 1), hard only: b <- decay * b + (1 - decay) * mean reward of the
        minibatch (b starts at the first minibatch's mean reward; decay 0 uses the last one).
    log_every: print "step k | loss ..." every this many steps (None: no lines); log: where to.
    Returns: history dict of per-step lists "step", "loss" (what was minimised), "nll"
        (words' cross-entropy per caption), "regulariser"; for hard attention also "reward"
        (mean log p(y | s) of the captions with sampled locations), "baseline" (b used at that
        step), "entropy" (of alpha, summed over a caption's steps, mean over the captions);
        and "final_nll" (mean nll of the last 5 % of the steps), "seconds", "steps", "device".
        Each minibatch is cut after its longest caption.
    Deterministic on the CPU for a given seed, model and number of threads.
    """
    fname = "train_attention_captioner"
    if not isinstance(model, AttentionCaptioner):
        raise ValueError(f"{fname}: model must be an AttentionCaptioner, got {validate.shown(model)}")
    settings = loop_settings(fname, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                             clip_norm=clip_norm, log_every=log_every, schedule=schedule)
    seed = settings["seed"]
    lam = validate.finite_number(fname, "doubly_stochastic", doubly_stochastic, low=0)
    entropy_bonus = validate.finite_number(fname, "entropy_bonus", entropy_bonus, low=0)
    expected_fraction = validate.finite_number(fname, "expected_fraction", expected_fraction,
                                               low=0, high=1)
    baseline_decay = validate.finite_number(fname, "baseline_decay", baseline_decay, low=0)
    if baseline_decay >= 1:
        raise ValueError(f"{fname}: baseline_decay must be a finite number >= 0 and < 1, "
                         f"got {baseline_decay}")
    grid, captions, image_index = _data(fname, model, grid, captions, image_index)
    device = as_device("train_attention_captioner", device)
    hard = model.attention == "hard"
    lengths = caption_lengths(captions, model.null_id)
    grid, captions = grid.to(device), captions.to(device)
    locations = torch.Generator(device=device).manual_seed(seed + 1)
    baseline = None

    def batch_loss(rows, step):
        nonlocal baseline
        width = max(int(lengths[rows].max()), 1) + 1
        batch = captions[rows.to(device), :width]
        sampled = expected = None
        if hard and expected_fraction > 0:       # Xu et al. 4.1: some rows see the expectation
            expected = torch.rand(len(rows), generator=locations, device=device) < expected_fraction
            sampled = ~expected
        parts = model.loss_parts(grid[image_index[rows].to(device)], batch, lam, sample=hard,
                                 generator=locations if hard else None, expected=expected)
        loss = parts["loss"]
        record = {"nll": parts["nll"].item(), "regulariser": parts["regulariser"].item()}
        if hard:
            rewards = -parts["caption_nll"].detach()
            if sampled is not None:
                rewards = rewards[sampled]
            mean_reward = float(rewards.mean()) if len(rewards) else baseline
            baseline = mean_reward if baseline is None else baseline
            score_term, _, _, entropy = reinforce_terms(parts, baseline, sampled)
            loss = loss + score_term - entropy_bonus * entropy.mean()
            record.update(reward=mean_reward, baseline=baseline, entropy=float(entropy.detach().mean()))
            if mean_reward is not None:
                baseline = baseline_decay * baseline + (1 - baseline_decay) * mean_reward
        return loss, dict(record, loss=loss.item())

    return train_on_captions(model, batch_loss, len(captions), **settings, device=device,
                             progress=progress, log=log, desc=f"training {model.attention} attention",
                             shown=("nll", "regulariser") + (("reward", "entropy") if hard else ()))


def reinforce_gradient_variance(model, grid, captions, samples=100, baseline=True, *,
                                image_index=None, seed=0, baseline_samples=None):
    """The spread of the REINFORCE gradient of the attention parameters at FIXED parameters.

    model: a "hard" AttentionCaptioner (left unchanged: no parameter or .grad is touched).
    grid, captions, image_index: one fixed minibatch, as train_attention_captioner takes them
        (every caption is used, each time).
    samples: how many independent draws of the locations s (>= 2).
    baseline: False (b = 0), True (b = the mean reward over ``baseline_samples`` separate draws,
        what a well-tuned moving average converges to), or a float b.
    seed: seeds the draws. baseline_samples: draws for the baseline (default: samples).
    For each draw the gradient g of the surrogate -(r(s) - b) * log p(s) (averaged over the
    minibatch) with respect to Wa_h, Wa_v and w_a is flattened; the draws are then summarised:
    Returns: dict with "total_variance" (sum over coordinates of the variance of g across
        draws: E|g - E g|^2), "mean_norm" (|mean of g|: the signal), "relative_std"
        (sqrt(total_variance) / mean_norm), "baseline" (the b used), "reward_mean" and
        "reward_std" (of the minibatch-mean reward over the draws), "samples".
    """
    fname = "reinforce_gradient_variance"
    check_attention_model(fname, model)
    if model.attention != "hard":
        raise ValueError(f"{fname}: model must use hard attention (REINFORCE), got attention "
                         f"{model.attention!r}")
    samples = validate.int_in_range(fname, "samples", samples, 2)
    seed = validate.int_in_range(fname, "seed", seed, 0)
    if baseline_samples is None:
        baseline_samples = samples
    baseline_samples = validate.positive_int(fname, "baseline_samples", baseline_samples)
    if not isinstance(baseline, bool):
        baseline = validate.finite_number(fname, "baseline", baseline)
    grid, captions, image_index = _data(fname, model, grid, captions, image_index)
    p = model.W_embed
    grid = grid[image_index].to(device=p.device, dtype=p.dtype)
    captions = captions.to(p.device)
    params = [param for _, param in model.attention_parameters()]
    seed = validate.seed("reinforce_gradient_variance", seed)
    generator = torch.Generator(device=p.device).manual_seed(seed)
    was_training = model.training
    model.eval()                      # no dropout; the locations are sampled explicitly below
    try:
        if baseline is True:
            with torch.no_grad():
                rewards = [float(-model.loss_parts(grid, captions, sample=True,
                                                   generator=generator)["caption_nll"].mean())
                           for _ in range(baseline_samples)]
            b = float(np.mean(rewards))
        else:
            b = 0.0 if baseline is False else baseline
        grads, rewards = [], []
        for _ in range(samples):
            parts = model.loss_parts(grid, captions, sample=True, generator=generator)
            score_term, reward, _, _ = reinforce_terms(parts, b)
            found = torch.autograd.grad(score_term, params)
            grads.append(torch.cat([g.reshape(-1) for g in found]).double().cpu().numpy())
            rewards.append(float(reward.mean()))
    finally:
        model.train(was_training)
    g = np.stack(grads)                                  # (samples, P)
    total_variance = float(g.var(axis=0, ddof=1).sum())
    mean_norm = float(np.linalg.norm(g.mean(axis=0)))
    return {"total_variance": total_variance, "mean_norm": mean_norm,
            "relative_std": math.sqrt(total_variance) / mean_norm if mean_norm > 0 else math.inf,
            "baseline": b, "reward_mean": float(np.mean(rewards)),
            "reward_std": float(np.std(rewards, ddof=1)), "samples": samples}


def training_data(count, captions_per_scene=5, split="train", vocab=None):
    """What train_attention_captioner takes, for scenes 0..count-1 of a split.

    count: number of scenes (>= 1). captions_per_scene: K captions per scene.
    split: one of shapes.SPLITS. vocab: a WordVocab (default build_vocab()).
    Returns: grid (count, L, D) float32 tensor (the shipped encoder's grid features, cached),
        captions (count * K, T + 1) int64 numpy array, image_index (count * K,) int64 numpy
        array (the grid row of each caption).
    """
    fname = "training_data"
    count = validate.positive_int(fname, "count", count)
    validate.one_of(fname, "split", split, shapes.SPLITS)
    captions_per_scene = validate.positive_int(fname, "captions_per_scene", captions_per_scene)
    vocab = language.build_vocab() if vocab is None else vocab
    image_index, captions = caption_dataset(split, count, vocab, captions_per_scene)
    return image_encoder.cached_features(split, count)[1], captions, image_index


@dataclasses.dataclass(frozen=True)
class AttentionRecipe:
    """One training run of the attention captioners: data, sizes, the soft run, then REINFORCE
    for hard attention (notebook 07, and ``python -m utils.tools.train_attention``)."""
    train_scenes: int = 1000          # the first train-split scenes
    captions_per_scene: int = 5
    wordvec_dim: int = 32
    hidden_dim: int = 128
    attention_dim: int = 128
    query: str = "hidden_word"        # what asks the grid: models.attention_captioner.QUERIES
    steps: int = 300                  # soft (and uniform) attention
    batch_size: int = 32
    lr: float = 4e-3
    schedule: str = "cosine"
    doubly_stochastic: float = 0.0    # lambda of the regulariser, soft and uniform training
    hard_steps: int = 100             # REINFORCE
    hard_lr: float = 1e-3
    hard_warm_start: bool = True      # hard attention starts from the trained soft model's weights
    entropy_bonus: float = 0.01
    baseline_decay: float = 0.9
    expected_fraction: float = 0.0    # share of captions given the expected context (0: pure REINFORCE)


# Notebook 07's live run: well under a minute on a 2-core CPU.
CPU_RECIPE = AttentionRecipe()
ACCELERATOR_RECIPE = AttentionRecipe(train_scenes=4000, steps=1500, batch_size=64, lr=3e-3, hard_steps=500)
TINY_RECIPE = dataclasses.replace(CPU_RECIPE, train_scenes=200, steps=2, hard_steps=2)
# The shipped checkpoints; changing a number here changes them: rerun the command.
CHECKPOINT_RECIPE = AttentionRecipe(train_scenes=4000, steps=3000, batch_size=64, lr=3e-3, hard_steps=1500)


def new_captioner(recipe, vocab_size, attention="soft", gate=True, seed=0):
    """An untrained AttentionCaptioner of the recipe's sizes over the shipped encoder's grid
    (L = 64 locations of D = 64 features), with weights from ``seed``."""
    return AttentionCaptioner(vocab_size, image_encoder.GRID_CHANNELS, num_locations=image_encoder.NUM_LOCATIONS,
                              wordvec_dim=recipe.wordvec_dim, hidden_dim=recipe.hidden_dim,
                              attention_dim=recipe.attention_dim, attention=attention, query=recipe.query,
                              gate=gate, seed=seed)


def default_budget(device):
    """Notebook 07's live run for a device: CPU_RECIPE, ACCELERATOR_RECIPE or, under
    COURSE_BUDGET=tiny, TINY_RECIPE (an ``AttentionRecipe``; utils.course.scaled_budget)."""
    return scaled_budget(device, cpu=CPU_RECIPE, accelerator=ACCELERATOR_RECIPE,
                         tiny=TINY_RECIPE, fname="default_budget")
