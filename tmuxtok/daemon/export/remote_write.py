"""Prometheus remote write 1.0 on the wire: a protobuf ``WriteRequest`` in
snappy's *block* format (the framed format gets a 400) and the spec's headers.

The protobuf is four small messages, written here with the standard library
rather than generated code:

    WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
    TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2; }
    Label          { string name = 1; string value = 2; }
    Sample         { double value = 1; int64 timestamp = 2; }   // ms
    MetricMetadata { MetricType type = 1; string metric_family_name = 2;
                     string help = 4; string unit = 5; }

The same samples always give the same bytes (series and labels sorted), so a
request sent again after a crash is byte-for-byte the first one.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from tmuxtok import __version__
from tmuxtok.daemon.export.model import ALL_FAMILIES, Labels

#: The spec's headers (the version header says 1.0 as "0.1.0", as Prometheus sends it).
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": f"tmuxtok/{__version__}",
}
_METRIC_TYPE = {"counter": 1, "gauge": 2}


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 as protobuf writes it: two's complement, ten bytes
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _bytes(field: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _string(field: int, text: str) -> bytes:
    return _bytes(field, text.encode("utf-8", "surrogatepass"))


def encode(samples: Sequence[tuple[Labels, int, float]], metadata: bool = True) -> bytes:
    """The uncompressed ``WriteRequest``: one TimeSeries per (labels, ms, value).

    Labels must be sorted by name (``model.labels_of`` makes them so); the
    metadata (type and help of each metric present) is for stores that keep
    it, such as Mimir and Grafana Cloud.
    """
    out = bytearray()
    names: set[str] = set()
    for labels, ts_ms, value in samples:
        series = bytearray()
        for name, text in labels:
            series += _bytes(1, _string(1, name) + _string(2, text))
        sample = b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(ts_ms)
        series += _bytes(2, sample)
        out += _bytes(1, bytes(series))
        names.add(labels[0][1])
    for name in sorted(names) if metadata else ():
        family = ALL_FAMILIES.get(name)
        if family is None:
            continue
        meta = _varint(1 << 3) + _varint(_METRIC_TYPE[family.kind])
        meta += _string(2, name) + _string(4, family.help)
        out += _bytes(3, meta)
    return bytes(out)


def compress(raw: bytes) -> bytes:
    """Snappy's block format (``compress_raw``), as remote write requires."""
    import cramjam

    return bytes(cramjam.snappy.compress_raw(raw))


def request_body(samples: Sequence[tuple[Labels, int, float]]) -> bytes:
    return compress(encode(samples))
