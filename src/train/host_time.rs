//! Where the host's time goes in the training loop, to tell a trainer
//! bound by its launches from one bound by the device. On CUDA the batch
//! upload is a synchronous copy on the stream every launch goes to, so it
//! first waits for the previous iteration's work; the step's launches are
//! asynchronous. A long upload means the host ran ahead and waited for the
//! device; a short one with the step's issue time close to the iteration's
//! wall time means the device waited for the host.

use std::time::Duration;

/// Host time per phase, summed over the iterations run so far.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct HostTime {
    /// Uploading the batch and packing its resolutions.
    pub upload: Duration,
    /// Issuing the MutualNet step: every forward, backward and the SGD step.
    pub issue: Duration,
    pub iterations: usize,
}

impl HostTime {
    pub fn add(&mut self, upload: Duration, issue: Duration) {
        self.upload += upload;
        self.issue += issue;
        self.iterations += 1;
    }

    /// Milliseconds an iteration: (upload, issue); None before the first.
    pub fn per_iteration_ms(&self) -> Option<(f64, f64)> {
        (self.iterations > 0).then(|| {
            let ms = |d: Duration| 1e3 * d.as_secs_f64() / self.iterations as f64;
            (ms(self.upload), ms(self.issue))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::HostTime;
    use std::time::Duration;

    #[test]
    fn averages_over_the_iterations() {
        let mut t = HostTime::default();
        assert_eq!(t.per_iteration_ms(), None);
        t.add(Duration::from_millis(1), Duration::from_millis(10));
        t.add(Duration::from_millis(3), Duration::from_millis(20));
        let (upload, issue) = t.per_iteration_ms().unwrap();
        assert!((upload - 2.0).abs() < 1e-9 && (issue - 15.0).abs() < 1e-9);
    }
}
