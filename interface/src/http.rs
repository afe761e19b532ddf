//! HTTP/1.1 framing, sans-IO: feed received bytes into [`HttpParser`], take out complete
//! [`HttpRequest`]s (pipelined requests stay buffered); serialise [`HttpResponse`]s.
//!
//! Limits are enforced before data is buffered: headers beyond `max_header_bytes` give
//! 431, a `Content-Length` beyond `max_body_bytes` gives 413 without reading the body.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// Size limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request line + headers.
    pub max_header_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Largest body (the ingress message limit: 2 MiB on application subnets).
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_header_bytes: 16 * 1024, max_headers: 64, max_body_bytes: 2 * 1024 * 1024 }
    }
}

/// How long a client may take to send a complete request before the kernel answers 408
/// and closes (the replica's limit); see [`HttpParser::in_progress`].
pub const REQUEST_TIMEOUT_SECS: u64 = 300;

/// The request methods the interface serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `OPTIONS` (CORS preflight)
    Options,
    /// Anything else (answered 405).
    Other,
}

/// A complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Request target without the query string.
    pub path: String,
    /// The `Content-Type` header, if any (media type only, parameters dropped, lower case).
    pub content_type: Option<String>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Why bytes are not an acceptable request. The connection must be closed after the
/// error response, since the framing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// Unparseable request line or headers (400).
    Malformed,
    /// Request line and headers too large (431).
    HeadersTooLarge,
    /// Declared body larger than the limit (413).
    BodyTooLarge,
    /// `Transfer-Encoding` (chunked bodies) is not supported (411: send Content-Length).
    LengthRequired,
}

impl HttpError {
    /// The status to answer with.
    pub fn status(self) -> u16 {
        match self {
            HttpError::Malformed => 400,
            HttpError::HeadersTooLarge => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::LengthRequired => 411,
        }
    }
}

impl core::fmt::Display for HttpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            HttpError::Malformed => "Malformed HTTP request",
            HttpError::HeadersTooLarge => "Request headers too large",
            HttpError::BodyTooLarge => "Request body too large",
            HttpError::LengthRequired => "Content-Length required; chunked transfer encoding is not supported",
        })
    }
}

/// The head of a request whose body is still arriving.
#[derive(Debug)]
struct Head {
    header_len: usize,
    body_len: usize,
    /// The client sent `Expect: 100-continue` and waits for an interim response.
    expects_continue: bool,
    request: HttpRequest,
}

/// The incremental parser of one connection.
#[derive(Debug, Default)]
pub struct HttpParser {
    limits: Limits,
    buf: Vec<u8>,
    head: Option<Head>,
}

fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<Head>, HttpError> {
    let mut headers = alloc::vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let header_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > limits.max_header_bytes { Err(HttpError::HeadersTooLarge) } else { Ok(None) };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadersTooLarge),
        Err(_) => return Err(HttpError::Malformed),
    };
    if header_len > limits.max_header_bytes {
        return Err(HttpError::HeadersTooLarge);
    }
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("POST") => Method::Post,
        Some("OPTIONS") => Method::Options,
        _ => Method::Other,
    };
    let target = req.path.ok_or(HttpError::Malformed)?;
    let path = String::from(target.split('?').next().unwrap_or(target));
    // HTTP/1.1 keeps connections open unless told otherwise; HTTP/1.0 closes by default.
    let mut keep_alive = req.version == Some(1);
    let (mut body_len, mut content_type, mut expects_continue) = (None, None, false);
    for h in req.headers.iter() {
        let value = core::str::from_utf8(h.value).map_err(|_| HttpError::Malformed)?.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: usize = value.parse().map_err(|_| HttpError::Malformed)?;
            if body_len.is_some_and(|m| m != n) {
                return Err(HttpError::Malformed); // conflicting lengths: request smuggling
            }
            body_len = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::LengthRequired);
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("expect") {
            expects_continue = value.eq_ignore_ascii_case("100-continue");
        } else if h.name.eq_ignore_ascii_case("content-type") {
            let media = value.split(';').next().unwrap_or("").trim();
            content_type = Some(media.to_ascii_lowercase());
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > limits.max_body_bytes {
        return Err(HttpError::BodyTooLarge);
    }
    let request = HttpRequest { method, path, content_type, keep_alive, body: Vec::new() };
    Ok(Some(Head { header_len, body_len, expects_continue: expects_continue && body_len > 0, request }))
}

impl HttpParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        HttpParser { limits, buf: Vec::new(), head: None }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet returned as a request.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a request has started arriving but is not complete (for the 408 timer).
    pub fn in_progress(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Whether the kernel should now write [`CONTINUE`]: the head of a request with
    /// `Expect: 100-continue` has arrived (and passed the limits) but its body has not.
    /// Returns `true` once per request (curl waits a second for this on large bodies).
    pub fn take_continue(&mut self) -> bool {
        match &mut self.head {
            Some(head) if head.expects_continue => {
                head.expects_continue = false;
                true
            }
            _ => false,
        }
    }

    /// The next complete request, `Ok(None)` if more bytes are needed.
    pub fn next_request(&mut self) -> Result<Option<HttpRequest>, HttpError> {
        if self.head.is_none() {
            self.head = parse_head(&self.buf, &self.limits)?;
        }
        let Some(head) = &self.head else { return Ok(None) };
        let end = head.header_len + head.body_len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let Some(mut head) = self.head.take() else { return Ok(None) };
        head.request.body = self.buf[head.header_len..end].to_vec();
        self.buf.drain(..end);
        Ok(Some(head.request))
    }
}

