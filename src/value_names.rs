//! Choices made on the command line (`--mode`, `--dataset`) are saved in a
//! run's settings and printed by the same names. [`named_by_value`] gives
//! such a `clap::ValueEnum` its `Display`, `FromStr` and serde forms from
//! the enum's one `name()` match; a test checks each name against clap's.

/// Implements `names()`, `Display`, `FromStr` (the error lists the names)
/// and serde (as the name) for a `clap::ValueEnum` with a
/// `fn name(self) -> &'static str`; `$what` names the choice in errors.
macro_rules! named_by_value {
    ($enum:ty, $what:literal) => {
        impl $enum {
            /// Every name, in the order the command line lists them.
            pub fn names() -> Vec<&'static str> {
                <$enum as clap::ValueEnum>::value_variants()
                    .iter()
                    .map(|v| v.name())
                    .collect()
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $enum {
            type Err = String;
            // clap's own lookup (case-sensitive); the test below keeps its
            // names and `name()` the same.
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                <$enum as clap::ValueEnum>::from_str(s, false).map_err(|_| {
                    format!(
                        "{} '{s}' is not one of {}",
                        $what,
                        <$enum>::names().join(", ")
                    )
                })
            }
        }

        // Saved as the name, so settings written as plain strings read back.
        impl serde::Serialize for $enum {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $enum {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use named_by_value;

#[cfg(test)]
mod tests {
    use crate::data::DatasetKind;
    use crate::train::TrainMode;
    use clap::ValueEnum;
    use std::fmt::Display;
    use std::str::FromStr;

    fn round_trip<T>(name: fn(T) -> &'static str)
    where
        T: ValueEnum + Copy + PartialEq + std::fmt::Debug + Display,
        T: FromStr<Err = String> + serde::Serialize + serde::de::DeserializeOwned,
    {
        for &v in T::value_variants() {
            let cli = v.to_possible_value().expect("every choice is listed");
            assert_eq!(
                cli.get_name(),
                name(v),
                "the command line and the saved name differ"
            );
            assert_eq!(v.to_string(), name(v));
            assert_eq!(name(v).parse::<T>(), Ok(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", name(v)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
        }
        let err = "sandwich".parse::<T>().unwrap_err();
        let last = T::value_variants().last().map(|&v| name(v)).unwrap();
        assert!(err.contains("'sandwich'") && err.contains(last), "{err}");
        assert!(serde_json::from_str::<T>("\"sandwich\"").is_err());
    }

    #[test]
    fn names_round_trip_through_the_command_line_json_and_text() {
        round_trip::<TrainMode>(TrainMode::name);
        round_trip::<DatasetKind>(DatasetKind::name);
    }
}
