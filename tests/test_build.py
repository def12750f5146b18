import nbformat
import pytest

from utils.tools import build
from utils.tools.build import BuildError, build_lecture, strip_code, strip_markdown
from utils.tools.notebooks import LECTURES_DIR, SOLUTIONS_DIR, solution_notebooks


def test_solution_region_becomes_placeholder_at_same_indentation():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = x * 2\n    ### END SOLUTION\n    return y"
    new, n = strip_code(source)
    assert n == 1
    assert new.splitlines() == ["def f(x):", "    y = 1", "    # YOUR CODE HERE",
                                '    raise NotImplementedError()',
                                "    return y"]
    compile(new, "<lecture>", "exec")  # still valid python


def test_markdown_answer_becomes_your_answer_here():
    new, n = strip_markdown("Question?\n### BEGIN SOLUTION\nThe answer.\n### END SOLUTION")
    assert (new, n) == ("Question?\nYOUR ANSWER HERE", 1)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside a solution"),
])
def test_unbalanced_markers_fail_naming_notebook_and_cell(source, message):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("intro"),
                                         nbformat.v4.new_code_cell(source)])
    with pytest.raises(BuildError, match=message) as info:
        build_lecture(nb, "solutions/99_broken.ipynb")
    assert "solutions/99_broken.ipynb, cell 1 (code)" in str(info.value)


def test_build_cli_reports_unbalanced_notebook_and_writes_nothing(tmp_path, capsys):
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi"),
                                          nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")])
    nbformat.write(good, tmp_path / "01_good.ipynb")
    nbformat.write(bad, tmp_path / "02_broken.ipynb")
    out_dir = tmp_path / "lectures"
    assert build.main(["--solutions", str(tmp_path), "--lectures", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert "02_broken.ipynb, cell 1 (code)" in err and "never closed" in err
    assert not out_dir.exists()


def test_check_cells_keep_reference_outputs_in_metadata_and_lose_outputs():
    out = nbformat.v4.new_output("stream", name="stdout", text="✓ f: ok\n")
    check = nbformat.v4.new_code_cell("check_f(f)", outputs=[out], execution_count=3,
                                      metadata={"course": {"check": "f"}})
    exercise = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nf = 1\n### END SOLUTION",
                                         outputs=[out], execution_count=2)
    demo = nbformat.v4.new_code_cell("print(1)", outputs=[out], execution_count=4)
    lecture = build_lecture(nbformat.v4.new_notebook(cells=[exercise, check, demo]), "s.ipynb")
    ex, ch, de = lecture.cells
    assert ex.outputs == [] and ex.execution_count is None
    assert ch.outputs == [] and ch.metadata["course"]["reference_outputs"][0]["text"] == "✓ f: ok\n"
    assert de.outputs == [out]  # demonstrations keep their figures and prints
    assert lecture.metadata["course"] == {"lecture": True, "built_from": "s.ipynb", "checks": ["f"]}


def test_every_solution_has_checks_and_committed_lectures_match_the_build():
    solutions = solution_notebooks()
    assert solutions, "no solution notebooks found"
    for path in solutions:
        expected = build.lecture_text(path)
        lecture = LECTURES_DIR / path.name
        assert lecture.exists(), f"{lecture} missing: run `make lectures`"
        assert lecture.read_text(encoding="utf-8") == expected, \
            f"{lecture.name} differs from the build of {path.name}: run `make lectures`"
    assert sorted(p.name for p in LECTURES_DIR.glob("*.ipynb")) == [p.name for p in solutions]


def test_lectures_contain_no_solution_text():
    for path in solution_notebooks():
        text = (LECTURES_DIR / path.name).read_text(encoding="utf-8")
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text


def test_a_demo_that_used_the_solution_says_in_the_lecture_that_it_uses_the_reference():
    """The solution's run printed "using your f"; a fresh lecture prints the reference line, so
    the lecture stores that (the rest of the output is the same: the solution is the reference)."""
    out = nbformat.v4.new_output("stream", name="stdout", text="using your f\nresult 3\n")
    demo = nbformat.v4.new_code_cell("fn = student_or_reference('f', f, ref_f, check_f)\nprint('result', fn(1))",
                                     outputs=[out], execution_count=5)
    (cell,) = build_lecture(nbformat.v4.new_notebook(cells=[demo]), "s.ipynb").cells
    assert cell.outputs[0].text == "using the course's reference f (yours not implemented yet)\nresult 3\n"
