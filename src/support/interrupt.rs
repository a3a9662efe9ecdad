//! SIGINT/SIGTERM, as the library sees them: the binary's signal thread calls [`request`]; every
//! wait on a child process selects on [`receiver`] as well, kills its child and returns, so the
//! stages unwind and their guards remove what they staged.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{LazyLock, Mutex};

use crossbeam_channel::{Receiver, Sender};

/// The first signal asked for, or 0.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The sender, dropped by [`request`] so that every receiver wakes at once, and the receiver.
type Channel = (Mutex<Option<Sender<()>>>, Receiver<()>);

static CHANNEL: LazyLock<Channel> = LazyLock::new(|| {
    let (sender, receiver) = crossbeam_channel::bounded(0);
    (Mutex::new(Some(sender)), receiver)
});

/// Ask every wait to stop because of `signal` (its number, for the exit code 128 + signal).
pub fn request(signal: i32) {
    let _ = SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    let sender = CHANNEL
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    drop(sender);
}

/// The signal that interrupted pyship, if one did.
pub fn requested() -> Option<i32> {
    Some(SIGNAL.load(Ordering::SeqCst)).filter(|&signal| signal != 0)
}

/// A channel that becomes ready (disconnected) once an interrupt is requested.
pub fn receiver() -> Receiver<()> {
    CHANNEL.1.clone()
}

/// The stage was stopped by a signal.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("Interrupted")]
pub struct Interrupted;

/// `Err(Interrupted)` once an interrupt was requested: for stage boundaries.
pub fn check() -> Result<(), Interrupted> {
    match requested() {
        Some(_) => Err(Interrupted),
        None => Ok(()),
    }
}
