/* Synthetic clusters for the benchmarks: nodes in groups across three zones, ~30 running
 * pods per node of mixed shapes, a share of controllers with anti-affinity, spread
 * constraints, selectors and tolerations, and pending pods, as kubectl would print them. */
#include "gen.h"

#include <stdbool.h>
#include <string.h>

struct shape {
    const char *cpu, *mem;
    int cpu_m;
};

/* About 240m and 1Gi on average: 30 of them leave little room on an 8-cpu, 32Gi node, so
 * pending pods need new nodes, as in a cluster that has to grow. */
static const struct shape shapes[] = {
    {"200m", "1Gi", 200}, {"250m", "768Mi", 250}, {"300m", "1Gi", 300}, {"150m", "1280Mi", 150},
    {"250m", "1Gi", 250}, {"200m", "896Mi", 200}, {"300m", "1Gi", 300}, {"250m", "1Gi", 250},
};
static const struct shape pending_shapes[] = {
    {"1", "2Gi", 1000},   {"500m", "1Gi", 500},   {"2", "4Gi", 2000},
    {"750m", "3Gi", 750}, {"1500m", "2Gi", 1500},
};

void
gen_defaults(struct gen_params *p)
{
    memset(p, 0, sizeof(*p));
    p->nodes = 1000;
    p->groups = 10;
    p->pods_per_node = 30;
    p->pending = 1000;
    p->anti_pct = 20;
    p->spread_pct = 10;
    p->selector_pct = 10;
    p->taint_pct = 10;
    p->seed = 1;
}

static uint32_t
group_of(const struct gen_params *p, uint32_t node)
{
    return (uint32_t)((uint64_t)node * p->groups / (p->nodes ? p->nodes : 1));
}

static bool
tainted(const struct gen_params *p, uint32_t g)
{
    return p->taint_pct && (g * 100 / p->groups) % 100 >= 100 - p->taint_pct && g > 0;
}

/* Instance and pool ids of the Exoscale world: fixed patterns, so that the snapshot and
 * the world agree without sharing state. */
#define GEN_INSTANCE_ID "30000000-0000-4000-8000-%012x"
#define GEN_NODEPOOL_ID "66666666-0000-4000-8000-%012x"
#define GEN_POOL_ID "aaaaaaaa-0000-4000-8000-%012x"
#define GEN_CLUSTER_ID "11111111-0000-4000-8000-000000000001"
#define GEN_TYPE_ID "b6cd1ff5-0000-4000-8000-000000000008"

static void
write_provider_id(FILE *f, const struct gen_params *p, uint32_t g, uint32_t i)
{
    if (p->exoscale)
        fprintf(f, "\"providerID\":\"exoscale://" GEN_INSTANCE_ID "\"", i);
    else
        fprintf(f, "\"providerID\":\"static://g%u/node-%u\"", g, i);
}

