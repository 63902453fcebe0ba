"""Offline geocoding of Shanghai street addresses on the OSM data of a study area.

Two steps, both offline:

1. :func:`parse_address` reads one address as written in a facility list
   (``上海市上海市浦东新区崂山路639号``, ``番禺路222弄50支弄6号``, ``華山路平武路``,
   ``Minzhi Road``):
   full-width and traditional characters are folded (NFKC, ``zhconv``), the administrative
   prefix (省/市/区) is removed with ``cpca`` (its own offline table of divisions), a leading
   subdistrict (…街道/…镇) is dropped, and the rest is split into road, 弄 (lane), 支弄
   (sub-lane), 号 (house number, with 甲/乙 suffix), a second road (crossing), a compound
   (…新村/…村/…小区/…街坊/…苑) and a qualifier (对面, 中段, 西南角 ...). The road / number grammar
   is this module's own (a few regular expressions, below).
2. :class:`AddressIndex` holds one area's named roads, OSM ``addr:*`` anchors, lanes and named
   compounds (from :class:`geo.io.osm.OsmData`), in metres; :meth:`AddressIndex.locate` places
   a parsed address at the best level it supports (:data:`PRECISIONS`, best first):

   ``address``       an OSM ``addr:street`` + ``addr:housenumber`` (and lane) equal to the address;
                     uncertainty: the feature's radius (10 m for a node).
   ``interpolated``  the house number interpolated along the road between the two nearest OSM
                     anchors of the *same parity* (Shanghai numbers odd and even sides apart),
                     the point set off the centre line as those anchors are (the other side for
                     ``对面``); uncertainty: a quarter of the gap between the anchors, at least
                     :data:`MIN_INTERPOLATED_M`.
   ``intersection``  "XX路YY路", "XX路与YY路交叉口": where the two roads meet (or their closest
                     points, when at most :data:`MAX_CROSSING_GAP_M` apart).
   ``compound``      a 弄 (an OSM lane way or addresses in the lane) or a named compound
                     (新村/小区/街坊/苑 ... polygon or place) matched by name; uncertainty: its
                     radius.
   ``street``        the named road's stretch inside the area: its middle, uncertainty = half its
                     length.
   ``area``          nothing more precise; no point.

All input and output coordinates are WGS-84 lon/lat; internal work is in
``settings.PROJECTED_CRS`` metres.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import Transformer

from geo import settings

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from geo.io.osm import OsmData

#: Placement levels, best first.
PRECISIONS: tuple[str, ...] = ("address", "interpolated", "intersection", "compound", "street",
                               "area")  # fmt: skip

#: Smallest uncertainty given to an interpolated number (m).
MIN_INTERPOLATED_M: float = 20.0
#: Uncertainty of an OSM address node (m); polygons use their radius.
ADDRESS_NODE_M: float = 10.0
#: Two roads whose closest points are at most this far apart still "cross" (m; data gaps).
MAX_CROSSING_GAP_M: float = 60.0
#: Smallest uncertainty of a crossing (m): half a junction.
MIN_CROSSING_M: float = 15.0
#: Extra uncertainty when a qualifier (对面, 西南角, 附近 ...) puts the place beside the point (m).
QUALIFIER_M: float = 30.0
#: Extra uncertainty for a point inside a lane whose entrance is placed on the road (m).
LANE_DEPTH_M: float = 80.0
#: Minimum rapidfuzz ratio for a compound name that is not equal (0-100).
COMPOUND_MIN_SCORE: float = 90.0
#: How far outside the area roads, anchors and compounds are indexed (m).
INDEX_BUFFER_M: float = 500.0

_CJK = "\u4e00-\u9fff"
#: Road suffixes (longest first inside the alternation).
_ROAD_SUFFIX = "大道|公路|支路|大街|路|街|巷"
#: A Chinese road name: starts with a CJK character, ends with a road suffix, not 街坊/街道.
_ROAD = rf"[{_CJK}][{_CJK}A-Za-z0-9]{{0,11}}?(?:{_ROAD_SUFFIX})(?![坊道])"
_ROAD_RE = re.compile(_ROAD)
#: Connectors between two road names of a crossing.
_CROSS_RE = re.compile(
    rf"^(?P<r1>{_ROAD})(?:与|和|跟|同|/|、|&|\+|-|近|靠近|交)?(?P<r2>{_ROAD})"
    r"(?:交叉口|交界处|交汇处|交口|路口|口)?"
)
#: Numbers after a road: 222弄50支弄6号甲, 24号, 32号甲, 32甲号, 194-196号, 283.
_NUMBER_RE = re.compile(
    r"^(?:(?P<lane>\d+)弄)?(?:(?P<sub>\d+)支弄)?"
    r"(?:(?P<num>\d+)(?:[-~至](?P<num2>\d+))?(?P<suf1>[甲乙丙丁])?号?(?P<suf2>[甲乙丙丁])?)?"
)
#: Qualifiers between a road and its number, or after the address.
_QUALIFIERS: tuple[str, ...] = ("对面", "对过", "旁边", "旁", "附近", "近", "中段", "东段", "西段",
                                "南段", "北段", "东侧", "西侧", "南侧", "北侧", "东南角", "东北角",
                                "西南角", "西北角", "内", "口")  # fmt: skip
_QUALIFIER_RE = re.compile("|".join(sorted(_QUALIFIERS, key=len, reverse=True)))
#: Qualifiers that say the place is across the road from the number.
_OPPOSITE = frozenset({"对面", "对过"})
#: A compound name: …新村, …一村, …小区, …街坊, …苑, …花园, …公寓, …坊, …里.
_COMPOUND_RE = re.compile(
    rf"^(?P<name>[{_CJK}0-9A-Za-z]{{1,12}}?(?:新村|[一二三四五六七八九十]+村|小区|街坊|花园|苑|公寓|"
    r"大厦|大楼|坊|里|村))"
)
#: A leading subdistrict or town name (新华路街道, 长白新村街道, 某某镇).
_SUBDISTRICT_RE = re.compile(rf"^[{_CJK}]{{2,7}}?(?:街道办事处|街道|镇)(?![路街道巷])")
#: What cpca may remove: division names with their suffix (杨浦区, 上海市浦东新区), nothing else.
_ADMIN_PREFIX_RE = re.compile(rf"^(?:[{_CJK}]{{1,8}}?(?:省|自治区|市|新区|区|县))+$")
#: An English road: "No. 12 Minzhi Road", "Minzhi Rd", "Huashan Lu".
_EN_ROAD_RE = re.compile(
    r"(?:No\.?\s*(?P<num>\d+)\s*,?\s*)?(?P<name>[A-Za-z][A-Za-z' ]*?)\s+"
    r"(?P<kind>Road|Rd\.?|Street|St\.?|Avenue|Ave\.?|Lu|Lane)\b(?:\s*(?P<num2>\d+))?",
    re.IGNORECASE,
)
_EN_KIND = {"rd": "road", "rd.": "road", "st": "street", "st.": "street", "ave": "avenue",
            "ave.": "avenue", "lu": "road"}  # fmt: skip
_DROP = {ord(c): None for c in " \t\r\n\u3000\"'“”‘’「」『』《》【】()（）[]·,，。;；:："}


# -------------------------------------------------------------------------------------------
# parsing
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedAddress:
    """One address split into its parts (empty / None where the text has no such part)."""

    text: str
    rest: str = ""  # the text after the administrative prefix
    district: str = ""  # e.g. 杨浦区 (from cpca)
    road: str = ""  # 番禺路
    road_en: str = ""  # "minzhi road" (lower case)
    lane: int | None = None  # 弄
    sublane: int | None = None  # 支弄
    number: int | None = None  # 号
    number_to: int | None = None  # the end of a range (194-196号)
    suffix: str = ""  # 甲/乙
    cross_road: str = ""  # the second road of a crossing
    compound: str = ""  # 松花一村, 228街坊
    qualifier: str = ""  # 对面, 中段, 西南角 ...
    detail: str = ""  # what follows (1-6楼, 一楼 ...), not used for placement
    problem: str = ""  # why nothing could be read ("" when something was)

    @property
    def has_location_text(self) -> bool:
        """True when a road, crossing or compound was read."""
        return bool(self.road or self.road_en or self.compound)


def fold_text(text: object) -> str:
    """NFKC (full-width -> ASCII), traditional -> simplified Chinese, no spaces or quotes."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if not s:
        return ""
    return _to_simplified(s)


