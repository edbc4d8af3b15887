/* What the Embedded Swift stdlib may reference and musl does not provide.
 * dinit itself uses no hashing or randomness today; this keeps the link
 * working if a Set or Dictionary ever appears. */
#include <errno.h>
#include <stddef.h>
#include <sys/random.h>

__attribute__((weak)) void arc4random_buf(void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        p += r;
        n -= (size_t)r;
    }
}
