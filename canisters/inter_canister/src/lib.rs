//! Inter-canister fixture: forwards a call to another canister (with cycles attached)
//! and replies with what came back, or with the reject it got.
#![forbid(unsafe_code)]
use candid::Principal;
use ic_cdk::call::Call;

#[ic_cdk::update]
async fn forward(callee: Principal, method: String, value: u64) -> Result<u64, String> {
    let response = Call::unbounded_wait(callee, &method)
        .with_arg(value)
        .with_cycles(1_000)
        .await
        .map_err(|e| format!("call failed: {e}"))?;
    response.candid::<u64>().map_err(|e| format!("bad reply: {e}"))
}

/// Two calls in one message: both must appear in the outcome.
#[ic_cdk::update]
async fn fan_out(callee: Principal) -> u64 {
    let a = Call::unbounded_wait(callee, "get").into_future();
    let b = Call::bounded_wait(callee, "get").into_future();
    let (ra, rb) = futures_join(a, b).await;
    decode_or_zero(ra) + decode_or_zero(rb)
}

fn decode_or_zero<E>(r: Result<ic_cdk::call::Response, E>) -> u64 {
    r.ok().and_then(|r| r.candid::<u64>().ok()).unwrap_or(0)
}

/// Awaits two futures in order; both calls were already performed when the futures were made.
async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let ra = a.await;
    let rb = b.await;
    (ra, rb)
}

#[ic_cdk::query]
fn balance() -> candid::Nat {
    candid::Nat::from(ic_cdk::api::canister_cycle_balance())
}

#[ic_cdk::update]
fn accept_all() -> u64 {
    let available = ic_cdk::api::msg_cycles_available();
    ic_cdk::api::msg_cycles_accept(available) as u64
}
