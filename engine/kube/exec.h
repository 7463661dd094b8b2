/* Exec credential plugins (client.authentication.k8s.io v1/v1beta1): run the command,
 * read its ExecCredential, validate it. */
#ifndef NSC_KUBE_EXEC_H
#define NSC_KUBE_EXEC_H

#include <stdint.h>

#include "kube/config.h"

/** A credential from a plugin. All owned; secrets wiped by kube_exec_cred_clear. */
struct kube_exec_cred {
    char *token;    /* or NULL */
    char *cert_pem; /* with key_pem, or both NULL */
    char *key_pem;
    int64_t expiry_ms; /* wall clock ms since epoch; 0 = no expiry given */
};

/**
 * Run cfg->exec with KUBERNETES_EXEC_INFO set, within timeout_ms, and parse its stdout.
 * Secrets found are registered with log_redact_add. Returns 0, NSC_ERR_AUTH when the
 * plugin fails or prints something unusable (err says what, naming the command),
 * NSC_ERR_NOMEM.
 */
int kube_exec_run(const struct kube_config *cfg, long timeout_ms, struct kube_exec_cred *out,
                  char *err, size_t err_len);

/** Wipe and free the credential's fields. */
void kube_exec_cred_clear(struct kube_exec_cred *cred);

/**
 * Parse an RFC 3339 time ("2026-11-26T17:33:17Z", optional fraction and offset) into ms
 * since the epoch. Returns 0 or NSC_ERR_INVALID.
 */
int kube_parse_time(const char *s, int64_t *out_ms);

#endif
