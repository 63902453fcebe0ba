"""Plan extraction on the five real plans, scored against the hand-labelled gold sets.

Gold files (``tests/gold/<doc>.yaml``) hold the named facilities (name, category, action) and
the generic mentions a careful planner lists; ``scope: full`` files were labelled over the whole
plan (precision counts), ``scope: partial`` ones list must-find facilities (recall only).

The figures are printed (``pytest -s``) and written to ``out/test-artifacts/plans_gold.json``;
the test fails when any drops below the figure stated in :data:`STATED`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rapidfuzz import fuzz

from geo.facilities.plans import extract_all
from geo.facilities.taxonomy import load_taxonomy

pytestmark = pytest.mark.integration

GOLD_DIR = Path(__file__).parent / "gold"

#: The figures reported in the issue notes; the test fails below any of them. These are
#: IN-SAMPLE figures: the rules were written while reading these five plans (issue #12 added
#: four facilities the first labelling left out: 五角场广场 twice, 金丽心灵驿站, 阳光综合服务中心).
STATED = {
    "named_precision": 22 / 22,  # full-scope plans
    "named_recall": 30 / 30,  # all gold files
    "category_accuracy": 30 / 30,  # matched named facilities
    "action_accuracy": 29 / 30,
    "generic_recall": 49 / 49,
    "generic_accuracy": 48 / 49,  # category, action and quantity (where labelled) all right
}


def _norm(name: object) -> str:
    return re.sub(r"[“”\"'·•\s()（）]", "", str(name))


def _similar(a: str, b: str) -> float:
    a, b = _norm(a), _norm(b)
    score = fuzz.ratio(a, b)
    if min(len(a), len(b)) >= 3 and (a in b or b in a):
        score = max(score, 90.0)
    return score


def match_named(gold: list[dict], names: list[str]) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of gold names to extracted names (similarity >= 80)."""
    pairs, used = [], set()
    for gi, g in enumerate(gold):
        best = max(((s, ei) for ei, n in enumerate(names) if ei not in used
                    for s in [_similar(g["name"], n)] if s >= 80), default=None)  # fmt: skip
        if best is not None:
            used.add(best[1])
            pairs.append((gi, best[1]))
    return pairs


def _qty_equal(value: object, want: int) -> bool:
    return not pd.isna(value) and int(value) == want


def score(df: pd.DataFrame, golds: list[dict]) -> dict:
    """Named precision/recall, category/action accuracy, generic recall/accuracy."""
    c = dict.fromkeys(("gold", "gold_full", "ext", "tp", "tp_full", "matched", "cat", "act",
                       "g_gold", "g_found", "g_ok"), 0)  # fmt: skip
    problems: list[str] = []
    for g in golds:
        d = df[df["doc"] == g["doc"]]
        named = d[d["kind"] == "named"]
        names = list(dict.fromkeys(named["name"]))
        first = {n: named[named["name"] == n].iloc[0] for n in names}
        pairs = match_named(g["named"], names)
        c["gold"] += len(g["named"])
        c["tp"] += len(pairs)
        if g["scope"] == "full":
            c["gold_full"] += len(g["named"])
            c["ext"] += len(names)
            c["tp_full"] += len(pairs)
        for gi, ei in pairs:
            want, got = g["named"][gi], first[names[ei]]
            c["matched"] += 1
            c["cat"] += want["category"] == got["category"]
            c["act"] += want["action"] == got["action"]
            if (want["category"], want["action"]) != (got["category"], got["action"]):
                problems.append(f"{g['doc']}: {want['name']} -> {got['category']}/{got['action']}")
        found = {gi for gi, _ in pairs}
        problems += [f"{g['doc']}: missed {x['name']}" for i, x in enumerate(g["named"])
                     if i not in found]  # fmt: skip
        generic = d[d["kind"] == "generic"]
        used: set[int] = set()
        for item in g.get("generic", []):
            c["g_gold"] += 1
            cands = [i for i, r in generic.iterrows() if item["cue"] in r["name"] and i not in used]
            if not cands:
                problems.append(f"{g['doc']}: missed generic {item['cue']}")
                continue

            def fit(i: int, item: dict = item, generic: pd.DataFrame = generic) -> int:
                r = generic.loc[i]
                q = "quantity" in item and _qty_equal(r["quantity"], item["quantity"])
                return (
                    int(r["category"] == item["category"]) + int(r["action"] == item["action"]) + q
                )

            best = max(cands, key=fit)
            used.add(best)
            r = generic.loc[best]
            c["g_found"] += 1
            ok = (
                r["category"] == item["category"]
                and r["action"] == item["action"]
                and ("quantity" not in item or _qty_equal(r["quantity"], item["quantity"]))
            )
            c["g_ok"] += ok
            if not ok:
                problems.append(
                    f"{g['doc']}: generic {item} -> {r['category']}/{r['action']}/{r['quantity']}"
                )
    return {
        "named_precision": c["tp_full"] / c["ext"],
        "named_recall": c["tp"] / c["gold"],
        "named_recall_full_scope": c["tp_full"] / c["gold_full"],
        "category_accuracy": c["cat"] / c["matched"],
        "action_accuracy": c["act"] / c["matched"],
        "generic_recall": c["g_found"] / c["g_gold"],
        "generic_accuracy": c["g_ok"] / c["g_gold"],
        "counts": c,
        "problems": problems,
    }