def _to_simplified(s: str) -> str:
    import zhconv  # imported here: a 1 MB dictionary loaded only when a list is read

    return str(zhconv.convert(s, "zh-cn"))


def strip_admin_prefixes(texts: Sequence[str]) -> list[tuple[str, str]]:
    """(district, rest) for each text: 省/市/区 prefixes removed with ``cpca``.

    ``cpca`` recognises divisions only with their suffix at the start of the text (长宁路1号
    keeps its road); a text it cannot read is returned unchanged. A repeated 上海市 and a
    leading subdistrict (…街道/…镇) are removed too.
    """
    import cpca  # imported here: loads its table of divisions (~0.2 s) on first use

    cleaned = [s.replace(" ", "") for s in texts]
    out: list[tuple[str, str]] = []
    if not cleaned:
        return out
    df = cpca.transform(cleaned)
    for s, district, rest in zip(cleaned, df["区"], df["地址"], strict=True):
        ok = isinstance(rest, str) and s.endswith(rest)
        # cpca also strips a bare city name (延安西路 -> 西路): keep only suffixed divisions
        ok = ok and (rest == s or bool(_ADMIN_PREFIX_RE.match(s[: len(s) - len(rest)])))
        r = rest if ok else s
        if not ok:
            district = ""
        for prefix in ("上海市", "上海"):
            while r.startswith(prefix) and len(r) > len(prefix):
                r = r[len(prefix) :]
        r = _SUBDISTRICT_RE.sub("", r, count=1) if _SUBDISTRICT_RE.match(r) else r
        out.append((district if isinstance(district, str) else "", r))
    return out


