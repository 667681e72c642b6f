//! Random API Gateway HTTP API (payload 2.0) events, each one of the files in `events/` with
//! a few mutations, against DynamoDB Local, moto and a wiremock Corbado. Every event must get
//! a status and code that openapi.yaml documents for that function's routes, with a JSON
//! body ([`check`]). The same strategies run twice:
//! - in process, under `proptest!`, through the functions' own runtime path
//!   ([`integration_tests::respond`], which runs `connect_backend::http::runtime::handle`, the
//!   code the binaries run), each event with a session of its own: a failure shrinks to a
//!   minimal event;
//! - through each real function binary under the Lambda Runtime API
//!   (`connect_tools::runtime_api`), a few hundred events from a fixed seed, for what only a
//!   process shows: every event must get a `/response` (Lambda turns an `/error` post into a
//!   502 without our body), from the process that served the first. The failing events are
//!   written to `CARGO_TARGET_TMPDIR`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connect_tools::runtime_api::{FunctionProcess, Outcome};
use integration_tests::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};

use crate::runtime_support::*;

/// Events of each function's in-process run: the three take about a minute in all, one after
/// the other, on a 2-core machine.
const IN_PROCESS_CASES: u32 = 512;
/// How long the in-process run may spend shrinking a failure.
const SHRINK_TIME: Duration = Duration::from_secs(120);
const SEED: &[u8; 32] = b"corbado-connect-runtime-fuzz-01!";
/// Events each binary gets under the Runtime API.
const PROCESS_EVENTS: usize = 300;
/// Whatever the count, each binary's run stops sending after this long.
const TIME_BUDGET: Duration = Duration::from_secs(120);
const CONNECT_TOKEN_SECRET: &str = "ctk1_runtime_fuzz_connect_token_secret";
/// Who is logged in, logout and logout everywhere: `GET`/`DELETE /auth/session`, `DELETE /auth/sessions`.
const SESSION: &str = "session";

#[test]
fn create_connect_token_answers_every_event() {
    in_process(CREATE_CONNECT_TOKEN);
}

#[test]
fn verify_signed_passkey_data_answers_every_event() {
    in_process(VERIFY_SIGNED_PASSKEY_DATA);
}

#[test]
fn session_answers_every_event() {
    in_process(SESSION);
}

#[tokio::test]
async fn the_create_connect_token_binary_answers_a_sample_of_events() {
    under_the_runtime_api(CREATE_CONNECT_TOKEN).await;
}

#[tokio::test]
async fn the_verify_signed_passkey_data_binary_answers_a_sample_of_events() {
    under_the_runtime_api(VERIFY_SIGNED_PASSKEY_DATA).await;
}

#[tokio::test]
async fn the_session_binary_answers_a_sample_of_events() {
    under_the_runtime_api(SESSION).await;
}

/// openapi.yaml as JSON, read with the project's Python and PyYAML (as tests/check_openapi.py does).
fn openapi() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let python = root.join(".venv/bin/python");
    let output = std::process::Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(root.join("openapi.yaml"))
        .output()
        .unwrap_or_else(|err| panic!("{}: {err} (scripts/test.sh installs it)", python.display()));
    assert!(
        output.status.success(),
        "reading openapi.yaml: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("openapi.yaml as JSON")
}

/// What `schema` allows for `properties.code`, following `$ref`s: `None` when it does not
/// constrain it. `allOf` intersects (an error response narrows `Error`'s list of every code);
/// `oneOf` and `anyOf` unite.
fn codes_of(openapi: &Value, schema: &Value) -> Option<BTreeSet<String>> {
    if let Some(reference) = schema["$ref"].as_str() {
        let target = openapi
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("openapi.yaml: {reference} is missing"));
        return codes_of(openapi, target);
    }
    if let Some(code) = schema.get("properties").and_then(|p| p.get("code")) {
        let listed = code["enum"].as_array().into_iter().flatten();
        return Some(
            listed
                .chain(code.get("const"))
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        );
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts
            .iter()
            .filter_map(|part| codes_of(openapi, part))
            .reduce(|a, b| a.intersection(&b).cloned().collect());
    }
    let alternatives = schema["oneOf"].as_array().or(schema["anyOf"].as_array())?;
    alternatives
        .iter()
        .map(|alternative| codes_of(openapi, alternative))
        .collect::<Option<Vec<BTreeSet<String>>>>()
        .map(|sets| sets.into_iter().flatten().collect())
}

/// What openapi.yaml documents for a function's routes.
struct Documented {
    /// Every status, with the codes it may carry.
    statuses: BTreeMap<u64, BTreeSet<String>>,
    /// The `Allow` values of its 405s.
    allow: BTreeSet<String>,
}

