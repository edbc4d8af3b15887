/*
 * CLinuxSys: the C shim under dinit and dcrond.
 *
 * Swift cannot call some Linux interfaces directly: variadic functions
 * (open, prctl, syscall), functions that glibc only declares with
 * _GNU_SOURCE (pidfd_open, pidfd_send_signal), macros (sigaddset may be one),
 * the packed `struct epoll_event`, and `siginfo_t`, whose layout differs
 * between glibc and musl. Each wrapper here exists for one of those reasons
 * and does nothing else: no policy, no allocation.
 *
 * _GNU_SOURCE is deliberately not defined: defining it here breaks the
 * import of the Glibc module in the standard (non-embedded) build. Syscall
 * numbers that old headers lack are spelled out instead.
 *
 * Every descriptor created here is close-on-exec.
 */
#ifndef CLINUXSYS_H
#define CLINUXSYS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
/* <sched.h> has these only with _GNU_SOURCE. */
#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#ifndef CLONE_FILES
#define CLONE_FILES 0x00000400
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_VFORK
#define CLONE_VFORK 0x00004000
#endif
#ifndef __WNOTHREAD
#define __WNOTHREAD 0x20000000
#endif
/* Declared by <sched.h> only with _GNU_SOURCE; glibc and musl both have it. */
extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);

_Static_assert(sizeof(struct signalfd_siginfo) == 128, "signalfd_siginfo is 128 bytes");

extern char **environ;

/* errno is a macro over a thread-local; Swift sees neither. */
static inline int cls_errno(void) { return errno; }
static inline void cls_set_errno(int e) { errno = e; }
static inline char **cls_environ(void) { return environ; }

/* ---- time ---- */

/* CLOCK_MONOTONIC in nanoseconds: deadlines never jump with the wall clock. */
static inline int64_t cls_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- signal sets: sigaddset and friends may be macros ---- */

static inline void cls_sigemptyset(sigset_t *s) { sigemptyset(s); }
static inline void cls_sigfillset(sigset_t *s) { sigfillset(s); }
static inline void cls_sigaddset(sigset_t *s, int sig) { sigaddset(s, sig); }
static inline void cls_sigdelset(sigset_t *s, int sig) { sigdelset(s, sig); }
static inline int cls_sigismember(const sigset_t *s, int sig) { return sigismember(s, sig); }

/* Returns 0 or -1 with errno. `how` is SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK. */
static inline int cls_sigprocmask(int how, const sigset_t *set, sigset_t *old) {
    return sigprocmask(how, set, old);
}
/* Thread variant: used by in-process tests, where other threads exist. */
static inline int cls_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
    return pthread_sigmask(how, set, old);
}

/* Sets a disposition to SIG_IGN (ignore != 0) or SIG_DFL. */
static inline int cls_sigdisposition(int sig, int ignore) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ignore ? SIG_IGN : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static inline int cls_signalfd(const sigset_t *set) {
    return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Reads one queued signal. Returns 1 and fills *signo and *sender (the
 * sending process, 0 for the kernel), 0 when none is queued (EAGAIN), -1 with
 * errno on error. */
static inline int cls_signalfd_read(int fd, int *signo, int *sender) {
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    if (n == (ssize_t)sizeof si) {
        *signo = (int)si.ssi_signo;
        *sender = (int)si.ssi_pid;
        return 1;
    }
    if (n < 0 && errno == EAGAIN) return 0;
    if (n >= 0) { errno = EIO; }
    return -1;
}

/* ---- processes ---- */

static inline int cls_pidfd_open(pid_t pid) {
    /* pidfds are always close-on-exec. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static inline int cls_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Signals the process group the pidfd's process leads (Linux 6.9+; EINVAL
 * before). */
static inline int cls_pidfd_send_signal_group(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP);
}

static inline int cls_kill(pid_t pid, int sig) { return kill(pid, sig); }

/* The outcome of one waitid call, read out of siginfo_t here because its
 * layout differs between libcs. kind: 1 exited (value = exit code),
 * 2 killed by a signal (value = signal number), 0 nothing reaped. */
struct cls_wait_result {
    int pid;
    int kind;
    int value;
};

static inline int cls_decode_wait(const siginfo_t *info, struct cls_wait_result *r) {
    r->pid = info->si_pid;
    if (r->pid == 0) { r->kind = 0; r->value = 0; return 0; }
    if (info->si_code == CLD_EXITED) { r->kind = 1; r->value = info->si_status; }
    else { r->kind = 2; r->value = info->si_status; }
    return 0;
}

/* Reaps the child behind a pidfd if it has exited. Returns 0 (r->kind says
 * whether anything was reaped) or -1 with errno. */
static inline int cls_wait_pidfd(int pidfd, struct cls_wait_result *r) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) != 0) return -1;
    return cls_decode_wait(&info, r);
}

