//! Softmax cross-entropy (label smoothing) and the distillation KL, each
//! writing the batch-mean loss to one element and the logits' gradient.

use super::checks::{distinct, same_dims, slice_fits};
use crate::backend::{Backend, Buffer};
use crate::error::{Error, Result};
use crate::params::LossParams;
use crate::view::View;

fn check_logits(op: &str, what: &str, buf: &Buffer, v: &View) -> Result<()> {
    v.check_within(&format!("{op} {what}"), buf.len())?;
    if v.dims[2] != 1 || v.dims[3] != 1 {
        return Err(Error::invalid(
            op,
            format!("'{what}' has extents {:?}; give [N, classes, 1, 1]", v.dims),
        ));
    }
    Ok(())
}

/// Downloads the labels (f32 class indices `labels[0..n]`) and fails at
/// the first that is not an integer in `0..classes`. The kernels never
/// read out of bounds on a bad label (they produce NaN); call this when
/// asked to check inputs.
pub fn check_labels(
    backend: &dyn Backend,
    labels: &Buffer,
    n: usize,
    classes: usize,
) -> Result<()> {
    slice_fits("labels", labels, 0, n)?;
    let host = backend.download(labels)?;
    for (i, &l) in host[..n].iter().enumerate() {
        if !(l >= 0.0 && l < classes as f32 && l.fract() == 0.0) {
            return Err(Error::invalid(
                "labels",
                format!(
                    "label {i} is {l}, not a class index in 0..{classes}; fix the dataset's labels or the classifier's width"
                ),
            ));
        }
    }
    Ok(())
}

/// Cross-entropy, mean over the batch, label smoothing `smoothing` ∈ [0, 1):
/// `loss[loss_index]` and `dlogits` (written). Labels: f32 class indices.
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy(
    backend: &dyn Backend,
    logits: &Buffer,
    lv: &View,
    labels: &Buffer,
    smoothing: f32,
    loss: &Buffer,
    loss_index: usize,
    dlogits: &Buffer,
    dv: &View,
) -> Result<()> {
    let op = "cross_entropy";
    check_logits(op, "logits", logits, lv)?;
    check_logits(op, "dlogits", dlogits, dv)?;
    same_dims(op, ("logits", lv), ("dlogits", dv))?;
    slice_fits("cross_entropy labels", labels, 0, lv.dims[0])?;
    slice_fits("cross_entropy loss", loss, loss_index, 1)?;
    if !(0.0..1.0).contains(&smoothing) {
        return Err(Error::invalid(
            op,
            format!("label smoothing {smoothing} is outside [0, 1)"),
        ));
    }
    let args = [
        ("logits", logits),
        ("labels", labels),
        ("loss", loss),
        ("dlogits", dlogits),
    ];
    distinct(op, &[("loss", loss), ("dlogits", dlogits)], &args)?;
    let p = LossParams {
        logits: lv.to_params(),
        teacher: lv.to_params(),
        dlogits: dv.to_params(),
        loss_offset: loss_index as u32,
        labels_offset: 0,
        smoothing,
        temperature: 1.0,
    };
    backend.cross_entropy(logits, labels, loss, dlogits, &p)
}

/// Distillation loss `KL(softmax(teacher/T) ‖ log_softmax(student/T))`,
/// `batchmean`, teacher detached: `loss[loss_index]` and d(student logits)
/// (written). Not multiplied by T² (PyTorch's `KLDivLoss` does not either);
/// MutualNet uses T = 1.
#[allow(clippy::too_many_arguments)]
pub fn kl_div(
    backend: &dyn Backend,
    student: &Buffer,
    sv: &View,
    teacher: &Buffer,
    tv: &View,
    temperature: f32,
    loss: &Buffer,
    loss_index: usize,
    dlogits: &Buffer,
    dv: &View,
) -> Result<()> {
    let op = "kl_div";
    check_logits(op, "student", student, sv)?;
    check_logits(op, "teacher", teacher, tv)?;
    check_logits(op, "dlogits", dlogits, dv)?;
    same_dims(op, ("student", sv), ("teacher", tv))?;
    same_dims(op, ("student", sv), ("dlogits", dv))?;
    slice_fits("kl_div loss", loss, loss_index, 1)?;
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(Error::invalid(
            op,
            format!("temperature {temperature}; give T > 0"),
        ));
    }
    let args = [
        ("student", student),
        ("teacher", teacher),
        ("loss", loss),
        ("dlogits", dlogits),
    ];
    distinct(op, &[("loss", loss), ("dlogits", dlogits)], &args)?;
    let p = LossParams {
        logits: sv.to_params(),
        teacher: tv.to_params(),
        dlogits: dv.to_params(),
        loss_offset: loss_index as u32,
        labels_offset: 0,
        smoothing: 0.0,
        temperature,
    };
    backend.kl_div(student, teacher, loss, dlogits, &p)
}
