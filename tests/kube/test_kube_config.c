/* Check suite for the Kubernetes client's configuration: kubeconfig fixtures (valid and
 * broken, each error naming file and field), in-cluster, exec plugins, base64, the rate
 * limiter and the request layer's error mapping. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/exec.h"
#include "log.h"
#include "test_kube.h"

static char fixture[4096];

static const char *
fx(const char *rel)
{
    const char *top = getenv("top_srcdir");

    snprintf(fixture, sizeof(fixture), "%s/tests/data/kube/kubeconfig/%s", top ? top : "..",
             rel);
    return fixture;
}

START_TEST(test_full_kubeconfig)
{
    struct kube_config *cfg = NULL;
    char err[512] = "";
    int rc = kube_config_load_kubeconfig(fx("valid/full.yaml"), NULL, &cfg, err, sizeof(err));

    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(cfg->server, "https://127.0.0.1:16443");
    ck_assert_str_eq(cfg->namespace, "kube-system");
    ck_assert_str_eq(cfg->token, "s3cr3t-token-value");
    ck_assert_str_eq(cfg->tls_server_name, "kubernetes");
    ck_assert_ptr_nonnull(cfg->ca_data);
    ck_assert(strstr((const char *)cfg->ca_data, "BEGIN CERTIFICATE") != NULL);
    ck_assert_ptr_null(cfg->ca_file);
    /* relative paths are relative to the kubeconfig's folder */
    ck_assert(strstr(cfg->cert_file, "/kubeconfig/valid/certs/client.crt") != NULL);
    ck_assert_str_eq(cfg->key_file, "/abs/client.key");
    ck_assert_int_eq(cfg->insecure, 0);
    ck_assert(strstr(cfg->source, "context admin") != NULL);
    kube_config_free(cfg);

    /* --kube-context picks another context; no user means no credentials */
    rc = kube_config_load_kubeconfig(fx("valid/full.yaml"), "nouser", &cfg, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(cfg->server, "https://10.0.0.1:6443");
    ck_assert_str_eq(cfg->namespace, "default");
    ck_assert_ptr_null(cfg->token);
    kube_config_free(cfg);
}
END_TEST

START_TEST(test_token_is_redacted)
{
    struct kube_config *cfg = NULL;
    char err[512] = "", buf[256];

    log_redact_clear();
    ck_assert_int_eq(
        kube_config_load_kubeconfig(fx("valid/full.yaml"), NULL, &cfg, err, sizeof(err)), 0);
    snprintf(buf, sizeof(buf), "header Authorization: Bearer %s", cfg->token);
    log_redact_in_place(buf, sizeof(buf));
    ck_assert(strstr(buf, "s3cr3t") == NULL);
    ck_assert(strstr(buf, "[redacted]") != NULL);
    kube_config_free(cfg);
}
END_TEST

