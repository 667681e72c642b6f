//! One deadline per request, which every phase of it draws from. Lambda ends an
//! invocation at its timeout with no answer and no summary line, and a write cut off
//! there leaves the client guessing: so each phase (the Corbado call, the session write,
//! the read-back after an ambiguous write, the deletes of a logout) ends by this
//! deadline, and the answer leaves before Lambda's.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Kept back from Lambda's deadline for writing the answer, the summary line and the
/// metrics: milliseconds of work, with room for a slow, throttled CPU.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(1);

/// The template's `Timeout`, for an invocation whose runtime gave no deadline.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The instant by which a request's answer must be ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

/// A phase was cut off at the request's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request's deadline passed")]
pub struct DeadlinePassed;

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Self(now.checked_add(budget).unwrap_or(now))
    }

    /// From Lambda's deadline for the invocation (epoch milliseconds, the Runtime API's
    /// `Lambda-Runtime-Deadline-Ms`), less [`ANSWER_MARGIN`]. Lambda hands an event over
    /// before its deadline: one that has passed already (0 when none was given; `cargo
    /// lambda watch` sends a constant 600000) is no deadline of Lambda's, and the
    /// template's timeout applies.
    pub fn for_invocation(lambda_deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = match lambda_deadline_ms.checked_sub(now_ms) {
            Some(left) if left > 0 => Duration::from_millis(left),
            _ => DEFAULT_TIMEOUT,
        };
        Self::after(left.saturating_sub(ANSWER_MARGIN))
    }

    /// This deadline or `budget` from now, whichever comes first.
    pub fn within(self, budget: Duration) -> Self {
        self.min(Self::after(budget))
    }

    /// This deadline, `reserve` earlier: how long a phase may run so that the phases after
    /// it still get `reserve`.
    pub fn leaving(self, reserve: Duration) -> Self {
        // Never before now: a phase with no time left ends at once.
        let now = Instant::now();
        Self(
            self.0
                .checked_sub(reserve)
                .map_or(now, |at| at.max(now))
                .min(self.0),
        )
    }

    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn has_passed(self) -> bool {
        self.remaining().is_zero()
    }

    /// Runs `work` until it finishes or the deadline passes, whichever comes first.
    pub async fn run<F: Future>(self, work: F) -> Result<F::Output, DeadlinePassed> {
        tokio::time::timeout_at(self.0.into(), work)
            .await
            .map_err(|_| DeadlinePassed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch_ms_in(d: Duration) -> u64 {
        (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + d).as_millis() as u64
    }

    #[test]
    fn an_invocation_deadline_keeps_the_answer_margin() {
        let deadline = Deadline::for_invocation(epoch_ms_in(Duration::from_secs(15)));
        let left = deadline.remaining();
        assert!(left <= Duration::from_secs(14) && left > Duration::from_millis(13_900));
        // None given, or one that had passed before the event arrived (cargo lambda watch
        // sends 600000): the template's timeout.
        for unknown in [0, 1, 600_000] {
            let left = Deadline::for_invocation(unknown).remaining();
            assert!(left <= Duration::from_secs(14) && left > Duration::from_millis(13_900));
        }
        // Within the margin: no time at all.
        assert!(Deadline::for_invocation(epoch_ms_in(Duration::from_millis(500))).has_passed());
    }

    #[test]
    fn phases_draw_on_the_same_deadline() {
        let deadline = Deadline::after(Duration::from_secs(10));
        assert!(deadline.within(Duration::from_secs(3)).remaining() <= Duration::from_secs(3));
        assert_eq!(deadline.within(Duration::from_secs(30)), deadline);
        let earlier = deadline.leaving(Duration::from_secs(4));
        assert!(earlier.remaining() <= Duration::from_secs(6));
        assert!(earlier.remaining() > Duration::from_millis(5_900));
        // More reserve than time left: the phase gets none, and ends at once.
        assert!(deadline.leaving(Duration::from_secs(60)).has_passed());
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_cut_off() {
        let deadline = Deadline::after(Duration::from_millis(50));
        let slow = tokio::time::sleep(Duration::from_secs(5));
        assert_eq!(deadline.run(slow).await, Err(DeadlinePassed));
        let fresh = Deadline::after(Duration::from_secs(5));
        assert_eq!(fresh.run(async { 7 }).await, Ok(7));
    }
}
