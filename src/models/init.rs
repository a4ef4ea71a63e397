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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::MobileNetV2Config;

    fn mean_std(v: &[f32]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn follows_the_published_reset_parameters() {
        let arch = MobileNetV2Config::imagenet().build().unwrap();
        let t = initial_tensors(&arch, 3).unwrap();
        // (tensor, expected std): sqrt(2 / (out·k²)) for convs, 0.01 for the linear weight.
        let cases = [
            ("features.18.0.weight", (2.0f64 / 1280.0).sqrt()), // 1280×320×1×1
            ("features.17.body.3.weight", (2.0f64 / (960.0 * 9.0)).sqrt()), // depthwise
            ("classifier.0.weight", 0.01),
        ];
        for (name, want) in cases {
            let (mean, std) = mean_std(&t[name].data);
            // Within 4 standard errors of a normal sample of this size.
            let n = t[name].data.len() as f64;
            assert!(mean.abs() < 4.0 * want / n.sqrt(), "{name}: mean {mean}");
            let rel = (std / want - 1.0).abs();
            assert!(rel < 4.0 / (2.0 * n).sqrt(), "{name}: std {std} vs {want}");
        }
        assert!(t["features.0.1.weight"].data.iter().all(|&v| v == 1.0));
        assert!(t["features.0.1.bias"].data.iter().all(|&v| v == 0.0));
        assert!(t["features.0.1.running_var"].data.iter().all(|&v| v == 1.0));
        assert!(t["classifier.0.bias"].data.iter().all(|&v| v == 0.0));
        // Seeded: the same seed gives the same weights, another seed others.
        assert_eq!(initial_tensors(&arch, 3).unwrap(), t);
        assert_ne!(
            initial_tensors(&arch, 4).unwrap()["features.0.0.weight"],
            t["features.0.0.weight"]
        );
    }
}