static void
write_node(FILE *f, const struct gen_params *p, uint32_t i, bool first)
{
    uint32_t g = group_of(p, i);
    const char *cpu = p->identical ? "10" : "8";
    const char *mem = p->identical ? "40Gi" : "32Gi";
    fprintf(
        f,
        "%s{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"annotations\":{"
        "\"node.alpha.kubernetes.io/ttl\":\"0\",\"volumes.kubernetes.io/"
        "controller-managed-attach-detach\":\"true\"},\"creationTimestamp\":\"2024-05-01T10:00:"
        "00Z\",\"labels\":{\"beta.kubernetes.io/arch\":\"amd64\",\"kubernetes.io/arch\":"
        "\"amd64\",\"kubernetes.io/hostname\":\"node-%u\",\"kubernetes.io/os\":\"linux\","
        "\"node.kubernetes.io/instance-type\":\"standard.large\",\"pool\":\"pool-%u\","
        "\"topology.kubernetes.io/zone\":\"zone-%u\"},\"name\":\"node-%u\",\"resourceVersion\":"
        "\"%u\",\"uid\":\"0b6c-node-%u\"},\"spec\":{\"podCIDR\":\"10.%u.%u.0/24\",",
        first ? "" : ",\n", i, g, g % 3, i, 1000 + i, i, (i >> 8) & 255, i & 255);
    write_provider_id(f, p, g, i);
    if (tainted(p, g))
        fprintf(f, ",\"taints\":[{\"effect\":\"NoSchedule\",\"key\":\"dedicated\",\"value\":"
                   "\"batch\"}]");
    fprintf(
        f,
        "},\"status\":{\"addresses\":[{\"address\":\"10.0.%u.%u\",\"type\":\"InternalIP\"},"
        "{\"address\":\"node-%u\",\"type\":\"Hostname\"}],\"allocatable\":{\"cpu\":\"%s\","
        "\"ephemeral-storage\":\"95551679124\",\"hugepages-2Mi\":\"0\",\"memory\":\"%s\","
        "\"pods\":\"110\"},\"capacity\":{\"cpu\":\"%s\",\"ephemeral-storage\":\"103668Mi\","
        "\"hugepages-2Mi\":\"0\",\"memory\":\"%s\",\"pods\":\"110\"},\"conditions\":["
        "{\"lastHeartbeatTime\":\"2024-05-03T10:00:00Z\",\"lastTransitionTime\":\"2024-05-"
        "01T10:"
        "01:00Z\",\"message\":\"kubelet has sufficient memory available\",\"reason\":"
        "\"KubeletHasSufficientMemory\",\"status\":\"False\",\"type\":\"MemoryPressure\"},"
        "{\"lastHeartbeatTime\":\"2024-05-03T10:00:00Z\",\"lastTransitionTime\":\"2024-05-"
        "01T10:"
        "01:00Z\",\"message\":\"kubelet is posting ready status\",\"reason\":\"KubeletReady\","
        "\"status\":\"True\",\"type\":\"Ready\"}],\"nodeInfo\":{\"architecture\":\"amd64\","
        "\"containerRuntimeVersion\":\"containerd://1.7.13\",\"kernelVersion\":\"6.1.0-18-"
        "amd64\",\"kubeletVersion\":\"v1.29.4\",\"operatingSystem\":\"linux\",\"osImage\":"
        "\"Debian GNU/Linux 12 (bookworm)\"}}}",
        (i >> 8) & 255, i & 255, i, cpu, mem, cpu, mem);
}

/* Controller c's scheduling extras, chosen from its number so replicas agree. */
static void
write_extras(FILE *f, const struct gen_params *p, uint32_t c, uint32_t pool)
{
    uint32_t h = c * 2654435761u + p->seed;
    if (p->anti_pct && h % 100 < p->anti_pct)
        fprintf(f,
                ",\"affinity\":{\"podAntiAffinity\":{"
                "\"requiredDuringSchedulingIgnoredDuringExecution"
                "\":[{\"labelSelector\":{\"matchLabels\":{\"app\":\"app-%u\"}},\"topologyKey\":"
                "\"kubernetes.io/hostname\"}]}}",
                c);
    if (p->spread_pct && (h >> 8) % 100 < p->spread_pct)
        fprintf(f,
                ",\"topologySpreadConstraints\":[{\"labelSelector\":{\"matchLabels\":{\"app\":"
                "\"app-"
                "%u\"}},\"maxSkew\":50,\"topologyKey\":\"topology.kubernetes.io/zone\","
                "\"whenUnsatisfiable\":\"DoNotSchedule\"}]",
                c);
    if (p->selector_pct && (h >> 16) % 100 < p->selector_pct)
        fprintf(f, ",\"nodeSelector\":{\"pool\":\"pool-%u\"}", pool);
}

