//! Graceful stop on SIGTERM / SIGINT.
//!
//! The first signal sets a flag: the loader stops reading, flushes what it has buffered,
//! writes the last committed state and exits 0, so an orchestrator that stops a pipeline loses
//! nothing. A second signal exits at once (status 130) without writing any further state —
//! the escape hatch when the database hangs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

/// Exit status of the immediate stop on a second signal (128 + SIGINT, as shells report).
const IMMEDIATE_EXIT_STATUS: i32 = 130;

/// Whether a stop was requested.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
}

impl Shutdown {
    /// Installs the handlers. Failing to install them is not fatal: the run just cannot stop
    /// gracefully, which is logged.
    pub fn install() -> Shutdown {
        let shutdown = Shutdown::default();
        for signal in [SIGTERM, SIGINT] {
            // The conditional exit must be registered first: on the second signal the flag
            // is already set and it exits before the flag is set again.
            let installed = signal_hook::flag::register_conditional_shutdown(
                signal,
                IMMEDIATE_EXIT_STATUS,
                Arc::clone(&shutdown.requested),
            )
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&shutdown.requested)));
            if let Err(error) = installed {
                log::warn!("cannot handle signal {signal}: {error}");
            }
        }
        shutdown
    }

    /// Whether a signal asked us to stop.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }
}
