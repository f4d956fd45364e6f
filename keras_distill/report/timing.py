"""Timing functions against each other: interleaved rounds, medians."""

import statistics
import time


def time_interleaved(calls, *, runs=200, warmup=10, rounds=10):
    """Median wall time (seconds) of each function of no arguments, timed in interleaved rounds.

    Args:
        calls: Functions of no arguments, e.g. one model call each.
        runs: Timed calls per function. Defaults to `200`.
        warmup: Untimed calls per function first. Defaults to `10`.
        rounds: Rounds the timed calls are interleaved in: each round runs `runs / rounds`
            calls of each function in turn. Defaults to `10`.

    Returns:
        A list of median seconds per call, one per function.

    Example:

    >>> fast, slow = time_interleaved([lambda: None, lambda: time.sleep(0.002)], runs=4,
    ...                               warmup=1, rounds=2)
    >>> fast < 0.002 <= slow
    True
    """
    for call in calls:
        for _ in range(warmup):
            call()
    times = [[] for _ in calls]
    per_round = max(1, -(-runs // max(1, rounds)))
    for _ in range(max(1, rounds)):
        for call, record in zip(calls, times):
            for _ in range(per_round):
                start = time.perf_counter()
                call()
                record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]
