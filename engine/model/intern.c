/* Interned strings and the small hash tables of the engine model. */
#include "model/intern.h"

#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

#define INTERN_CHUNK (64 * 1024)

uint64_t
intern_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int
intern_init(struct intern *in)
{
    memset(in, 0, sizeof(*in));
    in->cap = 256;
    in->strs = calloc(in->cap, sizeof(*in->strs));
    in->lens = calloc(in->cap, sizeof(*in->lens));
    in->table = calloc(1024, sizeof(*in->table));
    if (!in->strs || !in->lens || !in->table) {
        intern_free(in);
        return NSC_ERR_NOMEM;
    }
    in->table_mask = 1023;
    static char empty_none[1];
    in->strs[0] = empty_none;
    in->n = 1;
    if (intern_get(in, "", 0) == INTERN_NONE) {
        intern_free(in);
        return NSC_ERR_NOMEM;
    }
    return 0;
}

void
intern_free(struct intern *in)
{
    for (size_t i = 0; i < in->n_chunks; i++)
        free(in->chunks[i]);
    free(in->chunks);
    free(in->strs);
    free(in->lens);
    free(in->table);
    memset(in, 0, sizeof(*in));
}

static char *
intern_store(struct intern *in, const char *s, size_t len)
{
    if (len + 1 > INTERN_CHUNK / 4) {
        /* Long strings get their own block so chunks stay dense. */
        char *own = malloc(len + 1);
        char **nc = realloc(in->chunks, (in->n_chunks + 1) * sizeof(*nc));
        if (!own || !nc) {
            free(own);
            if (nc)
                in->chunks = nc;
            return NULL;
        }
        in->chunks = nc;
        in->chunks[in->n_chunks++] = own;
        memcpy(own, s, len);
        own[len] = 0;
        return own;
    }
    if (!in->chunk || in->chunk_used + len + 1 > in->chunk_cap) {
        char *c = malloc(INTERN_CHUNK);
        char **nc = realloc(in->chunks, (in->n_chunks + 1) * sizeof(*nc));
        if (!c || !nc) {
            free(c);
            if (nc)
                in->chunks = nc;
            return NULL;
        }
        in->chunks = nc;
        in->chunks[in->n_chunks++] = c;
        in->chunk = c;
        in->chunk_used = 0;
        in->chunk_cap = INTERN_CHUNK;
    }
    char *dst = in->chunk + in->chunk_used;
    memcpy(dst, s, len);
    dst[len] = 0;
    in->chunk_used += len + 1;
    return dst;
}

static int
intern_grow(struct intern *in)
{
    uint32_t ncap = (in->table_mask + 1) * 2;
    uint32_t *nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return NSC_ERR_NOMEM;
    for (uint32_t id = 1; id < in->n; id++) {
        uint32_t i = (uint32_t)intern_hash(in->strs[id], in->lens[id]) & (ncap - 1);
        while (nt[i])
            i = (i + 1) & (ncap - 1);
        nt[i] = id;
    }
    free(in->table);
    in->table = nt;
    in->table_mask = ncap - 1;
    return 0;
}

uint32_t
intern_find(const struct intern *in, const char *s, size_t len)
{
    uint32_t i = (uint32_t)intern_hash(s, len) & in->table_mask;
    for (;;) {
        uint32_t id = in->table[i];
        if (!id)
            return INTERN_NONE;
        if (in->lens[id] == len && memcmp(in->strs[id], s, len) == 0)
            return id;
        i = (i + 1) & in->table_mask;
    }
}

