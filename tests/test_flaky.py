"""utils.tools.flaky finds the cells whose output changes from one nbval run to the next."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from utils.tools import flaky


def _notebook(path, cells):
    nb = new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                               "language": "python", "name": "python3"}})
    for source, text in cells:
        cell = new_code_cell(source, execution_count=len(nb.cells) + 1)
        cell.outputs = [new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_flaky_and_broken_cells_are_reported(tmp_path, capsys):
    counter = tmp_path / "runs.txt"
    path = _notebook(tmp_path / "t.ipynb", [
        ("print(1 + 1)", "2\n"),                                              # always the same
        (f"from pathlib import Path\np = Path({str(counter)!r})\n"              # 0, then 1: flaky
         "n = int(p.read_text()) if p.exists() else 0\np.write_text(str(n + 1))\nprint(n % 2)", "0\n"),
        ("print('never this')", "this\n"),                                    # always different
    ])
    assert flaky.main(["--runs", "2", str(path)]) == 1
    out = capsys.readouterr().out
    assert "flaky: t.ipynb cell 1 passed 1 of 2 runs" in out
    assert "broken: t.ipynb cell 2 passed 0 of 2 runs" in out
    assert "flaky cells: 1; always failing: 1; cells checked: 3" in out
