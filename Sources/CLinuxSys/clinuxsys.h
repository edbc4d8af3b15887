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
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* The kernel's struct sigaction for rt_sigaction: handler, flags,
 * restorer, 64-bit mask (x86_64 and aarch64). */
struct cls_kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

/* Handler for 32-34, which run only if one arrives while they are
 * unblocked: musl's posix_spawn restores a mask with them taken out, for an
 * instant before cls_spawn blocks them again. It blocks 32-34 in the mask
 * the interrupted code gets back and sends the signal again to ourselves,
 * so it waits, pending, for the signalfd (its sender reads as ourselves). */
static inline void cls_reserved_handler(int sig, siginfo_t *info, void *context) {
    (void)info;
    int saved = errno;
    ucontext_t *uc = (ucontext_t *)context;
    unsigned long *words = (unsigned long *)(void *)&uc->uc_sigmask;
    words[0] |= 7UL << 31;
    kill(getpid(), sig);
    errno = saved;
}

/* Installs cls_reserved_handler for 32-34 with the raw syscall (the libc's
 * sigaction refuses them). A handler needs the libc's signal-return
 * trampoline (SA_RESTORER on x86_64), which only the libc knows: it is
 * read back from the kernel after the libc installed the handler for
 * SIGURG, whose previous action is then put back. Call with SIGURG
 * blocked. Returns 0 or -1 with errno. */
static inline int cls_catch_libc_reserved(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = cls_reserved_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    if (sigaction(SIGURG, &sa, &old) != 0) return -1;
    struct cls_kernel_sigaction k;
    memset(&k, 0, sizeof k);
    int rc = (int)syscall(SYS_rt_sigaction, SIGURG, NULL, &k, (size_t)8);
    sigaction(SIGURG, &old, NULL);
    if (rc != 0) return -1;
    k.mask = 7UL << 31;
    for (int sig = 32; sig <= 34; sig++) {
        if (syscall(SYS_rt_sigaction, sig, &k, NULL, (size_t)8) != 0) return -1;
    }
    return 0;
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

/* Reaps any one exited child (ours or adopted). Returns 0 (r->kind == 0 when
 * children exist but none has exited) or -1 with errno (ECHILD: no children). */
static inline int cls_wait_any(struct cls_wait_result *r) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) != 0) return -1;
    return cls_decode_wait(&info, r);
}

/* 1 if this process has any child at all (running or zombie), 0 if none,
 * -1 with errno on another error. Reaps nothing. */
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

/* Spawn attributes and file actions, built once at start-up and reused by
 * every spawn: glibc allocates when file actions are added, so building them
 * per spawn would allocate in the loop. */
struct cls_spawner {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    int has_actions;
    /* Per-spawn stdio (dinit -p): file actions built once that dup2 three
     * fixed staging descriptors onto 0, 1 and 2. A spawn points the staging
     * descriptors at the requested ones (dup3, no allocation) and back at
     * /dev/null afterwards, so no pipe end stays open in them. */
    posix_spawn_file_actions_t stdio_actions;
    int has_stdio;
    int staging[3];
    int null_fd;
};

/* Children get an empty signal mask, every signal at its default
 * disposition (even those dinit inherited as ignored) and their own process
 * group. With devnull_fd >= 0 their stdin, stdout and stderr are /dev/null.
 * Returns 0 or an errno value. */
