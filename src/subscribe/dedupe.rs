//! A bounded memory of recently delivered message ids, so a message the
//! server sends twice (around a reconnect, a region change or a catch-up) is
//! delivered once.

use std::collections::VecDeque;

use super::hash::{hash_str, FastSet};

/// Remembers the last `capacity` ids (timetoken + channel); 0 disables it.
#[derive(Debug)]
pub(crate) struct Dedupe {
    capacity: usize,
    order: VecDeque<(u64, u64)>,
    seen: FastSet<(u64, u64)>,
}

impl Dedupe {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::with_capacity(capacity),
            seen: FastSet::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    /// Whether the id was seen (without recording it).
    pub(crate) fn seen(&self, timetoken: u64, channel: &str) -> bool {
        self.capacity > 0 && self.seen.contains(&(timetoken, hash_str(channel)))
    }

    /// Records the id; returns `false` when it was already seen.
    pub(crate) fn first_time(&mut self, timetoken: u64, channel: &str) -> bool {
        if self.capacity == 0 {
            return true;
        }
        let id = (timetoken, hash_str(channel));
        if !self.seen.insert(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Dedupe;

    #[test]
    fn forgets_the_oldest_beyond_capacity() {
        let mut d = Dedupe::new(2);
        assert!(d.first_time(1, "a"));
        assert!(!d.first_time(1, "a"));
        assert!(d.first_time(1, "b"), "same timetoken, other channel");
        assert!(d.first_time(2, "a"));
        assert!(d.first_time(1, "a"), "evicted, so accepted again");
        let mut off = Dedupe::new(0);
        assert!(off.first_time(1, "a") && off.first_time(1, "a"));
    }
}
