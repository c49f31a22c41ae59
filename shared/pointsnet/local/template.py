"""Read `template.yaml`: the one source of truth for tables, environment and routes.

The local runtime and the tests build their DynamoDB tables, function
environments and HTTP routes from the same template that SAM deploys, so a
key schema or a route exists in exactly one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_STACK_NAME = "pointsnet-local"
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags (!Ref, !Sub...) into their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)
    return loaded


def resources_of_type(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") in types
    }


STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


@dataclass(frozen=True)
class LocalStack:
    """What the template's references resolve to outside CloudFormation."""

    stack_name: str = LOCAL_STACK_NAME
    region: str = LOCAL_REGION
    account: str = LOCAL_ACCOUNT
    # Parameter values given at deploy time (sam deploy --parameter-overrides); else defaults.
    parameters: Mapping[str, str] = field(default_factory=dict)

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def references(self, template: Mapping[str, Any]) -> dict[str, str]:
        refs = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        for name, parameter in template.get("Parameters", {}).items():
            if name in self.parameters:
                refs[name] = str(self.parameters[name])
            elif "Default" in parameter:
                refs[name] = str(parameter["Default"])
        for logical_id, resource in template.get("Resources", {}).items():
            name = self.physical_name(logical_id)
            # S3 bucket names are lower case; a Ref to a bucket is its name.
            if resource.get("Type") == "AWS::S3::Bucket":
                name = name.lower()
            # A Ref to a bus is its name, which the template may set from parameters.
            declared = resource.get("Properties", {}).get("Name")
            if resource.get("Type") == "AWS::Events::EventBus" and declared is not None:
                name = str(_resolve(declared, refs, self, {}))
            # A Ref to a state machine is its ARN, named by its Name when it has one.
            if resource.get("Type") in STATE_MACHINE_TYPES:
                machine = str(_resolve(declared, refs, self, {})) if declared else name
                name = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{machine}"
            refs.setdefault(logical_id, name)
        return refs

    def resolve(self, value: Any, template: Mapping[str, Any]) -> Any:
        """Resolve Ref, Fn::Sub and Fn::GetAtt ...Arn against this local stack."""
        refs = self.references(template)
        types = {
            logical_id: str(resource.get("Type", ""))
            for logical_id, resource in template.get("Resources", {}).items()
        }
        return _resolve(value, refs, self, types)


