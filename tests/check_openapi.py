"""openapi.yaml against the running local stack (scripts/local-stack.sh). Run by
scripts/check-local-stack.sh after the events check; needs `source .local/env`.

1. openapi-spec-validator validates the document (OpenAPI 3.1).
2. A copy with the local stack's paths (/lambda-url/<binary>/auth/… for /auth/…), nothing else
   changed, goes to .local/openapi/.
3. Schemathesis runs three passes against the functions, each with a fixed seed and a bounded
   number of examples (OPENAPI_EXAMPLES per operation and phase), with a live session from
   tests/openapi_hooks.py (a fresh one for every logout). Every pass must pass every check
   below and reach the outcomes it is there for (tallied by the hooks), so that a session that
   silently stopped working, or a logout that leaves its session alive, cannot pass for a
   conforming API.

Loopback only; the native pass starts its own `cargo lambda watch` and stops it."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# OPENAPI_WORK: elsewhere, for a run beside another one.
WORK = os.environ.get("OPENAPI_WORK", os.path.join(ROOT, ".local", "openapi"))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
LOCAL_PATHS = {
    # Each function matches the end of the path it is sent, as behind API Gateway.
    "/auth/createConnectToken": "/lambda-url/create-connect-token/auth/createConnectToken",
    "/auth/verifySignedPasskeyData": "/lambda-url/verify-signed-passkey-data/auth/verifySignedPasskeyData",
    "/auth/session": "/lambda-url/session/auth/session",
    "/auth/sessions": "/lambda-url/session/auth/sessions",
}
EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "300"))
SEED = os.environ.get("OPENAPI_SEED", "20261125")

# Every response must be documented: status, content type, headers (Cache-Control, Set-Cookie,
# Allow) and body schema, which lists the error codes valid for each status; no 5xx at all;
# schema-invalid requests must be refused; methods a path does not list must get 405 with Allow.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
]
# Left out:
# - positive_data_acceptance expects schema-valid requests to succeed. A schema cannot say that
#   the JWT payload must be a JSON object with a webauthnId, so most schema-valid
#   signedPasskeyData are rightly refused (400), and createConnectToken needs a live session.
# - missing_required_header: no operation has a required header parameter.
# - allow_header_conformance reads the Allow header of OPTIONS answers, and OPTIONS never reaches
#   the functions (cargo lambda watch answers preflights itself, as API Gateway does). Each 405's
#   `Allow` is checked by response_headers_conformance and unsupported_method.
# - use_after_free, ensure_resource_availability, object_level_authorization: for resources
#   created, read and deleted through links; these endpoints have none.
# - ignored_auth, except in the native pass: with NATIVE_APP_SESSIONS off, a bearer token is
#   refused with 400 native_sessions_disabled by design, which it takes for auth not enforced.

# The refusals schemathesis may count as rejecting schema-invalid input (its default list also
# allows 404, 409, 422, 5xx and more, which these endpoints never mean).
NEGATIVE_STATUSES = ["400", "401", "403", "413", "415"]

CONFIG = f"""
[auth]
# Log in through the hooks only: no guessing of sign-up and login operations.
auto-signup = false

# Every run starts from nothing: no examples or failures kept from earlier runs.
[generation]
database = "none"

[cache]
enabled = false

