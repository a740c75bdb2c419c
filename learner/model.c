/*
 * learner/model.c - a hashed-feature linear model learned online.
 *
 * Scores an example (dot product in double over float weights, plus the
 * bias), then takes one sparse gradient step on the example's features
 * and the bias with one of six optimizers (see "optimizers" below for
 * each rule and its sources). Repeated indices within an example are
 * merged first, so each touched weight gets exactly one gradient, computed
 * from the margin before the update. Weights and optimizer state are
 * stored as floats to halve memory; every sum and step is done in double
 * and rounded once.
 *
 * Why nothing can become inf or NaN: feature values and labels must be
 * finite; weights are clipped to MODEL_WEIGHT_LIMIT and optimizer state
 * to MODEL_STATE_LIMIT after each step; the parameter limits in model.h
 * bound learning rate, L2, gradient clip, the decays, epsilon and the
 * ftrl beta, so margins, gradients and steps stay finite doubles (the
 * only unbounded term, loss derivative * value for squared loss with a
 * huge label, is clipped before use). The bound of each step is given
 * beside its rule.
 *
 * Deterministic: no randomness and a fixed order of every floating-point
 * operation, so the same example sequence gives bit-identical weights.
 * Does not hash, parse or snapshot; it holds numbers only. Not
 * thread-safe: one learner thread owns a model.
 */
#include "learner/model.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/err.h"
#include "common/huge_pages.h"

/* Defaults promised in model.h. */
#define MODEL_DEFAULT_BITS 18
#define MODEL_DEFAULT_LEARNING_RATE 0.5
#define MODEL_DEFAULT_POWER_T 0.5
#define MODEL_DEFAULT_L2 0.0
#define MODEL_DEFAULT_GRADIENT_CLIP 100.0
#define MODEL_DEFAULT_L1 0.0
#define MODEL_DEFAULT_BETA1 0.9     /* Kingma and Ba's defaults for Adam */
#define MODEL_DEFAULT_BETA2 0.999
#define MODEL_DEFAULT_RHO 0.9       /* Hinton's RMSprop lecture */
#define MODEL_DEFAULT_EPSILON 1e-8
#define MODEL_DEFAULT_FTRL_BETA 1.0 /* "beta = 1 is usually good enough",
                                       McMahan et al. 2013, section 3.1 */

/* |margin| fed to exp(): e^50 is about 5e21, far from overflow, and
 * sigmoid(50) already rounds to 1.0 in double, so clamping loses
 * nothing. */
#define MODEL_MARGIN_CLAMP 50.0

/* For the helpers of the per-feature loops: merge_one(), and the rules
 * inlined into each copy of learn_example(), made with the optimizer a
 * constant, so it is chosen once per example, not once per feature. */
#define MODEL_ALWAYS_INLINE inline __attribute__((always_inline))

/* Linux 5.14 and later fault a range in, writable, and say whether they
 * could (older C headers may lack the name; older kernels answer
 * EINVAL, and the table is then touched page by page). */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The smallest table slots_commit() commits; smaller ones are calloc()ed
 * and faulted in as features land on them. 2^21 AdaGrad or 2^20 ftrl
 * slots. */
#define MODEL_COMMIT_MIN_BYTES ((size_t)16 << 20)

/* Merged features kept ready at creation: typical examples carry tens of
 * features, so learning never allocates until one carries more. */
#define MODEL_SCRATCH_INITIAL 256

/* A bitmap of 2^15 bits (4 KiB, stays in L1) marks the slots of the
 * example being learned, by their low index bits, to tell in one cheap
 * pass that no index repeats: with the 51 indices of a synthetic event,
 * 4% of examples see a false alarm and take the full merge, which is
 * exact. Examples longer than MODEL_REPEAT_SCAN_MAX skip the bitmap: it
 * would nearly always alarm. */
#define MODEL_SEEN_BITS_LOG2 15
#define MODEL_SEEN_WORDS ((1u << MODEL_SEEN_BITS_LOG2) / 64)
#define MODEL_REPEAT_SCAN_MAX 256

/* The smallest table whose slots model_learn() prefetches in the pass
 * that checks an example, before a second pass reads them for the dot
 * product. A smaller table's used slots stay in the cache (Adult's
 * 2 MiB and Elec2's 4 MiB), where the prefetch only costs instructions,
 * so the checking pass sums the dot product itself: one pass over the
 * example less. The size from which train also loads the next row's
 * slots ahead (learner/online.c); with that look ahead, a larger table
 * sums while checking too (model_slots_loaded_ahead()). */
#define MODEL_PREFETCH_MIN_BYTES ((size_t)8 << 20)

/* One distinct weight touched by an example, in the order of its first
 * occurrence; repeats are summed into it in input order. */
struct merged_feature {
    uint32_t index;
    double value;
};

/* A slot of the small hash table that finds repeated indices in one
 * example in O(n): it holds the index and where it sits in scratch, and
 * is valid only when its stamp is the current example's. */
struct probe_slot {
    uint32_t stamp;
    uint32_t index;
    size_t pos;
};

/*
 * Weights and optimizer state are interleaved: slot i holds weight i and
 * then its state values, model_state_value() order, padded to a power of
 * two floats (1, 2 or 4) so that no slot straddles a cache line. An
 * update reads and writes a weight and its state together, so at 2^22
 * weights and more, where nearly every touched slot misses the cache,
 * that is one miss per feature instead of one per array (Vowpal Wabbit
 * interleaves its weights the same way).
 */
struct model {
    struct model_params params;
    size_t weight_count;
    uint32_t mask;        /* weight_count - 1 */
    uint32_t bias_index;
    float *slots;         /* owned, weight_count << slot_shift floats,
                             slots_bytes mapped by slots_commit() */
    size_t slots_bytes;   /* 0 when the table was calloc()ed */
    unsigned slot_shift;  /* log2 of the floats per slot: 0, 1 or 2 */
    int check_sums;       /* the check pass sums w.x: the table is under
                             MODEL_PREFETCH_MIN_BYTES, or its slots are
                             loaded ahead (model_slots_loaded_ahead()) */
    size_t state_count;   /* state values the optimizer uses, 0..2 */
    uint64_t updates;
    struct model_norm_totals norm; /* normalized's t and N, else zero */
    struct merged_feature *scratch; /* owned, scratch_cap entries */
    size_t scratch_cap;
    struct probe_slot *probe;       /* owned, probe_cap (2^k >= 2 cap) */
    size_t probe_cap;
    uint32_t stamp;                 /* of the example being merged */
    uint64_t seen[MODEL_SEEN_WORDS]; /* all zero between examples */
};


/* ---- parameters ---------------------------------------------------- */

void model_params_default(struct model_params *params)
{
    memset(params, 0, sizeof(*params));
    params->bits = MODEL_DEFAULT_BITS;
    params->loss = MODEL_LOSS_LOGISTIC;
    params->optimizer = MODEL_OPT_ADAGRAD;
    params->learning_rate = MODEL_DEFAULT_LEARNING_RATE;
    params->power_t = MODEL_DEFAULT_POWER_T;
    params->l2 = MODEL_DEFAULT_L2;
    params->gradient_clip = MODEL_DEFAULT_GRADIENT_CLIP;
    params->l1 = MODEL_DEFAULT_L1;
    params->beta1 = MODEL_DEFAULT_BETA1;
    params->beta2 = MODEL_DEFAULT_BETA2;
    params->rho = MODEL_DEFAULT_RHO;
    params->epsilon = MODEL_DEFAULT_EPSILON;
    params->ftrl_beta = MODEL_DEFAULT_FTRL_BETA;
}

const char *model_optimizer_name(enum model_optimizer opt)
{
    static const char *const names[] = {
        [MODEL_OPT_SGD] = "sgd",   [MODEL_OPT_ADAGRAD] = "adagrad",
        [MODEL_OPT_RMSPROP] = "rmsprop", [MODEL_OPT_ADAM] = "adam",
        [MODEL_OPT_NORMALIZED] = "normalized", [MODEL_OPT_FTRL] = "ftrl"};

    if ((size_t)opt < sizeof(names) / sizeof(names[0]) && names[opt])
        return names[opt];
    return "unknown";
}

/* NaN fails every comparison, so it is refused too. lo_open chooses
 * value > lo over value >= lo. */
static int check_range(const char *name, double value, double lo,
                       int lo_open, double hi, char *errstr,
                       size_t errstr_size)
{
    int ok = lo_open ? value > lo : value >= lo;

    if (ok && value <= hi)
        return 0;
    if (errstr && errstr_size && lo_open)
        snprintf(errstr, errstr_size,
                 "learner.%s = %g: expected a number above %g, at most %g",
                 name, value, lo, hi);
    else if (errstr && errstr_size)
        snprintf(errstr, errstr_size,
                 "learner.%s = %g: expected a number from %g to %g", name,
                 value, lo, hi);
    return RIFFLE_ERR_INVALID;
}

