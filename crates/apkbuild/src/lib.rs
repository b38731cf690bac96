//! Alpine `APKBUILD` recipes with abuild's semantics, without an Alpine host.
//!
//! The recipe itself is evaluated by a real shell: [`ABUILD_SH`] is alpinist's own
//! implementation of the environment abuild gives an APKBUILD (helpers such as `amove`
//! and `default_dev`, the phase driver, the split-function runner). This crate holds the
//! parts that need no process: reading what the shell reports ([`recipe`]), the checks
//! abuild makes after `package()` ([`postcheck`]), and dependency tracing over ELF
//! files, pkg-config files and commands ([`trace`]).

pub mod postcheck;
pub mod recipe;
pub mod trace;

/// The shell side: `bash abuild.sh <mode> APKBUILD …` (see the file's header).
pub const ABUILD_SH: &str = include_str!("../sh/abuild.sh");
