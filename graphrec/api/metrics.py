"""Prometheus metrics of one API process: requests and their latency per endpoint, pool query
timings, errors. With several workers each process counts its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# milliseconds matter here: buckets from 1 ms to 2.5 s
BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "graphrec_http_requests",
            "HTTP requests by endpoint, method and status code.",
            ("endpoint", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "graphrec_http_request_seconds",
            "HTTP request latency by endpoint.",
            ("endpoint",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.pools = Histogram(
            "graphrec_pool_query_seconds",
            "Time of each named Cypher query of the candidate pools.",
            ("query",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "graphrec_errors",
            "Requests that failed, by endpoint and kind of error.",
            ("endpoint", "kind"),
            registry=self.registry,
        )

    def observe_pool(self, query: str, seconds: float) -> None:
        self.pools.labels(query).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
