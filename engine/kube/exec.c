/* Exec credential plugins: fork/exec with a deadline, the ExecCredential checks that
 * client-go makes (apiVersion match, status present, token or a full cert pair). */
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

int
kube_exec_run(const struct kube_config *cfg, long timeout_ms, struct kube_exec_cred *out,
              char *err, size_t err_len)
{
    const struct kube_exec *ex = cfg->exec;
    int pipefd[2] = {-1, -1};
    char *info = NULL, *buf = NULL, **argv = NULL, **envp = NULL;
    size_t len = 0, i, n_environ = 0;
    pid_t pid = -1;
    int rc = 0, status = 0;
    int64_t deadline;
    const struct kube_clock *clk = kube_clock_real();

    memset(out, 0, sizeof(*out));
    info = exec_info(cfg);
    buf = malloc(EXEC_OUT_MAX + 1);
    argv = calloc(ex->n_args + 2, sizeof(char *));
    while (environ[n_environ])
        n_environ++;
    envp = calloc(n_environ + ex->n_env + 2, sizeof(char *));
    if (info == NULL || buf == NULL || argv == NULL || envp == NULL) {
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
    if (pipe(pipefd) != 0) {
        rc = efail(err, err_len, "exec plugin %s: pipe: %s", ex->command, strerror(errno));
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        rc = efail(err, err_len, "exec plugin %s: fork: %s", ex->command, strerror(errno));
        goto done;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        execve(ex->command, argv, envp);
        if (errno == ENOENT && strchr(ex->command, '/') == NULL)
            execvpe(ex->command, argv, envp);
        _exit(127);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    deadline = clk->now_ms(clk->ctx) + timeout_ms;
    for (;;) {
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int64_t left = deadline - clk->now_ms(clk->ctx);
        ssize_t got;
        int pr;

        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
            rc = efail(err, err_len, "exec plugin %s: no answer within %ld ms", ex->command,
                       timeout_ms);
            goto done;
        }
        pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        got = read(pipefd[0], buf + len, EXEC_OUT_MAX - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
        if (len >= EXEC_OUT_MAX) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
            rc = efail(err, err_len, "exec plugin %s: output larger than %u bytes", ex->command,
                       EXEC_OUT_MAX);
            goto done;
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = efail(err, err_len, "exec plugin %s: %s %d%s", ex->command,
                   WIFEXITED(status) ? "exited with status" : "killed by signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                   WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (command not found?)"
                                                                   : "");
        goto done;
    }
    rc = parse_cred(cfg, buf, len, out, err, err_len);
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (buf) {
        memset(buf, 0, len);
        free(buf);
    }
    free(info);
    free(argv);
    free(envp);
    return rc;
}