static void
write_pod(FILE *f, const struct gen_params *p, const char *name, uint32_t c, int node,
          const struct shape *sh, uint32_t pool, bool toleration)
{
    fprintf(
        f,
        ",\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"creationTimestamp\":"
        "\"2024-05-02T10:00:00Z\",\"generateName\":\"app-%u-7d9f8b-\",\"labels\":{\"app\":"
        "\"app-%u\",\"pod-template-hash\":\"7d9f8b\",\"tier\":\"%s\"},\"name\":\"%s\","
        "\"namespace\":\"ns-%u\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
        "\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"ReplicaSet\",\"name\":"
        "\"app-%u-7d9f8b\",\"uid\":\"5f1e-rs-%u\"}],\"resourceVersion\":\"%u\",\"uid\":"
        "\"9a3c-%s\"},\"spec\":{\"containers\":[{\"env\":[{\"name\":\"LOG_LEVEL\",\"value\":"
        "\"info\"}],\"image\":\"registry.example.com/app-%u:1.4.2\",\"imagePullPolicy\":"
        "\"IfNotPresent\",\"name\":\"app\",\"ports\":[{\"containerPort\":8080,\"protocol\":"
        "\"TCP\"}],\"resources\":{\"limits\":{\"memory\":\"%s\"},\"requests\":{\"cpu\":\"%s\","
        "\"memory\":\"%s\"}},\"terminationMessagePath\":\"/dev/termination-log\","
        "\"volumeMounts\":[{\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\","
        "\"name\":\"kube-api-access\",\"readOnly\":true}]}],\"dnsPolicy\":\"ClusterFirst\","
        "\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\","
        "\"priority\":0,\"restartPolicy\":\"Always\",\"schedulerName\":\"default-scheduler\","
        "\"serviceAccountName\":\"default\",\"terminationGracePeriodSeconds\":30",
        c, c, c % 2 ? "web" : "backend", name, c % 17, c, c, 5000 + c, name, c % 50, sh->mem,
        sh->cpu, sh->mem);
    if (node >= 0)
        fprintf(f, ",\"nodeName\":\"node-%d\"", node);
    fprintf(f, ",\"tolerations\":[");
    if (toleration)
        fprintf(f, "{\"effect\":\"NoSchedule\",\"key\":\"dedicated\",\"operator\":\"Equal\","
                   "\"value\":\"batch\"},");
    fprintf(
        f,
        "{\"effect\":\"NoExecute\",\"key\":\"node.kubernetes.io/not-ready\",\"operator\":"
        "\"Exists\",\"tolerationSeconds\":300},{\"effect\":\"NoExecute\",\"key\":"
        "\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"tolerationSeconds\":"
        "300}],\"volumes\":[{\"name\":\"kube-api-access\",\"projected\":{\"defaultMode\":420,"
        "\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":"
        "\"token\"}}]}}]");
    write_extras(f, p, c, pool);
    if (node >= 0)
        fprintf(
            f,
            "},\"status\":{\"conditions\":[{\"lastTransitionTime\":\"2024-05-02T10:00:01Z\","
            "\"status\":\"True\",\"type\":\"PodScheduled\"},{\"lastTransitionTime\":"
            "\"2024-05-02T10:00:09Z\",\"status\":\"True\",\"type\":\"Ready\"}],"
            "\"containerStatuses\":[{\"image\":\"registry.example.com/app:1.4.2\","
            "\"name\":\"app\",\"ready\":true,\"restartCount\":0,\"started\":true,\"state\":{"
            "\"running\":{\"startedAt\":\"2024-05-02T10:00:08Z\"}}}],\"hostIP\":\"10.0.0.1\","
            "\"phase\":\"Running\",\"podIP\":\"10.244.0.9\",\"qosClass\":\"Burstable\","
            "\"startTime\":\"2024-05-02T10:00:01Z\"}}");
    else
        fprintf(
            f,
            "},\"status\":{\"conditions\":[{\"lastProbeTime\":null,\"lastTransitionTime\":"
            "\"2024-05-02T10:00:01Z\",\"message\":\"0/%u nodes are available: %u Insufficient "
            "cpu.\",\"reason\":\"Unschedulable\",\"status\":\"False\",\"type\":"
            "\"PodScheduled\"}],\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}}",
            p->nodes, p->nodes);
}

