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
#include <poll.h>
#include <signal.h>
#include <stddef.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
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
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
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

/* Signal set bits set, cleared and read by hand: sigaddset refuses the
 * signals the libc keeps for its threads (glibc 32 and 33, musl 32 to 34),
 * which a supervisor must still block and read. Both glibc and musl store
 * the set as an array of unsigned long, bit (sig - 1). */
#define CLS_SIGSET_WORD_BITS (8 * sizeof(unsigned long))
static inline void cls_sigset_add_raw(sigset_t *set, int sig) {
    unsigned long *words = (unsigned long *)(void *)set;
    unsigned bit = (unsigned)(sig - 1);
    words[bit / CLS_SIGSET_WORD_BITS] |= 1UL << (bit % CLS_SIGSET_WORD_BITS);
}
static inline void cls_sigset_del_raw(sigset_t *set, int sig) {
    unsigned long *words = (unsigned long *)(void *)set;
    unsigned bit = (unsigned)(sig - 1);
    words[bit / CLS_SIGSET_WORD_BITS] &= ~(1UL << (bit % CLS_SIGSET_WORD_BITS));
}
static inline int cls_sigset_has_raw(const sigset_t *set, int sig) {
    const unsigned long *words = (const unsigned long *)(const void *)set;
    unsigned bit = (unsigned)(sig - 1);
    return (int)((words[bit / CLS_SIGSET_WORD_BITS] >> (bit % CLS_SIGSET_WORD_BITS)) & 1UL);
}

/* The calling thread's signal mask through the raw syscall: glibc's
 * sigprocmask and pthread_sigmask silently drop 32 and 33 from the set.
 * The kernel's set is 64 bits on every architecture dinit targets. Returns 0
 * or -1 with errno. */
_Static_assert(sizeof(sigset_t) >= 8, "sigset_t holds the kernel's 64 signals");
static inline int cls_rt_sigprocmask(int how, const sigset_t *set, sigset_t *old) {
    return (int)syscall(SYS_rt_sigprocmask, how, set, old, (size_t)8);
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

/* 1 if the child behind the pidfd (pidfd >= 0) or child `pid` is stopped
 * (SIGSTOP, SIGTSTP, a debugger), 0 if not, -1 with errno. WNOWAIT: the
 * stop stays reportable (nothing here ever waits for stops otherwise). */
static inline int cls_child_stopped(int pidfd, pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int rc = pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WSTOPPED | WNOHANG | WNOWAIT)
                        : waitid(P_PID, (id_t)pid, &info, WSTOPPED | WNOHANG | WNOWAIT);
    if (rc != 0) return -1;
    return info.si_pid != 0 && info.si_code == CLD_STOPPED;
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
    /* Per-spawn stdio (dinit -p): three staging descriptors, opened at
     * start-up below first_fd so that the child's copy of the table has
     * them. A spawn points them at the requested descriptors (dup3, no
     * allocation), the child dup2s them onto 0, 1 and 2, and afterwards
     * they point at /dev/null again, so no pipe end stays open in them. */
    int has_stdio;
    int staging[3];
    int null_fd;
    /* The shared-memory clone was refused (EINVAL: qemu-user, some
     * sandboxes): every spawn takes cls_spawn_forked. */
    int forked_only;
    /* The spawner thread (see cls_spawner_start_thread): a request, its
     * result, and the handshake word (0 idle, 1 requested, 2 done). */
    int has_thread;
    pthread_t thread;
    const char *req_file;
    char *const *req_argv;
    char *const *req_envp;
    const int *req_stdio;
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
    /* The staging descriptors to dup2 onto 0, 1 and 2 (-1: leave it). */
    int stdio[3];
    /* The fallback (see cls_spawn_forked): the child has memory and a
     * descriptor table of its own and reports an exec error on err_fd. */
    int forked;
    int err_fd;
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
     * close_range (before 5.9) a full copy, as posix_spawn makes. (The
     * fallback's child has a copy of its own already.) */
    if (!a->forked && syscall(SYS_close_range, a->first_fd, ~0U, CLOSE_RANGE_UNSHARE) != 0 &&
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
    for (int fd = 0; fd <= 2; fd++) {
        if (a->stdio[fd] >= 0 && dup2(a->stdio[fd], fd) < 0) { e = errno; goto fail; }
    }
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, (size_t)8);
    e = cls_exec_search(a);
fail:
    if (!e) e = EINVAL;
    if (a->forked) {
        (void)!write(a->err_fd, &e, sizeof e);
    } else {
        a->err = e;
    }
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
    sp->has_stdio = 0;
    sp->null_fd = -1;
    sp->staging[0] = sp->staging[1] = sp->staging[2] = -1;
    sp->forked_only = 0;
    return 0;
}

/* dup3 and pipe2 are declared only with _GNU_SOURCE (see the top). */
static inline int cls_dup3(int from, int to, int flags) { return (int)syscall(SYS_dup3, from, to, flags); }

/* Prepares per-spawn stdio (see struct cls_spawner): /dev/null and the
 * three staging descriptors, numbered 3 or above (never 0, 1 or 2), and
 * below the children's first_fd. Returns 0 or an errno value. */
static inline int cls_spawner_init_stdio(struct cls_spawner *sp) {
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) return errno;
    sp->null_fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 3);
    close(null_fd);
    if (sp->null_fd < 0) return errno;
    for (int k = 0; k < 3; k++) {
        sp->staging[k] = fcntl(sp->null_fd, F_DUPFD_CLOEXEC, 3);
        if (sp->staging[k] < 0) return errno;
        if ((unsigned)sp->staging[k] >= sp->first_fd) sp->first_fd = (unsigned)sp->staging[k] + 1;
    }
    sp->has_stdio = 1;
    return 0;
}

