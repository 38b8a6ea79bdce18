"""Short test clips written with PyAV: every edge case the pipeline must survive, made on the spot.

The picture is a moving pattern with smooth gradients and sharp edges (so scalers differ and frames
differ), small enough that a whole clip upscales in well under a second on a CPU.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def smooth_pattern(index: int, width: int, height: int) -> np.ndarray:
    """``(H,W,3)`` uint8 saturated but smooth colour waves: scalers agree on it, colour errors show."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = 2 * np.pi * (x / (2.5 * width) + y / (3.0 * height)) + 0.2 * index
    rgb = np.stack([0.5 + 0.45 * np.sin(t), 0.5 + 0.45 * np.sin(t + 2.1), 0.5 + 0.45 * np.sin(t + 4.2)], -1)
    return (rgb * 255).round().astype(np.uint8)


def natural_picture(size: int, seed: int = 0) -> np.ndarray:
    """``(size,size,3)`` float32 in [0,1] with the 1/f amplitude spectrum of natural photographs
    (smooth regions and fine detail at once): what perceptual metrics are trained on, unlike a
    synthetic checkerboard."""
    rng = np.random.default_rng(seed)
    f2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2
    amplitude = 1.0 / np.maximum(f2, 1.0 / size**2) ** 0.75
    channels = []
    for _ in range(3):
        img = np.real(np.fft.ifft2(amplitude * np.exp(1j * rng.uniform(0, 2 * np.pi, (size, size)))))
        channels.append((img - img.min()) / (img.max() - img.min()))
    return np.stack(channels, axis=-1).astype(np.float32)


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """``(H,W,3)`` uint8 RGB test picture that changes with ``index``."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 127.5 + 127.5 * np.sin((x + 3 * index) / max(width, 1) * 2 * np.pi)
    g = 255.0 * y / max(height - 1, 1)
    b = np.where(((x // 8 + y // 8 + index) % 2) == 0, 230.0, 25.0)
    rgb = np.stack([r, g, b], axis=-1)
    cx, cy = (index * 2) % max(width, 1), height // 2
    rgb[(np.abs(x - cx) < 4) & (np.abs(y - cy) < 4)] = (255, 255, 255)
    return rgb.clip(0, 255).astype(np.uint8)


def numbered(i: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frame ``i``'s picture: its tens as the grey of the left half, its units as the right's."""
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:, : width // 2] = 20 + 20 * (i // 10)
    rgb[:, width // 2 :] = 20 + 20 * (i % 10)
    return rgb


def number_shown(rgb: np.ndarray) -> int:
    """The frame number a :func:`numbered` picture shows (its halves read well inside their edges)."""
    w = rgb.shape[1]
    left, right = rgb[:, w // 8 : 3 * w // 8].mean(), rgb[:, 5 * w // 8 : 7 * w // 8].mean()
    return 10 * round((left - 20) / 20) + round((right - 20) / 20)


def write_clip(
    path: Path,
    *,
    frames: int = 12,
    width: int = 64,
    height: int = 48,
    rate: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    subtitles: bool = False,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    color_range: int | None = None,
    colorspace: int | None = None,
    rotation: float = 0.0,
    options: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    smooth: bool = False,
    sample_aspect_ratio: Fraction | None = None,
) -> Path:
    """Write a clip; ``pts`` (in ``time_base``) makes it variable frame rate."""
    path = Path(path)
    tb = time_base or Fraction(1, rate)
    with av.open(str(path), "w") as out:
        if metadata:
            out.metadata.update(metadata)
        v = out.add_stream(codec, rate=rate)
        v.width, v.height, v.pix_fmt = width, height, pix_fmt
        v.time_base = tb
        v.codec_context.time_base = tb
        v.codec_context.options = {"preset": "ultrafast", **(options or {})} if codec.startswith("libx26") else dict(options or {})
        if sample_aspect_ratio is not None:
            v.codec_context.sample_aspect_ratio = sample_aspect_ratio
        if color_range is not None:
            v.codec_context.color_range = color_range
        if colorspace is not None:
            v.codec_context.colorspace = colorspace
            v.codec_context.color_primaries = {1: 1, 5: 5, 6: 6, 9: 9}.get(colorspace, 2)
            v.codec_context.color_trc = {1: 1, 5: 6, 6: 6, 9: 14}.get(colorspace, 2)
        if rotation:
            v.set_display_rotation(rotation)
        a = add_audio(out, frames / rate) if audio else None
        s = None
        if subtitles:
            s = out.add_mux_stream("subrip")
            s.time_base = Fraction(1, 1000)
        times = pts if pts is not None else [int(round(i / (rate * tb))) for i in range(frames)]
        for i, t in enumerate(times[:frames]):
            rgb = (smooth_pattern if smooth else pattern)(i, width, height)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            kwargs = {}
            if colorspace is not None:
                kwargs["dst_colorspace"] = colorspace
            if color_range is not None:
                kwargs["dst_color_range"] = color_range
            frame = frame.reformat(format=pix_fmt, **kwargs)
            if color_range is not None:
                frame.color_range = color_range
            frame.pts = t
            frame.time_base = tb
            for packet in v.encode(frame):
                out.mux(packet)
            if s is not None and i % 4 == 1:
                start = int(float(t * tb) * 1000)
                pk = av.Packet(f"line {i}".encode())
                pk.stream, pk.pts, pk.dts, pk.duration = s, start, start, 120
                pk.time_base = Fraction(1, 1000)
                out.mux(pk)
        for packet in v.encode(None):
            out.mux(packet)
        if a is not None:
            write_audio(out, a)
    return path


def transparency(index: int, width: int, height: int) -> np.ndarray:
    """``(H,W)`` uint8 alpha that changes with ``index``: a fully transparent band on the left, a
    fully opaque one on the right and a smooth ramp between them."""
    x = np.arange(width, dtype=np.float32)
    ramp = np.clip((x - width / 4 + index) / (width / 2), 0, 1)
    return np.broadcast_to((ramp * 255).round().astype(np.uint8), (height, width)).copy()


def write_transparent(path: Path, codec: str, pix_fmt: str, frames: int = 4, width: int = 64,
                      height: int = 48) -> Path:
    """A clip with an alpha channel (smooth colour, :func:`transparency`), as motion graphics come:
    VP9 with alpha in WebM, ProRes 4444, PNG or QuickTime RLE in MOV."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=25)
        v.width, v.height, v.pix_fmt = width, height, pix_fmt
        for i in range(frames):
            rgba = np.dstack([smooth_pattern(i, width, height), transparency(i, width, height)])
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba").reformat(format=pix_fmt)
            frame.pts = i
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
    return path


def decode_rgba(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` as ``(H,W,4)`` uint8 RGBA. A WebM's alpha is decoded with libvpx, as
    ``ffmpeg -c:v libvpx-vp9 -i`` does (FFmpeg's own VP9 decoder ignores it)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.codec_context.name == "vp9":
            ctx = av.CodecContext.create("libvpx-vp9", "r")
            frames = [f for p in c.demux(s) for f in ctx.decode(p)]  # the last packet drains it
        else:
            frames = list(c.decode(s))
        return [f.reformat(format="rgba").to_ndarray() for f in frames]


def add_audio(out: av.container.OutputContainer, seconds: float, tone: bool = True) -> av.AudioStream:
    """Add a mono AAC stream to ``out``; call :func:`write_audio` after the video is written."""
    a = out.add_stream("aac", rate=48000)
    a.layout = "mono"
    a.metadata["seconds"] = str(seconds)
    a.metadata["tone"] = "1" if tone else "0"
    return a


def write_audio(out: av.container.OutputContainer, a: av.AudioStream) -> None:
    n = int(48000 * float(a.metadata["seconds"]))
    t = np.arange(n, dtype=np.float32) / 48000
    amp = 0.3 if a.metadata["tone"] == "1" else 0.0
    samples = (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    for start in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(samples[:, start:start + 1024], format="fltp", layout="mono")
        af.sample_rate, af.pts = 48000, start
        for packet in a.encode(af):
            out.mux(packet)
    for packet in a.encode(None):
        out.mux(packet)


def write_late_audio(path: Path, audio_from: float | None, seconds: int = 12,
                     silent: tuple[float, float] | None = None) -> Path:
    """An MPEG-TS of ``seconds`` of video with an MP2 audio stream whose first packet is at
    ``audio_from`` seconds (a capture whose sound starts late), interleaved by time as a muxer
    writes it; ``None``: an audio stream with no packets at all (a broadcast's silent PID).
    ``silent``: seconds (from, to) with no audio packets (sound that stopped a while)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        a = out.add_stream("mp2", rate=48000)
        a.layout = "mono"
        n = 0  # audio frames of 1152 samples so far
        for i in range(25 * seconds):
            frame = av.VideoFrame.from_ndarray(pattern(i, 32, 24), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for packet in v.encode(frame):
                out.mux(packet)
            while audio_from is not None and n * 1152 < (i + 1) * 48000 / 25:
                gap = silent is not None and silent[0] * 48000 <= n * 1152 < silent[1] * 48000
                if n * 1152 >= audio_from * 48000 and not gap:
                    af = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.int16), format="s16", layout="mono")
                    af.sample_rate, af.pts = 48000, n * 1152
                    for packet in a.encode(af):
                        out.mux(packet)
                n += 1
        for packet in [*v.encode(None), *a.encode(None)]:
            out.mux(packet)
    return path


def write_edit_list(path: Path, frames: int = 50, hidden: int = 10) -> Path:
    """An MP4 as ``ffmpeg -ss T -i in -c copy`` or LosslessCut cut it between keyframes: all
    ``frames`` :func:`numbered` frames stored from the keyframe before the cut, the first ``hidden``
    of them before the start of its edit list (decoded, not shown; FFmpeg marks them discard)."""
    enc = path.with_suffix(".h264.mkv")
    with av.open(str(enc), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "g": str(frames)}
        encode_pictures(out, v, [numbered(i) for i in range(frames)])
    with av.open(str(enc)) as src, av.open(str(path), "w") as out:
        s = src.streams.video[0]
        o = out.add_stream_from_template(s)
        for packet in src.demux(s):
            if packet.dts is not None:
                shift = int(round(Fraction(hidden, 25) / packet.time_base))
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, o
                out.mux(packet)
    enc.unlink()
    return path


def write_audio_only(path: Path, seconds: float = 0.5, cover: bool = False) -> Path:
    """An audio file; ``cover``: with cover art (a PNG attached picture, as a music file has)."""
    with av.open(str(path), "w") as out:
        a = add_audio(out, seconds, tone=False)
        if cover:
            art = out.add_stream("png")
            art.width, art.height, art.pix_fmt = 32, 32, "rgb24"
            art.disposition = av.stream.Disposition.attached_pic
            frame = av.VideoFrame.from_ndarray(pattern(0, 32, 32), format="rgb24")
            frame.pts = 0
            for packet in [*art.encode(frame), *art.encode(None)]:
                out.mux(packet)
        write_audio(out, a)
    return path


def write_empty_video(path: Path) -> Path:
    """A valid container whose video stream has no frame (only its audio stream has packets)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        write_audio(out, add_audio(out, 0.1, tone=False))
    return path


def decode_all(path: Path) -> dict:
    """Everything a test wants to know about a file, decoded independently of vsr."""
    info: dict = {"video_pts": [], "frames": 0, "packets": {}}
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info.update(
            width=v.codec_context.width,
            height=v.codec_context.height,
            pix_fmt=v.codec_context.pix_fmt,
            time_base=v.time_base,
            streams=[s.type for s in c.streams],
            metadata=dict(c.metadata),
        )
        for s in c.streams:
            info["packets"][s.index] = []
        first = None
        for packet in c.demux():
            if packet.size == 0 and packet.stream.type != "video":
                continue
            if packet.stream.type != "video":
                info["packets"][packet.stream.index].append(
                    (bytes(packet), packet.pts * packet.time_base if packet.pts is not None else None)
                )
                continue
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for f in frames:
                info["frames"] += 1
                info["video_pts"].append(f.pts * f.time_base if f.pts is not None else None)
                if first is None:
                    first = f
                    info.update(
                        colorspace=f.colorspace,
                        color_range=f.color_range,
                        color_primaries=f.color_primaries,
                        color_trc=f.color_trc,
                        rotation=getattr(f, "rotation", 0),
                        frame_format=f.format.name,
                        first_rgb=f.to_ndarray(format="rgb24"),
                    )
    return info


def count_decodable(path: Path) -> int:
    """Frames a tolerant decoder gets out of a (possibly damaged) file."""
    n = 0
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        demux = c.demux(v)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.FFmpegError:
                break
            try:
                n += len(packet.decode())
            except av.FFmpegError:
                continue
        try:
            n += len(v.codec_context.decode(None))
        except av.FFmpegError:
            pass
    return n


def encode_pictures(out: av.container.OutputContainer, v: av.VideoStream, pictures, start: int = 0) -> None:
    """Encode RGB ``pictures`` into ``v`` at pts ``start, start+1, ...`` (in the stream's frame
    rate), converted to the stream's pixel format, and flush the encoder."""
    for i, rgb in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=v.pix_fmt)
        frame.pts = start + i
        for packet in v.encode(frame):
            out.mux(packet)
    for packet in v.encode(None):
        out.mux(packet)


def write_size_change(path: Path) -> Path:
    """An MPEG-TS whose video changes resolution half-way (two segments back to back)."""
    parts = []
    for n, (w, h, start) in enumerate(((64, 48, 0), (80, 64, 10))):
        part = path.with_name(f"{path.stem}.part{n}.ts")
        with av.open(str(part), "w") as out:
            v = out.add_stream("mpeg2video", rate=25)
            v.width, v.height, v.pix_fmt = w, h, "yuv420p"
            encode_pictures(out, v, (pattern(i, w, h) for i in range(10)), start=start)
        parts.append(part.read_bytes())
        part.unlink()
    path.write_bytes(b"".join(parts))
    return path


def interlaced_picture(index: int, width: int, height: int) -> np.ndarray:
    """``(H,W,3)`` uint8: two fields captured at different times, as a camera's interlaced frame
    holds them; a bright bar moves between the top field (even lines) and the bottom one."""
    rgb = np.full((height, width, 3), 40, np.uint8)
    for field in (0, 1):
        x = (index * 2 + field) * (width // 8) % width
        rgb[field::2, x : x + width // 8] = 230
    return rgb


def write_interlaced(path: Path, frames: int = 8, width: int = 96, height: int = 64) -> Path:
    """An interlaced MPEG-2 clip (top field first, interlaced DCT/ME), every frame flagged interlaced."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg2video", rate=25)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.codec_context.flags |= av.codec.context.Flags.interlaced_dct | av.codec.context.Flags.interlaced_me
        v.codec_context.options = {"top": "1"}
        encode_pictures(out, v, (interlaced_picture(i, width, height) for i in range(frames)))
    return path


def combing(rgb: np.ndarray) -> float:
    """Mean distance of each line from the average of its neighbours: high where fields disagree."""
    y = rgb.astype(np.float64).mean(axis=-1) if rgb.ndim == 3 else rgb.astype(np.float64)
    return float(np.abs(y[1:-1] - (y[:-2] + y[2:]) / 2).mean())


# An HDR10 grade: BT.2020 primaries, D65, a 1000-nit mastering display, MaxCLL 1000, MaxFALL 400.
HDR10_X265 = "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400"


def write_hdr10(path: Path, frames: int = 4, width: int = 64, height: int = 48) -> Path:
    """A 10-bit HEVC clip tagged BT.2020/PQ whose SEI carries HDR10 static metadata."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx265", rate=25)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p10le"
        cc = v.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 9, 9, 16, 1
        cc.options = {"preset": "ultrafast", "x265-params": "log-level=error:" + HDR10_X265}
        encode_pictures(out, v, (smooth_pattern(i, width, height) for i in range(frames)))
    return path


def odd(c: int) -> int:
    """A CEA-608 byte with its odd parity bit, as a caption encoder sends it."""
    return c | (0x80 if bin(c).count("1") % 2 == 0 else 0)


def caption_bytes(index: int) -> bytes:
    """The cc_data of picture ``index``: two CEA-608 field-1 pairs (odd parity, as a caption
    encoder writes them) spelling a different pair of letters per picture, then a DTVCC triplet."""
    first, second = 0x41 + index % 26, 0x61 + index % 26
    return bytes((0xFC, odd(first), odd(second), 0xFC, odd(0x20), odd(0x21), 0xFE, index & 0xFF, 0x00))


def write_captioned(path: Path, *, codec: str = "libx264", frames: int = 8, width: int = 64, height: int = 48,
                    interlaced: bool = False, captions=caption_bytes) -> Path:
    """A clip whose pictures carry closed captions as a broadcast's do (A/53: an SEI per H.264/HEVC
    access unit, user data per MPEG-2 picture, as :func:`vsr.io.captions.with_captions` writes them;
    ``captions(index)`` for each picture); with B-frames, so decode order differs."""
    from vsr.io.captions import with_captions

    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=25)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        family = {"libx264": "h264", "libx265": "hevc", "libsvtav1": "av1"}.get(codec, codec)
        if codec == "mpeg2video":
            v.codec_context.max_b_frames = 2
        elif codec == "libsvtav1":  # hidden frames: a temporal unit may hold several frame OBUs
            os.environ.setdefault("SVT_LOG", "1")
            v.codec_context.options = {"preset": "12"}
        else:
            options = {"preset": "ultrafast", "bframes": "2"} if codec == "libx264" else \
                {"preset": "ultrafast", "x265-params": "log-level=error:bframes=2"}
            if interlaced:  # x264's PAFF: top field first, every frame coded as two fields
                options["x264-params"] = "interlaced=1:tff=1"
            v.codec_context.options = options

        def mux(packets) -> None:
            for p in packets:
                data = with_captions(family, bytes(p), captions(p.pts))
                assert data is not None, f"no picture in a {codec} packet"
                q = av.Packet(data)
                q.stream, q.time_base, q.pts, q.dts = p.stream, p.time_base, p.pts, p.dts
                q.is_keyframe = p.is_keyframe
                out.mux(q)

        source = interlaced_picture if interlaced else pattern
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(source(i, width, height), format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            mux(v.encode(frame))
        mux(v.encode(None))
    return path


# CEA-608 pop-on captions as (start seconds, text), each erased at the next one's start; the last at END_608
CUES_608 = [(0.2, "HELLO"), (1.2, "WORLD")]
END_608 = 1.8


def _pop_on(text: str) -> list[int]:
    """The CEA-608 words (16-bit, parity set) that draw ``text`` off screen, then show it: resume
    caption loading, erase the hidden memory, row 15 indent 0, the letters, end of caption (each
    control code twice, as encoders send them)."""
    words = [0x9420, 0x9420, 0x94AE, 0x94AE, 0x94D0, 0x94D0]  # (parity already set in these)
    letters = [odd(ord(c)) for c in text] + ([0x80] if len(text) % 2 else [])
    words += [letters[i] << 8 | letters[i + 1] for i in range(0, len(letters), 2)]
    return words + [0x942F, 0x942F]


def write_c608(path: Path, *, frames: int = 50, own_captions: bool = False) -> Path:
    """A MOV whose CEA-608 captions ride in a QuickTime ``c608`` track beside its H.264 video, as
    ProRes masters and Apple exports carry them: :data:`CUES_608`, popped on, then erased (the
    track is made as ffmpeg would from a Scenarist .scc file: one packet per line). With
    ``own_captions``, the pictures also carry captions of their own (:func:`caption_bytes`)."""
    lines, erase = [], [0x942C, 0x942C]
    for k, (start, text) in enumerate(CUES_608):
        lines.append((start, (erase if k else []) + _pop_on(text)))
    lines.append((END_608, erase))
    scc = path.with_suffix(".scc")

    def timecode(t: float) -> str:
        f = round(t * 30000 / 1001)
        return f"00:00:{f // 30:02d}:{f % 30:02d}"
    scc.write_text("Scenarist_SCC V1.0\n\n" + "".join(
        f"{timecode(t)}\t{' '.join(f'{w:04x}' for w in words)}\n\n" for t, words in lines))
    plain = path.with_suffix(".h264.mp4")
    if own_captions:
        write_captioned(plain, frames=frames)
    else:
        write_clip(plain, frames=frames, width=64, height=48)
    with av.open(str(scc)) as cc_in, av.open(str(plain)) as v_in, av.open(str(path), "w") as out:
        cc_packets = [p for p in cc_in.demux() if p.size]
        for p, q in zip(cc_packets, cc_packets[1:] + [None]):
            p.duration = (q.pts if q is not None else p.pts + 34) - p.pts  # the last one too
        v = out.add_stream_from_template(v_in.streams.video[0])
        c = out.add_stream_from_template(cc_in.streams[0])
        packets = [(p, v) for p in v_in.demux(video=0) if p.size] + [(p, c) for p in cc_packets]
        packets.sort(key=lambda ps: float(ps[0].dts * ps[0].time_base))
        for p, stream in packets:
            p.stream = stream
            out.mux(p)
    scc.unlink()
    plain.unlink()
    return path


def decoded_captions(path: Path) -> list[bytes | None]:
    """The closed caption bytes of each decoded picture, in display order."""
    from vsr.io.captions import read_captions

    with av.open(str(path)) as c:
        return [read_captions(f) for f in c.decode(video=0)]


def write_dds(path: Path, rgba: np.ndarray) -> Path:
    """An uncompressed 32-bit DirectDraw Surface texture (BGRA, one mip level), written by hand: the
    header is 128 bytes, and no image library has to be able to write DDS."""
    h, w = rgba.shape[:2]
    fields = [124, 0x100F, h, w, w * 4, 0, 0, *[0] * 11,  # size, flags (caps|height|width|pitch|format)...
              32, 0x41, 0, 32, 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000,  # pixel format: RGB + alpha
              0x1000, 0, 0, 0, 0]  # caps: a texture
    bgra = np.ascontiguousarray(rgba[..., [2, 1, 0, 3]].astype(np.uint8))
    path.write_bytes(b"DDS " + np.array(fields, "<u4").tobytes() + bgra.tobytes())
    return path
