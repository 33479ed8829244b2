//! Requests to the Craton API: authentication headers, TLS, timeouts, retries, and
//! errors an operator can act on.
//!
//! Every error names the request (method and path, never the token) and what went wrong:
//! Craton's own message, or why no answer came. Safe requests (`GET`) are retried a few
//! times on connection errors and `5xx`; others are sent once, since resending a `POST`
//! whose answer was lost could do it twice. Redirects are not followed: the token would
//! go wherever the redirect points.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use super::config::CratonConfig;
use crate::one_line;

/// How many times a `GET` is tried, and the pause after each failed try.
const GET_ATTEMPTS: usize = 3;
const RETRY_PAUSES: [Duration; GET_ATTEMPTS - 1] =
    [Duration::from_millis(200), Duration::from_millis(800)];

/// The longest piece of a response body quoted in a message.
const QUOTED_BODY: usize = 200;

/// A request that failed.
#[derive(Debug)]
pub struct ApiError {
    method: Method,
    /// The path and query, as sent.
    path: String,
    pub kind: ErrorKind,
}

#[derive(Debug)]
pub enum ErrorKind {
    /// Craton answered with an error status; `message` is its own.
    Status {
        status: StatusCode,
        message: String,
        attempts: usize,
    },
    /// No answer: the connection failed (refused, reset, TLS).
    Connection { detail: String, attempts: usize },
    /// No answer within the timeout.
    Timeout(Duration),
    /// An answer that is not the JSON expected.
    BadAnswer(String),
}

impl ApiError {
    pub fn status(&self) -> Option<StatusCode> {
        match &self.kind {
            ErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Craton's message, for a status error.
    pub fn craton_message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The request, for messages: `GET /v1/clouds?name=x`.
    pub fn request(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub(super) fn bad_answer(method: &Method, path: &str, detail: impl Into<String>) -> Self {
        ApiError {
            method: method.clone(),
            path: path.to_string(),
            kind: ErrorKind::BadAnswer(detail.into()),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.request())?;
        let tries = |attempts: usize| {
            if attempts > 1 {
                format!(" ({attempts} attempts)")
            } else {
                String::new()
            }
        };
        match &self.kind {
            ErrorKind::Status {
                status,
                message,
                attempts,
            } => {
                let shown = status_text(*status);
                if *status == StatusCode::UNAUTHORIZED {
                    write!(
                        f,
                        "Craton refused the credentials ({shown}: {message}); \
                         check 'project', 'user' and the token"
                    )
                } else {
                    write!(f, "Craton answered {shown}: {message}{}", tries(*attempts))
                }
            }
            ErrorKind::Connection { detail, attempts } => {
                write!(f, "no connection to Craton: {detail}{}", tries(*attempts))?;
                if detail.contains("certificate") || detail.contains("Certificate") {
                    f.write_str(
                        "; if the server's certificate is signed by a private CA, \
                         set 'ca_file' to that CA's certificate",
                    )?;
                }
                Ok(())
            }
            ErrorKind::Timeout(limit) => write!(
                f,
                "no answer from Craton within {} s (setting 'timeout')",
                limit.as_secs()
            ),
            ErrorKind::BadAnswer(detail) => {
                write!(f, "the answer is not the JSON Craton's API gives: {detail}")
            }
        }
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

impl std::error::Error for ApiError {}

/// A connection to one Craton API as one user.
pub struct Api {
    client: Client,
    base: Url,
    /// The path of `base` (`/v1`), prefixed to every request's path in messages.
    base_path: String,
    timeout: Duration,
}

impl Api {
    /// Builds the client: the configured credentials on every request, certificates
    /// verified against the system's roots plus `ca_file`'s.
    pub fn new(config: &CratonConfig) -> Result<Api, String> {
        let mut headers = HeaderMap::new();
        let mut add = |name: &'static str, value: &str, secret: bool| -> Result<(), String> {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("the {name} header cannot hold the configured value"))?;
            value.set_sensitive(secret);
            headers.insert(name, value);
            Ok(())
        };
        add("X-Auth-Project", &config.project, false)?;
        add("X-Auth-User", &config.user, false)?;
        add("X-Auth-Token", config.token.expose(), true)?;
        let mut builder = Client::builder()
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("osa-dynamic-inventory/", env!("CARGO_PKG_VERSION")));
        if config.url.scheme() == "https" {
            builder = builder.https_only(true);
            if let Some(pem) = &config.ca_pem {
                let certs = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| format!("cannot use ca_file: {}", one_line(&e.to_string())))?;
                builder = builder.tls_certs_merge(certs);
            }
        } else {
            // Plain HTTP (loopback only) and no redirects: TLS is never used, so the
            // system's roots (a few milliseconds to parse, every run) are not loaded.
            builder = builder.tls_certs_only(std::iter::empty());
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", error_chain(&e)))?;
        Ok(Api {
            client,
            base_path: config.url.path().to_string(),
            base: config.url.clone(),
            timeout: config.timeout,
        })
    }

    pub fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.send(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send(Method::POST, path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send(Method::PUT, path, Some(body))
    }

    pub fn delete(&self, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        self.send(Method::DELETE, path, body)
    }

    /// Sends one request (`path` below the base URL, with its query) and returns the JSON
    /// answer (`null` for an empty one).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let shown = format!("{}{path}", self.base_path);
        let error = |kind| ApiError {
            method: method.clone(),
            path: shown.clone(),
            kind,
        };
        let url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| error(ErrorKind::BadAnswer(format!("cannot form the URL: {e}"))))?;
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let attempts = if method == Method::GET {
            GET_ATTEMPTS
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), url.clone());
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = request.send();
            let retry = attempt < attempts
                && match &outcome {
                    Ok(response) => response.status().is_server_error(),
                    Err(e) => !e.is_timeout() && (e.is_connect() || e.is_request()),
                };
            if retry {
                std::thread::sleep(RETRY_PAUSES[attempt - 1]);
                continue;
            }
            return match outcome {
                Ok(response) => read_answer(response, attempt).map_err(error),
                Err(e) if e.is_timeout() => Err(error(ErrorKind::Timeout(self.timeout))),
                Err(e) => Err(error(ErrorKind::Connection {
                    detail: error_chain(&e),
                    attempts: attempt,
                })),
            };
        }
    }
}

