"""Number formats shared by the dashboard, exports and the report ("—" for no figure)."""

from __future__ import annotations

from typing import Any

import numpy as np


def pct(value: Any, digits: int = 1) -> str:
    """Format a share (0-1) as a percentage, or "—" when it is missing or not finite."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{f:.{digits}%}" if np.isfinite(f) else "—"


def num(value: Any) -> str:
    """Format a count with thousands separators, or "—" when it is missing or not finite."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{f:,.0f}" if np.isfinite(f) else "—"
