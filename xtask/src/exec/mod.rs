//! Running external commands: the one place a child process is started.
//!
//! - [`cmd`]: a command to run ([`Cmd`]): program, arguments, directory, environment;
//! - [`log`]: a step's log file and the runner that appends each command and its output
//!   to it ([`StepLog::run`]);
//! - [`signals`]: commands run in their own process groups, stopped with alpinist;
//! - [`progress`]: one line per running step on a terminal, plain lines otherwise.

pub mod cmd;
pub mod log;
pub mod progress;
pub mod signals;

pub use cmd::Cmd;
pub use log::{tail, tail_str, StepLog};
