"""Program metrics on DynamoDB: `MetricsStore` keeps each program's days in the settlement
table, `ProgramDirectoryStore` reads programs from the directory.

| item         | pk                 | sk               | notes                                  |
| ------------ | ------------------ | ---------------- | -------------------------------------- |
| program day  | METRICS#<program>  | DAY#<YYYY-MM-DD> | sums and counts; `active`, `purchasers`|
|              |                    |                  | binary member sets (pointsnet.metrics. |
|              |                    |                  | members), at most 2 x 160 KB           |

A period is one Query, `sk BETWEEN DAY#<first> AND DAY#<last>`: at most one item per day.
The items carry no `gsi1pk`, so the settlements' `ByPeriod` index never sees them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.metrics.members import decode, encode
from pointsnet.metrics.models import DayFigures, ProgramInfo
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.dynamo import TableStore, to_item, to_values, translate_client_error

_COUNTS = (
    "points_issued",
    "points_redeemed",
    "points_expired",
    "points_exchanged_in",
    "points_exchanged_out",
    "net_change",
    "outstanding_end",
    "entries",
    "new_members",
    "purchases",
)


def _pk(program: str) -> str:
    return f"METRICS#{program}"


def _sk(day: date) -> str:
    return f"DAY#{day.isoformat()}"


class MetricsStore(TableStore):
    """Each program's days, one item per program and day, in the settlement table."""

    def put_day(self, figures: DayFigures) -> None:
        item: dict[str, Any] = {
            "pk": _pk(figures.program),
            "sk": _sk(figures.day),
            "program": figures.program,
            "day": figures.day.isoformat(),
            "outstanding_since": figures.outstanding_since.isoformat(),
            "spend": figures.spend,
            "active": encode(figures.active),
            "purchasers": encode(figures.purchasers),
            "computed_at": rfc3339(figures.computed_at) if figures.computed_at else None,
        } | {name: getattr(figures, name) for name in _COUNTS}
        try:
            self.client.put_item(TableName=self.table_name, Item=to_item(item))
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def get_day(self, program: str, day: date) -> DayFigures | None:
        item = self._get(_pk(program), _sk(day))
        return _figures(item) if item else None

    def days(self, program: str, first: date, last: date) -> list[DayFigures]:
        return [
            _figures(item)
            for item in self._query(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
                ExpressionAttributeValues=to_values(
                    {":pk": _pk(program), ":first": _sk(first), ":last": _sk(last)}
                ),
            )
        ]


def _figures(item: dict[str, Any]) -> DayFigures:
    return DayFigures(
        program=str(item["program"]),
        day=date.fromisoformat(str(item["day"])),
        outstanding_since=date.fromisoformat(str(item["outstanding_since"])),
        spend=Decimal(item.get("spend", 0)),
        active=decode(bytes(item["active"])),
        purchasers=decode(bytes(item["purchasers"])),
        computed_at=item.get("computed_at"),
        **{name: int(item.get(name, 0)) for name in _COUNTS},
    )


class ProgramDirectoryStore(DirectoryStore):
    """Programs as the directory keeps them: a program's owner item, then its partner."""

    def program(self, program: str) -> ProgramInfo | None:
        owner = self._get(f"PROGRAM#{program}", "OWNER")
        if owner is None:
            return None
        partner = self.get_partner(str(owner["partner_id"]))
        if partner is None:
            return None
        return ProgramInfo(
            program=program, partner_id=partner.partner_id, point_value=partner.point_value
        )

    def programs(self) -> list[ProgramInfo]:
        # Once a day, for the daily computation: the directory is small (list_partners scans).
        return [
            ProgramInfo(
                program=partner.program,
                partner_id=partner.partner_id,
                point_value=partner.point_value,
            )
            for partner in self.list_partners()
            if partner.program
        ]
