"""The redrive demonstration's two special dead letters, and what it reads of the queues and the bucket.

- A pointer letter: one Webhook event whose custom-mapped `description` (the `method` attribute, which
  the demo's mapping forwards unchanged) is over 1 MiB, so that its dead letter cannot be one SQS
  message; the connector stores it whole in the dead-letter bucket and queues a pointer to it.
- Firehose requests that bring their own TikTok token (account setting `accessToken`): one refused by
  TikTok for good (dead-lettered, marked as sent with the request's token, which is never stored), and
  one that meets the outage (answered 503 for mParticle to resend, never dead-lettered).

The events are built from the samples in `events/` with fresh event ids; only ids and sizes are printed.
"""

import json
from dataclasses import dataclass
from typing import Any, Final

import boto3

from devstack.lambda_runtime import invoke, load_event
from devstack.local_aws import REGION

POINTER_EVENT_ID: Final = "b16b16b1-0000-4c0d-8e11-000000000001"
REFUSED_EVENT_ID: Final = "70c3e000-0000-4f1e-9a11-000000000002"
RESENT_EVENT_ID: Final = "70c3e000-0000-4f1e-9a11-000000000003"
REQUEST_TOKEN: Final = "local-connection-token"
"""The Firehose connection's own TikTok token (made up; the sandbox accepts it besides the secret's)."""
DESCRIPTION_CHARS: Final = 1_100_000
"""Over SQS's 1 MiB (1,048,576 bytes) message limit on its own."""
REJECTION: Final = {"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter."}


def pointer_letter_event() -> dict[str, Any]:
    """`webhook-custom-mapped.json`'s "Payment Info Added" event alone, with a description over 1 MiB."""
    event = load_event("webhook-custom-mapped.json")
    batch = json.loads(event["body"])
    custom = batch["events"][0]
    custom["data"]["custom_attributes"]["method"] = "card " + "x" * DESCRIPTION_CHARS
    custom["data"]["source_message_id"] = POINTER_EVENT_ID
    custom["data"]["event_id"] = 7788990011223399001
    batch["events"] = [custom]
    batch["batch_id"] = 3619462417291399001
    event["body"] = json.dumps(batch)
    return event


def request_token_event(event_id: str) -> dict[str, Any]:
    """`firehose-custom-mapped.json`'s "Site Search" event alone, its connection bringing `accessToken`."""
    event = load_event("firehose-custom-mapped.json")
    request = json.loads(event["body"])
    search = next(item for item in request["events"] if item.get("name") == "Site Search")
    search["id"] = event_id
    request["events"] = [search]
    request["id"] = f"0b1c2d3e-4f50-4a6b-8c7d-{event_id[-12:]}"
    request["account"]["account_settings"]["accessToken"] = REQUEST_TOKEN
    event["body"] = json.dumps(request)
    return event


def send_special_letters(sandbox: Any) -> int:
    """During the outage: the pointer letter, and the two Firehose requests with their own token.

    Returns the HTTP status answered to the request that met the outage (503: mParticle resends it).
    """
    print("   One Webhook event with a description over 1 MiB: too large for SQS, its letter goes to S3.")
    status, body = invoke(pointer_letter_event())
    print(f"   {f'one event, {DESCRIPTION_CHARS:,}-char description':<45} {_outcome(status, body)}")
    print("   Firehose requests bringing their own TikTok token (account setting accessToken):")
    sandbox.fail_next(REJECTION)
    status, body = invoke(request_token_event(REFUSED_EVENT_ID))
    print(f"   {'refused by TikTok (code 40002)':<45} {_outcome(status, body)}")
    status, body = invoke(request_token_event(RESENT_EVENT_ID))
    print(f"   {'meets the outage (503 after retries)':<45} {_outcome(status, body)}")
    return status


def _outcome(status: int, body: dict[str, Any]) -> str:
    reasons = body.get("dead_letter_reasons", {})
    if status == 200:
        return f"HTTP {status}  dead-lettered {body.get('dead_lettered')} {reasons}"
    if status == 503:
        return (
            f"HTTP {status}  {body.get('error')}: dead-lettered {body.get('dead_lettered')}, "
            f"resend_reasons {body.get('resend_reasons', {})} (mParticle resends it with the token)"
        )
    return f"HTTP {status}  {body.get('error')}"


@dataclass(frozen=True, slots=True)
class Queued:
    """A message in a queue: its body and its attributes' values."""

    body: str
    attributes: dict[str, str]


def _sqs(endpoint_url: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _s3(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def peek_queue(endpoint_url: str, queue_url: str) -> list[Queued]:
    """Every message now in a queue, with its attributes; all left visible again."""
    sqs = _sqs(endpoint_url)
    messages: list[Queued] = []
    receipts: list[str] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            attributes = {
                name: str(value.get("StringValue"))
                for name, value in message.get("MessageAttributes", {}).items()
            }
            messages.append(Queued(message["Body"], attributes))
            receipts.append(message["ReceiptHandle"])
    for receipt in receipts:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return messages


def bucket_objects(endpoint_url: str, bucket: str) -> dict[str, int]:
    """The dead-letter bucket's objects: key → size in bytes."""
    listing = _s3(endpoint_url).list_objects_v2(Bucket=bucket)
    return {item["Key"]: int(item["Size"]) for item in listing.get("Contents", [])}


def read_object(endpoint_url: str, bucket: str, key: str) -> str:
    answer = _s3(endpoint_url).get_object(Bucket=bucket, Key=key)
    text: str = answer["Body"].read().decode("utf-8")
    return text


def show_bucket(title: str, endpoint_url: str, bucket: str) -> dict[str, int]:
    objects = bucket_objects(endpoint_url, bucket)
    print(f"{title}: {len(objects)} object(s)")
    for key, size in objects.items():
        print(f"     s3://{bucket}/{key}  {size:,} bytes")
    return objects


def redrive_findings(
    records: list[Any], parked: dict[str, int], bucket_after: dict[str, int], resent_status: int
) -> bool:
    """What became of the special letters, one line each; True when each went as it should."""
    pointer_sent = [record for record in records if POINTER_EVENT_ID in record.event_ids]
    followed = any(record.code == 0 for record in pointer_sent)
    sizes = ", ".join(f"{record.raw_size:,}-byte request" for record in pointer_sent) or "nothing sent"
    verdict = "followed, TikTok accepted it" if followed else "NOT accepted"
    print(f"   pointer letter {POINTER_EVENT_ID}: {verdict} ({sizes}); S3 objects left: {len(bucket_after)}")
    token_sent = [record for record in records if REFUSED_EVENT_ID in record.event_ids]
    print(
        f"   request-token letter {REFUSED_EVENT_ID}: parked request_token_not_stored "
        f"{parked.get('request_token_not_stored', 0)}, TikTok requests for it in this run: {len(token_sent)}"
    )
    resent_sent = [record for record in records if RESENT_EVENT_ID in record.event_ids]
    print(
        f"   request-token request {RESENT_EVENT_ID} during the outage: answered {resent_status}, "
        f"not dead-lettered (TikTok requests for it in this run: {len(resent_sent)})"
    )
    return (
        followed
        and not bucket_after
        and not token_sent
        and not resent_sent
        and resent_status == 503
        and parked.get("request_token_not_stored") == 1
    )