/* The fallback where clone with CLONE_VM | CLONE_VFORK | CLONE_FILES is
 * refused (qemu-user answers EINVAL; real kernels take it): the child is a
 * copy of dinit, as with fork, running the same child function (system
 * calls only) on its own copy of the stack, and reports an exec error
 * through a close-on-exec pipe, which reads as end-of-file once the exec
 * succeeded. The pidfd comes from CLONE_PIDFD, or from pidfd_open where
 * that is refused too (the child is not reaped yet, so its pid is its own).
 * Sets a->err to the exec error. Returns 0 or an errno value. */
static inline int cls_spawn_forked(struct cls_spawner *sp, struct cls_spawn_args *a, pid_t *p, int *fd) {
    int pipefd[2];
    if (syscall(SYS_pipe2, pipefd, O_CLOEXEC) != 0) return errno;
    a->forked = 1;
    a->err_fd = pipefd[1];
    *fd = -1;
    *p = clone(cls_spawn_child, sp->stack_top, CLONE_PIDFD | SIGCHLD, a, fd, NULL, NULL);
    if (*p < 0 && errno == EINVAL) {
        *p = clone(cls_spawn_child, sp->stack_top, SIGCHLD, a, NULL, NULL, NULL);
        if (*p > 0) {
            *fd = cls_pidfd_open(*p);
            if (*fd < 0) {
                int e = errno;
                kill(*p, SIGKILL);
                siginfo_t info;
                while (waitid(P_PID, (id_t)*p, &info, WEXITED) != 0 && errno == EINTR) {}
                close(pipefd[0]);
                close(pipefd[1]);
                return e;
            }
        }
    }
    int rc = *p < 0 ? (errno ? errno : EAGAIN) : 0;
    close(pipefd[1]);
    if (rc == 0) {
        int e = 0;
        ssize_t n;
        while ((n = read(pipefd[0], &e, sizeof e)) < 0 && errno == EINTR) {}
        if (n == (ssize_t)sizeof e) a->err = e;
    }
    close(pipefd[0]);
    return rc;
}

/* Spawns `file` (PATH lookup, no shell) with an empty signal mask, every
 * signal at SIG_DFL, its own process group and, from cls_spawner_init, stdio
 * on /dev/null. envp NULL: our own environment. stdio: NULL, or the three
 * descriptors the child gets as 0, 1 and 2 (-1: inherit), which needs
 * cls_spawner_init_stdio. Returns 0 with *pid and *pidfd (close-on-exec) set, or an
 * errno value: of clone (EAGAIN, EMFILE, ...) or of the exec, in which case
 * the child has been reaped already. */
