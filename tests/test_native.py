import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

native = pytest.importorskip("uhop_cc.native")


def py_fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def test_extension_imports():
    import uhop_cc._native as ext

    assert ext.abi_version() == 1


def test_abi_version():
    assert native.abi_version() == 1


def test_known_vectors():
    assert native.fnv1a64("") == 0xCBF29CE484222325
    assert native.fnv1a64("a") == 0xAF63DC4C8601EC8C
    assert native.fnv1a64("foobar") == 0x85944171F73967E8


@given(st.text())
def test_fnv1a64_matches_python(text):
    assert native.fnv1a64(text) == py_fnv1a64(text.encode("utf-8"))


def test_fnv1a64_non_ascii():
    for text in ["é", "核函数", "🚀 kernel", "a\x00b"]:
        assert native.fnv1a64(text) == py_fnv1a64(text.encode("utf-8"))


@given(st.text())
def test_source_hash_format_and_stability(text):
    h = native.source_hash(text)
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert h == native.source_hash(text)
    assert int(h, 16) == py_fnv1a64(text.encode("utf-8"))


def test_build_info():
    info = native.build_info()
    assert set(info) >= {"compiler", "cxx_standard", "build_type"}
    assert info["cxx_standard"] >= 17
