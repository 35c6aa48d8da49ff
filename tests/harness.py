"""Reusable test harness for every rdmetrics Metric (in the spirit of scikit-learn's ``test_common.py``).

A metric plugs in by adding a :class:`MetricCase` to one of the lists in ``tests/cases/``. The generic tests in
``tests/test_metric_harness.py`` then check, for every case:

* the result against an independent reference (brute-force float64, closed form or a peer package);
* batch-split invariance: ``update(a); update(b)`` == ``update(cat(a, b))``;
* ``merge_state``: two metrics fed disjoint halves and merged == one metric fed everything;
* pickle and ``state_dict`` round trips (states made persistent first);
* float64 inputs == float32 inputs (within the case's dtype tolerance) and, when CUDA exists, CUDA == CPU;
* ``compute()`` on an empty state raises a clear ``ValueError``;
* ``forward`` (``metric(*batch)``) == ``update``: the global state ends up the same, and each call returns the
  batch value, i.e. ``compute()`` of a fresh metric fed that batch alone, or ``None`` where that is undefined
  (raises ``ValueError``) or where the case declares ``forward_value="none"``;
* an empty batch (every tensor argument sliced to 0 rows) is a no-op for ``update`` and ``forward`` (which returns
  ``None``);
* a batch of ``meta`` tensors raises a clear error naming the meta device, through ``update`` and ``forward``, and
  leaves the accumulated state untouched;
* real 2-process DDP on CPU (gloo) == single process, with uneven shards (and an empty rank where the case allows).

Inputs are a list of *batches*; each batch is a tuple of positional ``update`` arguments plus an optional dict of
keyword arguments. Tensor arguments are split / concatenated along dim 0; non-tensor arguments must be equal across
batches that are concatenated.
"""

from __future__ import annotations

import copy
import io
import math
import os
import pickle
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

Batch = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass
class MetricCase:
    """One metric configuration to run through the generic harness.

    Attributes:
        id: test id.
        factory: builds a fresh metric (must be picklable: a module-level function or ``functools.partial``).
        make_batches: ``seed -> list of batches``; a batch is ``(args_tuple, kwargs_dict)``. At least 4 batches.
        reference: optional ``list of batches -> expected output`` computed independently (float64 brute force,
            closed form or a peer package). ``None`` when the case is only checked for invariances (the reference
            comparison must then live in the metric's own test file).
        atol / rtol: tolerances for every comparison (states are exact, so split invariance is usually tight).
        dtype_atol: tolerance between float32 and float64 inputs.
        empty_rank_ok: the metric must cope with a DDP rank that saw no update.
        compare_keys: restrict comparisons to these output keys (``None``: all).
        check_dtype: run the float32-vs-float64 check.
        forward_value: ``"batch"`` (default): ``forward`` returns the batch value where defined, else ``None``;
            ``"none"``: ``forward`` always returns ``None`` (the metric documents that it has no batch value).
        ddp: run the (slow, process-spawning) DDP check; ``False`` only for a variant whose states and sync path
            are those of another case that runs it.
    """

    id: str
    factory: Callable[[], Metric]
    make_batches: Callable[[int], list[Batch]]
    reference: Callable[[list[Batch]], Any] | None = None
    atol: float = 1e-8
    rtol: float = 1e-6
    dtype_atol: float = 1e-4
    empty_rank_ok: bool = True
    compare_keys: Sequence[str] | None = None
    check_dtype: bool = True
    forward_value: str = "batch"
    ddp: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------------
# batches


def cat_batches(batches: list[Batch]) -> Batch:
    """Concatenate batches along dim 0 (tensor args); non-tensor args must agree."""
    if not batches:
        raise ValueError("no batches to concatenate")
    first_args, first_kwargs = batches[0]
    args = []
    for i, a in enumerate(first_args):
        if isinstance(a, Tensor):
            args.append(torch.cat([b[0][i] for b in batches], dim=0))
        else:
            for b in batches[1:]:
                if b[0][i] != a:
                    raise ValueError(f"non-tensor argument {i} differs between batches: cannot concatenate")
            args.append(a)
    kwargs = {}
    for k, v in first_kwargs.items():
        if isinstance(v, Tensor):
            kwargs[k] = torch.cat([b[1][k] for b in batches], dim=0)
        else:
            kwargs[k] = v
    return tuple(args), kwargs


