//! The CMake toolchain file and the Meson cross file of a toolchain; paths relative to
//! the file, so the toolchain can be moved.

use std::path::Path;

use anyhow::Result;

use crate::config::arch::Arch;

pub fn write_cmake(out: &Path, a: &Arch) -> Result<()> {
    let processor = &a.cmake.system_processor;
    let t = &a.triple;
    let text = format!(
        r#"# CMake toolchain file for {t}, written by alpinist. Paths are relative to this file,
# so the toolchain keeps working after the whole directory is moved.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR {processor})
get_filename_component(_ALPINIST_TC "${{CMAKE_CURRENT_LIST_DIR}}" ABSOLUTE)
set(CMAKE_SYSROOT "${{_ALPINIST_TC}}/sysroot")
set(CMAKE_C_COMPILER "${{_ALPINIST_TC}}/bin/{t}-gcc")
set(CMAKE_CXX_COMPILER "${{_ALPINIST_TC}}/bin/{t}-g++")
set(CMAKE_AR "${{_ALPINIST_TC}}/bin/{t}-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${{_ALPINIST_TC}}/bin/{t}-ranlib" CACHE FILEPATH "")
set(CMAKE_STRIP "${{_ALPINIST_TC}}/bin/{t}-strip" CACHE FILEPATH "")
set(CMAKE_CROSSCOMPILING_EMULATOR {qemu};-L;${{CMAKE_SYSROOT}})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
"#,
        qemu = a.qemu_binary()
    );
    std::fs::write(out.join("toolchain.cmake"), text)?;
    Ok(())
}

pub fn write_meson(out: &Path, a: &Arch) -> Result<()> {
    let (family, cpu) = (&a.meson.cpu_family, &a.meson.cpu);
    let t = &a.triple;
    let text = format!(
        r#"# Meson cross file for {t}, written by alpinist. @DIRNAME@ is this file's directory,
# so the toolchain keeps working after the whole directory is moved.
[constants]
tc = '@DIRNAME@'

[binaries]
c = tc / 'bin/{t}-gcc'
cpp = tc / 'bin/{t}-g++'
ar = tc / 'bin/{t}-ar'
strip = tc / 'bin/{t}-strip'
pkg-config = 'pkg-config'
exe_wrapper = ['{qemu}', '-L', tc / 'sysroot']

[properties]
sys_root = tc / 'sysroot'
pkg_config_libdir = tc / 'sysroot/usr/lib/pkgconfig'

[host_machine]
system = 'linux'
cpu_family = '{family}'
cpu = '{cpu}'
endian = '{endian}'
"#,
        qemu = a.qemu_binary(),
        endian = a.elf.endian
    );
    std::fs::write(out.join("meson-cross.ini"), text)?;
    Ok(())
}
