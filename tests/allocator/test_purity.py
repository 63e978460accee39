"""``allocator`` is pure Python: importing it, or any of its modules, pulls in no web framework.

Checked in a fresh interpreter, because the test process itself may already have imported
Django (pytest-django does).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("django", "channels", "ninja", "daphne", "channels_redis", "playground")

PROBE = """
import importlib, json, pkgutil, sys
import allocator
names = ["allocator"]
for info in pkgutil.walk_packages(allocator.__path__, "allocator."):
    importlib.import_module(info.name)
    names.append(info.name)
forbidden = {forbidden!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({{"modules": names, "forbidden": loaded}}))
"""


def _probe(repo_root: Path) -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_importing_every_allocator_module_loads_no_web_framework(repo_root: Path) -> None:
    result = _probe(repo_root)
    assert result["forbidden"] == []
    # The walk really covered the package, not just its __init__.
    assert {"allocator.scenario", "allocator.replay", "allocator.errors"} <= set(result["modules"])


def test_no_allocator_source_mentions_a_web_framework_import(repo_root: Path) -> None:
    """A lazily imported module would escape the probe above; the source cannot."""
    offenders = []
    for path in sorted((repo_root / "allocator").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            words = line.strip().split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(repo_root)}:{number}: {line.strip()}")
    assert offenders == []
