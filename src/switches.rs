//! Readers for the on/off kernel switches of README "Kernel switches",
//! shared by the CUDA and WGSL backends so that every switch takes the same
//! values (`1` on, `0` off, anything else leaves the route's own rule in
//! charge) and `settings::ON_OFF` can list them all from one scan.

/// `NAME=1` in the environment gives `Some(true)`, `NAME=0` `Some(false)`,
/// anything else (unset included) `None`. Read once per process, so an A/B
/// run cannot change its mind halfway.
macro_rules! forced {
    ($name:literal) => {{
        static CHOICE: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| match std::env::var($name).as_deref() {
            Ok("1") => Some(true),
            Ok("0") => Some(false),
            _ => None,
        })
    }};
}
pub(crate) use forced;

/// Whether a route that is on by default is on: `NAME=0` turns it off.
macro_rules! switched_on {
    ($name:literal) => {
        $crate::switches::forced!($name) != Some(false)
    };
}
pub(crate) use switched_on;

/// Whether an opt-in route is on: `NAME=1` turns it on.
macro_rules! opted_in {
    ($name:literal) => {
        $crate::switches::forced!($name) == Some(true)
    };
}
pub(crate) use opted_in;