/// The union of what openapi.yaml documents for the operations `function` serves, and the
/// `not_found` of a path it does not serve (every function routes by the end of its path).
fn documented(openapi: &Value, function: &str) -> Documented {
    let operations: &[(&str, &str)] = match function {
        CREATE_CONNECT_TOKEN => &[("/auth/createConnectToken", "post")],
        VERIFY_SIGNED_PASSKEY_DATA => &[("/auth/verifySignedPasskeyData", "post")],
        SESSION => &[
            ("/auth/session", "get"),
            ("/auth/session", "delete"),
            ("/auth/sessions", "delete"),
        ],
        _ => panic!("no routes known for {function}"),
    };
    let mut documented = Documented {
        statuses: BTreeMap::new(),
        allow: BTreeSet::new(),
    };
    for (route, method) in operations {
        let responses = openapi["paths"][route][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("openapi.yaml has no responses for {method} {route}"));
        for (status, response) in responses {
            // Shared responses are `$ref: '#/components/responses/<name>'`.
            let response = match response["$ref"].as_str() {
                Some(reference) => openapi
                    .pointer(reference.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("openapi.yaml: {reference} is missing")),
                None => response,
            };
            let status: u64 = status.parse().expect("a numeric status");
            let codes: BTreeSet<String> = response["content"]
                .as_object()
                .into_iter()
                .flat_map(|content| content.values())
                .filter_map(|media| codes_of(openapi, &media["schema"]))
                .flatten()
                .collect();
            assert!(
                status < 400 || !codes.is_empty(),
                "openapi.yaml: {method} {route} {status} lists no code"
            );
            documented.statuses.entry(status).or_default().extend(codes);
            if let Some(allow) = response["headers"]["Allow"]["schema"]["const"].as_str() {
                documented.allow.insert(allow.to_owned());
            }
        }
    }
    {
        let every_code = &openapi["components"]["schemas"]["Error"]["properties"]["code"]["enum"];
        assert!(
            every_code
                .as_array()
                .is_some_and(|codes| codes.contains(&json!("not_found"))),
            "openapi.yaml: the Error schema does not list not_found"
        );
        documented
            .statuses
            .insert(404, BTreeSet::from(["not_found".to_owned()]));
    }
    documented
}

// --- Mutations of an event ------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    Header(String, String),
    RemoveHeader(String),
    /// `None` removes the `cookies` array.
    Cookies(Option<Vec<String>>),
    /// `None` removes the field.
    Body {
        body: Option<String>,
        base64: Option<bool>,
    },
    Method(String),
    RawPath(String),
    RawQueryString(String),
    /// A JSON pointer into the event, and its new value.
    Field(&'static str, Value),
}

fn apply(mut event: Value, mutations: &[Mutation]) -> Value {
    for mutation in mutations {
        match mutation {
            Mutation::Header(name, value) => event["headers"][name] = json!(value),
            Mutation::RemoveHeader(name) => {
                event["headers"].as_object_mut().unwrap().remove(name);
            }
            Mutation::Cookies(None) => {
                event.as_object_mut().unwrap().remove("cookies");
            }
            Mutation::Cookies(Some(cookies)) => event["cookies"] = json!(cookies),
            Mutation::Body { body, base64 } => {
                let object = event.as_object_mut().unwrap();
                match body {
                    Some(body) => object.insert("body".into(), json!(body)),
                    None => object.remove("body"),
                };
                match base64 {
                    Some(base64) => object.insert("isBase64Encoded".into(), json!(base64)),
                    None => object.remove("isBase64Encoded"),
                };
            }
            Mutation::Method(method) => event["requestContext"]["http"]["method"] = json!(method),
            Mutation::RawPath(raw_path) => event["rawPath"] = json!(raw_path),
            Mutation::RawQueryString(query) => event["rawQueryString"] = json!(query),
            Mutation::Field(pointer, value) => {
                *event.pointer_mut(pointer).expect("the event has the field") = value.clone()
            }
        }
    }
    event
}

