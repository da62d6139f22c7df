//! The kiosk worker: one thread owns the [`Kiosk`] (and so the store); the reader, the screens and
//! the control socket send it commands and wait — on their own threads — for the reply. The screen
//! thread never touches the disk.

use crate::kiosk::{Input, Internal, Kiosk, KioskError, Reply};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A command or message with the channel its reply goes to.
type Job = (Input, mpsc::Sender<Result<Reply, String>>, Instant);

/// A handle to the worker; cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    tx: mpsc::Sender<Job>,
    /// Calls sent and not yet answered (queued or being handled).
    pending: Arc<AtomicUsize>,
}

/// Something that wants to hear about every reply (the screen, lights, voice). It runs on the
/// worker thread after the command, with the kiosk as it is then; a tick that changed the open
/// session or ended card enrolment mode is reported as [`Internal::Tick`].
pub type Observer = Box<dyn FnMut(&Input, &Result<Reply, KioskError>, &Kiosk) + Send>;

impl WorkerHandle {
    /// Sends a person's command or the kiosk's own message and waits for its reply.
    pub fn call(&self, input: impl Into<Input>) -> Result<Reply, String> {
        let cmd = input.into();
        let (tx, rx) = mpsc::channel();
        self.pending.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .tx
            .send((cmd, tx, Instant::now()))
            .map_err(|_| "the kiosk worker has stopped".to_string())
            .and_then(|()| {
                rx.recv()
                    .map_err(|_| "the kiosk worker has stopped".to_string())
            });
        self.pending.fetch_sub(1, Ordering::SeqCst);
        answer?
    }

    /// Whether a call (a tap, a press on the screen) is queued or being handled now. The feed
    /// holds back its own disk work while this is true, so a backlog never delays a live tap.
    pub fn busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }
}

/// Starts the worker thread. It also ticks (automatic close) every `tick`, busy or not, and
/// checkpoints the database on a tick after `tick` without a command.
pub fn spawn(mut kiosk: Kiosk, tick: Duration, mut observer: Option<Observer>) -> WorkerHandle {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("kiosk-worker".into())
        .spawn(move || {
            // Ticks come on time whatever the traffic: a script polling `ctl status` every two
            // seconds once kept a session open long past its deadline, because the worker
            // ticked only after `tick` without a command.
            let mut next_tick = Instant::now() + tick;
            let mut last_command = Instant::now();
            // systemd's watchdog is pinged from here, the loop that records the taps, and from
            // nowhere else: a worker stuck in a handler stops the pings and systemd restarts
            // the kiosk.
            let mut watchdog = otmetka_link::systemd::Watchdog::from_env();
            let stall = crate::crash::injected("stall-worker");
            loop {
                watchdog.pet();
                let wake = watchdog.due().map_or(next_tick, |due| due.min(next_tick));
                let wait = wake.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok((cmd, reply_to, sent)) => {
                        last_command = Instant::now();
                        let queued = sent.elapsed();
                        let reply = kiosk.handle(cmd.clone());
                        let handled = sent.elapsed();
                        if let Some(obs) = observer.as_mut() {
                            obs(&cmd, &reply, &kiosk);
                        }
                        let _ = reply_to.send(reply.map_err(|e| e.to_string()));
                        tracing::trace!(
                            target: "otmetka::timing",
                            "{}: queued {} µs, handled {} µs, observed {} µs",
                            cmd.name(),
                            queued.as_micros(),
                            (handled - queued).as_micros(),
                            (sent.elapsed() - handled).as_micros()
                        );
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if Instant::now() < next_tick {
                    continue;
                }
                next_tick = Instant::now() + tick;
                if stall {
                    tracing::error!("fault injected (stall-worker): the worker is stuck");
                    loop {
                        std::thread::park();
                    }
                }
                // Checkpoints only when no one is tapping.
                if last_command.elapsed() >= tick {
                    kiosk.idle();
                }
                kiosk.refresh_health();
                let state = |k: &Kiosk| (k.session().map(|s| s.id), k.enrolment_name());
                let before = state(&kiosk);
                let ticked = kiosk.tick().map(|_| Reply::Ok);
                if let Err(e) = &ticked {
                    tracing::error!("automatic close failed: {e}");
                }
                if state(&kiosk) != before {
                    if let Some(obs) = observer.as_mut() {
                        obs(&Input::Internal(Internal::Tick), &ticked, &kiosk);
                    }
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| tracing::error!("cannot start the kiosk worker: {e}"));
    WorkerHandle {
        tx,
        pending: Arc::new(AtomicUsize::new(0)),
    }
}
