"""Contract tests for template.yaml and samconfig.toml (SPEC 1, 5, 6, 7, 8).

The template is read with cfn-lint's decoder, which understands CloudFormation short tags (!Ref, !If, ...).
Conditions are evaluated with the parameters' defaults to check what a default deployment gets.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"

SECRET_ARN = {"Fn::If": ["CreateSecret", {"Ref": "TikTokSecret"}, {"Ref": "ExistingSecretArn"}]}
QUEUES = {"DeadLetterQueue", "ParkingQueue"}
SPEC_ENVIRONMENT = {
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
    if isinstance(policy, dict) and set(policy) == {"Fn::If"}:
        _, when_true, when_false = policy["Fn::If"]
        return [item for branch in (when_true, when_false) for item in _policy_items(branch)]
    if policy == {"Ref": "AWS::NoValue"}:
        return []
    return [policy]


def _describe_policy(policy: Any) -> tuple[str, str]:
    """Name an allowed policy and its resource; fail on anything broader."""
    assert isinstance(policy, dict), f"managed policy names are not allowed: {policy!r}"
    if "Statement" in policy:
        statements = policy["Statement"]
        assert len(statements) == 1, policy
        statement = statements[0]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert statement["Effect"] == "Allow"
        assert actions == ["kms:Decrypt"], actions
        resource = statement["Resource"]
        assert isinstance(resource, dict), f"inline statement resource must be one key: {resource!r}"
        assert "*" not in json.dumps(resource)
        return "kms:Decrypt", json.dumps(resource, sort_keys=True)
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
            },
        ),
        (
            "RedriveFunction",
            {
                ("AWSSecretsManagerGetSecretValuePolicy", "secret"),
                ("SQSPollerPolicy", "DeadLetterQueue"),
                ("SQSSendMessagePolicy", "DeadLetterQueue"),
                ("SQSSendMessagePolicy", "ParkingQueue"),
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

    kms = {entry for entry in described if entry[0] == "kms:Decrypt"}
    assert len(kms) <= 1, "kms:Decrypt is allowed on one key only"
    assert described - kms == expected


def test_every_function_is_covered_by_the_policy_test(functions: dict[str, dict[str, Any]]) -> None:
    assert set(functions) == {"ConnectorFunction", "RedriveFunction"}


@pytest.mark.parametrize("queue_name", sorted(QUEUES))
def test_queues_keep_messages_14_days_encrypted(
    resources: dict[str, dict[str, Any]], queue_name: str
) -> None:
    properties = resources[queue_name]["Properties"]
    assert resources[queue_name]["Type"] == "AWS::SQS::Queue"
    assert properties["MessageRetentionPeriod"] == 1209600
    assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties


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


def test_connector_gets_every_spec_variable(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    environment = _environment(template, functions["ConnectorFunction"])
    assert not SPEC_ENVIRONMENT - set(environment), "missing SPEC 6 variables"
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
    ],
)
def test_spec_defaults(
    template: dict[str, Any], functions: dict[str, dict[str, Any]], variable: str, default: str
) -> None:
    environment = _environment(template, functions["ConnectorFunction"])
    assert _evaluate(environment[variable], template) == default


def test_content_type_is_restricted(template: dict[str, Any]) -> None:
    assert template["Parameters"]["ContentType"]["AllowedValues"] == ["product", "product_group"]


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


def test_redrive_schedule_is_disabled_by_default(
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
    assert _evaluate(schedule["State"], template) == "DISABLED"


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


def test_alarms_notify_the_topic_only_when_given(
    template: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    for alarm in _alarms(resources):
        for actions in ("AlarmActions", "OKActions"):
            assert alarm[actions] == {
                "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
            }
            assert _evaluate(alarm[actions], template) is NO_VALUE


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
    # With `lint = true`, `sam validate` only runs cfn-lint and misses misspelt policy templates (SPEC 8).
    config = tomllib.loads(SAMCONFIG_PATH.read_text(encoding="utf-8"))
    assert "lint" not in config["default"].get("validate", {}).get("parameters", {})
