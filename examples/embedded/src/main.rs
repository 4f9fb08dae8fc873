//! Runs Python with two native extensions that were linked into this binary at build time.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut sandbox = eryx_rt::Sandbox::from_embedded(eryx_rt::include_component!()).build()?;
    let ready = started.elapsed();
    let code = std::env::args().nth(1).unwrap_or_else(|| {
        "import eryx_test_c as c, eryx_test_rust as r\nprint(c.add(2, 3), r.greet('embedded'))".into()
    });
    let output = sandbox.execute(&code)?;
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    eprintln!(
        "ready after {ready:?}, first result after {:?}, link calls in this process: {}, code loaded from: {:?}",
        started.elapsed(),
        eryx_libs::link_calls(),
        sandbox.loaded_from()
    );
    Ok(())
}
