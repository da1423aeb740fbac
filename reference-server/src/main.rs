//! The `reference-server` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    reference_server::cli::main()
}
