"""Settlement reports and runs' obligation detail in S3: `ReportBucket` implements
settlement's `ReportStore`."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pointsnet.store.dynamo import translate_client_error


@cache
def s3_client() -> Any:
    return boto3.client("s3")


class ReportBucket:
    """Rendered reports in S3 (encrypted at rest by the bucket's default encryption)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or s3_client()

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise translate_client_error(exc) from exc
        body: bytes = response["Body"].read()
        return body

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                found.extend(item["Key"] for item in page.get("Contents", []))
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        return found
