"""Plan extraction: facility mentions in the subdistrict plans (街道工作计划/行动计划).

A rule-and-lexicon extractor. Every word list it uses lives in the taxonomy file
(``data/facilities/taxonomy.yaml``, section ``lexicon``); this module holds only the rules:

1. The text is normalised for matching (full-width punctuation folded, stray line breaks inside
   sentences joined) while a map keeps every character's offset in the document as read, so
   ``text[start:end]`` of a mention is always its evidence.
2. Sentences are split at 。！？； line ends after them and ``|`` table cells; clauses at
   ``, ; :``; list items at 、, parentheses and 和/及/以及.
3. Each category keyword found (longest first) is one mention. Looking back over jieba tokens
   from the keyword gives its name prefix: a proper prefix (北茶园社区睦邻中心, a quoted
   “吾友荟”…) makes it *named*, generic modifiers only (家门口, 社区老年人…) keep it *generic*.
   Beyond the keywords, a facility name is *modifiers + head noun* (``head_nouns`` in the
   taxonomy): a strong head (广场, 书房, 颐养院, 休息站…) names a facility of its class; a weak
   head (中心, 站, 馆, 空间…) needs a cue word in the name (``head_cues``: 养老, 文化, 健身…),
   which also classifies it. The head must end a word (not 重点, 中心城区, 广场舞); the name is
   bounded on the left by punctuation, verbs, quantities and function words (jieba parts of
   speech); a quoted name ending in a head, or a ``·``-joined brand name, is taken whole; a
   core made only of cue words (健身广场) is a type, so the mention is generic.
4. Quantities come from "新增1个…" / "幼儿园4所"; a quantity-only item shares the noun of the
   next item ("新建1个、扩建3个睦邻中心"); "A、B等N个K" makes A and B named instances of K;
   "类似X式的K" makes X an existing example.
5. The action is the nearest verb of the item, else the list's verb, else a verb written after
   the facility (…建设 / …改造 / …揭牌 / …投入使用); a completion verb (完成, 推进) yields to
   the verb after the facility (完成…改造 is an upgrade); 改建为/改造而成 make it new, 免费开放
   existing; in a review section completed work means *existing*.
6. ``in_area`` is ``no`` after out-of-area markers (another province, a county or prefecture,
   a partner project, 对标, a neighbouring subdistrict), ``unknown`` for district-wide names,
   otherwise ``yes``.

Plans are read as ``.docx`` or as text in UTF-8 or GB18030 (:func:`read_plan`).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo._errors import InputError, LifeCircleError, MissingDependencyError
from geo.facilities.taxonomy import KeywordHit, Taxonomy, load_taxonomy
from geo.io.tables import MENTIONS

if TYPE_CHECKING:
    from geo._types import ProgressFn
    from geo.io.areas import Area, Registry

#: Extra columns: the evidence text, the keyword, the section (review|plan), whether the row
#: adds to plan counts (list items under a quantified head do not), the rule that fired, labels.
EXTRA_COLUMNS: tuple[str, ...] = (
    "evidence",
    "keyword",
    "period",
    "counted",
    "rule",
    "label_zh",
    "label_en",
)


# Full-width forms folded for matching; every entry maps one character to one character so
# offsets stay aligned.
_FOLD = {
    "，": ",",
    "；": ";",
    "：": ":",
    "（": "(",
    "）": ")",
    "！": "!",
    "？": "?",
    "\u3000": " ",
    "．": ".",
    "／": "/",
    "｜": "|",
    "－": "-",
    "＋": "+",
    "﹒": ".",
}
_FOLD.update({chr(0xFF10 + i): str(i) for i in range(10)})
_FOLD.update({chr(0xFF21 + i): chr(0x41 + i) for i in range(26)})
_FOLD.update({chr(0xFF41 + i): chr(0x61 + i) for i in range(26)})

_CJK = re.compile(r"[\u4e00-\u9fff]")
_DIGITS = re.compile(r"^\d+$")
_CLAUSE_SEPS = frozenset(",;:。!?|\n")
_ITEM_CHARS = frozenset("、()")
_SENT_END = frozenset("。!?;")
_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}

_log = logging.getLogger(__name__)


@dataclass
class Mention:
    """One facility mention. ``start``/``end`` are character offsets in the document as read."""

    doc: str
    area: str
    kind: str
    name: str
    category: str
    action: str
    quantity: int | None
    place_hint: str | None
    in_area: str
    start: int
    end: int
    sentence: str
    evidence: str = ""
    keyword: str = ""
    period: str = "plan"
    counted: bool = True
    rule: str = "keyword"


# -------------------------------------------------------------------------------------------
# text normalisation
# -------------------------------------------------------------------------------------------
def normalise_text(text: str, taxonomy: Taxonomy | None = None) -> tuple[str, np.ndarray]:
    r"""Fold full-width punctuation and join stray line breaks, keeping an offset map.

    Parameters
    ----------
    text
        The document as read (UTF-8 decoded).
    taxonomy
        Supplies the terminators and heading patterns (default taxonomy when None).

    Returns
    -------
    (str, numpy.ndarray)
        The normalised text and, for each of its characters, the offset of the character in
        ``text`` it came from. A line break is kept (as ``\n``) after a terminator, before a
        heading or around a blank line, and dropped elsewhere (a break inside a sentence).
    """
    lex = (taxonomy or load_taxonomy()).lexicon
    terminators = set(lex.terminators) | {"|"}
    heading = re.compile("|".join([lex.heading_top, lex.heading_sub, lex.heading_item]))
    chars: list[str] = []
    index: list[int] = []
    n = len(text)
    line_start = 0
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\r":
            i += 1
            continue
        if ch == "\n":
            line = text[line_start:i]
            nxt_end = text.find("\n", i + 1)
            nxt = text[i + 1 : (nxt_end if nxt_end >= 0 else n)]
            last = line.rstrip(" \t\r\u3000")
            keep = (
                not last
                or _FOLD.get(last[-1], last[-1]) in terminators
                or not nxt.strip()
                or bool(heading.match(nxt))
                or (bool(heading.match(line)) and len(line.strip()) <= 40)
            )
            if keep:
                chars.append("\n")
                index.append(i)
            line_start = i + 1
            i += 1
            continue
        chars.append(_FOLD.get(ch, ch))
        index.append(i)
        i += 1
    return "".join(chars), np.asarray(index, dtype=np.int64)


def split_sentences(norm: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a normalised text: split at 。!?; line breaks and ``|``."""
    out: list[tuple[int, int]] = []
    start = 0
    for i, ch in enumerate(norm):
        if ch in _SENT_END or ch in "\n|":
            end = i + 1 if ch in _SENT_END else i
            _push_sentence(norm, start, end, out)
            start = i + 1
    _push_sentence(norm, start, len(norm), out)
    return out