def parse_addresses(texts: Sequence[object]) -> list[ParsedAddress]:
    """Parse many addresses at once (one ``cpca`` call); see :func:`parse_address`."""
    folded = [fold_text(t) for t in texts]
    stripped = strip_admin_prefixes([f for f in folded if f])
    it = iter(stripped)
    out = []
    for raw, f in zip(texts, folded, strict=True):
        if not f:
            out.append(ParsedAddress(text="" if raw is None else str(raw), problem="no address"))
            continue
        district, rest = next(it)
        out.append(_parse_rest(str(raw), district, rest))
    return out


def parse_address(text: object) -> ParsedAddress:
    """Split one Shanghai address into road, lane, number, crossing, compound and qualifier.

    Parameters
    ----------
    text
        The address as written (Chinese, possibly traditional or full-width, or English).

    Returns
    -------
    ParsedAddress
        ``problem`` is set when no road, crossing or compound could be read.
    """
    return parse_addresses([text])[0]


def _parse_rest(text: str, district: str, rest: str) -> ParsedAddress:
    s = rest.translate(_DROP)
    if not s:
        return ParsedAddress(text, rest, district, problem="only an administrative area")
    m = _CROSS_RE.match(s)
    after_r1 = _NUMBER_RE.match(s[m.end("r1") :]) if m else None
    if m and not (after_r1 and after_r1.group(0)):
        tail = s[m.end() :]
        return ParsedAddress(text, rest, district, road=m.group("r1"), cross_road=m.group("r2"),
                             qualifier=_qualifier(tail), detail=tail)  # fmt: skip
    m = _ROAD_RE.match(s)
    if m:
        return _parse_after_road(text, district, rest, m.group(0), s[m.end() :])
    c = _COMPOUND_RE.match(s)
    if c:
        tail = s[c.end() :]
        n = _NUMBER_RE.match(tail)
        assert n is not None
        return ParsedAddress(
            text, rest, district, compound=c.group("name"), number=_int(n.group("num")),
            suffix=n.group("suf1") or n.group("suf2") or "", qualifier=_qualifier(tail),
            detail=tail[n.end() :],
        )  # fmt: skip
    e = _EN_ROAD_RE.search(unicodedata.normalize("NFKC", text))
    if e:
        kind = e.group("kind").lower()
        name = f"{e.group('name').strip().lower()} {_EN_KIND.get(kind, kind)}"
        return ParsedAddress(text, rest, district, road_en=name,
                             number=_int(e.group("num") or e.group("num2")))  # fmt: skip
    return ParsedAddress(
        text, rest, district,
        problem=f"no road (…路/街/大道/公路), crossing or compound (…村/小区/街坊) in '{rest}'",
    )  # fmt: skip


def _parse_after_road(text: str, district: str, rest: str, road: str, tail: str) -> ParsedAddress:
    """Return the parts after a road name: qualifier, 弄/支弄/号 numbers, a compound, the detail."""
    qual = ""
    q = _QUALIFIER_RE.match(tail)
    if q and q.group(0) not in ("口", "内"):
        qual, tail = q.group(0), tail[q.end() :]
    n = _NUMBER_RE.match(tail)
    assert n is not None  # every group is optional
    after = tail[n.end() :]
    compound = ""
    c = _COMPOUND_RE.match(after)
    if c and n.group(0):
        compound = c.group("name")
    return ParsedAddress(
        text, rest, district, road=road,
        lane=_int(n.group("lane")), sublane=_int(n.group("sub")),
        number=_int(n.group("num")), number_to=_int(n.group("num2")),
        suffix=n.group("suf1") or n.group("suf2") or "",
        compound=compound, qualifier=qual or _qualifier(after), detail=after,
    )  # fmt: skip


