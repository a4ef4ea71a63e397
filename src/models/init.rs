//! Initial weights as the published slimmable code sets them (US-Nets
//! `reset_parameters`, reused by MutualNet): conv weights ~ N(0, 2/(k²·out)),
//! i.e. He initialization by fan-out, depthwise included; linear weights
//! ~ N(0, 0.01²); biases 0; BN γ = 1, β = 0, running mean 0, variance 1.

use super::Architecture;
use super::layers::TensorRole;
use crate::error::Result;
use crate::rng::Rng;
use crate::tensor_io::HostTensor;
use std::collections::BTreeMap;

/// A standard normal sample (Box–Muller on two uniforms).
fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.uniform(); // in (0, 1]: ln is finite
    let u2 = rng.uniform();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Full-size f32 tensors by PyTorch name (`num_batches_tracked` excluded:
/// it is an integer counter, starting at 0).
pub fn initial_tensors(arch: &Architecture, seed: u64) -> Result<BTreeMap<String, HostTensor>> {
    let mut rng = Rng::new(seed);
    let mut out = BTreeMap::new();
    for spec in arch.tensors() {
        let shape = spec.full_shape();
        let n: usize = shape.iter().product();
        let normal = |rng: &mut Rng, std: f64| -> Vec<f32> {
            (0..n)
                .map(|_| (standard_normal(rng) * std) as f32)
                .collect()
        };
        let data = match spec.role {
            TensorRole::ConvWeight { .. } => {
                // shape [out, in/groups, k, k]: fan-out is out·k².
                let fan_out = shape[0] * shape[2] * shape[3];
                normal(&mut rng, (2.0 / fan_out as f64).sqrt())
            }
            TensorRole::LinearWeight => normal(&mut rng, 0.01),
            TensorRole::BnWeight | TensorRole::BnRunningVar => vec![1.0; n],
            TensorRole::ConvBias
            | TensorRole::LinearBias
            | TensorRole::BnBias
            | TensorRole::BnRunningMean => vec![0.0; n],
            TensorRole::BnBatchesTracked => continue,
        };
        out.insert(spec.name.clone(), HostTensor::new(shape, data)?);
    }
    Ok(out)
}
