"""Printing, checking and plotting a ``vsr bench`` report (the dict :class:`BenchRun` returns)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from vsr.errors import BackendUnavailableError, ConfigError

TOLERANCE = 1.05  # timing noise allowed where one figure must not exceed another

TOP_KEYS = ("schema", "date", "command", "commit", "device", "machine", "versions", "env", "settings",
            "telemetry", "clips", "scaling")
CLIP_KEYS = ("clip", "path", "content", "width", "height", "out_width", "out_height", "frames",
             "decode", "engine", "e2e_no_encode", "e2e_encode", "efficiency", "memory", "baselines",
             "ratios")
E2E_KEYS = ("frames", "seconds", "fps", "latency_ms", "stage_busy", "bottleneck", "max_queue")
SWEEP_KEYS = ("size", "width", "height", "batch", "megapixels", "frames", "fps", "ms_per_frame",
              "ns_per_pixel", "megapixels_per_s", "peak_host_mib", "peak_gpu_mib")
GPU_METRICS = ("util_pct", "mem_used_mib", "power_w", "sm_clock_mhz", "temp_c")


def _positive(problems: list[str], where: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        problems.append(f"{where} = {value!r} is not a positive number")


def _timing(problems: list[str], where: str, t: Any, frames: int | None = None) -> None:
    if not isinstance(t, dict):
        problems.append(f"{where} is missing")
        return
    for key in ("frames", "seconds", "fps"):
        _positive(problems, f"{where}.{key}", t.get(key))
    if frames is not None and t.get("frames") != frames:
        problems.append(f"{where}.frames = {t.get('frames')} but the clip measured {frames}")
    if all(isinstance(t.get(k), (int, float)) and t.get(k) for k in ("frames", "seconds", "fps")):
        if abs(t["fps"] - t["frames"] / t["seconds"]) > 1e-3 * t["fps"] + 1e-3:
            problems.append(f"{where}.fps {t['fps']} != frames / seconds")


def _gpu(problems: list[str], where: str, gpu: Any) -> None:
    if gpu is None:
        return
    if not isinstance(gpu, dict) or gpu.get("available") is not True:
        problems.append(f"{where}.gpu must be a measured summary (absent when not measured)")
        return
    for m in GPU_METRICS:
        if m in gpu:
            stats = gpu[m]
            if not (stats["min"] <= stats["mean"] <= stats["max"]):
                problems.append(f"{where}.gpu.{m}: min <= mean <= max does not hold")


def _e2e(problems: list[str], where: str, t: Any, frames: int, engine_fps: float | None) -> None:
    _timing(problems, where, t, frames)
    if not isinstance(t, dict):
        return
    missing = [k for k in E2E_KEYS if k not in t]
    if missing:
        problems.append(f"{where} lacks {', '.join(missing)}")
        return
    lat = t["latency_ms"] or {}
    for key in ("p50", "p95", "p99"):
        _positive(problems, f"{where}.latency_ms.{key}", lat.get(key))
    if lat and not lat["p50"] <= lat["p95"] <= lat["p99"]:
        problems.append(f"{where}.latency_ms: p50 <= p95 <= p99 does not hold")
    for stage, busy in t["stage_busy"].items():
        if not 0 <= busy <= 1:
            problems.append(f"{where}.stage_busy.{stage} = {busy} is not a fraction")
    if t["bottleneck"] not in t["stage_busy"]:
        problems.append(f"{where}.bottleneck names no stage")
    if engine_fps and t.get("fps") and t["fps"] > engine_fps * TOLERANCE:
        problems.append(f"{where}.fps {t['fps']} exceeds the engine alone ({engine_fps}) on the same frames")
    _gpu(problems, where, t.get("gpu"))


def validate_report(report: dict[str, Any], compare_timings: bool = True) -> list[str]:
    """Every schema or consistency problem of a report, as lines; [] when it is sound.

    Checks: the documented keys; every figure positive; fps = frames / seconds; e2e (with and
    without encode) <= engine alone on the same frames; efficiency in (0, 1.05]; latency
    p50 <= p95 <= p99; busy fractions in [0, 1]; telemetry either measured or absent with a reason.
    ``compare_timings=False`` leaves out the two checks that set one measurement against another
    (e2e against the engine alone, efficiency's upper bound): on a busy machine a few frames' figures
    can cross without anything being wrong, so tests check the report's shape without them.
    """
    problems: list[str] = []
    missing = [k for k in TOP_KEYS if k not in report]
    if missing:
        return [f"report lacks {', '.join(missing)}"]
    tele = report["telemetry"]
    if tele.get("available") is False:
        if not tele.get("reason"):
            problems.append("telemetry unavailable without a reason")
        if any(m in tele for m in GPU_METRICS):
            problems.append("telemetry unavailable but holds figures")
    if not report["clips"]:
        problems.append("no clip was measured")
    for i, c in enumerate(report["clips"]):
        where = f"clips[{i}] ({c.get('clip')})"
        missing = [k for k in CLIP_KEYS if k not in c]
        if missing:
            problems.append(f"{where} lacks {', '.join(missing)}")
            continue
        frames = c["frames"]
        _positive(problems, f"{where}.frames", frames)
        _timing(problems, f"{where}.decode", c["decode"], frames)
        _timing(problems, f"{where}.engine", c["engine"], frames)
        _gpu(problems, f"{where}.engine", c["engine"].get("gpu"))
        engine_fps = c["engine"].get("fps") if compare_timings else None
        _e2e(problems, f"{where}.e2e_no_encode", c["e2e_no_encode"], frames, engine_fps)
        if c["e2e_encode"] is not None:
            _e2e(problems, f"{where}.e2e_encode", c["e2e_encode"], frames, engine_fps)
        eff = c["efficiency"]
        top = TOLERANCE if compare_timings else float("inf")
        if not isinstance(eff, (int, float)) or not 0 < eff <= top:
            problems.append(f"{where}.efficiency = {eff!r} is not in (0, {TOLERANCE}]")
        _positive(problems, f"{where}.memory.peak_host_mib", c["memory"].get("peak_host_mib"))
        if c["memory"].get("peak_gpu_mib") is not None:
            _positive(problems, f"{where}.memory.peak_gpu_mib", c["memory"]["peak_gpu_mib"])
        if c["baselines"] is not None:
            for name, t in c["baselines"].items():
                _timing(problems, f"{where}.baselines.{name}", t, frames)
                _positive(problems, f"{where}.ratios.e2e_over_{name}", (c["ratios"] or {}).get(f"e2e_over_{name}"))
    scaling = report["scaling"]
    if scaling is not None:
        for part in ("resolution", "batch"):
            for j, p in enumerate(scaling.get(part, [])):
                missing = [k for k in SWEEP_KEYS if k not in p]
                if missing:
                    problems.append(f"scaling.{part}[{j}] lacks {', '.join(missing)}")
                    continue
                for key in ("fps", "ms_per_frame", "ns_per_pixel", "megapixels_per_s", "peak_host_mib"):
                    _positive(problems, f"scaling.{part}[{j}].{key}", p[key])
        for key in ("exponent", "linear", "note"):
            if key not in scaling:
                problems.append(f"scaling lacks {key}")
    return problems


# -- text ------------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [line(header), *[line(r) for r in rows]]


def format_report(report: dict[str, Any]) -> str:
    """The human summary ``vsr bench`` prints: per-clip table, baselines, stage load, sweep."""
    st = report["settings"]
    enc = st["encode"]
    lines = [
        f"vsr bench: {st['model']} x{st['scale']} ({st['backend']}, {st['precision']}), batch "
        f"{st['batch']}, {st['frames']} frames per clip, on {report['device']}"
        + (f"; encoder {enc['codec']} preset {enc['preset']} crf {enc['crf']}" if enc else "; no encode"),
        "",
    ]
    rows = []
    for c in report["clips"]:
        e2e_enc = c["e2e_encode"]
        lat = (e2e_enc or c["e2e_no_encode"])["latency_ms"] or {}
        mem = c["memory"]
        rows.append([
            c["clip"], f"{c['width']}x{c['height']}", _f(c["decode"]["fps"]), _f(c["engine"]["fps"]),
            _f(c["e2e_no_encode"]["fps"]), _f(e2e_enc["fps"]) if e2e_enc else "-", f"{c['efficiency']:.2f}",
            (e2e_enc or c["e2e_no_encode"])["bottleneck"],
            "/".join(_f(lat.get(k), 0) for k in ("p50", "p95", "p99")),
            _f(mem["peak_host_mib"], 0), _f(mem["peak_gpu_mib"], 0),
        ])
    lines += _table(["clip", "input", "decode", "engine", "e2e", "e2e+enc", "effic.", "bottleneck",
                     "latency ms p50/95/99", "host MiB", "GPU MiB"], rows)
    lines.append("(fps; effic. = e2e without encode / engine alone; bottleneck = busiest stage)")
    busy_rows = []
    names: list[str] = []
    for c in report["clips"]:
        run = c["e2e_encode"] or c["e2e_no_encode"]
        names = names or list(run["stage_busy"])
        busy_rows.append([c["clip"], *(f"{run['stage_busy'].get(n, 0):.0%}" for n in names)])
    lines += ["", "stage busy, fraction of wall time" + (" (with encode)" if enc else ""),
              *_table(["clip", *names], busy_rows)]
    if any(c["baselines"] for c in report["clips"]):
        base_rows = []
        kinds: list[str] = []
        for c in report["clips"]:
            if not c["baselines"]:
                continue
            kinds = kinds or list(c["baselines"])
            base_rows.append([c["clip"], *(
                f"{_f(c['baselines'][k]['fps'])} fps ({c['ratios'][f'e2e_over_{k}']:.2f}x)" for k in kinds)])
        lines += ["", "baselines (ratio = vsr e2e / baseline; same frames, "
                  + ("same encoder)" if enc else "no encode)"), *_table(["clip", *kinds], base_rows)]
    tele = report["telemetry"]
    if tele.get("available"):
        lines += ["", f"GPU telemetry ({tele['gpu']}, pynvml every {tele['interval_s']} s), e2e run:"]
        for c in report["clips"]:
            g = (c["e2e_encode"] or c["e2e_no_encode"]).get("gpu") or {}
            parts = [f"{label} {_f(g[m]['mean'], 0)}{unit}" for m, label, unit in (
                ("util_pct", "util", "%"), ("mem_used_mib", "mem", " MiB"), ("power_w", "power", " W"),
                ("sm_clock_mhz", "SM", " MHz"), ("temp_c", "temp", " C")) if m in g]
            lines.append(f"  {c['clip']}: " + (", ".join(parts) or "no samples"))
    else:
        lines += ["", f"GPU telemetry: absent ({tele.get('reason', 'unavailable')})"]
    sc = report["scaling"]
    if sc:
        rows = [[p["size"], f"{p['width']}x{p['height']}", str(p["batch"]), _f(p["fps"]), _f(p["ms_per_frame"], 1),
                 _f(p["ns_per_pixel"], 1), _f(p["peak_host_mib"], 0), _f(p["peak_gpu_mib"], 0)]
                for p in sc["resolution"] + sc["batch"]]
        lines += ["", "scaling (engine alone, pre-loaded frames)",
                  *_table(["size", "input", "batch", "fps", "ms/frame", "ns/pixel", "host MiB", "GPU MiB"], rows),
                  sc["note"]]
    return "\n".join(lines)


# -- plot ------------------------------------------------------------------------------------------


def check_plot_path(path: str | Path) -> Path:
    """Fail early, before any measurement, when the plot cannot be written."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--plot {path}: the plot is a PNG; give a name ending in .png")
    if importlib.util.find_spec("matplotlib") is None:
        raise BackendUnavailableError("--plot needs matplotlib: pip install 'vsr[plot]'")
    return path