def with_known_road(parsed: ParsedAddress, names: Iterable[str]) -> ParsedAddress | None:
    """Re-read an address with the longest known road name it starts with (None: none).

    The grammar reads a road up to its first suffix (长乐街 and 无名路街 both end at the
    first 路/街 found); a name the OSM data knows is preferred when the text starts with it.
    """
    s = parsed.rest.translate(_DROP)
    best = ""
    for name in names:
        if len(name) > len(best) and s.startswith(name) and name != parsed.road:
            best = name
    if not best:
        return None
    return _parse_after_road(parsed.text, parsed.district, parsed.rest, best, s[len(best) :])


def _int(v: str | None) -> int | None:
    return int(v) if v else None


def _qualifier(text: str) -> str:
    m = _QUALIFIER_RE.search(text)
    return m.group(0) if m and m.group(0) not in ("口", "内") else ""


def norm_name(text: object) -> str:
    """Return a road or compound name for lookups: folded, lower case, no spaces or punctuation."""
    return fold_text(text).lower().translate(_DROP)


def parse_housenumber(value: object) -> list[tuple[int | None, int, str]]:
    """OSM ``addr:housenumber`` values as ``(lane, number, suffix)`` tuples.

    ``12`` -> [(None, 12, "")]; ``2065弄12号`` -> [(2065, 12, "")]; ``194-196`` -> 194 and 196
    (every number of that parity, at most 20); ``101, 103`` -> both; ``12甲`` -> suffix 甲;
    ``222弄`` -> [(None, 222, "")] (a lane entrance is numbered like a house on its road).
    """
    s = fold_text(value).replace(" ", "")
    out: list[tuple[int | None, int, str]] = []
    for part in re.split(r"[,;，;、/]", s):
        m = re.fullmatch(
            r"(?:(\d+)弄)?(\d+)(?:[-~至](\d+))?([甲乙丙丁])?(?:号|弄)?([甲乙丙丁])?(?:号)?", part
        )
        if not m:
            continue
        lane, a, b = _int(m.group(1)), int(m.group(2)), _int(m.group(3))
        suf = m.group(4) or m.group(5) or ""
        if b is not None and b > a and (b - a) % 2 == 0 and (b - a) <= 40:
            out.extend((lane, k, "") for k in range(a, b + 1, 2))
        else:
            out.append((lane, a, suf))
    return out


def split_street(value: object) -> tuple[str, int | None]:
    """OSM ``addr:street`` as (road, lane): ``定西路 710 弄`` -> (定西路, 710)."""
    s = norm_name(value)
    m = re.fullmatch(rf"({_ROAD})(\d+)弄", s)
    if m:
        return m.group(1), int(m.group(2))
    return s, None


# -------------------------------------------------------------------------------------------
# the index
# -------------------------------------------------------------------------------------------
@dataclass
class Place:
    """A located thing of the index (metres): an address, lane or compound."""

    x: float
    y: float
    radius: float
    ref: str
    name: str = ""


@dataclass
class Road:
    """A named road near the area (metres): all its pieces, its axis and the part inside."""

    name: str
    lines: Any  # (Multi)LineString, metres, within the index zone
    axis: Any  # LineString along the road (dual carriageways reduced to one)
    inside: Any  # LineString: the axis clipped to the area (None when the road only passes by)
    refs: list[str] = field(default_factory=list)
    anchors: list[tuple[int, float, float, str]] = field(default_factory=list)  # (n, s, off, ref)


@dataclass
class Placement:
    """Where an address was placed (WGS-84), how precisely, and why."""

    precision: str
    lon: float = math.nan
    lat: float = math.nan
    uncertainty_m: float = math.nan
    matched: str = ""
    ref: str = ""
    note: str = ""

    @property
    def placed(self) -> bool:
        """True when there is a point."""
        return not math.isnan(self.lon)


