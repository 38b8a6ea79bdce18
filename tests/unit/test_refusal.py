"""FFmpeg's logged reason for a refusal, replayed in a process of its own (vsr.io.refusal)."""

from __future__ import annotations

import io
from fractions import Fraction

import av

from vsr.io.refusal import MAX_CHARS, encoder_settings, explain, join


def test_the_lines_are_one_line_named_by_the_first_speaker_without_repeats_and_cut() -> None:
    lines = ["dvvideo: Found no DV profile for 2x2 yuv420p video", "dvvideo: Valid DV profiles are:",
             "dvvideo: Frame size: 720x480", "dvvideo: Frame size: 720x480"]
    assert join(lines) == ("dvvideo says: Found no DV profile for 2x2 yuv420p video. Valid DV profiles are: "
                           "Frame size: 720x480.")
    assert join([]) is None
    long = join([f"x: line {i} " + "y" * 50 for i in range(20)])
    assert long is not None and len(long) == MAX_CHARS and long.endswith("...")


def test_a_refused_encoder_setup_is_explained_in_ffmpegs_words() -> None:
    with av.open(io.BytesIO(), "w", format="avi") as out:
        stream = out.add_stream("h263", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        settings = encoder_settings(stream, "avi", {})
    assert explain(settings) == ("h263 says: The specified picture size of 320x240 is not valid for the H.263 "
                                 "codec. Valid sizes are 128x96, 176x144, 352x288, 704x576, and 1408x1152. "
                                 "Try H.263+.")
    stream_ok = dict(settings, width=352, height=288)
    assert explain(stream_ok) is None  # CIF: it opens and encodes, and says nothing
