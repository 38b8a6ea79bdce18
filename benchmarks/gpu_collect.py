"""Files a GPU check's results (what ``benchmarks/gpu_check.sh`` left in the device call's $OUT) into
``benchmarks/results/`` under the house names: ``<date>-<gpu>-<what>.json`` (the suite's JSON and plot
keep their own names), plus the run's log as ``<date>-<gpu>-gpu-check.log``.

Every JSON must say what ran, when, where and on which commit (``date``, ``command``, ``commit``,
``device``); one that does not, or whose commit is unknown, stops the filing with a one-line reason.

    python benchmarks/gpu_collect.py <folder the files came back to (files_at)> [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REQUIRED = ("date", "command", "commit", "device")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _gpu(doc: dict) -> str:
    """The GPU's name (benchmark headers name it under ``machine``; fp16_drift names it as device)."""
    machine = doc.get("machine")
    if machine is not None:
        return machine.get("gpu") or ""
    return str(doc.get("device", ""))


def plan(src: Path, allow_cpu: bool = False) -> list[tuple[Path, str]]:
    """(source file, name under results/) for everything worth keeping; raises ValueError on a result
    that does not say where and when it was measured."""
    jsons = sorted(src.glob("*.json")) + sorted(src.glob("suite/*.json"))
    if not jsons:
        raise ValueError(f"no result JSON under {src}")
    out, day, gpu = [], None, None
    for path in jsons:
        doc = json.loads(path.read_text())
        missing = [k for k in REQUIRED if not doc.get(k)]
        if missing:
            raise ValueError(f"{path.name} lacks {', '.join(missing)}")
        if doc["commit"] == "unknown":
            raise ValueError(f"{path.name}: commit unknown (run gpu_check.sh with VSR_COMMIT set)")
        where = _gpu(doc)
        if not allow_cpu and (not where or str(doc["device"]).lower().startswith("cpu")):
            raise ValueError(f"{path.name} was not measured on a GPU ({doc['device']}): nothing to file")
        day = day or doc["date"][:10]
        gpu = gpu or slug(where or "cpu")
        name = path.name if path.parent.name == "suite" else f"{doc['date'][:10]}-{slug(where or 'cpu')}-{path.stem}.json"
        out.append((path, name))
    out += [(png, png.name) for png in sorted(src.glob("suite/*.png"))]
    if (src / "check.log").is_file():
        out.append((src / "check.log", f"{day}-{gpu}-gpu-check.log"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="the folder the device call's $OUT files came back to")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--allow-cpu", action="store_true", help="file a CPU rehearsal too (never commit those)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    try:
        todo = plan(args.src, args.allow_cpu)
    except (ValueError, OSError, json.JSONDecodeError) as e:
        print(f"gpu_collect: {e}", file=sys.stderr)
        return 2
    for path, name in todo:
        partial = path.suffix == ".json" and json.loads(path.read_text()).get("complete") is False
        print(f"{path} -> {args.results / name}" + ("  (partial: stopped by its time limit; say so)" if partial else ""))
        if not args.dry_run:
            args.results.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, args.results / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
