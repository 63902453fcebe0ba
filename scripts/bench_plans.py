"""Benchmark plan extraction on synthetic plan text (a benchmark, not a test).

Synthetic data only: sentences built from templates in the style of subdistrict work plans,
with made-up place names, head nouns, verbs and quantities, plus filler sentences without any
facility, repeated up to the requested size (default 1 MB of UTF-8). Reports the one-off rule
set-up (jieba dictionary, patterns) and the extraction time separately. Target: under 10 s in
all for 1 MB.

    .venv/bin/python scripts/bench_plans.py [--mb 1.0] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from geo.facilities.plans import _rules_for, extract_mentions
from geo.facilities.taxonomy import load_taxonomy

PLACES = ["松风", "银杏", "翠湖", "青枫", "海棠", "明月", "福临", "康乐", "星河", "梧桐"]
ROADS = ["银杏路", "海棠路", "青枫路", "松风路", "星河路"]
FACILITIES = ["睦邻中心", "长者食堂", "书房", "广场", "颐养院", "社区卫生服务站", "文化盒子",
              "菜场", "休息站", "口袋公园", "健身苑点", "托育点", "邻里汇", "滨水步道"]  # fmt: skip
VERBS = ["新建", "改造提升", "依托", "完成", "持续运营", "启动", "升级改造", "新增"]
POSTS = ["", "建设", "改造", "正式开放", "揭牌启用", "投入使用"]
QTY = ["", "1个", "两处", "3家", "五大"]
FILLER = [
    "坚持党建引领，深化基层治理创新，推动各项工作取得新成效。",
    "加强安全生产和消防隐患排查，守牢城市运行安全底线。",
    "围绕营商环境优化，做好企业服务和经济发展各项工作。",
    "深化“一网通办”改革，提升政务服务效能。",
]


def synthetic_plan(n_bytes: int, seed: int = 0) -> str:
    """Synthetic plan text of at least ``n_bytes`` UTF-8 bytes (headings, lists, filler)."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    k = 0
    while size < n_bytes:
        if k % 40 == 0:
            parts.append(f"\n{'一二三四五六七八九十'[k // 40 % 10]}、重点工作\n")
        if rng.random() < 0.4:
            s = rng.choice(FILLER)
        else:
            items = "、".join(
                f"{rng.choice(PLACES)}{rng.choice(FACILITIES)}" for _ in range(rng.randint(1, 3))
            )
            s = (
                f"{rng.choice(VERBS)}{rng.choice(ROADS)}{rng.choice(QTY)}{items}"
                f"{rng.choice(POSTS)}，方便周边居民。"
            )
        parts.append(s)
        size += len(s.encode("utf-8"))
        k += 1
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0, help="Text size in MB (default 1).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = ap.parse_args(argv)
    text = synthetic_plan(int(args.mb * 1_000_000), args.seed)
    t0 = time.perf_counter()
    tax = load_taxonomy()
    _rules_for(tax)
    t1 = time.perf_counter()
    ms = extract_mentions(text, "synthetic", "synthetic", tax)
    t2 = time.perf_counter()
    res = {
        "bytes": len(text.encode("utf-8")),
        "chars": len(text),
        "mentions": len(ms),
        "named": sum(m.kind == "named" for m in ms),
        "setup_s": round(t1 - t0, 2),
        "extract_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(
            f"{res['bytes'] / 1e6:.2f} MB synthetic plan text: {res['mentions']} mentions "
            f"({res['named']} named); set-up {res['setup_s']} s, extraction {res['extract_s']} s, "
            f"total {res['total_s']} s (target < 10 s)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
