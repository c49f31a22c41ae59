"""Starting a reconciliation run on Step Functions: `StateMachineStarter` is settlement's
`RunStarter`, one execution per run, named by the run's id (so a repeated start is refused by
Step Functions itself, not run twice)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pointsnet.store.dynamo import translate_client_error


@cache
def stepfunctions_client() -> Any:
    return boto3.client("stepfunctions")


class StateMachineStarter:
    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client

    def __call__(self, run_id: str, machine_input: dict[str, Any]) -> None:
        client = self._client or stepfunctions_client()
        try:
            client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=run_id,
                input=json.dumps(machine_input, separators=(",", ":")),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return
            raise translate_client_error(exc) from exc
