"""Sends every event file in events/ through `cargo lambda invoke` to the
functions served by `cargo lambda watch` (the real Lambda runtime API and
lambda_http's own serialisation), and checks what each must produce
(events/expected.json). Run by scripts/check-local-stack.sh against the local stack,
whose log is LOCAL_STACK_LOG (default .local/local-stack.log).

With SAM_LOCAL_INVOKE set (a JSON list: the `sam local invoke` command up to the
function's logical id), each event goes through SAM's local runtime instead, one
container per event, and the logs checked are what those containers printed
(scripts/sam-local.sh)."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

PLACEHOLDER = "REPLACE_WITH_A_TOKEN_FROM_connect-session"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTIONS = ("create-connect-token", "verify-signed-passkey-data", "session", "session-authorizer")
SESSION_TTL_SECONDS = 10800  # the local stack's default
CLEARING_COOKIE = "__Host-session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
# Body fields whose value differs from run to run (expected.json describes them in words), and
# what each must be.
VARIABLE = {
    "expiresAt": lambda v, now: isinstance(v, int) and now < v <= now + SESSION_TTL_SECONDS + 60,
    "revoked": lambda v, now: isinstance(v, int) and v >= 1,
}


def fresh_session() -> str:
    return subprocess.run(
        [f"{ROOT}/target/debug/connect-session", "create", "--user-id", "user-42", "--display-name", "Jane Doe"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


class CargoLambda:
    """`cargo lambda invoke` against `cargo lambda watch`, whose log is the local stack's."""

    def invoke(self, function: str, event_file: str) -> dict:
        out = subprocess.run(
            ["cargo", "lambda", "invoke", function, "--data-file", event_file, "-o", "json",
             "-A", "127.0.0.1", "-P", os.environ.get("LAMBDA_PORT", "9000")],
            check=True, capture_output=True, text=True,
        ).stdout
        return json.loads(out)

    def log(self) -> str:
        path = os.environ.get("LOCAL_STACK_LOG", os.path.join(ROOT, ".local", "local-stack.log"))
        return open(path, errors="replace").read()


class SamLocalInvoke:
    """`sam local invoke`: the response on stdout, the container's output on stderr.

    Podman's Docker API sometimes loses the start of a container's output from the
    attach stream SAM reads (containers/podman#26951); an invocation whose output
    lacks the runtime's START or REPORT line is repeated, so that every event's log
    is checked whole."""

    LOGICAL_IDS = {
        "create-connect-token": "CreateConnectTokenFunction",
        "verify-signed-passkey-data": "VerifySignedPasskeyDataFunction",
        "session": "SessionFunction",
        "session-authorizer": "SessionAuthorizerFunction",
    }
    ATTEMPTS = 8

    def __init__(self, command: list):
        self.command = command
        self.logs = []
        self.repeated = 0

    def invoke(self, function: str, event_file: str) -> dict:
        for _ in range(self.ATTEMPTS):
            run = subprocess.run(
                self.command + [self.LOGICAL_IDS[function], "--event", event_file],
                capture_output=True, text=True,
            )
            if run.returncode != 0:
                sys.exit(f"sam local invoke {function} failed:\n{run.stderr}")
            if "START RequestId:" in run.stderr and "REPORT RequestId:" in run.stderr:
                self.logs.append(run.stderr)
                return json.loads(run.stdout)
            self.repeated += 1
        sys.exit(f"sam local invoke {function}: the container's output was lost {self.ATTEMPTS} times")

    def log(self) -> str:
        if self.repeated:
            print(f"note: {self.repeated} invocations repeated because their output was lost")
        return "".join(self.logs)


