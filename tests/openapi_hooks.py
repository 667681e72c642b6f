"""Schemathesis hooks for tests/check_openapi.py (loaded through SCHEMATHESIS_HOOKS).

createConnectToken and getSession need a live session to reach their success paths: this logs
in once through verifySignedPasskeyData against the Corbado stand-in, with the login example of
openapi.yaml, and sends the session as the cookie (OPENAPI_SESSION=cookie) or as a bearer
token from a body-delivery login (OPENAPI_SESSION=bearer, needs NATIVE_APP_SESSIONS=true).
logout and logoutEverywhere end the session they are shown, so each of their requests gets a
fresh session, of another user than the shared session's, which logging out everywhere would
end too.
verifySignedPasskeyData gets no session from here: a successful login revokes the session it
is shown, which would end the one createConnectToken uses.

Every answer is also tallied (operation, status, code; no values) to OPENAPI_TALLY, so that
the check can tell that the success and refusal paths were reached; and a logout that
answered 200 for a session from here is followed by a getSession with that session, which
tells whether the session really ended."""

import base64
import json
import os
import threading
import urllib.error
import urllib.request
from http.cookies import SimpleCookie

import schemathesis

from check_openapi import clearing_cookie, login_example

BASE_URL = os.environ["OPENAPI_BASE_URL"]  # where the local copy's paths start
SESSION = os.environ["OPENAPI_SESSION"]
TALLY = os.environ["OPENAPI_TALLY"]
_tally_lock = threading.Lock()
COOKIE = "__Host-session"
# logoutEverywhere ends every session of its user: the fresh sessions belong to another one.
FRESH_SESSION_USER = "openapi-logout-user"
LOGOUTS = ("logout", "logoutEverywhere")
CLEARING_COOKIE = clearing_cookie()
# Sessions handed to logout requests and not yet looked at after their answer.
_fresh_tokens = set()


def _signed_passkey_data(webauthn_id: str | None) -> str:
    """The document's login example, or the same JWT for another user (the stand-in checks no
    signature, only that webauthnId is the username it is sent)."""
    example = login_example()
    if webauthn_id is None:
        return example
    header, _, signature = example.split(".")
    claims = json.dumps({"sub": "usr-openapi", "webauthnId": webauthn_id, "credential": "cre-1"})
    payload = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


def _login(webauthn_id: str | None = None) -> str:
    body = {"signedPasskeyData": _signed_passkey_data(webauthn_id)}
    if SESSION == "bearer":
        body["sessionDelivery"] = "body"
    request = urllib.request.Request(
        f"{BASE_URL}/lambda-url/verify-signed-passkey-data/auth/verifySignedPasskeyData",
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


def _present(case, token: str) -> None:
    if SESSION == "bearer":
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    else:
        case.cookies = {**(case.cookies or {}), COOKIE: token}


# One login a pass (refresh_interval covers a whole run); retry_on=[]: a 401 is reported,
# not hidden by a fresh login.
@schemathesis.auth(refresh_interval=600, retry_on=[]).apply_to(operation_id=["createConnectToken", "getSession"])
class LocalSession:
    def get(self, case, context):
        return _login()

    def set(self, case, token, context):
        _present(case, token)


# refresh_interval=None: no caching, a login for every request.
@schemathesis.auth(refresh_interval=None).apply_to(operation_id=list(LOGOUTS))
class FreshSession:
    def get(self, case, context):
        token = _login(FRESH_SESSION_USER)
        _fresh_tokens.add(token)
        return token

    def set(self, case, token, context):
        _present(case, token)


def _session_ended(response) -> bool | None:
    """For a logout that presented one fresh session from here and answered 200: whether
    getSession now refuses that session. None for other answers, and for requests that
    presented no such session or more than one session cookie."""
    request = response.request
    cookie = request.headers.get("Cookie", "")
    authorization = request.headers.get("Authorization", "")
    presented = [t for t in _fresh_tokens if t in cookie or t in authorization]
    _fresh_tokens.difference_update(presented)
    if response.status_code != 200 or len(presented) != 1 or cookie.count(f"{COOKIE}=") > 1:
        return None
    token = presented[0]
    if SESSION == "bearer" and token in authorization:
        headers = {"Authorization": f"Bearer {token}"}
    elif token in cookie and not authorization:
        headers = {"Cookie": f"{COOKIE}={token}"}
    else:
        return None
    check = urllib.request.Request(f"{BASE_URL}/lambda-url/session/auth/session", headers=headers)
    try:
        with urllib.request.urlopen(check, timeout=30):
            return False
    except urllib.error.HTTPError as refused:
        return refused.code == 401


@schemathesis.hook
def filter_body(context, body):
    # A body sent as application/json that is not UTF-8 never reaches the function locally:
    # cargo lambda watch cannot put it into the event and answers its own 500. The function's
    # answer to such bytes (400 malformed_json) is tested in tests/tests/it/hardening.rs.
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
    operation = case.operation.definition.raw.get("operationId")
    line = {
        "operation": operation,
        "method": case.method.upper(),
        "status": response.status_code,
        "code": body.get("code"),
        "cookie": "set-cookie" in response.headers,
        "clearsCookie": response.headers.get("set-cookie") == [CLEARING_COOKIE],
        "sessionToken": "sessionToken" in body,
        # OPTIONS: a CORS preflight, answered by cargo lambda watch without the function.
        "ended": _session_ended(response) if operation in LOGOUTS and case.method.upper() != "OPTIONS" else None,
    }
    with _tally_lock, open(TALLY, "a") as f:
        f.write(json.dumps(line) + "\n")