class AddressIndex:
    """One area's roads, address anchors, lanes and compounds, for :meth:`locate`.

    Parameters
    ----------
    boundary
        The area polygon, WGS-84.
    data
        A :class:`geo.io.osm.OsmData` (ways with ``highway`` + ``name``; any element with
        ``addr:street`` + ``addr:housenumber``; named residential areas and places).
    buffer_m
        Things this far outside the area are indexed too (addresses near the edge).
    name
        The area's id, used in notes.
    """

    def __init__(
        self,
        boundary: BaseGeometry,
        data: OsmData,
        *,
        buffer_m: float = INDEX_BUFFER_M,
        name: str = "",
    ) -> None:
        self.name = name
        self._fwd = Transformer.from_crs(settings.STORAGE_CRS, settings.PROJECTED_CRS,
                                         always_xy=True)  # fmt: skip
        self._inv = Transformer.from_crs(settings.PROJECTED_CRS, settings.STORAGE_CRS,
                                         always_xy=True)  # fmt: skip
        self.area = self._project(boundary)
        self.zone = shapely.buffer(self.area, buffer_m)
        shapely.prepare(self.zone)
        self.roads: dict[str, Road] = {}
        self.roads_en: dict[str, str] = {}
        self.addresses: dict[tuple[str, int | None, int | None, int, str], Place] = {}
        self.lanes: dict[tuple[str, int], Place] = {}
        self.compounds: dict[str, Place] = {}
        self._names: list[str] | None = None
        self._build(data)

    # -- construction ---------------------------------------------------------------------
    def _project(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(
            geom, lambda c: np.column_stack(self._fwd.transform(c[:, 0], c[:, 1]))
        )

    def _build(self, data: OsmData) -> None:
        parts: dict[str, list[Any]] = {}
        refs: dict[str, list[str]] = {}
        lane_pts: dict[tuple[str, int], list[tuple[float, float, str]]] = {}
        for way in data.ways:
            tags = way.tags
            geom = None
            if "highway" in tags:
                names = [tags[k] for k in ("name", "name:zh") if tags.get(k)]
                for nm in dict.fromkeys(norm_name(n) for n in names):
                    road, lane = split_street(nm)
                    geom = geom if geom is not None else self._project(
                        shapely.LineString(way.coords))  # fmt: skip
                    if not geom.intersects(self.zone):
                        break
                    if lane is not None:
                        mid = geom.interpolate(0.5, normalized=True)
                        half = geom.length / 2.0
                        self.lanes.setdefault(
                            (road, lane), Place(mid.x, mid.y, half, f"way/{way.id}", nm)
                        )
                        continue  # fmt: skip
                    if not _ROAD_RE.fullmatch(nm):
                        continue
                    parts.setdefault(nm, []).append(geom.intersection(self.zone))
                    refs.setdefault(nm, []).append(f"way/{way.id}")
                    en = norm_en(tags.get("name:en", ""))
                    if en:
                        self.roads_en.setdefault(en, nm)
                continue
            self._add_feature(tags, lambda w=way: shapely.Polygon(w.coords) if w.closed
                              else shapely.LineString(w.coords), f"way/{way.id}",
                              lane_pts)  # fmt: skip
        for pt in data.points:
            self._add_feature(pt.tags, lambda p=pt: shapely.Point(p.lon, p.lat),
                              f"{pt.osm_type}/{pt.id}", lane_pts)  # fmt: skip
        for key, pts in lane_pts.items():
            if key not in self.lanes:
                xs = np.array([p[0] for p in pts])
                ys = np.array([p[1] for p in pts])
                cx, cy = float(xs.mean()), float(ys.mean())
                r = float(np.hypot(xs - cx, ys - cy).max()) + ADDRESS_NODE_M
                self.lanes[key] = Place(cx, cy, r, pts[0][2], f"{key[0]}{key[1]}弄")
        for nm, geoms in parts.items():
            lines = shapely.line_merge(shapely.union_all([g for g in geoms if not g.is_empty]))
            if lines.is_empty:
                continue
            axis = road_axis(lines)
            inside = axis.intersection(self.area)
            inside_axis = road_axis(inside) if not inside.is_empty and inside.length > 0 else None
            self.roads[nm] = Road(nm, lines, axis, inside_axis, refs.get(nm, []))
        for (road, lane, sub, num, _suf), place in self.addresses.items():
            if lane is None and sub is None and road in self.roads:
                self._anchor(self.roads[road], num, place)
        for (road, lane), place in self.lanes.items():
            if road in self.roads:  # a lane's entrance is numbered like a house on its road
                ent = self._lane_entrance(self.roads[road], place)
                self._anchor(self.roads[road], lane, ent)
        for road_obj in self.roads.values():
            road_obj.anchors.sort()

    def _add_feature(
        self,
        tags: Mapping[str, str],
        geom_fn: Callable[..., BaseGeometry],  # called without arguments
        ref: str,
        lane_pts: dict[tuple[str, int], list[tuple[float, float, str]]],
    ) -> None:
        street = tags.get("addr:street")
        number = tags.get("addr:housenumber")
        name = tags.get("name")
        compound = name and (
            tags.get("landuse") == "residential"
            or tags.get("place") in ("neighbourhood", "quarter", "suburb", "village")
            or tags.get("residential") is not None
        )
        if not (street and number) and not compound:
            return
        geom = self._project(geom_fn())
        if geom.is_empty or not geom.intersects(self.zone):
            return
        if geom.geom_type == "Polygon" and not geom.is_valid:
            geom = shapely.make_valid(geom)
        pt = shapely.point_on_surface(geom) if geom.geom_type != "Point" else geom
        c = shapely.get_coordinates(geom)
        radius = max(float(np.hypot(c[:, 0] - pt.x, c[:, 1] - pt.y).max()), ADDRESS_NODE_M)
        if compound:
            self.compounds.setdefault(norm_name(name), Place(pt.x, pt.y, radius, ref, str(name)))
        if street and number:
            road, street_lane = split_street(street)
            for lane, num, suf in parse_housenumber(number):
                lane = lane if lane is not None else street_lane
                key = (road, lane, None, num, suf)
                self.addresses.setdefault(key, Place(pt.x, pt.y, radius, ref, f"{street} {number}"))
                if suf:
                    self.addresses.setdefault(
                        (road, lane, None, num, ""),
                        Place(pt.x, pt.y, radius, ref, f"{street} {number}"),
                    )
                if lane is not None:
                    lane_pts.setdefault((road, lane), []).append((pt.x, pt.y, ref))

    def _lane_entrance(self, road: Road, lane: Place) -> Place:
        """Where a lane meets its road: the road point nearest the lane's middle."""
        s = road.axis.project(shapely.Point(lane.x, lane.y))
        foot = road.axis.interpolate(s)
        return Place(foot.x, foot.y, lane.radius, lane.ref, lane.name)

    def _anchor(self, road: Road, number: int, place: Place) -> None:
        s, off = _station(road.axis, place.x, place.y)
        road.anchors.append((number, s, off, place.ref))

    # -- lookups --------------------------------------------------------------------------
    def road(self, parsed: ParsedAddress) -> Road | None:
        """Return the index road of an address (Chinese name, else its English name), or None."""
        if parsed.road:
            return self.roads.get(norm_name(parsed.road))
        if parsed.road_en:
            nm = self.roads_en.get(norm_en(parsed.road_en))
            return self.roads.get(nm) if nm else None
        return None

    def locate(self, parsed: ParsedAddress) -> Placement:
        """Place a parsed address at the best level the index supports.

        Returns
        -------
        Placement
            WGS-84 point, :data:`PRECISIONS` label, ``uncertainty_m``, what was matched and a
            note saying why a better level was not possible.
        """
        road = self.road(parsed)
        if road is None and not parsed.road_en and not parsed.cross_road:
            known = with_known_road(parsed, self._street_names())
            if known is not None:
                parsed, road = known, self.road(known)
        if parsed.problem:
            return Placement("area", note=parsed.problem)
        road_label = parsed.road or parsed.road_en
        why: list[str] = []
        extra = QUALIFIER_M if parsed.qualifier else 0.0
        if road is None and road_label:
            why.append(f"road '{road_label}' not in the OSM data of {self.name or 'the area'}")
        # OSM addresses and lanes are found by the road's name, even where the road itself
        # is not mapped as a named highway
        rn = road.name if road is not None else norm_name(parsed.road)
        if rn and parsed.number is not None:
            key = (rn, parsed.lane, parsed.sublane, parsed.number, parsed.suffix)
            alt = (rn, parsed.lane, parsed.sublane, parsed.number, "")
            hit = self.addresses.get(key) or self.addresses.get(alt)
            if hit is not None:
                return self._out("address", hit.x, hit.y, hit.radius + extra,
                                 hit.name, hit.ref, "OSM address")  # fmt: skip
        if rn and parsed.lane is not None:
            lane = self.lanes.get((rn, parsed.lane))
            if lane is not None:
                return self._out("compound", lane.x, lane.y, lane.radius + extra,
                                 f"{rn}{parsed.lane}弄", lane.ref,
                                 "the lane (弄) in OSM, not the number in it")  # fmt: skip
        if road is not None:
            number = parsed.lane if parsed.lane is not None else parsed.number
            if number is not None:
                if parsed.lane is not None:
                    extra += LANE_DEPTH_M
                if parsed.lane is not None or parsed.sublane is not None:
                    hit = self.addresses.get((rn, None, None, number, ""))
                    if hit is not None:
                        return self._out("address", hit.x, hit.y, hit.radius + extra,
                                         hit.name, hit.ref,
                                         f"OSM address {number} (the lane's entrance)")  # fmt: skip
                res = self._interpolate(road, number, opposite=parsed.qualifier in _OPPOSITE)
                if res is not None:
                    x, y, unc, note = res
                    return self._out("interpolated", x, y, unc + extra, f"{rn}{number}号", "",
                                     note)  # fmt: skip
                why.append(f"no two OSM addresses of the same parity around {rn} {number}")
            if parsed.cross_road:
                other = self.roads.get(norm_name(parsed.cross_road))
                if other is not None:
                    res2 = _crossing(road, other, self.area)
                    if res2 is not None:
                        x, y, unc = res2
                        return self._out(
                            "intersection",
                            x,
                            y,
                            unc + extra,
                            f"{rn} × {other.name}",
                            "",
                            "where the roads meet",
                        )
                    why.append(f"{rn} and {other.name} do not meet in the OSM data")  # fmt: skip
                else:
                    why.append(f"road '{parsed.cross_road}' not in the OSM data")
        if parsed.compound:
            place = self._compound(parsed.compound)
            if place is not None:
                return self._out("compound", place.x, place.y, place.radius + extra,
                                 place.name, place.ref, "named compound in OSM")  # fmt: skip
            why.append(f"compound '{parsed.compound}' not in the OSM data")
        if road is not None:
            line = road.inside if road.inside is not None else road.axis
            where = "inside the area" if road.inside is not None else "near the area"
            mid = line.interpolate(0.5, normalized=True)
            note = f"middle of {road.name} {where}"
            if why:
                note += "; " + "; ".join(why)
            return self._out("street", mid.x, mid.y, line.length / 2.0, road.name,
                             ",".join(road.refs[:5]), note)  # fmt: skip
        return Placement("area", note="; ".join(why) or "nothing to place")

    def _street_names(self) -> list[str]:
        """Every road name the index knows: named highways and ``addr:street`` values."""
        if self._names is None:
            names = set(self.roads) | {k[0] for k in self.addresses} | {k[0] for k in self.lanes}
            self._names = sorted(names, key=len, reverse=True)
        return self._names

    def _compound(self, name: str) -> Place | None:
        key = norm_name(name)
        if key in self.compounds:
            return self.compounds[key]
        if not self.compounds:
            return None
        from rapidfuzz import fuzz, process

        best = process.extractOne(key, list(self.compounds), scorer=fuzz.ratio,
                                  score_cutoff=COMPOUND_MIN_SCORE)  # fmt: skip
        return self.compounds[best[0]] if best else None

    def _interpolate(
        self, road: Road, number: int, *, opposite: bool = False
    ) -> tuple[float, float, float, str] | None:
        same = [a for a in road.anchors if a[0] % 2 == number % 2]
        below = [a for a in same if a[0] < number]
        above = [a for a in same if a[0] > number]
        if not below or not above:
            return None
        lo = max(below, key=lambda a: a[0])
        hi = min(above, key=lambda a: a[0])
        t = (number - lo[0]) / (hi[0] - lo[0])
        s = lo[1] + t * (hi[1] - lo[1])
        off = lo[2] + t * (hi[2] - lo[2])
        if opposite:
            off = -off
        x, y = _offset_point(road.axis, s, off)
        unc = max(MIN_INTERPOLATED_M, abs(hi[1] - lo[1]) / 4.0)
        side = "odd" if number % 2 else "even"
        note = (f"between {road.name} {lo[0]} and {hi[0]} ({side} side, OSM {lo[3]}, {hi[3]})"
                + ("; across the road (对面)" if opposite else ""))  # fmt: skip
        return x, y, unc, note

    def _out(
        self, precision: str, x: float, y: float, unc: float, matched: str, ref: str, note: str
    ) -> Placement:
        lon, lat = self._inv.transform(x, y)
        return Placement(precision, float(lon), float(lat), round(float(unc), 1), matched, ref,
                         note)  # fmt: skip

    def distance_to_road(self, parsed: ParsedAddress, lon: float, lat: float) -> float | None:
        """Metres from a WGS-84 point to the address's road (None when the road is unknown)."""
        road = self.road(parsed)
        if road is None:
            return None
        x, y = self._fwd.transform(lon, lat)
        return float(road.lines.distance(shapely.Point(x, y)))


def norm_en(text: object) -> str:
    """Return an English road name for lookups: lower case, single spaces, Rd -> road."""
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text or "")).strip().lower())
    words = s.split(" ")
    if words and words[-1] in _EN_KIND:
        words[-1] = _EN_KIND[words[-1]]
    return " ".join(w for w in words if w)


