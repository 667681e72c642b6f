//! Routes as data. Each function declares its routes: method, path, endpoint, and what
//! the route requires. [`Function`] serves them: it matches a request to its route,
//! applies what the route requires (the Origin rule, a live session), hands the handler
//! what it needs, and ends every request, whatever happened, in one answer, one summary
//! line and one metrics record. A function supplies only its [`Handler`].

use std::future::Future;
use std::time::Instant;

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

use super::error::ApiError;
use super::event::Invocation;
use super::request;
use super::response::{self, SessionCookie};
use crate::session::policy::{Credential, CredentialRules, Presented};
use crate::session::{policy, Session, SessionStore, SessionToken};
use crate::telemetry::{RequestRecord, Telemetry};

/// What logs and metrics call a request: the route it was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/createConnectToken`
    CreateConnectToken,
    /// `POST /auth/verifySignedPasskeyData`
    VerifySignedPasskeyData,
    /// `GET /auth/session`
    Session,
    /// `DELETE /auth/session`
    Logout,
    /// `DELETE /auth/sessions`
    LogoutEverywhere,
    /// The API Gateway Lambda authorizer in front of the application's own routes.
    Authorizer,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateConnectToken => "createConnectToken",
            Self::VerifySignedPasskeyData => "verifySignedPasskeyData",
            Self::Session => "session",
            Self::Logout => "logout",
            Self::LogoutEverywhere => "logoutEverywhere",
            Self::Authorizer => "authorizer",
        }
    }
}

/// What a route requires before its handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requires {
    /// Nothing the runtime checks: the handler reads what it needs (a login, a logout).
    Public,
    /// A live session, by the credential rules ([`CredentialRules::session_credential`]).
    /// A dead session cookie gets its 401 with the clearing cookie.
    Session,
}

/// Which requests must come from an allowed origin ([`CredentialRules::origin_allowed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginCheck {
    /// Every request, before anything else is read: a page of another site must not log
    /// the browser in or out.
    Always,
    /// Requests that present the session cookie, as the credential rules say: browsers
    /// attach cookies to cross-site requests, bearer tokens never.
    WithCookie,
}

/// One route of a function, as API Gateway routes it to the function.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    /// The path behind API Gateway. The function matches the end of the path it is sent,
    /// whatever stage or prefix precedes it.
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub requires: Requires,
    pub origin: OriginCheck,
}

/// What a function shares of sessions: the table, the credential rules and the cookie.
#[derive(Clone)]
pub struct Sessions {
    pub store: SessionStore,
    pub rules: CredentialRules,
    pub cookie: SessionCookie,
}

/// A request as its route's handler reads it.
pub struct Incoming<'r> {
    pub route: &'static Route,
    pub request: &'r Request,
    pub invocation: &'r Invocation,
    /// What the request presents that may name a session, read once.
    pub presented: Presented<'r>,
}

/// The session a [`Requires::Session`] route found for the request.
pub struct LiveSession {
    pub token: SessionToken,
    pub session: Session,
    /// Whether it came as the cookie (false: a native app's bearer token).
    pub by_cookie: bool,
}

/// Everything a handler gets for one request.
pub struct Call<'r, I> {
    pub incoming: Incoming<'r>,
    /// What [`Handler::read`] made of the request.
    pub input: I,
    /// For [`Requires::Session`] routes.
    pub session: Option<LiveSession>,
    pub sessions: &'r Sessions,
    pub record: &'r mut RequestRecord,
}

/// A function's routes and what it does for each.
pub trait Handler: Sync {
    /// What the handler reads from a request before the route's requirement applies.
    type Input: Send;

    /// The routes the function serves; the first names requests that match none.
    const ROUTES: &'static [Route];

