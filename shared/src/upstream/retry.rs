//! The one way this crate retries a call: a bounded number of retries, each after a
//! full-jitter backoff, and none that would start after the call's deadline. Which
//! failures are worth another attempt is the caller's to say: a lost reply is, for a
//! connect token; it is not, for single-use signedPasskeyData.

use std::time::Duration;

use crate::deadline::Deadline;

/// How often, and how patiently, a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Retry n waits a random duration up to `base_backoff * 2^n` (full jitter).
    pub base_backoff: Duration,
}

/// The attempts of one call under a [`RetryPolicy`].
#[derive(Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    until: Deadline,
    retries: u32,
}

impl RetryPolicy {
    /// The attempts of a call that must end by `until`.
    pub fn attempts(self, until: Deadline) -> Attempts {
        Attempts {
            policy: self,
            until,
            retries: 0,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good (`transient` says no), or no retry
    /// is left before `until`; returns the last outcome.
    pub async fn run<T, E, F>(
        self,
        until: Deadline,
        mut attempt: impl FnMut() -> F,
        transient: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let mut attempts = self.attempts(until);
        loop {
            match attempt().await {
                Err(err) if transient(&err) => match attempts.next_pause() {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => return Err(err),
                },
                outcome => return outcome,
            }
        }
    }
}

impl Attempts {
    /// After a failure worth retrying: the pause before the next attempt, or `None` when
    /// no retry is left or it could not start before the deadline.
    pub fn next_pause(&mut self) -> Option<Duration> {
        if self.retries >= self.policy.max_retries {
            return None;
        }
        let pause = backoff(self.policy.base_backoff, self.retries);
        if pause >= self.until.remaining() {
            return None;
        }
        self.retries += 1;
        Some(pause)
    }

    /// How many retries have been granted so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

/// The pause before retry `retry` (0-based): a random duration up to `base * 2^retry`
/// (full jitter). Without randomness from the OS it is the full amount: still bounded,
/// merely less spread.
fn backoff(base: Duration, retry: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << retry.min(16));
    let mut random = [0u8; 4];
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_backoff: Duration::from_millis(10),
    };

    #[test]
    fn retries_are_counted_and_each_pause_is_within_its_ceiling() {
        let mut attempts = POLICY.attempts(Deadline::after(Duration::from_secs(10)));
        for retry in 0..3 {
            let pause = attempts.next_pause().expect("a retry is left");
            assert!(pause <= Duration::from_millis(10 << retry), "{pause:?}");
        }
        assert_eq!(attempts.next_pause(), None);
        assert_eq!(attempts.retries(), 3);
    }

    #[test]
    fn no_retry_starts_after_the_deadline() {
        let slow = RetryPolicy {
            max_retries: 3,
            base_backoff: Duration::from_secs(60),
        };
        // A full-jitter pause may be short: only a passed deadline is certain to refuse.
        let mut attempts = slow.attempts(Deadline::after(Duration::ZERO));
        assert_eq!(attempts.next_pause(), None);
    }

    /// How `POLICY.run` ends, and after how many attempts, for a call that always fails
    /// with `error`, when only "busy" is transient.
    async fn run_failing_with(error: &'static str) -> (Result<(), &'static str>, u32) {
        let mut calls = 0;
        let outcome = POLICY
            .run(
                Deadline::after(Duration::from_secs(10)),
                || {
                    calls += 1;
                    async move { Err(error) }
                },
                |err| *err == "busy",
            )
            .await;
        (outcome, calls)
    }

    #[tokio::test]
    async fn run_retries_transient_failures_only() {
        assert_eq!(run_failing_with("busy").await, (Err("busy"), 4));
        assert_eq!(run_failing_with("refused").await, (Err("refused"), 1));
    }
}
