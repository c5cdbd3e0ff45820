# Cross build for armhf (32-bit, little-endian) with Debian's cross toolchain; CTest runs the tests
# under qemu-user. The target's libc and cmocka are Debian's armhf packages (multiarch), where the
# target's loader and qemu find them; .ci/cross installs all of it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armhf)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig)
