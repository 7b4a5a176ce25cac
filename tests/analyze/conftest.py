import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

pytest.importorskip("uhop_cc._native")


@pytest.fixture(scope="session")
def kernels_dir() -> Path:
    return HERE / "kernels"
