//! `POST /auth/createConnectToken`: for the logged-in user, a connect token from Corbado,
//! with which Corbado's components list, append or delete the user's passkeys.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::http::{
    request, response, ApiError, Call, Endpoint, Handler, Incoming, OriginCheck, Requires, Route,
    Sessions,
};
use crate::upstream::corbado::{ConnectTokenRequest, ConnectTokenType, CorbadoClient};

pub struct CreateConnectToken {
    pub(crate) corbado: CorbadoClient,
}

/// Body of `POST /auth/createConnectToken`.
#[derive(Debug, Deserialize)]
pub struct CreateConnectTokenBody {
    #[serde(rename = "type")]
    pub token_type: String,
}

#[derive(Serialize)]
struct CreateConnectTokenResponse<'a> {
    #[serde(rename = "connectToken")]
    connect_token: &'a str,
}

impl Handler for CreateConnectToken {
    type Input = ConnectTokenType;

    const ROUTES: &'static [Route] = &[Route {
        method: Method::POST,
        path: "/auth/createConnectToken",
        endpoint: Endpoint::CreateConnectToken,
        requires: Requires::Session,
        origin: OriginCheck::WithCookie,
    }];

    fn read(&self, incoming: &Incoming<'_>, _: &Sessions) -> Result<ConnectTokenType, ApiError> {
        let body: CreateConnectTokenBody = request::json_body(incoming.request)?;
        ConnectTokenType::parse(&body.token_type).ok_or(ApiError::UnknownTokenType)
    }

    async fn handle(&self, call: Call<'_, ConnectTokenType>) -> Result<Response<Body>, ApiError> {
        let Call {
            input: kind,
            session,
            record,
            ..
        } = call;
        record.token_type = Some(kind.as_str());
        let session = session.ok_or(ApiError::SessionRequired)?.session;
        let deadline = record.deadline();
        let request = ConnectTokenRequest::for_session(kind, &session);
        let secret = record
            .corbado(self.corbado.create_connect_token(&request, deadline))
            .await?;
        Ok(response::json_response(
            StatusCode::OK,
            &CreateConnectTokenResponse {
                connect_token: secret.expose_secret(),
            },
        ))
    }
}
