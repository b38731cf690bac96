//! Running external commands: the one place a child process is started.
//!
//! - [`cmd`]: a command to run ([`Cmd`]): program, arguments, directory, environment;
//! - [`run`]: the runner: how every child process is started, registered and waited for;
//! - [`log`]: a step's log file and the runner that appends each command and its output
//!   to it ([`StepLog::run`]);
//! - [`sandbox`]: the one bubblewrap command line, for recipes, `shell` and roots;
//! - [`disorder`]: a directory seen through disorderfs (shuffled listings);
//! - [`signals`]: commands run in their own process groups, stopped with alpinist;
//! - [`progress`]: one line per running step on a terminal, plain lines otherwise.

pub mod cmd;
pub mod disorder;
pub mod log;
pub mod progress;
pub mod run;
pub mod sandbox;
pub mod signals;

pub use cmd::Cmd;
pub use log::{tail, tail_str, StepLog};
pub use run::jobserver_makeflags;
pub use sandbox::Sandbox;
