//! What a training iteration trains: the one list of training modes. The
//! command line's `--mode` values and help, the saved settings' JSON and
//! the sampling in [`super::step`] all come from this enum, so a new mode
//! is added here (and in `tools/reference_trainer.py`, which a test keeps
//! in step).

use clap::ValueEnum;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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

    /// Every mode's name, in the order `--mode` lists them.
    pub fn names() -> Vec<&'static str> {
        TrainMode::value_variants()
            .iter()
            .map(|m| m.name())
            .collect()
    }
}

impl fmt::Display for TrainMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TrainMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TrainMode::value_variants()
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("mode '{s}' is not one of {}", TrainMode::names().join(", ")))
    }
}

// Saved as its name, so run folders written before this enum read back.
impl Serialize for TrainMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TrainMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_command_line_and_json() {
        for &mode in TrainMode::value_variants() {
            let cli = mode.to_possible_value().expect("every mode is listed");
            assert_eq!(
                cli.get_name(),
                mode.name(),
                "--mode and the saved name differ"
            );
            assert_eq!(mode.name().parse::<TrainMode>(), Ok(mode));
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{}\"", mode.name()));
            assert_eq!(serde_json::from_str::<TrainMode>(&json).unwrap(), mode);
        }
        let err = "sandwich".parse::<TrainMode>().unwrap_err();
        assert!(
            err.contains("'sandwich'") && err.contains("alone-random-res"),
            "{err}"
        );
        assert!(serde_json::from_str::<TrainMode>("\"sandwich\"").is_err());
    }

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
