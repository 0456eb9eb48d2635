"""The local stack's configuration: one place for the demo's pixel, secrets and custom mappings."""

import json

from devstack.local_aws import ConnectorResources

PIXEL_ID = "C4LOCALDEMOPIXEL01"
ACCESS_TOKEN = "local-sandbox-token"
WEBHOOK_AUTHORIZATION = "Basic bXBhcnRpY2xlOmxvY2FsLWRlbW8="  # what the events/ files send
FIREHOSE_TOKEN = "local-firehose-token"

SECRET = {
    "tiktok_access_token": ACCESS_TOKEN,
    "mparticle_authorization": WEBHOOK_AUTHORIZATION,
    "firehose_token": FIREHOSE_TOKEN,
}

CUSTOM_MAPPINGS = [
    {
        "match": {
            "event_type": "custom_event",
            "event_name": "Payment Info Added",
            "custom_event_type": "transaction",
        },
        "tiktok_event": "AddPaymentInfo",
        "properties": {
            "value": {"attribute": "amount"},
            "currency": {"static": "USD"},
            "description": {"attribute": "method"},
        },
    },
    {
        "match": {"event_type": "custom_event", "event_name": "Site Search", "custom_event_type": "search"},
        "tiktok_event": "Search",
        "properties": {"query": {"attribute": "search_term"}},
    },
]


def connector_environment(resources: ConnectorResources, tiktok_url: str) -> dict[str, str]:
    """The function's environment variables pointing at the local stack (as a deployment sets them)."""
    return {
        "TIKTOK_PIXEL_ID": PIXEL_ID,
        "SECRET_ID": resources.secret_arn,
        "DEAD_LETTER_QUEUE_URL": resources.queue_url,
        "DEAD_LETTER_BUCKET": resources.bucket,
        "TIKTOK_API_URL": tiktok_url,
        "EMAIL_IDENTITY_TYPE": "email",
        "EXTERNAL_IDENTITY_TYPE": "customer_id",
        "PHONE_IDENTITY_TYPE": "mobile_number",
        "CONTENT_TYPE": "product",
        "DEFAULT_PHONE_REGION": "US",
        "TIKTOK_TEST_EVENT_CODE": "",
        "CUSTOM_MAPPINGS": json.dumps(CUSTOM_MAPPINGS),
        "POWERTOOLS_SERVICE_NAME": "tiktok-connector",
        "POWERTOOLS_METRICS_NAMESPACE": "MParticleTikTokConnector",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PARKING_QUEUE_URL": resources.parking_queue_url,
    }