static inline int cls_spawn_here(struct cls_spawner *sp, pid_t *pid, int *pidfd, const char *file, char *const argv[],
                                 char *const envp[], const int *stdio) {
    struct cls_spawn_args a;
    a.file = file;
    a.argv = argv;
    a.envp = envp ? envp : environ;
    for (int k = 0; k < 3; k++) a.stdio[k] = -1;
    if (stdio != NULL && (stdio[0] >= 0 || stdio[1] >= 0 || stdio[2] >= 0)) {
        if (!sp->has_stdio) return EINVAL;
        for (int k = 0; k < 3; k++) {
            if (stdio[k] < 0) continue;
            if (cls_dup3(stdio[k], sp->staging[k], O_CLOEXEC) < 0) {
                int e = errno;
                for (int j = 0; j < k; j++) (void)cls_dup3(sp->null_fd, sp->staging[j], O_CLOEXEC);
                return e;
            }
            a.stdio[k] = sp->staging[k];
        }
    }
    a.path = getenv("PATH");
    a.devnull_fd = sp->devnull_fd;
    a.first_fd = sp->first_fd;
    a.err = 0;
    a.forked = 0;
    a.err_fd = -1;
    /* All signals blocked (the libc's own too: raw system call), so no
     * handler can run in the child while it shares our memory. */
    uint64_t all = ~(uint64_t)0, old;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, (size_t)8);
    int fd = -1;
    int saved = errno;
    int rc = 0;
    pid_t p = -1;
    if (!sp->forked_only) {
        p = clone(cls_spawn_child, sp->stack_top, CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | SIGCHLD,
                  &a, &fd, NULL, NULL);
        if (p < 0) rc = errno ? errno : EAGAIN;
        if (p < 0 && (rc == EINVAL || rc == ENOSYS)) sp->forked_only = 1;
    }
    if (sp->forked_only) rc = cls_spawn_forked(sp, &a, &p, &fd);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t)8);
    for (int k = 0; k < 3; k++) {
        if (a.stdio[k] >= 0) (void)cls_dup3(sp->null_fd, sp->staging[k], O_CLOEXEC);
    }
    errno = saved;
    if (rc != 0) return rc;
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
        sp->res_rc = cls_spawn_here(sp, &sp->res_pid, &sp->res_pidfd, sp->req_file, sp->req_argv,
                                    sp->req_envp, sp->req_stdio);
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
static inline int cls_spawn(struct cls_spawner *sp, pid_t *pid, int *pidfd, const char *file, char *const argv[],
                            char *const envp[], const int *stdio) {
    if (!sp->has_thread) return cls_spawn_here(sp, pid, pidfd, file, argv, envp, stdio);
    sp->req_file = file;
    sp->req_argv = argv;
    sp->req_envp = envp;
    sp->req_stdio = stdio;
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

/* A pipe for a child's output: both ends close-on-exec (the child gets the
 * write end through dup2, which clears the flag only on its copy), the read
 * end non-blocking (only dinit reads it; the child's end stays blocking). */
static inline int cls_output_pipe(int fds[2]) {
    if (syscall(SYS_pipe2, fds, O_CLOEXEC) != 0) return -1;
    int flags = fcntl(fds[0], F_GETFL);
    if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        errno = e;
        return -1;
    }
    return 0;
}

/* A write that fails with EAGAIN instead of waiting, without touching the
 * descriptor's O_NONBLOCK: that flag belongs to the open file description,
 * which dinit's stdout and stderr share with other processes (a terminal
 * that is also a child's stdin, a shell that started dinit). pwritev2 with
 * offset -1 writes at the current position, as write(2). Kernels or files
 * without RWF_NOWAIT support fail with EOPNOTSUPP (or EINVAL on kernels
 * before 4.14). glibc declares pwritev2 only with _GNU_SOURCE: raw syscall. */
