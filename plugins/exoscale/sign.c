/* EXO2-HMAC-SHA256 request signing, byte for byte as egoscale and
 * requests-exoscale-auth do it (notes/exoscale-api.md §1). */
#include "config.h"

#include "exo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

struct qparam {
    char *name;
    char *value;
    int count;
};

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *
exo_url_decode(const char *in, size_t len, bool plus_is_space)
{
    char *out = malloc(len + 1);
    size_t i, o = 0;

    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        if (in[i] == '%') {
            int hi, lo;

            if (i + 2 >= len) {
                free(out);
                return NULL;
            }
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int
qparam_cmp(const void *a, const void *b)
{
    return strcmp(((const struct qparam *)a)->name, ((const struct qparam *)b)->name);
}

static void
qparams_free(struct qparam *qp, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(qp[i].name);
        free(qp[i].value);
    }
    free(qp);
}

/* Parse a raw query the way Go's url.ParseQuery does: '&'-separated, each "name=value"
 * or a bare name (value ""); names repeated are remembered with their count so that
 * they can be left out, as egoscale leaves them out. */
static int
parse_query(const char *query, struct qparam **out, size_t *n_out)
{
    struct qparam *qp = NULL;
    size_t n = 0, cap = 0;
    const char *p = query;

    *out = NULL;
    *n_out = 0;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        size_t seg_len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', seg_len);
        size_t name_len = eq ? (size_t)(eq - p) : seg_len;
        char *name, *value;
        size_t i;

        if (seg_len == 0) {
            p = amp ? amp + 1 : NULL;
            continue;
        }
        name = exo_url_decode(p, name_len, true);
        value = eq ? exo_url_decode(eq + 1, seg_len - name_len - 1, true) : strdup("");
        if (name == NULL || value == NULL) {
            int rc = (name == NULL && value == NULL) ? NSC_ERR_NOMEM : NSC_ERR_INVALID;

            free(name);
            free(value);
            qparams_free(qp, n);
            return rc;
        }
        for (i = 0; i < n; i++) {
            if (strcmp(qp[i].name, name) == 0)
                break;
        }
        if (i < n) {
            qp[i].count++;
            free(name);
            free(value);
        } else {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                struct qparam *g = realloc(qp, ncap * sizeof(*qp));

                if (g == NULL) {
                    free(name);
                    free(value);
                    qparams_free(qp, n);
                    return NSC_ERR_NOMEM;
                }
                qp = g;
                cap = ncap;
            }
            qp[n].name = name;
            qp[n].value = value;
            qp[n].count = 1;
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    if (n > 1)
        qsort(qp, n, sizeof(*qp), qparam_cmp);
    *out = qp;
    *n_out = n;
    return NSC_OK;
}

int
exo_sign_message(const char *method, const char *path, const char *query, const char *body,
                 size_t body_len, int64_t expires_s, char **out, char **signed_args)
{
    struct qparam *qp = NULL;
    size_t n_qp = 0, i, values_len = 0, names_len = 0, total;
    char *msg = NULL, *names = NULL, *w;
    char exp_text[24];
    int rc;

    *out = NULL;
    *signed_args = NULL;
    rc = parse_query(query, &qp, &n_qp);
    if (rc < 0)
        return rc;
    for (i = 0; i < n_qp; i++) {
        if (qp[i].count != 1)
            continue;
        values_len += strlen(qp[i].value);
        names_len += strlen(qp[i].name) + 1;
    }
    snprintf(exp_text, sizeof(exp_text), "%lld", (long long)expires_s);
    total = strlen(method) + 1 + strlen(path) + 1 + body_len + 1 + values_len + 1 + 1 +
            strlen(exp_text) + 1;
    msg = malloc(total);
    names = malloc(names_len + 1);
    if (msg == NULL || names == NULL) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    w = msg;
    w += sprintf(w, "%s %s\n", method, path);
    if (body_len > 0) {
        memcpy(w, body, body_len);
        w += body_len;
    }
    *w++ = '\n';
    names[0] = '\0';
    for (i = 0; i < n_qp; i++) {
        size_t vl;

        if (qp[i].count != 1)
            continue;
        vl = strlen(qp[i].value);
        memcpy(w, qp[i].value, vl);
        w += vl;
        if (names[0] != '\0')
            strcat(names, ";");
        strcat(names, qp[i].name);
    }
    /* Segment 4, the signed header values, is empty by definition of the scheme. */
    w += sprintf(w, "\n\n%s", exp_text);
    qparams_free(qp, n_qp);
    *out = msg;
    *signed_args = names;
    return NSC_OK;
fail:
    qparams_free(qp, n_qp);
    free(msg);
    free(names);
    return rc;
}

int
exo_sign(const char *key, const char *secret, const char *method, const char *path,
         const char *query, const char *body, size_t body_len, int64_t expires_s, char **out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    unsigned char sig[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    char *msg = NULL, *names = NULL, *hdr;
    size_t msg_len, hdr_len;
    int rc;

    *out = NULL;
    rc = exo_sign_message(method, path, query, body, body_len, expires_s, &msg, &names);
    if (rc < 0)
        return rc;
    /* The message may hold NUL bytes from the body: its length is computed, not strlen. */
    msg_len = strlen(method) + 1 + strlen(path) + 1 + body_len;
    msg_len += strlen(msg + msg_len);
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, msg_len,
             mac, &mac_len) == NULL) {
        rc = NSC_ERR_INTERNAL;
        goto done;
    }
    EVP_EncodeBlock(sig, mac, (int)mac_len);
    hdr_len = strlen(key) + strlen(names) + strlen((char *)sig) + 128;
    hdr = malloc(hdr_len);
    if (hdr == NULL) {
        rc = NSC_ERR_NOMEM;
        goto done;
    }
    if (names[0] != '\0')
        snprintf(hdr, hdr_len,
                 "EXO2-HMAC-SHA256 credential=%s,signed-query-args=%s,expires=%lld,"
                 "signature=%s",
                 key, names, (long long)expires_s, (char *)sig);
    else
        snprintf(hdr, hdr_len, "EXO2-HMAC-SHA256 credential=%s,expires=%lld,signature=%s", key,
                 (long long)expires_s, (char *)sig);
    *out = hdr;
    rc = NSC_OK;
done:
    OPENSSL_cleanse(mac, sizeof(mac));
    free(msg);
    free(names);
    return rc;
}