/* The parameters added with rmsprop, adam, normalized and ftrl. */
static int optimizer_params_check(const struct model_params *params,
                                  char *errstr, size_t errstr_size)
{
    int err = check_range("l1", params->l1, 0.0, 0, MODEL_MAX_L1, errstr,
                          errstr_size);

    if (!err)
        err = check_range("beta1", params->beta1, 0.0, 0, MODEL_MAX_DECAY,
                          errstr, errstr_size);
    if (!err)
        err = check_range("beta2", params->beta2, 0.0, 0, MODEL_MAX_DECAY,
                          errstr, errstr_size);
    if (!err)
        err = check_range("rho", params->rho, 0.0, 0, MODEL_MAX_DECAY,
                          errstr, errstr_size);
    if (!err)
        err = check_range("epsilon", params->epsilon, MODEL_MIN_EPSILON, 0,
                          MODEL_MAX_EPSILON, errstr, errstr_size);
    if (!err)
        err = check_range("ftrl_beta", params->ftrl_beta,
                          MODEL_MIN_FTRL_BETA, 0, MODEL_MAX_FTRL_BETA,
                          errstr, errstr_size);
    if (err)
        return err;

    /* An L1 penalty that is silently ignored would look like sparsity
     * the model does not have. */
    if (params->l1 != 0.0 && params->optimizer != MODEL_OPT_FTRL) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.l1 = %g: only the ftrl optimizer applies l1; "
                     "expected 0 with optimizer \"%s\"", params->l1,
                     model_optimizer_name(params->optimizer));
        return RIFFLE_ERR_INVALID;
    }
    return 0;
}

int model_params_check(const struct model_params *params, char *errstr,
                       size_t errstr_size)
{
    int loss = (int)params->loss;
    int optimizer = (int)params->optimizer;
    int err;

    if (params->bits < MODEL_MIN_BITS || params->bits > MODEL_MAX_BITS) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.bits = %u: expected an integer from %d to %d",
                     params->bits, MODEL_MIN_BITS, MODEL_MAX_BITS);
        return RIFFLE_ERR_INVALID;
    }
    if (loss < MODEL_LOSS_LOGISTIC || loss > MODEL_LOSS_HINGE) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.loss = %d: expected %d (logistic), "
                     "%d (squared) or %d (hinge)", loss,
                     MODEL_LOSS_LOGISTIC, MODEL_LOSS_SQUARED,
                     MODEL_LOSS_HINGE);
        return RIFFLE_ERR_INVALID;
    }
    if (optimizer < MODEL_OPT_SGD || optimizer > MODEL_OPT_FTRL) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size,
                     "learner.optimizer = %d: expected %d (sgd), "
                     "%d (adagrad), %d (rmsprop), %d (adam), "
                     "%d (normalized) or %d (ftrl)", optimizer,
                     MODEL_OPT_SGD, MODEL_OPT_ADAGRAD, MODEL_OPT_RMSPROP,
                     MODEL_OPT_ADAM, MODEL_OPT_NORMALIZED, MODEL_OPT_FTRL);
        return RIFFLE_ERR_INVALID;
    }

    err = check_range("learning_rate", params->learning_rate, 0.0, 1,
                      MODEL_MAX_LEARNING_RATE, errstr, errstr_size);
    if (!err)
        err = check_range("power_t", params->power_t, 0.0, 0,
                          MODEL_MAX_POWER_T, errstr, errstr_size);
    if (!err)
        err = check_range("l2", params->l2, 0.0, 0, MODEL_MAX_L2, errstr,
                          errstr_size);
    if (!err)
        err = check_range("gradient_clip", params->gradient_clip, 0.0, 1,
                          MODEL_MAX_GRADIENT_CLIP, errstr, errstr_size);
    if (!err)
        err = optimizer_params_check(params, errstr, errstr_size);
    return err;
}


/* ---- lifetime ------------------------------------------------------ */

/* State values each optimizer keeps; see model_state_value(). */
static MODEL_ALWAYS_INLINE size_t optimizer_state_count(
    enum model_optimizer opt)
{
    switch (opt) {
    case MODEL_OPT_ADAGRAD:
    case MODEL_OPT_RMSPROP:
        return 1;
    case MODEL_OPT_ADAM:
    case MODEL_OPT_NORMALIZED:
    case MODEL_OPT_FTRL:
        return 2;
    case MODEL_OPT_SGD:
    default:
        return 0;
    }
}

/* A slot holds the weight and at most two state values, in at most four
 * floats: optimizer_slot_shift() gives two a shift of 2, and slot_bits()
 * and model_next_in_use() read the weight and those two, no more. An
 * optimizer with a third state value must widen them first; model_new()
 * refuses one that has more than this. */
_Static_assert(MODEL_MAX_STATE_ARRAYS == 2,
               "slot_bits() reads at most two state values a slot");

/* log2 of the floats in a slot of opt's table: the weight and its state
 * values, padded to 1, 2 or 4 floats (see struct model). A constant
 * where opt is one, as in the loops model_learn() makes per optimizer:
 * their slot addresses are then a shift by a constant, not by a count
 * loaded from the model at every feature. */
static MODEL_ALWAYS_INLINE unsigned optimizer_slot_shift(
    enum model_optimizer opt)
{
    size_t states = optimizer_state_count(opt);

    return states == 0 ? 0 : states == 1 ? 1 : 2;
}

/*
 * The table, zeroed and committed: every page is faulted in here, at
 * creation, not by the first feature that lands on it. A user sizes a
 * learner by its configuration (2^bits slots of 4, 8 or 16 bytes), so
 * that is the memory it holds from the start, whatever the stream: a
 * stream of rare features would otherwise grow the resident set for
 * hours, page by page (up to 4 GiB at 28 bits), and could be refused
 * memory long after start, mid-stream; here a table the machine cannot
 * hold fails model_new(). It also keeps page faults out of learning:
 * at 2^22 AdaGrad slots, 8,192 of them. Returns NULL when the memory is
 * not there.
 *
 * On huge pages when the kernel has them free (common/huge_pages.h): the
 * learner reads the table at random, a TLB miss a feature on 4 KiB
 * pages. Click-through's 16 MiB FTRL table: train's seconds 55.5 ->
 * 50.8 ms, lower in 20 of 31 alternated pairs, the same predictions.
 * Never when the kernel would have to compact memory first: on the
 * project's VM that made one 32 MiB commit take 1,047 ms against 17 ms
 * in the run before (docs/BENCHMARKS.md).
 *
 * Only for tables of MODEL_COMMIT_MIN_BYTES and more: a smaller one
 * cannot grow the process by more than that, and on the small real
 * sets, whose runs take tens of milliseconds, committing it up front
 * cost more than its faults (Elec2, 4 MiB: task-clock 52.5 ms mean
 * committed, 50.4 ms faulted in as used).
 */
static float *slots_commit(size_t bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t off;
    void *p;

    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (huge_pages_worth_asking(bytes))
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* only a request */
    if (madvise(p, bytes, MADV_POPULATE_WRITE) == 0)
        return p;
    if (errno != EINVAL) { /* ENOMEM, EFAULT: not all of it is there */
        (void)munmap(p, bytes); /* cannot fail: we mapped exactly this */
        return NULL;
    }

    /* A kernel without MADV_POPULATE_WRITE: one write a page. */
    for (off = 0; off < bytes; off += page > 0 ? (size_t)page : 4096)
        ((volatile char *)p)[off] = 0;
    return p;
}

int model_new(const struct model_params *params, struct model **out)
{
    struct model *m;
    size_t count;

    if (model_params_check(params, NULL, 0) != 0 ||
        optimizer_state_count(params->optimizer) > MODEL_MAX_STATE_ARRAYS)
        return RIFFLE_ERR_INVALID;

    count = (size_t)1 << params->bits;
    /* calloc checks this too; the explicit test documents the bound on
     * hosts with a 32-bit size_t, where 2^28 slots of 4 floats are
     * already 4 GiB. */
    if (count > SIZE_MAX / (sizeof(float) << MODEL_MAX_STATE_ARRAYS))
        return RIFFLE_ERR_NOMEM;

    m = calloc(1, sizeof(*m));
    if (!m)
        return RIFFLE_ERR_NOMEM;
    m->params = *params;
    m->weight_count = count;
    m->mask = (uint32_t)(count - 1);
    m->bias_index = MODEL_BIAS_HASH & m->mask;
    m->state_count = optimizer_state_count(params->optimizer);
    m->slot_shift = optimizer_slot_shift(params->optimizer);
    m->slots_bytes = (count << m->slot_shift) * sizeof(float);
    m->check_sums = m->slots_bytes < MODEL_PREFETCH_MIN_BYTES;
    if (m->slots_bytes >= MODEL_COMMIT_MIN_BYTES) {
        m->slots = slots_commit(m->slots_bytes);
    } else {
        m->slots = calloc(m->slots_bytes, 1);
        m->slots_bytes = 0;
    }
    m->scratch = calloc(MODEL_SCRATCH_INITIAL, sizeof(*m->scratch));
    m->probe = calloc(2 * MODEL_SCRATCH_INITIAL, sizeof(*m->probe));
    if (!m->slots || !m->scratch || !m->probe) {
        model_destroy(m);
        return RIFFLE_ERR_NOMEM;
    }
    m->scratch_cap = MODEL_SCRATCH_INITIAL;
    m->probe_cap = 2 * MODEL_SCRATCH_INITIAL;

    *out = m;
    return 0;
}

