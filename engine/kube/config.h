/* Kubernetes client configuration: in-cluster service-account settings or a kubeconfig
 * (libyaml; JSON is valid YAML), reduced to what one connection needs. */
#ifndef NSC_KUBE_CONFIG_H
#define NSC_KUBE_CONFIG_H

#include <stddef.h>

#include <nodescaler/backend.h>

/** An exec credential plugin (client.authentication.k8s.io v1 or v1beta1). */
struct kube_exec {
    char *api_version;
    char *command; /* resolved against the kubeconfig's folder when relative with a '/' */
    char **args;   /* n_args strings */
    size_t n_args;
    char **env; /* "NAME=VALUE", n_env strings, added to the inherited environment */
    size_t n_env;
    int provide_cluster_info;
    char *interactive_mode; /* Never | IfAvailable | Always; NULL when unset */
};

/** One resolved connection: server, TLS material, credentials. All owned. */
struct kube_config {
    char *source;    /* "kubeconfig FILE (context C)" or "in-cluster": names the origin */
    char *server;    /* scheme://host[:port], no trailing '/' */
    char *namespace; /* the context's or the service account's namespace; never NULL */
    char *ca_file;
    unsigned char *ca_data; /* PEM, decoded from certificate-authority-data */
    size_t ca_data_len;
    char *cert_file;
    char *key_file;
    unsigned char *cert_data; /* PEM */
    size_t cert_data_len;
    unsigned char *key_data; /* PEM; secret */
    size_t key_data_len;
    char *token;      /* secret */
    char *token_file; /* re-read at least every minute and on 401 */
    int insecure;     /* insecure-skip-tls-verify: true in the file, nothing else */
    char *tls_server_name;
    struct kube_exec *exec; /* NULL without an exec plugin */
};

/**
 * Load a kubeconfig. `paths` is one file or several separated by ':' (as $KUBECONFIG),
 * merged so that the first file defining a name, or current-context, wins. `context`
 * (NULL: current-context) picks the context. Relative paths inside a file are resolved
 * against that file's folder. Secrets found are registered with log_redact_add.
 * On success *out is owned by the caller (kube_config_free). On failure returns
 * NSC_ERR_INVALID (or NSC_ERR_NOMEM) and writes into err a message naming the file and
 * the field, e.g. "kubeconfig /x: users[0] \"u\".user.client-key-data: not base64".
 */
int kube_config_load_kubeconfig(const char *paths, const char *context,
                                struct kube_config **out, char *err, size_t err_len);

/**
 * In-cluster configuration: server from $KUBERNETES_SERVICE_HOST/PORT (IPv6 bracketed),
 * token file, CA and namespace from sa_dir (NULL: /var/run/secrets/kubernetes.io/
 * serviceaccount); $POD_NAMESPACE overrides the namespace file. Errors as above, naming
 * the variable or file.
 */
int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, char *err,
                           size_t err_len);

/**
 * Choose like the daemon does: an explicit kubeconfig (may be NULL), else in-cluster when
 * $KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG, else $HOME/.kube/config.
 */
int kube_config_auto(const char *kubeconfig, const char *context, struct kube_config **out,
                     char *err, size_t err_len);

/**
 * Format a redacted error message into err (may be NULL) and return NSC_ERR_INVALID; the
 * module's one way of filling caller-supplied error buffers.
 */
int kube_errf(char *err, size_t err_len, const char *fmt, ...) NSC_PRINTF(3, 4);

/** Free a configuration, wiping secrets first. NULL accepted. */
void kube_config_free(struct kube_config *cfg);

/**
 * Decode standard base64 (padding optional, whitespace ignored) into a new buffer (owned,
 * NUL-terminated for convenience). Returns 0, NSC_ERR_INVALID on a bad character or
 * length, NSC_ERR_NOMEM.
 */
int kube_base64_decode(const char *in, unsigned char **out, size_t *out_len);

/**
 * Read a whole file (owned, NUL-terminated) up to max_len bytes. Returns 0,
 * NSC_ERR_NOT_FOUND when it cannot be opened (errno kept), NSC_ERR_INVALID when too big.
 */
int kube_read_file(const char *path, size_t max_len, char **out, size_t *out_len);

/** strerror, but "is a directory" for EISDIR (kube_read_file's answer for a directory). */
const char *kube_strerror(int e);

#endif