def _resolve(
    value: Any, refs: Mapping[str, str], stack: LocalStack, types: Mapping[str, str]
) -> Any:
    if isinstance(value, list):
        return [_resolve(item, refs, stack, types) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return refs[value["Ref"]]
    if set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        extra: Mapping[str, Any] = {}
        if isinstance(text, list):
            text, extra = text[0], text[1]

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(_resolve(extra[name], refs, stack, types))
            if "." in name:
                return _get_att(name.split(".", 1), refs, stack, types)
            return refs[name]

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    if set(value) == {"Fn::GetAtt"}:
        return _get_att(value["Fn::GetAtt"], refs, stack, types)
    return {key: _resolve(item, refs, stack, types) for key, item in value.items()}


def _get_att(
    parts: list[str], refs: Mapping[str, str], stack: LocalStack, types: Mapping[str, str]
) -> str:
    logical_id, attribute = parts
    kind = types.get(logical_id)
    if attribute == "Arn":
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{refs[logical_id]}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{stack.region}:{stack.account}:{refs[logical_id]}"
        if kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{stack.region}:{stack.account}:event-bus/{refs[logical_id]}"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{stack.region}:{stack.account}:function:{refs[logical_id]}"
        if kind in STATE_MACHINE_TYPES:
            return refs[logical_id]
        return f"arn:aws:dynamodb:{stack.region}:{stack.account}:table/{refs[logical_id]}"
    return refs[logical_id]


def table_definitions(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> dict[str, dict[str, Any]]:
    """CreateTable arguments for every DynamoDB table in the template, by logical id."""
    stack = stack or LocalStack()
    definitions = {}
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        props = stack.resolve(resource["Properties"], template)
        kwargs: dict[str, Any] = {
            "TableName": props.get("TableName", stack.physical_name(logical_id)),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("LocalSecondaryIndexes"):
            kwargs["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            # CloudFormation's spec has no StreamEnabled; CreateTable requires it.
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        definitions[logical_id] = kwargs
    return definitions


def bucket_names(template: Mapping[str, Any], stack: LocalStack | None = None) -> dict[str, str]:
    stack = stack or LocalStack()
    return {
        logical_id: stack.resolve(resource.get("Properties", {}), template).get(
            "BucketName", stack.physical_name(logical_id).lower()
        )
        for logical_id, resource in resources_of_type(template, "AWS::S3::Bucket").items()
    }


def bucket_settings(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> dict[str, dict[str, Any]]:
    """By bucket name: what creating it as the template declares it takes (versioning, Object
    Lock), as keyword groups for CreateBucket, PutBucketVersioning, PutObjectLockConfiguration."""
    stack = stack or LocalStack()
    names = bucket_names(template, stack)
    settings: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources_of_type(template, "AWS::S3::Bucket").items():
        props = stack.resolve(resource.get("Properties", {}), template)
        locked = bool(props.get("ObjectLockEnabled", False))
        lock = props.get("ObjectLockConfiguration")
        if lock and "Rule" in lock:
            days = lock["Rule"]["DefaultRetention"].get("Days")
            if days is not None:
                lock["Rule"]["DefaultRetention"]["Days"] = int(days)
        settings[names[logical_id]] = {
            "create": {"ObjectLockEnabledForBucket": True} if locked else {},
            "versioning": props.get("VersioningConfiguration"),
            "lock": lock if locked else None,
        }
    return settings


def named_resources(
    template: Mapping[str, Any], resource_type: str, stack: LocalStack | None = None
) -> dict[str, str]:
    """The names of a type's resources (queues, buses...) by logical id: `Name` or the stack's."""
    stack = stack or LocalStack()
    name_properties = {"AWS::SQS::Queue": "QueueName", "AWS::Events::EventBus": "Name"}
    refs = stack.references(template)
    names = {}
    for logical_id, resource in resources_of_type(template, resource_type).items():
        props = stack.resolve(resource.get("Properties", {}), template)
        names[logical_id] = str(props.get(name_properties.get(resource_type, ""), refs[logical_id]))
    return names


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]


def functions(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> dict[str, FunctionSpec]:
    """Every Lambda function with its code folder, handler and resolved environment."""
    stack = stack or LocalStack()
    globals_ = template.get("Globals", {}).get("Function", {})
    global_env = globals_.get("Environment", {}).get("Variables", {})
    specs = {}
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        resolved = {name: str(value) for name, value in stack.resolve(env, template).items()}
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=REPO_ROOT / props["CodeUri"],
            handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
            environment=resolved,
        )
    return specs


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi event of a function: `METHOD /path/{param}` or the greedy fallback."""

    method: str
    path: str
    function: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_greedy(self) -> bool:
        return self.path.endswith("+}")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves the request, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        pattern = ""
        for segment in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            single = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                pattern += f"/(?P<{greedy.group(1)}>.+)"
            elif single:
                pattern += f"/(?P<{single.group(1)}>[^/]+)"
            else:
                pattern += "/" + re.escape(segment)
        found = re.fullmatch(pattern or "/", path)
        return dict(found.groupdict()) if found else None


def http_routes(template: Mapping[str, Any]) -> list[HttpRoute]:
    """Routes in API Gateway's order: exact paths before parameters, greedy paths last."""
    routes = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event["Properties"]
            routes.append(
                HttpRoute(method=props["Method"].upper(), path=props["Path"], function=logical_id)
            )

    def specificity(route: HttpRoute) -> tuple[int, int, int]:
        segments = route.path.strip("/").split("/")
        literal = sum(1 for segment in segments if not segment.startswith("{"))
        return (route.is_greedy, -literal, route.method == "ANY")

    return sorted(routes, key=specificity)


def find_route(
    routes: list[HttpRoute], method: str, path: str
) -> tuple[HttpRoute, dict[str, str]] | None:
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def load_handler(spec: FunctionSpec) -> Any:
    """Import a function's handler from its code folder, as Lambda would, under a unique name."""
    import importlib.util
    import sys

    module_name, _, attribute = spec.handler.rpartition(".")
    qualified = f"pointsnet_function_{spec.logical_id}"
    module = sys.modules.get(qualified)
    if module is None:
        location = spec.code_dir / f"{module_name.replace('.', '/')}.py"
        module_spec = importlib.util.spec_from_file_location(qualified, location)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {location}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[qualified] = module
        module_spec.loader.exec_module(module)
    return getattr(module, attribute)
