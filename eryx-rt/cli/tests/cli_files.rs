//! `eryx --mount`, `--put` and `--get`, run as a separate process against real host folders.

use std::process::{Command, Output};

const ERYX: &str = env!("CARGO_BIN_EXE_eryx");

fn eryx(args: &[&str]) -> Output {
    Command::new(ERYX).args(args).output().expect("eryx runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn put_runs_get_copies_files_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "a,b\n1,2\n3,4\n").unwrap();
    let out = eryx(&[
        "--put",
        &format!("{}:/tmp/in.csv", input.display()),
        "--get",
        &format!("total.txt:{}", output.display()),
        "-c",
        "import csv\nrows = list(csv.DictReader(open('/tmp/in.csv')))\n\
         open('total.txt', 'w').write(str(sum(int(r['b']) for r in rows)))\nprint(len(rows))",
    ]);
    assert_eq!(text(&out.stdout), "2\n", "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "6");
}

#[test]
fn get_happens_after_a_failed_program_and_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("partial.txt");
    let out = eryx(&[
        "--get",
        &format!("/tmp/partial.txt:{}", partial.display()),
        "--get",
        &format!("/tmp/never.txt:{}", dir.path().join("never.txt").display()),
        "-c",
        "open('/tmp/partial.txt', 'w').write('half')\n1/0",
    ]);
    assert_eq!(std::fs::read_to_string(&partial).unwrap(), "half");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ZeroDivisionError"), "{stderr}");
    assert!(stderr.contains("--get /tmp/never.txt") && stderr.contains("no file or folder"), "{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!dir.path().join("never.txt").exists());
}

#[test]
fn mounts_are_read_only_unless_rw() {
    let dir = tempfile::tempdir().unwrap();
    let (data, results) = (dir.path().join("data"), dir.path().join("results"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(data.join("x.txt"), "from the host").unwrap();
    let out = eryx(&[
        "--mount",
        &format!("{}:/data", data.display()),
        "--mount",
        &format!("{}:/results:rw", results.display()),
        "-c",
        "import errno\nprint(open('/data/x.txt').read())\n\
         try:\n    open('/data/new.txt', 'w')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n\
         open('/results/r.txt', 'w').write('from the guest')",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("from the host\nE"), "{stdout}"); // EROFS or EACCES/EPERM
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 1, "the read-only mount was written to");
    assert_eq!(std::fs::read_to_string(results.join("r.txt")).unwrap(), "from the guest");
}

#[test]
fn bad_mount_and_put_values_are_clear_errors() {
    let out = eryx(&["--mount", "no-guest-path", "-c", "pass"]);
    assert_eq!(out.status.code(), Some(2), "a malformed value is a usage error");
    assert!(text(&out.stderr).contains("HOST:GUEST"), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    let out = eryx(&["--mount", &format!("{}:/tmp", dir.path().display()), "-c", "pass"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("overlaps"), "{}", text(&out.stderr));

    let out = eryx(&["--put", &format!("{}:../escape", dir.path().join("missing").display()), "-c", "pass"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("--put: cannot read"), "{}", text(&out.stderr));

    std::fs::write(dir.path().join("f"), "x").unwrap();
    let out = eryx(&["--put", &format!("{}:../escape", dir.path().join("f").display()), "-c", "pass"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("invalid scratch path"), "{}", text(&out.stderr));
}
