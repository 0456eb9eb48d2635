"""The cost model `make bench` prints: the arithmetic a reader can redo by hand."""

import pytest

from bench import cost_model
from bench.cost_model import ColdStart, Workload


def test_cpu_is_stretched_below_one_vcpu_and_duration_is_billed_per_started_millisecond() -> None:
    cost = cost_model.warm_cost(
        Workload(events=1, cpu_ms=1.0, body_bytes=2000, dead_letter_bytes=1600), 150, 128
    )
    assert cost.duration_ms == pytest.approx(1769 / 128 + 150)  # 163.82 ms
    assert cost.billed_ms == 164
    assert cost.gb_seconds == pytest.approx(0.164 * 0.125)
    assert cost.lambda_usd_per_million == pytest.approx(0.0205 * 13.3334 + 0.20)


def test_at_and_above_one_vcpu_cpu_time_is_not_stretched() -> None:
    assert cost_model.stretch(1769) == 1.0
    assert cost_model.stretch(3008) == 1.0
    assert cost_model.stretch(512) == pytest.approx(3.455, abs=0.001)


def test_each_tiktok_request_waits_one_round_trip() -> None:
    batch = Workload(events=2500, cpu_ms=0.0, body_bytes=3_000_000, dead_letter_bytes=0, tiktok_requests=3)
    assert cost_model.warm_cost(batch, 100, 1024).billed_ms == 300


def test_api_gateway_meters_512_kib_and_sqs_64_kib_chunks() -> None:
    small = Workload(events=100, cpu_ms=3.0, body_bytes=512 * 1024, dead_letter_bytes=64 * 1024)
    large = Workload(events=1000, cpu_ms=30.0, body_bytes=512 * 1024 + 1, dead_letter_bytes=64 * 1024 + 1)
    assert cost_model.api_usd_per_million(small) == 1.00
    assert cost_model.api_usd_per_million(large) == 2.00
    assert cost_model.sqs_usd_per_million(small) == 0.40
    assert cost_model.sqs_usd_per_million(large) == 0.80


def test_the_recommendation_is_the_smallest_size_with_room_and_quick_warm_answers() -> None:
    batch = Workload(events=100, cpu_ms=3.0, body_bytes=110_000, dead_letter_bytes=112_000)
    assert cost_model.recommend(peak_mb=94, workloads=[batch]) == 256  # 128 MB: 94 > 60 % of 128
    assert cost_model.recommend(peak_mb=50, workloads=[batch]) == 128
    slow = Workload(events=100, cpu_ms=12.0, body_bytes=110_000, dead_letter_bytes=112_000)
    assert cost_model.recommend(peak_mb=50, workloads=[slow]) == 512  # 12 ms x 6.9 + 150 > 200 ms at 256


def test_a_cold_start_adds_stretched_init_cpu_the_secret_read_and_one_handshake() -> None:
    cold = ColdStart(import_cpu_ms=200.0, first_invocation_extra_cpu_ms=50.0)
    assert cost_model.cold_start_ms(cold, 1769, 150) == pytest.approx(250 + 30 + 150)
    one = Workload(events=1, cpu_ms=1.0, body_bytes=2000, dead_letter_bytes=1600)
    markdown = "\n".join(cost_model.markdown([one], cold, peak_mb=94, machine_note="note"))
    assert "| per cold start | 3,635 ms, $6.06/M cold starts |" in markdown  # 250 x 1769/128 + 180
    assert "Recommended `MemorySize`: **256 MB**" in markdown