/* Waits for the child behind the pidfd to exit and reaps it. Returns 0 or
 * -1 with errno. */
static inline int cls_wait_pidfd_blocking(int pidfd) {
    siginfo_t info;
    return waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED);
}

/* 1 if the child behind the pidfd has exited (it stays a zombie: nothing is
 * reaped, so its pid and process group id stay its own), 0 if not, -1 with
 * errno. */
static inline int cls_pidfd_exited(int pidfd) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return -1;
    return info.si_pid != 0;
}

/* Reaps any one exited child (ours or adopted); with this_thread_only, only
 * a child of the calling thread (__WNOTHREAD: the kernel then walks that
 * thread's list of children alone). Returns 0 (r->kind == 0 when children
 * exist but none has exited) or -1 with errno (ECHILD: no children). */
static inline int cls_wait_any(struct cls_wait_result *r, int this_thread_only) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | (this_thread_only ? __WNOTHREAD : 0)) != 0) return -1;
    return cls_decode_wait(&info, r);
}

/* 1 if this process has any child at all (running or zombie), 0 if none, -1 with errno on another error. Reaps nothing. */
static inline int cls_has_children(void) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | WSTOPPED | WCONTINUED) == 0) return 1;
    if (errno == ECHILD) return 0;
    return -1;
}

static inline int cls_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
}

/* ---- spawning ---- */

/* Why not posix_spawn: it clones without CLONE_FILES, so the kernel copies
 * the whole descriptor table into every child (dup_fd) and the child then
 * closes every close-on-exec descriptor at exec: with one pidfd per running
 * child each spawn costs O(children), and starting n children O(n^2). Here
 * the child shares the table (CLONE_FILES) and takes a private copy of only
 * the descriptors below `first_fd` (close_range with CLOSE_RANGE_UNSHARE,
 * Linux 5.9): everything dinit inherited lies below it, every pidfd it made
 * since above it. CLONE_PIDFD hands back the pidfd with the pid (no
 * pidfd_open).
 *
 * The child runs on its own stack in dinit's memory (CLONE_VM) while dinit
 * is suspended (CLONE_VFORK) until it execs or exits, so it only makes
 * system calls: no allocation, no locks, no signal handler (every signal is
 * blocked around the clone and reset to SIG_DFL before the mask is
 * emptied). An exec error is stored in shared memory before _exit. */

struct cls_spawner {
    char *stack_top;
    int devnull_fd;
    unsigned first_fd;
    /* The spawner thread (see cls_spawner_start_thread): a request, its
     * result, and the handshake word (0 idle, 1 requested, 2 done). */
    int has_thread;
    pthread_t thread;
    const char *req_file;
    char *const *req_argv;
    pid_t res_pid;
    int res_pidfd;
    int res_rc;
    int state;
};

struct cls_spawn_args {
    const char *file;
    char *const *argv;
    char *const *envp;
    const char *path;
    int devnull_fd;
    unsigned first_fd;
    volatile int err;
};

/* The kernel's struct sigaction, zeroed: SIG_DFL, no flags, empty mask. */
struct cls_kernel_sigaction {
    unsigned long handler, flags, restorer, mask;
};

