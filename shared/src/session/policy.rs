//! The session rules, as pure functions of what a request presents, the configuration
//! and the time: no I/O and no clock inside. Every function applies them through these,
//! so a rule is written, and tested, once (`tests::the_credential_rules_are_the_written_table`
//! is their specification).

/// What a request carries that may name a session, as the request presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'r> {
    /// The session cookie: none, one, or several of its name.
    pub cookie: CookieCount<'r>,
    /// The token of an `Authorization: Bearer …` header.
    pub bearer: Option<&'r str>,
    /// The `Origin` header, when the request has one (a browser page's).
    pub origin: Option<&'r [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCount<'r> {
    None,
    One(&'r str),
    /// Two or more cookies of the session's name: a sibling subdomain can plant one, and
    /// guessing which is ours could log the user into someone else's session.
    Several,
}

/// The session credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'r> {
    Cookie(&'r str),
    /// A native app's token (`Authorization: Bearer`), which browsers never attach by themselves.
    Bearer(&'r str),
}

impl<'r> Credential<'r> {
    pub fn token(self) -> &'r str {
        match self {
            Self::Cookie(token) | Self::Bearer(token) => token,
        }
    }
}

/// Why a request presents no usable credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("a session token for native apps, but NATIVE_APP_SESSIONS is off")]
    NativeSessionsDisabled,
    #[error("more than one session cookie")]
    Ambiguous,
    #[error("no session cookie or token")]
    Required,
    #[error("the Origin header is not among ALLOWED_ORIGINS")]
    OriginNotAllowed,
}

/// What a logout ends, and whether it clears the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logout<'r> {
    pub cookie: Option<&'r str>,
    pub bearer: Option<&'r str>,
    pub clear_cookie: bool,
}

/// The configuration the credential rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRules {
    /// Browser origins (`https://app.example.com`) that may use the session cookie, log in
    /// and log out.
    pub allowed_origins: Vec<String>,
    /// Whether native apps may hold the session token and send it as a bearer token.
    pub native_app_sessions: bool,
}

impl CredentialRules {
    /// Requests from a browser page carry `Origin`; only the configured frontends may act
    /// with the session cookie. Requests without one are not from a page.
    pub fn origin_allowed(&self, origin: Option<&[u8]>) -> bool {
        origin.is_none_or(|origin| {
            self.allowed_origins
                .iter()
                .any(|allowed| allowed.as_bytes() == origin)
        })
    }

    /// A bearer token of ours, or none: other `Authorization: Bearer` values (an
    /// application's own API token, added by a global fetch wrapper) are not ours to judge.
    fn our_bearer<'r>(&self, presented: &Presented<'r>) -> Option<&'r str> {
        presented
            .bearer
            .filter(|token| looks_like_session_token(token))
    }

    /// The credential of a request to a route that needs a live session: a native app's
    /// bearer token (when those are on), else the session cookie, whose request must come
    /// from an allowed origin.
    pub fn session_credential<'r>(
        &self,
        presented: &Presented<'r>,
    ) -> Result<Credential<'r>, Refused> {
        if let Some(bearer) = self.our_bearer(presented) {
            if self.native_app_sessions {
                return Ok(Credential::Bearer(bearer));
            }
            // A browser sends its cookie; a native app that forgot the switch is told why.
            if presented.cookie == CookieCount::None {
                return Err(Refused::NativeSessionsDisabled);
            }
        }
        match presented.cookie {
            CookieCount::Several => Err(Refused::Ambiguous),
            CookieCount::None => Err(Refused::Required),
            CookieCount::One(_) if !self.origin_allowed(presented.origin) => {
                Err(Refused::OriginNotAllowed)
            }
            CookieCount::One(cookie) => Ok(Credential::Cookie(cookie)),
        }
    }

    /// The session a login ends when it opens the new one (no fixation), if the request
    /// presents one; the route checks the Origin of every login itself.
    pub fn login_credential<'r>(
        &self,
        presented: &Presented<'r>,
    ) -> Result<Option<Credential<'r>>, Refused> {
        match self.session_credential(presented) {
            Ok(credential) => Ok(Some(credential)),
            Err(Refused::Required) => Ok(None),
            // A login from a foreign page never gets this far: the route refuses it first.
            Err(Refused::OriginNotAllowed) => Ok(None),
            Err(refused) => Err(refused),
        }
    }

    /// What a logout ends: the cookie's session and a native app's bearer token's, whatever
    /// else the request carries; it never refuses. Two cookies of our name: neither ends
    /// (either may be planted), and ours is cleared. Only a request with a bearer token and
    /// no cookie gets no clearing cookie: it holds none.
    pub fn logout<'r>(&self, presented: &Presented<'r>) -> Logout<'r> {
        let bearer = self
            .our_bearer(presented)
            .filter(|_| self.native_app_sessions);
        let cookie = match presented.cookie {
            CookieCount::One(cookie) => Some(cookie),
            CookieCount::None | CookieCount::Several => None,
        };
        let bearer_only = presented.cookie == CookieCount::None && bearer.is_some();
        Logout {
            cookie,
            bearer,
            clear_cookie: !bearer_only,
        }
    }
}

