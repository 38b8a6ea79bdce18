"""Closed captions: the A/53 SEI vsr writes is the spec's, and FFmpeg's decoders read it back."""

from __future__ import annotations

import av
import numpy as np
import pytest

from clips import caption_bytes, decoded_captions, pattern, write_captioned
from vsr.io.captions import CaptionCarry, TrackCaptions, metadata_obu, sei_nal, user_data, with_captions


def test_the_sei_is_assembled_as_atsc_a53_lays_it_out() -> None:
    # one CEA-608 pair (field 1, valid): written out by hand from A/53 Part 4 and H.264 7.3.2.3
    cc = bytes((0xFC, 0x94, 0x20))
    expected = bytes.fromhex(
        "06"            # NAL header: SEI
        "04" "0e"       # payload type 4 (user_data_registered_itu_t_t35), 14 bytes
        "b5" "0031"     # T.35 country: United States; provider: ATSC
        "47413934" "03" # "GA94", user_data_type_code: cc_data
        "41" "ff"       # process_cc_data_flag, cc_count 1; em_data
        "fc9420" "ff"   # the triplet; marker bits
        "80"            # rbsp trailing bits
    )
    assert sei_nal("h264", cc) == expected
    hevc = sei_nal("hevc", cc)
    assert hevc[:2] == bytes((39 << 1, 1)) and hevc[2:] == expected[1:]  # prefix SEI, layer 0, tid 1


def test_mpeg2_user_data_and_the_av1_metadata_obu_carry_the_same_ga94_bytes() -> None:
    cc = bytes((0xFC, 0x94, 0x20))
    ga94 = bytes.fromhex("47413934" "03" "41ff" "fc9420" "ff")
    assert user_data(cc) == bytes.fromhex("000001b2") + ga94  # MPEG-2: user_data_start_code, no T.35 prefix
    obu = metadata_obu(cc)
    # OBU header: type 5 (metadata), has_size_field; size 16; metadata_type 4 (ITU-T T.35);
    # country United States, provider ATSC; trailing bits
    assert obu == bytes.fromhex("2a" "10" "04" "b50031") + ga94 + b"\x80"


def test_zero_runs_are_escaped_so_any_bytes_survive_and_31_triplets_is_the_most_one_message_holds(tmp_path) -> None:
    awkward = bytes((0xFC, 0, 0, 0x01, 0, 0, 0, 0, 0x03))  # start codes and zero runs inside
    nal = sei_nal("h264", awkward)
    assert b"\x00\x00\x00" not in nal and b"\x00\x00\x01" not in nal and b"\x00\x00\x03\x01" in nal
    # FFmpeg's decoder takes the escapes out again and reads the same bytes
    assert decoded_captions(write_captioned(tmp_path / "z.mp4", frames=3, captions=lambda i: awkward)) == [awkward] * 3
    full = sei_nal("h264", bytes(range(40)) * 3)  # 40 triplets
    assert full[3:11] == bytes.fromhex("b500314741393403") and full[11] == 0x40 | 31
    assert len(full) == 3 + 8 + 2 + 93 + 2  # header, type, size; T.35 + GA94 + type; flags, em; data; marker, trailing


def test_the_sei_goes_before_the_first_slice_after_the_encoders_own_units() -> None:
    with av.open("x.mp4", "w", format="null") as out:  # nothing written: only the encoder's packets
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(pattern(0, 64, 48), format="rgb24").reformat(format="yuv420p")
        frame.pts = 0
        packets = [bytes(p) for p in (*v.encode(frame), *v.encode(None))]
    data = packets[0]
    types = [b & 0x1F for b in _nal_headers(data)]
    assert types == [7, 8, 6, 5]  # SPS, PPS, x264's own SEI, IDR slice
    captioned = with_captions("h264", data, caption_bytes(0))
    assert [b & 0x1F for b in _nal_headers(captioned)] == [7, 8, 6, 6, 5]
    assert sei_nal("h264", caption_bytes(0)) in captioned
    assert with_captions("h264", b"\x00\x00\x00\x17" + data[4:], caption_bytes(0)) is None  # not Annex B


def _nal_headers(data: bytes) -> list[int]:
    out, i = [], data.find(b"\x00\x00\x01")
    while i >= 0:
        out.append(data[i + 3])
        i = data.find(b"\x00\x00\x01", i + 3)
    return out