def _push_sentence(norm: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while a < b and norm[a].isspace():
        a += 1
    while b > a and norm[b - 1].isspace():
        b -= 1
    if b > a:
        out.append((a, b))


def section_periods(text: str, taxonomy: Taxonomy | None = None) -> tuple[list[int], list[str]]:
    """Break points of review/plan sections: (offsets, periods), sorted by offset.

    A top-level heading (一、…) naming a review (回顾, 发展基础, 基本情况, …) starts a
    review section; any other top-level heading starts a plan section. A sub-heading (（一）…)
    naming a review starts a review section too.
    """
    lex = (taxonomy or load_taxonomy()).lexicon
    top = re.compile(lex.heading_top)
    sub = re.compile(lex.heading_sub)
    offsets, periods = [0], ["plan"]
    state = "plan"
    pos = 0
    for line in text.splitlines(keepends=True):
        st = line.strip()
        new = state
        is_review = any(h in st for h in lex.review_headings)
        if top.match(st):
            new = "review" if is_review else "plan"
        elif sub.match(st) and is_review:
            new = "review"
        if new != state:
            offsets.append(pos)
            periods.append(new)
            state = new
        pos += len(line)
    return offsets, periods


def _cn_number(tok: str) -> int | None:
    """Arabic or simple Chinese numerals (一…九十九, 百) to int."""
    if tok.isdigit():
        return int(tok)
    if not tok or any(c not in _CN_DIGITS and c not in "十百" for c in tok):
        return None
    if tok == "百":
        return 100
    if "十" in tok:
        tens, _, ones = tok.partition("十")
        t = _CN_DIGITS.get(tens, 1) if tens else 1
        o = _CN_DIGITS.get(ones, 0) if ones else 0
        return t * 10 + o
    if len(tok) == 1:
        return _CN_DIGITS[tok]
    return None


# -------------------------------------------------------------------------------------------
# the rules, compiled once per taxonomy
# -------------------------------------------------------------------------------------------
class _Rules:
    """Compiled patterns and the jieba tokenizer for one taxonomy."""

    def __init__(self, tax: Taxonomy):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        lex = tax.lexicon
        self.tax = tax
        self.lex = lex
        verbs: dict[str, str] = {}
        for cls in ("neutral", "existing", "upgrade", "new"):
            words = lex.neutral if cls == "neutral" else lex.actions[cls]
            for w in words:
                verbs[w] = cls  # later classes win on duplicates
        self.verbs = verbs
        alts = [re.escape(w) for w in sorted(verbs, key=len, reverse=True)]
        self.verb_re = re.compile("|".join(alts))
        self.verb_pats = [
            (re.compile(p), cls) for cls, ps in lex.action_patterns.items() for p in ps
        ]
        self.post_re = re.compile(
            "|".join(re.escape(w) for w in sorted(lex.post_verbs, key=len, reverse=True))
        )
        self.inprog_re = re.compile("|".join(re.escape(w) for w in lex.in_progress_verbs))
        multi_neg = [w for w in lex.negations if len(w) > 1]
        self.neg_re = re.compile("|".join(re.escape(w) for w in multi_neg)) if multi_neg else None
        self.neg_single = {w for w in lex.negations if len(w) == 1}
        num = rf"(\d+|[{re.escape(lex.numerals)}]+)"
        units = "|".join(re.escape(u) for u in lex.units)
        self.qty_pre = re.compile(num + rf"\s*(?:{units})(?:以上|多|余)?\s*$")
        self.qty_post = re.compile(r"^(?:设施)?\s*" + num + rf"\s*(?:{units})")
        self.qty_token = re.compile(num + rf"(?:{units})")
        self.modifier_re = re.compile(
            "(?:"
            + "|".join(re.escape(w) for w in sorted(lex.generic_modifiers, key=len, reverse=True))
            + r"|\d+)+"
        )
        self.single_stops = {w for w in lex.stop_words if len(w) == 1}
        self.qty_item = re.compile(
            r"^\s*(?P<verb>[\u4e00-\u9fff]{0,6}?)\s*" + num + rf"\s*(?:{units})(?:以上|多|余)?\s*$"
        )
        self.road_re = re.compile(lex.road_pattern)
        self.lane_re = re.compile(lex.lane_pattern)
        self.admin_re = re.compile(lex.admin_prefix_pattern)
        self.eq_tail = re.compile(r"等\s*$")
        self.name_chars = set(lex.name_chars)
        self.item_words = {w for w in lex.list_separators if len(w) > 1 or _CJK.match(w)}
        self.item_chars = _ITEM_CHARS | {w for w in lex.list_separators if not _CJK.match(w)}
        import jieba.posseg

        # parts of speech of jieba's own dictionary (no tagging pass needed)
        self.pos = jieba.posseg.dt.word_tag_tab
        self.own_words = (
            set(lex.generic_modifiers)
            | set(lex.in_area_markers)
            | set(lex.user_words)
            | {kw for kw, _ in _all_keywords(tax)}
        )
        # head nouns (longest first) and the cue words that classify them
        self.heads = dict(lex.head_nouns)
        self.head_re = (
            re.compile("|".join(re.escape(h) for h in sorted(self.heads, key=len, reverse=True)))
            if self.heads
            else None
        )
        self.cues = sorted(
            ((c, cat) for cat, cs in lex.head_cues.items() for c in cs),
            key=lambda x: len(x[0]),
            reverse=True,
        )
        self.cue_words = {c for c, _ in self.cues}
        self.keyword_patterns = [
            re.compile(p) for cat in tax.categories.values() for p in cat.keyword_patterns
        ]
        self.gen_mod_pats = [re.compile(p) for p in lex.generic_modifier_patterns]
        guard = lex.out_of_area_not_before
        self.out_re = (
            re.compile("|".join(f"(?:{p})" for p in lex.out_of_area_patterns) + guard)
            if lex.out_of_area_patterns
            else None
        )
        # province and city names, unless a Shanghai road or place is named after them
        self.out_word_re = (
            re.compile(
                "(?:"
                + "|".join(re.escape(w) for w in sorted(lex.out_of_area_sentence, key=len)[::-1])
                + ")"
                + guard
            )
            if lex.out_of_area_sentence
            else None
        )
        self.tokenizer = jieba.Tokenizer()
        for kw, _cat in _all_keywords(tax):
            self.tokenizer.add_word(kw, freq=200000)
        for w in lex.generic_modifiers:
            if len(w) > 1:
                self.tokenizer.add_word(w, freq=50000)
        extra = (
            *lex.user_words,
            *verbs,
            *lex.in_area_markers,
            *lex.role_suffixes,
            *lex.name_suffixes,
            *lex.non_facility_heads,
            *lex.out_of_area_clause,
        )
        for w in extra:
            if len(w) > 1:
                self.tokenizer.add_word(w)
        for h in self.heads:  # keep unknown multi-character heads whole (休息站, 颐养院)
            if len(h) > 1 and h not in self.pos:
                self.tokenizer.add_word(h, freq=20000)

    # -- small predicates ------------------------------------------------------------------
    def is_verb(self, w: str) -> bool:
        return w in self.verbs or bool(self.verb_re.fullmatch(w))

    def is_generic(self, w: str) -> bool:
        """Return True when token ``w`` is only generic modifiers (街道社区, 社区老年人, 笼式)."""
        return bool(self.modifier_re.fullmatch(w)) or any(p.fullmatch(w) for p in self.gen_mod_pats)

    def stops_head_name(self, w: str) -> bool:
        """Return True when token ``w`` ends a name looking back from a head noun (light POS)."""
        if w in self.lex.stop_words or self.is_verb(w):
            return True
        if w in self.cue_words:  # 健身 is a verb to jieba, a facility type here
            return False
        return w not in self.own_words and self.pos.get(w) in self.lex.head_stop_pos

    def head_category(self, name: str, head: str) -> str | None:
        """Category of a head-noun name: the cue nearest the head, else the head's own class.

        A strong head (广场, 书房) keeps its class unless a cue sits right before it (健身步道);
        a weak head (中心, 馆) needs a cue somewhere in the name.
        """
        stem = name[: len(name) - len(head)] if name.endswith(head) else name
        own = self.heads.get(head)
        if own is not None:
            for cue, cat in self.cues:
                if stem.endswith(cue):
                    return cat
            return own
        best: tuple[int, int, str] | None = None
        for cue, cat in self.cues:
            k = name.rfind(cue)
            if k >= 0:
                key = (k + len(cue), len(cue), cat)
                if best is None or key[:2] > best[:2]:
                    best = key
        return best[2] if best else None

    def stops_name(self, w: str) -> bool:
        """Return True when token ``w`` cannot be part of a name prefix."""
        if w in self.lex.stop_words or self.is_verb(w):
            return True
        return w not in self.own_words and self.pos.get(w) in self.lex.stop_pos

    def name_like(self, w: str) -> bool:
        return all(
            _CJK.match(c) or (c.isascii() and c.isalnum()) or c in self.name_chars for c in w
        )

    def last_verb(self, ctx: str) -> tuple[str, str] | None:
        """Return the last non-neutral action verb in ``ctx``: (verb, class)."""
        best: tuple[int, str, str] | None = None
        for m in self.verb_re.finditer(ctx):
            cls = self.verbs[m.group(0)]
            if cls != "neutral" and (best is None or m.end() >= best[0]):
                best = (m.end(), m.group(0), cls)
        for pat, cls in self.verb_pats:
            for m in pat.finditer(ctx):
                if best is None or m.end() > best[0]:
                    best = (m.end(), m.group(0), cls)
        return (best[1], best[2]) if best else None

    def first_post_verb(self, ctx: str) -> str | None:
        m = self.post_re.search(ctx)
        return self.lex.post_verbs[m.group(0)] if m else None

    def place_in(self, text: str) -> str | None:
        """Return a road / lane / house number in ``text`` (admin prefixes stripped)."""
        text = self.admin_re.sub("", text.replace("“", "").replace("”", ""))
        lane = None
        for m in self.road_re.finditer(text):
            road = m.group(0)
            base = re.sub(r"\d+弄.*$|\d+号$", "", road)
            if base in self.lex.road_stoplist or base[-2:] in self.lex.road_stoplist:
                continue
            return road
        for m in self.lane_re.finditer(text):
            lane = m.group(0)
        return lane


_RULES_CACHE: dict[int, tuple[Taxonomy, _Rules]] = {}


def _rules_for(tax: Taxonomy) -> _Rules:
    hit = _RULES_CACHE.get(id(tax))
    if hit is None or hit[0] is not tax:
        hit = (tax, _Rules(tax))
        _RULES_CACHE[id(tax)] = hit
    return hit[1]


def _all_keywords(tax: Taxonomy) -> Iterable[tuple[str, str]]:
    for cat in tax.categories.values():
        for kw in cat.keywords:
            yield kw, cat.key


# -------------------------------------------------------------------------------------------
# per-sentence parsing
# -------------------------------------------------------------------------------------------
@dataclass
class _Hit:
    """A keyword hit with its context (sentence coordinates)."""

    hit: KeywordHit
    cl_start: int
    cl_end: int
    it_start: int
    it_end: int
    name_start: int
    name_end: int
    ev_start: int
    ev_end: int
    prefix: list[tuple[str, int, int]] = field(default_factory=list)
    quoted: bool = False
    named: bool = False
    name: str = ""
    place: str | None = None
    quantity: int | None = None
    qty_start: int | None = None
    host: bool = False
    role: bool = False
    modifier: bool = False
    locative: bool = False
    example: bool = False
    example_head: bool = False
    in_area_marker: bool = False
    suppressed: bool = False
    dropped: bool = False


class _Sentence:
    """Parses one normalised sentence into mention records."""

    def __init__(self, rules: _Rules, s: str):
        self.r = rules
        self.lex = rules.lex
        self.s = s
        self.toks = [(w, a, b) for w, a, b in rules.tokenizer.tokenize(s)]
        self.tok_starts = [a for _, a, _ in self.toks]
        kw_hits = rules.tax.keyword_hits(s)
        heads = self.head_hits(kw_hits)
        self.head_spans = {(h.start, h.end) for h in heads}
        self.hits = sorted([*kw_hits, *heads], key=lambda h: h.start)
        self.kw_hits = kw_hits
        # a name stops where a keyword ends (北茶园社区 | 睦邻中心); a head noun inside a longer
        # name (创智坊社区睦邻中心) is absorbed by it instead
        self.hit_ends = {h.end for h in kw_hits}
        self.kw_by_end = {h.end: h for h in kw_hits}
        self.absorbed: set[tuple[int, int]] = set()
        # clause and item boundaries (positions of separator characters / words)
        self.clause_cuts = [i for i, c in enumerate(s) if c in _CLAUSE_SEPS]
        item_cuts = [i for i, c in enumerate(s) if c in rules.item_chars]
        self.item_spans: list[tuple[int, int]] = [(i, i + 1) for i in item_cuts]
        for w, a, b in self.toks:
            if w in rules.item_words:
                self.item_spans.append((a, b))
        self.item_spans.sort()

    def head_hits(self, kw_hits: Sequence[KeywordHit]) -> list[KeywordHit]:
        """Head nouns outside keyword hits that end a word (not 重点, 中心城区, 广场舞).

        The category is provisional (the head's own class, or empty for a weak head); the
        name found by looking back decides it in :meth:`context`.
        """
        r, s = self.r, self.s
        if r.head_re is None:
            return []
        out: list[KeywordHit] = []
        for m in r.head_re.finditer(s):
            a, b = m.span()
            if any(h.start < b and a < h.end for h in kw_hits):
                continue
            if any(s.startswith(x, b) for x in r.lex.head_not_before):
                continue
            j = bisect.bisect_right(self.tok_starts, b - 1) - 1
            if j < 0:
                continue
            w, ta, tb = self.toks[j]
            known = r.pos.get(w) is not None
            if tb > b and (known or s[b] not in r.single_stops):
                continue  # the head is the start of a longer word (站位, 中心城区)
            if ta < a and known and w not in r.heads:
                continue  # the head ends a dictionary word (重点, 校园, 医学院, 加油站)
            if any(
                x.start() <= a and b <= x.end()
                for ex in r.tax._exclude_re.values()
                for x in ex.finditer(s, max(0, a - 8), min(len(s), b + 8))
            ):
                continue  # an excluded phrase (花园小区, 慈善超市)
            out.append(KeywordHit(a, b, m.group(0), r.heads.get(m.group(0)) or ""))
        return out

    # -- boundaries ------------------------------------------------------------------------
    def clause(self, a: int, b: int) -> tuple[int, int]:
        k = bisect.bisect_left(self.clause_cuts, a)
        start = self.clause_cuts[k - 1] + 1 if k > 0 else 0
        k2 = bisect.bisect_left(self.clause_cuts, b)
        end = self.clause_cuts[k2] if k2 < len(self.clause_cuts) else len(self.s)
        return start, end

    def item(self, a: int, b: int, cl: tuple[int, int]) -> tuple[int, int]:
        start, end = cl
        for sa, sb in self.item_spans:
            if sb <= a and sa >= cl[0]:
                start = max(start, sb)
            elif sa >= b and sa < cl[1]:
                end = min(end, sa)
                break
        return start, end

    def items_of(self, a: int, b: int) -> list[tuple[int, int]]:
        """Split ``s[a:b]`` into list items at 、() and 和/及/以及."""
        cuts = [(sa, sb) for sa, sb in self.item_spans if sa >= a and sb <= b]
        out = []
        cur = a
        for sa, sb in cuts:
            out.append((cur, sa))
            cur = sb
        out.append((cur, b))
        return [(x, y) for x, y in (_strip_span(self.s, x, y) for x, y in out) if y > x]

    # -- name prefix -------------------------------------------------------------------------
    def tokens_before(self, pos: int) -> int:
        """Index of the last token starting before ``pos``."""
        return bisect.bisect_left(self.tok_starts, pos) - 1

    def lookback(
        self, pos: int, limit: int, *, head: bool = False
    ) -> tuple[int, bool, list[tuple[str, int, int]]]:
        """Walk back over name-like tokens from ``pos``: (prefix start, quoted, tokens).

        ``head``: looking back from a head noun (lighter part-of-speech stops).
        """
        stops = self.r.stops_head_name if head else self.r.stops_name
        s, r = self.s, self.r
        acc: list[tuple[str, int, int]] = []
        cur = pos
        quoted = False
        j = self.tokens_before(pos)
        length = 0
        while j >= 0:
            w, a, b = self.toks[j]
            if b > cur:
                w, b = s[a:cur], cur
            if a < limit or not w:
                break
            if cur in self.hit_ends:
                h0 = self.kw_by_end[cur]
                if cur == pos and h0.keyword in self.lex.place_heads:
                    # 共康花园睦邻点: a compound or park named right before is part of the name
                    self.absorbed.add((h0.start, h0.end))
                    acc.append((s[h0.start : cur], h0.start, cur))
                    length += cur - h0.start
                    cur = h0.start
                    j = self.tokens_before(cur)
                    continue
                break  # another facility ends here: this one is its guest
            if w == "”":
                q = s.rfind("“", limit, a)
                inner = s[q + 1 : a] if q >= 0 else ""
                if (
                    q < 0
                    or not inner
                    or any(q < h.start < a for h in self.kw_hits)
                    or any(c in inner for c in "、,;")
                ):
                    break
                acc.append((inner, q + 1, a))
                quoted = True
                cur = q
                j = self.tokens_before(q)
                continue
            lane = w in ("弄", "号", "号楼", "期") and j > 0 and _DIGITS.match(self.toks[j - 1][0])
            if not lane and (not r.name_like(w) or stops(w) or r.qty_token.fullmatch(w)):
                break
            if w in self.r.neg_single or (r.neg_re is not None and r.neg_re.search(w)):
                break
            if _DIGITS.match(w):
                nxt = acc[-1][0] if acc else ""
                if not nxt.startswith(("弄", "号", "期")):
                    break
            if length + len(w) > 14:
                break
            acc.append((w, a, b))
            length += len(w)
            cur = a
            j -= 1
        acc.reverse()
        if (
            acc
            and len(acc[0][0]) > 1
            and acc[0][0][0] in r.single_stops
            and not quoted
            and acc[0][0] not in r.own_words
            and r.pos.get(acc[0][0]) is None
        ):
            w, a, b = acc[0]  # jieba glued a function word on: (如长馨…)
            acc[0] = (w[1:], a + 1, b)
            cur = a + 1
        return cur, quoted, acc

    # -- the parse ---------------------------------------------------------------------------
    def parse(self) -> list[_Hit]:
        infos = [self.context(h) for h in self.hits]
        for info in infos:  # a head noun inside another mention's name is part of that name
            span = (info.hit.start, info.hit.end)
            inside = span in self.head_spans and any(
                o is not info and o.name_start <= info.hit.start and info.hit.end <= o.hit.start
                for o in infos
            )
            if span in self.absorbed or inside:
                info.dropped = True
        self.lists_with_deng(infos)
        self.examples(infos)
        return infos

    def context(self, h: KeywordHit) -> _Hit:
        s, lex, r = self.s, self.lex, self.r
        cl = self.clause(h.start, h.end)
        # a hit inside “…”: the name prefix may not leave the quotes
        q_open = s.rfind("“", cl[0], h.start)
        inside = (
            q_open >= 0
            and "”" not in s[q_open : h.start]
            and "”" not in h.keyword
            and s.find("”", h.end, cl[1]) >= 0
        )
        limit = q_open + 1 if inside else cl[0]
        is_head = (h.start, h.end) in self.head_spans
        name_start, quoted, prefix = self.lookback(h.start, limit, head=is_head)
        if (
            is_head
            and inside
            and s.startswith("”", h.end)
            and name_start > q_open + 1
            and self.r.name_like(s[q_open + 1 : h.start])
        ):
            # a quoted name ending in a head noun is taken whole (“we来坊”)
            name_start, quoted = q_open + 1, True
            prefix = [(s[q_open + 1 : h.start], q_open + 1, h.start)]
        name_end = h.end
        for suf in lex.name_suffixes:
            if s.startswith(suf, name_end):
                name_end += len(suf)
                break
        ev_start, ev_end = name_start, name_end
        if inside and name_start == q_open + 1 and s.startswith("”", name_end):
            ev_start, ev_end = q_open, name_end + 1  # the whole quote is the name
        it = self.item(ev_start, name_end, cl)
        info = _Hit(
            h,
            cl[0],
            cl[1],
            it[0],
            it[1],
            name_start,
            name_end,
            ev_start,
            ev_end,
            prefix=prefix,
            quoted=quoted,
        )
        # the name
        core = ""
        words: list[str] = []
        for w, _a, _b in prefix:
            if not words and w in lex.in_area_markers:
                info.in_area_marker = True
                continue
            words.append(w)
            if not r.is_generic(w):
                core += w
        tail = s[h.start : name_end]
        info.name = ("".join(words) + tail).replace("“", "").replace("”", "")
        if h.name:  # a pattern with a name group (metro station)
            info.name = h.name
            info.named = True
        else:
            info.named = quoted or len(re.sub(r"[^\w]", "", core)) >= 2
        if is_head:
            self.head_mention(info, words)
        # the place: roads and lanes in the prefix, or right before a quoted name
        place_src = "".join(w for w, _, _ in prefix)
        if quoted or inside:
            p0, _q, before = self.lookback(
                ev_start if s[ev_start : ev_start + 1] == "“" else name_start, cl[0]
            )
            if before:
                place_src = "".join(w for w, _, _ in before) + place_src
                info.ev_start = min(info.ev_start, p0)
        info.place = r.place_in(place_src) if place_src else None
        # quantity before (…2个社区老年人助餐点) or after (幼儿园4所)
        m = r.qty_pre.search(s, cl[0], info.ev_start)
        if m:
            info.quantity = _cn_number(m.group(1))
            info.qty_start = m.start()
            info.ev_start = min(info.ev_start, m.start())
        else:
            m2 = r.qty_post.match(s[info.ev_end : cl[1]])
            if m2:
                info.quantity = _cn_number(m2.group(1))
                info.ev_end += m2.end()
        # what follows the facility
        rest = s[name_end : info.it_end]
        nxt = [h2 for h2 in self.hits if h2.start == name_end]
        info.host = bool(nxt)
        info.role = any(rest.startswith(x) for x in lex.role_suffixes)
        if (
            rest
            and _CJK.match(rest[0])
            and not info.host
            and not info.role
            and not r.post_re.search(rest[:6])
            and not any(x in rest for x in lex.modifier_exceptions)
        ):
            j = bisect.bisect_left(self.tok_starts, name_end)
            first = self.toks[j][0] if j < len(self.toks) else ""
            fpos = r.pos.get(first)
            second = self.toks[j + 1][0] if j + 1 < len(self.toks) else ""
            spos = r.pos.get(second) or ""
            if (
                first
                and first not in lex.stop_words
                and not r.is_verb(first)
                # a noun after the name makes it a modifier (…中心主任, …中心门诊楼); a verb,
                # adverb, time word, numeral or unknown word says what happens to it
                and fpos is not None
                and fpos[0] in "nv"
                and fpos not in lex.stop_pos
                and fpos not in lex.head_stop_pos
                and not (first[0].isdigit() or first[0] in lex.numerals)
                # …步道全线贯通: a noun then a verb is an adverbial, not the facility's part
                and not (r.is_verb(second) or (spos.startswith("v") and spos != "vn"))
            ):
                info.modifier = True
        own_pre = s[info.it_start : info.ev_start]
        k = own_pre.rfind("在")
        if (
            k >= 0
            and r.last_verb(own_pre[k:]) is None
            and "在" in self._tokens_in(info.it_start + k, info.it_start + k + 1)
        ):
            info.locative = True
        # a document title (《…指导意见》) names no facility
        t_open = s.rfind("《", 0, h.start)
        if t_open >= 0 and "》" not in s[t_open : h.start] and "》" in s[h.end :]:
            info.dropped = True
        # absent (没有地铁站) or a list of non-facilities (…等微信公众号)
        ctx = s[info.it_start : h.start]
        if (r.neg_re is not None and r.neg_re.search(ctx)) or any(
            w in r.neg_single for w in self._tokens_in(info.it_start, h.start)
        ):
            info.dropped = True
        tail_cl = s[name_end : cl[1]]
        eq = tail_cl.find("等")
        if eq >= 0 and r.last_verb(tail_cl[:eq]) is None:
            after = tail_cl[eq + 1 : eq + 12]
            if any(x in after[: len(x) + 4] for x in lex.non_facility_heads):
                info.dropped = True
        return info

    def head_mention(self, info: _Hit, words: list[str]) -> None:
        """Decide a head-noun hit: its category from cues, dropped when it names nothing.

        A head with a proper name before it (枫溪书房, “乐享”文化盒子) is a named facility; a
        strong head after generic modifiers only (社区书房) is a generic one; a bare head, or
        a weak head without a cue word (翠竹苑, 中心工作), is no facility.
        """
        h = info.hit
        if words and info.ev_start < info.name_start and self.s[info.ev_start] == "“":
            info.named = info.quoted = True  # the whole quote is the name (“邮·书房”)
        cat = self.r.head_category(info.name, h.keyword)
        if cat is None and "·" in info.name and h.keyword in self.lex.brand_heads:
            cat = self.lex.brand_default_category
        typed = False
        if info.named and not info.quoted:
            # a core made of cue words only is a type, not a name (议事空间, 健身广场)
            core = "".join(w for w in words if not self.r.is_generic(w))
            for cue, _cat in self.r.cues:
                core = core.replace(cue, "")
            info.named = len(re.sub(r"[^\w]", "", core)) >= 2
            typed = not info.named
        # unnamed: a type (健身中心) or a head after generic modifiers (社区书房, 社区综合服务中心);
        # a weak head needs its cue for that too (cat is None otherwise)
        generic_ok = typed or any(self.r.is_generic(w) for w in words)
        if cat is None or not (info.named or generic_ok):
            info.dropped = True
            return
        info.hit = replace(h, category=cat)

    def _tokens_in(self, a: int, b: int) -> list[str]:
        return [w for w, x, y in self.toks if x >= a and y <= b]

    def lists_with_deng(self, infos: list[_Hit]) -> None:
        """Find "A、B等N个K": A and B become named instances of K (mentions added later)."""
        self.deng_items: list[tuple[_Hit, int, int, str]] = []
        s, r = self.s, self.r
        for info in infos:
            if info.dropped:
                continue
            stop = info.qty_start if info.qty_start is not None else info.name_start
            pre = s[info.cl_start : stop]
            m = r.eq_tail.search(pre)
            if not m:
                continue
            eq = info.cl_start + m.start()
            region = info.cl_start
            for vm in r.verb_re.finditer(s, info.cl_start, eq):
                region = vm.end()
            for pat, _cls in r.verb_pats:
                for vm in pat.finditer(s, info.cl_start, eq):
                    region = max(region, vm.end())
            items = self.items_of(region, eq)
            if not items:
                continue
            head = s[info.hit.start : info.name_end]
            single = len(items) == 1 and (items[0][1] - items[0][0]) <= 8
            for a, b in items:
                own = [o for o in infos if a <= o.hit.start and o.hit.end <= b and not o.dropped]
                text = s[a:b].replace("“", "").replace("”", "").strip()
                if not text or not re.search(r"\w", text):
                    continue
                if single:
                    for o in own:
                        o.suppressed = True
                    self.deng_items.append((info, a, b, text + head))
                elif not own:
                    self.deng_items.append((info, a, b, text))

    def examples(self, infos: list[_Hit]) -> None:
        """Find "类似X、Y式的K": X and Y are existing examples; K takes the quantity before 类似."""
        s, lex, r = self.s, self.lex, self.r
        self.example_items: list[tuple[_Hit, int, int, str]] = []
        for info in infos:
            pre = s[info.cl_start : info.name_start]
            close = next((c for c in lex.example_close if pre.endswith(c)), None)
            if close is None:
                continue
            opens = [(pre.rfind(o), o) for o in lex.example_open if pre.rfind(o) >= 0]
            if not opens:
                continue
            k, o = max(opens)
            lo = info.cl_start + k + len(o)
            hi = info.cl_start + len(pre) - len(close)
            info.example_head = True
            m = r.qty_pre.search(s, info.cl_start, info.cl_start + k)
            if m:
                info.quantity = _cn_number(m.group(1))
                info.qty_start = m.start()
                info.ev_start = min(info.ev_start, m.start())
            for other in infos:
                if lo <= other.hit.start and other.hit.end <= hi:
                    other.example = True
            for a, b in self.items_of(lo, hi):
                if any(a <= o.hit.start and o.hit.end <= b for o in infos):
                    continue
                text = s[a:b]
                qm = re.search("“([^”]+)”", text)
                name = qm.group(1) if qm else text
                self.example_items.append((info, a, b, name))


def _strip_span(s: str, a: int, b: int) -> tuple[int, int]:
    while a < b and (s[a].isspace() or s[a] in ",;:"):
        a += 1
    while b > a and (s[b - 1].isspace() or s[b - 1] in ",;:"):
        b -= 1
    return a, b


# -------------------------------------------------------------------------------------------
# actions and location
# -------------------------------------------------------------------------------------------
def _action(sent: _Sentence, info: _Hit, infos: Sequence[_Hit]) -> tuple[str, str]:
    """Return (action, what decided it) for one hit."""
    s, r = sent.s, sent.r
    if info.role:
        return "existing", "role"
    if info.host:
        return "existing", "host"
    if info.example:
        return "existing", "example"
    if info.locative:
        return "existing", "locative"
    own_pre = s[info.it_start : info.ev_start]
    v = r.last_verb(own_pre)
    if info.modifier:
        # upgrading a part (…中心门诊楼) upgrades the facility; anything else uses it
        if v and v[1] == "upgrade":
            return "upgrade", v[0]
        return "existing", "modifier"
    own_post = s[info.name_end : info.it_end]
    p = r.first_post_verb(own_post)
    if v and p and v[0] in r.lex.completion_verbs:
        return p, "post"  # 完成…改造: the verb after the facility says what was done
    if v:
        return v[1], v[0]
    if p:
        return p, "post"
    same = [o for o in infos if o.cl_start == info.cl_start]
    first = min(same, key=lambda o: o.ev_start)
    first_item_end = next((sa for sa, _ in sent.item_spans if sa >= info.cl_start), info.cl_end)
    ctx = s[info.cl_start : min(first.ev_start, first_item_end)]
    v = r.last_verb(ctx)
    if v:
        return v[1], v[0]
    last_end = max(o.name_end for o in same)
    p = r.first_post_verb(s[last_end : info.cl_end])
    if p:
        return p, "post"
    return "existing", "default"


def _row_action(r: _Rules, norm: str, s0: int, s1: int) -> tuple[str, str] | None:
    """Return the first action verb in the later cells of a table row (项目名称|建设内容: 新建…).

    Only for a sentence that is a ``|``-separated cell; None otherwise or when no verb.
    """
    if not (norm[s1 : s1 + 1] == "|" or norm[s0 - 1 : s0] == "|"):
        return None
    end = norm.find("\n", s1)
    rest = norm[s1 : end if end >= 0 else len(norm)]
    for m in r.verb_re.finditer(rest):
        cls = r.verbs[m.group(0)]
        if cls != "neutral":
            return m.group(0), cls
    return None


def _in_area(sent: _Sentence, info: _Hit, start: int, other_places: Sequence[str]) -> str:
    s, lex = sent.s, sent.lex
    before = s[:start]
    if sent.r.out_word_re is not None and sent.r.out_word_re.search(before):
        return "no"
    if sent.r.out_re is not None and sent.r.out_re.search(before):
        return "no"
    clause_pre = s[info.cl_start : start]
    if any(m in clause_pre for m in lex.out_of_area_clause):
        return "no"
    around = s[info.it_start : info.name_end]
    if any(p in around for p in other_places):
        return "no"
    prefix = "".join(w for w, _, _ in info.prefix)
    if any(w in prefix for w in lex.wider_area_names) and not info.in_area_marker:
        return "unknown"
    return "yes"


# -------------------------------------------------------------------------------------------
# public API
# -------------------------------------------------------------------------------------------
def extract_mentions(
    text: str,
    doc: str,
    area: str,
    taxonomy: Taxonomy | None = None,
    *,
    other_places: Iterable[str] = (),
) -> list[Mention]:
    """Extract facility mentions from one plan document.

    Parameters
    ----------
    text
        The document as read (decoded; see :func:`read_plan`).
    doc
        Document id (the file stem), written to every mention.
    area
        Area id of the subdistrict that wrote the plan.
    taxonomy
        Categories and lexicon (default: ``data/facilities/taxonomy.yaml``).
    other_places
        Names of other subdistricts (e.g. 控江路街道); a facility named with one is outside.

    Returns
    -------
    list of Mention
        In document order; ``text[m.start:m.end] == m.evidence`` for every mention.
    """
    tax = taxonomy or load_taxonomy()
    rules = _rules_for(tax)
    others = tuple(p for p in other_places if p)
    norm, index = normalise_text(text, tax)
    offsets, periods = section_periods(text, tax)
    out: list[Mention] = []
    for s0, s1 in split_sentences(norm):
        s = norm[s0:s1]
        if rules.tax._keyword_re is not None and not (
            rules.tax._keyword_re.search(s)
            or any(p.search(s) for p in rules.keyword_patterns)
            or (rules.head_re is not None and rules.head_re.search(s))
        ):
            continue  # no keyword and no head noun: skip the tokenizer (most of the time)
        sent = _Sentence(rules, s)
        if not sent.hits:
            continue
        infos = sent.parse()

        def orig(a: int, b: int, s0: int = s0) -> tuple[int, int]:
            return int(index[s0 + a]), int(index[s0 + b - 1]) + 1

        def emit(
            info: _Hit,
            *,
            name: str,
            kind: str,
            a: int,
            b: int,
            action: str,
            quantity: int | None,
            rule: str,
            counted: bool = True,
            place: str | None = None,
            sent: _Sentence = sent,
            s: str = s,
        ) -> None:
            start, end = orig(a, b)
            cat = tax.categories[info.hit.category]
            k = bisect.bisect_right(offsets, start) - 1
            period = periods[k]
            if (
                period == "review"
                and action in ("new", "upgrade")
                and not sent.r.inprog_re.search(s[info.cl_start : a])
            ):
                action = "existing"  # completed work in a review section
            out.append(
                Mention(
                    doc=doc,
                    area=area,
                    kind=kind,
                    name=name,
                    category=cat.key,
                    action=action,
                    quantity=quantity,
                    place_hint=place,
                    in_area=_in_area(sent, info, a, others),
                    start=start,
                    end=end,
                    sentence=s,
                    evidence=text[start:end],
                    keyword=info.hit.keyword,
                    period=period,
                    counted=counted,
                    rule=rule,
                )
            )

        list_place: dict[int, str | None] = {}
        for info in infos:
            if info.dropped or info.suppressed:
                continue
            action, why = _action(sent, info, infos)
            if why == "default":
                row = _row_action(rules, norm, s0, s1)
                if row is not None:
                    action, why = row[1], "row:" + row[0]
            place = info.place
            if info.example or info.example_head:
                pass  # examples name other places than the facility asked for
            elif place is None:
                place = list_place.get(info.cl_start)
            elif info.cl_start not in list_place:
                list_place[info.cl_start] = place
            if info.named and info.quantity is not None and info.quantity > 1:
                info.named = False  # several of one name is a brand or type (暖心驿站10个)
            qty = info.quantity if info.quantity is not None else (1 if info.named else None)
            rule = (
                "example"
                if info.example
                else (
                    "example_head" if info.example_head else ("pattern" if info.hit.name else why)
                )
            )
            # quantity-only items before share this noun: 新建1个、扩建3个睦邻中心
            k = info.it_start
            shared: list[tuple[int, int, str, int | None]] = []
            while k > info.cl_start:
                prev = [sp for sp in sent.item_spans if sp[1] == k]
                if not prev:
                    break
                pa = max(
                    info.cl_start,
                    max(
                        (sb for sa, sb in sent.item_spans if sb <= prev[0][0]),
                        default=info.cl_start,
                    ),
                )
                seg = s[pa : prev[0][0]]
                m = rules.qty_item.match(seg)
                if not m or any(pa <= h.start < prev[0][0] for h in sent.hits):
                    break
                v = rules.last_verb(m.group("verb") or "")
                shared.append(
                    (
                        pa + (len(seg) - len(seg.lstrip())),
                        prev[0][0],
                        v[1] if v else action,
                        _cn_number(m.group(2)),
                    )
                )
                k = pa
            for pa, _pb, act2, q2 in reversed(shared):
                emit(
                    info,
                    name=info.name,
                    kind="named" if info.named else "generic",
                    a=pa,
                    b=info.ev_end,
                    action=act2,
                    quantity=q2,
                    rule="shared_noun",
                    place=place,
                )
            emit(
                info,
                name=info.name,
                kind="named" if info.named else "generic",
                a=info.ev_start,
                b=info.ev_end,
                action=action,
                quantity=qty,
                rule=rule,
                place=place,
            )
        for head, a, b, name in sent.deng_items:
            if head.dropped:
                continue
            action, _why = _action(sent, head, infos)
            emit(
                head,
                name=name,
                kind="named",
                a=a,
                b=head.ev_end,
                action=action,
                quantity=1,
                rule="list_item",
                counted=head.quantity is None,
                place=sent.r.place_in(s[a:b]),
            )
        for head, a, b, name in sent.example_items:
            emit(
                head,
                name=name.strip("“”"),
                kind="named",
                a=a,
                b=b,
                action="existing",
                quantity=1,
                rule="example",
                place=sent.r.place_in(s[a:b]),
            )
    out.sort(key=lambda m: (m.start, m.end))
    return _propagate_out_of_area(_dedupe(out))


def _propagate_out_of_area(ms: list[Mention]) -> list[Mention]:
    """Mark a named facility placed outside once (田坝社区睦邻中心) outside everywhere."""
    outside = {m.name for m in ms if m.kind == "named" and m.in_area == "no" and len(m.name) >= 4}
    if not outside:
        return ms
    for m in ms:
        if (
            m.kind == "named"
            and m.in_area != "no"
            and len(m.name) >= 4
            and any(m.name in o or o in m.name for o in outside)
        ):
            m.in_area = "no"
    return ms


def _dedupe(ms: list[Mention]) -> list[Mention]:
    seen: set[tuple[int, int, str, str]] = set()
    out = []
    for m in ms:
        key = (m.start, m.end, m.category, m.name)
        if key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out


def mentions_frame(mentions: Iterable[Mention], taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Mentions as a DataFrame with the contract columns first, then the extras."""
    tax = taxonomy or load_taxonomy()
    rows = [asdict(m) for m in mentions]
    df = pd.DataFrame(
        rows,
        columns=[
            *MENTIONS.names,
            *[c for c in EXTRA_COLUMNS if c not in ("label_zh", "label_en")],
        ],
    )
    df["label_zh"] = df["category"].map(lambda k: tax.categories[k].label_zh)
    df["label_en"] = df["category"].map(lambda k: tax.categories[k].label_en)
    df["quantity"] = df["quantity"].astype("Int64")
    df["start"] = df["start"].astype("int64")
    df["end"] = df["end"].astype("int64")
    df["counted"] = df["counted"].astype(bool)
    return df[[*MENTIONS.names, *EXTRA_COLUMNS]]


#: Encodings a plain-text plan may use (tried in order after a byte-order mark).
PLAN_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030")


def read_plan(path: str | Path) -> str:
    """Read a plan document: ``.docx`` (python-docx), or plain text in UTF-8 or GB18030.

    Raises
    ------
    InputError
        Missing, empty, binary, or not UTF-8/GB18030 text, or an unreadable ``.docx``.
    """
    path = Path(path)
    if not path.exists() or not path.is_file():
        raise InputError("plan document not found", path=path)
    if path.suffix.lower() == ".docx":
        text = _read_docx(path)
    else:
        text = decode_plan_bytes(path.read_bytes(), path)
    if not text.strip():
        raise InputError("plan document is empty", path=path)
    return text


def decode_plan_bytes(data: bytes, path: object = None) -> str:
    """Decode a plain-text plan: UTF-8 (BOM or not), UTF-16 with a BOM, or GB18030."""
    if not data.strip():
        raise InputError("plan document is empty", path=path)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:65536] or data[:4] == b"PK\x03\x04" or data[:5] == b"%PDF-":
        raise InputError(
            "plan document is a binary file, not text",
            path=path,
            hint="give a .txt (UTF-8 or GB18030) or a .docx",
        )
    for enc in PLAN_ENCODINGS:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _plausible_text(text):
            return text
    raise InputError(
        "plan document is not text in a known encoding (expected UTF-8 or GB18030)", path=path
    )


def _plausible_text(text: str) -> bool:
    """Return True when nearly every character is CJK, ASCII text or common punctuation."""
    sample = text[:200000]
    if not sample:
        return False
    bad = sum(
        1
        for c in sample
        if not (c.isprintable() or c in "\n\r\t")
        or "\ue000" <= c <= "\uf8ff"  # private use: a wrong decoding
    )
    return bad / len(sample) < 0.01


def _read_docx(path: Path) -> str:
    """Paragraphs and table rows (cells joined with ``|``) of a ``.docx`` in document order."""
    try:
        import docx  # python-docx: only plans in .docx need it
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependencyError("python-docx", purpose="reading .docx plans") from None
    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise InputError(f"cannot read .docx: {exc}", path=path) from None
    lines: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append("".join(t.text or "" for t in child.iter() if t.tag.endswith("}t")))
        elif tag == "tbl":
            for row in child.iter():
                if not row.tag.endswith("}tr"):
                    continue
                cells = []
                for cell in row.iterchildren():
                    if cell.tag.endswith("}tc"):
                        cells.append(
                            "".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t"))
                        )
                lines.append("|".join(cells))
    return "\n".join(lines)


def plan_doc_id(relpath: str | Path) -> str:
    """Document id of a plan file: its name without ``.txt`` / ``.docx``."""
    name = Path(relpath).name
    if name.lower().endswith(".txt"):
        return name[:-4]
    return Path(name).stem


def other_subdistricts(registry: Registry, area: Area) -> list[str]:
    """Names of the other subdistricts in the boundary file (e.g. 控江路街道)."""
    try:
        import pyogrio

        path = registry.resolve(area.boundary_file, what="boundary file")
        cols = pyogrio.read_info(path)["fields"]
        col = next((c for c in ("osm_name", "name", "name_zh") if c in list(cols)), None)
        if col is None:
            return []
        names = pyogrio.read_dataframe(path, columns=[col], read_geometry=False)[col]
    except LifeCircleError:
        raise
    except Exception as exc:  # unreadable boundary file: the registry reports it elsewhere
        _log.warning("cannot read subdistrict names: %s", exc)
        return []
    return sorted({str(n) for n in names.dropna() if str(n) and str(n) != area.name_zh})


def extract_all(
    registry: Registry,
    areas: Iterable[Area | str] | None = None,
    taxonomy: Taxonomy | None = None,
    *,
    progress: ProgressFn | None = None,
) -> pd.DataFrame:
    """Extract mentions from every plan of the chosen areas.

    Parameters
    ----------
    registry
        The study-area registry (:func:`geo.areas.load_registry`).
    areas
        Area objects or ids (default: all areas).
    taxonomy
        Categories and lexicon (default taxonomy file).
    progress
        Optional wrapper ``progress(iterable, desc)`` for a progress bar over the plans.

    Returns
    -------
    pandas.DataFrame
        The mention table (contract columns first), in area and document order.
    """
    tax = taxonomy or load_taxonomy()
    chosen = [
        registry.get(a) if isinstance(a, str) else a
        for a in (areas if areas is not None else registry)
    ]
    frames = []
    jobs = [(area, rel) for area in chosen for rel in area.plans]
    others: dict[str, list[str]] = {}
    it: Iterable[Any] = progress(jobs, "plans / 规划文本") if progress else jobs
    for area, rel in it:
        if area.id not in others:
            others[area.id] = other_subdistricts(registry, area)
        path = registry.resolve(rel, what=f"plan of area '{area.id}'")
        text = read_plan(path)
        ms = extract_mentions(text, plan_doc_id(rel), area.id, tax, other_places=others[area.id])
        frames.append(mentions_frame(ms, tax))
    if not frames:
        return mentions_frame([], tax)
    return pd.concat(frames, ignore_index=True)


def summarize(df: pd.DataFrame, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Return counts per plan and category: mentions, named, and per action."""
    tax = taxonomy or load_taxonomy()
    out: dict[str, Any] = {"plans": {}, "total": len(df)}
    for doc, g in df.groupby("doc", sort=False):
        per_cat = {}
        for key in tax.keys:
            gc = g[g["category"] == key]
            if gc.empty:
                continue
            per_cat[key] = {
                "label": tax.categories[key].label,
                "mentions": len(gc),
                "named": int((gc["kind"] == "named").sum()),
                **{a: int((gc["action"] == a).sum()) for a in ("new", "upgrade", "existing")},
                "out_of_area": int((gc["in_area"] == "no").sum()),
            }
        out["plans"][str(doc)] = {
            "area": str(g["area"].iloc[0]),
            "mentions": len(g),
            "named": int((g["kind"] == "named").sum()),
            "categories": per_cat,
        }
    return out
