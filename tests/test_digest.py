"""The builtin-module digests are hashlib's, byte for byte."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from tmuxtok._digest import blake2b_hex, sha256_hex


@given(st.binary(max_size=4096), st.integers(1, 64))
def test_blake2b_is_hashlibs(data: bytes, size: int) -> None:
    assert blake2b_hex(data, size) == hashlib.blake2b(data, digest_size=size).hexdigest()


@given(st.binary(max_size=4096))
def test_sha256_is_hashlibs(data: bytes) -> None:
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()