@pytest.mark.parametrize("codec, name", [("libx264", "c.mp4"), ("libx264", "c.ts"), ("libx265", "c.mkv"),
                                         ("mpeg2video", "c.ts"), ("libsvtav1", "c.mkv")])
def test_ffmpegs_decoder_reads_every_pictures_captions_back_in_display_order(codec, name, tmp_path) -> None:
    # B-frames: the access units come in decode order, the captions must follow their pictures
    height = 64 if codec == "libsvtav1" else 48  # SVT-AV1 codes nothing under 64 lines
    got = decoded_captions(write_captioned(tmp_path / name, codec=codec, frames=10, height=height))
    assert got == [caption_bytes(i) for i in range(10)]
    assert len(set(got)) == 10 and all(np.frombuffer(c, np.uint8)[0] == 0xFC for c in got)


def test_a_dropped_frames_captions_go_out_with_the_next_later_frame_in_order() -> None:
    carry = CaptionCarry(limit=40)
    assert carry.take(caption_bytes(0), 0) == caption_bytes(0)  # nothing waiting: a frame's own, as they are
    pad = bytes((0xFA, 0, 0, 0xFC, 0x80, 0x80))  # an invalid triplet and a 608 null pair: nothing to carry
    carry.drop(caption_bytes(2) + pad, 2)  # dropped at the decoder while frame 1 was still on its way
    carry.drop(caption_bytes(3), 3)
    carry.drop(pad, 4)
    assert carry.take(caption_bytes(1), 1) == caption_bytes(1)  # not ahead of an earlier picture
    assert carry.take(caption_bytes(5) + pad, 5) == caption_bytes(2) + caption_bytes(3) + caption_bytes(5)
    assert carry.take(None, 6) is None and carry.take(pad, 7) == pad  # emptied
    # more than one message holds: 31 triplets now, the rest with the next frame, none lost or reordered
    for i in range(12):  # 36 triplets waiting
        carry.drop(caption_bytes(i), 10 + i)
    first, second = carry.take(None, 30), carry.take(caption_bytes(12), 31)
    assert len(first) == 93 and first + second == b"".join(caption_bytes(i) for i in range(13))
    for i in range(20):  # 60 triplets: past the limit of 40, the oldest go first
        carry.drop(caption_bytes(i), 40 + i)
    held = carry.take(None, 70) + carry.take(None, 71)
    assert held == b"".join(caption_bytes(i) for i in range(20))[-3 * 40:]


def _pairs(n: int, field: int = 0, first: int = 0) -> bytes:
    return b"".join(bytes((0xFC | field, 0xC1 + first + i, 0x80)) for i in range(n))


def test_a_caption_tracks_pairs_go_out_one_per_ntsc_frame_in_order_with_the_pictures_due() -> None:
    # a Scenarist line: 6 field-1 pairs at 1.0 s, no duration -> one per 1001/30000 s from 1.0 s
    track = TrackCaptions([(1.0, None, _pairs(6))])
    assert track.take(None, 0.96) is None  # none before its time
    at_25fps = [track.take(None, 1.0 + k * 0.04) for k in range(4)]  # due 33.4 ms apart: one each
    assert at_25fps == [_pairs(6)[3 * k : 3 * k + 3] for k in range(4)]
    assert track.take(None, 1.5) == _pairs(6)[12:] and track.left() == 0  # a late picture takes what is due
    # one-frame samples (1/60 s, a pair for each field) at 60 fps: a pair of each field a picture
    track = TrackCaptions([(k / 60, 1 / 60, _pairs(1, 0, k) + _pairs(1, 1, k)) for k in range(4)])
    assert [track.take(None, k / 60) for k in range(4)] == [_pairs(1, 0, k) + _pairs(1, 1, k) for k in range(4)]
    # a picture's own captions come first; 31 triplets at most, the rest wait; padding left over is no loss
    track = TrackCaptions([(0.0, 0.001, _pairs(40)), (0.5, None, bytes((0xFC, 0x80, 0x80)) * 3)])
    first = track.take(_pairs(2, 1), 0.1)
    assert first[:6] == _pairs(2, 1) and first[6:] == _pairs(40)[: 3 * 29]
    assert track.left() == 11 and track.take(None, 0.2) == _pairs(40)[3 * 29 :] and track.left() == 0