/// A response to serialise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, if there is a body.
    pub content_type: Option<&'static str>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// The interim response to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Media type of IC request and response bodies.
pub const CBOR: &str = "application/cbor";

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

impl HttpResponse {
    /// A CBOR response.
    pub fn cbor(status: u16, body: Vec<u8>) -> Self {
        HttpResponse { status, content_type: Some(CBOR), body }
    }
    /// A plain-text response (error reasons).
    pub fn text(status: u16, message: &str) -> Self {
        HttpResponse { status, content_type: Some("text/plain; charset=utf-8"), body: message.as_bytes().to_vec() }
    }
    /// A response without a body.
    pub fn empty(status: u16) -> Self {
        HttpResponse { status, content_type: None, body: Vec::new() }
    }

    /// The response bytes, CORS headers included (any origin, GET/POST, the headers
    /// clients send). `keep_alive` picks the `Connection` header.
    pub fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let mut head = String::new();
        // Writing into a String cannot fail.
        let _ = write!(head, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        if let Some(ct) = self.content_type {
            let _ = write!(head, "Content-Type: {ct}\r\n");
        }
        let _ = write!(
            head,
            "Content-Length: {}\r\n\
             Access-Control-Allow-Origin: *\r\n\
             Access-Control-Allow-Methods: GET, POST\r\n\
             Access-Control-Allow-Headers: Authorization, Accept, Content-Type\r\n\
             Connection: {}\r\n\r\n",
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &[u8] = b"POST /api/v3/canister/aaaaa-aa/query?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/cbor\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn byte_by_byte_and_pipelined() {
        let mut p = HttpParser::new(Limits::default());
        for (i, b) in POST.iter().enumerate() {
            assert_eq!(p.next_request(), Ok(None), "byte {i}");
            p.feed(&[*b]);
        }
        let r = p.next_request().unwrap().unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/api/v3/canister/aaaaa-aa/query");
        assert_eq!(r.content_type.as_deref(), Some("application/cbor"));
        assert_eq!(r.body, b"abc");
        assert!(r.keep_alive);
        assert!(!p.in_progress());
        // Two requests in one segment.
        p.feed(&[POST, b"GET /api/v2/status HTTP/1.0\r\n\r\n"].concat());
        assert_eq!(p.next_request().unwrap().unwrap().body, b"abc");
        let second = p.next_request().unwrap().unwrap();
        assert_eq!((second.method, second.keep_alive), (Method::Get, false));
        assert_eq!(p.next_request(), Ok(None));
    }

    #[test]
    fn limits_and_errors() {
        let small = Limits { max_header_bytes: 64, max_headers: 4, max_body_bytes: 2 };
        let mut p = HttpParser::new(small);
        p.feed(POST);
        assert_eq!(p.next_request(), Err(HttpError::HeadersTooLarge));
        let mut p = HttpParser::new(Limits { max_header_bytes: 1024, ..small });
        p.feed(POST);
        assert_eq!(p.next_request().map_err(HttpError::status), Err(413));
        let mut p = HttpParser::new(Limits::default());
        p.feed(&[b'G'; 20_000]);
        assert_eq!(p.next_request(), Err(HttpError::HeadersTooLarge));
        let mut p = HttpParser::new(Limits::default());
        p.feed(b"\x00\x01 / HTTP/1.1\r\n\r\n");
        assert_eq!(p.next_request(), Err(HttpError::Malformed));
        let mut p = HttpParser::new(Limits::default());
        p.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(p.next_request(), Err(HttpError::LengthRequired));
        let mut p = HttpParser::new(Limits::default());
        p.feed(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(p.next_request(), Err(HttpError::Malformed));
        let mut p = HttpParser::new(Limits::default());
        p.feed(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
        assert_eq!(p.next_request(), Err(HttpError::Malformed));
    }

    #[test]
    fn expect_continue_once() {
        let mut p = HttpParser::new(Limits::default());
        p.feed(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
        assert!(!p.take_continue()); // head not parsed yet
        assert_eq!(p.next_request(), Ok(None));
        assert!(p.take_continue());
        assert!(!p.take_continue());
        p.feed(b"ok");
        assert_eq!(p.next_request().unwrap().unwrap().body, b"ok");
        // Refused bodies get their error instead of a 100.
        let mut p = HttpParser::new(Limits { max_body_bytes: 1, ..Limits::default() });
        p.feed(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(p.next_request(), Err(HttpError::BodyTooLarge));
        assert!(!p.take_continue());
    }

    #[test]
    fn response_bytes() {
        let r = HttpResponse::cbor(200, alloc::vec![1, 2]).to_bytes(true);
        let text = core::str::from_utf8(&r[..r.len() - 2]).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\nContent-Length: 2\r\n"));
        assert!(text.contains("Access-Control-Allow-Origin: *\r\n"));
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"));
        assert_eq!(&r[r.len() - 2..], &[1, 2]);
        let e = HttpResponse::empty(202).to_bytes(false);
        assert!(core::str::from_utf8(&e).unwrap().contains("Content-Length: 0\r\nAccess"));
    }
}
