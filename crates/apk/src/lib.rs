//! The Alpine apk v2 package format, as a library with no process spawning and no build
//! logic: versions, dependency expressions, `.PKGINFO`, reading/verifying/writing/signing
//! packages, `APKINDEX`, the installed database, the solver, installation into a root, and
//! `apk add` as one call ([`add`]); and apk v3 (ADB) packages and indexes ([`adb`]): read,
//! verify, write and sign.

pub mod adb;
pub mod add;
pub mod db;
pub mod dep;
pub mod index;
pub mod install;
pub mod limits;
pub mod package;
pub mod pkginfo;
pub mod rootdir;
pub mod sign;
pub mod solver;
pub mod tarball;
pub mod utc;
pub mod version;
