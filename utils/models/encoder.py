"""The course's pretrained image encoder: a small CNN standing in for an ImageNet-pretrained VGG.

Notebooks 06-08 never train it: they load the shipped checkpoint (``load_encoder``), freeze it
and read two things from each 64x64 image of the shapes world:

    grid_features(images) -> (N, L, D)   a spatial grid, L = 8 x 8 = 64 locations (notebook 07, 08)
    summary(images)       -> (N, P)      one fc7-style summary vector per image (notebook 06, 08)

Architecture (shapes in the comments: N images, D grid channels, P summary size; BN = batch norm):

    image (N, 3, 64, 64) in [0, 1]
      shape stream, on the object mask (N, 1, 64, 64) (1 where a pixel is not background):
        conv3x3 stride 2 (1->16) BN ReLU                  -> (N, 16, 32, 32)
        conv3x3 (16->32) BN ReLU maxpool2                 -> (N, 32, 16, 16)
        conv3x3 (32->64) BN ReLU maxpool2                 -> (N, 64, 8, 8)
        conv3x3 (64->D-16) BN ReLU                        -> (N, D-16, 8, 8)
      colour stream, on every other pixel (N, 3, 32, 32):
        conv1x1 (3->16) BN ReLU, conv1x1 (16->16) BN ReLU, avgpool4 -> (N, 16, 8, 8)
        conv3x3 (16->16) BN ReLU                          -> (N, 16, 8, 8)
      grid = concatenation                                -> (N, D, 8, 8): location l = row * 8 + col
                                                             stands for the 8x8-pixel cell l
      conv1x1 (D->16) ReLU, flatten (N, 16 * 64), linear, ReLU -> (N, P): the summary vector ("fc7")

The shape stream never sees colour and the colour stream never sees shape, so the grid holds
colour and shape apart: the heldout split of the shapes world pairs them in ways pretraining
never showed.

Like VGG's fc7 (and unlike its softmax output) the summary vector is not a class score: it is the
layer before the classifiers. Two auxiliary heads exist only for pretraining
(``utils.tools.pretrain_encoder``), and they are what makes both outputs informative. Both
predict, for each of the 64 cells, the object whose centre lies in the cell
(``utils.data.shapes.grid_labels``), factored into colour (none or one of 6), shape (none or one
of 3) and size (none or one of 2): 7 + 4 + 3 = 14 logits per cell:

    grid_head:    a 1x1 convolution on the grid,        (N, D, 8, 8) -> (N, 14, 8, 8);
    summary_head: a linear layer on the summary vector, (N, P) -> (N, 14, 8, 8), so the summary
                  vector alone must hold every object, its attributes and its coarse position
                  (captions need "left of" / "above").

A third head, also linear on the summary vector, asks for the scene as a whole, so that these
facts are linearly readable from it (as a captioning RNN's first layer reads them):

    scene_head:   (N, P) -> (N, 29): for each of the 6 colours, 4 numbers: present (a logit),
                  x and y of its centre in cells (pixels / 8), large (a logit); then how many
                  circles, squares and triangles, and how many small and large objects.

Factoring matters for the heldout split too: a single 37-way (colour, shape, size) classifier
could never name a pair it was never trained on; separate colour and shape classifiers can.
``decode_cells`` turns the 14 logits back into ``grid_labels`` values.

The checkpoint is rebuilt by ``python -m utils.tools.pretrain_encoder``; see
``datasets/shapes_encoder/README.md`` for its recipe and measured accuracy.
"""
import functools

import numpy as np
import torch
from torch import nn

from utils import validate
from utils.course import as_device
from utils.data import shapes
from utils.models import checkpoints

GRID = 8                       # the grid is GRID x GRID cells of 8x8 pixels
NUM_LOCATIONS = GRID * GRID    # L
GRID_CHANNELS = 64             # D
SUMMARY_SIZE = 256             # P
COLOUR_CHANNELS = 16           # of the D grid channels, from the colour stream
REDUCED_CHANNELS = 16          # the grid is squeezed to this many channels before the fc layer
DEFAULT_CHECKPOINT = checkpoints.shipped_path("shapes_encoder", "encoder")
REBUILD_COMMAND = "python -m utils.tools.pretrain_encoder"


# The three factors of a cell label; index 0 of each means "no object centre in this cell".
FACTORS = (("colour", shapes.COLOURS), ("shape", shapes.SHAPES), ("size", shapes.SIZES))
FACTOR_SIZES = tuple(1 + len(values) for _, values in FACTORS)   # (7, 4, 3)
HEAD_CHANNELS = sum(FACTOR_SIZES)                                  # 14 logits per cell
# The scene head: per colour (present, x, y, large), then counts of each shape and each size.
SCENE_HEAD_SIZE = 4 * len(shapes.COLOURS) + len(shapes.SHAPES) + len(shapes.SIZES)   # 29