def plot_scaling(report: dict[str, Any], path: str | Path) -> Path:
    """fps and peak memory against input megapixels and against batch size, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = report["scaling"]
    if not sc:
        raise ConfigError("--plot draws the scaling sweep; run without --no-sweep")
    mem_key = "peak_gpu_mib" if report["device"].startswith("cuda") else "peak_host_mib"
    mem_label = "peak GPU memory (MiB)" if mem_key == "peak_gpu_mib" else "peak host memory (MiB)"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    res = sc["resolution"]
    mp = [p["megapixels"] for p in res]
    fps = [p["fps"] for p in res]
    ax1.loglog(mp, fps, "o-", label="engine fps")
    ref = [fps[0] * mp[0] / m for m in mp]
    ax1.loglog(mp, ref, "--", color="grey", label="linear in pixels")
    ax1.set_xticks(mp, [f"{p['size']}\n{p['megapixels']:.2g}" for p in res], fontsize=8)
    ax1.minorticks_off()
    ax1.set_xlabel("input size / megapixels")
    ax1.set_ylabel("frames per second")
    ax1.set_title(f"resolution (exponent {sc['exponent']})")
    ax1.legend(loc="upper right")
    ax1b = ax1.twinx()
    ax1b.plot(mp, [p[mem_key] or 0 for p in res], "s:", color="tab:red", label="peak memory")
    ax1b.set_ylabel(mem_label, color="tab:red")
    bat = sc["batch"]
    ax2.plot([p["batch"] for p in bat], [p["fps"] for p in bat], "o-")
    ax2.set_xticks([p["batch"] for p in bat])
    ax2.set_xlabel(f"batch size ({bat[0]['size'] if bat else ''})")
    ax2.set_ylabel("frames per second")
    ax2.set_title("batch")
    ax2b = ax2.twinx()
    ax2b.plot([p["batch"] for p in bat], [p[mem_key] or 0 for p in bat], "s:", color="tab:red")
    ax2b.set_ylabel(mem_label, color="tab:red")
    st = report["settings"]
    fig.suptitle(f"vsr bench: {st['model']} x{st['scale']} on {report['device']} ({report['commit']})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
