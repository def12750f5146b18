"""The encoder's grid of locations, as the attention models of notebooks 07 and 08 read it.

The encoder (``utils.models.encoder``) turns each image into a G x G grid of feature vectors,
one per cell of CELL_PIXELS x CELL_PIXELS pixels: L = G * G locations, location l = row * G + col.

    GRID_SIDE, CELL_PIXELS    G = 8 cells a side, each 8 pixels wide
    POSITION_CHANNELS         the coordinates (x, y) each location's value gains: 2
    location_coordinates      (L, 2) the cell centres, in [-1, 1]
    with_coordinates          (N, L, D) features -> (N, L, D + 2), each location followed by its (x, y)
    box_cells                 (..., L) the cells whose centre lies inside a pixel box
    attend                    soft attention with precomputed keys (the captioner's step)
    attention_step_torch      one soft-attention step in torch (notebook 07, utils.layers.attention)
    attention_hop_torch       one question-guided attention hop in torch (notebook 08, utils.layers.vqa)

Positions. A convolution's features say what is in a cell, not where the cell is, and an
attention's context is an average of them: it would lose the position of what was attended,
which the captions and questions of this world need ("left of", lists ordered left to right).
The attention models therefore give every location the (x, y) coordinates of its cell centre,
scaled to [-1, 1] (CoordConv, Liu et al. 2018): appended to its D features (notebook 07's
captioner with positions=True, Visual7W) or projected and added (stacked attention). A model
then sees where it looks.
"""
import math

import torch

from utils import validate

GRID_SIDE = 8            # the encoder's grid is 8 x 8 cells of 8 x 8 pixels
CELL_PIXELS = 8
POSITION_CHANNELS = 2
ATTENTION_PARAMS = ("Wa_h", "Wa_v", "w_a")  # attention_step_torch's parameters


def location_coordinates(num_locations, dtype=torch.float32):
    """(L, 2) coordinates (x, y) of the cell centres of a square grid, in [-1, 1].

    Location l = row * G + col (row-major, G = sqrt(L)): x grows to the right, y downwards.
    """
    G = int(round(math.sqrt(num_locations)))
    if G * G != num_locations:
        raise ValueError(f"location_coordinates: num_locations must be a square number (a G x G "
                         f"grid), got {num_locations}")
    centre = (torch.arange(G, dtype=dtype) + 0.5) / G * 2 - 1   # (G,)  # device: a buffer of the models
    y, x = torch.meshgrid(centre, centre, indexing="ij")          # (G, G) each
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)    # (L, 2)


def with_coordinates(grid, coordinates):
    """(N, L, D) -> (N, L, D + 2): each location's features followed by its (x, y)."""
    return torch.cat([grid, coordinates.expand(len(grid), -1, -1)], dim=2)



def box_cells(boxes):
    """(..., L) float mask of the grid cells whose centre lies inside each box (..., 4).

    boxes: float tensor (..., 4) of pixel corners x0, y0, x1, y1 (any leading axes, even empty).
    """
    if not isinstance(boxes, torch.Tensor) or boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"box_cells: boxes must be a tensor of shape (..., 4), got {validate.shown(boxes)}")
    validate.finite_numbers("box_cells", "boxes", boxes)
    centre = torch.arange(GRID_SIDE, dtype=torch.float32, device=boxes.device) * CELL_PIXELS \
        + CELL_PIXELS / 2                                                  # (G,)
    x0, y0, x1, y1 = boxes.unbind(-1)
    inside_x = (centre >= x0[..., None]) & (centre < x1[..., None])        # (..., G) columns
    inside_y = (centre >= y0[..., None]) & (centre < y1[..., None])        # (..., G) rows
    return (inside_y[..., :, None] & inside_x[..., None, :]).flatten(-2).float()   # (..., L)



def attend(h_prev, values, keys, Wa_h, w_a):
    """Soft attention with the keys values @ Wa_v precomputed: (context (N, D'), alpha (N, L)).

    h_prev: (N, Q) the query; values: (N, L, D'); keys: (N, L, A); Wa_h (Q, A), w_a (A,): the
    attention step of the captioner of notebook 07 (attention_step_torch computes the keys too).
    """
    u = torch.tanh(keys + (h_prev @ Wa_h).unsqueeze(1))        # (N, L, A)
    alpha = torch.softmax(u @ w_a, dim=1)                       # (N, L) over the locations
    context = torch.bmm(alpha.unsqueeze(1), values).squeeze(1)  # (N, D') weighted average
    return context, alpha


