/*
 * bench/rss_run.c - runs a command and reports its own peak RSS and CPU
 * time, for the benchmark.
 *
 * Linux carries a process's resident-set high-water mark across exec():
 * a tool forked straight from the Python driver would report the
 * driver's peak (hundreds of MiB after scoring a 10M-event file) as its
 * own. This launcher is a small C process, so the child it forks starts
 * from about one MiB, and the wait4() rusage it reports is the tool's.
 *
 * Usage: rss_run REPORT COMMAND [ARG...]
 * Runs COMMAND with the launcher's environment, standard input and
 * outputs, writes {"maxrss_kb":N,"cpu_s":S} to REPORT, and exits with
 * the command's status (128 + signal number if it was killed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define RSS_RUN_EXEC_FAILED 127 /* as a shell reports "not found" */

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    FILE *report;
    pid_t pid;
    int status;

    if (argc < 3) {
        fprintf(stderr, "usage: rss_run REPORT COMMAND [ARG...]\n");
        return 2;
    }

    pid = fork();
    if (pid < 0) {
        perror("rss_run: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(RSS_RUN_EXEC_FAILED);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("rss_run: wait4");
        return 1;
    }

    report = fopen(argv[1], "w");
    if (!report) {
        perror(argv[1]);
        return 1;
    }
    fprintf(report, "{\"maxrss_kb\":%ld,\"cpu_s\":%.6f}\n", ru.ru_maxrss,
            seconds(ru.ru_utime) + seconds(ru.ru_stime));
    if (fclose(report) != 0) {
        perror(argv[1]);
        return 1;
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
