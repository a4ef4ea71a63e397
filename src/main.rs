fn main() {
    quiet_on_closed_stdout();
    std::process::exit(slimmable::cli::main());
}

/// `slimmable op --op list | head -1` closes stdout early, and `println!`
/// then panics. A reader that stopped reading is not an error of ours: exit
/// as a program killed by SIGPIPE would (status 141), without a panic
/// message. Every other panic keeps the default report.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