def attention_step_torch(h_prev, grid, params):
    """One soft-attention step in torch, the equations of utils.layers.attention.

    h_prev: (N, H) tensor, the decoder's previous hidden state.
    grid: (N, L, D) tensor, the features of each location.
    params: dict with tensors Wa_h (H, A), Wa_v (D, A) and w_a (A,).
    Returns: context (N, D) = sum_i alpha_i grid_i, and alpha (N, L) = softmax over the
        locations of w_a . tanh(grid_i @ Wa_v + h_prev @ Wa_h). Differentiable.
    """
    fname = "attention_step_torch"
    if not isinstance(params, dict) or any(k not in params for k in ATTENTION_PARAMS):
        raise ValueError(f"{fname}: params must be a dict with {list(ATTENTION_PARAMS)}, "
                         f"got {validate.shown(params)}")
    tensors = {"h_prev": h_prev, "grid": grid, **{k: params[k] for k in ATTENTION_PARAMS}}
    for name, value in tensors.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ValueError(f"{fname}: {name} must be a float torch tensor, got {validate.shown(value)}")
    if grid.ndim != 3 or h_prev.ndim != 2 or h_prev.shape[0] != grid.shape[0]:
        raise ValueError(f"{fname}: h_prev must have shape (N, H) and grid (N, L, D) with the "
                         f"same N, got {tuple(h_prev.shape)} and {tuple(grid.shape)}")
    D, H = grid.shape[2], h_prev.shape[1]
    A = params["w_a"].shape[0] if params["w_a"].ndim == 1 else -1
    for name, shape in (("Wa_h", (H, A)), ("Wa_v", (D, A)), ("w_a", (A,))):
        if tuple(params[name].shape) != shape or A < 1:
            raise ValueError(f"{fname}: params[{name!r}] must have shape "
                             f"{shape if A >= 1 else '(A,)'} (H={H}, D={D}, A={A}), "
                             f"got {tuple(params[name].shape)}")
    u = torch.tanh(grid @ params["Wa_v"] + (h_prev @ params["Wa_h"]).unsqueeze(1))  # (N, L, A)
    alpha = torch.softmax(u @ params["w_a"], dim=1)                                # (N, L)
    context = (alpha.unsqueeze(2) * grid).sum(dim=1)                              # (N, D)
    return context, alpha


def attention_hop_torch(u, V, params):
    """One question-guided attention hop (Yang et al. 2016) in torch.

    u: (N, d) the query; V: (N, L, d) the location features; params: dict of tensors
    W_I (d, K), W_Q (d, K), b_A (K,), w_P (K,).
    Returns: u_next (N, d) = u + sum_i p_i V_i, p (N, L) = softmax over the locations of
    w_P . tanh(V_i @ W_I + u @ W_Q + b_A). Differentiable.
    """
    fname = "attention_hop_torch"
    names = ("W_I", "W_Q", "b_A", "w_P")
    if not isinstance(params, dict) or any(k not in params for k in names):
        raise ValueError(f"{fname}: params must be a dict with {list(names)}, got {validate.shown(params)}")
    for name, value in {"u": u, "V": V, **{k: params[k] for k in names}}.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ValueError(f"{fname}: {name} must be a float torch tensor, got {validate.shown(value)}")
    if V.ndim != 3 or u.ndim != 2 or u.shape != (V.shape[0], V.shape[2]):
        raise ValueError(f"{fname}: u must have shape (N, d) and V (N, L, d) with the same N and d, "
                         f"got {tuple(u.shape)} and {tuple(V.shape)}")
    h = torch.tanh(V @ params["W_I"] + (u @ params["W_Q"] + params["b_A"]).unsqueeze(1))   # (N, L, K)
    p = torch.softmax(h @ params["w_P"], dim=1)                                          # (N, L)
    return u + torch.bmm(p.unsqueeze(1), V).squeeze(1), p
