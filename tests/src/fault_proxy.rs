//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1, between the app and an
//! upstream (DynamoDB Local, or the wiremock Corbado stand-in): the ways real
//! networks lose, cut short or delay requests and replies, on demand.
//!
//! Faults are queued per request key: a DynamoDB request's operation (`PutItem`,
//! from `X-Amz-Target: DynamoDB_20120810.PutItem`), any other request's path
//! (`/v2/passkey/verifySignedData`). Each matching request takes the next
//! queued fault; with none queued it is forwarded as it came.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What happens to one request. The names say whether the upstream saw it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forwarded and answered by the upstream, but that answer never reaches
    /// the client: the connection stays silent until the client gives up.
    LoseReply,
    /// Read but never forwarded; the connection is then reset (RST).
    ResetBeforeForward,
    /// Forwarded and answered by the upstream; the connection is then reset
    /// instead of answering.
    ResetAfterForward,
    /// Forwarded; the upstream's status and headers are sent, then the
    /// connection closes halfway through the body.
    TruncatedBody,
    /// Answered by the proxy itself; never forwarded.
    Answer {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Forwarded after this delay, and forwarded even if the client has
    /// given up meanwhile: a slow network still delivers the request.
    Delay(Duration),
}

impl Fault {
    /// A DynamoDB error in the JSON 1.0 protocol's shape, e.g. `ThrottlingException`.
    pub fn dynamodb_error(error_type: &str) -> Self {
        Self::dynamodb_answer(json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
            "message": format!("injected {error_type}"),
        }))
    }

    /// `TransactionCanceledException` with one reason code per item of the
    /// transaction, e.g. `["TransactionConflict", "None"]`.
    pub fn transaction_canceled(reasons: &[&str]) -> Self {
        let reasons: Vec<_> = reasons.iter().map(|code| json!({"Code": code})).collect();
        Self::dynamodb_answer(json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
            "CancellationReasons": reasons,
        }))
    }

    /// Corbado's `errorRsp` with this status.
    pub fn corbado_error(status: u16, error_type: &str) -> Self {
        Self::Answer {
            status,
            body: crate::error_rsp_json(status, error_type).to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
        }
    }

    fn dynamodb_answer(body: serde_json::Value) -> Self {
        Self::Answer {
            status: 400,
            body: body.to_string(),
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.0".into()),
                ("x-amzn-requestid".into(), "fault-proxy".into()),
            ],
        }
    }
}

#[derive(Default)]
struct Counts {
    received: usize,
    forwarded: usize,
}

#[derive(Default)]
struct Shared {
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    counts: Mutex<HashMap<String, Counts>>,
}

impl Shared {
    fn take_fault(&self, key: &str) -> Option<Fault> {
        self.counts
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .received += 1;
        self.faults.lock().unwrap().get_mut(key)?.pop_front()
    }
}

struct Inner {
    addr: SocketAddr,
    /// `host:port` of the upstream.
    upstream: String,
    shared: Arc<Shared>,
    accept_loop: Mutex<Option<JoinHandle<()>>>,
}

/// One proxy in front of one upstream. Clones share it.
#[derive(Clone)]
pub struct FaultProxy(Arc<Inner>);

