/* Exec credential plugins: fork/exec with one deadline for the whole run, the plugin's
 * stderr logged bounded, the ExecCredential checks that client-go makes (apiVersion
 * match, status present, token or a full cert pair). */
#define _GNU_SOURCE 1 /* execvpe */
#include "config.h"

#include "kube/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "kube/client.h"
#include "log.h"

#define EXEC_OUT_MAX (1u << 20)

extern char **environ;

static void
wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void
kube_exec_cred_clear(struct kube_exec_cred *cred)
{
    wipe_free(cred->token);
    wipe_free(cred->cert_pem);
    wipe_free(cred->key_pem);
    memset(cred, 0, sizeof(*cred));
}

static int
days_from_civil(int y, int m, int d, int64_t *out)
{
    /* Howard Hinnant's algorithm: proleptic Gregorian days since 1970-01-01. */
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = era * 146097 + doe - 719468;
    return 0;
}

int
kube_parse_time(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    int64_t days, ms = 0;
    const char *p;

    if (s == NULL ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return NSC_ERR_INVALID;
    p = s + n;
    if (*p == '.') {
        int digits = 0;

        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return NSC_ERR_INVALID;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    days_from_civil(y, mo, d, &days);
    ms += ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL;
    if (*p == 'Z' && p[1] == '\0') {
        *out_ms = ms;
        return 0;
    }
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;

        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return NSC_ERR_INVALID;
        ms -= (*p == '+' ? 1 : -1) * (oh * 60 + om) * 60000LL;
        *out_ms = ms;
        return 0;
    }
    return NSC_ERR_INVALID;
}

static char *
exec_info(const struct kube_config *cfg)
{
    json_t *info = json_pack("{s:s, s:s, s:{s:b}}", "apiVersion", cfg->exec->api_version,
                             "kind", "ExecCredential", "spec", "interactive", 0);
    char *s;

    if (info == NULL)
        return NULL;
    if (cfg->exec->provide_cluster_info) {
        json_t *cl = json_pack("{s:s, s:b}", "server", cfg->server, "insecure-skip-tls-verify",
                               cfg->insecure);

        if (cl && cfg->tls_server_name)
            json_object_set_new(cl, "tls-server-name", json_string(cfg->tls_server_name));
        if (cl && cfg->ca_data)
            json_object_set_new(cl, "certificate-authority-data",
                                json_stringn((const char *)cfg->ca_data, cfg->ca_data_len));
        json_object_set_new(json_object_get(info, "spec"), "cluster", cl);
    }
    s = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    return s;
}

/* Errors from a plugin are authentication failures: the request cannot be sent. */
#define efail(...) (kube_errf(__VA_ARGS__), NSC_ERR_AUTH)

static int
parse_cred(const struct kube_config *cfg, const char *out, size_t len,
           struct kube_exec_cred *cred, char *err, size_t err_len)
{
    const char *cmd = cfg->exec->command;
    json_error_t jerr;
    json_t *j = json_loadb(out, len, 0, &jerr), *st, *v;
    const char *tok, *cert, *key, *exp;
    int rc = 0;

    if (j == NULL)
        return efail(err, err_len, "exec plugin %s: output is not JSON (line %d: %s)", cmd,
                     jerr.line, jerr.text);
    v = json_object_get(j, "apiVersion");
    if (!json_is_string(v) || strcmp(json_string_value(v), cfg->exec->api_version) != 0) {
        rc = efail(err, err_len,
                   "exec plugin %s: ExecCredential apiVersion \"%s\" does not match "
                   "the requested \"%s\"",
                   cmd, json_is_string(v) ? json_string_value(v) : "", cfg->exec->api_version);
        goto done;
    }
    if (!json_is_string(json_object_get(j, "kind")) ||
        strcmp(json_string_value(json_object_get(j, "kind")), "ExecCredential") != 0) {
        rc = efail(err, err_len, "exec plugin %s: output kind is not ExecCredential", cmd);
        goto done;
    }
    st = json_object_get(j, "status");
    if (!json_is_object(st)) {
        rc = efail(err, err_len, "exec plugin %s: ExecCredential has no status", cmd);
        goto done;
    }
    tok = json_string_value(json_object_get(st, "token"));
    cert = json_string_value(json_object_get(st, "clientCertificateData"));
    key = json_string_value(json_object_get(st, "clientKeyData"));
    exp = json_string_value(json_object_get(st, "expirationTimestamp"));
    if (tok && *tok == '\0')
        tok = NULL;
    if (cert && *cert == '\0')
        cert = NULL;
    if (key && *key == '\0')
        key = NULL;
    if (tok)
        log_redact_add(tok);
    if (key)
        log_redact_add(key);
    if ((cert == NULL) != (key == NULL)) {
        rc = efail(err, err_len,
                   "exec plugin %s: status has only one of clientCertificateData "
                   "and clientKeyData",
                   cmd);
        goto done;
    }
    if (tok == NULL && cert == NULL) {
        rc = efail(err, err_len,
                   "exec plugin %s: status has neither a token nor "
                   "clientCertificateData/clientKeyData",
                   cmd);
        goto done;
    }
    if (exp && kube_parse_time(exp, &cred->expiry_ms) != 0) {
        rc = efail(err, err_len,
                   "exec plugin %s: status.expirationTimestamp \"%s\" is not RFC 3339", cmd,
                   exp);
        goto done;
    }
    if ((tok && (cred->token = strdup(tok)) == NULL) ||
        (cert && (cred->cert_pem = strdup(cert)) == NULL) ||
        (key && (cred->key_pem = strdup(key)) == NULL)) {
        kube_exec_cred_clear(cred);
        rc = NSC_ERR_NOMEM;
    }
done:
    json_decref(j);
    return rc;
}

/* What of the plugin's stderr reaches the log: client-go passes it through whole, but it
 * is not ours to trust (it may hold a token, or megabytes). */
#define EXEC_ERR_KEEP 4096
#define EXEC_ERR_LINES 8

struct exec_run {
    char *out; /* stdout, EXEC_OUT_MAX + 1 bytes */
    size_t out_len;
    char err[EXEC_ERR_KEEP + 1];
    size_t err_len;
    size_t err_dropped; /* stderr bytes past EXEC_ERR_KEEP, read and discarded */
};

/* Kills the plugin's process group (it runs in its own), so that a child it left holding
 * the pipes goes too, then reaps the plugin. */
static void
exec_kill_reap(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* The plugin's stderr as log lines, each prefixed with the plugin's name; the log escapes
 * control characters. Bounded in bytes and lines. */
static void
exec_log_stderr(const char *cmd, struct exec_run *run, int failed)
{
    enum nsc_log_level lvl = failed ? NSC_LOG_WARNING : NSC_LOG_INFO;
    const char *name = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
    char *line = run->err, *nl;
    size_t n_lines = 0;

    run->err[run->err_len] = '\0';
    while (*line != '\0') {
        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (n_lines == EXEC_ERR_LINES) {
            log_msg(lvl, "kube", "exec plugin %s: stderr: (more lines not shown)", name);
            break;
        }
        if (*line != '\0') {
            log_msg(lvl, "kube", "exec plugin %s: stderr: %s", name, line);
            n_lines++;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    if (run->err_dropped > 0)
        log_msg(lvl, "kube", "exec plugin %s: stderr: (%zu more bytes not shown)", name,
                run->err_dropped);
}

/* Reads stdout and stderr until both close, then waits for the plugin, all before
 * deadline_ms. Returns 0 with *status set, 1 on expiry (the plugin is then killed and
 * reaped), or a negative status (err filled; the plugin is killed and reaped). */
static int
exec_collect(const char *cmd, pid_t pid, int out_fd, int err_fd, int64_t deadline_ms,
             const struct kube_clock *clk, struct exec_run *run, int *status, char *err,
             size_t err_len)
{
    struct pollfd pfd[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    char scratch[4096];

    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        int64_t left = deadline_ms - clk->now_ms(clk->ctx);
        int pr, k;

        if (left <= 0) {
            exec_kill_reap(pid);
            return 1;
        }
        pr = poll(pfd, 2, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            exec_kill_reap(pid);
            return efail(err, err_len, "exec plugin %s: poll: %s", cmd, strerror(errno));
        }
        for (k = 0; k < 2; k++) {
            ssize_t got;

            if (pfd[k].fd < 0 || pfd[k].revents == 0)
                continue;
            if (k == 0)
                got = read(out_fd, run->out + run->out_len, EXEC_OUT_MAX - run->out_len);
            else if (run->err_len < EXEC_ERR_KEEP)
                got = read(err_fd, run->err + run->err_len, EXEC_ERR_KEEP - run->err_len);
            else
                got = read(err_fd, scratch, sizeof(scratch));
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {
                pfd[k].fd = -1;
                continue;
            }
            if (k == 1 && run->err_len >= EXEC_ERR_KEEP)
                run->err_dropped += (size_t)got;
            else if (k == 1)
                run->err_len += (size_t)got;
            else
                run->out_len += (size_t)got;
            if (run->out_len >= EXEC_OUT_MAX) {
                exec_kill_reap(pid);
                return efail(err, err_len, "exec plugin %s: output larger than %u bytes", cmd,
                             EXEC_OUT_MAX);
            }
        }
    }
    /* Both pipes closed; the plugin may still linger, so the wait has the same deadline. */
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);

        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR) {
            exec_kill_reap(pid);
            return efail(err, err_len, "exec plugin %s: waitpid: %s", cmd, strerror(errno));
        }
        if (deadline_ms - clk->now_ms(clk->ctx) <= 0) {
            exec_kill_reap(pid);
            return 1;
        }
        clk->sleep_ms(clk->ctx, 10);
    }
}

int
kube_exec_run(const struct kube_config *cfg, long timeout_ms, struct kube_exec_cred *out,
              char *err, size_t err_len)
{
    const struct kube_exec *ex = cfg->exec;
    int pipefd[2] = {-1, -1}, errfd[2] = {-1, -1};
    char *info = NULL, **argv = NULL, **envp = NULL;
    struct exec_run *run = NULL;
    size_t i, n_environ = 0;
    pid_t pid = -1;
    int rc = 0, status = 0;
    int64_t deadline;
    const struct kube_clock *clk = kube_clock_real();

    memset(out, 0, sizeof(*out));
    info = exec_info(cfg);
    run = calloc(1, sizeof(*run));
    if (run != NULL)
        run->out = malloc(EXEC_OUT_MAX + 1);
    argv = calloc(ex->n_args + 2, sizeof(char *));
    while (environ[n_environ])
        n_environ++;
    envp = calloc(n_environ + ex->n_env + 2, sizeof(char *));
    if (info == NULL || run == NULL || run->out == NULL || argv == NULL || envp == NULL) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    argv[0] = ex->command;
    for (i = 0; i < ex->n_args; i++)
        argv[i + 1] = ex->args[i];
    /* inherited env, then the plugin's entries, then the exec info (later wins in getenv
     * of most libcs only if earlier duplicates are dropped: drop them) */
    {
        size_t k = 0, j;

        for (i = 0; i < n_environ; i++) {
            int dup = strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0;

            for (j = 0; j < ex->n_env && !dup; j++) {
                size_t nl = strcspn(ex->env[j], "=");

                dup = strncmp(environ[i], ex->env[j], nl + 1) == 0;
            }
            if (!dup)
                envp[k++] = environ[i];
        }
        for (j = 0; j < ex->n_env; j++)
            envp[k++] = ex->env[j];
        {
            char *e = malloc(strlen(info) + 32);

            if (e == NULL) {
                rc = NSC_ERR_NOMEM;
                goto done;
            }
            sprintf(e, "KUBERNETES_EXEC_INFO=%s", info);
            free(info);
            info = e;
            envp[k++] = info;
        }
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0 || pipe2(errfd, O_CLOEXEC) != 0) {
        rc = efail(err, err_len, "exec plugin %s: pipe: %s", ex->command, strerror(errno));
        goto done;
    }
    deadline = clk->now_ms(clk->ctx) + timeout_ms;
    pid = fork();
    if (pid < 0) {
        rc = efail(err, err_len, "exec plugin %s: fork: %s", ex->command, strerror(errno));
        goto done;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        /* its own process group, so that an expired deadline kills what it started too */
        setpgid(0, 0);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pipefd[1], 1);
        dup2(errfd[1], 2);
        execve(ex->command, argv, envp);
        if (errno == ENOENT && strchr(ex->command, '/') == NULL)
            execvpe(ex->command, argv, envp);
        _exit(127);
    }
    /* also here: the child may not have run setpgid yet when the deadline kills */
    setpgid(pid, pid);
    close(pipefd[1]);
    pipefd[1] = -1;
    close(errfd[1]);
    errfd[1] = -1;
    rc = exec_collect(ex->command, pid, pipefd[0], errfd[0], deadline, clk, run, &status, err,
                      err_len);
    pid = -1; /* reaped, in every outcome */
    if (rc == 1) {
        rc = efail(err, err_len,
                   "exec plugin %s: no answer within %ld ms (deadline for the whole run); "
                   "killed it",
                   ex->command, timeout_ms);
        exec_log_stderr(ex->command, run, 1);
        goto done;
    }
    if (rc < 0)
        goto done;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = efail(err, err_len, "exec plugin %s: %s %d%s", ex->command,
                   WIFEXITED(status) ? "exited with status" : "killed by signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                   WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (command not found?)"
                                                                   : "");
        exec_log_stderr(ex->command, run, 1);
        goto done;
    }
    rc = parse_cred(cfg, run->out, run->out_len, out, err, err_len);
    /* after parse_cred: a token it returned is registered for redaction by now */
    exec_log_stderr(ex->command, run, rc != 0);
done:
    if (pid > 0)
        exec_kill_reap(pid);
    for (i = 0; i < 2; i++) {
        if (pipefd[i] >= 0)
            close(pipefd[i]);
        if (errfd[i] >= 0)
            close(errfd[i]);
    }
    if (run != NULL) {
        if (run->out != NULL) {
            memset(run->out, 0, run->out_len);
            free(run->out);
        }
        memset(run->err, 0, sizeof(run->err));
        free(run);
    }
    free(info);
    free(argv);
    free(envp);
    return rc;
}
