"""Contract tests for template.yaml and samconfig.toml.

The template is read with cfn-lint's decoder, which understands CloudFormation short tags (!Ref, !If, ...).
Conditions are evaluated with the parameters' defaults to check what a default deployment gets.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from tiktok_connector.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
MAKEFILE_PATH = ROOT / "Makefile"

SECRET_ARN = {"Fn::If": ["CreateSecret", {"Ref": "TikTokSecret"}, {"Ref": "ExistingSecretArn"}]}
QUEUES = {"DeadLetterQueue", "ParkingQueue"}
ALL_QUEUES = QUEUES | {"RedriveFailedRunsQueue"}
SQS_MAX_MESSAGE_BYTES = 1048576
BUCKET_OBJECTS = {"Fn::Sub": "${DeadLetterBucket.Arn}/*"}
KMS_KEY_IF = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
ALARM_TOPIC = [{"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
SKIP_REASONS = ("unsupported_event", "no_identifiers", "invalid_page_url", "invalid_event", "no_consent")
MATCH_KEYS = ("email", "phone", "external_id", "ttclid", "ttp", "ip_and_user_agent", "advanced_matching")
CONFIGURATION_VARIABLES = {
    "TIKTOK_PIXEL_ID",
    "SECRET_ID",
    "DEAD_LETTER_QUEUE_URL",
    "TIKTOK_API_URL",
    "EMAIL_IDENTITY_TYPE",
    "EXTERNAL_IDENTITY_TYPE",
    "PHONE_IDENTITY_TYPE",
    "CONTENT_TYPE",
    "DEFAULT_PHONE_REGION",
    "TIKTOK_TEST_EVENT_CODE",
    "CUSTOM_MAPPINGS",
    "DEAD_LETTER_BUCKET",
    "LIMITED_DATA_USE",
    "GDPR_CONSENT_PURPOSE",
    "FORWARD_ANONYMOUS_WITH_CLICK_ID",
    "PURCHASE_EVENT",
}
NO_VALUE = object()


def _plain(node: Any) -> Any:
    """Turn cfn-lint's node classes into plain dicts, lists and scalars."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert not matches, [str(match) for match in matches]
    assert decoded is not None
    plain: dict[str, Any] = _plain(decoded)
    return plain


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template["Resources"]
    return found


@pytest.fixture(scope="module")
def functions(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _evaluate(node: Any, template: dict[str, Any]) -> Any:
    """Evaluate Ref, Fn::If and condition functions with the parameter defaults; leave other intrinsics."""
    if isinstance(node, list):
        return [value for value in (_evaluate(item, template) for item in node) if value is not NO_VALUE]
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((key, value),) = node.items()
    parameters: dict[str, Any] = template.get("Parameters", {})
    if key == "Ref" and value == "AWS::NoValue":
        return NO_VALUE
    if key == "Ref" and value in parameters:
        return str(parameters[value].get("Default"))
    if key == "Condition":
        return _evaluate(template["Conditions"][value], template)
    if key == "Fn::Equals":
        left, right = (_evaluate(item, template) for item in value)
        return str(left) == str(right)
    if key == "Fn::Not":
        return not _evaluate(value[0], template)
    if key == "Fn::And":
        return all(_evaluate(item, template) for item in value)
    if key == "Fn::Or":
        return any(_evaluate(item, template) for item in value)
    if key == "Fn::If":
        condition, when_true, when_false = value
        chosen = when_true if _evaluate(template["Conditions"][condition], template) else when_false
        return _evaluate(chosen, template)
    return node


def _environment(template: dict[str, Any], function: dict[str, Any]) -> dict[str, Any]:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    own = function.get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def _getatt(node: Any) -> tuple[str, str] | None:
    if not isinstance(node, dict) or set(node) != {"Fn::GetAtt"}:
        return None
    target = node["Fn::GetAtt"]
    resource, attribute = target.split(".", 1) if isinstance(target, str) else target
    return str(resource), str(attribute)


def _policy_items(policy: Any) -> list[Any]:
    """A conditional policy (Fn::If) is checked in both branches; AWS::NoValue is no policy."""
    return [item for _, item in _conditional_policy_items(policy)]


def _conditional_policy_items(policy: Any, condition: str | None = None) -> list[tuple[str | None, Any]]:
    """Each policy with the condition that must hold for it to apply (None: always)."""
    if isinstance(policy, dict) and set(policy) == {"Fn::If"}:
        name, when_true, when_false = policy["Fn::If"]
        return _conditional_policy_items(when_true, name) + _conditional_policy_items(when_false, condition)
    if policy == {"Ref": "AWS::NoValue"}:
        return []
    return [(condition, policy)]


def _region_service(service: str) -> dict[str, str]:
    return {"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"}


# Inline statements allowed in a function's policies: actions -> (resource, kms:ViaService values or None).
INLINE_STATEMENTS: dict[tuple[str, ...], tuple[Any, Any]] = {
    ("kms:Decrypt",): ({"Ref": "SecretKmsKeyArn"}, _region_service("secretsmanager")),
    ("kms:Decrypt", "kms:GenerateDataKey"): (
        {"Ref": "KmsKeyArn"},
        [_region_service("sqs"), _region_service("s3")],
    ),
    ("s3:PutObject",): (BUCKET_OBJECTS, None),
    ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): (BUCKET_OBJECTS, None),
}


