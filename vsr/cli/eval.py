"""``vsr eval``: PSNR-Y / SSIM-Y / ST-LPIPS of a model beside bicubic and lanczos, per dataset."""

from __future__ import annotations

import datetime
import json
import platform
import sys
from pathlib import Path

import click


@click.command("eval")
@click.option("-m", "--model", "model_name", required=True, help="Model name (vsr/weights, bicubic, lanczos) or weight file.")
@click.option("--data", "data_dirs", multiple=True, required=True, type=click.Path(file_okay=False),
              help="Dataset folder of HR images, or a folder of dataset folders (repeatable).")
@click.option("--compare", "compare", multiple=True,
              help="Another model to evaluate on the same LR inputs in the same run (repeatable).")
@click.option("--baselines/--no-baselines", default=True, show_default=True,
              help="Also evaluate bicubic and lanczos.")
@click.option("-s", "--scale", type=int, required=True, help="Upscaling factor.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the results as JSON.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="auto", show_default=True,
              help="auto: fp16 on CUDA, fp32 on the CPU; fp16/bf16 run the engine's mixed form (fp32 head).")
@click.option("--lpips/--no-lpips", default=True, show_default=True, help="Compute ST-LPIPS (slow on the CPU).")
@click.option("--lpips-net", type=click.Choice(["alex", "vgg"]), default="alex", show_default=True,
              help="ST-LPIPS's network: alex (the usual figure) or vgg (a second opinion, from another network).")
@click.option("--max-images", type=int, default=0, help="Only the first N images of each dataset (0: all).")
@click.option("--threads", type=int, default=0, help="torch CPU threads (0: torch's default).")
@click.option("--lr-crf", type=click.IntRange(0, 51), default=None,
              help="Also H.264-compress the LR (libx264 at this crf), as a video upscaler sees its input.")
@click.option("--lr-jpeg", type=click.IntRange(1, 100), default=None,
              help="Or save the LR as a JPEG of this quality (libjpeg's scale, 4:2:0), as a photo upscaler sees its input.")
@click.option("--temporal", is_flag=True,
              help="Each dataset's images (in name order) are consecutive frames of a video (Vid4): also "
                   "score the change from frame to frame (tPSNR-Y: flicker and lost motion lower it).")
def command(model_name: str, data_dirs: tuple[str, ...], compare: tuple[str, ...], baselines: bool, scale: int, json_path: str | None, device: str,
            precision: str, lpips: bool, lpips_net: str, max_images: int, threads: int, lr_crf: int | None, lr_jpeg: int | None,
            temporal: bool) -> None:
    """Evaluate MODEL on the HR images in --data (LR = bicubic downscale with antialias)."""
    import torch

    from vsr.archs import load_model
    from vsr.bench.suite import git_commit
    from vsr.metrics.benchmark import evaluate, find_datasets, format_table, to_json
    from vsr.train.loop import resolve_device

    if lr_crf is not None and lr_jpeg is not None:
        raise click.UsageError("--lr-crf and --lr-jpeg: one degradation at a time")
    if threads > 0:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    dtype = torch.float16 if (precision == "fp16" or (precision == "auto" and dev.type == "cuda")) else torch.float32
    if precision == "bf16":
        from vsr.engine.device import resolve_precision

        dtype = resolve_precision("bf16", dev, True)
    if dtype == torch.float16 and dev.type == "cpu":
        click.echo("vsr: note: fp16 on the CPU is slow and only for checks", err=True)
    model = load_model(model_name, scale)
    methods = {model.name: model.module}
    for other in (*compare, *(("bicubic", "lanczos") if baselines else ())):
        if other not in methods:
            methods[other] = load_model(other, scale).module
    datasets = find_datasets(data_dirs)
    results = evaluate(methods, datasets, scale, dev, dtype, lpips=lpips, lpips_net=lpips_net, max_images=max_images,
                       progress=lambda line: click.echo(f"vsr: {line}", err=True), lr_crf=lr_crf,
                       lr_jpeg=lr_jpeg, temporal=temporal)
    lr_how = ("bicubic antialiased downscale" + (f", then H.264 (libx264 crf {lr_crf})" if lr_crf is not None else "")
              + (f", then JPEG (libjpeg q {lr_jpeg}, 4:2:0)" if lr_jpeg is not None else ""))
    click.echo(f"model {model.name} x{scale} on {dev} ({str(dtype).removeprefix('torch.')}); LR = {lr_how}"
               + (f"; ST-LPIPS on {lpips_net}" if lpips else ""))
    click.echo(format_table(results))
    if json_path:
        doc = {
            "model": model.name, "compared": list(methods)[1:], "arch": model.arch, "source": model.source, "scale": scale,
            "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "dtype": str(dtype).removeprefix("torch."),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "commit": git_commit(),
            "protocol": "HR modcrop(scale); LR = MATLAB-like bicubic (antialias) + 8-bit"
                        + (f" + H.264 (libx264 crf {lr_crf}, ultrafast, 2nd frame of a 2-frame clip)"
                           if lr_crf is not None else "")
                        + (f" + JPEG (libjpeg q {lr_jpeg}, 4:2:0, Pillow)" if lr_jpeg is not None else "")
                        + f"; outputs 8-bit; PSNR/SSIM on BT.601 Y, crop=scale; ST-LPIPS {lpips_net} on RGB, crop=scale"
                        + ("; tPSNR-Y: PSNR of Y(sr_t)-Y(sr_t-1) against Y(hr_t)-Y(hr_t-1), consecutive frames "
                           "in name order, crop=scale" if temporal else ""),
            "lr_crf": lr_crf,
            "lr_jpeg": lr_jpeg,
            "lpips_net": lpips_net if lpips else None,
            "datasets": to_json(results),
        }
        Path(json_path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    command()
