/* Exoscale client configuration: credentials, zone and endpoint from --backend-opt keys or
 * the environment, checked at start so that a mistake is named before the first call. */
#include "config.h"

#include "exo.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/crypto.h>

/* A mounted Secret holds one short line; anything bigger is the wrong file. */
#define CRED_FILE_MAX 4096

static void set_err(char *err, size_t err_len, const char *fmt, ...) NSC_PRINTF(3, 4);

static void
set_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* Read a credential file: its content with trailing whitespace (newline) dropped. */
static int
read_cred_file(const char *path, const char *what, char **out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf;
    size_t n;

    *out = NULL;
    if (f == NULL) {
        set_err(err, err_len, "%s: cannot open '%s': %s", what, path, strerror(errno));
        return NSC_ERR_INVALID;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        /* fopen takes a directory and fread then reads nothing: an empty credential */
        fclose(f);
        set_err(err, err_len, "%s: '%s' is a directory", what, path);
        return NSC_ERR_INVALID;
    }
    buf = malloc(CRED_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return NSC_ERR_NOMEM;
    }
    n = fread(buf, 1, CRED_FILE_MAX + 1, f);
    if (ferror(f)) {
        int e = errno;

        fclose(f);
        OPENSSL_cleanse(buf, CRED_FILE_MAX + 1);
        free(buf);
        set_err(err, err_len, "%s: cannot read '%s': %s", what, path, strerror(e));
        return NSC_ERR_INVALID;
    }
    fclose(f);
    if (n > CRED_FILE_MAX) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        set_err(err, err_len, "%s: '%s' is larger than %d bytes; expected one line", what, path,
                CRED_FILE_MAX);
        return NSC_ERR_INVALID;
    }
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    *out = buf;
    return NSC_OK;
}

/* Value of a setting: the option or variable itself, else the content of its file
 * variant. Both set is a mistake we name rather than silently picking one. */
static int
get_cred(const struct nsc_host *host, const char *key, const char *env, const char *fkey,
         const char *fenv, char **out, char *err, size_t err_len)
{
    const char *direct = host->option(host, key, env);
    const char *file = host->option(host, fkey, fenv);
    char what[160];

    *out = NULL;
    if (direct != NULL && direct[0] != '\0' && file != NULL && file[0] != '\0') {
        set_err(err, err_len,
                "both %s (--backend-opt %s) and %s (--backend-opt %s) are set; "
                "set only one",
                env, key, fenv, fkey);
        return NSC_ERR_INVALID;
    }
    if (direct != NULL && direct[0] != '\0') {
        *out = strdup(direct);
        return *out ? NSC_OK : NSC_ERR_NOMEM;
    }
    if (file != NULL && file[0] != '\0') {
        snprintf(what, sizeof(what), "%s (--backend-opt %s)", fenv, fkey);
        return read_cred_file(file, what, out, err, err_len);
    }
    set_err(err, err_len, "%s is not set (nor --backend-opt %s, nor %s with a file)", env, key,
            fenv);
    return NSC_ERR_INVALID;
}

static bool
all_chars(const char *s, const char *extra)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
            return false;
    }
    return true;
}

/* Plain http is for a local emulator only, so the host must be a loopback IP literal:
 * a name (even "localhost") would be resolved through DNS or /etc/hosts, and the host
 * table cannot pin a name to an address. inet_pton reads only dotted-quad IPv4, so
 * "127.999.1.1" and "127.0.0.1.10.255.255.1" are refused. */
static bool
is_loopback_literal(const char *host, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 2];
    struct in6_addr a6;
    struct in_addr a4;

    if (len == 0 || len >= sizeof(buf))
        return false;
    if (host[0] == '[') {
        if (len < 3 || host[len - 1] != ']')
            return false;
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
        return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a4) != 1)
        return false;
    return (ntohl(a4.s_addr) >> 24) == 127;
}

