"""Timing one command (or one block of work) with its CPU cost and the load around it.

The machines here are small and shared: two vCPUs, and other people's test runs come and go.
So every timed run records, besides its wall time, the CPU seconds it used (`getrusage` of
this process and of the children it reaped: ffmpeg and ffprobe) and how much CPU *other*
processes used meanwhile (busy time from /proc/stat minus ours, as a share of the machine).
A run with a large foreign share is slower for reasons of its own, and the report says so.
Before each pair of runs `wait_quiet` waits (up to a limit) for the machine to be idle.

Standard library only.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

__all__ = ["Meter", "Measured", "wait_quiet", "run_by_hand", "read_cpu", "LOW_PRIORITY"]

LOW_PRIORITY = 10           # the nice value repo_server.transcode.runner gives every media process
_HZ = os.sysconf("SC_CLK_TCK")
_CPUS = os.cpu_count() or 1


def read_cpu() -> dict[str, float]:
    """Machine-wide CPU seconds from the first line of /proc/stat: busy (all but idle and
    iowait; guest time is already inside user) and steal (the hypervisor gave the CPU away)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return {"busy": (user + nice + system + irq + softirq + steal) / _HZ, "steal": steal / _HZ,
            "total": sum(fields[:8]) / _HZ}


def _own_cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _kids_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


@dataclass
class Measured:
    """One timed run: wall seconds, CPU seconds of ours (children = ffmpeg/ffprobe reaped by
    this process; own = this Python process, all threads), and the foreign CPU meanwhile."""

    wall_s: float = 0.0
    cpu_children_s: float = 0.0
    cpu_self_s: float = 0.0
    foreign_share: float = 0.0      # other processes' CPU / (wall × CPUs), 0..1
    steal_share: float = 0.0        # steal / (wall × CPUs)
    loadavg_after: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 3), "cpu_children_s": round(self.cpu_children_s, 2),
                "cpu_self_s": round(self.cpu_self_s, 3), "foreign_share": round(self.foreign_share, 3),
                "steal_share": round(self.steal_share, 3), "loadavg_after": self.loadavg_after,
                **self.extra}


class Meter:
    """`with Meter() as m: …` then m.result (a Measured). `others_cpu` is called at the end for
    CPU used by our processes this process does not reap (a worker subprocess and its ffmpeg)."""

    def __init__(self, others_cpu: Callable[[], float] | None = None) -> None:
        self._others = others_cpu
        self.result = Measured()

    def __enter__(self) -> "Meter":
        self._self0 = resource.getrusage(resource.RUSAGE_SELF)
        self._kids0 = _kids_cpu()
        self._cpu0 = read_cpu()
        self._others0 = self._others() if self._others else 0.0
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        cpu1 = read_cpu()
        me = resource.getrusage(resource.RUSAGE_SELF)
        r = self.result
        r.wall_s = wall
        r.cpu_children_s = _kids_cpu() - self._kids0
        r.cpu_self_s = (me.ru_utime + me.ru_stime) - (self._self0.ru_utime + self._self0.ru_stime)
        others = (self._others() - self._others0) if self._others else 0.0
        ours = r.cpu_children_s + r.cpu_self_s + others
        capacity = max(wall * _CPUS, 1e-9)
        r.foreign_share = max(0.0, (cpu1["busy"] - self._cpu0["busy"] - ours) / capacity)
        r.steal_share = (cpu1["steal"] - self._cpu0["steal"]) / capacity
        r.loadavg_after = round(os.getloadavg()[0], 2)
        if others:
            r.extra["cpu_other_s"] = round(others, 2)


def wait_quiet(*, max_busy_cores: float = 0.3, window_s: float = 2.0, timeout_s: float = 60.0,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Wait until other processes use at most `max_busy_cores` of CPU over `window_s`, or
    `timeout_s` passed. Returns {"waited_s", "busy_cores" (last window), "quiet" (bool)}."""
    started = time.monotonic()
    announced = False
    while True:
        before = read_cpu()
        time.sleep(window_s)
        busy = (read_cpu()["busy"] - before["busy"]) / window_s
        waited = time.monotonic() - started
        if busy <= max_busy_cores or waited >= timeout_s:
            if announced or busy > max_busy_cores:
                log(f"bench:   machine {'quiet' if busy <= max_busy_cores else 'still busy'} "
                    f"({busy:.2f} cores used by others) after {waited:.0f} s")
            return {"waited_s": round(waited, 1), "busy_cores": round(busy, 2),
                    "quiet": busy <= max_busy_cores}
        if not announced:
            log(f"bench:   waiting for the machine to calm down ({busy:.2f} cores busy by other "
                f"processes; up to {timeout_s:.0f} s)")
            announced = True


def _low_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, 0, LOW_PRIORITY)


def run_by_hand(argv: Sequence[str], *, timeout_s: float | None = None) -> Measured:
    """The peer: the same argv with plain subprocess.run at the same nice level (set in the child
    before exec), stdout (ffmpeg's -progress lines) to /dev/null, no reader threads."""
    with Meter() as meter:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, preexec_fn=_low_priority, timeout=timeout_s,
                              check=False)
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"by hand: {argv[0]} exited {done.returncode}: {' / '.join(tail)}")
    return meter.result