/* PATH when unset, as each libc's posix_spawnp has it. */
#ifdef __GLIBC__
#define CLS_DEFAULT_PATH "/bin:/usr/bin"
#else
#define CLS_DEFAULT_PATH "/usr/local/bin:/bin:/usr/bin"
#endif

/* The PATH search of posix_spawnp (musl's __execvpe): no shell fallback on
 * ENOEXEC; EACCES from any entry wins over ENOENT. Returns an errno value. */
static inline int cls_exec_search(const struct cls_spawn_args *a) {
    const char *file = a->file;
    if (!*file) return ENOENT;
    if (strchr(file, '/')) { execve(file, a->argv, a->envp); return errno; }
    size_t k = strnlen(file, NAME_MAX + 1);
    if (k > NAME_MAX) return ENAMETOOLONG;
    const char *path = a->path ? a->path : CLS_DEFAULT_PATH;
    size_t l = strnlen(path, PATH_MAX - 1) + 1;
    char b[PATH_MAX + NAME_MAX + 2];
    int seen_eacces = 0;
    for (const char *p = path, *z; ; p = z) {
        z = p;
        while (*z && *z != ':') z++;
        if ((size_t)(z - p) < l) {
            memcpy(b, p, (size_t)(z - p));
            b[z - p] = '/';
            memcpy(b + (z - p) + (z > p), file, k + 1);
            execve(b, a->argv, a->envp);
            switch (errno) {
            case EACCES: seen_eacces = 1; break;
            case ENOENT: case ENOTDIR: break;
            default: return errno;
            }
        }
        if (!*z++) break;
    }
    return seen_eacces ? EACCES : ENOENT;
}

static inline int cls_spawn_child(void *arg) {
    struct cls_spawn_args *a = (struct cls_spawn_args *)arg;
    int e;
    /* A private descriptor table with only the low descriptors; without
     * close_range (before 5.9) a full copy, as posix_spawn makes. */
    if (syscall(SYS_close_range, a->first_fd, ~0U, CLOSE_RANGE_UNSHARE) != 0 &&
        syscall(SYS_unshare, CLONE_FILES) != 0) { e = errno; goto fail; }
    /* Every signal at its default disposition, even those the libc keeps
     * for itself (32-34), which its sigaction refuses. */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct cls_kernel_sigaction ksa;
        memset(&ksa, 0, sizeof ksa);
        syscall(SYS_rt_sigaction, sig, &ksa, NULL, (size_t)8);
    }
    if (setpgid(0, 0) != 0) { e = errno; goto fail; }
    if (a->devnull_fd >= 0) {
        for (int fd = 0; fd <= 2; fd++) {
            int rc = a->devnull_fd == fd ? fcntl(fd, F_SETFD, 0) : dup2(a->devnull_fd, fd);
            if (rc < 0) { e = errno; goto fail; }
        }
    }
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, (size_t)8);
    e = cls_exec_search(a);
fail:
    a->err = e ? e : EINVAL;
    _exit(127);
}

/* Reads FDSize (the size of the descriptor table: every open descriptor
 * is below it) from /proc/self/status; ~0U when /proc is missing, which
 * makes each child copy the whole table, as before. */
static inline unsigned cls_descriptor_table_size(void) {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ~0U;
    char buf[2048];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return ~0U;
    buf[n] = 0;
    const char *p = strstr(buf, "\nFDSize:");
    if (!p) return ~0U;
    p += 8;
    while (*p == ' ' || *p == '\t') p++;
    unsigned long v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') { v = v * 10 + (unsigned long)(*p - '0'); p++; digits++; }
    return digits && v < ~0U ? (unsigned)v : ~0U;
}

/* Sets the spawner up once, at start-up: the child's stack, and the first
 * descriptor number the children need not copy (every descriptor open now,
 * inherited ones included, is below it). With devnull_fd >= 0 children's
 * stdin, stdout and stderr are /dev/null. Returns 0 or an errno value. */