/// Short enough to read in a report: long strings are cut, with their length.
fn short(text: &str) -> String {
    if text.len() <= 48 {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(24).collect();
    format!("{cut:?}…({} bytes)", text.len())
}

fn describe(mutation: &Mutation) -> String {
    match mutation {
        Mutation::Header(name, value) => format!("header {}: {}", short(name), short(value)),
        Mutation::RemoveHeader(name) => format!("no header {name}"),
        Mutation::Cookies(None) => "no cookies".into(),
        Mutation::Cookies(Some(cookies)) => format!(
            "cookies [{}]",
            cookies
                .iter()
                .map(|c| short(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Mutation::Body { body, base64 } => format!(
            "body {} isBase64Encoded {base64:?}",
            body.as_deref().map_or("none".into(), short)
        ),
        Mutation::Method(method) => format!("method {}", short(method)),
        Mutation::RawPath(raw_path) => format!("rawPath {}", short(raw_path)),
        Mutation::RawQueryString(query) => format!("rawQueryString {}", short(query)),
        Mutation::Field(pointer, value) => format!("{pointer} {}", short(&value.to_string())),
    }
}

/// One event: a file of `events/` with mutations.
#[derive(Clone)]
struct Case {
    /// The index of the file in [`event_files`]' list, and its name.
    base: usize,
    file: String,
    mutations: Vec<Mutation>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mutations: Vec<String> = self.mutations.iter().map(describe).collect();
        write!(f, "{}: {}", self.file, mutations.join("; "))
    }
}

// --- Strategies ---------------------------------------------------------------------------

/// An event of one of `files` (the names of [`event_files`]), with mutations that may show `token`.
fn cases(files: &[String], token: &str) -> impl Strategy<Value = Case> {
    let files = files.to_vec();
    (0..files.len(), prop::collection::vec(mutation(token), 0..8)).prop_map(
        move |(base, mutations)| Case {
            base,
            file: files[base].clone(),
            mutations,
        },
    )
}

fn pick(values: &[&str]) -> BoxedStrategy<String> {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    prop::sample::select(values).boxed()
}

fn pick_owned(values: Vec<String>) -> BoxedStrategy<String> {
    prop::sample::select(values).boxed()
}

/// Up to 64 KiB of one character, ASCII or not.
fn long_text() -> BoxedStrategy<String> {
    (
        prop::sample::select(vec!['a', 'é', '€', '😀', ' ', ';', '=', '\u{0}']),
        1usize..=64 * 1024,
    )
        .prop_map(|(c, bytes)| c.to_string().repeat((bytes / c.len_utf8()).max(1)))
        .boxed()
}

/// Text of every kind a client can put where a string goes.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => r"\PC{0,24}",
        2 => r".{0,24}",
        2 => r"[\x00-\x1f\x7f]{1,3}[a-z]{0,3}",
        1 => r"[\x{80}-\x{ff}]{1,8}",
        2 => pick(&[
            "", " ", "José", "\u{feff}", "\u{202e}moc.elpmaxe", "😀", "%00", "%zz", "..", "/../",
            "a\r\nb", "\u{0}", "null", "{}", "[]", "\"", "\\", "'", "<script>", "\t", "ü=ö",
        ]),
        1 => long_text(),
    ]
    .boxed()
}

/// One special value or any text, sometimes twice: API Gateway joins repeated headers with commas.
fn header_values(specials: Vec<String>) -> BoxedStrategy<String> {
    let one = prop_oneof![3 => pick_owned(specials), 1 => text()].boxed();
    prop_oneof![
        5 => one.clone(),
        1 => (one.clone(), one).prop_map(|(a, b)| format!("{a},{b}")),
    ]
    .boxed()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn header(token: &str) -> BoxedStrategy<(String, String)> {
    let hosts = strings(&[
        "a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com",
        "",
        "a b",
        "example.com:99999",
        "example.com:port",
        "[::1]",
        "[::1",
        "user@example.com",
        "example.com/path",
        "é.example",
        "..",
        "127.0.0.1:0",
        "example.com?x",
        "example.com#x",
    ]);
    let protos = strings(&[
        "https",
        "http",
        "HTTPS",
        "ftp",
        "",
        "h ttps",
        "https://",
        "é",
        "javascript",
        "a+b",
    ]);
    let origins = strings(&[
        FRONTEND_ORIGIN,
        "null",
        "https://evil.example",
        "HTTPS://APP.EXAMPLE.COM",
        "https://app.example.com/",
        "https://app.example.com:443",
        "",
        "https://app.example.com.evil.example",
    ]);
    let content_types = strings(&[
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "text/plain",
        "application/jsonx",
        "",
        "multipart/form-data; boundary=x",
        "application/json;;",
    ]);
    let authorizations = vec![
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("Bearer  {token}"),
        "Bearer".into(),
        "Bearer ".into(),
        "Bearer garbage".into(),
        "Bearer é".into(),
        "Basic dXNlcjpwYXNz".into(),
        format!("Bearer {token} extra"),
    ];
    let cookie_headers = vec![
        format!("{COOKIE_NAME}={token}"),
        format!("{COOKIE_NAME}=a; {COOKIE_NAME}={token}"),
        "=".into(),
        ";;".into(),
        "pref=José".into(),
    ];
    let content_lengths = strings(&["0", "-1", "99999999999999999999", "abc", "", "23"]);
    let names = pick(&[
        "host",
        "x-forwarded-proto",
        "x-forwarded-for",
        "x-forwarded-port",
        "origin",
        "referer",
        "user-agent",
        "accept",
        "content-encoding",
        "transfer-encoding",
        "Host",
        "X-Forwarded-Proto",
        "Content-Type",
    ]);
    let any_name = prop_oneof![
        3 => names,
        2 => r"[a-z0-9-]{1,16}",
        1 => r"[A-Za-z_.~-]{1,16}",
        1 => text(),
    ];
    prop_oneof![
        1 => (Just("host".to_owned()), header_values(hosts)),
        1 => (Just("x-forwarded-proto".to_owned()), header_values(protos)),
        1 => (Just("origin".to_owned()), header_values(origins)),
        1 => (Just("content-type".to_owned()), header_values(content_types)),
        1 => (Just("authorization".to_owned()), header_values(authorizations)),
        1 => (Just("cookie".to_owned()), header_values(cookie_headers)),
        1 => (Just("content-length".to_owned()), header_values(content_lengths)),
        3 => (any_name, text()),
    ]
    .boxed()
}

fn cookies(token: &str) -> BoxedStrategy<Option<Vec<String>>> {
    let ours = format!("{COOKIE_NAME}={token}");
    let cookie = prop_oneof![
        3 => pick_owned(vec![
            "pref=José".into(),
            "".into(),
            "noequals".into(),
            "=".into(),
            "=value".into(),
            format!("{COOKIE_NAME}="),
            format!("{COOKIE_NAME}=garbage"),
            ours.clone(),
            format!("__host-session={token}"),
            format!("{ours}; Path=/"),
            format!("{COOKIE_NAME}=\"{token}\""),
            format!(" {ours} "),
            "a=b; c=d".into(),
            format!("{COOKIE_NAME}=a=b"),
        ]),
        1 => text(),
        1 => (text(), text()).prop_map(|(name, value)| format!("{name}={value}")),
    ];
    prop_oneof![
        1 => Just(None),
        6 => prop::collection::vec(cookie, 0..5).prop_map(Some),
        1 => Just(Some(vec![ours.clone(), ours])),
    ]
    .boxed()
}

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => text().prop_map(Value::String),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_map(|n| json!(n)),
        1 => any::<bool>().prop_map(|b| json!(b)),
        1 => Just(Value::Null),
        1 => prop::collection::vec(text(), 0..3).prop_map(|v| json!(v)),
    ]
    .boxed()
}

