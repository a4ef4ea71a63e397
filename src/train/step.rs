//! The sandwich rule of one MutualNet iteration (README.md, "Training"):
//! the full width at the full resolution (cross-entropy), the smallest
//! width and two random widths, each at a random resolution from the set
//! (distilled). The passes themselves run in
//! [`crate::nn::mutualnet_step`], checked against PyTorch.

use super::config::TrainConfig;
use super::mode::TrainMode;
use crate::rng::Rng;

/// The sub-networks of one iteration: `(width, resolution)`, teacher first.
pub fn sample_configs(cfg: &TrainConfig, rng: &mut Rng) -> Vec<(f64, usize)> {
    let full = cfg.resolutions[0];
    let random_res =
        |rng: &mut Rng| cfg.resolutions[rng.below(cfg.resolutions.len() as u64) as usize];
    match cfg.mode {
        TrainMode::Alone => vec![(cfg.width_max, full)],
        // One width, seeing the resolutions as often as MutualNet's
        // sub-networks do: separates what the resolution mix costs a
        // width from what sharing weights and distillation do.
        TrainMode::AloneRandomRes => vec![(cfg.width_max, random_res(rng))],
        mode @ (TrainMode::MutualNet | TrainMode::UsNet) => {
            let res = |rng: &mut Rng| {
                if mode == TrainMode::UsNet {
                    full
                } else {
                    random_res(rng)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn drawn(mode: TrainMode) -> Vec<Vec<(f64, usize)>> {
        let mut cfg = TrainConfig::fmnist_small();
        cfg.mode = mode;
        cfg.width_min = 0.25;
        cfg.width_max = 0.5;
        let mut rng = Rng::new(7);
        (0..400).map(|_| sample_configs(&cfg, &mut rng)).collect()
    }

    #[test]
    fn alone_trains_one_config_and_alone_random_res_one_width_at_every_resolution() {
        for configs in drawn(TrainMode::Alone) {
            assert_eq!(configs, [(0.5, 28)]);
        }
        let random = drawn(TrainMode::AloneRandomRes);
        let mut seen: Vec<usize> = random
            .iter()
            .map(|configs| {
                assert_eq!(configs.len(), 1);
                assert_eq!(configs[0].0, 0.5);
                configs[0].1
            })
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [16, 20, 24, 28]);
    }

    #[test]
    fn mutualnet_samples_the_ends_and_two_widths_between() {
        for configs in drawn(TrainMode::MutualNet) {
            assert_eq!(configs.len(), 4);
            assert_eq!(
                configs[0],
                (0.5, 28),
                "the teacher: full width, full resolution"
            );
            assert_eq!(configs[1].0, 0.25);
            for &(w, r) in &configs[1..] {
                assert!((0.25..=0.5).contains(&w) && [28, 24, 20, 16].contains(&r));
            }
        }
        for configs in drawn(TrainMode::UsNet) {
            assert!(configs.iter().all(|&(_, r)| r == 28), "{configs:?}");
        }
    }
}