static inline int cls_spawner_init(struct cls_spawner *sp, int devnull_fd) {
    enum { stack_size = 64 * 1024 };
    char *stack = (char *)malloc(stack_size);
    if (!stack) return ENOMEM;
    sp->stack_top = (char *)((uintptr_t)(stack + stack_size) & ~(uintptr_t)15);
    sp->devnull_fd = devnull_fd;
    unsigned first = cls_descriptor_table_size();
    if (devnull_fd >= 0 && first <= (unsigned)devnull_fd) first = (unsigned)devnull_fd + 1;
    sp->first_fd = first;
    sp->has_thread = 0;
    sp->state = 0;
    return 0;
}

/* Spawns `file` (PATH lookup, no shell) with an empty signal mask, every
 * signal at SIG_DFL, its own process group and, from cls_spawner_init, stdio
 * on /dev/null. Returns 0 with *pid and *pidfd (close-on-exec) set, or an
 * errno value: of clone (EAGAIN, EMFILE, ...) or of the exec, in which case
 * the child has been reaped already. */
static inline int cls_spawn_here(struct cls_spawner *sp, pid_t *pid, int *pidfd, const char *file, char *const argv[]) {
    struct cls_spawn_args a;
    a.file = file;
    a.argv = argv;
    a.envp = environ;
    a.path = getenv("PATH");
    a.devnull_fd = sp->devnull_fd;
    a.first_fd = sp->first_fd;
    a.err = 0;
    /* All signals blocked (the libc's own too: raw system call), so no
     * handler can run in the child while it shares our memory. */
    uint64_t all = ~(uint64_t)0, old;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, (size_t)8);
    int fd = -1;
    int saved = errno;
    pid_t p = clone(cls_spawn_child, sp->stack_top, CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | SIGCHLD,
                    &a, &fd, NULL, NULL);
    int clone_errno = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t)8);
    errno = saved;
    if (p < 0) return clone_errno ? clone_errno : EAGAIN;
    if (a.err != 0) {
        while (cls_wait_pidfd_blocking(fd) != 0 && errno == EINTR) {}
        close(fd);
        errno = saved;
        return a.err;
    }
    *pid = p;
    *pidfd = fd;
    return 0;
}

/* Why a thread: the kernel keeps a process's children on one list per
 * thread, and waitid(P_ALL) walks the list (every child, running or not)
 * on each call, the one that finds nothing included. Children spawned by
 * this thread are on its list; orphans are always adopted by the main
 * thread (the reaper is the first live thread of the process), so the
 * main thread's waitid(P_ALL, __WNOTHREAD) on SIGCHLD walks the orphans
 * alone, and each spawned child is reaped through its pidfd (P_PIDFD looks
 * it up directly). Reaping then costs the same whatever the number of
 * children. The thread blocks every signal, so process signals still go
 * to the main thread's signalfd, and sleeps on a futex between requests:
 * it never wakes up on its own. */

static inline void cls_futex_wait(int *addr, int value) {
    syscall(SYS_futex, addr, 128 /* FUTEX_WAIT_PRIVATE */, value, NULL, NULL, 0);
}
static inline void cls_futex_wake(int *addr) {
    syscall(SYS_futex, addr, 129 /* FUTEX_WAKE_PRIVATE */, 1, NULL, NULL, 0);
}

static inline void *cls_spawner_thread_main(void *arg) {
    struct cls_spawner *sp = (struct cls_spawner *)arg;
    for (;;) {
        int st;
        while ((st = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE)) != 1) cls_futex_wait(&sp->state, st);
        sp->res_rc = cls_spawn_here(sp, &sp->res_pid, &sp->res_pidfd, sp->req_file, sp->req_argv);
        __atomic_store_n(&sp->state, 2, __ATOMIC_RELEASE);
        cls_futex_wake(&sp->state);
    }
    return NULL;
}

/* Starts the spawner thread, with every signal blocked. Returns 0 or an
 * errno value (then cls_spawn spawns from the calling thread). */
