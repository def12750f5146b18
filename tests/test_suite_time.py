"""utils.tools.suite_time reads a CI log: each target's time and status, and each tier's slowest items."""
from utils.tools.suite_time import figures_from_ci_log

LOG = """CI: setup done after 95 s
============================= slowest 15 durations =============================
194.60s call     solutions/02_char_rnn.ipynb::Cell 14
0.50s setup    tests/test_x.py::test_a
65.75s call     tests/test_y.py::test_b
=========================== short test summary info ============================
CI: make test finished with status 0 after 420 s
============================= slowest 15 durations =============================
120.00s call     tests/test_encoder.py::test_the_command_reproduces_the_checkpoint

CI: make test-slow finished with status 1 after 900 s
"""


def test_targets_times_statuses_and_the_slowest_calls_of_each_tier():
    setup, targets, slow = figures_from_ci_log(LOG)
    assert setup == 95
    assert targets == {"test": (420, 0), "test-slow": (900, 1)}
    assert slow["test"] == [(194.6, "solutions/02_char_rnn.ipynb::Cell 14"), (65.75, "tests/test_y.py::test_b")]
    assert slow["test-slow"] == [(120.0, "tests/test_encoder.py::test_the_command_reproduces_the_checkpoint")]
