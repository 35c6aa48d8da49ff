"""Generic invariance tests generated over every registered MetricCase (tests/cases/*)."""

from __future__ import annotations

import importlib
import pickle

import pytest
import torch
from cases import CASE_MODULES
from harness import (
    MetricCase,
    assert_close,
    cast_batches,
    cat_batches,
    ddp_compute,
    pickle_roundtrip,
    run_metric,
    state_dict_roundtrip,
)

PARAMS = []
for _module_name in CASE_MODULES:
    for _case in importlib.import_module(_module_name).CASES:
        PARAMS.append(pytest.param(_module_name, _case, id=_case.id))


def _compute(case: MetricCase, batches) -> object:
    return run_metric(case.factory(), batches).compute()


@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_reference(module: str, case: MetricCase) -> None:
    if case.reference is None:
        pytest.skip("reference comparison lives in the metric's own test file")
    batches = case.make_batches(0)
    assert_close(_compute(case, batches), case.reference(batches), case.atol, case.rtol, case.compare_keys)


@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_batch_split_invariance(module: str, case: MetricCase) -> None:
    batches = case.make_batches(1)
    assert len(batches) >= 4, "cases need at least 4 batches"
    split = _compute(case, batches)
    whole = _compute(case, [cat_batches(batches)])
    assert_close(split, whole, case.atol, case.rtol, case.compare_keys)


@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_merge_state(module: str, case: MetricCase) -> None:
    batches = case.make_batches(2)
    half = len(batches) // 2
    a = run_metric(case.factory(), batches[:half])
    b = run_metric(case.factory(), batches[half:])
    a.merge_state(b)
    assert_close(a.compute(), _compute(case, batches), case.atol, case.rtol, case.compare_keys)


@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_pickle_and_state_dict_roundtrip(module: str, case: MetricCase) -> None:
    batches = case.make_batches(3)
    expected = _compute(case, batches)
    metric = run_metric(case.factory(), batches)
    assert_close(pickle_roundtrip(metric).compute(), expected, case.atol, case.rtol, case.compare_keys)
    metric = run_metric(case.factory(), batches)
    assert_close(
        state_dict_roundtrip(metric, case.factory).compute(), expected, case.atol, case.rtol, case.compare_keys
    )
    # an unused metric pickles too, and keeps working after the round trip
    clone = pickle.loads(pickle.dumps(case.factory()))
    assert_close(run_metric(clone, batches).compute(), expected, case.atol, case.rtol, case.compare_keys)


@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_dtype_and_device(module: str, case: MetricCase) -> None:
    batches = case.make_batches(4)
    ref = _compute(case, cast_batches(batches, torch.float64))
    if case.check_dtype:
        assert_close(
            _compute(case, cast_batches(batches, torch.float32)), ref, case.dtype_atol, 1e-4, case.compare_keys
        )
    if torch.cuda.is_available():
        metric = case.factory().to("cuda")
        out = run_metric(metric, cast_batches(batches, torch.float64, "cuda")).compute()
        assert_close(out, ref, case.dtype_atol, 1e-4, case.compare_keys)


@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_empty_state_raises(module: str, case: MetricCase) -> None:
    metric = case.factory()
    with pytest.raises(ValueError, match=r"(?i)empty|no (samples|data|updates)|before any"):
        metric.compute()


@pytest.mark.ddp
@pytest.mark.parametrize(("module", "case"), PARAMS)
def test_ddp_equals_single_process(module: str, case: MetricCase) -> None:
    expected = _compute(case, case.make_batches(5))
    outs = ddp_compute(module, case.id, 5)
    for rank, out in enumerate(outs):
        assert_close(out["uneven"], expected, case.atol, case.rtol, case.compare_keys, f"rank{rank}-uneven")
        if case.empty_rank_ok:
            assert_close(out["empty_rank"], expected, case.atol, case.rtol, case.compare_keys, f"rank{rank}-empty")
