"""Type aliases shared across stages (level 0: imports nothing from ``geo``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

#: ``progress(iterable, description)``: wraps an iterable in a progress display (e.g. a tqdm
#: bar on stderr) and yields its items unchanged.
ProgressFn: TypeAlias = Callable[[Iterable[Any], str], Iterable[Any]]
