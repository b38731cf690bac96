//! alpinist's library: the pieces the `cargo xtask` commands are made of.
//!
//! - [`commands`]: one module per subcommand (what `main.rs` dispatches to);
//! - [`stages`]: the toolchain, the packages, the root filesystem, and the bootstrap that
//!   runs all three;
//! - [`engine`]: the step engine (keys, store, plan, schedule), which knows nothing of
//!   Alpine;
//! - [`exec`]: the one way a child process is started, step logs, signals, progress;
//! - [`config`]: the data files in `toolchains/` and `stages/`, typed;
//! - [`sources`]: verified source files (distfiles, URLs, mirrors, Debian);
//! - [`context`], [`layout`], [`host`], [`keys`], [`fsutil`]: what every command shares.

pub mod commands;
pub mod config;
pub mod context;
pub mod engine;
pub mod exec;
pub mod fsutil;
pub mod host;
pub mod keys;
pub mod layout;
pub mod sources;
pub mod stages;
