//! The `fuzzfleet` binary: parse the command line, dispatch, map errors to exit codes.

mod cli;
mod cmd;
mod exit;
mod nodes;
mod pipes;
mod plan;

use clap::Parser;

fn main() {
    // A closed stdout ends a command quietly at its next write; supervisors instead stop
    // their workers cleanly when their output's reader goes away (see `pipes`).
    pipes::quiet_on_close();
    let cli = cli::Cli::parse();
    let output = match cli.command {
        cli::Command::Run(_) | cli::Command::Agent(_) => pipes::supervise(),
        _ => pipes::Guard::default(),
    };
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd::dispatch(cli))) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            eprintln!("error: {failure:#}");
            exit::code_of(&failure)
        }
        // The panic hook printed the message; it still reaches a relayed stderr.
        Err(_) => 101,
    };
    output.finish();
    std::process::exit(code);
}
