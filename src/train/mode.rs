//! What a training iteration trains: the one list of training modes. The
//! command line's `--mode` values and help, the saved settings' JSON and
//! the sampling in [`super::step`] all come from this enum, so a new mode
//! is added here (and in `tools/reference_trainer.py`, which a test keeps
//! in step).

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrainMode {
    /// MutualNet: the full config, then the smallest and two random widths,
    /// each at a random resolution of the set, distilled from the full one.
    #[value(name = "mutualnet")]
    MutualNet,
    /// US-Nets: the sandwich over widths at the full resolution only.
    #[value(name = "usnet")]
    UsNet,
    /// Only the full config (the `--widths` maximum at the full
    /// resolution): the "trained alone" baseline.
    Alone,
    /// Only the `--widths` maximum, at a random resolution of the set each
    /// iteration (what the resolution mix alone costs that width).
    AloneRandomRes,
}

impl TrainMode {
    /// The name `--mode` takes and the saved settings hold.
    pub fn name(self) -> &'static str {
        match self {
            TrainMode::MutualNet => "mutualnet",
            TrainMode::UsNet => "usnet",
            TrainMode::Alone => "alone",
            TrainMode::AloneRandomRes => "alone-random-res",
        }
    }
}

crate::value_names::named_by_value!(TrainMode, "mode");

#[cfg(test)]
mod tests {
    use super::*;

    /// The PyTorch reference trainer lists the same modes, so a run of
    /// either can be repeated in the other.
    #[test]
    fn the_reference_trainer_offers_the_same_modes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/reference_trainer.py");
        let text = std::fs::read_to_string(path).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("\"--mode\""))
            .expect("reference_trainer.py has a --mode option");
        let choices = line
            .split("choices=[")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .expect("its --mode option lists choices=[...]");
        let listed: Vec<&str> = choices
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        assert_eq!(listed, TrainMode::names(), "{path}: {line}");
    }
}