fn read_answer(response: Response, attempts: usize) -> Result<Value, ErrorKind> {
    let status = response.status();
    let bytes = response.bytes().map_err(|e| {
        if e.is_timeout() {
            ErrorKind::BadAnswer("the answer stopped before its end (timeout)".into())
        } else {
            ErrorKind::BadAnswer(format!("cannot read the answer: {}", error_chain(&e)))
        }
    })?;
    parse_answer(status, &bytes, attempts)
}

fn parse_answer(status: StatusCode, bytes: &[u8], attempts: usize) -> Result<Value, ErrorKind> {
    if status.is_success() {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(bytes).map_err(|e| {
            ErrorKind::BadAnswer(format!("{e} (in {} bytes, status {status})", bytes.len()))
        });
    }
    // Craton's errors are `{"message": "...", "status": N}`; anything else is quoted.
    let message = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => match map.get("message") {
            Some(Value::String(m)) => one_line(m),
            Some(other) => one_line(&other.to_string()),
            None => quote_body(bytes),
        },
        _ => quote_body(bytes),
    };
    Err(ErrorKind::Status {
        status,
        message,
        attempts,
    })
}

fn quote_body(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(no message)".into();
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTED_BODY)]);
    let mut quoted = one_line(&text);
    if bytes.len() > QUOTED_BODY {
        quoted.push_str("...");
    }
    quoted
}

/// An error and its causes, on one line: `error sending request: ...: invalid peer
/// certificate: UnknownIssuer`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = one_line(&e.to_string());
        // reqwest repeats the URL in its own text; the caller names the request already.
        let text = strip_url(&text);
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn strip_url(text: &str) -> String {
    match text.find(" for url (") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_error(code: u16, message: &str, attempts: usize) -> ApiError {
        ApiError {
            method: Method::GET,
            path: "/v1/clouds?name=x".into(),
            kind: ErrorKind::Status {
                status: StatusCode::from_u16(code).unwrap(),
                message: message.into(),
                attempts,
            },
        }
    }

    #[test]
    fn messages_name_the_request_and_the_cause() {
        assert_eq!(
            status_error(500, "An unknown exception occurred", 3).to_string(),
            "GET /v1/clouds?name=x: Craton answered 500 Internal Server Error: \
             An unknown exception occurred (3 attempts)"
        );
        assert_eq!(
            status_error(401, "Unauthorized", 1).to_string(),
            "GET /v1/clouds?name=x: Craton refused the credentials (401 Unauthorized: \
             Unauthorized); check 'project', 'user' and the token"
        );
        let timeout = ApiError {
            method: Method::PUT,
            path: "/v1/hosts/3".into(),
            kind: ErrorKind::Timeout(Duration::from_secs(2)),
        };
        assert_eq!(
            timeout.to_string(),
            "PUT /v1/hosts/3: no answer from Craton within 2 s (setting 'timeout')"
        );
        let tls = ApiError {
            method: Method::GET,
            path: "/v1/x".into(),
            kind: ErrorKind::Connection {
                detail: "invalid peer certificate: UnknownIssuer".into(),
                attempts: 1,
            },
        };
        assert!(
            tls.to_string()
                .ends_with("set 'ca_file' to that CA's certificate")
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("a\nb\u{1b}[31mc\t"), "a\\nb\\u{1b}[31mc");
        assert_eq!(quote_body(b"<html>\r\n</html>"), "<html>\\r\\n</html>");
        assert_eq!(quote_body(&[b'x'; 300]).len(), QUOTED_BODY + 3);
        assert_eq!(quote_body(b""), "(no message)");
    }

    #[test]
    fn answers() {
        let ok = read_answer_of(200, "{\"a\": 1}").unwrap();
        assert_eq!(ok["a"], 1);
        assert_eq!(read_answer_of(204, "").unwrap(), Value::Null);
        match read_answer_of(
            409,
            "{\"message\": \"A cell with the given name already exists.\", \"status\": 409}",
        ) {
            Err(ErrorKind::Status {
                status, message, ..
            }) => {
                assert_eq!(status, StatusCode::CONFLICT);
                assert_eq!(message, "A cell with the given name already exists.");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_answer_of(200, "<html>"),
            Err(ErrorKind::BadAnswer(_))
        ));
        match read_answer_of(502, "<html>Bad gateway</html>") {
            Err(ErrorKind::Status { message, .. }) => {
                assert_eq!(message, "<html>Bad gateway</html>")
            }
            other => panic!("{other:?}"),
        }
    }

    fn read_answer_of(code: u16, body: &str) -> Result<Value, ErrorKind> {
        parse_answer(StatusCode::from_u16(code).unwrap(), body.as_bytes(), 1)
    }
}
