//! A thread that dies takes the kiosk with it. A panicking feed, reader or worker thread would
//! otherwise leave a process that answers on its socket and shows a screen but records or
//! delivers nothing; ending it lets systemd start it again (`Restart=always`), and everything
//! confirmed is in the store already. The exit status is [`PANIC_EXIT`], and the log says which
//! thread died and why.
//!
//! Faults are injected by the tests through `OTMETKA_FAULT` (a comma-separated list of points,
//! such as `panic-feed,panic-reader`); nothing sets it in production.

/// The exit status of a kiosk ended by a panic (EX_SOFTWARE).
pub const PANIC_EXIT: i32 = 70;

/// Installs the hook: log the panic with its thread, then end the process.
pub fn exit_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        tracing::error!(
            "the {name} thread panicked ({info}); the kiosk stops so that it is started again"
        );
        std::process::exit(PANIC_EXIT);
    }));
}

/// Whether the tests asked for a fault at `point`.
pub fn injected(point: &str) -> bool {
    std::env::var("OTMETKA_FAULT")
        .map(|v| v.split(',').any(|p| p.trim() == point))
        .unwrap_or(false)
}
