"""Generic fixtures shared by every test package. Django-free: the Django fixtures live in
``tests/playground/conftest.py``.

The example data is the repository's verbatim copy of the real kubelet output
(``tests/data/kubelet-examples``, see its ``PROVENANCE.md``); tests read only that copy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
EXAMPLES_DIR = TESTS_DIR / "data" / "kubelet-examples"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (where ``python -m allocator`` is run from)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """``tests/data/kubelet-examples``: scenarios, checkpoints, metrics recorded from the real kubelet."""
    return EXAMPLES_DIR


@pytest.fixture(scope="session")
def vectors_dir(examples_dir: Path) -> Path:
    """The Memory Manager + Topology Manager vectors (``mirror-*`` and ``gen-*``)."""
    return examples_dir / "vectors"


@pytest.fixture(scope="session")
def python_executable() -> str:
    """The interpreter running the tests (the project's virtualenv), for subprocess tests."""
    return sys.executable


@pytest.fixture(scope="session")
def load_example(examples_dir: Path) -> Callable[[str], Any]:
    """Load an example document by its path inside the examples folder, e.g. ``vectors/gen-000.json``."""

    def load(relative: str) -> Any:
        return json.loads((examples_dir / relative).read_text(encoding="utf-8"))

    return load
