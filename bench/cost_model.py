"""What one mParticle request costs on AWS, from the CPU time `make bench` measures.

The model is `FORMULA` (AWS's published arm64 prices in us-east-1), printed with every run.

`cpu_ms` is the handler's CPU time per warm invocation measured here (deployed mode: tracing,
metrics and logs on, as in Lambda), on this machine's core, taken as one Lambda vCPU. The wait for
TikTok is an assumption (50, 150, 400 ms per request), as is the wait for Secrets Manager on a cold
start. A cold start adds the import and the first invocation's extra CPU (stretched the same way: AWS
bills the initialisation code outside the handler as duration) and its extra round trips.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

ARM64_GB_SECOND_USD: Final = 0.0000133334
LAMBDA_REQUEST_USD_PER_MILLION: Final = 0.20
HTTP_API_USD_PER_MILLION: Final = 1.00
HTTP_API_METERING_BYTES: Final = 512 * 1024
SQS_USD_PER_MILLION: Final = 0.40
SQS_CHUNK_BYTES: Final = 64 * 1024
ONE_VCPU_MB: Final = 1769
FORMULA: Final = """
For a function of M MB:
    stretch(M)   = max(1, 1769 / M)           Lambda gives CPU in proportion to memory; 1,769 MB is
                                              one full vCPU, so CPU work takes 1769/M times longer
    duration     = cpu_ms x stretch(M) + tiktok_requests x tiktok_round_trip_ms
    billed_ms    = ceil(duration)             Lambda bills duration in 1 ms steps
    GB-seconds   = billed_ms / 1000 x M / 1024
    Lambda $/M   = GB-seconds x 0.0000133334 x 10^6 + 0.20          (duration + requests)
    API $/M      = 1.00 x ceil(body_bytes / 512 KiB)                HTTP API, first 300M a month
    SQS $/M      = 0.40 x ceil(dead_letter_bytes / 64 KiB)          only for requests dead-lettered
"""
MEMORY_SIZES_MB: Final = (128, 256, 512, 768, 1024)
TIKTOK_ROUND_TRIPS_MS: Final = (50, 150, 400)
SNAPSTART_CACHE_USD_PER_GB_SECOND: Final = 0.0000015046
SNAPSTART_RESTORE_USD_PER_GB: Final = 0.0001397998
SECONDS_PER_MONTH: Final = 31 * 24 * 3600
SECRETS_MANAGER_ROUND_TRIP_MS: Final = 30
"""Assumed wait for GetSecretValue on a cold start (same region)."""
PEAK_MEMORY_SHARE: Final = 0.6
"""Recommended size: the largest accepted body's peak RSS stays under this share of the memory."""
LATENCY_GUIDANCE_MS: Final = 200
"""mParticle asks outbound integrations for responses averaging under 200 ms (99 % of calls)."""
TYPICAL_ROUND_TRIP_MS: Final = 150


@dataclass(frozen=True, slots=True)
class Workload:
    """One request size as measured: events, handler CPU per warm invocation, bytes."""

    events: int
    cpu_ms: float
    body_bytes: int
    dead_letter_bytes: int
    tiktok_requests: int = 1


@dataclass(frozen=True, slots=True)
class ColdStart:
    """Measured once per container: CPU of the import and the first invocation's extra CPU."""

    import_cpu_ms: float
    first_invocation_extra_cpu_ms: float


@dataclass(frozen=True, slots=True)
class Cost:
    memory_mb: int
    duration_ms: float
    billed_ms: int
    gb_seconds: float
    lambda_usd_per_million: float


def stretch(memory_mb: int) -> float:
    return max(1.0, ONE_VCPU_MB / memory_mb)


def lambda_cost(cpu_ms: float, wait_ms: float, memory_mb: int) -> Cost:
    duration = cpu_ms * stretch(memory_mb) + wait_ms
    billed = math.ceil(duration)
    gb_seconds = billed / 1000 * memory_mb / 1024
    usd = gb_seconds * ARM64_GB_SECOND_USD * 1_000_000 + LAMBDA_REQUEST_USD_PER_MILLION
    return Cost(memory_mb, duration, billed, gb_seconds, usd)


