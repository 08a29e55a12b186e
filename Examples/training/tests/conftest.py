"""Puts Examples/training on sys.path, so the suite also runs from the repository root:
python -m pytest Examples/training/tests -q (as well as python -m pytest -q tests from here)."""

import sys
from pathlib import Path

TOOLKIT = str(Path(__file__).resolve().parents[1])
if TOOLKIT not in sys.path:
    sys.path.insert(0, TOOLKIT)