static inline ssize_t cls_write_nowait(int fd, const void *buf, size_t count) {
    struct iovec v;
    v.iov_base = (void *)buf;
    v.iov_len = count;
    return (ssize_t)syscall(SYS_pwritev2, fd, &v, 1, -1L, 0L, RWF_NOWAIT);
}

/* 1 if both descriptors are the same file (stdout and stderr into one
 * pipe or terminal, 2>&1), 0 if not or when either cannot be examined. */
static inline int cls_same_file(int a, int b) {
    struct stat sa, sb;
    if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* 1 if a write to fd would not wait (POLLOUT, or an error a write will
 * report), 0 if it would, -1 with errno. */
static inline int cls_poll_writable(int fd) {
    struct pollfd p;
    p.fd = fd;
    p.events = POLLOUT;
    p.revents = 0;
    int n = poll(&p, 1, 0);
    if (n < 0) return -1;
    return n > 0 ? 1 : 0;
}
static inline int cls_open_read(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }

/* Opens /dev/null onto each of descriptors 0, 1 and 2 that is closed, so
 * that no descriptor of ours lands there (log lines into the epoll fd) and
 * children start with stdio. Not close-on-exec: they are the children's
 * stdio. Returns 0, or -1 with errno when /dev/null cannot be opened. */
static inline int cls_fill_standard_descriptors(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        /* The lowest free descriptor: fd itself, since those below are open. */
        int got = open("/dev/null", O_RDWR);
        if (got < 0) return -1;
        if (got != fd) {
            int rc = dup2(got, fd);
            close(got);
            if (rc < 0) return -1;
        }
    }
    return 0;
}

/* Makes room for `more` descriptors beyond those open now: probes
 * descriptors from 0 up (fcntl, no /proc needed) until `more` free ones
 * below the soft RLIMIT_NOFILE are found, which costs about as many probes
 * as descriptors are open plus `more`. If the soft limit has too few free
 * slots it is raised, up to the hard limit. Returns 0, or -1 with *limit set
 * to the most that can be had. */
static inline int cls_reserve_descriptors(long more, long *limit) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur == RLIM_INFINITY) return 0;
    long free_slots = 0;
    for (long fd = 0; fd < (long)rl.rlim_cur && free_slots < more; fd++) {
        if (fcntl((int)fd, F_GETFD) == -1 && errno == EBADF) free_slots++;
    }
    if (free_slots >= more) return 0;
    long needed = (long)rl.rlim_cur + (more - free_slots);
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

/* Waits for fd to take output (a stalled stdout or stderr); EPOLLERR and
 * EPOLLHUP are reported as well, and the write that follows sees them. */
static inline int cls_epoll_add_output(int epfd, int fd, uint64_t tag) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT;
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

/* ---- sd_notify ---- */

/* struct ucred, SCM_CREDENTIALS and MSG_CMSG_CLOEXEC are only declared with
 * _GNU_SOURCE (see the top of this file); SO_PASSPIDFD and SCM_PIDFD are
 * Linux 6.5 and newer than some headers. */
#ifndef SO_PASSCRED
#define SO_PASSCRED 16
#endif
#ifndef SCM_CREDENTIALS
#define SCM_CREDENTIALS 0x02
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0x40000000
#endif
struct cls_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};
_Static_assert(sizeof(struct cls_ucred) == 12, "struct ucred is pid, uid, gid");

/* The socket :notify: children report to: datagram, nonblocking,
 * close-on-exec, the kernel attaching the sender's credentials (SO_PASSCRED)
 * and, from Linux 6.5, a pidfd of the sender (SO_PASSPIDFD) to every
 * message. Autobound: the kernel picks a unique abstract address, so no
 * filesystem is needed and two dinits sharing a network namespace cannot
 * collide. Writes that address as NOTIFY_SOCKET spells it ("@" and the name,
 * NUL-terminated) into name. Returns the descriptor, or -1 with errno. */
