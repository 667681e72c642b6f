//! The HTTP side of the functions: the Lambda runtime loop, reading API Gateway's event,
//! routes as data, reading requests, writing responses, and the errors clients see.

pub mod error;
pub mod event;
pub mod request;
pub mod response;
pub mod routes;
pub mod runtime;

pub use error::ApiError;
pub use event::Invocation;
pub use response::SessionCookie;
pub use routes::{
    Call, Endpoint, Function, Handler, Incoming, LiveSession, OriginCheck, Requires, Route,
    Sessions,
};
pub use runtime::{serve, serve_authorizer};
