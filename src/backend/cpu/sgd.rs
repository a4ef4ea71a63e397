//! SGD with momentum, Nesterov and weight decay (PyTorch's update, in f64).

/// One step on one element; returns the new `(param, momentum buffer)`.
/// `d = g + wd·p`; first step `buf = d`, then `buf = m·buf + d`; Nesterov
/// steps by `d + m·buf`, plain momentum by `buf`; `p −= lr·step`. With
/// momentum 0 the buffer is untouched and the step is `d`.
#[allow(clippy::too_many_arguments)]
pub fn sgd_element(
    p: f64,
    g: f64,
    buf: f64,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
    first_step: bool,
) -> (f64, f64) {
    let d = g + weight_decay * p;
    if momentum == 0.0 {
        return (p - lr * d, buf);
    }
    let b = if first_step { d } else { momentum * buf + d };
    let step = if nesterov { d + momentum * b } else { b };
    (p - lr * step, b)
}
