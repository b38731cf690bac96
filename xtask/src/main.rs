//! alpinist: bootstrap Alpine Linux for a new or foreign architecture from an ordinary
//! Debian/Ubuntu machine. `cargo xtask --help` lists the commands.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use xtask::context::{Context, Settings};
use xtask::layout::Layout;
use xtask::{bench, cmd_apk};
use xtask::{build_toolchain, fetch_toolchain_sources, host, step, toolchain, ArchArgs};

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

#[derive(Args, Clone)]
struct Global {
    /// Shared cache for finished steps and verified sources [default: $XDG_CACHE_HOME/alpinist]
    #[arg(long, global = true, value_name = "DIR", env = "ALPINIST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Directory searched first for source files [default: build/distfiles]
    #[arg(long, global = true, value_name = "DIR")]
    distfiles: Option<PathBuf>,
    /// Extra download mirror (a URL prefix; the file name is appended); repeatable
    #[arg(long = "mirror", global = true, value_name = "URL")]
    mirrors: Vec<String>,
    /// Never download: use only files already in the distfiles directories
    #[arg(long, global = true)]
    offline: bool,
    /// Parallel make jobs in total, shared by all running steps [default: number of CPUs]
    #[arg(short, long, global = true, value_name = "N")]
    jobs: Option<usize>,
    /// After a failure, go on building everything that does not depend on it
    #[arg(long, global = true)]
    keep_going: bool,
    /// Plain line output even on a terminal
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Install the host packages alpinist needs and enable Debian deb-src lines
    /// (as root; otherwise print the commands to run)
    Setup {
        /// Only print what would be done
        #[arg(long)]
        dry_run: bool,
    },
    /// Download and verify every source a later command needs, so the rest works offline
    Fetch(ArchArgs),
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
    VerifyRepro(BuildArgs),
    /// Stage 3: install packages from the local repositories into a fresh root, run their
    /// scripts and triggers under qemu-user, and write the minirootfs tarball
    Rootfs {
        #[command(flatten)]
        arch: ArchArgs,
        /// Packages to install [default: the `rootfs` list of a set in
        /// stages/bootstrap.toml: Alpine's minirootfs profile for `base`]
        #[arg(long, value_delimiter = ',')]
        packages: Vec<String>,
        /// The set of stages/bootstrap.toml: its repositories, and its default package list
        #[arg(long, default_value = "base")]
        set: String,
        /// Which root: Alpine's minirootfs, or the build root (compiler, abuild, apk)
        #[arg(long, value_enum, default_value = "minirootfs")]
        profile: xtask::rootfs::Profile,
    },
    /// Check a root filesystem tarball by running its own tools in it (cat, apk, busybox)
    VerifyRootfs {
        #[command(flatten)]
        arch: ArchArgs,
        /// The tarball [default: the newest build/<arch>/alpine-minirootfs-*.tar.gz]
        #[arg(long)]
        tarball: Option<PathBuf>,
        /// The set of stages/bootstrap.toml whose repositories `apk add` uses
        #[arg(long, default_value = "base")]
        set: String,
    },
    /// The self-hosting check: inside the build root, under qemu-user, abuild builds a
    /// real aport natively, the root's apk installs it and it runs; the root's gcc and
    /// g++ compile programs that run
    Selfhost {
        #[command(flatten)]
        arch: ArchArgs,
        /// The build root tarball [default: the newest build/<arch>/alpine-buildroot-*.tar.gz]
        #[arg(long)]
        tarball: Option<PathBuf>,
        /// The aports checkout holding the aport to build ([selfhost] in
        /// stages/bootstrap.toml names it)
        #[arg(long, value_name = "PATH")]
        aports: PathBuf,
        /// The set of stages/bootstrap.toml whose repositories the root installs from
        #[arg(long, default_value = "base")]
        set: String,
    },
    /// Show what a command would build, what is cached, and why the rest is not
    Plan {
        #[command(subcommand)]
        what: Plannable,
    },
    /// Measure a command: wall time per step, CPU use, peak disk
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Run the test suite: builds what the integration tests need (the aarch64 toolchain,
    /// cached), then `cargo test --workspace`
    Test {
        /// Toolchains the integration tests must exercise (built if missing)
        #[arg(long = "arch", value_name = "ARCH", default_value = "aarch64")]
        arches: Vec<String>,
        /// Extra arguments for `cargo test` (after `--`)
        #[arg(last = true)]
        cargo_args: Vec<String>,
    },
    /// Work with .apk packages, indexes and roots (verify, info, index, add)
    Apk {
        #[command(subcommand)]
        cmd: cmd_apk::ApkCommand,
    },
    /// Make an abuild-style RSA signing key pair (NAME-<hex>.rsa and .rsa.pub)
    Keygen(cmd_apk::KeygenArgs),
    /// List the known arches and their triples
    Arches,
    /// Remove build outputs; only what you name
    Clean(CleanArgs),
}

#[derive(Subcommand)]
enum Plannable {
    /// The stage 1 toolchain for an arch
    Toolchain(ArchArgs),
    /// Building aports for an arch
    Build(BuildArgs),
}

#[derive(Args, Clone)]
struct BuildArgs {
    #[command(flatten)]
    arch: ArchArgs,
    /// BOOTSTRAP value passed to the recipes (nocc, nolibc, nobase, bootimage)
    #[arg(long, value_name = "VALUE")]
    bootstrap: Option<String>,
    /// Extra environment for the recipes; repeatable
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// More identical copies and substitutes of source files, besides
    /// toolchains/sources.toml; repeatable
    #[arg(long = "sources", value_name = "FILE")]
    sources: Vec<PathBuf>,
    /// Aport directories (each holds an APKBUILD, as aports' main/<name>/)
    #[arg(required = true, value_name = "APORT")]
    aports: Vec<PathBuf>,
}

impl BuildArgs {
    fn settings(&self, cx: &xtask::context::Context) -> Result<xtask::build::BuildSettings> {
        let env = self
            .env
            .iter()
            .map(|kv| xtask::build::parse_env(kv, "--env"))
            .collect::<Result<Vec<_>>>()?;
        xtask::build::BuildSettings::new(cx, self.bootstrap.clone(), env, &self.sources)
    }
}

#[derive(Args)]
struct BootstrapArgs {
    #[command(flatten)]
    arch: ArchArgs,
    /// An aports checkout [default: a clone at the ref pinned in stages/bootstrap.toml,
    /// which needs the network]
    #[arg(long, value_name = "PATH")]
    aports: Option<PathBuf>,
    /// Which list of aports to build (a [set.NAME] of stages/bootstrap.toml: base, fixtures)
    #[arg(long, default_value = "base")]
    set: String,
    /// Build only these aports (names in the checkout) instead of the set's list
    #[arg(long, value_delimiter = ',', value_name = "APORT,...")]
    packages: Vec<String>,
    /// Stop after the packages (no root filesystem)
    #[arg(long)]
    no_rootfs: bool,
    /// Do not run verify-rootfs on the new root filesystem
    #[arg(long)]
    no_verify: bool,
}

#[derive(Args)]
struct CleanArgs {
    /// Build trees kept from failed steps (build/work)
    #[arg(long)]
    work: bool,
    /// Step logs (build/logs)
    #[arg(long)]
    logs: bool,
    /// The link build/toolchains/<ARCH> and the toolchain steps' outputs for it in the store
    #[arg(long, value_name = "ARCH")]
    toolchain: Vec<String>,
    /// Everything in the shared store (all finished steps, for every checkout)
    #[arg(long)]
    store: bool,
    /// Downloaded source files (build/distfiles)
    #[arg(long)]
    distfiles: bool,
}

fn main() {
    let cli = Cli::parse();
    xtask::runner::children::forward_signals();
    let result = run(cli);
    xtask::runner::children::wait_if_stopping();
    xtask::step::finish_cleanup();
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

fn context(g: &Global) -> Result<Context> {
    let layout = Layout::new(
        Layout::repo_root(),
        g.cache_dir.clone(),
        g.distfiles.clone(),
    );
    let cx = Context::new(
        layout,
        Settings {
            jobs: g.jobs,
            keep_going: g.keep_going,
            offline: g.offline,
            mirrors: g.mirrors.clone(),
            quiet: g.quiet,
        },
    )?;
    Ok(cx)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Setup { dry_run } => {
            let layout = Layout::new(Layout::repo_root(), None, None);
            host::setup(&layout, dry_run)
        }
        Command::Arches => {
            let cx = context(&cli.global)?;
            println!(
                "{:12} {:34} {:12} {:8} loader",
                "arch", "triple", "qemu", "kernel"
            );
            for a in cx.arches.arches.values() {
                println!(
                    "{:12} {:34} {:12} {:8} /lib/{}",
                    a.name,
                    a.triple,
                    a.qemu_binary(),
                    a.kernel_arch,
                    a.loader
                );
            }
            Ok(())
        }
        Command::Fetch(a) => {
            let cx = context(&cli.global)?;
            cx.arches.get(&a.arch)?;
            cx.layout.ensure()?;
            host::require(&cx.layout, "fetch")?;
            fetch_toolchain_sources(&cx)
        }
        Command::Bootstrap(b) => {
            let mut cx = context(&cli.global)?;
            xtask::bootstrap::run(
                &mut cx,
                &xtask::bootstrap::Options {
                    arch: b.arch.arch.clone(),
                    aports: b.aports.clone(),
                    set: b.set.clone(),
                    packages: b.packages.clone(),
                    rootfs: !b.no_rootfs,
                    verify: !b.no_verify,
                },
            )
        }
        Command::Toolchain(a) => {
            let cx = context(&cli.global)?;
            build_toolchain(&cx, &a.arch).map(|_| ())
        }
        Command::Plan { what } => {
            let cx = context(&cli.global)?;
            match what {
                Plannable::Toolchain(a) => {
                    let arch = cx.arches.get(&a.arch)?;
                    let g = toolchain::graph(&cx, arch)?;
                    let planned = step::plan(&cx, &g)?;
                    print!("{}", step::render_plan(&planned, &cx.layout.store()));
                    Ok(())
                }
                Plannable::Build(b) => {
                    let arch = cx.arches.get(&b.arch.arch)?.clone();
                    let settings = b.settings(&cx)?;
                    let key = xtask::keys::SigningKey::find(&cx)?
                        .unwrap_or_else(|| xtask::keys::SigningKey::not_yet(&cx));
                    let mut aports = Vec::new();
                    for d in &b.aports {
                        aports.push(xtask::build::evaluate(&cx, &arch, d, &settings)?);
                    }
                    let (g, _) = xtask::build::graph(&cx, &arch, &aports, &settings, &key)?;
                    let planned = step::plan(&cx, &g)?;
                    print!("{}", step::render_plan(&planned, &cx.layout.store()));
                    Ok(())
                }
            }
        }
        Command::Bench { what } => {
            let cx = context(&cli.global)?;
            bench::run(&cx, what)
        }
        Command::Test { arches, cargo_args } => {
            let cx = context(&cli.global)?;
            host::require(&cx.layout, "check")?;
            for a in &arches {
                build_toolchain(&cx, a)?;
            }
            // The fixture root's apk is Rust, cross-compiled for the tested arches.
            let targets: Vec<String> = arches
                .iter()
                .filter_map(|a| cx.arches.get(a).ok().map(|a| a.rust_target()))
                .collect();
            host::add_rust_targets(&targets);
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let st = std::process::Command::new(cargo)
                .args(["test", "--workspace"])
                .args(&cargo_args)
                .env("ALPINIST_REQUIRE_TOOLCHAIN", arches.join(","))
                .current_dir(&cx.layout.repo)
                .status()?;
            if !st.success() {
                bail!("cargo test failed ({st})");
            }
            Ok(())
        }
        Command::Build(b) => {
            let cx = context(&cli.global)?;
            let settings = b.settings(&cx)?;
            xtask::build_aports(&cx, &b.arch.arch, &b.aports, &settings).map(|_| ())
        }
        Command::Shell(b) => {
            let cx = context(&cli.global)?;
            let arch = cx.arches.get(&b.arch.arch)?.clone();
            let settings = b.settings(&cx)?;
            let [dir] = b.aports.as_slice() else {
                bail!("shell takes exactly one aport directory");
            };
            xtask::build::shell(&cx, &arch, dir, &settings)
        }
        Command::VerifyRepro(b) => {
            let cx = context(&cli.global)?;
            let settings = b.settings(&cx)?;
            let diffs = xtask::repro::verify(&cx, &b.arch.arch, &b.aports, &settings)?;
            let mut bad = 0;
            for d in &diffs {
                if d.what.is_empty() {
                    println!("{}: identical", d.package);
                } else {
                    bad += 1;
                    println!("{}: DIFFERS", d.package);
                    for w in &d.what {
                        println!("  {w}");
                    }
                }
            }
            println!(
                "{} packages, {} identical, {} differ",
                diffs.len(),
                diffs.len() - bad,
                bad
            );
            if bad > 0 {
                bail!("{bad} packages are not reproducible");
            }
            Ok(())
        }
        Command::Rootfs {
            arch,
            packages,
            set,
            profile,
        } => {
            let mut cx = context(&cli.global)?;
            let a = cx.arches.get(&arch.arch)?.clone();
            let stages = xtask::bootstrap::Stages::load(&cx)?;
            let set = stages.set(&set)?;
            set.use_repodest(&mut cx);
            let packages = if !packages.is_empty() {
                packages
            } else if profile == xtask::rootfs::Profile::Buildroot {
                set.buildroot.clone()
            } else {
                set.rootfs.clone()
            };
            xtask::rootfs::rootfs(&cx, &a, &packages, profile).map(|_| ())
        }
        Command::VerifyRootfs { arch, tarball, set } => {
            let mut cx = context(&cli.global)?;
            xtask::bootstrap::Stages::load(&cx)?
                .set(&set)?
                .use_repodest(&mut cx);
            let a = cx.arches.get(&arch.arch)?.clone();
            xtask::rootfs::verify(&cx, &a, tarball)
        }
        Command::Selfhost {
            arch,
            tarball,
            aports,
            set,
        } => {
            let mut cx = context(&cli.global)?;
            let stages = xtask::bootstrap::Stages::load(&cx)?;
            stages.set(&set)?.use_repodest(&mut cx);
            let a = cx.arches.get(&arch.arch)?.clone();
            let steps = xtask::bootstrap::selfhost(&cx, &a, &stages, &aports, tarball)?;
            let failed = steps.iter().filter(|s| !s.ok).count();
            if failed > 0 || steps.is_empty() {
                bail!("the self-hosting check failed (see above)");
            }
            Ok(())
        }
        Command::Apk { cmd } => cmd_apk::run(cmd),
        Command::Keygen(a) => cmd_apk::keygen(a),
        Command::Clean(c) => {
            let cx = context(&cli.global)?;
            clean(&cx, c)
        }
    }
}

fn clean(cx: &Context, c: CleanArgs) -> Result<()> {
    let mut did = false;
    let mut rm = |p: PathBuf| -> Result<()> {
        if std::fs::symlink_metadata(&p).is_ok() {
            eprintln!("removing {}", p.display());
            if std::fs::symlink_metadata(&p)?.is_dir() {
                step::remove_dir_all_writable(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        did = true;
        Ok(())
    };
    if c.work {
        rm(cx.layout.work())?;
    }
    if c.logs {
        rm(cx.layout.logs())?;
    }
    if c.distfiles {
        rm(cx.layout.distfiles.clone())?;
    }
    for a in &c.toolchain {
        let arch = cx.arches.get(a)?.clone();
        rm(cx.layout.toolchain_link(&arch.name))?;
        let g = toolchain::graph(cx, &arch)?;
        for p in step::plan(cx, &g)? {
            rm(p.out)?;
        }
    }
    if c.store {
        rm(cx.layout.store())?;
    }
    if !did {
        bail!("nothing to clean: name what to remove (see `cargo xtask clean --help`)");
    }
    Ok(())
}