def warm_cost(workload: Workload, round_trip_ms: float, memory_mb: int) -> Cost:
    return lambda_cost(workload.cpu_ms, workload.tiktok_requests * round_trip_ms, memory_mb)


def api_usd_per_million(workload: Workload) -> float:
    return HTTP_API_USD_PER_MILLION * max(1, math.ceil(workload.body_bytes / HTTP_API_METERING_BYTES))


def sqs_usd_per_million(workload: Workload) -> float:
    return SQS_USD_PER_MILLION * max(1, math.ceil(workload.dead_letter_bytes / SQS_CHUNK_BYTES))


def cold_start_ms(cold: ColdStart, memory_mb: int, round_trip_ms: float) -> float:
    """Extra duration of a cold start: import, first-call CPU, the secret read and TikTok's handshake.

    The handshake (TCP and TLS to TikTok) is counted as one more TikTok round trip.
    """
    cpu = cold.import_cpu_ms + cold.first_invocation_extra_cpu_ms
    return cpu * stretch(memory_mb) + SECRETS_MANAGER_ROUND_TRIP_MS + round_trip_ms


def recommend(peak_mb: float | None, workloads: Sequence[Workload]) -> int:
    """The smallest listed size with room for the largest body and warm answers within mParticle's ask.

    Room: the largest accepted body's peak RSS stays under `PEAK_MEMORY_SHARE` of the memory. Latency:
    the largest measured request, stretched, plus one typical TikTok round trip stays under
    `LATENCY_GUIDANCE_MS`.
    """
    largest = max(workloads, key=lambda workload: workload.cpu_ms, default=None)
    for memory in MEMORY_SIZES_MB:
        fits = peak_mb is None or peak_mb <= PEAK_MEMORY_SHARE * memory
        quick = largest is None or warm_cost(largest, TYPICAL_ROUND_TRIP_MS, memory).duration_ms <= (
            LATENCY_GUIDANCE_MS
        )
        if fits and quick:
            return memory
    return MEMORY_SIZES_MB[-1]


def snapstart_markdown(cold: ColdStart | None) -> list[str]:
    """SnapStart's published charges beside what a cold start's initialisation is billed without it."""
    sizes = " | ".join(f"{memory} MB" for memory in MEMORY_SIZES_MB)
    cache, restore, init = [], [], []
    for memory in MEMORY_SIZES_MB:
        gb = memory / 1024
        cache.append(f"${gb * SECONDS_PER_MONTH * SNAPSTART_CACHE_USD_PER_GB_SECOND:.2f}")
        restore.append(f"${gb * SNAPSTART_RESTORE_USD_PER_GB * 1_000_000:.2f}")
        if cold is not None:
            init_ms = cold.import_cpu_ms * stretch(memory)
            init.append(f"${math.ceil(init_ms) / 1000 * gb * ARM64_GB_SECOND_USD * 1_000_000:.2f}")
    lines = [
        "SnapStart charges (AWS's published rates, US East; the page's worked example is on x86 and "
        "they are taken to apply to arm64 alike) beside the billed initialisation they replace:",
        "",
        f"| | {sizes} |",
        "|---|" + "---|" * len(MEMORY_SIZES_MB),
        f"| snapshot cache, per published version per 31-day month | {' | '.join(cache)} |",
        f"| restores, per million cold starts | {' | '.join(restore)} |",
    ]
    if init:
        lines.append(f"| billed import without SnapStart, per million cold starts | {' | '.join(init)} |")
    return lines


