//! The `fuzzfleet` binary: parse the command line, dispatch, map errors to exit codes.

mod cli;
mod cmd;
mod exit;
mod nodes;
mod plan;
mod ssh;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure:#}");
            exit::code_of(&failure)
        }
    };
    std::process::exit(code);
}