static inline int cls_spawner_init(struct cls_spawner *sp, int devnull_fd) {
    int rc;
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    /* sigfillset leaves out the signals the libc keeps for itself (32-34);
     * set their bits by hand, or glibc's posix_spawn leaves them ignored in
     * the child and musl passes on an inherited SIG_IGN. */
    for (int sig = 32; sig <= 34 && sig < NSIG; sig++) cls_sigset_add_raw(&all, sig);
    sp->has_actions = 0;
    sp->has_stdio = 0;
    sp->null_fd = -1;
    sp->staging[0] = sp->staging[1] = sp->staging[2] = -1;
    if ((rc = posix_spawnattr_init(&sp->attr)) != 0) return rc;
    if ((rc = posix_spawnattr_setsigmask(&sp->attr, &empty)) != 0) return rc;
    if ((rc = posix_spawnattr_setsigdefault(&sp->attr, &all)) != 0) return rc;
    if ((rc = posix_spawnattr_setpgroup(&sp->attr, 0)) != 0) return rc;
    if ((rc = posix_spawnattr_setflags(&sp->attr, (short)(POSIX_SPAWN_SETSIGMASK |
            POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))) != 0) return rc;
    if (devnull_fd >= 0) {
        if ((rc = posix_spawn_file_actions_init(&sp->actions)) != 0) return rc;
        sp->has_actions = 1;
        for (int fd = 0; fd <= 2; fd++) {
            if ((rc = posix_spawn_file_actions_adddup2(&sp->actions, devnull_fd, fd)) != 0) return rc;
        }
    }
    return 0;
}

/* dup3 and pipe2 are declared only with _GNU_SOURCE (see the top). */
static inline int cls_dup3(int from, int to, int flags) { return (int)syscall(SYS_dup3, from, to, flags); }

/* Prepares per-spawn stdio (see struct cls_spawner): the staging
 * descriptors are numbered 3 or above, so that none of them is 0, 1 or 2
 * even when dinit was started with one of those closed. Returns 0 or an
 * errno value. */
static inline int cls_spawner_init_stdio(struct cls_spawner *sp) {
    int rc, null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) return errno;
    sp->null_fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 3);
    close(null_fd);
    if (sp->null_fd < 0) return errno;
    for (int k = 0; k < 3; k++) {
        sp->staging[k] = fcntl(sp->null_fd, F_DUPFD_CLOEXEC, 3);
        if (sp->staging[k] < 0) return errno;
    }
    if ((rc = posix_spawn_file_actions_init(&sp->stdio_actions)) != 0) return rc;
    for (int k = 0; k < 3; k++) {
        if ((rc = posix_spawn_file_actions_adddup2(&sp->stdio_actions, sp->staging[k], k)) != 0) return rc;
    }
    sp->has_stdio = 1;
    return 0;
}

/* posix_spawnp: PATH lookup, no shell. Returns 0 or an errno value (exec
  * failures are reported here by both glibc and musl). envp NULL: our own
  * environment.
  *
  * stdio: NULL, or the three descriptors the child gets as 0, 1 and 2, -1
  * meaning "inherit" (as without stdio); needs cls_spawner_init_stdio. An
  * inherited descriptor that dinit does not have open becomes /dev/null. */
static inline int cls_spawn(struct cls_spawner *sp, pid_t *pid, const char *file, char *const argv[],
                            char *const envp[], const int *stdio) {
    char *const *env = envp ? envp : environ;
    /* musl's posix_spawn restores the mask it saw with 32-34 taken out:
     * put the mask back as it was, 32-34 blocked again (one arriving in
     * between is caught by cls_reserved_handler). */
    sigset_t mask;
    sigemptyset(&mask);
    cls_rt_sigprocmask(SIG_BLOCK, NULL, &mask);
    int rc = 0;
    if (stdio == NULL || (stdio[0] < 0 && stdio[1] < 0 && stdio[2] < 0)) {
        rc = posix_spawnp(pid, file, sp->has_actions ? &sp->actions : NULL, &sp->attr, argv, env);
    } else if (!sp->has_stdio) {
        rc = EINVAL;
    } else {
        for (int k = 0; k < 3 && rc == 0; k++) {
            int source = stdio[k] >= 0 ? stdio[k] : k;
            if (cls_dup3(source, sp->staging[k], O_CLOEXEC) < 0 && !(stdio[k] < 0 && errno == EBADF)) rc = errno;
        }
        if (rc == 0) rc = posix_spawnp(pid, file, &sp->stdio_actions, &sp->attr, argv, env);
        for (int k = 0; k < 3; k++) (void)cls_dup3(sp->null_fd, sp->staging[k], O_CLOEXEC);
    }
    cls_rt_sigprocmask(SIG_SETMASK, &mask, NULL);
    return rc;
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