void model_destroy(struct model *m)
{
    if (!m)
        return;
    if (m->slots && m->slots_bytes)
        (void)munmap(m->slots, m->slots_bytes); /* cannot fail: mapped so */
    else
        free(m->slots);
    free(m->scratch);
    free(m->probe);
    free(m);
}


/* ---- accessors ----------------------------------------------------- */

const struct model_params *model_params_get(const struct model *m)
{
    return &m->params;
}

uint64_t model_update_count(const struct model *m)
{
    return m->updates;
}

size_t model_weight_count(const struct model *m)
{
    return m->weight_count;
}

/* Slot i: its weight at [0], its state value k at [1 + k]; with two
 * state values, [3] pads the slot and always holds zero. */
static inline float *slot_at(const struct model *m, uint32_t i)
{
    return m->slots + ((size_t)i << m->slot_shift);
}

float model_weight(const struct model *m, size_t i)
{
    assert(i < m->weight_count);
    return slot_at(m, (uint32_t)i)[0];
}

float model_state_value(const struct model *m, size_t k, size_t i)
{
    assert(k < MODEL_MAX_STATE_ARRAYS && i < m->weight_count);
    return k < m->state_count ? slot_at(m, (uint32_t)i)[1 + k] : 0.0f;
}

/* Slots model_next_in_use() passes over at once while all their bytes,
 * padding included, are zero: 64 bytes of an Adagrad model. */
#define MODEL_EMPTY_RUN_SLOTS 8

/* Whether the n bytes at p (a multiple of 16) are all zero: an OR of
 * 16-byte loads. gcc -O2 kept the loop over words it was written as
 * (four instructions a word, 64 for a run of FTRL's slots). */
static inline int bytes_zero(const float *p, size_t n)
{
#if defined(__SSE2__)
    __m128i bits = _mm_setzero_si128();
    size_t i;

    for (i = 0; i < n; i += sizeof(bits))
        bits = _mm_or_si128(bits, _mm_loadu_si128(
                                      (const __m128i *)((const char *)p + i)));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(bits, _mm_setzero_si128())) ==
           0xffff;
#else
    uint64_t bits = 0, v;
    size_t i;

    for (i = 0; i < n; i += sizeof(v)) {
        memcpy(&v, (const char *)p + i, sizeof(v));
        bits |= v;
    }
    return bits == 0;
#endif
}

/* The bits of slot p's weight and states ORed, for a table of `shift`
 * (a constant where inlined): one or two loads, not one per value. */
static inline uint64_t slot_bits(const float *p, unsigned shift)
{
    uint64_t w = 0;
    uint32_t v = 0;

    if (shift == 0) {
        memcpy(&v, p, sizeof(v));
        return v;
    }
    memcpy(&w, p, sizeof(w)); /* the weight and the first state */
    if (shift == 2)
        memcpy(&v, p + 2, sizeof(v)); /* the second; the fourth is padding */
    return w | v;
}

/* model_next_in_use() for a table of `shift`: a slot at a time, and a
 * whole run of empty slots at once from a run's first slot (a run with
 * any non-zero byte, a padding float too, which no slot reads, is read
 * slot by slot). */
static inline size_t next_in_use(const struct model *m, size_t from,
                                 size_t to, unsigned shift)
{
    size_t run_bytes = (MODEL_EMPTY_RUN_SLOTS << shift) * sizeof(float);
    size_t i;

    for (i = from; i < to; i++) {
        while (i % MODEL_EMPTY_RUN_SLOTS == 0 &&
               to - i >= MODEL_EMPTY_RUN_SLOTS &&
               bytes_zero(m->slots + (i << shift), run_bytes))
            i += MODEL_EMPTY_RUN_SLOTS;
        if (i < to && slot_bits(m->slots + (i << shift), shift))
            return i;
    }
    return to;
}

/* A value at a time through a loop over the optimizer's count, the
 * digest at the end of `riffle train` read Adult's 2^18 slots in 5.8M
 * instructions, click-through's 2^20 in 28.7M. */
size_t model_next_in_use(const struct model *m, size_t from, size_t to)
{
    assert(to <= m->weight_count);
    /* model_new() made slot_shift optimizer_slot_shift() of at most
     * MODEL_MAX_STATE_ARRAYS states: 0, 1 or 2, never more. */
    switch (m->slot_shift) {
    case 0:
        return next_in_use(m, from, to, 0);
    case 1:
        return next_in_use(m, from, to, 1);
    default:
        return next_in_use(m, from, to, 2);
    }
}

/* model_in_use() for a table of `shift`: runs of empty slots passed over
 * at once, as next_in_use() does, and the slots of any other run tested
 * without a branch, each written to idx and counted only when in use. */
static inline size_t in_use(const struct model *m, size_t from, size_t to,
                            unsigned shift, uint32_t *idx)
{
    size_t run_bytes = (MODEL_EMPTY_RUN_SLOTS << shift) * sizeof(float);
    size_t i = from, n = 0, end;

    while (i < to) {
        if (i % MODEL_EMPTY_RUN_SLOTS == 0 &&
            to - i >= MODEL_EMPTY_RUN_SLOTS &&
            bytes_zero(m->slots + (i << shift), run_bytes)) {
            i += MODEL_EMPTY_RUN_SLOTS;
            continue;
        }
        end = (i / MODEL_EMPTY_RUN_SLOTS + 1) * MODEL_EMPTY_RUN_SLOTS;
        if (end > to)
            end = to;
        for (; i < end; i++) {
            idx[n] = (uint32_t)i;
            n += slot_bits(m->slots + (i << shift), shift) != 0;
        }
    }
    return n;
}

/* One walk for the weights digest and a snapshot's packing, where a
 * call of model_next_in_use() per slot in use was a third of the
 * digest's instructions on click-through. */
size_t model_in_use(const struct model *m, size_t from, size_t to,
                    uint32_t *idx)
{
    assert(from <= to && to <= m->weight_count);
    assert(m->slot_shift <= 2 && (m->state_count > 0) == (m->slot_shift > 0));
    if (m->slot_shift == 0)
        return in_use(m, from, to, 0, idx);
    if (m->slot_shift == 1)
        return in_use(m, from, to, 1, idx);
    return in_use(m, from, to, 2, idx);
}

void model_slot_values(const struct model *m, size_t i, float *out)
{
    const float *p = slot_at(m, (uint32_t)i);

    assert(i < m->weight_count);
    memcpy(out, p, (1 + m->state_count) * sizeof(float));
}

void model_copy_weights(const struct model *m, float *out)
{
    size_t i;

    for (i = 0; i < m->weight_count; i++)
        out[i] = slot_at(m, (uint32_t)i)[0];
}

void model_copy_state(const struct model *m, size_t k, float *out)
{
    size_t i;

    for (i = 0; i < m->weight_count; i++)
        out[i] = model_state_value(m, k, i);
}

int model_scale_step_history(struct model *m, double factor)
{
    size_t i, count = (size_t)m->mask + 1;
    enum model_optimizer opt = m->params.optimizer;

    if (!(factor >= 0.0 && factor < 1.0) || opt == MODEL_OPT_SGD ||
        opt == MODEL_OPT_FTRL)
        return RIFFLE_ERR_INVALID;

    for (i = 0; i < count; i++) {
        float *p = slot_at(m, (uint32_t)i);

        p[1] = (float)((double)p[1] * factor);
        /* A first moment without its second would divide by about
         * epsilon. */
        if (opt == MODEL_OPT_ADAM)
            p[2] = 0.0f;
    }
    return 0;
}

size_t model_state_count(const struct model *m)
{
    return m->state_count;
}

size_t model_params_state_count(const struct model_params *params)
{
    return optimizer_state_count(params->optimizer);
}

uint32_t model_bias_index(const struct model *m)
{
    return m->bias_index;
}


/* ---- scoring ------------------------------------------------------- */

static double clamp(double v, double limit)
{
    if (v > limit)
        return limit;
    if (v < -limit)
        return -limit;
    return v;
}

/* Indices should arrive masked (model.h); masking again costs one AND
 * and turns a caller's bug into a wrong weight instead of a wild read.
 * The assert still catches it in debug builds. */
static uint32_t slot(const struct model *m, uint32_t index)
{
    assert(index <= m->mask);
    return index & m->mask;
}

