"""The program generator: valid, bound, classified as intended, deterministic, within its limits."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhop_cc import ir
from uhop_cc.campaign.generator import (ALLOWED, CATEGORIES, INTENDED, Limits, derive_seed, generate)
from uhop_cc.ir import printer
from uhop_cc.ir.parser import parse
from uhop_cc.lower.category import categorize

LIMITS = st.builds(Limits, min_size=st.just(1), max_size=st.sampled_from([8, 24, 64]),
                   max_elements=st.sampled_from([256, 1024, 4096]),
                   dtypes=st.sampled_from([("f32",), ("f32", "f64", "i32"), ("f64", "i32")]),
                   max_depth=st.integers(1, 4))
SEEDS = st.integers(0, 2 ** 63 - 1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(category=st.sampled_from(CATEGORIES), seed=SEEDS, limits=LIMITS)
def test_every_program_checks_binds_and_classifies(category, seed, limits):
    g = generate(category, seed, limits)
    # the text is valid UIR on its own (through the parser, as a user would load it)
    res = ir.check_source(g.source)
    assert res.ok, f"{g.source}\n{res.format()}"
    (checked,) = res.kernels
    assert set(g.sizes) == set(checked.sizes)
    bound = ir.bind_shapes(checked, g.sizes)  # the bounds check passes for the generated sizes
    # the canonical text round-trips, and the tree the generator checks is the parsed one
    assert printer.program(parse(g.source)) == g.source
    assert g.check().kernel == checked.kernel
    cat = categorize(checked)
    assert cat in ALLOWED[category], (category, cat, g.source)
    if INTENDED[category] is not None:
        assert cat == INTENDED[category]
    # within the shape limits
    for name, shape in bound.shapes.items():
        n = 1
        for d in shape:
            n *= d
        assert n <= limits.max_elements, (name, shape, g.source)
        assert all(d >= 1 for d in shape), (name, shape)
    # and within the allowed dtypes (tensors and scalars)
    for t in checked.tensors.values():
        assert t.dtype in limits.dtypes or (t.dtype == "f32" and not set(limits.dtypes) - {"i32"}), t


@settings(max_examples=60, deadline=None)
@given(category=st.sampled_from(CATEGORIES), seed=SEEDS)
def test_deterministic_from_seed(category, seed):
    a, b = generate(category, seed), generate(category, seed)
    assert (a.source, a.sizes, a.name) == (b.source, b.sizes, b.name)
    assert a.program == b.program


def test_seeds_give_variety():
    for c in CATEGORIES:
        srcs = {generate(c, derive_seed(1, c, n)).source for n in range(40)}
        assert len(srcs) >= 30, c  # not a handful of programs repeated
        variants = {generate(c, derive_seed(1, c, n)).variant for n in range(60)}
        assert len(variants) >= 2 or c in ("math_chain",), (c, variants)


def test_derive_seed_is_stable():
    # a fixed value: campaigns resumed on another machine or Python regenerate the same programs
    assert derive_seed(1, "matrix", 0) == derive_seed(1, "matrix", 0)
    assert derive_seed(1, "matrix", 0) != derive_seed(1, "matrix", 1) != derive_seed(2, "matrix", 1)
    assert 0 <= derive_seed(123, "fused", 7) < 2 ** 63


def test_every_category_maps_to_the_lowering_categories():
    assert set(INTENDED) == set(CATEGORIES) == set(ALLOWED)
    mapped = {v for v in INTENDED.values() if v}
    # the generator covers the lowering categories except conv (pooling/stencil windows instead)
    from uhop_cc.lower.category import CATEGORIES as LOWERED
    assert mapped <= set(LOWERED)
    assert {"elementwise", "transform", "stencil", "reduction", "matmul", "pooling", "fused"} <= mapped


def test_unknown_category_and_bad_limits():
    with pytest.raises(ValueError):
        generate("nonsense", 1)
    with pytest.raises(ValueError):
        Limits(dtypes=("f8",))
    with pytest.raises(ValueError):
        Limits(min_size=10, max_size=2)


def test_select_category_uses_select_and_fused_has_temporaries():
    for n in range(20):
        s = generate("select", derive_seed(3, "select", n)).source
        assert "select(" in s
        f = generate("fused", derive_seed(3, "fused", n))
        assert len(f.kernel.body) >= 2
        p = generate("pooling", derive_seed(3, "pooling", n)).source
        assert " in 0.." in p