def _describe_statement(policy: dict[str, Any]) -> tuple[str, str]:
    statements = policy["Statement"]
    assert len(statements) == 1, policy
    statement = statements[0]
    assert statement["Effect"] == "Allow"
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    key = tuple(sorted(actions))
    assert key in INLINE_STATEMENTS, f"inline statement not allowed: {actions}"
    resource, via_service = INLINE_STATEMENTS[key]
    assert statement["Resource"] == resource, statement
    assert "*" not in json.dumps(statement["Resource"]).replace("/*", "")
    if via_service is None:
        assert "Condition" not in statement
    else:
        assert statement["Condition"] == {"StringEquals": {"kms:ViaService": via_service}}
    target = str(resource.get("Ref", "DeadLetterBucket"))
    return "+".join(key), target


def _describe_policy(policy: Any) -> tuple[str, str]:
    """Name an allowed policy and its resource; fail on anything broader."""
    assert isinstance(policy, dict), f"managed policy names are not allowed: {policy!r}"
    if "Statement" in policy:
        return _describe_statement(policy)
    assert len(policy) == 1, policy
    ((name, arguments),) = policy.items()
    if name == "AWSSecretsManagerGetSecretValuePolicy":
        assert arguments == {"SecretArn": SECRET_ARN}
        return name, "secret"
    assert name in {"SQSSendMessagePolicy", "SQSPollerPolicy"}, f"policy not allowed: {name}"
    assert set(arguments) == {"QueueName"}, arguments
    target = _getatt(arguments["QueueName"])
    assert target is not None, arguments
    assert target[0] in QUEUES, target
    assert target[1] == "QueueName", target
    return name, target[0]


def test_template_has_no_hand_written_iam(resources: dict[str, dict[str, Any]]) -> None:
    iam_types = {
        resource["Type"] for resource in resources.values() if resource["Type"].startswith("AWS::IAM::")
    }
    assert not iam_types


