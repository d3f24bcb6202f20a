"""How many jobs a worker leases ahead of its free slots: enough to cover one fetch's round trip, no more.

Without any, a slot that frees stays empty for a fetch's round trip, and when a batch of short jobs ends at
once the worker and Redis take turns: the worker runs the batch while Redis idles, then Redis settles it
and leases the next while the worker idles. A few jobs leased ahead start the moment a slot frees, and
the next fetch overlaps the jobs that run.

How many: twice what the slots finish during one fetch (Little's law: slots x fetch time / time a job
holds its slot), at most `limit`. The worker tops them up half at a time: the half left covers the fetch
in flight, and a fetch brings a batch rather than one job per job that ended. Jobs of a millisecond get
several leased ahead; jobs of a second get none, so a busy worker does not sit on jobs that an idle one
could run (the trap of a fixed prefetch, as Celery's documentation warns of). A job leased ahead is a
running job to everything else: its lease is renewed, an abort reaches it, a shutdown gives it back unrun
without spending its attempt.

The averages lag when short jobs give way to long ones: the jobs leased ahead of the switch would wait
behind the long ones while another worker idles. So a job leased ahead waits at most WAIT_MAX_S for its
slot, then goes back to the front of its queue, unrun and its attempt unspent, where the next free worker
takes it; and the worker takes the wait as a sign of long jobs (`stalled`), leasing none ahead until its
jobs are short again.
"""

from __future__ import annotations

SMOOTHING = 0.2  # weight of the newest sample in the moving averages
# A job leased ahead waits for about one fetch (milliseconds), so a wait of a second means the jobs that
# hold the slots are long.
WAIT_MAX_S = 1.0


class Lookahead:
    def __init__(self, concurrency: int, limit: int) -> None:
        self._concurrency = concurrency
        self._limit = limit
        self._fetch_s = 0.0  # moving averages; 0: nothing seen yet
        self._job_s = 0.0

    def fetched(self, seconds: float) -> None:
        """One fetch call took `seconds`."""
        self._fetch_s = _averaged(self._fetch_s, seconds)

    def ran(self, seconds: float) -> None:
        """One job held its slot for `seconds`."""
        self._job_s = _averaged(self._job_s, seconds)

    def stalled(self, seconds: float) -> None:
        """A job leased ahead found no slot free for `seconds`: the jobs in the slots take at least that."""
        self._job_s = max(self._job_s, seconds)

    def jobs(self) -> int:
        """How many jobs to lease beyond the free slots now."""
        if not self._limit or not self._job_s:
            return 0
        return min(self._limit, 2 * round(self._concurrency * self._fetch_s / self._job_s))


def _averaged(average: float, sample: float) -> float:
    return sample if not average else average + SMOOTHING * (sample - average)
