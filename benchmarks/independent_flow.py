"""Score surveil's rules on independently written drop-copy days (benchmarks/independent/).

For each held-out (date, seed) pair: dropcopy.py writes the day's FIX log and labels, then
the real CLI runs `import-fix`, `upload`, `load`, `validate` and `detect` in a temporary
SURVEIL_HOME on the embedded default warehouse, and `alerts --json` gives the day's alerts.

An alert is true when it matches an abuse case of its rule's type: same symbol, an account
in common and at least one ClOrdID or ExecID in common (excessive_otr: account and symbol,
or the account alone when the case spans symbols). Precision is per alert, recall per
abuse case; alerts on look-alikes are counted apart (and are false).

    python benchmarks/independent_flow.py --days 3 --orders 40000 --details
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DROPCOPY = HERE / "independent" / "dropcopy.py"
RULES = ("wash_trade", "spoofing", "marking_the_close", "excessive_otr", "front_running")
# held out: never used while the drop copy was written
HELD_OUT = [
    ("2026-10-14", 101),
    ("2026-10-21", 202),
    ("2026-11-04", 303),
    ("2026-11-12", 404),
    ("2026-11-18", 505),
]


def surveil_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "surveil"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("surveil")
    return [found] if found else [sys.executable, "-m", "surveil"]


def clean_env(home: Path) -> dict[str, str]:
    """The embedded default: no configured database, lake or data folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SURVEIL_", "S3_", "AWS_")) and k != "DATA_DIR"
    }
    env["SURVEIL_HOME"] = str(home)
    return env


def run(cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:3])} ... exited {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()[:2000]}"
        )
    out = proc.stdout.strip()
    return json.loads(out) if out.startswith("{") else {"stdout": out}


def run_day(day: str, seed: int, orders: int, home: Path, env: dict) -> dict:
    out = home / "dropcopy" / day
    timings = {}
    start = time.perf_counter()
    run(
        [
            sys.executable,
            str(DROPCOPY),
            "--date",
            day,
            "--seed",
            str(seed),
            "--orders",
            str(orders),
            "--out",
            str(out),
        ],
        env,
    )
    timings["dropcopy"] = time.perf_counter() - start
    cli = surveil_cmd()
    steps = {}
    for stage, extra in (
        ("import-fix", [str(out / f"dropcopy-{day}.fix")]),
        ("upload", []),
        ("load", []),
        ("validate", []),
        ("detect", []),
        ("alerts", []),
    ):
        start = time.perf_counter()
        args = [stage, *extra, "--date", day, "--json"]
        steps[stage] = run(cli + args, env)
        timings[stage] = time.perf_counter() - start
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    imported = steps["import-fix"]
    return {
        "date": day,
        "seed": seed,
        "labels": labels,
        "alerts": steps["alerts"]["alerts"],
        "import": {
            k: imported.get(k)
            for k in ("messages", "orders", "executions", "rejected", "skipped_by_reason")
        },
        "validation": steps["validate"].get("status"),
        "timings": timings,
    }


def matches(alert: dict, case: dict, rule: str | None = None) -> bool:
    if rule is not None and case["type"] != rule:
        return False
    if not set(alert["account_ids"]) & set(case["account_ids"]):
        return False
    if case["type"] == "excessive_otr" and (rule == "excessive_otr" or rule is None):
        wide = case["symbol"] is None or alert["symbol"] == "*"  # either spans the account
        return wide or alert["symbol"] in case.get("symbols", [case["symbol"]])
    if alert["symbol"] != case["symbol"]:
        return False
    return bool(
        set(alert["cl_ord_ids"]) & set(case["cl_ord_ids"])
        or set(alert["exec_ids"]) & set(case["exec_ids"])
    )


def score_day(day: dict) -> dict:
    """Each alert: true (an abuse case of its type), on a look-alike, or other false."""
    abuse = [c for c in day["labels"] if c["label"] == "abuse"]
    looks = [c for c in day["labels"] if c["label"] == "lookalike"]
    found: set[str] = set()
    flagged_looks: set[str] = set()
    verdicts = []
    for alert in day["alerts"]:
        hits = [c["case_id"] for c in abuse if matches(alert, c, alert["rule"])]
        look = [c["case_id"] for c in looks if matches(alert, c)]
        found.update(hits)
        if not hits:
            flagged_looks.update(look)
        kind = "true" if hits else ("lookalike" if look else "false")
        verdicts.append({"kind": kind, "cases": hits or look, "alert": alert})
    return {
        "verdicts": verdicts,
        "found": found,
        "flagged_lookalikes": flagged_looks,
        "abuse": abuse,
        "lookalikes": looks,
    }


def ratio(num: int, den: int):
    return round(num / den, 3) if den else None