def invoke(invoker, function: str, event: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(event)
        f.flush()
        return invoker.invoke(function, f.name)


def signed_passkey_data_of(event: dict):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    try:
        return json.loads(body).get("signedPasskeyData")
    except (ValueError, AttributeError):
        return None


# Values that must never appear in the functions' logs.
SECRETS = {"corbado1_local_standin_secret"}


def check(invoker, path: str, expected: dict) -> list:
    function = path.split("/")[0]
    event = open(os.path.join(ROOT, "events", path)).read()
    if expected.get("session"):
        token = fresh_session()
        SECRETS.add(token)
        event = event.replace(PLACEHOLDER, token)
    signed = signed_passkey_data_of(json.loads(event))
    if isinstance(signed, str) and len(signed) > 20:
        SECRETS.add(signed)
    response = invoke(invoker, function, event)
    if function == "session-authorizer":
        return check_authorizer(response, expected)
    body = json.loads(response["body"])
    SECRETS.update(str(body[k]) for k in ("connectToken", "sessionToken") if k in body)
    # A clearing cookie has no value.
    SECRETS.update(filter(None, (c.split(";")[0].split("=", 1)[1] for c in response.get("cookies") or [])))
    problems = []
    if response["statusCode"] != expected["status"]:
        problems.append(f"status {response['statusCode']} != {expected['status']}")
    if response["headers"].get("content-type") != "application/json":
        problems.append("content-type is not application/json")
    if "code" in expected:
        if body.get("code") != expected["code"] or not body.get("error") or set(body) != {"error", "code"}:
            problems.append(f"body {body} is not the {expected['code']} error")
    elif function == "create-connect-token":
        if not str(body.get("connectToken", "")).startswith("ctk1_"):
            problems.append(f"body {body} has no connect token")
    elif not body_matches(body, expected.get("body", {"success": True})):
        problems.append(f"body {body} is not {expected.get('body', {'success': True})}")
    cookies = response.get("cookies") or []
    if expected.get("setsCookie"):
        attributes = "; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=10800"
        if len(cookies) != 1 or not cookies[0].startswith("__Host-session=") or not cookies[0].endswith(attributes):
            problems.append(f"cookies {cookies} are not one secure session cookie")
    elif expected.get("clearsCookie"):
        if cookies != [CLEARING_COOKIE]:
            problems.append(f"cookies {cookies} are not the one that clears the session cookie")
    elif cookies:
        problems.append(f"unexpected cookies {cookies}")
    return problems


def body_matches(body: dict, expected: dict) -> bool:
    now = int(time.time())
    if set(body) != set(expected):
        return False
    return all(VARIABLE[k](v, now) if k in VARIABLE else v == expected[k] for k, v in body.items())


def check_authorizer(response: dict, expected: dict) -> list:
    """An authorizer answers API Gateway, not a client: `isAuthorized` and, when authorized,
    the context the application's routes read."""
    want = {"isAuthorized": expected["authorized"]}
    if "context" in expected:
        want["context"] = expected["context"]
    return [] if response == want else [f"answer {response} is not {want}"]


def read_json_lines(log: str):
    """Our JSON lines out of a log shared with other processes.

    Each function writes a line with one write, so a line of ours is whole; but a
    process that writes its own lines in pieces (cargo's status lines) can put a
    piece before or after it on the same line. A line of ours that does not parse
    from its opening brace was itself cut apart: that is a defect."""
    decoder = json.JSONDecoder()
    lines, broken, interleaved = [], [], 0
    for line in log.splitlines():
        starts = [i for i in (line.find('{"timestamp"'), line.find('{"_aws"')) if i >= 0]
        if not starts:
            continue
        start = min(starts)
        try:
            value, end = decoder.raw_decode(line, start)
        except json.JSONDecodeError:
            broken.append(line)
            continue
        interleaved += start > 0 or bool(line[end:].strip())
        lines.append(value)
    return lines, broken, interleaved


def check_logs(log: str) -> int:
    """What the functions printed while serving the events (JSON lines as in
    Lambda): no secret, and every line of ours carries the invocation's request id."""
    leaked = [s[:12] + "…" for s in SECRETS if s and s in log]
    lines, broken, interleaved = read_json_lines(log)
    ours = [line for line in lines if "fields" in line]
    outcomes = [line for line in ours if line["fields"].get("message") in ("request completed", "request refused", "request failed")]
    without_id = [line for line in outcomes if "requestId" not in json.dumps(line.get("span", {}))]
    # CloudWatch Embedded Metric Format: one record per request, tied to its invocation.
    metrics = [line for line in lines if "_aws" in line]
    problems = []
    if len(metrics) != len(outcomes):
        problems.append(f"{len(metrics)} metric records for {len(outcomes)} requests")
    endpoints = ("createConnectToken", "verifySignedPasskeyData", "session", "logout", "logoutEverywhere", "authorizer")
    if any(not m.get("requestId") or m["Endpoint"] not in endpoints for m in metrics):
        problems.append("a metric record lacks its request id or endpoint")
    if broken:
        problems.append(f"{len(broken)} JSON lines of ours cut apart, e.g. {broken[0][:80]!r}")
    if leaked:
        problems.append(f"secrets in the log: {leaked}")
    if len(outcomes) < 10:
        problems.append(f"only {len(outcomes)} outcome lines in the log")
    if without_id:
        problems.append(f"{len(without_id)} outcome lines without the request id, e.g. {without_id[0]}")
    if interleaved:
        print(f"note: {interleaved} JSON lines of ours share a line with another process's output (written in pieces)")
    print(("FAIL " if problems else "ok   ") + f"logs: {len(ours)} JSON lines, {len(metrics)} metric records, {len(SECRETS)} secrets checked" + ("" if not problems else ": " + "; ".join(problems)))
    return 1 if problems else 0


def main() -> int:
    sam_command = os.environ.get("SAM_LOCAL_INVOKE")
    invoker = SamLocalInvoke(json.loads(sam_command)) if sam_command else CargoLambda()
    manifest = json.load(open(os.path.join(ROOT, "events", "expected.json")))["events"]
    on_disk = {f"{d}/{f}" for d in FUNCTIONS for f in os.listdir(os.path.join(ROOT, "events", d))}
    failed = 0
    for missing in sorted(on_disk ^ set(manifest)):
        print(f"FAIL {missing}: in events/ or expected.json but not both")
        failed += 1
    for path, expected in manifest.items():
        problems = check(invoker, path, expected)
        print(("FAIL " if problems else "ok   ") + path + ("" if not problems else ": " + "; ".join(problems)))
        failed += bool(problems)
    failed += check_logs(invoker.log())
    print(f"events: {len(manifest) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