/*
 * What scoring and learning read from the model at every feature, copied
 * into a local once per example. The pair steps store their slots through
 * SSE2 intrinsics, whose stores may alias any object, so each field read
 * through m was loaded again after every store (on Adult six loads and
 * three broadcasts a pair); a local stays in registers. shift is
 * optimizer_slot_shift() of the model's optimizer, a constant in the
 * loops model_learn() makes per optimizer.
 */
struct table_view {
    float *slots;
    uint32_t mask;
    uint32_t bias_index;
    unsigned shift;
    struct model_params p;
};

static MODEL_ALWAYS_INLINE void view_init(struct table_view *tv,
                                          const struct model *m,
                                          unsigned shift)
{
    assert(shift == m->slot_shift);
    tv->slots = m->slots;
    tv->mask = m->mask;
    tv->bias_index = m->bias_index;
    tv->shift = shift;
    tv->p = m->params;
}

/* slot() and slot_at() of the view. */
static MODEL_ALWAYS_INLINE uint32_t view_index(const struct table_view *tv,
                                               uint32_t index)
{
    assert(index <= tv->mask);
    return index & tv->mask;
}

static MODEL_ALWAYS_INLINE float *view_slot(const struct table_view *tv,
                                            uint32_t i)
{
    return tv->slots + ((size_t)i << tv->shift);
}

/* At 2^22 weights and more nearly every slot is a cache miss: asking for
 * all of an example's slots before reading any lets the misses overlap
 * instead of each load waiting in turn. For writing, as model_learn()
 * will write them. */
static MODEL_ALWAYS_INLINE void slot_prefetch(const struct model *m,
                                              uint32_t index)
{
    __builtin_prefetch(slot_at(m, slot(m, index)), 1, 3);
}

/* w.x plus the bias, in double, in input order, skipping values that are
 * not finite unless all_finite says there are none (model_learn() checked
 * them): the sum is the same either way, so model_learn()'s prediction
 * equals model_predict()'s bit for bit. */
static MODEL_ALWAYS_INLINE double margin_compute(const struct table_view *tv,
                                                 const struct feature *x,
                                                 size_t n, int all_finite)
{
    double margin = view_slot(tv, tv->bias_index)[0];
    size_t i;

    for (i = 0; i < n; i++) {
        if (!all_finite && !isfinite(x[i].value))
            continue;
        margin += (double)view_slot(tv, view_index(tv, x[i].index))[0] *
                  (double)x[i].value;
    }
    return margin;
}

static double sigmoid(double margin)
{
    return 1.0 / (1.0 + exp(-clamp(margin, MODEL_MARGIN_CLAMP)));
}

/* Inlined: it ran as a call that saved and restored eight registers of
 * model_learn() around it, about 20 instructions an example. */
static MODEL_ALWAYS_INLINE double prediction_from_margin(enum model_loss loss,
                                                         double margin)
{
    switch (loss) {
    case MODEL_LOSS_LOGISTIC:
        return sigmoid(margin);
    case MODEL_LOSS_HINGE:
        return margin > 0.0 ? 1.0 : 0.0;
    case MODEL_LOSS_SQUARED:
    default:
        return margin;
    }
}

size_t model_table_bytes(const struct model *m)
{
    return ((size_t)m->weight_count << m->slot_shift) * sizeof(float);
}

void model_slots_loaded_ahead(struct model *m)
{
    m->check_sums = 1;
}

void model_prefetch(const struct model *m, const uint32_t *idx, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        slot_prefetch(m, idx[i]);
}

double model_predict(const struct model *m, const struct feature *x,
                     size_t n)
{
    struct table_view tv;
    size_t i;

    view_init(&tv, m, m->slot_shift);
    for (i = 0; i < n; i++)
        slot_prefetch(m, x[i].index);
    return prediction_from_margin(m->params.loss,
                                  margin_compute(&tv, x, n, 0));
}


/* ---- learning ------------------------------------------------------ */

/* Makes room for n features plus the bias. The old buffer is kept until
 * the new one exists, so failure leaves the model as it was. */
static int scratch_reserve(struct model *m, size_t n)
{
    struct probe_slot *probe;
    struct merged_feature *grown;
    size_t need;
    size_t cap = m->scratch_cap;

    if (n == SIZE_MAX)
        return RIFFLE_ERR_NOMEM;
    need = n + 1;
    if (need <= cap)
        return 0;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > SIZE_MAX / sizeof(*grown))
        return RIFFLE_ERR_NOMEM;

    grown = malloc(cap * sizeof(*grown));
    probe = calloc(2 * cap, sizeof(*probe)); /* cap is a power of 2 */
    if (!grown || !probe) {
        free(grown);
        free(probe);
        return RIFFLE_ERR_NOMEM;
    }
    free(m->scratch);
    free(m->probe);
    m->scratch = grown;
    m->scratch_cap = cap;
    m->probe = probe;
    m->probe_cap = 2 * cap;
    m->stamp = 0;
    return 0;
}

/* Adds (index, value) to the merged list: a new entry the first time an
 * index is seen in this example, else into that entry. */
static MODEL_ALWAYS_INLINE size_t merge_one(struct model *m, size_t out,
                                            uint32_t index, double value)
{
    size_t mask = m->probe_cap - 1;
    size_t h = (index * 0x9E3779B1u) & mask; /* Fibonacci hashing */

    while (m->probe[h].stamp == m->stamp) {
        if (m->probe[h].index == index) {
            m->scratch[m->probe[h].pos].value += value;
            return out;
        }
        h = (h + 1) & mask;
    }
    m->probe[h].stamp = m->stamp;
    m->probe[h].index = index;
    m->probe[h].pos = out;
    m->scratch[out].index = index;
    m->scratch[out].value = value;
    return out + 1;
}

/* Sets the bit of index in seen; returns nonzero when it was set already
 * (the index may repeat one seen before, or only share its low bits). */
static MODEL_ALWAYS_INLINE uint64_t seen_mark(struct model *m,
                                              uint32_t index)
{
    uint32_t b = index & ((1u << MODEL_SEEN_BITS_LOG2) - 1);
    uint64_t bit = (uint64_t)1 << (b % 64);
    uint64_t was = m->seen[b / 64];

    m->seen[b / 64] = was | bit;
    return was & bit;
}

/* Zeroes the word of seen that holds index's bit: the whole word, which
 * clears every bit set in it. */
static MODEL_ALWAYS_INLINE void seen_unmark(struct model *m, uint32_t index)
{
    m->seen[(index & ((1u << MODEL_SEEN_BITS_LOG2) - 1)) / 64] = 0;
}

/* Zeroes what the first n indices of x and the bias marked in seen. */
static void seen_clear(struct model *m, const struct feature *x, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        seen_unmark(m, slot(m, x[i].index));
    seen_unmark(m, m->bias_index);
}

/* One pass over the example: stops at the first value that is not
 * finite and returns how many came before it; with margin NULL, starts
 * loading each slot for writing, as slot_prefetch() does, else adds each
 * w_i * x_i to *margin in input order, as margin_compute() does; with
 * mark, also marks each slot in seen and ORs into *hit whether one was
 * marked already. */
static MODEL_ALWAYS_INLINE size_t features_scan(struct model *m,
                                                const struct table_view *tv,
                                                const struct feature *x,
                                                size_t n, int mark,
                                                uint64_t *hit,
                                                double *margin)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint32_t s = view_index(tv, x[i].index);

        if (!isfinite(x[i].value))
            break;
        if (margin)
            *margin += (double)view_slot(tv, s)[0] * (double)x[i].value;
        else
            __builtin_prefetch(view_slot(tv, s), 1, 3);
        if (mark)
            *hit |= seen_mark(m, s);
    }
    return i;
}

/*
 * Checks the example and, in the same pass, starts loading its slots
 * (or, with margin not NULL, adds w.x to *margin, which holds the bias
 * weight: see features_scan()) and looks for repeated indices. On
 * success *repeat is 0 when no index of x, nor the bias, repeats, and
 * nonzero when one may; examples of
 * MODEL_REPEAT_SCAN_MAX features or more are not looked at (the bitmap
 * would nearly always alarm) and always say they may. On success the
 * slots stay marked in seen, and the caller clears them (learn_with()
 * does, as it visits each slot, which saves a pass); on failure seen is
 * all zero again.
 */
static MODEL_ALWAYS_INLINE int example_check(struct model *m,
                                             const struct table_view *tv,
                                             const struct feature *x,
                                             size_t n, double label,
                                             uint64_t *repeat,
                                             double *margin)
{
    uint64_t hit = 0;
    size_t scanned;

    if (!isfinite(label))
        return RIFFLE_ERR_INVALID;
    if (tv->p.loss != MODEL_LOSS_SQUARED && label != 0.0 && label != 1.0)
        return RIFFLE_ERR_INVALID;

    if (n >= MODEL_REPEAT_SCAN_MAX) {
        *repeat = 1;
        return features_scan(m, tv, x, n, 0, &hit, margin) == n
                   ? 0
                   : RIFFLE_ERR_INVALID;
    }
    scanned = features_scan(m, tv, x, n, 1, &hit, margin);
    hit |= seen_mark(m, tv->bias_index);
    if (scanned < n) {
        seen_clear(m, x, scanned);
        return RIFFLE_ERR_INVALID;
    }
    *repeat = hit;
    return 0;
}

