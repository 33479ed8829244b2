//! `cargo xtask`: tasks of this repository that are not a build (see `.cargo/config.toml`).
//!
//! * `cargo xtask assets [DIR]` writes the shell completions (bash, zsh, fish) and the man
//!   pages of every program the project installs, from their own command-line definitions,
//!   into DIR (default `target/assets`): `DIR/man/man1/NAME.1`,
//!   `DIR/completions/bash/NAME`, `DIR/completions/zsh/_NAME`,
//!   `DIR/completions/fish/NAME.fish`. README.md's install section copies them.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["assets"] => run_assets(Path::new("target/assets")),
        ["assets", dir] => run_assets(Path::new(dir)),
        _ => {
            eprintln!("usage: cargo xtask assets [DIR]   (shell completions and man pages)");
            ExitCode::from(2)
        }
    }
}

fn run_assets(dir: &Path) -> ExitCode {
    match write_assets(dir) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command-line definitions of the programs the project installs.
fn programs() -> Vec<clap::Command> {
    vec![
        dynamic_inventory::cli::Cli::command(),
        inventory_manage::cli::Cli::command(),
        osa_inventory_sqlite::cli::command(),
    ]
}

/// Writes every completion script and man page into `dir`; returns the files written.
fn write_assets(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for mut command in programs() {
        command.build();
        let name = command.get_name().to_string();
        // The file names the shells look for in their completion directories.
        for (shell, subdir, file) in [
            (Shell::Bash, "bash", name.clone()),
            (Shell::Zsh, "zsh", format!("_{name}")),
            (Shell::Fish, "fish", format!("{name}.fish")),
        ] {
            let out = dir.join("completions").join(subdir);
            std::fs::create_dir_all(&out)?;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut script);
            let path = out.join(file);
            std::fs::write(&path, script)?;
            written.push(path);
        }
        let man = dir.join("man/man1");
        std::fs::create_dir_all(&man)?;
        let path = man.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page)?;
        std::fs::write(&path, page)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn assets_cover_every_program_shell_and_option() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_assets(dir.path()).unwrap();
        assert_eq!(written.len(), programs().len() * 4, "{written:?}");
        for command in programs() {
            let name = command.get_name().to_string();
            let bash = read(&dir.path().join("completions/bash").join(&name));
            let zsh = read(&dir.path().join("completions/zsh").join(format!("_{name}")));
            let fish = read(&dir.path().join(format!("completions/fish/{name}.fish")));
            let man = read(&dir.path().join(format!("man/man1/{name}.1")));
            assert!(man.contains(&format!(".TH {name} 1")), "{man}");
            // Every long option of the program is completed and documented.
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                assert!(bash.contains(&format!("--{long}")), "{name} bash: --{long}");
                assert!(zsh.contains(&format!("--{long}")), "{name} zsh: --{long}");
                assert!(
                    fish.contains(&format!("-l {long}")),
                    "{name} fish: --{long}"
                );
                let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(man.contains(&roff), "{name} man: --{long}");
            }
        }
        let manage = read(&dir.path().join("completions/bash/inventory-manage"));
        assert!(manage.contains("migrate"), "subcommands are completed");
    }
}
