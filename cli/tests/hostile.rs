//! `fsched validate` against a hostile corpus, as a careless or malicious author could write it: never a panic or a
//! crash, never more than 200 MB of memory, and exit 2 with the line and column of the problem. No AWS is needed.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn validate(path: &str, stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(["validate", path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fsched");
    let input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        let bytes = bytes.to_vec();
        // A writer that may be cut short when fsched stops reading (a large input): that is the point.
        std::thread::spawn(move || {
            let mut input = input;
            let _ = input.write_all(&bytes);
        });
    } else {
        drop(input);
    }
    child.wait_with_output().expect("wait for fsched")
}

/// The largest resident set of any child this process has waited for, in MB.
fn peak_child_mb() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given; RUSAGE_CHILDREN is a valid target.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    // Linux reports ru_maxrss in KiB.
    usage.ru_maxrss / 1024
}

fn file(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("fsched-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

const VALID: &str = "jobs:\n  etl:\n    schedule: cron(0 2 * * ? *)\n    cluster: c\n    task_definition: etl:1\n    network: {subnets: [subnet-1]}\n";

/// Exit 2, no panic, and `FILE:LINE:COLUMN:` (or the file named, for problems of the whole file) on stderr.
fn refused(o: &Output, position: &str, words: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(position), "expected `{position}` in: {err}");
    assert!(err.contains(words), "expected `{words}` in: {err}");
    assert!(!err.contains('\u{1b}'), "no raw terminal escapes: {err:?}");
}

#[test]
fn a_hostile_corpus_is_refused_with_positions_and_bounded_memory() {
    let deep = file(
        "deep.yaml",
        format!("jobs:\n  {}x\n", "- ".repeat(5000)).as_bytes(),
    );
    refused(&validate(&deep, None), "deep.yaml:2:", "64 levels");

    refused(
        &validate("/dev/zero", None),
        "/dev/zero",
        "larger than 10 MB",
    );

    let fifty = file("fifty.yaml", &vec![b'#'; 50 * 1024 * 1024]);
    refused(
        &validate(&fifty, None),
        "fifty.yaml: the file",
        "larger than 10 MB",
    );
    // 50 MB per run would fill the disk of a machine that runs the suite often.
    std::fs::remove_file(&fifty).unwrap();

    let piped = vec![b' '; 30 * 1024 * 1024];
    refused(&validate("-", Some(&piped)), "-", "larger than 10 MB");

    let latin1 = file(
        "latin1.yaml",
        b"jobs:\n  caf\xe9:\n    schedule: rate(1 day)\n",
    );
    refused(&validate(&latin1, None), "latin1.yaml:2:6:", "not UTF-8");

    let escapes = file(
        "escapes.yaml",
        format!("{VALID}    \u{1b}[2J\u{1b}[31mowned: 1\n").as_bytes(),
    );
    refused(&validate(&escapes, None), "escapes.yaml:7:", "\\u{1b}[2J");

    let two = file("two.yaml", format!("jobs: {{}}\n---\n{VALID}").as_bytes());
    refused(
        &validate(&two, None),
        "two.yaml:2:1:",
        "second YAML document",
    );

    let big_env = file(
        "env.yaml",
        format!(
            "{VALID}    containers:\n      app:\n        environment:\n          BLOB: {}\n",
            "x".repeat(7000)
        )
        .as_bytes(),
    );
    refused(&validate(&big_env, None), "env.yaml:2:", "at most 6144 fit");

    let tag = file(
        "tag.yaml",
        format!("{VALID}    tags: {{team: \"a\\u0007b\"}}\n").as_bytes(),
    );
    refused(&validate(&tag, None), "tag.yaml:7:", "ECS tags take");

    let peak = peak_child_mb();
    assert!(peak < 200, "a validation used {peak} MB");
}

#[test]
fn a_byte_order_mark_and_standard_input_are_fine() {
    let bom = file("bom.yaml", format!("\u{feff}{VALID}").as_bytes());
    let o = validate(&bom, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = validate("-", Some(VALID.as_bytes()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "-: valid, 1 job(s)\n");
}

#[test]
fn a_job_that_can_never_fire_is_valid_with_a_warning() {
    let silent = file(
        "silent.yaml",
        VALID
            .replace("cron(0 2 * * ? *)", "cron(0 0 31 2 ? *)")
            .as_bytes(),
    );
    let o = validate(&silent, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: job `etl`: `cron(0 0 31 2 ? *)` in UTC never fires after"),
        "{err}"
    );
    let o = validate(&file("fine.yaml", VALID.as_bytes()), None);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "",
        "no warning for a job that fires"
    );
}
