//! The stages: what alpinist builds, each a module of steps for the [`crate::engine`].
//!
//! - [`toolchain`]: stage 1, the musl cross toolchain;
//! - [`packages`]: stage 2, aports into signed packages;
//! - [`rootfs`]: stage 3, a root filesystem from the local repositories, and its check;
//! - [`bootstrap`]: stages 1–3 in one run, with the report.

pub mod bootstrap;
pub mod image;
pub mod install;
pub mod native;
pub mod packages;
pub mod rootfs;
pub mod toolchain;
