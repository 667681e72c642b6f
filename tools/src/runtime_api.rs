//! The Lambda Runtime API on loopback, for one function process at a time: the
//! binary asks `GET /2018-06-01/runtime/invocation/next` for an event and posts
//! its answer to `/invocation/{id}/response` or `/invocation/{id}/error` (or
//! `/init/error` when it cannot start), as on Lambda.
//!
//! [`FunctionProcess`] runs a real function binary against it and tells apart
//! what Lambda tells apart: a response (handed to API Gateway), an error post
//! (the caller gets a 502 and none of the body) and a process that exited. It
//! keeps the process's stdout and stderr lines: what CloudWatch Logs receives.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, watch, Mutex, Notify};
use tokio::task::JoinHandle;

/// Lambda's limit on a synchronous invocation's response.
const RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// How long a function may run per invocation (the template's `Timeout`), as the deadline header says.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What the function did with one event.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Posted to `/response`: what Lambda hands to API Gateway. A body that is
    /// not JSON is kept as a JSON string.
    Response(Value),
    /// Posted to `/error`: Lambda answers the caller 502 and passes none of it on.
    Error(Value),
    /// The process exited before it answered: how it ended.
    Died(String),
    /// No answer by the invocation's deadline: Lambda ends the invocation (the caller gets
    /// a 502 or 504), and the environment with it.
    TimedOut,
}

enum Posted {
    Response(Bytes),
    Error(Bytes),
}

struct Invocation {
    event: Vec<u8>,
    posted: oneshot::Sender<Posted>,
}

struct RuntimeApi {
    /// The function's timeout, which sets each invocation's deadline.
    timeout: Duration,
    queue: Mutex<VecDeque<Invocation>>,
    queued: Notify,
    pending: Mutex<HashMap<String, oneshot::Sender<Posted>>>,
    /// Each time the function asks for its next event.
    polled: Notify,
    polls: AtomicU64,
    delivered: AtomicU64,
    first_poll: StdMutex<Option<Instant>>,
    last_request_id: StdMutex<Option<String>>,
    init_errors: StdMutex<Vec<String>>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    api.first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    api.polls.fetch_add(1, Ordering::SeqCst);
    api.polled.notify_waiters();
    let invocation = loop {
        let notified = api.queued.notified();
        if let Some(invocation) = api.queue.lock().await.pop_front() {
            break invocation;
        }
        notified.await;
    };
    let n = api.delivered.fetch_add(1, Ordering::SeqCst);
    // Lambda's request ids are UUIDs.
    let id = format!("00000000-0000-4000-8000-{n:012x}");
    *api.last_request_id.lock().unwrap() = Some(id.clone());
    api.pending
        .lock()
        .await
        .insert(id.clone(), invocation.posted);
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + api.timeout;
    Response::builder()
        .header("lambda-runtime-aws-request-id", &id)
        .header(
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        )
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:eu-central-1:123456789012:function:under-test",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0",
        )
        .body(Body::from(invocation.event))
        .unwrap()
}

async fn post_answer(api: &RuntimeApi, id: &str, answer: Posted) -> StatusCode {
    match api.pending.lock().await.remove(id) {
        Some(posted) => {
            let _ = posted.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(api): State<Arc<RuntimeApi>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    post_answer(&api, &id, Posted::Response(body)).await
}

async fn error(
    State(api): State<Arc<RuntimeApi>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    post_answer(&api, &id, Posted::Error(body)).await
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    api.init_errors
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

fn json_or_string(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

type Lines = Arc<StdMutex<Vec<String>>>;

/// Reads `stream` line by line into `lines` until it closes.
fn capture(stream: impl AsyncRead + Unpin + Send + 'static, lines: Lines) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    let text = String::from_utf8_lossy(&line).into_owned();
                    lines.lock().unwrap().push(text);
                }
            }
        }
    })
}

/// One function binary running against a Runtime API of its own, one event at a time.
pub struct FunctionProcess {
    api: Arc<RuntimeApi>,
    pid: u32,
    started: Instant,
    /// How the process ended, once it has.
    exited: watch::Receiver<Option<String>>,
    kill: Option<oneshot::Sender<()>>,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
}

impl FunctionProcess {
    /// Starts `binary` with exactly `env` (nothing inherited), plus the variables
    /// Lambda sets (`AWS_LAMBDA_FUNCTION_NAME` and friends, which `env` may
    /// override) and `AWS_LAMBDA_RUNTIME_API` pointing at a fresh Runtime API.
    pub async fn start<K, V>(
        binary: &Path,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> std::io::Result<Self>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        Self::start_with_timeout(binary, env, TIMEOUT).await
    }

