#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    inventory_manage::run(std::env::args_os())
}
