/* Test-only allocation counter. It replaces malloc and friends in the test
 * executable (symbol interposition: every library in the process calls these)
 * and forwards to glibc's own entry points. Counting is per thread, so the
 * test counts only what the reactor thread allocates. */
#include "CMallocCounter.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CMC_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CMC_UNDER_ASAN 1
#endif

static __thread int counting __attribute__((tls_model("initial-exec")));
static __thread uint64_t count __attribute__((tls_model("initial-exec")));

static inline void note(void) {
    if (counting) count++;
}

/* AddressSanitizer replaces malloc itself; a second replacement crashes
 * the process at start-up, so under ASan nothing is counted. */
#ifndef CMC_UNDER_ASAN
void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
void *memalign(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
    note();
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

#endif

int malloc_counter_available(void) {
#ifdef CMC_UNDER_ASAN
    return 0;
#else
    return 1;
#endif
}

void malloc_counter_start(void) { count = 0; counting = 1; }
uint64_t malloc_counter_stop(void) { counting = 0; return count; }
uint64_t malloc_counter_value(void) { return count; }
int malloc_counter_gettid(void) { return (int)syscall(SYS_gettid); }
int malloc_counter_tgkill(int tid, int sig) { return (int)syscall(SYS_tgkill, getpid(), tid, sig); }

/* An allocation the optimizer cannot remove (the pointer escapes to the
 * caller): the counter's own sanity check uses it. */
void *malloc_counter_probe(size_t n) { return malloc(n); }