int
gen_write(const struct gen_params *p, FILE *snap, FILE *groups)
{
    if (snap) {
        fprintf(snap, "{\"apiVersion\":\"v1\",\"items\":[\n");
        for (uint32_t i = 0; i < p->nodes; i++)
            write_node(snap, p, i, i == 0);
        char name[96];
        /* Running pods: controller c has replicas on ten consecutive nodes, one each, so
         * the recorded placement honours anti-affinity. */
        for (uint32_t i = 0; i < p->nodes; i++) {
            for (uint32_t j = 0; j < p->pods_per_node; j++) {
                uint32_t c = (i / 10) * p->pods_per_node + j;
                const struct shape *sh = &shapes[c % (sizeof(shapes) / sizeof(shapes[0]))];
                snprintf(name, sizeof(name), "app-%u-7d9f8b-n%uj%u", c, i, j);
                if (p->identical && j > 0)
                    break;
                write_pod(snap, p, name, c, (int)i, sh, group_of(p, i),
                          tainted(p, group_of(p, i)));
            }
        }
        /* Pending pods: controllers of ten replicas each. */
        uint32_t base = (p->nodes / 10 + 1) * p->pods_per_node;
        for (uint32_t k = 0; k < p->pending; k++) {
            uint32_t c = base + (p->identical ? 0 : k / 10);
            static const struct shape ident = {"200m", "200Mi", 200};
            const struct shape *sh =
                p->identical
                    ? &ident
                    : &pending_shapes[c % (sizeof(pending_shapes) / sizeof(pending_shapes[0]))];
            snprintf(name, sizeof(name), "app-%u-7d9f8b-p%u", c, k);
            struct gen_params q = *p;
            if (p->identical)
                q.anti_pct = q.spread_pct = q.selector_pct = 0;
            uint32_t pool = p->groups ? c % p->groups : 0;
            write_pod(snap, &q, name, c, -1, sh, pool, c % 3 == 0);
        }
        fprintf(snap, "\n],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}\n");
    }
    if (groups) {
        fprintf(groups, "{\"groups\":[");
        for (uint32_t g = 0; g < p->groups; g++) {
            uint32_t first = 0, n = 0;
            for (uint32_t i = 0; i < p->nodes; i++)
                if (group_of(p, i) == g) {
                    if (!n)
                        first = i;
                    n++;
                }
            fprintf(groups,
                    "%s\n{\"id\":\"g%u\",\"min\":0,\"max\":%u,\"target\":%u,\"instances\":[",
                    g ? "," : "", g, n + (p->identical ? 5000 : 2000), n);
            for (uint32_t i = 0; i < n; i++)
                fprintf(groups, "%s\"static://g%u/node-%u\"", i ? "," : "", g, first + i);
            fprintf(groups, "]}");
        }
        fprintf(groups, "\n]}\n");
    }
    return ferror(snap ? snap : stdout) ? -1 : 0;
}

int
gen_write_world(const struct gen_params *p, FILE *w)
{
    fprintf(w,
            "{\"zone\":\"ch-gva-2\",\"credentials\":[{\"key\":\"" GEN_EXO_KEY
            "\",\"secret\":\"" GEN_EXO_SECRET
            "\",\"operations\":[\"list-sks-clusters\",\"get-sks-cluster\",\"list-instances\","
            "\"get-instance\",\"get-instance-pool\",\"get-instance-type\",\"get-quota\","
            "\"get-operation\",\"scale-sks-nodepool\",\"evict-sks-nodepool-members\"]}],\n"
            "\"instance-types\":[{\"id\":\"" GEN_TYPE_ID
            "\",\"family\":\"standard\",\"size\":\"%s\",\"cpus\":%u,\"gpus\":0,"
            "\"memory\":%llu,\"authorized\":true,\"zones\":[\"ch-gva-2\"]}],\n"
            "\"quotas\":[{\"resource\":\"instance\",\"limit\":%u},{\"resource\":\"gpu\","
            "\"limit\":-1}],\n"
            "\"sks-clusters\":[{\"id\":\"" GEN_CLUSTER_ID
            "\",\"name\":\"bench\",\"version\":\"1.34.1\",\"cni\":\"cilium\","
            "\"level\":\"pro\",\"nodepools\":[",
            p->identical ? "mega" : "huge", p->identical ? 10u : 8u,
            (p->identical ? 40ULL : 32ULL) << 30, p->nodes * 2 + 10000);
    for (uint32_t g = 0; g < p->groups; g++) {
        uint32_t n = 0, size = 0;

        for (uint32_t i = 0; i < p->nodes; i++)
            size += group_of(p, i) == g;
        fprintf(w,
                "%s\n{\"id\":\"" GEN_NODEPOOL_ID "\",\"name\":\"pool-%u\",\"size\":%u,"
                "\"disk-size\":50,\"instance-pool\":{\"id\":\"" GEN_POOL_ID "\"},"
                "\"instance-type\":{\"id\":\"" GEN_TYPE_ID "\"},\"labels\":{\"pool\":"
                "\"pool-%u\"},\"taints\":{",
                g ? "," : "", g, g, size, g, g);
        if (tainted(p, g))
            fprintf(w, "\"dedicated\":{\"value\":\"batch\",\"effect\":\"NoSchedule\"}");
        fprintf(w, "},\"instances\":[");
        for (uint32_t i = 0; i < p->nodes; i++)
            if (group_of(p, i) == g)
                fprintf(w, "%s{\"id\":\"" GEN_INSTANCE_ID "\"}", n++ ? "," : "", i);
        fprintf(w, "]}");
    }
    fprintf(w, "\n]}],\n\"instance-pools\":[]}\n");
    return ferror(w) ? -1 : 0;
}
