//! The REPL in a real terminal (a pseudo-terminal driven by rexpect): the banner, multi-line
//! blocks, echoed values, an error that keeps the session, state across entries, Ctrl-C while
//! reading and while an entry runs, Ctrl-D, lines typed ahead of the prompt, `sys.exit` leaving
//! with its status, a limit, and history across sessions.

use std::process::Command;

use rexpect::process::wait::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

const ERYX: &str = env!("CARGO_BIN_EXE_eryx");

/// `eryx` with no program on a terminal, its history in `history`.
fn repl(history: &std::path::Path, args: &[&str]) -> PtySession {
    let mut command = Command::new(ERYX);
    command.args(args).env("ERYX_HISTORY", history).env("TERM", "xterm");
    let mut session = spawn_command(command, Some(60_000)).expect("eryx starts in a terminal");
    session.exp_string("WebAssembly sandbox").expect("the banner");
    session.exp_string("Limits per entry:").expect("the banner names the limits");
    session.exp_string(">>> ").expect("the first prompt");
    session
}

fn exit_status(session: &mut PtySession) -> WaitStatus {
    session.exp_eof().expect("eryx leaves");
    session.process.wait().expect("eryx exits")
}

#[test]
fn a_session_keeps_state_and_shows_values_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(&dir.path().join("history"), &[]);
    p.send_line("def square(x):").unwrap();
    p.exp_string("... ").unwrap();
    p.send_line("    return x * x").unwrap();
    p.exp_string("... ").unwrap();
    p.send_line("").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("square(12)").unwrap();
    p.exp_string("144").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("1/0").unwrap();
    p.exp_string("ZeroDivisionError: division by zero").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("kept = square(3) + 1").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("[kept, 'str']").unwrap();
    p.exp_string("[10, 'str']").unwrap();
    p.exp_string(">>> ").unwrap();
    // An unfinished bracket continues; Ctrl-C drops the entry, the session goes on.
    p.send_line("numbers = (1,").unwrap();
    p.exp_string("... ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("KeyboardInterrupt").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("print('numbers' in globals(), kept)").unwrap();
    p.exp_string("False 10").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_status(&mut p), WaitStatus::Exited(p.process.child_pid, 0));
}

#[test]
fn ctrl_c_cancels_a_running_entry_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(&dir.path().join("history"), &[]);
    p.send_line("import time").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("print('sleeping', flush=True); time.sleep(60)").unwrap();
    // The printed line, not the echo of the typed one; then the entry runs for sure.
    p.exp_string("sleeping\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pressed = std::time::Instant::now();
    p.send_control('c').unwrap();
    p.exp_string("KeyboardInterrupt").unwrap();
    p.exp_string("a new one was started").unwrap();
    p.exp_string(">>> ").unwrap();
    assert!(pressed.elapsed() < std::time::Duration::from_secs(10), "took {:?}", pressed.elapsed());
    p.send_line("print('still', 'here')").unwrap();
    p.exp_string("still here").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("while True: pass").unwrap();
    p.exp_string("... ").unwrap();
    p.send_line("").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.send_control('c').unwrap();
    p.exp_string("KeyboardInterrupt").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_status(&mut p), WaitStatus::Exited(p.process.child_pid, 0));
}

#[test]
fn lines_typed_ahead_are_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(&dir.path().join("history"), &[]);
    // Both lines reach the terminal in one write, so the editor reads them in one go: the
    // second must wait for the next prompt, as Python's REPL keeps what was typed ahead.
    p.send("print('first', 'line')\rprint('second', 'line')\r").unwrap();
    p.flush().unwrap();
    p.exp_string("first line").unwrap();
    p.exp_string("second line").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_status(&mut p), WaitStatus::Exited(p.process.child_pid, 0));
}

#[test]
fn sys_exit_leaves_with_its_status_and_history_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let mut p = repl(&history, &[]);
    p.send_line("answer = 6 * 7").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("import sys; sys.exit(answer)").unwrap();
    assert_eq!(exit_status(&mut p), WaitStatus::Exited(p.process.child_pid, 42));
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("answer = 6 * 7"), "{saved}");

    // The next session recalls the first line with the Up key (twice: past the sys.exit line).
    let mut p = repl(&history, &[]);
    p.send("\x1b[A\x1b[A").unwrap();
    p.send_line("").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("answer").unwrap();
    p.exp_string("42").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("exit()").unwrap();
    assert_eq!(exit_status(&mut p), WaitStatus::Exited(p.process.child_pid, 0));
}

#[test]
fn a_limit_stops_one_entry_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(&dir.path().join("history"), &["--timeout", "1"]);
    p.send_line("while True: pass").unwrap();
    p.exp_string("... ").unwrap();
    p.send_line("").unwrap();
    p.exp_string("timed out").unwrap();
    p.exp_string("a new one was started").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("print('after', 'the limit')").unwrap();
    p.exp_string("after the limit").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_status(&mut p), WaitStatus::Exited(p.process.child_pid, 0));
}
