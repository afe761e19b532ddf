//! Ingress expiry: the replay-protection window of every request (ic-reference §4).
//!
//! A node accepts `now ≤ expiry ≤ now + MAX_INGRESS_TTL + PERMITTED_DRIFT` (5 min + 30 s);
//! the same window bounds delegation expirations from below.

use core::fmt;

/// Nanoseconds since 1970-01-01 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// `self + ns`, saturating.
    pub fn plus_nanos(self, ns: u64) -> Time {
        Time(self.0.saturating_add(ns))
    }
}

/// Longest time a request may live (the replica's `MAX_INGRESS_TTL`).
pub const MAX_INGRESS_TTL_NS: u64 = 5 * 60 * 1_000_000_000;
/// Clock drift tolerated between client and node (`PERMITTED_DRIFT_AT_VALIDATOR`).
pub const PERMITTED_DRIFT_NS: u64 = 30 * 1_000_000_000;

/// The `ingress_expiry` field of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry(pub Time);

/// An expiry outside the accepted window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryError {
    /// Earliest accepted expiry (now).
    pub min: Time,
    /// Latest accepted expiry.
    pub max: Time,
    /// What the request said.
    pub provided: Time,
}

impl fmt::Display for ExpiryError {
    // Clients key on this prefix (agent-js re-syncs its clock when it sees it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid request expiry: Specified ingress_expiry not within expected range: \
             Minimum allowed expiry: {} ns, Maximum allowed expiry: {} ns, Provided expiry: {} ns",
            self.min.0, self.max.0, self.provided.0
        )
    }
}

impl Expiry {
    /// Checks the window against `now`.
    pub fn check(self, now: Time) -> Result<(), ExpiryError> {
        let max = now.plus_nanos(MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS);
        if now <= self.0 && self.0 <= max {
            Ok(())
        } else {
            Err(ExpiryError { min: now, max, provided: self.0 })
        }
    }

    /// Whether the request has expired at `now` (it must then never be executed).
    pub fn is_expired(self, now: Time) -> bool {
        self.0 < now
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_edges() {
        let now = Time(1_700_000_000_000_000_000);
        assert!(Expiry(now).check(now).is_ok());
        assert!(Expiry(now.plus_nanos(MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS)).check(now).is_ok());
        let late = Expiry(now.plus_nanos(MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS + 1)).check(now);
        assert!(late.is_err());
        let past = Expiry(Time(now.0 - 1)).check(now).unwrap_err();
        assert!(alloc::format!("{past}").starts_with("Invalid request expiry: "));
        assert!(Expiry(Time(now.0 - 1)).is_expired(now));
        assert!(!Expiry(now).is_expired(now));
    }
}
