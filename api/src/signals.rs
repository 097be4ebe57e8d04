//! SIGINT and SIGTERM, one way for the whole binary. [`install`] registers
//! the handlers through `signal-hook` (once per process; later calls do
//! nothing): a thread it starts records the first signal caught. The
//! offline tools poll [`interrupted`] between blocks so they stop cleanly;
//! the server awaits [`termination`] to shut down gracefully.
//!
//! Until [`install`] runs, the signals keep their default action (the
//! process ends at once), as for tools that only read.

use std::io;
use std::sync::{Mutex, OnceLock};
use tokio::sync::watch;

/// The signal caught (0 while none), to poll or await.
static CAUGHT: OnceLock<watch::Sender<i32>> = OnceLock::new();
/// Whether the handlers are registered.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Registers the SIGINT and SIGTERM handlers; from then on these signals
/// no longer end the process, they are recorded.
pub(crate) fn install() -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    let tx = CAUGHT.get_or_init(|| watch::channel(0).0);
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            tx.send_if_modified(|caught| {
                let first = *caught == 0;
                if first {
                    *caught = signal;
                }
                first
            });
        }
    })?;
    *installed = true;
    Ok(())
}

/// Whether SIGINT or SIGTERM came since [`install`].
pub(crate) fn interrupted() -> bool {
    CAUGHT.get().is_some_and(|tx| *tx.borrow() != 0)
}

/// Installs the handlers and waits for SIGTERM or SIGINT: its name.
pub(crate) async fn termination() -> &'static str {
    install().expect("install SIGTERM and SIGINT handlers");
    let mut rx = CAUGHT.get().expect("installed above").subscribe();
    let signal = match rx.wait_for(|caught| *caught != 0).await {
        Ok(caught) => *caught,
        Err(_) => return "signal",
    };
    if signal == signal_hook::consts::SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    }
}
