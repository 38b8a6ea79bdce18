"""Peak memory (and time) of ``vsr upscale`` on one big still image, variants side by side in one run.

A phone photo upscaled x4 is the biggest frame vsr meets: 4032x3024 in, 16128x12096 out (585 MB as
8-bit RGB, 2.3 GB as the engine's fp32). Each variant is one ``python -m vsr upscale`` child
process; its peak resident size is the kernel's ``ru_maxrss`` for that child (``os.wait4``), and
the outputs' hashes say whether the variants wrote the same picture. The peak moves from run to run
(which blocks glibc's heap can reuse depends on the threads' timing: 6.1 to 11.3 GB for the same
command here), so ``--repeat`` runs the variants in interleaved rounds and reports every peak.

Variants: ``--tile N`` values of this tree (0: vsr's own choice), and with ``--before DIR`` the
same run from another checkout of vsr (e.g. ``git worktree add /tmp/before <commit>``), which
is how a change's effect is measured in one run rather than against an old figure.

    python benchmarks/bench_memory.py --image ../shared/data/eval/Kodak24/kodim03.png --size 4032x3024 \\
        -s 4 --before /tmp/before --repeat 3 --json benchmarks/results/<date>-cpu-memory-photo-x4.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(tree: Path, args: list[str], cwd: Path) -> dict:
    """Run ``python -m vsr upscale ARGS`` with ``tree`` first on the path; peak RSS, wall time.
    ``cwd`` must hold no vsr: ``python -m`` puts the working directory before ``PYTHONPATH``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")])))
    t0 = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "vsr", "upscale", *args, "-q", "-y"], env=env, cwd=cwd,
                             stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    err = child.stderr.read() if child.stderr else ""
    if child.returncode:
        raise SystemExit(f"vsr upscale {' '.join(args)} failed ({child.returncode}): {err.strip()}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024), "seconds": round(seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from vsr.bench.suite import git_commit, write_result

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", required=True, help="a photo, resized to --size (Lanczos) as the input")
    ap.add_argument("--size", default="4032x3024", help="input size WxH (default: a 12 MP phone photo)")
    ap.add_argument("-s", "--scale", type=int, default=4)
    ap.add_argument("-m", "--model", default="compact-x4-fast",
                    help="the model every variant runs (a --before tree may have had another default)")
    ap.add_argument("--tile", type=int, action="append", help="a --tile value to run (repeatable; default 0)")
    ap.add_argument("--before", type=Path, help="another vsr checkout, run with its defaults")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds of all variants")
    ap.add_argument("--json", type=str, default=None)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    here = Path(__file__).resolve().parents[1]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.png"
        Image.open(args.image).convert("RGB").resize((w, h), Image.LANCZOS).save(src)
        variants = [(f"--tile {t}", here, ["--tile", str(t)]) for t in (args.tile or [0])]
        if args.before:
            variants.insert(0, (f"before ({args.before})", args.before.resolve(), []))
        for round_ in range(args.repeat):
            for name, tree, extra in variants:
                out = Path(tmp) / "out.png"
                row = {"variant": name, "round": round_,
                       **run(tree, [str(src), "-o", str(out), "-s", str(args.scale), "-m", args.model, *extra],
                             Path(tmp))}
                row["output_sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
                rows.append(row)
                print(f"{name:40s} peak {row['peak_rss_mb']:6d} MB  {row['seconds']:7.2f} s  {row['output_sha256']}",
                      flush=True)
    if args.json:
        write_result(args.json, {
            "benchmark": "memory", "command": " ".join(["python", *sys.argv]),
            "date": datetime.date.today().isoformat(), "commit": git_commit(), "device": "cpu",
            "input": f"{w}x{h}", "scale": args.scale, "model": args.model, "results": rows,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