    /// Reads what the route takes (a body, say), or why the request cannot be served.
    fn read(&self, incoming: &Incoming<'_>, sessions: &Sessions) -> Result<Self::Input, ApiError>;

    /// Serves one request whose route's requirement holds.
    fn handle(
        &self,
        call: Call<'_, Self::Input>,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}

/// A function as the runtime serves it: its handler, the sessions it shares, its telemetry.
pub struct Function<H> {
    pub handler: H,
    pub sessions: Sessions,
    pub telemetry: Telemetry,
}

impl<H> Function<H> {
    /// Sends the metric lines elsewhere than stdout (tests read them).
    pub fn with_metrics_sink(mut self, sink: crate::telemetry::metrics::MetricsSink) -> Self {
        self.telemetry = self.telemetry.with_metrics_sink(sink);
        self
    }

    /// The sessions table the function uses.
    pub fn store(&self) -> &SessionStore {
        &self.sessions.store
    }
}

impl<H: Handler> Function<H> {
    /// Answers one request, with its summary line and metrics record.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let invocation = Invocation::of(&request);
        let request_id = request
            .lambda_context_ref()
            .map_or("", |context| context.request_id.as_str());
        let mut record = RequestRecord::new(H::ROUTES[0].endpoint, request_id, started);
        record.deadline = Some(invocation.deadline);
        let mut dead_cookie = false;
        let outcome = match route(H::ROUTES, &invocation.path, request.method()) {
            Ok(route) => {
                record.endpoint = route.endpoint;
                let presented =
                    request::presented(&request, &invocation, self.sessions.cookie.name());
                let incoming = Incoming {
                    route,
                    request: &request,
                    invocation: &invocation,
                    presented,
                };
                self.serve(incoming, &mut record, &mut dead_cookie).await
            }
            Err(err) => Err(err),
        };
        let response = self.telemetry.finish(&record, outcome);
        if dead_cookie {
            response::with_cookie(response, self.sessions.cookie.clear())
        } else {
            response
        }
    }

    /// The answer to an invocation whose event could not be handled (an unreadable event,
    /// a panic), with its summary line and metrics record.
    pub fn refuse(&self, request_id: &str, error: ApiError) -> Response<Body> {
        let record = RequestRecord::new(H::ROUTES[0].endpoint, request_id, Instant::now());
        self.telemetry.finish(&record, Err(error))
    }

    async fn serve(
        &self,
        incoming: Incoming<'_>,
        record: &mut RequestRecord,
        dead_cookie: &mut bool,
    ) -> Result<Response<Body>, ApiError> {
        let route = incoming.route;
        let rules = &self.sessions.rules;
        if route.origin == OriginCheck::Always && !rules.origin_allowed(incoming.presented.origin) {
            return Err(ApiError::OriginNotAllowed);
        }
        let input = self.handler.read(&incoming, &self.sessions)?;
        let session = match route.requires {
            Requires::Public => None,
            Requires::Session => {
                let credential = rules.session_credential(&incoming.presented)?;
                let found = self.live_session(credential, record).await;
                *dead_cookie = matches!(
                    (&found, credential),
                    (Err(ApiError::SessionInvalid), Credential::Cookie(_))
                );
                Some(found?)
            }
        };
        let call = Call {
            incoming,
            input,
            session,
            sessions: &self.sessions,
            record,
        };
        self.handler.handle(call).await
    }

    /// The live session of `credential`, or why there is none.
    async fn live_session(
        &self,
        credential: Credential<'_>,
        record: &mut RequestRecord,
    ) -> Result<LiveSession, ApiError> {
        let (token, session) = self.sessions.live(credential.token(), record).await?;
        Ok(LiveSession {
            token,
            session,
            by_cookie: matches!(credential, Credential::Cookie(_)),
        })
    }
}

impl Sessions {
    /// The live session whose token is `presented`, or why there is none
    /// (`session_invalid`); the summary line names its user and reference.
    pub(crate) async fn live(
        &self,
        presented: &str,
        record: &mut RequestRecord,
    ) -> Result<(SessionToken, Session), ApiError> {
        let token = SessionToken::parse(presented).ok_or(ApiError::SessionInvalid)?;
        record.session_ref = Some(token.reference().to_owned());
        let now = crate::session::now_epoch_seconds();
        let session = record
            .dynamodb(self.store.get(&token))
            .await?
            .filter(|session| policy::is_live(session.expires_at, now))
            .ok_or(ApiError::SessionInvalid)?;
        record.user_id = Some(session.user_id.clone());
        Ok((token, session))
    }
}

/// The route `path` and `method` are for, or why there is none: no route ends the path
/// (404), or none of those that do takes the method (405, with the ones they take).
/// Route paths begin with `/`, so a match is always whole segments.
fn route(
    routes: &'static [Route],
    path: &str,
    method: &Method,
) -> Result<&'static Route, ApiError> {
    let path = path.trim_end_matches('/');
    let on_path: Vec<&'static Route> = routes
        .iter()
        .filter(|route| path.ends_with(route.path))
        .collect();
    if on_path.is_empty() {
        return Err(ApiError::NotFound);
    }
    on_path
        .iter()
        .find(|route| route.method == method)
        .copied()
        .ok_or_else(|| {
            let allowed: Vec<&str> = on_path.iter().map(|r| r.method.as_str()).collect();
            ApiError::MethodNotAllowed(allowed.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The session function's: two routes on one path, one on another.
    const ROUTES: &[Route] = <crate::functions::SessionRoutes as Handler>::ROUTES;

    fn endpoint(path: &str, method: Method) -> Result<Endpoint, String> {
        route(ROUTES, path, &method)
            .map(|r| r.endpoint)
            .map_err(|e| format!("{} {}", e.code(), e.status()))
    }

    #[test]
    fn a_route_is_matched_by_the_end_of_the_path_and_the_method() {
        assert_eq!(
            endpoint("/auth/session", Method::GET),
            Ok(Endpoint::Session)
        );
        assert_eq!(
            endpoint("/dev/auth/session/", Method::DELETE),
            Ok(Endpoint::Logout)
        );
        assert_eq!(
            endpoint("/lambda-url/session/auth/sessions", Method::DELETE),
            Ok(Endpoint::LogoutEverywhere)
        );
        for elsewhere in ["/", "/auth/profile", "/auth/xsession", "/auth/session/x"] {
            assert_eq!(
                endpoint(elsewhere, Method::GET),
                Err("not_found 404 Not Found".into()),
                "{elsewhere}"
            );
        }
        let refused = route(ROUTES, "/auth/session", &Method::POST).unwrap_err();
        assert!(matches!(refused, ApiError::MethodNotAllowed(allow) if allow == "GET, DELETE"));
        let refused = route(ROUTES, "/auth/sessions", &Method::GET).unwrap_err();
        assert!(matches!(refused, ApiError::MethodNotAllowed(allow) if allow == "DELETE"));
    }
}
