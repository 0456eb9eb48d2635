"""The preview shows what the function really sends: same environment, same samples, same TikTok bodies."""

import json
import os
from pathlib import Path

import pytest

from devstack import preview
from devstack.lambda_runtime import EVENTS_DIR, load_event
from tests.conftest import Stack


@pytest.mark.parametrize(
    "sample",
    [
        "webhook-purchase",
        "webhook-array-of-batches",
        "webhook-view-detail-int64-as-strings",
        "webhook-custom-mapped",
        "firehose-purchase",
        "firehose-custom-mapped",
    ],
)
def test_the_preview_shows_the_bodies_tiktok_receives_from_the_function(
    stack: Stack, tmp_path: Path, sample: str
) -> None:
    # Given the function's environment (the stack's settings, custom mappings included)
    status, answer = stack.invoke(load_event(sample))
    assert status == 200
    received = [request.body for request in stack.sandbox.requests()]

    # When the preview reads the same API Gateway event with the same environment
    result, _ = preview.run_preview(
        [EVENTS_DIR / f"{sample}.json"], environ=dict(os.environ), output_dir=tmp_path, progress=False
    )

    # Then it shows the very request bodies TikTok received, and the answer's counts
    lines = (tmp_path / preview.REQUESTS_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == received
    assert result.mapped == answer["forwarded"]
    assert result.skipped == answer["skipped"]
    assert result.warnings == answer["warnings"]
    assert result.match_keys == answer["match_keys"]