def table(days: list[dict]) -> list[dict]:
    rows = []
    for rule in RULES:
        v = [x for d in days for x in d["score"]["verdicts"] if x["alert"]["rule"] == rule]
        cases = [c for d in days for c in d["score"]["abuse"] if c["type"] == rule]
        found = [
            c
            for d in days
            for c in d["score"]["abuse"]
            if c["type"] == rule and c["case_id"] in d["score"]["found"]
        ]
        looks = [c for d in days for c in d["score"]["lookalikes"] if c["type"] == rule]
        looks_hit = [
            c
            for d in days
            for c in d["score"]["lookalikes"]
            if c["type"] == rule and c["case_id"] in d["score"]["flagged_lookalikes"]
        ]
        true = sum(x["kind"] == "true" for x in v)
        rows.append(
            {
                "rule": rule,
                "alerts": len(v),
                "true": true,
                "on_lookalikes": sum(x["kind"] == "lookalike" for x in v),
                "other_false": sum(x["kind"] == "false" for x in v),
                "precision": ratio(true, len(v)),
                "cases": len(cases),
                "found": len(found),
                "recall": ratio(len(found), len(cases)),
                "lookalikes": len(looks),
                "lookalikes_flagged": len(looks_hit),
            }
        )
    return rows


def fmt(value) -> str:
    return "n/a" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))


def print_table(rows: list[dict]) -> None:
    cols = (
        "rule",
        "alerts",
        "true",
        "on_lookalikes",
        "other_false",
        "precision",
        "cases",
        "found",
        "recall",
        "lookalikes",
        "lookalikes_flagged",
    )
    heads = (
        "rule",
        "alerts",
        "true",
        "on look-alikes",
        "other false",
        "precision",
        "abuse cases",
        "found",
        "recall",
        "look-alikes",
        "look-alikes alerted",
    )
    widths = [
        max(len(h), *(len(fmt(r[c])) for r in rows)) for h, c in zip(heads, cols, strict=True)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    for r in rows:
        print("  ".join(fmt(r[c]).ljust(w) for c, w in zip(cols, widths, strict=True)))


def print_details(days: list[dict]) -> None:
    print("\nFalse alerts:")
    for d in days:
        for x in d["score"]["verdicts"]:
            if x["kind"] == "true":
                continue
            a = x["alert"]
            tag = f" [look-alike {', '.join(x['cases'])}]" if x["cases"] else ""
            print(
                f"- {d['date']} {a['rule']} {a['symbol']} {','.join(a['account_ids'][:4])}"
                f"{tag}: {a.get('explanation', '')[:300]}"
            )
    print("\nMissed abuse cases:")
    for d in days:
        for c in d["score"]["abuse"]:
            if c["case_id"] not in d["score"]["found"]:
                print(
                    f"- {c['case_id']} {c['type']} {c['symbol'] or 'many symbols'} "
                    f"{','.join(c['account_ids'])}: {c['description']}"
                )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=3, help=f"held-out days, 1-{len(HELD_OUT)}")
    ap.add_argument("--orders", type=int, default=40000)
    ap.add_argument("--details", action="store_true", help="every false alert and missed case")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args(argv)
    if not 1 <= args.days <= len(HELD_OUT):
        ap.error(f"--days must be 1..{len(HELD_OUT)}")
    days = []
    with tempfile.TemporaryDirectory(prefix="surveil-indep-") as tmp:
        home = Path(tmp)
        env = clean_env(home)
        for day, seed in HELD_OUT[: args.days]:
            result = run_day(day, seed, args.orders, home, env)
            result["score"] = score_day(result)
            days.append(result)
            if not args.json:
                print(
                    f"{day} seed {seed}: {sum(result['import']['messages'].values())} messages, "
                    f"{len(result['alerts'])} alerts, validation {result['validation']}, "
                    + ", ".join(f"{k} {v:.1f}s" for k, v in result["timings"].items()),
                    file=sys.stderr,
                )
    rows = table(days)
    if args.json:
        print(json.dumps({"table": rows, "days": [_day_json(d) for d in days]}, default=list))
        return 0
    print_table(rows)
    if args.details:
        print_details(days)
    return 0


def _day_json(d: dict) -> dict:
    s = d["score"]
    return {
        "date": d["date"],
        "seed": d["seed"],
        "import": d["import"],
        "timings": d["timings"],
        "validation": d["validation"],
        "false_alerts": [
            {"kind": x["kind"], "cases": x["cases"], **x["alert"]}
            for x in s["verdicts"]
            if x["kind"] != "true"
        ],
        "missed": [c for c in s["abuse"] if c["case_id"] not in s["found"]],
        "found": sorted(s["found"]),
        "lookalikes_alerted": sorted(s["flagged_lookalikes"]),
    }


if __name__ == "__main__":
    raise SystemExit(main())
