//! The exit statuses of `eryx`, in one place so that `--help` and the code agree.
//!
//! They follow Python's where Python has one (0, 1, `sys.exit(n)`, 2 for a usage error);
//! eryx's own outcomes (a limit hit, a sandbox that cannot be created) get statuses that
//! Python never returns by itself.

/// The program ran to its end (or called `sys.exit(0)`).
pub(crate) const SUCCESS: u8 = 0;
/// An exception escaped the program (its traceback is on stderr), as in Python.
pub(crate) const EXCEPTION: u8 = 1;
/// A usage error, or a program file that cannot be opened, as in Python.
pub(crate) const USAGE: u8 = 2;
/// A limit was hit (time, memory, fuel) or the guest trapped.
pub(crate) const LIMIT: u8 = 2;
/// The sandbox could not be created, or an input of eryx itself was wrong.
pub(crate) const SETUP_FAILED: u8 = 3;

/// The text `--help` shows after the options.
pub(crate) const HELP: &str = "\
Exit status:
  0    the program ran to its end, or called sys.exit() / sys.exit(0)
  N    the program called sys.exit(N) (the low 8 bits of N, as for python)
  1    an exception escaped the program (traceback on stderr), or sys.exit('message')
  2    a limit was hit (--timeout, --memory, --fuel) or the guest trapped; also, as for
       python, a usage error or a program file that cannot be opened
  3    the sandbox could not be created (a bad wheel, a bad flag value)";
