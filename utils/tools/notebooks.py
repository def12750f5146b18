"""Paths and metadata conventions shared by the build and the self-check."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = REPO_ROOT / "solutions"
LECTURES_DIR = REPO_ROOT / "lectures"
SANITIZE_FILE = REPO_ROOT / "nbval_sanitize.cfg"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
CODE_PLACEHOLDER = "# YOUR CODE HERE"
NOT_IMPLEMENTED = 'raise NotImplementedError("exercise: replace this line with your code")'
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"

# Cell metadata key of the course. On a check cell of a solution notebook:
#   {"course": {"check": "<exercise name>"}}
# The build adds "reference_outputs" to it in the lecture, and to the notebook metadata:
#   {"course": {"lecture": true, "built_from": "solutions/NN_x.ipynb", "checks": [...]}}
COURSE_KEY = "course"


def check_name(cell):
    """The exercise name of a check cell, or None for any other cell."""
    return cell.get("metadata", {}).get(COURSE_KEY, {}).get("check")


def solution_notebooks(directory=SOLUTIONS_DIR):
    """The numbered solution notebooks ``NN_topic.ipynb`` of a folder, sorted."""
    return sorted(p for p in Path(directory).glob("[0-9][0-9]_*.ipynb"))
