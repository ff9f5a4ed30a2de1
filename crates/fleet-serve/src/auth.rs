//! Bearer-token auth: with a token configured every route but `/healthz` needs it, as an
//! `Authorization: Bearer` header, or as the HttpOnly cookie a browser gets by opening
//! any page once with `?token=…` (the cookie holds the token's digest, not the token).
//! Tokens are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::docs::ErrorDoc;

pub const COOKIE: &str = "fuzzfleet_token";

/// The expected token, kept as a digest so every comparison is over equal-length bytes
/// (the length of a guess leaks nothing either).
pub struct Token([u8; 20]);

impl Token {
    pub fn new(token: &str) -> Self {
        Self(digest(token))
    }

    pub fn matches(&self, candidate: &str) -> bool {
        self.0.ct_eq(&digest(candidate)).into()
    }

    /// The cookie's value: the digest in hex (any token fits a cookie that way).
    fn cookie_value(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn matches_cookie(&self, candidate: &str) -> bool {
        self.cookie_value()
            .as_bytes()
            .ct_eq(candidate.as_bytes())
            .into()
    }
}

fn digest(s: &str) -> [u8; 20] {
    Sha1::digest(s.as_bytes()).into()
}

pub async fn require(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(token) = &app.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    if let Some(given) = bearer(&req) {
        return if crate::check_token(given).is_ok() && token.matches(given) {
            next.run(req).await
        } else {
            unauthorized("wrong bearer token")
        };
    }
    if cookie(&req).is_some_and(|c| token.matches_cookie(c)) {
        return next.run(req).await;
    }
    if let Some((given, rest)) = query_token(&req) {
        // Nothing a token could be (blank, too short) is ever compared, let alone
        // turned into a cookie.
        if crate::check_token(&given).is_err() || !token.matches(given.trim()) {
            return unauthorized("wrong token");
        }
        // The token leaves the address bar: the page is reloaded without it, and the
        // browser keeps it as a cookie scripts cannot read.
        let location = match rest.is_empty() {
            true => req.uri().path().to_string(),
            false => format!("{}?{rest}", req.uri().path()),
        };
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            token.cookie_value()
        );
        let mut resp = StatusCode::SEE_OTHER.into_response();
        let headers = resp.headers_mut();
        if let (Ok(loc), Ok(c)) = (
            HeaderValue::from_str(&location),
            HeaderValue::from_str(&cookie),
        ) {
            headers.insert(header::LOCATION, loc);
            headers.insert(header::SET_COOKIE, c);
            return resp;
        }
        return unauthorized("token is not a valid header value");
    }
    unauthorized("this server needs a token: send `Authorization: Bearer <token>`")
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(v.strip_prefix("Bearer ").unwrap_or(v).trim())
}

fn cookie(req: &Request) -> Option<&str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// `?token=` and the rest of the query without it.
fn query_token(req: &Request) -> Option<(String, String)> {
    let query = req.uri().query()?;
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("token=") {
            Some(t) => token = Some(percent_decode(t)),
            None => rest.push(pair),
        }
    }
    Some((token?, rest.join("&")))
}

/// `%XX` escapes decoded; `+` stays itself (tokens are often base64).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unauthorized(why: &str) -> Response {
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        axum::Json(ErrorDoc {
            error: why.to_string(),
        }),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"fuzzfleet\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let t = Token::new("s3cret");
        assert!(t.matches("s3cret"));
        assert!(!t.matches("s3cre"));
        assert!(!t.matches("s3cret "));
        assert!(!t.matches(""));
        assert!(t.matches_cookie(&t.cookie_value()));
        assert!(!t.matches_cookie("s3cret"));
        assert!(!t.matches_cookie(&Token::new("other").cookie_value()));
    }

    #[test]
    fn query_tokens_are_decoded() {
        assert_eq!(percent_decode("a%2Bb%3d"), "a+b=");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