/// Whether `value` has the shape of a session token this backend issues (43 base64url
/// characters); [`super::SessionToken::parse`] decides for certain.
fn looks_like_session_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a session that expires at `expires_at` is live at `now` (epoch seconds).
/// DynamoDB's TTL removes expired items late, sometimes days late: every read asks this.
pub fn is_live(expires_at: u64, now: u64) -> bool {
    now < expires_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALLOWED: &[u8] = b"https://app.example.com";
    const FOREIGN: &[u8] = b"https://evil.example.net";
    const OURS: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const COOKIE: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    /// The specification: for each combination of what a request presents, what each kind
    /// of route makes of it. Rows are tried in order and the first that matches applies;
    /// `*` matches anything. Every combination must meet a row, and every row a combination.
    ///
    /// cookie: none, one, several · bearer: none, ours (shaped like our token), other ·
    /// native: on, off · origin: none, allowed, foreign.
    /// session: the credential of a route that needs a live session, or its refusal.
    /// login: the session a login ends with the new one, or its refusal.
    /// logout: what a logout ends, and `clear` when it sends the clearing cookie.
    const TABLE: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
        // cookie, bearer, native, origin => session, login, logout
        ("none", "ours", "on", "*", "bearer", "bearer", "bearer"),
        (
            "one",
            "ours",
            "on",
            "*",
            "bearer",
            "bearer",
            "cookie+bearer clear",
        ),
        (
            "several",
            "ours",
            "on",
            "*",
            "bearer",
            "bearer",
            "bearer clear",
        ),
        (
            "none",
            "ours",
            "off",
            "*",
            "native_sessions_disabled",
            "native_sessions_disabled",
            "clear",
        ),
        ("several", "*", "*", "*", "ambiguous", "ambiguous", "clear"),
        ("none", "*", "*", "*", "required", "none", "clear"),
        (
            "one",
            "*",
            "*",
            "foreign",
            "origin_not_allowed",
            "none",
            "cookie clear",
        ),
        ("one", "*", "*", "*", "cookie", "cookie", "cookie clear"),
    ];

    fn matches(pattern: &str, value: &str) -> bool {
        pattern == "*" || pattern == value
    }

    fn outcome(result: Result<Option<Credential>, Refused>) -> String {
        match result {
            Ok(None) => "none".into(),
            Ok(Some(Credential::Cookie(_))) => "cookie".into(),
            Ok(Some(Credential::Bearer(_))) => "bearer".into(),
            Err(Refused::NativeSessionsDisabled) => "native_sessions_disabled".into(),
            Err(Refused::Ambiguous) => "ambiguous".into(),
            Err(Refused::Required) => "required".into(),
            Err(Refused::OriginNotAllowed) => "origin_not_allowed".into(),
        }
    }

    fn logout_outcome(logout: Logout) -> String {
        let mut ends = Vec::new();
        if let Some(cookie) = logout.cookie {
            assert_eq!(cookie, COOKIE);
            ends.push("cookie");
        }
        if let Some(bearer) = logout.bearer {
            assert_eq!(bearer, OURS);
            ends.push("bearer");
        }
        let mut text = ends.join("+");
        if logout.clear_cookie {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str("clear");
        }
        text
    }

    #[test]
    fn the_credential_rules_are_the_written_table() {
        let mut rows_met = vec![0; TABLE.len()];
        for cookie in ["none", "one", "several"] {
            for bearer in ["none", "ours", "other"] {
                for native in ["on", "off"] {
                    for origin in ["none", "allowed", "foreign"] {
                        let presented = Presented {
                            cookie: match cookie {
                                "none" => CookieCount::None,
                                "one" => CookieCount::One(COOKIE),
                                _ => CookieCount::Several,
                            },
                            bearer: match bearer {
                                "none" => None,
                                "ours" => Some(OURS),
                                _ => Some("app-api-token"),
                            },
                            origin: match origin {
                                "none" => None,
                                "allowed" => Some(ALLOWED),
                                _ => Some(FOREIGN),
                            },
                        };
                        let rules = CredentialRules {
                            allowed_origins: vec![String::from_utf8(ALLOWED.to_vec()).unwrap()],
                            native_app_sessions: native == "on",
                        };
                        let case = format!("{cookie}/{bearer}/{native}/{origin}");
                        let row = TABLE
                            .iter()
                            .position(|r| {
                                matches(r.0, cookie)
                                    && matches(r.1, bearer)
                                    && matches(r.2, native)
                                    && matches(r.3, origin)
                            })
                            .unwrap_or_else(|| panic!("{case}: no row of the table"));
                        rows_met[row] += 1;
                        let (_, _, _, _, session, login, logout) = TABLE[row];
                        let got = outcome(rules.session_credential(&presented).map(Some));
                        assert_eq!(got, session, "{case}: session route");
                        let got = outcome(rules.login_credential(&presented));
                        assert_eq!(got, login, "{case}: login");
                        assert_eq!(
                            logout_outcome(rules.logout(&presented)),
                            logout,
                            "{case}: logout"
                        );
                    }
                }
            }
        }
        for (row, met) in rows_met.iter().enumerate() {
            assert!(*met > 0, "row {row} of the table meets no request");
        }
    }

    #[test]
    fn only_configured_origins_are_allowed_and_no_origin_is_no_page() {
        let rules = CredentialRules {
            allowed_origins: vec!["https://app.example.com".into()],
            native_app_sessions: false,
        };
        assert!(rules.origin_allowed(None));
        assert!(rules.origin_allowed(Some(b"https://app.example.com")));
        for foreign in [
            &b"null"[..],
            b"https://app.example.com/",
            b"https://APP.example.com",
            b"",
        ] {
            assert!(!rules.origin_allowed(Some(foreign)), "{foreign:?}");
        }
    }

    proptest! {
        #[test]
        fn a_session_is_live_until_it_expires_and_never_again(
            expires_at in 0u64..4_000_000_000,
            now in 0u64..4_000_000_000,
            later in 0u64..1_000_000,
        ) {
            prop_assert_eq!(is_live(expires_at, now), now < expires_at);
            // Monotone: once expired, expired at every later time.
            if !is_live(expires_at, now) {
                prop_assert!(!is_live(expires_at, now + later));
            }
        }
    }
}
