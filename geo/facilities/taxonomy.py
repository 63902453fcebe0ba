"""Facility taxonomy: service categories, thresholds, OSM/Geofabrik rules and plan keywords.

The taxonomy lives in ``data/facilities/taxonomy.yaml`` (data, not code). :func:`load_taxonomy`
reads and validates it; the :class:`Taxonomy` classifies OSM tags, Geofabrik ``fclass`` values
and Chinese names, and carries the extraction lexicon used by :mod:`geo.plans`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from geo import settings
from geo._errors import LifeCircleError
from geo.io.tables import TIERS
from geo.io.validate import THRESHOLD_RANGE_M

if TYPE_CHECKING:
    import pandas as pd

#: Default taxonomy file.
TAXONOMY_FILE: Path = settings.PROJECT_DATA_DIR / "facilities" / "taxonomy.yaml"

EVIDENCE: tuple[str, ...] = ("verified", "unverified")
ACTIONS: tuple[str, ...] = ("new", "upgrade", "existing")

_CATEGORY_REQUIRED = (
    "label_zh",
    "label_en",
    "tier",
    "threshold_m",
    "threshold_source",
    "threshold_evidence",
    "osm_tags",
    "fclasses",
    "keywords",
)
_CATEGORY_OPTIONAL = (
    "threshold_row",
    "threshold_note",
    "keyword_patterns",
    "exclude",
    "osm_exclude",
    "name_priority",
    "classify_by_name",
)
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_BRACKETS = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
# what may follow the head keyword of a facility name: a branch / part / number
_BRANCH_TAIL = re.compile(
    r"(?:[东西南北中]?(?:分院|分中心|分馆|分店|分部|院区|校区|部|站|点|馆|所))|"
    r"(?:[一二三四五六七八九十\d]+[号期])"
)


@dataclass(frozen=True)
class Category:
    """One service category of the life circle. Thresholds in metres of walking."""

    key: str
    label_zh: str
    label_en: str
    tier: int
    threshold_m: float
    threshold_source: str
    threshold_evidence: str
    osm_tags: tuple[dict[str, Any], ...]
    fclasses: tuple[str, ...]
    keywords: tuple[str, ...]
    keyword_patterns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    osm_exclude: tuple[dict[str, Any], ...] = ()
    name_priority: bool = False
    classify_by_name: bool = False
    threshold_row: dict[str, str] | None = None
    threshold_note: str = ""

    @property
    def label(self) -> str:
        """Bilingual label, Chinese first."""
        return f"{self.label_zh} {self.label_en}"

    def matches_tags(self, tags: Mapping[str, str]) -> bool:
        """Return True when any OSM tag rule matches and no exclusion rule does."""
        if not any(_rule_matches(rule, tags) for rule in self.osm_tags):
            return False
        return not any(_rule_matches(rule, tags) for rule in self.osm_exclude)


@dataclass(frozen=True)
class Lexicon:
    """Word lists and patterns of the plan extractor (all from the taxonomy file)."""

    user_words: tuple[str, ...]
    generic_modifiers: frozenset[str]
    in_area_markers: tuple[str, ...]
    actions: dict[str, tuple[str, ...]]
    action_patterns: dict[str, tuple[str, ...]]
    neutral: tuple[str, ...]
    post_verbs: dict[str, str]
    in_progress_verbs: tuple[str, ...]
    negations: tuple[str, ...]
    stop_words: frozenset[str]
    stop_pos: frozenset[str]
    name_suffixes: tuple[str, ...]
    role_suffixes: tuple[str, ...]
    modifier_exceptions: tuple[str, ...]
    non_facility_heads: tuple[str, ...]
    example_open: tuple[str, ...]
    example_close: tuple[str, ...]
    out_of_area_sentence: tuple[str, ...]
    out_of_area_clause: tuple[str, ...]
    wider_area_names: tuple[str, ...]
    review_headings: tuple[str, ...]
    heading_top: str
    heading_sub: str
    heading_item: str
    numerals: str
    units: tuple[str, ...]
    road_pattern: str
    lane_pattern: str
    road_stoplist: frozenset[str]
    admin_prefix_pattern: str
    name_chars: str
    list_separators: tuple[str, ...]
    terminators: str
    # head-noun mechanism (optional in the file: an empty mechanism is the keyword extractor)
    head_nouns: dict[str, str | None] = field(default_factory=dict)
    head_cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    head_stop_pos: frozenset[str] = frozenset()
    head_not_before: tuple[str, ...] = ()
    generic_modifier_patterns: tuple[str, ...] = ()
    completion_verbs: tuple[str, ...] = ()
    out_of_area_patterns: tuple[str, ...] = ()
    brand_default_category: str | None = None
    brand_heads: tuple[str, ...] = ()
    place_heads: tuple[str, ...] = ()
    out_of_area_not_before: str = ""


@dataclass(frozen=True)
class KeywordHit:
    """A category keyword found in a text: ``text[start:end]`` is the keyword."""

    start: int
    end: int
    keyword: str
    category: str
    name: str | None = None  # a pattern's ``name`` group (e.g. a metro station)


@dataclass
class Taxonomy:
    """The validated taxonomy: ordered categories plus the extraction lexicon."""

    categories: dict[str, Category]
    lexicon: Lexicon
    path: Path | None = None
    version: int = 1
    _fclass_map: dict[str, str] = field(default_factory=dict, repr=False)
    _keyword_re: re.Pattern[str] | None = field(default=None, repr=False)
    _keyword_cat: dict[str, str] = field(default_factory=dict, repr=False)
    _exclude_re: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for cat in self.categories.values():
            for fc in cat.fclasses:
                self._fclass_map.setdefault(fc, cat.key)
            for kw in cat.keywords:
                self._keyword_cat[kw] = cat.key
            if cat.exclude:
                self._exclude_re[cat.key] = re.compile(
                    "|".join(re.escape(x) for x in sorted(cat.exclude, key=len, reverse=True))
                )
        parts = []
        for kw in sorted(self._keyword_cat, key=len, reverse=True):
            parts.append(re.escape(kw))
        self._keyword_re = re.compile("|".join(parts))

    # -- lookups ----------------------------------------------------------------------------
    def category(self, key: str) -> Category:
        """Return a category or raise naming the known keys."""
        try:
            return self.categories[key]
        except KeyError:
            known = ", ".join(self.categories)
            raise LifeCircleError(
                f"unknown facility category '{key}'; known categories: {known}", path=self.path
            ) from None

    @property
    def keys(self) -> list[str]:
        """Category keys in taxonomy order."""
        return list(self.categories)

    def thresholds(self) -> dict[str, float]:
        """Return walking threshold per category (metres)."""
        return {k: c.threshold_m for k, c in self.categories.items()}

    # -- classification ---------------------------------------------------------------------
    def classify_tags(self, tags: Mapping[str, str]) -> str | None:
        """Return the first category (taxonomy order) whose OSM tag rules match, or None."""
        for cat in self.categories.values():
            if cat.matches_tags(tags):
                return cat.key
        return None

    def classify_fclass(self, fclass: str | None) -> str | None:
        """Return the category of a Geofabrik ``fclass`` value, or None."""
        if not fclass:
            return None
        return self._fclass_map.get(str(fclass))

    def keyword_hits(self, text: str) -> list[KeywordHit]:
        """Category keywords and keyword patterns in ``text`` (longest first, no overlaps).

        Hits inside a category's ``exclude`` phrases (慈善超市, 花园社区 ...) are dropped.
        """
        hits: list[KeywordHit] = []
        assert self._keyword_re is not None
        for m in self._keyword_re.finditer(text):
            hits.append(KeywordHit(m.start(), m.end(), m.group(0), self._keyword_cat[m.group(0)]))
        for cat in self.categories.values():
            for pat in cat.keyword_patterns:
                for m in re.finditer(pat, text):
                    name = m.groupdict().get("name")
                    s, e = (m.start("name"), m.end("name")) if name else (m.start(), m.end())
                    hits.append(KeywordHit(s, e, m.group(0), cat.key, name))
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        out: list[KeywordHit] = []
        for h in hits:
            if out and h.start < out[-1].end:
                continue  # overlaps a longer/earlier hit
            ex = self._exclude_re.get(h.category)
            if ex is not None and any(
                m.start() <= h.start and h.end <= m.end()
                for m in ex.finditer(text, max(0, h.start - 8), min(len(text), h.end + 8))
            ):
                continue
            out.append(h)
        return out

    def classify_name(self, text: str | None, *, head_only: bool = False) -> str | None:
        """Return the category a Chinese name or phrase belongs to, from its keywords, or None.

        The keyword that ends last wins: in Chinese the head noun comes last
        (睦邻中心运动小站 is a sports facility). With ``head_only`` the keyword must end the
        name (bracketed notes and a branch suffix aside): 老年活动中心旁绿色开放空间 is not
        an elderly-care facility.
        """
        if not text:
            return None
        name = str(text)
        hits = self.keyword_hits(name)
        if not hits:
            return None
        best = max(hits, key=lambda h: (h.end, h.end - h.start))
        if head_only:
            tail = _BRACKETS.sub("", name[best.end :]).strip()
            if tail and not _BRANCH_TAIL.fullmatch(tail):
                return None
        return best.category

    def classify_feature(
        self,
        tags: Mapping[str, str] | None = None,
        name: str | None = None,
        fclass: str | None = None,
    ) -> str | None:
        """Category of an OSM feature from its tags or Geofabrik class, refined by its name.

        A name keyword overrides the tag category for categories with ``name_priority``
        (a restaurant named 社区食堂 is a meal service); a name alone classifies a feature
        only for categories with ``classify_by_name`` and only when the feature carries a
        facility-like key (amenity, shop, office, ...), never a plain residential compound.
        """
        by_tags = self.classify_tags(tags) if tags else None
        if by_tags is None and fclass:
            by_tags = self.classify_fclass(fclass)
        by_name = self.classify_name(name, head_only=True)
        if by_name is not None:
            cat = self.categories[by_name]
            if cat.name_priority and by_tags != by_name:
                facility_like = fclass is not None or (tags is not None and _facility_like(tags))
                if facility_like:
                    return by_name
            if by_tags is None and cat.classify_by_name:
                facility_like = fclass is not None or (tags is not None and _facility_like(tags))
                if facility_like:
                    return by_name
        return by_tags


# ------------------------------------------------------------------------------------------
# rule matching
# ------------------------------------------------------------------------------------------
#: Keys that make an OSM feature a facility candidate for name-based classification.
FACILITY_KEYS: tuple[str, ...] = (
    "amenity",
    "shop",
    "office",
    "healthcare",
    "social_facility",
    "leisure",
    "club",
    "community_centre",
)
_RESIDENTIAL = frozenset({"residential", "apartments", "house", "dormitory"})


def _facility_like(tags: Mapping[str, str]) -> bool:
    if tags.get("landuse") == "residential" or tags.get("building") in _RESIDENTIAL:
        return any(k in tags for k in ("amenity", "shop", "office", "healthcare"))
    return any(k in tags for k in FACILITY_KEYS)


def _rule_matches(rule: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    for key, want in rule.items():
        have = tags.get(key)
        if have is None:
            return False
        if want == "*":
            continue
        if isinstance(want, list | tuple):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


# ------------------------------------------------------------------------------------------
# loading and validation
# ------------------------------------------------------------------------------------------
def load_taxonomy(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """Load and validate the facility taxonomy.

    Parameters
    ----------
    path
        YAML file; default ``data/facilities/taxonomy.yaml``.

    Returns
    -------
    Taxonomy
        Ordered categories (``.categories``) and the extraction lexicon (``.lexicon``).
    """
    path = Path(path) if path else TAXONOMY_FILE
    if not path.exists():
        raise LifeCircleError("facility taxonomy not found", path=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise LifeCircleError("taxonomy is not UTF-8", path=path) from None
    except RecursionError:
        raise LifeCircleError("YAML nested too deeply to read", path=path) from None
    except yaml.YAMLError as exc:
        raise LifeCircleError(f"malformed YAML: {exc}".replace("\n", " "), path=path) from None
    return taxonomy_from_dict(raw, path=path)


def taxonomy_from_dict(raw: Any, path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """Validate a parsed taxonomy mapping (the YAML document) and build a :class:`Taxonomy`."""
    where = Path(path) if path is not None else "taxonomy"
    if not isinstance(raw, dict):
        raise LifeCircleError("expected a mapping with 'categories' and 'lexicon'", path=where)
    cats_raw = raw.get("categories")
    if not isinstance(cats_raw, dict) or not cats_raw:
        raise LifeCircleError("expected a non-empty 'categories' mapping", path=where)
    categories: dict[str, Category] = {}
    seen_kw: dict[str, str] = {}
    for key, entry in cats_raw.items():
        cat = _category_from_entry(str(key), entry, where)
        for kw in cat.keywords:
            if kw in seen_kw:
                raise LifeCircleError(
                    f"keyword '{kw}' is listed in both '{seen_kw[kw]}' and '{cat.key}'",
                    path=where,
                    record=f"category '{cat.key}'",
                )
            seen_kw[kw] = cat.key
        categories[cat.key] = cat
    lexicon = _lexicon_from_entry(raw.get("lexicon"), where, categories)
    return Taxonomy(
        categories, lexicon, Path(path) if path is not None else None, int(raw.get("version", 1))
    )


def _fail(msg: str, where: object, key: str) -> LifeCircleError:
    return LifeCircleError(msg, path=where, record=f"category '{key}'")


def _str_list(
    value: Any, what: str, where: object, key: str, *, allow_empty: bool = True
) -> tuple[str, ...]:
    if value is None and allow_empty:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(f"'{what}' must be a list of non-empty strings", where, key)
    if not value and not allow_empty:
        raise _fail(f"'{what}' must not be empty", where, key)
    return tuple(value)


def _tag_rules(value: Any, what: str, where: object, key: str) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(f"'{what}' must be a list of tag mappings", where, key)
    rules = []
    for i, rule in enumerate(value):
        if not isinstance(rule, dict) or not rule:
            raise _fail(f"'{what}' rule {i + 1} must be a non-empty mapping tag: value", where, key)
        clean: dict[str, Any] = {}
        for k, v in rule.items():
            if isinstance(v, bool):  # YAML turned yes/no into a boolean
                raise _fail(
                    f"'{what}' rule {i + 1}: quote the value of '{k}' (\"yes\"/\"no\")", where, key
                )
            if isinstance(v, list):
                if not all(isinstance(x, str | int) and not isinstance(x, bool) for x in v):
                    raise _fail(
                        f"'{what}' rule {i + 1}: values of '{k}' must be strings", where, key
                    )
                clean[str(k)] = [str(x) for x in v]
            elif isinstance(v, str | int):
                clean[str(k)] = str(v)
            else:
                raise _fail(
                    f"'{what}' rule {i + 1}: value of '{k}' must be a string, a list or \"*\"",
                    where,
                    key,
                )
        rules.append(clean)
    return tuple(rules)


def _category_from_entry(key: str, entry: Any, where: object) -> Category:
    if not _KEY_RE.match(key):
        raise _fail("category key must be lower-case ascii (letters, digits, _)", where, key)
    if not isinstance(entry, dict):
        raise _fail("category entry must be a mapping", where, key)
    missing = [k for k in _CATEGORY_REQUIRED if k not in entry]
    if missing:
        raise _fail(f"missing {', '.join(missing)}", where, key)
    unknown = sorted(set(entry) - set(_CATEGORY_REQUIRED) - set(_CATEGORY_OPTIONAL))
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(unknown)}", where, key)
    tier = entry["tier"]
    if isinstance(tier, bool) or tier not in TIERS:
        raise _fail(
            f"tier must be one of {', '.join(map(str, TIERS))} (minutes), got {tier!r}", where, key
        )
    thr = entry["threshold_m"]
    lo, hi = THRESHOLD_RANGE_M  # finite, (0, 5000] m: .inf would cover everyone, .nan no one
    if isinstance(thr, bool) or not isinstance(thr, int | float) or not lo < thr <= hi:
        raise _fail(
            f"threshold_m must be a positive number of metres, in ({lo:g}, {hi:g}], got {thr!r}",
            where,
            key,
        )
    ev = entry["threshold_evidence"]
    if ev not in EVIDENCE:
        raise _fail(
            f"threshold_evidence must be 'verified' or 'unverified', got {ev!r}", where, key
        )
    src = entry["threshold_source"]
    if not isinstance(src, str) or not src.strip():
        raise _fail("threshold_source must name the standard the threshold comes from", where, key)
    for lab in ("label_zh", "label_en"):
        if not isinstance(entry[lab], str) or not entry[lab].strip():
            raise _fail(f"{lab} must be a non-empty string", where, key)
    row = entry.get("threshold_row")
    if row is not None and (
        not isinstance(row, dict) or not {"standard", "level", "item"} <= set(row)
    ):
        raise _fail("threshold_row must have standard, level and item", where, key)
    patterns = _str_list(entry.get("keyword_patterns"), "keyword_patterns", where, key)
    for pat in patterns:
        try:
            re.compile(pat)
        except re.error as exc:
            raise _fail(
                f"keyword pattern {pat!r} is not a valid regex: {exc}", where, key
            ) from None
    return Category(
        key=key,
        label_zh=entry["label_zh"].strip(),
        label_en=entry["label_en"].strip(),
        tier=int(tier),
        threshold_m=float(thr),
        threshold_source=" ".join(src.split()),
        threshold_evidence=ev,
        osm_tags=_tag_rules(entry["osm_tags"], "osm_tags", where, key),
        fclasses=_str_list(entry["fclasses"], "fclasses", where, key),
        keywords=_str_list(entry["keywords"], "keywords", where, key, allow_empty=False),
        keyword_patterns=patterns,
        exclude=_str_list(entry.get("exclude"), "exclude", where, key),
        osm_exclude=_tag_rules(entry.get("osm_exclude"), "osm_exclude", where, key),
        name_priority=bool(entry.get("name_priority", False)),
        classify_by_name=bool(entry.get("classify_by_name", False)),
        threshold_row={k: str(v) for k, v in row.items()} if row else None,
        threshold_note=" ".join(str(entry.get("threshold_note") or "").split()),
    )


_LEXICON_LISTS = (
    "user_words",
    "generic_modifiers",
    "in_area_markers",
    "in_progress_verbs",
    "negations",
    "stop_words",
    "stop_pos",
    "name_suffixes",
    "role_suffixes",
    "modifier_exceptions",
    "non_facility_heads",
    "example_open",
    "example_close",
    "out_of_area_sentence",
    "out_of_area_clause",
    "wider_area_names",
    "review_headings",
    "units",
    "road_stoplist",
    "list_separators",
)
_LEXICON_PATTERNS = (
    "heading_top",
    "heading_sub",
    "heading_item",
    "road_pattern",
    "lane_pattern",
    "admin_prefix_pattern",
)
_LEXICON_STRINGS = ("numerals", "name_chars", "terminators")


def _lexicon_from_entry(
    entry: Any, where: object, _known_categories: Mapping[str, Any] | None = None
) -> Lexicon:
    def fail(msg: str) -> LifeCircleError:
        return LifeCircleError(msg, path=where, record="lexicon")

    if not isinstance(entry, dict):
        raise fail("expected a 'lexicon' mapping (the extraction word lists)")
    required = (
        *_LEXICON_LISTS,
        *_LEXICON_PATTERNS,
        *_LEXICON_STRINGS,
        "actions",
        "action_patterns",
        "post_verbs",
    )
    missing = [k for k in required if k not in entry]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    lists: dict[str, tuple[str, ...]] = {}
    for k in _LEXICON_LISTS:
        v = entry[k]
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise fail(f"'{k}' must be a list of non-empty strings")
        lists[k] = tuple(v)
    for k in _LEXICON_PATTERNS:
        if not isinstance(entry[k], str):
            raise fail(f"'{k}' must be a regular expression string")
        try:
            re.compile(entry[k])
        except re.error as exc:
            raise fail(f"'{k}' is not a valid regex: {exc}") from None
    for k in _LEXICON_STRINGS:
        if not isinstance(entry[k], str) or not entry[k]:
            raise fail(f"'{k}' must be a non-empty string")
    actions = entry["actions"]
    if not isinstance(actions, dict) or set(actions) != {*ACTIONS, "neutral"}:
        raise fail("'actions' must have exactly new, upgrade, existing and neutral lists")
    act: dict[str, tuple[str, ...]] = {}
    for k, v in actions.items():
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise fail(f"'actions.{k}' must be a list of non-empty strings")
        act[k] = tuple(v)
    pats = entry["action_patterns"] or {}
    if not isinstance(pats, dict) or not set(pats) <= set(ACTIONS):
        raise fail("'action_patterns' keys must be new, upgrade or existing")
    act_pats: dict[str, tuple[str, ...]] = {}
    for k, v in pats.items():
        if not isinstance(v, list):
            raise fail(f"'action_patterns.{k}' must be a list of regexes")
        for p in v:
            try:
                re.compile(p)
            except (re.error, TypeError) as exc:
                raise fail(f"'action_patterns.{k}' has an invalid regex {p!r}: {exc}") from None
        act_pats[k] = tuple(v)
    post = entry["post_verbs"]
    if not isinstance(post, dict) or not all(v in ACTIONS for v in post.values()):
        raise fail("'post_verbs' must map verbs to new, upgrade or existing")
    heads = entry.get("head_nouns") or {}
    cats = set(_known_categories or ())
    if not isinstance(heads, dict) or not all(
        isinstance(k, str) and k and (v is None or v in cats) for k, v in heads.items()
    ):
        raise fail("'head_nouns' must map head nouns to a category key or null")
    cues = entry.get("head_cues") or {}
    if not isinstance(cues, dict) or not all(
        k in cats and isinstance(v, list) and all(isinstance(x, str) and x for x in v)
        for k, v in cues.items()
    ):
        raise fail("'head_cues' must map category keys to lists of cue words")
    opt: dict[str, tuple[str, ...]] = {}
    for k in (
        "head_stop_pos",
        "head_not_before",
        "generic_modifier_patterns",
        "completion_verbs",
        "out_of_area_patterns",
        "brand_heads",
        "place_heads",
    ):
        v = entry.get(k) or []
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise fail(f"'{k}' must be a list of non-empty strings")
        opt[k] = tuple(v)
    for p in (*opt["generic_modifier_patterns"], *opt["out_of_area_patterns"]):
        try:
            re.compile(p)
        except re.error as exc:
            raise fail(f"invalid regex {p!r}: {exc}") from None
    guard = entry.get("out_of_area_not_before") or ""
    try:
        re.compile(guard)
    except (re.error, TypeError) as exc:
        raise fail(f"'out_of_area_not_before' is not a valid regex: {exc}") from None
    brand = entry.get("brand_default_category")
    if brand is not None and brand not in cats:
        raise fail("'brand_default_category' must be a category key")
    return Lexicon(
        brand_default_category=brand,
        brand_heads=opt["brand_heads"],
        place_heads=opt["place_heads"],
        out_of_area_not_before=guard,
        head_nouns={str(k): (str(v) if v else None) for k, v in heads.items()},
        head_cues={k: tuple(v) for k, v in cues.items()},
        head_stop_pos=frozenset(opt["head_stop_pos"]),
        head_not_before=opt["head_not_before"],
        generic_modifier_patterns=opt["generic_modifier_patterns"],
        completion_verbs=opt["completion_verbs"],
        out_of_area_patterns=opt["out_of_area_patterns"],
        user_words=lists["user_words"],
        generic_modifiers=frozenset(lists["generic_modifiers"]),
        in_area_markers=lists["in_area_markers"],
        actions={k: act[k] for k in ACTIONS},
        action_patterns=act_pats,
        neutral=act["neutral"],
        post_verbs={str(k): str(v) for k, v in post.items()},
        in_progress_verbs=lists["in_progress_verbs"],
        negations=lists["negations"],
        stop_words=frozenset(lists["stop_words"]),
        stop_pos=frozenset(lists["stop_pos"]),
        name_suffixes=lists["name_suffixes"],
        role_suffixes=lists["role_suffixes"],
        modifier_exceptions=lists["modifier_exceptions"],
        non_facility_heads=lists["non_facility_heads"],
        example_open=lists["example_open"],
        example_close=lists["example_close"],
        out_of_area_sentence=lists["out_of_area_sentence"],
        out_of_area_clause=lists["out_of_area_clause"],
        wider_area_names=lists["wider_area_names"],
        review_headings=lists["review_headings"],
        heading_top=entry["heading_top"],
        heading_sub=entry["heading_sub"],
        heading_item=entry["heading_item"],
        numerals=entry["numerals"],
        units=lists["units"],
        road_pattern=entry["road_pattern"],
        lane_pattern=entry["lane_pattern"],
        road_stoplist=frozenset(lists["road_stoplist"]),
        admin_prefix_pattern=entry["admin_prefix_pattern"],
        name_chars=entry["name_chars"],
        list_separators=lists["list_separators"],
        terminators=entry["terminators"],
    )


def category_frame(taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Return the categories as a DataFrame (key, labels, tier, threshold and its source)."""
    import pandas as pd

    tax = taxonomy or load_taxonomy()
    rows = [
        {
            "category": c.key,
            "label_zh": c.label_zh,
            "label_en": c.label_en,
            "tier": c.tier,
            "threshold_m": c.threshold_m,
            "threshold_source": c.threshold_source,
            "threshold_evidence": c.threshold_evidence,
        }
        for c in tax.categories.values()
    ]
    return pd.DataFrame(rows)


def iter_keywords(taxonomy: Taxonomy) -> Iterable[tuple[str, str]]:
    """(keyword, category) pairs of every category, in taxonomy order."""
    for cat in taxonomy.categories.values():
        for kw in cat.keywords:
            yield kw, cat.key
