"""moto_server, with TransactWriteItems behaving (and costing) as it does in AWS.

moto 5.2.5 backs up every table a transaction names by deep-copying the whole
table, once per item of the transaction, so a transaction's cost grows with the
table: a 97-item transaction on a table of 20,000 items copies about two million
items and takes minutes, where AWS's cost depends only on the items written. That
made an attack-scale test measure the emulator, not Vigil.

This server checks every condition first, against the state before the transaction
(as AWS does), then applies the writes with moto's own put/update/delete; if a write
fails while applying (a concurrent request got in between: moto's server is
threaded), it restores just the items the transaction touched and cancels. All else
is moto's own code. `tools/test.sh` starts moto through this file.

Two more AWS behaviours moto 5.2.5 lacks, which tests of failures depend on:
- transactions are isolated from each other (one lock: moto applied concurrent ones
  interleaved, so two conditional creations could both succeed);
- a retry with the same ClientRequestToken within 10 minutes is answered as a success
  without being applied again (the SDK retries a transaction whose answer was lost
  with the same token; without this, moto applied it twice).

And the API Gateway Management API as AWS answers it: moto 5.2.5 takes any
connection id as connected (a defaultdict), so a browser that went away could never
be told apart. Here only connections that were opened exist; posting to or reading
any other answers 410 GoneException, as AWS does. API Gateway opens a connection when
a browser connects; with no API Gateway here, tests open one through this server's
own route `POST /_vigil/connections/<id>`, and read what was posted to it with
`GET /_vigil/connections/<id>` (404 once it is closed).
"""

import copy
import json
import sys
import threading
import time

import moto
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.core.responses import ActionResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.responses import DynamoHandler

# The function replaced below is moto 5.2's; a different moto needs a fresh look.
assert moto.__version__.startswith("5.2."), f"moto {moto.__version__}: recheck this patch"


def _key_of(table, op_type, op):
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op["Key"]


def _restore(table, key, before):
    hash_key = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
        return
    range_key = DynamoType(key[table.range_key_attr])
    if before is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items.setdefault(hash_key, {})[range_key] = before


_transactions = threading.Lock()
_tokens: dict[str, float] = {}
TOKEN_LIFETIME_SECONDS = 600


def transact_write_items(self, transact_items):
    with _transactions:
        return _transact_write_items(self, transact_items)


def _transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    targets = set()
    errors = []
    plan = []
    # 1. Every condition, against the state before the transaction.
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        table = self.get_table(table_name)
        key = _key_of(table, op_type, op)
        marker = (str(table_name), str(dict(sorted(key.items()))))
        if marker in targets:
            raise MultipleTransactionsException()
        targets.add(marker)
        current = self.get_item(table_name, key)
        original = None
        try:
            condition = op.get("ConditionExpression")
            if condition is not None:
                expression = get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not expression.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            errors.append((None, None, None))
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original))
        except MockValidationException:
            raise
        except Exception as e:  # noqa: BLE001 - reported per item, as moto does
            errors.append((type(e).__name__, str(e), original))
        plan.append((op_type, op, table, key, copy.deepcopy(current)))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    # 2. The writes; on a failure, put back what was written and cancel.
    done = []
    try:
        for op_type, op, table, key, before in plan:
            common = dict(
                condition_expression=op.get("ConditionExpression"),
                expression_attribute_names=op.get("ExpressionAttributeNames"),
                expression_attribute_values=op.get("ExpressionAttributeValues"),
            )
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"], **common)
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key, **common)
            elif op_type == "Update":
                self.update_item(
                    op["TableName"], key, update_expression=op["UpdateExpression"], **common
                )
            done.append((table, key, before))
    except MockValidationException:
        for table, key, before in reversed(done):
            _restore(table, key, before)
        raise
    except Exception as e:  # noqa: BLE001
        for table, key, before in reversed(done):
            _restore(table, key, before)
        failed = [(None, None, None)] * len(plan)
        failed[len(done)] = (
            "ConditionalCheckFailed" if isinstance(e, ConditionalCheckFailed) else type(e).__name__,
            str(getattr(e, "message", e)),
            None,
        )
        raise TransactionCanceledException(failed) from e


DynamoDBBackend.transact_write_items = transact_write_items

_handle_transaction = DynamoHandler.transact_write_items


def transact_write_items_idempotently(self):
    # AWS also refuses a token reused with other items; Vigil makes a token per
    # attempt, so the token alone identifies the transaction here.
    token = self.body.get("ClientRequestToken")
    if token is None:
        return _handle_transaction(self)
    now = time.time()
    seen = _tokens.get(token)
    if seen is not None and now - seen < TOKEN_LIFETIME_SECONDS:
        return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    result = _handle_transaction(self)
    _tokens[token] = now
    return result


DynamoHandler.transact_write_items = transact_write_items_idempotently


from moto.apigatewaymanagementapi import models as apigw_models
from moto.core.exceptions import JsonRESTError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication


class GoneException(JsonRESTError):
    code = 410

    def __init__(self, connection_id):
        super().__init__("GoneException", f"connection {connection_id} is gone")


_apigw_lock = threading.Lock()


def _apigw_init(self, region_name, account_id):
    apigw_models.BaseBackend.__init__(self, region_name, account_id)
    self.connections = {}


def _apigw_get(self, connection_id):
    with _apigw_lock:
        if connection_id not in self.connections:
            raise GoneException(connection_id)
        return self.connections[connection_id]


def _apigw_post(self, data, connection_id):
    connection = _apigw_get(self, connection_id)
    with _apigw_lock:
        connection.posts.append(bytes(data).decode("utf-8", "replace"))


def _apigw_delete(self, connection_id):
    with _apigw_lock:
        if self.connections.pop(connection_id, None) is None:
            raise GoneException(connection_id)


apigw_models.ApiGatewayManagementApiBackend.__init__ = _apigw_init
apigw_models.ApiGatewayManagementApiBackend.get_connection = _apigw_get
apigw_models.ApiGatewayManagementApiBackend.post_to_connection = _apigw_post
apigw_models.ApiGatewayManagementApiBackend.delete_connection = _apigw_delete


def _apigw_backend():
    return apigw_models.apigatewaymanagementapi_backends["123456789012"]["us-east-1"]


_dispatch = DomainDispatcherApplication.__call__


def _dispatch_with_connections(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith("/_vigil/connections/"):
        return _dispatch(self, environ, start_response)
    connection_id = path.rsplit("/", 1)[-1]
    backend = _apigw_backend()
    method = environ.get("REQUEST_METHOD")
    with _apigw_lock:
        if method == "POST":
            connection = apigw_models.Connection()
            connection.posts = []
            backend.connections[connection_id] = connection
            status, body = "201 Created", {"id": connection_id}
        elif connection_id in backend.connections:
            posts = backend.connections[connection_id].posts
            status, body = "200 OK", {"id": connection_id, "posts": list(posts)}
        else:
            status, body = "404 Not Found", {"message": "gone"}
    payload = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


DomainDispatcherApplication.__call__ = _dispatch_with_connections

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
