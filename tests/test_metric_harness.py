"""Generic invariance tests generated over every registered MetricCase (tests/cases/*)."""

from __future__ import annotations

import importlib
import pickle
import warnings

import pytest
import torch
from cases import CASE_MODULES
from harness import (
    MetricCase,
    assert_close,
    batch_value,
    cast_batches,
    cat_batches,
    ddp_compute,
    empty_batch,
    meta_batch,
    pickle_roundtrip,
    run_metric,
    state_dict_roundtrip,
)

# (case id, check) -> why it is expected to fail for now (owner named); marked xfail(strict=False)
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _params(check: str) -> list:
    params = []
    for module_name in CASE_MODULES:
        module = importlib.import_module(module_name)
        if not hasattr(module, "CASES"):
            raise AttributeError(f"{module_name} defines no CASES (prefix helper modules in tests/cases/ with '_')")
        for case in module.CASES:
            reason = KNOWN_FAILURES.get((case.id, check))
            marks = [pytest.mark.xfail(strict=False, reason=reason)] if reason else []
            params.append(pytest.param(module_name, case, id=case.id, marks=marks))
    return params


PARAMS = _params("")


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
    if not case.ddp:
        pytest.skip("same states and sync path as a case that runs the DDP check")
    expected = _compute(case, case.make_batches(5))
    outs = ddp_compute(module, case.id, 5)
    for rank, out in enumerate(outs):
        assert_close(out["uneven"], expected, case.atol, case.rtol, case.compare_keys, f"rank{rank}-uneven")
        if case.empty_rank_ok:
            assert_close(out["empty_rank"], expected, case.atol, case.rtol, case.compare_keys, f"rank{rank}-empty")


def _assert_forward_value(out: object, expected: object, case: MetricCase, where: str) -> None:
    if expected is None or case.forward_value == "none":
        assert out is None, f"{where}: forward must return None here, got {type(out).__name__}"
    else:
        assert out is not None, f"{where}: forward returned None, but the batch alone has a value"
        assert_close(out, expected, case.atol, case.rtol, case.compare_keys, where)


@pytest.mark.parametrize(("module", "case"), _params("forward"))
def test_forward_equals_update(module: str, case: MetricCase) -> None:
    """``metric(*batch)`` adds the batch like ``update`` and returns the batch's own value (or None)."""
    batches = case.make_batches(6)
    metric = case.factory()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-batch NaN warnings of small batches
        for i, (args, kwargs) in enumerate(batches):
            if i == 2:  # forward and update mix freely
                metric.update(*args, **kwargs)
                continue
            out = metric(*args, **kwargs)
            _assert_forward_value(out, batch_value(case.factory, (args, kwargs)), case, f"forward[batch {i}]")
    assert_close(metric.compute(), _compute(case, batches), case.atol, case.rtol, case.compare_keys, "global")


@pytest.mark.parametrize(("module", "case"), _params("empty_batch"))
def test_empty_batch_is_noop(module: str, case: MetricCase) -> None:
    batches = case.make_batches(7)
    empty = empty_batch(batches[0])
    expected = _compute(case, batches)
    # update: empty batches first, in the middle and last change nothing
    padded = [empty, *batches[:2], empty, *batches[2:], empty]
    assert_close(_compute(case, padded), expected, case.atol, case.rtol, case.compare_keys, "update")
    # forward: returns None and changes nothing
    metric = case.factory()
    assert metric(*empty[0], **empty[1]) is None, "forward on an empty batch must return None"
    run_metric(metric, batches[:2])
    assert metric(*empty[0], **empty[1]) is None, "forward on an empty batch must return None"
    run_metric(metric, batches[2:])
    assert_close(metric.compute(), expected, case.atol, case.rtol, case.compare_keys, "forward")
    # only empty batches: still an empty state
    metric = run_metric(case.factory(), [empty, empty])
    with pytest.raises(ValueError, match=r"(?i)empty|no (samples|data|updates)|before any"):
        metric.compute()


@pytest.mark.parametrize(("module", "case"), _params("meta"))
def test_meta_tensors_clear_error(module: str, case: MetricCase) -> None:
    """A meta-device batch is refused with an error naming the meta device; the state stays as it was."""
    batches = case.make_batches(8)
    metric = run_metric(case.factory(), batches[:2])
    meta = meta_batch(batches[2])
    with pytest.raises((ValueError, TypeError), match="meta"):
        metric.update(*meta[0], **meta[1])
    with pytest.raises((ValueError, TypeError), match="meta"):
        metric(*meta[0], **meta[1])
    run_metric(metric, batches[2:])
    assert_close(metric.compute(), _compute(case, batches), case.atol, case.rtol, case.compare_keys, "after meta")
