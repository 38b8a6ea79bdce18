"""Loss ablation: train a recipe with each of its losses switched off in turn, and evaluate every run.

    python -m vsr.train.ablation -c x2-fast-perceptual --data DIR --eval DIR [--eval DIR] \
        --steps 300 --out runs/ablation --json ablation.json [--set section.key=value ...]

Every variant starts from the same seed and data order and runs the same number of steps, so the
differences measure what each loss brings (short runs show the direction of each effect, not the
converged figures). The table gives PSNR-Y, SSIM-Y and ST-LPIPS per evaluation set, as in
``vsr eval``. A loss the recipe does not use (weight 0) is not ablated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from vsr.train.config import load_train_config

# loss name -> the config key of its weight
LOSSES = {"pixel": "pixel_weight", "hfp": "hfp_weight", "stlpips": "stlpips_weight",
          "distill": "distill_weight", "gan": "gan_weight"}


def variants(cfg) -> list[tuple[str, list[str]]]:
    """``[(name, overrides)]``: the full recipe, then one variant per active loss with it off."""
    active = [name for name, key in LOSSES.items() if getattr(cfg.loss, key) > 0]
    out = [("full", [])]
    for name in active:
        if len(active) > 1:  # switching off the only loss leaves nothing to train
            out.append((f"no {name}", [f"loss.{LOSSES[name]}=0"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vsr.train.ablation", description=__doc__.split("\n\n")[0])
    ap.add_argument("-c", "--config", required=True, help="training config (name in configs/train or TOML path)")
    ap.add_argument("--data", nargs="+", required=True, help="HR training image folders")
    ap.add_argument("--eval", nargs="+", required=True, help="evaluation dataset folders (HR images)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default="runs/ablation", help="folder for the runs")
    ap.add_argument("--json", default=None)
    ap.add_argument("--max-images", type=int, default=0, help="per evaluation set (0: all)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--only", nargs="*", default=None, help="run only these variants (e.g. full 'no hfp')")
    args = ap.parse_args(argv)

    from vsr.archs import load_model
    from vsr.metrics.benchmark import evaluate, find_datasets
    from vsr.train.loop import Trainer

    base_sets = list(args.sets) + [f"optim.steps={args.steps}", "run.log_every=50",
                                   f"run.checkpoint_every={args.steps}", 'run.init=""']
    base = load_train_config(args.config, base_sets)
    datasets = find_datasets(args.eval)
    rows: list[dict] = []
    for name, extra in variants(base):
        if args.only is not None and name not in args.only:
            continue
        run_dir = Path(args.out) / name.replace(" ", "-")
        cfg = load_train_config(args.config, base_sets + extra + [f'run.dir="{run_dir}"'])
        t0 = time.perf_counter()
        trainer = Trainer(cfg, progress=lambda line: print(f"[{name}] {line}", file=sys.stderr, flush=True))
        result = trainer.run(args.data, fresh=True)
        train_s = time.perf_counter() - t0
        model = load_model(str(result.weights), trainer.scale)
        scores = evaluate({name: model.module}, datasets, model.scale, torch.device("cpu"),
                          max_images=args.max_images)
        row = {"variant": name, "off": extra, "steps": result.step, "train_s": round(train_s),
               "final_losses": result.losses,
               "scores": {ds: asdict(r[name]) for ds, r in scores.items()}}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    table = format_rows(rows)
    print(table)
    if args.json:
        record = {"command": "python -m vsr.train.ablation " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "config": args.config,
                  "steps": args.steps, "rows": rows, "table": table}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


def format_rows(rows: list[dict]) -> str:
    """Markdown: one row per variant, PSNR-Y / SSIM-Y / ST-LPIPS per evaluation set."""
    sets = list(rows[0]["scores"]) if rows else []
    head = "| variant | " + " | ".join(f"{s} PSNR-Y | {s} SSIM-Y | {s} ST-LPIPS" for s in sets) + " |"
    lines = [head, "|---|" + "---:|" * (3 * len(sets))]
    for r in rows:
        cells = []
        for s in sets:
            sc = r["scores"][s]
            lp = f"{sc['stlpips']:.4f}" if sc["stlpips"] is not None else "-"
            cells += [f"{sc['psnr_y']:.2f}", f"{sc['ssim_y']:.4f}", lp]
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
