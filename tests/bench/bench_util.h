/* Shared by the engine benchmarks: clocks, resident memory, and the driver that runs each
 * case in a forked child so that its peak RSS is its own. Header-only: each benchmark is
 * one program and links none of the others. */
#ifndef NSC_BENCH_UTIL_H
#define NSC_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Monotonic wall-clock time in seconds. */
static inline double
bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process in seconds: on a shared machine the figure that does not depend
 * on the neighbours. */
static inline double
bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Current resident set of this process in KiB; 0 when /proc/self/statm cannot be read. */
static inline long
bench_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Runs run(case) in a forked child for each of the n_cases cases (an array of case_size
 * byte elements, borrowed), or only for the one that name() calls only when only is not
 * NULL. A case fails when its child does not exit with 0. Returns 0 when every case ran
 * passed, 1 when one failed, 2 (after a message on stderr) when no case is named only. */
static inline int
bench_run_cases(const void *cases, size_t n_cases, size_t case_size, const char *only,
                const char *(*name)(const void *c), int (*run)(const void *c))
{
    int failed = 0, ran = 0;
    for (size_t i = 0; i < n_cases; i++) {
        const void *c = (const char *)cases + i * case_size;
        if (only && strcmp(only, name(c)) != 0)
            continue;
        ran++;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(run(c));
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "case %s failed\n", name(c));
            failed = 1;
        }
    }
    if (!ran) {
        fprintf(stderr, "no case named %s\n", only);
        return 2;
    }
    return failed;
}

#endif
