//! A per-address token bucket for the endpoints browsers call without a token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The most addresses tracked at once; beyond it, full buckets are forgotten first, so a flood
/// of distinct addresses costs bounded memory.
const MAX_TRACKED: usize = 100_000;

/// Allows each address `per_minute` requests a minute, in bursts of up to that many.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter of `per_minute` requests per address (0 refuses everything).
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `address`'s budget at `now`; `false` when it is spent.
    pub fn allow(&self, address: IpAddr, now: Instant) -> bool {
        let capacity = f64::from(self.per_minute);
        let Ok(mut buckets) = self.buckets.lock() else { return false };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&address) {
            // Forget addresses whose bucket has refilled: they would start full anyway.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.updated).as_secs_f64() * capacity / 60.0 < capacity);
            if buckets.len() >= MAX_TRACKED {
                return false;
            }
        }
        let bucket = buckets.entry(address).or_insert(Bucket { tokens: capacity, updated: now });
        let refill = now.saturating_duration_since(bucket.updated).as_secs_f64() * capacity / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn budget_refills_per_address() {
        let limiter = RateLimiter::per_minute(3);
        let (a, b) = ("203.0.113.1".parse().unwrap(), "203.0.113.2".parse().unwrap());
        let t0 = Instant::now();
        assert_eq!((0..5).map(|_| limiter.allow(a, t0)).collect::<Vec<_>>(), vec![true, true, true, false, false]);
        assert!(limiter.allow(b, t0));
        assert!(!limiter.allow(a, t0 + Duration::from_secs(10)));
        assert!(limiter.allow(a, t0 + Duration::from_secs(21)));
        assert!(!RateLimiter::per_minute(0).allow(a, t0));
    }
}
