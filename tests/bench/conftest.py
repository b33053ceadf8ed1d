"""The harnesses under bench/ are run from the repository root (``python -m bench.graphrag``);
their tests import them the same way, so the root must be importable."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
