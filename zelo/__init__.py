"""zelo: train text-embedding models with InfoNCE and measure what hard-negative mining does."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_ROOT = Path(__file__).resolve().parent
"""The ``zelo/`` package folder; its parent is the repository root for editable installs."""
