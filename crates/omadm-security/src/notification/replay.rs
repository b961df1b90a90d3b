//! Refusal of repeated notifications: "a repeated session id starts only one session" (DM
//! Notification 1.2 §6, digest §5). No clock is used: the guard remembers the most recent
//! accepted (server id, session id) pairs, a bounded number of them.

use std::collections::VecDeque;

use super::{Notification, SessionId};
use crate::error::NotificationError;

/// Remembers accepted notifications so that a replayed one is refused.
///
/// Record a notification only **after** its digest verified; otherwise a forged notification could
/// block the genuine one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayGuard {
    seen: VecDeque<(String, SessionId)>,
    capacity: usize,
}

impl ReplayGuard {
    /// How many notifications a default guard remembers.
    pub const DEFAULT_CAPACITY: usize = 64;

    /// A guard remembering up to `capacity` notifications (at least 1).
    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard { seen: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Refuses a notification already accepted, else records it as accepted.
    pub fn accept(&mut self, notification: &Notification) -> Result<(), NotificationError> {
        let key = (notification.server_id().to_owned(), notification.session_id());
        if self.seen.contains(&key) {
            return Err(NotificationError::Replayed { server_id: key.0, session_id: key.1 });
        }
        if self.seen.len() == self.capacity {
            self.seen.pop_front();
        }
        self.seen.push_back(key);
        Ok(())
    }

    /// The remembered pairs, oldest first (to persist across restarts).
    pub fn seen(&self) -> impl Iterator<Item = &(String, SessionId)> {
        self.seen.iter()
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{GeneralNotification, Initiator, UiMode};

    fn n(server: &str, sid: u16) -> Notification {
        Notification::Dm12(GeneralNotification::new(server, SessionId(sid), UiMode::Background, Initiator::Server))
    }

    #[test]
    fn a_repeated_session_id_is_refused() {
        let mut g = ReplayGuard::default();
        assert_eq!(g.accept(&n("a", 1)), Ok(()));
        assert_eq!(g.accept(&n("b", 1)), Ok(()));
        assert_eq!(
            g.accept(&n("a", 1)),
            Err(NotificationError::Replayed { server_id: "a".into(), session_id: SessionId(1) })
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut g = ReplayGuard::new(2);
        for sid in 0..3 {
            assert_eq!(g.accept(&n("a", sid)), Ok(()));
        }
        assert_eq!(g.seen().count(), 2);
        assert_eq!(g.accept(&n("a", 0)), Ok(()), "the oldest entry was forgotten");
    }
}
