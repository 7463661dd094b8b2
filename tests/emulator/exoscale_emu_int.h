/* Internals shared by the files of the Exoscale emulator (not for tests to use). */
#ifndef EXOSCALE_EMU_INT_H
#define EXOSCALE_EMU_INT_H

#include <pthread.h>
#include <stdint.h>

#include <microhttpd.h>

#include "exoscale_emu.h"

#define EMU_MAX_FAULTS 64

enum emu_op_kind { EMU_OP_SCALE = 0, EMU_OP_EVICT = 1 };

/* An asynchronous operation and what it will do when due. */
struct emu_op {
    char id[40];
    int kind;
    char pool_id[40];
    int64_t size;
    json_t *evict_ids;
    int fail;
    int quota;
    char reason[32];
    char message[256];
    int64_t due_ms;
    int done;
};

/* Lifecycle bookkeeping of an instance beyond its JSON: boot and Node timing. */
struct emu_meta {
    char id[40];
    char pool_id[40];
    char node_name[80];
    int64_t running_at_ms;
    int64_t ready_at_ms;
    int node_posted;
    int node_ready;
    int gone;
    int withheld; /* a never-register fault took it: its Node is never posted */
};

struct emu_fault {
    char op[64];
    char kind[20];
    char pool[40]; /* never-register: instance pool or nodepool id, or "*" */
    int count;
    int retry_after;
    int delay_ms;
    char reason[32];
    char message[256];
};

enum emu_kube_kind { EMU_KUBE_CREATE = 0, EMU_KUBE_READY = 1, EMU_KUBE_DELETE = 2 };

struct emu_kube_action {
    int kind;
    char name[80];
    char *body; /* owned; the Node for CREATE */
};

struct exo_emu {
    struct MHD_Daemon *d;
    pthread_t ticker;
    int ticker_running;
    int stop;
    pthread_mutex_t lock;
    uint16_t port;
    char zone[64];
    uint64_t seed;
    uint64_t uuid_seq;
    json_t *creds;
    json_t *itypes;
    json_t *quotas;
    json_t *pools;
    json_t *instances;
    json_t *clusters;
    json_t *opjson;
    json_t *calls;
    /* op -> {"first_ms", "last_ms"}: wall-clock ms of its first and last call since the
     * reset, so that a benchmark can time a decision against the kube side's write log */
    json_t *call_times;
    uint64_t n_calls;
    struct emu_op *ops;
    size_t n_ops, cap_ops;
    struct emu_meta *meta;
    size_t n_meta, cap_meta;
    struct emu_fault faults[EMU_MAX_FAULTS];
    size_t n_faults;
    int64_t op_delay_ms;
    int64_t boot_delay_ms;
    int64_t node_ready_delay_ms;
    /* The kube half: configuration and the actions waiting to be sent. */
    char *kube_url;
    char *kube_token;
    char *kube_ca_file;
    int kube_insecure;
    pthread_mutex_t kube_lock;
    pthread_mutex_t kube_flush_lock; /* keeps actions in order across threads */
    struct emu_kube_action *kq;
    size_t n_kq, cap_kq;
    uint64_t kube_errors;
};

int64_t emu_now_ms(void);
void emu_timestamp(int64_t ms, char out[32]);
struct emu_meta *emu_meta_find(struct exo_emu *e, const char *id);
int emu_load_world(struct exo_emu *e, const json_t *w, char *err, size_t err_len);
void emu_tick_locked(struct exo_emu *e);

/* exoscale_emu_kube.c */
int emu_kube_init(struct exo_emu *e, const struct exo_emu_opts *o, char *err, size_t err_len);
void emu_kube_fini(struct exo_emu *e);
/* Queue an action (caller holds e->lock); takes body. */
void emu_kube_queue(struct exo_emu *e, int kind, const char *name, char *body);
/* The Node JSON for an instance that became running (owned by the caller). */
char *emu_kube_node_json(struct exo_emu *e, const struct emu_meta *m, const json_t *inst);
/* Send the queued actions (without e->lock). */
void emu_kube_flush(struct exo_emu *e);

#endif
