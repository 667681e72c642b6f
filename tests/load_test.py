"""Load with nothing lost: many concurrent passkey logins, each followed by a
createConnectToken with the session it received, through the real function
binaries (cargo lambda watch) against DynamoDB Local and the Corbado stand-in.
Bounded in count and time, loopback only. Run by scripts/check-local-stack.sh.

Checks: every request answered correctly (200, a cookie, a connect token),
no 5xx, every session readable right after it was created, and exactly one
table item per login."""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3

BASE = os.environ.get("LAMBDA_URL", "http://127.0.0.1:9000/lambda-url")
PAIRS = int(os.environ.get("LOAD_PAIRS", "2000"))
WORKERS = int(os.environ.get("LOAD_WORKERS", "16"))
DEADLINE = time.monotonic() + float(os.environ.get("LOAD_SECONDS", "240"))


def b64url(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


HEADER = b64url('{"alg":"RS256"}')


def post(path: str, body: dict, cookie: str = None):
    request = urllib.request.Request(f"{BASE}/{path}", data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    if cookie:
        request.add_header("cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def pair(n: int):
    if time.monotonic() > DEADLINE:
        return "skipped"
    user = f"load-user-{n}"
    claims = b64url(json.dumps({"sub": f"usr-{n}", "webauthnId": user}))
    jwt = f"{HEADER}.{claims}.c2ln"
    status, headers, body = post("verify-signed-passkey-data/auth/verifySignedPasskeyData", {"signedPasskeyData": jwt})
    if status != 200 or body != {"success": True}:
        return f"login {status} {body}"
    cookies = headers.get_all("set-cookie") or []
    if len(cookies) != 1:
        return f"login cookies {cookies}"
    cookie = cookies[0].split(";")[0]
    status, _, body = post("create-connect-token/auth/createConnectToken", {"type": "passkey-list"}, cookie)
    if status != 200 or not str(body.get("connectToken", "")).startswith("ctk1_"):
        return f"connect token {status} {body}"
    return "ok"


def main() -> int:
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(pair, range(PAIRS)))
    elapsed = time.monotonic() - started
    done = [o for o in outcomes if o != "skipped"]
    failures = [o for o in done if o != "ok"]
    server_errors = [o for o in failures if " 5" in o[:16]]
    table = boto3.resource("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"]).Table(os.environ["SESSIONS_TABLE"])
    items, kwargs = [], {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items += [i for i in page["Items"] if i["userId"].startswith("load-user-")]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    users = {i["userId"] for i in items}
    ok = len(done) - len(failures)
    print(f"load: {ok} login+connect-token pairs in {elapsed:.1f} s ({2 * ok / elapsed:.0f} requests/s, "
          f"{WORKERS} clients), {len(failures)} failed ({len(server_errors)} 5xx), "
          f"{len(done) - ok + PAIRS - len(done)} not run, {len(items)} items for {len(users)} users")
    for failure in failures[:5]:
        print(f"  {failure}")
    lost = len(items) != ok or len(users) != ok
    if lost:
        print(f"  table holds {len(items)} items for {len(users)} users, expected {ok}")
    if len(done) < PAIRS // 2:
        print("  fewer than half the pairs ran within the time bound")
    passed = not failures and not lost and len(done) >= PAIRS // 2
    print(f"load: {1 if passed else 0} passed, {0 if passed else 1} failed")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
