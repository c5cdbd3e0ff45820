# Cross build for s390x (big-endian, 64-bit) with Debian's cross toolchain; CTest runs the tests
# under qemu-user. The target's libc and cmocka are Debian's s390x packages (multiarch), where the
# target's loader and qemu find them; .ci/cross installs all of it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/s390x-linux-gnu/pkgconfig:/usr/share/pkgconfig)
