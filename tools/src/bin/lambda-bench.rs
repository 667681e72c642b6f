//! Benchmarks the function binaries as Lambda runs them (the passkey functions, the
//! session routes' `GET /auth/session`, and the authorizer): each process runs under
//! the Lambda Runtime API of [`connect_tools::runtime_api`], one at a time,
//! against DynamoDB Local, moto and the Corbado stand-in, each reached through
//! a counting proxy.
//!
//! Figures: init (process start → first `next` request), first invocation
//! (secret fetch included), warm wall time and CPU time per invocation (from
//! the kernel's per-thread run time), peak and trailing RSS, and network
//! round trips and connections per warm invocation for each upstream.
//! Environment: the AWS variables of the local stack, `CORBADO_BACKEND_API`
//! (the stand-in), `CORBADO_PROJECT_ID`, `STANDIN_API_SECRET`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use clap::Parser;
use connect_backend::{NewSession, SessionStore};
use connect_tools::runtime_api::{FunctionProcess, Outcome};

#[derive(Parser)]
#[command(about = "Benchmark the function binaries under the Lambda Runtime API")]
struct Cli {
    /// Directory holding the built function binaries.
    #[arg(long)]
    bin_dir: PathBuf,
    /// Fresh processes started to measure init and the first invocation.
    #[arg(long, default_value_t = 10)]
    cold_starts: usize,
    /// Warm invocations measured on one process (after 20 unmeasured ones).
    #[arg(long, default_value_t = 1000)]
    warm: usize,
    /// Events in events/ (the files the tests use).
    #[arg(long, default_value = "events")]
    events_dir: PathBuf,
}

// --- Counting proxies in front of each upstream --------------------------------

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    connections: AtomicU64,
}