@pytest.mark.parametrize(
    ("function_name", "expected"),
    [
        (
            "ConnectorFunction",
            {
                ("AWSSecretsManagerGetSecretValuePolicy", "secret"),
                ("SQSSendMessagePolicy", "DeadLetterQueue"),
                ("s3:PutObject", "DeadLetterBucket"),
            },
        ),
        (
            "RedriveFunction",
            {
                ("AWSSecretsManagerGetSecretValuePolicy", "secret"),
                ("SQSPollerPolicy", "DeadLetterQueue"),
                ("SQSSendMessagePolicy", "DeadLetterQueue"),
                ("SQSSendMessagePolicy", "ParkingQueue"),
                ("s3:DeleteObject+s3:GetObject+s3:PutObject", "DeadLetterBucket"),
            },
        ),
    ],
)
def test_function_policies_are_least_privilege(
    functions: dict[str, dict[str, Any]], function_name: str, expected: set[tuple[str, str]]
) -> None:
    function = functions[function_name]
    assert "Role" not in function
    policies = function["Policies"]
    assert isinstance(policies, list), "a single managed policy name is not allowed"

    described = {_describe_policy(item) for policy in policies for item in _policy_items(policy)}

    kms = {entry for entry in described if entry[0].startswith("kms:")}
    assert kms <= {("kms:Decrypt", "SecretKmsKeyArn"), ("kms:Decrypt+kms:GenerateDataKey", "KmsKeyArn")}
    assert described - kms == expected


@pytest.mark.parametrize("function_name", ["ConnectorFunction", "RedriveFunction"])
def test_kms_permissions_exist_only_with_a_customer_key(
    functions: dict[str, dict[str, Any]], function_name: str
) -> None:
    conditional = [
        (condition, _describe_policy(item))
        for policy in functions[function_name]["Policies"]
        for condition, item in _conditional_policy_items(policy)
    ]
    kms = {(condition, described) for condition, described in conditional if described[0].startswith("kms:")}
    assert kms == {
        ("HasSecretKmsKey", ("kms:Decrypt", "SecretKmsKeyArn")),
        ("HasKmsKey", ("kms:Decrypt+kms:GenerateDataKey", "KmsKeyArn")),
    }
    others = {condition for condition, described in conditional if not described[0].startswith("kms:")}
    assert others == {None}


def test_every_function_is_covered_by_the_policy_test(functions: dict[str, dict[str, Any]]) -> None:
    assert set(functions) == {"ConnectorFunction", "RedriveFunction"}


@pytest.mark.parametrize("queue_name", sorted(ALL_QUEUES))
def test_queues_keep_messages_14_days_encrypted(
    resources: dict[str, dict[str, Any]], queue_name: str
) -> None:
    properties = resources[queue_name]["Properties"]
    assert resources[queue_name]["Type"] == "AWS::SQS::Queue"
    assert properties["MessageRetentionPeriod"] == 1209600
    assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties


@pytest.mark.parametrize("queue_name", sorted(ALL_QUEUES))
def test_queues_take_sqs_largest_messages(resources: dict[str, dict[str, Any]], queue_name: str) -> None:
    assert resources[queue_name]["Properties"]["MaximumMessageSize"] == SQS_MAX_MESSAGE_BYTES