/* Check EXOSCALE_API_ENDPOINT and normalise it to a base URL ending in the API prefix. */
static int
check_endpoint(const struct nsc_host *host, const char *url, struct exo_config *cfg, char *err,
               size_t err_len)
{
    const char *hs, *he, *path;
    size_t len;
    bool https;

    if (strncmp(url, "https://", 8) == 0) {
        https = true;
        hs = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        https = false;
        hs = url + 7;
    } else {
        set_err(err, err_len,
                "EXOSCALE_API_ENDPOINT (--backend-opt api-endpoint): '%s' is "
                "not an https:// URL",
                url);
        return NSC_ERR_INVALID;
    }
    path = strchr(hs, '/');
    if (path == NULL)
        path = hs + strlen(hs);
    if (strpbrk(url, " \t\r\n?#@") != NULL) {
        set_err(err, err_len,
                "EXOSCALE_API_ENDPOINT (--backend-opt api-endpoint): '%s' "
                "must be a plain base URL (no spaces, query, fragment or user info)",
                url);
        return NSC_ERR_INVALID;
    }
    /* Host end: before ":port", except inside an IPv6 literal. */
    he = path;
    if (*hs == '[') {
        const char *rb = memchr(hs, ']', (size_t)(path - hs));

        if (rb == NULL) {
            set_err(err, err_len, "EXOSCALE_API_ENDPOINT: '%s' has an unclosed '['", url);
            return NSC_ERR_INVALID;
        }
        he = rb + 1;
    } else {
        const char *colon = memchr(hs, ':', (size_t)(path - hs));

        if (colon != NULL)
            he = colon;
    }
    if (he != path) {
        const char *d = he + 1;
        long port = 0;

        for (; *he == ':' && d < path && isdigit((unsigned char)*d) && port <= 65535; d++)
            port = port * 10 + (*d - '0');
        if (*he != ':' || d != path || port < 1 || port > 65535) {
            set_err(err, err_len,
                    "EXOSCALE_API_ENDPOINT (--backend-opt api-endpoint): '%s' has a "
                    "malformed port (expected :1 to :65535)",
                    url);
            return NSC_ERR_INVALID;
        }
    }
    if (he == hs) {
        set_err(err, err_len,
                "EXOSCALE_API_ENDPOINT (--backend-opt api-endpoint): '%s' has "
                "no host",
                url);
        return NSC_ERR_INVALID;
    }
    if (!https) {
        if (!is_loopback_literal(hs, (size_t)(he - hs))) {
            set_err(err, err_len,
                    "EXOSCALE_API_ENDPOINT (--backend-opt api-endpoint): plain "
                    "http is allowed only for a loopback IP literal (127.0.0.0/8 as "
                    "a.b.c.d, or [::1]; not a name such as localhost), not '%s'; "
                    "use https",
                    url);
            return NSC_ERR_INVALID;
        }
        host->log(host, NSC_LOG_WARNING,
                  "EXOSCALE_API_ENDPOINT %s is plain http: requests are signed but not "
                  "encrypted (acceptable only for a local emulator)",
                  url);
        cfg->plain_http = true;
    }
    len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    /* A bare host means the standard prefix; any explicit path is taken as given. */
    if ((size_t)(path - url) >= len) {
        cfg->base_url = malloc(len + 4);
        if (cfg->base_url == NULL)
            return NSC_ERR_NOMEM;
        memcpy(cfg->base_url, url, len);
        memcpy(cfg->base_url + len, "/v2", 4);
    } else {
        cfg->base_url = strndup(url, len);
        if (cfg->base_url == NULL)
            return NSC_ERR_NOMEM;
    }
    return NSC_OK;
}