/// JSON bodies near and far from what each endpoint accepts, unicode included.
fn json_body() -> BoxedStrategy<Value> {
    let token_type = prop_oneof![
        3 => pick(&["passkey-append", "passkey-list", "passkey-delete"]),
        1 => text(),
    ];
    let delivery = prop_oneof![
        Just(None),
        Just(Some(json!("body"))),
        Just(Some(json!("cookie"))),
        Just(Some(Value::Null)),
        json_leaf().prop_map(Some),
    ];
    let jwt = prop_oneof![
        4 => text().prop_map(|webauthn_id| signed_passkey_data(login_claims(&webauthn_id))),
        1 => json_leaf().prop_map(signed_passkey_data),
        1 => text(),
    ];
    let key = prop_oneof![
        pick(&["type", "signedPasskeyData", "sessionDelivery", "Type", ""]),
        text(),
    ];
    prop_oneof![
        2 => token_type.prop_map(|t| json!({ "type": t })),
        3 => (jwt, delivery).prop_map(|(jwt, delivery)| {
            let mut body = json!({ "signedPasskeyData": jwt });
            if let Some(delivery) = delivery {
                body["sessionDelivery"] = delivery;
            }
            body
        }),
        2 => prop::collection::vec((key, json_leaf()), 0..4)
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        1 => json_leaf(),
    ]
    .boxed()
}