/* Copies the features and the bias into scratch, summing repeats, so each
 * touched weight appears once. Returns the count. Linear in n: the probe
 * table is at most half full and is "cleared" by a new stamp. */
static size_t features_merge(struct model *m, const struct feature *x,
                             size_t n)
{
    size_t i, out = 0;

    if (++m->stamp == 0) { /* wrapped: old stamps could look current */
        memset(m->probe, 0, m->probe_cap * sizeof(*m->probe));
        m->stamp = 1;
    }
    for (i = 0; i < n; i++)
        out = merge_one(m, out, slot(m, x[i].index), x[i].value);
    return merge_one(m, out, m->bias_index, 1.0);
}

/* dLoss/dMargin at the pre-update margin, whose prediction_from_margin()
 * is prediction: for logistic loss that is sigmoid(margin), already
 * computed, so no second exp() is needed. Labels were checked. */
static double loss_derivative(const struct model *m, double margin,
                              double prediction, double label)
{
    double y;

    switch (m->params.loss) {
    case MODEL_LOSS_LOGISTIC:
        return prediction - label;
    case MODEL_LOSS_HINGE:
        y = label > 0.5 ? 1.0 : -1.0;
        return y * margin < 1.0 ? -y : 0.0;
    case MODEL_LOSS_SQUARED:
    default:
        /* Both finite; DBL_MAX clamps the one overflow possible when
         * the label is near +-DBL_MAX. */
        return clamp(margin - label, DBL_MAX);
    }
}

/* ---- optimizers ---------------------------------------------------- */

/*
 * Each rule below updates one weight i from its clipped gradient g, in
 * double, and stores its state rounded to float. lr is learning_rate; t
 * counts the model's updates, this one included. "Bound" says why the
 * step is finite.
 *
 * sgd      w -= lr / t^power_t * g.
 * adagrad  G += g^2; w -= lr * g / sqrt(G) (Duchi, Hazan, Singer 2011).
 *          Bound: |g| / sqrt(G) <= 1.
 * rmsprop  v = rho * v + (1 - rho) * g^2; w -= lr * g / (sqrt(v) + eps)
 *          (Tieleman and Hinton 2012). Bound: v >= (1 - rho) * g^2, so
 *          the step is at most lr / sqrt(1 - rho).
 * adam     m = beta1 * m + (1 - beta1) * g; v likewise with beta2 and g^2;
 *          w -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 *          (Kingma and Ba 2015). t is the model's global update count,
 *          not a per-weight count: a weight absent from most examples
 *          keeps its m and v unchanged meanwhile (the "lazy" sparse Adam
 *          of TensorFlow's LazyAdamOptimizer), and its bias correction
 *          is the model's. Bound: |m| <= clip, 1 - beta^t >= 1e-6 and
 *          the denominator >= eps >= MODEL_MIN_EPSILON.
 * normalized, per weight: s = largest |x_i| seen, G = sum of g^2;
 *          model-wide: t = examples learned, N = sum over them of
 *          sum_i (x_i / s_i)^2 (the bias included);
 *          first, for every feature: when |x_i| > s: w *= s / |x_i|,
 *          then s = |x_i|; then N += sum_i (x_i / s_i)^2, t += 1; then
 *          for every feature: G += g^2;
 *          w -= lr * sqrt(t / N) * g / (s * sqrt(G)).
 *          This is NAG, the adaptive algorithm of Ross, Mineiro and
 *          Langford, "Normalized Online Learning" (UAI 2013, algorithm
 *          2), as Vowpal Wabbit runs it for --adaptive --normalized
 *          (gd.cc, where sqrt(t / N) is the "update multiplier"):
 *          scaling feature i by c scales s and g by c and G by c^2, so
 *          the step and w scale by 1/c and w_i * x_i is unchanged, and
 *          x_i / s_i, hence N, does not change at all (exactly so
 *          without L2, while |g| stays below gradient_clip). The rescale
 *          is linear, not (s / |x_i|)^2: with the adaptive G, past steps
 *          were proportional to 1/s (the square belongs to the
 *          non-adaptive NG rule, whose steps go as 1/s^2). sqrt(t / N)
 *          makes the rate independent of how many features an example
 *          carries: N / t is the mean normalized squared norm of an
 *          example, so the rate is per unit of it. As in VW the rescale
 *          happens at the update, after the prediction, so
 *          model_predict() stays read-only; as in the paper every
 *          example counts in t and N, also one with a zero gradient
 *          (VW skips those, which differs only for hinge loss or a
 *          saturated sigmoid). t and N are the two model-wide values of
 *          a model (model_copy_norm_totals()); snapshots carry them
 *          since format 4.
 *          The factor is capped at 1 (taken as 1 while N <= t): the
 *          bias adds exactly 1 to N each example, so N >= t always
 *          unless the bias shares its slot with a larger feature, or a
 *          model restored with t = N = 0 (format 3 and older) had seen
 *          the bias before; without the cap such an N, as small as an
 *          underflowed 0, would make the factor unbounded.
 *          Bound: |g| / sqrt(G) <= 1 and sqrt(t / N) <= 1, so the step
 *          is at most lr / s.
 * ftrl     FTRL-Proximal, per coordinate (McMahan et al., "Ad Click
 *          Prediction: a View from the Trenches", KDD 2013, algorithm 1),
 *          alpha = lr, beta = ftrl_beta, lambda1 = l1, lambda2 = l2:
 *            sigma = (sqrt(n + g^2) - sqrt(n)) / alpha
 *            z += g - sigma * w;  n += g^2
 *            w = 0                                       if |z| <= l1
 *              = -(z - sgn(z) l1) / ((beta + sqrt(n)) / alpha + l2)
 *          w is a function of (z, n) alone ("lazy"): it is recomputed
 *          here whenever z or n change, so the weight array always holds
 *          it. L2 enters through the closed form, not through g. The
 *          product sigma * w is computed as (sqrt(n + g^2) - sqrt(n)) * q
 *          with w = alpha * q, which needs no division by a tiny alpha.
 *          Bound: |q| <= |z| / beta <= MODEL_STATE_LIMIT /
 *          MODEL_MIN_FTRL_BETA and sqrt(n + g^2) - sqrt(n) <= |g|.
 */

/* Factors shared by every weight of one update. */
struct step_factors {
    double sgd_rate; /* sgd: lr / t^power_t */
    double adam_c1;  /* adam: 1 - beta1^t */
    double adam_c2;  /* adam: 1 - beta2^t */
    double normalized_rate; /* normalized: lr * min(1, sqrt(t / N)),
                               set by normalized_begin() */
};

/* For the optimizer opt, a constant: inlined into learn_example(), the
 * factors an optimizer does not read fold away. */
static MODEL_ALWAYS_INLINE void step_factors_compute(
    const struct model *m, struct step_factors *f, enum model_optimizer opt)
{
    const struct model_params *p = &m->params;
    double t = (double)m->updates + 1.0;

    f->sgd_rate = 0.0;
    f->adam_c1 = 1.0;
    f->adam_c2 = 1.0;
    f->normalized_rate = p->learning_rate;
    if (opt == MODEL_OPT_SGD) {
        f->sgd_rate = p->learning_rate /
                      pow(1.0 + (double)m->updates, p->power_t);
    } else if (opt == MODEL_OPT_ADAM) {
        f->adam_c1 = 1.0 - pow(p->beta1, t);
        f->adam_c2 = 1.0 - pow(p->beta2, t);
    }
}

/* Caps a non-negative accumulator at MODEL_STATE_LIMIT. */
static double state_cap(double v)
{
    return v > MODEL_STATE_LIMIT ? MODEL_STATE_LIMIT : v;
}

/* Each step below takes cell, the slot of the weight it updates (weight
 * at [0], state values after it, see struct model), and returns the new
 * weight. */
static MODEL_ALWAYS_INLINE double adagrad_step(float *cell, double w,
                                               double g, double lr)
{
    double sum = (double)cell[1] + g * g;

    if (sum > MODEL_STATE_LIMIT)
        sum = MODEL_STATE_LIMIT;
    cell[1] = (float)sum;
    /* sum == 0 means g == 0 and no history: there is no step. */
    if (sum > 0.0)
        w -= lr * (g / sqrt(sum));
    return w;
}