[checks.negative_data_rejection]
expected-statuses = {json.dumps(NEGATIVE_STATUSES)}
"""


@dataclass
class Pass:
    name: str
    session: str  # "cookie" or "bearer" (tests/openapi_hooks.py)
    native: bool  # NATIVE_APP_SESSIONS of the functions under test
    origin: str | None
    # (operationId, status, code) outcomes this pass must reach. For a 200 the code is None, or
    # how a login handed over its session ("cookie" or "sessionToken"), or "cleared" for a
    # logout that cleared the cookie, or "ended" for a logout after which the session it was
    # shown no longer served (the hooks ask getSession).
    must_reach: set = field(default_factory=set)
    examples: int = EXAMPLES
    extra_checks: tuple = ()
    # Whether every logout that answers 200 must clear the cookie (no bearer token is honoured).
    logouts_clear: bool = False


CREATE, VERIFY = "createConnectToken", "verifySignedPasskeyData"
SESSION, LOGOUT, EVERYWHERE = "getSession", "logout", "logoutEverywhere"
LOGOUTS = (LOGOUT, EVERYWHERE)


def passes(allowed_origin: str) -> list:
    return [
        # A browser page on an allowed origin: session in the cookie, native sessions off.
        Pass("browser", "cookie", False, allowed_origin, {
            (CREATE, 200, None), (VERIFY, 200, "cookie"),
            (CREATE, 400, "unknown_token_type"), (CREATE, 400, "invalid_request"),
            (VERIFY, 400, "invalid_signed_passkey_data"), (VERIFY, 400, "malformed_json"),
            (VERIFY, 400, "native_sessions_disabled"),
            (CREATE, 405, "method_not_allowed"), (VERIFY, 415, "unsupported_media_type"),
            (SESSION, 200, None), (LOGOUT, 200, "cleared"), (EVERYWHERE, 200, "cleared"),
            (LOGOUT, 200, "ended"), (EVERYWHERE, 200, "ended"),
            (SESSION, 405, "method_not_allowed"), (EVERYWHERE, 405, "method_not_allowed"),
        }, logouts_clear=True),
        # A page on another site: every login, every logout and every cookie request is refused.
        Pass("foreign-site", "cookie", False, "https://attacker.example", {
            (CREATE, 403, "origin_not_allowed"), (VERIFY, 403, "origin_not_allowed"),
            (SESSION, 403, "origin_not_allowed"), (LOGOUT, 403, "origin_not_allowed"),
            (EVERYWHERE, 403, "origin_not_allowed"),
        }, examples=20, logouts_clear=True),
        # A native app: no Origin, the token in the body and back as a bearer token; logouts
        # answer it without a cookie.
        Pass("native-app", "bearer", True, None, {
            (CREATE, 200, None), (VERIFY, 200, "sessionToken"),
            (CREATE, 400, "unknown_token_type"), (VERIFY, 400, "invalid_signed_passkey_data"),
            (SESSION, 200, None), (LOGOUT, 200, None), (EVERYWHERE, 200, None),
            (LOGOUT, 200, "ended"), (EVERYWHERE, 200, "ended"),
            (EVERYWHERE, 401, "session_required"),
        }, extra_checks=("ignored_auth",)),
    ]


def read_document() -> dict:
    with open(os.path.join(ROOT, "openapi.yaml")) as f:
        return yaml.safe_load(f)


def local_document() -> str:
    doc = read_document()
    if set(doc["paths"]) != set(LOCAL_PATHS):
        raise SystemExit(f"openapi.yaml paths {sorted(doc['paths'])} are not {sorted(LOCAL_PATHS)}")
    doc["paths"] = {LOCAL_PATHS[p]: v for p, v in doc["paths"].items()}
    doc.pop("servers", None)
    path = os.path.join(WORK, "openapi.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"cargo lambda watch exited ({process.returncode}); see {WORK}/native-stack.log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"cargo lambda watch did not listen on 127.0.0.1:{port}")


def start_native_functions() -> tuple:
    """Both functions with NATIVE_APP_SESSIONS=true under a `cargo lambda watch` of their own,
    against the stack's emulators and Corbado stand-in."""
    port = free_port()
    env = dict(os.environ, NATIVE_APP_SESSIONS="true", PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    with open(os.path.join(WORK, "native-stack.log"), "w") as log:
        process = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    wait_for_port(port, process)
    return port, process


def stop(process: subprocess.Popen) -> None:
    # cargo lambda watch does not always stop on TERM (see stop_all in scripts/lib.sh).
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass


def run_pass(p: Pass, document: str, config: str, port: int) -> bool:
    base_url = f"http://127.0.0.1:{port}"
    tally = os.path.join(WORK, f"{p.name}.tally")
    output = os.path.join(WORK, f"{p.name}.txt")
    open(tally, "w").close()
    command = [
        f"{VENV_BIN}/st", "--config-file", config, "run", document, "--url", base_url,
        "--checks", ",".join(CHECKS + list(p.extra_checks)),
        # One worker: Hypothesis describes strategies with ast.parse, which is not thread-safe on
        # Python 3.11 (SystemError: AST constructor recursion depth mismatch).
        "--max-examples", str(p.examples), "--seed", SEED, "--workers", "1",
        "--request-timeout", "20", "--continue-on-failure",
    ]
    if p.origin:
        command += ["--header", f"Origin: {p.origin}"]
    # No __pycache__ in tests/: it is a workspace crate, and cargo lambda watch reloads on changes.
    env = dict(os.environ, SCHEMATHESIS_HOOKS="openapi_hooks", PYTHONPATH=os.path.join(ROOT, "tests"),
               PYTHONDONTWRITEBYTECODE="1",
               OPENAPI_BASE_URL=base_url, OPENAPI_SESSION=p.session, OPENAPI_TALLY=tally,
               NO_COLOR="1")
    started = time.monotonic()
    with open(output, "w") as out:
        code = subprocess.run(command, cwd=WORK, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    elapsed = time.monotonic() - started
    text = open(output).read()

    outcomes, statuses, deliveries, ended, uncleared = Counter(), Counter(), Counter(), Counter(), 0
    for line in open(tally):
        r = json.loads(line)
        if r["method"] == "OPTIONS":
            continue  # answered by cargo lambda watch (CORS preflight), never by the functions
        how = None
        if r["operation"] == VERIFY and r["status"] == 200:
            how = {(True, False): "cookie", (False, True): "sessionToken"}.get((r["cookie"], r["sessionToken"]))
            deliveries[how] += 1
        elif r["operation"] in LOGOUTS and r["status"] == 200:
            how = "cleared" if r["clearsCookie"] else None
            uncleared += how is None
            if r["ended"] is not None:
                ended[(r["operation"], r["ended"])] += 1
        outcomes[(r["operation"], r["status"], r["code"] or how)] += 1
        statuses[r["status"]] += 1
    generated = next((l.strip() for l in text.splitlines() if " generated" in l), "no test cases")
    problems = []
    if code != 0:
        problems.append(f"schemathesis failed (exit {code}); its report is in {WORK}/{p.name}.txt")
    reached = set(outcomes) | {(operation, 200, "ended") for operation, yes in ended if yes}
    missing = sorted(p.must_reach - reached, key=str)
    if missing:
        problems.append(f"never reached: {missing}")
    # What the document cannot tie together: a login hands over its session exactly one way,
    # a logout ends the session it was shown, and clears the cookie of a browser.
    if deliveries[None]:
        problems.append(f"{deliveries[None]} logins with neither or both of Set-Cookie and sessionToken")
    alive = {operation: n for (operation, yes), n in ended.items() if not yes}
    if alive:
        problems.append(f"logouts that answered 200 and left their session alive: {alive}")
    if p.logouts_clear and uncleared:
        problems.append(f"{uncleared} logouts answered 200 without clearing the cookie")
    print(("FAIL " if problems else "ok   ")
          + f"{p.name}: {generated}, {sum(outcomes.values())} responses "
          + f"({', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))}) in {elapsed:.0f} s"
          + ("" if not problems else "\n     " + "\n     ".join(problems)))
    if code != 0:
        # Schemathesis prints Cookie and Authorization values as [Filtered].
        report = text[text.find("FAILURES"):] if "FAILURES" in text else text[-4000:]
        print(report[:6000])
    return not problems


def login_example() -> str:
    operation = read_document()["paths"]["/auth/verifySignedPasskeyData"]["post"]
    return operation["requestBody"]["content"]["application/json"]["examples"]["browser"]["value"]["signedPasskeyData"]


def clearing_cookie() -> str:
    """The Set-Cookie with which logouts clear the session cookie."""
    return read_document()["components"]["headers"]["ClearingCookie"]["schema"]["const"]


def directed(document: str, port: int) -> list:
    """Answers that generated requests do not reach, each checked for its status and code and
    against the document. Needs NATIVE_APP_SESSIONS off (the stack's own functions)."""
    from schemathesis import checks as generic
    from schemathesis.specs.openapi import checks as openapi

    schema = schemathesis.openapi.from_path(document)
    create = schema[LOCAL_PATHS["/auth/createConnectToken"]]["POST"]
    verify = schema[LOCAL_PATHS["/auth/verifySignedPasskeyData"]]["POST"]
    session = schema[LOCAL_PATHS["/auth/session"]]["GET"]
    logout = schema[LOCAL_PATHS["/auth/session"]]["DELETE"]
    everywhere = schema[LOCAL_PATHS["/auth/sessions"]]["DELETE"]
    jwt = login_example()
    padding = "x" * 16_400  # the body limit is 16,384 bytes
    unknown = {"Cookie": "__Host-session=" + "A" * 43}
    bearer = {"Authorization": "Bearer " + "A" * 43}
    cleared = clearing_cookie()
    # (name, operation, JSON body or None, headers, status, code; for a logout's 200, "cleared")
    cases = [
        # The Corbado stand-in answers invalid_signature for a JWT whose signature part is "invalid".
        ("Corbado refuses the signature", verify, {"signedPasskeyData": jwt.rsplit(".", 1)[0] + ".invalid"}, {},
         401, "invalid_signature"),
        ("login body over 16 KiB", verify, {"signedPasskeyData": jwt, "padding": padding}, {},
         413, "payload_too_large"),
        ("connect-token body over 16 KiB", create, {"type": "passkey-list", "padding": padding}, {},
         413, "payload_too_large"),
        ("no session", create, {"type": "passkey-list"}, {}, 401, "session_required"),
        ("unknown session", create, {"type": "passkey-list"}, unknown, 401, "session_invalid"),
        ("bearer token, native sessions off", create, {"type": "passkey-list"}, bearer,
         400, "native_sessions_disabled"),
        ("login from Origin: null", verify, {"signedPasskeyData": jwt}, {"Origin": "null"}, 403, "origin_not_allowed"),
        ("getSession without a session", session, None, {}, 401, "session_required"),
        ("getSession, unknown session", session, None, unknown, 401, "session_invalid"),
        ("getSession, two session cookies", session, None, {"Cookie": "__Host-session=a; __Host-session=b"},
         401, "session_ambiguous"),
        ("getSession, bearer token, native sessions off", session, None, bearer, 400, "native_sessions_disabled"),
        ("logout without a session", logout, None, {}, 200, "cleared"),
        ("logout, unknown session", logout, None, unknown, 200, "cleared"),
        # A logout never refuses over an Authorization header: it ends the cookie's session.
        ("logout, bearer token, native sessions off", logout, None, bearer, 200, "cleared"),
        ("logout from Origin: null", logout, None, {"Origin": "null"}, 403, "origin_not_allowed"),
        ("logoutEverywhere without a session", everywhere, None, {}, 401, "session_required"),
        ("logoutEverywhere, unknown session", everywhere, None, unknown, 401, "session_invalid"),
    ]
    conformance = [generic.not_a_server_error, openapi.status_code_conformance, openapi.content_type_conformance,
                   openapi.response_headers_conformance, openapi.response_schema_conformance]
    outcomes = []
    for name, operation, body, headers, status, code in cases:
        if body is None:
            case = operation.Case(headers=headers)
        else:
            case = operation.Case(body=body, media_type="application/json", headers=headers)
        response = case.call(base_url=f"http://127.0.0.1:{port}")
        problems = []
        try:
            got = json.loads(response.content).get("code")
        except (ValueError, AttributeError):
            got = None
        if response.status_code == 200 and response.headers.get("set-cookie") == [cleared]:
            got = "cleared"
        if (response.status_code, got) != (status, code):
            problems.append(f"got {response.status_code} {got}, expected {status} {code}")
        try:
            case.validate_response(response, checks=conformance)
        except Exception as error:  # schemathesis raises one failure or a group of them
            problems.append(str(error).strip().replace("\n", "\n     "))
        print(("FAIL " if problems else "ok   ") + f"directed: {name}: {status} {code}"
              + ("" if not problems else "\n     " + "\n     ".join(problems)))
        outcomes.append(not problems)
    return outcomes


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    spec, _ = read_from_filename(os.path.join(ROOT, "openapi.yaml"))
    validate(spec)  # raises, with the reason, on an invalid document
    print("ok   openapi.yaml is a valid OpenAPI 3.1 document")
    document = local_document()
    config = os.path.join(WORK, "schemathesis.toml")
    with open(config, "w") as f:
        f.write(CONFIG)

    # Logins use the document's example JWT, which only the Corbado stand-in accepts; and nothing
    # may leave loopback.
    if not os.environ.get("CORBADO_BACKEND_API", "").startswith(("https://127.0.0.1:", "http://127.0.0.1:")):
        raise SystemExit("CORBADO_BACKEND_API is not the local Corbado stand-in: source .local/env of a local stack without Corbado credentials")
    stack_port = int(os.environ["LAMBDA_URL"].split(":")[2].split("/")[0])
    allowed = [o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]
    if not allowed:
        raise SystemExit("ALLOWED_ORIGINS is not set: source .local/env of a running local stack")
    outcomes = [True] + directed(document, stack_port)
    for p in passes(allowed[0]):
        if p.native:
            port, process = start_native_functions()
            try:
                outcomes.append(run_pass(p, document, config, port))
            finally:
                stop(process)
        else:
            outcomes.append(run_pass(p, document, config, stack_port))
    print(f"openapi: {outcomes.count(True)} passed, {outcomes.count(False)} failed")
    return 0 if all(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