@pytest.mark.parametrize("queue_name", sorted(ALL_QUEUES))
def test_queues_use_the_customer_key_when_given_else_sqs_managed_keys(
    resources: dict[str, dict[str, Any]], queue_name: str
) -> None:
    properties = resources[queue_name]["Properties"]
    assert properties["KmsMasterKeyId"] == KMS_KEY_IF
    # SQS refuses both settings at once: SQS-managed SSE only without the customer key.
    assert properties["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]}


def test_kms_key_parameter_is_optional(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["KmsKeyArn"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert not pattern.fullmatch("alias/aws/sqs")
    assert template["Conditions"]["HasKmsKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
    assert _evaluate({"Fn::If": ["HasKmsKey", "customer", "aws"]}, template) == "aws"


def test_log_groups_and_environment_use_the_customer_key_when_given(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    log_groups = [resource for resource in resources.values() if resource["Type"] == "AWS::Logs::LogGroup"]
    assert len(log_groups) == 3
    for group in log_groups:
        assert group["Properties"]["KmsKeyId"] == KMS_KEY_IF
    assert template["Globals"]["Function"]["KmsKeyArn"] == KMS_KEY_IF


def test_dead_letter_visibility_outlasts_the_redrive(
    resources: dict[str, dict[str, Any]], functions: dict[str, dict[str, Any]]
) -> None:
    visibility = resources["DeadLetterQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility > functions["RedriveFunction"]["Timeout"]


def test_api_function_answers_before_api_gateway_gives_up(functions: dict[str, dict[str, Any]]) -> None:
    assert functions["ConnectorFunction"]["Timeout"] < 30


def test_handlers_and_code_location(functions: dict[str, dict[str, Any]]) -> None:
    assert functions["ConnectorFunction"]["Handler"] == "tiktok_connector.entrypoints.api.lambda_handler"
    assert functions["RedriveFunction"]["Handler"] == "tiktok_connector.entrypoints.redrive.lambda_handler"
    assert {function["CodeUri"] for function in functions.values()} == {"src/"}


def test_runtime_is_python313_on_arm64(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Tracing"] == "Active"
    for function in functions.values():
        assert function.get("Runtime", "python3.13") == "python3.13"
        assert function.get("Architectures", ["arm64"]) == ["arm64"]


def _bucket(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    bucket = resources["DeadLetterBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    properties: dict[str, Any] = bucket["Properties"]
    return properties


def test_dead_letter_bucket_is_encrypted_with_either_key(resources: dict[str, dict[str, Any]]) -> None:
    (rule,) = _bucket(resources)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    condition, with_key, without_key = rule["Fn::If"]
    assert condition == "HasKmsKey"
    assert with_key["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Ref": "KmsKeyArn"},
    }
    assert with_key["BucketKeyEnabled"] is True
    assert without_key["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_dead_letter_bucket_is_private(resources: dict[str, dict[str, Any]]) -> None:
    properties = _bucket(resources)
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in properties


def test_dead_letter_bucket_accepts_tls_only(resources: dict[str, dict[str, Any]]) -> None:
    policies = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::S3::BucketPolicy"
        and resource["Properties"]["Bucket"] == {"Ref": "DeadLetterBucket"}
    ]
    assert len(policies) == 1
    statements = policies[0]["PolicyDocument"]["Statement"]
    denials = [
        statement
        for statement in statements
        if statement["Effect"] == "Deny"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denials) == 1
    denial = denials[0]
    assert denial["Principal"] == "*"
    assert denial["Action"] == "s3:*"
    assert _getatt(denial["Resource"][0]) == ("DeadLetterBucket", "Arn")
    assert denial["Resource"][1] == BUCKET_OBJECTS


def test_dead_letters_expire_no_sooner_than_their_queue_messages(
    resources: dict[str, dict[str, Any]],
) -> None:
    rules = _bucket(resources)["LifecycleConfiguration"]["Rules"]
    expirations = [rule for rule in rules if rule["Status"] == "Enabled" and "ExpirationInDays" in rule]
    assert len(expirations) == 1
    expiration = expirations[0]
    assert "Prefix" not in expiration and "Filter" not in expiration, "every object expires"
    retention = max(resources[name]["Properties"]["MessageRetentionPeriod"] for name in QUEUES)
    assert expiration["ExpirationInDays"] * 86400 > retention
    assert expiration["ExpirationInDays"] <= 30, "dead letters hold hashed personal data: keep them briefly"


def test_dead_letter_bucket_keeps_no_old_versions(resources: dict[str, dict[str, Any]]) -> None:
    # A replayed dead letter is deleted; versioning would keep it.
    assert "VersioningConfiguration" not in _bucket(resources)


@pytest.mark.parametrize("function_name", ["ConnectorFunction", "RedriveFunction"])
def test_functions_get_the_dead_letter_bucket(
    template: dict[str, Any], functions: dict[str, dict[str, Any]], function_name: str
) -> None:
    environment = _environment(template, functions[function_name])
    assert environment["DEAD_LETTER_BUCKET"] == {"Ref": "DeadLetterBucket"}


def test_connector_gets_every_spec_variable(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    environment = _environment(template, functions["ConnectorFunction"])
    assert not CONFIGURATION_VARIABLES - set(environment), "missing configuration variables"
    assert environment["SECRET_ID"] == SECRET_ARN
    assert environment["DEAD_LETTER_QUEUE_URL"] == {"Ref": "DeadLetterQueue"}


def test_redrive_gets_its_variables(template: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
    environment = _environment(template, functions["RedriveFunction"])
    assert {"SECRET_ID", "DEAD_LETTER_QUEUE_URL", "TIKTOK_API_URL", "PARKING_QUEUE_URL"} <= set(environment)
    assert environment["PARKING_QUEUE_URL"] == {"Ref": "ParkingQueue"}
    assert _evaluate(environment["REDRIVE_MAX_ATTEMPTS"], template) == "5"


@pytest.mark.parametrize(
    ("variable", "default"),
    [
        ("TIKTOK_API_URL", "https://business-api.tiktok.com/open_api/v1.3/event/track/"),
        ("EMAIL_IDENTITY_TYPE", "email"),
        ("EXTERNAL_IDENTITY_TYPE", "customer_id"),
        ("PHONE_IDENTITY_TYPE", "mobile_number"),
        ("CONTENT_TYPE", "product"),
        ("DEFAULT_PHONE_REGION", "US"),
        ("TIKTOK_TEST_EVENT_CODE", ""),
        ("CUSTOM_MAPPINGS", "[]"),
        ("LIMITED_DATA_USE", "consent"),
        ("GDPR_CONSENT_PURPOSE", ""),
        ("FORWARD_ANONYMOUS_WITH_CLICK_ID", "false"),
        ("PURCHASE_EVENT", "PlaceAnOrder"),
    ],
)
def test_documented_defaults(
    template: dict[str, Any], functions: dict[str, dict[str, Any]], variable: str, default: str
) -> None:
    environment = _environment(template, functions["ConnectorFunction"])
    assert _evaluate(environment[variable], template) == default


def test_content_type_is_restricted(template: dict[str, Any]) -> None:
    assert template["Parameters"]["ContentType"]["AllowedValues"] == ["product", "product_group"]


@pytest.mark.parametrize(
    ("parameter", "variable", "allowed"),
    [
        ("LimitedDataUse", "LIMITED_DATA_USE", ["consent", "always", "never"]),
        ("ForwardAnonymousWithClickId", "FORWARD_ANONYMOUS_WITH_CLICK_ID", ["true", "false"]),
        ("PurchaseEvent", "PURCHASE_EVENT", ["PlaceAnOrder", "CompletePayment", "Purchase"]),
    ],
)
def test_match_settings_offer_exactly_values_the_function_accepts(
    template: dict[str, Any],
    functions: dict[str, dict[str, Any]],
    parameter: str,
    variable: str,
    allowed: list[str],
) -> None:
    assert template["Parameters"][parameter]["AllowedValues"] == allowed
    assert _environment(template, functions["ConnectorFunction"])[variable] == {"Ref": parameter}
    for value in allowed:  # each loads without a configuration error
        load_settings({"SECRET_ID": "secret", "DEAD_LETTER_QUEUE_URL": "queue", variable: value})


def test_reserved_concurrency_is_unreserved_by_default(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    reserved = functions["ConnectorFunction"]["ReservedConcurrentExecutions"]
    assert _evaluate(reserved, template) is NO_VALUE


@pytest.mark.parametrize("path", ["/events", "/firehose"])
def test_post_routes_exist(functions: dict[str, dict[str, Any]], path: str) -> None:
    routes = [
        event["Properties"]
        for event in functions["ConnectorFunction"]["Events"].values()
        if event["Type"] == "HttpApi" and event["Properties"]["Path"] == path
    ]
    assert len(routes) == 1
    route = routes[0]
    assert route["Method"].upper() == "POST"
    assert route["ApiId"] == {"Ref": "HttpApi"}
    assert str(route["PayloadFormatVersion"]) == "2.0"


def test_connector_memory_size_is_a_bounded_parameter(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    parameter = template["Parameters"]["MemorySize"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 512
    assert parameter["MinValue"] == 128
    assert parameter["MaxValue"] == 1024
    assert functions["ConnectorFunction"]["MemorySize"] == {"Ref": "MemorySize"}
    assert _evaluate(functions["ConnectorFunction"]["MemorySize"], template) == "512"


def test_snapstart_is_opt_in(template: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
    parameter = template["Parameters"]["EnableSnapStart"]
    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["SnapStartEnabled"] == {"Fn::Equals": [{"Ref": "EnableSnapStart"}, "true"]}
    snap_start = functions["ConnectorFunction"]["SnapStart"]
    assert snap_start == {"ApplyOn": {"Fn::If": ["SnapStartEnabled", "PublishedVersions", "None"]}}
    assert _evaluate(snap_start["ApplyOn"], template) == "None"
    # The routes call the unpublished function, so stack parameter changes reach them at once (SAM's
    # AutoPublishAlias republishes only on code changes).
    assert "AutoPublishAlias" not in functions["ConnectorFunction"]


def test_redrive_runs_one_at_a_time(functions: dict[str, dict[str, Any]]) -> None:
    assert functions["RedriveFunction"]["ReservedConcurrentExecutions"] == 1


def test_failed_scheduled_redrive_runs_are_kept(
    resources: dict[str, dict[str, Any]], functions: dict[str, dict[str, Any]]
) -> None:
    redrive = functions["RedriveFunction"]
    dead_letter_queue = redrive["DeadLetterQueue"]
    assert dead_letter_queue["Type"] == "SQS"
    assert _getatt(dead_letter_queue["TargetArn"]) == ("RedriveFailedRunsQueue", "Arn")
    assert resources["RedriveFailedRunsQueue"]["Type"] == "AWS::SQS::Queue"
    # The next scheduled run is the retry.
    assert redrive["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_redrive_schedule_is_enabled_by_default(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    schedules = [
        event["Properties"]
        for event in functions["RedriveFunction"]["Events"].values()
        if event["Type"] == "Schedule"
    ]
    assert len(schedules) == 1
    schedule = schedules[0]
    assert schedule["Schedule"] == "rate(15 minutes)"
    # SAM turns a non-boolean `Enabled` into ENABLED, so the switch must go through `State`.
    assert "Enabled" not in schedule
    assert schedule["State"] == {"Fn::If": ["RedriveScheduled", "ENABLED", "DISABLED"]}
    assert _evaluate(schedule["State"], template) == "ENABLED"
    assert template["Parameters"]["RedriveScheduleEnabled"]["AllowedValues"] == ["true", "false"]


def _alarms(resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]


@pytest.mark.parametrize(
    ("namespace", "metric", "dimension", "threshold"),
    [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": "DeadLetterQueue.QueueName"}, 0),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", {"Fn::GetAtt": "DeadLetterQueue.QueueName"}, 3600),
        ("AWS/Lambda", "Errors", {"Ref": "ConnectorFunction"}, 0),
        ("AWS/Lambda", "Throttles", {"Ref": "ConnectorFunction"}, 0),
        ("AWS/ApiGateway", "5xx", {"Ref": "HttpApi"}, 0),
    ],
)
def test_alarms_exist(
    resources: dict[str, dict[str, Any]],
    namespace: str,
    metric: str,
    dimension: dict[str, Any],
    threshold: int,
) -> None:
    def same_target(value: Any) -> bool:
        if "Fn::GetAtt" in dimension:
            return _getatt(value) == tuple(dimension["Fn::GetAtt"].split("."))
        return bool(value == dimension)

    matching = [
        alarm
        for alarm in _alarms(resources)
        if alarm["Namespace"] == namespace
        and str(alarm["MetricName"]) == metric
        and any(same_target(entry["Value"]) for entry in alarm["Dimensions"])
    ]
    assert len(matching) == 1, f"{namespace} {metric}"
    alarm = matching[0]
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    if namespace == "AWS/ApiGateway":
        assert {"Name": "Stage", "Value": "$default"} in alarm["Dimensions"]


def test_alarms_notify_the_given_or_created_topic(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    alarms = _alarms(resources)
    assert len(alarms) == 8
    for alarm in alarms:
        for actions in ("AlarmActions", "OKActions"):
            assert alarm[actions] == ALARM_TOPIC
            assert _evaluate(alarm[actions], template) == [{"Ref": "AlarmTopic"}]


def test_alarm_topic_is_created_when_none_is_given(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    assert template["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}
    topic = resources["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    assert topic["Condition"] == "CreateAlarmTopic"
    assert topic["Properties"]["KmsMasterKeyId"] == KMS_KEY_IF
    assert _evaluate({"Condition": "CreateAlarmTopic"}, template) is True


def test_alarm_email_subscription_is_optional(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    parameter = template["Parameters"]["AlarmEmail"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("oncall@example.com")
    assert not pattern.fullmatch("not an address")
    subscriptions = [
        resource for resource in resources.values() if resource["Type"] == "AWS::SNS::Subscription"
    ]
    assert len(subscriptions) == 1
    subscription = subscriptions[0]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert _evaluate({"Condition": "HasAlarmEmail"}, template) is False
    properties = subscription["Properties"]
    assert properties["Protocol"] == "email"
    assert properties["Endpoint"] == {"Ref": "AlarmEmail"}
    assert [properties["TopicArn"]] == ALARM_TOPIC


def _metrics_source(template: dict[str, Any]) -> tuple[str, str]:
    """The functions' EMF namespace and service dimension value, as the template sets them."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    return variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]


def test_alarm_fires_on_any_unaccounted_event(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    namespace, service = _metrics_source(template)
    matching = [alarm for alarm in _alarms(resources) if alarm["MetricName"] == "EventsUnaccounted"]
    assert len(matching) == 1
    alarm = matching[0]
    assert alarm["Namespace"] == namespace
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_alarm_fires_on_the_first_parked_message(resources: dict[str, dict[str, Any]]) -> None:
    matching = [
        alarm
        for alarm in _alarms(resources)
        if alarm["Namespace"] == "AWS/SQS"
        and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and _getatt(alarm["Dimensions"][0]["Value"]) == ("ParkingQueue", "QueueName")
    ]
    assert len(matching) == 1
    alarm = matching[0]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def _dashboard(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    dashboards = [
        resource for resource in resources.values() if resource["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert len(dashboards) == 1
    body = dashboards[0]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)
    references = set(re.findall(r"\$\{([^}]+)\}", body))
    assert references == {"AWS::Region", "DeadLetterQueue.QueueName", "ParkingQueue.QueueName"}
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", body))
    return parsed


def _dashboard_metrics(resources: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [
        metric for widget in _dashboard(resources)["widgets"] for metric in widget["properties"]["metrics"]
    ]


def _custom_metric_stats(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> dict[str, set[str]]:
    """Metric name -> statistics shown, for the connector's own metrics; each must carry its dimension."""
    namespace, service = _metrics_source(template)
    shown: dict[str, set[str]] = {}
    for metric in _dashboard_metrics(resources):
        if metric[0] != namespace:
            continue
        assert metric[2:4] == ["service", service], metric
        shown.setdefault(metric[1], set()).add(metric[4]["stat"])
    return shown


def test_dashboard_shows_every_event_outcome(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    shown = _custom_metric_stats(template, resources)
    names = ["EventsReceived", "EventsForwarded", "EventsDeadLettered", "EventsUnaccounted", "TikTokRetries"]
    names += [f"EventsSkipped_{reason}" for reason in SKIP_REASONS]
    for name in names:
        assert shown.get(name) == {"Sum"}, name
    assert shown["TikTokLatency"] == {"p50", "p99"}


def test_dashboard_shows_the_share_of_forwarded_events_per_match_key(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    namespace, _ = _metrics_source(template)
    metrics = _dashboard_metrics(resources)
    ids = {metric[1]: metric[4]["id"] for metric in metrics if metric[0] == namespace and "id" in metric[-1]}
    expressions = [metric[0]["expression"] for metric in metrics if "expression" in metric[0]]
    forwarded = ids["EventsForwarded"]
    for key in MATCH_KEYS:
        with_key = ids[f"ForwardedWith_{key}"]
        assert f"100 * FILL({with_key}, 0) / {forwarded}" in expressions, key
    assert len(expressions) == len(MATCH_KEYS)


def test_checkov_skips_are_deliberate_and_explained(resources: dict[str, dict[str, Any]]) -> None:
    skipped: dict[str, set[str]] = {}
    for name, resource in resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}, skip
            assert len(skip["comment"].split()) >= 8, f"{name} {skip['id']}: give the reason"
            skipped.setdefault(name, set()).add(skip["id"])
    assert skipped == {
        "ConnectorFunction": {"CKV_AWS_116", "CKV_AWS_117"},
        "RedriveFunction": {"CKV_AWS_117"},
        "DeadLetterBucket": {"CKV_AWS_18", "CKV_AWS_21"},
    }


def test_make_template_runs_the_security_scan() -> None:
    makefile = MAKEFILE_PATH.read_text(encoding="utf-8")
    recipe = makefile.split("\ntemplate:", 1)[1].split("\n\n", 1)[0]
    scans = [line for line in recipe.splitlines() if "checkov" in line and "-f template.yaml" in line]
    assert len(scans) == 1
    assert "--soft-fail" not in scans[0]
    assert "--skip-check" not in scans[0], "skips belong in the template, with their reason"
    assert (ROOT / "requirements-checkov.txt").read_text(encoding="utf-8").count("checkov==") == 1


def test_function_logs_are_kept_for_the_configured_days(
    resources: dict[str, dict[str, Any]], functions: dict[str, dict[str, Any]]
) -> None:
    log_groups = [
        resource["Properties"] for resource in resources.values() if resource["Type"] == "AWS::Logs::LogGroup"
    ]
    for name in functions:
        matching = [
            group for group in log_groups if group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
        ]
        assert len(matching) == 1, name
        assert matching[0]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_created_secret_holds_the_three_keys(resources: dict[str, dict[str, Any]]) -> None:
    secret = resources["TikTokSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "CreateSecret"
    generated = secret["Properties"]["GenerateSecretString"]
    keys = set(json.loads(generated["SecretStringTemplate"])) | {generated["GenerateStringKey"]}
    assert keys == {"tiktok_access_token", "mparticle_authorization", "firehose_token"}


def test_outputs_exist(template: dict[str, Any]) -> None:
    assert {
        "EventsEndpoint",
        "FirehoseEndpoint",
        "DeadLetterQueueUrl",
        "ParkingQueueUrl",
        "SecretArn",
        "ConnectorFunctionName",
        "RedriveFunctionName",
        "DeadLetterBucketName",
        "AlarmTopicArn",
        "DashboardName",
    } <= set(template["Outputs"])
    assert template["Outputs"]["EventsEndpoint"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com/events"
    }
    assert template["Outputs"]["FirehoseEndpoint"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com/firehose"
    }


def test_samconfig_builds_with_the_root_requirements() -> None:
    config = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
    assert config["default"]["build"]["parameters"]["manifest"] == "requirements.txt"
    assert (ROOT / "requirements.txt").is_file()
    assert config["default"]["global"]["parameters"]["stack_name"] == "mparticle-tiktok-connector"


def test_samconfig_keeps_sam_validate_translating() -> None:
    # With `lint = true`, `sam validate` only runs cfn-lint and misses misspelt policy templates.
    config = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
    assert "lint" not in config["default"].get("validate", {}).get("parameters", {})
