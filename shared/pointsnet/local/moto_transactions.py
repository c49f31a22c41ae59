"""moto's TransactWriteItems with an undo log instead of a copy of every table it touches.

moto 5.2 deep-copies each table an action names (its items and stream records) before every
transaction, so that it can put the copy back if an action fails: one write costs as much as
everything written before it. This version remembers only the items its actions write, as
they were before the first write, plus each stream's length, and puts exactly those back when
the transaction is cancelled. Everything else is moto's own code path, kept in moto's order:
the same checks, the same `CancellationReasons`, the same items and stream records.

`install()` swaps it into moto's backend class for the process (the local emulator, the tests'
`mock_aws`); `moto_original` is moto's own method, kept so tests can compare the two.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

moto_original = DynamoDBBackend.transact_write_items


@dataclass
class _SavedItem:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Any  # the item as it was (a deep copy), or None when it did not exist
    hash_existed: bool


@dataclass
class UndoLog:
    """What a transaction's writes replaced, to put back in reverse order if it is cancelled."""

    saved: list[_SavedItem] = field(default_factory=list)
    stream_lengths: dict[int, tuple[Any, int]] = field(default_factory=dict)

    def remember(self, table: Table, key: dict[str, Any]) -> None:
        """Save the item `key` names, before an action may write it."""
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        current = table.get_item(hash_key, range_key)
        self.saved.append(
            _SavedItem(
                table=table,
                hash_key=hash_key,
                range_key=range_key,
                # update_item changes the stored item in place: keep a copy, not a reference.
                item=copy.deepcopy(current),
                hash_existed=hash_key in table.items,
            )
        )
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.stream_lengths:
            self.stream_lengths[id(shard)] = (shard, len(shard.items))

    def restore(self) -> None:
        for saved in reversed(self.saved):
            items = saved.table.items
            if saved.range_key is None:
                if saved.item is None:
                    items.pop(saved.hash_key, None)
                else:
                    items[saved.hash_key] = saved.item
                continue
            if saved.item is None:
                items.get(saved.hash_key, {}).pop(saved.range_key, None)
                if not saved.hash_existed and not items.get(saved.hash_key, True):
                    items.pop(saved.hash_key, None)
            else:
                items[saved.hash_key][saved.range_key] = saved.item
        # A cancelled transaction leaves no stream record, as in DynamoDB.
        for shard, length in self.stream_lengths.values():
            del shard.items[length:]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's DynamoDBBackend.transact_write_items, rolled back through an UndoLog."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = UndoLog()

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        # Check transact writes are not performing multiple operations on the same item
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                # get_item above proved the key valid for the table.
                undo.remember(self.get_table(table_name), key)
            if op_type == "Put":
                attrs = op["Item"]
                self.put_item(
                    table_name,
                    attrs,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                update_expression = op["UpdateExpression"]
                self.update_item(
                    table_name,
                    key,
                    update_expression=update_expression,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            # Rollback to the original state, and reraise the error
            undo.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:
            # For other exceptions, capture their details
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        # Rollback to the original state, and reraise the errors
        undo.restore()
        raise TransactionCanceledException(errors)


def install() -> None:
    """Use the undo log in every moto DynamoDB backend of this process (idempotent)."""
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = moto_original  # type: ignore[method-assign]


@contextmanager
def moto_semantics(patched: bool) -> Iterator[None]:
    """Run a block on the undo log (True) or on moto's own snapshot (False), then put back."""
    before = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = (  # type: ignore[method-assign]
        transact_write_items if patched else moto_original
    )
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = before  # type: ignore[method-assign]
