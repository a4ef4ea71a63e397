//! The sandwich rule of one MutualNet iteration (DESIGN.md, "The
//! trainer"): the full width at the full resolution (cross-entropy), the
//! smallest width and two random widths, each at a random resolution from
//! the set (distilled). The passes themselves run in
//! [`crate::nn::mutualnet_step`], checked against PyTorch.

use super::config::TrainConfig;
use crate::rng::Rng;

/// The sub-networks of one iteration: `(width, resolution)`, teacher first.
pub fn sample_configs(cfg: &TrainConfig, rng: &mut Rng) -> Vec<(f64, usize)> {
    let full = cfg.resolutions[0];
    match cfg.mode.as_str() {
        "alone" => vec![(cfg.width_max, full)],
        mode => {
            let res = |rng: &mut Rng| {
                if mode == "usnet" {
                    full
                } else {
                    cfg.resolutions[rng.below(cfg.resolutions.len() as u64) as usize]
                }
            };
            let mut out = vec![(cfg.width_max, full), (cfg.width_min, res(rng))];
            for _ in 0..2 {
                let w = cfg.width_min + (cfg.width_max - cfg.width_min) * rng.uniform();
                out.push((w, res(rng)));
            }
            out
        }
    }
}
