//! alpinist: bootstrap Alpine Linux for a new or foreign architecture from an ordinary
//! Debian/Ubuntu machine. `cargo xtask --help` lists the commands.
//!
//! This file parses the command line and dispatches to `xtask::commands`, one module per
//! subcommand; docs/design.md maps the rest.

use anyhow::Result;
use clap::{Parser, Subcommand};

use xtask::commands::apk::{ApkCommand, KeygenArgs};
use xtask::commands::bench::BenchCommand;
use xtask::commands::bootstrap::BootstrapArgs;
use xtask::commands::build::BuildArgs;
use xtask::commands::clean::CleanArgs;
use xtask::commands::image::ImageArgs;
use xtask::commands::plan::Plannable;
use xtask::commands::report::ReportCommand;
use xtask::commands::rootfs::RootfsArgs;
use xtask::commands::sbom::SbomArgs;
use xtask::commands::selfhost::SelfhostArgs;
use xtask::commands::setup::SetupArgs;
use xtask::commands::status::StatusArgs;
use xtask::commands::test::TestArgs;
use xtask::commands::verify_repro::VerifyReproArgs;
use xtask::commands::verify_rootfs::VerifyRootfsArgs;
use xtask::commands::{self, ArchArgs, Global};

/// Bootstrap Alpine Linux for a new or foreign architecture from a Debian/Ubuntu host:
/// cross toolchains, packages from APKBUILDs, and a root filesystem checked under qemu.
///
/// Every step is cached by the hash of its inputs: a rerun does only what changed, and
/// `cargo xtask plan <command>` shows what would run and why.
#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the host packages alpinist needs and enable Debian deb-src lines
    /// (as root; otherwise print the commands to run)
    Setup(SetupArgs),
    /// Obtain and verify every source a bootstrap of a set needs (toolchain, aports,
    /// substitutes, the self-hosting check's aport), one line each; fails naming what is
    /// missing. `bootstrap --offline` afterwards needs nothing else
    Fetch(commands::fetch::FetchArgs),
    /// Stages 1-3, the main job: the toolchain, the aports of a set (stages/bootstrap.toml)
    /// in dependency order, the root filesystem and its check; a table and
    /// build/<arch>/report.json at the end
    Bootstrap(BootstrapArgs),
    /// Stage 1: build the musl cross toolchain for an arch into build/toolchains/<arch>
    Toolchain(ArchArgs),
    /// Stage 2: build aports (directories with an APKBUILD) into signed packages in
    /// build/repo/<repo>/<arch>/
    Build(BuildArgs),
    /// Enter the environment of an aport's kept (failed) build tree: the same sandbox,
    /// variables and helpers the recipe ran with
    Shell(BuildArgs),
    /// Build aports twice (different build directories, different times) and compare the
    /// packages member by member, signature aside
    VerifyRepro(VerifyReproArgs),
    /// Build aports both ways (cross by alpinist, natively by Alpine's abuild in the build
    /// root under qemu-user) and compare every package member by member: files, modes,
    /// .PKGINFO, ELF properties. Differences not explained in stages/verify-native.toml
    /// fail; report in build/<arch>/verify-native.json
    VerifyNative(xtask::commands::verify_native::VerifyNativeArgs),
    /// Stage 3: install packages from the local repositories into a fresh root, run their
    /// scripts and triggers under qemu-user, and write the minirootfs tarball
    Rootfs(RootfsArgs),
    /// Check a root filesystem tarball by running its own tools in it (cat, apk, busybox)
    VerifyRootfs(VerifyRootfsArgs),
    /// The self-hosting check: inside the build root, under qemu-user, abuild builds a
    /// real aport natively, the root's apk installs it and it runs; the root's gcc and
    /// g++ compile programs that run
    Selfhost(SelfhostArgs),
    /// Stage 4: an OCI image (layout and oci-archive) of each arch's minirootfs, with a
    /// multi-arch index; --check runs it with podman
    Image(ImageArgs),
    /// SPDX 2.3 SBOMs: a package's (--package), or a root filesystem's, merged from its
    /// installed packages (written beside the tarball)
    Sbom(SbomArgs),
    /// Bootstrap reports: `report diff OLD.json NEW.json` says which packages changed and
    /// which inputs explain it
    Report {
        #[command(subcommand)]
        cmd: ReportCommand,
    },
    /// Show what a command would build, what is cached, and why the rest is not
    Plan {
        #[command(subcommand)]
        what: Plannable,
    },
    /// Measure a command: wall time per step, CPU use, peak disk
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Run the test suite: builds what the integration tests need (the aarch64 toolchain,
    /// cached), then `cargo test --workspace`
    Test(TestArgs),
    /// Work with .apk packages, indexes and roots (verify, info, index, add)
    Apk {
        #[command(subcommand)]
        cmd: ApkCommand,
    },
    /// Make an abuild-style RSA signing key pair (NAME-<hex>.rsa and .rsa.pub)
    Keygen(KeygenArgs),
    /// List the known arches and their triples
    Arches,
    /// Every arch at a glance: stage 1 toolchain, base set built, minirootfs and
    /// self-hosting checks (from the store and build/<arch>/report.json)
    Status(StatusArgs),
    /// Remove build outputs; only what you name
    Clean(CleanArgs),
}

fn main() {
    let cli = Cli::parse();
    xtask::exec::signals::forward_signals();
    let result = run(cli);
    xtask::exec::signals::wait_if_stopping();
    xtask::engine::finish_cleanup();
    if let Err(e) = result {
        let msg = format!("{e:#}");
        if msg.starts_with("ERROR") {
            eprintln!("{msg}");
        } else {
            eprintln!("error: {msg}");
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Setup(a) => commands::setup::run(a),
        Command::Apk { cmd } => commands::apk::run(cmd),
        Command::Keygen(a) => commands::apk::keygen(a),
        Command::Arches => commands::arches::run(&g.context()?),
        Command::Fetch(a) => commands::fetch::run(&mut g.context()?, a),
        Command::Bootstrap(b) => commands::bootstrap::run(&mut g.context()?, b),
        Command::Toolchain(a) => commands::toolchain::run(&g.context()?, &a),
        Command::Plan { what } => commands::plan::run(&g.context()?, &what),
        Command::Bench { what } => commands::bench::run(&g.context()?, what),
        Command::Test(t) => commands::test::run(&g.context()?, t),
        Command::Build(b) => commands::build::run(&g.context()?, &b),
        Command::Shell(b) => commands::shell::run(&g.context()?, &b),
        Command::VerifyRepro(b) => commands::verify_repro::run(&g.context()?, &b),
        Command::VerifyNative(a) => commands::verify_native::run(&mut g.context()?, a),
        Command::Rootfs(r) => commands::rootfs::run(&mut g.context()?, r),
        Command::VerifyRootfs(v) => commands::verify_rootfs::run(&mut g.context()?, v),
        Command::Selfhost(s) => commands::selfhost::run(&mut g.context()?, s),
        Command::Image(a) => commands::image::run(&mut g.context()?, a),
        Command::Sbom(a) => commands::sbom::run(&mut g.context()?, a),
        Command::Report { cmd } => commands::report::run(&g.context()?, cmd),
        Command::Status(a) => commands::status::run(&g.context()?, a),
        Command::Clean(c) => commands::clean::run(&g.context()?, c),
    }
}
