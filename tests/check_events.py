"""Sends every event file in events/ through `cargo lambda invoke` to the
functions served by `cargo lambda watch` (the real Lambda runtime API and
lambda_http's own serialisation), and checks what each must produce
(events/expected.json). Run by scripts/check-local-stack.sh against the local stack."""

import json
import os
import subprocess
import sys
import tempfile

PLACEHOLDER = "REPLACE_WITH_A_TOKEN_FROM_connect-session"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fresh_session() -> str:
    return subprocess.run(
        [f"{ROOT}/target/debug/connect-session", "create", "--user-id", "user-42", "--display-name", "Jane Doe"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def invoke(function: str, event: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(event)
        f.flush()
        out = subprocess.run(
            ["cargo", "lambda", "invoke", function, "--data-file", f.name, "-o", "json",
             "-A", "127.0.0.1", "-P", os.environ.get("LAMBDA_PORT", "9000")],
            check=True, capture_output=True, text=True,
        ).stdout
    return json.loads(out)


def check(path: str, expected: dict) -> list:
    function = path.split("/")[0]
    event = open(os.path.join(ROOT, "events", path)).read()
    if expected.get("session"):
        event = event.replace(PLACEHOLDER, fresh_session())
    response = invoke(function, event)
    body = json.loads(response["body"])
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
    elif body != {"success": True}:
        problems.append(f"body {body} is not success")
    cookies = response.get("cookies") or []
    if expected.get("setsCookie"):
        attributes = "; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=10800"
        if len(cookies) != 1 or not cookies[0].startswith("__Host-session=") or not cookies[0].endswith(attributes):
            problems.append(f"cookies {cookies} are not one secure session cookie")
    elif cookies:
        problems.append(f"unexpected cookies {cookies}")
    return problems


def main() -> int:
    manifest = json.load(open(os.path.join(ROOT, "events", "expected.json")))["events"]
    on_disk = {
        f"{d}/{f}" for d in ("create-connect-token", "verify-signed-passkey-data")
        for f in os.listdir(os.path.join(ROOT, "events", d))
    }
    failed = 0
    for missing in sorted(on_disk ^ set(manifest)):
        print(f"FAIL {missing}: in events/ or expected.json but not both")
        failed += 1
    for path, expected in manifest.items():
        problems = check(path, expected)
        print(("FAIL " if problems else "ok   ") + path + ("" if not problems else ": " + "; ".join(problems)))
        failed += bool(problems)
    print(f"events: {len(manifest) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