static MODEL_ALWAYS_INLINE double rmsprop_step(float *cell, double w,
                                               double g,
                                               const struct model_params *p)
{
    double v = state_cap(p->rho * (double)cell[1] +
                         (1.0 - p->rho) * (g * g));

    cell[1] = (float)v;
    return w - p->learning_rate * (g / (sqrt(v) + p->epsilon));
}

static MODEL_ALWAYS_INLINE double adam_step(float *cell, double w, double g,
                                            const struct model_params *p,
                                            const struct step_factors *f)
{
    double mean = clamp(p->beta1 * (double)cell[2] + (1.0 - p->beta1) * g,
                        MODEL_STATE_LIMIT);
    double v = state_cap(p->beta2 * (double)cell[1] +
                         (1.0 - p->beta2) * (g * g));

    cell[2] = (float)mean;
    cell[1] = (float)v;
    return w - p->learning_rate * ((mean / f->adam_c1) /
                                   (sqrt(v / f->adam_c2) + p->epsilon));
}

/* Normalized, before the gradient: a larger |value| than any seen so far
 * rescales the weight as if that had been the scale all along. The scale
 * is kept as a float, so it is rounded before comparing: a value that
 * rounds to the stored scale changes nothing. */
static MODEL_ALWAYS_INLINE void normalized_rescale(float *cell, double value)
{
    double s = cell[2];
    float scale = (float)state_cap(fabs(value));

    if ((double)scale <= s)
        return;
    if (s > 0.0)
        cell[0] = (float)((double)cell[0] * (s / scale));
    cell[2] = scale;
}

/* The squared normalized value (value / s)^2 of weight i's feature,
 * after normalized_rescale(): at most about 1 (s is |value| rounded to
 * float, or larger; only a |value| past MODEL_STATE_LIMIT, where s
 * stops, gives more, below 1e17), 0 when the feature was never non-zero
 * (s == 0 means value == 0). */
static MODEL_ALWAYS_INLINE double normalized_square(const float *cell,
                                                   double value)
{
    double s = cell[2];
    double r = s > 0.0 ? value / s : 0.0;

    return r * r;
}

/* The start of a normalized update, before any gradient: rescales every
 * touched weight to its feature's new scale (direct: x's count features
 * and the bias; else the count merged entries in scratch, the bias
 * among them), adds the example to t and N and returns the rate of its
 * steps, lr * min(1, sqrt(t / N)). */
static MODEL_ALWAYS_INLINE double normalized_begin(struct model *m,
                                                   const struct table_view *tv,
                                                   const struct feature *x,
                                                   size_t count, int direct)
{
    struct model_norm_totals *nt = &m->norm;
    double norm = 0.0, t;
    size_t i;

    if (direct) {
        for (i = 0; i < count; i++) {
            float *cell = view_slot(tv, view_index(tv, x[i].index));

            normalized_rescale(cell, x[i].value);
            norm += normalized_square(cell, x[i].value);
        }
        normalized_rescale(view_slot(tv, tv->bias_index), 1.0);
        norm += normalized_square(view_slot(tv, tv->bias_index), 1.0);
    } else {
        for (i = 0; i < count; i++) {
            float *cell = view_slot(tv, m->scratch[i].index);

            normalized_rescale(cell, m->scratch[i].value);
            norm += normalized_square(cell, m->scratch[i].value);
        }
    }

    if (nt->examples < MODEL_MAX_NORM_EXAMPLES)
        nt->examples++;
    nt->norm_sum += norm;
    t = (double)nt->examples;
    if (!(nt->norm_sum > t)) /* the cap, see "optimizers" above */
        return tv->p.learning_rate;
    return tv->p.learning_rate * sqrt(t / nt->norm_sum);
}

static MODEL_ALWAYS_INLINE double normalized_step(float *cell, double w,
                                                  double g,
                                                  const struct step_factors *f)
{
    double sum = state_cap((double)cell[1] + g * g);
    double s = cell[2];

    cell[1] = (float)sum;
    /* s == 0: the feature was never non-zero, so only L2 could give a
     * gradient, on a weight that never moved; sum == 0: g == 0. */
    if (sum > 0.0 && s > 0.0)
        w -= f->normalized_rate * (g / sqrt(sum)) / s;
    return w;
}

/* w / alpha of FTRL-Proximal for the state (z, n); 0 inside the L1 band. */
static double ftrl_scaled_weight(const struct model_params *p, double z,
                                 double n)
{
    if (fabs(z) <= p->l1)
        return 0.0;
    return -(z - copysign(p->l1, z)) /
           (p->ftrl_beta + sqrt(n) + p->learning_rate * p->l2);
}

/* The weight FTRL-Proximal derives from the z and n stored in cell.
 * Inlined: ftrl_update() calls it for every feature of an example. */
static MODEL_ALWAYS_INLINE float ftrl_weight(const struct model_params *p,
                                             const float *cell)
{
    double q = ftrl_scaled_weight(p, cell[2], cell[1]);

    return (float)clamp(p->learning_rate * q, MODEL_WEIGHT_LIMIT);
}

static MODEL_ALWAYS_INLINE void ftrl_update(float *cell, double g,
                                            const struct model_params *p)
{
    double z = cell[2];
    double n = cell[1];
    double n_new;
    double sigma_w;

    /* No gradient: sigma is 0 and z, n, w all stay as they are. */
    if (g == 0.0)
        return;
    n_new = state_cap(n + g * g);
    sigma_w = (sqrt(n_new) - sqrt(n)) * ftrl_scaled_weight(p, z, n);
    cell[2] = (float)clamp(z + g - sigma_w, MODEL_STATE_LIMIT);
    cell[1] = (float)n_new;
    cell[0] = ftrl_weight(p, cell);
}

/* One weight's step. g is already clipped, so every term is finite. */
static MODEL_ALWAYS_INLINE void weight_update(float *cell, double g,
                                              const struct model_params *p,
                                              const struct step_factors *f,
                                              enum model_optimizer opt)
{
    double w = cell[0];

    switch (opt) {
    case MODEL_OPT_ADAGRAD:
        w = adagrad_step(cell, w, g, p->learning_rate);
        break;
    case MODEL_OPT_RMSPROP:
        w = rmsprop_step(cell, w, g, p);
        break;
    case MODEL_OPT_ADAM:
        w = adam_step(cell, w, g, p, f);
        break;
    case MODEL_OPT_NORMALIZED:
        w = normalized_step(cell, w, g, f);
        break;
    case MODEL_OPT_FTRL:
        ftrl_update(cell, g, p); /* derives and stores the weight itself */
        return;
    case MODEL_OPT_SGD:
    default:
        w -= f->sgd_rate * g;
        break;
    }
    cell[0] = (float)clamp(w, MODEL_WEIGHT_LIMIT);
}

/* The step of one distinct weight idx whose feature has value, for the
 * optimizer opt. */
static MODEL_ALWAYS_INLINE void feature_step(const struct table_view *tv,
                                             uint32_t idx, double value,
                                             double dloss,
                                             const struct step_factors *f,
                                             enum model_optimizer opt)
{
    float *cell = view_slot(tv, idx);
    double g;

    /* |dloss * value| may overflow to inf for a huge squared-loss
     * label; inf + finite stays inf and the clip below bounds it.
     * FTRL applies L2 in its closed form instead. */
    if (opt == MODEL_OPT_FTRL)
        g = dloss * value;
    else
        g = dloss * value + tv->p.l2 * (double)cell[0];

    assert(!isnan(g));
    g = clamp(g, tv->p.gradient_clip);
    weight_update(cell, g, &tv->p, f, opt);
}

#if defined(__SSE2__)
/*
 * AdaGrad's step for two distinct slots at once, s0 and s1, in the two
 * lanes of SSE2 registers: every operation is the one adagrad_step() and
 * feature_step() do, in the same order, and IEEE packed arithmetic,
 * square root and division round exactly as their scalar forms, so the
 * weights are bit for bit the same. The gain is the square root and the
 * division, the update's slowest steps, done for two weights at a time.
 * Slots are [weight, sum of squares] (slot_shift 1). The clamps use
 * max/min, which match clamp() for every value but NaN, and none can
 * occur: g and w are finite and sum is at least 0. A zero sum means a
 * zero gradient and no history: its lane's 0/0 is discarded.
 */
