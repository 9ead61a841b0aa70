"""R2000Framer: reassembly across any split, resync after noise, rejected frames counted."""

from __future__ import annotations

from firmware_bridge.rfid_r2000_framing import Frame, FramerStats, R2000Framer, encode_frame

TAG = bytes.fromhex("A0 13 01 89 0D 30 00 30 74 25 7B F7 19 4E 40 00 00 1A 85 4E B7")
END = bytes.fromhex("A0 0A 01 89 00 00 96 00 00 01 2C 09")
TAG_FRAME = Frame(1, 0x89, TAG[4:-1])
END_FRAME = Frame(1, 0x89, END[4:-1])
STREAM = TAG + END


def test_whole_stream_in_one_feed() -> None:
    framer = R2000Framer()
    assert framer.feed(STREAM) == [TAG_FRAME, END_FRAME]
    assert framer.stats == FramerStats(frames=2)
    assert framer.pending == 0


def test_split_at_every_offset() -> None:
    for cut in range(len(STREAM) + 1):
        framer = R2000Framer()
        frames = framer.feed(STREAM[:cut]) + framer.feed(STREAM[cut:])
        assert frames == [TAG_FRAME, END_FRAME], cut
        assert framer.stats == FramerStats(frames=2)


def test_byte_by_byte() -> None:
    framer = R2000Framer()
    frames = [frame for byte in STREAM for frame in framer.feed(bytes((byte,)))]
    assert frames == [TAG_FRAME, END_FRAME]


def test_noise_before_between_and_after_is_skipped_and_counted() -> None:
    framer = R2000Framer()
    assert framer.feed(b"\x00\x13\xff" + TAG + b"\x55\x66" + END + b"\x01") == [
        TAG_FRAME,
        END_FRAME,
    ]
    assert framer.stats == FramerStats(frames=2, noise_bytes=6)


def test_false_head_in_noise_costs_one_byte_and_a_bad_checksum() -> None:
    # 0xA0 0x05 claims a 7-byte frame that swallows the start of the real one.
    framer = R2000Framer()
    assert framer.feed(b"\xa0\x05" + TAG) == [TAG_FRAME]
    assert framer.stats == FramerStats(frames=1, bad_checksum=1, noise_bytes=2)


def test_impossible_length_is_counted() -> None:
    framer = R2000Framer()
    assert framer.feed(b"\xa0\x02" + END) == [END_FRAME]
    assert framer.stats == FramerStats(frames=1, bad_length=1, noise_bytes=2)


def test_corrupted_frame_is_dropped_and_the_next_one_kept() -> None:
    corrupted = TAG[:-1] + bytes((TAG[-1] ^ 0x01,))
    framer = R2000Framer()
    assert framer.feed(corrupted + END) == [END_FRAME]
    assert framer.stats.bad_checksum == 1
    assert framer.stats.frames == 1


def test_truncated_frame_then_more_frames() -> None:
    framer = R2000Framer()
    assert framer.feed(TAG[:9] + END + TAG) == [END_FRAME, TAG_FRAME]
    assert framer.stats.frames == 2
    assert framer.stats.bad_checksum >= 1


def test_port_vanishing_mid_frame_is_counted_by_reset() -> None:
    framer = R2000Framer()
    assert framer.feed(TAG[:7]) == []
    assert framer.pending == 7
    assert framer.reset() == 7
    assert framer.feed(END) == [END_FRAME]
    assert framer.stats == FramerStats(frames=1, noise_bytes=7)


def test_longest_frame() -> None:
    data = bytes(range(252))
    framer = R2000Framer()
    assert framer.feed(encode_frame(0xFF, 0x90, data)) == [Frame(0xFF, 0x90, data)]