# -------------------------------------------------------------------------------------------
# geometry helpers (metres)
# -------------------------------------------------------------------------------------------
def road_axis(lines: BaseGeometry) -> Any:
    """One LineString along a road made of several pieces (metres).

    Pieces are ordered along the road's main direction (first principal axis of its vertices);
    a piece lying mostly beside one already taken (the other carriageway) is left out; the
    rest are joined end to start.
    """
    pieces = [g for g in getattr(lines, "geoms", [lines]) if g.length > 0]
    if not pieces:
        return shapely.LineString()
    if len(pieces) == 1:
        return pieces[0]
    pts = shapely.get_coordinates(lines)
    center = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - center, full_matrices=False)
    d = vt[0]
    taken: list[tuple[float, float, Any]] = []
    for g in sorted(pieces, key=lambda g: -g.length):
        c = shapely.get_coordinates(g)
        proj = (c - center) @ d
        lo, hi = float(proj.min()), float(proj.max())
        overlap = sum(max(0.0, min(hi, b) - max(lo, a)) for a, b, _ in taken)
        if overlap > 0.5 * max(hi - lo, 1e-9):
            continue
        if proj[0] > proj[-1]:
            g = shapely.reverse(g)
        taken.append((lo, hi, g))
    taken.sort(key=lambda t: t[0])
    coords = np.vstack([shapely.get_coordinates(t[2]) for t in taken])
    return shapely.LineString(coords)


