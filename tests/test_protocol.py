"""The wire format: values round-trip exactly, hostile frames are refused, nothing is unpickled."""

from __future__ import annotations

import io
import json
import os
import struct

import numpy as np
import pytest
import torch

from coursekit.grading import protocol


def roundtrip(value):
    encoder = protocol.Encoder(lambda obj: (_ for _ in ()).throw(TypeError(type(obj).__name__)))
    encoded = encoder.encode(value)
    return protocol.Decoder(encoder.blobs, lambda ref: ref).decode(encoded)


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, "ünïcode", b"\xff\x00", [1, [2, "x"]], (1, (2.0,)), {"a": 1}, {(1, 2): b"ab"},
    {3, 4}, slice(1, None, 2), Ellipsis, (slice(None), Ellipsis, 0)])
def test_plain_values_roundtrip(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_special_floats_roundtrip():
    out = roundtrip([float("nan"), float("inf"), -float("inf")])
    assert np.isnan(out[0]) and out[1:] == [float("inf"), -float("inf")]


def test_numpy_scalars_stay_scalars_and_0d_stays_0d():
    assert roundtrip(np.float64(2.5)) == 2.5 and isinstance(roundtrip(np.float64(2.5)), np.float64)
    assert int(roundtrip(np.int64(7))) == 7
    assert roundtrip(np.array(3.0)).shape == ()
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(roundtrip(fortran), fortran)


def test_tensors_keep_dtype():
    tensor = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    out = roundtrip(tensor)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16 and torch.equal(out, tensor)


def test_objects_go_to_the_object_policy():
    with pytest.raises(TypeError, match="object"):
        roundtrip(object())


def test_pickled_arrays_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(protocol.ProtocolError):
        protocol.Decoder([buffer.getvalue()], lambda r: r).decode({"__nd__": 0})


def test_hostile_frames_are_protocol_errors():
    read, write = os.pipe()
    os.write(write, struct.pack("<I", 5) + b"nope!")
    with pytest.raises(protocol.ProtocolError):
        protocol.FrameReader(read).read(deadline=None)
    os.write(write, struct.pack("<I", protocol.MAX_HEADER + 1))
    with pytest.raises(protocol.ProtocolError):
        protocol.FrameReader(read).read(deadline=None)
    os.close(write)
    with pytest.raises(protocol.PeerClosed):
        protocol.FrameReader(read).read(deadline=None)
    for bad in ({"__float__": "1e999"}, {"__bytes__": 5}, {"__dict__": [[[1], 2]]}, {"__what__": 1}):
        with pytest.raises(protocol.ProtocolError):
            protocol.Decoder([], lambda r: r).decode(bad)


def test_deadline_when_nothing_arrives():
    read, _write = os.pipe()
    import time

    with pytest.raises(protocol.Deadline):
        protocol.FrameReader(read).read(deadline=time.monotonic() + 0.05)


def _frame(header: dict) -> bytes:
    body = json.dumps(header).encode()
    return struct.pack("<I", len(body)) + body


def test_reply_claiming_more_than_the_limit_is_refused_before_reading_it():
    read, write = os.pipe()
    os.write(write, _frame({"blobs": [2**40]}) + b"\0" * 1000)  # claims a terabyte, sends a kilobyte
    reader = protocol.FrameReader(read, max_header=1024, max_total=10 * 2**20)
    with pytest.raises(protocol.FrameTooLarge) as caught:
        reader.read(deadline=None)
    assert caught.value.limit == 10 * 2**20 and caught.value.size > 2**40
    assert len(reader.buffer) <= 65536 + 1000  # what arrived, never what was claimed
    os.write(write, struct.pack("<I", 5000))
    with pytest.raises(protocol.FrameTooLarge, match="over the limit"):
        protocol.FrameReader(read, max_header=1024).read(deadline=None)
    os.close(write)
    os.close(read)


def test_many_blobs_count_together_against_the_limit():
    read, write = os.pipe()
    os.write(write, _frame({"blobs": [600, 600]}))
    with pytest.raises(protocol.FrameTooLarge):
        protocol.FrameReader(read, max_total=1000).read(deadline=None)
    os.close(write)
    os.close(read)


def test_frames_within_the_limit_still_arrive():
    read, write = os.pipe()
    protocol.write_frame(write, {"ok": True}, [b"x" * 500])
    header, blobs = protocol.FrameReader(read, max_total=1000).read(deadline=None)
    assert header["ok"] and blobs == [b"x" * 500]
    os.close(write)
    os.close(read)


def test_blob_sizes_must_be_plain_ints():
    read, write = os.pipe()
    os.write(write, _frame({"blobs": [True, 1.5]}))
    with pytest.raises(protocol.ProtocolError, match="blob list"):
        protocol.FrameReader(read).read(deadline=None)
    os.close(write)
    os.close(read)
