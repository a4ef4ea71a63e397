fn main() {
    std::process::exit(slimmable::cli::main());
}
