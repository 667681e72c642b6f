"""Schemathesis hooks for tests/check_openapi.py (loaded through SCHEMATHESIS_HOOKS).

createConnectToken needs a live session to reach its success path: this logs in once
through verifySignedPasskeyData against the Corbado stand-in, with the login example of
openapi.yaml, and sends the session as the cookie (OPENAPI_SESSION=cookie) or as a bearer
token from a body-delivery login (OPENAPI_SESSION=bearer, needs NATIVE_APP_SESSIONS=true).
verifySignedPasskeyData gets no session from here: a successful login revokes the session it
is shown, which would end the one createConnectToken uses.

Every answer is also tallied (operation, status, code; no values) to OPENAPI_TALLY, so that
the check can tell that the success and refusal paths were reached."""

import json
import os
import threading
import urllib.request
from http.cookies import SimpleCookie

import schemathesis

from check_openapi import login_example

BASE_URL = os.environ["OPENAPI_BASE_URL"]  # where the local copy's paths start
SESSION = os.environ["OPENAPI_SESSION"]
TALLY = os.environ["OPENAPI_TALLY"]
_tally_lock = threading.Lock()
COOKIE = "__Host-session"


def _login() -> str:
    body = {"signedPasskeyData": login_example()}
    if SESSION == "bearer":
        body["sessionDelivery"] = "body"
    request = urllib.request.Request(
        f"{BASE_URL}/lambda-url/verify-signed-passkey-data/",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if SESSION == "bearer":
            return json.loads(response.read())["sessionToken"]
        cookie = SimpleCookie()
        for header in response.headers.get_all("set-cookie") or []:
            cookie.load(header)
        return cookie[COOKIE].value


# One login a pass (refresh_interval covers a whole run); retry_on=[]: a 401 is reported,
# not hidden by a fresh login.
@schemathesis.auth(refresh_interval=600, retry_on=[]).apply_to(operation_id="createConnectToken")
class LocalSession:
    def get(self, case, context):
        return _login()

    def set(self, case, token, context):
        if SESSION == "bearer":
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        else:
            case.cookies = {**(case.cookies or {}), COOKIE: token}


@schemathesis.hook
def filter_body(context, body):
    # A body sent as application/json that is not UTF-8 never reaches the function locally:
    # cargo lambda watch cannot put it into the event and answers its own 500. The function's
    # answer to such bytes (400 malformed_json) is tested in tests/tests/hardening.rs.
    if isinstance(body, bytes):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def after_call(context, case, response):
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    line = {
        "operation": case.operation.definition.raw.get("operationId"),
        "method": case.method.upper(),
        "status": response.status_code,
        "code": body.get("code"),
        "cookie": "set-cookie" in response.headers,
        "sessionToken": "sessionToken" in body,
    }
    with _tally_lock, open(TALLY, "a") as f:
        f.write(json.dumps(line) + "\n")