def _factor_tables():
    """label -> factor index tables (NUM_GRID_CLASSES,) and factors -> label table (7, 4, 3)."""
    to_factors = torch.zeros(len(FACTORS), shapes.NUM_GRID_CLASSES, dtype=torch.long)  # device: constants,
    to_label = torch.zeros(FACTOR_SIZES, dtype=torch.long)  # device: moved where they are used
    for i, key in enumerate(shapes.GRID_CLASSES):                  # key = (colour, shape, size)
        index = [1 + values.index(k) for (_, values), k in zip(FACTORS, key)]
        to_factors[:, 1 + i] = torch.tensor(index)  # device: a constant table
        to_label[tuple(index)] = 1 + i
    return to_factors, to_label


_TO_FACTORS, _TO_LABEL = _factor_tables()


def label_factors(labels):
    """Grid labels (N, 8, 8) int (``shapes.grid_labels``) -> list of 3 long tensors (N, 8, 8):
    colour, shape and size indices, each 0 for an empty cell and 1 + the attribute's index otherwise."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.numel() and (labels.min() < 0 or labels.max() >= shapes.NUM_GRID_CLASSES):
        raise ValueError(f"label_factors: labels must lie in [0, {shapes.NUM_GRID_CLASSES}), "
                         f"got values from {labels.min().item()} to {labels.max().item()}")
    return [table[labels] for table in _TO_FACTORS.to(labels.device)]


def split_logits(logits):
    """Head output (N, 14, 8, 8) -> list of 3 tensors: colour (N, 7, 8, 8), shape (N, 4, 8, 8), size (N, 3, 8, 8)."""
    return list(torch.split(logits, FACTOR_SIZES, dim=1))


def decode_cells(logits):
    """Head output (N, 14, 8, 8) -> predicted grid labels (N, 8, 8) long, as ``shapes.grid_labels``.

    A cell is empty (0) when its colour classifier says "none"; otherwise it gets the colour, and
    the best shape and size other than "none".
    """
    colour, shape, size = split_logits(logits)
    c = colour.argmax(1)                                               # (N, 8, 8), 0 = empty
    s = 1 + shape[:, 1:].argmax(1)
    z = 1 + size[:, 1:].argmax(1)
    label = _TO_LABEL.to(logits.device)[c.clamp(min=1), s, z]
    return torch.where(c == 0, torch.zeros_like(label), label)


class ShapesEncoder(nn.Module):
    """A small CNN: 64x64 RGB image -> an 8x8 grid of D features -> a P-dim summary vector.

    grid_channels: D, features per grid location; summary_size: P, size of the summary vector.
    The two pretraining heads give HEAD_CHANNELS = 14 logits per cell (see the module docstring).
    """

    def __init__(self, grid_channels=GRID_CHANNELS, summary_size=SUMMARY_SIZE):
        super().__init__()
        fname = "ShapesEncoder"
        self.grid_channels = validate.positive_int(fname, "grid_channels", grid_channels)
        self.summary_size = validate.positive_int(fname, "summary_size", summary_size)
        if self.grid_channels <= COLOUR_CHANNELS:
            raise ValueError(f"{fname}: grid_channels must be an integer > {COLOUR_CHANNELS} "
                             f"(the colour stream's share), got {grid_channels!r}")
        D, P, C = self.grid_channels, self.summary_size, HEAD_CHANNELS

        def block(c_in, c_out):  # conv3x3 -> batch norm -> ReLU
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        Dc = COLOUR_CHANNELS
        self.shape_stream = nn.Sequential(      # sees only where objects are, not their colour
            nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),  # (N, 16, 32, 32)
            *block(16, 32), nn.MaxPool2d(2),    # (N, 32, 16, 16)
            *block(32, 64), nn.MaxPool2d(2),    # (N, 64, 8, 8)
            *block(64, D - Dc),                 # (N, D - Dc, 8, 8)
        )
        self.colour_stream = nn.Sequential(     # sees each pixel's colour, not the shapes
            nn.Conv2d(3, Dc, 1, bias=False), nn.BatchNorm2d(Dc), nn.ReLU(),
            nn.Conv2d(Dc, Dc, 1, bias=False), nn.BatchNorm2d(Dc), nn.ReLU(),   # (N, Dc, 32, 32)
            nn.AvgPool2d(4),                                                    # (N, Dc, 8, 8)
            *block(Dc, Dc),                                                     # (N, Dc, 8, 8)
        )
        background = torch.tensor(shapes.BACKGROUND_RGB, dtype=torch.float32).view(1, 3, 1, 1) / 255
        self.register_buffer("background", background, persistent=False)   # (1, 3, 1, 1)
        self.reduce = nn.Conv2d(D, REDUCED_CHANNELS, 1)     # keeps the fc layer (and the file) small
        self.fc = nn.Linear(REDUCED_CHANNELS * NUM_LOCATIONS, P)  # the fc7-style layer
        self.grid_head = nn.Conv2d(D, C, 1)                 # pretraining only
        self.summary_head = nn.Linear(P, C * NUM_LOCATIONS)  # pretraining only
        self.scene_head = nn.Linear(P, SCENE_HEAD_SIZE)      # pretraining only

    def config(self):
        """The sizes that rebuild this module: ``ShapesEncoder(**encoder.config())``."""
        return {"grid_channels": self.grid_channels, "summary_size": self.summary_size}

    def _check_images(self, fname, images):
        if not isinstance(images, torch.Tensor) or images.ndim != 4 \
                or tuple(images.shape[1:]) != (3, shapes.IMAGE_SIZE, shapes.IMAGE_SIZE):
            got = (f"tensor of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor)
                   else type(images).__name__)
            raise ValueError(f"{fname}: images must be a float tensor of shape "
                             f"(N, 3, {shapes.IMAGE_SIZE}, {shapes.IMAGE_SIZE}), got {got}")

    def conv(self, images):
        """The grid feature map: images (N, 3, 64, 64) -> (N, D, 8, 8) (no argument checks)."""
        mask = ((images - self.background).abs().amax(1, keepdim=True) > 0.02).to(images.dtype)  # (N, 1, 64, 64)
        pixels = images[:, :, ::2, ::2]          # (N, 3, 32, 32): every other pixel, colours unmixed
        return torch.cat([self.shape_stream(mask), self.colour_stream(pixels)], 1)

    def conv_grid(self, images):
        """The grid as a feature map: images (N, 3, 64, 64) in [0, 1] -> (N, D, 8, 8)."""
        self._check_images("ShapesEncoder.conv_grid", images)
        return self.conv(images)

    def grid_features(self, images):
        """Spatial features: images (N, 3, 64, 64) in [0, 1] -> (N, L, D), L = 64.

        Location l = row * 8 + col (row-major) covers pixels [8 row, 8 row + 8) x [8 col, 8 col + 8).
        """
        self._check_images("ShapesEncoder.grid_features", images)
        fmap = self.conv(images)                       # (N, D, 8, 8)
        return fmap.flatten(2).transpose(1, 2)         # (N, L, D)

    def summary_from_grid(self, fmap):
        """fc7: grid feature map (N, D, 8, 8) -> summary vector (N, P) (after the ReLU)."""
        squeezed = torch.relu(self.reduce(fmap))       # (N, 16, 8, 8)
        return torch.relu(self.fc(squeezed.flatten(1)))  # (N, 16 * L) -> (N, P)

    def summary(self, images):
        """The fc7-style summary vector: images (N, 3, 64, 64) in [0, 1] -> (N, P)."""
        self._check_images("ShapesEncoder.summary", images)
        return self.summary_from_grid(self.conv(images))

    def forward(self, images):
        """Everything pretraining needs: images (N, 3, 64, 64) ->

        (summary (N, P), grid feature map (N, D, 8, 8),
         grid_logits (N, 14, 8, 8) from the grid, summary_logits (N, 14, 8, 8) from the summary,
         scene_outputs (N, 29) from the summary).
        """
        self._check_images("ShapesEncoder.forward", images)
        fmap = self.conv(images)                                           # (N, D, 8, 8)
        summary = self.summary_from_grid(fmap)                              # (N, P)
        grid_logits = self.grid_head(fmap)                                  # (N, C, 8, 8)
        summary_logits = self.summary_head(summary).view(-1, HEAD_CHANNELS, GRID, GRID)
        return summary, fmap, grid_logits, summary_logits, self.scene_head(summary)


def load_checkpoint(path=None):
    """The raw checkpoint dict ``{"state_dict": ..., "config": {...}}`` (see ``load_encoder``)."""
    return checkpoints.read_checkpoint("load_encoder", checkpoints.as_path("load_encoder", path, DEFAULT_CHECKPOINT),
                                       REBUILD_COMMAND, "encoder checkpoint", parts=("state_dict", "config"))


def load_encoder(path=None, device="cpu"):
    """The pretrained encoder, frozen: eval mode, every parameter with requires_grad False.

    path: the checkpoint (default ``datasets/shapes_encoder/encoder.pt``).
    device: where to put it ("cpu", "cuda", a torch.device).
    Returns: a ``ShapesEncoder``; ``encoder.checkpoint_config`` is the config dict saved with it
    (sizes, seed, recipe, measured accuracies, torch version).
    Raises models.checkpoints.CheckpointError (a FileNotFoundError when missing, a ValueError
    when corrupt or when its sizes do not match this code), naming the rebuild command.
    """
    device = as_device("load_encoder", device)
    path = checkpoints.as_path("load_encoder", path, DEFAULT_CHECKPOINT)
    checkpoint = load_checkpoint(path)
    config = checkpoint["config"]
    try:
        encoder = ShapesEncoder(**{k: config[k] for k in ("grid_channels", "summary_size")})
        encoder.load_state_dict(checkpoint["state_dict"])
    except (KeyError, ValueError, RuntimeError) as error:
        raise checkpoints.load_failed("load_encoder", path, REBUILD_COMMAND, "ShapesEncoder", error) from None
    encoder.checkpoint_config = config
    encoder.eval()
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder.to(device)


def _as_images(fname, scenes_or_images):
    """A float32 tensor (N, 3, 64, 64) from a list of Scenes, or a numpy array / tensor of images."""
    if isinstance(scenes_or_images, (list, tuple)):
        if not scenes_or_images or not all(isinstance(s, shapes.Scene) for s in scenes_or_images):
            raise ValueError(f"{fname}: scenes must be a non-empty list of shapes.Scene, "
                             f"got {validate.shown(scenes_or_images)}")
        return torch.from_numpy(np.ascontiguousarray(shapes.images_array(scenes_or_images), dtype=np.float32))
    if isinstance(scenes_or_images, np.ndarray):
        scenes_or_images = torch.from_numpy(np.asarray(scenes_or_images, dtype=np.float32))
    size = shapes.IMAGE_SIZE
    if not isinstance(scenes_or_images, torch.Tensor) or scenes_or_images.ndim != 4 \
            or tuple(scenes_or_images.shape[1:]) != (3, size, size) or len(scenes_or_images) == 0 \
            or not scenes_or_images.is_floating_point():
        raise ValueError(f"{fname}: images must be a list of shapes.Scene or float images of shape "
                         f"(N, 3, {size}, {size}) in [0, 1], got {validate.shown(scenes_or_images)}")
    return scenes_or_images.float()


def encode_scenes(encoder, scenes, batch_size=256):
    """Summary vectors and grid features of many images, without gradients.

    encoder: a ``ShapesEncoder`` (e.g. from ``load_encoder()``).
    scenes: a list of N ``shapes.Scene``, or images (N, 3, 64, 64) float in [0, 1] (numpy or torch).
    batch_size: images per forward pass.
    Returns: (summary (N, P) float32 tensor, grid (N, L, D) float32 tensor), both on the CPU.
    """
    fname = "encode_scenes"
    if not isinstance(encoder, ShapesEncoder):
        raise ValueError(f"{fname}: encoder must be a ShapesEncoder (see load_encoder()), "
                         f"got {type(encoder).__name__}")
    batch_size = validate.positive_int(fname, "batch_size", batch_size)
    images = _as_images(fname, scenes)                        # (N, 3, 64, 64)
    device = next(encoder.parameters()).device
    summaries, grids = [], []
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = images[start:start + batch_size].to(device)
                fmap = encoder.conv(batch)                    # (B, D, 8, 8)
                summaries.append(encoder.summary_from_grid(fmap).float().cpu())   # (B, P)
                grids.append(fmap.flatten(2).transpose(1, 2).float().cpu())       # (B, L, D)
    finally:
        encoder.train(was_training)
    return torch.cat(summaries), torch.cat(grids).contiguous()


@functools.lru_cache(maxsize=1)
def _default_encoder():
    return load_encoder()


@functools.lru_cache(maxsize=16)
def _cached(split, count, start):
    scenes = shapes.make_scenes(split, count, start=start)
    summary, grid = encode_scenes(_default_encoder(), scenes)
    summary.requires_grad_(False)
    grid.requires_grad_(False)
    return summary, grid


def cached_features(split, count, start=0):
    """Features of ``shapes.make_scenes(split, count, start)`` from the shipped encoder, computed once.

    split: one of ``shapes.SPLITS``; count: number of scenes; start: index of the first scene.
    Returns: (summary (count, P) float32 tensor, grid (count, L, D) float32 tensor). The same
    tensors are returned on every call with the same arguments (an in-memory cache of up to 16
    entries): treat them as read-only.
    """
    fname = "cached_features"
    validate.one_of(fname, "split", split, shapes.SPLITS)
    count = validate.positive_int(fname, "count", count)
    start = validate.int_in_range(fname, "start", start, 0)
    return _cached(split, count, start)
