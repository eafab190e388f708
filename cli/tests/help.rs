//! Help that teaches and shells that complete: no emulator needed.

use std::process::Command;

fn fsched(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn every_command_shows_examples_in_its_help() {
    for command in [
        "next", "validate", "plan", "apply", "jobs", "job", "pause", "resume", "runs", "run",
        "backfill", "show", "logs", "cost", "services", "wake", "sleep", "savings", "ui", "doctor",
    ] {
        let (ok, help) = fsched(&[command, "--help"]);
        assert!(ok, "{command}");
        let examples = help
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("`fsched {command} --help` has no examples:\n{help}"));
        assert!(
            examples.contains(&format!("fsched {command} "))
                || examples.contains(&format!(" {command} ")),
            "{command}: {examples}"
        );
    }
}

#[test]
fn completion_scripts_know_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (ok, script) = fsched(&["completion", shell]);
        assert!(ok, "{shell}");
        for command in ["logs", "ui", "job", "plan", "completion"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let (ok, _) = fsched(&["completion", "tcsh"]);
    assert!(!ok, "an unknown shell is refused");
}

#[test]
fn the_manual_page_lists_every_command_and_each_has_its_own() {
    let (ok, page) = fsched(&["man"]);
    assert!(ok);
    assert!(page.contains(".TH fsched 1"), "{page}");
    for command in ["apply", "backfill", "runs", "show", "wake", "doctor", "man"] {
        assert!(
            page.contains(&format!("fsched\\-{command}(1)")),
            "{command}"
        );
        let (ok, own) = fsched(&["man", command]);
        assert!(ok, "{command}");
        assert!(own.contains(&format!(".TH fsched-{command} 1")), "{own}");
    }
    let (ok, run) = fsched(&["man", "run"]);
    assert!(ok && run.contains("\\-\\-env"), "{run}");
    let o = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(["man", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no command `nope`"));
}

#[test]
fn runs_help_lists_every_status_it_accepts() {
    let (ok, help) = fsched(&["runs", "--help"]);
    assert!(ok);
    let words = help.replace('\n', " ").replace("  ", " ");
    for status in fsched_core::domain::run::RunStatus::ALL {
        let word = status.as_str().to_ascii_lowercase().replace('_', "-");
        assert!(words.contains(&word), "--status help lacks {word}: {help}");
    }
}

#[test]
fn output_and_tz_are_described_and_refused_where_they_mean_nothing() {
    let (ok, help) = fsched(&["runs", "--help"]);
    assert!(
        ok && help.contains("wide") && help.contains("yaml") && help.contains("--tz"),
        "{help}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(["completion", "bash", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("prints one form only"));
}
