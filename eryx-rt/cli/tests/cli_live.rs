//! The `eryx` command prints output as it arrives, and its timeout holds while the guest sleeps.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `eryx` on `code`; returns each stdout line with when it arrived, the exit time and status.
fn run_live(args: &[&str]) -> (Vec<(String, Instant)>, Instant, Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eryx"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eryx runs");
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push((line.unwrap(), Instant::now()));
    }
    let out = child.wait_with_output().unwrap();
    (lines, Instant::now(), out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_sleeping_guest_times_out_within_1_2_seconds_and_its_output_came_live() {
    let (lines, exited, status, stderr) =
        run_live(&["--timeout", "1", "-c", "import time\nprint('sleeping', flush=True)\ntime.sleep(30)"]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    let [(line, printed)] = lines.as_slice() else { panic!("{lines:?}") };
    assert_eq!(line, "sleeping");
    let after = exited.duration_since(*printed);
    assert!(after < Duration::from_millis(1200), "the timeout ended the sleep {after:?} after it began");
    assert!(after > Duration::from_millis(800), "the line was printed live, not at exit ({after:?} before it)");
}

#[test]
fn output_arrives_in_order_while_the_code_runs() {
    let code = "import sys, time\nfor i in range(3):\n    print(i)\n    time.sleep(0.2)\nsys.stderr.write('done\\n')";
    let (lines, exited, status, stderr) = run_live(&["-c", code]);
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(stderr, "done\n");
    let texts: Vec<&str> = lines.iter().map(|(line, _)| line.as_str()).collect();
    assert_eq!(texts, ["0", "1", "2"]);
    let first = lines[0].1;
    assert!(exited.duration_since(first) >= Duration::from_millis(400), "the first line came before the end");
}