START_TEST(test_exec_and_json)
{
    struct kube_config *cfg = NULL;
    char err[512] = "";
    int rc = kube_config_load_kubeconfig(fx("valid/exec.yaml"), NULL, &cfg, err, sizeof(err));

    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(cfg->insecure, 1);
    ck_assert_ptr_nonnull(cfg->exec);
    ck_assert_str_eq(cfg->exec->api_version, "client.authentication.k8s.io/v1beta1");
    ck_assert(strstr(cfg->exec->command, "/kubeconfig/valid/./bin/get-token") != NULL);
    ck_assert_uint_eq(cfg->exec->n_args, 4);
    ck_assert_str_eq(cfg->exec->args[2], "--cluster-name");
    ck_assert_uint_eq(cfg->exec->n_env, 1);
    ck_assert_str_eq(cfg->exec->env[0], "K=V");
    ck_assert_int_eq(cfg->exec->provide_cluster_info, 1);
    kube_config_free(cfg);

    rc = kube_config_load_kubeconfig(fx("valid/config.json"), NULL, &cfg, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(cfg->namespace, "ns1");
    ck_assert(strstr(cfg->token_file, "/kubeconfig/valid/tok") != NULL);
    ck_assert(strstr(cfg->ca_file, "/kubeconfig/valid/ca.crt") != NULL);
    kube_config_free(cfg);
}
END_TEST

START_TEST(test_merge_first_wins)
{
    struct kube_config *cfg = NULL;
    char err[512] = "", paths[8192];

    snprintf(paths, sizeof(paths), "%s:", fx("valid/second.yaml"));
    strcat(paths, fx("valid/full.yaml"));
    /* second.yaml comes first: its current-context and its c1... but context "admin" is
     * defined in second.yaml first, pointing at c2 */
    ck_assert_int_eq(kube_config_load_kubeconfig(paths, NULL, &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->server, "https://second:2");
    kube_config_free(cfg);
    ck_assert_int_eq(kube_config_load_kubeconfig(paths, "admin", &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->server, "https://second:2");
    kube_config_free(cfg);
    /* full.yaml first: its admin context and c1 win */
    snprintf(paths, sizeof(paths), "%s:", fx("valid/full.yaml"));
    strcat(paths, fx("valid/second.yaml"));
    ck_assert_int_eq(kube_config_load_kubeconfig(paths, "from-second", &cfg, err, sizeof(err)),
                     0);
    ck_assert_str_eq(cfg->server, "https://second:2");
    kube_config_free(cfg);
    ck_assert_int_eq(kube_config_load_kubeconfig(paths, NULL, &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->server, "https://127.0.0.1:16443");
    kube_config_free(cfg);
}
END_TEST

/* Every file under invalid/ starts with "# expect: TEXT": loading must fail with a
 * message that contains TEXT and names the file. */
START_TEST(test_invalid_fixtures)
{
    DIR *d = opendir(fx("invalid"));
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        char path[8192], *text = NULL, expect[512];
        struct kube_config *cfg = NULL;
        char err[1024] = "";
        char *nl;
        int rc;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", fx("invalid"), de->d_name);
        ck_assert_int_eq(kube_read_file(path, 1 << 20, &text, NULL), 0);
        ck_assert_msg(strncmp(text, "# expect: ", 10) == 0, "%s: no expect line", path);
        nl = strchr(text, '\n');
        if (nl)
            *nl = '\0';
        snprintf(expect, sizeof(expect), "%s", text + 10);
        free(text);
        rc = kube_config_load_kubeconfig(path, NULL, &cfg, err, sizeof(err));
        ck_assert_msg(rc == NSC_ERR_INVALID, "%s: loaded (rc %d)", de->d_name, rc);
        ck_assert_ptr_null(cfg);
        ck_assert_msg(strstr(err, expect) != NULL, "%s: error \"%s\" lacks \"%s\"", de->d_name,
                      err, expect);
        ck_assert_msg(strstr(err, de->d_name) != NULL, "%s: error does not name the file: %s",
                      de->d_name, err);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 20);
}
END_TEST

START_TEST(test_missing_file)
{
    struct kube_config *cfg = NULL;
    char err[512] = "";

    ck_assert_int_eq(
        kube_config_load_kubeconfig("/nonexistent/kc", NULL, &cfg, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "kubeconfig /nonexistent/kc: cannot read: No such file") != NULL);
    ck_assert_int_eq(
        kube_config_load_kubeconfig(fx("valid/full.yaml"), "nope", &cfg, err, sizeof(err)),
        NSC_ERR_INVALID);
    ck_assert(strstr(err, "--kube-context \"nope\": no such entry") != NULL);
}
END_TEST

/* A directory where a file belongs is named as such, wherever the file is read. */
START_TEST(test_directories_named)
{
    char dir[] = "/tmp/nsc-kdir-XXXXXX", path[256], sub[256], err[1024] = "";
    static const char *const fields[] = {"certificate-authority", "client-certificate",
                                         "client-key", "tokenFile"};
    struct kube_config *cfg = NULL;
    size_t i;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/d", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    /* the kubeconfig itself */
    ck_assert_int_eq(kube_config_load_kubeconfig(sub, NULL, &cfg, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "/d: cannot read: is a directory") != NULL, "%s", err);
    /* each file it names */
    snprintf(path, sizeof(path), "%s/kc", dir);
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        /* a certificate needs its key: the other one of the pair is a real path */
        static const char *const users[] = {
            "      token: t0k3n-dir-test\n",
            "      client-certificate: d\n      client-key: kc\n",
            "      client-certificate: kc\n      client-key: d\n",
            "      tokenFile: d\n",
        };

        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n%s"
                "users:\n- name: u\n  user:\n%s"
                "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n",
                i == 0 ? "    certificate-authority: d\n" : "", users[i]);
        fclose(f);
        ck_assert_int_eq(kube_config_load_kubeconfig(path, NULL, &cfg, err, sizeof(err)),
                         NSC_ERR_INVALID);
        ck_assert_msg(strstr(err, fields[i]) != NULL && strstr(err, "/d: is a directory"),
                      "%s: %s", fields[i], err);
    }
    unlink(path);
    /* in-cluster files */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("POD_NAMESPACE", "ops", 1);
    snprintf(path, sizeof(path), "%s/token", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "/token: is a directory") != NULL, "%s", err);
    rmdir(path);
    f = fopen(path, "w");
    fputs("in-cluster-token-for-dirs\n", f);
    fclose(f);
    snprintf(sub, sizeof(sub), "%s/ca.crt", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "CA file") && strstr(err, "/ca.crt: is a directory"), "%s", err);
    rmdir(sub);
    unsetenv("POD_NAMESPACE");
    snprintf(sub, sizeof(sub), "%s/namespace", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "/namespace: is a directory") != NULL, "%s", err);
    rmdir(sub);
    unlink(path);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    snprintf(sub, sizeof(sub), "%s/d", dir);
    rmdir(sub);
    rmdir(dir);
}
END_TEST

