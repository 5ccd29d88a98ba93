"""One validation run: tasks -> executor (this process or Dask) -> durable store -> reports."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from neurodeploy.compiling.artifact import Build
from neurodeploy.errors import NeurodeployError
from neurodeploy.variability.config import MismatchConfig

from .cluster import (HANDSHAKE_S, ClusterError, check_workers, check_workers_count, gather,
                      probe)
from .progress import Progress
from .report import build_report, write_reports
from .runner import (Settings, check_settings, chunk_size, nominal_figures, plan_tasks,
                     run_task)
from .store import ResultStore


def _local(settings: dict, tasks: list[tuple[int, list[int]]]) -> Iterator[list[dict]]:
    for point, indices in tasks:
        yield run_task(settings, point, indices)


def _dask(settings: dict, tasks: list[tuple[int, list[int]]], scheduler: str | None,
          workers: int | None) -> Iterator[list[dict]]:
    """Submit every task to a Dask cluster (a new local one when ``scheduler`` is None)."""
    from neurodeploy.extras import require
    require("distributed")
    from distributed import Client, LocalCluster
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=HANDSHAKE_S)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} "
                                   f"({exc}); check the address and that it runs",
                                   path=("--scheduler",)) from None
        else:
            cluster = LocalCluster(n_workers=check_workers_count(workers), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            check_workers(client, scheduler or cluster.scheduler_address)
            futures = [client.submit(run_task, settings, p, idx, pure=False)
                       for p, idx in tasks]
            chips = {f.key: idx for f, (_, idx) in zip(futures, tasks)}
            yield from gather(client, futures,
                              lambda f: f"chips {chips[f.key][0]}..{chips[f.key][-1]}")
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def run_validation(settings: Settings, out: str | Path, *, target: float | None = None,
                   resume: bool = False, force: bool = False, scheduler: str | None = None,
                   dask: bool = False, workers: int | None = None,
                   progress: bool = True) -> dict:
    """Run (or finish) a validation and write ``results.jsonl``, ``report.json`` and
    ``report.html`` into ``out``; returns the report."""
    check_settings(settings)
    check_output_folder(out)
    if workers is not None:
        check_workers_count(workers)
    if scheduler is not None:
        probe(scheduler)            # a URL that answers as a Dask scheduler, within a deadline
    if target is not None and not 0 <= target <= 1:
        raise NeurodeployError(f"must be within 0..1; got {target:g}", path=("--yield",))
    manifest = Build(settings.build).manifest
    base = MismatchConfig.from_manifest(manifest)
    use_dask = dask or scheduler is not None
    if use_dask and settings.threads is None:
        settings.threads = 1               # one thread per Dask worker task
    from .runner import load_context
    ctx = load_context(settings)    # every input check before anything is written
    folder = Path(out)
    store = ResultStore(folder, settings.key())
    header = {"settings": {k: v for k, v in asdict(settings).items()
                           if k not in ("chips", "chunk", "threads")}}
    records = store.open(resume=resume, force=force, header=header)
    try:
        done = {(r["point"], r["chip"]) for r in records}
        tasks = plan_tasks(settings, done, chunk_size(settings, ctx))
        total = settings.chips * len(settings.points())
        bar = Progress(total, done=sum(1 for r in records if r["chip"] < settings.chips)) \
            if progress else None
        sdict = asdict(settings)
        stream = (_dask(sdict, tasks, scheduler, workers) if use_dask and tasks
                  else _local(sdict, tasks))
        try:
            for results in stream:
                store.append(results)
                records.extend(results)
                if bar:
                    bar.update(len(results))
        finally:
            stream.close()          # shuts a local Dask cluster down on errors and signals
    finally:
        store.close()
    mismatch = {"base": base.describe(),
                "points": [base.with_overrides(o).describe() for o in settings.points()]}
    report = build_report(settings, _dedupe(records), target, mismatch)
    for entry, overrides in zip(report["points"], settings.points()):
        entry["all_nominal"] = chips_identical(base.with_overrides(overrides), ctx.plan,
                                               settings.finetune)
    report["nominal"] = nominal_figures(settings)
    write_reports(folder, report)
    return report


def check_output_folder(out: str | Path) -> None:
    """``-o`` names a folder this run can create or fill, not an existing file."""
    from neurodeploy.outputs import OutputError, check_writable
    if Path(out).exists() and not Path(out).is_dir():
        raise OutputError("is a file; --output names a folder for results.jsonl and the "
                          "reports, give a folder path", file=out, path=("--output",))
    check_writable(out, directory=True)


def chips_identical(cfg: MismatchConfig, plan, finetune: bool) -> bool:
    """Whether every chip of a point is the nominal chip: no fixed-pattern mismatch, no
    per-chip random draws (temporal noise, stochastic neurons) and, when fine-tuning, no
    per-chip learning imperfections; a yield over such chips is one chip counted N times."""
    v = cfg.values
    learning = finetune and bool(v["learning_rate_cv"] or v["update_noise"]
                                 or v["stochastic_rounding"])
    return not cfg.any and not plan.draws_per_chip() and not learning


def _dedupe(records: list[dict]) -> list[dict]:
    """One record per (point, chip) (the first; a resumed run never recomputes one)."""
    seen: dict[tuple[int, int], dict] = {}
    for r in records:
        seen.setdefault((r["point"], r["chip"]), r)
    return list(seen.values())
