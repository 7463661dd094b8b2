/* Interned strings and the small hash tables of the engine model: label keys and values,
 * names and namespaces become 32-bit ids so that comparisons are integer compares. */
#ifndef NSC_MODEL_INTERN_H
#define NSC_MODEL_INTERN_H

#include <stddef.h>
#include <stdint.h>

/** Id 0 means "absent"; the empty string is a real value with its own id. */
#define INTERN_NONE 0u

/**
 * A string interner. Strings are copied into chunks that live until intern_free(), so
 * an id and the pointer intern_str() returns stay valid for the interner's life. Strings
 * are never removed: label values churn slowly (a new ReplicaSet hash per rollout), which
 * is a few bytes per rollout.
 */
struct intern {
    char **strs;    /* by id */
    uint32_t *lens; /* by id */
    uint32_t n, cap;
    uint32_t *table; /* open addressing, holds ids, 0 = empty */
    uint32_t table_mask;
    char *chunk; /* current chunk being filled */
    size_t chunk_used, chunk_cap;
    char **chunks;
    size_t n_chunks;
};

/** Initialise an empty interner. Returns 0 or NSC_ERR_NOMEM. */
int intern_init(struct intern *in);
/** Free every string; ids become invalid. */
void intern_free(struct intern *in);
/** Id of s (len bytes, not necessarily NUL-terminated), adding it. 0 only on NOMEM. */
uint32_t intern_get(struct intern *in, const char *s, size_t len);
/** Same for a NUL-terminated string; NULL gives INTERN_NONE. */
uint32_t intern_cstr(struct intern *in, const char *s);
/** Id of s when present, else INTERN_NONE; never adds. */
uint32_t intern_find(const struct intern *in, const char *s, size_t len);
/** The string of an id (borrowed, NUL-terminated); "" for INTERN_NONE. */
const char *intern_str(const struct intern *in, uint32_t id);

/** 64-bit hash of a byte string (FNV-1a folded with a final mix). */
uint64_t intern_hash(const void *data, size_t len);

/**
 * String -> uint32 map with owned key copies, linear probing and backward-shift delete
 * (no tombstones, so a long-running watch does not degrade it).
 */
struct smap {
    char **keys;
    uint32_t *vals;
    uint64_t *hashes;
    uint32_t mask; /* capacity - 1; capacity is a power of two, 0 before first insert */
    uint32_t n;
};

void smap_init(struct smap *m);
void smap_free(struct smap *m);
/** Value of key into *val: 1 when found, 0 when not. */
int smap_get(const struct smap *m, const char *key, uint32_t *val);
/** Insert or overwrite. Returns 0 or NSC_ERR_NOMEM. */
int smap_put(struct smap *m, const char *key, uint32_t val);
/** Remove key; returns 1 when it was present. */
int smap_del(struct smap *m, const char *key);

/** uint32 -> int32 counter map (topology domain counts); key 0 is not allowed. */
struct u32map {
    uint32_t *keys;
    int32_t *vals;
    uint32_t mask;
    uint32_t n;
};

void u32map_init(struct u32map *m);
void u32map_free(struct u32map *m);
void u32map_clear(struct u32map *m);
/** Value for key, 0 when absent. */
int32_t u32map_get(const struct u32map *m, uint32_t key);
/** 1 when key is present (even with value 0). */
int u32map_has(const struct u32map *m, uint32_t key);
/** Add delta to key's value (creating it at 0). Returns 0 or NSC_ERR_NOMEM. */
int u32map_add(struct u32map *m, uint32_t key, int32_t delta);
/** Remove key (no-op when absent). */
void u32map_del(struct u32map *m, uint32_t key);

#endif
