//! Every way a request can fail before it reaches the state machine, with the HTTP status
//! the replica answers (ic-reference §1) and a plain-text reason.

use crate::envelope::EnvelopeError;
use crate::expiry::ExpiryError;
use crate::http::{HttpError, HttpResponse};
use crate::management::EffectiveIdError;
use crate::read_state::ReadStateError;
use crate::route::RouteError;
use crate::signature::AuthError;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// HTTP framing.
    Http(HttpError),
    /// No such endpoint / method.
    Route(RouteError),
    /// POST without `Content-Type: application/cbor` (400).
    ContentType,
    /// Undecodable envelope (400).
    Envelope(EnvelopeError),
    /// A request of another type than the endpoint serves (400).
    WrongRequestType { expected: &'static str, found: &'static str },
    /// Ingress expiry outside the window (400, `Invalid request expiry: …`).
    Expiry(ExpiryError),
    /// Sender authentication (400).
    Auth(AuthError),
    /// URL effective id does not fit the request (400).
    EffectiveId(EffectiveIdError),
    /// read_state access rules.
    ReadState(ReadStateError),
    /// The subnet in the URL is not this node's subnet (404).
    UnknownSubnet,
    /// No certified state yet (503).
    NoCertifiedState,
    /// The node is not healthy yet (503).
    Unhealthy(crate::status::HealthStatus),
}

impl RequestError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::Http(e) => e.status(),
            RequestError::Route(e) => e.status(),
            RequestError::ReadState(e) => e.status(),
            RequestError::UnknownSubnet => 404,
            RequestError::NoCertifiedState | RequestError::Unhealthy(_) => 503,
            RequestError::ContentType
            | RequestError::Envelope(_)
            | RequestError::WrongRequestType { .. }
            | RequestError::Expiry(_)
            | RequestError::Auth(_)
            | RequestError::EffectiveId(_) => 400,
        }
    }

    /// The plain-text response.
    pub fn to_response(&self) -> HttpResponse {
        HttpResponse::text(self.status(), &alloc::format!("{self}"))
    }
}

impl core::fmt::Display for RequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RequestError::Http(e) => write!(f, "{e}"),
            RequestError::Route(e) => write!(f, "{e}"),
            RequestError::ContentType => f.write_str("Unexpected content-type, expected application/cbor"),
            RequestError::Envelope(e) => write!(f, "{e}"),
            RequestError::WrongRequestType { expected, found } => {
                write!(f, "Could not parse body as request: expected a {expected} request, got {found}")
            }
            RequestError::Expiry(e) => write!(f, "{e}"),
            RequestError::Auth(e) => write!(f, "{e}"),
            RequestError::EffectiveId(e) => write!(f, "{e}"),
            RequestError::ReadState(e) => write!(f, "{e}"),
            RequestError::UnknownSubnet => f.write_str("Subnet not found"),
            RequestError::NoCertifiedState => f.write_str("Certified state is not available yet"),
            RequestError::Unhealthy(h) => write!(f, "Replica is unhealthy: {}", h.as_str()),
        }
    }
}

macro_rules! from_error {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for RequestError {
            fn from(e: $t) -> Self { RequestError::$v(e) }
        }
    )*};
}
from_error!(HttpError => Http, RouteError => Route, EnvelopeError => Envelope, ExpiryError => Expiry,
    AuthError => Auth, EffectiveIdError => EffectiveId, ReadStateError => ReadState);
