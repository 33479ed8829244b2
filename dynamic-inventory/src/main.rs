fn main() -> std::process::ExitCode {
    dynamic_inventory::run(std::env::args_os())
}
