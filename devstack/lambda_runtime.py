"""Invoke the real handler in-process the way Lambda would: API Gateway event, context, deadline."""

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


@dataclass
class LocalLambdaContext:
    """The LambdaContext fields Powertools reads, with a real deadline."""

    timeout_s: float = 25.0
    function_name: str = "tiktok-connector-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:tiktok-connector-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/tiktok-connector-local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_api_event(
    body: str | bytes | None,
    *,
    path: str = "/events",
    headers: dict[str, str] | None = None,
    base64_encode: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as `sam local invoke -e` takes it."""
    text: str | None
    if body is None:
        text = None
    elif base64_encode:
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        text = base64.b64encode(raw).decode("ascii")
    else:
        text = body if isinstance(body, str) else body.decode("utf-8")
    request_id = uuid.uuid4().hex[:16]
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "mParticle",
            },
            "requestId": request_id,
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": "25/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "body": text,
        "isBase64Encoded": base64_encode,
    }


def load_event(name: str) -> dict[str, Any]:
    """An event file from `events/` (by file name, with or without `.json`)."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def invoke(event: dict[str, Any], context: LocalLambdaContext | None = None) -> tuple[int, dict[str, Any]]:
    """Call the real Lambda handler; returns the status code and the parsed JSON body."""
    from tiktok_connector.entrypoints.api import lambda_handler

    response = lambda_handler(event, context or LocalLambdaContext())
    body = response.get("body") or "{}"
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    return int(response["statusCode"]), json.loads(body)
