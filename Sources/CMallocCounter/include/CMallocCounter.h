#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>
/* Test-only: counts heap allocations made by the calling thread while
 * counting is on for it. */
void malloc_counter_start(void);
uint64_t malloc_counter_stop(void);
uint64_t malloc_counter_value(void);
#endif
