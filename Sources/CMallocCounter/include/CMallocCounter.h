#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stddef.h>
#include <stdint.h>
/* Test-only: counts heap allocations (malloc, calloc, realloc, aligned_alloc,
 * memalign, posix_memalign) made by the calling thread while counting is on
 * for it. */
/* 0 when the counter is not installed (under AddressSanitizer). */
int malloc_counter_available(void);
void malloc_counter_start(void);
uint64_t malloc_counter_stop(void);
uint64_t malloc_counter_value(void);
/* The calling thread's id, and a signal aimed at one thread of this process. */
int malloc_counter_gettid(void);
int malloc_counter_tgkill(int tid, int sig);
/* malloc(n) behind a call the optimizer cannot see through. */
void *malloc_counter_probe(size_t n);
#endif