def cast_batches(batches: list[Batch], dtype: torch.dtype, device: torch.device | str | None = None) -> list[Batch]:
    def conv(x: Any) -> Any:
        if isinstance(x, Tensor):
            x = x.to(device) if device is not None else x
            return x.to(dtype) if x.is_floating_point() else x
        return x

    return [(tuple(conv(a) for a in args), {k: conv(v) for k, v in kw.items()}) for args, kw in batches]


def map_batch(batch: Batch, fn: Callable[[Tensor], Tensor]) -> Batch:
    """Apply ``fn`` to every tensor argument of a batch (positional and keyword)."""
    args, kwargs = batch
    return (
        tuple(fn(a) if isinstance(a, Tensor) else a for a in args),
        {k: fn(v) if isinstance(v, Tensor) else v for k, v in kwargs.items()},
    )


def empty_batch(batch: Batch) -> Batch:
    """The same batch with 0 rows (every tensor argument sliced ``[:0]``: dtype, device and trailing shape kept)."""
    return map_batch(batch, lambda t: t[:0] if t.ndim else t)


def meta_batch(batch: Batch) -> Batch:
    """The same batch on the ``meta`` device (shapes and dtypes only, no data)."""
    return map_batch(batch, lambda t: t.to("meta"))


def run_metric(metric: Metric, batches: list[Batch]) -> Metric:
    for args, kwargs in batches:
        metric.update(*args, **kwargs)
    return metric


def batch_value(factory: Callable[[], Metric], batch: Batch) -> Any:
    """What ``forward`` must return for ``batch``: ``compute()`` of a fresh metric fed it alone, ``None`` when that
    raises ``ValueError`` (the batch alone has no value)."""
    import warnings

    metric = factory()
    args, kwargs = batch
    metric.update(*args, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return metric.compute()
        except ValueError:
            return None


# ---------------------------------------------------------------------------------------------------------------------
# comparison


def to_comparable(x: Any) -> Any:
    """Turn a metric output into nested dicts/lists of float64 CPU tensors (or plain Python values)."""
    if isinstance(x, dict):
        return {k: to_comparable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_comparable(v) for v in x]
    if isinstance(x, Tensor):
        x = x.detach().cpu()
        return x.double() if (x.is_floating_point() or not x.dtype.is_complex) and x.dtype != torch.bool else x
    if isinstance(x, float):
        return torch.tensor(x, dtype=torch.float64)
    if isinstance(x, int) and not isinstance(x, bool):
        return torch.tensor(float(x), dtype=torch.float64)
    return x


def assert_close(
    actual: Any, expected: Any, atol: float, rtol: float, keys: Sequence[str] | None = None, path: str = "out"
) -> None:
    """Recursive closeness check for dict / list / tensor / scalar outputs (NaN == NaN)."""
    actual, expected = to_comparable(actual), to_comparable(expected)
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected a dict, got {type(actual).__name__}"
        wanted = list(keys) if keys is not None else list(expected)
        for k in wanted:
            assert k in actual, f"{path}: missing key {k!r} (has {sorted(actual)})"
            assert k in expected, f"{path}: reference lacks key {k!r}"
            assert_close(actual[k], expected[k], atol, rtol, None, f"{path}[{k!r}]")
        return
    if isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, atol, rtol, None, f"{path}[{i}]")
        return
    if isinstance(expected, Tensor):
        assert isinstance(actual, Tensor), f"{path}: expected a tensor, got {type(actual).__name__}"
        assert actual.shape == expected.shape, f"{path}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
        if expected.dtype == torch.bool:
            assert torch.equal(actual, expected), f"{path}: boolean tensors differ"
            return
        torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, equal_nan=True, msg=lambda m: f"{path}: {m}")
        return
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(actual, float) and math.isnan(actual), f"{path}: expected NaN, got {actual}"
        return
    assert actual == expected, f"{path}: {actual!r} != {expected!r}"


