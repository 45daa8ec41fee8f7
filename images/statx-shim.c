/* Preloaded into every sandbox process (/etc/ld.so.preload) by images/build-base.sh.
 *
 * gVisor 0.0~20221219 (Debian bookworm's runsc) rejects statx() with AT_NO_AUTOMOUNT with EINVAL,
 * and coreutils 9.1 passes that flag on every stat, so `ls -l` and `stat` fail with "Invalid
 * argument". A sandbox has no automount points, so dropping the flag changes nothing else.
 * Drop this file (and the preload) once the host's runsc accepts the flag.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    return (int)syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}