static MODEL_ALWAYS_INLINE void adagrad_pair(const struct table_view *tv,
                                             uint32_t s0, double v0,
                                             uint32_t s1, double v1,
                                             double dloss)
{
    const struct model_params *p = &tv->p;
    float *p0 = view_slot(tv, s0);
    float *p1 = view_slot(tv, s1);
    __m128d a0 = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(
        (const __m128i *)p0)));
    __m128d a1 = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(
        (const __m128i *)p1)));
    __m128d w = _mm_unpacklo_pd(a0, a1);
    __m128d sum = _mm_unpackhi_pd(a0, a1);
    __m128d clip = _mm_set1_pd(p->gradient_clip);
    __m128d wlimit = _mm_set1_pd(MODEL_WEIGHT_LIMIT);
    __m128d g, step, moved;

    g = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(dloss), _mm_set_pd(v1, v0)),
                   _mm_mul_pd(_mm_set1_pd(p->l2), w));
    g = _mm_min_pd(_mm_max_pd(g, _mm_sub_pd(_mm_setzero_pd(), clip)), clip);

    sum = _mm_min_pd(_mm_add_pd(sum, _mm_mul_pd(g, g)),
                     _mm_set1_pd(MODEL_STATE_LIMIT));
    step = _mm_mul_pd(_mm_set1_pd(p->learning_rate),
                      _mm_div_pd(g, _mm_sqrt_pd(sum)));
    moved = _mm_cmpgt_pd(sum, _mm_setzero_pd());
    w = _mm_or_pd(_mm_and_pd(moved, _mm_sub_pd(w, step)),
                  _mm_andnot_pd(moved, w));
    w = _mm_min_pd(_mm_max_pd(w, _mm_sub_pd(_mm_setzero_pd(), wlimit)),
                   wlimit);

    _mm_storel_epi64((__m128i *)p0, _mm_castps_si128(
        _mm_cvtpd_ps(_mm_unpacklo_pd(w, sum))));
    _mm_storel_epi64((__m128i *)p1, _mm_castps_si128(
        _mm_cvtpd_ps(_mm_unpackhi_pd(w, sum))));
}

/* The selection mask ? a : b, lane by lane. */
static MODEL_ALWAYS_INLINE __m128d lanes_select(__m128d mask, __m128d a,
                                                __m128d b)
{
    return _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b));
}

/* clamp() of both lanes; max/min match it for every value but NaN. */
static MODEL_ALWAYS_INLINE __m128d lanes_clamp(__m128d v, double limit)
{
    __m128d hi = _mm_set1_pd(limit);

    return _mm_min_pd(_mm_max_pd(v, _mm_xor_pd(_mm_set1_pd(-0.0), hi)), hi);
}

/* ftrl_scaled_weight() of both lanes, given root = sqrt(n): the same
 * operations in the same order. copysign(l1, z) is |l1| with z's sign
 * bit, the negation flips the sign bit, and a lane inside the L1 band
 * is +0 as the scalar form returns it. */
static MODEL_ALWAYS_INLINE __m128d ftrl_scaled_pair(const struct model_params *p,
                                                   __m128d z, __m128d root)
{
    __m128d sign = _mm_set1_pd(-0.0);
    __m128d l1 = _mm_set1_pd(p->l1);
    __m128d band = _mm_cmple_pd(_mm_andnot_pd(sign, z), l1);
    __m128d shrunk = _mm_sub_pd(z, _mm_or_pd(_mm_and_pd(sign, z),
                                              _mm_andnot_pd(sign, l1)));
    __m128d den = _mm_add_pd(_mm_add_pd(_mm_set1_pd(p->ftrl_beta), root),
                             _mm_set1_pd(p->learning_rate * p->l2));

    return _mm_andnot_pd(band, _mm_div_pd(_mm_xor_pd(sign, shrunk), den));
}

/*
 * ftrl_update() for two distinct slots at once, s0 and s1, as
 * adagrad_pair() does AdaGrad's: every operation in the same order, each
 * rounding as its scalar form, so the slots end bit for bit the same. The
 * gain is the update's three square roots and two divisions, the slowest
 * steps of a click-through event, done for two weights at a time. Slots
 * are [weight, n, z, unused] (slot_shift 2). The weight is derived from
 * z and n as stored, rounded to float, as ftrl_weight() reads them back.
 * A lane whose clipped gradient is 0 keeps its slot, as ftrl_update()
 * returns early; its discarded arithmetic is finite (beta > 0).
 */
static MODEL_ALWAYS_INLINE void ftrl_pair(const struct table_view *tv,
                                          uint32_t s0, double v0, uint32_t s1,
                                          double v1, double dloss)
{
    const struct model_params *p = &tv->p;
    float *p0 = view_slot(tv, s0);
    float *p1 = view_slot(tv, s1);
    __m128d w = _mm_set_pd(p1[0], p0[0]);
    __m128d n = _mm_set_pd(p1[1], p0[1]);
    __m128d z = _mm_set_pd(p1[2], p0[2]);
    __m128d g, moved, root, n_new, z_new, w_new;
    __m128 wn, zf;

    g = lanes_clamp(_mm_mul_pd(_mm_set1_pd(dloss), _mm_set_pd(v1, v0)),
                    p->gradient_clip);
    moved = _mm_cmpneq_pd(g, _mm_setzero_pd());

    n_new = _mm_min_pd(_mm_add_pd(n, _mm_mul_pd(g, g)),
                       _mm_set1_pd(MODEL_STATE_LIMIT));
    root = _mm_sqrt_pd(n);
    z_new = _mm_sub_pd(_mm_add_pd(z, g),
                       _mm_mul_pd(_mm_sub_pd(_mm_sqrt_pd(n_new), root),
                                  ftrl_scaled_pair(p, z, root)));
    z_new = _mm_cvtps_pd(_mm_cvtpd_ps(lanes_clamp(z_new, MODEL_STATE_LIMIT)));
    n_new = _mm_cvtps_pd(_mm_cvtpd_ps(n_new));
    w_new = lanes_clamp(_mm_mul_pd(_mm_set1_pd(p->learning_rate),
                                   ftrl_scaled_pair(p, z_new,
                                                    _mm_sqrt_pd(n_new))),
                        MODEL_WEIGHT_LIMIT);

    /* Old values are floats widened: narrowing gives back their bits. */
    w = lanes_select(moved, w_new, w);
    n = lanes_select(moved, n_new, n);
    z = lanes_select(moved, z_new, z);
    wn = _mm_cvtpd_ps(_mm_unpacklo_pd(w, n));
    _mm_storel_pi((__m64 *)p0, wn);
    wn = _mm_cvtpd_ps(_mm_unpackhi_pd(w, n));
    _mm_storel_pi((__m64 *)p1, wn);
    zf = _mm_cvtpd_ps(z);
    p0[2] = _mm_cvtss_f32(zf);
    p1[2] = _mm_cvtss_f32(_mm_shuffle_ps(zf, zf, 1));
}

/*
 * normalized_step() and its caller's gradient for two distinct slots at
 * once, as adagrad_pair() does AdaGrad's: the same operations in the same
 * order, each rounding as its scalar form, so the weights and sums end bit
 * for bit the same; the gain is each step's division, square root and
 * second division, done for two weights at a time. Slots are [weight, G,
 * s, unused] (slot_shift 2), already rescaled by normalized_begin(); rate
 * is its lr * min(1, sqrt(t / N)). A lane whose sum or scale is 0 keeps
 * its weight, as normalized_step() does; its 0/0 or x/0 is discarded.
 */
static MODEL_ALWAYS_INLINE void normalized_pair(const struct table_view *tv,
                                                uint32_t s0, double v0,
                                                uint32_t s1, double v1,
                                                double dloss, double rate)
{
    const struct model_params *p = &tv->p;
    float *p0 = view_slot(tv, s0);
    float *p1 = view_slot(tv, s1);
    __m128d w = _mm_set_pd(p1[0], p0[0]);
    __m128d sum = _mm_set_pd(p1[1], p0[1]);
    __m128d scale = _mm_set_pd(p1[2], p0[2]);
    __m128d zero = _mm_setzero_pd();
    __m128d g, step, moved;
    __m128 ws;

    g = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(dloss), _mm_set_pd(v1, v0)),
                   _mm_mul_pd(_mm_set1_pd(p->l2), w));
    g = lanes_clamp(g, p->gradient_clip);

    sum = _mm_min_pd(_mm_add_pd(sum, _mm_mul_pd(g, g)),
                     _mm_set1_pd(MODEL_STATE_LIMIT));
    step = _mm_div_pd(_mm_mul_pd(_mm_set1_pd(rate),
                                 _mm_div_pd(g, _mm_sqrt_pd(sum))),
                      scale);
    moved = _mm_and_pd(_mm_cmpgt_pd(sum, zero), _mm_cmpgt_pd(scale, zero));
    w = lanes_clamp(lanes_select(moved, _mm_sub_pd(w, step), w),
                    MODEL_WEIGHT_LIMIT);

    ws = _mm_cvtpd_ps(_mm_unpacklo_pd(w, sum));
    _mm_storel_pi((__m64 *)p0, ws);
    ws = _mm_cvtpd_ps(_mm_unpackhi_pd(w, sum));
    _mm_storel_pi((__m64 *)p1, ws);
}

