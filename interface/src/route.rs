//! The endpoints of the IC HTTP interface (ic-reference §1), every row, parsed from the
//! method and path into a typed [`Route`].

use crate::http::Method;
use keel_crypto::Principal;

/// Which version of the call endpoint; they differ only in how they answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallVersion {
    /// `/api/v2/…/call`: 202 once accepted, the client polls read_state.
    V2,
    /// `/api/v3/…/call` (deprecated): waits, 200 with a certificate.
    V3,
    /// `/api/v4/…/call`: as v3 (certificate with the sharded canister ranges).
    V4,
}

/// The principal in the URL: a canister (effective canister id) or a subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectiveId {
    /// `/canister/<ECID>/…`
    Canister(Principal),
    /// `/subnet/<SID>/…`
    Subnet(Principal),
}

/// A recognised endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/v2/status`
    Status,
    /// An update call.
    Call { version: CallVersion, target: EffectiveId },
    /// A query (`/api/v2/canister/…` or `/api/v3/{canister,subnet}/…`).
    Query { target: EffectiveId },
    /// A state read (`/api/v2` or `/api/v3`, canister or subnet).
    ReadState { target: EffectiveId },
}

/// Why a request matched no endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No such endpoint (404).
    NotFound,
    /// The endpoint exists but not for this method (405).
    MethodNotAllowed,
    /// The id in the path is not a textual principal (400).
    BadPrincipal,
}

impl RouteError {
    /// The status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RouteError::NotFound => 404,
            RouteError::MethodNotAllowed => 405,
            RouteError::BadPrincipal => 400,
        }
    }
}

impl core::fmt::Display for RouteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RouteError::NotFound => "Not found",
            RouteError::MethodNotAllowed => "Method not allowed",
            RouteError::BadPrincipal => "Could not parse the principal in the URL",
        })
    }
}

/// Maps a method and path to its endpoint.
pub fn route(method: Method, path: &str) -> Result<Route, RouteError> {
    let segments: alloc::vec::Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let (route, wanted) = match segments.as_slice() {
        ["", "api", "v2", "status"] => (Route::Status, Method::Get),
        ["", "api", version, kind, id, action] => {
            let target = || -> Result<EffectiveId, RouteError> {
                let p = Principal::from_text(id).map_err(|_| RouteError::BadPrincipal)?;
                Ok(if *kind == "canister" { EffectiveId::Canister(p) } else { EffectiveId::Subnet(p) })
            };
            let route = match (*version, *kind, *action) {
                ("v2", "canister", "call") => Route::Call { version: CallVersion::V2, target: target()? },
                ("v3", "canister", "call") => Route::Call { version: CallVersion::V3, target: target()? },
                ("v4", "canister" | "subnet", "call") => Route::Call { version: CallVersion::V4, target: target()? },
                ("v2", "canister", "query") | ("v3", "canister" | "subnet", "query") => Route::Query { target: target()? },
                ("v2" | "v3", "canister" | "subnet", "read_state") => Route::ReadState { target: target()? },
                _ => return Err(RouteError::NotFound),
            };
            (route, Method::Post)
        }
        _ => return Err(RouteError::NotFound),
    };
    if method == wanted {
        Ok(route)
    } else {
        Err(RouteError::MethodNotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "rrkah-fqaaa-aaaaa-aaaaq-cai";

    #[test]
    fn every_endpoint_row() {
        let c = EffectiveId::Canister(Principal::from_canister_index(1));
        let s = EffectiveId::Subnet(Principal::from_canister_index(1));
        let post = |p: &str| route(Method::Post, &p.replace("ID", C));
        assert_eq!(route(Method::Get, "/api/v2/status"), Ok(Route::Status));
        assert_eq!(post("/api/v2/canister/ID/call"), Ok(Route::Call { version: CallVersion::V2, target: c }));
        assert_eq!(post("/api/v3/canister/ID/call"), Ok(Route::Call { version: CallVersion::V3, target: c }));
        assert_eq!(post("/api/v4/canister/ID/call"), Ok(Route::Call { version: CallVersion::V4, target: c }));
        assert_eq!(post("/api/v4/subnet/ID/call"), Ok(Route::Call { version: CallVersion::V4, target: s }));
        assert_eq!(post("/api/v2/canister/ID/query"), Ok(Route::Query { target: c }));
        assert_eq!(post("/api/v3/canister/ID/query"), Ok(Route::Query { target: c }));
        assert_eq!(post("/api/v3/subnet/ID/query"), Ok(Route::Query { target: s }));
        assert_eq!(post("/api/v2/canister/ID/read_state"), Ok(Route::ReadState { target: c }));
        assert_eq!(post("/api/v2/subnet/ID/read_state"), Ok(Route::ReadState { target: s }));
        assert_eq!(post("/api/v3/canister/ID/read_state"), Ok(Route::ReadState { target: c }));
        assert_eq!(post("/api/v3/subnet/ID/read_state"), Ok(Route::ReadState { target: s }));
    }

    #[test]
    fn errors() {
        assert_eq!(route(Method::Post, "/api/v2/status"), Err(RouteError::MethodNotAllowed));
        assert_eq!(route(Method::Get, &alloc::format!("/api/v4/canister/{C}/call")), Err(RouteError::MethodNotAllowed));
        assert_eq!(route(Method::Post, &alloc::format!("/api/v2/subnet/{C}/call")), Err(RouteError::NotFound));
        assert_eq!(route(Method::Post, &alloc::format!("/api/v2/subnet/{C}/query")), Err(RouteError::NotFound));
        assert_eq!(route(Method::Post, "/api/v4/canister/not-a-principal/call"), Err(RouteError::BadPrincipal));
        assert_eq!(route(Method::Get, "/"), Err(RouteError::NotFound));
        assert_eq!(route(Method::Get, "/api/v9/status"), Err(RouteError::NotFound));
    }
}