impl FaultProxy {
    /// A proxy to `upstream_url` (`http://127.0.0.1:8000`), listening on a free loopback port.
    pub async fn start(upstream_url: &str) -> Self {
        let upstream = upstream_url
            .parse::<hyper::Uri>()
            .ok()
            .and_then(|uri| uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| panic!("{upstream_url:?} is no http://host:port URL"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self(Arc::new(Inner {
            addr: listener.local_addr().unwrap(),
            upstream,
            shared: Arc::default(),
            accept_loop: Mutex::default(),
        }));
        proxy.spawn_accept_loop(listener);
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.0.addr)
    }

    /// The next `times` requests with this key meet `fault`, after any queued before.
    pub fn inject(&self, key: &str, fault: Fault, times: usize) {
        let mut faults = self.0.shared.faults.lock().unwrap();
        let queue = faults.entry(key.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Requests with this key that reached the proxy.
    pub fn received(&self, key: &str) -> usize {
        self.count(key, |c| c.received)
    }

    /// Requests with this key that the proxy sent on to the upstream.
    pub fn forwarded(&self, key: &str) -> usize {
        self.count(key, |c| c.forwarded)
    }

    fn count(&self, key: &str, which: impl Fn(&Counts) -> usize) -> usize {
        self.0
            .shared
            .counts
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, which)
    }

    /// Waits until `count` requests with this key have been forwarded (a
    /// delayed request may arrive after the client has given up on it).
    pub async fn wait_forwarded(&self, key: &str, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.forwarded(key) < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{key}: {} forwarded after {within:?}, expected {count}",
                self.forwarded(key)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes the listening socket: new connections are refused, as when the
    /// upstream is down. Connections already open stay open.
    pub async fn stop_listening(&self) {
        let accept_loop = self.0.accept_loop.lock().unwrap().take();
        if let Some(accept_loop) = accept_loop {
            accept_loop.abort();
            let _ = accept_loop.await;
        }
    }

    /// Listens on the same port again. Not async, so that it can run from a
    /// log hook between a refused attempt and the client's retry.
    pub fn listen_again(&self) {
        let listener = std::net::TcpListener::bind(self.0.addr).expect("rebind the proxy's port");
        listener.set_nonblocking(true).unwrap();
        self.spawn_accept_loop(TcpListener::from_std(listener).unwrap());
    }

    fn spawn_accept_loop(&self, listener: TcpListener) {
        let inner = Arc::clone(&self.0);
        let accept_loop = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(
                    stream,
                    Arc::clone(&inner.shared),
                    inner.upstream.clone(),
                ));
            }
        });
        *self.0.accept_loop.lock().unwrap() = Some(accept_loop);
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, upstream: String) {
    // A second handle on the socket, to reset it while hyper owns the first.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(socket) = std_stream.try_clone() else {
        return;
    };
    let socket = Arc::new(socket);
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let service = hyper::service::service_fn(move |request| {
        handle(
            request,
            Arc::clone(&shared),
            upstream.clone(),
            Arc::clone(&socket),
        )
    });
    // Errors here are the faults themselves (or a client that gave up).
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A service error makes hyper close the connection without an answer.
async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    upstream: String,
    socket: Arc<std::net::TcpStream>,
) -> Result<Response<ProxyBody>, BoxError> {
    let key = request_key(&request);
    let fault = shared.take_fault(&key);
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, body.collect().await?.to_bytes());
    let delay = match &fault {
        Some(Fault::Answer {
            status,
            body,
            headers,
        }) => {
            let mut response = Response::new(Bytes::from(body.clone()));
            *response.status_mut() = StatusCode::from_u16(*status)?;
            for (name, value) in headers {
                response.headers_mut().insert(
                    HeaderName::from_bytes(name.as_bytes())?,
                    HeaderValue::from_str(value)?,
                );
            }
            return Ok(whole(response));
        }
        Some(Fault::ResetBeforeForward) => return Err(reset(&socket)),
        Some(Fault::Delay(delay)) => *delay,
        _ => Duration::ZERO,
    };
    // Its own task: the upstream gets the request even if the client hangs up.
    let response = tokio::spawn(forward(upstream, request, shared, key, delay)).await??;
    match fault {
        Some(Fault::LoseReply) => std::future::pending().await,
        Some(Fault::ResetAfterForward) => Err(reset(&socket)),
        Some(Fault::TruncatedBody) => Ok(truncated(response)),
        _ => Ok(whole(response)),
    }
}

fn request_key<B>(request: &Request<B>) -> String {
    match request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => request.uri().path().to_owned(),
    }
}

/// Sends the request on a fresh connection and reads the whole answer.
async fn forward(
    upstream: String,
    request: Request<Bytes>,
    shared: Arc<Shared>,
    key: String,
    delay: Duration,
) -> Result<Response<Bytes>, BoxError> {
    tokio::time::sleep(delay).await;
    let stream = TcpStream::connect(&upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    shared
        .counts
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .forwarded += 1;
    let response = sender.send_request(request.map(Full::new)).await?;
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(
        parts,
        body.collect().await?.to_bytes(),
    ))
}

/// SO_LINGER 0: closing the socket sends RST instead of FIN.
fn reset(socket: &std::net::TcpStream) -> BoxError {
    let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
    "connection reset by the fault proxy".into()
}

fn whole(response: Response<Bytes>) -> Response<ProxyBody> {
    with_length(response, false)
}

fn truncated(response: Response<Bytes>) -> Response<ProxyBody> {
    with_length(response, true)
}

/// The body is re-framed with the full Content-Length, so that a cut is visible.
fn with_length(response: Response<Bytes>, cut: bool) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(TRANSFER_ENCODING);
    parts.headers.insert(CONTENT_LENGTH, body.len().into());
    let body = if cut {
        ProxyBody {
            data: Some(body.slice(..body.len() / 2)),
            cut: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
        }
    } else {
        ProxyBody {
            data: Some(body),
            cut: None,
        }
    };
    Response::from_parts(parts, body)
}

/// A whole body, or its first half and then an error, which makes hyper
/// close the connection mid-body.
struct ProxyBody {
    data: Option<Bytes>,
    /// The pause gives hyper time to send the head and the first half.
    cut: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match self.cut.as_mut() {
            None => Poll::Ready(None),
            Some(pause) => {
                std::task::ready!(pause.as_mut().poll(cx));
                self.cut = None;
                Poll::Ready(Some(Err("body cut short by the fault proxy".into())))
            }
        }
    }
}