int
exo_config_load(const struct nsc_host *host, struct exo_config *cfg, char *err, size_t err_len)
{
    const char *zone, *envname, *endpoint, *ca;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    rc = get_cred(host, "api-key", "EXOSCALE_API_KEY", "api-key-file", "EXOSCALE_API_KEY_FILE",
                  &cfg->key, err, err_len);
    if (rc < 0)
        goto fail;
    if (cfg->key[0] == '\0' || strlen(cfg->key) > 128 || !all_chars(cfg->key, "")) {
        set_err(err, err_len,
                "EXOSCALE_API_KEY (--backend-opt api-key): an Exoscale API key "
                "is 1 to 128 letters and digits (\"EXO...\"); the value given is not");
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    rc = get_cred(host, "api-secret", "EXOSCALE_API_SECRET", "api-secret-file",
                  "EXOSCALE_API_SECRET_FILE", &cfg->secret, err, err_len);
    if (rc < 0)
        goto fail;
    /* The key is not the secret, but it names the account: it stays out of logs too. */
    if (host->redact(host, cfg->secret) < 0 || host->redact(host, cfg->key) < 0) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    {
        const char *s;

        for (s = cfg->secret; *s; s++) {
            if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
                break;
        }
        if (cfg->secret[0] == '\0' || *s != '\0') {
            set_err(err, err_len,
                    "EXOSCALE_API_SECRET (--backend-opt api-secret): the value "
                    "is empty or holds whitespace or non-ASCII bytes (value not shown)");
            rc = NSC_ERR_INVALID;
            goto fail;
        }
    }
    zone = host->option(host, "zone", "EXOSCALE_ZONE");
    if (zone == NULL || zone[0] == '\0') {
        set_err(err, err_len,
                "EXOSCALE_ZONE is not set (nor --backend-opt zone): the zone "
                "of the cluster, e.g. ch-gva-2");
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    if (strlen(zone) > 63 || !all_chars(zone, "-")) {
        set_err(err, err_len,
                "EXOSCALE_ZONE (--backend-opt zone): '%s' is not a zone name "
                "(letters, digits and '-', e.g. ch-gva-2)",
                zone);
        rc = NSC_ERR_INVALID;
        goto fail;
    }
    cfg->zone = strdup(zone);
    if (cfg->zone == NULL) {
        rc = NSC_ERR_NOMEM;
        goto fail;
    }
    endpoint = host->option(host, "api-endpoint", "EXOSCALE_API_ENDPOINT");
    if (endpoint != NULL && endpoint[0] != '\0') {
        rc = check_endpoint(host, endpoint, cfg, err, err_len);
        if (rc < 0)
            goto fail;
    } else {
        size_t len;

        envname = host->option(host, "api-environment", "EXOSCALE_API_ENVIRONMENT");
        if (envname == NULL || envname[0] == '\0')
            envname = "api";
        if (strlen(envname) > 63 || !all_chars(envname, "-")) {
            set_err(err, err_len,
                    "EXOSCALE_API_ENVIRONMENT (--backend-opt api-environment): "
                    "'%s' is not a host prefix such as 'api' or 'ppapi'",
                    envname);
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        len = strlen(envname) + strlen(zone) + 32;
        cfg->base_url = malloc(len);
        if (cfg->base_url == NULL) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
        snprintf(cfg->base_url, len, "https://%s-%s.exoscale.com/v2", envname, zone);
    }
    ca = host->option(host, "ca-file", "EXOSCALE_CA_FILE");
    if (ca != NULL && ca[0] != '\0') {
        struct stat st;

        if (stat(ca, &st) == 0 && S_ISDIR(st.st_mode)) {
            set_err(err, err_len,
                    "--backend-opt ca-file (EXOSCALE_CA_FILE): '%s' is a directory", ca);
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        if (access(ca, R_OK) != 0) {
            set_err(err, err_len,
                    "--backend-opt ca-file (EXOSCALE_CA_FILE): cannot read '%s': "
                    "%s",
                    ca, strerror(errno));
            rc = NSC_ERR_INVALID;
            goto fail;
        }
        cfg->ca_file = strdup(ca);
        if (cfg->ca_file == NULL) {
            rc = NSC_ERR_NOMEM;
            goto fail;
        }
    }
    return NSC_OK;
fail:
    exo_config_clear(cfg);
    return rc;
}

void
exo_config_clear(struct exo_config *cfg)
{
    if (cfg->secret != NULL)
        OPENSSL_cleanse(cfg->secret, strlen(cfg->secret));
    free(cfg->key);
    free(cfg->secret);
    free(cfg->zone);
    free(cfg->base_url);
    free(cfg->ca_file);
    memset(cfg, 0, sizeof(*cfg));
}