fn body() -> BoxedStrategy<Mutation> {
    let with = |body: Option<String>, base64: Option<bool>| Mutation::Body { body, base64 };
    let huge = 16 * 1024 - 64..=1024 * 1024usize;
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..2048)
            .prop_map(move |bytes| with(Some(STANDARD.encode(bytes)), Some(true))),
        2 => text().prop_map(move |text| with(Some(text), Some(false))),
        1 => prop_oneof![pick(&["!!!", "YWJj=", "YW Jj", "é", "====", "YQ", "-_-_", "e30"]), text()]
            .prop_map(move |text| with(Some(text), Some(true))),
        4 => json_body().prop_map(move |json| with(Some(json.to_string()), Some(false))),
        1 => json_body().prop_map(move |json| with(Some(STANDARD.encode(json.to_string())), Some(true))),
        1 => huge.clone().prop_map(move |n| {
            with(Some(json!({"type": "passkey-list", "signedPasskeyData": "a".repeat(n)}).to_string()), Some(false))
        }),
        1 => huge.prop_map(move |n| with(Some(STANDARD.encode(vec![b'{'; n])), Some(true))),
        1 => Just(with(None, None)),
        1 => Just(with(None, Some(true))),
    ]
    .boxed()
}

fn mutation(token: &str) -> BoxedStrategy<Mutation> {
    let methods = prop_oneof![
        4 => Just("POST".to_owned()),
        2 => pick(&[
            "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "post",
            "PROPFIND", "M-SEARCH",
        ]),
        1 => r"[A-Za-z!#$%&'*+.^_`|~0-9-]{1,12}",
    ];
    let raw_paths = prop_oneof![
        2 => pick(&[
            "/", "", "//", "/auth/createConnectToken", "/auth/verifySignedPasskeyData",
            "/auth/../etc/passwd", "/%2e%2e/", "/%00", "/é", "/a b", "/auth?x=1", "/auth#f", "*",
            "http://evil.example/", "/\\",
        ]),
        1 => text().prop_map(|t| format!("/{t}")),
        1 => text(),
    ];
    let queries = prop_oneof![
        2 => pick(&["", "a=b", "a=b&a=c", "%zz", "=", "&&", "a=%00", "é=ü", "a b", "#x", "?x"]),
        1 => text(),
    ];
    let string_fields = prop::sample::select(vec![
        "/requestContext/domainName",
        "/requestContext/domainPrefix",
        "/requestContext/stage",
        "/requestContext/requestId",
        "/requestContext/routeKey",
        "/requestContext/accountId",
        "/requestContext/apiId",
        "/requestContext/time",
        "/requestContext/http/path",
        "/requestContext/http/protocol",
        "/requestContext/http/sourceIp",
        "/requestContext/http/userAgent",
        "/routeKey",
        "/version",
    ]);
    let field_values = prop_oneof![
        2 => pick(&[
            "", "$default", "prod", "a/b", "example.com", "127.0.0.1", "::1", "HTTP/2.0", "2.0",
            "1.0",
        ])
        .prop_map(Value::String),
        2 => text().prop_map(Value::String),
        1 => Just(Value::Null),
    ];
    let known_headers = pick(&[
        "host",
        "content-type",
        "origin",
        "x-forwarded-proto",
        "content-length",
        "user-agent",
    ]);
    prop_oneof![
        6 => header(token).prop_map(|(name, value)| Mutation::Header(name, value)),
        1 => known_headers.prop_map(Mutation::RemoveHeader),
        3 => cookies(token).prop_map(Mutation::Cookies),
        4 => body(),
        1 => methods.prop_map(Mutation::Method),
        1 => raw_paths.prop_map(Mutation::RawPath),
        1 => queries.prop_map(Mutation::RawQueryString),
        2 => (string_fields, field_values).prop_map(|(pointer, value)| Mutation::Field(pointer, value)),
        1 => any::<i64>().prop_map(|epoch| Mutation::Field("/requestContext/timeEpoch", json!(epoch))),
    ]
    .boxed()
}

// --- What every answer must be ------------------------------------------------------------

/// What in `event` lambda_runtime cannot turn into an `http::HeaderMap`, if anything.
fn header_problem(event: &Value) -> Option<&'static str> {
    let headers = event["headers"].as_object()?;
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if headers
        .keys()
        .any(|name| name.is_empty() || !name.chars().all(token))
    {
        return Some("a header name that is not an HTTP token");
    }
    let control = |c: char| (c.is_ascii_control() && c != '\t') || c == '\u{7f}';
    headers
        .values()
        .filter_map(Value::as_str)
        .any(|value| value.chars().any(control))
        .then_some("a header value with a control character")
}

/// Whether `mutations` touch what makes the request's path: the path itself, or what lambda_http
/// builds the URI from, which, when it would not parse, leaves the path `/` ([`connect_backend::http::event`]).
fn may_change_path(mutations: &[Mutation]) -> bool {
    let uri_header = |name: &str| {
        name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("x-forwarded-proto")
    };
    mutations.iter().any(|mutation| match mutation {
        Mutation::RawPath(_) | Mutation::RawQueryString(_) => true,
        Mutation::Header(name, _) | Mutation::RemoveHeader(name) => uri_header(name),
        Mutation::Field(pointer, _) => {
            matches!(
                *pointer,
                "/requestContext/domainName" | "/requestContext/stage"
            )
        }
        _ => false,
    })
}

