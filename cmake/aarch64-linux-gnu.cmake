# Cross-compiling for 64-bit ARM Linux with Debian's aarch64 toolchain (g++-aarch64-linux-gnu) against the arm64
# multiarch -dev packages (dpkg --add-architecture arm64; scripts/install-deps.sh --arm). Tests run under qemu-user
# (scripts/test-arm.sh sets JITGEN_ARM_EMULATOR, default "qemu-aarch64 -cpu max").
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: arm64 libraries live beside the host's under /usr/lib/aarch64-linux-gnu; headers in /usr/include are
# shared. Programs (pkg-config, protoc) come from the host, everything linked from the arm64 tree.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
if(DEFINED ENV{JITGEN_ARM_EMULATOR})
  set(CMAKE_CROSSCOMPILING_EMULATOR $ENV{JITGEN_ARM_EMULATOR})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu max)
endif()
