"""The shipped checkpoints of notebook 07's attention captioner: one file per attention mode.

    checkpoint_path            datasets/attention_captioner/<attention>.pt, the shipped model of a mode
    save_attention_captioner   write an AttentionCaptioner (the format of utils.models.checkpoints)
    load_attention_captioner   read one back, in eval mode, checked against the vocabulary
"""
from utils import validate
from utils.data import shapes_language as language
from utils.models import checkpoints
from utils.models.attention_captioner import ATTENTION_MODES, AttentionCaptioner, check_attention_model

CHECKPOINT_DIR = checkpoints.DATASETS / "attention_captioner"
REBUILD_COMMAND = "python -m utils.tools.train_attention"


def checkpoint_path(attention="soft"):
    """The shipped checkpoint of a mode: datasets/attention_captioner/<attention>.pt."""
    validate.one_of("checkpoint_path", "attention", attention, ATTENTION_MODES)
    return checkpoints.shipped_path("attention_captioner", attention)


def save_attention_captioner(model, vocab, path=None, meta=None):
    """Write an AttentionCaptioner to a checkpoint file.

    model: an AttentionCaptioner. vocab: the WordVocab it was trained with (its words are
        stored). path: the file (default checkpoint_path(model.attention); folders created).
    meta: optional dict of plain values (recipe, scores...).
    Returns: the Path written. Stores {"state_dict" (float32), "config", "vocab", "meta"}.
    """
    fname = "save_attention_captioner"
    check_attention_model(fname, model)
    if not isinstance(vocab, language.WordVocab) or len(vocab) != model.vocab_size:
        raise ValueError(f"{fname}: vocab must be the WordVocab of the model's "
                         f"{model.vocab_size} words, got {validate.shown(vocab)}")
    return checkpoints.write_checkpoint(fname, model, checkpoint_path(model.attention) if path is None else path,
                                        vocab, meta)


def load_attention_captioner(path=None, attention="soft", vocab=None, device="cpu"):
    """Load an AttentionCaptioner saved by save_attention_captioner, in eval mode.

    path: the file; default checkpoint_path(attention), the shipped model of that mode.
    attention: "soft", "hard" or "uniform" (only used to pick the default path).
    vocab: the WordVocab the caller decodes with (default shapes_language.build_vocab()); the
        stored words must equal its words, id for id.
    device: where to put the model.
    Returns: the model (float32) with attributes ``vocab`` and ``checkpoint_meta``.
    Raises models.checkpoints.CheckpointError (a FileNotFoundError and a ValueError) when the
    file is missing, corrupt, does not fit this code, or was trained with another vocabulary;
    each message names the command that rebuilds it.
    """
    fname = "load_attention_captioner"
    path = checkpoints.as_path(fname, path, None if path is not None else
                                checkpoint_path(validate.one_of(fname, "attention", attention, ATTENTION_MODES)))
    vocab = language.build_vocab() if vocab is None else vocab
    if not isinstance(vocab, language.WordVocab):
        raise ValueError(f"{fname}: vocab must be a shapes_language.WordVocab or None, "
                         f"got {validate.shown(vocab)}")
    checkpoint = checkpoints.read_checkpoint(fname, path, REBUILD_COMMAND, "attention-captioner checkpoint", vocab)
    try:
        model = AttentionCaptioner(**checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise checkpoints.load_failed(fname, path, REBUILD_COMMAND, "AttentionCaptioner", error) from None
    model.vocab = vocab
    model.checkpoint_meta = checkpoint["meta"]
    model.eval()
    return model.to(device)