/// Whether `body` is what a 200 of `function` carries for `event`'s method.
fn success_body(function: &str, event: &Value, body: &Value) -> bool {
    let fields = body.as_object().map_or(0, |o| o.len());
    match function {
        CREATE_CONNECT_TOKEN => body["connectToken"].is_string(),
        SESSION if event["requestContext"]["http"]["method"] == "GET" => {
            body["userId"].as_str().is_some_and(|u| !u.is_empty())
                && body["expiresAt"].is_u64()
                && fields == 2 + usize::from(body["displayName"].is_string())
        }
        // Logout, or logout everywhere with how many sessions it ended.
        SESSION => body["success"] == true && fields == 1 + usize::from(body["revoked"].is_u64()),
        _ => body["success"] == true,
    }
}

/// What API Gateway would make of `outcome` for `event`: `Ok(status)`, or what is wrong with it.
/// `path_changed`: whether the fuzzer touched what makes the path, the only cause of a 404.
fn check(
    function: &str,
    documented: &Documented,
    event: &Value,
    path_changed: bool,
    outcome: &Outcome,
) -> Result<u64, String> {
    let response = match outcome {
        Outcome::Response(response) => response,
        Outcome::Error(error) => {
            let message = error["errorMessage"].as_str().unwrap_or_default();
            // Cut before the first quoted input, so that one cause is one kind.
            let cause: String = message
                .split(['"', '(', '{'])
                .next()
                .unwrap_or_default()
                .chars()
                .take(120)
                .collect();
            let suspect = header_problem(event)
                .map(|problem| format!(" [the event has {problem}]"))
                .unwrap_or_default();
            return Err(format!(
                "posted /error (a 502 without our body): {} {cause}{suspect}",
                error["errorType"].as_str().unwrap_or("?"),
            ));
        }
        Outcome::Died(how) => return Err(format!("the process died: {how}")),
        Outcome::TimedOut => return Err("no answer before the invocation's deadline".into()),
    };
    let status = response["statusCode"]
        .as_u64()
        .ok_or("the response has no statusCode")?;
    let codes = documented
        .statuses
        .get(&status)
        .ok_or_else(|| format!("status {status} is not documented"))?;
    if status == 404 && !path_changed {
        return Err("404 for an event whose path the fuzzer left alone".into());
    }
    if status == 405 {
        let allow = response["headers"]["allow"].as_str().unwrap_or_default();
        if !documented.allow.contains(allow) {
            return Err(format!("405 with Allow {allow:?}, which is not documented"));
        }
    }
    let text = match (
        response["body"].as_str(),
        response["isBase64Encoded"] == true,
    ) {
        (Some(body), true) => String::from_utf8(STANDARD.decode(body).unwrap_or_default())
            .map_err(|_| format!("{status}: the body is not UTF-8"))?,
        (Some(body), false) => body.to_owned(),
        (None, _) => return Err(format!("{status}: no body")),
    };
    let body: Value =
        serde_json::from_str(&text).map_err(|_| format!("{status}: the body is not JSON"))?;
    if text.contains(API_SECRET) {
        return Err(format!("{status}: the API secret is in the body"));
    }
    if status >= 400 {
        let code = body["code"].as_str().unwrap_or_default();
        let error_shape = body.as_object().is_some_and(|o| o.len() == 2)
            && body["error"].as_str().is_some_and(|e| !e.is_empty());
        if !error_shape || !codes.contains(code) {
            return Err(format!("{status}: {body} is not a documented error"));
        }
        // The one cookie an error may set: the clearing one, for a dead session cookie.
        let cookies = response["cookies"].as_array().cloned().unwrap_or_default();
        let clears_a_dead_cookie = code == "session_invalid" && cookies == [json!(CLEARED)];
        if !cookies.is_empty() && !clears_a_dead_cookie {
            return Err(format!(
                "{status} {code}: an error set a cookie {cookies:?}"
            ));
        }
    } else if !success_body(function, event, &body) {
        return Err(format!("{status}: unexpected body {body}"));
    }
    Ok(status)
}

