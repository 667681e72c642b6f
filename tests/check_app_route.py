"""An application's own route behind the SessionAuthorizer, through `sam local start-api`
(scripts/sam-local.sh): `GET /app/whoami` (tools/src/bin/app-whoami.rs, added to a copy of
template.yaml as the README shows) refused without a session, answered with the
authorizer's context for a live one, and refused again after `DELETE /auth/session`.

Environment: API_URL (start-api's base URL), ORIGIN (one of the functions' ALLOWED_ORIGINS),
SAM_LOG (start-api's log, checked for the session token), and what connect-session needs
(SESSIONS_TABLE and the emulators' AWS variables). Tokens are never printed."""

import http.client
import json
import os
import secrets
import subprocess
import sys
import time
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COOKIE = "__Host-session"
USER_ID = "app-route-user"
DISPLAY_NAME = "Ada Lovelace"
CLEARING_COOKIE = f"{COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"


def request(method: str, path: str, headers: dict) -> tuple:
    """(status, JSON body or None, Set-Cookie values)."""
    url = urlsplit(os.environ["API_URL"])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return response.status, body, response.msg.get_all("Set-Cookie") or []
    finally:
        connection.close()


def main() -> int:
    token = subprocess.run(
        [f"{ROOT}/target/debug/connect-session", "create", "--user-id", USER_ID, "--display-name", DISPLAY_NAME],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    session = {"Cookie": f"{COOKIE}={token}"}
    # Well-formed (32 random bytes, base64url) but in no table.
    unknown = {"Cookie": f"{COOKIE}={secrets.token_urlsafe(32)}"}
    results = []

    def expect(name: str, method: str, path: str, headers: dict, status: int, check=None):
        got, body, cookies = request(method, path, headers)
        problems = [] if got == status else [f"status {got} != {status}"]
        if check and got == status:
            problems += check(body, cookies)
        # Refusals show their body: API Gateway's (or SAM's) message, never a token.
        shown = f": {json.dumps(body)}" if got >= 400 and not problems else ""
        print(("FAIL " if problems else "ok   ") + f"{method} {path}, {name}: {got}{shown}"
              + ("" if not problems else ": " + "; ".join(problems)))
        results.append(not problems)

    def whoami(body, _cookies):
        expected = {"userId": USER_ID, "displayName": DISPLAY_NAME}
        return [] if body == expected else [f"body {body} is not {expected}"]

    def session_body(body, _cookies):
        ok = (isinstance(body, dict) and body.get("userId") == USER_ID and body.get("displayName") == DISPLAY_NAME
              and isinstance(body.get("expiresAt"), int) and body["expiresAt"] > time.time())
        return [] if ok else [f"body {body} is not this user's live session"]

    def logged_out(body, cookies):
        problems = [] if body == {"success": True} else [f"body {body} is not success"]
        if cookies != [CLEARING_COOKIE]:
            problems.append(f"cookies {cookies} are not the one clearing cookie")
        return problems

    def code(expected):
        return lambda body, _cookies: [] if isinstance(body, dict) and body.get("code") == expected else [f"body {body} lacks code {expected}"]

    expect("no Cookie header", "GET", "/app/whoami", {}, 401)
    expect("a Cookie header without the session cookie", "GET", "/app/whoami", {"Cookie": "theme=dark"}, 403)
    expect("an unknown session", "GET", "/app/whoami", unknown, 403)
    expect("a live session", "GET", "/app/whoami", session, 200, whoami)
    expect("a live session beside another cookie", "GET", "/app/whoami",
           {"Cookie": f"theme=dark; {session['Cookie']}"}, 200, whoami)
    expect("a live session", "GET", "/auth/session", session, 200, session_body)
    expect("logout", "DELETE", "/auth/session", {**session, "Origin": os.environ["ORIGIN"]}, 200, logged_out)
    expect("the session after logout", "GET", "/app/whoami", session, 403)
    expect("the session after logout", "GET", "/auth/session", session, 401, code("session_invalid"))

    leaked = token in open(os.environ["SAM_LOG"], errors="replace").read()
    print(("FAIL " if leaked else "ok   ") + "sam local start-api's log: " + ("holds the session token" if leaked else "no session token"))
    results.append(not leaked)

    failed = results.count(False)
    print(f"app route: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
