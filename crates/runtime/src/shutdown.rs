//! Graceful shutdown: one signal, many listeners.
//!
//! Every long-running piece (work queues, workers, leader election, the metrics server) takes
//! a [`Shutdown`] instead of inventing its own stop flag, so SIGTERM from Kubernetes or ctrl-c
//! at a terminal stops all of them the same way: they finish or hand back what they hold
//! (in-flight reconciles, the Lease) instead of being killed mid-write.

use std::sync::Arc;

use tokio::sync::watch;

/// A cloneable stop signal, like a cancellation token: [`Shutdown::trigger`] once, and every
/// clone's [`Shutdown::wait`] resolves. Triggering is idempotent and cannot be undone.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal nobody has triggered yet.
    pub fn new() -> Self {
        Self { tx: Arc::new(watch::Sender::new(false)) }
    }

    /// A signal triggered by SIGTERM or ctrl-c (SIGINT), for binaries. Needs a Tokio runtime.
    ///
    /// Once Tokio handles these signals the default "die at once" action is gone for the
    /// life of the process, so a second signal exits immediately: an operator can still stop a
    /// process whose graceful shutdown hangs.
    pub fn on_signals() -> Self {
        let shutdown = Self::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            match wait_for_signal().await {
                Ok(name) => tracing::info!(signal = name, "shutting down"),
                Err(e) => tracing::warn!(error = %e, "cannot listen for shutdown signals; shutting down"),
            }
            trigger.trigger();
            if let Ok(name) = wait_for_signal().await {
                tracing::warn!(signal = name, "second signal; exiting without finishing shutdown");
                std::process::exit(130);
            }
        });
        shutdown
    }

    /// Asks everything listening to stop.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once [`Shutdown::trigger`] has been called (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives as long as `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }

    /// A receiver for code that already selects over `watch` channels; `true` means stop.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }
}

/// Waits for SIGTERM or SIGINT (ctrl-c) and names the one that came.
pub async fn wait_for_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "ctrl-c")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_trigger() {
        let a = Shutdown::new();
        let b = a.clone();
        assert!(!b.is_triggered());
        let waiter = tokio::spawn(async move { b.wait().await });
        a.trigger();
        waiter.await.expect("waiter");
        assert!(a.is_triggered());
        // Waiting after the fact returns at once, and triggering twice is harmless.
        a.trigger();
        a.wait().await;
        assert!(*a.subscribe().borrow());
    }
}