def _station(axis: BaseGeometry, x: float, y: float) -> tuple[float, float]:
    """(distance along ``axis``, signed offset: + left of the direction of travel) of a point."""
    p = shapely.Point(x, y)
    s = float(axis.project(p))
    tx, ty = _tangent(axis, s)
    foot = axis.interpolate(s)
    dx, dy = x - foot.x, y - foot.y
    side = tx * dy - ty * dx
    return s, float(math.copysign(math.hypot(dx, dy), side))


def _tangent(axis: BaseGeometry, s: float) -> tuple[float, float]:
    a = axis.interpolate(max(s - 1.0, 0.0))
    b = axis.interpolate(min(s + 1.0, axis.length))
    dx, dy = b.x - a.x, b.y - a.y
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def _offset_point(axis: BaseGeometry, s: float, off: float) -> tuple[float, float]:
    foot = axis.interpolate(s)
    tx, ty = _tangent(axis, s)
    return float(foot.x - ty * off), float(foot.y + tx * off)


def _crossing(
    a: Road, b: Road, area: BaseGeometry | None = None
) -> tuple[float, float, float] | None:
    """Where two roads meet (metres) and an uncertainty; None when they do not meet.

    Roads may meet more than once (dual carriageways give 2-4 points a few metres apart; a
    curved road may cross twice far apart): the points within 150 m of the one nearest the
    area are averaged. Roads whose closest points are at most :data:`MAX_CROSSING_GAP_M`
    apart (a gap in the data) meet half-way.
    """
    from shapely.ops import nearest_points

    inter = a.lines.intersection(b.lines)
    pts = shapely.get_coordinates(inter) if not inter.is_empty else np.empty((0, 2))
    if len(pts):
        if area is not None:
            d = shapely.distance(area, shapely.points(pts))
            first = pts[int(np.argmin(d))]
        else:
            first = pts[0]
        pts = pts[np.hypot(pts[:, 0] - first[0], pts[:, 1] - first[1]) <= 150.0]
        cx, cy = pts.mean(axis=0)
        spread = float(np.hypot(pts[:, 0] - cx, pts[:, 1] - cy).max())
        return float(cx), float(cy), max(MIN_CROSSING_M, spread)
    pa, pb = nearest_points(a.lines, b.lines)
    gap = float(pa.distance(pb))
    if gap > MAX_CROSSING_GAP_M:
        return None
    return (pa.x + pb.x) / 2.0, (pa.y + pb.y) / 2.0, max(MIN_CROSSING_M, gap / 2.0 + MIN_CROSSING_M)


def locate_many(
    index: AddressIndex, texts: Iterable[object]
) -> list[tuple[ParsedAddress, Placement]]:
    """Parse and place many addresses (one ``cpca`` call for all)."""
    parsed = parse_addresses(list(texts))
    return [(p, index.locate(p)) for p in parsed]
