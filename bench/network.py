"""A partner function on moto, built from template.yaml, called the way API Gateway calls it.

Whatever instruments botocore (the capacity meter, the AWS-call timer) is registered on the
default boto3 session before any client exists, so every client the function creates sees it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from pointsnet.local.emulator import FAKE_CREDENTIALS
from pointsnet.local.template import LOCAL_REGION

FAKE_AWS = {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION, "AWS_REGION": LOCAL_REGION}
# Variables that would send a client somewhere other than moto.
SHADOWING = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")

Instrument = Callable[[Any], None]


@dataclass(frozen=True)
class FunctionFacts:
    """What the template says a function is billed on."""

    logical_id: str
    memory_mb: int
    architecture: str
    api_type: str  # "HTTP" or "REST"


def function_facts(logical_id: str = "PartnerApiFunction") -> FunctionFacts:
    from pointsnet.local.template import load_template, resources_of_type

    template = load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    props = template["Resources"][logical_id]["Properties"]
    architectures = props.get("Architectures", globals_.get("Architectures", ["x86_64"]))
    event_types = {event.get("Type") for event in props.get("Events", {}).values()}
    rest = "Api" in event_types or resources_of_type(template, "AWS::Serverless::Api")
    return FunctionFacts(
        logical_id=logical_id,
        memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        architecture=str(architectures[0]),
        api_type="REST" if rest and "HttpApi" not in event_types else "HTTP",
    )


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


@dataclass
class PartnerInvoker:
    """Signs like a partner's client and invokes the handler with an HTTP API (2.0) event."""

    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    key_id: str
    secret: str
    facts: FunctionFacts
    # Powertools Metrics prints its EMF line on stdout; a benchmark's stdout is its table.
    quiet: bool = True
    last_cpu: float = 0.0
    last_wall: float = 0.0

    def event(self, method: str, path: str, body: Any = None, query: str = "") -> dict[str, Any]:
        from pointsnet import signing
        from pointsnet.local.events import http_api_event
        from pointsnet.local.template import find_route, http_routes, load_template

        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        # Signed v2, as the SDK signs: a v1 posting would also write its signature's digest.
        key = str(uuid.uuid4()) if method == "POST" else None
        headers |= signing.sign_request(
            self.secret,
            self.key_id,
            method,
            path,
            query,
            payload,
            int(time.time()),
            idempotency_key=key,
            version=signing.LATEST_VERSION,
        )
        if key is not None:
            headers["idempotency-key"] = key
        found = find_route(http_routes(load_template()), method, path)
        route, params = found if found else (None, {})
        return http_api_event(
            method,
            path,
            raw_query=query,
            headers=headers,
            body=payload,
            route=route,
            path_parameters=params,
        )

    def invoke(self, event: dict[str, Any]) -> Reply:
        """Call the handler; its process CPU and wall time are kept in `last_cpu`/`last_wall`."""
        context = LambdaContext(self.facts.logical_id, self.facts.memory_mb)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink) if self.quiet else contextlib.nullcontext():
            cpu, wall = time.process_time(), time.perf_counter()
            result = self.handler(event, context)
            self.last_cpu = time.process_time() - cpu
            self.last_wall = time.perf_counter() - wall
        text = result.get("body") or ""
        return Reply(int(result["statusCode"]), json.loads(text) if text else None)

    def call(self, method: str, path: str, body: Any = None, query: str = "") -> Reply:
        return self.invoke(self.event(method, path, body, query))


@dataclass
class MotoNetwork:
    starlodge: PartnerInvoker
    rideco: PartnerInvoker
    facts: FunctionFacts
    environment: dict[str, str]
    # Quotes made while preparing, one per exchange request to come.
    quotes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def moto_network(
    instruments: tuple[Instrument, ...] = (), logical_id: str = "PartnerApiFunction"
) -> Iterator[MotoNetwork]:
    """The demo network of the local contract on moto, with the function's real handler."""
    from moto import mock_aws

    from pointsnet.local.template import (
        LocalStack,
        functions,
        load_handler,
        load_template,
        table_definitions,
    )

    template = load_template()
    stack = LocalStack()
    spec = functions(template, stack)[logical_id]
    environment = {
        **spec.environment,
        **FAKE_AWS,
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        # The template's INFO level logs nothing on a successful request; refusals would be
        # noise here, and each is asserted on instead.
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        # The exchange scenario quotes up front for a whole run, which outlasts 60 s on moto.
        "QUOTE_TTL_SECONDS": "3600",
    }
    with process_environment(environment), _fresh_dependencies(), mock_aws():
        # moto swaps boto3's default session out for its own while it runs.
        session = boto3.session.Session()
        boto3.DEFAULT_SESSION = session
        for instrument in instruments:
            instrument(session.events)
        setup = boto3.session.Session().client("dynamodb")
        for definition in table_definitions(template, stack).values():
            # Stream records cost nothing in DynamoDB, but moto deep-copies them with the
            # table for every action of a TransactWriteItems; nothing here reads them.
            definition.pop("StreamSpecification", None)
            setup.create_table(**definition)
        keys = _seed()
        handler = load_handler(spec)
        facts = function_facts(logical_id)

        def invoker(partner: str) -> PartnerInvoker:
            key = next(k for k in keys if k["partner_id"] == partner and k["role"] == "partner")
            return PartnerInvoker(handler, key["key_id"], key["secret"], facts)

        yield MotoNetwork(invoker("starlodge"), invoker("rideco"), facts, environment)


@contextlib.contextmanager
def process_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """`environment` set in this process, without the shell's variables that would send a
    client elsewhere; all of it as it was afterwards."""
    saved = {name: os.environ.get(name) for name in (*environment, *SHADOWING)}
    for name in SHADOWING:
        os.environ.pop(name, None)
    os.environ.update(environment)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _fresh_dependencies() -> Iterator[None]:
    _clear_cached_dependencies()
    try:
        yield
    finally:
        _clear_cached_dependencies()


def _seed() -> list[dict[str, str]]:
    from pointsnet.local.seed import seed_demo_network
    from pointsnet.network.rates import Rates
    from pointsnet.partners.service import PartnerDirectory
    from pointsnet.settings import get_settings
    from pointsnet.store.directory_store import DirectoryStore
    from pointsnet.store.key_secrets import KeySecrets
    from pointsnet.store.network_store import NetworkStore

    settings = get_settings()
    return seed_demo_network(
        PartnerDirectory(
            DirectoryStore(settings.directory_table), KeySecrets(settings.key_secret_prefix)
        ),
        Rates(NetworkStore(settings.ledger_table, settings.directory_table)),
    )


def _clear_cached_dependencies() -> None:
    """Forget clients, settings and dependencies built for another environment."""
    from pointsnet.store.dynamo import dynamodb_client
    from pointsnet.store.key_secrets import secretsmanager_client
    from pointsnet.wiring import clear_caches

    clear_caches()
    dynamodb_client.cache_clear()
    secretsmanager_client.cache_clear()
