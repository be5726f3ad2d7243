"""Checks of template.yaml that cfn-lint cannot know: what Vigil needs of its own
stack. Run by tools/test.sh; exits non-zero naming each check that fails.

- A login flood cannot starve the sensors: login and predict have route throttles of
  their own (apart from the stage-wide default), and predict reserves concurrency.
- Every route a function serves is a route of the API (and the other way round is
  cfn-lint's job), and every operation of openapi.json is served by a function.
- Notifications SNS refuses are held whole: notify has a retry queue, consumes it, and
  may send to it.
- Live alerts: a WebSocket API with $connect, $disconnect and subscribe routed to the
  live function (subscribe answering the client), a connections table that expires
  its items, a ticket route, and the live function (not notify) pushing from the stream.
"""

import json
import pathlib
import sys

from cfnlint.decode import cfn_yaml

template = cfn_yaml.load(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
resources = template["Resources"]
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


routes = resources["VigilApi"]["Properties"].get("RouteSettings", {})
for route in ["POST /auth/login", "POST /threat-detection/predict", "POST /predict"]:
    settings = routes.get(route, {})
    check(
        "ThrottlingRateLimit" in settings and "ThrottlingBurstLimit" in settings,
        f"route {route!r} has throttling of its own",
    )

served = set()
for name, resource in resources.items():
    if resource["Type"] != "AWS::Serverless::Function":
        continue
    for event in resource["Properties"].get("Events", {}).values():
        if event["Type"] == "HttpApi":
            served.add(f"{event['Properties']['Method']} {event['Properties']['Path']}")
for route in routes:
    check(route in served, f"throttled route {route!r} is served by a function")

# Every operation of the contract is a route of the API: a route added to the code
# and to openapi.json but not to the template would answer 404 only in AWS. (The
# documents and the console are vigil-local's own.)
contract = json.loads((pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml").parent / "openapi.json").read_text())
local_only = {"/openapi.json", "/asyncapi.json", "/console"}
for path, operations in contract["paths"].items():
    if path in local_only:
        continue
    for method in operations:
        if method in {"get", "post", "put", "delete", "patch"}:
            route = f"{method.upper()} {path}"
            check(route in served, f"contract operation {route!r} is served by a function")

predict = resources["PredictFunction"]["Properties"]
check("ReservedConcurrentExecutions" in predict, "predict reserves concurrency")

notify = resources["NotifyFunction"]["Properties"]
check(
    notify.get("Environment", {}).get("Variables", {}).get("VIGIL_RETRY_QUEUE_URL")
    == {"Ref": "NotifyRetryQueue"},
    "notify is told its retry queue",
)
check(
    any(
        e["Type"] == "SQS" and e["Properties"]["Queue"] == {"Fn::GetAtt": ["NotifyRetryQueue", "Arn"]}
        for e in notify.get("Events", {}).values()
    ),
    "notify consumes its retry queue",
)
queue = resources.get("NotifyRetryQueue", {}).get("Properties", {})
check(queue.get("FifoQueue") is True, "the retry queue is FIFO (an alert's notifications in order)")
check("RedrivePolicy" in queue, "the retry queue ends in a dead-letter queue")

live_api = resources.get("LiveApi", {}).get("Properties", {})
check(live_api.get("ProtocolType") == "WEBSOCKET", "LiveApi is a WebSocket API")
live_routes = {
    r["Properties"]["RouteKey"]: r["Properties"]
    for r in resources.values()
    if r["Type"] == "AWS::ApiGatewayV2::Route"
}
for key in ["$connect", "$disconnect", "subscribe", "$default"]:
    check(key in live_routes, f"the WebSocket API routes {key}")
check(
    live_routes.get("subscribe", {}).get("RouteResponseSelectionExpression") == "$default",
    "subscribe answers the client (a route response)",
)
connections = resources.get("ConnectionsTable", {}).get("Properties", {})
check(
    connections.get("TimeToLiveSpecification", {}).get("AttributeName") == "expires_at",
    "the connections table expires tickets and connections",
)
check("POST /auth/ws-ticket" in served, "a function serves POST /auth/ws-ticket")
live = resources.get("LiveFunction", {}).get("Properties", {})
live_statements = [
    statement
    for policy in live.get("Policies", [])
    if isinstance(policy, dict)
    for statement in policy.get("Statement", [])
]
check(
    any(s.get("Action") == "execute-api:ManageConnections" for s in live_statements),
    "the live function may post to the WebSocket connections",
)
check(
    "VIGIL_WS_ENDPOINT" in live.get("Environment", {}).get("Variables", {}),
    "the live function is told the WebSocket API's endpoint",
)
check(
    any(
        e["Type"] == "DynamoDB" and e["Properties"]["Stream"] == {"Fn::GetAtt": ["AlertsTable", "StreamArn"]}
        for e in live.get("Events", {}).values()
    ),
    "the live function reads the alerts stream (apart from notify: push never holds SNS back)",
)
check(
    "VIGIL_WS_ENDPOINT" not in notify.get("Environment", {}).get("Variables", {}),
    "notify does not push (SNS and push share no invocation)",
)

for failure in failures:
    print(f"template check failed: {failure}")
sys.exit(1 if failures else 0)