def markdown(
    workloads: Sequence[Workload], cold: ColdStart | None, peak_mb: float | None, machine_note: str
) -> list[str]:
    """The cost section of BENCHMARKS.md (also printed by `make bench`)."""
    sizes = " | ".join(f"{memory} MB" for memory in MEMORY_SIZES_MB)
    lines = [
        "### Cost model (arm64, us-east-1; generated by `bench/cost_model.py` from this run)",
        "",
        "```",
        *(line.rstrip() for line in FORMULA.strip("\n").splitlines()),
        "```",
        "",
        f"Inputs measured in this run (deployed mode, median of the warm invocations above; {machine_note}):",
        "",
        "| Events per request | Handler CPU per warm invocation | mParticle body | Dead letter if TikTok "
        "fails | API Gateway $/M requests | SQS $/M if every request is dead-lettered |",
        "|---|---|---|---|---|---|",
    ]
    for workload in workloads:
        lines.append(
            f"| {workload.events} | {workload.cpu_ms:.2f} ms | {workload.body_bytes / 1024:.1f} KiB | "
            f"{workload.dead_letter_bytes / 1024:.1f} KiB | ${api_usd_per_million(workload):.2f} | "
            f"${sqs_usd_per_million(workload):.2f} |"
        )
    lines += [
        "",
        "Billed Lambda GB-seconds per request and Lambda dollars per million requests (duration + the "
        "$0.20 request charge), warm invocations, by TikTok round trip (an assumption) and `MemorySize`:",
        "",
        f"| Events | TikTok round trip | {sizes} |",
        "|---|---|" + "---|" * len(MEMORY_SIZES_MB),
    ]
    for workload in workloads:
        for round_trip in TIKTOK_ROUND_TRIPS_MS:
            cells = []
            for memory in MEMORY_SIZES_MB:
                cost = warm_cost(workload, round_trip, memory)
                cells.append(f"{cost.gb_seconds:.4f} GB-s, ${cost.lambda_usd_per_million:.2f}")
            lines.append(f"| {workload.events} | {round_trip} ms | {' | '.join(cells)} |")
    lines += [
        "",
        "All in, per million requests at a 150 ms TikTok round trip (Lambda + API Gateway; SQS only for "
        "the share of requests dead-lettered), and per million events:",
        "",
        f"| Events | {sizes} |",
        "|---|" + "---|" * len(MEMORY_SIZES_MB),
    ]
    for workload in workloads:
        cells = []
        for memory in MEMORY_SIZES_MB:
            total = warm_cost(workload, 150, memory).lambda_usd_per_million + api_usd_per_million(workload)
            cells.append(f"${total:.2f} (${total / workload.events:.3f}/M events)")
        lines.append(f"| {workload.events} | {' | '.join(cells)} |")
    if cold is not None:
        cells = []
        for memory in MEMORY_SIZES_MB:
            extra = cold_start_ms(cold, memory, TYPICAL_ROUND_TRIP_MS)
            usd = extra / 1000 * memory / 1024 * ARM64_GB_SECOND_USD * 1_000_000
            cells.append(f"{extra:,.0f} ms, ${usd:.2f}/M cold starts")
        lines += [
            "",
            f"Cold start, extra duration and cost (import {cold.import_cpu_ms:.0f} ms CPU + first "
            f"invocation {cold.first_invocation_extra_cpu_ms:.0f} ms extra CPU, stretched; "
            f"+ {SECRETS_MANAGER_ROUND_TRIP_MS} ms Secrets Manager + one 150 ms TikTok handshake):",
            "",
            f"| | {sizes} |",
            "|---|" + "---|" * len(MEMORY_SIZES_MB),
            f"| per cold start | {' | '.join(cells)} |",
        ]
    recommended = recommend(peak_mb, workloads)
    peak = f"{peak_mb:.0f} MB" if peak_mb is not None else "not measured"
    largest = max(workloads, key=lambda workload: workload.cpu_ms)
    lines += [
        "",
        f"Recommended `MemorySize`: **{recommended} MB** (template parameter `MemorySize`): the smallest "
        f"size where the largest accepted body's peak RSS ({peak}) stays under {PEAK_MEMORY_SHARE:.0%} "
        f"of the memory and a warm {largest.events}-event request answers within mParticle's "
        f"{LATENCY_GUIDANCE_MS} ms latency guidance at a {TYPICAL_ROUND_TRIP_MS} ms TikTok round trip "
        f"({warm_cost(largest, TYPICAL_ROUND_TRIP_MS, recommended).duration_ms:.0f} ms here). Below one "
        "vCPU the CPU part of the bill is the same at every size (CPU ms x 1769/M x M); what grows with "
        "memory is the time spent waiting for TikTok, so the smallest safe size is the cheapest. Cold "
        "starts shrink with memory (table above); SnapStart is the other lever (below).",
        "",
        *snapstart_markdown(cold),
    ]
    return lines
