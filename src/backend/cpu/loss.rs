//! Softmax cross-entropy and distillation KL on dense f64 logits `[N][K]`.

/// `log_softmax` of one row, by max subtraction.
pub fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    z.iter().map(|v| v - lse).collect()
}

/// Cross-entropy with label smoothing ε, mean over the batch:
/// `q = (1 − ε)·onehot + ε/K`, `loss = −(1/N) Σ_n Σ_k q_k log p_k`,
/// `dlogits = (p − q)/N`. A label outside `0..K` (or not an integer) makes
/// the loss and that row's gradient NaN (checked entry points report it).
pub fn cross_entropy(
    logits: &[f64],
    labels: &[f64],
    n: usize,
    k: usize,
    eps: f64,
) -> (f64, Vec<f64>) {
    let mut loss = 0.0;
    let mut d = vec![0.0; n * k];
    for r in 0..n {
        let row = &logits[r * k..(r + 1) * k];
        let lp = log_softmax(row);
        let label = labels[r];
        let valid = label >= 0.0 && label < k as f64 && label.fract() == 0.0;
        for j in 0..k {
            let q = (1.0 - eps) * f64::from(valid && j == label as usize) + eps / k as f64;
            loss -= q * lp[j];
            d[r * k + j] = if valid {
                (lp[j].exp() - q) / n as f64
            } else {
                f64::NAN
            };
        }
        if !valid {
            loss = f64::NAN;
        }
    }
    (loss / n as f64, d)
}

/// KL(softmax(teacher/T) ‖ log_softmax(student/T)) with `batchmean`:
/// `loss = (1/N) Σ_n Σ_k p_t (log p_t − log p_s)`, teacher detached,
/// `d student = (p_s − p_t)/(N·T)`. Not multiplied by T² (as PyTorch's
/// `KLDivLoss`); callers wanting Hinton's scaling multiply themselves.
pub fn kl_div(student: &[f64], teacher: &[f64], n: usize, k: usize, t: f64) -> (f64, Vec<f64>) {
    let mut loss = 0.0;
    let mut d = vec![0.0; n * k];
    for r in 0..n {
        let s: Vec<f64> = student[r * k..(r + 1) * k].iter().map(|v| v / t).collect();
        let tt: Vec<f64> = teacher[r * k..(r + 1) * k].iter().map(|v| v / t).collect();
        let (ls, lt) = (log_softmax(&s), log_softmax(&tt));
        for j in 0..k {
            let pt = lt[j].exp();
            if pt > 0.0 {
                loss += pt * (lt[j] - ls[j]);
            }
            d[r * k + j] = (ls[j].exp() - pt) / (n as f64 * t);
        }
    }
    (loss / n as f64, d)
}