uint32_t
intern_get(struct intern *in, const char *s, size_t len)
{
    if (len > UINT32_MAX - 1)
        return INTERN_NONE;
    uint32_t i = (uint32_t)intern_hash(s, len) & in->table_mask;
    for (;;) {
        uint32_t id = in->table[i];
        if (!id)
            break;
        if (in->lens[id] == len && memcmp(in->strs[id], s, len) == 0)
            return id;
        i = (i + 1) & in->table_mask;
    }
    if (in->n == in->cap) {
        uint32_t ncap = in->cap * 2;
        char **ns = realloc(in->strs, ncap * sizeof(*ns));
        if (!ns)
            return INTERN_NONE;
        in->strs = ns;
        uint32_t *nl = realloc(in->lens, ncap * sizeof(*nl));
        if (!nl)
            return INTERN_NONE;
        in->lens = nl;
        in->cap = ncap;
    }
    char *copy = intern_store(in, s, len);
    if (!copy)
        return INTERN_NONE;
    uint32_t id = in->n++;
    in->strs[id] = copy;
    in->lens[id] = (uint32_t)len;
    in->table[i] = id;
    if ((uint64_t)in->n * 2 > (uint64_t)in->table_mask + 1 && intern_grow(in) < 0) {
        /* The string is stored; the table will grow on a later insert. */
    }
    return id;
}

uint32_t
intern_cstr(struct intern *in, const char *s)
{
    if (!s)
        return INTERN_NONE;
    return intern_get(in, s, strlen(s));
}

const char *
intern_str(const struct intern *in, uint32_t id)
{
    if (id == INTERN_NONE || id >= in->n)
        return "";
    return in->strs[id];
}

/* ---- smap ---- */

void
smap_init(struct smap *m)
{
    memset(m, 0, sizeof(*m));
}

void
smap_free(struct smap *m)
{
    if (m->keys) {
        for (uint32_t i = 0; i <= m->mask; i++)
            free(m->keys[i]);
    }
    free(m->keys);
    free(m->vals);
    free(m->hashes);
    memset(m, 0, sizeof(*m));
}

int
smap_get(const struct smap *m, const char *key, uint32_t *val)
{
    if (!m->keys)
        return 0;
    uint64_t h = intern_hash(key, strlen(key));
    uint32_t i = (uint32_t)h & m->mask;
    while (m->keys[i]) {
        if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0) {
            *val = m->vals[i];
            return 1;
        }
        i = (i + 1) & m->mask;
    }
    return 0;
}

static int
smap_rehash(struct smap *m, uint32_t ncap)
{
    char **nk = calloc(ncap, sizeof(*nk));
    uint32_t *nv = calloc(ncap, sizeof(*nv));
    uint64_t *nh = calloc(ncap, sizeof(*nh));
    if (!nk || !nv || !nh) {
        free(nk);
        free(nv);
        free(nh);
        return NSC_ERR_NOMEM;
    }
    if (m->keys) {
        for (uint32_t i = 0; i <= m->mask; i++) {
            if (!m->keys[i])
                continue;
            uint32_t j = (uint32_t)m->hashes[i] & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
            nh[j] = m->hashes[i];
        }
    }
    free(m->keys);
    free(m->vals);
    free(m->hashes);
    m->keys = nk;
    m->vals = nv;
    m->hashes = nh;
    m->mask = ncap - 1;
    return 0;
}

