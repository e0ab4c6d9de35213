//! Requests in flight: identical requests that miss the response cache at the same time run once.
//!
//! When a block retires many cached answers, or the cache starts empty, clients asking the same
//! question arrive together (a dashboard's viewers, a load test's threads) and would each run the same
//! query. The first to miss leads: it runs the query and offers the answer to the cache. Those that
//! miss while it runs follow: they wait until it is done, then ask the cache again, so each gets an
//! answer the cache holds as right at the store's version of that moment, or runs the query itself
//! when there is none (an error, a write that changed what it read while it ran, the leader's client
//! hung up). Also called single flight (Go's `singleflight`) or request coalescing (nginx's
//! `proxy_cache_lock`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::watch;

/// The requests being run for the response cache, by request body; each entry is closed when its
/// leader is done.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    running: Mutex<HashMap<Bytes, watch::Receiver<()>>>,
}

/// What a request that missed the cache does.
pub(crate) enum Turn {
    /// Run the request; dropping the leader (after offering the answer to the cache) releases the
    /// followers.
    Lead(Leader),
    /// The same request is running: [`Follower::done`], then ask the cache again.
    Follow(Follower),
}

/// The request that runs.
pub(crate) struct Leader {
    flights: Arc<InFlight>,
    request: Bytes,
    /// Dropped with the leader, which wakes the followers.
    _done: watch::Sender<()>,
}

/// A request waiting for the same request's leader.
pub(crate) struct Follower {
    done: watch::Receiver<()>,
}

impl InFlight {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, watch::Receiver<()>>> {
        // Inserts and removals are atomic: a panic cannot leave the map half-changed.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Leads `request` when it is not running, else follows the request that runs it.
    pub(crate) fn join(self: &Arc<Self>, request: &Bytes) -> Turn {
        match self.running().entry(request.clone()) {
            Entry::Occupied(running) => Turn::Follow(Follower {
                done: running.get().clone(),
            }),
            Entry::Vacant(free) => {
                let (done, waiting) = watch::channel(());
                free.insert(waiting);
                Turn::Lead(Leader {
                    flights: Arc::clone(self),
                    request: request.clone(),
                    _done: done,
                })
            }
        }
    }

    /// Requests running now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.running().len()
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Out of the map before the followers wake: a request arriving from now on leads anew.
        self.flights.running().remove(&self.request);
    }
}

impl Follower {
    /// Waits until the leader is done (answered, failed or went away).
    pub(crate) async fn done(mut self) {
        // Only ever closed, never sent to: `changed` returns when the leader is dropped.
        let _ = self.done.changed().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    fn lead(flights: &Arc<InFlight>, request: &str) -> Leader {
        match flights.join(&b(request)) {
            Turn::Lead(leader) => leader,
            Turn::Follow(_) => panic!("{request} was not running"),
        }
    }

    fn follow(flights: &Arc<InFlight>, request: &str) -> Follower {
        match flights.join(&b(request)) {
            Turn::Follow(follower) => follower,
            Turn::Lead(_) => panic!("{request} was running"),
        }
    }

    #[tokio::test]
    async fn followers_wait_until_the_same_request_is_done_and_no_longer() {
        let flights = Arc::new(InFlight::default());
        let leader = lead(&flights, "{a}");
        let other = lead(&flights, "{b}");
        let (first, second) = (follow(&flights, "{a}"), follow(&flights, "{a}"));
        let mut waiting = tokio::spawn(async move { tokio::join!(first.done(), second.done()) });
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err(),
            "they wait while the leader runs"
        );
        drop(leader);
        waiting.await.unwrap();
        assert_eq!(flights.len(), 1, "only {{b}} still runs");
        let _next = lead(&flights, "{a}");
        drop(other);
        let _again = lead(&flights, "{b}");
    }
}
