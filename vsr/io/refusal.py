"""Why an encoder or muxer refused its settings, in FFmpeg's own words.

FFmpeg says why (``The specified picture size of 2560x1088 is not valid for the H.263 codec. Valid
sizes are ...``) only in its log; the error code that reaches Python is a bare ``Invalid argument``.
PyAV hands the log to Python through one process-wide callback that takes the GIL from whichever
FFmpeg thread logs, which can deadlock a pipeline whose threads wait on FFmpeg's own (vsr keeps it
off). So when an output cannot be opened, or its encoder refuses the first frame, the settings are
replayed in a throwaway process (``python -m vsr.io.refusal``) with the callback on and one encoder
thread, into memory, and the error lines it logged come back as the reason.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from fractions import Fraction

import av

MAX_CHARS = 400  # one line on stderr: a list of every DV profile is cut short


def encoder_settings(stream: av.video.stream.VideoStream, fmt: str, options: dict[str, str],
                     container_options: dict[str, str] | None = None) -> dict:
    """What :func:`replay` needs to set up ``stream``'s encoder again (JSON-able)."""
    cc = stream.codec_context

    def rate(value: Fraction | None) -> str | None:
        return str(value) if value else None

    return {
        "format": fmt,
        "container_options": dict(container_options or {}),
        "codec": cc.codec.name,
        "width": cc.width,
        "height": cc.height,
        "pix_fmt": cc.pix_fmt,
        "time_base": rate(cc.time_base),
        "framerate": rate(cc.framerate),
        "sample_aspect_ratio": rate(cc.sample_aspect_ratio),
        "gop_size": cc.gop_size,
        "max_b_frames": cc.max_b_frames,
        "colorspace": cc.colorspace,
        "color_primaries": cc.color_primaries,
        "color_trc": cc.color_trc,
        "color_range": cc.color_range,
        "options": dict(options),
    }


def replay(settings: dict) -> list[str]:
    """Set the encoder up as ``settings`` say, open it into memory, encode one blank frame and
    flush; the ERROR lines FFmpeg logged on the way (run in a process of its own: see above)."""
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture(local=False) as logs:
        try:
            out = av.open(io.BytesIO(), "w", format=settings["format"],
                          container_options=settings["container_options"])
        except (av.FFmpegError, ValueError):  # a muxer that cannot write into memory (image2)
            out = av.open(io.BytesIO(), "w", format="nut")
        try:
            rate = Fraction(settings["framerate"]) if settings["framerate"] else None
            stream = out.add_stream(settings["codec"], rate=rate)
            cc = stream.codec_context
            stream.width, stream.height, stream.pix_fmt = settings["width"], settings["height"], settings["pix_fmt"]
            if settings["time_base"]:
                stream.time_base = cc.time_base = Fraction(settings["time_base"])
            if settings["sample_aspect_ratio"]:
                cc.sample_aspect_ratio = Fraction(settings["sample_aspect_ratio"])
            cc.gop_size, cc.max_b_frames = settings["gop_size"], settings["max_b_frames"]
            for key in ("colorspace", "color_primaries", "color_trc", "color_range"):
                setattr(cc, key, settings[key])
            cc.thread_count = 1  # no encoder threads: nothing else logs while this one waits
            cc.options = settings["options"]
            out.start_encoding()
            frame = av.VideoFrame(settings["width"], settings["height"], settings["pix_fmt"])
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts = 0
            for _ in stream.encode(frame):
                pass
            for _ in stream.encode(None):
                pass
        except (av.FFmpegError, ValueError, TypeError):
            pass
        finally:
            try:
                out.close()
            except (av.FFmpegError, ValueError):
                pass
    return [f"{name or 'ffmpeg'}: {' '.join(message.split())}" for level, name, message in logs
            if level <= av.logging.ERROR]


def join(lines: list[str]) -> str | None:
    """FFmpeg's error lines (``"h263: The specified picture size..."``: who said it, and what) as
    one line, named by the first to speak: ``h263 says: ...`` (repeats dropped, cut at MAX_CHARS)."""
    parts: list[str] = []
    speaker = None
    for line in lines:
        name, _, message = line.partition(": ")
        speaker = speaker or name
        if message and message not in parts:
            parts.append(message)
    if not parts:
        return None
    text = f"{speaker} says: " + " ".join(p if p[-1] in ".:;!?," else p + "." for p in parts)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3].rstrip(" ,;:") + "..."


def explain(settings: dict, timeout: float = 20.0) -> str | None:
    """Why FFmpeg refuses ``settings`` (:func:`encoder_settings`), in its own words, or None where
    it said nothing (or the replay could not run)."""
    try:
        done = subprocess.run([sys.executable, "-m", "vsr.io.refusal"], input=json.dumps(settings),
                              capture_output=True, text=True, timeout=timeout, check=False)
        lines = json.loads(done.stdout) if done.returncode == 0 else []
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return join([line for line in lines if isinstance(line, str)])


def main() -> None:
    print(json.dumps(replay(json.load(sys.stdin))))


if __name__ == "__main__":
    main()
