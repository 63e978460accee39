"""The kubelet's example data is part of the repository: a clone that lost it must fail loudly,
not pass by parametrizing over nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "data" / "kubelet-examples"

# At least the public selections the project was handed; more files may be added, never fewer.
MINIMUM_FILES = {
    "vectors": 71,
    "big-numa": 17,
    "checkpoints": 24,
    "config-errors": 36,
    "restart": 33,
    "metrics": 71,
    "perf": 4,
}


@pytest.mark.parametrize("folder", sorted(MINIMUM_FILES))
def test_it_has_the_kubelet_example_files(folder: str) -> None:
    files = [p for p in (EXAMPLES / folder).iterdir() if p.suffix in {".json", ".state"}]
    expected = MINIMUM_FILES[folder]
    assert len(files) >= expected, f"{folder}: {len(files)} files, expected at least {expected}"
    assert (EXAMPLES / folder / "README.md").is_file()