    /// [`FunctionProcess::start`] for a function whose `Timeout` is `timeout`: each
    /// invocation's deadline is that far from its delivery, and an answer not posted by
    /// then is [`Outcome::TimedOut`].
    pub async fn start_with_timeout<K, V>(
        binary: &Path,
        env: impl IntoIterator<Item = (K, V)>,
        timeout: Duration,
    ) -> std::io::Result<Self>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let api = Arc::new(RuntimeApi {
            timeout,
            queue: Mutex::default(),
            queued: Notify::default(),
            pending: Mutex::default(),
            polled: Notify::default(),
            polls: AtomicU64::default(),
            delivered: AtomicU64::default(),
            first_poll: StdMutex::default(),
            last_request_id: StdMutex::default(),
            init_errors: StdMutex::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::max(RESPONSE_LIMIT))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let name = binary
            .file_name()
            .map_or_else(|| "function".into(), |n| n.to_string_lossy().into_owned());
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| {
                server.abort();
                std::io::Error::new(err.kind(), format!("{}: {err}", binary.display()))
            })?;
        let pid = child.id().unwrap_or_default();
        let stdout = Lines::default();
        let stderr = Lines::default();
        let readers = vec![
            capture(child.stdout.take().unwrap(), stdout.clone()),
            capture(child.stderr.take().unwrap(), stderr.clone()),
        ];

        let (exit_tx, exited) = watch::channel(None);
        let (kill, kill_rx) = oneshot::channel::<()>();
        let watched = api.clone();
        tokio::spawn(async move {
            // The sender is dropped with the FunctionProcess, which also ends the process.
            let ended = tokio::select! {
                status = child.wait() => Some(status),
                _ = kill_rx => None,
            };
            let status = match ended {
                Some(status) => status,
                None => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let mut how = match status {
                Ok(status) => status.to_string(),
                Err(err) => format!("could not be waited for: {err}"),
            };
            for init_error in watched.init_errors.lock().unwrap().iter() {
                how.push_str(&format!("; posted /init/error: {init_error}"));
            }
            let _ = exit_tx.send(Some(how));
            // Wake anyone waiting for a poll (after the exit is visible): none will come.
            watched.polled.notify_waiters();
        });

        Ok(Self {
            api,
            pid,
            started,
            exited,
            kill: Some(kill),
            stdout,
            stderr,
            readers,
            server,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// How the process ended (`None` while it runs).
    pub fn exit(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// The request id of the last event handed to the function (its log lines carry it).
    pub fn last_request_id(&self) -> Option<String> {
        self.api.last_request_id.lock().unwrap().clone()
    }

    /// The lines the process has written to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The lines the process has written to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Hands the function `event` and waits for what it makes of it.
    pub async fn invoke(&self, event: &Value) -> Outcome {
        self.invoke_raw(serde_json::to_vec(event).expect("a JSON value serialises"))
            .await
    }

    /// [`FunctionProcess::invoke`] with the event already serialised.
    pub async fn invoke_raw(&self, event: Vec<u8>) -> Outcome {
        let (posted, answer) = oneshot::channel();
        self.api
            .queue
            .lock()
            .await
            .push_back(Invocation { event, posted });
        self.api.queued.notify_waiters();
        let mut exited = self.exited.clone();
        // The function is idle, polling: delivery follows the queueing at once.
        let timed_out = tokio::time::sleep(self.api.timeout);
        tokio::select! {
            biased;
            answer = answer => match answer {
                Ok(Posted::Response(body)) => Outcome::Response(json_or_string(&body)),
                Ok(Posted::Error(body)) => Outcome::Error(json_or_string(&body)),
                Err(_) => Outcome::Died("the Runtime API went away".into()),
            },
            how = exited.wait_for(Option::is_some) => {
                self.api.queue.lock().await.clear();
                Outcome::Died(how.map_or_else(|_| "unknown".into(), |how| how.clone().unwrap_or_default()))
            }
            () = timed_out => Outcome::TimedOut,
        }
    }

    /// Waits until the function asks for its first event: Lambda's init phase,
    /// measured from the process start. `Err` says how the process ended instead.
    pub async fn wait_ready(&self) -> Result<Duration, String> {
        self.wait_until(|api| api.polls.load(Ordering::SeqCst) >= 1)
            .await?;
        let first_poll = self.api.first_poll.lock().unwrap().expect("polled");
        Ok(first_poll - self.started)
    }

    /// Waits until the function asks for the event after the last one it was
    /// handed: where an invocation ends for Lambda, which freezes the environment then.
    pub async fn wait_idle(&self) -> Result<(), String> {
        self.wait_until(|api| {
            api.polls.load(Ordering::SeqCst) > api.delivered.load(Ordering::SeqCst)
        })
        .await
    }

    async fn wait_until(&self, done: impl Fn(&RuntimeApi) -> bool) -> Result<(), String> {
        loop {
            let polled = self.api.polled.notified();
            if done(&self.api) {
                return Ok(());
            }
            if let Some(how) = self.exit() {
                return Err(how);
            }
            polled.await;
        }
    }

    /// Ends the process (SIGKILL, as Lambda ends an execution environment) and
    /// waits until its output has been read to the end; returns how it ended.
    pub async fn stop(&mut self) -> String {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        let mut exited = self.exited.clone();
        let how = exited
            .wait_for(Option::is_some)
            .await
            .map_or_else(|_| "unknown".into(), |how| how.clone().unwrap_or_default());
        // A child of the process (a wrapper's) may hold the pipes a while longer.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
        self.server.abort();
        how
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        // Dropping `kill` ends the process; the server goes with it.
        self.server.abort();
    }
}
