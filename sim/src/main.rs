use clap::Parser;

fn main() {
    let cli = zkwal_sim::cli::Cli::parse();
    match zkwal_sim::cli::main_with(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