/* The pair step of opt: AdaGrad's, FTRL's or the normalized one. */
static MODEL_ALWAYS_INLINE void pair_step(const struct table_view *tv,
                                          uint32_t s0, double v0, uint32_t s1,
                                          double v1, double dloss,
                                          const struct step_factors *f,
                                          enum model_optimizer opt)
{
    if (opt == MODEL_OPT_FTRL)
        ftrl_pair(tv, s0, v0, s1, v1, dloss);
    else if (opt == MODEL_OPT_NORMALIZED)
        normalized_pair(tv, s0, v0, s1, v1, dloss, f->normalized_rate);
    else
        adagrad_pair(tv, s0, v0, s1, v1, dloss);
}

/* learn_with()'s direct loop for AdaGrad, FTRL and the normalized rule,
 * two features a step: the features in order, then the bias (paired with
 * the last feature when their count is odd). No two slots of a direct
 * example are the same, so the pairs never write one slot twice, and each
 * slot's update reads only its own state and what the example shares
 * (dloss, the normalized rate, set before the first step): the order of
 * the slots does not change their results. Clears each slot's mark in
 * seen. */
static MODEL_ALWAYS_INLINE void learn_pairs(struct model *m,
                                            const struct table_view *tv,
                                            const struct feature *x,
                                            size_t n, double dloss,
                                            const struct step_factors *f,
                                            enum model_optimizer opt)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        uint32_t s0 = view_index(tv, x[i].index);
        uint32_t s1 = view_index(tv, x[i + 1].index);

        seen_unmark(m, s0);
        seen_unmark(m, s1);
        pair_step(tv, s0, x[i].value, s1, x[i + 1].value, dloss, f, opt);
    }

    seen_unmark(m, tv->bias_index);
    if (i < n) {
        uint32_t s0 = view_index(tv, x[i].index);

        seen_unmark(m, s0);
        pair_step(tv, s0, x[i].value, tv->bias_index, 1.0, dloss, f, opt);
    } else {
        feature_step(tv, tv->bias_index, 1.0, dloss, f, opt);
    }
}
#endif

/* The step of every feature, for the optimizer opt: straight from x and
 * then the bias when no index repeats (direct), else from the merged
 * list in scratch (count entries). Both visit the same weights in the
 * same order with the same values, and clear each one's mark in seen
 * (example_check() set them; the merged list holds every marked slot). */
static MODEL_ALWAYS_INLINE void learn_with(struct model *m,
                                           const struct table_view *tv,
                                           const struct feature *x,
                                           size_t count, int direct,
                                           double dloss,
                                           const struct step_factors *f,
                                           enum model_optimizer opt)
{
    struct step_factors nf;
    size_t i;

    /* Every weight rescaled and the rate known before the first step. */
    if (opt == MODEL_OPT_NORMALIZED) {
        nf = *f;
        nf.normalized_rate = normalized_begin(m, tv, x, count, direct);
        f = &nf;
    }
#if defined(__SSE2__)
    if (direct && (opt == MODEL_OPT_ADAGRAD || opt == MODEL_OPT_FTRL ||
                   opt == MODEL_OPT_NORMALIZED)) {
        learn_pairs(m, tv, x, count, dloss, f, opt);
        return;
    }
#endif
    if (direct) {
        for (i = 0; i < count; i++) {
            uint32_t s = view_index(tv, x[i].index);

            seen_unmark(m, s);
            feature_step(tv, s, x[i].value, dloss, f, opt);
        }
        seen_unmark(m, tv->bias_index);
        feature_step(tv, tv->bias_index, 1.0, dloss, f, opt);
        return;
    }
    for (i = 0; i < count; i++) {
        seen_unmark(m, m->scratch[i].index);
        feature_step(tv, m->scratch[i].index, m->scratch[i].value, dloss, f,
                     opt);
    }
}

/* model_learn() for the optimizer opt, a constant: one copy per
 * optimizer, each with its rule inlined and its slot size fixed, so the
 * switch, the optimizer tests and the slot size leave the per-feature
 * path, from the first check to the last step. */
static MODEL_ALWAYS_INLINE int learn_example(struct model *m,
                                             const struct feature *x,
                                             size_t n, double label,
                                             double *prediction,
                                             enum model_optimizer opt)
{
    struct table_view tv;
    struct step_factors factors;
    int check_sums = m->check_sums;
    uint64_t repeat;
    double margin;
    double predicted;
    double dloss;
    int err;

    view_init(&tv, m, optimizer_slot_shift(opt));
    margin = view_slot(&tv, tv.bias_index)[0];
    if (check_sums)
        err = example_check(m, &tv, x, n, label, &repeat, &margin);
    else
        err = example_check(m, &tv, x, n, label, &repeat, NULL);
    if (err)
        return err;
    /* The call only when the scratch must grow: almost never. */
    if (n >= m->scratch_cap) {
        err = scratch_reserve(m, n);
        if (err) {
            seen_clear(m, x, n);
            return err;
        }
    }

    if (!check_sums)
        margin = margin_compute(&tv, x, n, 1);
    predicted = prediction_from_margin(tv.p.loss, margin);
    if (prediction)
        *prediction = predicted;

    /* Every gradient comes from this margin, before any weight moves. */
    dloss = loss_derivative(m, margin, predicted, label);
    step_factors_compute(m, &factors, opt);
    /* Most examples repeat no index: they skip the merge. */
    if (!repeat)
        learn_with(m, &tv, x, n, 1, dloss, &factors, opt);
    else
        learn_with(m, &tv, x, features_merge(m, x, n), 0, dloss, &factors,
                   opt);

    m->updates++;
    return 0;
}

int model_learn(struct model *m, const struct feature *x, size_t n,
                double label, double *prediction)
{
    switch (m->params.optimizer) {
    case MODEL_OPT_ADAGRAD:
        return learn_example(m, x, n, label, prediction, MODEL_OPT_ADAGRAD);
    case MODEL_OPT_RMSPROP:
        return learn_example(m, x, n, label, prediction, MODEL_OPT_RMSPROP);
    case MODEL_OPT_ADAM:
        return learn_example(m, x, n, label, prediction, MODEL_OPT_ADAM);
    case MODEL_OPT_NORMALIZED:
        return learn_example(m, x, n, label, prediction,
                             MODEL_OPT_NORMALIZED);
    case MODEL_OPT_FTRL:
        return learn_example(m, x, n, label, prediction, MODEL_OPT_FTRL);
    case MODEL_OPT_SGD:
    default: /* model_params_check() admits no other optimizer */
        return learn_example(m, x, n, label, prediction, MODEL_OPT_SGD);
    }
}


/* ---- snapshots ----------------------------------------------------- */

static int array_check(const float *a, size_t count, double lo, double hi)
{
    size_t i;

    for (i = 0; i < count; i++) {
        /* Comparisons are false for NaN, so NaN fails here too. */
        if (!(a[i] >= lo && a[i] <= hi))
            return RIFFLE_ERR_SNAPSHOT;
    }
    return 0;
}

/* Lowest legal state value k (see model_state_value()). */
static double state_floor(const struct model *m, size_t k)
{
    if (k == 0 || m->params.optimizer == MODEL_OPT_NORMALIZED)
        return 0.0;
    return -MODEL_STATE_LIMIT;
}

int model_restore_state(struct model *m, const float *weights,
                        const float *const *state, size_t state_count,
                        uint64_t update_count)
{
    size_t k;
    uint32_t i;

    if (!weights || state_count < m->state_count ||
        state_count > MODEL_MAX_STATE_ARRAYS || (state_count && !state))
        return RIFFLE_ERR_SNAPSHOT;
    if (array_check(weights, m->weight_count, -MODEL_WEIGHT_LIMIT,
                    MODEL_WEIGHT_LIMIT) != 0)
        return RIFFLE_ERR_SNAPSHOT;
    for (k = 0; k < state_count; k++) {
        if (!state[k] || array_check(state[k], m->weight_count,
                                     state_floor(m, k),
                                     MODEL_STATE_LIMIT) != 0)
            return RIFFLE_ERR_SNAPSHOT;
    }

    for (i = 0; i <= m->mask; i++) {
        float *p = slot_at(m, i);

        p[0] = weights[i];
        for (k = 0; k < m->state_count; k++)
            p[1 + k] = state[k][i];
    }
    if (m->params.optimizer == MODEL_OPT_FTRL) {
        for (i = 0; i <= m->mask; i++)
            slot_at(m, i)[0] = ftrl_weight(&m->params, slot_at(m, i));
    }
    m->updates = update_count;
    return 0;
}

void model_copy_norm_totals(const struct model *m,
                            struct model_norm_totals *out)
{
    *out = m->norm;
}

int model_restore_norm_totals(struct model *m,
                              const struct model_norm_totals *totals)
{
    /* The comparison is false for NaN, so NaN is refused too. */
    if (!(totals->norm_sum >= 0.0 && totals->norm_sum <= DBL_MAX) ||
        totals->examples > MODEL_MAX_NORM_EXAMPLES)
        return RIFFLE_ERR_SNAPSHOT;
    if (m->params.optimizer == MODEL_OPT_NORMALIZED)
        m->norm = *totals;
    return 0;
}