# ---------------------------------------------------------------------------------------------------------------------
# round trips


def pickle_roundtrip(metric: Metric) -> Metric:
    return pickle.loads(pickle.dumps(metric))


def state_dict_roundtrip(metric: Metric, factory: Callable[[], Metric]) -> Metric:
    metric.persistent(True)
    buffer = io.BytesIO()
    torch.save(metric.state_dict(), buffer)
    buffer.seek(0)
    fresh = factory()
    fresh.persistent(True)
    fresh.load_state_dict(torch.load(buffer, weights_only=False))
    return fresh


# ---------------------------------------------------------------------------------------------------------------------
# DDP (2 CPU processes, gloo)

DDP_WORLD_SIZE = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, fn: Callable[..., Any], args: tuple, result_queue: Any) -> None:
    import datetime

    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world_size, timeout=datetime.timedelta(seconds=60))
        out = fn(rank, world_size, *args)
        # plain bytes, not tensors: torch.multiprocessing shares tensors through file descriptors, which races with
        # the child's exit for outputs holding many tensors
        result_queue.put((rank, "ok", pickle.dumps(to_comparable(out))))
    except BaseException as err:  # report, never hang the parent
        import traceback

        result_queue.put((rank, "error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_ddp(fn: Callable[..., Any], *args: Any, world_size: int = DDP_WORLD_SIZE, timeout: float = 150.0) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` spawned gloo processes; return the per-rank outputs.

    ``fn`` and ``args`` must be picklable. Raises ``RuntimeError`` with the child's traceback on failure and
    ``TimeoutError`` if a rank hangs (the processes are killed).
    """
    import queue as queue_mod

    ctx = torch.multiprocessing.get_context("spawn")
    result_queue = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(target=_ddp_worker, args=(rank, world_size, port, fn, args, result_queue), daemon=True)
        for rank in range(world_size)
    ]
    for p in procs:
        p.start()
    results: dict[int, Any] = {}
    try:
        for _ in range(world_size):
            try:
                rank, status, payload = result_queue.get(timeout=timeout)
            except queue_mod.Empty as err:
                raise TimeoutError(f"DDP run timed out after {timeout}s (a rank hung)") from err
            if status != "ok":
                raise RuntimeError(f"rank {rank} failed:\n{payload}")
            results[rank] = pickle.loads(payload)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return [results[r] for r in range(world_size)]


def shard_batches(batches: list[Batch], rank: int, world_size: int, empty_rank: bool = False) -> list[Batch]:
    """Uneven sharding: rank 0 takes all but the last batch, rank 1 the last one (or nothing if ``empty_rank``)."""
    assert world_size == 2, "the harness shards for 2 processes"
    if empty_rank:
        return batches if rank == 0 else []
    return batches[:-1] if rank == 0 else batches[-1:]


def _ddp_case_fn(rank: int, world_size: int, case_module: str, case_id: str, seed: int) -> dict[str, Any]:
    case = get_case(case_module, case_id)
    batches = case.make_batches(seed)
    out = {}
    out["uneven"] = run_metric(case.factory(), shard_batches(batches, rank, world_size)).compute()
    if case.empty_rank_ok:
        out["empty_rank"] = run_metric(case.factory(), shard_batches(batches, rank, world_size, True)).compute()
    return out


def ddp_compute(case_module: str, case_id: str, seed: int) -> list[dict[str, Any]]:
    """Compute a registered case under 2-process DDP (uneven shards, then one empty rank); both ranks' outputs."""
    return run_ddp(_ddp_case_fn, case_module, case_id, seed)


def get_case(case_module: str, case_id: str) -> MetricCase:
    import importlib

    module = importlib.import_module(case_module)
    for case in module.CASES:
        if case.id == case_id:
            return case
    raise KeyError(f"no case {case_id!r} in {case_module}")


def fresh(metric: Metric) -> Metric:
    return copy.deepcopy(metric)
