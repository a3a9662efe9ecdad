//! Work handed to rayon's pool as it arrives and collected later: deflating an archive entry,
//! writing a file or a cache entry. The caller (a compile thread) goes straight back to its
//! worker instead of waiting for the disk or the compressor.

use std::sync::mpsc;

/// Background jobs answering with `T`; see the [module docs](self).
pub(crate) struct Jobs<T: Send + 'static> {
    /// Cloned into every job.
    send: mpsc::Sender<T>,
    /// Where the answers arrive, in completion order.
    done: mpsc::Receiver<T>,
    /// Jobs whose answer has not been taken yet.
    outstanding: usize,
}

impl<T: Send + 'static> Jobs<T> {
    pub(crate) fn new() -> Jobs<T> {
        let (send, done) = mpsc::channel();
        Jobs {
            send,
            done,
            outstanding: 0,
        }
    }

    /// Run `job` on rayon's pool. Dropping `self` waits for it and discards its answer.
    pub(crate) fn spawn(&mut self, job: impl FnOnce() -> T + Send + 'static) {
        let send = self.send.clone();
        rayon::spawn(move || {
            // The receiver is gone only when the sink was dropped: the answer is not wanted.
            let _ = send.send(job());
        });
        self.outstanding += 1;
    }

    /// The next answer, waiting for it; `None` once every job has been answered. On one of
    /// rayon's own threads it runs other jobs while waiting, so a pool of one thread cannot
    /// wait on itself.
    pub(crate) fn next(&mut self) -> Option<T> {
        if self.outstanding == 0 {
            return None;
        }
        let answer = loop {
            match self.done.try_recv() {
                Ok(answer) => break answer,
                Err(mpsc::TryRecvError::Disconnected) => unreachable!("`self` holds a sender"),
                Err(mpsc::TryRecvError::Empty) => match rayon::yield_now() {
                    // Not a pool thread: just block.
                    None => break self.done.recv().expect("`self` holds a sender"),
                    Some(rayon::Yield::Idle) => std::thread::yield_now(),
                    Some(rayon::Yield::Executed) => {}
                },
            }
        };
        self.outstanding -= 1;
        Some(answer)
    }
}

impl<T: Send + 'static> Drop for Jobs<T> {
    /// Wait for every job, so none outlives its sink (a directory sink's staging directory is
    /// removed only once nothing writes into it any more).
    fn drop(&mut self) {
        while self.next().is_some() {}
    }
}

impl<T: Send + 'static> std::fmt::Debug for Jobs<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("outstanding", &self.outstanding)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_arrives_even_on_a_one_thread_pool() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        // Waiting from inside the pool's only thread must not deadlock.
        let mut answers: Vec<usize> = pool.install(|| {
            let mut jobs = Jobs::new();
            for i in 0..50 {
                jobs.spawn(move || i * 2);
            }
            std::iter::from_fn(|| jobs.next()).collect()
        });
        answers.sort_unstable();
        assert_eq!(answers, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }
}