/// Where the process panicked (the default panic hook's "panicked at <file>:<line>:<column>:"
/// on stderr, or a logged `location`), how often, and an event that made it (from `events`,
/// by request id) where the line names its request.
fn panic_locations(
    process: &FunctionProcess,
    events: &HashMap<String, String>,
) -> BTreeMap<String, (usize, String)> {
    let mut locations = BTreeMap::<String, (usize, String)>::new();
    for line in process.stderr().iter().chain(process.stdout().iter()) {
        let at = match (line.split_once("panicked at "), line.split_once("location")) {
            (Some((_, at)), _) => at,
            (None, Some((_, at))) if line.contains("panic") => at,
            _ => continue,
        };
        let at: String = at
            .trim_start_matches(['"', ':', '='])
            .chars()
            .take_while(|c| !matches!(c, '"' | ' ' | ','))
            .collect();
        let example = line
            .split_once("requestId")
            .and_then(|(_, rest)| {
                let id: String = rest
                    .trim_start_matches(['"', ':', '=', '\\'])
                    .chars()
                    .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
                    .collect();
                events.get(&id).cloned()
            })
            .unwrap_or_default();
        let entry = locations
            .entry(at.trim_end_matches(':').to_owned())
            .or_default();
        entry.0 += 1;
        if entry.1.is_empty() {
            entry.1 = example;
        }
    }
    locations
}

/// The endpoint whose function serves `function`'s events.
fn endpoint(function: &str) -> Endpoint {
    match function {
        CREATE_CONNECT_TOKEN => Endpoint::CreateConnectToken,
        VERIFY_SIGNED_PASSKEY_DATA => Endpoint::VerifySignedPasskeyData,
        SESSION => Endpoint::Session,
        _ => panic!("no endpoint known for {function}"),
    }
}

/// `function`'s events through its runtime path in this process, under `proptest!`.
fn in_process(function: &'static str) {
    let documented = documented(&openapi(), function);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Native sessions on: bearer tokens and body delivery reach their code too.
    let app = runtime.block_on(async {
        let app = TestApp::builder().native().start().await;
        accept_everything(&app.corbado, CONNECT_TOKEN_SECRET).await;
        app
    });
    let bases = event_files(function);
    let files: Vec<String> = bases.iter().map(|(name, _)| name.clone()).collect();
    let config = ProptestConfig {
        cases: IN_PROCESS_CASES,
        max_shrink_time: SHRINK_TIME.as_millis() as u32,
        ..ProptestConfig::default()
    };
    let started = Instant::now();
    let statuses = RefCell::new(BTreeMap::<u64, usize>::new());
    proptest!(config, |(case in cases(&files, TOKEN_PLACEHOLDER))| {
        let event = apply(bases[case.base].1.clone(), &case.mutations);
        let answered = runtime.block_on(async {
            // A session of its own in place of the placeholder, live whatever the events
            // before did (a login or a logout ends the session it is shown), so that a
            // failing event fails again alone while it shrinks.
            let token = create_session(&app.emulators, &app.table, "user-42").await;
            let text = event.to_string().replace(TOKEN_PLACEHOLDER, token.expose());
            let event: Value = serde_json::from_str(&text).expect("the event is still JSON");
            let response = app.respond(Event::raw(endpoint(function), event.clone()));
            (tokio::time::timeout(Duration::from_secs(30), response).await, event)
        });
        let (answered, event) = answered;
        let result = match answered {
            Ok(response) => check(
                function,
                &documented,
                &event,
                may_change_path(&case.mutations),
                &Outcome::Response(response),
            ),
            Err(_) => Err("no answer within 30 s".into()),
        };
        match result {
            Ok(status) => *statuses.borrow_mut().entry(status).or_default() += 1,
            Err(kind) => {
                return Err(TestCaseError::fail(format!("{function}: {kind}\nthe event: {event}")))
            }
        }
    });
    println!(
        "{function}: {} events in process in {:.1} s; statuses {:?}",
        statuses.borrow().values().sum::<usize>(),
        started.elapsed().as_secs_f64(),
        statuses.borrow()
    );
}

struct Failure {
    index: usize,
    base: String,
    mutations: Vec<Mutation>,
    event: Value,
}

