//! Call responses (ic-reference §1): v2 answers 202 on acceptance; v3/v4 wait and answer
//! 200 `{status:"replied", certificate}`, or 202 with an **empty** body on timeout (agent-js
//! 3.x would try to CBOR-decode any text); rejections before consensus are 200 CBOR.

use crate::certificate::Certificate;
use crate::http::HttpResponse;
use crate::reject::Reject;
use crate::route::CallVersion;
use keel_crypto::cbor::Writer;

/// v2: accepted for processing.
pub fn accepted() -> HttpResponse {
    HttpResponse::empty(202)
}

/// v3/v4: the request did not finish in time; the client polls read_state.
pub fn timed_out() -> HttpResponse {
    HttpResponse::empty(202)
}

/// v3/v4: the request's status is certified; `certificate` covers `/time` and
/// `/request_status/<rid>` (build it with `read_state::call_certificate`).
pub fn certified(certificate: &Certificate) -> HttpResponse {
    let mut w = Writer::self_describing();
    w.map(2).text("status").text("replied").text("certificate").bytes(&certificate.to_cbor());
    HttpResponse::cbor(200, w.into_bytes())
}

/// Rejected before consensus (e.g. `canister_inspect_message` refused, canister frozen).
pub fn rejected_before_consensus(version: CallVersion, reject: &Reject) -> HttpResponse {
    let mut w = Writer::self_describing();
    match version {
        CallVersion::V2 => {
            w.map(3);
        }
        CallVersion::V3 | CallVersion::V4 => {
            w.map(4).text("status").text("non_replicated_rejection");
        }
    }
    reject.write_fields(&mut w);
    HttpResponse::cbor(200, w.into_bytes())
}