START_TEST(test_in_cluster)
{
    char dir[] = "/tmp/nsc-sa-XXXXXX", path[256], err[512] = "";
    struct kube_config *cfg = NULL;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("POD_NAMESPACE");
    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "KUBERNETES_SERVICE_HOST") != NULL);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443x", 1);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "KUBERNETES_SERVICE_PORT=\"443x\"") != NULL);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "/token: No such file") != NULL);
    snprintf(path, sizeof(path), "%s/token", dir);
    f = fopen(path, "w");
    fputs("eyJhbGciOiJSUzI1NiJ9.in-cluster-token\n", f);
    fclose(f);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert(strstr(err, "namespace file") != NULL);
    ck_assert(strstr(err, "in-cluster-token") == NULL);
    setenv("POD_NAMESPACE", "ops", 1);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->server, "https://[fd00::1]:443");
    ck_assert_str_eq(cfg->namespace, "ops");
    ck_assert(strstr(cfg->ca_file, "/ca.crt") != NULL);
    ck_assert_ptr_null(cfg->token);
    kube_config_free(cfg);
    unsetenv("POD_NAMESPACE");
    snprintf(path, sizeof(path), "%s/namespace", dir);
    f = fopen(path, "w");
    fputs("kube-system\n", f);
    fclose(f);
    ck_assert_int_eq(kube_config_in_cluster(dir, &cfg, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg->namespace, "kube-system");
    kube_config_free(cfg);
    unlink(path);
    snprintf(path, sizeof(path), "%s/token", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_base64)
{
    static const struct {
        const char *in, *out;
        int rc;
    } cases[] = {
        {"", "", 0},
        {"QQ==", "A", 0},
        {"QUI=", "AB", 0},
        {"QUJD", "ABC", 0},
        {"QUJD\nRA==", "ABCD", 0},
        {"QUJDRA", "ABCD", 0},
        {"Q", NULL, NSC_ERR_INVALID},
        {"QU*D", NULL, NSC_ERR_INVALID},
        {"QQ==QQ==", NULL, NSC_ERR_INVALID},
        {"QQ===", NULL, NSC_ERR_INVALID},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char *out = NULL;
        size_t len = 0;
        int rc = kube_base64_decode(cases[i].in, &out, &len);

        ck_assert_msg(rc == cases[i].rc, "case %zu (%s): rc %d", i, cases[i].in, rc);
        if (rc == 0) {
            ck_assert_uint_eq(len, strlen(cases[i].out));
            ck_assert_mem_eq(out, cases[i].out, len);
            free(out);
        }
    }
}
END_TEST

START_TEST(test_ratelimit)
{
    struct kube_ratelimit rl;
    int i;

    kube_ratelimit_init(&rl, 5, 10, 1000);
    for (i = 0; i < 10; i++)
        ck_assert_int_eq(kube_ratelimit_take(&rl, 1000), 0); /* the burst */
    ck_assert_int_eq(kube_ratelimit_take(&rl, 1000), 200);   /* then 5/s */
    ck_assert_int_eq(kube_ratelimit_take(&rl, 1000), 400);
    ck_assert_int_eq(kube_ratelimit_take(&rl, 1400), 200);
    /* idle refills up to the burst only */
    ck_assert_int_eq(kube_ratelimit_take(&rl, 100000), 0);
    for (i = 0; i < 9; i++)
        ck_assert_int_eq(kube_ratelimit_take(&rl, 100000), 0);
    ck_assert_int_gt(kube_ratelimit_take(&rl, 100000), 0);
    kube_ratelimit_init(&rl, -1, 1, 0);
    for (i = 0; i < 100; i++)
        ck_assert_int_eq(kube_ratelimit_take(&rl, 0), 0);
}
END_TEST

START_TEST(test_parse_time)
{
    int64_t ms;

    ck_assert_int_eq(kube_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(kube_parse_time("2026-11-26T17:33:17.250000Z", &ms), 0);
    ck_assert_int_eq(ms, 1795714397250LL);
    ck_assert_int_eq(kube_parse_time("2026-11-26T18:33:17+01:00", &ms), 0);
    ck_assert_int_eq(ms, 1795714397000LL);
    ck_assert_int_eq(kube_parse_time("2026-11-26 17:33:17Z", &ms), NSC_ERR_INVALID);
    ck_assert_int_eq(kube_parse_time("2026-11-26T17:33:17", &ms), NSC_ERR_INVALID);
    ck_assert_int_eq(kube_parse_time("2026-11-26T17:33:17.Z", &ms), NSC_ERR_INVALID);
}
END_TEST

/* ---- exec plugins: a shell script stands in for aws/gke-gcloud-auth-plugin ---- */

static char plugin_dir[64];

static struct kube_config *
exec_cfg(const char *script, const char *api_version)
{
    struct kube_config *cfg = calloc(1, sizeof(*cfg));
    char path[256];
    FILE *f;

    snprintf(plugin_dir, sizeof(plugin_dir), "/tmp/nsc-exec-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(plugin_dir));
    snprintf(path, sizeof(path), "%s/plugin", plugin_dir);
    f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", script);
    fclose(f);
    chmod(path, 0700);
    cfg->server = strdup("https://127.0.0.1:6443");
    cfg->source = strdup("test");
    cfg->namespace = strdup("default");
    cfg->exec = calloc(1, sizeof(*cfg->exec));
    cfg->exec->api_version = strdup(api_version);
    cfg->exec->command = strdup(path);
    cfg->exec->env = calloc(2, sizeof(char *));
    cfg->exec->env[0] = strdup("PLUGIN_SAYS=hello");
    cfg->exec->n_env = 1;
    return cfg;
}

static void
exec_done(struct kube_config *cfg)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/plugin", plugin_dir);
    unlink(path);
    rmdir(plugin_dir);
    kube_config_free(cfg);
}

START_TEST(test_exec_plugin)
{
    static const struct {
        const char *script, *api, *expect_err, *token;
        int64_t expiry_ms;
    } cases[] = {
        {"echo "
         "'{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"exec-tok-'$PLUGIN_SAYS'\",\"expirationTimestamp\":\"1970-01-"
         "01T00:01:00Z\"}}'",
         "client.authentication.k8s.io/v1", NULL, "exec-tok-hello", 60000},
        /* the plugin sees the request in KUBERNETES_EXEC_INFO */
        {"case \"$KUBERNETES_EXEC_INFO\" in "
         "*'\"interactive\":false'*v1beta1*|*v1beta1*'\"interactive\":false'*) ;; *) exit 3;; "
         "esac\n"
         "echo "
         "'{\"apiVersion\":\"client.authentication.k8s.io/"
         "v1beta1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEYPEM\"}}'",
         "client.authentication.k8s.io/v1beta1", NULL, NULL, 0},
        {"echo "
         "'{\"apiVersion\":\"client.authentication.k8s.io/"
         "v1beta1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"x\"}}'",
         "client.authentication.k8s.io/v1", "does not match the requested", NULL, 0},
        {"echo "
         "'{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\"}'",
         "client.authentication.k8s.io/v1", "has no status", NULL, 0},
        {"echo "
         "'{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"clientCertificateData\":\"C\"}}'",
         "client.authentication.k8s.io/v1", "only one of clientCertificateData", NULL, 0},
        {"echo "
         "'{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{}}'",
         "client.authentication.k8s.io/v1", "neither a token", NULL, 0},
        {"echo 'not json'", "client.authentication.k8s.io/v1", "output is not JSON", NULL, 0},
        {"exit 4", "client.authentication.k8s.io/v1", "exited with status 4", NULL, 0},
        {"exec sleep 30", "client.authentication.k8s.io/v1", "no answer within 2000 ms", NULL,
         0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kube_config *cfg = exec_cfg(cases[i].script, cases[i].api);
        struct kube_exec_cred cred;
        char err[512] = "";
        /* Long enough for a shell to start on a loaded machine under the sanitizers; the
         * sleeping plugin shows the limit is enforced. */
        int rc = kube_exec_run(cfg, 2000, &cred, err, sizeof(err));

        if (cases[i].expect_err) {
            ck_assert_msg(rc == NSC_ERR_AUTH, "case %zu: rc %d", i, rc);
            ck_assert_msg(strstr(err, cases[i].expect_err) != NULL, "case %zu: %s", i, err);
            ck_assert_msg(strstr(err, "/plugin") != NULL, "case %zu names no command: %s", i,
                          err);
        } else {
            ck_assert_msg(rc == 0, "case %zu: %s", i, err);
            if (cases[i].token)
                ck_assert_str_eq(cred.token, cases[i].token);
            else
                ck_assert_str_eq(cred.key_pem, "KEYPEM");
            ck_assert_int_eq(cred.expiry_ms, cases[i].expiry_ms);
            kube_exec_cred_clear(&cred);
        }
        exec_done(cfg);
    }
}
END_TEST

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int saved_stderr = -1;
static char capture_path[128];

void
capture_begin(void)
{
    int fd;

    snprintf(capture_path, sizeof(capture_path), "/tmp/nsc-kube-stderr-%d", (int)getpid());
    fflush(stderr);
    saved_stderr = dup(2);
    fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
}

const char *
capture_end(void)
{
    static char text[65536];
    FILE *f;
    size_t n;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    f = fopen(capture_path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(capture_path);
    return text;
}

#define EXEC_OK_JSON                                                                           \
    "'{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","        \
    "\"status\":{\"token\":\"exec-tok-lingering\"}}'"

/* A plugin that closes its output and lingers: one deadline covers reading and waiting,
 * and what it started dies with it. Bounds are generous upper bounds only. */
START_TEST(test_exec_lingering_plugin)
{
    static const char *const scripts[] = {
        "echo " EXEC_OK_JSON "; exec >&- 2>&-; sleep 30",
        /* a child keeps stdout open */
        "echo " EXEC_OK_JSON "; sleep 30 & echo $! > \"$(dirname \"$0\")/bg.pid\"; exit 0",
    };
    struct kube_config *cfg = exec_cfg(scripts[_i], "client.authentication.k8s.io/v1");
    struct kube_exec_cred cred;
    char err[512] = "", pidfile[128], state[512] = "";
    int64_t t0 = mono_ms(), took;
    int rc = kube_exec_run(cfg, 1000, &cred, err, sizeof(err));
    FILE *f;

    took = mono_ms() - t0;
    ck_assert_msg(took < 10000, "took %lld ms with a 1000 ms deadline", (long long)took);
    ck_assert_int_eq(rc, NSC_ERR_AUTH);
    ck_assert_msg(strstr(err, "no answer within 1000 ms") != NULL, "%s", err);
    snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", plugin_dir);
    f = fopen(pidfile, "r");
    if (f != NULL) {
        int bg = 0, gone = 0;
        char stat_path[64];
        FILE *st;

        ck_assert_int_eq(fscanf(f, "%d", &bg), 1);
        fclose(f);
        unlink(pidfile);
        /* gone, or a zombie waiting for a reaper that is not ours; SIGKILL is delivered
         * asynchronously, so give a loaded machine a few seconds to carry it out */
        snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", bg);
        for (t0 = mono_ms(); mono_ms() - t0 < 5000; usleep(20000)) {
            st = fopen(stat_path, "r");
            if ((gone = st == NULL))
                break;
            state[0] = '\0';
            if (fgets(state, sizeof(state), st) == NULL)
                state[0] = '\0';
            fclose(st);
            if (strstr(state, ") Z ") != NULL)
                break;
        }
        ck_assert_msg(gone || strstr(state, ") Z ") != NULL, "the plugin's child lives on: %s",
                      state);
    }
    exec_done(cfg);
}
END_TEST

/* The plugin's stderr is logged prefixed with its name, bounded, control bytes escaped. */
START_TEST(test_exec_stderr_bounded)
{
    struct kube_config *cfg =
        exec_cfg("printf 'first\\033[31m red\\n' >&2\n"
                 "i=0; while [ $i -lt 20 ]; do echo noise$i >&2; i=$((i+1)); done\n"
                 "head -c 100000 /dev/zero | tr '\\000' a >&2\n"
                 "exit 5",
                 "client.authentication.k8s.io/v1");
    struct kube_exec_cred cred;
    char err[512] = "";
    const char *out;
    int rc;

    log_set_level(NSC_LOG_DEBUG);
    capture_begin();
    rc = kube_exec_run(cfg, 5000, &cred, err, sizeof(err));
    out = capture_end();
    ck_assert_int_eq(rc, NSC_ERR_AUTH);
    ck_assert_msg(strstr(err, "exited with status 5") != NULL, "%s", err);
    ck_assert_msg(strstr(out, "exec plugin plugin: stderr: first\\x1b[31m red\n") != NULL, "%s",
                  out);
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_msg(strstr(out, "stderr: noise6\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "stderr: noise7\n") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "(more lines not shown)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "more bytes not shown)") != NULL, "%s", out);
    ck_assert_msg(strlen(out) < 8192, "%zu bytes of log for one run", strlen(out));
    exec_done(cfg);
}
END_TEST

/* A server that accepts the connection and never answers: the kernel completes the
 * handshake for a listening socket nobody accepts on. */
static int
silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct kube_client *
silent_client(int port, const struct kube_client_opts *o)
{
    struct kube_config *cfg = calloc(1, sizeof(*cfg));
    struct kube_client *c = NULL;
    char url[64], err[256] = "";

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cfg->server = strdup(url);
    cfg->source = strdup("test");
    cfg->namespace = strdup("default");
    ck_assert_msg(kube_client_new(cfg, o, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

static int
discard_sink(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

/* A request, and a list with the informer's long deadline, fail within their bounds with
 * an error naming the path and "timed out", and the failure is logged at the default
 * level. Upper bounds only: the verdict does not depend on the machine's speed. */
START_TEST(test_silent_server_times_out)
{
    struct kube_client_opts o = {.timeout_ms = 1000, .stall_timeout_ms = 1000};
    struct kube_resp resp;
    char buf[512];
    const char *out;
    int port, fd = silent_listener(&port), rc;
    struct kube_client *c = silent_client(port, &o);
    int64_t t0, took;

    log_set_level(NSC_LOG_INFO);
    capture_begin();
    t0 = mono_ms();
    rc = kube_request(c, "GET", "/api/v1/nodes", NULL, NULL, 0, &resp);
    took = mono_ms() - t0;
    out = capture_end();
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    ck_assert_msg(took < 10000, "took %lld ms with a 1000 ms deadline", (long long)took);
    kube_resp_describe(&resp, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "GET /api/v1/nodes: ") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "timed out after ") != NULL, "%s", buf);
    ck_assert_msg(strstr(out, "W") == out && strstr(out, "/api/v1/nodes: timed out") != NULL,
                  "no warning: %s", out);
    kube_resp_clear(&resp);

    /* a call that hangs is said to be slow while it waits: a quarter of its deadline, long
     * before it fails (curl looks at least once a second) */
    o.timeout_ms = o.stall_timeout_ms = 4000;
    kube_client_free(c);
    c = silent_client(port, &o);
    capture_begin();
    rc = kube_request(c, "GET", "/api/v1/namespaces", NULL, NULL, 0, &resp);
    out = capture_end();
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    {
        const char *slow =
            strstr(out, "GET /api/v1/namespaces: slow, no complete answer after");
        const char *fail = strstr(out, "/api/v1/namespaces: timed out");
        ck_assert_msg(slow != NULL && fail != NULL && slow < fail, "%s", out);
        ck_assert_ptr_null(strstr(slow + 40, "slow, no complete answer")); /* once */
    }
    kube_resp_clear(&resp);

    /* the informer lists with a 120 s deadline: the stall limit ends it first */
    t0 = mono_ms();
    rc = kube_request_stream(c, "/api/v1/pods?limit=500", 120000, discard_sink, NULL, &resp);
    took = mono_ms() - t0;
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    ck_assert_msg(took < 10000, "list took %lld ms with a 1000 ms stall limit",
                  (long long)took);
    kube_resp_describe(&resp, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "GET /api/v1/pods?limit=500: ") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "timed out") != NULL, "%s", buf);
    kube_resp_clear(&resp);
    kube_client_free(c);
    close(fd);
}
END_TEST

START_TEST(test_client_timeouts_range_checked)
{
    struct kube_client_opts o = {.timeout_ms = 4000000};
    struct kube_config *cfg = calloc(1, sizeof(*cfg));
    struct kube_client *c = NULL;
    char err[256] = "";

    cfg->server = strdup("http://127.0.0.1:1");
    cfg->source = strdup("test");
    cfg->namespace = strdup("default");
    ck_assert_int_eq(kube_client_new(cfg, &o, &c, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "request timeout 4000000 ms is out of range") != NULL, "%s", err);
}
END_TEST

START_TEST(test_status_mapping)
{
    ck_assert_int_eq(kube_status_of_http(200), 0);
    ck_assert_int_eq(kube_status_of_http(201), 0);
    ck_assert_int_eq(kube_status_of_http(404), NSC_ERR_NOT_FOUND);
    ck_assert_int_eq(kube_status_of_http(403), NSC_ERR_AUTH);
    ck_assert_int_eq(kube_status_of_http(401), NSC_ERR_AUTH);
    ck_assert_int_eq(kube_status_of_http(422), NSC_ERR_INVALID);
    ck_assert_int_eq(kube_status_of_http(409), NSC_ERR_TRANSIENT);
    ck_assert_int_eq(kube_status_of_http(429), NSC_ERR_TRANSIENT);
    ck_assert_int_eq(kube_status_of_http(503), NSC_ERR_TRANSIENT);
}
END_TEST

START_TEST(test_resp_describe)
{
    struct kube_resp r = {0};
    char buf[256];

    log_redact_clear();
    log_redact_add("tok-abcdef");
    r.status = 409;
    snprintf(r.method, sizeof(r.method), "PUT");
    snprintf(r.path, sizeof(r.path), "/api/v1/nodes/a");
    snprintf(r.reason, sizeof(r.reason), "Conflict");
    snprintf(r.message, sizeof(r.message), "modified; token tok-abcdef");
    kube_resp_describe(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "PUT /api/v1/nodes/a: 409 Conflict: modified; token [redacted]");
    r.status = 0;
    snprintf(r.message, sizeof(r.message), "Couldn't connect to server");
    kube_resp_describe(&r, buf, sizeof(buf));
    ck_assert_str_eq(buf, "PUT /api/v1/nodes/a: no response: Couldn't connect to server");
}
END_TEST

TCase *
test_kube_config_tcase(void)
{
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, test_full_kubeconfig);
    tcase_add_test(tc, test_token_is_redacted);
    tcase_add_test(tc, test_exec_and_json);
    tcase_add_test(tc, test_merge_first_wins);
    tcase_add_test(tc, test_invalid_fixtures);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_in_cluster);
    tcase_add_test(tc, test_directories_named);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_ratelimit);
    tcase_add_test(tc, test_parse_time);
    tcase_add_test(tc, test_exec_plugin);
    tcase_add_loop_test(tc, test_exec_lingering_plugin, 0, 2);
    tcase_add_test(tc, test_exec_stderr_bounded);
    tcase_add_test(tc, test_silent_server_times_out);
    tcase_add_test(tc, test_client_timeouts_range_checked);
    tcase_add_test(tc, test_status_mapping);
    tcase_add_test(tc, test_resp_describe);
    return tc;
}
