"""A fixed-memory histogram of durations with quantiles to a stated relative error."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Bucket boundaries grow by this factor; a quantile is reported as its bucket's geometric
#: midpoint, so it is within ``RELATIVE_ERROR`` of a value actually observed in that bucket.
GROWTH = 1.04
RELATIVE_ERROR = math.sqrt(GROWTH) - 1
#: Smallest duration told apart from zero (values below share bucket 0); the largest bucket
#: index is bounded by the largest float, so memory is bounded whatever the traffic.
MIN_VALUE = 1e-6
_PER_LOG_GROWTH = 1 / math.log(GROWTH)
_PER_MIN_VALUE = 1 / MIN_VALUE
_log = math.log


def bucket_value(index: int) -> float:
    """The representative value of bucket ``index`` (its geometric midpoint)."""
    if index == 0:
        return 0.0
    low = MIN_VALUE * GROWTH ** (index - 1)
    return low * math.sqrt(GROWTH)


@dataclass
class Histogram:
    """Counts of durations per logarithmic bucket, plus the exact count, sum and maximum."""

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    total: float = 0.0
    maximum: float = 0.0

    def add(self, value: float) -> None:
        """Record one duration in seconds."""
        # Bucket 0 holds everything up to MIN_VALUE; bucket i > 0 starts at
        # MIN_VALUE * GROWTH ** (i - 1). Computed inline: this runs on every task's path.
        index = 1 + int(_log(value * _PER_MIN_VALUE) * _PER_LOG_GROWTH) if value > MIN_VALUE else 0
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.total += value
        if value > self.maximum:
            self.maximum = value

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (nearest rank), within ``RELATIVE_ERROR`` of the true one."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(bucket_value(index), self.maximum)
        return self.maximum

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s observations to this histogram."""
        for index, count in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary that keeps the buckets, so that files can be merged exactly."""
        return {
            "count": self.count,
            "sum": self.total,
            "max": self.maximum,
            "p50": self.quantile(0.5),
            "p95": self.quantile(0.95),
            "buckets": {str(index): count for index, count in sorted(self.buckets.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Histogram:
        """Rebuild a histogram written by :meth:`to_json`."""
        raw = data.get("buckets", {})
        buckets = {int(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        return cls(
            buckets=buckets,
            count=int(str(data.get("count", 0))),
            total=float(str(data.get("sum", 0.0))),
            maximum=float(str(data.get("max", 0.0))),
        )