int
smap_put(struct smap *m, const char *key, uint32_t val)
{
    if (!m->keys || (uint64_t)(m->n + 1) * 4 > ((uint64_t)m->mask + 1) * 3) {
        uint32_t ncap = m->keys ? (m->mask + 1) * 2 : 64;
        if (smap_rehash(m, ncap) < 0)
            return NSC_ERR_NOMEM;
    }
    uint64_t h = intern_hash(key, strlen(key));
    uint32_t i = (uint32_t)h & m->mask;
    while (m->keys[i]) {
        if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0) {
            m->vals[i] = val;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    char *copy = strdup(key);
    if (!copy)
        return NSC_ERR_NOMEM;
    m->keys[i] = copy;
    m->vals[i] = val;
    m->hashes[i] = h;
    m->n++;
    return 0;
}

int
smap_del(struct smap *m, const char *key)
{
    if (!m->keys)
        return 0;
    uint64_t h = intern_hash(key, strlen(key));
    uint32_t i = (uint32_t)h & m->mask;
    while (m->keys[i]) {
        if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0)
            break;
        i = (i + 1) & m->mask;
    }
    if (!m->keys[i])
        return 0;
    free(m->keys[i]);
    m->keys[i] = NULL;
    m->n--;
    /* Backward-shift: move later entries of the run into the hole when their home
     * slot allows it, so lookups never need tombstones. */
    uint32_t hole = i;
    uint32_t j = (i + 1) & m->mask;
    while (m->keys[j]) {
        uint32_t home = (uint32_t)m->hashes[j] & m->mask;
        uint32_t dist_j = (j - home) & m->mask;
        uint32_t dist_hole = (hole - home) & m->mask;
        if (dist_hole <= dist_j) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            m->hashes[hole] = m->hashes[j];
            m->keys[j] = NULL;
            hole = j;
        }
        j = (j + 1) & m->mask;
    }
    return 1;
}

/* ---- u32map ---- */

void
u32map_init(struct u32map *m)
{
    memset(m, 0, sizeof(*m));
}

void
u32map_free(struct u32map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

void
u32map_clear(struct u32map *m)
{
    if (m->keys)
        memset(m->keys, 0, ((size_t)m->mask + 1) * sizeof(*m->keys));
    m->n = 0;
}

static inline uint32_t
u32_mix(uint32_t k)
{
    k ^= k >> 16;
    k *= 0x7feb352d;
    k ^= k >> 15;
    k *= 0x846ca68b;
    k ^= k >> 16;
    return k;
}

int32_t
u32map_get(const struct u32map *m, uint32_t key)
{
    if (!m->keys)
        return 0;
    uint32_t i = u32_mix(key) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == key)
            return m->vals[i];
        i = (i + 1) & m->mask;
    }
    return 0;
}

int
u32map_has(const struct u32map *m, uint32_t key)
{
    if (!m->keys)
        return 0;
    uint32_t i = u32_mix(key) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == key)
            return 1;
        i = (i + 1) & m->mask;
    }
    return 0;
}

int
u32map_add(struct u32map *m, uint32_t key, int32_t delta)
{
    if (!m->keys || (uint64_t)(m->n + 1) * 2 > (uint64_t)m->mask + 1) {
        uint32_t ncap = m->keys ? (m->mask + 1) * 2 : 16;
        uint32_t *nk = calloc(ncap, sizeof(*nk));
        int32_t *nv = calloc(ncap, sizeof(*nv));
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return NSC_ERR_NOMEM;
        }
        if (m->keys) {
            for (uint32_t i = 0; i <= m->mask; i++) {
                if (!m->keys[i])
                    continue;
                uint32_t j = u32_mix(m->keys[i]) & (ncap - 1);
                while (nk[j])
                    j = (j + 1) & (ncap - 1);
                nk[j] = m->keys[i];
                nv[j] = m->vals[i];
            }
        }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->mask = ncap - 1;
    }
    uint32_t i = u32_mix(key) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == key) {
            m->vals[i] += delta;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    m->keys[i] = key;
    m->vals[i] = delta;
    m->n++;
    return 0;
}

void
u32map_del(struct u32map *m, uint32_t key)
{
    if (!m->keys)
        return;
    uint32_t i = u32_mix(key) & m->mask;
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & m->mask;
    if (!m->keys[i])
        return;
    m->keys[i] = 0;
    m->n--;
    uint32_t hole = i, j = (i + 1) & m->mask;
    while (m->keys[j]) {
        uint32_t home = u32_mix(m->keys[j]) & m->mask;
        if (((hole - home) & m->mask) <= ((j - home) & m->mask)) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            m->keys[j] = 0;
            hole = j;
        }
        j = (j + 1) & m->mask;
    }
}