struct Proxy {
    target: String,
    http: reqwest::Client,
    counters: Arc<Counters>,
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request<Body>) -> Response {
    proxy.counters.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let url = format!(
        "{}{}",
        proxy.target,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut headers = parts.headers.clone();
    headers.remove("host");
    match proxy
        .http
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(upstream) => {
            let status = upstream.status();
            let headers: HeaderMap = upstream.headers().clone();
            let body = upstream.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            *response.headers_mut() = headers;
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn counting_proxy(target: &str) -> (String, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let proxy = Arc::new(Proxy {
        target: target.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
        counters: counters.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = counters.clone();
    let listener = listener.tap_io(move |_| {
        connections.connections.fetch_add(1, Ordering::SeqCst);
    });
    let app = Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), counters)
}

// --- Measuring a process -----------------------------------------------------------

/// CPU time the process has run, summed over its threads (nanoseconds, from schedstat).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// User and system CPU time of the process so far, in clock ticks (/proc/<pid>/stat).
fn user_system_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next = || fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    (next(), next())
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

struct Function {
    binary: &'static str,
    event: Vec<u8>,
    /// What a successful answer looks like: an HTTP response, or an authorizer's.
    answer: Answer,
}

#[derive(Clone, Copy)]
enum Answer {
    Http200,
    Authorized,
}

impl Answer {
    fn accepts(self, answer: &serde_json::Value) -> bool {
        match self {
            Self::Http200 => answer["statusCode"] == 200,
            Self::Authorized => answer["isAuthorized"] == true,
        }
    }
}

struct Environment {
    vars: Vec<(String, String)>,
    upstreams: Vec<(&'static str, Arc<Counters>)>,
}

async fn spawn(cli: &Cli, function: &Function, env: &Environment) -> FunctionProcess {
    FunctionProcess::start(&cli.bin_dir.join(function.binary), env.vars.clone())
        .await
        .unwrap_or_else(|err| panic!("start the function binary: {err}"))
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn row(function: &str, figure: &str, samples: &mut [f64], unit: &str, target: &str) {
    let median = percentile(samples, 0.5);
    let p99 = percentile(samples, 0.99);
    println!("| {function} | {figure} | {median:.3} {unit} | {p99:.3} {unit} | {target} |");
}

fn check_status(function: &Function, process: &FunctionProcess, outcome: &Outcome) {
    match outcome {
        Outcome::Response(response) if function.answer.accepts(response) => {}
        outcome => panic!(
            "{}: {outcome:?}\nstderr:\n{}",
            function.binary,
            process.stderr().join("\n")
        ),
    }
}

/// Process start → the first `next`; panics with the process's stderr if it ended instead.
async fn ready(function: &Function, process: &FunctionProcess) -> Duration {
    process.wait_ready().await.unwrap_or_else(|how| {
        panic!(
            "{} ended before its first event ({how}):\n{}",
            function.binary,
            process.stderr().join("\n")
        )
    })
}

async fn bench(cli: &Cli, function: &Function, env: &Environment) {
    let mut init = Vec::new();
    let mut first = Vec::new();
    for _ in 0..cli.cold_starts {
        let mut process = spawn(cli, function, env).await;
        init.push(ready(function, &process).await.as_secs_f64() * 1e3);
        let sent = Instant::now();
        let outcome = process.invoke_raw(function.event.clone()).await;
        first.push(sent.elapsed().as_secs_f64() * 1e3);
        check_status(function, &process, &outcome);
        process.stop().await;
    }
    row(
        function.binary,
        "init: process start → first `next`",
        &mut init,
        "ms",
        "≤ 20 ms",
    );
    row(
        function.binary,
        "first invocation (secret fetch included)",
        &mut first,
        "ms",
        "≤ 30 ms",
    );

    let mut process = spawn(cli, function, env).await;
    ready(function, &process).await;
    let pid = process.pid();
    const WARMUP: usize = 20;
    for _ in 0..WARMUP {
        let outcome = process.invoke_raw(function.event.clone()).await;
        check_status(function, &process, &outcome);
        let _ = process.wait_idle().await;
    }
    for (_, counters) in &env.upstreams {
        counters.requests.store(0, Ordering::SeqCst);
        counters.connections.store(0, Ordering::SeqCst);
    }
    let (user_before, system_before) = user_system_ticks(pid);
    let mut wall = Vec::with_capacity(cli.warm);
    let mut cpu = Vec::with_capacity(cli.warm);
    let mut rss = Vec::new();
    for i in 0..cli.warm {
        let event = function.event.clone();
        let cpu_before = cpu_ns(pid);
        let sent = Instant::now();
        let outcome = process.invoke_raw(event).await;
        wall.push(sent.elapsed().as_secs_f64() * 1e3);
        // The invocation ends when the function asks for the next event.
        let _ = process.wait_idle().await;
        cpu.push((cpu_ns(pid) - cpu_before) as f64 / 1e6);
        check_status(function, &process, &outcome);
        if (i + 1) % 100 == 0 {
            rss.push(status_kb(pid, "VmRSS:"));
        }
    }
    row(
        function.binary,
        "warm invocation, wall time",
        &mut wall,
        "ms",
        "—",
    );
    row(
        function.binary,
        "warm invocation, CPU time",
        &mut cpu,
        "ms",
        "≤ 0.3 ms",
    );
    let (user_after, system_after) = user_system_ticks(pid);
    // Clock ticks are 10 ms; over many invocations their mean is precise enough.
    let per_invocation = |ticks: u64| ticks as f64 * 10.0 / cli.warm as f64;
    println!(
        "| {} | warm invocation, CPU split (mean) | user {:.3} ms | system {:.3} ms | |",
        function.binary,
        per_invocation(user_after - user_before),
        per_invocation(system_after - system_before)
    );
    let peak = status_kb(pid, "VmHWM:");
    let growth = rss.last().copied().unwrap_or(0) as i64 - rss.first().copied().unwrap_or(0) as i64;
    println!(
        "| {} | peak RSS after {} warm invocations | {:.1} MB | RSS at each 100th: {} kB ({:+} kB) | ≤ 25 MB, not growing |",
        function.binary,
        cli.warm,
        peak as f64 / 1024.0,
        rss.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
        growth
    );
    for (name, counters) in &env.upstreams {
        let requests = counters.requests.load(Ordering::SeqCst) as f64 / cli.warm as f64;
        let connections = counters.connections.load(Ordering::SeqCst);
        println!(
            "| {} | {name}: round trips per warm invocation | {requests:.2} | {connections} connections opened in {} invocations | |",
            function.binary, cli.warm
        );
    }
    process.stop().await;
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let env_var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    // Set-up waits as long as it takes: the functions under test run with their own
    // short timeouts, and a cold emulator must not fail the benchmark before they run.
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;

    let table = format!("bench-sessions-{}", std::process::id());
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    connect_backend::session::create_table(&dynamodb, &table)
        .await
        .expect("create the table");
    let secret_arn = aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(format!("bench-corbado-api-secret-{}", std::process::id()))
        .secret_string(env_var("STANDIN_API_SECRET"))
        .send()
        .await
        .expect("create the secret")
        .arn
        .unwrap();
    let (token, _) = SessionStore::new(dynamodb, &table, Duration::from_secs(3600))
        .create(NewSession {
            user_id: "bench-user".into(),
            display_name: Some("Bench User".into()),
            ..Default::default()
        })
        .await
        .expect("create a session");

    let (dynamodb_proxy, dynamodb_counts) =
        counting_proxy(&env_var("AWS_ENDPOINT_URL_DYNAMODB")).await;
    let (secrets_proxy, secrets_counts) =
        counting_proxy(&env_var("AWS_ENDPOINT_URL_SECRETS_MANAGER")).await;
    let corbado =
        reqwest::Url::parse(&env_var("CORBADO_BACKEND_API")).expect("CORBADO_BACKEND_API is a URL");
    let (corbado_proxy, corbado_counts) =
        counting_proxy(&corbado.origin().ascii_serialization()).await;
    let env = Environment {
        vars: vec![
            ("SESSIONS_TABLE".into(), table),
            ("CORBADO_PROJECT_ID".into(), env_var("CORBADO_PROJECT_ID")),
            ("CORBADO_API_SECRET_ARN".into(), secret_arn),
            (
                "CORBADO_BACKEND_API".into(),
                format!("{corbado_proxy}{}", corbado.path()),
            ),
            ("ALLOWED_ORIGINS".into(), "https://app.example.com".into()),
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), dynamodb_proxy),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), secrets_proxy),
            ("AWS_REGION".into(), env_var("AWS_REGION")),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_SESSION_TOKEN".into(), "test".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL".into(), "INFO".into()),
        ],
        upstreams: vec![
            ("DynamoDB", dynamodb_counts),
            ("Secrets Manager", secrets_counts),
            ("Corbado", corbado_counts),
        ],
    };

    let read = |path: &str| {
        std::fs::read_to_string(cli.events_dir.join(path)).expect("read the event file")
    };
    let with_session = |path: &str| {
        read(path)
            .replace("REPLACE_WITH_A_TOKEN_FROM_connect-session", token.expose())
            .into_bytes()
    };
    let functions = [
        Function {
            binary: "create-connect-token",
            event: with_session("create-connect-token/passkey-list.json"),
            answer: Answer::Http200,
        },
        Function {
            binary: "verify-signed-passkey-data",
            event: read("verify-signed-passkey-data/valid.json").into_bytes(),
            answer: Answer::Http200,
        },
        Function {
            binary: "session",
            event: with_session("session/session.json"),
            answer: Answer::Http200,
        },
        // In front of every request of the application's own routes.
        Function {
            binary: "session-authorizer",
            event: with_session("session-authorizer/authorized.json"),
            answer: Answer::Authorized,
        },
    ];
    println!("| function | figure | median | p99 | target |");
    println!("| --- | --- | --- | --- | --- |");
    for function in &functions {
        bench(&cli, function, &env).await;
    }
}
