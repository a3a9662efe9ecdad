"""The package docstring, followed by a future import (the hard case on 3.8-3.12)."""

from __future__ import annotations

VERSION = "1.0"
