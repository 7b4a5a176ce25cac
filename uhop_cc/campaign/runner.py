"""Running a campaign: plan programs, farm out work items, write records, resume after a kill.

    from uhop_cc.campaign import load_config, run_campaign
    result = run_campaign(load_config("campaign.toml"), workers=2)          # local process pool
    result = run_campaign(cfg, ray_address="auto")                           # a Ray cluster

The driver (this process) owns the campaign directory: it generates each program (cheap and
deterministic from the campaign seed, the category and the program's number), drops UIR
duplicates, records the program and its work items -- one per (program, target, device) --
in state.sqlite *before* sending them out, and writes every result itself: records go to the
DatasetStore atomically under deterministic ids. Workers only compute (worker.process_batch),
so any number of processes or Ray hosts can fill one dataset.

Without Ray, items travel in batches of `batch_size` per task, which lets a worker build the
OpenCL kernels of a batch as one program. With Ray there is one task per item.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import re
import signal
import shutil
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, TextIO, Union

from ..dataset.records import SUCCESS, AttemptRecord
from ..dataset.store import DatasetStore
from .balance import Balancer
from .config import CampaignConfig
from .dedup import uir_key
from .generator import derive_seed, generate
from .lifeline import die_with_parent
from .lock import CampaignLock
from .progress import Progress, write_json_atomic
from .state import CampaignState

__all__ = ["run_campaign", "campaign_status", "CampaignResult", "InlineExecutor", "LocalExecutor", "RayExecutor"]


@dataclass
class CampaignResult:
    out_dir: str
    dataset_dir: str
    resumed: bool
    complete: bool
    interrupted: bool
    records_this_run: int
    items_this_run: int
    failures_this_run: int
    duplicates_this_run: int
    elapsed_s: float
    records_per_s: float
    items_per_s: float
    executor: str
    balance: Dict[str, Dict[str, int]] = field(default_factory=dict)
    summary: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ executors
class InlineExecutor:
    """Runs each batch in the driver, at submit time (workers = 0; tests and debugging)."""
    kind = "inline"

    def __init__(self):
        self.capacity = 1
        self._done: Dict[int, List[Dict[str, Any]]] = {}
        self._n = 0

    def submit(self, batch, settings):
        from .worker import process_batch
        self._n += 1
        self._done[self._n] = process_batch(batch, settings)
        return self._n

    def wait(self, handles, timeout: float):
        return [(h, self._done.pop(h)) for h in handles if h in self._done]

    def shutdown(self):
        self._done.clear()


def _worker_init(driver_pid: int):  # pragma: no cover - runs in the pool's processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when to stop
    die_with_parent(driver_pid)  # ...and when it is killed outright, no orphan keeps its memory


class LocalExecutor:
    """A process pool (spawned, so no OpenCL state crosses a fork) whose workers die with the
    driver even when it is SIGKILLed (lifeline.die_with_parent; Ray's workers are Ray's business)."""
    kind = "local"

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.capacity = 2 * self.workers
        self._ctx = multiprocessing.get_context("spawn")
        self.crashes = 0
        self.pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx, initializer=_worker_init,
                                      initargs=(os.getpid(),))

    def submit(self, batch, settings):
        from .worker import process_batch
        return self.pool.submit(process_batch, batch, settings)

    def wait(self, handles, timeout: float):
        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out = []
        broken = False
        for fut in done:
            try:
                out.append((fut, fut.result()))
            except Exception as e:  # noqa: BLE001 - a crashed worker: the batch is reported failed
                broken = broken or isinstance(e, cf.process.BrokenProcessPool)
                out.append((fut, e))
        if broken:
            self.crashes += 1
            if self.crashes >= 3:
                raise RuntimeError(f"the worker processes keep dying ({self.crashes} times in a row): "
                                   "run with --workers 0 to see why; unfinished items stay pending")
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
        elif out:
            self.crashes = 0
        return out

    def shutdown(self):
        self.pool.shutdown(wait=not self.crashes, cancel_futures=True)


class RayExecutor:
    """One Ray task per work item. `address`: 'auto' (a running cluster), 'local' (start one
    here), or a cluster address (ray://host:10001 or host:6379)."""
    kind = "ray"

    def __init__(self, address: str, cfg: CampaignConfig):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--ray needs Ray: pip install 'uhopc[campaign]' (or pip install ray)") from None
        self.ray = ray
        self.started_here = False
        if not ray.is_initialized():
            kw: Dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
            try:
                if address in ("local", ""):
                    ray.init(num_cpus=max(1, cfg.workers) if cfg.workers else None, include_dashboard=False, **kw)
                else:
                    ray.init(address=address, **kw)
            except Exception as e:  # noqa: BLE001 - one line for the CLI
                raise RuntimeError(f"cannot start or reach Ray at `{address}`: {type(e).__name__}: {e}") from None
            self.started_here = True
        from .worker import process_item
        opts: Dict[str, Any] = {"num_cpus": cfg.ray_num_cpus, "max_retries": 1}
        if cfg.ray_num_gpus:
            opts["num_gpus"] = cfg.ray_num_gpus
        if cfg.ray_resources:
            opts["resources"] = dict(cfg.ray_resources)
        self.remote = ray.remote(**opts)(process_item)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = cfg.ray_max_in_flight or max(2, 2 * cpus)

    def submit(self, batch, settings):
        return [self.remote.remote(item, settings) for item in batch]

    def wait(self, handles, timeout: float):
        refs = [r for h in handles for r in h]
        first, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if not first:
            return []
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        ready_set = set(ready) | set(first)
        out = []
        for h in handles:
            if all(r in ready_set for r in h):
                res = []
                for r in h:
                    try:
                        res.append(self.ray.get(r))
                    except Exception as e:  # noqa: BLE001 - a lost task: reported as an error
                        res.append(e)
                out.append((h, res))
        return out

    def shutdown(self):
        if self.started_here:
            try:
                self.ray.shutdown()
            except Exception:  # noqa: BLE001
                pass


# ------------------------------------------------------------------ the driver
def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", str(s)).strip("_")[:40] or "dev"


class _Driver:
    def __init__(self, cfg: CampaignConfig, out_dir: Path, executor, progress: Progress, force: bool = False):
        self.cfg = cfg
        self.out_dir = out_dir
        self.state = CampaignState(out_dir)
        self.resumed = self.state.claim(cfg.fingerprint(), cfg.to_json(), force)
        self.store = DatasetStore(cfg.dataset_dir(out_dir))
        self.store.root.mkdir(parents=True, exist_ok=True)
        self.executor = executor
        self.progress = progress
        self.settings = cfg.worker_settings()
        self.settings["dataset_dir"] = str(self.store.root)
        self.groups = cfg.groups()
        self.queues: Dict[str, Deque[Dict[str, Any]]] = {g: deque() for g in self.groups}
        self.items: Dict[str, Dict[str, Any]] = {}
        self.next_n = self.state.next_n()
        self._recover()
        self.balancer = Balancer(cfg.categories, self.groups, cfg.records_per_category,
                                 written=self.state.written_counts(), reserved=self.state.reserve_counts(),
                                 max_programs=cfg.max_programs, programs=self.state.programs_per_category())
        for it in self.state.pending_items():  # planned by an interrupted run: run them first
            if it["grp"] not in self.queues or it["category"] not in cfg.categories:
                continue
            it["record_id"] = self._record_id(it["program_id"], it["target"], it["device"])
            self.queues[it["grp"]].append(it)
            self.items[it["item_id"]] = it
            self.balancer.in_flight[it["grp"]][it["category"]] += 1
        self.progress.set_base(self.balancer.totals())
        self._stats_t = 0.0

    # ---------------------------------------------------------------- recovery
    def _recover(self) -> None:
        """Items caught between 'writing' and 'done' by a kill: done if their folder exists."""
        writing = self.state.writing_items()
        if not writing:
            return
        reindex = False
        for it in writing:
            folder = self.store.root / str(it["record_id"])
            if (folder / "metadata.json").is_file():
                self.state.finish(it["item_id"], "done", claim_kernel=True, kernel_key=it.get("kernel_key"),
                                  reason=it.get("reason") or "", unreserve=True)
                reindex = True
            else:
                held = self.state.con.execute("SELECT 1 FROM reserve WHERE item_id = ?", (it["item_id"],)).fetchone()
                self.state.finish(it["item_id"], "reserved" if held else "pending", reason="")
        if reindex:
            self.store.reindex()

    def _record_id(self, program_id: str, target: str, device: str) -> str:
        """Deterministic (a rerun writes the same id) and distinct across campaigns sharing a dataset."""
        return f"{_slug(self.cfg.name)}-{self.cfg.fingerprint()[:8]}-{program_id}-{target}-{_slug(device)}"

    # ---------------------------------------------------------------- planning
    def plan_one(self) -> bool:
        cfg = self.cfg
        cat = self.balancer.choose()
        if cat is None:
            return False
        n = self.next_n.get(cat, 0)
        self.next_n[cat] = n + 1
        seed = derive_seed(cfg.seed, cat, n)
        pid = f"{cat}-{n:06d}"
        try:
            g = generate(cat, seed, cfg.limits, index=n)
            bound = g.bind(g.check())
            key = uir_key(g.program, bound.sizes if cfg.dedup_sizes else None)
        except Exception as e:  # noqa: BLE001 - a generator bug is recorded, never fatal
            self.state.add_program(pid, cat, n, seed, "", "", None, "invalid", f"{type(e).__name__}: {e}")
            self.balancer.generated(cat)
            self.progress.item(failed=True)
            return True
        if cfg.dedup_uir and self.state.seen("uir", key):
            self.state.add_program(pid, cat, n, seed, g.name, g.variant, key, "duplicate", "duplicate UIR")
            self.balancer.generated(cat)
            self.progress.item(duplicate=True)
            return True
        new = []
        for t in cfg.targets:
            for d in cfg.devices:
                grp = f"{t}/{d}"
                new.append({"item_id": f"{pid}:{grp}", "program_id": pid, "category": cat, "n": n, "seed": seed,
                            "target": t, "device": d, "grp": grp, "uir_key": key, "name": g.name,
                            "record_id": self._record_id(pid, t, d)})
        self.state.add_program(pid, cat, n, seed, g.name, g.variant, key, "planned",
                               items=[(it["item_id"], it["grp"], it["target"], it["device"]) for it in new])
        self.balancer.started(cat)
        for it in new:
            self.queues[it["grp"]].append(it)
            self.items[it["item_id"]] = it
        return True

    def next_batch(self, size: int) -> Optional[List[Dict[str, Any]]]:
        while not any(len(q) >= size for q in self.queues.values()):
            if not self.plan_one():
                break
        for q in sorted(self.queues.values(), key=len, reverse=True):
            if q:
                return [q.popleft() for _ in range(min(size, len(q)))]
        return None

    # ---------------------------------------------------------------- results
    def handle(self, res: Union[Dict[str, Any], BaseException], item: Dict[str, Any]) -> None:
        cfg, st = self.cfg, self.state
        item_id, grp, cat = item["item_id"], item["grp"], item["category"]
        self.items.pop(item_id, None)
        self.balancer.ended(grp, cat)
        if isinstance(res, BaseException) or "error" in res:
            err = str(res) if isinstance(res, BaseException) else res["error"]
            st.finish(item_id, "error", reason=(err or "error")[:1000])
            self.progress.item(failed=True)
            return
        status, kkey = res["status"], res.get("kernel_key")
        if cfg.dedup_kernel and kkey and st.seen("kernel", kkey):
            st.finish(item_id, "duplicate", record_status=status, kernel_key=kkey, lowered=res.get("lowered"),
                      reason="duplicate kernel", seconds=res.get("seconds"))
            self.progress.item(duplicate=True)
            return
        if status in SUCCESS:
            if self.balancer.can_write(grp, cat):
                self.write(item_id, res)
                self.balancer.wrote(grp, cat)
                self.progress.record(cat)
            else:
                st.finish(item_id, "reserved", record_status=status, kernel_key=kkey, lowered=res.get("lowered"),
                          seconds=res.get("seconds"), claim_kernel=True,
                          reserve_payload={"record": res["record"], "files": res["files"], "status": status,
                                           "kernel_key": kkey, "lowered": res.get("lowered"),
                                           "seconds": res.get("seconds"), "reason": res.get("reason", "")})
                self.balancer.reserve(grp, cat)
            self.progress.item()
            self.release(grp)
            return
        if cfg.keep_failures:
            self.write(item_id, res)
        else:
            st.finish(item_id, "done", record_status=status, kernel_key=kkey, lowered=res.get("lowered"),
                      reason=res.get("reason", ""), seconds=res.get("seconds"), claim_kernel=True)
        self.progress.item(failed=True)

    def write(self, item_id: str, res: Dict[str, Any], from_reserve: bool = False) -> None:
        rec = AttemptRecord.from_json(res["record"])
        self.state.begin_write(item_id, rec.id, res.get("status") or rec.status, res.get("kernel_key"),
                               res.get("lowered"))
        try:
            self.store.add(rec, res["files"])
        except FileExistsError:  # written by a run killed before it could say so -- or by someone else?
            import json
            try:
                meta = json.loads((self.store.root / rec.id / "metadata.json").read_text())
                owner = ((meta.get("extra") or {}).get("campaign") or {}).get("item_id")
            except (OSError, ValueError):
                owner = None
            if owner != item_id:
                raise RuntimeError(f"record {rec.id} already exists in {self.store.root} and belongs to "
                                   f"another work item ({owner}); use another campaign name or dataset") from None
        self.state.finish(item_id, "done", record_id=rec.id, record_status=res["status"] if "status" in res else
                          rec.status, kernel_key=res.get("kernel_key"), lowered=res.get("lowered"),
                          reason=res.get("reason", "") or "", seconds=res.get("seconds"), claim_kernel=True,
                          unreserve=from_reserve)

    def release(self, grp: str) -> None:
        while True:
            cats = self.balancer.releasable(grp)
            if not cats:
                return
            for c in cats:
                held = self.state.reserved(grp, c)
                if held is None:  # counts out of step with the table: trust the table
                    self.balancer.reserved[grp][c] = 0
                    continue
                item_id, payload = held
                self.write(item_id, payload, from_reserve=True)
                self.balancer.unreserve(grp, c)
                self.balancer.wrote(grp, c)
                self.progress.record(c)

    # ---------------------------------------------------------------- stats
    def write_stats(self, force: bool = False, final: Optional[Dict[str, Any]] = None) -> None:
        now = time.perf_counter()
        if not force and now - self._stats_t < 2.0:
            return
        self._stats_t = now
        data = {"name": self.cfg.name, "fingerprint": self.cfg.fingerprint(), "updated": time.time(),
                "executor": self.executor.kind, "progress": self.progress.stats(),
                "balance": self.balancer.counts(), "target_per_category": self.cfg.records_per_category,
                "summary": self.state.summary()}
        if final:
            data["result"] = final
        try:
            write_json_atomic(self.out_dir / "stats.json", data)
        except OSError:
            pass

    # ---------------------------------------------------------------- the loop
    def run(self) -> bool:
        """True when interrupted."""
        for g in self.groups:
            self.release(g)
        size = 1 if self.executor.kind == "ray" else self.cfg.batch_size
        inflight: Dict[Any, List[Dict[str, Any]]] = {}
        try:
            while True:
                while len(inflight) < self.executor.capacity:
                    batch = self.next_batch(size)
                    if not batch:
                        break
                    h = self.executor.submit(batch, self.settings)
                    inflight[h if not isinstance(h, list) else id(h)] = (h, batch)
                if not inflight:
                    break
                handles = [h for h, _b in inflight.values()]
                for h, results in self.executor.wait(handles, timeout=0.25):
                    key = h if not isinstance(h, list) else id(h)
                    _h, batch = inflight.pop(key)
                    if isinstance(results, BaseException):
                        results = [results] * len(batch)
                    by_id = {r["item_id"]: r for r in results if isinstance(r, dict)}
                    for k, item in enumerate(batch):
                        r = by_id.get(item["item_id"])
                        if r is None:
                            r = results[k] if k < len(results) and isinstance(results[k], BaseException) else \
                                RuntimeError("the worker returned no result for this item")
                        self.handle(r, item)
                self.progress.update()
                self.write_stats()
            return False
        except KeyboardInterrupt:
            return True


def _make_executor(cfg: CampaignConfig, ray_address: Optional[str], workers: Optional[int]):
    address = ray_address if ray_address is not None else (cfg.ray_address or None)
    if address:
        return RayExecutor(address, cfg)
    n = cfg.workers if workers is None else int(workers)
    return InlineExecutor() if n == 0 else LocalExecutor(n)


def run_campaign(cfg: CampaignConfig, out: Optional[Union[str, Path]] = None, *, ray_address: Optional[str] = None,
                 workers: Optional[int] = None, progress: Optional[bool] = None, stream: Optional[TextIO] = None,
                 force: bool = False, executor=None) -> CampaignResult:
    """Run (or resume) the campaign `cfg` in `out` (default cfg.out) until every category has
    `records_per_category` passing records per target and device, or runs out of programs.
    Raises CampaignBusy (a StateError) while another live run holds `out`."""
    out_dir = Path(out if out is not None else cfg.out_dir()).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    # before anything is written or a worker started: a second run on this directory would plan
    # the same program numbers and collide with the first in state.sqlite
    lock = CampaignLock.acquire(out_dir)
    try:
        return _run_locked(cfg, out_dir, ray_address=ray_address, workers=workers, progress=progress,
                           stream=stream, force=force, executor=executor)
    finally:
        lock.release()


def _run_locked(cfg: CampaignConfig, out_dir: Path, *, ray_address: Optional[str], workers: Optional[int],
                progress: Optional[bool], stream: Optional[TextIO], force: bool, executor) -> CampaignResult:
    if cfg.path and not (out_dir / "campaign.toml").exists():
        try:
            shutil.copyfile(cfg.path, out_dir / "campaign.toml")
        except OSError:
            pass
    if workers is not None:
        cfg.workers = int(workers)
    total = cfg.records_per_category * len(cfg.categories) * len(cfg.groups())
    prog = Progress(total, cfg.categories, stream=stream, enabled=cfg.progress if progress is None else progress)
    ex = executor or _make_executor(cfg, ray_address, workers)
    old_term = None
    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise KeyboardInterrupt
        old_term = signal.signal(signal.SIGTERM, _term)
    driver = None
    interrupted = False
    try:
        driver = _Driver(cfg, out_dir, ex, prog, force=force)
        interrupted = driver.run()
    finally:
        try:
            ex.shutdown()
        except Exception:  # noqa: BLE001
            pass
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        prog.close()
    st = prog.stats()
    result = CampaignResult(
        out_dir=str(out_dir), dataset_dir=str(driver.store.root), resumed=driver.resumed,
        complete=all(driver.balancer.complete(c) for c in cfg.categories), interrupted=interrupted,
        records_this_run=prog.records, items_this_run=prog.items, failures_this_run=prog.failures,
        duplicates_this_run=prog.duplicates, elapsed_s=st["elapsed_s"], records_per_s=st["records_per_s"],
        items_per_s=st["items_per_s"], executor=ex.kind, balance=driver.balancer.counts(),
        summary=driver.state.summary())
    driver.write_stats(force=True, final={k: v for k, v in result.to_json().items() if k != "summary"})
    driver.state.close()
    return result


def campaign_status(out_dir: Union[str, Path]) -> Dict[str, Any]:
    """What a campaign directory holds: config, balance, quality metrics, last throughput."""
    import json
    out_dir = Path(out_dir)
    if not CampaignState.exists(out_dir):
        raise FileNotFoundError(f"{out_dir} is not a campaign directory (no state.sqlite)")
    st = CampaignState(out_dir, readonly=True)  # status never writes the directory
    try:
        cfg = json.loads(st.get_meta("config", "{}") or "{}")
        out = {"dir": str(out_dir), "name": cfg.get("name"), "fingerprint": st.get_meta("fingerprint"),
               "created": st.get_meta("created"), "runs": int(st.get_meta("runs", "0") or 0),
               "target_per_category": cfg.get("records_per_category"), "categories": cfg.get("categories"),
               "targets": cfg.get("targets"), "devices": cfg.get("devices"),
               "dataset": cfg.get("dataset") or str(out_dir / "dataset"),
               "balance": {}, "summary": st.summary()}
        for (g, c), n in st.written_counts().items():
            out["balance"].setdefault(g, {})[c] = n
        stats = out_dir / "stats.json"
        if stats.is_file():
            try:
                s = json.loads(stats.read_text())
                out["last_run"] = s.get("result") or s.get("progress")
            except (OSError, ValueError):
                pass
        return out
    finally:
        st.close()