@pytest.fixture(scope="module")
def golds():
    out = []
    for p in sorted(GOLD_DIR.glob("*.yaml")):
        g = yaml.safe_load(p.read_text(encoding="utf-8"))
        assert g["doc"] == p.stem and g["scope"] in ("full", "partial"), p
        out.append(g)
    return out


@pytest.fixture(scope="module")
def extracted(registry):
    t0 = time.perf_counter()
    df = extract_all(registry, taxonomy=load_taxonomy())
    return df, time.perf_counter() - t0


def test_gold_sets_cover_at_least_two_plans_in_full(golds):
    assert sum(g["scope"] == "full" for g in golds) >= 2


def test_extraction_of_all_five_plans_is_fast(extracted):
    df, seconds = extracted
    assert df["doc"].nunique() == 5
    assert seconds < 30.0


def test_figures_meet_the_stated_ones(extracted, golds, artifacts):
    df, _ = extracted
    s = score(df, golds)
    print("\nplan extraction vs gold, IN-SAMPLE (the seed plans) / 规划提取金标准评估（样本内）")
    for k in (
        "named_precision",
        "named_recall",
        "named_recall_full_scope",
        "category_accuracy",
        "action_accuracy",
        "generic_recall",
        "generic_accuracy",
    ):
        print(f"  {k:<26}{s[k]:7.1%}")
    print("  counts", s["counts"])
    for p in s["problems"]:
        print("  -", p)
    (artifacts / "plans_gold.json").write_text(
        json.dumps(s, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    low = {k: (round(s[k], 4), round(v, 4)) for k, v in STATED.items() if s[k] < v - 1e-9}
    assert low == {}


def test_evidence_offsets_hold_on_the_real_plans(extracted, registry):
    df, _ = extracted
    texts = {}
    for area in registry:
        for rel in area.plans:
            texts[Path(rel).name[:-4]] = registry.resolve(rel).read_text(encoding="utf-8")
    bad = [r.Index for r in df.itertuples()
           if texts[r.doc][r.start : r.end] != r.evidence]  # fmt: skip
    assert bad == []


def test_evidence_contains_the_keyword(extracted):
    df, _ = extracted
    fold = str.maketrans({"\n": None, "\r": None, "，": ","})
    bad = [(r.doc, r.evidence) for r in df.itertuples()
           if r.keyword.translate(fold) not in r.evidence.translate(fold)]  # fmt: skip
    assert bad == []


def test_out_of_area_gold_facilities_are_marked_no(extracted, golds):
    df, _ = extracted
    wrong = []
    for g in golds:
        d = df[(df["doc"] == g["doc"]) & (df["kind"] == "named")]
        for item in g["named"]:
            if "in_area" not in item:
                continue
            hits = d[[_similar(item["name"], n) >= 80 for n in d["name"]]]
            if hits.empty or set(hits["in_area"]) != {item["in_area"]}:
                wrong.append(item["name"])
    assert wrong == []


def test_gold_place_hints_are_found(extracted, golds):
    df, _ = extracted
    wrong = []
    for g in golds:
        d = df[(df["doc"] == g["doc"]) & (df["kind"] == "named")]
        for item in g["named"]:
            if "place_hint" not in item:
                continue
            hits = d[[_similar(item["name"], n) >= 80 for n in d["name"]]]
            if hits.empty:
                continue  # a missed facility counts against recall, not here
            if not any(isinstance(p, str) and item["place_hint"] in p for p in hits["place_hint"]):
                wrong.append(item["name"])
    assert wrong == []
