"""Validation at the edge: every number, coordinate and geometry a user gives is checked when read.

One place for the ranges (thresholds, hexagon size, population totals, lon/lat) and for the
checks themselves, so every reader refuses the same things with the same kind of error:
:class:`geo._errors.InputError` naming the file, the record and what was expected.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import click
import numpy as np
import shapely

from geo._errors import InputError

#: Walking thresholds (m): above 0, at most 5 km (a 15-minute walk is ~1 km; 5 km is generous).
THRESHOLD_RANGE_M: tuple[float, float] = (0.0, 5000.0)

#: Hexagon width across flats (m): below 50 m a unit is smaller than a building; above 2 km a
#: unit is larger than a 15-minute walk.
HEX_RANGE_M: tuple[float, float] = (50.0, 2000.0)

#: Largest population total accepted for one area (Shanghai has ~2.5e7 residents).
MAX_POPULATION: float = 1e8

#: WGS-84 ranges; Shanghai's province box (with a margin) for "is this in the study region".
LON_RANGE: tuple[float, float] = (-180.0, 180.0)
LAT_RANGE: tuple[float, float] = (-90.0, 90.0)
SHANGHAI_BOX: tuple[float, float, float, float] = (120.8, 30.6, 122.2, 31.9)


class InputWarning(UserWarning):
    """A suspicious but usable input (printed on the console by the command line)."""


def warn(message: str, *, path: object | None = None, record: object | None = None) -> None:
    """Emit an :class:`InputWarning` naming the file and record (the CLI prints it on stderr)."""
    where = ""
    if path is not None:
        where = f"{path}" + (f" ({record})" if record is not None else "") + ": "
    warnings.warn(f"{where}{message}", InputWarning, stacklevel=2)


def finite_number(
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    what: str = "value",
    path: object | None = None,
    record: object | None = None,
    unit: str = "",
) -> float:
    """``value`` as a finite float within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), or raise.

    Raises
    ------
    InputError
        Not a number, NaN/infinite, or outside the range; the message names the range.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} {value!r} is not a number", path=path, record=record) from None
    u = f" {unit}" if unit else ""
    lo_s = "(" if lo_open else "["
    rng = f"{lo_s}{'' if lo is None else f'{lo:g}'}, {'' if hi is None else f'{hi:g}'}]{u}"
    if not math.isfinite(number):
        raise InputError(
            f"{what} must be a finite number in {rng}, got {value!r}", path=path, record=record
        )
    if (lo is not None and (number < lo or (lo_open and number == lo))) or (
        hi is not None and number > hi
    ):
        raise InputError(f"{what} {number:g}{u} is outside {rng}", path=path, record=record)
    return number


def threshold_m(value: Any, *, path: object | None = None, record: object | None = None) -> float:
    """Return a walking threshold in metres: finite, in ``(0, 5000]``."""
    lo, hi = THRESHOLD_RANGE_M
    return finite_number(
        value, lo=lo, hi=hi, lo_open=True, what="threshold", path=path, record=record, unit="m"
    )


def hex_m(value: Any, *, path: object | None = None, record: object | None = None) -> float:
    """Return a hexagon width across flats in metres: finite, in ``[50, 2000]``."""
    lo, hi = HEX_RANGE_M
    return finite_number(
        value, lo=lo, hi=hi, what="hexagon size", path=path, record=record, unit="m"
    )


def population(value: Any, *, path: object | None = None, record: object | None = None) -> int:
    """Return a population total: a finite whole number in ``[0, 1e8]``."""
    number = finite_number(
        str(value).replace(",", "").strip() if isinstance(value, str) else value,
        lo=0,
        hi=MAX_POPULATION,
        what="population",
        path=path,
        record=record,
    )
    if number != int(number):
        raise InputError(f"population {value!r} must be a whole number", path=path, record=record)
    return int(number)


def check_lonlat(
    lon: Any,
    lat: Any,
    *,
    path: object | None = None,
    record: object | None = None,
    what: str = "coordinates",
) -> None:
    """Refuse NaN/infinite coordinates and values outside lon [-180, 180], lat [-90, 90].

    Coordinates in metres (a projected file read as lon/lat) fail here, which is the point.
    """
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    if x.size == 0:
        return
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what} are not finite numbers ({x[i]!r}, {y[i]!r})", path=path, record=record
        )
    out = (x < LON_RANGE[0]) | (x > LON_RANGE[1]) | (y < LAT_RANGE[0]) | (y > LAT_RANGE[1])
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise InputError(
            f"{what} ({x[i]:g}, {y[i]:g}) are outside lon [-180, 180] / lat [-90, 90]",
            path=path,
            record=record,
            hint="expected WGS-84 longitude/latitude in degrees, not metres",
        )


def in_shanghai(lon: Any, lat: Any) -> np.ndarray:
    """Boolean mask: points inside Shanghai's box (used to keep far-away points out of areas)."""
    x0, y0, x1, y1 = SHANGHAI_BOX
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def polygon(
    geom: Any,
    *,
    path: object | None = None,
    record: object | None = None,
    what: str = "boundary",
) -> Any:
    """Return a usable WGS-84 (Multi)Polygon: ranges checked, invalid rings repaired or refused.

    A self-intersecting polygon is repaired with :func:`shapely.make_valid` (with a warning)
    when the repair keeps a polygon of about the same area; points, lines and zero-area
    polygons are refused.
    """
    if geom is None or shapely.is_empty(geom):
        raise InputError(f"{what} geometry is empty", path=path, record=record)
    coords = shapely.get_coordinates(geom)
    check_lonlat(coords[:, 0], coords[:, 1], path=path, record=record, what=f"{what} coordinates")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(
            f"{what} is a {geom.geom_type}, expected a Polygon or MultiPolygon",
            path=path,
            record=record,
        )
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polys = shapely.get_parts(fixed)
        polys = polys[np.isin(shapely.get_type_id(polys), (3, 6))]
        fixed = shapely.union_all(polys) if len(polys) else None
        if fixed is None or shapely.is_empty(fixed) or fixed.area <= 0:
            raise InputError(
                f"{what} is invalid ({reason}) and cannot be repaired", path=path, record=record
            )
        warn(f"{what} was invalid ({reason}); repaired with make_valid", path=path, record=record)
        geom = fixed
    if geom.area <= 0:
        raise InputError(f"{what} has zero area", path=path, record=record)
    return geom


class FiniteFloat(click.ParamType):  # type: ignore[type-arg]
    """A click option type: a finite float in a range (nan, inf and out-of-range refused)."""

    name = "number"

    def __init__(self, lo: float, hi: float, *, lo_open: bool = False, unit: str = "") -> None:
        self.lo, self.hi, self.lo_open, self.unit = lo, hi, lo_open, unit

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Return ``value`` as a finite float in range, or fail naming the option."""
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        lo_ok = number > self.lo if self.lo_open else number >= self.lo
        if not (math.isfinite(number) and lo_ok and number <= self.hi):
            lo_s = "(" if self.lo_open else "["
            self.fail(
                f"{value!r} must be a finite number in {lo_s}{self.lo:g}, {self.hi:g}] {self.unit}",
                param,
                ctx,
            )
        return number
