use clap::Parser;

fn main() {
    let cli = match zkwal_sim::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // A value refused by its parser (`--nodes -1`: the range it must be in) is bad
        // input like any other: one line, exit 2. Every other clap error (unknown flag,
        // help, version) prints as clap renders it.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: invalid value"));
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    match zkwal_sim::cli::main_with(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