static inline int cls_notify_socket(char *name, size_t cap, int *has_pidfd) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    struct sockaddr_un sa;
    socklen_t len = sizeof sa;
    size_t n;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) goto fail;
    *has_pidfd = setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &one, sizeof one) == 0;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (bind(fd, (struct sockaddr *)&sa, (socklen_t)sizeof(sa_family_t)) != 0) goto fail;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) goto fail;
    n = (size_t)len - offsetof(struct sockaddr_un, sun_path);
    if (n < 2 || n > sizeof sa.sun_path || sa.sun_path[0] != 0 || n + 1 > cap) { errno = EINVAL; goto fail; }
    name[0] = '@';
    memcpy(name + 1, sa.sun_path + 1, n - 1);
    name[n] = 0;
    return fd;
fail:
    n = (size_t)errno;
    close(fd);
    errno = (int)n;
    return -1;
}

/* What came with one datagram. */
struct cls_notify_received {
    long length;    /* the datagram's full length (may exceed the buffer) */
    int pid;        /* the sender (SCM_CREDENTIALS), 0 when missing */
    int pidfd;      /* a pidfd of the sender (SCM_PIDFD), -1 when missing;
                       the caller closes it */
    int truncated;  /* data or control data did not fit: drop it */
};

/* Reads one datagram into buf. Descriptors passed with it (SCM_RIGHTS) are
 * received close-on-exec and closed at once: dinit never keeps one, and one
 * cut off by a full control buffer is closed by the kernel. Returns 1, 0
 * when nothing is queued, -1 with errno. */
static inline int cls_notify_receive(int fd, void *buf, size_t cap, struct cls_notify_received *r) {
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(struct cls_ucred)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(16 * sizeof(int))];
    } control;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t n;
    iov.iov_base = buf;
    iov.iov_len = cap;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    r->length = (long)n;
    r->pid = 0;
    r->pidfd = -1;
    r->truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || (size_t)n > cap;
    for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct cls_ucred))) {
            struct cls_ucred u;
            memcpy(&u, CMSG_DATA(c), sizeof u);
            r->pid = (int)u.pid;
        } else if (c->cmsg_type == SCM_PIDFD && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int pidfd;
            memcpy(&pidfd, CMSG_DATA(c), sizeof pidfd);
            if (r->pidfd >= 0) close(r->pidfd);
            r->pidfd = pidfd;
        } else if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t k = 0; k < count; k++) {
                int passed;
                memcpy(&passed, CMSG_DATA(c) + k * sizeof(int), sizeof passed);
                close(passed);
            }
        }
    }
    return 1;
}

/* 1 while the process behind a pidfd has not exited (EPERM: it exists but is
 * not ours to signal), 0 once it has, -1 with errno on another error. */
static inline int cls_pidfd_alive(int pidfd) {
    if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0) return 1;
    if (errno == EPERM) return 1;
    if (errno == ESRCH) return 0;
    return -1;
}

static inline pid_t cls_getpgid(pid_t pid) { return getpgid(pid); }

/* A datagram socket connected to the NOTIFY_SOCKET address we inherited:
 * "@name" (abstract) or an absolute path. Returns the descriptor, or -1 with
 * errno (EINVAL for an address of another form). */
static inline int cls_notify_parent_open(const char *address) {
    struct sockaddr_un sa;
    size_t n = strlen(address);
    int fd;
    if (n < 2 || n > sizeof sa.sun_path || (address[0] != '@' && address[0] != '/')) { errno = EINVAL; return -1; }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, address, n);
    if (address[0] == '@') sa.sun_path[0] = 0;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Sends one message; never blocks, never raises SIGPIPE. */
static inline long cls_notify_parent_send(int fd, const void *buf, size_t n) {
    return (long)send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* ---- terminal ---- */

static inline int cls_isatty(int fd) { return isatty(fd); }
static inline pid_t cls_tcgetpgrp(int fd) { return tcgetpgrp(fd); }
static inline int cls_tcsetpgrp(int fd, pid_t pgrp) { return tcsetpgrp(fd, pgrp); }
static inline pid_t cls_getpgrp(void) { return getpgrp(); }

#endif
