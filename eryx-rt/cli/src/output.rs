//! Prints what the guest printed to the host's own stdout and stderr, as it arrives.

use std::io::Write;

use eryx_rt::Stream;

/// Prints one chunk of the guest's output the moment it is written (the sandbox's output handler).
pub(crate) fn print_live(stream: Stream, bytes: &[u8]) {
    // The host's stdout may be a closed pipe (`eryx ... | head`): that is not an error here.
    let _ = match stream {
        Stream::Stdout => std::io::stdout().lock().write_all(bytes).and_then(|()| std::io::stdout().flush()),
        Stream::Stderr => std::io::stderr().lock().write_all(bytes),
    };
}

/// Ends one execution's output: it was printed live, so only a truncation is left to say.
pub(crate) fn write(output: &eryx_rt::Output) {
    if output.truncated {
        eprintln!("eryx: output beyond the limit was dropped");
    }
}