static inline int cls_spawner_start_thread(struct cls_spawner *sp) {
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0) return rc;
    pthread_attr_setstacksize(&attr, 64 * 1024);
    uint64_t all = ~(uint64_t)0, old;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, (size_t)8);
    sp->state = 0;
    rc = pthread_create(&sp->thread, &attr, cls_spawner_thread_main, sp);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t)8);
    pthread_attr_destroy(&attr);
    if (rc == 0) sp->has_thread = 1;
    return rc;
}

/* cls_spawn_here, on the spawner thread when there is one (the caller
 * waits for the result). */
static inline int cls_spawn(struct cls_spawner *sp, pid_t *pid, int *pidfd, const char *file, char *const argv[]) {
    if (!sp->has_thread) return cls_spawn_here(sp, pid, pidfd, file, argv);
    sp->req_file = file;
    sp->req_argv = argv;
    __atomic_store_n(&sp->state, 1, __ATOMIC_RELEASE);
    cls_futex_wake(&sp->state);
    int st;
    while ((st = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE)) != 2) cls_futex_wait(&sp->state, st);
    __atomic_store_n(&sp->state, 0, __ATOMIC_RELAXED);
    if (sp->res_rc == 0) { *pid = sp->res_pid; *pidfd = sp->res_pidfd; }
    return sp->res_rc;
}

/* ---- descriptors ---- */

static inline int cls_open_devnull(void) { return open("/dev/null", O_RDWR | O_CLOEXEC); }
static inline int cls_open_read(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }

/* Makes room for `needed` open descriptors: raises the soft RLIMIT_NOFILE
 * up to the hard limit when it is lower. Returns 0, or -1 with *limit set to
 * the most that can be had. */
static inline int cls_reserve_descriptors(long needed, long *limit) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur == RLIM_INFINITY || (long)rl.rlim_cur >= needed) return 0;
    if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < needed) {
        *limit = (long)rl.rlim_max;
        return -1;
    }
    rl.rlim_cur = (rlim_t)needed;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { *limit = (long)rl.rlim_cur; return -1; }
    return 0;
}

/* ---- epoll and timerfd ---- */

static inline int cls_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int cls_epoll_add(int epfd, int fd, uint64_t tag) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static inline int cls_epoll_del(int epfd, int fd) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

/* struct epoll_event is packed on x86_64, so Swift reads it through here. */
static inline size_t cls_epoll_event_size(void) { return sizeof(struct epoll_event); }
static inline int cls_epoll_wait(int epfd, void *events, int max, int timeout_ms) {
    return epoll_wait(epfd, (struct epoll_event *)events, max, timeout_ms);
}
static inline uint64_t cls_epoll_event_tag(const void *events, int i) {
    return ((const struct epoll_event *)events)[i].data.u64;
}

static inline int cls_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

/* Arms the timer to fire once at an absolute CLOCK_MONOTONIC time, or
 * disarms it when at_ns <= 0. */
static inline int cls_timerfd_set(int fd, int64_t at_ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (at_ns > 0) {
        its.it_value.tv_sec = (time_t)(at_ns / 1000000000LL);
        its.it_value.tv_nsec = (long)(at_ns % 1000000000LL);
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Consumes the expiration count. Returns 1 if the timer had fired, 0 if not
 * (EAGAIN), -1 with errno. */
static inline int cls_timerfd_drain(int fd) {
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n);
    if (r == (ssize_t)sizeof n) return 1;
    if (r < 0 && errno == EAGAIN) return 0;
    return -1;
}

/* ---- terminal ---- */

static inline int cls_isatty(int fd) { return isatty(fd); }
static inline pid_t cls_tcgetpgrp(int fd) { return tcgetpgrp(fd); }
static inline int cls_tcsetpgrp(int fd, pid_t pgrp) { return tcsetpgrp(fd, pgrp); }
static inline pid_t cls_getpgrp(void) { return getpgrp(); }

#endif
