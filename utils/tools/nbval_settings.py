"""pytest plugin: nbval settings shared by `make test` (via conftest.py) and the self-check.

nbval waits only 5 s for a cell's output messages once the kernel has replied. On a busy
2-core machine the kernel's output thread can lag behind a long training cell by more than
that, and the cell then fails with "Timeout ... waiting for output" although it ran fine.
"""

NBVAL_OUTPUT_WAIT_S = 120


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's cell items
            item.output_timeout = NBVAL_OUTPUT_WAIT_S