/// `function`'s binary under the Runtime API: [`PROCESS_EVENTS`] events from [`SEED`].
async fn under_the_runtime_api(function: &'static str) {
    let documented = documented(&openapi(), function);
    let emulators = Emulators::connect().await;
    let table = emulators.new_table().await;
    let secret_arn = emulators.new_secret(API_SECRET).await;
    let corbado = corbado_accepting_everything(CONNECT_TOKEN_SECRET).await;
    // The session function ends the sessions it is shown: there, each event gets a session of
    // its own in place of the placeholder, so that every event can find its session live.
    let fresh_per_event = function == SESSION;
    let shared = match fresh_per_event {
        true => None,
        false => Some(create_session(&emulators, &table, "user-42").await),
    };
    let shown = shared
        .as_ref()
        .map_or(TOKEN_PLACEHOLDER, |token| token.expose());
    let bases: Vec<(String, Value)> = event_files(function)
        .into_iter()
        .map(|(name, event)| {
            let text = event.to_string().replace(TOKEN_PLACEHOLDER, shown);
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    // Native sessions on: bearer tokens and body delivery reach their code too.
    let env = function_env(
        &table,
        &secret_arn,
        &corbado.uri(),
        &[("NATIVE_APP_SESSIONS", "true")],
    );
    let process = start_function(function, env).await;
    let pid = process.pid();

    let strategy = (0..bases.len(), prop::collection::vec(mutation(shown), 0..8));
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, SEED),
    );
    let started = Instant::now();
    let mut sent = 0;
    let mut statuses = BTreeMap::<u64, usize>::new();
    let mut failures = BTreeMap::<String, Vec<Failure>>::new();
    // Request id → the event, for the panics the process logs.
    let mut described = HashMap::<String, String>::new();
    for index in 0..PROCESS_EVENTS {
        if started.elapsed() > TIME_BUDGET {
            break;
        }
        let (base, mutations) = strategy
            .new_tree(&mut runner)
            .expect("generate an event")
            .current();
        let mut event = apply(bases[base].1.clone(), &mutations);
        if fresh_per_event {
            let token = create_session(&emulators, &table, "user-42").await;
            let text = event.to_string().replace(TOKEN_PLACEHOLDER, token.expose());
            event = serde_json::from_str(&text).expect("the event is still JSON");
        }
        sent += 1;
        let answered = tokio::time::timeout(Duration::from_secs(30), process.invoke(&event)).await;
        if let Some(id) = process.last_request_id() {
            let mutations: Vec<String> = mutations.iter().map(describe).collect();
            let description = format!(
                "event #{index} from {}: {}",
                bases[base].0,
                mutations.join("; ")
            );
            described.insert(id, description);
        }
        let result = match &answered {
            Ok(outcome) => check(
                function,
                &documented,
                &event,
                may_change_path(&mutations),
                outcome,
            ),
            Err(_) => Err("no answer within 30 s".into()),
        };
        match result {
            Ok(status) => *statuses.entry(status).or_default() += 1,
            Err(kind) => failures.entry(kind).or_default().push(Failure {
                index,
                base: bases[base].0.clone(),
                mutations,
                event,
            }),
        }
        if answered.is_err() || !process.is_alive() {
            break;
        }
    }
    println!(
        "{function}: {sent} events sent in {:.1} s (seed {:?}); statuses {statuses:?}; {} failed",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(SEED),
        failures.values().map(Vec::len).sum::<usize>()
    );

    let mut report = String::new();
    if !failures.is_empty() {
        let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("runtime_fuzz-{function}.failures.json"));
        let mut saved = Vec::new();
        for (kind, cases) in &failures {
            report.push_str(&format!("\n{} × {kind}\n", cases.len()));
            for case in cases.iter().take(3) {
                let described: Vec<String> = case.mutations.iter().map(describe).collect();
                report.push_str(&format!(
                    "    event #{} from {}: {}\n",
                    case.index,
                    case.base,
                    described.join("; ")
                ));
            }
            saved.extend(
                cases
                    .iter()
                    .take(20)
                    .map(|case| json!({"kind": kind, "index": case.index, "event": case.event})),
            );
        }
        std::fs::write(&file, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
        report.push_str(&format!("\nfailing events: {}\n", file.display()));
    }
    let panics = panic_locations(&process, &described);
    if !panics.is_empty() {
        let listed: Vec<String> = panics
            .iter()
            .map(|(at, (n, example))| match example.as_str() {
                "" => format!("{n} × {at}"),
                example => format!("{n} × {at}, e.g. {example}"),
            })
            .collect();
        println!("{function}: where it panicked: {}", listed.join("; "));
        report.push_str(&format!(
            "where it panicked:\n    {}\n",
            listed.join("\n    ")
        ));
    }
    assert!(
        failures.is_empty(),
        "{function}: {} of {sent} events were not answered as documented:{report}",
        failures.values().map(Vec::len).sum::<usize>()
    );
    assert!(
        process.is_alive() && process.pid() == pid,
        "{function}: the process that served the first event is gone ({:?})",
        process.exit()
    );
    // A slow machine may run out of time first; a hundred events still say something.
    assert!(
        sent >= 100,
        "{function}: only {sent} events within {TIME_BUDGET:?}"
    );
}
