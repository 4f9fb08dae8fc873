//! Prints what the guest printed to the host's own stdout and stderr.

use std::io::Write;

/// Writes one execution's captured output; stdout first, as the guest flushed it at the end.
pub(crate) fn write(output: &eryx_rt::Output) {
    // The host's stdout may be a closed pipe (`eryx ... | head`): that is not an error here.
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    if output.truncated {
        eprintln!("eryx: output beyond the limit was dropped");
    }
}
