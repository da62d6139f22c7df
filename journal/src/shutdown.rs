//! One shutdown for the whole `serve` process (in the manner of mini-redis's `shutdown.rs`):
//! every task holds a [`Shutdown`] and finishes what it is doing when it fires — the feed
//! commits and acknowledges its batch and disconnects, the web server answers the requests in
//! flight.

use tokio::sync::watch;

/// Fires the shutdown.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// Listens for the shutdown. Cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A trigger and its first listener.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether the shutdown has fired.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the shutdown fires (at once if it has; also when the trigger is gone).
    pub async fn fired(&mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}
