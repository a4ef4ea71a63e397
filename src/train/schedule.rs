//! The learning rate per iteration: linear warm-up, then cosine decay to
//! zero at the last iteration (MutualNet's schedule, stepped per iteration).

/// Learning rate at `iteration` (0-based) of `total`.
pub fn learning_rate(base: f64, iteration: usize, total: usize, warmup: usize) -> f64 {
    if total == 0 {
        return base;
    }
    if iteration < warmup {
        return base * (iteration + 1) as f64 / warmup as f64;
    }
    let span = (total - warmup).max(1) as f64;
    let t = (iteration - warmup) as f64 / span;
    0.5 * base * (1.0 + (std::f64::consts::PI * t).cos())
}

#[cfg(test)]
mod tests {
    use super::learning_rate;

    #[test]
    fn warmup_then_cosine() {
        assert!((learning_rate(0.1, 0, 100, 10) - 0.01).abs() < 1e-12);
        assert!((learning_rate(0.1, 9, 100, 10) - 0.1).abs() < 1e-12);
        assert!((learning_rate(0.1, 10, 100, 10) - 0.1).abs() < 1e-12);
        // Half way through the cosine part: half the rate.
        assert!((learning_rate(0.1, 55, 100, 10) - 0.05).abs() < 1e-12);
        assert!(learning_rate(0.1, 99, 100, 0) < 1e-4);
    }
}
